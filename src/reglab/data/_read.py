"""Read a table file into raw string columns, refusing what is not a table.

Delimited text (``.csv``, ``.tsv``, ``.txt``) is read with every cell as a string and the header
taken from the first line verbatim, so duplicate names are seen before pandas would rename them
(``a``, ``a.1``). Parquet keeps its column types. Anything else — a missing path, a directory, a
binary file (gzip, PNG, …), an empty or header-only file, ragged rows — raises one
:class:`~reglab.errors.DataError` line naming the file.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pandas as pd

from reglab.errors import DataError

__all__ = ["SUFFIXES", "read_path"]

SUFFIXES = (".csv", ".tsv", ".txt", ".parquet")
_WHO = "load_table"
_EXPECTED = "an existing .csv, .tsv, .txt or .parquet file"

# Leading bytes of common binary formats, to say what the file is instead of "not text".
_MAGIC = (
    (b"\x1f\x8b", "gzip-compressed data"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"PK\x03\x04", "a zip archive (an .xlsx workbook is one)"),
    (b"%PDF", "a PDF document"),
    (b"PAR1", "Parquet data"),
    (b"BZh", "bzip2-compressed data"),
    (b"\xfd7zXZ", "xz-compressed data"),
)


def _bad_source(path: Path, why: str) -> DataError:
    return DataError(f"{_WHO}: `source` must be {_EXPECTED}; got {str(path)!r} ({why}).")


def _not_table(path: Path, why: str) -> DataError:
    return DataError(
        f"{_WHO}: `source` must be a table with a header row and at least one data row; "
        f"got {path.name!r} ({why})."
    )


def read_path(path: Path) -> tuple[pd.DataFrame, list[str]]:
    """Read ``path`` into a frame (header kept verbatim) and the notices reading produced."""
    if not path.exists():
        raise _bad_source(path, "no such file")
    if path.is_dir():
        raise _bad_source(path, "a directory")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise _bad_source(path, f"unsupported extension {suffix or '(none)'!r}")
    data = path.read_bytes()
    if suffix == ".parquet":
        return _read_parquet(path, data), []
    return _read_delimited(path, data, suffix)


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
    return frame


def _decode(path: Path, data: bytes) -> tuple[str, list[str]]:
    for magic, what in _MAGIC:
        if data.startswith(magic):
            raise _not_table(path, f"{what}, not text")
    head = data[:65536]
    if b"\x00" in head:
        raise _not_table(path, "binary data with NUL bytes, not text")
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError:
        pass
    text = data.decode("latin-1")
    sample = text[:65536]
    control = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\r\n\f")
    if control > 0.01 * max(len(sample), 1):
        raise _not_table(path, "binary data, not text")
    return text, [f"read {path.name!r} as Latin-1 text (it is not valid UTF-8)"]


def _sniff(lines: list[str], suffix: str) -> str:
    """The field separator: tab for .tsv, else the delimiter the first lines agree on."""
    if suffix == ".tsv":
        return "\t"
    sample = "\n".join(lines)
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        pass
    header = lines[0]
    counts = {d: header.count(d) for d in ",\t;|"}
    best = max(counts, key=lambda d: counts[d])
    if counts[best] > 0:
        return best
    if suffix == ".txt" and len(header.split()) > 1:
        return r"\s+"
    return ","


def _read_delimited(path: Path, data: bytes, suffix: str) -> tuple[pd.DataFrame, list[str]]:
    text, notices = _decode(path, data)
    if not text.strip():
        raise _not_table(path, "an empty file")
    lines = [line for line in text.splitlines() if line.strip()][:50]
    sep = _sniff(lines, suffix)
    try:
        raw = pd.read_csv(
            io.StringIO(text),
            sep=sep,
            header=None,
            dtype=object,
            keep_default_na=False,
            skip_blank_lines=True,
            engine="python" if len(sep) > 1 else "c",
        )
    except pd.errors.ParserError as err:
        detail = re.sub(r"^Error tokenizing data\. C error: ", "", str(err).strip())
        raise _not_table(path, f"rows of unequal length: {detail.rstrip('.')}") from err
    except pd.errors.EmptyDataError as err:
        raise _not_table(path, "an empty file") from err
    header = [str(v).strip() if isinstance(v, str) else "" for v in raw.iloc[0].tolist()]
    header = [name or f"Unnamed: {i}" for i, name in enumerate(header)]
    if raw.shape[0] < 2:
        raise _not_table(path, "a header row and no data rows")
    frame = raw.iloc[1:].reset_index(drop=True)
    frame.columns = pd.Index(header, dtype=object)
    return frame, notices
