"""Fixtures shared by every test directory: a real PostgreSQL server for the store's tests.

The server (:mod:`postgres_server`) starts once per test session, the first time a test asks
for it, and stops at the end; each test gets a schema of its own (``postgres_url``; a new
database, ``postgres_server.create_database``, costs half a second). Without Debian's server
binaries (``apt-get install postgresql``) or the psycopg driver (``pip install
'reglab[postgres]'``) the tests that need it are skipped, saying which is missing.
"""

from __future__ import annotations

import itertools
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
    """The URL of a new, empty store on the session's server: a schema of its own."""
    return postgres_server.create_schema(f"test_{next(_names)}")
