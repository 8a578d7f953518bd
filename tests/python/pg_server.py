"""A real PostgreSQL server for the Python tests and the benchmarks, started by the caller.

``PostgresServer()`` makes a cluster with ``initdb`` in a fresh temporary folder, serves it on a
free loopback port with ``pg_ctl`` and, used as a context manager, stops and removes it on exit.
Loopback connections of ``user`` are trusted; ``password_user``, a second role, must give its
password (SCRAM) so that the libpq password conventions can be tested against a real server.

The binaries are found as the Rust harness (tests/integration/common/postgres.rs) finds them:
``OKTA_LIFECYCLE_PG_BIN``, else Debian's newest ``/usr/lib/postgresql/<version>/bin``, else
``initdb`` on ``PATH`` (``scripts/ensure-postgres`` installs them). PostgreSQL refuses to run as
root: as root the cluster belongs to the ``postgres`` account and its commands run through
``runuser``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

USER = "okta"
PASSWORD_USER = "okta_pw"
PASSWORD = "s3cret-Pa55"


def server_bin() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``, or ``None``."""
    explicit = os.environ.get("OKTA_LIFECYCLE_PG_BIN")
    if explicit:
        folder = Path(explicit)
        return folder if (folder / "initdb").is_file() else None
    versions = []
    root = Path("/usr/lib/postgresql")
    if root.is_dir():
        for entry in root.iterdir():
            if entry.name.isdigit() and (entry / "bin" / "initdb").is_file():
                versions.append((int(entry.name), entry / "bin"))
    if versions:
        return max(versions)[1]
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresServer:
    """A throwaway PostgreSQL server on 127.0.0.1."""

    def __init__(self) -> None:
        bin_dir = server_bin()
        if bin_dir is None:
            raise RuntimeError(
                "PostgreSQL's server binaries were not found: run scripts/ensure-postgres "
                "or set OKTA_LIFECYCLE_PG_BIN"
            )
        self.bin = bin_dir
        self.run_as = "postgres" if os.geteuid() == 0 else None
        self.folder = Path(tempfile.mkdtemp(prefix="okta-lifecycle-pg-"))
        os.chmod(self.folder, 0o755)
        if self.run_as:
            shutil.chown(self.folder, user=self.run_as)
        self.port = _free_port()
        self.data = self.folder / "data"
        self._started = False

    def _command(self, program: str, *arguments: str) -> list[str]:
        path = str(self.bin / program)
        if self.run_as:
            return ["runuser", "-u", self.run_as, "--", path, *arguments]
        return [path, *arguments]

    def _run(self, program: str, *arguments: str) -> None:
        done = subprocess.run(self._command(program, *arguments), capture_output=True, text=True, check=False)
        if done.returncode != 0:
            log = self.folder / "server.log"
            raise RuntimeError(
                f"{program} failed ({done.returncode}): {done.stderr}\n"
                + (log.read_text(errors="replace") if log.exists() else "")
            )

    def start(self) -> PostgresServer:
        self._run(
            "initdb", "-D", str(self.data), "-U", USER, "--auth-local=trust", "--auth-host=trust",
            "-E", "UTF8", "--no-instructions",
        )
        # The password role must authenticate on loopback; every other role is trusted there.
        hba = self.data / "pg_hba.conf"
        rules = f"host all {PASSWORD_USER} 127.0.0.1/32 scram-sha-256\n"
        tmp = self.folder / "hba.new"
        tmp.write_text(rules + hba.read_text())
        if self.run_as:
            shutil.chown(tmp, user=self.run_as)
        os.replace(tmp, hba)
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=200 -c password_encryption=scram-sha-256"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"), "-o", options, "-w", "-t", "60",
            "start",
        )
        self._started = True
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"PostgreSQL did not listen on port {self.port} in 60 s") from None
                time.sleep(0.05)
        self.sql(f"CREATE ROLE {PASSWORD_USER} LOGIN PASSWORD '{PASSWORD}'")
        self.sql(f"CREATE DATABASE lifecycle OWNER {PASSWORD_USER}")
        return self

    def sql(self, statement: str, database: str = "postgres") -> str:
        """Runs one statement as the trusted user with ``psql``; returns its unaligned output."""
        done = subprocess.run(
            [str(self.bin / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, "-d", database,
             "-v", "ON_ERROR_STOP=1", "-At", "-c", statement],
            capture_output=True, text=True, check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"psql failed: {done.stderr}")
        return done.stdout

    @property
    def url(self) -> str:
        """A URL for database ``postgres`` as the trusted user."""
        return f"postgresql://{USER}@127.0.0.1:{self.port}/postgres"

    def database_url(self, name: str) -> str:
        """A URL for a fresh database ``name`` (created now) as the trusted user."""
        self.sql(f"CREATE DATABASE {name}")
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{name}"

    @property
    def password_url(self) -> str:
        """A URL for database ``lifecycle`` as the password user, without the password."""
        return f"postgresql://{PASSWORD_USER}@127.0.0.1:{self.port}/lifecycle"

    def stop(self, mode: str = "fast") -> None:
        if self._started:
            subprocess.run(
                self._command("pg_ctl", "-D", str(self.data), "-m", mode, "stop"), capture_output=True, check=False
            )
            self._started = False

    def restart(self) -> None:
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"), "-o", options, "-w", "-t", "60",
            "start",
        )
        self._started = True

    def __enter__(self) -> PostgresServer:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)
