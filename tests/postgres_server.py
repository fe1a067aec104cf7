"""A throwaway PostgreSQL server for the tests and the store benchmark.

It uses Debian's server binaries (``/usr/lib/postgresql/<version>/bin``, from ``apt-get install
postgresql``): ``initdb`` makes a cluster in a temporary directory, ``pg_ctl`` starts it on the
loopback interface at a free port with its unix socket in that directory, and :meth:`stop`
stops it and removes the directory. PostgreSQL refuses to run as root, so when the tests run as
root the server runs as ``nobody`` (``runuser``), in a directory that ``nobody`` owns. The
cluster trusts local connections, skips ``fsync`` and stops without a checkpoint: it holds
nothing worth keeping.

    server = PostgresServer.start()
    url = server.create_database("t1")   # postgresql+psycopg://postgres@127.0.0.1:PORT/t1
    url = server.create_schema("t2")     # ...:PORT/postgres?options=-csearch_path%3Dt2
    server.stop()
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["PostgresServer", "find_binaries"]

USER = "nobody"
"""Who runs the server when the tests run as root."""


def find_binaries() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` with ``initdb`` and ``pg_ctl``."""
    found = [
        d
        for d in Path("/usr/lib/postgresql").glob("*/bin")
        if (d / "initdb").is_file() and (d / "pg_ctl").is_file()
    ]
    if not found:
        return None
    return max(found, key=lambda d: int(d.parent.name) if d.parent.name.isdigit() else 0)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """A running server; :meth:`create_database` gives each user a database of its own."""

    def __init__(self, bin_dir: Path, root: Path, port: int, as_user: str | None) -> None:
        self.bin_dir = bin_dir
        self.root = root
        self.port = port
        self.as_user = as_user

    @classmethod
    def start(cls, bin_dir: Path | None = None) -> PostgresServer:
        """initdb + pg_ctl start; raises ``RuntimeError`` with the server's log on failure."""
        bin_dir = bin_dir or find_binaries()
        if bin_dir is None:
            raise RuntimeError("no PostgreSQL server binaries in /usr/lib/postgresql/*/bin")
        as_user = USER if os.geteuid() == 0 else None
        if as_user is not None and shutil.which("runuser") is None:
            raise RuntimeError("running as root, and runuser (util-linux) is missing")
        # /tmp when the server runs as another user: it must reach its directory
        root = Path(tempfile.mkdtemp(prefix="reglab-pg-", dir="/tmp" if as_user else None))
        if as_user is not None:
            shutil.chown(root, user=as_user)
        server = cls(bin_dir, root, _free_port(), as_user)
        try:
            server._run(
                "initdb", "-D", str(root / "data"), "-U", "postgres", "--auth=trust",
                "--no-sync", "-E", "UTF8", "--locale=C",
            )  # fmt: skip
            options = (
                f"-c listen_addresses=127.0.0.1 -c port={server.port} "
                f"-c unix_socket_directories={root} -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100"
            )
            server._run(
                "pg_ctl", "-D", str(root / "data"), "-l", str(root / "server.log"),
                "-o", options, "-w", "-t", "60", "start",
            )  # fmt: skip
        except BaseException:
            server.stop()
            raise
        return server

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin_dir / program), *args]
        if self.as_user is not None:
            command = ["runuser", "-u", self.as_user, "--", *command]
        done = subprocess.run(
            command, cwd=self.root, capture_output=True, text=True, timeout=120, check=False
        )
        if done.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{program} failed: {done.stderr.strip()}\n{tail}")

    @property
    def admin_url(self) -> str:
        """The URL of the ``postgres`` maintenance database."""
        return self.url("postgres")

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of ``database`` on this server (psycopg 3)."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _admin(self, sql: str) -> None:
        import psycopg

        dsn = f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def create_database(self, name: str) -> str:
        """Create an empty database ``name`` and return its URL."""
        self._admin(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def create_schema(self, name: str) -> str:
        """Create an empty schema ``name`` in the ``postgres`` database and return the URL that
        works in it (``search_path``): a store of its own in a few milliseconds, where a new
        database takes half a second on a loaded machine."""
        from sqlalchemy.engine import URL

        self._admin(f'CREATE SCHEMA "{name}"')
        url = URL.create(
            "postgresql+psycopg",
            username="postgres",
            host="127.0.0.1",
            port=self.port,
            database="postgres",
            query={"options": f"-csearch_path={name}"},
        )
        return url.render_as_string(hide_password=False)

    def stop(self) -> None:
        """Stop the server and remove its directory.

        An immediate shutdown: no checkpoint writes out the pages of every test's database, as
        a clean one would (seconds on a loaded machine), since the directory goes next.
        """
        data = str(self.root / "data")
        if (self.root / "data" / "postmaster.pid").exists():
            for _ in range(3):
                try:
                    self._run("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
                    break
                except (RuntimeError, subprocess.TimeoutExpired):
                    time.sleep(1)
        shutil.rmtree(self.root, ignore_errors=True)
