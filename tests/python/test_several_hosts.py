"""The journal in PostgreSQL as Python sees it: chosen by URL (the argument, the environment
variable, the command's ``--journal``), credentials as libpq takes them, a password never shown,
and an unreachable database refused before anything is sent to Okta. The trust tests that run on
both backends (two applying processes on two "hosts", SIGKILL and resume) are in test_trust.py."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from okta_lifecycle import JournalError, OktaClient
from okta_lifecycle.cli import _without_password
from okta_lifecycle.testing import OktaSimulator

if TYPE_CHECKING:
    from pg_server import PostgresServer

pytestmark = pytest.mark.okta_simulator(seed_users=2)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_journal_url_keeps_the_journal_in_the_database_and_never_shows_its_password(
    okta_simulator: OktaSimulator, postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pg_server import PASSWORD

    monkeypatch.delenv("PGPASSWORD", raising=False)
    url = postgres_server.password_url.replace("okta_pw@", f"okta_pw:{PASSWORD}@")
    with OktaClient(okta_simulator.url, api_token=okta_simulator.api_token, journal=url) as client:
        assert client.journal_path is None
        assert client.journal_url == postgres_server.password_url.replace("okta_pw@", "okta_pw:***@")
        assert PASSWORD not in repr(client)
        assert client.runs() == []
    tables = postgres_server.sql(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'okta_lifecycle'", "lifecycle"
    )
    assert int(tables) >= 10


def test_the_password_comes_from_pgpassword_or_the_password_file_as_with_libpq(
    okta_simulator: OktaSimulator, postgres_server: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pg_server import PASSWORD

    url = postgres_server.password_url
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "missing"))
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    with OktaClient(okta_simulator.url, api_token=okta_simulator.api_token, journal=url) as client:
        assert client.runs() == []

    monkeypatch.setenv("PGPASSWORD", "not-the-password")
    with pytest.raises(JournalError) as refused:
        OktaClient(okta_simulator.url, api_token=okta_simulator.api_token, journal=url)
    assert "password authentication failed" in str(refused.value)
    assert "not-the-password" not in str(refused.value)

    monkeypatch.delenv("PGPASSWORD")
    passfile = tmp_path / "pgpass"
    line = f"127.0.0.1:{postgres_server.port}:lifecycle:okta_pw:{PASSWORD}"
    passfile.write_text(f"# a comment\nelsewhere:*:*:*:wrong\n{line}\n")
    passfile.chmod(0o644)
    monkeypatch.setenv("PGPASSFILE", str(passfile))
    with pytest.raises(JournalError):
        # libpq ignores a password file that others may read; so does the journal.
        OktaClient(okta_simulator.url, api_token=okta_simulator.api_token, journal=url)
    passfile.chmod(0o600)
    with OktaClient(okta_simulator.url, api_token=okta_simulator.api_token, journal=url) as client:
        assert client.runs() == []


def test_okta_lifecycle_journal_names_the_database_when_no_journal_is_given(
    okta_simulator: OktaSimulator, postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = postgres_server.database_url(f"env_{os.getpid()}_{time.monotonic_ns()}")
    monkeypatch.setenv("OKTA_LIFECYCLE_JOURNAL", url)
    with OktaClient(okta_simulator.url, api_token=okta_simulator.api_token) as client:
        assert client.journal_url == url
        assert client.journal_path is None


def test_an_unreachable_database_is_a_journal_error_before_anything_is_sent(
    okta_simulator: OktaSimulator,
) -> None:
    okta_simulator.clear_requests()
    started = time.monotonic()
    with pytest.raises(JournalError) as refused:
        OktaClient(
            okta_simulator.url,
            api_token=okta_simulator.api_token,
            journal=f"postgresql://okta:hunter2@127.0.0.1:{_closed_port()}/journal",
        )
    assert time.monotonic() - started < 15
    assert "cannot connect" in str(refused.value) and "hunter2" not in str(refused.value)
    assert okta_simulator.requests() == []


def test_the_resume_command_the_cli_prints_never_holds_a_database_password() -> None:
    assert _without_password("postgresql://okta:s3cret@db:5432/j") == "postgresql://okta:***@db:5432/j"
    assert _without_password("--journal=postgres://u:p%40ss@db/j?sslmode=prefer") == (
        "--journal=postgres://u:***@db/j?sslmode=prefer"
    )
    assert _without_password("postgresql://db/j?user=u&password=pw&x=1") == "postgresql://db/j?user=u&password=***&x=1"
    assert _without_password("postgresql://okta@db/j") == "postgresql://okta@db/j"
    assert _without_password("/var/lib/journal:odd@name.sqlite") == "/var/lib/journal:odd@name.sqlite"


def test_the_same_job_started_on_two_hosts_at_once_is_applied_once(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    """Two ``okta-lifecycle apply --policy --source`` processes at once, each with a home and
    state of its own and one PostgreSQL journal: one applies, the other waits for it and, its
    plan superseded, plans again and finds nothing left to do."""
    import json
    import subprocess

    from test_trust import COMMAND, _environment, _write_inputs, creates, records

    journal = postgres_server.database_url(f"cli_{os.getpid()}_{time.monotonic_ns()}")
    with OktaSimulator(latency_ms=20) as sim:
        policy, source = _write_inputs(tmp_path, records(25))
        environment = _environment(sim)
        processes = []
        for host in ("east", "west"):
            home = tmp_path / host
            home.mkdir()
            processes.append(
                subprocess.Popen(
                    [COMMAND, "apply", "--policy", str(policy), "--source", str(source), "--yes", "--json",
                     "--wait", "120", "--org-url", sim.url, "--journal", journal],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    env={**environment, "HOME": str(home), "XDG_STATE_HOME": str(home / "state")},
                )
            )  # fmt: skip
        outputs = [process.communicate(timeout=240) for process in processes]
        for process, (_, err) in zip(processes, outputs, strict=True):
            assert process.returncode == 0, err
        assert creates(sim) == 25, "every joiner created once"
        documents = [json.loads(out) for out, _ in outputs]
        applied = [doc for doc in documents if doc["report"] and doc["report"]["counts"].get("succeeded")]
        assert applied, documents
