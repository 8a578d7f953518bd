"""B6: a daily run over a large org, planned incrementally and from a full read.

An org of ``--users`` identities (default 100,000) is built from an HR source by a first plan and
apply (the `examples/policy.toml` policy: every user in ``all-staff`` and a department group), and
planned again the day after (nothing to do; the journal's mirror takes in the first day's
writes). The next day, 1% of the source churns (movers, leavers, joiners) and 0.5% of the org is changed in
Okta by hand (titles, deactivations, department memberships). That day is then planned twice
against the same org and journal: from the journal's mirror and what changed in Okta since
(``incremental=True``), and from a full read. Printed: the requests and wall time of each plan,
and whether the two plans are the same.

::

    .venv/bin/python benchmarks/daily_churn.py --users 100000

The simulator runs in its own process, over loopback without added latency (building the org
sends one request per joiner), with a search index that trails writes by 0.5 s.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import SimulatorProcess  # noqa: E402

from okta_lifecycle import OktaClient, Plan, Policy  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEPARTMENTS = ["Engineering", "Sales", "Marketing", "Finance", "People Operations", "Support", "Legal", "Research"]
TITLES = ["engineer", "senior engineer", "manager", "analyst", "specialist", "director"]
FIELDS = ["employee_id", "first_name", "last_name", "work_email", "department", "job_title", "status",
          "start_date", "cost_code"]


def record(number: int, rng: random.Random) -> dict[str, str]:
    return {
        "employee_id": f"E{number:07d}",
        "first_name": f"First{number}",
        "last_name": f"Last{number}",
        "work_email": f"person{number}@acme.example",
        "department": rng.choice(DEPARTMENTS),
        "job_title": rng.choice(TITLES),
        "status": "Active",
        "start_date": "2024-01-01",
        "cost_code": str(4000 + number % 100),
    }


def write(path: Path, records: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(records)
    return path


def counted(simulator: SimulatorProcess) -> int:
    return int(simulator.command("counters")["requests"])


def timed_plan(simulator: SimulatorProcess, client: OktaClient, policy: Policy, source: Path,
               incremental: bool) -> tuple[Plan, int, float]:
    before = counted(simulator)
    started = time.perf_counter()
    plan = client.plan(policy, str(source), incremental=incremental)
    seconds = time.perf_counter() - started
    return plan, counted(simulator) - before, seconds


def same(first: Plan, second: Plan) -> bool:
    def key(plan: Plan) -> Any:
        return ([{k: v for k, v in change.items() if k != "seq"} for change in plan.changes], plan.issues,
                plan.events, plan.blocked)
    return bool(key(first) == key(second))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--source-churn", type=float, default=0.01, help="share of records changed in the source")
    parser.add_argument("--okta-churn", type=float, default=0.005, help="share of users changed by hand in Okta")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--by-hand-age", type=float, default=31.0,
                        help="seconds between the changes by hand and the run (default 31: past the log's settle time)")
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON line")
    options = parser.parse_args(argv)
    rng = random.Random(options.seed)
    policy = Policy.from_file(ROOT / "examples" / "policy.toml")
    records = [record(number, rng) for number in range(1, options.users + 1)]
    with tempfile.TemporaryDirectory() as folder, SimulatorProcess(search_delay_s=0.5, timeout=600) as simulator:
        directory = Path(folder)
        journal = directory / "journal.sqlite"
        with OktaClient(simulator.url, api_token=simulator.api_token, journal=journal, shared_budget=False) as client:
            started = time.perf_counter()
            day0 = client.plan(policy, str(write(directory / "day0.csv", records)), incremental=True)
            report = client.apply(day0, concurrency=32)
            day0_seconds = time.perf_counter() - started
            print(f"day 0: {len(day0.changes)} changes applied in {day0_seconds:.1f} s "
                  f"({report.counts})", flush=True)
            # Yesterday's run: the mirror takes in day 0's writes (as every daily run takes in the
            # writes of the run before), and finds nothing left to do.
            time.sleep(3.0)
            caught_up = client.plan(policy, str(directory / "day0.csv"), incremental=True)
            print(f"the day after: {len(caught_up.changes)} changes; read {caught_up.read}", flush=True)

            # The day's churn in the source: movers, leavers, joiners.
            churn = max(3, round(options.users * options.source_churn))
            changed = rng.sample(range(options.users), churn)
            for index in changed[: churn * 4 // 10]:
                records[index]["department"] = rng.choice(DEPARTMENTS)
                records[index]["job_title"] = rng.choice(TITLES)
            for index in changed[churn * 4 // 10: churn * 7 // 10]:
                records[index]["status"] = "Terminated"
            records.extend(record(options.users + n, rng) for n in range(1, churn - churn * 7 // 10 + 1))
            day1 = write(directory / "day1.csv", records)

            # Changes by hand in Okta: titles, deactivations, department memberships removed.
            by_hand = max(3, round(options.users * options.okta_churn))
            users = {user.profile.get("employeeNumber"): user for user in client.users.list_partitioned(settle=0.6)}
            targets = [users[f"E{n + 1:07d}"] for n in rng.sample(range(options.users), by_hand)]
            groups = {group.name: group for group in client.groups.list()}
            for position, user in enumerate(targets):
                if position % 5 < 3:
                    client.users.update(user, {"title": "Changed By Hand"})
                elif position % 5 == 3:
                    client.users.deactivate(user)
                else:
                    department = str(user.profile.get("department", ""))
                    name = "dept-" + department.lower().replace(" & ", "-").replace(" ", "-")
                    if name in groups:
                        client.groups.remove_member(groups[name], user)
            # The changes by hand were made earlier in the day: by the time of the run, Okta's search
            # index and System Log show them (the engine trusts the log for a membership change
            # once it is 30 s old; a more recent one makes it read that group's members again).
            time.sleep(options.by_hand_age)

            incremental, incremental_requests, incremental_seconds = timed_plan(
                simulator, client, policy, day1, incremental=True)
            full, full_requests, full_seconds = timed_plan(simulator, client, policy, day1, incremental=False)
    print(f"incremental plan: {incremental_requests} requests, {incremental_seconds:.2f} s; read {incremental.read}")
    print(f"full plan:        {full_requests} requests, {full_seconds:.2f} s")
    print(f"requests: {incremental_requests / max(1, full_requests):.1%} of the full run's; "
          f"{len(incremental.changes)} changes; the plans are {'the same' if same(incremental, full) else 'DIFFERENT'}")
    identical = same(incremental, full)
    if options.json:
        print(json.dumps({
            "users": options.users, "source_churn": options.source_churn, "okta_churn": options.okta_churn,
            "by_hand_age_s": options.by_hand_age, "day0_changes": len(day0.changes), "day0_seconds": day0_seconds,
            "incremental_requests": incremental_requests, "incremental_seconds": incremental_seconds,
            "full_requests": full_requests, "full_seconds": full_seconds, "changes": len(incremental.changes),
            "same": identical, "read": incremental.read,
        }), flush=True)
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
