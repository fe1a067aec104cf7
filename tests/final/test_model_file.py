"""The model file is refused cleanly when missing, truncated, changed or of another version."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import reglab
from reglab.errors import DataError
from reglab.final import FinalModel, ModelFileError
from reglab.final.modelfile import pack, unpack


@pytest.fixture(scope="module")
def blob() -> bytes:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    model: FinalModel = reglab.fit_final(X, (X[:, 0] > 0).astype(int), strategy="l2=1e-3",
                                         epochs=2, hidden=(4,), device="cpu")  # fmt: skip
    return model.to_bytes()


def _load(tmp_path: Path, content: bytes) -> FinalModel:
    path = tmp_path / "m.reglab"
    path.write_bytes(content)
    return reglab.load(path)


def test_the_file_loads(blob: bytes, tmp_path: Path) -> None:
    assert _load(tmp_path, blob).task == "binary"
    assert issubclass(ModelFileError, DataError)


def test_every_changed_byte_is_found(blob: bytes) -> None:
    positions = sorted({0, len(blob) - 1, *range(0, len(blob), max(1, len(blob) // 97))})
    for i in positions:
        changed = bytearray(blob)
        changed[i] ^= 0x01
        with pytest.raises(ModelFileError, match="must be a model file written by reglab fit"):
            FinalModel.from_bytes(bytes(changed), "m.reglab")


@pytest.mark.parametrize("keep", [0, 10, 0.5, -1, -40])
def test_a_truncated_file_is_refused(blob: bytes, tmp_path: Path, keep: float) -> None:
    n = int(keep * len(blob)) if isinstance(keep, float) else keep
    with pytest.raises(ModelFileError, match=r"truncated, or not a reglab model file"):
        _load(tmp_path, blob[:n])


def test_another_format_version_is_refused(blob: bytes, tmp_path: Path) -> None:
    entries = unpack(blob, "m.reglab")
    newer = pack(entries, format_version=2, version="9.0")
    with pytest.raises(
        ModelFileError, match=r"format version 2, written by reglab 9.0; this reglab .* reads "
    ):
        _load(tmp_path, newer)
    assert _load(tmp_path, pack(entries, version="0.0.1")).task == "binary"  # same format


def test_a_checksummed_file_with_an_invalid_model_is_refused(blob: bytes, tmp_path: Path) -> None:
    entries = unpack(blob, "m.reglab")
    config = json.loads(entries["model.json"])
    config["architecture"]["in_features"] = 99
    entries["model.json"] = json.dumps(config).encode()
    with pytest.raises(ModelFileError, match="content is not a valid model: ValueError"):
        _load(tmp_path, pack(entries))
    with pytest.raises(ModelFileError, match="content is not a valid model: KeyError"):
        _load(tmp_path, pack({"model.json": b"{}"}))


def test_missing_paths_and_other_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match=r"got '.*nope.reglab' \(no such file\)"):
        reglab.load(tmp_path / "nope.reglab")
    with pytest.raises(ModelFileError, match=r"\(a directory\)"):
        reglab.load(tmp_path)
    with pytest.raises(ModelFileError, match="truncated, or not a reglab model file"):
        _load(tmp_path, b"a,b\n1,2\n")
