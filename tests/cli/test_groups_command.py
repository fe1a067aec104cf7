"""``--groups`` from the command line on Mice Protein (15 rows per mouse): a small grouped study
whose stored members are those of group-disjoint splits, the notice without it, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from reglab.api import load_data
from reglab.cli.main import app
from reglab.store import Store
from reglab.study.run import Study

from .cli_checks import assert_one_line_error

runner = CliRunner()
MICE = Path(__file__).resolve().parents[3] / "shared" / "data" / "mice-protein.csv"
pytestmark = pytest.mark.skipif(not MICE.exists(), reason="shared/data/mice-protein.csv absent")

GROUPS = "MouseID:prefix=_"
OPTIONS = {"n_splits": 3, "epochs": 2, "hidden": (16,), "reference": "none", "seed": 4}
FAST = ["--cv", "3", "--epochs", "2", "--hidden", "16", "--reference", "none", "--seed", "4",
        "--strategies", "none,dropout=0.2", "--no-report", "--device", "cpu"]  # fmt: skip


def _bench(tmp_path: Path, *extra: str) -> tuple[int, str]:
    args = ["bench", str(MICE), "--target", "class", *FAST, "--store", str(tmp_path / "r.db")]
    result = runner.invoke(app, [*args, *extra])
    return result.exit_code, " ".join(result.output.split())


def test_a_grouped_study_stores_only_members_of_mouse_disjoint_splits(tmp_path: Path) -> None:
    code, out = _bench(tmp_path, "--groups", GROUPS)
    assert code == 0, out
    assert "splits grouped by MouseID prefix (72 groups)" in out
    assert "--groups MouseID:prefix=_" not in out  # no suggestion once grouped
    # The same plan from the Python API: same study, and the stored members are its members.
    dataset = load_data(str(MICE), target="class", groups=GROUPS)
    assert dataset.grouping is not None
    plan = Study("none,dropout=0.2", **OPTIONS).plan(dataset)
    codes = dataset.grouping.codes
    for split in plan.splits:
        train, val, test = (set(codes[i].tolist()) for i in
                            (split.train_idx, split.val_idx, split.test_idx))  # fmt: skip
        assert train and val and test
        assert not (train & val or train & test or val & test)
        assert len(train | val | test) == 72
    with Store(tmp_path / "r.db") as st:
        info = st.get_study(plan.name)
        assert info.config["splits"]["groups"]["by"] == GROUPS
        assert info.config["splits"]["groups"]["groups"] == 72
        assert info.metadata["protocol"]["groups"] == "grouped by MouseID prefix (72 groups)"
        assert st.done_keys(plan.name) == {spec.key() for spec, _ in plan.members}
    shown = runner.invoke(app, ["show", plan.name, "--store", str(tmp_path / "r.db")])
    assert "Splits: grouped by MouseID prefix (72 groups)" in shown.output
    page = tmp_path / "page.html"
    made = runner.invoke(app, ["report", plan.name, "-o", str(page), "--store",
                               str(tmp_path / "r.db")])  # fmt: skip
    assert made.exit_code == 0, made.output
    assert "3 splits grouped by MouseID prefix (72 groups)" in page.read_text()
    # The same command resumes it; without --groups it is another study, not a resume.
    code, again = _bench(tmp_path, "--groups", GROUPS)
    assert code == 0 and f"study {plan.name!r}" in again and "6 members already stored" in again
    code, plain = _bench(tmp_path)
    assert code == 0 and f"study {plan.name!r}" not in plain
    assert "split by them with --groups MouseID:prefix=_" in plain
    with Store(tmp_path / "r.db") as st:
        assert len(st.list_studies()) == 2


@pytest.mark.parametrize(
    ("extra", "pattern"),
    [
        (["--groups", "MouseId:prefix=_"], r"`--groups` must name a column .*got 'MouseId'\. "
         r"Did you mean 'MouseID'\?$"),
        (["--groups", "MouseID:prefix="], r"`--groups` must be COL or COL:prefix=SEP"),
        (["--groups", "class"], r"must not be the target"),
        (["--groups", "Genotype", "--cv", "3"], r"at most the number of groups \(2, --groups\); "
         r"got 3\.$"),
        (["--groups", "MouseID:prefix=_", "--drop", "MouseID"], r"`--groups` must name a column"),
    ],
    ids=["unknown-column", "empty-separator", "target", "fewer-groups-than-folds", "dropped"],
)  # fmt: skip
def test_bad_groups_are_one_line_and_write_nothing(
    tmp_path: Path, extra: list[str], pattern: str
) -> None:
    args = ["bench", str(MICE), "--target", "class", *FAST, "--store", str(tmp_path / "r.db"),
            *extra]  # fmt: skip
    result = runner.invoke(app, args)
    assert_one_line_error(result, pattern)
    assert not (tmp_path / "r.db").exists()
    assert list(tmp_path.iterdir()) == []


def test_reference_strengths_are_chosen_on_grouped_inner_folds() -> None:
    from reglab.study.reference import _group_folds

    groups = np.repeat(np.arange(12), 5)
    y = np.repeat(np.arange(12) % 2, 5)
    folds = _group_folds(y, groups, "binary", seed=0)
    assert len(folds) == 3
    for train, test in folds:
        assert not set(groups[train].tolist()) & set(groups[test].tolist())
