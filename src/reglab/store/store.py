"""The result store: studies and their members in a relational database (SQLite by default).

Durability: every call that writes is one transaction, so each finished member is committed on
its own and a killed process loses at most the members in flight. SQLite files use the WAL
journal (readers never block the writer) with ``synchronous=NORMAL`` and a busy timeout; writes
take the write lock up front (``BEGIN IMMEDIATE``) so concurrent writers wait instead of failing.
A PostgreSQL store is shared by processes on many hosts; what keeps their transactions apart
there is in :mod:`reglab.store.backend`. An in-memory SQLite store (``sqlite://``) is one
connection, shared by the threads of its process one transaction at a time.

Safety: opening never destroys data. A file that is not an SQLite database, a database of
another application, or a store of another schema version is refused with a
:class:`~reglab.errors.StoreError` and left untouched.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Select, delete, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from reglab import _signals
from reglab._validation import check_choice, check_positive, message, suggest
from reglab.errors import ConfigError, StoreError
from reglab.store import backend, claims, rows
from reglab.store import connection as c
from reglab.store import schema as s
from reglab.store.records import (
    RECORD_STATUSES,
    MemberRecord,
    StudyInfo,
    check_name,
    check_study_status,
)

__all__ = ["ON_CONFIG_CHANGE", "Store"]

ON_CONFIG_CHANGE = ("error", "extend", "replace")


class Store:
    """Studies, members, curves and diagnostics in one database.

    Args:
        url_or_path: a file path (an SQLite database, created when missing) or any SQLAlchemy
            URL (``sqlite:///results.db``, ``postgresql+psycopg://user@host/db``; a plain
            ``postgresql://`` uses psycopg 3, installed by ``pip install 'reglab[postgres]'``).
            A database that is not empty must be a reglab store: give reglab a database of its
            own. Many processes, on many hosts, may share one PostgreSQL store.
        create: create the store when missing; ``False`` refuses a missing or empty database.

    Raises:
        StoreError: the path's directory is missing or not writable, the file is not an SQLite
            database, the database belongs to another application or schema version, or the
            database cannot be reached. The message names the path; the file is left as it was.

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "results.db"
    >>> with Store(path) as store:
    ...     info = store.create_study("w1", {"strategies": ["none", "l2"]})
    ...     saved = store.save_member("w1", MemberRecord("k0", "l2", split_id=0, seed=1,
    ...                                 n_train=80, n_test=20, test_scores={"accuracy": 0.9}))
    ...     [(m.key, m.test_scores) for m in store.load_members("w1")]
    [('k0', {'accuracy': 0.9})]
    """

    def __init__(self, url_or_path: str | os.PathLike[str], *, create: bool = True) -> None:
        self._url, self._path = c.resolve(url_or_path)
        self._where = repr(str(self._path) if self._path else self.url)
        if self._path is not None:
            c.check_file(self._path, self._where, create=create)
        self._engine = c.make_engine(self._url, memory=self._is_memory)
        # One in-memory connection serves every thread (the heartbeat's too): a transaction
        # must end before another thread begins one on it.
        self._serial: AbstractContextManager[Any] = (
            threading.RLock() if self._is_memory else nullcontext()
        )
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
    def shared(self) -> bool:
        """Whether processes on other hosts open this store too: a PostgreSQL server, where
        an SQLite file belongs to the host it is on."""
        return self._url.get_backend_name() == "postgresql"

    def connect_url(self) -> str:
        """The URL with its password, for another process that opens this store itself (a
        Ray worker writing its members); never print it (:attr:`url` hides the password)."""
        return self._url.render_as_string(hide_password=False)

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
            with _signals.atomic(), self._serial, self._engine.connect() as conn:
                if write:
                    conn.execution_options(reglab_write=True)
                with conn.begin():
                    yield conn
        except SQLAlchemyError as err:
            raise StoreError(f"Store {self._where}: {doing} failed: {c.one_line(err)}") from err

    def _prepare(self, create: bool) -> None:
        with self._tx("reading the schema") as conn:
            state = c.schema_state(conn, self._where)
        if state == "old":
            with self._tx("upgrading the store's schema", write=True) as conn:
                backend.serialize(conn, "schema")
                if c.schema_state(conn, self._where) == "old":  # no other process was faster
                    c.upgrade(conn)
        if state == "empty":
            if not create:
                raise c.refusal(
                    self._where, "an existing reglab store", "an empty database (create=False)"
                )
            with self._tx("creating the schema", write=True) as conn:
                backend.serialize(conn, "schema")
                if c.schema_state(conn, self._where) == "empty":  # no other process was faster
                    c.create_schema(conn, rows.now().isoformat())
        if self._path is not None:
            c.use_wal(self._engine, self._where)

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
        config = rows.json_dict(who, "config", config)
        metadata = rows.json_dict(who, "metadata", metadata or {})
        names = None if feature_names is None else [str(n) for n in feature_names]
        now = rows.now()
        with self._tx(f"creating study {name!r}", write=True) as conn:
            backend.serialize(conn, "studies")  # two processes starting one study: one creates it
            row = conn.execute(select(s.studies).where(s.studies.c.name == name)).first()
            if row is None:
                conn.execute(
                    insert(s.studies).values(
                        name=name,
                        created_at=now,
                        updated_at=now,
                        status="created",
                        config=config,
                        run_metadata=metadata,
                        feature_names=names,
                    )
                )
                return rows.study_infos(conn, [name])[0]
            if not exist_ok:
                raise StoreError(
                    f"Store {self._where}: `name` must be a new study name (exist_ok=False); "
                    f"got {name!r}, which exists."
                )
            values: dict[str, Any] = {"updated_at": now}
            changed = rows.changed_keys(row.config, config)
            if changed:
                self._check_config_change(conn, row, config, changed, on_config_change)
                if on_config_change == "replace":
                    rows.delete_members(conn, row.id)
                    values["status"] = "created"
                values["config"] = config
            values["run_metadata"] = {**row.run_metadata, **metadata}
            if names is not None:
                values["feature_names"] = names
            conn.execute(update(s.studies).where(s.studies.c.id == row.id).values(**values))
            return rows.study_infos(conn, [name])[0]

    def _check_config_change(
        self,
        conn: Connection,
        row: Any,
        config: Mapping[str, Any],
        changed: Sequence[str],
        policy: str,
    ) -> None:
        """Refuse a config change the policy does not allow, naming what differs.

        ``"extend"`` may only add strategies (anything else would mix members trained under
        different settings in one comparison); ``"replace"`` may not delete members another
        process is training now.
        """
        name = row.name
        head = f"Store {self._where}: study {name!r} "
        differs = "; ".join(changed)
        additive = rows.only_added(row.config, config, "strategies")
        if policy == "error":
            if additive:
                fix = (
                    "Pass on_config_change='extend' (command line: --on-config-change extend) to "
                    "add the new strategies to it, or 'replace' to start it over."
                )
            else:
                fix = (
                    "Use another study name (command line: --name), or "
                    "on_config_change='replace' (--on-config-change replace) to start it over; "
                    "'extend' only adds strategies."
                )
            raise StoreError(
                f"Store {self._where}: `config` must equal the stored config of study {name!r} "
                f"to resume it; got one that differs in {differs}. {fix}"
            )
        if policy == "extend" and not additive:
            raise StoreError(
                head + "can be extended only by adding strategies (on_config_change='extend'); "
                f"got a config that differs in {differs}. Use another study name (command "
                "line: --name) or on_config_change='replace' (--on-config-change replace)."
            )
        if policy == "replace":
            live = claims.live_claims(conn, row.id)
            if live:
                who = ", ".join(
                    f"{owner.rpartition(':')[0]} ({n} members)" for owner, n in live.items()
                )
                raise StoreError(
                    head + "cannot be replaced (on_config_change='replace') while another "
                    f"process trains it: {who}. Wait for it to finish, or use another study "
                    "name (command line: --name)."
                )

    def get_study(self, name: str) -> StudyInfo:
        """The stored study ``name`` (a :class:`StoreError` with a suggestion if unknown)."""
        with self._tx(f"reading study {name!r}") as conn:
            self._study_id(conn, name)
            return rows.study_infos(conn, [name])[0]

    def list_studies(self) -> list[StudyInfo]:
        """Every stored study, oldest first, with member counts by status and strategies."""
        with self._tx("listing studies") as conn:
            return rows.study_infos(conn, None)

    def delete_study(self, name: str) -> None:
        """Delete a study and everything stored for its members."""
        with self._tx(f"deleting study {name!r}", write=True) as conn:
            backend.serialize(conn, "studies")
            sid = self._study_id(conn, name)
            rows.delete_members(conn, sid)
            conn.execute(delete(s.studies).where(s.studies.c.id == sid))

    def update_metadata(
        self, study: str | StudyInfo, metadata: Mapping[str, Any], *, replace: bool = False
    ) -> None:
        """Merge ``metadata`` into the study's metadata (top-level keys), or ``replace`` it."""
        metadata = rows.json_dict("Store.update_metadata", "metadata", metadata)
        with self._tx("updating metadata", write=True) as conn:
            sid = self._study_id(conn, study)
            if not replace:
                stored = conn.execute(
                    select(s.studies.c.run_metadata).where(s.studies.c.id == sid).with_for_update()
                ).scalar_one()
                metadata = {**stored, **metadata}
            conn.execute(
                update(s.studies)
                .where(s.studies.c.id == sid)
                .values(run_metadata=metadata, updated_at=rows.now())
            )

    def set_status(self, study: str | StudyInfo, status: str) -> None:
        """Set the study's status (``created``, ``running``, ``done`` or ``failed``)."""
        check_study_status("Store.set_status", status)
        with self._tx("setting the study status", write=True) as conn:
            sid = self._study_id(conn, study)
            conn.execute(
                update(s.studies)
                .where(s.studies.c.id == sid)
                .values(status=status, updated_at=rows.now())
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

    def live_claims(self, study: str | StudyInfo) -> dict[str, int]:
        """The processes training ``study`` now (owner → members held; see
        :func:`reglab.store.claims.live_claims`). Empty when no live process holds a claim."""
        with self._tx("reading claims") as conn:
            return claims.live_claims(conn, self._study_id(conn, study))

    def claim(
        self,
        study: str | StudyInfo,
        keys: Iterable[str],
        owner: str,
        *,
        lease_s: float = claims.DEFAULT_LEASE_S,
    ) -> list[str]:
        """Claim the members ``keys`` for ``owner`` (see :mod:`reglab.store.claims`).

        Finished members and members validly claimed by another owner are left alone; the rest
        are marked ``running`` under ``owner`` until ``lease_s`` seconds from now. Returns the
        claimed keys, in the given order.
        """
        keys = list(keys)
        for key in keys:
            check_name("Store.claim", "keys", key)
        check_positive("Store.claim", "lease_s", lease_s)
        with self._tx("claiming members", write=True) as conn:
            return claims.claim(conn, self._study_id(conn, study), keys, owner, lease_s)

    def drop_expired(self, study: str | StudyInfo, prefix: str) -> int:
        """Delete the lapsed claims whose keys start with ``prefix`` (see
        :func:`reglab.store.claims.drop_expired`); returns how many went."""
        with self._tx("dropping lapsed claims", write=True) as conn:
            return claims.drop_expired(conn, self._study_id(conn, study), prefix)

    def heartbeat(
        self, study: str | StudyInfo, owner: str, *, lease_s: float = claims.DEFAULT_LEASE_S
    ) -> int:
        """Renew ``owner``'s claims for ``lease_s`` seconds; returns how many it holds."""
        with self._tx("renewing claims", write=True) as conn:
            return claims.heartbeat(conn, self._study_id(conn, study), owner, lease_s)

    def release(
        self, study: str | StudyInfo, owner: str, *, keys: Sequence[str] | None = None
    ) -> int:
        """Give up ``owner``'s unfinished members, or only those of ``keys`` (they become
        pending again)."""
        with self._tx("releasing claims", write=True) as conn:
            return claims.release(conn, self._study_id(conn, study), owner, keys)

    def save_member(self, study: str | StudyInfo, record: MemberRecord) -> bool:
        """Store a finished member in its own transaction; returns whether it was written.

        A member already stored as finished (``done`` or ``failed``) is never overwritten: the
        call returns ``False`` and changes nothing (another process finished it first; members
        are deterministic, so its result is the same). A ``running`` row (a claim) is filled in.
        """
        if not isinstance(record, MemberRecord):
            raise ConfigError(message("Store.save_member", "record", "a MemberRecord", record))
        values = rows.member_values(record)
        m = s.members
        with self._tx(f"saving member {record.key!r}", write=True) as conn:
            sid = self._study_id(conn, study)
            stored = (
                select(m.c.id, m.c.status, m.c.started_at)
                .where(m.c.study_id == sid, m.c.key == record.key)
                .with_for_update()  # PostgreSQL: another process saving it waits, then sees it
            )
            row = conn.execute(stored).first()
            if row is None:
                new = backend.insert_or_skip(m, conn, ("study_id", "key"))
                inserted = conn.execute(
                    new.values(study_id=sid, **values).returning(m.c.id)
                ).scalar()
                if inserted is not None:
                    rows.insert_details(conn, int(inserted), record)
                    return True
                row = conn.execute(stored).one()  # another process inserted it since
            if row.status in RECORD_STATUSES:
                return False
            mid = int(row.id)
            values["started_at"] = values["started_at"] or row.started_at
            conn.execute(update(m).where(m.c.id == mid).values(lease_until=None, **values))
            rows.insert_details(conn, mid, record)
            return True

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
            with_details: read weight histograms, feature norms and conv filters.
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
            found = conn.execute(select(m).where(*where).order_by(m.c.id)).all()

            def details(table: Any) -> Select[Any]:
                return select(table).join(m, m.c.id == table.c.member_id).where(*where)

            curves = (
                {r.member_id: r for r in conn.execute(details(s.curves))} if with_curves else {}
            )
            hists: dict[int, dict[str, Any]] = {}
            norms: dict[int, Any] = {}
            filters: dict[int, Any] = {}
            if with_details:
                order = (s.histograms.c.member_id, s.histograms.c.position)
                for r in conn.execute(details(s.histograms).order_by(*order)):
                    hists.setdefault(r.member_id, {})[r.layer] = (r.edges, r.counts)
                norms = {r.member_id: r.norms for r in conn.execute(details(s.feature_norms))}
                filters = {
                    r.member_id: s.npy_to_array(r.npy)
                    for r in conn.execute(details(s.conv_filters))
                }
            preds = (
                {r.member_id: s.npy_to_array(r.npy) for r in conn.execute(details(s.predictions))}
                if with_predictions
                else {}
            )
        return [
            rows.to_record(
                row,
                curves.get(row.id),
                hists.get(row.id, {}),
                norms.get(row.id),
                preds.get(row.id),
                filters.get(row.id),
            )
            for row in found
        ]
