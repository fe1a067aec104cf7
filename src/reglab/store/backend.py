"""What differs between the store's databases: SQLite (one file, one writer at a time) and
PostgreSQL (a server shared by many processes, on many hosts).

SQLite takes its database's write lock when a write transaction begins (``BEGIN IMMEDIATE``),
so every write transaction sees the last one's result and nothing more is needed. PostgreSQL
lets write transactions run side by side, so the store says what must not overlap:

* :func:`serialize` takes a transaction-scoped advisory lock, so that two processes creating the
  same schema or the same study one after the other instead of both at once;
* rows to be changed are read ``FOR UPDATE`` (claims ``SKIP LOCKED``: a row another process is
  changing now is not waited for, it is not claimable anyway);
* :func:`insert_or_skip` inserts rows that another process may be inserting at the same moment
  (``ON CONFLICT DO NOTHING``), and reports which rows it inserted;
* :func:`database_now` reads the time from the database server, so that leases written by
  processes on different hosts are compared on one clock.

A ``postgresql://`` URL without a driver means psycopg 3 (``postgresql+psycopg://``), the driver
the ``postgres`` extra installs; without it a PostgreSQL URL is refused with the command that
installs it.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, Insert, Table, insert, text
from sqlalchemy.engine import URL

from reglab._validation import message
from reglab.errors import StoreError
from reglab.store import rows

__all__ = [
    "POSTGRES_EXTRA",
    "check_driver",
    "database_now",
    "insert_or_skip",
    "normalize",
    "serialize",
]

POSTGRES_EXTRA = "pip install 'reglab[postgres]'"
"""The command that installs the PostgreSQL driver."""


def normalize(url: URL) -> URL:
    """A PostgreSQL URL without a driver uses psycopg 3.

    >>> from sqlalchemy.engine import make_url
    >>> normalize(make_url("postgresql://ada@db.lab/runs")).drivername
    'postgresql+psycopg'
    """
    if url.drivername == "postgresql":
        return url.set(drivername="postgresql+psycopg")
    return url


def check_driver(url: URL) -> None:
    """Refuse a URL whose database driver is not installed, naming what to install.

    Runs before anything connects (the command line checks a ``--store`` URL before loading
    any data). SQLite's driver is part of Python.
    """
    if url.get_backend_name() == "sqlite":
        return
    shown = url.render_as_string(hide_password=True)
    try:
        dialect = url.get_dialect()
    except Exception as err:  # sqlalchemy's NoSuchModuleError, or a broken plugin
        raise StoreError(
            message("Store", "url_or_path", "an SQLAlchemy URL of a known database", shown)
        ) from err
    try:
        dialect.import_dbapi()
    except ImportError as err:
        module = err.name or dialect.driver
        if url.get_backend_name() != "postgresql":
            install = f"install the Python package that provides {module!r}"
        elif url.get_driver_name() == "psycopg":
            install = POSTGRES_EXTRA
        else:
            install = f"install it, or use postgresql+psycopg:// after {POSTGRES_EXTRA}"
        raise StoreError(
            f"Store: `url_or_path` {shown!r} needs the database driver {module!r}, which is "
            f"not installed: {install}."
        ) from err


def serialize(conn: Connection, what: str) -> None:
    """Make transactions that call this with the same ``what`` run one after another.

    PostgreSQL: a transaction-scoped advisory lock keyed by ``what`` (released at commit or
    rollback). SQLite: nothing to do, the write transaction already holds the database's lock.
    """
    if conn.dialect.name == "postgresql":
        key = zlib.crc32(f"reglab:{what}".encode())
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def database_now(conn: Connection) -> datetime:
    """The current time as the database server tells it (UTC); this host's clock for SQLite.

    Leases are written and compared in this time: processes on hosts whose clocks disagree
    still agree on whether a lease has expired.
    """
    if conn.dialect.name == "postgresql":
        value = conn.execute(text("SELECT clock_timestamp()")).scalar_one()
        return rows.utc(value) or value
    return rows.now()


def insert_or_skip(table: Table, conn: Connection, unique: Sequence[str]) -> Insert:
    """An ``INSERT`` that skips rows whose ``unique`` columns are already taken.

    On PostgreSQL another process may insert the same row between our read and our write; the
    row it inserted wins, and ``RETURNING`` tells which rows were ours. On SQLite the write lock
    makes the read and the write one step, so a conflict cannot happen, but the same statement
    is used. Other databases get a plain ``INSERT`` (a conflict is then an error).
    """
    name = conn.dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing(index_elements=list(unique))
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing(index_elements=list(unique))
    return insert(table)
