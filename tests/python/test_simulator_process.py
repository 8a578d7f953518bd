"""The simulator as a process (``python -m okta_lifecycle.simulator``): its ``--report`` file."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

TOKEN = "00report-test-token"


def serve(*arguments: str, cwd: Path | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "okta_lifecycle.simulator", "--json", "--port", "0", "--api-token", TOKEN, *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
    )


def first_line(process: subprocess.Popen[str]) -> str:
    """The first line a process started with ``stdout=subprocess.PIPE`` printed."""
    assert process.stdout is not None, "the output is piped"
    return process.stdout.readline()


def errors(process: subprocess.Popen[str]) -> str:
    """What a process started with ``stderr=subprocess.PIPE`` wrote there."""
    assert process.stderr is not None, "the errors are piped"
    return process.stderr.read()


def call(url: str, method: str, path: str, body: object = None) -> int:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url + path, data=data, method=method)
    request.add_header("Authorization", f"SSWS {TOKEN}")
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
            status: int = response.status
            return status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "ctrl-c"])
def test_report_holds_the_counters_and_every_request(tmp_path: Path, stop: signal.Signals) -> None:
    report = tmp_path / "report.json"
    process = serve("--seed-users", "1", "--report", str(report))
    try:
        url = json.loads(first_line(process))["url"]
        assert call(url, "GET", "/api/v1/users/user1@example.com") == 200
        assert call(url, "GET", "/api/v1/users/nobody@example.com") == 404
        assert call(url, "POST", "/api/v1/groups", {"profile": {"name": "reported"}}) == 200
        assert not report.exists(), "the report is written when the simulator stops"
    finally:
        process.send_signal(stop)
        assert process.wait(timeout=20) == 0, errors(process)
    document = json.loads(report.read_text())
    assert set(document) == {"counters", "requests"}
    requests = document["requests"]
    assert [(r["method"], r["path"], r["status"]) for r in requests] == [
        ("GET", "/api/v1/users/user1@example.com", 200),
        ("GET", "/api/v1/users/nobody@example.com", 404),
        ("POST", "/api/v1/groups", 200),
    ]
    assert {"query", "bucket", "dropped", "at"} <= set(requests[0])
    counters = document["counters"]
    assert counters["requests"] == 3
    assert counters["by_status"] == {"200": 2, "404": 1}
    assert counters["rate_limited"] == 0
    assert TOKEN not in report.read_text(), "the report holds no credential"


def test_report_counts_password_resets(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    process = serve("--seed-users", "1", "--report", str(report))
    try:
        url = json.loads(first_line(process))["url"]
        path = "/api/v1/users/user1@example.com/lifecycle/reset_password?sendEmail=true"
        assert call(url, "POST", path, {}) == 200
    finally:
        process.terminate()
        assert process.wait(timeout=20) == 0
    document = json.loads(report.read_text())
    assert sum(document["counters"]["reset_password"].values()) == 1
    assert [r["path"] for r in document["requests"] if r["path"].endswith("/lifecycle/reset_password")] == [
        "/api/v1/users/user1@example.com/lifecycle/reset_password"
    ]


def test_report_into_a_missing_folder_is_refused_at_start(tmp_path: Path) -> None:
    process = serve("--report", str(tmp_path / "missing" / "report.json"))
    _, error = process.communicate(timeout=20)
    assert process.returncode == 2
    assert "--report" in error


def test_without_report_nothing_is_written(tmp_path: Path) -> None:
    process = serve(cwd=tmp_path)
    try:
        json.loads(first_line(process))
    finally:
        process.terminate()
        assert process.wait(timeout=20) == 0
    assert list(tmp_path.iterdir()) == []


def test_the_command_forwards_report(tmp_path: Path) -> None:
    command = Path(sys.executable).parent / "okta-lifecycle"
    report = tmp_path / "report.json"
    process = subprocess.Popen(
        [str(command), "simulator", "--port", "0", "--api-token", TOKEN, "--report", str(report)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = first_line(process).split(" at ", 1)[1].strip()
        assert call(url, "GET", "/api/v1/users/nobody@example.com") == 404
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    requests = json.loads(report.read_text())["requests"]
    assert [(r["method"], r["path"], r["status"]) for r in requests] == [
        ("GET", "/api/v1/users/nobody@example.com", 404)
    ]
