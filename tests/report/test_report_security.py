"""Study-provided text never becomes markup; every figure is a valid, non-blank inline PNG."""

from __future__ import annotations

import ast
import io
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from reglab.report import render_report
from reglab.store import MemberRecord, StudyInfo

from .conftest import build_study
from .pagecheck import check_png, parse, png_bytes

EVIL = "<script>alert(1)</script>"
QUOTES = '" onmouseover="alert(2)" x=\''
MATHTEXT = "$\\frac{a}{$ cost_$ ^{"


def hostile_study() -> tuple[StudyInfo, list[MemberRecord]]:
    """Hostile text everywhere a study carries text: names, features, metadata, errors."""
    info, members = build_study(strategies=("none", "l1", "dropout", "l2"), n_splits=4)
    rename = {"l1": EVIL, "l2": MATHTEXT + "+" + QUOTES}
    members = [
        replace(m, strategy=rename.get(m.strategy, m.strategy),
                error=(EVIL + QUOTES) if m.status == "failed" else m.error,
                test_scores={**m.test_scores, EVIL: 0.5} if m.test_scores else {},
                weight_hist={EVIL if k == "dense_0" else k: v for k, v in m.weight_hist.items()},
                sparsity={EVIL if k == "dense_0" else k: v for k, v in m.sparsity.items()})
        for m in members
    ]  # fmt: skip
    features = tuple(info.feature_names or ())
    info = replace(
        info,
        name=EVIL + QUOTES,
        feature_names=(MATHTEXT, QUOTES, *features[2:]),
        config={**info.config, "data": {"name": EVIL, "task": QUOTES}},
        metadata={EVIL: {QUOTES: [EVIL, MATHTEXT]}, "device": EVIL},
    )
    return info, members


@pytest.fixture(scope="module")
def hostile_page() -> str:
    return render_report(*hostile_study())


def test_no_script_and_no_injected_attribute(hostile_page: str) -> None:
    assert "<script" not in hostile_page.lower()
    page = parse(hostile_page)
    assert page.tags["script"] == 0
    assert not [a for _, a, _ in page.attributes if a.startswith("on")]
    assert not [v for _, _, v in page.attributes if v.strip().lower().startswith("javascript:")]


def test_hostile_text_shows_literally(hostile_page: str) -> None:
    text = parse(hostile_page).text
    # study name, data set, strategy, metric, layer, metadata, error
    assert text.count(EVIL) >= 7
    assert " ".join(QUOTES.split()) in text
    assert MATHTEXT in text


def test_page_forbids_scripts_and_remote_loads(hostile_page: str) -> None:
    csp = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
    assert f'<meta http-equiv="Content-Security-Policy" content="{csp}">' in hostile_page
    urls = [v for tag, a, v in parse(hostile_page).attributes if a in ("src", "href")]
    assert urls and all(u.startswith(("data:image/png;base64,", "#")) for u in urls)


def test_every_figure_is_a_valid_nonblank_png(hostile_page: str) -> None:
    from matplotlib.image import imread

    images = parse(hostile_page).images
    assert len(images) == 5  # strips, curves, weight overlay, weight panels, features
    for uri, alt in images:
        data = png_bytes(uri)
        width, height = check_png(data)
        pixels = imread(io.BytesIO(data), format="png")
        assert pixels.shape[:2] == (height, width)
        ink = np.any(pixels[..., :3] < 0.9, axis=-1).mean()
        assert 0.01 < ink < 0.8, (alt, ink)


SOURCE = Path(__file__).resolve().parents[2] / "src" / "reglab" / "report"


@pytest.mark.parametrize("path", sorted(SOURCE.glob("*.py")), ids=lambda p: p.name)
def test_report_reads_results_only(path: Path) -> None:
    """No training code anywhere in report/, and matplotlib only inside functions (lazy)."""
    tree = ast.parse(path.read_text())
    imported = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.append(node.module)
    forbidden = ("reglab.engine", "reglab.training", "reglab.study", "torch", "reglab.api")
    # the one analysis the report presents, the strength path's (pure, like it), and the
    # tuning result (for type annotations only: imported under TYPE_CHECKING)
    allowed = ("reglab.study.results", "reglab.study.path", "reglab.study.tune_result")
    assert not [m for m in imported if m.startswith(forbidden) and m not in allowed]
    top = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    top_names = [a.name for n in top if isinstance(n, ast.Import) for a in n.names]
    top_names += [n.module or "" for n in top if isinstance(n, ast.ImportFrom)]
    assert not [m for m in top_names if m.startswith("matplotlib")]


def test_missing_matplotlib_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    from reglab.errors import ReglabError

    real_import = builtins.__import__

    def no_matplotlib(name: str, *args: object, **kwargs: object) -> object:
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(ReglabError, match=r"matplotlib is needed .* `pip install matplotlib`"):
        render_report(*build_study(strategies=("l2",), n_splits=2))
