"""Opening a store safely: where it lives, whether it may be touched, how SQLite is set up.

Nothing here writes to an existing file before it is known to be a reglab store of this schema
version: the SQLite header is read first, then the tables, and only then is the WAL journal
switched on. Every refusal is one line in the library's error shape and names the path.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import StaticPool

from reglab._validation import message
from reglab.errors import StoreError
from reglab.store import backend
from reglab.store import schema as s

__all__ = [
    "BUSY_TIMEOUT_S",
    "SQLITE_HEADER",
    "check_file",
    "check_url",
    "create_schema",
    "make_engine",
    "one_line",
    "refusal",
    "resolve",
    "schema_state",
    "shown",
    "store_file",
    "upgrade",
    "use_wal",
]

SQLITE_HEADER = b"SQLite format 3\x00"
BUSY_TIMEOUT_S = 30.0


def one_line(err: BaseException) -> str:
    """The first line of a database error (the driver's message when there is one)."""
    text = str(getattr(err, "orig", None) or err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def refusal(where: str, expected: str, got: str) -> StoreError:
    """``Store: `url_or_path` must be <expected>; got <where>, <got>.``"""
    return StoreError(f"Store: `url_or_path` must be {expected}; got {where}, {got}.")


def resolve(url_or_path: str | os.PathLike[str]) -> tuple[URL, Path | None]:
    """The database URL and, for an SQLite file, its absolute path.

    >>> url, path = resolve("sqlite://")
    >>> url.get_backend_name(), path
    ('sqlite', None)
    >>> resolve("postgresql://ada@db.lab/runs")[0].drivername  # psycopg 3 by default
    'postgresql+psycopg'
    """
    if isinstance(url_or_path, str) and "://" in url_or_path:
        try:
            url = make_url(url_or_path)
        except ArgumentError as err:
            raise StoreError(
                message("Store", "url_or_path", "a path or an SQLAlchemy URL", url_or_path)
            ) from err
        if url.get_backend_name() == "sqlite":
            url = _plain_sqlite(url, url_or_path)
        url = backend.normalize(url)
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


_URI_PARAMETERS = ("mode", "cache", "vfs", "immutable", "nolock", "psow", "modeof")


def _plain_sqlite(url: URL, given: str) -> URL:
    """An SQLite URL whose database is a plain file name, not an SQLite URI filename.

    ``sqlite:///file:runs.db?uri=true`` names ``runs.db``; left as it is, the path checks would
    look at a file literally called ``file:runs.db`` while SQLite opened ``runs.db``. URI
    parameters that change how the file is opened (``mode=ro``, ``cache=shared``...) are
    refused: a store must be opened read-write by a single, known path.
    """
    database = url.database or ""
    query = dict(url.query)
    uri = str(query.pop("uri", "")).lower() in ("true", "1", "yes", "on")
    if not uri and not database.startswith("file:"):
        return url
    unsupported = sorted(k for k in query if k in _URI_PARAMETERS)
    if "?" in database:
        database, _, extra = database.partition("?")
        unsupported += sorted(part.partition("=")[0] for part in extra.split("&") if part)
    if unsupported:
        raise StoreError(
            message(
                "Store",
                "url_or_path",
                "a path or sqlite:///path (SQLite URI parameters such as "
                f"{', '.join(unsupported)} are not supported)",
                given,
            )
        )
    if database.startswith("file:"):
        database = database.removeprefix("file:")
        if database.startswith("//"):
            host, _, rest = database[2:].partition("/")
            if host not in ("", "localhost"):
                raise StoreError(message("Store", "url_or_path", "a local SQLite file", given))
            database = "/" + rest
    return url.set(database=database, query={k: v for k, v in query.items()})


def check_url(url_or_path: str | os.PathLike[str]) -> None:
    """Refuse a store argument that cannot name a usable database before anything is read: a
    malformed URL, or a database whose driver is not installed (an SQLite file itself is
    checked when the store opens).

    >>> check_url("runs.db"), check_url("sqlite://")
    (None, None)
    """
    url, _ = resolve(url_or_path)
    backend.check_driver(url)


def shown(url_or_path: str | os.PathLike[str]) -> str:
    """A store argument as it may be printed: a URL's password hidden.

    >>> shown("postgresql+psycopg://ada:secret@db.lab/runs"), shown("runs.db")
    ('postgresql+psycopg://ada:***@db.lab/runs', 'runs.db')
    """
    text = str(url_or_path)
    if "://" not in text:
        return text
    try:
        return make_url(text).render_as_string(hide_password=True)
    except ArgumentError:
        return text


def store_file(url_or_path: str | os.PathLike[str]) -> Path | None:
    """The SQLite file a store argument names (``None`` for other databases or bad input).

    >>> store_file("sqlite://") is None, store_file("runs.db").name
    (True, 'runs.db')
    """
    try:
        return resolve(url_or_path)[1]
    except StoreError:
        return None


def check_file(path: Path, where: str, *, create: bool) -> None:
    """Refuse a path SQLite cannot use, or a file that is not an SQLite database (unread)."""
    parent = path.parent
    if not path.exists():
        if not create:
            raise refusal(where, "an existing reglab store", "which does not exist")
        expected = "a file in an existing, writable directory"
        if not parent.is_dir():
            state = "does not exist" if not parent.exists() else "is not a directory"
            raise refusal(where, expected, f"whose directory {state}")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise refusal(where, expected, "whose directory is not writable")
        return
    if path.is_dir():
        raise refusal(where, "a database file", "which is a directory")
    if not path.is_file():  # a FIFO would block the read below; a device is no database
        raise refusal(where, "a regular database file", "which is a special file")
    try:
        with path.open("rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except OSError as err:
        raise refusal(
            where, "a readable database file", f"which cannot be read ({err.strerror})"
        ) from err
    if header and header != SQLITE_HEADER:  # an empty file is a new SQLite database
        raise refusal(
            where,
            "a reglab store or a new file",
            "a file that is not an SQLite database; it was left unchanged",
        )


def make_engine(url: URL, *, memory: bool) -> Engine:
    """An engine; for SQLite with a busy timeout, foreign keys, and explicit transactions.

    pysqlite's own transaction handling is switched off so that SQLAlchemy's ``begin`` issues
    ``BEGIN`` itself: DDL becomes transactional, and a connection with the execution option
    ``reglab_write=True`` takes the write lock up front (``BEGIN IMMEDIATE``), so concurrent
    writers wait for each other (busy timeout) instead of failing on a lock upgrade.
    """
    if url.get_backend_name() != "sqlite":
        backend.check_driver(url)
        try:
            return create_engine(url, json_serializer=s.dumps, pool_pre_ping=True)
        except (ArgumentError, ImportError) as err:
            raise StoreError(
                message("Store", "url_or_path", "a usable SQLAlchemy URL", url.render_as_string())
                + f" ({one_line(err)})"
            ) from err
    options: dict[str, Any] = {"json_serializer": s.dumps}
    if memory:
        options.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        options.update(connect_args={"timeout": BUSY_TIMEOUT_S})
    engine = create_engine(url, **options)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        dbapi_connection.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        dbapi_connection.execute("PRAGMA foreign_keys = ON")
        dbapi_connection.execute("PRAGMA synchronous = NORMAL")

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get("reglab_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def schema_state(conn: Connection, where: str) -> str:
    """``"ours"`` for a store of this schema version, ``"old"`` for one :func:`upgrade` can
    bring to it, ``"empty"`` for an empty database.

    Anything else (another application's tables, another schema version) is refused.
    """
    names = set(inspect(conn).get_table_names())
    if s.info.name not in names:
        if names:
            listed = ", ".join(sorted(names)[:5]) + (", ..." if len(names) > 5 else "")
            raise refusal(
                where,
                "a reglab store or a new database",
                f"a database of another application (tables: {listed}); it was left unchanged",
            )
        return "empty"
    version = conn.execute(
        select(s.info.c.value).where(s.info.c.key == "schema_version")
    ).scalar_one_or_none()
    if version is not None and version.isdigit() and int(version) in s.UPGRADES:
        return "old"
    if version != str(s.SCHEMA_VERSION):
        raise refusal(
            where,
            f"a reglab store of schema version {s.SCHEMA_VERSION}",
            f"a store of schema version {version} (another reglab version wrote it); "
            "it was left unchanged",
        )
    missing = sorted({t.name for t in s.TABLES} - names)
    if missing:
        raise refusal(where, "a complete reglab store", f"one missing tables {missing}")
    return "ours"


def create_schema(conn: Connection, created_at: str) -> None:
    """Create every table and record the schema version (inside the caller's transaction)."""
    s.metadata.create_all(conn)
    conn.execute(
        s.info.insert(),
        [
            {"key": "schema_version", "value": str(s.SCHEMA_VERSION)},
            {"key": "created_at", "value": created_at},
        ],
    )


def upgrade(conn: Connection) -> int:
    """Upgrade an ``"old"`` store to this schema version (inside the caller's transaction).

    Returns the version it had.
    """
    version = int(
        conn.execute(select(s.info.c.value).where(s.info.c.key == "schema_version")).scalar_one()
    )
    start = version
    while version in s.UPGRADES:
        for statement in s.UPGRADES[version]:
            words = statement.split()
            if len(words) == 3 and words[:2] == ["CREATE", "TABLE"]:  # as the metadata has it
                s.metadata.tables[words[2]].create(conn)
            else:
                conn.exec_driver_sql(statement)
        version += 1
    conn.execute(s.info.update().where(s.info.c.key == "schema_version").values(value=str(version)))
    return start


def use_wal(engine: Engine, where: str) -> None:
    """Switch an SQLite file to the WAL journal (persistent; outside any transaction)."""
    with engine.connect() as conn:
        cursor = conn.connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
        except sqlite3.Error as err:
            raise StoreError(f"Store {where}: switching to the WAL journal failed: {err}") from err
        finally:
            cursor.close()
