"""``reglab show``, ``reglab report`` and ``reglab datasets``."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from reglab._outputs import check_output
from reglab.cli.render import wide_console
from reglab.store import Store, StudyInfo
from reglab.store.connection import shown, store_file

__all__ = ["run_datasets", "run_report", "run_show"]


def _open_existing(store: str) -> Store:
    return Store(store, create=False)


def run_show(study: str | None, *, store: str) -> None:
    console = wide_console()
    with _open_existing(store) as st:
        if study is None:
            # a nested study's inner members are part of it, not a study of their own
            studies = [s for s in st.list_studies() if "nested in" not in s.config]
            if not studies:
                console.print(f"No studies in {shown(store)}.")
                return
            table = Table(title=f"Studies in {shown(store)}", title_justify="left")
            for col in ("study", "created", "status", "strategies", "members done", "failed"):
                table.add_column(col)
            for info in studies:
                table.add_row(
                    info.name,
                    info.created_at.strftime("%Y-%m-%d %H:%M"),
                    _status(st, info),
                    _strategies(info),
                    str(info.counts.get("done", 0)),
                    str(info.counts.get("failed", 0)),
                )
            console.print(table)
            console.print("Show one with: reglab show STUDY", highlight=False)
            return
        from reglab.cli.render import print_result
        from reglab.study.results import load_result

        info = st.get_study(study)
        result = load_result(st, study)
        planned = len(info.config.get("strategies", [])) * int(
            info.metadata.get("protocol", {}).get("splits", 0) or 0
        )
        finished = info.counts.get("done", 0) + info.counts.get("failed", 0)
        if info.status not in ("done", "failed") or (planned and finished < planned):
            of = f" of {planned}" if planned else ""
            console.print(
                f"Incomplete: study {study!r} is {_status(st, info)}, with {finished}{of} "
                "members finished; these results cover only those. Re-run the command that "
                "started it to finish it.",
                highlight=False,
            )
        data = info.metadata.get("data", {})
        if data.get("shape"):
            console.print(
                f"Data: {data.get('data set')}: {data['shape']} ({data.get('task')})",
                highlight=False,
            )
        grouped = info.metadata.get("protocol", {}).get("groups")
        if grouped:  # the splits kept each group whole (--groups)
            console.print(f"Splits: {grouped}", highlight=False)
        print_result(result, console)


def _status(store: Store, info: StudyInfo) -> str:
    """The study's status, with ``running`` told apart from a run whose process is gone (a
    nested study's processes hold claims on its searches, in ``<name>/units``, while they
    tune)."""
    if info.status == "running" and not store.live_claims(info):
        units = f"{info.name}/units"
        if not any(s.name == units for s in store.list_studies()) or not store.live_claims(units):
            return "interrupted (no live process)"
    return info.status


def run_report(study: str, output: Path, *, store: str) -> None:
    from reglab.data.arrays import data_inputs
    from reglab.report import write_report

    inputs = {"the store": store_file(store)}
    check_output("-o", output, inputs=inputs)
    with _open_existing(store) as st:
        info = st.get_study(study)  # an unknown study is refused before anything is written
        source = str(info.config.get("data", {}).get("source") or "")
        if source:  # nor may the report replace the data file the study read
            inputs.update(data_inputs(source))
        out = check_output("-o", output, inputs=inputs, writes="html")
        write_report(st, study, out)
    print(f"Report written to {output}")


def run_datasets() -> None:
    from reglab.data.builtin import list_builtin

    table = Table(title="Built-in data sets (use as builtin:NAME)", title_justify="left")
    for col in ("name", "kind", "task", "rows", "features", "classes", "description"):
        table.add_column(col)
    for info in list_builtin():
        table.add_row(
            info.name,
            info.kind + (f" {'×'.join(map(str, info.shape))}" if info.shape else ""),
            info.task,
            str(info.n_rows),
            str(info.n_features),
            str(info.n_classes or "–"),
            info.description,
        )
    wide_console().print(table)


def _strategies(info: StudyInfo) -> str:
    """The study's network strategies as planned, and its reference rows apart (``3 (+2
    ref)``); the stored names when the configuration lists none."""
    config = info.config if isinstance(info.config, dict) else {}
    planned = config.get("strategies")
    refs = config.get("references") or []
    n = len(planned) if isinstance(planned, list) and planned else len(info.strategies) - len(refs)
    return f"{n}" + (f" (+{len(refs)} ref)" if refs else "")
