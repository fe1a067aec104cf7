"""``reglab advise``: measure a table and short-list the strategies worth a study."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from reglab._outputs import check_output
from reglab.cli.render import wide_console
from reglab.data.arrays import data_inputs
from reglab.study.advise import advise

__all__ = ["run_advise"]


def run_advise(
    data: str,
    *,
    target: str | None,
    task: str | None,
    drop: Sequence[str] = (),
    groups: str | None = None,
    seed: int = 0,
    json_path: Path | None = None,
    console: Console | None = None,
) -> None:
    """Validate the output path and the data, measure, print the advice, write the JSON."""
    console = console or wide_console()
    inputs = data_inputs(data)
    json_out = (
        None
        if json_path is None
        else check_output("--json", json_path, inputs=inputs, writes="json")
    )
    advice = advise(data, target=target, task=task, drop=drop, seed=seed, groups=groups)
    for line in advice.lines():
        console.print(line, highlight=False)
    if json_out is not None:
        advice.to_json(json_out, inputs=inputs)
        console.print(f"JSON written to {json_path}")
