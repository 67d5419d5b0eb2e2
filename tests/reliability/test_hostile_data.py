"""Hostile data files for the readers (`read_csv`, `read_labelled`, `read_lines`, `read_idx`) and the
commands that read them: numbers too large for training, other encodings, NUL bytes, Unicode line
separators, header lines and stray labels, duplicated texts, and compressed files whose content
lies about their size. Each is refused naming the file (and line) or read correctly."""
import gzip
import os
import struct
import tracemalloc

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from rnnkit.data import idx  # noqa: E402
from rnnkit.data.labelled import LabelledTexts, read_labelled, read_lines  # noqa: E402
from rnnkit.data.tables import read_csv  # noqa: E402
from rnnkit.tasks.classify import train_classifier  # noqa: E402
from rnnkit.tasks.rows import train_rows  # noqa: E402
from rnnkit.tasks.seq2seq import read_pairs  # noqa: E402
from rnnkit.tasks.textgen import read_text  # noqa: E402
from hostile import assert_refused, idx_file, labelled_file, run  # noqa: E402


def refused(call, *named):
    with pytest.raises(ValueError) as error:
        call()
    message = str(error.value)
    assert "\n" not in message
    for text in named:
        assert str(text) in message, message
    return message


# ---------------------------------------------------------------------------------------------- CSV
@pytest.mark.parametrize("cell", ["1e400", "-1e400", "1.7e308", "-1.7e308", "3.5e38", "1" + "0" * 400])
def test_a_csv_number_too_large_for_training_is_named_as_too_large_with_line_and_column(tmp_path, cell):
    path = tmp_path / "data.csv"
    path.write_text(f"a,b\n1,2\n3,{cell}\n")
    message = refused(lambda: read_csv(path), path, "line 3", "'b'", "too large")
    assert "missing" not in message and "NaN" not in message


def test_a_csv_header_of_many_repeated_names_is_refused_quickly_with_a_short_message(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text(",".join(f"c{i % 50_000}" for i in range(100_000)) + "\n" + ",".join(["1"] * 100_000) + "\n")
    message = refused(lambda: read_csv(path), path, "repeats the column names")
    assert len(message) < 400


@pytest.mark.parametrize("cell", ["inf", "-Infinity", "nan", "NaN", "+inf"])
def test_a_csv_cell_spelling_a_non_number_is_named_as_a_gap(tmp_path, cell):
    path = tmp_path / "data.csv"
    path.write_text(f"a\n1\n{cell}\n")
    refused(lambda: read_csv(path), path, "line 3", "missing")


@pytest.mark.parametrize("cell", ["3.4e38", "-3.4e38", "1e-400", "7,380,500"])
def test_a_csv_number_at_the_edge_of_float32_is_read(tmp_path, cell):
    path = tmp_path / "data.csv"
    path.write_text(f'a\n1\n"{cell}"\n')
    assert read_csv(path)["a"][1] == float(cell.replace(",", ""))


@pytest.mark.parametrize("content", ["a,b\n1,2\n3,4\x005\n", "a,b\n1,2\n\x00,4\n"])
def test_a_csv_with_a_nul_byte_names_the_file_and_line(tmp_path, content):
    path = tmp_path / "data.csv"
    path.write_text(content, encoding="utf-8")
    refused(lambda: read_csv(path), path, "line 3", "NUL")


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x0c", "\x0b", "\x85"])
def test_a_unicode_line_separator_in_a_csv_field_shifts_no_line_number(tmp_path, separator):
    path = tmp_path / "data.csv"
    path.write_text(f"a,b\n1,{separator}2\n3,x\n", encoding="utf-8")
    refused(lambda: read_csv(path), path, "line 3", "'x' is not a number")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32", "latin-1", "cp1252"])
def test_a_csv_in_another_encoding_is_refused_naming_the_file(tmp_path, encoding):
    path = tmp_path / "data.csv"
    path.write_bytes("prix,été\n1,2\n3,4\n".encode(encoding))
    refused(lambda: read_csv(path), path)


def test_a_utf16_csv_says_utf16(tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes("a,b\n1,2\n".encode("utf-16"))
    refused(lambda: read_csv(path), path, "UTF-16")


# ----------------------------------------------------------------------------------- labelled texts
@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x0b", "\x0c", "\x1c", "\x85"])
def test_a_unicode_line_separator_inside_a_sentence_stays_in_it(tmp_path, separator):
    path = tmp_path / "texts.txt"
    path.write_text(f"first{separator}part\tpos\nother\tneg\n", encoding="utf-8")
    data = read_labelled(path)
    assert data.texts == [f"first{separator}part", "other"] and data.names == ["neg", "pos"]


@pytest.mark.parametrize("separator", ["\u2028", "\x0c"])
def test_read_lines_keeps_a_unicode_line_separator_inside_a_line(tmp_path, separator):
    path = tmp_path / "sentences.txt"
    path.write_text(f"one{separator}two\nthree\r\n", encoding="utf-8")
    assert read_lines(path) == [f"one{separator}two", "three"]


@pytest.mark.parametrize("reader", [read_labelled, read_lines])
@pytest.mark.parametrize("content, named", [
    (b"good\tpos\nba\x00d\tneg\n", "line 2"),
    (b"\x00\x00\x00\x00", "line 1"),
])
def test_a_text_file_with_nul_bytes_names_the_file_and_line(tmp_path, reader, content, named):
    path = tmp_path / "texts.txt"
    path.write_bytes(content)
    refused(lambda: reader(path), path, named, "NUL")


@pytest.mark.parametrize("reader", [read_labelled, read_lines])
@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_a_utf16_text_file_is_refused_naming_the_file(tmp_path, reader, encoding):
    path = tmp_path / "texts.txt"
    path.write_bytes("good\tpos\nbad\tneg\n".encode(encoding))
    refused(lambda: reader(path), path)


@pytest.mark.parametrize("reader", [read_pairs, read_text])
@pytest.mark.parametrize("encoding", ["utf-16", "latin-1", "utf-32"])
def test_the_pair_and_text_readers_refuse_another_encoding_naming_the_file(tmp_path, reader, encoding):
    path = tmp_path / "texts.txt"
    path.write_bytes("été\tsummer\nhiver\twinter\n".encode(encoding))
    refused(lambda: reader(path), path)


@pytest.mark.parametrize("separator", ["\u2028", "\x0c", "\x1e"])
def test_read_pairs_keeps_a_unicode_line_separator_inside_a_pair(tmp_path, separator):
    path = tmp_path / "pairs.tsv"
    path.write_text(f"a{separator}b\tc\nd\te{separator}f\n", encoding="utf-8")
    assert read_pairs(path) == [(f"a{separator}b", "c"), ("d", f"e{separator}f")]


@pytest.mark.parametrize("reader", [read_labelled, read_lines])
def test_a_latin1_text_file_names_the_file_and_line(tmp_path, reader):
    path = tmp_path / "texts.txt"
    path.write_bytes("good\tpos\ncaf\xe9 bad\tneg\n".encode("latin-1"))
    refused(lambda: reader(path), path, "line 2")


def _texts(count, classes=("neg", "pos")):
    texts = [f"{'good' if i % 2 else 'bad'} item {i}" for i in range(count)]
    return texts, [classes[i % len(classes)] for i in range(count)]


def test_the_same_file_given_twice_puts_no_test_text_into_training(tmp_path):
    path = labelled_file(tmp_path / "texts.txt", count=30)
    data = read_labelled([path, path])
    distinct, dropped = data.distinct()
    assert dropped == 30 and len(distinct) == 30
    result = train_classifier(data, epochs=1, embedding_dim=4, units=4, batch_size=8, verbose=0)
    assert result.metrics["duplicate_texts_dropped"] == 30
    assert result.metrics["train_texts"] + result.metrics["test_texts"] == 30


def test_duplicate_texts_are_counted_by_the_command(tmp_path):
    path = labelled_file(tmp_path / "texts.txt", count=30)
    code, printed, errors = run(["classify", "train", "--data", path, path, "--epochs", "1", "--units", "4",
                                 "--embedding-dim", "4", "--quiet", "--out", tmp_path / "run"])
    assert code == 0, errors
    assert "30 texts from 2 file(s) (30 repeated texts dropped" in printed


@pytest.mark.parametrize("first_line", ["sentence\tlabel", "text\tclass", "Review\tSentiment"])
def test_a_header_line_read_as_a_text_is_refused_naming_its_line(tmp_path, first_line):
    path = tmp_path / "texts.txt"
    labelled_file(path, count=20)
    path.write_text(first_line + "\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    refused(lambda: train_classifier(read_labelled(path), epochs=1, verbose=0), path, "line 1", "single text")


def test_a_broken_quote_making_a_one_text_class_is_refused_naming_the_line(tmp_path):
    path = tmp_path / "texts.csv"
    rows = [f'"{"good" if i % 2 else "bad"} item {i}",{"pos" if i % 2 else "neg"}' for i in range(20)]
    rows.insert(5, '"broken quote, neg\nmore text",pos')
    path.write_text("text,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    data = read_labelled(path)
    if len(data.names) > 2:
        refused(lambda: train_classifier(data, epochs=1, verbose=0), path, "single text")


@pytest.mark.parametrize("stray", ["255", "2147483647", "-1", "1e9"])
def test_a_stray_label_among_class_ids_is_refused_naming_its_line(tmp_path, stray):
    texts, labels = _texts(30, classes=("0", "1", "2"))
    labels[7] = stray
    path = tmp_path / "texts.txt"
    path.write_text("".join(f"{t}\t{y}\n" for t, y in zip(texts, labels)), encoding="utf-8")
    refused(lambda: train_classifier(read_labelled(path), epochs=1, verbose=0), path, "line 8", repr(stray))


def test_a_classifier_given_texts_without_sources_still_names_the_lone_class():
    texts, labels = _texts(10)
    data = LabelledTexts(texts + ["odd one"], np.array([i % 2 for i in range(10)] + [2]), ["neg", "pos", "odd"])
    refused(lambda: train_classifier(data, epochs=1, verbose=0), "'odd'", "single text")


# ------------------------------------------------------------------------------------------ IDX / rows
def _gzip(path, data):
    with gzip.open(path, "wb", compresslevel=1) as stream:
        stream.write(data)
    return path


@pytest.mark.parametrize("announced", [(1, 28, 28), (0, 28, 28), (10, 2, 2)])
def test_an_idx_gz_holding_far_more_than_its_header_says_is_inflated_no_further(tmp_path, announced):
    header = bytes([0, 0, 8, 3]) + struct.pack(">III", *announced)
    path = _gzip(tmp_path / "images.gz", header + bytes(64 * 2**20))
    tracemalloc.start()
    try:
        refused(lambda: idx.read_idx(path), path, "longer than its header says")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20


@pytest.mark.parametrize("shape", [(2**32 - 1, 2**32 - 1, 2**32 - 1), (2**31, 1, 1), (10**6, 28, 28)])
def test_an_idx_gz_announcing_more_than_gzip_can_hold_is_refused_before_reading(tmp_path, shape):
    header = bytes([0, 0, 8, 3]) + struct.pack(">III", *shape)
    path = _gzip(tmp_path / "images.gz", header + bytes(100))
    refused(lambda: idx.read_idx(path), path)


def test_an_uncompressed_idx_announcing_more_than_the_file_is_refused_without_reading_it(tmp_path):
    path = tmp_path / "images.idx"
    path.write_bytes(bytes([0, 0, 8, 3]) + struct.pack(">III", 2**31, 28, 28) + bytes(10))
    refused(lambda: idx.read_idx(path), path, "truncated")


@pytest.mark.parametrize("labels, stray, position", [
    ([0, 1, 2, 3, 4, 5, 6, 7, 8, 9] * 2 + [255], 255, 20),
    ([0, 1, 0, 1, 2**31 - 1, 0], 2**31 - 1, 4),
    ([0, 2, 0, 2, 0, 2], 2, 1),
])
def test_label_ids_with_gaps_are_refused_naming_the_stray_label(labels, stray, position):
    labels = np.array(labels, dtype=np.int64)
    images = np.zeros((len(labels), 4, 4), np.uint8)
    refused(lambda: train_rows(images, labels, images[:2], labels[:2], epochs=1, verbose=0), f"label {stray}",
            f"position {position}")


def test_the_rows_command_refuses_a_stray_label_before_training(tmp_path):
    labels = np.array([255] + [0, 1, 2] * 6)
    idx_file(tmp_path / "images.idx", np.zeros((len(labels), 4, 4), np.uint8))
    idx_file(tmp_path / "labels.idx", labels)
    code, printed, errors = run(["rows", "train", "--images", tmp_path / "images.idx", "--labels",
                                 tmp_path / "labels.idx", "--test-size", "2", "--quiet", "--out", tmp_path / "run"])
    assert_refused((code, printed, errors), "255")
    assert "accuracy" not in printed
