"""Several processes sharing one rate bucket, against the floor Okta's window sets.

::

    .venv/bin/python benchmarks/shared_budget_processes.py [--processes 4] [--reads 200] \\
        [--limit 200] [--window 6] [--latency-ms 50] [--in-flight 8] [--repetitions 3] [--alone]

Each of ``--processes`` processes reads one user ``--reads`` times (``--in-flight`` at once, with
the asyncio client), all of them through the rate bucket of ``GET /api/v1/users/{idOrLogin}``,
whose limit is ``--limit`` requests per ``--window`` seconds at the simulator (a separate
process, 40–60 ms per request). The processes share a budget store in a fresh directory
(``shared_budget=``); ``--alone`` runs them with a budget each as well, for comparison.

The window floor is what a perfect set of clients reaches from a fresh window: ``n`` requests
need ``ceil(n / limit) - 1`` window resets, then one request's latency. The wall time runs from
the moment every process is ready (imported, connected) to the end of the last one; 429s are
counted at the simulator.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import PYTHON, SimulatorProcess  # noqa: E402

BUCKET = "/api/v1/users/{idOrLogin}"
#: Every other bucket is far from binding.
OTHER_LIMIT = 100_000


async def _reads(url: str, token: str, store: str | None, reads: int, in_flight: int,
                 start_at: float) -> dict[str, Any]:
    from okta_lifecycle import AsyncOktaClient

    async with AsyncOktaClient(url, api_token=token, journal=":memory:", shared_budget=store or False) as client:
        gate = asyncio.Semaphore(in_flight)
        failures = 0

        async def one() -> None:
            nonlocal failures
            async with gate:
                try:
                    await client.users.get("user1@example.com")
                except Exception:  # noqa: BLE001 - counted: a read that failed is reported, not raised
                    failures += 1

        await asyncio.sleep(max(0.0, start_at - time.time()))
        await asyncio.gather(*(one() for _ in range(reads)))
        return {"ended_at": time.time(), "failures": failures, "governor": client.governor_stats()}


def _worker(arguments: list[str]) -> None:
    url, token, store, reads, in_flight, start_at = arguments
    result = asyncio.run(_reads(url, token, store or None, int(reads), int(in_flight), float(start_at)))
    print(json.dumps(result), flush=True)


def _round(simulator: SimulatorProcess, shared: bool, options: argparse.Namespace) -> dict[str, Any]:
    simulator.command("reset")
    simulator.command("clear_requests")
    with tempfile.TemporaryDirectory(prefix="okta-budget-") as store:
        # Every process is started and imported before the common start time.
        start_at = time.time() + 3.0
        workers = [
            subprocess.Popen(
                [PYTHON, __file__, "--worker", simulator.url, simulator.api_token, store if shared else "",
                 str(options.reads), str(options.in_flight), str(start_at)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(options.processes)
        ]
        results = []
        for worker in workers:
            out, err = worker.communicate(timeout=600)
            if worker.returncode != 0 or not out.strip():
                raise RuntimeError(f"a worker failed ({worker.returncode}): {err[-2000:]}")
            results.append(json.loads(out.strip().splitlines()[-1]))
    buckets = simulator.command("buckets")
    statuses = buckets.get(BUCKET, {})
    rejected = sum(count for status, count in statuses.items() if status == "429")
    answered = sum(count for status, count in statuses.items() if status != "429")
    seconds = max(result["ended_at"] for result in results) - start_at
    floor = (math.ceil(answered / options.limit) - 1) * options.window + 0.05
    return {"seconds": seconds, "floor": floor, "ratio": seconds / floor, "429s": rejected, "answered": answered,
            "failures": sum(result["failures"] for result in results)}


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--worker":
        _worker(argv[1:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--reads", type=int, default=200)
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--window", type=float, default=6.0)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--in-flight", type=int, default=8)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--alone", action="store_true", help="also run each process with its own budget")
    parser.add_argument("--json", action="store_true", help="also print the medians as one JSON line")
    options = parser.parse_args(argv)
    limits = {bucket: OTHER_LIMIT for bucket in ("/api/v1/users", "/api/v1/users/{id}", "/api/v1/groups",
                                                 "/api/v1/groups/{id}", "/api/v1")}
    limits[BUCKET] = options.limit
    sides = [("shared", True)] + ([("alone", False)] if options.alone else [])
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in sides}
    with SimulatorProcess(seed_users=1, rate_limits=limits, window_seconds=options.window,
                          latency_ms=options.latency_ms - 10, latency_jitter_ms=20) as simulator:
        for repetition in range(1, options.repetitions + 1):
            for name, shared in sides:
                row = _round(simulator, shared, options)
                rows[name].append(row)
                print(f"{name} {repetition}: {row['seconds']:.2f} s (floor {row['floor']:.2f} s, "
                      f"{row['ratio']:.2f}x), {row['answered']} answered, {row['429s']} 429s, "
                      f"{row['failures']} failed reads", flush=True)
    medians = {}
    for name, _ in sides:
        seconds = statistics.median(row["seconds"] for row in rows[name])
        floor = rows[name][0]["floor"]
        print(f"median {name}: {seconds:.2f} s against a {floor:.2f} s window floor ({seconds / floor:.2f}x); "
              f"429s {[row['429s'] for row in rows[name]]}")
        medians[name] = {"seconds": seconds, "floor": floor, "ratio": seconds / floor,
                         "429s": [row["429s"] for row in rows[name]],
                         "failures": [row["failures"] for row in rows[name]], "runs": rows[name]}
    if options.json:
        print(json.dumps({"processes": options.processes, "reads": options.reads, "limit": options.limit,
                          "window": options.window, "latency_ms": options.latency_ms, "in_flight": options.in_flight,
                          "repetitions": options.repetitions, "sides": medians}), flush=True)


if __name__ == "__main__":
    main()
