"""Side-by-side benchmarks: okta-lifecycle against Okta's official Python SDK (PyPI ``okta``).

::

    .venv/bin/python benchmarks/run.py [--quick] [--smoke] [--cases B1,B3] [--repetitions 3] [--users 1000]

Everything runs against okta-lifecycle's Okta simulator, served by ``benchmarks/sim_server.py`` in
its own process, under Okta-like conditions: 50 ms mean latency per request (uniform 40–60 ms),
a concurrency limit of 75, and per-minute rate limits at ten times Okta's Workforce defaults.
Each measurement runs in a fresh client process (``benchmarks/workers.py``); the two clients
alternate, each case is repeated, and the medians are reported.

Cases:

- B1 joiners: N new users, each created and added to two groups (1 + 2 requests each).
- B1S the same at the same per-second rate, but with 6-second windows so that the limits bind.
- B2 listing: iterate 100,000 users, 200 per page: wall time and the client's peak memory.
- B3 per-call cost: 2,000 sequential get-user calls, no latency, no rate limits.
- B4 planning: 100,000 records against 100,000 users through ``client.plan`` (no latency).
- B5 import: time and memory to import each client in a fresh interpreter.
- B6 daily run: a day of 1% churn over 100,000 users planned incrementally and from a full read
  (``benchmarks/daily_churn.py``): requests, wall time, and whether the plans are the same.
- SB shared budget: 4 processes × 200 reads of one bucket (200 per 6-s window) sharing one budget,
  and each alone (``benchmarks/shared_budget_processes.py``), against the window floor.
- AF Ansible forks: a playbook of 200 hosts, 20 forks, with the shared budget and without
  (``benchmarks/ansible_forks.py``); not run by ``--smoke``, CI runs a smaller playbook.

Results go to ``benchmarks/results.md`` and ``benchmarks/results.json`` (``--output-dir`` to put them
elsewhere; ``--smoke`` writes nothing unless ``--output-dir`` is given).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import select
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable
WORKERS = HERE / "workers.py"
SIM_SERVER = HERE / "sim_server.py"
SDK_ENVIRONMENT = {"OKTA_TESTING_TESTINGDISABLEHTTPSCHECK": "true"}

# Okta-like conditions. The simulator adds a uniform 0..=jitter to the base latency, so 40 + 0..20
# gives the 50 ms ± 10 ms asked for, with a mean of 50 ms.
LATENCY_MS = 40
LATENCY_JITTER_MS = 20
MEAN_LATENCY_S = (LATENCY_MS + LATENCY_JITTER_MS / 2) / 1000
CONCURRENCY_LIMIT = 75
#: How far the simulator's search index trails writes (Okta: "typically less than one second").
SEARCH_DELAY_S = 0.5
#: Okta's last published Workforce per-minute limits, by the simulator's bucket names
#: (src/simulator/ratelimit.rs, RateLimits::okta_defaults).
OKTA_WORKFORCE_LIMITS = {
    "/api/v1/users": 600,
    "/api/v1/users/{id}": 600,
    "/api/v1/users/{idOrLogin}": 2000,
    "/api/v1/groups": 500,
    "/api/v1/groups/{id}": 1000,
    "/api/v1": 1200,
}
RATE_SCALE = 10
WINDOW_SECONDS = 60.0
#: B1S keeps the per-second rate of ten times Okta's limits but cuts the window from 60 s to 6 s.
SUSTAINED_WINDOW_SECONDS = 6.0

ALL_CASES = ("B1", "B1S", "B2", "B3", "B4", "B5", "B6", "SB", "AF")
#: What ``--smoke`` runs unless ``--cases`` says otherwise (a playbook of forks takes minutes).
SMOKE_CASES = ("B1", "B1S", "B2", "B3", "B4", "B5", "B6", "SB")


@dataclass
class Settings:
    cases: list[str]
    repetitions: int
    joiners: int
    sequential_joiners: int
    listing_users: int
    page_size: int
    get_calls: int
    planning_users: int
    churn_users: int
    budget_reads: int
    fork_hosts: int
    import_repetitions: int
    sdk_semaphore: int
    sdk_max_retries: int
    quick: bool
    smoke: bool
    command: str


# --- the simulator process --------------------------------------------------------------------


class SimulatorProcess:
    """A simulator served by benchmarks/sim_server.py, driven over its stdin/stdout."""

    def __init__(self, *, seed_users: int = 0, rate_limits: dict[str, int] | None = None,
                 window_seconds: float = WINDOW_SECONDS, concurrency_limit: int | None = None,
                 latency_ms: int = 0, latency_jitter_ms: int = 0, search_delay_s: float = 0.0,
                 timeout: float = 120.0) -> None:
        arguments = [PYTHON, str(SIM_SERVER), "--seed-users", str(seed_users),
                     "--rate-limits", json.dumps(rate_limits) if rate_limits else "none",
                     "--rate-limit-window-seconds", str(window_seconds),
                     "--latency-ms", str(latency_ms), "--latency-jitter-ms", str(latency_jitter_ms),
                     "--search-delay-seconds", str(search_delay_s)]
        if concurrency_limit is not None:
            arguments += ["--concurrency-limit", str(concurrency_limit)]
        self.conditions = {"seed_users": seed_users, "rate_limits": rate_limits, "window_seconds": window_seconds,
                           "concurrency_limit": concurrency_limit, "latency_ms": latency_ms,
                           "latency_jitter_ms": latency_jitter_ms, "search_delay_s": search_delay_s}
        self.process = subprocess.Popen(arguments, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                        bufsize=1)
        first = self._read_line(timeout)
        self.url: str = first["url"]
        self.api_token: str = first["api_token"]

    def _read_line(self, timeout: float) -> dict[str, Any]:
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        if not ready:
            self.close()
            raise RuntimeError(f"the simulator process did not answer within {timeout} s")
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the simulator process exited ({self.process.poll()})")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def command(self, name: str, timeout: float = 120.0) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"command": name}) + "\n")
        self.process.stdin.flush()
        return self._read_line(timeout)

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                assert self.process.stdin is not None
                self.process.stdin.write('{"command": "quit"}\n')
                self.process.stdin.flush()
                self.process.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> SimulatorProcess:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def okta_like_simulator(*, seed_users: int = 0, window_seconds: float = WINDOW_SECONDS,
                        limits: dict[str, int] | None = None) -> SimulatorProcess:
    return SimulatorProcess(
        seed_users=seed_users,
        rate_limits=limits or scaled_limits(RATE_SCALE),
        window_seconds=window_seconds,
        concurrency_limit=CONCURRENCY_LIMIT,
        latency_ms=LATENCY_MS,
        latency_jitter_ms=LATENCY_JITTER_MS,
        search_delay_s=SEARCH_DELAY_S,
    )


def scaled_limits(factor: float) -> dict[str, int]:
    return {bucket: max(1, round(limit * factor)) for bucket, limit in OKTA_WORKFORCE_LIMITS.items()}


# --- running one measurement ------------------------------------------------------------------


def run_worker(job: dict[str, Any], timeout: float) -> dict[str, Any]:
    environment = {**os.environ, **SDK_ENVIRONMENT}
    command = [PYTHON, "-X", "faulthandler", str(WORKERS), json.dumps(job)]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=environment, check=False)
    lines = completed.stdout.strip().splitlines()
    if not lines or not lines[-1].startswith("{"):
        raise RuntimeError(f"worker {job['name']} failed ({completed.returncode}):\n{completed.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    # A worker that printed its result and then died is kept, and its exit status recorded: the
    # figures were taken before the end. (okta-lifecycle's asyncio client sometimes aborts in
    # interpreter finalization: "PyGILState_Release: thread state ... must be current".)
    result["exit_code"] = completed.returncode
    if completed.returncode != 0:
        result["exit_error"] = completed.stderr.strip().splitlines()[:1]
        progress(f"worker {job['name']} exited with {completed.returncode} after its result: {result['exit_error']}")
    return result


def alternate(sides: Sequence[str], repetition: int) -> list[str]:
    """The order of the sides in one repetition: reversed every other time, so that drift in the
    machine's state does not favour one side."""
    return list(sides) if repetition % 2 == 0 else list(reversed(sides))


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def mib(kib: float) -> float:
    return kib / 1024


def progress(text: str) -> None:
    print(f"  {text}", file=sys.stderr, flush=True)


# --- floors -----------------------------------------------------------------------------------


def floors(buckets: dict[str, dict[str, int]], limits: dict[str, int], window_seconds: float,
           setup: dict[str, dict[str, int]] | None = None) -> dict[str, Any]:
    """What Okta's limits impose on the requests that succeeded (429s excluded).

    - ``brief``: the issue's yardstick, the largest of requests / rate per bucket (the sustained
      per-second rate) and of total requests × mean latency / concurrency;
    - ``window``: what a perfect client can reach when every window starts full: a bucket with
      n requests and a limit L per window needs ceil(n/L) − 1 window resets, then one latency;
      never less than the concurrency floor. Untimed ``setup`` requests made just before (creating
      the groups) share the first window, so they count here.
    """
    earlier = {bucket: sum(count for status, count in statuses.items() if status != "429")
               for bucket, statuses in (setup or {}).items()}
    useful = {bucket: sum(count for status, count in statuses.items() if status != "429")
              for bucket, statuses in buckets.items()}
    total = sum(useful.values())
    concurrency = total * MEAN_LATENCY_S / CONCURRENCY_LIMIT
    per_bucket_rate = {bucket: count / (limits[bucket] / window_seconds)
                       for bucket, count in useful.items() if bucket in limits and count}
    per_bucket_window = {bucket: (math.ceil((count + earlier.get(bucket, 0)) / limits[bucket]) - 1) * window_seconds
                         + MEAN_LATENCY_S
                         for bucket, count in useful.items() if bucket in limits and count}
    binding = max(per_bucket_rate, key=lambda bucket: per_bucket_rate[bucket], default=None)
    return {
        "requests_by_bucket": useful,
        "concurrency_floor_s": concurrency,
        "rate_floor_s_by_bucket": per_bucket_rate,
        "brief_floor_s": max([concurrency, *per_bucket_rate.values()]),
        "window_floor_s": max([concurrency, *per_bucket_window.values()]),
        "binding_bucket": binding,
    }


# --- B1: joiners ------------------------------------------------------------------------------


def _create_groups(simulator: SimulatorProcess) -> tuple[list[str], list[str]]:
    from okta_lifecycle import OktaClient

    names = ["bench-all-staff", "bench-engineering"]
    with OktaClient(simulator.url, api_token=simulator.api_token) as client:
        ids = [client.groups.create(name).id for name in names]
    return ids, names


def case_b1(settings: Settings, *, sustained: bool) -> dict[str, Any]:
    case = "B1S" if sustained else "B1"
    window = SUSTAINED_WINDOW_SECONDS if sustained else WINDOW_SECONDS
    # Same per-second rate either way: ten times Okta's per-minute limits per 60 s, or Okta's
    # per-minute limits per 6 s.
    limits = scaled_limits(RATE_SCALE * window / WINDOW_SECONDS)
    n = settings.joiners
    sides = {
        "okta-lifecycle AsyncOktaClient + asyncio.gather": ("B1/okta-lifecycle-gather", n),
        "okta-lifecycle client.plan + client.apply(concurrency=75)": ("B1/okta-lifecycle-plan-apply", n),
        f"Okta SDK asyncio.gather + Semaphore({settings.sdk_semaphore}), maxRetries {settings.sdk_max_retries}":
            ("B1/sdk-gather", n),
        "Okta SDK sequential awaits (its README's way)": ("B1/sdk-sequential", settings.sequential_joiners),
    }
    if sustained:
        # The sequential row sends too few requests per window for any limit to bind: B1 has it.
        del sides["Okta SDK sequential awaits (its README's way)"]
    runs: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
    with okta_like_simulator(window_seconds=window, limits=limits) as simulator:
        for repetition in range(settings.repetitions):
            for side in alternate(list(sides), repetition):
                name, users = sides[side]
                simulator.command("reset")
                group_ids, group_names = _create_groups(simulator)
                setup = simulator.command("buckets")
                simulator.command("clear_requests")
                before = simulator.command("counters")
                job = {"name": name, "url": simulator.url, "api_token": simulator.api_token, "users": users,
                       "group_ids": group_ids, "group_names": group_names, "concurrency": CONCURRENCY_LIMIT,
                       "semaphore": settings.sdk_semaphore, "max_retries": settings.sdk_max_retries}
                result = run_worker(job, timeout=900)
                after = simulator.command("counters")
                buckets = simulator.command("buckets")
                floor = floors(buckets, limits, window, setup)
                result.update(
                    users=users,
                    requests=after["requests"] - before["requests"],
                    server_429=(after["rate_limited"] - before["rate_limited"])
                    + (after["concurrency_limited"] - before["concurrency_limited"]),
                    server_concurrency_429=after["concurrency_limited"] - before["concurrency_limited"],
                    floor=floor,
                    ratio_brief_floor=result["seconds"] / floor["brief_floor_s"],
                    ratio_window_floor=result["seconds"] / floor["window_floor_s"],
                )
                runs[side].append(result)
                progress(f"{case} {side}: {result['seconds']:.2f} s, {result['requests']} requests, "
                         f"{result['server_429']} 429s, {result['errors']} errors")
    rows = []
    for side, results in runs.items():
        users = results[0]["users"]
        seconds = median([r["seconds"] for r in results])
        rows.append({
            "client": side,
            "users": users,
            "seconds": seconds,
            "seconds_per_1000_users": seconds * 1000 / users,
            "requests": median([r["requests"] for r in results]),
            "server_429": median([r["server_429"] for r in results]),
            "caller_errors": median([r["errors"] for r in results]),
            "caller_429": median([r["rate_limited_errors"] for r in results]),
            "brief_floor_s": median([r["floor"]["brief_floor_s"] for r in results]),
            "window_floor_s": median([r["floor"]["window_floor_s"] for r in results]),
            "ratio_brief_floor": median([r["ratio_brief_floor"] for r in results]),
            "ratio_window_floor": median([r["ratio_window_floor"] for r in results]),
            "max_rss_mib": mib(median([r["max_rss_kib"] for r in results])),
            "runs": results,
        })
    return {
        "case": case,
        "title": f"{case} joiners: create {n} users, each added to two groups"
        + (" (limits binding: 6-second windows)" if sustained else ""),
        "conditions": {**simulator.conditions, "mean_latency_ms": MEAN_LATENCY_S * 1000},
        "rows": rows,
    }


# --- B2: listing ------------------------------------------------------------------------------


def b2_floor(job: str, requests: int) -> float:
    """The least time a listing of ``requests`` pages can take at the mean latency: one page after
    another, or, partitioned, a first page, the pages shared by 8 ranges, 2 s of settling and the
    catch-up."""
    if job.endswith("-partitioned"):
        return 2.0 + MEAN_LATENCY_S * (2 + (requests - 2) / 8)
    return requests * MEAN_LATENCY_S


def case_b2(settings: Settings) -> dict[str, Any]:
    sides = {"okta-lifecycle OktaClient.users.list": "B2/okta-lifecycle",
             "okta-lifecycle OktaClient.users.list_partitioned": "B2/okta-lifecycle-partitioned",
             "Okta SDK paginate_all(client.list_users)": "B2/sdk"}
    runs: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
    started = time.perf_counter()
    with okta_like_simulator(seed_users=settings.listing_users) as simulator:
        progress(f"B2 simulator seeded with {settings.listing_users} users in {time.perf_counter() - started:.1f} s")
        for repetition in range(settings.repetitions):
            for side in alternate(list(sides), repetition):
                simulator.command("clear_requests")
                before = simulator.command("counters")
                job = {"name": sides[side], "url": simulator.url, "api_token": simulator.api_token,
                       "page_size": settings.page_size}
                result = run_worker(job, timeout=900)
                after = simulator.command("counters")
                requests = after["requests"] - before["requests"]
                if result["items"] != settings.listing_users:
                    raise RuntimeError(f"B2 {side} saw {result['items']} users, not {settings.listing_users}")
                result.update(requests=requests, server_429=after["rate_limited"] - before["rate_limited"]
                              + after["concurrency_limited"] - before["concurrency_limited"],
                              floor_s=b2_floor(sides[side], requests))
                runs[side].append(result)
                progress(f"B2 {side}: {result['seconds']:.2f} s, {requests} requests, "
                         f"peak {mib(result['max_rss_kib']):.0f} MiB")
    rows = []
    for side, results in runs.items():
        seconds = median([r["seconds"] for r in results])
        floor_s = median([r["floor_s"] for r in results])
        rows.append({
            "client": side,
            "users": settings.listing_users,
            "seconds": seconds,
            "users_per_second": settings.listing_users / seconds,
            "requests": median([r["requests"] for r in results]),
            "server_429": median([r["server_429"] for r in results]),
            "floor_s": floor_s,
            "ratio_floor": seconds / floor_s,
            "max_rss_mib": mib(median([r["max_rss_kib"] for r in results])),
            "rss_after_import_mib": mib(median([r["rss_after_import_kib"] for r in results])),
            "runs": results,
        })
    return {"case": "B2", "title": f"B2 listing: iterate {settings.listing_users} users, {settings.page_size} per page",
            "conditions": {**simulator.conditions, "mean_latency_ms": MEAN_LATENCY_S * 1000}, "rows": rows}


# --- B3: per-call cost ------------------------------------------------------------------------


def case_b3(settings: Settings) -> dict[str, Any]:
    from okta_lifecycle import OktaClient

    sides = {"okta-lifecycle OktaClient.users.get (blocking)": "B3/okta-lifecycle",
             "okta-lifecycle AsyncOktaClient.users.get (sequential awaits)": "B3/okta-lifecycle-async",
             "Okta SDK await client.get_user (sequential)": "B3/sdk",
             "reference: http.client keep-alive GET, no parsing (not a client)": "B3/raw-http"}
    runs: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
    with SimulatorProcess(seed_users=100) as simulator:
        with OktaClient(simulator.url, api_token=simulator.api_token) as client:
            ids = [user.id for user in client.users.list(limit=100)]
        for repetition in range(settings.repetitions):
            for side in alternate(list(sides), repetition):
                job = {"name": sides[side], "url": simulator.url, "api_token": simulator.api_token, "ids": ids,
                       "calls": settings.get_calls}
                result = run_worker(job, timeout=600)
                runs[side].append(result)
                progress(f"B3 {side}: {settings.get_calls / result['seconds']:.0f} calls/s")
        conditions = simulator.conditions
    rows = []
    for side, results in runs.items():
        seconds = median([r["seconds"] for r in results])
        rows.append({
            "client": side,
            "calls": settings.get_calls,
            "seconds": seconds,
            "calls_per_second": settings.get_calls / seconds,
            "microseconds_per_call": seconds / settings.get_calls * 1e6,
            "max_rss_mib": mib(median([r["max_rss_kib"] for r in results])),
            "runs": results,
        })
    return {"case": "B3", "title": f"B3 per-call cost: {settings.get_calls} sequential get-user calls",
            "conditions": conditions, "rows": rows}


# --- B4: planning -----------------------------------------------------------------------------


def case_b4(settings: Settings) -> dict[str, Any]:
    runs: list[dict[str, Any]] = []
    with SimulatorProcess(seed_users=settings.planning_users) as simulator:
        for _ in range(settings.repetitions):
            job = {"name": "B4/okta-lifecycle", "url": simulator.url, "api_token": simulator.api_token,
                   "users": settings.planning_users}
            result = run_worker(job, timeout=900)
            runs.append(result)
            progress(f"B4 plan: {result['seconds']:.2f} s, peak {mib(result['max_rss_kib']):.0f} MiB")
        conditions = simulator.conditions
    row = {
        "client": "okta-lifecycle client.plan(Policy.from_dict(...), records)",
        "records": settings.planning_users,
        "seconds": median([r["seconds"] for r in runs]),
        "max_rss_mib": mib(median([r["max_rss_kib"] for r in runs])),
        "rss_before_plan_mib": mib(median([r["rss_after_import_kib"] for r in runs])),
        "summary": runs[0]["summary"],
        "runs": runs,
    }
    return {"case": "B4", "title": f"B4 planning: {settings.planning_users} records against "
            f"{settings.planning_users} existing users", "conditions": conditions, "rows": [row]}


# --- B5: import -------------------------------------------------------------------------------

IMPORT_PROBE = """
import json, resource, sys, time
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
before = rss()
started = time.perf_counter()
exec(sys.argv[1])
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "rss_before_kib": before, "rss_after_kib": rss(),
                  "max_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def case_b5(settings: Settings) -> dict[str, Any]:
    sides = {"okta-lifecycle": "import okta_lifecycle", "Okta SDK": "from okta.client import Client"}
    runs: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
    environment = {**os.environ, **SDK_ENVIRONMENT}
    for repetition in range(settings.import_repetitions):
        for side in alternate(list(sides), repetition):
            completed = subprocess.run([PYTHON, "-c", IMPORT_PROBE, sides[side]], capture_output=True, text=True,
                                       timeout=120, env=environment, check=True)
            runs[side].append(json.loads(completed.stdout.strip().splitlines()[-1]))
    rows = []
    for side, results in runs.items():
        rows.append({
            "client": side,
            "statement": sides[side],
            "seconds": median([r["seconds"] for r in results]),
            "added_rss_mib": mib(median([r["rss_after_kib"] - r["rss_before_kib"] for r in results])),
            "max_rss_mib": mib(median([r["max_rss_kib"] for r in results])),
            "runs": results,
        })
    progress("B5 " + ", ".join(f"{row['client']} {row['seconds'] * 1000:.0f} ms" for row in rows))
    return {"case": "B5", "title": "B5 import: each client imported in a fresh interpreter",
            "conditions": {"repetitions": settings.import_repetitions}, "rows": rows}


def _json_run(script: str, arguments: list[str], timeout: float) -> list[dict[str, Any]]:
    """Runs one of the standalone benchmark scripts; the JSON lines it printed."""
    completed = subprocess.run([PYTHON, str(HERE / script), *arguments], capture_output=True, text=True,
                               timeout=timeout, check=False)
    found = []
    for line in completed.stdout.splitlines():
        if line.startswith("{"):
            found.append(json.loads(line))
    if completed.returncode != 0 or not found:
        raise RuntimeError(f"{script} failed ({completed.returncode}): {completed.stderr[-3000:]}"
                           f"{completed.stdout[-2000:]}")
    return found


def case_b6(settings: Settings) -> dict[str, Any]:
    arguments = ["--users", str(settings.churn_users), "--json"]
    if settings.smoke:
        arguments += ["--by-hand-age", "1"]
    result = _json_run("daily_churn.py", arguments, timeout=3600)[-1]
    progress(f"B6 incremental {result['incremental_requests']} requests {result['incremental_seconds']:.2f} s, "
             f"full {result['full_requests']} requests {result['full_seconds']:.2f} s")
    return {"case": "B6", "title": f"B6 daily run: 1% source churn and 0.5% changes by hand over "
                                   f"{settings.churn_users} users",
            "conditions": {"latency_ms": 0, "rate_limits": None, "seed_users": 0,
                           "search_delay_s": SEARCH_DELAY_S}, "rows": [result]}


def case_sb(settings: Settings) -> dict[str, Any]:
    repetitions = str(settings.repetitions)
    arguments = ["--reads", str(settings.budget_reads), "--repetitions", repetitions, "--alone", "--json"]
    if settings.smoke:
        arguments += ["--window", "1", "--limit", "20"]
    result = _json_run("shared_budget_processes.py", arguments, timeout=3600)[-1]
    progress("SB " + ", ".join(f"{name} {side['seconds']:.2f} s ({side['ratio']:.2f}× floor)"
                               for name, side in result["sides"].items()))
    return {"case": "SB", "title": f"SB shared budget: {result['processes']} processes × {result['reads']} reads "
                                   f"of one bucket ({result['limit']} per {result['window']:g}-s window)",
            "conditions": {"latency_ms": result["latency_ms"] - 10, "latency_jitter_ms": 20,
                           "rate_limits": {"/api/v1/users/{idOrLogin}": result["limit"]},
                           "window_seconds": result["window"]}, "rows": [result]}


def case_af(settings: Settings) -> dict[str, Any]:
    results = _json_run("ansible_forks.py", ["--users", str(settings.fork_hosts), "--forks", "20"], timeout=7200)
    progress("AF " + ", ".join(f"{r['mode']} {r['seconds']:.1f} s, {r['rate_limited_429']} 429s" for r in results))
    return {"case": "AF", "title": f"AF Ansible forks: {settings.fork_hosts} hosts, 20 forks, one org",
            "conditions": {"latency_ms": 0, "rate_limits": {"each bucket the module uses": 100},
                           "window_seconds": 10.0}, "rows": results}


# --- reporting --------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    def shell(command: str) -> str:
        try:
            return subprocess.run(shlex.split(command), capture_output=True, text=True, timeout=10).stdout.strip()
        except OSError:
            return ""

    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions: dict[str, str] = {}
    for package in ("okta-lifecycle", "okta", "aiohttp"):
        try:
            from importlib.metadata import version

            versions[package] = version(package)
        except Exception:
            versions[package] = "?"
    extension = ""
    try:
        import okta_lifecycle._core as core

        extension_path = Path(core.__file__ or "")
        extension = f"{extension_path.name}, {extension_path.stat().st_size / 2**20:.0f} MiB"
    except Exception:
        pass
    return {"nproc": shell("nproc"), "free_h": shell("free -h"), "cpu": cpu, "python": platform.python_version(),
            "platform": platform.platform(), "versions": versions, "extension": extension,
            "date": time.strftime("%Y-%m-%d %H:%M %Z")}


def conditions_line(conditions: dict[str, Any]) -> str:
    parts = []
    if conditions.get("latency_ms") or conditions.get("latency_jitter_ms"):
        low = conditions["latency_ms"]
        high = low + conditions["latency_jitter_ms"]
        parts.append(f"latency {low}–{high} ms per request (mean {(low + high) / 2:.0f} ms)")
    elif "latency_ms" in conditions:
        parts.append("no injected latency")
    if conditions.get("concurrency_limit"):
        parts.append(f"concurrency limit {conditions['concurrency_limit']}")
    if conditions.get("rate_limits"):
        limits = conditions["rate_limits"]
        window = conditions["window_seconds"]
        parts.append(f"rate limits per {window:g} s window: "
                     + ", ".join(f"`{bucket}` {limit}" for bucket, limit in limits.items()))
    elif "rate_limits" in conditions:
        parts.append("no rate limits")
    if conditions.get("repetitions"):
        parts.append(f"a fresh interpreter per import, {conditions['repetitions']} repetitions")
    if conditions.get("search_delay_s"):
        parts.append(f"a search index {conditions['search_delay_s']:g} s behind writes")
    if conditions.get("seed_users"):
        parts.append(f"{conditions['seed_users']} seeded users")
    return "; ".join(parts)


def _fmt(value: float, digits: int = 2) -> str:
    return f"{value:.{digits}f}"


BOUNDS = {
    "B1": "With 60-s windows at 10× Okta's limits, {joiners} joiners ({requests} requests) fit in the first window "
          "of every bucket, so no rate limit binds: the floor a perfect client can reach is the concurrency one "
          "(requests × 50 ms / 75). The issue's sustained-rate yardstick (requests ÷ per-second rate of the "
          "`/api/v1/groups` bucket, which takes the two memberships per user) is {brief:.1f} s; every client here "
          "beats it because it bursts into a fresh window. See B1S for the same rate with binding windows.",
    "B1S": "Rate-limit windows bind: the `/api/v1/groups` bucket (two memberships per user) needs "
           "ceil(requests / limit) − 1 resets of a 6-s window. `X-Rate-Limit-Reset` is in whole seconds, rounded "
           "up: a client that waits for the announced reset (the governor waits it plus 250 ms; the SDK waits "
           "reset − Date + 1 s) loses up to a second per window, depending on where the window's start fell within "
           "its second. With a 6-s window that second weighs ten times what it does in Okta's 60-s windows.",
    "B2": "A cursor listing is sequential by nature: each page's `after` cursor comes from the previous page's "
          "`Link` header, so the floor is pages × 50 ms. `list_partitioned` reads ranges of `created` as 8 "
          "chains side by side, then waits 2 s for Okta's search index before its catch-up search, so its floor "
          "is 2 s + (pages ÷ 8 + 2) × 50 ms.",
    "B3": "No latency and no limits: this is client overhead only (request building, HTTP, JSON parsing, "
          "model objects, the Python/Rust or asyncio crossing) plus the simulator's own cost per request.",
    "B4": "Reading the org (500 pages from the simulator over loopback, no latency) and matching 100,000 records; "
          "with 50 ms per page the read alone would add ≥ 25 s (the B2 floor). The Rust-only figure "
          "(`cargo run --release --features simulator --example plan_bench -- --users 100000`) is 2.45 s.",
    "B6": "The incremental plan reads the users changed since the journal's watermark, the System Log since "
          "then, the groups with their member counts and the role holders, and plans every record against the "
          "journal's mirror: its time is the planning of every record and the mirror's load and save. The full "
          "plan reads the whole org first (for 100,000 users, 500 pages of users and the members of every managed "
          "group).",
    "SB": "Every process draws from one budget store (SQLite under a lock). The floor assumes each window is "
          "used from the instant it resets, but Okta announces the reset in whole seconds, rounded up: a client "
          "that waits for the announced reset starts the next window just after a whole second, so that window's "
          "announced reset is again up to a second late. Three resets of a 6-s window cost about 3 s more than "
          "the floor for any client that waits for the announced reset (about 1.17×), plus the governor's 250-ms "
          "margin per reset; in Okta's 60-s windows the same second is under 2%.",
    "AF": "Twenty module processes at once, each a fresh interpreter and client; without the shared budget each "
          "believes it has the whole limit.",
    "B5": "Module loading: okta-lifecycle is one compiled extension; the SDK imports aiohttp, pydantic and "
          "hundreds of generated model modules.",
}


def markdown(results: dict[str, Any]) -> str:
    info = results["machine"]
    lines = [
        "# Benchmarks: okta-lifecycle and Okta's Python SDK",
        "",
        "Generated by `benchmarks/run.py`; do not edit by hand. Each figure is the median of the repetitions; "
        "the two clients alternate, each measurement runs in its own fresh process, and the simulator "
        "(okta-lifecycle's Okta simulator) runs in a separate process.",
        "",
        f"- Command: `{results['command']}`",
        f"- Date: {info['date']}",
        f"- Machine: {info['cpu']}, nproc {info['nproc']}; Python {info['python']} on {info['platform']}",
        f"- Versions: okta-lifecycle {info['versions'].get('okta-lifecycle')} (extension {info['extension']}), "
        f"Okta SDK `okta` {info['versions'].get('okta')} (aiohttp {info['versions'].get('aiohttp')})",
        f"- Repetitions: {results['settings']['repetitions']}",
        "",
        "```",
        "$ free -h",
        info["free_h"],
        "```",
        "",
    ]
    for case in results["cases"]:
        lines += [f"## {case['title']}", "", f"Conditions: {conditions_line(case['conditions'])}.", ""]
        rows = case["rows"]
        kind = case["case"]
        for row in rows:
            aborted = [run for run in row.get("runs", []) if run.get("exit_code", 0) != 0]
            if aborted:
                lines += [f"Note: {len(aborted)} of {len(row['runs'])} worker processes of “{row['client']}” aborted "
                          f"after printing their figures (exit {aborted[0]['exit_code']}: "
                          f"{' '.join(aborted[0].get('exit_error', []))}).", ""]
        if kind in ("B1", "B1S"):
            lines += [
                "| client | users | wall time (s) | per 1,000 users (s) | requests | 429s at the server "
                "| errors reaching the caller (429s) | ÷ issue's floor | ÷ window floor | peak RSS (MiB) |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            ]
            for row in rows:
                lines.append(
                    f"| {row['client']} | {row['users']} | {_fmt(row['seconds'])} | "
                    f"{_fmt(row['seconds_per_1000_users'])} | {row['requests']:.0f} | {row['server_429']:.0f} | "
                    f"{row['caller_errors']:.0f} ({row['caller_429']:.0f}) | {_fmt(row['ratio_brief_floor'])}× | "
                    f"{_fmt(row['ratio_window_floor'])}× | {row['max_rss_mib']:.0f} |")
            main = rows[0]
            lines += [
                "",
                f"Floors for {main['users']} users ({main['runs'][0]['floor']['requests_by_bucket']}): "
                f"the issue's floor (largest of requests ÷ per-second rate per bucket and of requests × mean latency "
                f"÷ 75) is {main['brief_floor_s']:.2f} s; the window floor (what a perfect client reaches from fresh "
                f"windows) is {main['window_floor_s']:.2f} s."
                + (" The SDK's sequential row ran fewer users (it takes 3 × 50 ms per user); its ratios are "
                   "against its own smaller floor." if kind == "B1" else ""),
            ]
            requests = main["requests"]
            lines += ["", "What bounds it: " + BOUNDS[kind].format(joiners=main["users"], requests=f"{requests:.0f}",
                                                                brief=main["brief_floor_s"]), ""]
        elif kind == "B2":
            lines += [
                "| client | users | wall time (s) | users/s | requests | floor (s) | ÷ floor "
                "| peak RSS (MiB) | RSS after import (MiB) |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
            ]
            for row in rows:
                lines.append(
                    f"| {row['client']} | {row['users']} | {_fmt(row['seconds'])} | {row['users_per_second']:.0f} | "
                    f"{row['requests']:.0f} | {_fmt(row['floor_s'])} | {_fmt(row['ratio_floor'])}× | "
                    f"{row['max_rss_mib']:.0f} | {row['rss_after_import_mib']:.0f} |")
            lines += ["", "What bounds it: " + BOUNDS["B2"], ""]
        elif kind == "B3":
            lines += ["| client | calls | wall time (s) | calls/s | µs per call | peak RSS (MiB) |",
                      "|---|---:|---:|---:|---:|---:|"]
            for row in rows:
                lines.append(f"| {row['client']} | {row['calls']} | {_fmt(row['seconds'], 3)} | "
                             f"{row['calls_per_second']:.0f} | {row['microseconds_per_call']:.0f} | "
                             f"{row['max_rss_mib']:.0f} |")
            lines += ["", "What bounds it: " + BOUNDS["B3"], ""]
        elif kind == "B4":
            lines += ["| client | records | plan time (s) | peak RSS (MiB) | RSS before planning (MiB) | plan |",
                      "|---|---:|---:|---:|---:|---|"]
            for row in rows:
                summary = ", ".join(f"{key} {value}" for key, value in row["summary"].items())
                lines.append(f"| {row['client']} | {row['records']} | {_fmt(row['seconds'])} | "
                             f"{row['max_rss_mib']:.0f} | {row['rss_before_plan_mib']:.0f} | {summary} |")
            lines += ["", "The SDK has no planner; this row has no counterpart. RSS before planning includes the "
                      "interpreter, the import and the 100,000 record dicts.", "",
                      "What bounds it: " + BOUNDS["B4"], ""]
        elif kind == "B5":
            lines += ["| client | statement | import time (ms) | RSS added (MiB) | peak RSS (MiB) |",
                      "|---|---|---:|---:|---:|"]
            for row in rows:
                lines.append(f"| {row['client']} | `{row['statement']}` | {row['seconds'] * 1000:.0f} | "
                             f"{row['added_rss_mib']:.0f} | {row['max_rss_mib']:.0f} |")
            lines += ["", "What bounds it: " + BOUNDS["B5"], ""]
        elif kind == "B6":
            row = rows[0]
            read = row["read"] or {}
            lines += ["| plan | requests | wall time (s) | changes |", "|---|---:|---:|---:|",
                      f"| incremental (`incremental=True`) | {row['incremental_requests']} | "
                      f"{_fmt(row['incremental_seconds'])} | {row['changes']} |",
                      f"| full read | {row['full_requests']} | {_fmt(row['full_seconds'])} | {row['changes']} |",
                      "",
                      f"The incremental plan sent {row['incremental_requests'] / max(1, row['full_requests']):.1%} "
                      f"of the full plan's requests; the two plans are {'the same' if row['same'] else 'DIFFERENT'}. "
                      f"Its read: {read.get('users_read')} users changed since the watermark, "
                      f"{read.get('groups_patched')} groups brought up to date from the System Log, "
                      f"{read.get('groups_read')} read again. Day 0 (not timed against anything): "
                      f"{row['day0_changes']} changes planned and applied in {row['day0_seconds']:.0f} s. The changes "
                      f"by hand were made {row['by_hand_age_s']:g} s before the run.",
                      "", "What bounds it: " + BOUNDS["B6"], ""]
        elif kind == "SB":
            row = rows[0]
            lines += ["| budget | wall time (s) | window floor (s) | ÷ floor | 429s (each run) | failed reads |",
                      "|---|---:|---:|---:|---|---|"]
            for name, side in row["sides"].items():
                lines.append(f"| {name} | {_fmt(side['seconds'])} | {_fmt(side['floor'])} | {_fmt(side['ratio'])}× | "
                             f"{side['429s']} | {side['failures']} |")
            lines += ["", "What bounds it: " + BOUNDS["SB"], ""]
        elif kind == "AF":
            lines += ["| budget | hosts | forks | wall time (s) | requests | 429s (rate) | 429s (concurrency) "
                      "| failed tasks |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
            for row in rows:
                lines.append(f"| {row['mode']} | {row['users']} | {row['forks']} | {row['seconds']:.1f} | "
                             f"{row['requests']} | {row['rate_limited_429']} | {row['concurrency_429']} | "
                             f"{row['failed_tasks']} |")
            lines += ["", "Command: `.venv/bin/python benchmarks/ansible_forks.py --users "
                      f"{rows[0]['users']} --forks {rows[0]['forks']}` (100 requests per 10-s window on each "
                      "bucket the module uses).", "", "What bounds it: " + BOUNDS["AF"], ""]
    if results.get("targets"):
        lines += ["## Targets", "", "| target | met? | figures |", "|---|---|---|"]
        for target in results["targets"]:
            lines.append(f"| {target['target']} | {target['met']} | {target['figures']} |")
        lines.append("")
    return "\n".join(lines)


def targets(cases: dict[str, dict[str, Any]]) -> list[dict[str, str]]:
    """Whether the project's targets are met, judged from the figures."""
    verdicts = []
    for key in ("B1", "B1S"):
        if key not in cases:
            continue
        rows = cases[key]["rows"]
        okl = rows[0]
        sdk = rows[2]
        ratio = okl["ratio_brief_floor"]
        # "Well ahead" is read as the SDK taking at least a quarter longer.
        met = ratio <= 1.1 and okl["caller_errors"] == 0 and sdk["seconds"] >= 1.25 * okl["seconds"]
        verdicts.append({
            "target": f"{key}: within 1.1× of the floor, no 429 reaching the caller, well ahead of the SDK",
            "met": "yes" if met else "no",
            "figures": f"{okl['seconds']:.2f} s = {ratio:.2f}× the issue's floor, {okl['ratio_window_floor']:.2f}× "
                       f"the window floor; {okl['caller_errors']:.0f} errors reach the caller; SDK (gather) "
                       f"{sdk['seconds']:.2f} s ({sdk['seconds'] / okl['seconds']:.2f}× slower), "
                       f"{sdk['caller_errors']:.0f} errors reach its caller",
        })
    for key, measure in (("B2", "users_per_second"), ("B3", "calls_per_second")):
        if key not in cases:
            continue
        rows = cases[key]["rows"]
        okl = rows[0]
        sdk = next(row for row in rows if row["client"].startswith("Okta SDK"))
        speed = okl[measure] / sdk[measure]
        memory = okl["max_rss_mib"] / sdk["max_rss_mib"]
        verdicts.append({
            "target": f"{key}: several times the SDK's throughput at a fraction of its memory",
            "met": "yes" if speed >= 3 and memory < 0.5 else "no",
            "figures": f"{speed:.2f}× the SDK's throughput, {memory:.2f}× its peak memory",
        })
    if "B4" in cases:
        row = cases["B4"]["rows"][0]
        verdicts.append({"target": "B4: a few seconds", "met": "yes" if row["seconds"] < 5 else "no",
                         "figures": f"{row['seconds']:.2f} s, peak {row['max_rss_mib']:.0f} MiB"})
    if "B2" in cases:
        rows = cases["B2"]["rows"]
        partitioned = next((row for row in rows if "partitioned" in row["client"]), None)
        sdk = next(row for row in rows if row["client"].startswith("Okta SDK"))
        if partitioned is not None:
            speed = sdk["seconds"] / partitioned["seconds"]
            verdicts.append({"target": "B2 (issue 22): a partitioned read ≥ 4× the SDK's wall time",
                             "met": "yes" if speed >= 4 else "no",
                             "figures": f"{partitioned['seconds']:.2f} s against {sdk['seconds']:.2f} s "
                                        f"({speed:.2f}×), {partitioned['max_rss_mib']:.0f} MiB"})
    if "B4" in cases:
        row = cases["B4"]["rows"][0]
        verdicts.append({"target": "B4 (issue 22): ≤ 2 s and ≤ 300 MiB",
                         "met": "yes" if row["seconds"] <= 2 and row["max_rss_mib"] <= 300 else "no",
                         "figures": f"{row['seconds']:.2f} s, peak {row['max_rss_mib']:.0f} MiB"})
    if "B1" in cases:
        row = next(row for row in cases["B1"]["rows"] if "plan" in row["client"])
        verdicts.append({"target": "B1 through the engine (issue 22): ≤ 1.2× the window floor",
                         "met": "yes" if row["ratio_window_floor"] <= 1.2 else "no",
                         "figures": f"{row['seconds']:.2f} s = {row['ratio_window_floor']:.2f}× the window floor, "
                                    f"{row['requests']:.0f} requests"})
    if "B6" in cases:
        row = cases["B6"]["rows"][0]
        share = row["incremental_requests"] / max(1, row["full_requests"])
        verdicts.append({"target": "B6: ≤ 5% of the full run's requests, identical plan",
                         "met": "yes" if share <= 0.05 and row["same"] else "no",
                         "figures": f"{row['incremental_requests']} against {row['full_requests']} requests "
                                    f"({share:.1%}); plans {'the same' if row['same'] else 'DIFFERENT'}"})
    if "SB" in cases:
        side = cases["SB"]["rows"][0]["sides"]["shared"]
        verdicts.append({"target": "SB: within 1.15× of the window floor, 0 429s",
                         "met": "yes" if side["ratio"] <= 1.15 and not any(side["429s"]) else "no",
                         "figures": f"{side['seconds']:.2f} s = {side['ratio']:.2f}× the floor; 429s {side['429s']}"})
    if "B5" in cases:
        row = cases["B5"]["rows"][0]
        verdicts.append({"target": "B5: tens of milliseconds", "met": "yes" if row["seconds"] < 0.1 else "no",
                         "figures": f"{row['seconds'] * 1000:.0f} ms (SDK "
                                    f"{cases['B5']['rows'][1]['seconds'] * 1000:.0f} ms)"})
    return verdicts


def summary_line(case: dict[str, Any]) -> str:
    rows = case["rows"]
    kind = case["case"]
    if kind in ("B1", "B1S"):
        text = "; ".join(f"{row['client'].split(' ')[0]} {row['client'].split(' ', 1)[1][:28]}: "
                         f"{row['seconds']:.2f} s ({row['ratio_brief_floor']:.2f}× floor, {row['server_429']:.0f} 429s)"
                         for row in rows)
    elif kind == "B2":
        text = "; ".join(f"{row['client'][:14]}: {row['seconds']:.2f} s, {row['max_rss_mib']:.0f} MiB" for row in rows)
    elif kind == "B3":
        text = "; ".join(f"{row['client'][:40]}: {row['calls_per_second']:.0f} calls/s" for row in rows)
    elif kind == "B4":
        text = f"{rows[0]['seconds']:.2f} s, {rows[0]['max_rss_mib']:.0f} MiB"
    elif kind == "B6":
        row = rows[0]
        text = (f"incremental {row['incremental_requests']} requests {row['incremental_seconds']:.2f} s; "
                f"full {row['full_requests']} requests {row['full_seconds']:.2f} s; same plan: {row['same']}")
    elif kind == "SB":
        text = "; ".join(f"{name} {side['seconds']:.2f} s ({side['ratio']:.2f}× floor, 429s {side['429s']})"
                         for name, side in rows[0]["sides"].items())
    elif kind == "AF":
        text = "; ".join(f"{row['mode']} {row['seconds']:.1f} s, {row['rate_limited_429']} 429s, "
                         f"{row['failed_tasks']} failed" for row in rows)
    else:
        text = "; ".join(f"{row['client']}: {row['seconds'] * 1000:.0f} ms, +{row['added_rss_mib']:.0f} MiB"
                         for row in rows)
    return f"{kind}: {text}"


# --- command line -----------------------------------------------------------------------------


def parse(argv: list[str] | None) -> tuple[Settings, Path | None]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes (50 joiners, 5,000 users listed)")
    parser.add_argument("--smoke", action="store_true",
                        help="a few seconds in all: tiny sizes, one repetition, no result files")
    parser.add_argument("--cases", default=None,
                        help=f"comma-separated, of {','.join(ALL_CASES)} (default all; --smoke: all but AF)")
    parser.add_argument("--repetitions", type=int, default=None, help="default 3 (1 with --smoke)")
    parser.add_argument("--users", type=int, default=None, help="B1 joiners (default 1000; --quick 50)")
    parser.add_argument("--sequential-users", type=int, default=None,
                        help="joiners for the SDK's sequential row (default 100: 3 × 50 ms per user)")
    parser.add_argument("--listing-users", type=int, default=None, help="B2 users (default 100000; --quick 5000)")
    parser.add_argument("--planning-users", type=int, default=None, help="B4 records/users (default 100000)")
    parser.add_argument("--get-calls", type=int, default=None, help="B3 calls (default 2000)")
    parser.add_argument("--churn-users", type=int, default=None, help="B6 users (default 100000; --quick 5000)")
    parser.add_argument("--fork-hosts", type=int, default=None, help="AF hosts (default 200; --quick 60)")
    parser.add_argument("--sdk-semaphore", type=int, default=75)
    parser.add_argument("--sdk-max-retries", type=int, default=10)
    parser.add_argument("--output-dir", type=Path, default=None,
                        help="where results.md/results.json go (default benchmarks/; none with --smoke)")
    arguments = parser.parse_args(argv)
    chosen = arguments.cases or ",".join(SMOKE_CASES if arguments.smoke else ALL_CASES)
    cases = [case.strip().upper() for case in chosen.split(",") if case.strip()]
    unknown = [case for case in cases if case not in ALL_CASES]
    if unknown:
        parser.error(f"unknown case(s) {unknown}; known: {', '.join(ALL_CASES)}")
    quick = arguments.quick or arguments.smoke
    smoke = arguments.smoke

    def pick(value: int | None, full: int, quick_value: int, smoke_value: int) -> int:
        if value is not None:
            return value
        return smoke_value if smoke else quick_value if quick else full

    settings = Settings(
        cases=cases,
        repetitions=pick(arguments.repetitions, 3, 3, 1),
        joiners=pick(arguments.users, 1000, 50, 20),
        sequential_joiners=pick(arguments.sequential_users, 100, 20, 4),
        listing_users=pick(arguments.listing_users, 100_000, 5_000, 1_000),
        page_size=200,
        get_calls=pick(arguments.get_calls, 2000, 2000, 50),
        planning_users=pick(arguments.planning_users, 100_000, 10_000, 1_000),
        churn_users=pick(arguments.churn_users, 100_000, 5_000, 300),
        budget_reads=pick(None, 200, 200, 40),
        fork_hosts=pick(arguments.fork_hosts, 200, 60, 10),
        import_repetitions=pick(None, 5, 3, 1),
        sdk_semaphore=arguments.sdk_semaphore,
        sdk_max_retries=arguments.sdk_max_retries,
        quick=quick,
        smoke=smoke,
        command=".venv/bin/python benchmarks/run.py" + ("".join(f" {shlex.quote(a)}" for a in argv or sys.argv[1:])),
    )
    output = arguments.output_dir if arguments.output_dir is not None else (None if smoke else HERE)
    return settings, output


def main(argv: list[str] | None = None) -> int:
    settings, output = parse(argv)
    started = time.perf_counter()
    results: dict[str, Any] = {"command": settings.command, "settings": settings.__dict__, "machine": machine(),
                               "cases": []}
    by_case: dict[str, dict[str, Any]] = {}
    runners = {"B1": lambda: case_b1(settings, sustained=False), "B1S": lambda: case_b1(settings, sustained=True),
               "B2": lambda: case_b2(settings), "B3": lambda: case_b3(settings), "B4": lambda: case_b4(settings),
               "B5": lambda: case_b5(settings), "B6": lambda: case_b6(settings), "SB": lambda: case_sb(settings),
               "AF": lambda: case_af(settings)}
    for case in settings.cases:
        case_started = time.perf_counter()
        outcome = runners[case]()
        outcome["elapsed_s"] = time.perf_counter() - case_started
        results["cases"].append(outcome)
        by_case[case] = outcome
        print(summary_line(outcome), flush=True)
    results["targets"] = targets(by_case)
    results["elapsed_s"] = time.perf_counter() - started
    for verdict in results["targets"]:
        print(f"target {verdict['met']}: {verdict['target']} — {verdict['figures']}", flush=True)
    if output is not None:
        output.mkdir(parents=True, exist_ok=True)
        (output / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
        (output / "results.md").write_text(markdown(results))
        print(f"wrote {output / 'results.md'} and {output / 'results.json'}", flush=True)
    print(f"done in {results['elapsed_s']:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
