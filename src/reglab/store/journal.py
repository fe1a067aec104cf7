"""Optuna's journal in a table of the store: one database holds the members and the search.

``reglab tune`` keeps its Optuna study in the same database as the members it trains, so one
``--store`` (an SQLite file or any SQLAlchemy URL) is the whole state of a tuning run. Optuna's
own RDB storage cannot share a reglab store (both name a table ``studies``), so the search is
kept as Optuna's *journal* (an append-only log of operations, replayed on load;
:class:`optuna.storages.JournalStorage`) in one extra table, ``tune_journal``, created when
first used. Each append is one transaction, so a process killed mid-run leaves a journal that
replays to the last completed operation.

Optuna is imported lazily (the ``tune`` extra); this module only needs SQLAlchemy.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, Integer, MetaData, Table, Text, select

from reglab.store import backend

if TYPE_CHECKING:
    from optuna.storages import JournalStorage

    from reglab.store.store import Store

__all__ = ["JOURNAL_TABLE", "StoreJournal", "journal_storage"]

_metadata = MetaData()
JOURNAL_TABLE = Table(
    "tune_journal",
    _metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("log", Text, nullable=False),
)
"""One row per journal entry; entry ``n`` is the ``n``-th row in ``id`` order (counted from 0,
so a gap in the ids, as a PostgreSQL sequence may leave, changes nothing)."""


class StoreJournal:
    """Optuna's ``BaseJournalBackend`` on a :class:`~reglab.store.Store`'s database.

    ``read_logs(n)`` returns the entries from number ``n`` on; ``append_logs`` adds entries in
    one transaction; appends run one after another (the store's write lock on SQLite, an
    advisory lock on PostgreSQL), so several processes sharing one journal each read the same
    sequence of entries.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        with store._tx("creating the tuning journal", write=True) as conn:
            JOURNAL_TABLE.create(conn, checkfirst=True)

    def read_logs(self, log_number_from: int) -> Iterable[dict[str, Any]]:
        query = select(JOURNAL_TABLE.c.log).order_by(JOURNAL_TABLE.c.id).offset(log_number_from)
        with self._store._tx("reading the tuning journal") as conn:
            rows = conn.execute(query).scalars().all()
        return [json.loads(row) for row in rows]

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        if not logs:
            return
        with self._store._tx("writing the tuning journal", write=True) as conn:
            # Appends one after another, so entries commit in ``id`` order: a reader never
            # sees entry n + 1 before entry n (PostgreSQL hands out ids before commit).
            backend.serialize(conn, "tune_journal")
            conn.execute(JOURNAL_TABLE.insert(), [{"log": json.dumps(log)} for log in logs])


def journal_storage(store: Store) -> JournalStorage:
    """An Optuna storage whose journal lives in ``store``'s database."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import BaseJournalBackend

    class _Backend(StoreJournal, BaseJournalBackend):
        pass

    return JournalStorage(_Backend(store))
