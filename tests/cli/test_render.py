"""The terminal table never cuts a number: a log gets the whole table, a narrow terminal loses
optional columns (and says which) before any number is shortened."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from reglab.cli.render import print_result
from reglab.data.builtin import load_builtin
from reglab.store import Store
from reglab.study.run import Study

STRATEGIES = "none,l2=1e-3,dropout=0.3,dropout=0.3+l2=1e-3,elasticnet=1e-3:0.5"


@pytest.fixture(scope="module")
def result() -> object:
    study = Study(STRATEGIES, reference="linear", hidden=(8,), epochs=4, patience=2, n_splits=3)
    with Store("sqlite://") as st:
        return study.run(load_builtin("wine"), st)


def _printed(result: object, width: int, *, terminal: bool) -> str:
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=terminal, color_system=None,
                      markup=False, highlight=False)  # fmt: skip
    print_result(result, console)  # type: ignore[arg-type]
    return out.getvalue()


def _table(text: str) -> str:
    return text.split("vs none: difference in mean")[0]


def test_a_log_gets_the_whole_table_whatever_its_width(result: object) -> None:
    text = _printed(result, 80, terminal=False)
    table = _table(text)
    assert "…" not in table
    for header in ("p (Holm)", "log loss", "bal. acc", "zeros", "elasticnet=1e-3:0.5"):
        assert header in table, header
    assert "left out at this terminal's width" not in text


@pytest.mark.parametrize("width", [120, 100, 90])
def test_a_narrow_terminal_drops_optional_columns_and_never_cuts_a_number(
    result: object, width: int
) -> None:
    text = _printed(result, width, terminal=True)
    table = _table(text)
    assert "…" not in table, table
    assert "p (Holm)" in table and "95% CI" in table
    assert max(len(line) for line in table.splitlines()) <= width
    if "zeros" not in table:
        assert "left out at this terminal's width: zeros" in text
