"""How the command line ends: exit codes and one-line error messages.

Usage and input errors exit 2, run failures exit 1, both with one line on stderr; the
traceback is shown only with ``--debug``.
"""

from __future__ import annotations

import signal
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import NoReturn, TypeVar

from reglab import _signals
from reglab.errors import ConfigError, DataError, ReglabError, StoreError

__all__ = ["EXIT_FAILURE", "EXIT_USAGE", "fail", "guarded"]

EXIT_FAILURE = 1
EXIT_USAGE = 2

T = TypeVar("T")


def fail(text: str, code: int) -> NoReturn:
    """Print ``reglab: error: <text>`` on stderr and exit with ``code``."""
    print(f"reglab: error: {text}", file=sys.stderr)
    raise SystemExit(code)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that a run releases its claims and says it stopped."""


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """While the command runs, SIGTERM (``kill``, a scheduler's stop) ends it as Ctrl-C does:
    unfinished members are released and the study is marked interrupted, not left running.
    Neither lands inside a store transaction (:mod:`reglab._signals`)."""

    def on_term(signum: int, frame: FrameType | None) -> None:
        _signals.stop(Terminated)

    def on_int(signum: int, frame: FrameType | None) -> None:
        _signals.stop(KeyboardInterrupt)

    try:
        previous = signal.signal(signal.SIGTERM, on_term), signal.signal(signal.SIGINT, on_int)
    except ValueError:  # not the main thread: leave the signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous[0])
        signal.signal(signal.SIGINT, previous[1])


def guarded(func: Callable[[], T], *, debug: bool) -> T:
    """Run ``func``, turning reglab's errors into one line and an exit code.

    ``ConfigError``/``DataError``/``StoreError`` are the user's input (exit 2); any other
    exception is a failure of the run (exit 1). ``KeyboardInterrupt`` exits 130 after saying
    that completed members are kept.
    """
    try:
        with _terminate_as_interrupt():
            return func()
    except KeyboardInterrupt as err:
        how, code = ("terminated", 143) if isinstance(err, Terminated) else ("interrupted", 130)
        print(
            f"reglab: {how}; every finished member is stored, re-run the same command to resume.",
            file=sys.stderr,
        )
        raise SystemExit(code) from None
    except (ConfigError, DataError, StoreError) as err:
        if debug:
            traceback.print_exc()
        fail(str(err), EXIT_USAGE)
    except ReglabError as err:
        if debug:
            traceback.print_exc()
        fail(str(err), EXIT_FAILURE)
    except Exception as err:
        if debug:
            traceback.print_exc()
        fail(f"{type(err).__name__}: {err} (run with --debug for the traceback)", EXIT_FAILURE)
