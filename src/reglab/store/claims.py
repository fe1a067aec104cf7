"""Claims on members: which process trains what, so that nothing is trained twice or lost.

A process that wants to train members *claims* them first: in one write transaction it marks
each unclaimed member ``running`` under its own **owner** id with a **lease** (a time until
which the claim holds). While it trains, a heartbeat extends its leases. A claim can be taken
over when its lease has expired, when its owner ran on this host and its process is gone
(``kill -9``), or when the row has no owner (released, or written by reglab 0.1). A finished
member (``done`` or ``failed``) is never claimed again and its row is never overwritten.

So two commands started on one store divide the members between them, a command that resumes a
killed run takes over the dead run's members at once, and a worker on another host that died
loses its members only for the length of its lease.

The same code is correct on SQLite and on PostgreSQL. On SQLite a claim runs while its process
holds the database's write lock. On PostgreSQL several claims run at once: the rows a claim
may take are locked ``FOR UPDATE SKIP LOCKED`` (a row another transaction holds is left to it),
new rows are inserted in key order with ``ON CONFLICT DO NOTHING`` (two claimers inserting the
same members neither fail nor deadlock; each gets the rows it inserted), and leases are timed
by the database server's clock (:func:`reglab.store.backend.database_now`).
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Connection, select, update

from reglab.store import backend, rows
from reglab.store import schema as s

__all__ = [
    "DEFAULT_LEASE_S",
    "claim",
    "drop_expired",
    "heartbeat",
    "is_expired",
    "live_claims",
    "new_owner",
    "release",
]

DEFAULT_LEASE_S = 60.0
"""How long a claim holds without a heartbeat (the heartbeat renews it every third of that)."""

_CHUNK = 500


def new_owner() -> str:
    """A unique owner id for this process: ``host:pid:random``."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _dead_here(owner: str) -> bool:
    """Whether ``owner`` ran on this host in a process that no longer exists."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # it exists, under another user
        return False
    return False


def is_expired(owner: str | None, lease_until: datetime | None, now: datetime) -> bool:
    """Whether a ``running`` row may be taken over (no owner, lease over, or owner gone)."""
    if owner is None or lease_until is None:
        return True
    return (rows.utc(lease_until) or lease_until) <= now or _dead_here(owner)


def claim(
    conn: Connection, study_id: int, keys: Sequence[str], owner: str, lease_s: float
) -> list[str]:
    """Claim the members ``keys`` that are neither finished nor validly claimed by another.

    Runs inside the caller's write transaction (for SQLite ``BEGIN IMMEDIATE``, which holds the
    database's write lock, so two claimers see each other's claims; for PostgreSQL see the
    module's notes). Returns the claimed keys in the given order; members already claimed by
    ``owner`` are included (their lease renewed).
    """
    keys = list(dict.fromkeys(keys))
    now = backend.database_now(conn)
    until = now + timedelta(seconds=lease_s)
    m = s.members
    stored: dict[str, tuple[str, str | None, datetime | None]] = {}
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        query = (
            select(m.c.key, m.c.status, m.c.owner, m.c.lease_until)
            .where(m.c.study_id == study_id, m.c.key.in_(chunk))
            .with_for_update(skip_locked=True)
        )
        stored.update((r.key, (r.status, r.owner, r.lease_until)) for r in conn.execute(query))
    take: list[str] = []
    new: list[str] = []
    for key in keys:
        if key not in stored:
            new.append(key)
            continue
        status, holder, lease_until = stored[key]
        if status != "running":
            continue
        if holder == owner or is_expired(holder, lease_until, now):
            take.append(key)
    for start in range(0, len(take), _CHUNK):
        conn.execute(
            update(m)
            .where(m.c.study_id == study_id, m.c.key.in_(take[start : start + _CHUNK]))
            .values(owner=owner, lease_until=until, started_at=now, error=None)
        )
    claimed = set(take)
    new.sort()  # one order for every claimer: concurrent inserts wait, never deadlock
    for start in range(0, len(new), _CHUNK):
        values = [
            {
                "study_id": study_id,
                "key": k,
                "status": "running",
                "owner": owner,
                "lease_until": until,
                "started_at": now,
            }
            for k in new[start : start + _CHUNK]
        ]
        inserted = backend.insert_or_skip(m, conn, ("study_id", "key")).values(values)
        claimed.update(conn.execute(inserted.returning(m.c.key)).scalars())
    return [k for k in keys if k in claimed]


def heartbeat(conn: Connection, study_id: int, owner: str, lease_s: float) -> int:
    """Renew the leases of ``owner``'s running members; returns how many it still holds."""
    m = s.members
    result = conn.execute(
        update(m)
        .where(m.c.study_id == study_id, m.c.owner == owner, m.c.status == "running")
        .values(lease_until=backend.database_now(conn) + timedelta(seconds=lease_s))
    )
    return int(result.rowcount or 0)


def release(conn: Connection, study_id: int, owner: str, keys: Sequence[str] | None = None) -> int:
    """Give up ``owner``'s unfinished members (only ``keys`` when given): their rows go, so
    they are pending again."""
    m = s.members
    where = [m.c.study_id == study_id, m.c.owner == owner, m.c.status == "running"]
    if keys is None:
        return int(conn.execute(m.delete().where(*where)).rowcount or 0)
    keys = list(dict.fromkeys(keys))
    gone = 0
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        gone += int(conn.execute(m.delete().where(*where, m.c.key.in_(chunk))).rowcount or 0)
    return gone


def drop_expired(conn: Connection, study_id: int, prefix: str) -> int:
    """Delete the ``running`` rows whose key starts with ``prefix`` and whose claim may be
    taken over (:func:`is_expired`): rows no one will finish, such as a dead process's
    presence. Returns how many went."""
    now = backend.database_now(conn)
    m = s.members
    query = select(m.c.key, m.c.owner, m.c.lease_until).where(
        m.c.study_id == study_id,
        m.c.status == "running",
        m.c.key.startswith(prefix, autoescape=True),
    )
    stale = [r.key for r in conn.execute(query) if is_expired(r.owner, r.lease_until, now)]
    for start in range(0, len(stale), _CHUNK):
        chunk = stale[start : start + _CHUNK]
        conn.execute(m.delete().where(m.c.study_id == study_id, m.c.key.in_(chunk)))
    return len(stale)


def live_claims(conn: Connection, study_id: int) -> dict[str, int]:
    """The processes training the study now: owner → how many members it holds.

    A claim counts while its lease holds and its owner, when it ran on this host, is alive.
    """
    now = backend.database_now(conn)
    m = s.members
    query = select(m.c.owner, m.c.lease_until).where(
        m.c.study_id == study_id, m.c.status == "running"
    )
    held: dict[str, int] = {}
    for owner, lease_until in conn.execute(query):
        if not is_expired(owner, lease_until, now):
            held[owner] = held.get(owner, 0) + 1
    return held
