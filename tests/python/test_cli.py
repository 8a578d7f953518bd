"""The okta-lifecycle command, run as a subprocess against the built-in simulator."""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "examples" / "policy.toml"
HR = ROOT / "examples" / "hr"
COMMAND = shutil.which("okta-lifecycle", path=str(Path(sys.executable).parent)) or "okta-lifecycle"


def run(*arguments: str, state: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [COMMAND, *arguments, "--simulator", "--state-dir", str(state)],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
    )


def day(number: int) -> str:
    return str(HR / f"day{number}.csv")


def test_plan_apply_three_days_with_json_output(tmp_path: Path) -> None:
    plan = run("plan", "--policy", str(POLICY), "--source", day(1), "--json", state=tmp_path)
    assert plan.returncode == 0, plan.stderr
    planned = json.loads(plan.stdout)
    assert planned["summary"]["joiners"] == 46
    assert {issue["identity"] for issue in planned["issues"]} == {"E1012", "E1031"}
    assert (tmp_path / "budget" / "state.json").exists(), "the simulator's org shares its budget in the state dir"

    applied = run("apply", "--policy", str(POLICY), "--source", day(1), "--json", "--yes", state=tmp_path)
    assert applied.returncode == 1, "two records could not be acted on"
    result = json.loads(applied.stdout)
    assert result["applied"] is True
    assert result["report"]["counts"] == {"succeeded": len(planned["changes"])}

    again = json.loads(
        run("plan", "--policy", str(POLICY), "--source", day(1), "--json", "--incremental", state=tmp_path).stdout
    )
    assert again["changes"] == [], "the org survived between invocations and matches the policy"
    assert again["read"]["mode"] == "full" and "no earlier read" in again["read"]["reason"]

    # From the journal's mirror and what changed since: the same plan as from a full read.
    moved = json.loads(
        run("plan", "--policy", str(POLICY), "--source", day(2), "--json", "--incremental", state=tmp_path).stdout
    )
    assert moved["read"]["mode"] == "incremental", moved["read"]
    assert moved["summary"]["movers"] == 4 and moved["summary"]["joiners"] == 2
    assert run("apply", "--policy", str(POLICY), "--source", day(2), "--yes", state=tmp_path).returncode == 1
    text = run("apply", "--policy", str(POLICY), "--source", day(3), "--yes", state=tmp_path)
    assert "deactivate donald.knuth@acme.example" in text.stdout
    assert "19 succeeded" in text.stdout, "three leavers, one of them an admin whose role goes too"

    history = run("history", "donald.knuth@acme.example", state=tmp_path)
    assert history.returncode == 0
    assert "deactivate_user" in history.stdout and "create_user" in history.stdout
    as_json = json.loads(run("history", "donald.knuth@acme.example", "--json", state=tmp_path).stdout)
    assert [s["status"] for s in as_json["snapshots"]] == ["PROVISIONED"]


def test_export_full_and_incremental(tmp_path: Path) -> None:
    run("apply", "--policy", str(POLICY), "--source", day(1), "--yes", state=tmp_path)
    full = run("export", "--format", "jsonl", state=tmp_path)
    assert full.returncode == 0, full.stderr
    rows = [json.loads(line) for line in full.stdout.splitlines()]
    assert len(rows) == 46
    assert all(row["event"] == "joiner" for row in rows)
    since = full.stderr.split("--since ")[1].strip()
    time.sleep(0.01)
    run("apply", "--policy", str(POLICY), "--source", day(2), "--yes", state=tmp_path)
    output = str(tmp_path / "out.csv")
    incremental = run("export", "--format", "csv", "--since", since, "--output", output, state=tmp_path)
    assert incremental.returncode == 0, incremental.stderr
    lines = (tmp_path / "out.csv").read_text().splitlines()
    assert lines[0].startswith("id,event,")
    events = sorted(line.split(",")[1] for line in lines[1:])
    assert events.count("joiner") == 2 and events.count("mover") == 4, events


def test_usage_errors_exit_2_with_one_line(tmp_path: Path) -> None:
    missing = run("plan", "--policy", str(tmp_path / "nope.toml"), "--source", day(1), state=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.strip().count("\n") == 0 and "does not exist" in missing.stderr
    bad_policy = tmp_path / "bad.toml"
    bad_policy.write_text(POLICY.read_text().replace('action = "deprovision_identity"', 'action = "fire"'))
    bad = run("plan", "--policy", str(bad_policy), "--source", day(1), state=tmp_path)
    assert bad.returncode == 2 and "workflow[2].actions[0].action" in bad.stderr and "line" in bad.stderr
    no_flags = subprocess.run([COMMAND, "plan"], capture_output=True, text=True, timeout=60)
    assert no_flags.returncode == 2


def test_okta_errors_are_one_line_with_code_and_request_id(tmp_path: Path) -> None:
    result = run("deprovision", "nobody@acme.example", "--yes", state=tmp_path)
    assert result.returncode == 1
    assert "E0000007" in result.stderr and "request id" in result.stderr
    assert result.stderr.strip().count("\n") == 0


def test_safety_limit_blocks_with_exit_3(tmp_path: Path) -> None:
    strict = tmp_path / "strict.toml"
    strict.write_text(POLICY.read_text().replace("max_deprovisions = 5", "max_deprovisions = 1"))
    run("apply", "--policy", str(strict), "--source", day(1), "--yes", state=tmp_path)
    blocked = run("apply", "--policy", str(strict), "--source", day(3), "--yes", state=tmp_path)
    assert blocked.returncode == 3
    assert "safety" in blocked.stderr
    still_active = json.loads(run("history", "donald.knuth@acme.example", "--json", state=tmp_path).stdout)
    assert not any(change["operation"] == "deactivate_user" for change in still_active["changes"])
    forced = run("apply", "--policy", str(strict), "--source", day(3), "--yes", "--override-safety", state=tmp_path)
    assert forced.returncode == 1 and "deactivate donald.knuth@acme.example" in forced.stdout


def test_reset_password_prints_the_link_only_when_asked(tmp_path: Path) -> None:
    run("apply", "--policy", str(POLICY), "--source", day(1), "--yes", state=tmp_path)
    emailed = run("reset-password", "grace.hopper@acme.example", state=tmp_path)
    assert emailed.returncode == 0 and "reset_password/" not in emailed.stdout
    linked = run("reset-password", "grace.hopper@acme.example", "--no-email", "--json", state=tmp_path)
    assert "/reset_password/" in json.loads(linked.stdout)["reset_links"]["grace.hopper@acme.example"]


def test_apply_hands_back_the_links_a_policy_asked_okta_for(tmp_path: Path) -> None:
    run("apply", "--policy", str(POLICY), "--source", day(1), "--yes", state=tmp_path)
    policy = tmp_path / "resets.toml"
    policy.write_text(
        'name = "resets"\n[source]\nformat = "jsonl"\nkey = "email"\n'
        '[attributes]\nlogin = "{email}"\n'
        '[[workflow]]\nname = "reset"\nwhen = \'status eq "reset"\'\n'
        '[[workflow.actions]]\naction = "reset_password"\nsend_email = false\n'
    )
    source = tmp_path / "resets.jsonl"
    source.write_text(
        "".join(
            json.dumps({"email": email, "status": "reset"}) + "\n"
            for email in ("grace.hopper@acme.example", "ada.lovelace@acme.example")
        )
    )
    text = run("apply", "--policy", str(policy), "--source", str(source), "--yes", state=tmp_path)
    assert text.returncode == 0, text.stderr
    links = [line for line in text.stdout.splitlines() if line.startswith("reset link for ")]
    assert len(links) == 2 and all("/reset_password/" in line for line in links), text.stdout
    applied = run("apply", "--policy", str(policy), "--source", str(source), "--yes", "--json", state=tmp_path)
    report = json.loads(applied.stdout)["report"]
    assert sorted(report["reset_links"]) == ["ada.lovelace@acme.example", "grace.hopper@acme.example"]
    assert all("/reset_password/" in link for link in report["reset_links"].values())


@pytest.mark.skipif(not hasattr(pty, "openpty"), reason="needs a pseudo-terminal")
@pytest.mark.parametrize(("answer", "applied"), [("n", False), ("y", True)])
def test_apply_asks_on_a_terminal(tmp_path: Path, answer: str, applied: bool) -> None:
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [COMMAND, "apply", "--policy", str(POLICY), "--source", day(1), "--simulator", "--state-dir", str(tmp_path)],
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    os.close(terminal)
    os.write(controller, f"{answer}\n".encode())
    out, err = process.communicate(timeout=120)
    os.close(controller)
    assert "Apply 145 changes to http://127.0.0.1:" in out, out + err
    assert ("Not applied." in out) is (not applied)
    after = json.loads(run("plan", "--policy", str(POLICY), "--source", day(1), "--json", state=tmp_path).stdout)
    assert (after["changes"] == []) is applied


def test_command_mistakes_are_one_line_with_exit_2(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("x")
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "simulator.json").write_text("{ not json")
    simulator = [COMMAND, "simulator"]
    module = [sys.executable, "-m", "okta_lifecycle.simulator"]
    cases = {
        "a state dir that is a file": [COMMAND, "runs", "--simulator", "--state-dir", str(not_a_folder)],
        "a corrupt simulator state": [COMMAND, "runs", "--simulator", "--state-dir", str(corrupt)],
        "an output in a missing folder": [
            COMMAND, "export", "--output", str(tmp_path / "missing" / "out.csv"), "--simulator",
            "--state-dir", str(tmp_path / "ok"),
        ],
        "a negative concurrency": [
            COMMAND, "apply", "--policy", str(POLICY), "--source", day(1), "--concurrency", "-3", "--simulator",
            "--state-dir", str(tmp_path / "ok"),
        ],
        "a policy that is a folder": [
            COMMAND, "plan", "--policy", str(tmp_path), "--source", day(1), "--simulator",
            "--state-dir", str(tmp_path / "ok"),
        ],
        "a port out of range": [*simulator, "--port", "99999"],
        "faults that are not JSON": [*module, "--faults", "{bad"],
        "a negative latency": [*module, "--latency-ms", "-5"],
        "a timeout of zero": [COMMAND, "runs", "--simulator", "--state-dir", str(tmp_path / "ok"), "--timeout", "0"],
        "a shared budget that is a file": [
            COMMAND, "runs", "--simulator", "--state-dir", str(tmp_path / "ok"), "--shared-budget", str(not_a_folder),
        ],
        "an empty shared budget": [
            COMMAND, "runs", "--simulator", "--state-dir", str(tmp_path / "ok"), "--shared-budget", " ",
        ],
    }  # fmt: skip
    for name, arguments in cases.items():
        result = subprocess.run(arguments, capture_output=True, text=True, timeout=60)
        assert result.returncode == 2, f"{name}: {result.returncode} {result.stderr}"
        assert "Traceback" not in result.stderr, f"{name}: {result.stderr}"
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, f"{name}: {result.stderr}"
    message = [
        line
        for line in subprocess.run(
            cases["a policy that is a folder"], capture_output=True, text=True
        ).stderr.splitlines()
    ]
    assert "is not a file" in message[0]


def test_export_since_accepts_any_offset(tmp_path: Path) -> None:
    run("apply", "--policy", str(POLICY), "--source", day(1), "--yes", state=tmp_path)
    utc = run("export", "--since", "2000-01-01T00:00:00Z", state=tmp_path)
    offset = run("export", "--since", "2000-01-01T02:00:00+02:00", state=tmp_path)
    assert utc.returncode == offset.returncode == 0, offset.stderr
    assert utc.stdout.count("\n") == offset.stdout.count("\n") == 46


def test_export_with_entitlements_adds_groups_and_roles(tmp_path: Path) -> None:
    import csv
    import io

    run("apply", "--policy", str(POLICY), "--source", day(1), "--yes", state=tmp_path)
    plain = run("export", "--format", "csv", state=tmp_path)
    assert plain.returncode == 0, plain.stderr
    assert "groups" not in plain.stdout.splitlines()[0].split(","), "entitlements cost requests: only when asked"
    exported = run("export", "--format", "csv", "--entitlements", state=tmp_path)
    assert exported.returncode == 0, exported.stderr
    rows = {row["login"]: row for row in csv.DictReader(io.StringIO(exported.stdout))}
    ada = rows["ada.lovelace@acme.example"]
    assert ada["groups"].split(";") == ["Everyone", "all-staff", "dept-engineering"], ada["groups"]
    assert ada["roles"] == ""
