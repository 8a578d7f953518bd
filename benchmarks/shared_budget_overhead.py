"""What the shared rate budget costs one process when the client is the bottleneck.

::

    .venv/bin/python benchmarks/shared_budget_overhead.py [--requests 3000] [--in-flight 32] [--rounds 3]

One process reads one user ``--requests`` times, ``--in-flight`` at once, from the simulator in the
same process (no latency, no rate limits): the worst case for the store, which is locked twice per
request. Each round measures the client with its own budget and with a shared store in a fresh
directory, alternately, and prints requests per second; the medians come last. Against Okta, with
tens of milliseconds per request and a per-minute budget, the store's cost is lost in the noise.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time

from okta_lifecycle import AsyncOktaClient
from okta_lifecycle.testing import OktaSimulator


async def _rate(sim: OktaSimulator, shared: bool | str, requests: int, in_flight: int) -> float:
    async with AsyncOktaClient(sim.url, api_token=sim.api_token, journal=":memory:", shared_budget=shared) as client:
        await client.users.get("user1@example.com")
        gate = asyncio.Semaphore(in_flight)

        async def one() -> None:
            async with gate:
                await client.users.get("user1@example.com")

        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(requests)))
        return requests / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--in-flight", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    alone: list[float] = []
    shared: list[float] = []
    with OktaSimulator(seed_users=1) as sim:
        for round_number in range(1, arguments.rounds + 1):
            alone.append(asyncio.run(_rate(sim, False, arguments.requests, arguments.in_flight)))
            with tempfile.TemporaryDirectory(prefix="okta-budget-") as store:
                shared.append(asyncio.run(_rate(sim, store, arguments.requests, arguments.in_flight)))
            print(f"round {round_number}: alone {alone[-1]:.0f} req/s, shared {shared[-1]:.0f} req/s")
    print(f"median: alone {statistics.median(alone):.0f} req/s, shared {statistics.median(shared):.0f} req/s")


if __name__ == "__main__":
    main()
