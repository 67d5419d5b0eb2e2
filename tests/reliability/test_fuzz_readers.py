"""Property-based tests of the file readers fed malformed files (random bytes, truncations, damaged
compression, lying headers, bad encodings, missing columns): each either returns data consistent
with the file or raises the exception its docstring documents, naming the file, never another
exception, a crash, a hang or a silently wrong shape."""
import gzip
import os
import struct

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from rnnkit.data import idx  # noqa: E402
from rnnkit.data.labelled import read_labelled, read_lines  # noqa: E402
from rnnkit.data.tables import MAX_MAGNITUDE, read_csv, write_csv  # noqa: E402
from rnnkit.data.text import TextVectorization, pad_sequences  # noqa: E402
from rnnkit.tasks.textgen import read_text  # noqa: E402

# Reproducible in CI: the same examples every run, no time limit per example on a loaded machine
FUZZ = settings(max_examples=80, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def _write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


# ---------------------------------------------------------------------------------------- IDX
IDX_CODES = sorted(idx.IDX_TYPES)


def _idx_bytes(array, code):
    header = bytes([0, 0, code, array.ndim]) + b"".join(struct.pack(">I", n) for n in array.shape)
    return header + array.astype(idx.IDX_TYPES[code]).tobytes()


idx_arrays = st.tuples(
    st.sampled_from(IDX_CODES), st.lists(st.integers(0, 4), min_size=0, max_size=3).map(tuple), st.integers(0, 2**16)
).map(lambda spec: (spec[0], np.random.default_rng(spec[2]).integers(0, 100, spec[1])))


def _read_idx_or_documented_error(path):
    """read_idx's result, or None after checking that the error is the documented one naming the file."""
    try:
        return idx.read_idx(path)
    except ValueError as error:
        assert path in str(error)
        return None


@FUZZ
@given(spec=idx_arrays, compress=st.booleans())
def test_idx_reads_back_the_array_it_was_given(tmp_path, spec, compress):
    code, array = spec
    data = _idx_bytes(array, code)
    path = _write(tmp_path, "file.idx", gzip.compress(data) if compress else data)
    read = idx.read_idx(path)
    assert read.shape == array.shape
    np.testing.assert_array_equal(read, array.astype(idx.IDX_TYPES[code]))


@FUZZ
@given(spec=idx_arrays, cut=st.integers(1, 10**6), compress=st.booleans())
def test_idx_truncated_anywhere_is_a_value_error_naming_the_file(tmp_path, spec, cut, compress):
    code, array = spec
    data = _idx_bytes(array, code)
    if compress:
        data = gzip.compress(data)
    path = _write(tmp_path, "cut.idx", data[: len(data) - 1 - cut % len(data)])
    with pytest.raises(ValueError, match="cut.idx"):
        idx.read_idx(path)


@FUZZ
@given(data=st.binary(max_size=200))
def test_idx_random_bytes_give_a_consistent_array_or_a_value_error_naming_the_file(tmp_path, data):
    path = _write(tmp_path, "random.idx", data)
    read = _read_idx_or_documented_error(path)
    if read is not None:  # random bytes may happen to be a valid IDX file: then all of them are used
        assert 4 + 4 * read.ndim + read.nbytes == len(data)


@FUZZ
@given(
    code=st.sampled_from(IDX_CODES),
    shape=st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=4),
    payload=st.binary(max_size=64),
)
def test_idx_header_announcing_huge_dimensions_is_refused_without_allocating(tmp_path, code, shape, payload):
    header = bytes([0, 0, code, len(shape)]) + b"".join(struct.pack(">I", n) for n in shape)
    path = _write(tmp_path, "huge.idx", header + payload)
    read = _read_idx_or_documented_error(path)
    if read is not None:
        assert list(read.shape) == shape and read.nbytes == len(payload)


@FUZZ
@given(data=st.binary(min_size=0, max_size=100))
def test_idx_damaged_gzip_stream_is_a_value_error_naming_the_file(tmp_path, data):
    path = _write(tmp_path, "damaged.gz", b"\x1f\x8b" + data)
    read = _read_idx_or_documented_error(path)
    assert read is None or isinstance(read, np.ndarray)


def test_idx_header_whose_value_count_overflows_int64_is_refused_naming_the_file(tmp_path):
    path = _write(tmp_path, "wraps.idx", bytes([0, 0, 0x08, 4]) + struct.pack(">4I", *[2**16] * 4))
    with pytest.raises(ValueError, match="wraps.idx"):
        idx.read_idx(path)


# ---------------------------------------------------------------------------------------- CSV
column_names = st.lists(st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,7}", fullmatch=True), min_size=1, max_size=4,
                        unique=True)
# read_csv refuses magnitudes beyond float32's (training computes in float32)
finite = st.floats(min_value=-MAX_MAGNITUDE, max_value=MAX_MAGNITUDE, width=64)


@st.composite
def tables(draw):
    names = draw(column_names)
    rows = draw(st.integers(1, 12))
    return {name: np.array(draw(st.lists(finite, min_size=rows, max_size=rows))) for name in names}


def _read_csv_or_documented_error(path, **kwargs):
    """read_csv's table, or None after checking that the error is a ValueError naming the file."""
    try:
        table = read_csv(path, **kwargs)
    except ValueError as error:
        assert path in str(error)
        return None
    lengths = {len(table[name]) for name in table.names}
    assert len(lengths) == 1 and np.isfinite(np.stack([table[name] for name in table.names])).all()
    return table


@FUZZ
@given(columns=tables())
def test_csv_reads_back_the_columns_it_was_given(tmp_path, columns):
    path = str(tmp_path / "table.csv")
    write_csv(path, columns, time=np.arange(len(next(iter(columns.values())))), time_column="step")
    table = read_csv(path, time_column="step")
    assert table.names == list(columns)
    for name, values in columns.items():
        np.testing.assert_array_equal(table[name], values)


@FUZZ
@given(columns=tables(), cut=st.integers(0, 10**6))
def test_csv_truncated_anywhere_reads_a_prefix_of_the_rows_or_a_value_error(tmp_path, columns, cut):
    path = str(tmp_path / "cut.csv")
    write_csv(path, columns)
    data = (tmp_path / "cut.csv").read_bytes()
    (tmp_path / "cut.csv").write_bytes(data[: cut % len(data)])
    table = _read_csv_or_documented_error(path)
    if table is not None:
        rows = len(table[table.names[0]])
        assert table.names == list(columns)[: len(table.names)]
        for name in table.names[:-1]:  # only the last cell read can be a shortened number
            np.testing.assert_array_equal(table[name], columns[name][:rows])


@FUZZ
@given(data=st.binary(max_size=300))
def test_csv_random_bytes_give_a_table_or_a_value_error_naming_the_file(tmp_path, data):
    path = _write(tmp_path, "random.csv", data)
    _read_csv_or_documented_error(path)


@FUZZ
@given(text=st.text(alphabet=st.sampled_from(list('ab1.5,"\n\r -e\t;x\x00\u00e9')), max_size=200),
       time_column=st.sampled_from([None, "a", "b"]))
def test_csv_random_text_of_csv_characters_gives_a_table_or_a_value_error(tmp_path, text, time_column):
    path = _write(tmp_path, "text.csv", text.encode("utf-8"))
    _read_csv_or_documented_error(path, time_column=time_column)


@FUZZ
@given(columns=tables(), asked=st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,7}", fullmatch=True))
def test_csv_missing_column_is_a_value_error_naming_it_and_the_available_ones(tmp_path, columns, asked):
    path = str(tmp_path / "table.csv")
    write_csv(path, columns)
    if asked in columns:
        assert len(read_csv(path, columns=[asked])[asked]) == len(columns[asked])
        return
    with pytest.raises(ValueError, match=f"column '{asked}'.* not found in .*table.csv; available columns: "):
        read_csv(path, columns=[asked])


@FUZZ
@given(text=st.text(min_size=1, max_size=50).filter(lambda t: any(ord(c) > 127 for c in t)),
       encoding=st.sampled_from(["latin-1", "utf-16", "utf-32", "cp1252"]))
def test_csv_and_text_in_another_encoding_are_value_errors_naming_the_file(tmp_path, text, encoding):
    try:
        data = ("value\n1\n" + text).encode(encoding)
    except UnicodeEncodeError:
        return  # characters this encoding cannot hold
    try:
        data.decode("utf-8")
        return  # by chance also valid UTF-8
    except UnicodeDecodeError:
        pass
    path = _write(tmp_path, "encoded.csv", data)
    with pytest.raises(ValueError, match="encoded.csv.* not UTF-8"):
        read_csv(path)
    with pytest.raises(ValueError, match="encoded.csv.* not UTF-8"):
        read_text(path)


# ------------------------------------------------------------------------ text files (textgen)
@FUZZ
@given(data=st.binary(max_size=200))
def test_text_file_random_bytes_give_its_text_or_a_value_error_naming_the_file(tmp_path, data):
    path = _write(tmp_path, "corpus.txt", data)
    try:
        text = read_text(path)
    except ValueError as error:
        assert "corpus.txt" in str(error)
        return
    assert text.encode("utf-8") == data and text


@FUZZ
@given(text=st.text(min_size=1, max_size=60), cut=st.integers(1, 10**6))
def test_text_file_cut_inside_a_character_names_the_first_bad_byte(tmp_path, text, cut):
    data = text.encode("utf-8")
    data = data[: len(data) - 1 - cut % len(data)] if len(data) > 1 else data
    path = _write(tmp_path, "cut.txt", data)
    try:
        read_text(path)
    except ValueError as error:
        assert "cut.txt" in str(error) and ("empty" in str(error) or "not UTF-8 text: byte " in str(error))


# ------------------------------------------------------------------ text to ids (data/text.py)
@FUZZ
@given(corpus=st.lists(st.text(max_size=40), min_size=1, max_size=8), texts=st.lists(st.text(max_size=40),
       min_size=1, max_size=5), max_tokens=st.one_of(st.none(), st.integers(2, 12)),
       length=st.one_of(st.none(), st.integers(1, 6)))
def test_text_vectorization_of_any_unicode_gives_ids_inside_the_vocabulary(corpus, texts, max_tokens, length):
    vectorizer = TextVectorization(max_tokens=max_tokens, output_sequence_length=length)
    vectorizer.adapt(corpus)
    ids = vectorizer(texts)
    assert ids.ndim == 2 and len(ids) == len(texts)
    if length is not None:
        assert ids.shape[1] == length
    assert ids.size == 0 or 0 <= ids.min() and ids.max() < vectorizer.vocabulary_size()
    if max_tokens is not None:
        assert vectorizer.vocabulary_size() <= max_tokens


@FUZZ
@given(sequences=st.lists(st.lists(st.integers(-5, 50), max_size=7), max_size=6),
       maxlen=st.one_of(st.none(), st.integers(0, 8)), padding=st.sampled_from(["pre", "post"]),
       truncating=st.sampled_from(["pre", "post"]))
def test_pad_sequences_of_ragged_lists_has_one_row_per_sequence_of_maxlen(sequences, maxlen, padding, truncating):
    if not sequences and maxlen is None:
        with pytest.raises(ValueError):
            pad_sequences(sequences)
        return
    padded = pad_sequences(sequences, maxlen=maxlen, padding=padding, truncating=truncating)
    width = maxlen if maxlen is not None else max(len(s) for s in sequences)
    assert padded.shape == (len(sequences), width)
    for row, sequence in zip(padded, sequences):
        kept = sequence[-width:] if truncating == "pre" else sequence[:width]
        kept = kept if width else []
        pad = [0] * (width - len(kept))
        assert row.tolist() == (pad + kept if padding == "pre" else kept + pad)


# ------------------------------------------------ labelled texts and lines (data/labelled.py)
LABELLED_CHARACTERS = list('ab 1\t\n\r,"\x00\u00e9;') + ["text", "label", "sentence"]


def _read_labelled_or_documented_error(path, **kwargs):
    """read_labelled's texts, or None after checking that the error is a ValueError naming the file."""
    try:
        data = read_labelled(path, **kwargs)
    except ValueError as error:
        assert os.path.basename(path) in str(error)
        return None
    assert len(data.texts) == len(data.labels) > 0 and len(data.names) >= 2
    assert data.labels.min() >= 0 and data.labels.max() < len(data.names)
    assert all(name.strip() == name and name for name in data.names)
    return data


@FUZZ
@given(data=st.binary(max_size=200), name=st.sampled_from(["data.txt", "data.csv", "data.tsv"]))
def test_labelled_random_bytes_give_consistent_texts_or_a_value_error_naming_the_file(tmp_path, data, name):
    _read_labelled_or_documented_error(_write(tmp_path, name, data))


@FUZZ
@given(text=st.lists(st.sampled_from(LABELLED_CHARACTERS), max_size=80).map("".join),
       name=st.sampled_from(["data.txt", "data.csv", "data.tsv"]))
def test_labelled_malformed_text_gives_consistent_texts_or_a_value_error_naming_the_file(tmp_path, text, name):
    _read_labelled_or_documented_error(_write(tmp_path, name, text.encode("utf-8")))


@FUZZ
@given(rows=st.lists(st.tuples(st.text(st.characters(blacklist_characters="\t\n\r\x0b\x0c\x1c\x1d\x1e\x85"
                                                                          "\u2028\u2029"), min_size=1, max_size=20)
                               .filter(str.strip),
                               st.sampled_from(["pos", "neg", "0", "1"])), min_size=2, max_size=10),
       cut=st.integers(0, 10**6))
def test_labelled_lines_truncated_anywhere_read_a_prefix_or_a_value_error(tmp_path, rows, cut):
    data = "".join(f"{text}\t{label}\n" for text, label in rows).encode("utf-8")
    path = _write(tmp_path, "cut.txt", data[: cut % (len(data) + 1)])
    read = _read_labelled_or_documented_error(path)
    if read is not None:
        whole = [text.strip() for text, _ in rows]
        assert read.texts[:-1] == whole[: len(read.texts) - 1]  # the last line may have lost its end


@FUZZ
@given(data=st.binary(max_size=200))
def test_lines_random_bytes_give_stripped_lines_or_a_value_error_naming_the_file(tmp_path, data):
    path = _write(tmp_path, "sentences.txt", data)
    try:
        lines = read_lines(path)
    except ValueError as error:
        assert "sentences.txt" in str(error)
        return
    assert lines and all(line == line.strip() and line for line in lines)


def test_labelled_csv_with_a_field_over_the_csv_limit_is_a_value_error_naming_the_file(tmp_path):
    path = _write(tmp_path, "huge.csv", b'text,label\n"' + b"a" * 200_000 + b'",1\nb,0\n')
    with pytest.raises(ValueError, match=r"huge.csv' line \d+ is not readable as a table .*unclosed quote"):
        read_labelled(path)
