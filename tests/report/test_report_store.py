"""``write_report`` reads a real store; a 15-strategy × 10-split report stays small and fast."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from reglab.errors import ConfigError, StoreError
from reglab.report import render_report, write_report
from reglab.store import Store
from reglab.study.results import load_result

from .conftest import STRATEGIES, build_study
from .pagecheck import parse


def stored(tmp_path: Path, **kwargs: object) -> tuple[Store, str]:
    info, members = build_study(**kwargs)  # type: ignore[arg-type]
    store = Store(tmp_path / "results.db")
    store.create_study(info.name, info.config, info.metadata, feature_names=info.feature_names)
    for m in members:
        store.save_member(info.name, m)
    return store, info.name


def test_write_report_matches_render_report_of_the_stored_records(tmp_path: Path) -> None:
    store, name = stored(tmp_path)
    with store:
        out = write_report(store, name, tmp_path / "report.html")
        expected = parse(render_report(store.get_study(name), store.load_members(name)))
    page = parse(out.read_text(encoding="utf-8"))
    assert out == tmp_path / "report.html"
    assert {k: repr(v) for k, v in page.stats.items()} == {
        k: repr(v) for k, v in expected.stats.items()
    }
    assert page.rows == expected.rows
    assert page.ids == expected.ids


def test_write_report_refuses_a_missing_directory(tmp_path: Path) -> None:
    store, name = stored(tmp_path, strategies=("l2",), n_splits=2)
    with store, pytest.raises(ConfigError, match=r"`path` must be a path in an existing "
                              r"directory; got '.*nowhere/report.html'"):  # fmt: skip
        write_report(store, name, tmp_path / "nowhere" / "report.html")


def test_write_report_and_result_writers_refuse_the_store(tmp_path: Path) -> None:
    store, name = stored(tmp_path, strategies=("l2",), n_splits=2)
    assert store.path is not None
    with store:
        result = load_result(store, name)
        for write in (
            lambda p: write_report(store, name, p),
            result.report,
            result.to_json,
        ):
            with pytest.raises(ConfigError, match="must be a new file or a file it may replace, "
                               "not the store"):  # fmt: skip
                write(store.path)
    with Store(store.path, create=False) as again:
        assert [m.key for m in load_result(again, name).members] == [m.key for m in result.members]


def test_write_report_of_an_unknown_study_names_it(tmp_path: Path) -> None:
    store, _ = stored(tmp_path, strategies=("l2",), n_splits=2)
    with store, pytest.raises(StoreError, match="synthetc"):
        write_report(store, "synthetc", tmp_path / "report.html")


def test_fifteen_strategies_by_ten_splits_is_small(tmp_path: Path) -> None:
    store, name = stored(tmp_path, strategies=tuple(STRATEGIES), n_splits=10)
    assert len(STRATEGIES) == 15
    render_report(*build_study(strategies=("l2",), n_splits=2))  # one-time library set-up
    with store:
        start = time.perf_counter()
        out = write_report(store, name, tmp_path / "report.html")
        seconds = time.perf_counter() - start
    size = out.stat().st_size
    print(f"\n15 strategies x 10 splits: {size / 1e6:.2f} MB written in {seconds:.2f} s")
    page = parse(out.read_text(encoding="utf-8"))
    assert len(page.rows["rank"]) == 15
    assert size < 5_000_000  # its time is printed, not asserted: timing belongs to benchmarks
