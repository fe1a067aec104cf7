"""Every command that takes ``--store`` works on a PostgreSQL URL, and without the driver a
PostgreSQL URL is one line naming the extra to install, before anything is read or written."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reglab.cli.main import app
from reglab.errors import StoreError
from reglab.store import Store

from .cli_checks import assert_one_line_error

runner = CliRunner()
FAST = ["--cv", "2", "--epochs", "5", "--lr", "1e-2", "--hidden", "8", "--no-early-stopping"]
URL = "postgresql+psycopg://ada:secret@127.0.0.1:9/runs"


def test_all_store_commands_on_postgresql(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = ["--store", postgres_url]
    data = "builtin:breast_cancer"
    bench = runner.invoke(
        app, ["bench", data, "--strategies", "none,l2=1e-3", *FAST, "--name", "b",
              "--json", "b.json", "--no-report", *store],
    )  # fmt: skip
    assert bench.exit_code == 0, bench.output
    assert f"study 'b' in {postgres_url}" in bench.output
    path = runner.invoke(
        app, ["path", data, "--technique", "l2", "--grid", "1e-4,1e-2", *FAST,
              "--name", "p", "--no-report", *store],
    )  # fmt: skip
    assert path.exit_code == 0, path.output
    listed = runner.invoke(app, ["show", *store])
    assert listed.exit_code == 0, listed.output
    assert "Studies in" in listed.output and " b " in listed.output and " p " in listed.output
    one = runner.invoke(app, ["show", "b", *store])
    assert one.exit_code == 0 and "none" in one.output, one.output
    report = runner.invoke(app, ["report", "b", "-o", "b.html", *store])
    assert report.exit_code == 0, report.output
    assert (tmp_path / "b.html").read_text().startswith("<!doctype html>")
    fit = runner.invoke(app, ["fit", data, "--from-study", "b", "-o", "m.reglab", *store])
    assert fit.exit_code == 0, fit.output
    assert (tmp_path / "m.reglab").stat().st_size > 0
    with Store(postgres_url, create=False) as st:
        # b: 2 strategies × 2 folds, and the 3 linear reference rows × 2 folds
        assert {i.name: i.counts["done"] for i in st.list_studies()} == {"b": 10, "p": 6}


COMMANDS = {
    "bench": ["bench", "builtin:breast_cancer", *FAST, "--json", "out.json"],
    "path": ["path", "builtin:breast_cancer", *FAST, "--json", "out.json"],
    "show": ["show"],
    "show STUDY": ["show", "s"],
    "report": ["report", "s", "-o", "out.json"],
    "fit --from-study": ["fit", "builtin:breast_cancer", "--from-study", "s", "-o", "out.json"],
}


@pytest.mark.parametrize("args", COMMANDS.values(), ids=COMMANDS.keys())
@pytest.mark.parametrize("url", [URL, "postgresql://ada:secret@127.0.0.1:9/runs"])
def test_without_psycopg_a_postgresql_url_names_the_extra(
    args: list[str], url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg now fails
    result = runner.invoke(app, [*args, "--store", url])
    line = assert_one_line_error(
        result,
        r"^reglab: error: Store: `url_or_path` 'postgresql\+psycopg://ada:\*\*\*@127\.0\.0\.1:9/"
        r"runs' needs the database driver 'psycopg', which is not installed: "
        r"pip install 'reglab\[postgres\]'\.$",
    )
    assert "secret" not in line
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_without_psycopg_the_python_api_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(StoreError, match=r"not installed: pip install 'reglab\[postgres\]'\.$"):
        Store(URL)


def test_an_unreachable_server_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("psycopg")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["show", "--store", "postgresql://ada:secret@127.0.0.1:9/runs"])
    line = assert_one_line_error(
        result, r"^reglab: error: Store 'postgresql\+psycopg://ada:\*\*\*@127\.0\.0\.1:9/runs': "
    )
    assert "secret" not in line
