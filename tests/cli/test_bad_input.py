"""Every bad input to ``reglab bench`` is one clear line, exit 2, and leaves the store intact."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from reglab.cli.main import app

from .cli_checks import assert_one_line_error, digest, write

runner = CliRunner()


def good_frame(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {"a": rng.normal(size=n), "b": rng.normal(size=n), "label": ["x", "y"] * (n // 2)}
    )


def csv_text(frame: pd.DataFrame) -> str:
    return str(frame.to_csv(index=False))


def case_files(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    """name → (arguments, regex the one-line message must match)."""
    good = write(tmp_path, "good.csv", csv_text(good_frame()))
    one_class = good_frame()
    one_class["label"] = "x"
    few = good_frame()
    few.loc[:2, "label"] = "z"  # class 'z' with 3 rows < 5 folds
    few.loc[3:, "label"] = ["x", "y"] * 18 + ["x"]
    allmiss = good_frame()
    allmiss["a"] = np.nan
    inf = good_frame()
    inf.loc[3, "b"] = np.inf
    text_target = good_frame()
    tiny = good_frame(4)
    return {
        "missing file": ([str(tmp_path / "nope.csv"), "--target", "label"], r"nope\.csv"),
        "binary file": (
            [str(write(tmp_path, "data.csv", gzip.compress(b"a,b\n1,2\n"))), "--target", "a"],
            r"data\.csv",
        ),
        "empty file": ([str(write(tmp_path, "empty.csv", "")), "--target", "a"], r"empty"),
        "header only": (
            [str(write(tmp_path, "header.csv", "a,b,label\n")), "--target", "label"],
            r"header\.csv",
        ),
        "target missing": ([str(good), "--target", "lable"], r"Did you mean 'label'"),
        "one class": (
            [str(write(tmp_path, "one.csv", csv_text(one_class))), "--target", "label"],
            r"class",
        ),
        "largest class smaller than folds": (
            [str(write(tmp_path, "few.csv", csv_text(few))), "--target", "label", "--cv", "30"],
            r"--cv 19.*--split kfold",
        ),
        "text target as regression": (
            [
                str(write(tmp_path, "txt.csv", csv_text(text_target))),
                "--target",
                "label",
                "--task",
                "regression",
            ],
            r"regression",
        ),
        "all-missing column": (
            [str(write(tmp_path, "allmiss.csv", csv_text(allmiss))), "--target", "label"],
            r"[`']a[`']",
        ),
        "infinite values": (
            [str(write(tmp_path, "inf.csv", csv_text(inf))), "--target", "label"],
            r"[`']b[`']",
        ),
        "duplicate columns": (
            [
                str(write(tmp_path, "dup.csv", "a,a,label\n1,2,x\n3,4,y\n5,6,x\n7,8,y\n")),
                "--target",
                "label",
            ],
            r"[`']a[`']",
        ),
        "more folds than rows": (
            [
                str(write(tmp_path, "tiny.csv", csv_text(tiny))),
                "--target",
                "label",
                "--split",
                "kfold",
                "--cv",
                "10",
            ],
            r"fold|row",
        ),
        "malformed grammar": ([str(good), "--target", "label", "--strategies", "l2=abc"], r"l2"),
        "unknown preset": (
            [str(good), "--target", "label", "--strategies", "none,dropuot"],
            r"Did you mean 'dropout'",
        ),
        "negative strength": (
            [str(good), "--target", "label", "--strategies", "l1=-1e-4"],
            r"l1",
        ),
        "dropout of one": ([str(good), "--target", "label", "--strategies", "dropout=1"], r"1"),
        "schedule warmup 0": (
            [str(good), "--target", "label", "--strategies", "l2=1e-4@warmup:0"],
            r"`@warmup` must be warmup:N \(N ≥ 1 epochs\); got 'warmup:0'",
        ),
        "cosine with an argument": (
            [str(good), "--target", "label", "--strategies", "l2=1e-4@cosine:3"],
            r"`@cosine` must be cosine \(no arguments\)",
        ),
        "per-layer count": (
            [str(good), "--target", "label", "--strategies", "l2=1e-3/1e-4/0"],
            r"`l2` must have one value per penalized layer \(2\); got 3 values",
        ),
        "adaptive without validation": (
            [str(good), "--target", "label", "--strategies", "auto-dropout", "--no-early-stopping"],
            r"adaptive strength, which follows the train–validation gap",
        ),
        "bad hidden sizes": ([str(good), "--target", "label", "--hidden", "50,x"], r"--hidden"),
        **{name: ([str(good), "--target", "label", *args], pattern)
           for name, (args, pattern) in OPTION_CASES.items()},
        "strategy file missing": (
            [str(good), "--target", "label", "--strategy-file", str(tmp_path / "no.yaml")],
            r"no\.yaml",
        ),
        "strategy file not yaml": (
            [str(good), "--target", "label", "--strategy-file",
             str(write(tmp_path, "s.yaml", "- name: [unclosed\n"))],
            r"s\.yaml",
        ),
        "strategies and strategy file": (
            [str(good), "--target", "label", "--strategies", "l2",
             "--strategy-file", str(write(tmp_path, "ok.yaml", "- name: a\n  l2: 0.001\n"))],
            r"--strategy-file",
        ),
        "unknown builtin": (["builtin:irsi", "--target", "label"], r"iris"),
    }  # fmt: skip


OPTION_CASES: dict[str, tuple[list[str], str]] = {
    "one fold": (["--cv", "1"], r"`n_splits` \(--cv\) must be an integer >= 2; got 1\.$"),
    "zero repeats": (["--repeats", "0"], r"`n_repeats` \(--repeats\) must be"),
    "test size above one": (
        ["--split", "shuffle", "--test-size", "1.5"],
        r"`test_size` \(--test-size\) must be",
    ),
    "no validation rows with early stopping": (["--val-fraction", "0"], r"--no-early-stopping"),
    "validation fraction of one": (["--val-fraction", "1"], r"`val_fraction` \(--val-fraction\)"),
    "zero epochs": (["--epochs", "0"], r"`epochs` \(--epochs\) must be an integer >= 1; got 0\.$"),
    "zero batch size": (["--batch-size", "0"], r"`batch_size` \(--batch-size\) must be"),
    "negative learning rate": (["--lr", "-1"], r"`lr` \(--lr\) must be"),
    "infinite learning rate": (["--lr", "inf"], r"`lr` \(--lr\) must be"),
    "unknown optimizer": (["--optimizer", "adamm"], r"`optimizer` \(--optimizer\) .*'adam'"),
    "negative patience": (["--patience", "-1"], r"`patience` \(--patience\) must be"),
    "unknown device": (["--device", "tpu"], r"device"),
    "zero memory budget": (["--memory-budget-mb", "0"], r"memory_budget_mb"),
    "tiny memory budget": (["--memory-budget-mb", "0.0001"], r"memory_budget_mb"),
    "member beyond the budget": (["--hidden", "100000000"], r"largest member needs"),
    "member beyond the machine": (
        ["--hidden", "3000000", "--memory-budget-mb", "1e9"],
        r"available|machine",
    ),
    "zero hidden units": (["--hidden", "0"], r"--hidden"),
    "empty hidden": (["--hidden", ""], r"--hidden"),
    "unknown activation": (["--activation", "rleu"], r"'relu'"),
    "unknown block order": (["--block-order", "drop-bn-act"], r"block_order"),
    "unknown split": (["--split", "kfoldd"], r"`method` \(--split\) .*'kfold'"),
    "unknown task": (["--task", "clustering"], r"task"),
    "negative seed": (["--seed", "-1"], r"seed"),
    "unknown config-change policy": (["--on-config-change", "merge"], r"--on-config-change"),
    "unknown reference": (["--reference", "linaer"], r"--reference.*Did you mean 'linear'"),
    "reference none mixed in": (["--reference", "none,linear"], r"--reference"),
    "too many dropout rates": (["--strategies", "dropout=0.2/0.3/0.4"], r"one rate per hidden"),
    "empty name": (["--name", ""], r"name"),
    "name with a newline": (["--name", "a\nb"], r"name"),
    "drop the target": (["--drop", "label"], r"label"),
    "drop every feature": (["--drop", "a,b"], r"feature"),
    "empty strategies": (["--strategies", ""], r"strateg"),
    "dropout above one": (["--strategies", "dropout=1.5"], r"dropout"),
    "unknown term": (["--strategies", "l3=1e-4"], r"l3"),
    "unknown technique term": (
        ["--strategies", "none,mixp=0.2"],
        r"`parameter` must be one of .*\bmixup\b.*\bswa\b.*; got 'mixp'\. Did you mean 'mixup'\?$",
    ),
    "unknown bare term": (
        ["--strategies", "none,fooo"],
        r"`term` must be one of .*\blookahead, residual, shake-drop, or NAME=VALUE; got 'fooo'\.$",
    ),
    "maxnorm of zero": (["--strategies", "maxnorm=0"], r"max"),
    "elasticnet ratio above one": (["--strategies", "elasticnet=1e-3:1.5"], r"l1_ratio|ratio"),
    "json is the store": (["--json", "STORE"], r"not the store"),
    "report is the store": (["--report", "STORE"], r"not the store"),
    "json is a directory": (["--json", "."], r"directory"),
    "report under /proc": (["--report", "/proc/x.html"], r"writable directory"),
}
"""Rows run on a good data file: the options after ``--target label`` → the message's pattern
(``STORE`` stands for the store's path)."""


CASES = [
    "missing file", "binary file", "empty file", "header only", "target missing", "one class",
    "largest class smaller than folds", "text target as regression", "all-missing column",
    "infinite values", "duplicate columns", "more folds than rows", "malformed grammar",
    "unknown preset", "negative strength", "dropout of one", "bad hidden sizes",
    *OPTION_CASES, "strategy file missing", "strategy file not yaml",
    "strategies and strategy file", "unknown builtin",
]  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_line_exit_2_and_store_intact(
    case: str, tmp_path: Path, store: Path
) -> None:
    args, pattern = case_files(tmp_path)[case]
    args = [str(store) if a == "STORE" else a for a in args]
    before = digest(store)
    inputs = {p: digest(p) for p in tmp_path.iterdir() if p.is_file()}
    report = [] if "--report" in args else ["--no-report"]
    result = runner.invoke(app, ["bench", *args, "--store", str(store), *report])
    assert_one_line_error(result, pattern)
    assert digest(store) == before
    assert {p: digest(p) for p in tmp_path.iterdir() if p.is_file()} == inputs


def test_unwritable_store_path(tmp_path: Path) -> None:
    good = write(tmp_path, "good.csv", csv_text(good_frame()))
    target = tmp_path / "no-such-dir" / "r.db"
    result = runner.invoke(app, ["bench", str(good), "--target", "label", "--store", str(target)])
    assert_one_line_error(result, r"no-such-dir")
    assert not target.parent.exists()


def test_corrupted_store_is_refused_and_untouched(tmp_path: Path) -> None:
    good = write(tmp_path, "good.csv", csv_text(good_frame()))
    bad = write(tmp_path, "bad.db", b"this is not a database" * 50)
    before = digest(bad)
    result = runner.invoke(app, ["bench", str(good), "--target", "label", "--store", str(bad)])
    assert_one_line_error(result, r"bad\.db")
    assert digest(bad) == before


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = runner.invoke(app, ["bench", str(tmp_path / "nope.csv"), "--target", "y", "--debug"])
    assert result.exit_code == 2
    assert "Traceback" in result.output


def test_show_unknown_study_suggests(store: Path) -> None:
    result = runner.invoke(app, ["show", "kep", "--store", str(store)])
    assert_one_line_error(result, r"kept")


def test_drop_of_an_unknown_column_suggests(tmp_path: Path) -> None:
    good = write(tmp_path, "good.csv", csv_text(good_frame()))
    result = runner.invoke(
        app, ["bench", str(good), "--target", "label", "--drop", "bb", "--no-report"]
    )
    assert_one_line_error(result, r"Did you mean 'b'")
