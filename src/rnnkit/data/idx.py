"""IDX files, the format of the MNIST digits: a 4-byte magic number (two zero bytes, a type code, the
number of dimensions), one big-endian uint32 per dimension, then the values, big-endian, row-major.
Files may be gzip-compressed; compression is recognised by the file's first two bytes, not its name.
"""
from __future__ import annotations

import contextlib
import gzip
import math
import os
import zlib

import numpy as np

__all__ = ["read_idx", "read_idx_pair"]

# The type codes of the IDX format and their big-endian NumPy types.
IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
GZIP_MAGIC = b"\x1f\x8b"
# Deflate inflates at most ~1032 times: a header announcing more than this is a lie.
MAX_GZIP_RATIO = 1100


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Reads an IDX file (gzip-compressed or not) into a NumPy array.

    Args:
        path: the file, e.g. "t10k-images-idx3-ubyte.gz".

    Returns:
        An array of the shape in the file's header, in the native byte order of the file's type
        (uint8, int8, int16, int32, float32 or float64).

    Raises:
        ValueError: naming the file, when it is empty, a damaged gzip stream, not an IDX file (bad
            magic number), of an unknown type code, or holds more or fewer values than its header
            announces. A gzip file is inflated no further than its header announces, and a header
            announcing more than gzip can hold in the file's size is refused before inflating.
        OSError: when the file cannot be read.

    Example:
        >>> images = read_idx("../shared/data/mnist/t10k-images-idx3-ubyte.gz")
        >>> images.shape, images.dtype
        ((10000, 28, 28), dtype('uint8'))
    """
    path = os.fspath(path)
    with _open(path) as (stream, file_size, compressed):
        data = _read(stream, 4, path)
        if not data:
            raise ValueError(f"{path!r} is empty; expected an IDX file (MNIST format).")
        if len(data) < 4 or data[0] != 0 or data[1] != 0:
            raise ValueError(
                f"{path!r} is not an IDX file: its magic number is {data[:4].hex() or 'missing'}, expected "
                "00 00 <type code> <number of dimensions> as in MNIST's files."
            )
        code, ndim = data[2], data[3]
        if code not in IDX_TYPES:
            known = ", ".join(f"0x{c:02X}" for c in IDX_TYPES)
            raise ValueError(f"{path!r} has the unknown IDX type code 0x{code:02X}; known codes: {known}.")
        header = 4 + 4 * ndim
        data += _read(stream, header - 4, path)
        if len(data) < header:
            raise ValueError(
                f"{path!r} is truncated: its header announces {ndim} dimensions ({header} header bytes) but the "
                f"file has only {len(data)} bytes."
            )
        shape = tuple(int(n) for n in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
        dtype = IDX_TYPES[code]
        # Python integers: a lying header's product of dimensions may exceed any fixed-width integer.
        expected = math.prod(shape) * dtype.itemsize
        if compressed and expected > MAX_GZIP_RATIO * file_size:
            raise ValueError(
                f"{path!r} is refused: its header announces shape {shape} of {dtype.name} ({expected} bytes), more "
                f"than {MAX_GZIP_RATIO} times its {file_size} compressed bytes, which gzip cannot hold."
            )
        # Inflated no further than the header announces (one byte more tells a longer file); an
        # uncompressed file is read no further than its size, whatever its header says
        values = _read(stream, (expected if compressed else min(expected, file_size)) + 1, path)
    found = len(values)
    if found != expected:
        problem = "truncated" if found < expected else "longer than its header says"
        more = "" if found < expected else " at least"
        raise ValueError(
            f"{path!r} is {problem}: its header announces shape {shape} of {dtype.name} ({expected} bytes of "
            f"values) but the file holds{more} {found} bytes after the header."
        )
    return np.frombuffer(values, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def read_idx_pair(images: str | os.PathLike, labels: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Reads an IDX file of samples and the IDX file of their labels, checking that they agree.

    Args:
        images: the samples' file (e.g. MNIST's "...-images-idx3-ubyte.gz").
        labels: the labels' file, one integer per sample (e.g. "...-labels-idx1-ubyte.gz").

    Returns:
        `(images, labels)`: the samples' array, and the labels as an int64 vector.

    Raises:
        ValueError: as `read_idx`, and when the labels are not one-dimensional integers or their
            count differs from the number of samples.

    Example:
        >>> x, y = read_idx_pair("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
        >>> x.shape, y.shape
        ((10000, 28, 28), (10000,))
    """
    x, y = read_idx(images), read_idx(labels)
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise ValueError(
            f"labels file {os.fspath(labels)!r} should hold one integer per sample, got an array of shape "
            f"{y.shape} and type {y.dtype.name}; did you swap the images and labels files?"
        )
    if x.ndim == 0 or len(x) != len(y):
        raise ValueError(
            f"{os.fspath(images)!r} holds {len(x) if x.ndim else 0} samples but {os.fspath(labels)!r} holds "
            f"{len(y)} labels; pass the labels file that belongs to these images."
        )
    return x, y.astype(np.int64)


@contextlib.contextmanager
def _open(path):
    """(a binary stream of the file's IDX bytes, the file's size, whether it is gzip-compressed): gzip
    is recognised by the file's first two bytes and inflated as it is read."""
    with open(path, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        compressed = file.read(2) == GZIP_MAGIC
        file.seek(0)
        if not compressed:
            yield file, size, False
            return
        with gzip.GzipFile(fileobj=file) as stream:
            yield stream, size, True


def _read(stream, count, path):
    try:
        return stream.read(count)
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise ValueError(f"{path!r} is a damaged gzip file ({error}); download it again.") from None
