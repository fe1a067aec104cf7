"""Outputs never clobber inputs, user strings are never markup, failures exit 1 with a summary."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from reglab.cli.main import app, main
from reglab.store import Store

from .cli_checks import assert_one_line_error, digest

runner = CliRunner()
FAST = ["--strategies", "none,l2", "--epochs", "2", "--cv", "2", "--no-early-stopping"]


@pytest.fixture()
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with a small data file and a store holding one finished study."""
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=40), "b": rng.normal(size=40)})
    frame["label"] = np.where(frame["a"] > 0, "x", "y")
    frame.to_csv(tmp_path / "data.csv", index=False)
    result = runner.invoke(
        app, ["bench", "data.csv", "--target", "label", *FAST, "--name", "kept", "--no-report",
              "--store", "runs.db"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return tmp_path


CLOBBER = {
    "json is the store": (["--json", "runs.db"], r"`--json` must .* not the store"),
    "report is the store": (["--report", "runs.db"], r"`--report` must .* not the store"),
    "report is the store by another name": (
        ["--report", "./sub/../runs.db"],
        r"not the store",
    ),
    "report is the store's journal": (["--report", "runs.db-wal"], r"not the store"),
    "report is a link to the store": (["--report", "link.html"], r"not the store"),
    "report is the data": (["--report", "data.csv"], r"not the data file"),
    "json is the data": (["--json", "data.csv"], r"not the data file"),
    "json is a directory": (["--json", "."], r"not a directory"),
    "report in a missing directory": (["--report", "nope/r.html"], r"existing directory"),
    "report under /proc": (["--report", "/proc/r.html"], r"writable directory"),
    "json and report the same": (["--json", "x.out", "--report", "x.out"], r"must differ"),
    "json under a file": (["--json", "data.csv/x.json"], r"'.*data\.csv' is not a directory"),
    "json through a link loop": (["--json", "loop1"], r"usable file path.*loop"),
    "json in an unknown user's home": (["--json", "~no-such-user-x/r.json"], r"usable file path"),
    "json name too long": (["--json", "y" * 300 + ".json"], r"usable file path.*too long"),
    "report with no-report": (["--report", "r.html", "--no-report"], r"--no-report"),
    "json is the store named by an SQLite URI": (
        ["--store", "sqlite:///file:runs.db?uri=true", "--json", "runs.db"],
        r"not the store",
    ),
    "store opened read-only": (
        ["--store", "sqlite:///file:runs.db?mode=ro&uri=true"],
        r"URI parameters such as mode are not supported",
    ),
    "store is a device": (["--store", "/dev/null"], r"special file"),
    "store is a FIFO": (["--store", "fifo.db"], r"special file"),
    "strategy file is a FIFO": (["--strategy-file", "fifo.yaml"], r"special file"),
}


@pytest.mark.parametrize("case", sorted(CLOBBER))
def test_an_output_that_would_clobber_an_input_is_refused_before_anything(
    case: str, workdir: Path
) -> None:
    args, pattern = CLOBBER[case]
    (workdir / "sub").mkdir()
    (workdir / "link.html").symlink_to(workdir / "runs.db")
    (workdir / "loop1").symlink_to(workdir / "loop2")
    (workdir / "loop2").symlink_to(workdir / "loop1")
    os.mkfifo(workdir / "fifo.db")
    os.mkfifo(workdir / "fifo.yaml")
    before = {p.name: digest(p) for p in workdir.iterdir() if p.is_file()}
    store = [] if "--store" in args else ["--store", "runs.db"]
    strategies = [] if "--strategy-file" in args else ["--strategies", "none,l2"]
    # a FIFO that is opened blocks: a subprocess with a timeout, so a regression fails
    run = subprocess.run(
        [sys.executable, "-m", "reglab.cli.main", "bench", "data.csv", "--target", "label",
         *strategies, *FAST[2:], "--name", "new", *store, *args],
        capture_output=True, text=True, timeout=120, cwd=workdir,
    )  # fmt: skip
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 2 and len(lines) == 1 and run.stdout == "", run.stderr
    assert re.search(pattern, lines[0]), lines[0]
    after = {p.name: digest(p) for p in workdir.iterdir() if p.is_file()}
    assert after == before
    with Store(workdir / "runs.db") as st:
        assert [s.name for s in st.list_studies()] == ["kept"]  # nothing was written


def test_report_command_refuses_the_store_as_output(workdir: Path) -> None:
    before = digest(workdir / "runs.db")
    result = runner.invoke(app, ["report", "kept", "--store", "runs.db", "-o", "runs.db"])
    assert "not the store" in assert_one_line_error(result)
    assert digest(workdir / "runs.db") == before


def test_report_command_refuses_the_study_data_file_as_output(workdir: Path) -> None:
    before = digest(workdir / "data.csv")
    result = runner.invoke(app, ["report", "kept", "--store", "runs.db", "-o", "data.csv"])
    assert_one_line_error(
        result, r"^reglab: error: `-o` must .* not the data file; got 'data\.csv'"
    )
    assert digest(workdir / "data.csv") == before


@pytest.mark.parametrize(
    ("option", "kind"), [("--report", "an earlier HTML report"), ("--json", "an earlier JSON")]
)
def test_an_output_never_replaces_a_file_of_another_kind(
    workdir: Path, option: str, kind: str
) -> None:
    other = workdir / "other.csv"  # another data set, not this study's
    other.write_text("x,y\n1,2\n")
    before = digest(other)
    result = runner.invoke(
        app, ["bench", "data.csv", "--target", "label", *FAST, "--store", "runs.db",
              option, "other.csv"],
    )  # fmt: skip
    assert_one_line_error(result, rf"`{option}` must be a new file or {kind}.*begins 'x,y'")
    assert digest(other) == before
    report = runner.invoke(app, ["report", "kept", "--store", "runs.db", "-o", "other.csv"])
    assert_one_line_error(report, r"`-o` must be a new file or an earlier HTML report")
    assert digest(other) == before


def test_a_gpu_that_is_not_there_is_refused_before_the_store_is_created(workdir: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible")
    result = runner.invoke(
        app, ["bench", "data.csv", "--target", "label", *FAST, "--device", "cuda", "--store",
              "new.db", "--no-report"],
    )  # fmt: skip
    assert "no GPU is visible" in assert_one_line_error(result)
    assert not (workdir / "new.db").exists()


def test_a_long_data_file_name_gives_a_short_default_report_name(workdir: Path) -> None:
    long = workdir / ("d" * 240 + ".csv")
    long.write_bytes((workdir / "data.csv").read_bytes())
    result = runner.invoke(
        app, ["bench", long.name, "--target", "label", *FAST, "--store", "runs.db"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (report,) = workdir.glob("*.html")
    assert len(report.name) <= 125 and report.read_text().lower().startswith("<!doctype html>")


def test_outputs_are_written_atomically_and_replace_an_old_file(workdir: Path) -> None:
    (workdir / "r.json").write_text('{"old": true}')  # an earlier result
    (workdir / "r.json").chmod(0o640)
    result = runner.invoke(
        app, ["bench", "data.csv", "--target", "label", *FAST, "--name", "kept", "--store",
              "runs.db", "--json", "r.json", "--no-report"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads((workdir / "r.json").read_text())["study"] == "kept"
    assert stat.S_IMODE((workdir / "r.json").stat().st_mode) == 0o640  # its permissions kept
    assert not [p for p in workdir.iterdir() if p.name.startswith(".")]  # no temporary left


NAMES = ["[/]", "x[/bold]", "[bold]red", "back\\slash", "%s %d", "{}{0}", "a]b[c"]


@pytest.mark.parametrize("name", NAMES)
def test_user_strings_are_data_never_markup(name: str, workdir: Path) -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({name: rng.normal(size=40), "b": rng.normal(size=40)})
    frame["target " + name] = np.where(frame[name] > 0, name + "1", name + "2")
    frame.to_csv(workdir / "odd.csv", index=False)
    store = workdir / f"store {name}.db"  # "[/]": a folder named "store [" holds "].db"
    store.parent.mkdir(parents=True, exist_ok=True)
    args = ["bench", "odd.csv", "--target", "target " + name, *FAST, "--name", name,
            "--store", str(store), "--no-report"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert name in result.output
    shown = runner.invoke(app, ["show", "--store", str(store)])
    assert shown.exit_code == 0, shown.output
    assert name in shown.output
    again = runner.invoke(app, ["show", name, "--store", str(store)])
    assert again.exit_code == 0, again.output


def test_a_name_with_a_newline_is_refused_in_one_line(workdir: Path) -> None:
    result = runner.invoke(
        app, ["bench", "data.csv", "--target", "label", *FAST, "--name", "a\nb", "--store",
              "runs.db", "--no-report"],
    )  # fmt: skip
    assert "name" in assert_one_line_error(result)


@pytest.mark.parametrize(
    ("argv", "pattern"),
    [
        (["bench", "--nope"], r"^reglab: error: reglab bench: No such option: --nope"),
        (["bench", "x.csv", "--cv", "abc"], r"Invalid value for '--cv'"),
        (["frobnicate"], r"No such command 'frobnicate'"),
        (["bench"], r"Missing argument"),
    ],
)
def test_usage_errors_are_one_line(
    argv: list[str], pattern: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1, err
    assert re.search(pattern, err), err


def test_a_study_whose_members_all_failed_exits_1_with_a_summary(workdir: Path) -> None:
    result = runner.invoke(
        app, ["bench", "data.csv", "--target", "label", "--strategies", "none,l2",
              "--epochs", "3", "--cv", "2", "--no-early-stopping", "--lr", "1e30",
              "--optimizer", "sgd", "--store", "runs.db", "--no-report"],
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("reglab: error: bench: All 4 members failed: none (2 of 2: loss"), last
    with Store(workdir / "runs.db", create=False) as st:
        assert [s.status for s in st.list_studies() if s.name != "kept"] == ["failed"]


def test_unreadable_output_folder_is_found_before_training(workdir: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root can write into any folder")
    locked = workdir / "locked"
    locked.mkdir(mode=0o500)
    result = runner.invoke(
        app, ["bench", "data.csv", "--target", "label", *FAST, "--store", "runs.db",
              "--report", "locked/r.html"],
    )  # fmt: skip
    assert "writable directory" in assert_one_line_error(result)


def test_a_changed_config_names_the_setting_and_the_flag(workdir: Path) -> None:
    before = digest(workdir / "runs.db")
    args = ["bench", "data.csv", "--target", "label", "--cv", "2", "--no-early-stopping",
            "--name", "kept", "--store", "runs.db", "--no-report"]  # fmt: skip
    epochs = [*args, "--strategies", "none,l2", "--epochs", "3"]
    line = assert_one_line_error(runner.invoke(app, epochs))
    assert "train.epochs (stored 2, given 3)" in line and "--on-config-change replace" in line
    line = assert_one_line_error(runner.invoke(app, [*epochs, "--on-config-change", "extend"]))
    assert "extended only by adding strategies" in line and "train.epochs" in line
    assert digest(workdir / "runs.db") == before
    added = [*args, "--strategies", "none,l2,l1", "--epochs", "2"]
    line = assert_one_line_error(runner.invoke(app, added))
    assert "strategies (added 'l1')" in line and "--on-config-change extend" in line
    extended = runner.invoke(app, [*added, "--on-config-change", "extend"])
    assert extended.exit_code == 0, extended.output
    assert "trained 2 members" in extended.output
    replaced = runner.invoke(app, [*epochs, "--on-config-change", "replace"])
    assert replaced.exit_code == 0, replaced.output
    assert "trained 4 members" in replaced.output


def test_classes_of_two_rows_and_one_row_run_with_the_default_protocol(workdir: Path) -> None:
    rng = np.random.default_rng(0)
    y = np.array(["a"] * 45 + ["b"] * 32 + ["c"] * 2 + ["d"])
    frame = pd.DataFrame(rng.normal(size=(len(y), 3)), columns=["x1", "x2", "x3"])
    frame["y"] = y
    frame.to_csv(workdir / "small.csv", index=False)
    result = runner.invoke(
        app, ["bench", "small.csv", "--target", "y", "--strategies", "none,l2", "--epochs", "5",
              "--store", "runs.db", "--no-report"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "note: class 'c' has 2 rows, fewer than the 5 folds" in text
    assert "note: class 'd' has 1 row, fewer than the 5 folds" in text
