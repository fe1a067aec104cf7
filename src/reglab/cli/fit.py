"""``reglab fit`` and ``reglab predict``: the final model, trained on all the data and used.

Everything is validated before anything is trained or written: the options, the output path
(never the data, the store, the strategy file or the model read; see
:func:`reglab._outputs.check_output`), the study and its recommendation, the data. Outputs are
written atomically.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reglab._outputs import check_output, write_atomic
from reglab._validation import message
from reglab.cli.render import wide_console
from reglab.data.arrays import data_inputs
from reglab.errors import ConfigError
from reglab.store.connection import store_file

__all__ = ["run_fit", "run_predict"]


_SQLITE = b"SQLite format 3\x00"


def _not_precious(option: str, out: Path, *, models: bool) -> None:
    """Refuse replacing an existing SQLite database (a store, whatever its name) and, with
    ``models``, a reglab model file."""
    try:
        with out.open("rb") as handle:
            head = handle.read(len(_SQLITE))
            handle.seek(0, 2)
            handle.seek(max(handle.tell() - 78, 0))
            tail = handle.read()
    except OSError:
        return
    what = None
    if head == _SQLITE:
        what = "an SQLite database (a store)"
    elif models and tail.startswith(b"reglab-sha256:"):
        what = "a reglab model file"
    if what is not None:
        raise ConfigError(
            f"`{option}` must be a new file or a file it may replace, not {what}; got {str(out)!r}."
        )


def _layers(arch: Any) -> str:
    """``hidden 64,32``; a CNN's conv filters or a recurrent network's cell and units too."""
    hidden = "hidden " + ",".join(map(str, arch.hidden))
    if hasattr(arch, "units"):  # recurrent: the units are its layers
        return f"{arch.cell} units " + ",".join(map(str, arch.units))
    if hasattr(arch, "conv"):
        if hasattr(arch, "steps"):  # a 1-D conv over time
            return "conv1d " + ",".join(str(b.filters) for b in arch.conv) + ", " + hidden
        return "conv " + ",".join(str(b.filters) for b in arch.conv) + ", " + hidden
    return hidden


def run_fit(
    data: str,
    *,
    target: str | None,
    task: str | None,
    drop: Sequence[str],
    strategy: str | None,
    groups: str | None = None,
    from_study: str | None,
    store: str,
    options: dict[str, Any],
    output: Path,
    seed: int,
    device: str,
    memory_budget_mb: float,
) -> None:
    """Train ``strategy`` (or the study's recommendation) on all of ``data``; write the model."""
    from reglab.cli.bench import parse_hidden
    from reglab.final import fit_final
    from reglab.final.fit import strategy_of_study

    err = wide_console(stderr=True)
    if (strategy is None) == (from_study is None):
        got = "both" if strategy is not None else "neither"
        raise ConfigError(f"fit: give one of `--strategy` and `--from-study`; got {got}.")
    if options.get("hidden") is not None:
        options["hidden"] = parse_hidden(str(options["hidden"]), "fit")
    strategy_path = Path(strategy) if strategy and strategy.lower().endswith(
        (".yaml", ".yml", ".json")
    ) else None  # fmt: skip
    inputs = {
        **data_inputs(data),
        "the store": store_file(store),
        "the strategy file": strategy_path,
    }
    out = check_output("-o", output, inputs=inputs)
    _not_precious("-o", out, models=False)
    spec: Any = strategy
    if from_study is not None:
        from reglab.store import Store
        from reglab.study.results import load_result

        with Store(store, create=False) as st:
            st.get_study(from_study)  # an unknown study: one line naming the stored ones
            spec = load_result(st, from_study)
        chosen, _ = strategy_of_study(spec)
        err.print(
            f"reglab fit: study {from_study!r} recommends {chosen.name!r} "
            f"({spec.headline.rstrip('.')})",
            highlight=False,
        )
    model = fit_final(
        data,
        strategy=spec,
        target=target,
        task=task,
        drop=drop,
        groups=groups,
        seed=seed,
        device=device,
        memory_budget_mb=memory_budget_mb,
        **options,
    )
    info = model.info
    ds, tr = info["data"], info["training"]
    kind = f"{model.task}, {len(model.classes)} classes" if model.classes else model.task
    err.print(
        f"reglab fit: {ds['name']}: {ds['rows']} rows x {ds['columns']} columns → "
        f"{model.arch.in_features} inputs ({kind}); strategy {model.strategy.name!r}, "
        f"{_layers(model.arch)}",
        highlight=False,
    )
    for notice in ds["notices"]:
        err.print(f"  note: {notice}", highlight=False)
    if tr["validation rows"]:
        scores = ", ".join(
            f"{k} {v:.4g}" for k, v in tr["validation scores"].items() if v is not None
        )
        how = (
            f"early stopping on {tr['validation rows']} validation rows: best epoch "
            f"{tr['best epoch']} of {tr['epochs run']} run; validation {scores}"
        )
    else:
        how = "no early stopping"
    err.print(
        f"  trained on {tr['training rows']} rows for {tr['epochs run']} epochs ({how})",
        highlight=False,
    )
    model.save(out)
    print(f"Model written to {output}")


def run_predict(
    model_path: Path, data: str, *, output: Path, mc_samples: int | None = None
) -> None:
    """Predict the rows of ``data`` with the model file ``model_path``; write a CSV
    (MC-dropout means and spreads with ``mc_samples``)."""
    from reglab.final import load

    if mc_samples is not None and mc_samples < 2:
        raise ConfigError(message("reglab predict", "--mc-samples", "an integer >= 2", mc_samples))

    inputs = {"the model file": model_path, **data_inputs(data)}
    out = check_output("-o", output, inputs=inputs)
    _not_precious("-o", out, models=True)
    model = load(model_path)
    rows = model.read(data)
    err = wide_console(stderr=True)
    for notice in rows.notices:
        err.print(f"  note: {notice}", highlight=False)
    table = model.predictions(rows, mc_samples=mc_samples)
    text = io.StringIO()
    table.to_csv(text, index=False)
    write_atomic(out, text.getvalue())
    what = "labels and class probabilities" if model.classes else "values"
    if mc_samples is not None:
        what = f"MC-dropout means over {mc_samples} passes and their spread (std), {what}"
    print(f"Predictions ({what}) for {len(table)} rows written to {output}")
