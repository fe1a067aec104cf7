"""The installed package's version, from its metadata (one place; nothing else hard-codes it)."""

from __future__ import annotations

from importlib import metadata

__all__ = ["VERSION"]

try:
    VERSION = metadata.version("reglab")
except metadata.PackageNotFoundError:  # a source tree that was not installed
    VERSION = "0+unknown"
