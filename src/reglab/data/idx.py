"""Read IDX files (the format of MNIST and Fashion-MNIST), gzipped or not, with numpy alone.

An IDX file is a header, then the values in C-order, big-endian::

    bytes 0-1   0, 0
    byte  2     the type code: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32,
                0x0E float64
    byte  3     the number of dimensions d
    then        d sizes, each a big-endian uint32
    then        prod(sizes) values

A file whose first two bytes are gzip's magic (``1f 8b``) is decompressed first. Everything
else — a wrong magic, an unknown type code, a file shorter or longer than its header says, a
damaged gzip stream — is refused in one line naming the file.

>>> import gzip, tempfile, pathlib
>>> blob = bytes([0, 0, 0x08, 2]) + (2).to_bytes(4, "big") + (3).to_bytes(4, "big") + bytes(range(6))
>>> path = pathlib.Path(tempfile.mkdtemp()) / "tiny-idx2-ubyte.gz"
>>> _ = path.write_bytes(gzip.compress(blob))
>>> read_idx(path).tolist()
[[0, 1, 2], [3, 4, 5]]
"""  # noqa: E501

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from reglab.errors import DataError

__all__ = ["IDX_TYPES", "read_idx"]

IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"
_WHO = "read_idx"


def _refuse(path: Path, why: str) -> DataError:
    return DataError(f"{_WHO}: {str(path)!r} must be an IDX file; got {why}.")


def read_bytes(path: Path) -> bytes:
    """The file's bytes, decompressed when they start with gzip's magic."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise DataError(
            f"{_WHO}: {str(path)!r} must be a readable file; got {err.strerror or err}."
        ) from None
    if data[:2] != _GZIP_MAGIC:
        return data
    try:
        return gzip.decompress(data)
    except (EOFError, OSError, zlib.error) as err:
        raise _refuse(path, f"a damaged or truncated gzip stream ({err})") from None


def read_idx(path: str | Path) -> np.ndarray:
    """The array an IDX file holds, in native byte order, with the shape its header gives.

    Raises:
        DataError: The file is not a complete IDX file (one line naming it and what is wrong).
    """
    path = Path(path)
    data = read_bytes(path)
    if len(data) < 4:
        raise _refuse(path, f"{len(data)} bytes, fewer than the 4 of the header's magic number")
    if data[0] != 0 or data[1] != 0:
        raise _refuse(path, f"the magic number {data[:4].hex()} (it must start with 0000)")
    code, ndim = data[2], data[3]
    if code not in IDX_TYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_TYPES)
        raise _refuse(path, f"the type code 0x{code:02X} (known: {known})")
    if ndim == 0:
        raise _refuse(path, "a header with 0 dimensions")
    start = 4 + 4 * ndim
    if len(data) < start:
        raise _refuse(path, f"{len(data)} bytes, fewer than its {ndim}-dimension header needs")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_TYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    got = len(data) - start
    if got != expected:
        dims = "×".join(str(d) for d in shape)
        cut = "truncated" if got < expected else "with trailing bytes"
        raise _refuse(
            path, f"{got:,} data bytes after the header where {dims} {dtype.name} values need "
            f"{expected:,} ({cut})"
        )  # fmt: skip
    values = np.frombuffer(data, dtype=dtype, offset=start).reshape(shape)
    return values.astype(dtype.newbyteorder("="))
