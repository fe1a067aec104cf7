"""The store's tables (SQLAlchemy Core), version :data:`SCHEMA_VERSION`.

``reglab_info`` holds ``schema_version``. A store of an older version is upgraded in place by
:data:`UPGRADES` (version 1, reglab 0.1: adding the claim columns; version 2: adding the
``conv_filters`` table; version 3: the curves' ``strengths`` column; nothing is
removed); a database without a
version, or with a newer one, is refused rather than changed. Every per-member table has one row
per member (histograms: one row per layer), with per-epoch values as JSON arrays: a 100-epoch
member writes four short arrays in one row instead of 100 rows. Non-finite floats are stored as
``null`` (NaN) or ``"inf"``/``"-inf"`` so the JSON is standard and PostgreSQL accepts it. Test
predictions and a CNN member's first conv filters are one ``.npy`` blob per member (read back
with ``allow_pickle=False``).
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import PurePath
from typing import Any

import numpy as np
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "SCHEMA_VERSION",
    "TABLES",
    "UPGRADES",
    "conv_filters",
    "curves",
    "decode_floats",
    "encode_floats",
    "feature_norms",
    "histograms",
    "info",
    "json_default",
    "members",
    "metadata",
    "predictions",
    "studies",
]

SCHEMA_VERSION = 4

UPGRADES: dict[int, tuple[str, ...]] = {
    1: (
        "ALTER TABLE members ADD COLUMN owner VARCHAR(128)",
        "ALTER TABLE members ADD COLUMN lease_until TIMESTAMP WITH TIME ZONE",
    ),
    2: ("CREATE TABLE conv_filters",),
    3: ("ALTER TABLE curves ADD COLUMN strengths JSON",),
}
"""From a version to the next: the SQL statements that upgrade a store (in one transaction).

The store's migrations, oldest first. A change to the tables adds an entry ``N: (...)`` that
brings version ``N`` to ``N + 1`` in SQL that SQLite and PostgreSQL both run, and raises
:data:`SCHEMA_VERSION`. ``CREATE TABLE <name>`` alone creates the table ``<name>`` as
:data:`metadata` defines it (each database with its own column types: a blob is ``BLOB`` in
SQLite and ``BYTEA`` in PostgreSQL); a table added so must not change in later versions, or
its later changes must be upgrades of their own. A change that cannot be written so (or that
would lose data) leaves the old version out, and such stores are refused with the version
found and the one expected."""

metadata = MetaData()

info = Table(
    "reglab_info",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

studies = Table(
    "studies",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False),
    Column("config", JSON, nullable=False),
    Column("run_metadata", JSON, nullable=False),
    Column("feature_names", JSON),
)

members = Table(
    "members",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("study_id", ForeignKey("studies.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("strategy", String(255)),
    Column("strategy_config", JSON),
    Column("split_id", Integer),
    Column("repeat", Integer),
    Column("fold", Integer),
    Column("seed", BigInteger),
    Column("n_train", Integer),
    Column("n_test", Integer),
    Column("error", Text),
    Column("best_epoch", Integer),
    Column("stopped_epoch", Integer),
    Column("epochs_run", Integer),
    Column("test_scores", JSON),
    Column("train_scores", JSON),
    Column("sparsity", JSON),
    Column("config", JSON),
    Column("wall_s", Float),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Column("owner", String(128)),
    Column("lease_until", DateTime(timezone=True)),
    UniqueConstraint("study_id", "key", name="uq_members_study_key"),
    Index("ix_members_study_status", "study_id", "status"),
)


def _member_fk() -> Column[int]:
    return Column(
        "member_id", ForeignKey("members.id", ondelete="CASCADE"), primary_key=True, nullable=False
    )


curves = Table(
    "curves",
    metadata,
    _member_fk(),
    Column("train_loss", JSON),
    Column("penalty", JSON),
    Column("val_loss", JSON),
    Column("val_metric", JSON),
    Column("strengths", JSON),
)
"""Per-epoch curves; ``strengths`` maps ``strength:KEY`` curve names (values in effect of
scheduled strengths, :mod:`reglab.engine.strengths`) to their per-epoch values (``NULL`` for
members without schedules and in stores written before version 4)."""

histograms = Table(
    "weight_histograms",
    metadata,
    _member_fk(),
    Column("layer", String(255), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("edges", JSON, nullable=False),
    Column("counts", JSON, nullable=False),
)

feature_norms = Table(
    "feature_norms",
    metadata,
    _member_fk(),
    Column("norms", JSON, nullable=False),
)

predictions = Table(
    "predictions",
    metadata,
    _member_fk(),
    Column("npy", LargeBinary, nullable=False),
)

conv_filters = Table(
    "conv_filters",
    metadata,
    _member_fk(),
    Column("npy", LargeBinary, nullable=False),
)
"""A CNN member's first filters of its first conv layer, ``float32 [n, C, kh, kw]`` as ``.npy``."""

TABLES = (info, studies, members, curves, histograms, feature_norms, predictions, conv_filters)
"""Every table, parents first."""


def encode_floats(values: Iterable[float]) -> list[float | str | None]:
    """Floats as standard JSON values: NaN → ``None``, ±inf → ``"inf"``/``"-inf"``.

    >>> encode_floats([1.5, float("nan"), float("-inf")])
    [1.5, None, '-inf']
    """
    return [
        v if math.isfinite(v) else (None if math.isnan(v) else ("inf" if v > 0 else "-inf"))
        for v in map(float, values)
    ]


def decode_floats(values: Iterable[float | str | None] | None) -> tuple[float, ...]:
    """Inverse of :func:`encode_floats`.

    >>> decode_floats([1.5, None, "-inf"])
    (1.5, nan, -inf)
    """
    return tuple(math.nan if v is None else float(v) for v in values or ())


def encode_float_map(values: Mapping[str, float]) -> dict[str, float | str | None]:
    """:func:`encode_floats` on the values of a mapping."""
    return dict(zip(values, encode_floats(values.values()), strict=True))


def decode_float_map(values: Mapping[str, float | str | None] | None) -> dict[str, float]:
    """Inverse of :func:`encode_float_map`."""
    values = values or {}
    return dict(zip(values, decode_floats(values.values()), strict=True))


def array_to_npy(array: np.ndarray) -> bytes:
    """An array as ``.npy`` bytes (object arrays are refused: no pickles in the store)."""
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def npy_to_array(data: bytes) -> np.ndarray:
    """Inverse of :func:`array_to_npy`."""
    return np.load(io.BytesIO(data), allow_pickle=False)


def json_default(value: Any) -> Any:
    """JSON for the values a study config or metadata commonly holds (NumPy, paths, times).

    >>> import json, numpy as np
    >>> json.dumps({"n": np.int64(3), "x": np.arange(2.0)}, default=json_default)
    '{"n": 3, "x": [0.0, 1.0]}'
    """
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(value: Any) -> str:
    """The store's JSON serializer."""
    return json.dumps(value, default=json_default)
