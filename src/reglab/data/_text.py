"""Delimited text: bytes → text, the field separator, rows with their line numbers, decimal commas.

The rules, each reported in ``Dataset.notices`` when it changes what is read:

* **Encoding.** A byte-order mark decides: UTF-8 (no notice), UTF-16 or UTF-32 (either byte
  order). Without one, text whose every other byte is NUL is UTF-16 of that byte order; else
  UTF-8; else Windows-1252 (cp1252, the superset of Latin-1 that spreadsheets on Windows write),
  or Latin-1 when the file holds one of the five bytes cp1252 leaves undefined. NUL bytes in
  anything else, or more than 1 % control characters, mean binary data, which is refused, as
  are bytes invalid in the encoding a byte-order mark names.
* **Separator.** A first line ``sep=X`` (as Excel writes) names it. Else a ``.tsv`` file is
  tab-separated; for any other file the separator is the one among ``,`` ``;`` tab ``|`` that
  splits the first 50 rows into the same number (> 1) of fields, the most fields winning and
  ``,`` breaking ties. When none does, the separator most frequent in the header is used (the
  ragged rows are then reported), and a ``.txt`` file with none falls back to runs of
  whitespace.
* **Rows.** Blank lines are skipped. A quote never closed, and a row with fewer fields than
  the header or with more that are not empty, are refused naming the line; empty fields beyond
  the header's (a trailing separator) are ignored, as is a trailing header field with no name
  and no values.
* **Decimal commas.** In a file not separated by ``,``, a column whose filled cells are
  numbers written with a decimal comma (``1,5``) or integers, at least one with a comma, is
  read with decimal points. So is a column where such numbers are at least 90 % of the filled
  cells and the others are not numbers at all (``abc``): those stray cells are then reported
  as in a comma-separated file, by column, value and line. A column that also holds numbers
  with a decimal point (``1.5``, or ``1.500`` with a thousands point) is left as it is: which
  mark is decimal is not clear.
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import re
import shlex
from collections.abc import Callable

import numpy as np
import pandas as pd

from reglab.data._schema import MISSING_TOKENS, MOSTLY_NUMERIC

__all__ = ["decode", "parse_delimited"]

CANDIDATES = (",", ";", "\t", "|")
SNIFF_ROWS = 50
_WHITESPACE = "whitespace"

# Byte-order marks, longest first (a UTF-32-LE mark starts with the UTF-16-LE one).
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32 (little-endian, with byte-order mark)"),
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32 (big-endian, with byte-order mark)"),
    (codecs.BOM_UTF8, "utf-8-sig", ""),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16 (little-endian, with byte-order mark)"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16 (big-endian, with byte-order mark)"),
)

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

_DECIMAL_COMMA = re.compile(r"[+-]?(\d+,\d*|,\d+|\d+)([eE][+-]?\d+)?")

Refuse = Callable[[str], Exception]
Lines = Callable[[], np.ndarray]


def decode(name: str, data: bytes, refuse: Refuse) -> tuple[str, list[str]]:
    """The text of ``data`` and a notice naming any encoding other than UTF-8.

    ``refuse(why)`` builds the error raised for bytes that are not text.

    >>> decode("t.csv", "a,b\\n".encode("utf-16"), ValueError)
    ('a,b\\n', ["read 't.csv' as UTF-16 (little-endian, with byte-order mark) text"])
    """
    for bom, codec, what in _BOMS:
        if data.startswith(bom):
            text = _strict(data, codec, what or "UTF-8", refuse)
            return text, [f"read {name!r} as {what} text"] if what else []
    for magic, what in _MAGIC:
        if data.startswith(magic):
            raise refuse(f"{what}, not text")
    head = data[:65536]
    if b"\x00" in head:
        order = _utf16_order(head)
        if order is None:
            raise refuse("binary data with NUL bytes, not text")
        text = _strict(data, f"utf-16-{order.lower()}", f"UTF-16-{order}", refuse)
        return text, [f"read {name!r} as UTF-16-{order} text (no byte-order mark)"]
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError:
        pass
    try:
        text, codec = data.decode("cp1252"), "cp1252 (Windows Latin-1)"
    except UnicodeDecodeError:
        text, codec = data.decode("latin-1"), "Latin-1 (ISO-8859-1)"
    sample = text[:65536]
    control = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\r\n\f")
    if control > 0.01 * max(len(sample), 1):
        raise refuse("binary data, not text")
    return text, [f"read {name!r} as {codec} text, as it is not valid UTF-8"]


def _strict(data: bytes, codec: str, what: str, refuse: Refuse) -> str:
    try:
        return data.decode(codec)
    except UnicodeDecodeError as err:
        raise refuse(f"not valid {what} text: {err.reason} at byte {err.start}") from err


def _utf16_order(head: bytes) -> str | None:
    """``"LE"``/``"BE"`` when the NUL bytes sit at every odd/even offset (ASCII in UTF-16)."""
    n = len(head) - len(head) % 2
    if n < 4:
        return None
    even = head[0:n:2].count(0) / (n // 2)
    odd = head[1:n:2].count(0) / (n // 2)
    if odd >= 0.9 and even <= 0.1:
        return "LE"
    if even >= 0.9 and odd <= 0.1:
        return "BE"
    return None


# --- separator -------------------------------------------------------------------------------


class _UnclosedQuote(Exception):
    def __init__(self, line: int) -> None:
        self.line = line


def _records(text: str, sep: str, *, lines: bool = False) -> tuple[list[list[str]], list[int]]:
    """Every non-blank row and, with ``lines=True`` (slower), the file line each starts on.

    Raises:
        _UnclosedQuote: The text ends inside a quoted field.
    """
    if sep == _WHITESPACE:
        split = [(n, line.split()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
        return [row for _, row in split], [n for n, _ in split]
    for strict in (True, False):  # strict sees an unclosed quote; lenient reads stray quotes
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=strict)
        try:
            if not lines:
                return [row for row in reader if len(row) > 1 or (row and row[0].strip())], []
            rows, starts, start = [], [], 1
            for row in reader:
                if len(row) > 1 or (row and row[0].strip()):
                    rows.append(row)
                    starts.append(start)
                start = reader.line_num + 1
            return rows, starts
        except csv.Error as err:
            if "unexpected end of data" in str(err):
                if not lines:  # the slow pass finds the line the quote opens on
                    return _records(text, sep, lines=True)
                raise _UnclosedQuote(start) from err
            if not strict:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _sniff(text: str, suffix: str) -> str:
    if suffix == ".tsv":
        return "\t"
    sample = text[:65536]
    if len(sample) < len(text):
        sample = sample[: sample.rfind("\n") + 1] or sample
    best, widest = "", 1
    for sep in CANDIDATES:
        try:
            rows = _records(sample, sep)[0][:SNIFF_ROWS]
        except (csv.Error, _UnclosedQuote):
            continue
        if len(sample) < len(text) and len(rows) > 1:
            rows = rows[:-1]
        widths = {len(row) for row in rows}
        if len(widths) == 1 and (width := widths.pop()) > widest:
            best, widest = sep, width
    if best:
        return best
    header = next((line for line in sample.splitlines() if line.strip()), "")
    counts = {sep: header.count(sep) for sep in CANDIDATES}
    most = max(counts, key=lambda sep: counts[sep])
    if counts[most] > 0:
        return most
    if suffix == ".txt" and len(header.split()) > 1:
        return _WHITESPACE
    return ","


def _describe(sep: str) -> str:
    return {"\t": "tab", _WHITESPACE: "whitespace"}.get(sep, repr(sep))


# --- parsing ---------------------------------------------------------------------------------


def parse_delimited(
    name: str, text: str, suffix: str, refuse: Refuse
) -> tuple[pd.DataFrame, Lines, list[str]]:
    """The raw string frame (header names stripped), the file lines of its rows, and notices.

    ``lines()`` gives the 1-based file line every data row starts on; it parses the text again,
    so it is called only to locate cells in an error message. ``refuse(why)`` builds the error
    raised when the text is not one table.
    """
    notices: list[str] = []
    offset = 0
    first = text.split("\n", 1)[0].strip().strip("\ufeff")
    excel = re.fullmatch(r"sep=(.)", first)
    if excel:
        sep = excel.group(1)
        text = text.split("\n", 1)[1] if "\n" in text else ""
        offset = 1
    else:
        sep = _sniff(text, suffix)
        if suffix == ".csv" and sep != ",":
            notices.append(f"read {name!r} as {_describe(sep)}-separated")

    @functools.cache
    def lines() -> np.ndarray:  # of every row, the header first
        return np.asarray(_records(text, sep, lines=True)[1], dtype=np.int64) + offset

    try:
        rows, _ = _records(text, sep)
    except _UnclosedQuote as err:
        raise refuse(f"a quote opened on line {err.line + offset} is never closed") from err
    except csv.Error as err:
        raise refuse(f"not readable as {_describe(sep)}-separated text: {err}") from err
    if not rows:
        raise refuse("an empty file")
    names = [cell.strip().strip("\ufeff").strip() for cell in rows[0]]
    body = rows[1:]
    if not body:
        raise refuse("a header row and no data rows")
    last = len(names) - 1
    trailing = last > 0 and not names[last]
    if trailing and all(not "".join(row[last:]).strip() for row in body):
        names.pop()
        notices.append(f"ignored the last column of {name!r}: it has no name and no values")
    else:
        trailing = False
    body = _fit_widths(body, len(names), lines, refuse, [] if trailing else notices)
    blank = [i for i, n in enumerate(names) if not n]
    names = [n or f"Unnamed: {i}" for i, n in enumerate(names)]
    if blank:
        notices.append(_unnamed_notice(name, [names[i] for i in blank], blank))
    frame = pd.DataFrame(body, columns=pd.Index(names, dtype=object), dtype=object)
    if sep != ",":
        converted = [c for i, c in enumerate(names) if _decimal_commas(frame, i)]
        if converted:
            shown = ", ".join(repr(c) for c in converted[:3])
            more = f" and {len(converted) - 3} more" if len(converted) > 3 else ""
            notices.append(f"read decimal commas as decimal points in {shown}{more} of {name!r}")
    return frame, lambda: lines()[1:], notices


def _unnamed_notice(name: str, given: list[str], positions: list[int], shown: int = 3) -> str:
    """One line naming the header's blank names by column position (1-based) and the names
    they were given, with the ``--drop`` that leaves them out.

    >>> _unnamed_notice("a.csv", ["Unnamed: 1"], [1])
    "column 2 of 'a.csv' has no name in the header: named it 'Unnamed: 1' (--drop 'Unnamed: 1' leaves it out)"
    """  # noqa: E501
    more = f" and {len(given) - shown} more" if len(given) > shown else ""
    columns = ", ".join(str(i + 1) for i in positions[:shown]) + more
    named = ", ".join(repr(g) for g in given[:shown]) + more
    drop = shlex.quote(",".join(given))
    if len(given) == 1:
        return (
            f"column {columns} of {name!r} has no name in the header: named it {named} "
            f"(--drop {drop} leaves it out)"
        )
    return (
        f"columns {columns} of {name!r} have no name in the header: named them {named} "
        f"(--drop {drop} leaves them out)"
    )


def _fit_widths(
    body: list[list[str]], width: int, lines: Lines, refuse: Refuse, notices: list[str]
) -> list[list[str]]:
    """Rows cut to the header's width where the extra fields are empty; refuse any other."""
    wider = [i for i, row in enumerate(body) if len(row) != width]
    bad = [i for i in wider if len(body[i]) < width or "".join(body[i][width:]).strip()]
    if bad:
        at, n, k = lines(), len(body[bad[0]]), len(bad) - 1
        more = f"; {k} more row{'s differ' if k > 1 else ' differs'}" if k else ""
        raise refuse(
            f"rows of unequal length: line {at[bad[0] + 1]} has {n} field{'s' * (n != 1)}, the "
            f"header (line {at[0]}) has {width}{more}"
        )
    if wider:
        notices.append(f"ignored empty fields after the last column in {len(wider)} rows")
        return [row[:width] for row in body]
    return body


def _decimal_commas(frame: pd.DataFrame, j: int) -> bool:
    """Rewrite column ``j`` with decimal points when it is written with decimal commas.

    >>> frame = pd.DataFrame({"a": ["1,5", "2", "abc"] + ["0,25"] * 27})
    >>> _decimal_commas(frame, 0), frame["a"].tolist()[:4]
    (True, ['1.5', '2', 'abc', '0.25'])
    >>> frame = pd.DataFrame({"a": ["1,5", "1.500"] + ["0,25"] * 28})
    >>> _decimal_commas(frame, 0), frame["a"].tolist()[:2]
    (False, ['1,5', '1.500'])
    """
    cells = frame.iloc[:, j]
    text = cells.map(lambda v: v.strip()).astype(object)
    filled = ~text.isin(MISSING_TOKENS)
    values = text[filled]
    if not len(values) or not values.str.contains(",", regex=False).any():
        return False
    comma = text.map(lambda v: _DECIMAL_COMMA.fullmatch(v) is not None).to_numpy() & filled
    others = values[~comma[filled.to_numpy()]]
    if len(others):
        if len(others) > (1 - MOSTLY_NUMERIC) * len(values):
            return False
        if pd.to_numeric(others, errors="coerce").notna().any():  # "1.5" beside "1,5"
            return False
    frame.iloc[:, j] = cells.where(~comma, text.str.replace(",", ".", regex=False))
    return True
