"""Stop signals that wait for the store: Ctrl-C or SIGTERM never lands inside a transaction.

Python raises ``KeyboardInterrupt`` between any two bytecodes, also while the main thread is
committing or rolling back a store transaction, and a connection left half-way holds SQLite's
write lock: the clean-up that follows (releasing the run's claims) then waits on its own
process until the busy timeout and fails with "database is locked". The command line's signal
handlers call :func:`stop` instead of raising; inside :func:`atomic` (every store transaction
of the main thread) the exception is held and raised when the outermost transaction is over.

>>> try:
...     with atomic():
...         stop(KeyboardInterrupt)
...         print("still inside")
... except KeyboardInterrupt:
...     print("raised after")
still inside
raised after
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["atomic", "stop"]

_depth = 0
_pending: type[BaseException] | None = None


@contextmanager
def atomic() -> Iterator[None]:
    """A section of the main thread that a stop signal does not interrupt (other threads: no
    effect, signals are delivered to the main thread only)."""
    global _depth, _pending
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0 and _pending is not None:
            exc, _pending = _pending, None
            raise exc()


def stop(exc: type[BaseException]) -> None:
    """Raise ``exc`` now, or when the main thread's current :func:`atomic` section ends."""
    global _pending
    if _depth:
        _pending = exc
    else:
        raise exc()
