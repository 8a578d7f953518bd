"""The shared rate budget across processes: real worker processes against one simulator share
Okta's bucket through the file store or a PostgreSQL database (and run into 429s without it); a
process killed with a request in flight leaves neither its slot locked nor its request counted."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from okta_lifecycle import OktaClient, errors
from okta_lifecycle.testing import OktaSimulator

if TYPE_CHECKING:
    from pg_server import PostgresServer

_WORKER = """
import sys
from okta_lifecycle import OktaClient
url, token, budget, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
shared = False if budget == "off" else budget
with OktaClient(url, api_token=token, journal=":memory:", shared_budget=shared, max_concurrency=1) as client:
    print("ready", flush=True)
    sys.stdin.readline()
    for _ in range(count):
        client.users.get("user1@example.com")
"""


def _workers(
    sim: OktaSimulator, budget: str, processes: int, each: int, hosts: list[dict[str, str]] | None = None
) -> None:
    """Starts the workers, lets them go together once all are ready, and waits for them. With
    ``hosts`` (an environment per host), the workers take turns between them."""
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, sim.url, sim.api_token, budget, str(each)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=hosts[index % len(hosts)] if hosts else None,
        )
        for index in range(processes)
    ]
    for worker in workers:
        assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
    for worker in workers:
        assert worker.wait(timeout=120) == 0


def _limited() -> OktaSimulator:
    return OktaSimulator(seed_users=1, rate_limits={"/api/v1/users/{idOrLogin}": 20}, rate_limit_window_seconds=2.0)


def _started_worker(sim: OktaSimulator, store: str) -> subprocess.Popen[str]:
    """A worker process (``_WORKER``) with one request to send through ``store``, told to go."""
    worker = subprocess.Popen(
        [sys.executable, "-c", _WORKER, sim.url, sim.api_token, store, "1"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
    assert worker.stdin is not None
    worker.stdin.write("go\n")
    worker.stdin.flush()
    return worker


def test_processes_sharing_the_budget_stay_under_the_bucket_limit(tmp_path: Path) -> None:
    with _limited() as sim:
        _workers(sim, str(tmp_path / "budget"), processes=4, each=15)
        shared = sim.counters()
    assert shared["by_status"].get(200) == 60, shared
    assert shared["rate_limited"] == 0, shared
    with _limited() as sim:
        _workers(sim, "off", processes=4, each=15)
        alone = sim.counters()
    assert alone["rate_limited"] > 0, f"four processes each alone overrun the bucket: {alone}"


def _store(budget: Path) -> dict[str, Any]:
    """The store's state as a reader outside its lock sees it: a process may be rewriting it in
    place, so a torn read is read again."""
    for _ in range(100):
        try:
            state: dict[str, Any] = json.loads((budget / "state.json").read_text() or "{}")
            return state
        except json.JSONDecodeError:
            time.sleep(0.01)
    raise AssertionError("the store's state never read whole")


def test_a_process_killed_mid_request_leaves_no_slot_locked_and_no_request_counted(tmp_path: Path) -> None:
    budget = tmp_path / "budget"
    with OktaSimulator(seed_users=1, latency_ms=1500) as sim:
        worker = _started_worker(sim, str(budget))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if (budget / "state.json").exists() and any(
                str(worker.pid) in bucket.get("in_flight", {}) for bucket in _store(budget).get("buckets", {}).values()
            ):
                break
            time.sleep(0.02)
        else:
            pytest.fail("the worker's request never showed in the store")
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        # One slot in all: it is free again, and the dead worker's request is not counted.
        with OktaClient(
            sim.url, api_token=sim.api_token, journal=":memory:", shared_budget=budget, max_concurrency=1
        ) as client:
            assert client.users.get("user1@example.com").login == "user1@example.com"
        left = {pid for bucket in _store(budget)["buckets"].values() for pid in bucket.get("in_flight", {})}
        assert str(worker.pid) not in left, left


def test_the_argument_is_true_false_or_a_directory(tmp_path: Path) -> None:
    with OktaSimulator() as sim:
        with pytest.raises(errors.InvalidInputError, match="shared_budget"):
            OktaClient(
                sim.url,
                api_token=sim.api_token,
                journal=":memory:",
                shared_budget=3,  # type: ignore[arg-type]  # the wrong type is the point
            )
        not_a_directory = tmp_path / "file"
        not_a_directory.write_text("x")
        with pytest.raises(errors.ConfigurationError, match="shared rate budget"):
            OktaClient(sim.url, api_token=sim.api_token, journal=":memory:", shared_budget=not_a_directory)
        with OktaClient(sim.url, api_token=sim.api_token, journal=":memory:", shared_budget=tmp_path / "s") as client:
            next(iter(client.users.list(limit=1)), None)
        assert (tmp_path / "s" / "state.json").exists()


def test_on_by_default_in_the_org_store_beside_the_default_journal(tmp_path: Path) -> None:
    """A fresh process with no setting: the store is the org's, under XDG_STATE_HOME."""
    script = (
        "import sys\nfrom okta_lifecycle import OktaClient\n"
        "with OktaClient(sys.argv[1], api_token=sys.argv[2]) as client:\n"
        "    next(iter(client.users.list(limit=1)), None)\n"
        "    print(client.journal_path)\n"
    )
    environment = dict(os.environ)
    # Blank is unset, as for the other OKTA_ variables.
    environment["OKTA_LIFECYCLE_SHARED_BUDGET"] = " "
    environment["XDG_STATE_HOME"] = str(tmp_path)
    with OktaSimulator() as sim:
        printed = subprocess.run(
            [sys.executable, "-c", script, sim.url, sim.api_token],
            env=environment,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    journal = Path(printed)
    assert journal.parent == tmp_path / "okta-lifecycle"
    assert (journal.with_suffix(".budget") / "state.json").exists()


# The store in PostgreSQL: processes on several hosts (here: with a home and a state directory
# each) that name one database share one budget.

_PASSWORD = "hunter2-budget"


@pytest.fixture
def database_server(postgres_server: PostgresServer) -> PostgresServer:
    """The session's PostgreSQL server (``conftest.py``)."""
    return postgres_server


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _host(tmp_path: Path, name: str) -> dict[str, str]:
    """The environment of a process on another host: a home and a state directory of its own."""
    home = tmp_path / name
    (home / "state").mkdir(parents=True)
    environment = dict(os.environ)
    environment.update(HOME=str(home), XDG_STATE_HOME=str(home / "state"))
    environment.pop("OKTA_LIFECYCLE_SHARED_BUDGET", None)
    return environment


def test_processes_on_two_hosts_sharing_a_database_stay_under_the_bucket_limit(
    database_server: PostgresServer, tmp_path: Path
) -> None:
    url = database_server.database_url("two_hosts")
    with _limited() as sim:
        hosts = [_host(tmp_path, "host-a"), _host(tmp_path, "host-b")]
        _workers(sim, url, processes=4, each=15, hosts=hosts)
        shared = sim.counters()
    assert shared["by_status"].get(200) == 60, shared
    assert shared["rate_limited"] == 0, shared
    # Neither host kept a store of its own; the org's row is in the database.
    for host in ("host-a", "host-b"):
        assert not list((tmp_path / host / "state").rglob("state.json"))
    rows = database_server.sql("SELECT org FROM okta_lifecycle_budget", "two_hosts").split()
    assert rows == [sim.url.rstrip("/")]


def test_the_variable_names_the_database_and_either_scheme_is_read(
    database_server: PostgresServer, tmp_path: Path
) -> None:
    url = database_server.database_url("from_variable").replace("postgresql://", "postgres://")
    script = (
        "import sys\nfrom okta_lifecycle import OktaClient\n"
        "with OktaClient(sys.argv[1], api_token=sys.argv[2], journal=':memory:') as client:\n"
        "    client.users.get('user1@example.com')\n"
    )
    environment = _host(tmp_path, "host")
    environment["OKTA_LIFECYCLE_SHARED_BUDGET"] = url
    with OktaSimulator(seed_users=1) as sim:
        subprocess.run([sys.executable, "-c", script, sim.url, sim.api_token], env=environment, check=True)
        state = database_server.sql("SELECT state::text FROM okta_lifecycle_budget", "from_variable")
    assert "/api/v1/users/{idOrLogin}" in state, state


def test_a_process_killed_mid_request_gives_its_slot_back_with_its_session(
    database_server: PostgresServer,
) -> None:
    url = database_server.database_url("killed")
    with OktaSimulator(seed_users=1, latency_ms=1500) as sim:
        worker = _started_worker(sim, url)
        deadline = time.monotonic() + 10
        while database_server.sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'", "killed").strip() != "1":
            assert time.monotonic() < deadline, "the worker's request never held its slot"
            time.sleep(0.02)
        session = database_server.sql(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'okta-lifecycle budget'", "killed"
        ).strip()
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        # One slot in all: free again at once (not after the store's patience), and the dead
        # session's request is not counted.
        started = time.monotonic()
        with OktaClient(
            sim.url, api_token=sim.api_token, journal=":memory:", shared_budget=url, max_concurrency=1
        ) as client:
            assert client.users.get("user1@example.com").login == "user1@example.com"
        assert time.monotonic() - started < 4.0
    assert database_server.sql(f"SELECT count(*) FROM pg_stat_activity WHERE pid = {session}", "killed").strip() == "0"
    state = json.loads(database_server.sql("SELECT state::text FROM okta_lifecycle_budget", "killed"))
    assert all(session not in bucket.get("in_flight", {}) for bucket in state["buckets"].values()), state


def test_a_url_that_cannot_be_read_is_a_configuration_error_without_its_password() -> None:
    with OktaSimulator() as sim:
        for url, expected in [
            (f"postgresql://okta:{_PASSWORD}@127.0.0.1:notaport/x", "cannot be read|not a PostgreSQL URL|port"),
            (f"postgresql://okta:{_PASSWORD}@127.0.0.1/x?sslmode=require", "TLS"),
            ("postgresql:/x", "must start with postgresql://"),
        ]:
            with pytest.raises(errors.ConfigurationError, match=expected) as refused:
                OktaClient(sim.url, api_token=sim.api_token, journal=":memory:", shared_budget=url)
            assert _PASSWORD not in str(refused.value)
            assert "shared rate budget" in str(refused.value)


def test_a_database_that_cannot_be_reached_is_logged_without_its_password_and_the_client_works(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = f"postgresql://okta:{_PASSWORD}@127.0.0.1:{_closed_port()}/postgres"
    caplog.set_level(logging.DEBUG)
    with OktaSimulator(seed_users=1) as sim:
        started = time.monotonic()
        with OktaClient(sim.url, api_token=sim.api_token, journal=":memory:", shared_budget=url) as client:
            assert _PASSWORD not in repr(client)
            for _ in range(3):
                client.users.get("user1@example.com")
        assert time.monotonic() - started < 4.0
    warnings = [record.getMessage() for record in caplog.records if "shared rate budget" in record.getMessage()]
    assert any("governs its requests alone" in message for message in warnings), warnings
    assert any("okta:***@127.0.0.1" in message for message in warnings), warnings
    assert not [record for record in caplog.records if _PASSWORD in record.getMessage()]
