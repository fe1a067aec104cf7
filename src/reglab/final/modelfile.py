"""The model file (``.reglab``): a zip of JSON and raw arrays, checksummed, read without pickle.

Layout (every entry stored uncompressed, with a fixed date, so equal models give equal bytes)::

    manifest.json          {"format": "reglab-model", "format_version": 1, "reglab_version",
                            "files": {name: sha256}, "payload_sha256": sha256}
    model.json             the model: columns, preprocessing, target encoding, architecture
                           and its family (mlp, cnn or rnn), strategy, training set-up (see
                           :mod:`reglab.final.model`)
    weights/<key>.npy      one array per ``state_dict`` entry (``np.save``, no object arrays)

``payload_sha256`` is the sha256 of the entries other than the manifest, each as its name, a
zero byte, its length (8 bytes, little-endian) and its bytes, in name order. The zip's comment
is ``reglab-sha256:`` and the sha256 of every byte before it, so a change to any byte of the
file (the manifest and the zip's own records included) is found. Reading checks, in order:
a regular file; the trailing checksum (else *truncated or not a model file*); the checksum's
value (else *changed or damaged*); the manifest's format and ``format_version`` (else
*another version*); each entry's digest; then the model itself. Arrays are read with
``np.load(allow_pickle=False)``; nothing in the file is ever unpickled.

>>> blob = pack({"model.json": b"{}"})
>>> unpack(blob, "m.reglab")["model.json"]
b'{}'
>>> unpack(blob[:-1], "m.reglab")
Traceback (most recent call last):
...
reglab.final.modelfile.ModelFileError: load: `path` must be a model file written by reglab fit; got 'm.reglab' (truncated, or not a reglab model file: it does not end with reglab's checksum).
"""  # noqa: E501

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from reglab._version import VERSION
from reglab.errors import DataError

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "ModelFileError",
    "json_bytes",
    "pack",
    "payload_digest",
    "read_array",
    "read_file",
    "unpack",
    "write_array",
]

FORMAT = "reglab-model"
FORMAT_VERSION = 1
"""The version of the layout above; a reader refuses any other."""

MANIFEST = "manifest.json"
_TRAILER = b"reglab-sha256:"
_TRAILER_LEN = len(_TRAILER) + 64
_DATE = (1980, 1, 1, 0, 0, 0)
_EXPECTED = "a model file written by reglab fit"


class ModelFileError(DataError):
    """A model file that is missing, truncated, changed, damaged or of another format version."""


def refuse(where: str, why: str) -> ModelFileError:
    """The one-line error for the model file ``where``."""
    return ModelFileError(f"load: `path` must be {_EXPECTED}; got {where!r} ({why}).")


def payload_digest(entries: Mapping[str, bytes]) -> str:
    """The sha256 of ``entries`` (the manifest excluded), as the module states."""
    h = hashlib.sha256()
    for name in sorted(entries):
        if name == MANIFEST:
            continue
        h.update(name.encode("utf-8") + b"\0")
        h.update(len(entries[name]).to_bytes(8, "little"))
        h.update(entries[name])
    return h.hexdigest()


def pack(
    entries: Mapping[str, bytes], *, format_version: int = FORMAT_VERSION, version: str = VERSION
) -> bytes:
    """The model file's bytes: ``entries`` plus the manifest, checksummed.

    ``format_version`` and ``version`` are parameters only so that tests can write a file of
    another version; reglab always writes its own.
    """
    manifest = {
        "format": FORMAT,
        "format_version": format_version,
        "reglab_version": version,
        "files": {name: hashlib.sha256(entries[name]).hexdigest() for name in sorted(entries)},
        "payload_sha256": payload_digest(entries),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, content in [(MANIFEST, json_bytes(manifest)), *sorted(entries.items())]:
            info = zipfile.ZipInfo(name, date_time=_DATE)
            info.external_attr = 0o644 << 16
            zf.writestr(info, content)
        zf.comment = b"\0" * _TRAILER_LEN  # the checksum's place: its length is in the digest
    body = buffer.getvalue()[:-_TRAILER_LEN]
    return body + _TRAILER + hashlib.sha256(body).hexdigest().encode("ascii")


def read_file(path: str | os.PathLike[str]) -> bytes:
    """The bytes of the model file at ``path``; a missing path, a directory or a special file
    is refused in one line."""
    where = os.fspath(path)
    try:
        mode = os.stat(where).st_mode
    except FileNotFoundError:
        raise refuse(where, "no such file") from None
    except OSError as err:
        raise refuse(where, f"cannot be read: {err.strerror or err}") from None
    if stat.S_ISDIR(mode):
        raise refuse(where, "a directory")
    if not stat.S_ISREG(mode):
        raise refuse(where, "not a regular file")
    try:
        return Path(where).read_bytes()
    except OSError as err:
        raise refuse(where, f"cannot be read: {err.strerror or err}") from None


def unpack(blob: bytes, where: str) -> dict[str, bytes]:
    """The entries of a model file's bytes (the manifest excluded), every check passed.

    Args:
        blob: The file's bytes.
        where: The file's name, for messages.

    Raises:
        ModelFileError: Truncated, changed, damaged or of another format version.
    """
    trailer = blob[-_TRAILER_LEN:]
    if len(blob) < _TRAILER_LEN or not trailer.startswith(_TRAILER):
        raise refuse(
            where, "truncated, or not a reglab model file: it does not end with reglab's checksum"
        )
    body = blob[:-_TRAILER_LEN]
    if hashlib.sha256(body).hexdigest().encode("ascii") != trailer[len(_TRAILER) :]:
        raise refuse(where, "changed or damaged since it was written: its checksum differs")
    try:
        with zipfile.ZipFile(io.BytesIO(blob)) as zf:
            entries = {info.filename: zf.read(info) for info in zf.infolist()}
        manifest = json.loads(entries.pop(MANIFEST).decode("utf-8"))
    except (zipfile.BadZipFile, KeyError, ValueError, EOFError, OSError) as err:
        raise refuse(where, f"not a readable reglab model file: {err}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise refuse(where, "not a reglab model file: its manifest names no reglab model")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise refuse(
            where,
            f"format version {manifest.get('format_version')!r}, written by reglab "
            f"{manifest.get('reglab_version')}; this reglab ({VERSION}) reads format version "
            f"{FORMAT_VERSION}: load it with the reglab that wrote it, or fit the model again",
        )
    digests = {n: hashlib.sha256(c).hexdigest() for n, c in entries.items()}
    if manifest.get("files") != digests or manifest.get("payload_sha256") != payload_digest(
        entries
    ):
        raise refuse(where, "changed or damaged: its entries differ from its manifest")
    return entries


def write_array(array: np.ndarray) -> bytes:
    """An array as ``.npy`` bytes (object arrays are refused: no pickles)."""
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def read_array(data: bytes) -> np.ndarray:
    """An array from ``.npy`` bytes, never unpickling."""
    array: np.ndarray = np.load(io.BytesIO(data), allow_pickle=False)
    return array


def json_bytes(value: Any) -> bytes:
    """``value`` as JSON text (sorted keys; NaN and infinity refused)."""
    return json.dumps(value, indent=1, sort_keys=True, allow_nan=False).encode("utf-8")
