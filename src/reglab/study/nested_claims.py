"""Several processes on one nested study: whole searches claimed with leases, shared fairly.

A nested study (:mod:`reglab.study.nested`) is made of independent **units**, one per tuned
family ``f`` and outer split ``s``: the search of ``(f, s)`` asks, trains and tells round after
round, and what a round asks depends only on the search's history (its sampler is seeded by
``derive(seed, "tune", f, s, d)`` after ``d`` finished trials) and on the inner members stored.
So a unit can move from one process to another between two rounds, or be taken over after its
process died, and ask the same trials to the bit.

Units are claimed as the members of a plain study are (:mod:`reglab.store.claims`): one row
per unit, key ``unit/<family>/<split id>``, in a hidden study ``<name>/units``, marked
``running`` under its process's owner with a lease that a heartbeat renews, and ``done`` when
its search has its trials. Each process also holds a **presence** row (``driver/<owner>``)
while it runs, so every process can count the live processes ``n``.

Sharing rule (:meth:`UnitClaims.balance`, called before every round): with ``u`` unfinished
units, a process holds at most ``⌈u / n⌉`` of them. It keeps the units it holds up to that
share (renewing their claims), gives back the rest (the last ones in plan order) and claims
free units (in plan order) up to its share. A process alone holds every unit, as before; a
second process that joins gets half of the unfinished units at the first process's next round
boundary. A process that holds no unit while some are unfinished waits for them.

A process that could not renew its claims for a whole lease may lose a unit to another one;
:meth:`UnitClaims.keep` checks, before a round's results are told, which units it still holds,
and the results of the others are not told.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Sequence
from typing import Any

from reglab.errors import StoreError
from reglab.store import MemberRecord, Store

__all__ = ["UnitClaims", "claim_up_to", "presence_key", "unit_key", "units_config"]


def unit_key(family: str, split_id: int) -> str:
    """The claim key of the search of ``family`` on outer split ``split_id``."""
    return f"unit/{family}/{split_id}"


def presence_key(owner: str) -> str:
    """The claim key that says ``owner`` is running the study."""
    return f"driver/{owner}"


def claim_up_to(
    store: Store,
    study: str,
    candidates: Sequence[str],
    owner: str,
    want: int,
    lease_s: float,
) -> list[str]:
    """Claim at most ``want`` of ``candidates``, trying them in order; returns those claimed.

    Each try claims as many keys as are still wanted, so the whole list is tried in at most
    ``len(candidates) / want`` transactions.
    """
    got: list[str] = []
    rest = list(candidates)
    while want > len(got) and rest:
        batch, rest = rest[: want - len(got)], rest[want - len(got) :]
        got += store.claim(study, batch, owner, lease_s=lease_s)
    return got


class UnitClaims:
    """One process's claims on a nested study's units (module docstring).

    Used as a context manager: entering claims the presence row and starts a heartbeat that
    renews every claim of ``owner`` in ``studies`` (the units study first, then any other,
    such as the outer study whose members this process claims) every third of ``lease_s``;
    leaving stops it and releases whatever ``owner`` still holds in them.

    Args:
        store: The shared store.
        study: The units study (``<name>/units``), already created.
        keys: Every unit's key, in plan order.
        owner: This process's owner id (:func:`reglab.store.claims.new_owner`).
        lease_s: How long a claim holds without a heartbeat.
        studies: Other studies whose claims of ``owner`` the heartbeat renews and the exit
            releases.
    """

    def __init__(
        self,
        store: Store,
        study: str,
        keys: Sequence[str],
        owner: str,
        lease_s: float,
        studies: Sequence[str] = (),
    ) -> None:
        self.store = store
        self.study = study
        self.keys = list(keys)
        self.owner = owner
        self.lease_s = lease_s
        self.studies = (study, *studies)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="reglab-heartbeat", daemon=True)

    def __enter__(self) -> UnitClaims:
        self.store.claim(self.study, [presence_key(self.owner)], self.owner, lease_s=self.lease_s)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        for study in self.studies:
            self.store.release(study, self.owner)
        self.store.drop_expired(self.study, presence_key(""))  # dead processes' presence

    def _beat(self) -> None:
        while not self._stop.wait(self.lease_s / 3):
            for study in self.studies:
                with contextlib.suppress(StoreError):  # a busy store: the next beat retries
                    self.store.heartbeat(study, self.owner, lease_s=self.lease_s)

    def unfinished(self) -> list[str]:
        """The units not yet marked done, in plan order."""
        done = self.store.done_keys(self.study, include_failed=True)
        return [k for k in self.keys if k not in done]

    def drivers(self) -> int:
        """The live processes on the study (this one included)."""
        live = self.store.live_claims(self.study)
        return len(live) + (self.owner not in live)

    def balance(self, held: Sequence[str]) -> tuple[list[str], list[str]]:
        """This process's units for the next round, by the sharing rule; returns ``(held,
        released)``, both in plan order (``released``: units given back now)."""
        unfinished = self.unfinished()
        share = math.ceil(len(unfinished) / self.drivers())
        asked = set(held)
        kept = self.keep([k for k in unfinished if k in asked])
        released = kept[share:]
        if released:
            self.store.release(self.study, self.owner, keys=released)
        kept = kept[:share]
        taken = set(kept) | set(released)  # what was just given back is left to the others
        free = [k for k in unfinished if k not in taken]
        kept += claim_up_to(
            self.store, self.study, free, self.owner, share - len(kept), self.lease_s
        )
        order = {k: i for i, k in enumerate(self.keys)}
        return sorted(kept, key=order.__getitem__), released

    def keep(self, held: Sequence[str]) -> list[str]:
        """Those of ``held`` this process still holds (their claims renewed), in order."""
        if not held:
            return []
        return self.store.claim(self.study, held, self.owner, lease_s=self.lease_s)

    def finish(self, key: str, family: str, split_id: int, trials: int) -> None:
        """Mark the unit ``key`` done: its search has ``trials`` finished trials."""
        record = MemberRecord(
            key, family, split_id=split_id, seed=0, n_train=0, n_test=0,
            config={"finished trials": trials},
        )  # fmt: skip
        self.store.save_member(self.study, record)


def units_config(inner_config: dict[str, Any]) -> dict[str, Any]:
    """The units study's configuration: the inner study's, so both are replaced together."""
    return {**inner_config, "claims": "units"}
