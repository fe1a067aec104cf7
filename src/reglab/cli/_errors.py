"""How the command line ends: exit codes and one-line error messages.

Usage and input errors exit 2, run failures exit 1, both with one line on stderr; the
traceback is shown only with ``--debug``.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from typing import NoReturn, TypeVar

from reglab.errors import ConfigError, DataError, ReglabError, StoreError

__all__ = ["EXIT_FAILURE", "EXIT_USAGE", "fail", "guarded"]

EXIT_FAILURE = 1
EXIT_USAGE = 2

T = TypeVar("T")


def fail(text: str, code: int) -> NoReturn:
    """Print ``reglab: error: <text>`` on stderr and exit with ``code``."""
    print(f"reglab: error: {text}", file=sys.stderr)
    raise SystemExit(code)


def guarded(func: Callable[[], T], *, debug: bool) -> T:
    """Run ``func``, turning reglab's errors into one line and an exit code.

    ``ConfigError``/``DataError``/``StoreError`` are the user's input (exit 2); any other
    exception is a failure of the run (exit 1). ``KeyboardInterrupt`` exits 130 after saying
    that completed members are kept.
    """
    try:
        return func()
    except KeyboardInterrupt:
        print(
            "reglab: interrupted; every finished member is stored, re-run the same command "
            "to resume.",
            file=sys.stderr,
        )
        raise SystemExit(130) from None
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
