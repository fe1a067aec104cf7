"""Read a table file into raw string columns, refusing what is not a table.

Only a regular file (after following links) is opened: a directory, a named pipe (which would
block), a socket or a device is refused first, as is a missing path or one with another
extension. Delimited text (``.csv``, ``.tsv``, ``.txt``) is decoded, split and checked by
:mod:`reglab.data._text`, every cell kept as a string and the header taken verbatim (names
stripped of spaces and byte-order marks), so duplicate names are seen before pandas would
rename them (``a``, ``a.1``). Parquet keeps its column types. Anything else — an unreadable
file, binary data (gzip, PNG, …), an empty or header-only file, ragged rows — raises one
:class:`~reglab.errors.DataError` line naming the file.
"""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from reglab.data._text import decode, parse_delimited
from reglab.errors import DataError

__all__ = ["SUFFIXES", "RawTable", "read_path"]

SUFFIXES = (".csv", ".tsv", ".txt", ".parquet")
_WHO = "load_table"
_EXPECTED = "an existing .csv, .tsv, .txt or .parquet file"

_NOT_REGULAR = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe, not a regular file"),
    (stat.S_ISSOCK, "a socket, not a regular file"),
    (stat.S_ISCHR, "a character device, not a regular file"),
    (stat.S_ISBLK, "a block device, not a regular file"),
)


@dataclass(frozen=True)
class RawTable:
    """A file's cells as read: ``lines()[i]`` is the file line data row ``i`` starts on
    (1-based, the header being line 1 in a plain file; computed on demand, for error messages);
    ``None`` for Parquet, which has no lines."""

    frame: pd.DataFrame
    notices: list[str] = field(default_factory=list)
    lines: Callable[[], np.ndarray] | None = None


def _bad_source(path: Path, why: str) -> DataError:
    return DataError(f"{_WHO}: `source` must be {_EXPECTED}; got {str(path)!r} ({why}).")


def _not_table(path: Path, why: str) -> DataError:
    return DataError(
        f"{_WHO}: `source` must be a table with a header row and at least one data row; "
        f"got {path.name!r} ({why})."
    )


def _unreadable(path: Path, err: OSError) -> DataError:
    reason = "permission denied" if isinstance(err, PermissionError) else err.strerror or err
    return DataError(
        f"{_WHO}: `source` must be a readable file; got {str(path)!r} (cannot be read: {reason})."
    )


def read_path(path: Path) -> RawTable:
    """Read ``path`` into a frame (header kept verbatim), the notices reading produced and the
    file line of every data row."""
    try:
        mode = os.stat(path).st_mode  # follows links
    except FileNotFoundError:
        why = "a broken link" if path.is_symlink() else "no such file"
        raise _bad_source(path, why) from None
    except NotADirectoryError:
        raise _bad_source(path, "no such file") from None
    except OSError as err:
        raise _unreadable(path, err) from err
    for test, what in _NOT_REGULAR:
        if test(mode):
            raise _bad_source(path, what)
    if not stat.S_ISREG(mode):
        raise _bad_source(path, "not a regular file")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise _bad_source(path, f"unsupported extension {suffix or '(none)'!r}")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise _unreadable(path, err) from err
    if suffix == ".parquet":
        return RawTable(_read_parquet(path, data))

    def refuse(why: str) -> DataError:
        return _not_table(path, why)

    text, notices = decode(path.name, data, refuse)
    if not text.strip():
        raise refuse("an empty file")
    frame, lines, more = parse_delimited(path.name, text, suffix, refuse)
    return RawTable(frame, notices + more, lines)


def _read_parquet(path: Path, data: bytes) -> pd.DataFrame:
    if not data:
        raise _not_table(path, "an empty file")
    try:
        frame = pd.read_parquet(io.BytesIO(data))
    except Exception as err:  # pyarrow raises several unrelated types for a corrupt file
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise _not_table(path, f"not readable as Parquet: {first}") from err
    if frame.shape[1] == 0:
        raise _not_table(path, "no columns")
    if frame.shape[0] == 0:
        raise _not_table(path, "a header row and no data rows")
    return frame.reset_index(drop=True)
