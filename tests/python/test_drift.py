"""``client.drift`` and ``okta-lifecycle drift``: changes Okta's System Log shows to managed users
and groups that no okta-lifecycle run made, with who made them."""

from __future__ import annotations

import datetime
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from okta_lifecycle import ConfigurationError, InvalidInputError, OktaClient, cli
from okta_lifecycle.testing import OktaSimulator

if TYPE_CHECKING:
    from conftest import ClientKind, EitherClient

pytestmark = pytest.mark.okta_simulator(seed_users=0)


def profile(login: str) -> dict[str, Any]:
    return {"login": login, "email": login, "firstName": "Drift", "lastName": login.split("@")[0]}


def ago(**delta: float) -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(**delta)


def test_a_role_granted_by_hand_is_reported_with_who_granted_it(
    either_client: EitherClient, client_kind: ClientKind, okta_simulator: OktaSimulator
) -> None:
    c = either_client
    start = ago(seconds=5)
    for login in ("ada@acme.com", "bob@acme.com"):
        assert c.actions.sync_identities(profile(login)).is_success
    c.actions.deprovision_identity("bob@acme.com")
    time.sleep(0.5)  # the simulator's log shows an event 300 ms after the change
    assert c.drift(since=start) == [], "a run's own changes are not drift"

    c.users.create(profile("jane@acme.com"))
    okta_simulator.add_admin_token("jane-console", "jane@acme.com")
    jane = client_kind.connect(okta_simulator.url, api_token="jane-console", journal=":memory:")
    jane.roles.assign("USER_ADMIN", user="ada@acme.com")
    jane.users.activate("bob@acme.com", send_email=False)
    time.sleep(0.5)

    found = c.drift(since=start)
    assert [(e["event_type"], e["targets"][0]["alternate_id"]) for e in found] == [
        ("user.account.privilege.grant", "ada@acme.com"),
        ("user.lifecycle.activate", "bob@acme.com"),
    ]
    for event in found:
        assert event["actor"] is not None
        assert (event["actor"]["alternate_id"], event["actor"]["type"]) == ("jane@acme.com", "User")
        assert event["managed"] and event["request_id"] and event["uuid"]
    # Jane's own account was created by this client outside any run: drift too, but not managed.
    everything = c.drift(since=start, everything=True)
    unmanaged = [e for e in everything if not e["managed"]]
    assert {e["targets"][0]["alternate_id"] for e in unmanaged} == {"jane@acme.com"}


def test_bad_windows_and_missing_scope_are_typed_errors(okta_simulator: OktaSimulator) -> None:
    okta_simulator.add_api_token("no-logs", ["okta.users.read"])
    with OktaClient(okta_simulator.url, api_token="no-logs", journal=":memory:") as client:
        with pytest.raises(ConfigurationError, match=r"okta\.logs\.read"):
            client.drift(since=ago(minutes=5))
        with pytest.raises(InvalidInputError, match="90 days"):
            client.drift(since=ago(days=91))
        with pytest.raises(InvalidInputError, match="earlier"):
            client.drift(since=ago(minutes=1), until=ago(hours=1))
        with pytest.raises(TypeError):
            client.drift(since="yesterday")  # type: ignore[arg-type]  # the wrong type is the point


def test_the_command_lists_drift_and_can_fail_on_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = ["--simulator", "--state-dir", str(tmp_path)]
    records = tmp_path / "people.jsonl"
    records.write_text(json.dumps({"email": "ada@acme.com", "status": "active"}) + "\n")
    policy = tmp_path / "policy.toml"
    policy.write_text(
        'name = "joiners"\n[source]\nformat = "jsonl"\nkey = "email"\n'
        '[attributes]\nlogin = "{email}"\nemail = "{email}"\nfirstName = "Ada"\nlastName = "Lovelace"\n'
        '[[workflow]]\nname = "joiner"\nwhen = \'status eq "active"\'\n'
        '[[workflow.actions]]\naction = "sync_identities"\n'
    )
    assert cli.main(["apply", "--policy", str(policy), "--source", str(records), "--yes", *state]) == 0
    time.sleep(0.5)
    capsys.readouterr()
    assert cli.main(["drift", "--since", "10m", "--fail-on-drift", *state]) == 0
    assert "No change to managed users and groups" in capsys.readouterr().out
    assert cli.main(["drift", "--since", "10m", "--json", *state]) == 0
    assert json.loads(capsys.readouterr().out) == []

    # By hand, between two runs: the same org (its state file), changed outside okta-lifecycle.
    with OktaSimulator(state_file=tmp_path / "simulator.json", api_token=cli.SIMULATOR_TOKEN) as sim:
        sim.client().users.update("ada@acme.com", {"title": "Chief Scientist"})
        time.sleep(0.5)
    assert cli.main(["drift", "--since", "10m", "--fail-on-drift", *state]) == cli.EXIT_FAILED
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and "user.account.update_profile" in lines[0] and "User ada@acme.com" in lines[0], lines

    assert cli.main(["drift", "--since", "91d", *state]) == cli.EXIT_USAGE
    assert "90 days" in capsys.readouterr().err
    for text in ("last week", "²h"):
        assert cli.main(["drift", "--since", text, *state]) == cli.EXIT_USAGE, text
        assert "RFC 3339" in capsys.readouterr().err


def test_export_from_the_log_writes_each_change_with_its_actor_and_the_next_watermark(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = ["--simulator", "--state-dir", str(tmp_path)]
    with OktaSimulator(state_file=tmp_path / "simulator.json", api_token=cli.SIMULATOR_TOKEN) as sim:
        client = sim.client()
        client.users.create(profile("ada@acme.com"))
        gone = client.users.create(profile("gone@acme.com"))
        client.users.deactivate(gone)
        client.users.delete(gone)
        time.sleep(0.5)
    capsys.readouterr()
    assert cli.main(["export", "--from-log", "--since", "10m", *state]) == 0
    captured = capsys.readouterr()
    rows = [json.loads(line) for line in captured.out.splitlines()]
    assert [(row["event"], row["login"]) for row in rows] == [
        ("joiner", "ada@acme.com"),
        ("joiner", "gone@acme.com"),
        ("leaver", "gone@acme.com"),
        ("deleted", "gone@acme.com"),
    ]
    assert rows[-1]["status"] == "DELETED" and all(row["actor"] and row["uuid"] for row in rows)
    assert f"--from-log --since {rows[-1]['published']}" in captured.err
    assert cli.main(["export", "--from-log", *state]) == cli.EXIT_USAGE
    assert "--from-log needs --since" in capsys.readouterr().err
