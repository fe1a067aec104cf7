"""What the report says around its tables and figures: wrapped secondary metrics, the scales
of the curves, an all-zero sparsity table explained, dropped features first, one metadata
heading and the members reused from the store."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest

from reglab.report import render_report
from reglab.report.analysis import LOG_EPOCHS_FROM, CurveBand, curve_axes

from .conftest import FEATURES, build_study
from .pagecheck import parse

# -- the ranked table --------------------------------------------------------------------------


def test_secondary_metrics_wrap_below_their_strategy() -> None:
    html = render_report(*build_study(failed=False))
    page = parse(html)
    head = re.search(r'<table class="rank"><thead>(.*?)</thead>', html)
    assert head is not None
    assert "log loss" not in head.group(1)  # no column of its own: the table stays narrow
    more = re.findall(r'<tr class="more">(.*?)</tr>', html)
    assert len(more) == len(page.rows["rank"]) == 5
    assert all("log loss" in row for row in more)
    assert len(page.stats["mean-log_loss"]) == 5


# -- curves --------------------------------------------------------------------------------------


def band(values: np.ndarray) -> CurveBand:
    return CurveBand(np.arange(1, values.size + 1), values, values, values, np.ones(values.size))


@pytest.mark.parametrize(
    ("epochs", "top", "log_epochs", "log_loss"),
    [
        pytest.param(LOG_EPOCHS_FROM - 1, 2.0, False, False, id="short-and-narrow"),
        pytest.param(LOG_EPOCHS_FROM, 2.0, True, False, id="long"),
        pytest.param(10, 50.0, False, True, id="loss-spans-decades"),
        pytest.param(300, 50.0, True, True, id="both"),
    ],
)
def test_curve_axes_show_where_things_happen(
    epochs: int, top: float, log_epochs: bool, log_loss: bool
) -> None:
    axes = curve_axes([band(np.geomspace(top, 1.0, epochs))])
    assert axes is not None
    assert (axes.epochs, axes.log_epochs, axes.log_loss) == (epochs, log_epochs, log_loss)


def test_curve_axes_linear_loss_when_a_value_is_not_positive() -> None:
    axes = curve_axes([band(np.linspace(50.0, 0.0, 30))])
    assert axes is not None and not axes.log_loss


def test_curve_caption_names_the_log_scales() -> None:
    long_runs = parse(render_report(*build_study(epochs=60)))
    assert "epochs are on a log scale" in long_runs.text
    short = parse(render_report(*build_study(epochs=12)))
    assert "epochs are on a log scale" not in short.text


# -- sparsity and features -----------------------------------------------------------------------


def no_zeros(l1_mode: str | None) -> str:
    info, members = build_study(failed=False)
    members = [
        replace(
            m,
            sparsity=dict.fromkeys(m.sparsity, 0.0),
            strategy_config={**m.strategy_config, "l1_mode": l1_mode}
            if l1_mode and "l1_mode" in m.strategy_config
            else m.strategy_config,
        )
        for m in members
    ]
    if l1_mode is None:
        members = [m for m in members if m.strategy != "l1"]
    return render_report(info, members)


@pytest.mark.parametrize(
    ("l1_mode", "sentence"),
    [
        pytest.param(None, "and none could be: no strategy in this study has an L1 term",
                     id="no-l1"),
        pytest.param("penalty", "and none could be: the L1 strategies here (l1) use the "
                     "subgradient penalty", id="subgradient"),
        pytest.param("proximal", "l1 applies L1 by soft-thresholding, which can make exact "
                     "zeros, but its strength was too small", id="proximal"),
    ],
)  # fmt: skip
def test_an_all_zero_sparsity_table_is_explained(l1_mode: str | None, sentence: str) -> None:
    html = no_zeros(l1_mode)
    page = parse(html)
    assert "No weight of any strategy is exactly zero, in any layer" in page.text
    assert sentence in page.text
    assert 'class="sparsity"' not in html  # no table of nothing but 0%


def test_some_zeros_keep_the_table() -> None:
    html = render_report(*build_study())
    assert 'class="sparsity"' in html
    assert "No weight of any strategy is exactly zero" not in parse(html).text


def test_when_nothing_was_dropped_one_sentence_says_so() -> None:
    info, members = build_study(strategies=("none", "l1"), failed=False)
    members = [replace(m, feature_norms=[1.0] * len(FEATURES)) for m in members]
    html = render_report(info, members)
    page = parse(html)
    assert (
        f"Every one of the {len(FEATURES)} features was kept in every split by every strategy "
        "with an L1 term (l1): no feature was dropped" in page.text
    )
    assert page.rows["features"] == []
    assert "feature survival" not in html  # no heatmap of a solid block


def test_unstable_features_come_first_and_are_named() -> None:
    info, members = build_study(strategies=("none", "l1"), n_splits=4, failed=False)
    seventh = np.arange(len(FEATURES)) == 7  # kept in the odd splits only
    members = [replace(m, feature_norms=list(np.where(seventh, m.split_id % 2, 1.0)))
               for m in members]  # fmt: skip
    page = parse(render_report(info, members))
    assert page.rows["features"][0] == FEATURES[7]
    assert (
        f"Of {len(FEATURES)} features, 1 was unstable (kept in some splits only, so the choice "
        f"depends on the data split): {FEATURES[7]}. The other {len(FEATURES) - 1} were kept"
        in page.text
    )


# -- metadata ------------------------------------------------------------------------------------


def test_one_run_metadata_heading_and_reused_members_counted() -> None:
    info, members = build_study(failed=False)
    timings = {"last run wall s": 0.04, "members trained": 0, "members reused from the store": 25}
    info = replace(info, metadata={**info.metadata, "timings": timings})
    html = render_report(info, members)
    assert len(re.findall(r"<h[23][^>]*>Run metadata</h[23]>", html)) == 1
    text = parse(html).text
    assert "last run 0 members trained, 25 reused from the store, 0.0 s" in text
    assert "members reused from the store" not in text  # said once, in words
