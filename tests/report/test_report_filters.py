"""First-layer conv filters in the report: stored per CNN member, drawn per strategy next to
the weight distributions, absent from MLP studies' reports."""

from __future__ import annotations

import base64
import dataclasses
import gzip
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from reglab.cli.main import app
from reglab.report import render_report
from reglab.report.figures import filter_mosaic, filter_tiles
from reglab.store import Store

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
HEADING = "<h3>First-layer filters</h3>"
runner = CliRunner()


@pytest.fixture(scope="module")
def idx_prefix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 120 MNIST test images and labels, as a gzipped IDX pair."""
    folder = tmp_path_factory.mktemp("idx")
    n = 120
    for part, header, size in (("images-idx3", 16, n * 784), ("labels-idx1", 8, n)):
        raw = gzip.decompress((SHARED / f"mnist-t10k-{part}-ubyte.gz").read_bytes())
        head = bytearray(raw[:header])
        head[4:8] = n.to_bytes(4, "big")
        (folder / f"first-{part}-ubyte.gz").write_bytes(
            gzip.compress(bytes(head) + raw[header : header + size])
        )
    return folder / "first"


def _section(page: str, sid: str) -> str:
    match = re.search(rf'<section id="{sid}">(.*?)</section>', page, re.S)
    assert match, sid
    return match.group(1)


def _png_size(uri: str) -> tuple[int, int]:
    data = base64.b64decode(uri.split(",", 1)[1])
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_a_cnn_studys_report_shows_each_strategys_first_filters(tmp_path: Path, idx_prefix):
    store, report = tmp_path / "s.db", tmp_path / "cnn.html"
    result = runner.invoke(app, ["bench", f"idx:{idx_prefix}", "--model", "cnn", "--strategies",
                                 "none,l2=1e-2", "--cv", "2", "--epochs", "2", "--hidden", "16",
                                 "--store", str(store), "--report", str(report)])  # fmt: skip
    assert result.exit_code == 0, result.output
    with Store(store, create=False) as st:
        (study,) = st.list_studies()
        members = st.load_members(study.name)
    assert len(members) == 4
    for m in members:  # LeNet's first conv block: 6 filters of 1×5×5
        assert m.filters is not None and m.filters.shape == (6, 1, 5, 5)
        assert m.filters.dtype == np.float32 and np.all(np.isfinite(m.filters))
        # every kernel, conv ones first, has its histogram and sparsity; no feature norms
        # (the head's inputs are conv features, not the images' pixels)
        layers = ["conv0", "conv1", "dense0", "output"]
        assert list(m.weight_hist) == layers and list(m.sparsity) == layers
        assert sum(m.weight_hist["conv0"][1]) == 6 * 25 and not m.feature_norms
    weights = _section(report.read_text(), "weights")
    assert "<th>conv0</th><th>conv1</th><th>dense0</th><th>output</th>" in weights
    assert HEADING in weights
    assert weights.index("weight densities per strategy") < weights.index(HEADING)
    assert "on split 0 (best weights)" in weights
    (uri,) = re.findall(r'<img src="([^"]+)" alt="first-layer conv filters per strategy">', weights)
    width, height = _png_size(uri)
    assert width > 6 * 40 and 2 * 40 < height < 4 * 80  # 6 tiles a row, one row per strategy


def test_an_mlp_studys_report_has_no_filters(tmp_path: Path) -> None:
    store, report = tmp_path / "s.db", tmp_path / "mlp.html"
    result = runner.invoke(app, ["bench", "builtin:iris", "--strategies", "none,l2", "--cv", "2",
                                 "--epochs", "2", "--hidden", "8", "--store", str(store),
                                 "--report", str(report)])  # fmt: skip
    assert result.exit_code == 0, result.output
    with Store(store, create=False) as st:
        (study,) = st.list_studies()
        assert all(m.filters is None for m in st.load_members(study.name))
    page = report.read_text()
    assert "filters" not in _section(page, "weights")
    assert "first-layer conv filters" not in page


def test_filters_come_from_each_strategys_lowest_split(make_study) -> None:
    info, members = make_study(strategies=("none", "l1"), n_splits=3, failed=False)
    with_filters = [
        dataclasses.replace(m, filters=np.full((3, 2, 3, 3), m.split_id + 1.0))
        if m.status == "done" and m.split_id > 0
        else m
        for m in members
    ]
    page = render_report(info, with_filters)
    weights = _section(page, "weights")
    assert HEADING in weights and "on split 1 (best weights)" in weights
    assert HEADING not in _section(render_report(info, members), "weights")


def test_filter_tiles_share_one_symmetric_grey_scale() -> None:
    assert filter_tiles({}, {}) is None
    assert filter_tiles({"none": np.zeros((0, 1, 3, 3))}, {}) is None
    flat = np.zeros((2, 1, 4, 4), dtype=np.float32)
    rgb = np.full((9, 3, 4, 4), 0.5, dtype=np.float32)
    rgb[0, 0] = -3.0  # channel mean (-3 + 0.5 + 0.5) / 3 = -2/3
    rgb[1] = np.float32(-np.inf)
    found = filter_mosaic({"flat": flat, "rgb": rgb}, limit=8)
    assert found is not None
    names, mosaic, bound, (kh, kw, gap) = found
    assert names == ["flat", "rgb"] and (kh, kw, gap) == (4, 4, 1)
    assert mosaic.shape == (2 * 5 - 1, 8 * 5 - 1)  # 8 of the 9 filters, NaN gaps between
    assert bound == pytest.approx(2 / 3)  # the largest finite |w| shown, across strategies
    assert np.all(mosaic[:4, :4] == 0) and np.all(mosaic[:4, 5:9] == 0)  # flat: 2 tiles
    assert np.all(np.isnan(mosaic[:4, 9:]))
    assert np.all(np.isnan(mosaic[4, :])) and np.all(np.isnan(mosaic[:, 4]))
    assert np.allclose(mosaic[5:, :4], -2 / 3) and np.all(mosaic[5:, 5:9] == -np.inf)
    uri = filter_tiles({"flat": flat, "rgb": rgb}, {"flat": "#000"})
    assert uri is not None and _png_size(uri)[0] > 8 * 40
