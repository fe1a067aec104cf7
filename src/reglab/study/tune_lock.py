"""One process per ``reglab tune`` search: a claim on the whole search, with a lease.

A search over all the data is one sequence of rounds, each asked from the sampler after the
previous one was told, so it cannot be divided between processes as a nested study's searches
are (:mod:`reglab.study.nested_claims`). The process that runs it holds a claim
(:mod:`reglab.store.claims`) on one row of the study, key :data:`LOCK_KEY`, renewed by a
heartbeat; a second process on the same search and store stops with one line that names the
holder. A holder that died leaves its claim behind: it is taken over at once on the same host
(the process is gone) and after its lease elsewhere, and the search resumes from its journal.
"""

from __future__ import annotations

import contextlib
import threading

from reglab.errors import StoreError
from reglab.store import Store

__all__ = ["LOCK_KEY", "SearchLock"]

LOCK_KEY = "search/driver"
"""The key of the claimed row; member rows are keyed by content hashes, never by this."""


class SearchLock:
    """Hold ``study``'s search for ``owner`` while the ``with`` block runs.

    Entering claims the row or raises :class:`~reglab.errors.StoreError` naming the process
    that holds it (``host:pid``); a heartbeat renews the claim every third of ``lease_s``;
    leaving releases it.
    """

    def __init__(self, store: Store, study: str, owner: str, lease_s: float) -> None:
        self.store = store
        self.study = study
        self.owner = owner
        self.lease_s = lease_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="reglab-heartbeat", daemon=True)

    def __enter__(self) -> SearchLock:
        got = self.store.claim(self.study, [LOCK_KEY], self.owner, lease_s=self.lease_s)
        if not got:
            holders = [o.rpartition(":")[0] for o in self.store.live_claims(self.study)]
            who = ", ".join(holders) or "another process"
            raise StoreError(
                f"tune: study {self.study!r} is being tuned by another process on this store "
                f"({who}); one process per search: wait for it to finish, or give another "
                "--name."
            )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.store.release(self.study, self.owner)

    def _beat(self) -> None:
        while not self._stop.wait(self.lease_s / 3):
            with contextlib.suppress(StoreError):  # a busy store: the next beat retries
                self.store.heartbeat(self.study, self.owner, lease_s=self.lease_s)
