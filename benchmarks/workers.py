"""The client side of each benchmark, one measurement per process.

``python benchmarks/workers.py '<job as JSON>'`` imports only the library the job measures, runs
the job against the org at ``job["url"]``, and prints one JSON line: the timed seconds, what the
client saw (successes, errors, 429s that reached the caller) and the process's memory (the
resident set after the import and its peak, from ``getrusage``). ``run.py`` starts one process per
measurement so that neither client shares an interpreter, a GIL or a heap with the other, nor
with the simulator.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import time
from collections.abc import Callable
from typing import Any

#: Okta's SDK refuses a plain-http org URL unless this testing switch is set (read from the env).
SDK_ENVIRONMENT = {"OKTA_TESTING_TESTINGDISABLEHTTPSCHECK": "true"}


def _rss_kib() -> int:
    """The current resident set (VmRSS), in KiB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def joiner_profile(number: int) -> dict[str, str]:
    login = f"joiner{number}@bench.example"
    return {"login": login, "email": login, "firstName": "Joiner", "lastName": str(number)}


# --- okta-lifecycle ---------------------------------------------------------------------------


def _okl_b1_gather(job: dict[str, Any]) -> dict[str, Any]:
    from okta_lifecycle import AsyncOktaClient, RateLimitedError

    group_ids: list[str] = job["group_ids"]
    errors: list[str] = []
    rate_limited = 0

    async def joiner(client: AsyncOktaClient, number: int) -> None:
        nonlocal rate_limited
        try:
            user = await client.users.create(joiner_profile(number), activate=True)
            await asyncio.gather(*(client.groups.add_member(group, user) for group in group_ids))
        except RateLimitedError as error:
            rate_limited += 1
            errors.append(repr(error))
        except Exception as error:  # counted and reported, never hidden
            errors.append(repr(error))

    async def main() -> tuple[float, dict[str, int]]:
        async with AsyncOktaClient(job["url"], api_token=job["api_token"]) as client:
            started = time.perf_counter()
            await asyncio.gather(*(joiner(client, number) for number in range(job["users"])))
            return time.perf_counter() - started, client.governor_stats()

    seconds, governor = asyncio.run(main())
    return {"seconds": seconds, "errors": len(errors), "rate_limited_errors": rate_limited,
            "first_errors": errors[:3], "governor": governor}


def _bench_policy(groups: list[str] | None) -> dict[str, Any]:
    actions: list[dict[str, Any]] = [{"action": "sync_identities", "create": True, "activate": True}]
    if groups:
        actions.append({"action": "manage_relationships", "groups": groups})
    return {
        "name": "bench-joiners",
        "source": {"format": "jsonl", "key": "login"},
        "attributes": {"login": "{login}", "email": "{email}", "firstName": "{firstName}", "lastName": "{lastName}"},
        "workflow": [{"name": "joiner", "when": 'status eq "Active"', "actions": actions}],
        "safety": {"max_changed_percent": 100},
    }


def _okl_b1_plan_apply(job: dict[str, Any]) -> dict[str, Any]:
    from okta_lifecycle import OktaClient, Policy

    policy = Policy.from_dict(_bench_policy(job["group_names"]))
    records = [{**joiner_profile(number), "status": "Active"} for number in range(job["users"])]
    with OktaClient(job["url"], api_token=job["api_token"]) as client:
        started = time.perf_counter()
        plan = client.plan(policy, records)
        planned = time.perf_counter() - started
        report = client.apply(plan, concurrency=job["concurrency"])
        seconds = time.perf_counter() - started
        governor = client.governor_stats()
    counts = report.counts
    failed = sum(value for key, value in counts.items() if key != "succeeded" and isinstance(value, int))
    return {"seconds": seconds, "plan_seconds": planned, "errors": failed, "rate_limited_errors": 0,
            "report": counts, "governor": governor}


def _okl_b2_list(job: dict[str, Any], partitioned: bool = False) -> dict[str, Any]:
    from okta_lifecycle import OktaClient

    with OktaClient(job["url"], api_token=job["api_token"], page_size=job["page_size"]) as client:
        after_import = _rss_kib()
        started = time.perf_counter()
        count = 0
        users = client.users.list_partitioned(limit=job["page_size"]) if partitioned else client.users.list(
            limit=job["page_size"])
        for user in users:
            count += user.id is not None
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "items": count, "rss_after_import_kib": after_import}


def _okl_b3_get(job: dict[str, Any]) -> dict[str, Any]:
    from okta_lifecycle import OktaClient

    ids: list[str] = job["ids"]
    with OktaClient(job["url"], api_token=job["api_token"]) as client:
        client.users.get(ids[0])  # connection and bucket warm-up, outside the timing
        started = time.perf_counter()
        for number in range(job["calls"]):
            client.users.get(ids[number % len(ids)])
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "items": job["calls"]}


def _okl_b3_get_async(job: dict[str, Any]) -> dict[str, Any]:
    from okta_lifecycle import AsyncOktaClient

    ids: list[str] = job["ids"]

    async def main() -> float:
        async with AsyncOktaClient(job["url"], api_token=job["api_token"]) as client:
            await client.users.get(ids[0])
            started = time.perf_counter()
            for number in range(job["calls"]):
                await client.users.get(ids[number % len(ids)])
            return time.perf_counter() - started

    return {"seconds": asyncio.run(main()), "items": job["calls"]}


def _okl_b4_plan(job: dict[str, Any]) -> dict[str, Any]:
    from okta_lifecycle import OktaClient, Policy

    # The policy and records of examples/plan_bench.rs: every seeded user has a record; one in ten
    # changes title, one in a thousand leaves.
    policy = Policy.from_dict({
        "name": "bench",
        "source": {"format": "jsonl", "key": "email"},
        "attributes": {"login": "{email | LOWER}", "email": "{email | LOWER}", "firstName": "{first | TRIM}",
                       "lastName": "{last | TRIM}", "title": "{title | TITLE}"},
        "workflow": [
            {"name": "joiner-mover", "when": 'status eq "active"', "actions": [{"action": "sync_identities"}]},
            {"name": "leaver", "when": 'status eq "terminated"',
             "actions": [{"action": "deprovision_identity", "remove_groups": False}]},
        ],
    })
    users = job["users"]
    records = [
        {"email": f"user{n}@example.com", "first": "User", "last": str(n),
         "title": "staff engineer" if n % 10 == 0 else "", "status": "terminated" if n % 1000 == 0 else "active"}
        for n in range(1, users + 1)
    ]
    with OktaClient(job["url"], api_token=job["api_token"]) as client:
        after_setup = _rss_kib()
        started = time.perf_counter()
        plan = client.plan(policy, records)
        seconds = time.perf_counter() - started
        summary = plan.summary
    return {"seconds": seconds, "items": summary["records"], "rss_after_import_kib": after_setup,
            "summary": {key: summary[key] for key in ("records", "unchanged", "movers", "leavers", "issues")}}


# --- Okta's Python SDK ------------------------------------------------------------------------


def _sdk_client(job: dict[str, Any], max_retries: int = 2) -> Any:
    from okta.client import Client

    return Client({"orgUrl": job["url"], "token": job["api_token"], "rateLimit": {"maxRetries": max_retries}})


def _sdk_status(error: Any) -> int | None:
    return getattr(error, "status", None)


def _sdk_b1(job: dict[str, Any], concurrent: bool) -> dict[str, Any]:
    from okta.models import CreateUserRequest

    group_ids: list[str] = job["group_ids"]
    errors: list[str] = []
    rate_limited = 0

    def failed(error: Any) -> None:
        nonlocal rate_limited
        rate_limited += _sdk_status(error) == 429
        errors.append(repr(error))

    async def joiner(client: Any, number: int, semaphore: asyncio.Semaphore | None) -> None:
        async def call(awaitable: Any) -> Any:
            if semaphore is None:
                return await awaitable
            async with semaphore:
                return await awaitable

        body = CreateUserRequest.from_dict({"profile": joiner_profile(number)})
        user, _, error = await call(client.create_user(body, activate=True))
        if error is not None:
            failed(error)
            return
        if concurrent:
            answers = await asyncio.gather(*(call(client.assign_user_to_group(g, user.id)) for g in group_ids))
        else:
            answers = [await client.assign_user_to_group(group, user.id) for group in group_ids]
        for answer in answers:
            error = answer[-1]
            if error is not None:
                failed(error)

    async def main() -> float:
        async with _sdk_client(job, job["max_retries"]) as client:
            started = time.perf_counter()
            if concurrent:
                semaphore = asyncio.Semaphore(job["semaphore"])
                await asyncio.gather(*(joiner(client, number, semaphore) for number in range(job["users"])))
            else:
                # As the SDK's README shows: one awaited call after another.
                for number in range(job["users"]):
                    await joiner(client, number, None)
            return time.perf_counter() - started

    seconds = asyncio.run(main())
    return {"seconds": seconds, "errors": len(errors), "rate_limited_errors": rate_limited, "first_errors": errors[:3]}


def _sdk_b2_list(job: dict[str, Any]) -> dict[str, Any]:
    from okta.pagination import paginate_all

    async def main() -> tuple[float, int, int]:
        async with _sdk_client(job) as client:
            after_import = _rss_kib()
            started = time.perf_counter()
            count = 0
            async for user in paginate_all(client.list_users, limit=job["page_size"]):
                count += user.id is not None
            return time.perf_counter() - started, count, after_import

    seconds, count, after_import = asyncio.run(main())
    return {"seconds": seconds, "items": count, "rss_after_import_kib": after_import}


def _sdk_b3_get(job: dict[str, Any]) -> dict[str, Any]:
    ids: list[str] = job["ids"]

    async def main() -> tuple[float, int]:
        async with _sdk_client(job) as client:
            await client.get_user(ids[0])
            errors = 0
            started = time.perf_counter()
            for number in range(job["calls"]):
                _, _, error = await client.get_user(ids[number % len(ids)])
                errors += error is not None
            return time.perf_counter() - started, errors

    seconds, errors = asyncio.run(main())
    return {"seconds": seconds, "items": job["calls"], "errors": errors}


def _raw_b3_get(job: dict[str, Any]) -> dict[str, Any]:
    """A floor for B3, not a client: one keep-alive connection with the standard library's
    http.client, no JSON parsing. What is left is the simulator and the loopback round trip."""
    import http.client
    from urllib.parse import urlsplit

    ids: list[str] = job["ids"]
    address = urlsplit(job["url"])
    connection = http.client.HTTPConnection(address.hostname or "127.0.0.1", address.port)
    headers = {"Authorization": f"SSWS {job['api_token']}", "Accept": "application/json"}

    def get(user_id: str) -> int:
        connection.request("GET", f"/api/v1/users/{user_id}", headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status

    get(ids[0])
    errors = 0
    started = time.perf_counter()
    for number in range(job["calls"]):
        errors += get(ids[number % len(ids)]) != 200
    seconds = time.perf_counter() - started
    connection.close()
    return {"seconds": seconds, "items": job["calls"], "errors": errors}


JOBS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "B1/okta-lifecycle-gather": _okl_b1_gather,
    "B1/okta-lifecycle-plan-apply": _okl_b1_plan_apply,
    "B1/sdk-sequential": lambda job: _sdk_b1(job, concurrent=False),
    "B1/sdk-gather": lambda job: _sdk_b1(job, concurrent=True),
    "B2/okta-lifecycle": _okl_b2_list,
    "B2/okta-lifecycle-partitioned": lambda job: _okl_b2_list(job, partitioned=True),
    "B2/sdk": _sdk_b2_list,
    "B3/okta-lifecycle": _okl_b3_get,
    "B3/okta-lifecycle-async": _okl_b3_get_async,
    "B3/sdk": _sdk_b3_get,
    "B3/raw-http": _raw_b3_get,
    "B4/okta-lifecycle": _okl_b4_plan,
}


def main() -> int:
    job = json.loads(sys.argv[1])
    result = JOBS[job["name"]](job)
    result["max_rss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result["pid"] = os.getpid()
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
