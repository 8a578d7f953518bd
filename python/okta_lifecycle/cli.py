"""The ``okta-lifecycle`` command: plan and apply lifecycle policies from the shell.

Thin over the library: it parses arguments, calls okta_lifecycle, and prints. Exit codes: 0
success, 1 some changes failed or some records could not be acted on (apply), 2 usage error,
3 blocked by a safety limit (plan and apply), 4 refused: the plan is not the one recorded when
it was made (edited, from another journal or for another org), or another applier owns the run,
130 interrupted (the message names the command that resumes).
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import re
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from okta_lifecycle import OktaClient, Plan, Policy, Report, _arguments, errors
from okta_lifecycle.testing import OktaSimulator

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_BLOCKED, EXIT_REFUSED, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130

#: The simulator's API token in --simulator mode (a fake org's credential, not a secret).
SIMULATOR_TOKEN = "00okta-lifecycle-local-simulator"


class UsageError(Exception):
    """A problem with the command line or its files."""


_seconds = _arguments.bounded(float, 0.0, 86_400.0)
_timeout = _arguments.bounded(float, 0.0, 3_600.0, above_low=True)


def _shared_budget(text: str) -> str:
    """``--shared-budget``: on, off, the store's directory or a ``postgresql://`` URL (the client
    reads it)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("give on, off, a directory or a postgresql:// URL")
    return text


def _parser() -> argparse.ArgumentParser:
    parser = _arguments.Parser(
        prog="okta-lifecycle",
        description="Plan and apply Okta lifecycle policies; read Okta as a source of identities.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_arguments.Parser)

    def target(command: argparse.ArgumentParser) -> None:
        group = command.add_argument_group("target (default: OKTA_ORG_URL and credentials from the environment)")
        group.add_argument("--simulator", action="store_true", help="use the built-in Okta simulator")
        group.add_argument(
            "--state-dir",
            default=os.environ.get("OKTA_LIFECYCLE_STATE_DIR", ".okta-lifecycle"),
            help="with --simulator: where the org and the journal are kept between runs (default: .okta-lifecycle)",
        )
        group.add_argument("--org-url", help="the org URL (overrides OKTA_ORG_URL)")
        group.add_argument(
            "--journal",
            help="the journal: a file, or a postgresql:// URL several hosts share (default: OKTA_LIFECYCLE_JOURNAL, "
            "else per org under XDG_STATE_HOME)",
        )
        group.add_argument(
            "--timeout", type=_timeout, default=None, metavar="SECONDS", help="per-request timeout (default 30)"
        )
        group.add_argument(
            "--shared-budget",
            type=_shared_budget,
            default=None,
            metavar="on|off|DIR|URL",
            help="share the org's rate budget with the other processes on this machine, or, with a "
            "postgresql:// URL, with every process on every host naming it (default: on, in the org's store "
            "beside its default journal, or OKTA_LIFECYCLE_SHARED_BUDGET; with --simulator, in the state dir)",
        )
        command.add_argument("--json", action="store_true", help="machine-readable output")

    def applying(command: argparse.ArgumentParser) -> None:
        command.add_argument("--yes", action="store_true", help="apply without asking")
        command.add_argument("--override-safety", action="store_true", help="apply a plan the safety limits block")
        command.add_argument(
            "--concurrency", type=_arguments.positive, default=16, help="changes in flight (default 16)"
        )
        command.add_argument(
            "--wait",
            type=_seconds,
            default=None,
            metavar="SECONDS",
            help="if another applier owns the run, wait this long for it (default: refuse at once)",
        )

    incremental_help = (
        "read only what changed in Okta since the journal's last read of the org (the whole org when it cannot, "
        "saying why)"
    )
    command = commands.add_parser("plan", help="show what a policy would change (recorded in the journal)")
    command.add_argument("--policy", required=True, help="the policy file (TOML)")
    command.add_argument("--source", required=True, help="the identity records (.csv or .jsonl)")
    command.add_argument("--incremental", action="store_true", help=incremental_help)
    target(command)

    command = commands.add_parser(
        "apply",
        help="plan, confirm, apply; resumes the unfinished run of the same policy and source",
        description="Plans --policy over --source and applies it, or applies a saved --plan. If an earlier apply "
        "of the same policy and source did not finish, that run is resumed instead of planning anew.",
    )
    command.add_argument("--policy", help="the policy file (TOML)")
    command.add_argument("--source", help="the identity records (.csv or .jsonl)")
    command.add_argument("--plan", help="a plan saved with `plan --json` (instead of --policy and --source)")
    command.add_argument("--incremental", action="store_true", help=incremental_help)
    target(command)
    applying(command)

    command = commands.add_parser("resume", help="finish an unfinished run (default: the newest)")
    command.add_argument("run", nargs="?", help="the run id (see `okta-lifecycle runs`)")
    target(command)
    applying(command)

    command = commands.add_parser("runs", help="the runs in the journal, newest first")
    command.add_argument("--unfinished", action="store_true", help="only runs that did not finish")
    target(command)

    command = commands.add_parser("history", help="the journal's record of a user")
    command.add_argument("login")
    target(command)

    command = commands.add_parser("export", help="Okta users as CSV or JSON lines (source of identity)")
    command.add_argument("--format", choices=("csv", "jsonl"), default="jsonl")
    command.add_argument("--output", help="the file to write (default: standard output)")
    command.add_argument("--since", help="only users changed after this RFC 3339 time (incremental)")
    command.add_argument(
        "--from-log",
        action="store_true",
        help="read the changes from Okta's System Log since --since (RFC 3339 or a duration ago such as 24h): "
        "joiners, movers, leavers, returners and deletions, with who made each (needs okta.logs.read)",
    )
    command.add_argument("--movers", default="department,title", help="attributes that make a mover (comma-separated)")
    command.add_argument(
        "--entitlements",
        action="store_true",
        help="add each user's groups and admin roles to its record (two more requests per user)",
    )
    target(command)

    command = commands.add_parser(
        "drift",
        help="changes Okta's System Log shows to managed users and groups that no run made",
        description="Lists the changes Okta's System Log shows to the users and groups the journal's runs manage "
        "that no okta-lifecycle run made (a role granted by hand, a leaver reactivated by hand), with who made "
        "each. Needs the okta.logs.read scope.",
    )
    command.add_argument(
        "--since",
        default="24h",
        help="from when: an RFC 3339 time or a duration ago such as 30m, 24h, 7d (default 24h)",
    )
    command.add_argument("--until", help="until when (RFC 3339 time or duration ago; default now)")
    command.add_argument("--all", action="store_true", help="changes to every user and group, not only managed ones")
    command.add_argument("--fail-on-drift", action="store_true", help="exit 1 when any change is found")
    target(command)

    command = commands.add_parser("deprovision", help="deprovision one user (history kept)")
    command.add_argument("login")
    command.add_argument("--mode", choices=("deactivate", "suspend"), default="deactivate")
    command.add_argument("--keep-groups", action="store_true", help="do not remove group memberships")
    command.add_argument("--no-logout", action="store_true", help="do not end sessions")
    command.add_argument("--yes", action="store_true", help="do not ask")
    target(command)

    command = commands.add_parser("reset-password", help="start Okta's password reset for a login")
    command.add_argument("login")
    command.add_argument("--no-email", action="store_true", help="print the reset link instead of emailing it")
    command.add_argument("--revoke-sessions", action="store_true")
    target(command)

    command = commands.add_parser("simulator", help="serve a simulated Okta org for other tools")
    command.add_argument("--port", type=_arguments.port, default=0)
    command.add_argument("--seed-users", type=_arguments.count, default=0)
    command.add_argument("--rate-limits", default="none", help='"none", "okta", or JSON such as {"/api/v1/users": 600}')
    command.add_argument("--state-file", help="keep the org in this JSON file")
    command.add_argument("--api-token", help="the token to accept (default: random)")
    command.add_argument("--report", metavar="PATH", help="on stopping, write the counters and request log here")
    return parser


def _simulator(state: Path) -> OktaSimulator:
    """The simulated org kept in ``state``, served on the port it had last time when that port
    is free: the journal knows an org by its URL, so the same org keeps the same URL (its runs,
    history and unfinished runs stay its own) from one invocation to the next."""
    port_file = state / "simulator.port"
    try:
        port = int(port_file.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        port = 0
    if not 0 < port < 65536:
        port = 0
    simulator = None
    for candidate in dict.fromkeys((port, 0)):
        try:
            simulator = OktaSimulator(state_file=state / "simulator.json", api_token=SIMULATOR_TOKEN, port=candidate)
            break
        except (ValueError, RuntimeError, OSError, errors.OktaError) as error:
            if candidate == 0:
                raise UsageError(f"the simulator's state in {state} cannot be used: {error}") from error
    assert simulator is not None
    try:
        port_file.write_text(str(simulator.url.rsplit(":", 1)[1].strip("/")), encoding="utf-8")
    except OSError:
        pass  # the next invocation then picks a port of its own
    return simulator


@contextmanager
def _client(arguments: argparse.Namespace) -> Iterator[OktaClient]:
    if arguments.simulator:
        state = Path(arguments.state_dir)
        try:
            state.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise UsageError(f"--state-dir {state} cannot be used: {error.strerror or error}") from error
        simulator = _simulator(state)
        with simulator:
            journal = arguments.journal or state / "journal.sqlite"
            timeout = 30.0 if arguments.timeout is None else arguments.timeout
            shared = state / "budget" if arguments.shared_budget is None else arguments.shared_budget
            with OktaClient(
                simulator.url, api_token=simulator.api_token, journal=journal, timeout=timeout, shared_budget=shared
            ) as client:
                yield client
        return
    with OktaClient.from_env(
        org_url=arguments.org_url,
        journal=arguments.journal,
        timeout=arguments.timeout,
        shared_budget=arguments.shared_budget,
    ) as client:
        yield client


#: The run being applied, for the message that says how to resume it after Ctrl-C.
_current_run: str | None = None
_TARGET_FLAGS = ("--simulator", "--state-dir", "--org-url", "--journal", "--timeout", "--shared-budget")


def _without_password(word: str) -> str:
    """A word of the command line as it may be printed: a PostgreSQL URL's password (in its user
    part or its query) replaced by ``***``."""
    word = re.sub(r"(?i)(postgres(?:ql)?://[^/@?#:]*:)[^/@?#]*@", r"\1***@", word)
    return re.sub(r"(?i)([?&]password=)[^&#]*", r"\1***", word)


def _resume_command(run_id: str, argv: list[str]) -> str:
    """The command that resumes `run_id` with the same org and journal as this invocation."""
    words = ["okta-lifecycle", "resume", run_id]
    index = 0
    while index < len(argv):
        word = argv[index]
        name = word.split("=", 1)[0]
        if name == "--simulator":
            words.append(word)
        elif name in _TARGET_FLAGS:
            words.append(_without_password(word))
            if "=" not in word and index + 1 < len(argv):
                index += 1
                words.append(_without_password(argv[index]))
        index += 1
    return " ".join(words)


def _records(path: str) -> str:
    source = Path(path)
    if not source.exists():
        raise UsageError(f"the source {path} does not exist")
    if not source.is_file():
        raise UsageError(f"the source {path} is not a file")
    if source.suffix.lower() not in (".csv", ".jsonl", ".ndjson"):
        raise UsageError(f"the source {path} must be a .csv or .jsonl file")
    return str(source)


def _policy(path: str) -> Policy:
    if not Path(path).exists():
        raise UsageError(f"the policy {path} does not exist")
    if not Path(path).is_file():
        raise UsageError(f"the policy {path} is not a file")
    try:
        return Policy.from_file(path)
    except errors.InvalidInputError as error:
        raise UsageError(str(error)) from error


def _print_json(value: Any, stream: TextIO | None = None) -> None:
    # sys.stdout as it is at the call (a caller may have redirected it since import).
    stream = sys.stdout if stream is None else stream
    json.dump(value, stream, indent=2, default=str)
    stream.write("\n")


def _plan_exit(plan: Plan) -> int:
    return EXIT_BLOCKED if plan.blocked else EXIT_OK


def _progress(client: OktaClient, plan: Plan, done: threading.Event) -> None:
    """Shows count, rate, throttling waits and ETA on the terminal while a plan applies."""
    started = time.monotonic()
    total = len(plan)
    while not done.wait(0.5):
        counts = client.run_progress(plan.run_id)
        finished = sum(n for status, n in counts.items() if status not in ("planned", "started"))
        elapsed = time.monotonic() - started
        rate = finished / elapsed if elapsed > 0 else 0.0
        eta = f"{(total - finished) / rate:.0f}s" if rate > 0 else "?"
        waits = client.governor_stats()["throttled_waits"]
        sys.stderr.write(f"\r  applied {finished}/{total}  {rate:.1f}/s  throttling waits {waits}  ETA {eta}   ")
        sys.stderr.flush()
    sys.stderr.write("\r" + " " * 78 + "\r")


def _apply(client: OktaClient, plan: Plan, arguments: argparse.Namespace) -> Report:
    global _current_run
    show_progress = sys.stderr.isatty() and not arguments.json
    done = threading.Event()
    watcher = threading.Thread(target=_progress, args=(client, plan, done), daemon=True) if show_progress else None
    if watcher:
        watcher.start()
    _current_run = plan.run_id
    try:
        return client.apply(
            plan,
            concurrency=arguments.concurrency,
            override_safety=arguments.override_safety,
            wait_for_lease=arguments.wait,
        )
    finally:
        done.set()
        if watcher:
            watcher.join()


def _confirm(question: str) -> bool:
    sys.stdout.write(f"{question} [y/N] ")
    sys.stdout.flush()
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes")


def _report_exit(report: Report) -> int:
    return EXIT_OK if report.is_success else EXIT_FAILED


def command_plan(arguments: argparse.Namespace) -> int:
    policy, source = _policy(arguments.policy), _records(arguments.source)
    with _client(arguments) as client:
        plan = client.plan(policy, source, incremental=arguments.incremental)
    if arguments.json:
        sys.stdout.write(plan.to_json() + "\n")
    else:
        sys.stdout.write(plan.render())
    return _plan_exit(plan)


def command_apply(arguments: argparse.Namespace) -> int:
    if arguments.plan:
        if arguments.policy or arguments.source:
            raise UsageError("give --plan, or --policy and --source, not both")
        path = Path(arguments.plan)
        if not path.is_file():
            raise UsageError(f"the plan {arguments.plan} does not exist")
        try:
            plan = Plan.from_json(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, errors.InvalidInputError) as error:
            raise UsageError(f"the plan {arguments.plan} cannot be read: {error}") from error
        with _client(arguments) as client:
            return _confirm_and_apply(client, plan, arguments, resumed=False)
    if not (arguments.policy and arguments.source):
        raise UsageError("give --policy and --source (or --plan)")
    policy, source = _policy(arguments.policy), _records(arguments.source)
    with _client(arguments) as client:
        unfinished = client.unfinished_run(policy, source)
        if unfinished:
            sys.stderr.write(f"resuming run {unfinished}: an earlier apply of this policy and source did not finish\n")
            return _confirm_and_apply(client, client.recorded_plan(unfinished), arguments, resumed=True)
        plan = client.plan(policy, source, incremental=arguments.incremental)
        try:
            return _confirm_and_apply(client, plan, arguments, resumed=False)
        except errors.PlanRejectedError as error:
            # Another host planned the same policy and source at the same time and its run began
            # first: a fresh plan sees what that run did (usually nothing is left to do).
            if not error.superseded_by:
                raise
            sys.stderr.write(
                f"run {error.superseded_by} of this policy and source began after this plan was made: planning again\n"
            )
            plan = client.plan(policy, source, incremental=arguments.incremental)
            return _confirm_and_apply(client, plan, arguments, resumed=False)


def command_resume(arguments: argparse.Namespace) -> int:
    with _client(arguments) as client:
        run_id = arguments.run
        if run_id is None:
            unfinished = [run for run in client.runs() if run["status"] == "applying"]
            if not unfinished:
                sys.stdout.write("No unfinished run to resume.\n")
                return EXIT_OK
            run_id = unfinished[0]["run_id"]
        try:
            plan = client.recorded_plan(run_id)
        except errors.InvalidInputError as error:
            raise UsageError(str(error)) from error
        return _confirm_and_apply(client, plan, arguments, resumed=True)


def command_runs(arguments: argparse.Namespace) -> int:
    with _client(arguments) as client:
        runs = client.runs()
    if arguments.unfinished:
        runs = [run for run in runs if run["status"] == "applying"]
    if arguments.json:
        _print_json(runs)
        return EXIT_OK
    if not runs:
        sys.stdout.write("The journal has no runs.\n")
    for run in runs:
        counts = ", ".join(f"{count} {status}" for status, count in sorted(run["changes"].items())) or "no changes"
        sys.stdout.write(f"{run['run_id']}  {run['status']:<20} {run['policy']:<20} {run['planned_at']}  {counts}\n")
    return EXIT_OK


def _confirm_and_apply(client: OktaClient, plan: Plan, arguments: argparse.Namespace, *, resumed: bool) -> int:
    if not arguments.json:
        sys.stdout.write(plan.render())
    if plan.blocked and not arguments.override_safety:
        if arguments.json:
            _print_json({"plan": json.loads(plan.to_json()), "applied": False, "blocked": plan.blocked})
        else:
            sys.stderr.write("error: the plan is blocked by the policy's safety limits (--override-safety to apply)\n")
        return EXIT_BLOCKED
    if plan.is_empty:
        if arguments.json:
            _print_json({"plan": json.loads(plan.to_json()), "applied": True, "report": None})
        return EXIT_FAILED if plan.issues else EXIT_OK
    verb = "Resume" if resumed else "Apply"
    if sys.stdin.isatty() and not arguments.yes and not _confirm(f"{verb} {len(plan)} changes to {client.org_url}?"):
        sys.stdout.write("Not applied.\n")
        return EXIT_OK
    report = _apply(client, plan, arguments)
    if arguments.json:
        _print_json({"plan": json.loads(plan.to_json()), "applied": True, "report": _report_data(report)})
    else:
        sys.stdout.write(report.render())
        _write_links(report)
    return max(_report_exit(report), EXIT_FAILED if plan.issues else EXIT_OK)


def _report_data(report: Report) -> dict[str, Any]:
    data: dict[str, Any] = {"run_id": report.run_id, "counts": report.counts, "outcomes": report.outcomes}
    if report.journal_error:
        data["journal_error"] = report.journal_error
    # Links Okta issued because the policy asked for them instead of its emails: the user has no
    # other way in, so they are handed to whoever ran the command.
    for key, links in (("reset_links", report.reset_links), ("activation_links", report.activation_links)):
        if links:
            data[key] = {login: secret.reveal() for login, secret in links.items()}
    return data


def _write_links(report: Report) -> None:
    """The reset and activation links Okta issued (send_email = false), one line each, to this
    terminal or whatever standard output is."""
    for kind, links in (("reset", report.reset_links), ("activation", report.activation_links)):
        for login, link in links.items():
            sys.stdout.write(f"{kind} link for {login}: {link.reveal()}\n")


def command_history(arguments: argparse.Namespace) -> int:
    with _client(arguments) as client:
        history = client.history(arguments.login)
        snapshots = client.snapshots(arguments.login)
    if arguments.json:
        _print_json({"changes": history, "snapshots": snapshots})
        return EXIT_OK
    if not history:
        sys.stdout.write(f"The journal has no record of {arguments.login}.\n")
    for entry in history:
        detail = entry["detail"]
        changes = "; ".join(
            f"{change['attribute']}: {change['before']!r} -> {change['after']!r}"
            for change in detail.get("changes", [])
            if isinstance(change, dict)
        )
        group_ref = detail.get("group")
        group = group_ref.get("name") if isinstance(group_ref, dict) else None
        role_ref = detail.get("role")
        role = role_ref.get("role_type") if isinstance(role_ref, dict) else detail.get("role_type")
        what = changes or (f"group {group}" if group else "") or (f"admin role {role}" if role else "")
        sys.stdout.write(
            f"{entry['updated_at']}  {entry['action']:<22} {entry['operation']:<16} {entry['status']:<10} {what}\n"
        )
    for snapshot in snapshots:
        groups = ", ".join(name for _, name in snapshot["groups"])
        roles = ", ".join(
            role["role_type"] + (" (limited)" if role["group_targets"] or role["app_targets"] else "")
            for role in snapshot.get("roles", [])
        )
        taken = f"snapshot {snapshot['taken_at']} ({snapshot['status']})"
        sys.stdout.write(f"{taken}: groups {groups or '-'}; admin roles {roles or '-'}\n")
    return EXIT_OK


def _rfc3339(text: str, flag: str) -> datetime.datetime:
    """An RFC 3339 time given on the command line, in UTC (a time without offset is UTC)."""
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise UsageError(f"{flag} must be an RFC 3339 time such as 2026-01-31T00:00:00Z: {error}") from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone(datetime.timezone.utc)


_UNITS = {"m": 60, "h": 3_600, "d": 86_400}


def _moment(text: str, flag: str) -> datetime.datetime:
    """A time given as RFC 3339 or as a duration ago (``30m``, ``24h``, ``7d``)."""
    stripped = text.strip().lower()
    # ASCII digits only: str.isdigit() also accepts "²", which int() refuses.
    if stripped[:-1].isascii() and stripped[:-1].isdigit() and stripped[-1:] in _UNITS:
        seconds = int(stripped[:-1]) * _UNITS[stripped[-1]]
        if seconds > 90 * 86_400:
            raise UsageError(f"{flag} {text} is further back than Okta keeps its System Log (90 days)")
        return datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=seconds)
    return _rfc3339(text, flag)


def command_drift(arguments: argparse.Namespace) -> int:
    since = _moment(arguments.since, "--since")
    until = _moment(arguments.until, "--until") if arguments.until else None
    with _client(arguments) as client:
        events = client.drift(since=since, until=until, everything=arguments.all)
    if arguments.json:
        _print_json(events)
    elif not events:
        scope = "users and groups" if arguments.all else "managed users and groups"
        sys.stdout.write(f"No change to {scope} outside okta-lifecycle's runs since {since.isoformat()}.\n")
    for event in [] if arguments.json else events:
        targets = ", ".join(
            f"{target['type']} {target['alternate_id'] or target['display_name'] or target['id']}"
            for target in event["targets"]
        )
        actor = event["actor"]
        by = f"{actor['alternate_id'] or actor['id']} ({actor['type']})" if actor else "unknown actor"
        sys.stdout.write(f"{event['published']}  {event['event_type']:<32} {targets}  by {by}\n")
    return EXIT_FAILED if events and arguments.fail_on_drift else EXIT_OK


def command_export(arguments: argparse.Namespace) -> int:
    if arguments.from_log:
        return _export_from_log(arguments)
    since = _rfc3339(arguments.since, "--since") if arguments.since else None
    movers = [name.strip() for name in arguments.movers.split(",") if name.strip()]
    try:
        output = open(arguments.output, "w", newline="", encoding="utf-8") if arguments.output else sys.stdout  # noqa: SIM115
    except OSError as error:
        raise UsageError(f"--output {arguments.output} cannot be written: {error.strerror or error}") from error
    watermark = since
    count = 0
    try:
        with _client(arguments) as client:
            rows: list[dict[str, Any]] = []
            identities = client.actions.source_of_identity(
                since=since, mover_attributes=movers, entitlements=arguments.entitlements
            )
            for identity in identities:
                row = dict(identity.record)
                row["event"] = identity.event
                updated = identity.user.last_updated
                if updated and (watermark is None or updated > watermark):
                    watermark = updated
                count += 1
                if arguments.format == "jsonl":
                    # Streamed: one page of users in memory at a time.
                    _write_rows(output, [row], "jsonl")
                else:
                    rows.append(row)
            if arguments.format == "csv":
                _write_rows(output, rows, "csv")
    finally:
        if output is not sys.stdout:
            output.close()
    mark = watermark.isoformat() if watermark else "-"
    sys.stderr.write(f"{count} identities exported; next incremental export: --since {mark}\n")
    return EXIT_OK


def _write_rows(output: TextIO, rows: list[dict[str, Any]], file_format: str) -> None:
    """Rows as JSON lines or as CSV (lists as one cell, items joined with ";", the separator
    planning splits array attributes on)."""
    if file_format == "jsonl":
        for row in rows:
            output.write(json.dumps(row, default=str) + "\n")
        return
    if not rows:
        return
    cells = [{k: ";".join(map(str, v)) if isinstance(v, list) else v for k, v in row.items()} for row in rows]
    columns = sorted({key for row in cells for key in row}, key=lambda k: (k != "id", k != "event", k))
    writer = csv.DictWriter(output, fieldnames=columns)
    writer.writeheader()
    writer.writerows(cells)


def _export_from_log(arguments: argparse.Namespace) -> int:
    if not arguments.since:
        raise UsageError("--from-log needs --since (an RFC 3339 time or a duration ago such as 24h)")
    since = _moment(arguments.since, "--since")
    movers = [name.strip() for name in arguments.movers.split(",") if name.strip()]
    rows: list[dict[str, Any]] = []
    watermark = None
    with _client(arguments) as client:
        for change in client.actions.identity_changes(since=since, mover_attributes=movers):
            row = dict(change.record)
            actor = change.actor
            row.update(
                event=change.event,
                event_type=change.event_type,
                uuid=change.uuid,
                published=change.published.isoformat(),
                actor=(actor["alternate_id"] or actor["id"]) if actor else None,
            )
            rows.append(row)
            watermark = change.published
    try:
        output = open(arguments.output, "w", newline="", encoding="utf-8") if arguments.output else sys.stdout  # noqa: SIM115
    except OSError as error:
        raise UsageError(f"--output {arguments.output} cannot be written: {error.strerror or error}") from error
    try:
        _write_rows(output, rows, arguments.format)
    finally:
        if output is not sys.stdout:
            output.close()
    # Okta's `since` includes its moment, and several events can share a millisecond: the next
    # read starts at the last change's moment (it is read again; rows carry the event's uuid).
    mark = (watermark or since).isoformat()
    sys.stderr.write(f"{len(rows)} identity changes exported; next export: --from-log --since {mark}\n")
    return EXIT_OK


def command_deprovision(arguments: argparse.Namespace) -> int:
    with _client(arguments) as client:
        user = client.users.get(arguments.login)
        if sys.stdin.isatty() and not arguments.yes and not _confirm(f"Deprovision {user.login} ({user.status})?"):
            sys.stdout.write("Not deprovisioned.\n")
            return EXIT_OK
        report = client.actions.deprovision_identity(
            user, mode=arguments.mode, remove_groups=not arguments.keep_groups, logout=not arguments.no_logout
        )
    if arguments.json:
        _print_json(_report_data(report))
    else:
        sys.stdout.write(report.render())
    return _report_exit(report)


def command_reset_password(arguments: argparse.Namespace) -> int:
    with _client(arguments) as client:
        report = client.actions.reset_password(
            arguments.login, send_email=not arguments.no_email, revoke_sessions=arguments.revoke_sessions
        )
    if arguments.json:
        _print_json(_report_data(report))
    else:
        sys.stdout.write(report.render())
        # Asked for explicitly with --no-email: the link goes to this terminal only.
        _write_links(report)
    return _report_exit(report)


def command_simulator(arguments: argparse.Namespace) -> int:
    from okta_lifecycle import simulator

    forwarded = ["--port", str(arguments.port), "--seed-users", str(arguments.seed_users)]
    forwarded += ["--rate-limits", arguments.rate_limits]
    if arguments.state_file:
        forwarded += ["--state-file", arguments.state_file]
    if arguments.api_token:
        forwarded += ["--api-token", arguments.api_token]
    if arguments.report:
        forwarded += ["--report", arguments.report]
    return simulator.main(forwarded)


COMMANDS = {
    "plan": command_plan,
    "apply": command_apply,
    "resume": command_resume,
    "runs": command_runs,
    "history": command_history,
    "export": command_export,
    "drift": command_drift,
    "deprovision": command_deprovision,
    "reset-password": command_reset_password,
    "simulator": command_simulator,
}


def _describe(error: errors.OktaError) -> str:
    details = []
    if isinstance(error, errors.ApiError):
        if error.error_code:
            details.append(error.error_code)
        if error.request_id:
            details.append(f"request id {error.request_id}")
    suffix = f" [{', '.join(details)}]" if details else ""
    return f"error: {str(error).splitlines()[0]}{suffix}"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    arguments = _parser().parse_args(argv)
    try:
        return COMMANDS[arguments.command](arguments)
    except UsageError as error:
        sys.stderr.write(f"error: {error}\n")
        return EXIT_USAGE
    except (errors.ConfigurationError, errors.InvalidInputError) as error:
        sys.stderr.write(_describe(error) + "\n")
        return EXIT_USAGE
    except errors.PlanBlockedError as error:
        sys.stderr.write(_describe(error) + "\n")
        return EXIT_BLOCKED
    except (errors.PlanRejectedError, errors.RunInProgressError) as error:
        sys.stderr.write(_describe(error) + "\n")
        return EXIT_REFUSED
    except errors.OktaError as error:
        sys.stderr.write(_describe(error) + "\n")
        return EXIT_FAILED
    except OSError as error:
        # A file or folder the command was pointed at (one line, not a traceback).
        where = f" {error.filename}" if error.filename else ""
        sys.stderr.write(f"error:{where} {error.strerror or error}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        if _current_run:
            resume = _resume_command(_current_run, argv)
            sys.stderr.write(f"interrupted; nothing is lost. To finish the run: {resume}\n")
        else:
            sys.stderr.write("interrupted before anything was applied\n")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
