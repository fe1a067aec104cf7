"""Groups of rows that must stay together (``--groups``): repeated measures of one subject.

When several rows come from one subject (15 protein measurements per mouse, visits of one
patient), a split that puts some of them in training and others in the test part scores how
well the network remembers subjects, not how well it predicts a new one. Grouped splits
(:mod:`reglab.study.splits`) keep every group whole in one of train, validation and test.

Grammar of ``--groups`` (and of ``groups=`` given as text):

* ``COL``: the values of column ``COL`` are the groups;
* ``COL:prefix=SEP``: the group of a value is its part before the last ``SEP``
  (``309_12`` → ``309`` with ``prefix=_``); a value without ``SEP`` is a group by itself.

The group column is never a feature. A missing group value is refused: every row must belong
to a group. ``groups=`` may also be an array with one label per row.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from reglab.data._schema import MISSING_TOKENS
from reglab.errors import ConfigError, DataError

__all__ = ["GroupHint", "GroupSpec", "Grouping", "group_hint", "parse_groups"]

_PREFIX = ":prefix="
_SEPARATORS = ("_", "-", ".", ":", "/", " ")
_ID_WORDS = frozenset({"id", "no", "nr", "number", "code"})
_SUBJECT_WORDS = frozenset(
    {"subject", "patient", "participant", "mouse", "animal", "individual", "person", "donor"}
)


@dataclass(frozen=True)
class GroupSpec:
    """Which column holds the groups, and how a group is read from its values.

    >>> spec = parse_groups("MouseID:prefix=_")
    >>> spec.column, spec.prefix, spec.text
    ('MouseID', '_', 'MouseID:prefix=_')
    >>> spec.labels(pd.Series(["309_1", "309_2", "J3295_1"])).tolist()
    ['309', '309', 'J3295']
    """

    column: str
    prefix: str | None = None

    @property
    def text(self) -> str:
        """The spec in the ``--groups`` grammar."""
        return self.column if self.prefix is None else f"{self.column}{_PREFIX}{self.prefix}"

    @property
    def phrase(self) -> str:
        """``"MouseID prefix"`` or ``"MouseID"``: what the groups are, in words."""
        return self.column if self.prefix is None else f"{self.column} prefix"

    def labels(self, values: pd.Series, where: str = "the data") -> np.ndarray:
        """The group label of every row (strings); a missing value is refused in one line."""
        text = values.astype(object).map(lambda v: str(v).strip(), na_action="ignore")
        missing = values.isna().to_numpy() | text.isin(MISSING_TOKENS).to_numpy()
        if missing.any():
            raise DataError(
                f"groups: column {self.column!r} (--groups) of {where} must have a group for "
                f"every row; got {int(missing.sum())} missing values (first at row "
                f"{int(np.flatnonzero(missing)[0])})."
            )
        out = text.to_numpy(dtype=object).astype(str)
        if self.prefix is not None:
            sep = self.prefix
            out = np.array([v.rsplit(sep, 1)[0] if sep in v else v for v in out], dtype=str)
        return out


def parse_groups(text: str) -> GroupSpec:
    """``"COL"`` or ``"COL:prefix=SEP"`` → :class:`GroupSpec` (see the module docstring).

    >>> parse_groups("patient")
    GroupSpec(column='patient', prefix=None)
    >>> parse_groups("MouseID:prefix=")
    Traceback (most recent call last):
    ...
    reglab.errors.ConfigError: groups: `--groups` must be COL or COL:prefix=SEP with a non-empty separator SEP; got 'MouseID:prefix='.
    """  # noqa: E501
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(
            f"groups: `--groups` must be COL or COL:prefix=SEP (a column name); got {text!r}."
        )
    column, has_prefix, sep = text.strip().rpartition(_PREFIX)
    if not has_prefix:
        return GroupSpec(text.strip())
    if not column or not sep:
        raise ConfigError(
            f"groups: `--groups` must be COL or COL:prefix=SEP with a non-empty separator SEP; "
            f"got {text!r}."
        )
    return GroupSpec(column, sep)


@dataclass(frozen=True, eq=False)
class Grouping:
    """The group of every row of a data set: codes ``0..G-1`` and where they came from.

    Attributes:
        codes: One int64 code per row; rows with the same code form one group.
        by: The spec in the ``--groups`` grammar, or ``"array"`` for labels given as an array.
        phrase: What the groups are, in words (``"MouseID prefix"``).

    >>> g = Grouping.of(np.array(["a", "b", "a", "c"]), "subject", "subject")
    >>> g.codes.tolist(), g.n_groups, g.describe()
    ([0, 1, 0, 2], 3, 'grouped by subject (3 groups)')
    """

    codes: np.ndarray
    by: str
    phrase: str

    @classmethod
    def of(cls, labels: Any, by: str, phrase: str) -> Grouping:
        """Codes in the sorted order of the labels' distinct values."""
        arr = np.asarray(labels)
        if arr.ndim != 1:
            raise DataError(f"groups: `groups` must be 1-D, one label per row; got {arr.shape}.")
        if arr.dtype.kind == "f" and np.isnan(arr).any():
            raise DataError("groups: `groups` must have a group for every row; got NaN.")
        if arr.dtype.kind == "O" and any(v is None for v in arr):
            raise DataError("groups: `groups` must have a group for every row; got None.")
        _, codes = np.unique(arr.astype(str) if arr.dtype.kind == "O" else arr,
                             return_inverse=True)  # fmt: skip
        codes = codes.reshape(-1).astype(np.int64)
        codes.setflags(write=False)
        return cls(codes, by, phrase)

    def subset(self, keep: np.ndarray) -> Grouping:
        """The grouping of the rows where ``keep`` is true (codes renumbered)."""
        return Grouping.of(self.codes[keep], self.by, self.phrase)

    @property
    def n_groups(self) -> int:
        """Number of distinct groups."""
        return int(self.codes.max()) + 1 if len(self.codes) else 0

    def describe(self) -> str:
        """``"grouped by MouseID prefix (72 groups)"``."""
        return f"grouped by {self.phrase} ({self.n_groups} groups)"

    def config(self) -> dict[str, Any]:
        """What identifies the grouping in a study's config: the spec, the group count and a
        digest of the codes (so two arrays of labels never share a study)."""
        digest = hashlib.sha256(np.ascontiguousarray(self.codes).tobytes()).hexdigest()[:16]
        return {"by": self.by, "groups": self.n_groups, "digest": digest}


@dataclass(frozen=True)
class GroupHint:
    """A repeated-measures notice and the ``--groups`` spec it suggests (``MouseID:prefix=_``)."""

    spec: str
    notice: str


def group_hint(name: str, series: pd.Series, dropped: bool) -> GroupHint | None:
    """A notice when column ``name`` looks like a subject id whose rows are repeated measures,
    with the ``--groups`` spec it suggests.

    Two strong patterns only. A dropped id-like text column whose values (at least 95% of
    them, and not dates) are ``PREFIX SEP NUMBER`` (a replicate number of at most 4 digits
    after the last separator), where the prefixes repeat (at least 3
    rows per prefix on average and at least 4 prefixes): ``309_1 … 309_15``. A kept column
    named only like a subject (``subject``, ``patient_id``, ``MouseNo``; not ``patient_age``) with at least 4 distinct
    values and at least 3 rows per value on average.

    >>> ids = pd.Series([f"{m}_{r}" for m in range(300, 310) for r in range(1, 6)])
    >>> hint = group_hint("MouseID", ids, dropped=True)
    >>> hint.spec
    'MouseID:prefix=_'
    >>> hint.notice
    "column 'MouseID' holds repeated measures: its 50 values share 10 prefixes before '_' (5 rows each on average); to keep each subject's rows out of the test part while others train, split by them with --groups MouseID:prefix=_"
    """  # noqa: E501
    values = series.dropna()
    n = len(series)
    if n < 12:
        return None
    if dropped and series.dtype.kind != "f":
        text = values.astype(str).str.strip()
        for sep in _SEPARATORS:
            parts = text.str.rpartition(sep)
            has = (parts[1] == sep) & (parts[0] != "") & parts[2].str.fullmatch(r"\d{1,4}")
            if has.sum() < 0.95 * len(text) or _dates(text):
                continue
            prefixes = parts[0][has]
            k = prefixes.nunique()
            if k >= 4 and 3 * k <= len(text):
                spec = f"{name}{_PREFIX}{sep}"
                return GroupHint(
                    spec,
                    f"column {name!r} holds repeated measures: its {len(text)} values share {k} "
                    f"prefixes before {sep!r} ({len(text) / k:.0f} rows each on average); to "
                    "keep each subject's rows out of the test part while others train, split "
                    f"by them with --groups {shlex.quote(spec)}",
                )
        return None
    if dropped or not _named_like_subject(name):
        return None
    k = values.nunique()
    if k >= 4 and 3 * k <= n:
        return GroupHint(
            name,
            f"column {name!r} looks like a subject id ({k} values, {n / k:.0f} rows each on "
            "average): if its rows are repeated measures of one subject, split by it with "
            f"--groups {shlex.quote(name)} (it is kept as a feature now)",
        )
    return None


def _dates(text: pd.Series) -> bool:
    """Whether most of the first 200 values read as dates (``2020-01-05`` shares prefixes
    by month, which are no subjects)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(text.iloc[:200], errors="coerce", format="mixed")
    return bool(parsed.notna().mean() >= 0.5)


def _named_like_subject(name: str) -> bool:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    tokens = {t.lower() for t in re.split(r"[^A-Za-z0-9]+", spaced) if t}
    return bool(tokens & _SUBJECT_WORDS) and tokens <= _SUBJECT_WORDS | _ID_WORDS
