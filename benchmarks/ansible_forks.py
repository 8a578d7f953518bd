"""Ansible forks against one org: does the shared rate budget keep twenty processes under Okta's limits?

::

    .venv/bin/python benchmarks/ansible_forks.py [--users 200] [--forks 20] [--limit 100] [--window 10]
        [--modes shared,alone] [--assert-no-429]

A playbook of one host per user (``user001`` … ``userNNN``, connection local) runs the collection's
``okta_lifecycle.okta.user`` module for each: create the user with a profile and put it in a group.
Ansible runs each host's task in its own process, ``--forks`` at once. The simulator runs as a
separate process with per-window limits of ``--limit`` requests on each of Okta's buckets the
module uses, in windows of ``--window`` seconds (Okta's windows are a minute; shorter windows make
the limits bind within a short run). The playbook runs twice on fresh orgs: with the shared budget
(the default: every process uses the org's store under ``XDG_STATE_HOME``) and with it switched
off (``OKTA_LIFECYCLE_SHARED_BUDGET=off``), and for each the script reports the failed tasks, the
simulator's count of 429s (rate limit and concurrency limit), the requests and the wall time.

``--assert-no-429`` makes the script exit 1 unless the shared run has no failed task and no 429
(the check CI runs on a smaller playbook).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

#: The buckets the user module's requests count against (see src/http/buckets.rs).
BUCKETS = (
    "/api/v1/users",
    "/api/v1/users/{idOrLogin}",
    "/api/v1/users/{id}",
    "/api/v1/groups",
    "/api/v1/groups/{id}",
    "/api/v1",
)

PLAYBOOK = """
- name: The group every user joins
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/okta_lifecycle.okta.okta: &okta
      org_url: "{{ okta_url }}"
      api_token: "{{ okta_token }}"
  tasks:
    - name: All staff
      okta_lifecycle.okta.group:
        name: all-staff
        description: Everyone

- name: One user per host, forks at once
  hosts: people
  gather_facts: false
  module_defaults:
    group/okta_lifecycle.okta.okta: *okta
  tasks:
    - name: The user exists, in all-staff
      okta_lifecycle.okta.user:
        login: "{{ inventory_hostname }}@acme.example"
        profile:
          email: "{{ inventory_hostname }}@acme.example"
          firstName: "{{ inventory_hostname | capitalize }}"
          lastName: Forks
          department: Engineering
        groups: [all-staff]
"""


def _start_simulator(directory: Path, limit: int, window: float) -> tuple[subprocess.Popen[str], dict[str, str]]:
    limits = json.dumps({bucket: limit for bucket in BUCKETS})
    process = subprocess.Popen(
        [sys.executable, "-m", "okta_lifecycle.simulator", "--json", "--port", "0", "--rate-limits", limits]
        + ["--rate-limit-window-seconds", str(window), "--report", str(directory / "report.json")],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    return process, json.loads(process.stdout.readline())


def run(mode: str, users: int, forks: int, limit: int, window: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"okta-forks-{mode}-") as name:
        directory = Path(name)
        collections = directory / "collections" / "ansible_collections" / "okta_lifecycle"
        collections.mkdir(parents=True)
        (collections / "okta").symlink_to(ROOT / "ansible", target_is_directory=True)
        hosts = "\n".join(f"user{number:03d}" for number in range(1, users + 1))
        (directory / "inventory.ini").write_text(
            f"[people]\n{hosts}\n\n[all:vars]\nansible_connection=local\nansible_python_interpreter={sys.executable}\n"
        )
        (directory / "playbook.yml").write_text(PLAYBOOK)
        process, org = _start_simulator(directory, limit, window)
        environment = {key: value for key, value in os.environ.items() if not key.startswith(("ANSIBLE_", "OKTA_"))}
        environment.update(
            ANSIBLE_COLLECTIONS_PATH=str(directory / "collections"),
            ANSIBLE_LOCAL_TEMP=str(directory / "tmp"),
            ANSIBLE_HOST_KEY_CHECKING="False",
            ANSIBLE_NOCOLOR="1",
            XDG_STATE_HOME=str(directory / "state"),
        )
        if mode == "alone":
            environment["OKTA_LIFECYCLE_SHARED_BUDGET"] = "off"
        started = time.monotonic()
        try:
            completed = subprocess.run(
                [str(BIN / "ansible-playbook"), "-i", str(directory / "inventory.ini"), "-f", str(forks)]
                + [
                    "-e",
                    f"okta_url={org['url']}",
                    "-e",
                    f"okta_token={org['api_token']}",
                    str(directory / "playbook.yml"),
                ],
                env=environment,
                capture_output=True,
                text=True,
                timeout=3600,
            )
        finally:
            elapsed = time.monotonic() - started
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
        report = json.loads((directory / "report.json").read_text())
        recap = [line for line in completed.stdout.splitlines() if "failed=" in line]
        failed = sum(int(line.split("failed=")[1].split()[0]) for line in recap)
        unreachable = sum(int(line.split("unreachable=")[1].split()[0]) for line in recap)
        changed = sum(int(line.split("changed=")[1].split()[0]) for line in recap)
        counters = report["counters"]
        result = {
            "mode": mode,
            "users": users,
            "forks": forks,
            "exit": completed.returncode,
            "failed_tasks": failed + unreachable,
            "changed_tasks": changed,
            "rate_limited_429": counters["rate_limited"],
            "concurrency_429": counters["concurrency_limited"],
            "requests": counters["requests"],
            "seconds": round(elapsed, 1),
        }
        if completed.returncode != 0 and failed + unreachable == 0:
            result["stderr"] = completed.stderr[-2000:]
        return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--forks", type=int, default=20)
    parser.add_argument("--limit", type=int, default=100, help="requests per window on each bucket")
    parser.add_argument("--window", type=float, default=10.0, help="the simulator's window in seconds")
    parser.add_argument("--modes", default="shared,alone")
    parser.add_argument("--assert-no-429", action="store_true")
    arguments = parser.parse_args(argv)
    results = []
    for mode in arguments.modes.split(","):
        result = run(mode, arguments.users, arguments.forks, arguments.limit, arguments.window)
        print(json.dumps(result), flush=True)
        results.append(result)
    if arguments.assert_no_429:
        shared = next((r for r in results if r["mode"] == "shared"), None)
        if shared is None or shared["failed_tasks"] or shared["exit"] or shared["rate_limited_429"]:
            print("the shared run failed a task or met a 429", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
