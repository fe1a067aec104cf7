"""Reference rows: classical models on the same splits and inputs, stored, shown, never
recommended, and compared with the networks by the corrected test."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegressionCV
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import StandardScaler
from typer.testing import CliRunner

from reglab.cli.main import app
from reglab.cli.render import print_result, wide_console
from reglab.data.builtin import load_builtin
from reglab.errors import ConfigError
from reglab.store import Store
from reglab.study.reference import CS, INNER_CV, is_reference, parse_references
from reglab.study.results import load_result
from reglab.study.run import Study

FAST = {"hidden": (8,), "epochs": 6, "patience": 3, "n_splits": 3}


@pytest.fixture(scope="module")
def wine_study() -> tuple[Study, object, list]:
    ds = load_builtin("wine")
    study = Study("none,l2=1e-3", reference="linear,boosting", **FAST)
    with Store("sqlite://") as st:
        result = study.run(ds, st)
        members = st.load_members(result.name, with_predictions=True)
    return study, result, members


def test_reference_rows_are_stored_apart_and_never_ranked(wine_study: tuple) -> None:
    _, result, members = wine_study
    refs = [m for m in members if is_reference(m.strategy_config)]
    assert sorted({m.strategy for m in refs}) == [
        "boosting",
        "linear:elasticnet",
        "linear:l1",
        "linear:l2",
    ]
    nets = {m.split_id for m in members if not is_reference(m.strategy_config)}
    assert all({m.split_id for m in refs if m.strategy == n} == nets for n in result.references)
    assert all(m.status == "done" for m in refs)
    assert {r.strategy for r in result.ranking} == {"none", "l2=1e-3"}
    assert result.winner not in result.references
    assert set(result.strategies) == {"none", "l2=1e-3"}
    assert result.best_reference in result.references
    assert {c.reference for c in result.vs_reference} == {result.best_reference}
    assert result.reference_sentence is not None
    assert result.reference_sentence in result.sentences()


def test_linear_reference_equals_scikit_learn_on_the_same_rows(wine_study: tuple) -> None:
    """An independent fit (StandardScaler on the outer training part, as wine has only numeric
    columns and no gaps) scores what the stored linear:l2 row scores, on every split."""
    study, _, members = wine_study
    ds = load_builtin("wine")
    plan = study.plan(ds)
    X = ds.X.to_numpy(dtype=float)
    stored = {m.split_id: m for m in members if m.strategy == "linear:l2"}
    for split in plan.splits:
        rows = np.concatenate([split.train_idx, split.val_idx])
        scaler = StandardScaler().fit(X[rows])
        model = LogisticRegressionCV(
            Cs=list(CS), cv=INNER_CV, scoring="neg_log_loss", l1_ratios=(0.0,), max_iter=500,
            tol=1e-3, use_legacy_attributes=False,
        )  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(scaler.transform(X[rows]), ds.y[rows])
        pred = model.predict(scaler.transform(X[split.test_idx]))
        expected = accuracy_score(ds.y[split.test_idx], pred)
        assert stored[split.split_id].test_scores["accuracy"] == pytest.approx(expected, abs=1e-9)
        assert stored[split.split_id].n_test == split.n_test


def test_a_reference_depends_only_on_its_own_split_and_seed() -> None:
    ds = load_builtin("wine")
    records = []
    for strategies in ("none", "none,dropout=0.2"):
        with Store("sqlite://") as st:
            r = Study(strategies, reference="linear", **FAST).run(ds, st)
            records.append({
                m.key: m.test_pred.tobytes()
                for m in st.load_members(r.name, with_predictions=True)
                if is_reference(m.strategy_config)
            })  # fmt: skip
    assert len(records[0]) == 9
    assert records[0] == records[1]


def test_stored_study_shows_references_in_show_json_and_report(tmp_path: Path) -> None:
    db, out, html = tmp_path / "s.db", tmp_path / "s.json", tmp_path / "s.html"
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["bench", "builtin:iris", "--strategies", "none,dropout=0.2", "--cv", "3",
         "--hidden", "8", "--epochs", "20", "--store", str(db), "--name", "s",
         "--json", str(out), "--report", str(html)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert re.search(r"ref\s*│\s*linear:l2\b", result.output)  # a reference row, marked "ref"
    assert "ref: classical reference models" in " ".join(result.output.split())
    data = json.loads(out.read_text())
    names = [r["name"] for r in data["references"]]
    assert names == ["linear:l1", "linear:l2", "linear:elasticnet"]
    assert data["reference_answer"] in data["answer"]
    assert data["recommended"] not in {r["name"] for r in data["references"]}
    page = html.read_text()
    assert page.count('class="reference"') == 3 + 1  # three rows and their group
    assert "reference-answer" in page
    shown = runner.invoke(app, ["show", "s", "--store", str(db)])
    assert shown.exit_code == 0, shown.output
    assert re.search(r"ref\s*│\s*linear:elasticnet\b", shown.output)
    assert data["reference_answer"].split(",")[0] in " ".join(shown.output.split())
    with Store(db, create=False) as st:
        again = load_result(st, "s")
    console = wide_console()
    with console.capture() as cap:
        print_result(again, console)
    assert "ref" in cap.get()


def test_reference_none_adds_no_rows_and_keeps_the_config() -> None:
    ds = load_builtin("iris")
    plan = Study("none", reference="none", **FAST).plan(ds)
    assert plan.references == ()
    assert "references" not in plan.config
    linear = Study("none", **FAST).plan(ds)
    assert [r.name for r in linear.references] == ["linear:l1", "linear:l2", "linear:elasticnet"]
    assert linear.name != plan.name


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("linear", ("linear",)),
        ("boosting, linear", ("boosting", "linear")),
        (["linear", "linear"], ("linear",)),
        ("NONE", ()),
        (None, ()),
    ],
    ids=["linear", "both", "duplicate", "none", "None"],
)
def test_parse_references(value: object, expected: tuple[str, ...]) -> None:
    assert parse_references(value) == expected


@pytest.mark.parametrize("value", ["linaer", "none,linear", "", 3], ids=str)
def test_parse_references_refuses_in_one_line(value: object) -> None:
    with pytest.raises(ConfigError, match=r"`reference`"):
        parse_references(value)
