"""What the journal's backend costs an apply: SQLite on this machine against PostgreSQL on loopback.

::

    .venv/bin/python benchmarks/journal_backends.py [--joiners 1000] [--rounds 3] [--latency-ms 0] [--json]

Each round plans and applies ``--joiners`` new users (a create each, then a membership of a
group created by the plan) against a fresh simulator in this process, once with the journal in an
SQLite file and once in a fresh database of a throwaway PostgreSQL server (``tests/python/
pg_server.py``; the binaries ``scripts/ensure-postgres`` installs), alternately. Every change is
claimed, settled and has its requests recorded in the journal, so the difference between the two
applies, divided by the number of changes, is what PostgreSQL costs per change. With no latency
the journal is the whole difference; against Okta, where a write takes tens of milliseconds, it
is a small share. Build with ``.venv/bin/maturin develop --release`` first.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from okta_lifecycle import OktaClient, Policy
from okta_lifecycle.testing import OktaSimulator

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "python"))

from pg_server import PostgresServer  # noqa: E402

POLICY = """
name = "journal-bench"
[source]
format = "jsonl"
key = "id"
[attributes]
login = "{email}"
email = "{email}"
firstName = "Bench"
lastName = "{id}"
[[workflow]]
name = "joiner"
when = 'status eq "active"'
actions = [
  { action = "sync_identities" },
  { action = "create_entitlement", name = "staff" },
  { action = "manage_relationships", groups = ["staff"] },
]
[safety]
max_changed_percent = 100
"""


def _one(journal: str, joiners: int, latency_ms: int) -> dict[str, float]:
    rows = [{"id": str(n), "email": f"bench{n}@acme.example", "status": "active"} for n in range(joiners)]
    with tempfile.TemporaryDirectory(prefix="okta-journal-bench-") as folder:
        source = Path(folder) / "people.jsonl"
        source.write_text("".join(json.dumps(row) + "\n" for row in rows))
        with OktaSimulator(latency_ms=latency_ms) as sim, OktaClient(
            sim.url, api_token=sim.api_token, journal=journal, shared_budget=False
        ) as client:
            started = time.perf_counter()
            plan = client.plan(Policy.from_toml(POLICY), str(source))
            planned = time.perf_counter()
            report = client.apply(plan, concurrency=16)
            applied = time.perf_counter()
            assert report.is_success, report.counts
            return {"changes": len(plan), "plan_s": planned - started, "apply_s": applied - planned}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--joiners", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON document")
    arguments = parser.parse_args()
    results: dict[str, list[dict[str, float]]] = {"sqlite": [], "postgresql": []}
    with PostgresServer() as server:
        for round_number in range(1, arguments.rounds + 1):
            with tempfile.TemporaryDirectory(prefix="okta-journal-") as folder:
                results["sqlite"].append(
                    _one(str(Path(folder) / "journal.sqlite"), arguments.joiners, arguments.latency_ms)
                )
            database = server.database_url(f"bench_{round_number}_{time.monotonic_ns()}")
            results["postgresql"].append(_one(database, arguments.joiners, arguments.latency_ms))
            if not arguments.json:
                for backend, runs in results.items():
                    last = runs[-1]
                    print(
                        f"round {round_number} {backend}: {last['changes']:.0f} changes, "
                        f"plan {last['plan_s']:.2f} s, apply {last['apply_s']:.2f} s"
                    )
    changes = results["sqlite"][0]["changes"]
    medians = {
        backend: {key: statistics.median(run[key] for run in runs) for key in ("plan_s", "apply_s")}
        for backend, runs in results.items()
    }
    per_change_ms = (medians["postgresql"]["apply_s"] - medians["sqlite"]["apply_s"]) / changes * 1000
    summary = {
        "joiners": arguments.joiners,
        "changes": changes,
        "latency_ms": arguments.latency_ms,
        "rounds": arguments.rounds,
        "median": medians,
        "postgresql_extra_ms_per_change": round(per_change_ms, 3),
    }
    if arguments.json:
        print(json.dumps(summary, indent=2))
    else:
        for backend, median in medians.items():
            print(f"median {backend}: plan {median['plan_s']:.2f} s, apply {median['apply_s']:.2f} s")
        print(f"PostgreSQL costs {per_change_ms:+.3f} ms per change over SQLite ({changes:.0f} changes)")


if __name__ == "__main__":
    main()
