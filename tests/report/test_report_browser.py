"""The report in a real browser: headless Chromium loads it cleanly and draws it.

Chromium comes from Debian's ``chromium`` package; ``tests/report/ensure_chromium.sh``
installs it (as root). Without it these tests skip, saying so.
"""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reglab.report import render_report
from reglab.report.sections import SECTIONS

from . import chromium
from .conftest import build_study
from .pagecheck import check_png, parse, png_bytes
from .test_report_security import EVIL, hostile_study

pytestmark = pytest.mark.skipif(
    chromium.find_chromium() is None,
    reason="headless Chromium not installed (run tests/report/ensure_chromium.sh as root)",
)

PAGE_FACTS = """JSON.stringify({
  images: Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight]),
  scripts: document.getElementsByTagName('script').length,
  ids: Array.from(document.querySelectorAll('section[id], h3[id]')).map(e => e.id),
  overflow: document.documentElement.scrollWidth - window.innerWidth,
  features: Array.from(document.querySelectorAll('tr[data-feature] td:first-child'))
    .map(td => td.textContent),
  title: document.title,
  font: getComputedStyle(document.body).fontFamily,
})"""


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "hostile report.html"
    path.write_text(render_report(*hostile_study()), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def facts(report_file: Path) -> dict[str, Any]:
    return chromium.inspect_page(report_file, PAGE_FACTS)


def test_page_loads_without_console_errors(facts: dict[str, Any]) -> None:
    assert facts["errors"] == []


def test_every_image_decodes_in_the_browser(report_file: Path, facts: dict[str, Any]) -> None:
    uris = [uri for uri, _ in parse(report_file.read_text(encoding="utf-8")).images]
    expected = [[True, *check_png(png_bytes(uri))] for uri in uris]
    assert len(expected) == 5
    assert facts["value"]["images"] == expected


def test_sections_present_no_script_no_overflow(facts: dict[str, Any]) -> None:
    value = facts["value"]
    assert value["scripts"] == 0
    for sid, _ in SECTIONS:
        assert sid in value["ids"]
    assert {"features", "failures"} <= set(value["ids"])
    assert value["overflow"] <= 0  # wide tables scroll inside their box, the page does not
    assert EVIL in value["features"]
    assert value["title"].startswith(EVIL)
    assert "system-ui" in value["font"]


def test_dumped_dom_has_no_script_and_shows_names_literally(report_file: Path) -> None:
    dom = chromium.dump_dom(report_file)
    page = parse(dom)
    assert page.tags["script"] == 0
    assert "<script" not in dom.lower()
    assert EVIL in page.text
    for sid, _ in SECTIONS:
        assert sid in page.ids


def test_screenshot_is_drawn(report_file: Path, tmp_path: Path) -> None:
    from matplotlib.image import imread

    png = tmp_path / "shot.png"
    chromium.screenshot(report_file, png, width=1280, height=4000)
    assert png.exists()
    assert check_png(png.read_bytes()) == (1280, 4000)
    pixels = imread(io.BytesIO(png.read_bytes()), format="png")[..., :3]
    assert pixels.std() > 0.05
    # Ink in every quarter of the page: the sections and figures fill it, not just a header.
    for band in np.array_split(pixels, 4, axis=0):
        assert (band.mean(axis=-1) < 0.5).mean() > 0.002


def test_the_checker_catches_a_broken_page(tmp_path: Path) -> None:
    """The inspection can fail: a broken image and a console error are both reported."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<img src="data:image/png;base64,iVBORw0KGgo="><script>console.error("boom")</script>'
    )
    facts = chromium.inspect_page(bad, PAGE_FACTS)
    assert facts["value"]["images"] == [[True, 0, 0]]
    assert facts["value"]["scripts"] == 1
    assert any("boom" in e for e in facts["errors"])


WIDTHS = """JSON.stringify({
  page: document.documentElement.scrollWidth - window.innerWidth,
  rank: (t => [t.scrollWidth, t.parentElement.clientWidth])(document.querySelector('table.rank')),
})"""


def test_ranking_fits_1280_px_with_many_metrics_and_long_names(tmp_path: Path) -> None:
    """Secondary metrics wrap below their row and long names wrap after ``+``: no scrolling."""
    long_names = ("none", "dropout=0.3+l2=1e-4+maxnorm=3", "input-dropout=0.1+dropconnect=0.3",
                  "gaussian-dropout=0.3+weight-decay=1e-2", "l1=1e-4+proximal")  # fmt: skip
    info, members = build_study(strategies=long_names, failed=False)
    extra = {"balanced_accuracy": 0.8, "f1": 0.8, "roc_auc": 0.9, "precision": 0.8}
    members = [replace(m, test_scores={**m.test_scores, **extra}) for m in members]
    page = tmp_path / "wide.html"
    page.write_text(render_report(info, members), encoding="utf-8")
    value = chromium.inspect_page(page, WIDTHS)["value"]  # a 1280 px wide window
    assert value["page"] <= 0
    table, box = value["rank"]
    assert table <= box
