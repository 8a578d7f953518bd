"""The simulator from Python: knobs, request log, faults, persistence and the process mode."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from okta_lifecycle.testing import OktaSimulator


def call(sim: OktaSimulator, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(sim.url + path, data=data, method=method)
    request.add_header("Authorization", f"SSWS {sim.api_token}")
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def test_context_manager_seeds_users_and_closes() -> None:
    with OktaSimulator(seed_users=3) as sim:
        assert sim.url.startswith("http://127.0.0.1:")
        status, users = call(sim, "GET", "/api/v1/users")
        assert status == 200
        assert sorted(u["profile"]["login"] for u in users) == [f"user{n}@example.com" for n in (1, 2, 3)]
        assert sim.running
    assert not sim.running
    assert "closed" in repr(sim)
    with pytest.raises(RuntimeError, match="closed"):
        sim.requests()


@pytest.mark.okta_simulator(seed_users=1)
def test_request_log_counters_and_reset(okta_simulator: OktaSimulator) -> None:
    sim = okta_simulator
    call(sim, "GET", "/api/v1/users/user1@example.com")
    log = sim.requests()
    assert [(r["method"], r["path"], r["status"], r["bucket"]) for r in log] == [
        ("GET", "/api/v1/users/user1@example.com", 200, "/api/v1/users/{idOrLogin}")
    ]
    assert sim.counters()["requests"] == 1
    status, _ = call(sim, "POST", "/api/v1/users?activate=false", {"profile": {"login": "x@acme.com"}})
    assert status == 400
    sim.reset()
    assert sim.requests() == []
    assert sim.user("user1@example.com") is not None, "reset seeds the users again"


@pytest.mark.okta_simulator(seed_users=1)
def test_bad_token_and_scripted_faults(okta_simulator: OktaSimulator) -> None:
    sim = okta_simulator
    request = urllib.request.Request(sim.url + "/api/v1/users", headers={"Authorization": "SSWS wrong"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 401
    assert json.loads(refused.value.read())["errorCode"] == "E0000011"
    sim.script_fault("GET", "/api/v1/users", 503)
    assert call(sim, "GET", "/api/v1/users")[0] == 503
    assert call(sim, "GET", "/api/v1/users")[0] == 200
    sim.script_fault("GET", "/api/v1/users", "drop_before")
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        call(sim, "GET", "/api/v1/users")


def test_rate_limits_and_bad_knobs() -> None:
    with OktaSimulator(seed_users=1, rate_limits={"/api/v1/users/{idOrLogin}": 2}) as sim:
        statuses = [call(sim, "GET", "/api/v1/users/user1@example.com")[0] for _ in range(3)]
        assert statuses == [200, 200, 429]
        assert sim.counters()["rate_limited"] == 1
    with pytest.raises(ValueError, match="rate_limits"):
        OktaSimulator(rate_limits="fast")  # type: ignore[arg-type]  # the wrong value is the point
    with pytest.raises(ValueError, match="unknown fault"):
        OktaSimulator(faults={"boom": 0.5})
    with pytest.raises(ValueError, match="probability"):
        OktaSimulator(faults={"503": 2})


@pytest.mark.okta_simulator(seed_users=1)
def test_sessions_are_observable(okta_simulator: OktaSimulator) -> None:
    sim = okta_simulator
    held = sim.user("user1@example.com")
    assert held is not None
    user_id = held["id"]
    assert sim.create_session(user_id) and sim.create_oauth_token(user_id)
    assert call(sim, "DELETE", f"/api/v1/users/{user_id}/sessions?oauthTokens=true")[0] == 204
    assert (sim.sessions(user_id), sim.oauth_tokens(user_id)) == (0, 0)


def serve(*arguments: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "okta_lifecycle.simulator", "--json", *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def first_line(process: subprocess.Popen[str]) -> str:
    """The first line a process started by ``serve`` printed."""
    assert process.stdout is not None, "serve pipes the output"
    return process.stdout.readline()


def test_process_mode_keeps_the_org_in_a_state_file(tmp_path: Path) -> None:
    state = tmp_path / "org.json"
    first = serve("--state-file", str(state), "--api-token", "00test-token")
    try:
        line = json.loads(first_line(first))
        sim_url = line["url"]
        request = urllib.request.Request(
            sim_url + "/api/v1/groups",
            data=json.dumps({"profile": {"name": "persisted"}}).encode(),
            method="POST",
            headers={"Authorization": "SSWS 00test-token", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
    finally:
        first.terminate()
        assert first.wait(timeout=10) == 0
    assert "persisted" in state.read_text()
    second = serve("--state-file", str(state), "--api-token", "00test-token")
    try:
        sim_url = json.loads(first_line(second))["url"]
        request = urllib.request.Request(
            sim_url + "/api/v1/groups?q=persisted", headers={"Authorization": "SSWS 00test-token"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert [g["profile"]["name"] for g in json.loads(response.read())] == ["persisted"]
    finally:
        second.terminate()
        second.wait(timeout=10)


def test_process_mode_rejects_bad_arguments() -> None:
    process = serve("--rate-limits", "{not json")
    _, error = process.communicate(timeout=20)
    assert process.returncode == 2
    assert "rate-limits" in error


@pytest.mark.okta_simulator(seed_users=1)
def test_role_assignments_are_observable(okta_simulator: OktaSimulator) -> None:
    sim = okta_simulator
    held = sim.user("user1@example.com")
    assert held is not None
    user_id = held["id"]
    assert sim.role_assignments(user_id) == []
    assert call(sim, "POST", f"/api/v1/users/{user_id}/roles", {"type": "USER_ADMIN"})[0] == 201
    status, group = call(sim, "POST", "/api/v1/groups", {"profile": {"name": "Admins"}})
    assert status == 200
    assert call(sim, "POST", f"/api/v1/groups/{group['id']}/roles", {"type": "APP_ADMIN"})[0] == 201
    assert call(sim, "PUT", f"/api/v1/groups/{group['id']}/users/{user_id}")[0] == 204
    # A user's list includes its groups' roles, in Okta's order (by label).
    assert sim.role_assignments("user1@example.com") == ["APP_ADMIN", "USER_ADMIN"]
    assert sim.role_assignments(group["id"]) == ["APP_ADMIN"]
    # Deactivation keeps role assignments; deletion removes them.
    assert call(sim, "POST", f"/api/v1/users/{user_id}/lifecycle/deactivate")[0] == 200
    assert sim.role_assignments(user_id) == ["APP_ADMIN", "USER_ADMIN"]
    assert call(sim, "DELETE", f"/api/v1/users/{user_id}")[0] == 204
    assert sim.role_assignments(user_id) == []
    assert sim.role_assignments("nobody") == []


def test_custom_attributes_become_schema_properties() -> None:
    with OktaSimulator(custom_attributes=["badgeNumber"]) as sim:
        status, schema = call(sim, "GET", "/api/v1/meta/schemas/user/default")
        assert status == 200
        custom = schema["definitions"]["custom"]["properties"]
        assert custom["badgeNumber"]["type"] == "string"
        assert "department" not in custom, "base properties stay in #base"
        body: dict[str, dict[str, object]] = {
            "profile": {"login": "b@acme.com", "email": "b@acme.com", "firstName": "B", "lastName": "C"}
        }
        body["profile"]["badgeNumber"] = 17
        status, error = call(sim, "POST", "/api/v1/users", body)
        assert status == 400
        assert error["errorCauses"] == [{"errorSummary": "badgeNumber: The field must be of type string"}]
