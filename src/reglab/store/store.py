"""The result store: studies and their members in a relational database (SQLite by default).

Durability: every call that writes is one transaction, so each finished member is committed on
its own and a killed process loses at most the members in flight. SQLite files use the WAL
journal (readers never block the writer) with ``synchronous=NORMAL`` and a busy timeout; writes
take the write lock up front (``BEGIN IMMEDIATE``) so concurrent writers wait instead of failing.

Safety: opening never destroys data. A file that is not an SQLite database, a database of
another application, or a store of another schema version is refused with a
:class:`~reglab.errors.StoreError` and left untouched.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Select,
    create_engine,
    delete,
    event,
    func,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from reglab._validation import check_choice, message, suggest
from reglab.errors import ConfigError, StoreError
from reglab.store import schema as s
from reglab.store.records import (
    CURVE_NAMES,
    MEMBER_STATUSES,
    RECORD_STATUSES,
    MemberRecord,
    StudyInfo,
    check_name,
    check_study_status,
)

__all__ = ["ON_CONFIG_CHANGE", "Store"]

ON_CONFIG_CHANGE = ("error", "extend", "replace")
SQLITE_HEADER = b"SQLite format 3\x00"
BUSY_TIMEOUT_S = 30.0
_DETAILS = (s.curves, s.histograms, s.feature_norms, s.predictions)


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _one_line(err: BaseException) -> str:
    text = str(getattr(err, "orig", None) or err)
    return text.strip().splitlines()[0] if text.strip() else type(err).__name__


class Store:
    """Studies, members, curves and diagnostics in one database.

    Args:
        url_or_path: a file path (an SQLite database, created when missing) or any SQLAlchemy
            URL (``sqlite:///results.db``, ``postgresql+psycopg://user@host/db``). A database
            that is not empty must be a reglab store: give reglab a database of its own.
        create: create the store when missing; ``False`` refuses a missing or empty database.

    Raises:
        StoreError: the path's directory is missing or not writable, the file is not an SQLite
            database, the database belongs to another application or schema version, or the
            database cannot be reached. The message names the path; the file is left as it was.

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "results.db"
    >>> with Store(path) as store:
    ...     info = store.create_study("w1", {"strategies": ["none", "l2"]})
    ...     store.save_member("w1", MemberRecord("k0", "l2", split_id=0, seed=1, n_train=80,
    ...                                         n_test=20, test_scores={"accuracy": 0.9}))
    ...     [(m.key, m.test_scores) for m in store.load_members("w1")]
    [('k0', {'accuracy': 0.9})]
    """

    def __init__(self, url_or_path: str | os.PathLike[str], *, create: bool = True) -> None:
        self._url, self._path = _resolve(url_or_path)
        self._where = repr(str(self._path) if self._path else self.url)
        if self._path is not None:
            _check_file(self._path, self._where, create=create)
        self._engine = _make_engine(self._url, memory=self._is_memory)
        try:
            self._prepare(create)
        except BaseException:
            self._engine.dispose()
            raise

    # -- opening -------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The database URL (password hidden)."""
        return self._url.render_as_string(hide_password=True)

    @property
    def path(self) -> Path | None:
        """The SQLite file, or ``None`` for other databases."""
        return self._path

    @property
    def _is_memory(self) -> bool:
        return self._url.get_backend_name() == "sqlite" and self._path is None

    def __repr__(self) -> str:
        return f"Store({self._where})"

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the database connections."""
        self._engine.dispose()

    @contextmanager
    def _tx(self, doing: str, *, write: bool = False) -> Iterator[Connection]:
        try:
            with self._engine.connect() as conn:
                if write:
                    conn.execution_options(reglab_write=True)
                with conn.begin():
                    yield conn
        except SQLAlchemyError as err:
            raise StoreError(f"Store {self._where}: {doing} failed: {_one_line(err)}") from err

    def _refuse(self, expected: str, got: str) -> StoreError:
        return StoreError(f"Store: `url_or_path` must be {expected}; got {self._where}, {got}.")

    def _schema_state(self, conn: Connection) -> str:
        names = set(inspect(conn).get_table_names())
        if s.info.name not in names:
            if names:
                listed = ", ".join(sorted(names)[:5]) + (", ..." if len(names) > 5 else "")
                raise self._refuse(
                    "a reglab store or a new database",
                    f"a database of another application (tables: {listed}); it was left unchanged",
                )
            return "empty"
        version = conn.execute(
            select(s.info.c.value).where(s.info.c.key == "schema_version")
        ).scalar_one_or_none()
        if version != str(s.SCHEMA_VERSION):
            raise self._refuse(
                f"a reglab store of schema version {s.SCHEMA_VERSION}",
                f"a store of schema version {version} (another reglab version wrote it); "
                "it was left unchanged",
            )
        missing = sorted({t.name for t in s.TABLES} - names)
        if missing:
            raise self._refuse("a complete reglab store", f"one missing tables {missing}")
        return "ours"

    def _prepare(self, create: bool) -> None:
        with self._tx("reading the schema") as conn:
            state = self._schema_state(conn)
        if state == "empty":
            if not create:
                raise self._refuse("an existing reglab store", "an empty database (create=False)")
            with self._tx("creating the schema", write=True) as conn:
                if self._schema_state(conn) == "empty":
                    s.metadata.create_all(conn)
                    conn.execute(
                        s.info.insert(),
                        [
                            {"key": "schema_version", "value": str(s.SCHEMA_VERSION)},
                            {"key": "created_at", "value": _now().isoformat()},
                        ],
                    )
        if self._path is not None:
            with self._engine.connect() as conn:  # outside a transaction, as SQLite requires
                cursor = conn.connection.cursor()
                cursor.execute("PRAGMA journal_mode = WAL")
                cursor.close()

    # -- studies -------------------------------------------------------------------------------

    def create_study(
        self,
        name: str,
        config: Mapping[str, Any],
        metadata: Mapping[str, Any] | None = None,
        *,
        feature_names: Sequence[str] | None = None,
        exist_ok: bool = True,
        on_config_change: str = "error",
    ) -> StudyInfo:
        """Create a study, or return the stored one of the same name to resume it.

        Args:
            name: the study's unique name.
            config: the full study configuration (JSON-serializable), compared on re-runs.
            metadata: how the study runs (versions, device, ...); merged into stored metadata.
            feature_names: input feature names (stored once for all members' feature norms).
            exist_ok: ``False`` refuses a name that exists.
            on_config_change: when the stored study has a different config: ``"error"``
                (the default) refuses; ``"extend"`` keeps its members and stores the new config
                (members are keyed by content, so unchanged ones are not redone); ``"replace"``
                deletes its members and starts it over.
        """
        who = "Store.create_study"
        check_name(who, "name", name)
        check_choice(who, "on_config_change", on_config_change, ON_CONFIG_CHANGE)
        config = _json_dict(who, "config", config)
        metadata = _json_dict(who, "metadata", metadata or {})
        names = None if feature_names is None else [str(n) for n in feature_names]
        now = _now()
        with self._tx(f"creating study {name!r}", write=True) as conn:
            row = conn.execute(select(s.studies).where(s.studies.c.name == name)).first()
            if row is None:
                conn.execute(
                    insert(s.studies).values(
                        name=name, created_at=now, updated_at=now, status="created",
                        config=config, run_metadata=metadata, feature_names=names,
                    )
                )  # fmt: skip
                return self._infos(conn, [name])[0]
            if not exist_ok:
                raise StoreError(
                    f"Store {self._where}: `name` must be a new study name (exist_ok=False); "
                    f"got {name!r}, which exists."
                )
            values: dict[str, Any] = {"updated_at": now}
            changed = _changed_keys(row.config, config)
            if changed:
                if on_config_change == "error":
                    raise StoreError(
                        f"Store {self._where}: `config` must equal the stored config of study "
                        f"{name!r} to resume it; got one that differs in {', '.join(changed)}. "
                        "Pass on_config_change='extend' to add to the study or 'replace' to "
                        "start it over."
                    )
                if on_config_change == "replace":
                    _delete_members(conn, row.id)
                    values["status"] = "created"
                values["config"] = config
            values["run_metadata"] = {**row.run_metadata, **metadata}
            if names is not None:
                values["feature_names"] = names
            conn.execute(update(s.studies).where(s.studies.c.id == row.id).values(**values))
            return self._infos(conn, [name])[0]

    def get_study(self, name: str) -> StudyInfo:
        """The stored study ``name`` (a :class:`StoreError` with a suggestion if unknown)."""
        with self._tx(f"reading study {name!r}") as conn:
            self._study_id(conn, name)
            return self._infos(conn, [name])[0]

    def list_studies(self) -> list[StudyInfo]:
        """Every stored study, oldest first, with member counts by status and strategies."""
        with self._tx("listing studies") as conn:
            return self._infos(conn, None)

    def delete_study(self, name: str) -> None:
        """Delete a study and everything stored for its members."""
        with self._tx(f"deleting study {name!r}", write=True) as conn:
            sid = self._study_id(conn, name)
            _delete_members(conn, sid)
            conn.execute(delete(s.studies).where(s.studies.c.id == sid))

    def update_metadata(
        self, study: str | StudyInfo, metadata: Mapping[str, Any], *, replace: bool = False
    ) -> None:
        """Merge ``metadata`` into the study's metadata (top-level keys), or ``replace`` it."""
        metadata = _json_dict("Store.update_metadata", "metadata", metadata)
        with self._tx("updating metadata", write=True) as conn:
            sid = self._study_id(conn, study)
            if not replace:
                stored = conn.execute(
                    select(s.studies.c.run_metadata).where(s.studies.c.id == sid)
                ).scalar_one()
                metadata = {**stored, **metadata}
            conn.execute(
                update(s.studies)
                .where(s.studies.c.id == sid)
                .values(run_metadata=metadata, updated_at=_now())
            )

    def set_status(self, study: str | StudyInfo, status: str) -> None:
        """Set the study's status (``created``, ``running``, ``done`` or ``failed``)."""
        check_study_status("Store.set_status", status)
        with self._tx("setting the study status", write=True) as conn:
            sid = self._study_id(conn, study)
            conn.execute(
                update(s.studies)
                .where(s.studies.c.id == sid)
                .values(status=status, updated_at=_now())
            )

    def _study_id(self, conn: Connection, study: str | StudyInfo) -> int:
        name = study.name if isinstance(study, StudyInfo) else study
        sid = conn.execute(select(s.studies.c.id).where(s.studies.c.name == name)).scalar()
        if sid is None:
            known = conn.execute(select(s.studies.c.name)).scalars().all()
            raise StoreError(
                message(f"Store {self._where}", "study", "the name of a stored study", name)
                + suggest(str(name), known)
            )
        return int(sid)

    def _infos(self, conn: Connection, names: Sequence[str] | None) -> list[StudyInfo]:
        query = select(s.studies).order_by(s.studies.c.created_at, s.studies.c.id)
        if names is not None:
            query = query.where(s.studies.c.name.in_(names))
        rows = conn.execute(query).all()
        counts: dict[int, dict[str, int]] = {r.id: dict.fromkeys(MEMBER_STATUSES, 0) for r in rows}
        m = s.members
        for sid, status, n in conn.execute(
            select(m.c.study_id, m.c.status, func.count()).group_by(m.c.study_id, m.c.status)
        ):
            if sid in counts:
                counts[sid][status] = n
        strategies: dict[int, list[str]] = {r.id: [] for r in rows}
        first = func.min(m.c.id).label("first")
        for sid, strategy, _ in conn.execute(
            select(m.c.study_id, m.c.strategy, first)
            .where(m.c.strategy.is_not(None))
            .group_by(m.c.study_id, m.c.strategy)
            .order_by(first)
        ):
            if sid in strategies:
                strategies[sid].append(strategy)
        return [
            StudyInfo(
                name=r.name,
                created_at=_utc(r.created_at) or r.created_at,
                status=r.status,
                config=r.config,
                metadata=r.run_metadata,
                feature_names=None if r.feature_names is None else tuple(r.feature_names),
                counts=counts[r.id],
                strategies=tuple(strategies[r.id]),
            )
            for r in rows
        ]

    # -- members -------------------------------------------------------------------------------

    def done_keys(self, study: str | StudyInfo, *, include_failed: bool = False) -> set[str]:
        """Keys of the members stored as done (and failed, with ``include_failed``)."""
        statuses = RECORD_STATUSES if include_failed else ("done",)
        with self._tx("reading member keys") as conn:
            sid = self._study_id(conn, study)
            return set(
                conn.execute(
                    select(s.members.c.key).where(
                        s.members.c.study_id == sid, s.members.c.status.in_(statuses)
                    )
                ).scalars()
            )

    def mark_running(self, study: str | StudyInfo, keys: Iterable[str]) -> None:
        """Record that these members started; members already done are left as they are.

        A member still ``running`` when its study is resumed was interrupted and is redone.
        """
        keys = list(dict.fromkeys(keys))
        for key in keys:
            check_name("Store.mark_running", "keys", key)
        now = _now()
        m = s.members
        with self._tx("marking members running", write=True) as conn:
            sid = self._study_id(conn, study)
            stored: dict[str, str] = {}
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                query = select(m.c.key, m.c.status).where(m.c.study_id == sid, m.c.key.in_(chunk))
                stored.update((key, status) for key, status in conn.execute(query))
            redo = [k for k in keys if k in stored and stored[k] != "done"]
            for start in range(0, len(redo), 500):
                conn.execute(
                    update(m)
                    .where(m.c.study_id == sid, m.c.key.in_(redo[start : start + 500]))
                    .values(status="running", error=None, started_at=now, finished_at=None)
                )
            new = [
                {"study_id": sid, "key": k, "status": "running", "started_at": now}
                for k in keys
                if k not in stored
            ]
            if new:
                conn.execute(insert(m), new)

    def save_member(self, study: str | StudyInfo, record: MemberRecord) -> None:
        """Store a finished member in its own transaction, replacing any row with its key."""
        if not isinstance(record, MemberRecord):
            raise ConfigError(message("Store.save_member", "record", "a MemberRecord", record))
        values = _member_values(record)
        m = s.members
        with self._tx(f"saving member {record.key!r}", write=True) as conn:
            sid = self._study_id(conn, study)
            row = conn.execute(
                select(m.c.id, m.c.started_at).where(m.c.study_id == sid, m.c.key == record.key)
            ).first()
            if row is None:
                insert_row = insert(m).values(study_id=sid, **values).returning(m.c.id)
                mid = int(conn.execute(insert_row).scalar_one())
            else:
                mid = int(row.id)
                values["started_at"] = values["started_at"] or row.started_at
                conn.execute(update(m).where(m.c.id == mid).values(**values))
                for table in _DETAILS:
                    conn.execute(delete(table).where(table.c.member_id == mid))
            _insert_details(conn, mid, record)

    def load_members(
        self,
        study: str | StudyInfo,
        *,
        with_curves: bool = True,
        with_details: bool = True,
        with_predictions: bool = False,
        strategies: Collection[str] | None = None,
        statuses: Collection[str] = RECORD_STATUSES,
    ) -> list[MemberRecord]:
        """The study's finished members, in the order they were first stored.

        Args:
            study: the study (name or :class:`StudyInfo`).
            with_curves: read the per-epoch curves.
            with_details: read weight histograms and feature norms.
            with_predictions: read the test predictions.
            strategies: only these strategies (default: all).
            statuses: ``"done"``, ``"failed"`` or both (default).
        """
        for status in statuses:
            check_choice("Store.load_members", "statuses", status, RECORD_STATUSES)
        m = s.members
        with self._tx("loading members") as conn:
            sid = self._study_id(conn, study)
            where = [m.c.study_id == sid, m.c.status.in_(list(statuses))]
            if strategies is not None:
                where.append(m.c.strategy.in_(list(strategies)))
            rows = conn.execute(select(m).where(*where).order_by(m.c.id)).all()

            def details(table: Any) -> Select[Any]:
                return select(table).join(m, m.c.id == table.c.member_id).where(*where)

            curves = (
                {r.member_id: r for r in conn.execute(details(s.curves))} if with_curves else {}
            )
            hists: dict[int, dict[str, Any]] = {}
            norms: dict[int, Any] = {}
            if with_details:
                order = (s.histograms.c.member_id, s.histograms.c.position)
                for r in conn.execute(details(s.histograms).order_by(*order)):
                    hists.setdefault(r.member_id, {})[r.layer] = (r.edges, r.counts)
                norms = {r.member_id: r.norms for r in conn.execute(details(s.feature_norms))}
            preds = (
                {r.member_id: s.npy_to_array(r.npy) for r in conn.execute(details(s.predictions))}
                if with_predictions
                else {}
            )
        return [
            _record(row, curves.get(row.id), hists.get(row.id, {}), norms.get(row.id),
                    preds.get(row.id))
            for row in rows
        ]  # fmt: skip


# -- opening helpers -----------------------------------------------------------------------------


def _resolve(url_or_path: str | os.PathLike[str]) -> tuple[URL, Path | None]:
    if isinstance(url_or_path, str) and "://" in url_or_path:
        try:
            url = make_url(url_or_path)
        except ArgumentError as err:
            raise StoreError(
                message("Store", "url_or_path", "a path or an SQLAlchemy URL", url_or_path)
            ) from err
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            return url, None
        path = Path(url.database).expanduser().resolve()
        return url.set(database=str(path)), path
    if not isinstance(url_or_path, str | os.PathLike) or not str(url_or_path):
        raise StoreError(
            message("Store", "url_or_path", "a path or an SQLAlchemy URL", url_or_path)
        )
    path = Path(url_or_path).expanduser().resolve()
    return URL.create("sqlite", database=str(path)), path


def _check_file(path: Path, where: str, *, create: bool) -> None:
    def refuse(expected: str, got: str) -> StoreError:
        return StoreError(f"Store: `url_or_path` must be {expected}; got {where}, {got}.")

    parent = path.parent
    if not path.exists():
        if not create:
            raise refuse("an existing reglab store", "which does not exist (create=False)")
        if not parent.is_dir():
            state = "does not exist" if not parent.exists() else "is not a directory"
            raise refuse("a file in an existing, writable directory", f"whose directory {state}")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise refuse(
                "a file in an existing, writable directory", "whose directory is not writable"
            )
        return
    if path.is_dir():
        raise refuse("a database file", "which is a directory")
    try:
        with path.open("rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except OSError as err:
        raise refuse("a readable database file", f"which cannot be read ({err.strerror})") from err
    if header and header != SQLITE_HEADER:
        raise refuse(
            "a reglab store or a new file",
            "a file that is not an SQLite database; it was left unchanged",
        )


def _make_engine(url: URL, *, memory: bool) -> Engine:
    if url.get_backend_name() != "sqlite":
        try:
            return create_engine(url, json_serializer=s.dumps, pool_pre_ping=True)
        except (ArgumentError, ImportError) as err:
            raise StoreError(
                message("Store", "url_or_path", "a usable SQLAlchemy URL", url.render_as_string())
                + f" ({_one_line(err)})"
            ) from err
    options: dict[str, Any] = {"json_serializer": s.dumps}
    if memory:
        options.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        options.update(connect_args={"timeout": BUSY_TIMEOUT_S})
    engine = create_engine(url, **options)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" event issues BEGIN
        dbapi_connection.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        dbapi_connection.execute("PRAGMA foreign_keys = ON")
        dbapi_connection.execute("PRAGMA synchronous = NORMAL")

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get("reglab_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


# -- row helpers ---------------------------------------------------------------------------------


def _json_dict(who: str, param: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(message(who, param, "a mapping", value))
    try:
        return dict(json.loads(s.dumps(value)))
    except (TypeError, ValueError) as err:
        raise ConfigError(message(who, param, "JSON-serializable", f"{err}")) from err


def _changed_keys(stored: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    def canon(v: Any) -> str:
        return json.dumps(v, sort_keys=True, default=s.json_default)

    keys = list(dict.fromkeys([*stored, *new]))
    return [k for k in keys if k not in stored or k not in new or canon(stored[k]) != canon(new[k])]


def _delete_members(conn: Connection, study_id: int) -> None:
    ids = select(s.members.c.id).where(s.members.c.study_id == study_id).scalar_subquery()
    for table in _DETAILS:
        conn.execute(delete(table).where(table.c.member_id.in_(ids)))
    conn.execute(delete(s.members).where(s.members.c.study_id == study_id))


def _member_values(r: MemberRecord) -> dict[str, Any]:
    return {
        "key": r.key,
        "status": r.status,
        "strategy": r.strategy,
        "strategy_config": _json_dict("MemberRecord", "strategy_config", r.strategy_config),
        "split_id": r.split_id,
        "repeat": r.repeat,
        "fold": r.fold,
        "seed": r.seed,
        "n_train": r.n_train,
        "n_test": r.n_test,
        "error": r.error,
        "best_epoch": r.best_epoch,
        "stopped_epoch": r.stopped_epoch,
        "epochs_run": r.epochs_run,
        "test_scores": s.encode_float_map(r.test_scores),
        "train_scores": s.encode_float_map(r.train_scores),
        "sparsity": s.encode_float_map(r.sparsity),
        "config": _json_dict("MemberRecord", "config", r.config),
        "wall_s": r.wall_s,
        "started_at": r.started_at,
        "finished_at": r.finished_at or _now(),
    }


def _insert_details(conn: Connection, member_id: int, r: MemberRecord) -> None:
    if r.curves:
        conn.execute(
            insert(s.curves).values(
                member_id=member_id,
                **{
                    name: s.encode_floats(r.curves[name])
                    for name in CURVE_NAMES
                    if name in r.curves
                },
            )
        )
    if r.weight_hist:
        conn.execute(
            insert(s.histograms),
            [
                {"member_id": member_id, "layer": layer, "position": i,
                 "edges": s.encode_floats(edges), "counts": list(counts)}
                for i, (layer, (edges, counts)) in enumerate(r.weight_hist.items())
            ],
        )  # fmt: skip
    if r.feature_norms is not None:
        conn.execute(
            insert(s.feature_norms).values(
                member_id=member_id, norms=s.encode_floats(r.feature_norms)
            )
        )
    if r.test_pred is not None:
        conn.execute(
            insert(s.predictions).values(member_id=member_id, npy=s.array_to_npy(r.test_pred))
        )


def _record(row: Any, curves: Any, hists: Mapping[str, Any], norms: Any, pred: Any) -> MemberRecord:
    return MemberRecord(
        key=row.key,
        strategy=row.strategy,
        split_id=row.split_id,
        seed=row.seed,
        n_train=row.n_train,
        n_test=row.n_test,
        status=row.status,
        error=row.error,
        strategy_config=row.strategy_config or {},
        config=row.config or {},
        repeat=row.repeat,
        fold=row.fold,
        curves={
            name: s.decode_floats(getattr(curves, name))
            for name in CURVE_NAMES
            if curves is not None and getattr(curves, name) is not None
        },
        best_epoch=row.best_epoch,
        stopped_epoch=row.stopped_epoch,
        epochs_run=row.epochs_run,
        test_scores=s.decode_float_map(row.test_scores),
        train_scores=s.decode_float_map(row.train_scores),
        sparsity=s.decode_float_map(row.sparsity),
        weight_hist={k: (s.decode_floats(e), tuple(c)) for k, (e, c) in hists.items()},
        feature_norms=None if norms is None else s.decode_floats(norms),
        test_pred=pred,
        wall_s=row.wall_s,
        started_at=_utc(row.started_at),
        finished_at=_utc(row.finished_at),
    )
