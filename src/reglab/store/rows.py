"""Between records and rows: one member is one ``members`` row plus its detail rows.

Per-epoch arrays and float maps go through :func:`~reglab.store.schema.encode_floats` so that
NaN and infinities survive as standard JSON; test predictions are ``.npy`` blobs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select

from reglab._validation import message
from reglab.errors import ConfigError
from reglab.store import schema as s
from reglab.store.records import (
    CURVE_NAMES,
    MEMBER_STATUSES,
    STRENGTH_PREFIX,
    MemberRecord,
    StudyInfo,
)

__all__ = [
    "DETAILS",
    "changed_keys",
    "delete_details",
    "delete_members",
    "insert_details",
    "json_dict",
    "member_values",
    "named_entries",
    "now",
    "only_added",
    "study_infos",
    "to_record",
    "utc",
]

DETAILS = (s.curves, s.histograms, s.feature_norms, s.predictions, s.conv_filters)
"""The per-member tables, replaced whole when a member is saved again."""


def now() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


def utc(value: datetime | None) -> datetime | None:
    """A stored time as an aware UTC time (SQLite returns naive ones)."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def json_dict(who: str, param: str, value: Any) -> dict[str, Any]:
    """A JSON-serializable mapping as plain JSON values (NumPy values, paths converted)."""
    if not isinstance(value, Mapping):
        raise ConfigError(message(who, param, "a mapping", value))
    try:
        return dict(json.loads(s.dumps(value)))
    except (TypeError, ValueError) as err:
        raise ConfigError(message(who, param, "JSON-serializable", f"{err}")) from err


def changed_keys(stored: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """The settings that differ between two configs, as ``path (stored X, given Y)``.

    Nested mappings are compared key by key (paths joined by ``.``); anything else is compared
    as canonical JSON.

    >>> changed_keys({"train": {"epochs": 100, "lr": 0.001}}, {"train": {"epochs": 5, "lr": 0.001}})
    ['train.epochs (stored 100, given 5)']

    Lists of named mappings (strategies) are compared by name:

    >>> a, b = {"s": [{"name": "a", "l2": 1}]}, {"s": [{"name": "a", "l2": 2}, {"name": "b"}]}
    >>> changed_keys(a, b)
    ["s['a'].l2 (stored 1, given 2)", "s (added 'b')"]
    """

    def canon(v: Any) -> str:
        return json.dumps(v, sort_keys=True, default=s.json_default)

    def short(v: Any) -> str:
        text = canon(v)
        return text if len(text) <= 60 else text[:57] + "..."

    out: list[str] = []

    def walk(a: Mapping[str, Any], b: Mapping[str, Any], prefix: str) -> None:
        for k in dict.fromkeys([*a, *b]):
            path = f"{prefix}{k}"
            if k not in a:
                out.append(f"{path} (not stored, given {short(b[k])})")
            elif k not in b:
                out.append(f"{path} (stored {short(a[k])}, not given)")
            elif isinstance(a[k], Mapping) and isinstance(b[k], Mapping):
                walk(a[k], b[k], f"{path}.")
            elif (na := named_entries(a[k])) and (nb := named_entries(b[k])):
                for n in dict.fromkeys([*na, *nb]):
                    if n not in na:
                        out.append(f"{path} (added {n!r})")
                    elif n not in nb:
                        out.append(f"{path} (removed {n!r})")
                    else:
                        walk(na[n], nb[n], f"{path}[{n!r}].")
            elif canon(a[k]) != canon(b[k]):
                out.append(f"{path} (stored {short(a[k])}, given {short(b[k])})")

    walk(stored, new, "")
    return out


def named_entries(value: Any) -> dict[str, Mapping[str, Any]] | None:
    """A list of mappings with distinct ``name`` strings as ``name → mapping``, else ``None``.

    >>> list(named_entries([{"name": "l2", "l2": 1e-4}, {"name": "none"}]))
    ['l2', 'none']
    """
    if not isinstance(value, list | tuple) or not value:
        return None
    if not all(isinstance(e, Mapping) and isinstance(e.get("name"), str) for e in value):
        return None
    entries = {e["name"]: e for e in value}
    return entries if len(entries) == len(value) else None


def only_added(stored: Mapping[str, Any], new: Mapping[str, Any], key: str) -> bool:
    """Whether ``new`` is ``stored`` with entries added to the named list ``new[key]`` and no
    other change (what extending a study may do).

    >>> old = {"seed": 0, "strategies": [{"name": "none"}]}
    >>> only_added(old, {"seed": 0, "strategies": [{"name": "none"}, {"name": "l2"}]}, "strategies")
    True
    >>> only_added(old, {"seed": 1, "strategies": [{"name": "none"}, {"name": "l2"}]}, "strategies")
    False
    """
    rest_a = {k: v for k, v in stored.items() if k != key}
    rest_b = {k: v for k, v in new.items() if k != key}
    if changed_keys(rest_a, rest_b):
        return False
    before, after = named_entries(stored.get(key)), named_entries(new.get(key))
    if before is None or after is None:
        return False
    return all(n in after and not changed_keys(e, after[n]) for n, e in before.items())


def study_infos(conn: Connection, names: Sequence[str] | None) -> list[StudyInfo]:
    """The studies ``names`` (all when ``None``), oldest first, with member counts by status and
    strategies in the order they were first stored."""
    query = select(s.studies).order_by(s.studies.c.created_at, s.studies.c.id)
    if names is not None:
        query = query.where(s.studies.c.name.in_(names))
    found = conn.execute(query).all()
    ids = [r.id for r in found]
    counts = {sid: dict.fromkeys(MEMBER_STATUSES, 0) for sid in ids}
    strategies: dict[int, list[str]] = {sid: [] for sid in ids}
    m = s.members
    by_status = (
        select(m.c.study_id, m.c.status, func.count())
        .where(m.c.study_id.in_(ids))
        .group_by(m.c.study_id, m.c.status)
    )
    for sid, status, n in conn.execute(by_status):
        counts[sid][status] = n
    first = func.min(m.c.id).label("first")
    by_strategy = (
        select(m.c.study_id, m.c.strategy, first)
        .where(m.c.study_id.in_(ids), m.c.strategy.is_not(None))
        .group_by(m.c.study_id, m.c.strategy)
        .order_by(first)
    )
    for sid, strategy, _ in conn.execute(by_strategy):
        strategies[sid].append(strategy)
    return [
        StudyInfo(
            name=r.name,
            created_at=utc(r.created_at) or r.created_at,
            status=r.status,
            config=r.config,
            metadata=r.run_metadata,
            feature_names=None if r.feature_names is None else tuple(r.feature_names),
            counts=counts[r.id],
            strategies=tuple(strategies[r.id]),
        )
        for r in found
    ]


def delete_details(conn: Connection, member_ids: Any) -> None:
    """Delete the detail rows of ``member_ids`` (a list or a subquery of member ids)."""
    for table in DETAILS:
        conn.execute(delete(table).where(table.c.member_id.in_(member_ids)))


def delete_members(conn: Connection, study_id: int) -> None:
    """Delete a study's members and their detail rows."""
    delete_details(
        conn, select(s.members.c.id).where(s.members.c.study_id == study_id).scalar_subquery()
    )
    conn.execute(delete(s.members).where(s.members.c.study_id == study_id))


def member_values(r: MemberRecord) -> dict[str, Any]:
    """The ``members`` row of a record (without ``study_id``)."""
    return {
        "key": r.key,
        "status": r.status,
        "strategy": r.strategy,
        "strategy_config": json_dict("MemberRecord", "strategy_config", r.strategy_config),
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
        "config": json_dict("MemberRecord", "config", r.config),
        "wall_s": r.wall_s,
        "started_at": r.started_at,
        "finished_at": r.finished_at or now(),
    }


def insert_details(conn: Connection, member_id: int, r: MemberRecord) -> None:
    """Insert a record's curves, histograms, feature norms, predictions and conv filters."""
    if r.curves:
        conn.execute(
            insert(s.curves).values(
                member_id=member_id,
                **{
                    name: s.encode_floats(r.curves[name])
                    for name in CURVE_NAMES
                    if name in r.curves
                },
                strengths={
                    name: s.encode_floats(values)
                    for name, values in r.curves.items()
                    if name.startswith(STRENGTH_PREFIX)
                }
                or None,
            )
        )
    if r.weight_hist:
        conn.execute(
            insert(s.histograms),
            [
                {
                    "member_id": member_id,
                    "layer": layer,
                    "position": i,
                    "edges": s.encode_floats(edges),
                    "counts": list(counts),
                }
                for i, (layer, (edges, counts)) in enumerate(r.weight_hist.items())
            ],
        )
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
    if r.filters is not None:
        conn.execute(
            insert(s.conv_filters).values(member_id=member_id, npy=s.array_to_npy(r.filters))
        )


def to_record(
    row: Any, curves: Any, hists: Mapping[str, Any], norms: Any, pred: Any, filters: Any = None
) -> MemberRecord:
    """A :class:`MemberRecord` from a ``members`` row and its detail rows."""
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
            **{
                name: s.decode_floats(getattr(curves, name))
                for name in CURVE_NAMES
                if curves is not None and getattr(curves, name) is not None
            },
            **{
                name: s.decode_floats(values)
                for name, values in (getattr(curves, "strengths", None) or {}).items()
            },
        },
        best_epoch=row.best_epoch,
        stopped_epoch=row.stopped_epoch,
        epochs_run=row.epochs_run,
        test_scores=s.decode_float_map(row.test_scores),
        train_scores=s.decode_float_map(row.train_scores),
        sparsity=s.decode_float_map(row.sparsity),
        weight_hist={k: (s.decode_floats(e), tuple(c)) for k, (e, c) in hists.items()},
        feature_norms=None if norms is None else s.decode_floats(norms),
        filters=filters,
        test_pred=pred,
        wall_s=row.wall_s,
        started_at=utc(row.started_at),
        finished_at=utc(row.finished_at),
    )
