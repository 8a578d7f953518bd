"""The engine's guarantees as Python and the command see them: edited plans refused, one
applier per run (threads and processes), reactivation with a way in, resume after Ctrl-C."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from okta_lifecycle import (
    OktaClient,
    Plan,
    PlanRejectedError,
    Policy,
    Report,
    RunInProgressError,
)
from okta_lifecycle.testing import OktaSimulator

if TYPE_CHECKING:
    from pg_server import PostgresServer

COMMAND = shutil.which("okta-lifecycle", path=str(Path(sys.executable).parent)) or "okta-lifecycle"

POLICY = """
name = "trust"

[source]
format = "jsonl"
key = "id"

[attributes]
login = "{email | LOWER}"
email = "{email | LOWER}"
firstName = "{first}"
lastName = "{last}"

[[workflow]]
name = "joiner"
when = 'status eq "active"'
actions = [ { action = "sync_identities" } ]

[[workflow]]
name = "reset"
when = 'status eq "reset"'
actions = [ { action = "reset_password", send_email = true } ]

[[workflow]]
name = "leaver"
when = 'status eq "terminated"'
actions = [ { action = "deprovision_identity" } ]

[safety]
max_deprovisions = 1
"""


def records(joiners: int, resets: int = 0) -> list[dict[str, Any]]:
    rows = [
        {"id": f"j{n}", "email": f"joiner{n}@acme.com", "first": "Joiner", "last": f"N{n}", "status": "active"}
        for n in range(1, joiners + 1)
    ]
    rows += [
        {"id": f"r{n}", "email": f"user{n}@example.com", "first": "User", "last": f"R{n}", "status": "reset"}
        for n in range(1, resets + 1)
    ]
    return rows


def creates(sim: OktaSimulator) -> int:
    return sum(1 for r in sim.requests() if r["method"] == "POST" and r["path"] == "/api/v1/users")


def writes(sim: OktaSimulator) -> list[str]:
    return [f"{r['method']} {r['path']}" for r in sim.requests() if r["method"] != "GET"]


@pytest.mark.okta_simulator(seed_users=3)
def test_an_edited_plan_is_refused_and_nothing_is_sent(okta_simulator: OktaSimulator, okta_client: OktaClient) -> None:
    sim, client = okta_simulator, okta_client
    policy = Policy.from_toml(POLICY)
    leavers = [
        {"id": f"u{n}", "email": f"user{n}@example.com", "first": "U", "last": "N", "status": "terminated"}
        for n in range(1, 4)
    ]
    plan = client.plan(policy, leavers)
    assert plan.blocked, "three deprovisions past a limit of one"
    saved = json.loads(plan.to_json())
    saved["blocked"] = []
    edited = Plan.from_json(json.dumps(saved))
    sim.clear_requests()
    with pytest.raises(PlanRejectedError) as refused:
        client.apply(edited)
    assert refused.value.run_id == plan.run_id
    assert "differs" in (refused.value.reason or "")
    # A plan from another client's journal is not this journal's to apply.
    with pytest.raises(PlanRejectedError, match="not made with this journal"):
        sim.client().apply(plan, override_safety=True)
    assert writes(sim) == []


def test_two_threads_applying_one_plan_create_each_user_once(tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite"
    with OktaSimulator(latency_ms=10) as sim:
        first = OktaClient(sim.url, api_token=sim.api_token, journal=journal)
        second = OktaClient(sim.url, api_token=sim.api_token, journal=journal)
        plan = first.plan(Policy.from_toml(POLICY), records(30))
        outcomes: list[Report | RunInProgressError] = []

        def run(client: OktaClient, wait: float | None) -> None:
            try:
                outcomes.append(client.apply(plan, concurrency=4, wait_for_lease=wait))
            except RunInProgressError as error:
                outcomes.append(error)

        threads = [threading.Thread(target=run, args=(c, None)) for c in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        refused = [o for o in outcomes if isinstance(o, RunInProgressError)]
        assert len(outcomes) == 2 and len(refused) <= 1
        for error in refused:
            assert error.run_id == plan.run_id and str(os.getpid()) in (error.owner or "")
        assert creates(sim) == 30
        # Waiting instead of refusing: the late applier finds the run done.
        again = second.plan(Policy.from_toml(POLICY), records(40))
        outcomes.clear()
        threads = [
            threading.Thread(target=lambda c=c: outcomes.append(c.apply(again, wait_for_lease=60)))
            for c in (first, second)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert len(outcomes) == 2
        assert all(isinstance(report, Report) and report.is_success for report in outcomes), outcomes
        assert creates(sim) == 40
        runs = {run["run_id"]: run for run in first.runs()}
        assert runs[again.run_id]["status"] == "succeeded"
        assert runs[again.run_id]["changes"] == {"succeeded": 10}
        assert first.recorded_plan(again.run_id).to_json() == again.to_json()


@pytest.mark.okta_simulator(seed_users=1)
def test_reactivation_returns_the_activation_link_as_a_secret(
    okta_simulator: OktaSimulator, okta_client: OktaClient
) -> None:
    client = okta_client
    client.actions.deprovision_identity("user1@example.com")
    report = client.actions.reactivate_identity("user1@example.com", send_email=False)
    assert report.is_success
    link = report.activation_links["user1@example.com"]
    assert link.reveal().startswith("http")
    assert link.reveal() not in repr(report) + str(report) + json.dumps(report.outcomes)
    held = okta_simulator.user("user1@example.com")
    assert held is not None
    assert held["status"] != "DEPROVISIONED"
    emailed = client.actions.reactivate_identity("user1@example.com")
    assert emailed.activation_links == {}, "nothing to reactivate twice"


def test_a_hand_built_loopback_client_keeps_its_journal_on_disk(
    okta_simulator: OktaSimulator, okta_client: OktaClient
) -> None:
    tunnelled = OktaClient(okta_simulator.url, api_token=okta_simulator.api_token)
    assert tunnelled.journal_path is not None and tunnelled.journal_path.exists()
    assert okta_client.journal_path is None, "only the built-in simulator's own client keeps it in memory"


def _command(*arguments: str, sim: OktaSimulator, journal: Path | str) -> list[str]:
    return [COMMAND, *arguments, "--org-url", sim.url, "--journal", str(journal)]


def _environment(sim: OktaSimulator) -> dict[str, str]:
    environment = dict(os.environ)
    environment["OKTA_API_TOKEN"] = sim.api_token
    for name in ("OKTA_CLIENT_ID", "OKTA_PRIVATE_KEY", "OKTA_PRIVATE_KEY_PATH"):
        environment.pop(name, None)
    return environment


def _write_inputs(tmp_path: Path, rows: list[dict[str, Any]]) -> tuple[Path, Path]:
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    source = tmp_path / "people.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return policy, source


@pytest.fixture(params=["sqlite", "postgresql"])
def journal_target(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """The journal a test's processes share: an SQLite file, or a fresh database of the session's
    PostgreSQL server (processes on several hosts)."""
    if request.param == "sqlite":
        return tmp_path / "journal.sqlite"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return str(server.database_url(f"j{os.getpid()}_{time.monotonic_ns()}"))


def _host_environment(environment: dict[str, str], home: Path) -> dict[str, str]:
    """The environment of a process on a host of its own: its own home and state directory, so
    that it shares nothing with the others but the org and the journal it is given."""
    home.mkdir(parents=True, exist_ok=True)
    return {**environment, "HOME": str(home), "XDG_STATE_HOME": str(home / "state")}


def test_two_apply_processes_on_one_plan_send_every_create_and_reset_once(
    tmp_path: Path, journal_target: Path | str
) -> None:
    journal = journal_target
    with OktaSimulator(seed_users=10, latency_ms=10) as sim:
        policy, source = _write_inputs(tmp_path, records(30, resets=10))
        environment = _environment(sim)
        planned = subprocess.run(
            _command("plan", "--policy", str(policy), "--source", str(source), "--json", sim=sim, journal=journal),
            capture_output=True,
            text=True,
            env=environment,
            timeout=120,
        )
        assert planned.returncode == 0, planned.stderr
        plan_file = tmp_path / "plan.json"
        plan_file.write_text(planned.stdout)
        assert len(json.loads(planned.stdout)["changes"]) == 40
        sim.clear_requests()
        processes = [
            subprocess.Popen(
                _command(
                    "apply", "--plan", str(plan_file), "--yes", "--json", "--wait", "120", sim=sim, journal=journal
                ),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=_host_environment(environment, tmp_path / f"host{index}"),
            )
            for index in range(2)
        ]
        results = [process.communicate(timeout=180) for process in processes]
        for process, (out, err) in zip(processes, results, strict=True):
            assert process.returncode == 0, err
            assert json.loads(out)["report"]["counts"] == {"succeeded": 40}
        assert creates(sim) == 30
        assert sum(sim.counters()["reset_password"].values()) == 10
        assert all(count == 1 for count in sim.counters()["reset_password"].values())

        # Applying the finished run again sends nothing.
        sim.clear_requests()
        done = subprocess.run(
            _command("apply", "--plan", str(plan_file), "--yes", sim=sim, journal=journal),
            capture_output=True,
            text=True,
            env=environment,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert writes(sim) == []


def test_ctrl_c_names_the_resume_command_and_apply_resumes_the_run(tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite"
    with OktaSimulator(latency_ms=150) as sim:
        policy, source = _write_inputs(tmp_path, records(12))
        environment = _environment(sim)
        arguments = _command(
            "apply",
            "--policy",
            str(policy),
            "--source",
            str(source),
            "--yes",
            "--concurrency",
            "1",
            sim=sim,
            journal=journal,
        )
        process = subprocess.Popen(
            arguments, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment
        )
        deadline = time.monotonic() + 60
        while creates(sim) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
        assert process.returncode == 130, err
        assert "okta-lifecycle resume " in err and f"--journal {journal}" in err and f"--org-url {sim.url}" in err
        run_id = err.split("okta-lifecycle resume ")[1].split()[0]
        created_before = creates(sim)
        assert 2 <= created_before < 12

        listed = subprocess.run(
            _command("runs", "--unfinished", "--json", sim=sim, journal=journal),
            capture_output=True,
            text=True,
            env=environment,
            timeout=60,
        )
        assert listed.returncode == 0, listed.stderr
        assert [run["run_id"] for run in json.loads(listed.stdout)] == [run_id]

        # A corrected policy is not the same policy: it would plan anew, not resume the old plan.
        with OktaClient(sim.url, api_token=sim.api_token, journal=journal) as client:
            corrected = Policy.from_toml(POLICY.replace("max_deprovisions = 1", "max_deprovisions = 2"))
            assert client.unfinished_run(corrected, str(source)) is None
            assert client.unfinished_run(Policy.from_toml(POLICY), str(source)) == run_id

        # Applying the same policy and source again resumes that run instead of planning anew.
        resumed = subprocess.run(arguments, capture_output=True, text=True, env=environment, timeout=120)
        assert resumed.returncode == 0, resumed.stderr
        assert f"resuming run {run_id}" in resumed.stderr
        assert creates(sim) == 12, "each joiner created exactly once across both invocations"
        finished = subprocess.run(
            _command("runs", "--json", sim=sim, journal=journal), capture_output=True, text=True, env=environment
        )
        statuses = {run["run_id"]: run["status"] for run in json.loads(finished.stdout)}
        assert statuses[run_id] == "succeeded"
        nothing = subprocess.run(
            _command("resume", sim=sim, journal=journal), capture_output=True, text=True, env=environment, timeout=60
        )
        assert nothing.returncode == 0 and "No unfinished run" in nothing.stdout


_SIGKILL_SEEDS = int(os.environ.get("SIGKILL_SEEDS", "4"))


@pytest.mark.parametrize(
    ("backend", "seed"),
    [("sqlite", seed) for seed in range(1, _SIGKILL_SEEDS + 1)]
    + [("postgresql", seed) for seed in range(1, max(1, _SIGKILL_SEEDS // 2) + 1)],
)
def test_sigkill_at_a_random_point_then_resume_repeats_nothing(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str, seed: int
) -> None:
    import random

    journal: Path | str = tmp_path / "journal.sqlite"
    if backend == "postgresql":
        # The resume runs as another host: its own home and state, only the database shared.
        journal = str(request.getfixturevalue("postgres_server").database_url(f"k{seed}_{os.getpid()}"))
    joiners, resets = 40, 15
    with OktaSimulator(seed_users=resets, latency_ms=15, latency_jitter_ms=10) as sim:
        policy, source = _write_inputs(tmp_path, records(joiners, resets=resets))
        environment = _environment(sim)
        arguments = _command(
            "apply", "--policy", str(policy), "--source", str(source), "--yes", "--concurrency", "4",
            "--timeout", "2", sim=sim, journal=journal,
        )  # fmt: skip
        process = subprocess.Popen(arguments, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=environment)
        # The kill lands after a random number of the run's writes, and always before its last
        # ones: a run that finished before the kill is not a resume (applying the same source
        # again then plans its resets anew, by design).
        kill_after = random.Random(seed).randint(1, joiners + resets - 5)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if creates(sim) + sum(sim.counters()["reset_password"].values()) >= kill_after:
                break
            time.sleep(0.002)
        process.kill()
        process.wait(timeout=30)
        assert process.returncode == -signal.SIGKILL
        killed_at = (creates(sim), sum(sim.counters()["reset_password"].values()))
        print(f"seed {seed}: killed after {killed_at[0]} creates and {killed_at[1]} resets")

        if backend == "postgresql":
            environment = _host_environment(environment, tmp_path / "other-host")
        resumed = subprocess.run(arguments, capture_output=True, text=True, env=environment, timeout=180)
        assert resumed.returncode == 0, resumed.stdout[-1500:] + resumed.stderr
        assert creates(sim) == joiners, f"each joiner created once (killed after {killed_at})"
        counts = sim.counters()["reset_password"]
        assert len(counts) == resets and all(count == 1 for count in counts.values()), counts
        runs = json.loads(
            subprocess.run(
                _command("runs", "--json", sim=sim, journal=journal), capture_output=True, text=True, env=environment
            ).stdout
        )
        assert [run["status"] for run in runs] == ["succeeded"], runs
        assert runs[0]["changes"] == {"succeeded": joiners + resets}
        # Okta's System Log joined with the journal: every change is the run's, the ones in flight
        # at the kill (whose answers the killed process never journaled) included.
        time.sleep(0.5)  # the simulator's log shows an event 300 ms after the change
        drift = subprocess.run(
            _command("drift", "--since", "10m", "--all", "--json", sim=sim, journal=journal),
            capture_output=True,
            text=True,
            env=environment,
        )
        assert drift.returncode == 0, drift.stderr
        assert json.loads(drift.stdout) == [], f"killed after {killed_at}: {drift.stdout[:1500]}"


@pytest.mark.okta_simulator(seed_users=2)
def test_a_read_only_client_plans_but_every_write_is_refused_with_the_missing_scope(
    okta_simulator: OktaSimulator,
) -> None:
    from okta_lifecycle import PermissionDeniedError

    sim = okta_simulator
    read_scopes = ["okta.users.read", "okta.groups.read", "okta.schemas.read", "okta.roles.read"]
    sim.add_api_token("00read-only-token", read_scopes)
    reader = OktaClient(sim.url, api_token="00read-only-token", journal=":memory:")
    plan = reader.plan(Policy.from_toml(POLICY), records(2, resets=1))
    assert len(plan) == 3, "reading the org works with the read scopes"
    sim.clear_requests()
    report = reader.apply(plan)
    assert not report.is_success
    assert {o["status"] for o in report.outcomes} == {"failed"}
    assert {o["error_code"] for o in report.outcomes} == {"E0000006"}
    assert all("okta.users.manage" in (o["message"] or "") for o in report.outcomes), report.outcomes
    assert all(r["status"] == 403 for r in sim.requests() if r["method"] != "GET")
    with pytest.raises(PermissionDeniedError, match="okta.users.manage") as denied:
        reader.users.create({"login": "x@acme.com", "email": "x@acme.com", "firstName": "X", "lastName": "Y"})
    assert denied.value.status == 403 and denied.value.error_code == "E0000006"
