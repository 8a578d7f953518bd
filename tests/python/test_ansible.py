"""The Ansible collection okta_lifecycle.okta (``ansible/``), driven by the real ansible-playbook
against the simulator running as a separate process.

Each test starts ``python -m okta_lifecycle.simulator --json --port 0 --report PATH``, runs the
playbooks of ``tests/ansible/`` with the collection on a temporary ``ANSIBLE_COLLECTIONS_PATH``,
and reads three things: the task results (a notification callback in
``tests/ansible/callback_plugins`` writes them as JSON lines, censored as every callback sees
them), the playbook's standard output (the default callback at ``-v`` with JSON results), and the
simulator's request log (the ``--report`` file written when it stops). The org's state is read
with an ``OktaClient`` on the simulator's URL.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pytest
import yaml

from okta_lifecycle import OktaClient

if TYPE_CHECKING:
    from pg_server import PostgresServer

ROOT = Path(__file__).resolve().parents[2]
COLLECTION = ROOT / "ansible"
PLAYBOOKS = ROOT / "tests" / "ansible"
BIN = Path(sys.executable).parent
ANSIBLE_PLAYBOOK = BIN / "ansible-playbook"
ANSIBLE_DOC = BIN / "ansible-doc"
MODULES = sorted(path.stem for path in (COLLECTION / "plugins" / "modules").glob("*.py"))
WRITES = ("POST", "PUT", "DELETE", "PATCH")

pytestmark = pytest.mark.skipif(
    not ANSIBLE_PLAYBOOK.exists(), reason="ansible-core is not installed (requirements-test.txt)"
)


@dataclass
class Simulator:
    """The simulator process: its URL and token; ``stop()`` returns its report."""

    process: subprocess.Popen[str]
    url: str
    api_token: str
    report_path: Path
    report: dict[str, Any] | None = None

    def client(self) -> OktaClient:
        return OktaClient(self.url, api_token=self.api_token, journal=":memory:")

    def stop(self) -> dict[str, Any]:
        if self.report is None:
            self.process.send_signal(signal.SIGTERM)
            assert self.process.wait(timeout=30) == 0, self.process.stderr.read() if self.process.stderr else ""
            self.report = json.loads(self.report_path.read_text())
        return self.report


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[Simulator]:
    report = tmp_path / "simulator-report.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "okta_lifecycle.simulator", "--json", "--port", "0", "--seed-users", "3"]
        + ["--report", str(report)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = json.loads(process.stdout.readline())
        sim = Simulator(process, line["url"], line["api_token"], report)
        yield sim
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


@dataclass
class Run:
    """One ansible-playbook run: exit code, output and the task results."""

    returncode: int
    stdout: str
    stderr: str
    results: list[dict[str, Any]]
    started: float
    finished: float
    by_task: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for entry in self.results:
            self.by_task[entry["task"]] = entry

    def task(self, name: str) -> dict[str, Any]:
        assert name in self.by_task, f"no result for task {name!r}; tasks: {list(self.by_task)}\n{self.stdout}"
        return self.by_task[name]

    def result(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self.task(name)["result"]
        return result

    def changed_tasks(self) -> list[str]:
        return [entry["task"] for entry in self.results if entry["status"] == "changed"]

    def recap(self) -> dict[str, int]:
        line = next(line for line in self.stdout.splitlines() if line.startswith("localhost") and "ok=" in line)
        return {key: int(value) for key, value in (part.split("=") for part in line.split()[2:])}


def _control_directory(root: Path) -> Path:
    """A control host's directory: the collection on its own path, its own state directory."""
    collections = root / "collections" / "ansible_collections" / "okta_lifecycle"
    if not collections.exists():
        collections.mkdir(parents=True)
        (collections / "okta").symlink_to(COLLECTION, target_is_directory=True)
        (root / "state").mkdir()
    return root


class Playbook(Protocol):
    """What the ``playbook`` fixture gives: a runner of ansible-playbook."""

    def __call__(
        self,
        sim: Simulator | None,
        name: str,
        *arguments: str,
        extra_vars: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
        credentials: bool = True,
        control: str | None = None,
    ) -> Run: ...


@pytest.fixture
def playbook(tmp_path: Path) -> Playbook:
    """``playbook(sim, "jml.yml", *args, extra_vars=..., env=..., control=...)`` runs
    ansible-playbook; ``control`` names a control host's directory of its own (collections, state,
    temporary files, working directory), by default the test's."""
    _control_directory(tmp_path)
    journal = tmp_path / "journal.sqlite"
    counter = iter(range(1000))

    def run(
        sim: Simulator | None,
        name: str,
        *arguments: str,
        extra_vars: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
        credentials: bool = True,
        control: str | None = None,
    ) -> Run:
        root = _control_directory(tmp_path / control) if control else tmp_path
        state = root / "state"
        number = next(counter)
        results = tmp_path / f"results-{number}.jsonl"
        variables: dict[str, Any] = {"ansible_python_interpreter": sys.executable, "okta_journal": str(journal)}
        if sim is not None and credentials:
            variables.update(okta_org_url=sim.url, okta_api_token=sim.api_token)
        variables.update(extra_vars or {})
        vars_file = tmp_path / f"vars-{number}.json"
        vars_file.write_text(json.dumps(variables))
        environment = {key: value for key, value in os.environ.items() if not key.startswith(("OKTA_", "ANSIBLE_"))}
        environment.update(
            ANSIBLE_COLLECTIONS_PATH=str(root / "collections"),
            ANSIBLE_CALLBACK_PLUGINS=str(PLAYBOOKS / "callback_plugins"),
            ANSIBLE_CALLBACKS_ENABLED="okta_test_results",
            ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default",
            ANSIBLE_CALLBACK_RESULT_FORMAT="json",
            ANSIBLE_LOCAL_TEMP=str(root / "ansible-tmp"),
            ANSIBLE_REMOTE_TEMP=str(root / "ansible-tmp"),
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_LOCALHOST_WARNING="false",
            ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
            ANSIBLE_RETRY_FILES_ENABLED="false",
            ANSIBLE_FORKS="1",
            OKTA_TEST_RESULTS=str(results),
            XDG_STATE_HOME=str(state),
            HOME=str(root) if control else environment.get("HOME", str(root)),
        )
        environment.update(env or {})
        started = time.time()
        completed = subprocess.run(
            [str(ANSIBLE_PLAYBOOK), "-i", "localhost,", "-v", "-e", f"@{vars_file}", str(PLAYBOOKS / name), *arguments],
            capture_output=True,
            text=True,
            env=environment,
            cwd=root,
            timeout=300,
        )
        finished = time.time()
        lines = results.read_text().splitlines() if results.exists() else []
        return Run(
            completed.returncode,
            completed.stdout,
            completed.stderr,
            [json.loads(line) for line in lines],
            started,
            finished,
        )

    return run


def writes_between(report: dict[str, Any], run: Run) -> list[tuple[str, str]]:
    return [
        (request["method"], request["path"])
        for request in report["requests"]
        if request["method"] in WRITES and run.started <= request["at"] <= run.finished
    ]


def items(entry: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A loop task's item results, by the login or name of each item."""
    return {(item["item"].get("login") or item["item"].get("name")): item for item in entry["result"]["results"]}


def org_state(sim: Simulator) -> dict[str, dict[str, Any]]:
    client = sim.client()
    try:
        state = {}
        # Okta lists DEPROVISIONED users only when asked for them.
        listed = [*client.users.list(), *client.users.list(filter='status eq "DEPROVISIONED"')]
        for user in listed:
            groups = sorted(g.name or "" for g in client.users.groups(user) if g.type == "OKTA_GROUP")
            state[user.login] = {"status": user.status, "profile": user.profile, "groups": groups}
        return state
    finally:
        client.close()


# --- joiners, movers, leavers ---------------------------------------------------------------------


def test_joiner_mover_leaver(simulator: Simulator, playbook: Playbook) -> None:
    first = playbook(simulator, "jml.yml", "-e", f"@{PLAYBOOKS / 'day1.yml'}", "--diff", extra_vars={})
    assert first.returncode == 0, first.stdout + first.stderr
    assert first.changed_tasks() == ["Groups", "People", "Project members"]
    people = items(first.task("People"))
    ada = people["ada@acme.example"]
    assert ada["changed"] is True
    assert [c["operation"] for c in ada["changes"]] == ["create_user"]
    assert ada["diff"]["before"] == {"exists": False}
    assert ada["diff"]["after"]["profile"]["department"] == "Engineering"
    assert ada["diff"]["after"]["groups"] == ["all-staff", "dept-engineering"]
    assert ada["user"]["groups"] == ["all-staff", "dept-engineering"]
    assert ada["outcomes"][0]["status"] == "succeeded" and ada["run_id"]
    assert simulator.api_token not in first.stdout, "the API token is never shown"
    assert "diff" in first.stdout or "+++" in first.stdout

    state = org_state(simulator)
    assert state["ada@acme.example"]["groups"] == ["all-staff", "dept-engineering", "project-apollo"]
    assert state["linus@acme.example"]["groups"] == ["all-staff", "dept-operations", "project-apollo"]
    assert state["grace@acme.example"]["profile"]["title"] == "Admiral"

    again = playbook(simulator, "jml.yml", "-e", f"@{PLAYBOOKS / 'day1.yml'}")
    assert again.returncode == 0, again.stdout
    assert again.changed_tasks() == []
    assert again.recap()["changed"] == 0

    check = playbook(simulator, "jml.yml", "-e", f"@{PLAYBOOKS / 'day2.yml'}", "--check", "--diff")
    assert check.returncode == 0, check.stdout
    moves = items(check.task("People"))
    planned = moves["ada@acme.example"]
    assert planned["changed"] is True
    update = next(c for c in planned["changes"] if c["operation"] == "update_user")
    assert {c["attribute"]: (c["before"], c["after"]) for c in update["changes"]} == {
        "department": ("Engineering", "Research"),
        "title": ("Engineer", "Researcher"),
    }
    assert planned["diff"]["before"]["groups"] == ["all-staff", "dept-engineering", "project-apollo"]
    assert planned["diff"]["after"]["groups"] == ["all-staff", "dept-research", "project-apollo"]
    assert planned["diff"]["after"]["profile"] == {"department": "Research", "title": "Researcher"}
    assert "create_group" in [c["operation"] for c in planned["changes"]], "dept-research does not exist yet"
    leaver = moves["linus@acme.example"]
    assert [c["operation"] for c in leaver["changes"]][:2] == ["snapshot_user", "deactivate_user"]
    assert leaver["diff"]["after"]["status"] == "DEPROVISIONED" and leaver["diff"]["after"]["groups"] == []
    assert moves["grace@acme.example"]["changed"] is False

    move = playbook(simulator, "jml.yml", "-e", f"@{PLAYBOOKS / 'day2.yml'}", "--diff")
    assert move.returncode == 0, move.stdout
    assert items(move.task("People"))["linus@acme.example"]["diff"]["after"]["status"] == "DEPROVISIONED"
    state = org_state(simulator)
    assert state["ada@acme.example"]["profile"]["department"] == "Research"
    assert state["ada@acme.example"]["groups"] == ["all-staff", "dept-research", "project-apollo"]
    assert state["linus@acme.example"]["status"] == "DEPROVISIONED"
    assert state["linus@acme.example"]["groups"] == []
    assert state["grace@acme.example"]["groups"] == ["all-staff", "dept-engineering", "project-apollo"]
    client = simulator.client()
    try:
        history = client.history("linus@acme.example")
    finally:
        client.close()
    assert history == [], "the test's client has its own journal; the playbook's is in the journal file"

    settled = playbook(simulator, "jml.yml", "-e", f"@{PLAYBOOKS / 'day2.yml'}")
    assert settled.returncode == 0, settled.stdout
    assert settled.changed_tasks() == []

    report = simulator.stop()
    assert writes_between(report, check) == [], "check mode sends no write"
    assert writes_between(report, move), "the real run writes"
    assert report["counters"]["rate_limited"] == 0


def test_check_mode_on_an_empty_org_writes_nothing(simulator: Simulator, playbook: Playbook, tmp_path: Path) -> None:
    run = playbook(simulator, "jml.yml", "-e", f"@{PLAYBOOKS / 'day1.yml'}", "--check", "--diff")
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.changed_tasks() == ["Groups", "People", "Project members"]
    assert run.result("Project members")["members"] == ["ada@acme.example", "linus@acme.example"]
    assert "does not exist (yet)" in run.result("Project members")["warnings"][0]
    people = items(run.task("People"))
    operations = [c["operation"] for c in people["ada@acme.example"]["changes"]]
    assert operations.count("create_group") == 2 and "create_user" in operations
    assert people["ada@acme.example"]["diff"]["after"]["status"] == "PROVISIONED"
    groups = items(run.task("Groups"))
    assert groups["all-staff"]["diff"] == {
        "before": {"exists": False},
        "after": {"exists": True, "name": "all-staff", "description": "Everyone employed by Acme"},
    }
    report = simulator.stop()
    assert [r for r in report["requests"] if r["method"] in WRITES] == []
    assert report["requests"], "check mode reads the org"


# --- password resets ------------------------------------------------------------------------------


def test_password_reset_sends_one_reset_per_run_and_hides_the_link(
    simulator: Simulator, playbook: Playbook, tmp_path: Path
) -> None:
    link_file = tmp_path / "link"
    runs = []
    for _ in range(2):
        run = playbook(simulator, "password_reset.yml", extra_vars={"link_file": str(link_file)})
        assert run.returncode == 0, run.stdout + run.stderr
        runs.append(run)
        link = link_file.read_text()
        assert link.startswith("http"), "the link reached the registered result"
        assert link not in run.stdout and link not in run.stderr
        assert link not in json.dumps(run.results)
        hidden = run.result("Reset with the link returned")
        assert "reset_link" not in hidden and "censored" in hidden and hidden["changed"] is True
        assert run.result("Reset by email")["changed"] is True
        assert "reset_link" not in run.result("Reset by email")
        assert run.result("Reset in check mode (nothing sent)")["changed"] is True
    assert runs[0].changed_tasks() == runs[1].changed_tasks()
    report = simulator.stop()
    resets = [r for r in report["requests"] if r["path"].endswith("/lifecycle/reset_password")]
    for run in runs:
        in_run = [r for r in resets if run.started <= r["at"] <= run.finished]
        assert len(in_run) == 2, "one reset for each of the two real tasks; none in check mode"
    assert sum(report["counters"]["reset_password"].values()) == 4


# --- errors ---------------------------------------------------------------------------------------


def test_a_wrong_token_fails_with_oktas_error_code(simulator: Simulator, playbook: Playbook) -> None:
    wrong = "00wrong-token-for-the-test"
    run = playbook(
        simulator,
        "errors.yml",
        credentials=False,
        env={"OKTA_ORG_URL": simulator.url, "OKTA_API_TOKEN": wrong},
    )
    assert run.returncode == 0, run.stdout  # ignore_errors
    for task in ("Read a user with the environment's credentials", "Create a user with the environment's credentials"):
        entry = run.task(task)
        assert entry["status"] == "ignored", entry
        assert entry["result"]["error_code"] == "E0000011"
        assert entry["result"]["status"] == 401
        assert entry["result"]["error_type"] == "AuthenticationError"
        assert "request_id" in entry["result"]
    assert wrong not in run.stdout and wrong not in json.dumps(run.results)

    good = playbook(
        simulator,
        "errors.yml",
        credentials=False,
        env={"OKTA_ORG_URL": simulator.url, "OKTA_API_TOKEN": simulator.api_token},
    )
    assert good.task("Read a user with the environment's credentials")["status"] == "ok"
    assert good.task("Create a user with the environment's credentials")["status"] == "changed"
    missing = good.task("A group that does not exist")
    assert missing["status"] == "ignored" and "no-such-group" in missing["result"]["msg"]
    assert simulator.api_token not in good.stdout


def test_options_of_the_wrong_type_fail_before_anything_is_written(
    simulator: Simulator, playbook: Playbook, tmp_path: Path
) -> None:
    run = playbook(simulator, "wrong_types.yml")
    assert run.returncode == 0, run.stdout  # ignore_errors
    mapping = run.task("A profile attribute given as a mapping")
    assert mapping["status"] == "ignored" and "department" in mapping["result"]["msg"], mapping
    assert "object" in mapping["result"]["msg"], mapping
    listed = run.task("A one-value attribute given as a list")
    assert listed["status"] == "ignored" and "firstName" in listed["result"]["msg"], listed
    budget = run.task("A shared budget given as a mapping")
    assert budget["status"] == "ignored" and "shared_budget" in budget["result"]["msg"], budget
    assert not list(Path.cwd().glob("{*")), "no directory named after the mapping"
    assert run.task("Scopes written as OKTA_SCOPES writes them")["status"] == "ok"
    report = simulator.stop()
    assert [r for r in report["requests"] if r["method"] in WRITES] == []


def test_without_okta_lifecycle_the_module_fails_cleanly(
    simulator: Simulator, playbook: Playbook, tmp_path: Path
) -> None:
    bare = shutil.which("python3", path="/usr/bin:/usr/local/bin")
    if bare is None or subprocess.run([bare, "-c", "import okta_lifecycle"], capture_output=True).returncode == 0:
        pytest.skip("no Python without okta_lifecycle on this machine")
    run = playbook(
        simulator,
        "errors.yml",
        extra_vars={"ansible_python_interpreter": bare},
        credentials=False,
        env={"OKTA_ORG_URL": simulator.url, "OKTA_API_TOKEN": simulator.api_token},
    )
    result = run.result("Read a user with the environment's credentials")
    assert "okta-lifecycle" in result["msg"] and "Failed to import" in result["msg"], result


# --- read-only modules, groups, policies, user states ---------------------------------------------


def test_user_info_and_group_info_filters(simulator: Simulator, playbook: Playbook) -> None:
    client = simulator.client()
    try:
        research = client.groups.create("dept-research")
        client.groups.create("dept-sales")
        client.groups.create("project-x")
        ada = client.users.create(
            {
                "login": "ada@acme.example",
                "email": "ada@acme.example",
                "firstName": "Ada",
                "lastName": "Lovelace",
                "department": "Research",
            },
            group_ids=[research.id],
        )
        grace = client.users.create(
            {"login": "grace@acme.example", "email": "grace@acme.example", "firstName": "Grace", "lastName": "Hopper"}
        )
        client.users.deactivate(grace)
        assert ada.login
    finally:
        client.close()
    run = playbook(simulator, "info.yml", "--check")
    assert run.returncode == 0, run.stdout
    assert run.changed_tasks() == []
    one = run.result("By login, with groups")["users"]
    assert [(u["login"], u["groups"]) for u in one] == [("ada@acme.example", ["dept-research"])]
    assert run.result("A login that does not exist")["users"] == []
    assert [u["login"] for u in run.result("SCIM search")["users"]] == ["ada@acme.example"]
    assert [u["login"] for u in run.result("Filter")["users"]] == ["grace@acme.example"]
    limited = run.result("Limit")
    assert len(limited["users"]) == 2 and limited["truncated"] is True
    assert [u["login"] for u in run.result("In check mode")["users"]] == ["ada@acme.example"]
    malformed = run.task("A malformed filter")
    assert malformed["status"] == "ignored"
    # Refused before it is sent, or by Okta (HTTP 400) with its error code.
    assert malformed["result"]["error_type"] in ("FilterSyntaxError", "ValidationError"), malformed
    if malformed["result"]["error_type"] == "ValidationError":
        assert malformed["result"]["status"] == 400 and malformed["result"]["error_code"]
    group = run.result("Group by name, with members")["groups"]
    assert [(g["name"], g["members"]) for g in group] == [("dept-research", ["ada@acme.example"])]
    assert sorted(g["name"] for g in run.result("Groups by prefix")["groups"]) == ["dept-research", "dept-sales"]
    assert [g["name"] for g in run.result("Groups by SCIM filter")["groups"]] == ["Everyone"]
    report = simulator.stop()
    assert writes_between(report, run) == []


def test_groups_and_memberships(simulator: Simulator, playbook: Playbook) -> None:
    run = playbook(simulator, "groups.yml", "--diff")
    assert run.returncode == 0, run.stdout
    statuses = {entry["task"]: entry["status"] for entry in run.results}
    assert statuses == {
        "Create in check mode": "changed",
        "Create": "changed",
        "Create again": "ok",
        "Describe": "changed",
        "Members": "changed",
        "Exactly these members, in check mode": "changed",
        "Exactly these members": "changed",
        "Exactly these members again": "ok",
        "Remove one": "changed",
        "An unknown member": "ignored",
        "The built-in group cannot be deleted": "ignored",
        "Delete": "changed",
        "Delete again": "ok",
    }
    described = run.result("Describe")["diff"]
    assert (
        described["before"]["description"] == "Gemini" and described["after"]["description"] == "The Gemini programme"
    )
    exclusive = run.result("Exactly these members, in check mode")
    assert exclusive["diff"] == {
        "before": {"members": ["user1@example.com", "user2@example.com"]},
        "after": {"members": ["user2@example.com", "user3@example.com"]},
    }
    assert sorted(c["operation"] for c in exclusive["changes"]) == ["add_member", "remove_member"]
    assert run.result("Exactly these members")["members"] == ["user2@example.com", "user3@example.com"]
    assert run.result("Remove one")["members"] == ["user2@example.com"]
    assert "nobody@acme.example" in run.result("An unknown member")["msg"]
    client = simulator.client()
    try:
        assert client.groups.find("project-gemini") is None
    finally:
        client.close()


def test_policy_module(simulator: Simulator, playbook: Playbook, tmp_path: Path) -> None:
    link_file = tmp_path / "links.json"
    run = playbook(simulator, "policy.yml", extra_vars={"link_file": str(link_file)})
    assert run.returncode == 0, run.stdout
    plan = run.task("Plan day 1")
    assert plan["status"] == "changed"
    operations = [c["operation"] for c in plan["result"]["changes"]]
    assert operations.count("create_user") == 3 and operations.count("create_group") == 2
    assert len(plan["result"]["issues"]) == 1, "the record without an email"
    assert plan["result"]["diff"]["after"]["group dept-engineering"] == {
        "name": "dept-engineering",
        "description": None,
    }
    applied = run.result("Apply day 1")
    assert applied["changed"] is True and applied["counts"] == {"succeeded": len(applied["outcomes"])}
    assert applied["run_id"] != plan["result"]["run_id"] or applied["resumed"]
    assert run.task("Apply day 1 again")["status"] == "ok"
    blocked = run.task("Day 2 is over the safety limit")
    assert blocked["status"] == "ignored"
    assert "safety" in blocked["result"]["msg"] and "override_safety" in blocked["result"]["msg"]
    assert blocked["result"]["blocked"]
    overridden = run.result("Day 2 with the limit overridden")
    assert overridden["changed"] is True
    # The links a policy asked Okta for reach the registered result, and nothing else.
    links = json.loads(link_file.read_text())
    assert list(links) == ["ada@acme.example"] and "/reset_password/" in links["ada@acme.example"]
    link = links["ada@acme.example"]
    assert link not in run.stdout and link not in run.stderr and link not in json.dumps(run.results)
    hidden = run.result("Resets with the links returned")
    assert "reset_links" not in hidden and "censored" in hidden and hidden["changed"] is True
    state = org_state(simulator)
    assert state["grace@acme.example"]["status"] == "DEPROVISIONED"
    assert state["ada@acme.example"]["groups"] == ["dept-research"]


def test_user_states(simulator: Simulator, playbook: Playbook) -> None:
    client = simulator.client()
    try:
        team = client.groups.create("team")
        client.groups.add_member(team, "user1@example.com")
    finally:
        client.close()
    run = playbook(simulator, "user_states.yml", "--diff")
    assert run.returncode == 0, run.stdout
    statuses = {entry["task"]: entry["status"] for entry in run.results}
    assert statuses == {
        "Suspend": "changed",
        "Suspend again": "ok",
        "Reactivate, memberships restored": "changed",
        "Deprovision in check mode": "changed",
        "Deprovision": "changed",
        "Deprovision again": "ok",
        "Delete in check mode": "changed",
        "Delete": "changed",
        "Delete again": "ok",
    }
    suspended = run.result("Suspend")
    assert suspended["diff"]["before"]["status"] == "ACTIVE" and suspended["diff"]["after"]["status"] == "SUSPENDED"
    assert suspended["diff"]["after"]["groups"] == []
    back = run.result("Reactivate, memberships restored")
    assert back["user"]["status"] == "ACTIVE" and back["user"]["groups"] == ["team"]
    assert back["user"]["profile"]["title"] == "Returner"
    assert run.result("Delete in check mode")["changes"][-1]["operation"] == "delete_user"
    assert run.result("Delete")["user"] is None
    client = simulator.client()
    try:
        assert [u.login for u in client.users.list()] == ["user2@example.com", "user3@example.com"]
    finally:
        client.close()


# --- documentation --------------------------------------------------------------------------------


@pytest.mark.parametrize("module", MODULES)
def test_ansible_doc_renders(module: str, tmp_path: Path) -> None:
    collections = tmp_path / "ansible_collections" / "okta_lifecycle"
    collections.mkdir(parents=True)
    (collections / "okta").symlink_to(COLLECTION, target_is_directory=True)
    environment = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
    environment.update(
        ANSIBLE_COLLECTIONS_PATH=str(tmp_path), ANSIBLE_NOCOLOR="1", ANSIBLE_LOCAL_TEMP=str(tmp_path / "t")
    )
    completed = subprocess.run(
        [str(ANSIBLE_DOC), "-t", "module", f"okta_lifecycle.okta.{module}"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert f"okta_lifecycle.okta.{module}" in completed.stdout
    for section in ("OPTIONS", "EXAMPLES", "RETURN VALUES"):
        assert section in completed.stdout, f"{module}: no {section}"
    assert "[WARNING]" not in completed.stderr and "[ERROR]" not in completed.stderr, completed.stderr


def test_every_module_is_in_the_action_group() -> None:
    runtime = (COLLECTION / "meta" / "runtime.yml").read_text()
    group = yaml.safe_load(runtime)["action_groups"]["okta"]
    assert sorted(group) == MODULES
    assert MODULES == sorted(
        ["deprovision", "group", "group_info", "group_membership", "password_reset", "policy", "user", "user_info"]
    )


def test_the_collection_builds(tmp_path: Path) -> None:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
    environment.update(ANSIBLE_LOCAL_TEMP=str(tmp_path / "t"), ANSIBLE_NOCOLOR="1")
    completed = subprocess.run(
        [str(BIN / "ansible-galaxy"), "collection", "build", str(COLLECTION), "--output-path", str(tmp_path)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    with tarfile.open(tmp_path / "okta_lifecycle-okta-0.1.0.tar.gz") as archive:
        names = set(archive.getnames())
        manifest_file = archive.extractfile("MANIFEST.json")
        assert manifest_file is not None, "MANIFEST.json is a regular file"
        manifest = json.load(manifest_file)
    assert {"README.md", "LICENSE", "meta/runtime.yml", "requirements.txt"} <= names
    assert {f"plugins/modules/{module}.py" for module in MODULES} <= names
    assert not any(name.startswith("tests/output") for name in names)
    assert manifest["collection_info"]["license_file"] == "LICENSE"


def test_the_collection_keeps_no_copy_of_what_each_plan_operation_does() -> None:
    """Check mode, diffs and predictions come from the engine's plan (``Plan.diff``,
    ``Plan.predict``): no module names a plan operation, so an operation added to the engine
    reaches every diff without a change here."""
    operations = (
        "create_group create_user update_user add_member remove_member snapshot_user deactivate_user suspend_user "
        "activate_user unsuspend_user clear_sessions unassign_role assign_role reset_password"
    ).split()
    for path in sorted((COLLECTION / "plugins").rglob("*.py")):
        code = "\n".join(
            line for line in path.read_text().splitlines() if not line.lstrip().startswith(("sample:", "#"))
        )
        named = [name for name in operations if f'"{name}"' in code or f"'{name}'" in code]
        assert named == [], f"{path.relative_to(COLLECTION)} works out {named} itself"


def test_two_control_hosts_sharing_a_postgresql_journal_apply_one_job_once(
    simulator: Simulator,
    playbook: Playbook,
    postgres_server: PostgresServer,
) -> None:
    """Two ansible-playbook runs at once from control directories of their own (collections,
    state, home, temporary files), sharing only the org and one PostgreSQL database for the
    journal and the rate budget."""
    import threading

    database = postgres_server.database_url(f"ansible_{os.getpid()}_{time.monotonic_ns()}")
    shared = {"okta_journal": database, "okta_shared_budget": database}
    runs: dict[str, Run] = {}

    def control_host(name: str) -> None:
        runs[name] = playbook(simulator, "several_hosts.yml", extra_vars=shared, control=name)

    threads = [threading.Thread(target=control_host, args=(name,)) for name in ("east", "west")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert set(runs) == {"east", "west"}
    for run in runs.values():
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
        assert run.recap()["failed"] == 0
    results = [run.result("Apply day 1") for run in runs.values()]
    assert sum(1 for result in results if result["changed"]) == 1, results
    report = simulator.stop()
    writes = [(r["method"], r["path"]) for r in report["requests"] if r["method"] in WRITES]
    assert writes.count(("POST", "/api/v1/users")) == 3, writes
    assert writes.count(("POST", "/api/v1/groups")) == 2, writes
    assert len([w for w in writes if w[0] == "PUT" and "/users/" in w[1]]) == 3, writes
    assert not [r for r in report["requests"] if r.get("status") == 429]


@pytest.mark.parametrize("option", ["okta_journal", "okta_shared_budget"])
def test_a_database_url_holding_a_password_is_refused_before_anything_is_written(
    simulator: Simulator, playbook: Playbook, option: str
) -> None:
    url = "postgresql://lifecycle:hunter2@127.0.0.1:1/okta"
    shared = {"okta_journal": ":memory:", "okta_shared_budget": False, option: url}
    run = playbook(simulator, "several_hosts.yml", extra_vars=shared)
    assert run.returncode != 0
    failed = run.task("Apply day 1")
    assert failed["status"] == "failed"
    assert "holds a password" in failed["result"]["msg"] and "PGPASSWORD" in failed["result"]["msg"]
    report = simulator.stop()
    assert [r for r in report["requests"] if r["method"] in WRITES] == []
