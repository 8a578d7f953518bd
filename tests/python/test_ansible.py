"""The Ansible collection okta_lifecycle.okta (``ansible/``), driven by the real ansible-playbook
against the simulator running as a separate process.

Each test starts ``python -m okta_lifecycle.simulator --json --port 0 --report PATH``, runs the
playbooks of ``tests/ansible/`` with the collection on a temporary ``ANSIBLE_COLLECTIONS_PATH``,
and reads three things: the task results (a notification callback in
``tests/ansible/callback_plugins`` writes them as JSON lines, censored as every callback sees
them), the playbook's standard output (the default callback at ``-v`` with JSON results), and the
simulator's request log (the ``--report`` file written when it stops).

The modules' behaviour (results, check mode, diffs, idempotence, failures, the org's state) is
checked by the collection's own integration targets (``ansible/tests/integration``, run by
``scripts/ansible-integration``). What stays here needs what a target cannot see: the request log
(no write in check mode, one reset per run), the output a person sees (no token or link in it),
two control hosts at once, each module's EXAMPLES run as written, ansible-doc and the build.
"""

from __future__ import annotations

import ast
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


# --- what the integration targets cannot see ------------------------------------------------------
# The modules' results, check mode, diffs, idempotence, failures and the org's state are checked by
# the collection's integration targets (ansible/tests/integration/targets, run by
# scripts/ansible-integration). What is left here needs the simulator's request log, the playbook's
# own output as a person sees it, or more than one control host.


def test_check_mode_sends_no_write_and_the_token_is_never_shown(simulator: Simulator, playbook: Playbook) -> None:
    """Joiners, movers and leavers over two days: check mode reads the org and sends no write
    (the simulator's request log), the API token never reaches the output, and the diff is shown."""
    day1 = f"@{PLAYBOOKS / 'day1.yml'}"
    day2 = f"@{PLAYBOOKS / 'day2.yml'}"
    empty = playbook(simulator, "jml.yml", "-e", day1, "--check", "--diff")
    assert empty.returncode == 0, empty.stdout + empty.stderr
    assert empty.changed_tasks() == ["Groups", "People", "Project members"]

    first = playbook(simulator, "jml.yml", "-e", day1, "--diff")
    assert first.returncode == 0, first.stdout + first.stderr
    assert first.changed_tasks() == ["Groups", "People", "Project members"]
    assert simulator.api_token not in first.stdout, "the API token is never shown"
    assert simulator.api_token not in first.stderr and simulator.api_token not in json.dumps(first.results)
    assert "diff" in first.stdout or "+++" in first.stdout

    check = playbook(simulator, "jml.yml", "-e", day2, "--check", "--diff")
    assert check.returncode == 0, check.stdout
    assert "People" in check.changed_tasks()

    move = playbook(simulator, "jml.yml", "-e", day2, "--diff")
    assert move.returncode == 0, move.stdout
    assert "People" in move.changed_tasks()
    client = simulator.client()
    try:
        history = client.history("linus@acme.example")
    finally:
        client.close()
    assert history == [], "the test's client has its own journal; the playbook's is in the journal file"

    report = simulator.stop()
    assert writes_between(report, empty) == [], "check mode on an empty org sends no write"
    assert [r for r in report["requests"] if empty.started <= r["at"] <= empty.finished], "check mode reads the org"
    assert writes_between(report, check) == [], "check mode sends no write"
    assert writes_between(report, move), "the real run writes"
    assert report["counters"]["rate_limited"] == 0


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
        assert "reset_link" not in run.result("Reset by email")
    assert runs[0].changed_tasks() == runs[1].changed_tasks()
    report = simulator.stop()
    resets = [r for r in report["requests"] if r["path"].endswith("/lifecycle/reset_password")]
    for run in runs:
        in_run = [r for r in resets if run.started <= r["at"] <= run.finished]
        assert len(in_run) == 2, "one reset for each of the two real tasks; none in check mode"
    assert sum(report["counters"]["reset_password"].values()) == 4


def test_the_policy_modules_links_reach_the_registered_result_and_nothing_else(
    simulator: Simulator, playbook: Playbook, tmp_path: Path
) -> None:
    link_file = tmp_path / "links.json"
    run = playbook(simulator, "policy.yml", extra_vars={"link_file": str(link_file)})
    assert run.returncode == 0, run.stdout
    links = json.loads(link_file.read_text())
    assert list(links) == ["ada@acme.example"] and "/reset_password/" in links["ada@acme.example"]
    link = links["ada@acme.example"]
    assert link not in run.stdout and link not in run.stderr and link not in json.dumps(run.results)
    hidden = run.result("Resets with the links returned")
    assert "reset_links" not in hidden and "censored" in hidden and hidden["changed"] is True


def test_a_wrong_token_from_the_environment_is_never_shown(simulator: Simulator, playbook: Playbook) -> None:
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
        assert entry["status"] == "ignored" and entry["result"]["error_code"] == "E0000011", entry
    assert wrong not in run.stdout and wrong not in run.stderr and wrong not in json.dumps(run.results)

    good = playbook(
        simulator,
        "errors.yml",
        credentials=False,
        env={"OKTA_ORG_URL": simulator.url, "OKTA_API_TOKEN": simulator.api_token},
    )
    assert good.task("Create a user with the environment's credentials")["status"] == "changed"
    assert simulator.api_token not in good.stdout and simulator.api_token not in json.dumps(good.results)


def test_the_info_modules_send_no_write(simulator: Simulator, playbook: Playbook) -> None:
    client = simulator.client()
    try:
        research = client.groups.create("dept-research")
        client.users.create(
            {"login": "ada@acme.example", "email": "ada@acme.example", "firstName": "Ada", "lastName": "Lovelace"},
            group_ids=[research.id],
        )
    finally:
        client.close()
    run = playbook(simulator, "info.yml")
    assert run.returncode == 0, run.stdout
    assert run.changed_tasks() == []
    assert run.result("Group by name, with members")["groups"][0]["members"] == ["ada@acme.example"]
    report = simulator.stop()
    assert writes_between(report, run) == []
    assert [r for r in report["requests"] if run.started <= r["at"] <= run.finished], "the modules read the org"


# --- the modules' EXAMPLES ------------------------------------------------------------------------


def _examples(module: str) -> list[dict[str, Any]]:
    """The module's EXAMPLES block, as the tasks it holds."""
    tree = ast.parse((COLLECTION / "plugins" / "modules" / f"{module}.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "EXAMPLES" for target in node.targets
        ):
            value = ast.literal_eval(node.value)
            assert isinstance(value, str)
            tasks = yaml.safe_load(value)
            assert isinstance(tasks, list) and tasks, f"{module}: EXAMPLES holds no task"
            return tasks
    raise AssertionError(f"{module} has no EXAMPLES")


#: The org the EXAMPLES take for granted: Acme's groups, and active users (login: names, groups).
EXAMPLE_GROUPS = ("all-staff", "dept-engineering", "dept-research", "project-apollo")
EXAMPLE_USERS = {
    "ada@acme.com": ("Ada", "Lovelace", ("all-staff", "dept-engineering", "project-apollo")),
    "grace@acme.com": ("Grace", "Hopper", ("all-staff", "dept-engineering")),
    "old.account@acme.com": ("Old", "Account", ()),
}


def _org_the_examples_speak_of(sim: Simulator) -> None:
    client = sim.client()
    try:
        groups = {name: client.groups.create(name).id for name in EXAMPLE_GROUPS}
        for login, (first, last, member_of) in EXAMPLE_USERS.items():
            client.users.create(
                {"login": login, "email": login, "firstName": first, "lastName": last},
                password="Correct-Horse-1-Battery",
                group_ids=[groups[name] for name in member_of],
            )
    finally:
        client.close()


@pytest.mark.parametrize("module", MODULES)
def test_the_modules_examples_run_as_written(
    module: str, simulator: Simulator, playbook: Playbook, tmp_path: Path
) -> None:
    """Each module's EXAMPLES, as ansible-doc shows them, run as one play against an org holding
    what they speak of; only the connection comes from outside (okta_org_url and okta_api_token,
    and the OKTA_* environment variables), with the files the policy examples read beside the
    playbook and the home directory the test's."""
    _org_the_examples_speak_of(simulator)
    tasks = _examples(module)
    files = tmp_path / "files"
    files.mkdir()
    shutil.copy(PLAYBOOKS / "files" / "policy.toml", files / "policy.toml")
    shutil.copy(PLAYBOOKS / "files" / "staff-day1.csv", files / "hr-export.csv")
    play = [{"name": f"EXAMPLES of {module}", "hosts": "localhost", "connection": "local", "gather_facts": False}]
    play[0]["tasks"] = tasks
    path = tmp_path / f"{module}-examples.yml"
    path.write_text(yaml.safe_dump(play, sort_keys=False))
    run = playbook(
        simulator,
        str(path),
        env={"OKTA_ORG_URL": simulator.url, "OKTA_API_TOKEN": simulator.api_token, "HOME": str(tmp_path)},
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert [entry["task"] for entry in run.results] == [task["name"] for task in tasks], run.stdout[-4000:]
    assert {entry["status"] for entry in run.results} <= {"ok", "changed"}, run.results
    assert run.recap()["failed"] == 0


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


def test_the_example_playbooks_run(simulator: Simulator, playbook: Playbook) -> None:
    """The collection's playbooks (ansible/playbooks) on an empty org, with the example data they
    ship: the HR export; the joiners, movers and leavers planned, applied, applied again without a
    change; then one leaver."""
    playbooks = COLLECTION / "playbooks"
    synced = playbook(simulator, str(playbooks / "hr_sync.yml"))
    assert synced.returncode == 0, synced.stdout[-4000:]
    assert synced.task("Apply the plan")["status"] == "changed"
    assert synced.result("Show the plan's summary")["plan.summary"]["issues"] == 1, "the record without an email"

    planned = playbook(simulator, str(playbooks / "joiners_movers_leavers.yml"), "--check", "--diff")
    assert planned.returncode == 0, planned.stdout[-4000:] + planned.stderr[-2000:]
    assert planned.changed_tasks() == ["Groups", "People", "Project members"]
    applied = playbook(simulator, str(playbooks / "joiners_movers_leavers.yml"))
    assert applied.returncode == 0, applied.stdout[-4000:]
    assert applied.changed_tasks() == ["Groups", "People", "Project members"]
    again = playbook(simulator, str(playbooks / "joiners_movers_leavers.yml"))
    assert again.returncode == 0 and again.changed_tasks() == [], again.stdout[-4000:]

    leaver = playbook(simulator, str(playbooks / "leaver.yml"), extra_vars={"login": "ada@acme.example"})
    assert leaver.returncode == 0, leaver.stdout[-4000:]
    assert leaver.task("Deprovision")["status"] == "changed"
    assert leaver.result("Show what is left of the account")["msg"] == "ada@acme.example is DEPROVISIONED, in groups []"
    refused = playbook(simulator, str(playbooks / "leaver.yml"))
    assert refused.returncode != 0 and refused.task("The login is given")["status"] == "failed"
