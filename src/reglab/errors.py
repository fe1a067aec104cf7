"""The exceptions reglab raises.

Every error message has one shape: who, which parameter, what was expected, what came.
``ConfigError`` and ``DataError`` also derive from ``ValueError`` so that code catching
``ValueError`` (scikit-learn's convention) keeps working.
"""

from __future__ import annotations

__all__ = ["ConfigError", "DataError", "ReglabError", "StoreError", "TrainingError"]


class ReglabError(Exception):
    """Base class of every error reglab raises on purpose."""


class ConfigError(ReglabError, ValueError):
    """A parameter, strategy or option is invalid."""


class DataError(ReglabError, ValueError):
    """A data file, array or column is unusable as given."""


class StoreError(ReglabError):
    """The result store cannot be opened, read or written."""


class TrainingError(ReglabError):
    """Training a member failed (for example its loss became NaN)."""
