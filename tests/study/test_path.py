"""Strength paths: the grid, the 1-SE rule on constructed curves, the analysis of stored
members (edges, directions, surviving features) and a small real path from Python."""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import numpy as np
import pytest

import reglab
from reglab.errors import ConfigError
from reglab.store import MemberRecord, Store
from reglab.study.path import analyze_path, one_se_rule
from reglab.study.path_grid import parse_grid
from reglab.study.results import analyze

# -- the 1-SE rule on constructed numbers --------------------------------------------------------


@pytest.mark.parametrize(
    ("means", "ses", "higher", "expected"),
    [
        ([0.80, 0.85, 0.84, 0.70], [0.02, 0.01, 0.03, 0.02], True, (1, 2)),
        # threshold 0.85 - 0.05 = 0.80: the strongest at or above it, not only neighbours
        ([0.85, 0.70, 0.80, 0.60], [0.05, 0.01, 0.01, 0.01], True, (0, 2)),
        ([0.80, 0.90, 0.70], [0.01, 0.0, 0.01], True, (1, 1)),
        ([3.0, 2.0, 2.4, 2.1, 2.6], [0.1, 0.2, 0.1, 0.1, 0.1], False, (1, 3)),
        ([0.9, 0.9, 0.8], [0.01, 0.01, 0.01], True, (1, 1)),  # a tie: the stronger is best
        ([0.7, math.nan, 0.75, 0.74], [0.02, math.nan, 0.01, 0.01], True, (2, 3)),
        ([0.7, 0.75, 0.74], [0.02, math.nan, 0.01], True, (1, 1)),  # one split: SE counts 0
    ],
    ids=["neighbour", "non-contiguous", "zero-se", "lower-better", "tie", "nan-mean", "nan-se"],
)
def test_one_se_rule(
    means: list[float], ses: list[float], higher: bool, expected: tuple[int, int]
) -> None:
    assert one_se_rule(means, ses, higher_is_better=higher) == expected


def test_one_se_rule_needs_a_score() -> None:
    with pytest.raises(ConfigError, match="at least one finite mean"):
        one_se_rule([math.nan], [0.1])


# -- grids ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("technique", "grid", "expected"),
    [
        ("l2", "1e-6:1e-1:6", (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1)),
        ("l2", "1e-4:1e-3:3", (1e-4, 3.16e-4, 1e-3)),
        ("dropout", "0:0.7:8", (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)),
        ("dropout", None, (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)),
        ("l1", "1e-3, 0, 1e-4", (0.0, 1e-4, 1e-3)),
        ("maxnorm", "4,1,2", (1.0, 2.0, 4.0)),
        ("elastic-net", [1e-3, 1e-2], (1e-3, 1e-2)),
    ],
    ids=["log", "log-rounded", "rates", "dropout-default", "list-with-zero", "maxnorm", "seq"],
)
def test_parse_grid(technique: str, grid: object, expected: tuple[float, ...]) -> None:
    assert parse_grid(technique, grid) == pytest.approx(expected, rel=0, abs=0)


def test_log_grid_is_log_spaced_and_distinct() -> None:
    values = np.array(parse_grid("l2", "1e-6:1e-1:20"))
    assert len(set(values)) == 20 and values[0] == 1e-6 and values[-1] == 0.1
    np.testing.assert_allclose(np.diff(np.log10(values)), 5 / 19, atol=3e-3)


@pytest.mark.parametrize(
    ("technique", "grid", "pattern"),
    [
        ("l2", "1e-1:1e-6:5", r"LO < HI"),
        ("l2", "1e-3:1e-3:5", r"LO < HI"),
        ("l2", "1e-3", r"at least 2 strengths"),
        ("l2", "1e-6:1e-1:1", r"2 to 200 strengths"),
        ("l2", "1e-6:1e-1:1000", r"2 to 200 strengths"),
        ("l2", "1e-6:1e-1:2.5", r"whole number"),
        ("l2", "0:1e-1:5", r"LO > 0"),
        ("l2", "1e-3,-1e-3", r"l2 strengths >= 0; got -0\.001"),
        ("l2", "1e-3,1e-3", r"distinct strengths"),
        ("l2", "", r"LO:HI:N"),
        ("l2", "a:b:c", r"LO:HI:N"),
        ("l2", "1e-3,,1e-2", r"LO:HI:N"),
        ("l2", "nan,1", r"LO:HI:N"),
        ("dropout", "0:1:5", r"dropout rates in \[0, 1\); got 1\.0"),
        ("maxnorm", "0,1,2", r"maxnorm strengths > 0; got 0\.0"),
    ],
)
def test_bad_grid(technique: str, grid: str, pattern: str) -> None:
    with pytest.raises(ConfigError, match=r"^path: `grid` \(--grid\) must be .*" + pattern):
        parse_grid(technique, grid)


def test_unknown_technique_suggests() -> None:
    with pytest.raises(ConfigError, match=r"`technique` \(--technique\).*Did you mean 'dropout'"):
        parse_grid("dropuot", "0.1,0.2")


# -- the analysis of stored members --------------------------------------------------------------

SCORES = {  # strategy → accuracy per split (3 splits)
    "none": [0.80, 0.82, 0.78],
    "l2=1e-4": [0.84, 0.86, 0.85],
    "l2=1e-3": [0.86, 0.88, 0.90],
    "l2=0.01": [0.85, 0.86, 0.87],
    "l2=0.1": [0.70, 0.72, 0.74],
}
GRID = {"l2=1e-4": 1e-4, "l2=1e-3": 1e-3, "l2=0.01": 1e-2, "l2=0.1": 0.1}


def stored_path(
    scores: dict[str, list[float]],
    grid: dict[str, float],
    *,
    technique: str = "l2",
    stronger: str = "larger",
    norms: dict[str, list[list[float]]] | None = None,
) -> reglab.StudyResult:
    records = [
        MemberRecord(
            f"{name}-{split}",
            name,
            split,
            0,
            80,
            20,
            test_scores={"accuracy": value},
            feature_norms=None if norms is None else norms[name][split],
        )
        for name, values in scores.items()
        for split, value in enumerate(values)
    ]
    points = [{"strategy": "none", "strength": None}]
    points += [{"strategy": n, "strength": v} for n, v in grid.items()]
    path = {
        "technique": technique,
        "label": technique,
        "scale": "log",
        "stronger": stronger,
        "features": norms is not None,
        "grid": list(grid.values()),
        "points": points,
    }
    return analyze(
        "p", records, task="binary", metadata={"path": path}, config={"data": {"inputs": 3}}
    )


def test_curve_best_and_one_se_exact() -> None:
    path = analyze_path(stored_path(SCORES, GRID))
    assert [p.strategy for p in path.points] == ["none", *GRID]
    l2 = path.points[2]
    assert l2.mean == pytest.approx(0.88, abs=1e-12)
    assert l2.se == pytest.approx(0.02 / math.sqrt(3), abs=1e-12)  # sd 0.02 over 3 splits
    # threshold 0.88 - 0.01155 = 0.8685: l2=0.01 (0.86) falls short, so the 1-SE choice is
    # the best itself; no edge
    assert path.best is l2 and path.one_se is l2 and path.warnings == ()
    wider = {**SCORES, "l2=0.01": [0.86, 0.87, 0.88]}  # mean 0.87 >= 0.8685
    path = analyze_path(stored_path(wider, GRID))
    assert path.best is not None and path.best.strategy == "l2=1e-3"
    assert path.one_se is not None and path.one_se.strategy == "l2=0.01"
    assert path.to_dict()["one_se"]["strategy"] == "l2=0.01"
    assert path.lines()[1].startswith("1-SE choice: l2=0.01 (87.0% ± 0.6%), the strongest l2")


@pytest.mark.parametrize(
    ("best", "warning"),
    [
        ("l2=0.1", r"strongest on the grid \(l2=0\.1\).*extend --grid above 0\.1"),
        ("l2=1e-4", r"weakest on the grid \(l2=1e-4\).*extend --grid below 1e-4"),
        ("none", r"no strength on the grid beat no regularization.*extend --grid below 1e-4"),
    ],
)
def test_edge_warning(best: str, warning: str) -> None:
    scores = {**SCORES, best: [0.95, 0.96, 0.97]}
    path = analyze_path(stored_path(scores, GRID))
    assert path.best is not None and path.best.strategy == best
    assert len(path.warnings) == 1
    assert any(line.startswith("warning: ") for line in path.lines())
    assert re.search(warning, path.warnings[0]), path.warnings[0]


def test_members_that_ran_to_the_epoch_limit_are_warned_of() -> None:
    stored = stored_path(SCORES, GRID)
    records = [dataclasses.replace(m, epochs_run=20, best_epoch=20) for m in stored.members]
    config = {"data": {"inputs": 3}, "train": {"epochs": 20, "patience": 5}}
    limited = analyze("p", records, task="binary", metadata=stored.metadata, config=config)
    path = analyze_path(limited)
    (warning,) = [w for w in path.warnings if "epoch limit" in w]
    assert "never fired before the 20-epoch limit" in warning and "--epochs" in warning


def test_maxnorm_smaller_is_stronger() -> None:
    scores = {
        "none": [0.8, 0.8],
        "maxnorm=4": [0.85, 0.86],
        "maxnorm=1": [0.9, 0.91],
        "maxnorm=0.25": [0.7, 0.7],
    }
    grid = {"maxnorm=4": 4.0, "maxnorm=1": 1.0, "maxnorm=0.25": 0.25}
    path = analyze_path(stored_path(scores, grid, technique="maxnorm", stronger="smaller"))
    assert [p.strategy for p in path.points] == ["none", "maxnorm=4", "maxnorm=1", "maxnorm=0.25"]
    assert path.direction == "smaller maxnorm is stronger" and path.warnings == ()
    best = {**scores, "maxnorm=0.25": [0.95, 0.95]}
    path = analyze_path(stored_path(best, grid, technique="maxnorm", stronger="smaller"))
    assert "extend --grid below 0.25" in path.warnings[0]


def test_surviving_features_follow_the_report_rule() -> None:
    scores = {"none": [0.8, 0.8], "l1=1e-3": [0.85, 0.86], "l1=0.1": [0.8, 0.81]}
    norms = {
        "none": [[1.0, 1.0, 1.0], [1.0, 0.5, 1.0]],
        "l1=1e-3": [[1.0, 1e-4, 1.0], [1.0, 0.5, 1.0]],  # 2 then 3 survive
        "l1=0.1": [[1.0, 0.0, 0.0], [0.0, 0.0, 2.0]],  # 1 and 1
    }
    grid = {"l1=1e-3": 1e-3, "l1=0.1": 0.1}
    path = analyze_path(stored_path(scores, grid, technique="l1", norms=norms))
    assert [p.features for p in path.points] == [3.0, 2.5, 1.0]
    assert path.n_inputs == 3


def test_a_study_without_a_path_is_refused() -> None:
    result = analyze(
        "s", [MemberRecord("k", "none", 0, 0, 8, 2, test_scores={"accuracy": 1})], task="binary"
    )
    with pytest.raises(ConfigError, match="must be a strength path"):
        analyze_path(result)


# -- a real path from Python -------------------------------------------------------------------


def test_python_path_end_to_end(tmp_path: Path) -> None:
    store = tmp_path / "runs.db"
    path = reglab.path(
        "builtin:breast_cancer",
        technique="l1",
        grid="1e-4:1e-1:4",
        proximal=True,
        cv=3,
        epochs=4,
        hidden=(16,),
        store=store,
        seed=1,
    )
    names = [p.strategy for p in path.points]
    assert names == [
        "none",
        "l1=1e-4+proximal",
        "l1=1e-3+proximal",
        "l1=0.01+proximal",
        "l1=0.1+proximal",
    ]
    assert all(p.n_splits + p.n_failed == 3 for p in path.points)
    assert path.best in path.points and path.one_se in path.points
    order = names.index
    assert path.one_se is not None and path.best is not None
    assert order(path.one_se.strategy) >= order(path.best.strategy)  # never weaker than best
    assert path.n_inputs == 30 and all(p.features is not None for p in path.points)
    assert path.points[0].features == 30.0  # no penalty keeps every input
    with Store(store) as st:
        info = st.get_study(path.study)
        assert info.metadata["path"]["technique"] == "l1"
        assert len(st.load_members(path.study)) == 15  # none + 4 strengths, 3 splits each
    out = path.report(tmp_path / "path.html")
    page = out.read_text()
    assert 'id="path"' in page and 'data-path="choice"' in page
    assert path.to_json(tmp_path / "path.json").exists()
    frame = path.table()
    assert list(frame.index) == names and frame["best"].sum() == 1
    # the same call again trains nothing: every member is in the store
    again = reglab.path(
        "builtin:breast_cancer",
        technique="l1",
        grid="1e-4:1e-1:4",
        proximal=True,
        cv=3,
        epochs=4,
        hidden=(16,),
        store=store,
        seed=1,
    )
    assert again.to_dict() == path.to_dict()


def test_python_dropout_path_in_memory() -> None:
    path = reglab.path(
        "builtin:iris", technique="dropout", grid="0:0.4:3", cv=2, epochs=3, hidden=(8,)
    )
    assert [p.strength for p in path.points] == [None, 0.2, 0.4]  # rate 0 is none itself
    assert path.technique.scale == "linear" and path.points[1].features is None
    # three epochs are too few for early stopping to fire: the path says so
    assert any("never fired before the 3-epoch limit" in w for w in path.warnings)
    assert all("strongest" in w or "chance" in w or "(--epochs)" in w for w in path.warnings), (
        path.warnings
    )


def test_python_refuses_bad_options_before_reading_data() -> None:
    with pytest.raises(ConfigError, match=r"`l1_ratio` \(--l1-ratio\) must be given for"):
        reglab.path("no_such_file.csv", technique="l2", l1_ratio=0.5)
