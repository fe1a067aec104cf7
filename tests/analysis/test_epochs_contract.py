"""Contract: a real study shows the same best and stopped epochs in the terminal table, the
JSON and the HTML report, counted from 1: the mean best and the mean last epoch trained, over
the same members, and how many stopped early; never an epoch 0.

The study runs through the command line (engine → store → terminal, ``--json``, ``--report``);
the truth is what the engine stored for each member.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from reglab.cli.main import app
from reglab.store import MemberRecord, Store

STRATEGIES = ("none", "l2=1e-3", "dropout=0.2")


def run_cli(tmp_path: Path, *options: str) -> tuple[str, dict[str, Any], str, list[MemberRecord]]:
    db, out, html = tmp_path / "s.db", tmp_path / "r.json", tmp_path / "r.html"
    result = CliRunner().invoke(
        app,
        ["bench", "builtin:iris", "--strategies", ",".join(STRATEGIES), "--cv", "3",
         "--hidden", "8", "--store", str(db), "--name", "epochs", "--json", str(out),
         "--report", str(html), *options],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with Store(db, create=False) as st:
        members = st.load_members("epochs")
    return result.output, json.loads(out.read_text()), html.read_text(), members


def terminal_epochs(output: str) -> dict[str, str]:
    """strategy → the table's ``epochs`` cell, read from the printed table."""
    lines = [line for line in output.splitlines() if line.count("│") >= 5 or "┃" in line]
    header = next(line for line in lines if "strategy" in line and "┃" in line)
    cells = [c.strip() for c in header.split("┃")]
    col = cells.index("epochs")
    rows = {}
    for line in lines:
        parts = [c.strip() for c in line.split("│")]
        if len(parts) == len(cells) and parts[2] in STRATEGIES:
            rows[parts[2]] = parts[col]
    assert set(rows) == set(STRATEGIES), output
    return rows


def html_epochs(page: str) -> dict[str, tuple[float, float]]:
    """strategy → (best, last) stated in the report's ranking table."""
    table = page[page.index('<table class="rank">') :]
    table = table[: table.index("</table>")]
    rows = {}
    for name, row in re.findall(r'<tr data-strategy="([^"]+)">(.*?)</tr>', table):
        best = re.search(r'data-stat="best-epoch" data-value="([^"]+)"', row)
        stopped = re.search(r'data-stat="last-epoch" data-value="([^"]+)"', row)
        assert best and stopped, row
        rows[name] = (float(best.group(1)), float(stopped.group(1)))
    return rows


def shown(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.0f}" if value == round(value) else f"{value:.1f}"


def expected(members: list[MemberRecord]) -> dict[str, tuple[float, float | None, int, float]]:
    """strategy → (mean best epoch, mean stopped epoch or None, members stopped, mean last
    epoch), from the engine's stored numbers (epochs from 1; a stopped epoch of 0/None: did
    not stop)."""
    out = {}
    for name in STRATEGIES:
        ms = [m for m in members if m.strategy == name and m.status == "done"]
        assert len(ms) == 3
        best = [m.best_epoch for m in ms]
        stopped = [m.stopped_epoch for m in ms if m.stopped_epoch]
        for m in ms:
            assert m.best_epoch is not None and 1 <= m.best_epoch <= m.epochs_run
            if m.stopped_epoch:
                assert m.stopped_epoch == m.epochs_run  # fired at the last epoch it trained
        out[name] = (
            float(np.mean(best)),
            float(np.mean(stopped)) if stopped else None,
            len(stopped),
            float(np.mean([m.epochs_run for m in ms])),
        )
    return out


@pytest.mark.parametrize(
    ("options", "stops"),
    [
        pytest.param(("--epochs", "5", "--no-early-stopping"), False, id="fixed-epochs"),
        pytest.param(("--epochs", "60", "--patience", "2", "--lr", "0.02"), True, id="early-stop"),
    ],
)
def test_terminal_json_and_report_show_the_same_epochs(
    tmp_path: Path, options: tuple[str, ...], stops: bool
) -> None:
    output, data, page, members = run_cli(tmp_path, *options)
    truth = expected(members)
    if not stops:
        # the case: 5 fixed epochs are 5 everywhere, and nothing "stopped"
        assert all(t == (5.0, None, 0, 5.0) for t in truth.values())
    else:
        assert any(t[1] is not None for t in truth.values()), truth
    terminal = terminal_epochs(output)
    rows = {r["strategy"]: r for r in data["ranking"]}
    report = html_epochs(page)
    for name, (best, stopped, n_stopped, last) in truth.items():
        assert best <= last  # both over the same members
        text = f"{shown(best)}/{shown(last)}"
        if 0 < n_stopped < 3:
            text += f" ({n_stopped} of 3)"
        assert terminal[name] == text, (name, terminal[name])
        assert rows[name]["mean_best_epoch"] == pytest.approx(best)
        assert rows[name]["mean_stopped_epoch"] == (
            None if stopped is None else pytest.approx(stopped)
        )
        assert rows[name]["members_stopped_early"] == n_stopped
        assert rows[name]["mean_last_epoch"] == pytest.approx(last)
        split_epochs = rows[name]["split_epochs"]
        ms = {str(m.split_id): m for m in members if m.strategy == name}
        assert {s: (e["best"], e["stopped"]) for s, e in split_epochs.items()} == {
            s: (m.best_epoch, m.stopped_epoch or None) for s, m in ms.items()
        }
        html_best, html_last = report[name]
        assert (html_best, html_last) == (pytest.approx(best), pytest.approx(last))
    # no user-facing "epoch 0" anywhere
    assert "stopped epoch 0" not in page and "/0 " not in output


def test_the_report_and_the_terminal_open_with_the_same_answer(tmp_path: Path) -> None:
    output, data, page, _ = run_cli(tmp_path, "--epochs", "5", "--no-early-stopping")
    headline = data["headline"]
    assert headline == data["answer"][0] == data["decision"]["headline"]
    assert " ".join(headline.split()) in " ".join(output.split())
    first = re.search(r'<p class="callout[^"]* headline"[^>]*>(.*?)</p>', page, re.S)
    assert first is not None
    import html

    assert html.unescape(first.group(1)) == headline
