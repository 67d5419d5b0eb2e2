"""IDX (MNIST format) files: values, types, compression by content, and the errors naming the file."""
import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from rnnkit.data import read_idx, read_idx_pair

MNIST = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "mnist"


def idx_bytes(array, code):
    array = np.asarray(array)
    header = struct.pack(">BBBB", 0, 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    big_endian = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[code]
    return header + array.astype(big_endian).tobytes()


def write(path, data, compress=False):
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def test_uint8_images_read_back_with_their_shape(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    read = read_idx(write(tmp_path / "images.idx", idx_bytes(images, 0x08)))
    assert read.dtype == np.uint8 and np.array_equal(read, images)


def test_gzip_is_recognised_by_content_not_by_name(tmp_path):
    labels = np.array([3, 1, 4], dtype=np.uint8)
    assert np.array_equal(read_idx(write(tmp_path / "labels.idx", idx_bytes(labels, 0x08), compress=True)), labels)


@pytest.mark.parametrize("code, dtype", [(0x09, np.int8), (0x0B, np.int16), (0x0C, np.int32), (0x0D, np.float32),
                                         (0x0E, np.float64)])
def test_big_endian_values_of_every_type_come_back_in_native_order(tmp_path, code, dtype):
    values = np.array([[-2, 100], [7, -1]], dtype=dtype)
    read = read_idx(write(tmp_path / "v.idx", idx_bytes(values, code)))
    assert read.dtype == np.dtype(dtype) and read.dtype.isnative and np.array_equal(read, values)


def test_a_bad_magic_number_names_the_file(tmp_path):
    path = write(tmp_path / "notes.idx", b"hello world")
    with pytest.raises(ValueError, match=r"notes\.idx' is not an IDX file: its magic number is 68656c6c"):
        read_idx(path)


def test_an_unknown_type_code_is_named(tmp_path):
    path = write(tmp_path / "odd.idx", struct.pack(">BBBBI", 0, 0, 0x07, 1, 1) + b"\x00")
    with pytest.raises(ValueError, match=r"odd\.idx' has the unknown IDX type code 0x07"):
        read_idx(path)


def test_truncated_values_are_refused_with_the_sizes(tmp_path):
    data = idx_bytes(np.zeros((4, 5), np.uint8), 0x08)
    path = write(tmp_path / "cut.idx.gz", data[:-3], compress=True)
    expected = r"cut\.idx\.gz' is truncated: .*shape \(4, 5\) of uint8 \(20 bytes .* holds 17 bytes"
    with pytest.raises(ValueError, match=expected):
        read_idx(path)


def test_a_header_cut_short_is_refused(tmp_path):
    path = write(tmp_path / "short.idx", struct.pack(">BBBB", 0, 0, 0x08, 3) + b"\x00\x00")
    with pytest.raises(ValueError, match=r"short\.idx' is truncated: its header announces 3 dimensions"):
        read_idx(path)


def test_trailing_bytes_are_refused(tmp_path):
    path = write(tmp_path / "long.idx", idx_bytes(np.zeros(3, np.uint8), 0x08) + b"\x01")
    with pytest.raises(ValueError, match="longer than its header says"):
        read_idx(path)


def test_an_empty_file_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"empty\.idx' is empty"):
        read_idx(write(tmp_path / "empty.idx", b""))


def test_a_damaged_gzip_stream_names_the_file(tmp_path):
    path = write(tmp_path / "bad.gz", gzip.compress(idx_bytes(np.zeros(100, np.uint8), 0x08))[:-12])
    with pytest.raises(ValueError, match=r"bad\.gz' is a damaged gzip file"):
        read_idx(path)


def test_pair_returns_int64_labels_matching_the_images(tmp_path):
    images = write(tmp_path / "i", idx_bytes(np.zeros((3, 2, 2), np.uint8), 0x08))
    labels = write(tmp_path / "l", idx_bytes(np.array([0, 9, 4], np.uint8), 0x08))
    x, y = read_idx_pair(images, labels)
    assert x.shape == (3, 2, 2) and y.dtype == np.int64 and y.tolist() == [0, 9, 4]


def test_pair_with_different_counts_names_both_files(tmp_path):
    images = write(tmp_path / "imgs", idx_bytes(np.zeros((3, 2, 2), np.uint8), 0x08))
    labels = write(tmp_path / "labs", idx_bytes(np.zeros(2, np.uint8), 0x08))
    with pytest.raises(ValueError, match=r"imgs' holds 3 samples but .*labs' holds 2 labels"):
        read_idx_pair(images, labels)


def test_pair_with_swapped_files_says_so(tmp_path):
    images = write(tmp_path / "imgs", idx_bytes(np.zeros((3, 2, 2), np.uint8), 0x08))
    labels = write(tmp_path / "labs", idx_bytes(np.zeros(3, np.uint8), 0x08))
    with pytest.raises(ValueError, match="did you swap the images and labels files"):
        read_idx_pair(labels, images)


@pytest.mark.skipif(not MNIST.exists(), reason="../shared/data/mnist not present")
def test_the_shared_mnist_test_digits_read_as_10000_images_of_28_rows():
    x, y = read_idx_pair(MNIST / "t10k-images-idx3-ubyte.gz", MNIST / "t10k-labels-idx1-ubyte.gz")
    assert x.shape == (10000, 28, 28) and x.dtype == np.uint8
    assert y[:5].tolist() == [7, 2, 1, 0, 4] and sorted(set(y.tolist())) == list(range(10))


def test_a_header_whose_value_count_overflows_64_bits_is_refused_naming_the_file(tmp_path):
    path = write(tmp_path / "wraps.idx", struct.pack(">BBBB4I", 0, 0, 0x08, 4, *[2**16] * 4))
    with pytest.raises(ValueError, match=r"wraps\.idx' is truncated: .*18446744073709551616 bytes"):
        read_idx(path)
