"""Serve one simulated Okta org in its own process and answer control commands on stdin.

The benchmark runs the simulator here, apart from the client being measured, so that the two do
not compete for one interpreter's GIL. The first line printed is ``{"url": ..., "api_token": ...}``.
Each later line read from stdin is one JSON command, answered by one JSON line on stdout:

- ``{"command": "counters"}``: the simulator's counters (requests, rate_limited, ...);
- ``{"command": "buckets"}``: requests in the log per rate-limit bucket and status;
- ``{"command": "reset"}``: empty the org (seed users again), the log, counters and rate windows;
- ``{"command": "clear_requests"}``: empty the request log;
- ``{"command": "quit"}``: stop.

Options are those of ``python -m okta_lifecycle.simulator`` that the benchmark needs.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from typing import Any

from okta_lifecycle.testing import OktaSimulator


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed-users", type=int, default=0)
    parser.add_argument("--rate-limits", default="none", help='"none" or JSON {"bucket": per-window limit}')
    parser.add_argument("--rate-limit-window-seconds", type=float, default=60.0)
    parser.add_argument("--concurrency-limit", type=int, default=None)
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--latency-jitter-ms", type=int, default=0)
    parser.add_argument("--search-delay-seconds", type=float, default=0.0)
    parser.add_argument("--api-token", default="benchmark-token")
    return parser


def _buckets(simulator: OktaSimulator) -> dict[str, dict[str, int]]:
    counts: Counter[tuple[str, int]] = Counter()
    for record in simulator.requests():
        counts[(record["bucket"], record["status"])] += 1
    result: dict[str, dict[str, int]] = {}
    for (bucket, status), count in sorted(counts.items()):
        result.setdefault(bucket, {})[str(status)] = count
    return result


def main(argv: list[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    rate_limits = None if arguments.rate_limits == "none" else json.loads(arguments.rate_limits)
    simulator = OktaSimulator(
        seed_users=arguments.seed_users,
        rate_limits=rate_limits,
        concurrency_limit=arguments.concurrency_limit,
        latency_ms=arguments.latency_ms,
        latency_jitter_ms=arguments.latency_jitter_ms,
        api_token=arguments.api_token,
        rate_limit_window_seconds=arguments.rate_limit_window_seconds,
        search_delay_seconds=arguments.search_delay_seconds,
    )
    print(json.dumps({"url": simulator.url, "api_token": simulator.api_token}), flush=True)
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            command = json.loads(line)["command"]
            answer: Any
            if command == "counters":
                answer = simulator.counters()
            elif command == "buckets":
                answer = _buckets(simulator)
            elif command == "reset":
                simulator.reset()
                answer = {"ok": True}
            elif command == "clear_requests":
                simulator.clear_requests()
                answer = {"ok": True}
            elif command == "quit":
                break
            else:
                answer = {"error": f"unknown command {command!r}"}
            print(json.dumps(answer), flush=True)
    finally:
        simulator.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
