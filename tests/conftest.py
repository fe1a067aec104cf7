"""Fixtures shared by every test directory: a real PostgreSQL server for the store's tests.

The server (:mod:`postgres_server`) starts once per test session, the first time a test asks
for it, and stops at the end; each test gets a database of its own. Without Debian's server
binaries (``apt-get install postgresql``) or the psycopg driver (``pip install
'reglab[postgres]'``) the tests that need it are skipped, saying which is missing.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import pytest

from postgres_server import PostgresServer, find_binaries

_names = itertools.count()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server on a free loopback port, for this test session."""
    bin_dir = find_binaries()
    if bin_dir is None:
        pytest.skip(
            "PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin "
            "(apt-get install postgresql)"
        )
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("the psycopg driver is not installed (pip install 'reglab[postgres]')")
    server = PostgresServer.start(bin_dir)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """The URL of a new, empty database on the session's server."""
    return postgres_server.create_database(f"test_{os.getpid()}_{next(_names)}")
