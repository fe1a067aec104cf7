"""The few ``check_*`` helpers that build every validation message.

All messages read: ``<Who>: `<param>` must be <expected>; got <received>.`` Helpers either
return the validated value or raise :class:`~reglab.errors.ConfigError`; ``collect`` gathers
several problems so a constructor can report them all at once.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

from reglab.errors import ConfigError, ReglabError

__all__ = [
    "TASKS",
    "Problems",
    "check_choice",
    "check_fraction",
    "check_in_range",
    "check_int",
    "check_nonnegative",
    "check_positive",
    "message",
    "suggest",
]

TASKS = ("multiclass", "binary", "regression")
"""The learning tasks, as data loading infers them and every layer (engine, splits, ``fit``)
accepts them."""


def message(who: str, param: str, expected: str, got: Any, *, flag: str | None = None) -> str:
    """Format the standard error message; ``flag`` is the command-line option that sets
    ``param``, named after it.

    >>> message("Dropout", "p", "a float in [0, 1)", 1.5)
    'Dropout: `p` must be a float in [0, 1); got 1.5.'
    >>> message("SplitPlan", "n_splits", "an integer >= 2", 1, flag="--cv")
    'SplitPlan: `n_splits` (--cv) must be an integer >= 2; got 1.'
    """
    named = f"`{param}`" if flag is None else f"`{param}` ({flag})"
    return f"{who}: {named} must be {expected}; got {got!r}."


def suggest(name: str, choices: Iterable[str]) -> str:
    """Return a did-you-mean suffix for an unknown ``name`` ('' when nothing is close).

    >>> suggest("dropuot", ["dropout", "l1", "l2"])
    " Did you mean 'dropout'?"
    """
    close = difflib.get_close_matches(str(name), list(choices), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


def _is_real(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_nonnegative(who: str, param: str, value: Any, *, flag: str | None = None) -> float:
    """A finite float >= 0 (a regularization strength).

    >>> check_nonnegative("L1", "l1", -1.0)
    Traceback (most recent call last):
    ...
    reglab.errors.ConfigError: L1: `l1` must be a finite float >= 0; got -1.0.
    """
    if not _is_real(value) or not math.isfinite(value) or value < 0:
        raise ConfigError(message(who, param, "a finite float >= 0", value, flag=flag))
    return float(value)


def check_positive(who: str, param: str, value: Any, *, flag: str | None = None) -> float:
    """A finite float > 0."""
    if not _is_real(value) or not math.isfinite(value) or value <= 0:
        raise ConfigError(message(who, param, "a finite float > 0", value, flag=flag))
    return float(value)


def check_fraction(
    who: str, param: str, value: Any, *, closed: bool = False, flag: str | None = None
) -> float:
    """A probability in [0, 1) (or [0, 1] with ``closed=True``).

    >>> check_fraction("Dropout", "p", 1.0)
    Traceback (most recent call last):
    ...
    reglab.errors.ConfigError: Dropout: `p` must be a float in [0, 1); got 1.0.
    """
    upper_ok = _is_real(value) and (value <= 1 if closed else value < 1)
    if not _is_real(value) or not math.isfinite(value) or value < 0 or not upper_ok:
        expected = "a float in [0, 1]" if closed else "a float in [0, 1)"
        raise ConfigError(message(who, param, expected, value, flag=flag))
    return float(value)


def check_in_range(
    who: str, param: str, value: Any, low: float, high: float, *, text: str | None = None
) -> float:
    """A finite float in the closed interval [low, high]."""
    if not _is_real(value) or not math.isfinite(value) or not low <= value <= high:
        raise ConfigError(message(who, param, text or f"a float in [{low}, {high}]", value))
    return float(value)


def check_int(
    who: str, param: str, value: Any, *, minimum: int = 0, flag: str | None = None
) -> int:
    """An integer >= ``minimum`` (bools are rejected)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(message(who, param, f"an integer >= {minimum}", value, flag=flag))
    return int(value)


def check_choice(
    who: str, param: str, value: Any, choices: Sequence[str], *, flag: str | None = None
) -> str:
    """One of ``choices``, with a did-you-mean for near misses.

    >>> check_choice("L1", "mode", "proximl", ["penalty", "proximal"])
    Traceback (most recent call last):
    ...
    reglab.errors.ConfigError: L1: `mode` must be one of 'penalty', 'proximal'; got 'proximl'. Did you mean 'proximal'?
    """  # noqa: E501
    if value not in choices:
        expected = "one of " + ", ".join(repr(c) for c in choices)
        raise ConfigError(
            message(who, param, expected, value, flag=flag) + suggest(str(value), choices)
        )
    return str(value)


class Problems:
    """Collect every problem of a constructor, then raise them together.

    >>> p = Problems()
    >>> p.check(check_nonnegative, "L1L2", "l1", -1)
    >>> p.check(check_nonnegative, "L1L2", "l2", float("nan"))
    >>> p.raise_if_any()
    Traceback (most recent call last):
    ...
    reglab.errors.ConfigError: L1L2: `l1` must be a finite float >= 0; got -1. L1L2: `l2` ...
    """

    def __init__(self) -> None:
        self.messages: list[str] = []

    def check(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConfigError as err:
            self.messages.append(str(err))
            return None

    def add(self, text: str) -> None:
        self.messages.append(text)

    def raise_if_any(self, error: type[ReglabError] = ConfigError) -> None:
        """Raise every collected problem as one ``error`` (default :class:`ConfigError`); the
        same problem of several members is said once, naming them all
        (:func:`collapse_members`)."""
        if self.messages:
            raise error(" ".join(collapse_members(self.messages)))


_MEMBER = re.compile(r"members\[(\d+)\]")
_GOT = re.compile(r"; got (.*)\.$")


def collapse_members(messages: list[str], shown: int = 3) -> list[str]:
    """Messages that differ only in a member's index (and in the value it got), said once:
    ``members[1, 2, 5]``, ``got 'a', 'b'`` (the first ``shown`` of each, then how many).

    >>> collapse_members(["f: `members[1].lr` must be > 0; got 0.", "g.",
    ...                   "f: `members[4].lr` must be > 0; got -1.", "g."])
    ['f: `members[1, 4].lr` must be > 0; got 0, -1.', 'g.']
    """
    groups: dict[str, tuple[list[str], list[str]]] = {}
    for text in messages:
        indices = _MEMBER.findall(text)
        if len(indices) != 1:
            groups.setdefault(text, ([], []))
            continue
        got = _GOT.search(text)
        key = _MEMBER.sub("members[*]", text)
        key = _GOT.sub("; got *.", key) if got else key
        seen, values = groups.setdefault(key, ([], []))
        seen.append(indices[0])
        if got and got.group(1) not in values:
            values.append(got.group(1))

    def listed(items: list[str], what: str) -> str:
        more = f", … ({len(items)} {what})" if len(items) > shown else ""
        return ", ".join(items[:shown]) + more

    out = []
    for key, (seen, values) in groups.items():
        if seen:
            key = key.replace("members[*]", f"members[{listed(seen, 'members')}]")
        if values:
            key = key.replace("; got *.", f"; got {listed(values, 'values')}.")
        out.append(key)
    return out
