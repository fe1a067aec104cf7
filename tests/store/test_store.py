"""The result store: round trips, resume semantics, refusals, durability.

The tests of what a store does run on SQLite and on a real PostgreSQL server with the same
assertions (``store_url``); the tests of SQLite's file handling run on SQLite only.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import zlib
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy

from reglab.errors import ConfigError, StoreError
from reglab.store import SCHEMA_VERSION, MemberRecord, Store

CONFIG = {"strategies": ["none", "l2", "dropout+l2"], "cv": {"kind": "kfold", "k": 5}}


def full_record(key: str = "m0", *, strategy: str = "dropout+l2", split_id: int = 3, **change):
    rng = np.random.default_rng(zlib.crc32(key.encode()))
    fields = dict(
        key=key,
        strategy=strategy,
        split_id=split_id,
        seed=2**62 + 5,
        n_train=1600,
        n_test=400,
        status="done",
        error=None,
        strategy_config={"l2": 1e-4, "dropout": 0.3, "name": strategy},
        config={"hidden": [50, 25], "epochs": 100},
        repeat=1,
        fold=2,
        curves={
            "train_loss": [1.5, 0.75, float("nan")],
            "penalty": [0.01, 0.02, 0.03],
            "val_loss": [1.25, float("inf"), 0.5],
            "val_metric": [0.5, 0.625, 0.75],
        },
        best_epoch=2,
        stopped_epoch=2,
        epochs_run=3,
        test_scores={"accuracy": 0.875, "log_loss": float("nan")},
        train_scores={"accuracy": 0.9375, "log_loss": 0.25},
        sparsity={"dense_0": 0.125, "dense_1": 0.0},
        weight_hist={
            "dense_1": (np.linspace(-1, 1, 5), np.array([1, 4, 6, 2])),
            "dense_0": (np.linspace(-2, 2, 3), np.array([10, 30])),
        },
        feature_norms=rng.random(6),
        test_pred=rng.random((4, 3)).astype(np.float32),
        wall_s=1.25,
    )
    fields.update(change)
    return MemberRecord(**fields)


def assert_same_record(loaded: MemberRecord, original: MemberRecord) -> None:
    a, b = loaded.to_dict(), original.to_dict()
    for name in ("started_at", "finished_at"):
        a.pop(name), b.pop(name)
    np.testing.assert_equal(a, b)  # NaN equals NaN here


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new store's location: an SQLite file, or a database on the test PostgreSQL server."""
    if request.param == "sqlite":
        return str(tmp_path / "results.db")
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def store(store_url: str):
    with Store(store_url) as s:
        yield s


@pytest.fixture
def sqlite_store(tmp_path: Path):
    with Store(tmp_path / "results.db") as s:
        yield s


def raw(store: Store | str, sql: str) -> list[tuple[object, ...]]:
    """Run ``sql`` on the store's database over a connection of its own (another process)."""
    url = store.url if isinstance(store, Store) else store
    engine = sqlalchemy.create_engine(url if "://" in url else f"sqlite:///{url}")
    try:
        with engine.begin() as conn:
            result = conn.exec_driver_sql(sql)
            return [tuple(r) for r in result] if result.returns_rows else []
    finally:
        engine.dispose()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- round trips -----------------------------------------------------------------------------


def test_round_trip_of_every_field(store: Store) -> None:
    store.create_study("w1", CONFIG, feature_names=[f"x{i}" for i in range(6)])
    original = full_record()
    before = datetime.now(UTC)
    store.save_member("w1", original)
    (loaded,) = store.load_members("w1", with_predictions=True)
    assert_same_record(loaded, original)
    assert loaded.test_pred is not None and loaded.test_pred.dtype == np.float32
    assert list(loaded.weight_hist) == ["dense_1", "dense_0"]  # layer order is kept
    assert loaded.finished_at is not None and loaded.finished_at >= before.replace(microsecond=0)
    assert store.get_study("w1").feature_names == tuple(f"x{i}" for i in range(6))


def test_conv_filters_round_trip_bit_exactly(store: Store) -> None:
    rng = np.random.default_rng(3)
    kernel = rng.standard_normal((8, 3, 5, 5)).astype(np.float32)
    kernel[0, 0, 0, :4] = [-0.0, np.float32(1e-45), np.nan, -np.inf]  # sign, subnormal, specials
    store.create_study("w1", CONFIG)
    store.save_member("w1", full_record("cnn", filters=kernel))
    store.save_member("w1", full_record("mlp"))
    loaded = {m.key: m for m in store.load_members("w1")}
    got = loaded["cnn"].filters
    assert got is not None and got.dtype == np.float32 and got.shape == (8, 3, 5, 5)
    assert got.tobytes() == kernel.tobytes()
    assert loaded["mlp"].filters is None
    assert store.load_members("w1", with_details=False)[0].filters is None
    float64 = rng.standard_normal((2, 1, 3, 3))  # kept as float32, the engine's precision
    store.save_member("w1", full_record("f64", filters=float64))
    (f64,) = store.load_members("w1", strategies=None, statuses=("done",))[2:]
    assert f64.filters is not None and f64.filters.tobytes() == float64.astype(np.float32).tobytes()


def test_optional_parts_are_read_on_request(store: Store) -> None:
    store.create_study("w1", CONFIG)
    store.save_member("w1", full_record())
    (light,) = store.load_members("w1", with_curves=False, with_details=False)
    assert light.curves == {} and light.weight_hist == {} and light.feature_norms is None
    assert light.test_pred is None  # predictions are opt-in
    assert light.test_scores == {
        "accuracy": 0.875,
        "log_loss": pytest.approx(float("nan"), nan_ok=True),
    }


def test_minimal_record_round_trips(store: Store) -> None:
    store.create_study("w1", CONFIG)
    r = MemberRecord("k", "none", split_id=0, seed=0, n_train=8, n_test=2)
    store.save_member("w1", r)
    (loaded,) = store.load_members("w1", with_predictions=True)
    assert_same_record(loaded, r)


def test_filters_by_strategy_and_status(store: Store) -> None:
    store.create_study("w1", CONFIG)
    store.save_member("w1", full_record("a", strategy="l2"))
    store.save_member("w1", full_record("b", strategy="none"))
    store.save_member("w1", full_record("c", strategy="l2", status="failed", error="NaN loss"))
    assert [m.key for m in store.load_members("w1", strategies=["l2"])] == ["a", "c"]
    assert [m.key for m in store.load_members("w1", statuses=["done"])] == ["a", "b"]
    with pytest.raises(ConfigError, match=r"`statuses` must be one of 'done', 'failed'; got 'ok'"):
        store.load_members("w1", statuses=["ok"])


# -- resume semantics ------------------------------------------------------------------------


def test_a_claimed_member_is_filled_in_and_a_finished_one_never_overwritten(
    store: Store,
) -> None:
    store.create_study("w1", CONFIG)
    assert store.claim("w1", ["m0"], "me") == ["m0"]
    assert store.load_members("w1") == []  # running members are not records
    assert store.save_member("w1", full_record(status="failed", error="loss became NaN at 3"))
    assert not store.save_member("w1", full_record(test_scores={"accuracy": 0.5}))
    (m,) = store.load_members("w1")
    assert m.status == "failed" and m.error == "loss became NaN at 3"
    assert m.started_at is not None and m.started_at <= m.finished_at  # from the claim
    assert store.get_study("w1").counts == {"running": 0, "done": 0, "failed": 1}
    assert raw(store, "select count(*) from curves") == [(1,)]
    assert raw(store, "select owner from members") == [("me",)]


def test_done_keys_and_failed_members_keep_their_reason(store: Store) -> None:
    store.create_study("w1", CONFIG)
    store.save_member("w1", full_record("ok"))
    store.save_member("w1", full_record("bad", status="failed", error="loss became NaN"))
    store.claim("w1", ["flight"], "me")
    assert store.done_keys("w1") == {"ok"}
    assert store.done_keys("w1", include_failed=True) == {"ok", "bad"}
    failed = store.load_members("w1", statuses=["failed"])
    assert [(m.key, m.error) for m in failed] == [("bad", "loss became NaN")]


def test_claims_divide_members_and_skip_finished_ones(store: Store) -> None:
    store.create_study("w1", CONFIG)
    store.save_member("w1", full_record("done"))
    store.save_member("w1", full_record("bad", status="failed", error="NaN"))
    assert store.claim("w1", ["done", "bad", "a", "b", "a"], "one") == ["a", "b"]
    assert store.claim("w1", ["a", "b", "c"], "two") == ["c"]
    assert store.claim("w1", ["a", "c"], "one") == ["a"]  # its own claim is renewed
    assert store.get_study("w1").counts == {"running": 3, "done": 1, "failed": 1}


def test_an_expired_lease_is_taken_over_and_a_heartbeat_keeps_it(store: Store) -> None:
    store.create_study("w1", CONFIG)
    assert store.claim("w1", ["a", "b"], "one", lease_s=0.2) == ["a", "b"]
    assert store.heartbeat("w1", "one", lease_s=60) == 2
    time.sleep(0.3)
    assert store.claim("w1", ["a", "b"], "two") == []  # renewed: still held
    raw(store, "update members set lease_until = '2000-01-01 00:00:00.000000'")
    assert store.claim("w1", ["a", "b"], "two") == ["a", "b"]
    assert store.heartbeat("w1", "one") == 0


def test_members_of_a_dead_process_on_this_host_are_taken_over_at_once(store: Store) -> None:
    import socket

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    owner = f"{socket.gethostname()}:{int(dead.stdout)}:cafe"
    store.create_study("w1", CONFIG)
    assert store.claim("w1", ["a"], owner, lease_s=3600) == ["a"]
    alive = f"{socket.gethostname()}:{os.getppid()}:beef"
    assert store.claim("w1", ["b"], alive, lease_s=3600) == ["b"]
    assert store.claim("w1", ["a", "b"], "me") == ["a"]


def test_release_makes_unfinished_members_pending_again(store: Store) -> None:
    store.create_study("w1", CONFIG)
    store.claim("w1", ["a", "b"], "one")
    store.save_member("w1", full_record("a"))
    assert store.release("w1", "one") == 1
    assert store.get_study("w1").counts == {"running": 0, "done": 1, "failed": 0}
    assert store.claim("w1", ["a", "b"], "two") == ["b"]


# -- studies ---------------------------------------------------------------------------------


def test_list_studies_counts_and_strategies(store: Store) -> None:
    store.create_study("first", CONFIG, {"device": "cpu"})
    store.create_study("second", {"strategies": ["l1"]})
    for i, strategy in enumerate(["l2", "none", "l2", "dropout+l2"]):
        store.save_member("first", full_record(f"k{i}", strategy=strategy, split_id=i))
    store.save_member("first", full_record("f", strategy="none", status="failed", error="x"))
    store.claim("first", ["r1", "r2"], "me")
    first, second = store.list_studies()
    assert (first.name, second.name) == ("first", "second")
    assert first.counts == {"running": 2, "done": 4, "failed": 1} and first.n_members == 7
    assert first.strategies == ("l2", "none", "dropout+l2")
    assert first.metadata == {"device": "cpu"} and first.status == "created"
    assert second.counts == {"running": 0, "done": 0, "failed": 0} and second.strategies == ()
    assert first.created_at.tzinfo is not None


def test_same_config_resumes_and_merges_metadata(store: Store) -> None:
    store.create_study("w1", CONFIG, {"versions": {"torch": "2.13"}})
    store.save_member("w1", full_record())
    again = store.create_study("w1", dict(CONFIG), {"hardware": "2 cores"})
    assert again.counts["done"] == 1
    assert again.metadata == {"versions": {"torch": "2.13"}, "hardware": "2 cores"}


def test_a_different_config_is_refused_unless_extended_or_replaced(store: Store) -> None:
    named = {**CONFIG, "strategies": [{"name": "none"}, {"name": "l2", "l2": 1e-4}]}
    store.create_study("w1", named)
    store.save_member("w1", full_record())
    added = {**named, "strategies": [*named["strategies"], {"name": "l1", "l1": 1e-4}]}
    with pytest.raises(
        StoreError,
        match=r"^Store '[^']*': `config` must equal the stored config of study 'w1' to "
        r"resume it; got one that differs in strategies \(added 'l1'\)\. Pass "
        r"on_config_change='extend' \(command line: --on-config-change extend\) to add the new "
        r"strategies to it, or 'replace' to start it over\.$",
    ):
        store.create_study("w1", added)
    extended = store.create_study("w1", added, on_config_change="extend")
    assert extended.config == added and extended.counts["done"] == 1
    replaced = store.create_study("w1", named, on_config_change="replace")
    assert replaced.config == named and replaced.n_members == 0
    with pytest.raises(StoreError, match=r"`name` must be a new study name \(exist_ok=False\)"):
        store.create_study("w1", named, exist_ok=False)


@pytest.mark.parametrize(
    ("change", "differs"),
    [
        ({"seed": 1}, r"seed \(stored 0, given 1\)"),
        (
            {"strategies": [{"name": "none"}, {"name": "l2", "l2": 1e-3}]},
            r"strategies\['l2'\]\.l2 \(stored 0\.0001, given 0\.001\)",
        ),
        ({"strategies": [{"name": "none"}]}, r"strategies \(removed 'l2'\)"),
    ],
)
def test_extend_only_adds_strategies(store: Store, change: dict[str, object], differs: str) -> None:
    named = {**CONFIG, "seed": 0, "strategies": [{"name": "none"}, {"name": "l2", "l2": 1e-4}]}
    store.create_study("w1", named)
    other = {**named, **change}
    with pytest.raises(StoreError, match=differs + r".*Use another study name \(command line: "
                       r"--name\), or on_config_change='replace'"):  # fmt: skip
        store.create_study("w1", other)
    with pytest.raises(StoreError, match=r"can be extended only by adding strategies.*" + differs):
        store.create_study("w1", other, on_config_change="extend")
    assert store.get_study("w1").config == named


def test_replace_is_refused_while_another_process_trains_the_study(store: Store) -> None:
    store.create_study("w1", CONFIG)
    assert store.claim("w1", ["m1", "m2"], owner="otherhost:123:abc", lease_s=60.0)
    with pytest.raises(StoreError, match=r"cannot be replaced .* while another process trains "
                       r"it: otherhost:123 \(2 members\)"):  # fmt: skip
        store.create_study("w1", {**CONFIG, "seed": 5}, on_config_change="replace")
    assert store.get_study("w1").config == CONFIG


def test_numpy_values_in_configs_are_stored_as_json(store: Store) -> None:
    info = store.create_study(
        "w1", {"k": np.int64(5), "grid": np.array([0.1, 0.2]), "p": Path("a")}
    )
    assert info.config == {"k": 5, "grid": [0.1, 0.2], "p": "a"}
    with pytest.raises(
        ConfigError, match=r"Store.create_study: `config` must be JSON-serializable"
    ):
        store.create_study("w2", {"f": object()})


def test_update_metadata_status_and_delete(store: Store) -> None:
    store.create_study("w1", CONFIG, {"a": 1})
    store.update_metadata("w1", {"timings": {"train_s": 12.5}})
    assert store.get_study("w1").metadata == {"a": 1, "timings": {"train_s": 12.5}}
    store.update_metadata("w1", {"b": 2}, replace=True)
    assert store.get_study("w1").metadata == {"b": 2}
    store.set_status("w1", "done")
    assert store.get_study("w1").status == "done"
    with pytest.raises(ConfigError, match=r"`status` must be one of .*got 'finished'"):
        store.set_status("w1", "finished")
    store.save_member("w1", full_record(filters=np.ones((1, 1, 2, 2))))
    assert raw(store, "select count(*) from conv_filters") == [(1,)]
    store.delete_study("w1")
    assert store.list_studies() == []
    tables = ("members", "curves", "weight_histograms", "feature_norms", "predictions")
    for table in (*tables, "conv_filters"):
        assert raw(store, f"select count(*) from {table}") == [(0,)], table


def test_unknown_study_suggests_the_close_name(store: Store) -> None:
    store.create_study("w1-kfold", CONFIG)
    with pytest.raises(
        StoreError,
        match=r"^Store '[^']*': `study` must be the name of a stored study; "
        r"got 'w1-kflod'\. Did you mean 'w1-kfold'\?$",
    ):
        store.done_keys("w1-kflod")


# -- opening: paths, URLs, refusals ----------------------------------------------------------


def test_path_and_sqlite_url_open_the_same_store(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    with Store(str(path)) as by_path:
        by_path.create_study("w1", CONFIG)
        by_path.save_member("w1", full_record())
        assert by_path.url == f"sqlite:///{path}"
    with Store(f"sqlite:///{path}") as by_url:
        assert by_url.path == path
        assert by_url.done_keys("w1") == {"m0"}
    with sqlite3.connect(path) as raw:
        assert raw.execute("pragma journal_mode").fetchone() == ("wal",)
        assert raw.execute(
            "select value from reglab_info where key = 'schema_version'"
        ).fetchone() == (str(SCHEMA_VERSION),)


def test_in_memory_url(tmp_path: Path) -> None:
    with Store("sqlite://") as s:
        assert s.path is None
        s.create_study("w1", CONFIG)
        s.save_member("w1", full_record())
        assert s.done_keys("w1") == {"m0"}


def test_reopening_never_destroys_data(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    with Store(path) as s:
        s.create_study("w1", CONFIG)
        s.save_member("w1", full_record())
    for _ in range(2):
        with Store(path) as s:
            assert s.done_keys("w1") == {"m0"}
            assert_same_record(s.load_members("w1", with_predictions=True)[0], full_record())


@pytest.mark.parametrize(
    "content",
    [os.urandom(4096), b"strategy,accuracy\nl2,0.9\n", b"SQLite format 2\x00" + bytes(100)],
    ids=["random-bytes", "text-file", "almost-sqlite"],
)
def test_a_file_that_is_not_a_database_is_refused_and_untouched(tmp_path: Path, content) -> None:
    path = tmp_path / "results.db"
    path.write_bytes(content)
    before = digest(path)
    with pytest.raises(
        StoreError,
        match=r"^Store: `url_or_path` must be a reglab store or a new file; got '.*results\.db', "
        r"a file that is not an SQLite database; it was left unchanged\.$",
    ):
        Store(path)
    assert digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.db"]  # no -wal, no -shm


def test_a_database_of_another_application_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as raw:
        raw.execute("create table users (id integer primary key, name text)")
        raw.execute("insert into users values (1, 'ada')")
    raw.close()
    before = digest(path)
    with pytest.raises(StoreError, match=r"a database of another application \(tables: users\)"):
        Store(path)
    assert digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.db"]


def test_a_store_of_another_schema_version_is_refused_and_untouched(store_url: str) -> None:
    Store(store_url).close()
    raw(store_url, "update reglab_info set value = '99' where key = 'schema_version'")
    path = Path(store_url) if "://" not in store_url else None
    before = digest(path) if path else None
    with pytest.raises(
        StoreError,
        match=rf"^Store: `url_or_path` must be a reglab store of schema version {SCHEMA_VERSION}; "
        r"got '[^']+', "
        r"a store of schema version 99 \(another reglab version wrote it\); it was left "
        r"unchanged\.$",
    ):
        Store(store_url)
    if path:
        assert digest(path) == before
    assert raw(store_url, "select value from reglab_info where key = 'schema_version'") == [("99",)]


def test_a_store_of_version_1_is_upgraded_keeping_every_member(store_url: str) -> None:
    with Store(store_url) as st:
        st.create_study("w1", CONFIG)
        st.save_member("w1", full_record("a"))
    for sql in (  # what reglab 0.1 wrote: no claim columns, no conv filters, no strengths
        "drop table conv_filters",
        "alter table curves drop column strengths",
        "alter table members drop column owner",
        "alter table members drop column lease_until",
        "update reglab_info set value = '1' where key = 'schema_version'",
        "insert into members (study_id, key, status) values (1, 'old', 'running')",
    ):
        raw(store_url, sql)
    with Store(store_url) as st:
        assert [m.key for m in st.load_members("w1")] == ["a"]
        assert st.claim("w1", ["old", "a"], "me") == ["old"]  # 0.1's running row: no owner
        assert st.heartbeat("w1", "me", lease_s=30) == 1  # the new lease column is usable
    assert raw(store_url, "select value from reglab_info where key = 'schema_version'") == [
        (str(SCHEMA_VERSION),)
    ]


def test_a_store_of_version_2_is_upgraded_and_then_keeps_filters(store_url: str) -> None:
    with Store(store_url) as st:
        st.create_study("w1", CONFIG)
        st.save_member("w1", full_record("a"))
    raw(store_url, "drop table conv_filters")  # what version 2 had: no conv filters
    raw(store_url, "alter table curves drop column strengths")
    raw(store_url, "update reglab_info set value = '2' where key = 'schema_version'")
    kernel = np.arange(2 * 1 * 3 * 3, dtype=np.float32).reshape(2, 1, 3, 3) - 8.5
    with Store(store_url) as st:
        (old,) = st.load_members("w1", with_predictions=True)
        assert_same_record(old, full_record("a"))
        assert old.filters is None
        st.save_member("w1", full_record("b", filters=kernel))
        loaded = {m.key: m for m in st.load_members("w1")}
    assert loaded["b"].filters is not None
    assert loaded["b"].filters.tobytes() == kernel.tobytes()
    assert raw(store_url, "select value from reglab_info where key = 'schema_version'") == [
        (str(SCHEMA_VERSION),)
    ]
    assert raw(store_url, "select count(*) from conv_filters") == [(1,)]


def test_a_store_of_version_3_is_upgraded_and_then_keeps_strengths_in_effect(
    store_url: str,
) -> None:
    with Store(store_url) as st:
        st.create_study("w1", CONFIG)
        st.save_member("w1", full_record("a"))
    raw(store_url, "alter table curves drop column strengths")  # what version 3 had
    raw(store_url, "update reglab_info set value = '3' where key = 'schema_version'")
    scheduled = full_record("b", strategy="dropout=0.3@warmup:2")
    curves = {
        **scheduled.curves,
        "strength:dropout[0]": (0.15, 0.3, 0.3),
        "strength:dropout[1]": (0.25, 0.5, float("nan")),
    }
    scheduled = dataclasses.replace(scheduled, curves=curves)
    with Store(store_url) as st:
        (old,) = st.load_members("w1", with_predictions=True)
        assert_same_record(old, full_record("a"))
        st.save_member("w1", scheduled)
        loaded = {m.key: m for m in st.load_members("w1")}
    assert not any(name.startswith("strength:") for name in loaded["a"].curves)
    assert loaded["b"].curves["strength:dropout[0]"] == (0.15, 0.3, 0.3)
    assert np.isnan(loaded["b"].curves["strength:dropout[1]"][2])
    assert loaded["b"].curves["train_loss"][:2] == (1.5, 0.75)
    assert raw(store_url, "select value from reglab_info where key = 'schema_version'") == [
        (str(SCHEMA_VERSION),)
    ]


UNWRITABLE = {
    "missing-directory": (lambda tmp: tmp / "nope" / "r.db", "whose directory does not exist"),
    "parent-is-a-file": (
        lambda tmp: tmp / "file.txt" / "r.db",
        "whose directory is not a directory",
    ),
    "path-is-a-directory": (lambda tmp: tmp, "which is a directory"),
}


@pytest.mark.parametrize(("make", "why"), UNWRITABLE.values(), ids=UNWRITABLE.keys())
def test_unusable_paths_are_refused(tmp_path: Path, make, why: str) -> None:
    (tmp_path / "file.txt").write_text("x")
    path = make(tmp_path)
    with pytest.raises(
        StoreError, match=rf"^Store: `url_or_path` must be .*; got '{path}', {why}\.$"
    ):
        Store(path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_read_only_directory_is_refused(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        with pytest.raises(StoreError, match=r"whose directory is not writable"):
            Store(locked / "r.db")
    finally:
        locked.chmod(0o700)


def test_create_false_refuses_a_missing_store_without_creating_it(tmp_path: Path) -> None:
    path = tmp_path / "missing.db"
    with pytest.raises(
        StoreError, match=r"must be an existing reglab store; got '.*missing\.db', "
    ):
        Store(path, create=False)
    assert not path.exists()


def test_database_failures_become_one_line_store_errors(store: Store) -> None:
    store.create_study("w1", CONFIG)
    raw(store, "drop table curves")
    why = "no such table: curves" if store.path else 'relation "curves" does not exist'
    with pytest.raises(StoreError, match=rf"^Store '[^']*': loading members failed: {why}$"):
        store.load_members("w1")


# -- durability and speed ----------------------------------------------------------------------

WRITER = textwrap.dedent(
    """
    import sys
    from reglab.store import MemberRecord, Store

    store = Store(sys.argv[1])
    store.create_study("s", {"k": 1})
    for i in range(100_000):
        key = f"k{i}"
        store.claim("s", [key], "writer")
        store.save_member("s", MemberRecord(key, "l2", split_id=i, seed=i, n_train=8, n_test=2,
                                            curves={"train_loss": [0.5] * 100}))
        print(key, flush=True)
    """
)


def test_kill_9_keeps_every_committed_member(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    committed = [child.stdout.readline().strip() for _ in range(25)]
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    with sqlite3.connect(path) as raw:
        assert raw.execute("pragma integrity_check").fetchone() == ("ok",)
    raw.close()
    with Store(path) as s:
        done = s.done_keys("s")
        assert set(committed) <= done
        counts = s.get_study("s").counts
        assert counts["running"] <= 1  # at most the member in flight
        members = s.load_members("s")
        assert all(m.curves["train_loss"] == (0.5,) * 100 for m in members)


def test_readers_are_not_blocked_by_a_writer_in_progress(sqlite_store: Store) -> None:
    store = sqlite_store
    store.create_study("w1", CONFIG)
    store.save_member("w1", full_record())
    writer = sqlite3.connect(store.path, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        writer.execute("UPDATE studies SET status = 'running'")
        start = time.perf_counter()
        assert [m.key for m in store.load_members("w1")] == ["m0"]  # WAL: readers go on
        assert store.get_study("w1").status == "created"  # and see the last commit
        assert time.perf_counter() - start < 5.0
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_writing_a_w1_sized_study_adds_little_time(store: Store) -> None:
    names = ("train_loss", "penalty", "val_loss", "val_metric")
    curves = {name: np.linspace(1, 0, 100) for name in names}
    records = [full_record(f"k{i}", split_id=i // 8, curves=curves) for i in range(40)]
    store.create_study("w1", CONFIG)
    start = time.perf_counter()
    store.claim("w1", [r.key for r in records], "me")
    for r in records:
        store.save_member("w1", r)
    elapsed = time.perf_counter() - start
    # 40 members x 100 epochs, one transaction each: ~0.15 s measured; training W1 takes minutes
    assert elapsed < 5.0
    assert len(store.load_members("w1")) == 40
