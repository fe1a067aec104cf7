"""Output files that never clobber inputs: checked before any work, written atomically.

:func:`check_output` refuses, before anything is trained or written, a destination that is a
directory or a special file, that is one of the run's inputs (the store and its SQLite side
files, the data file; links and relative paths resolved), or whose directory does not accept a
new file (tested by creating and removing one, which also catches ``/proc`` and read-only
mounts). :func:`write_atomic` (used by every writer of results and reports) writes to a
temporary file in the destination's directory and renames it into place, so a reader never sees
half a file and a failure leaves the old file.

>>> import pathlib, tempfile
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> out = check_output("--json", folder / "r.json", inputs={"the store": folder / "runs.db"})
>>> write_atomic(out, "{}")
PosixPath('...r.json')
>>> check_output("-o", folder / "runs.db", inputs={"the store": folder / "runs.db"})
Traceback (most recent call last):
...
reglab.errors.ConfigError: `-o` must be a new file or a file it may replace, not the store; got ...
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path

from reglab.errors import ConfigError

__all__ = [
    "SQLITE_SIDE_FILES",
    "check_output",
    "check_outputs_differ",
    "safe_filename",
    "write_atomic",
]

FILENAME_MAX = 120
"""Characters :func:`safe_filename` keeps (a file name must stay well under 255 bytes)."""

SQLITE_SIDE_FILES = ("", "-wal", "-shm", "-journal")
"""Suffixes of the files an SQLite database consists of."""


def _expected(what: str) -> str:
    return f"must be a new file or a file it may replace, not {what}"


def _resolved(option: str, raw: str) -> Path:
    """``raw`` with ``~`` expanded and links and ``..`` resolved, or a one-line error."""
    try:
        return Path(raw).expanduser().resolve()
    except (OSError, RuntimeError) as err:  # ~nouser, a link loop, a name too long
        reason = getattr(err, "strerror", None) or str(err).splitlines()[0]
        raise ConfigError(
            f"`{option}` must be a usable file path; got {raw!r} ({reason})."
        ) from None


def check_output(
    option: str,
    path: str | os.PathLike[str],
    *,
    inputs: Mapping[str, Path | None] | None = None,
    writes: str | None = None,
) -> Path:
    """The resolved destination ``path`` for the option ``option``, or a one-line error.

    Args:
        option: the parameter or flag that named the path (for the message).
        path: the destination.
        inputs: what the run reads, by description (``{"the store": path, "the data file":
            path}``); the store's SQLite side files (``-wal``, ``-shm``, ``-journal``) count.
        writes: ``"html"`` or ``"json"``: what the option writes. An existing file is then
            replaced only when it holds the same kind (an earlier report or result), so that
            a slip of the path never turns a data file, a store or a model into a report.

    >>> import pathlib, tempfile
    >>> data = pathlib.Path(tempfile.mkdtemp()) / "data.csv"
    >>> _ = data.write_text("a,b\\n1,2\\n")
    >>> check_output("--report", data, writes="html")
    Traceback (most recent call last):
    ...
    reglab.errors.ConfigError: `--report` must be a new file or an earlier HTML report it may replace; got '...data.csv', which begins 'a,b'.
    """  # noqa: E501
    raw = os.fspath(path)
    if not raw:
        raise ConfigError(f"`{option}` must be a file path; got ''.")
    target = _resolved(option, raw)
    try:
        checked = _checked(option, raw, target, inputs or {})
        if writes is not None and checked.exists():
            _same_kind(option, raw, checked, writes)
        return checked
    except OSError as err:  # a name longer than the file system allows, a vanished folder
        raise ConfigError(
            f"`{option}` must be a usable file path; got {raw!r} ({err.strerror or err})."
        ) from None


def _checked(option: str, raw: str, target: Path, inputs: Mapping[str, Path | None]) -> Path:
    for what, source in inputs.items():
        if source is None:
            continue
        source = _resolved(option, str(source))
        suffixes = SQLITE_SIDE_FILES if what == "the store" else ("",)
        for suffix in suffixes:
            twin = source.with_name(source.name + suffix)
            if target == twin or (target.exists() and twin.exists() and target.samefile(twin)):
                raise ConfigError(f"`{option}` {_expected(what)}; got {raw!r}.")
    if target.exists():
        mode = target.stat().st_mode
        if stat.S_ISDIR(mode):
            raise ConfigError(f"`{option}` must be a file path, not a directory; got {raw!r}.")
        if not stat.S_ISREG(mode):
            raise ConfigError(
                f"`{option}` must be a regular file path, not a special file; got {raw!r}."
            )
    folder = target.parent
    if not folder.is_dir():
        state = "is not a directory" if folder.exists() else "does not exist"
        raise ConfigError(
            f"`{option}` must be a path in an existing directory; got {raw!r} "
            f"({str(folder)!r} {state})."
        )
    try:
        handle, probe = tempfile.mkstemp(dir=folder, prefix=".reglab-probe-")
    except OSError as err:
        raise ConfigError(
            f"`{option}` must be a path in a writable directory; got {raw!r} "
            f"({err.strerror or err})."
        ) from err
    os.close(handle)
    os.unlink(probe)
    name_max = os.pathconf(folder, "PC_NAME_MAX") if hasattr(os, "pathconf") else 255
    if len(os.fsencode(target.name)) + len(".tmp.") + 8 + 4 > name_max:
        raise ConfigError(
            f"`{option}` must be a file name of at most {name_max - 20} bytes; got {raw!r} "
            f"({len(os.fsencode(target.name))} bytes)."
        )
    return target


_KINDS = {"html": ("an earlier HTML report", ("<!doctype html", "<html")),
          "json": ("an earlier JSON result", ("{", "["))}  # fmt: skip


def _same_kind(option: str, raw: str, target: Path, writes: str) -> None:
    """Refuse replacing ``target`` unless it is empty or begins as ``writes`` files do."""
    what, starts = _KINDS[writes]
    with target.open("rb") as handle:
        head = handle.read(256)
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    if not text or text.lower().startswith(starts):
        return
    shown = text.splitlines()[0][:40] if text.strip() else repr(head[:16])
    raise ConfigError(
        f"`{option}` must be a new file or {what} it may replace; got {raw!r}, which begins "
        f"{shown!r}."
    )


def check_outputs_differ(outputs: Mapping[str, Path | None]) -> None:
    """Refuse two options that name the same destination (``--json`` and ``--report``)."""
    seen: dict[Path, str] = {}
    for option, path in outputs.items():
        if path is None:
            continue
        if path in seen:
            raise ConfigError(
                f"`{option}` must differ from `{seen[path]}`; got {str(path)!r} for both."
            )
        seen[path] = option


def write_atomic(path: str | os.PathLike[str], content: str | bytes) -> Path:
    """Write ``content`` to a temporary file beside ``path``, then rename it into place.

    A replaced file keeps its permissions; a new one gets those a new file would (``0o666``
    less the umask). On any failure the temporary file is removed and ``path`` is left as it
    was.
    """
    target = Path(path)
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        keep: int | None = stat.S_IMODE(target.stat().st_mode)
    except OSError:
        keep = None
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    temp = Path(name)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if keep is None:
            mask = os.umask(0)
            os.umask(mask)
            keep = 0o666 & ~mask
        os.chmod(temp, keep)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return target


def safe_filename(name: str) -> str:
    """A study name made safe as a file name (``/``, brackets, spaces... become ``_``).

    >>> safe_filename("digits [run 2]/x")
    'digits__run_2__x'

    A long name is cut to :data:`FILENAME_MAX` characters, ending in a digest of the whole:

    >>> len(safe_filename("x" * 400)), safe_filename("x" * 400)[-9:]
    (120, '-7b0bd700')
    """
    cleaned = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name).lstrip(".")
    if len(cleaned) > FILENAME_MAX:
        digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
        cleaned = f"{cleaned[: FILENAME_MAX - 9]}-{digest}"
    return cleaned or "study"
