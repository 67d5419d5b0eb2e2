"""Readers of labelled texts: sentence<TAB>label lines, CSV and TSV tables, and their errors."""
from pathlib import Path

import numpy as np
import pytest

from rnnkit.data import LabelledTexts, read_labelled, read_lines

SENTIMENT = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "sentiment"


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


@pytest.mark.skipif(not SENTIMENT.exists(), reason="../shared/data/sentiment not present")
def test_the_sentiment_files_give_3000_sentences_half_positive():
    data = read_labelled([SENTIMENT / f"{name}_labelled.txt" for name in ("amazon_cells", "imdb", "yelp")])
    assert len(data) == 3000 and data.names == ["0", "1"] and data.counts() == {"0": 1500, "1": 1500}
    assert data.texts[1] == "Good case, Excellent value." and data.labels[1] == 1
    assert data.labels.dtype == np.int64


def test_tab_lines_take_the_label_after_the_last_tab_and_skip_blank_lines(tmp_path):
    path = write(tmp_path / "a.txt", "good\tand\tfine \t pos\n\n  bad  \tneg\r\n")
    data = read_labelled(path)
    assert data.texts == ["good\tand\tfine", "bad"] and data.names == ["neg", "pos"]
    assert data.labels.tolist() == [1, 0]


def test_numeric_labels_are_ordered_as_numbers_and_names_kept_as_strings(tmp_path):
    data = read_labelled(write(tmp_path / "a.txt", "a\t10\nb\t2\nc\t1\n"))
    assert data.names == ["1", "2", "10"] and data.labels.tolist() == [2, 1, 0]


def test_several_files_are_concatenated_and_share_class_ids(tmp_path):
    first = write(tmp_path / "a.txt", "x\tcat\ny\tdog\n")
    second = write(tmp_path / "b.tsv", "label\ttext\nbird\tz\n")
    data = read_labelled([first, second])
    assert data.texts == ["x", "y", "z"] and data.names == ["bird", "cat", "dog"]
    assert data.labels.tolist() == [1, 2, 0]


def test_csv_columns_found_by_common_names_with_quoted_commas_and_newlines(tmp_path):
    path = write(tmp_path / "r.csv", '\ufeffid, Review ,Sentiment\n1,"Fine, really",pos\n2,"two\nlines",neg\n')
    data = read_labelled(path)
    assert data.texts == ["Fine, really", "two\nlines"] and data.names == ["neg", "pos"]


def test_csv_columns_chosen_by_name_case_insensitively(tmp_path):
    path = write(tmp_path / "r.csv", "body,topic,text\nhello there,greeting,ignored\nbye now,farewell,ignored\n")
    data = read_labelled(path, text_col="BODY", label_col="topic")
    assert data.texts == ["hello there", "bye now"] and data.names == ["farewell", "greeting"]


def test_format_overrides_the_extension(tmp_path):
    path = write(tmp_path / "data.txt", "text,label\nyes,1\nno,0\n")
    assert read_labelled(path, format="csv").texts == ["yes", "no"]


def test_counts_follow_class_order():
    data = LabelledTexts(["a", "b", "c"], np.array([1, 1, 0]), ["x", "y"])
    assert data.counts() == {"x": 1, "y": 2}


@pytest.mark.parametrize("name, content, options, message", [
    ("e.txt", "", {}, "'.*e.txt' is empty; expected lines 'sentence<TAB>label'"),
    ("e.csv", "\n \n", {}, "is empty; expected a table with a header row"),
    ("t.txt", "good\t1\nno tab here at all\n", {}, r"line 2 has no tab: expected 'sentence<TAB>label', got 'no tab"),
    ("l.txt", "good\t1\nbad\t \n", {}, "line 2 has an empty label"),
    ("one.txt", "a\t1\nb\t1\n", {}, r"found only the class '1' in .*at least two classes"),
    ("c.csv", "text,label\na,1\n", {"label_col": "stars"}, r"no column 'stars'; its columns are 'text', 'label'"),
    ("c.csv", "words,score\na,1\n", {}, r"no text column named like text, sentence.*--text-col"),
    ("c.csv", "text,label\na,1\nb\n", {}, r"line 3 has 1 cells but the 'text' and 'label' columns need 2"),
    ("c.csv", "text,label\n", {}, "has a header but no rows"),
    ("l.txt", "a\t1\nb\t0\n", {"text_col": "text"}, "no named columns"),
])
def test_bad_files_are_refused_naming_the_file_and_line(tmp_path, name, content, options, message):
    with pytest.raises(ValueError, match=message):
        read_labelled(write(tmp_path / name, content), **options)


def test_non_utf8_bytes_are_refused_with_offset_and_line(tmp_path):
    path = write(tmp_path / "latin.txt", "ok\t1\ncaf\u00e9\t0\n", encoding="latin-1")
    with pytest.raises(ValueError, match=r"not UTF-8 text: byte 0xe9 at offset 8 \(line 2\).*save the file as UTF-8"):
        read_labelled(path)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="no data files"):
        read_labelled([])
    with pytest.raises(ValueError, match="format must be one of"):
        read_labelled("x.txt", format="json")


def test_read_lines_strips_and_skips_blank_lines(tmp_path):
    path = write(tmp_path / "s.txt", "\ufeff Loved it. \n\n\tNever again.\n")
    assert read_lines(path) == ["Loved it.", "Never again."]
    with pytest.raises(ValueError, match="only blank lines"):
        read_lines(write(tmp_path / "b.txt", "\ufeff\n"))
