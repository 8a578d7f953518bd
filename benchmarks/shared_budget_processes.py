"""Several processes sharing one rate bucket, against the floor Okta's window sets.

::

    .venv/bin/python benchmarks/shared_budget_processes.py [--processes 4] [--reads 200] \\
        [--limit 200] [--window 6] [--latency-ms 50] [--in-flight 8] [--repetitions 3] [--alone] \\
        [--hosts 1] [--postgres | --database postgresql://...] [--file] [--cost] [--json]

Each of ``--processes`` processes reads one user ``--reads`` times (``--in-flight`` at once, with
the asyncio client), all of them through the rate bucket of ``GET /api/v1/users/{idOrLogin}``,
whose limit is ``--limit`` requests per ``--window`` seconds at the simulator (a separate
process, 40–60 ms per request). The processes are spread over ``--hosts`` simulated hosts: each
host's processes have a home and a state directory (``HOME``, ``XDG_STATE_HOME``) of their own and
share nothing else but the simulator and the database.

The sides, each run ``--repetitions`` times in turn:

- ``shared``: the file store (the default without a database, or with ``--file``), in each host's
  own state directory; one host's processes share it, the hosts do not.
- ``postgresql``: one PostgreSQL database every process of every host names (``--database URL``,
  or ``--postgres`` for a throwaway server started through ``tests/python/pg_server.py``). Its
  table is emptied before each round, as the file store starts from a fresh directory.
- ``alone`` (``--alone``): each process with a budget of its own.

The window floor is what a perfect set of clients reaches from a fresh window: ``n`` requests
need ``ceil(n / limit) - 1`` window resets, then one request's latency. The wall time runs from
the moment every process is ready (imported, connected) to the end of the last one; 429s are
counted at the simulator.

``--cost`` measures instead what each store costs one process per request: ``--cost-reads``
reads of one user from a simulator without latency or rate limits, one at a time and then
``--cost-in-flight`` at once, with no shared budget, the file store and (given a database) the
PostgreSQL store, in turn for ``--repetitions`` rounds; the medians and each store's cost over no
store are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import PYTHON, SimulatorProcess  # noqa: E402

BUCKET = "/api/v1/users/{idOrLogin}"
#: Every other bucket is far from binding.
OTHER_LIMIT = 100_000
#: The budget's table in a database store.
TABLE = "okta_lifecycle_budget"


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


def _psql() -> Path | None:
    """``psql`` beside the PostgreSQL binaries the tests use, if any."""
    sys.path.insert(0, str(HERE.parent / "tests" / "python"))
    from pg_server import server_bin

    folder = server_bin()
    return folder / "psql" if folder and (folder / "psql").is_file() else None


def _empty_table(database: str) -> None:
    """Empties the budget's table, so that a round starts from nothing learnt (a missing table is
    made by the first process)."""
    psql = _psql()
    if psql is None:
        print("psql not found: the database's budget is kept from one round to the next", file=sys.stderr)
        return
    statement = f"DO $$ BEGIN IF to_regclass('{TABLE}') IS NOT NULL THEN DELETE FROM {TABLE}; END IF; END $$"
    subprocess.run([str(psql), database, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", statement],
                   check=True, capture_output=True, text=True)


def _hosts(root: Path, count: int) -> list[dict[str, str]]:
    """The environments of ``count`` simulated hosts under ``root``: a home and a state directory each."""
    environments = []
    for index in range(count):
        home = root / f"host-{index}"
        (home / "state").mkdir(parents=True)
        environment = dict(os.environ)
        environment.update(HOME=str(home), XDG_STATE_HOME=str(home / "state"))
        environment.pop("OKTA_LIFECYCLE_SHARED_BUDGET", None)
        environments.append(environment)
    return environments


def _round(simulator: SimulatorProcess, store: str, options: argparse.Namespace) -> dict[str, Any]:
    """One round: every process reads at once, through ``store`` (``on``: each host's file store,
    ``""``: alone, or a database URL)."""
    simulator.command("reset")
    simulator.command("clear_requests")
    if store.startswith(("postgresql://", "postgres://")):
        _empty_table(store)
    with tempfile.TemporaryDirectory(prefix="okta-budget-") as root:
        hosts = _hosts(Path(root), options.hosts)
        # Every process is started, imported and connected before the common start time.
        start_at = time.time() + 3.0
        workers = [
            subprocess.Popen(
                [PYTHON, __file__, "--worker", simulator.url, simulator.api_token, store,
                 str(options.reads), str(options.in_flight), str(start_at)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=hosts[index % options.hosts])
            for index in range(options.processes)
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


async def _cost_round(url: str, token: str, store: str | None, reads: int, in_flight: int) -> dict[str, float]:
    """Seconds per read one at a time, and reads per second ``in_flight`` at once, through ``store``."""
    from okta_lifecycle import AsyncOktaClient

    async with AsyncOktaClient(url, api_token=token, journal=":memory:", shared_budget=store or False) as client:
        # Connected, the bucket learnt, the interpreter warm.
        for _ in range(50):
            await client.users.get("user1@example.com")
        started = time.perf_counter()
        for _ in range(reads):
            await client.users.get("user1@example.com")
        sequential = (time.perf_counter() - started) / reads
        gate = asyncio.Semaphore(in_flight)

        async def one() -> None:
            async with gate:
                await client.users.get("user1@example.com")

        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(reads)))
        throughput = reads / (time.perf_counter() - started)
        return {"seconds_per_read": sequential, "reads_per_second": throughput}


def _cost(options: argparse.Namespace, database: str | None) -> dict[str, Any]:
    stores = {"off": "", "file": "on"}
    if database:
        stores["postgresql"] = database
    rows: dict[str, list[dict[str, float]]] = {name: [] for name in stores}
    with SimulatorProcess(seed_users=1) as simulator, tempfile.TemporaryDirectory(prefix="okta-cost-") as root:
        host = _hosts(Path(root), 1)[0]
        os.environ["XDG_STATE_HOME"] = host["XDG_STATE_HOME"]
        for repetition in range(1, options.repetitions + 1):
            for name, store in stores.items():
                row = asyncio.run(_cost_round(simulator.url, simulator.api_token, store or None, options.cost_reads,
                                              options.cost_in_flight))
                rows[name].append(row)
                print(f"{name} {repetition}: {row['seconds_per_read'] * 1e6:.0f} µs per read one at a time, "
                      f"{row['reads_per_second']:.0f} reads/s {options.cost_in_flight} at once", flush=True)
    medians: dict[str, Any] = {}
    for name in stores:
        sequential = statistics.median(row["seconds_per_read"] for row in rows[name])
        throughput = statistics.median(row["reads_per_second"] for row in rows[name])
        medians[name] = {"us_per_read": sequential * 1e6, "reads_per_second": throughput, "runs": rows[name]}
    for name in stores:
        extra = medians[name]["us_per_read"] - medians["off"]["us_per_read"]
        print(f"median {name}: {medians[name]['us_per_read']:.0f} µs per read one at a time "
              f"({extra:+.0f} µs over no shared budget), {medians[name]['reads_per_second']:.0f} reads/s "
              f"{options.cost_in_flight} at once")
        medians[name]["us_over_off"] = extra
    return {"cost": True, "reads": options.cost_reads, "in_flight": options.cost_in_flight,
            "repetitions": options.repetitions, "stores": medians}


@contextlib.contextmanager
def _database(options: argparse.Namespace) -> Iterator[str | None]:
    """The database store's URL: ``--database``, a throwaway server's (``--postgres``), or none."""
    if options.database:
        yield options.database
    elif options.postgres:
        sys.path.insert(0, str(HERE.parent / "tests" / "python"))
        from pg_server import PostgresServer

        with PostgresServer() as server:
            yield server.database_url("budget")
    else:
        yield None


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
    parser.add_argument("--hosts", type=int, default=1, help="simulated hosts the processes are spread over")
    parser.add_argument("--database", metavar="URL", help="a PostgreSQL database for the store (postgresql://...)")
    parser.add_argument("--postgres", action="store_true",
                        help="start a throwaway PostgreSQL server (tests/python/pg_server.py) for the store")
    parser.add_argument("--file", action="store_true", help="with a database, also run the file store")
    parser.add_argument("--cost", action="store_true", help="measure each store's cost per request instead")
    parser.add_argument("--cost-reads", type=int, default=2000)
    parser.add_argument("--cost-in-flight", type=int, default=32)
    parser.add_argument("--json", action="store_true", help="also print the medians as one JSON line")
    options = parser.parse_args(argv)
    if options.hosts < 1 or options.processes < 1:
        parser.error("--hosts and --processes must be at least 1")
    with _database(options) as database:
        if options.cost:
            result = _cost(options, database)
            if options.json:
                print(json.dumps(result), flush=True)
            return
        limits = {bucket: OTHER_LIMIT for bucket in ("/api/v1/users", "/api/v1/users/{id}", "/api/v1/groups",
                                                     "/api/v1/groups/{id}", "/api/v1")}
        limits[BUCKET] = options.limit
        sides = []
        if database is None or options.file:
            sides.append(("shared", "on"))
        if database is not None:
            sides.append(("postgresql", database))
        if options.alone:
            sides.append(("alone", ""))
        rows: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in sides}
        with SimulatorProcess(seed_users=1, rate_limits=limits, window_seconds=options.window,
                              latency_ms=options.latency_ms - 10, latency_jitter_ms=20) as simulator:
            for repetition in range(1, options.repetitions + 1):
                for name, store in sides:
                    row = _round(simulator, store, options)
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
                          "repetitions": options.repetitions, "hosts": options.hosts, "sides": medians}), flush=True)


if __name__ == "__main__":
    main()
