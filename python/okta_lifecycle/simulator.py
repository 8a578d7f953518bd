"""Serve a simulated Okta org until interrupted: ``python -m okta_lifecycle.simulator --port 8080``.

Other tools (Okta's own SDK, Terraform, curl) can then use it as an org at the printed URL with
the printed API token. With ``--state-file`` the org survives restarts. With ``--report PATH``,
stopping it (SIGTERM or Ctrl-C) writes its counters and request log to PATH as JSON, so a test
that drives it from another process (a playbook, a command) can see every request it answered.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from okta_lifecycle import _arguments
from okta_lifecycle._core import OktaSimulator


def _parser() -> argparse.ArgumentParser:
    parser = _arguments.Parser(prog="python -m okta_lifecycle.simulator", description=__doc__)
    parser.add_argument("--port", type=_arguments.port, default=0, help="loopback port (default: a free one)")
    parser.add_argument("--seed-users", type=_arguments.count, default=0, help="users created up front")
    parser.add_argument(
        "--rate-limits",
        default="none",
        help='"none", "okta" (Okta\'s Workforce defaults) or JSON such as \'{"/api/v1/users": 600}\'',
    )
    parser.add_argument("--rate-limit-window-seconds", type=float, default=60.0)
    parser.add_argument(
        "--log-delay-seconds", type=float, default=0.3, help="how long after a change its System Log event shows"
    )
    parser.add_argument(
        "--search-delay-seconds", type=float, default=0.0, help="how far the search index trails writes"
    )
    parser.add_argument("--concurrency-limit", type=_arguments.count, default=None)
    parser.add_argument("--latency-ms", type=_arguments.count, default=0)
    parser.add_argument("--latency-jitter-ms", type=_arguments.count, default=0)
    parser.add_argument("--faults", default=None, help='JSON such as \'{"503": 0.02, "seed": 7}\'')
    parser.add_argument("--api-token", default=None, help="the SSWS token to accept (default: random)")
    parser.add_argument("--state-file", default=None, help="JSON file that keeps the org between runs")
    parser.add_argument("--json", action="store_true", help="print the URL and token as one JSON line")
    parser.add_argument(
        "--report",
        default=None,
        metavar="PATH",
        help="on stopping (SIGTERM or Ctrl-C), write the counters and the request log to PATH as JSON",
    )
    return parser


def report(simulator: OktaSimulator) -> dict[str, Any]:
    """The simulator's counters and request log as one JSON-ready document:
    ``{"counters": {...}, "requests": [{"method", "path", "query", "status", "bucket", "dropped", "at"}, ...]}``.
    """
    counters: dict[str, Any] = dict(simulator.counters())
    # JSON keys are strings: the status counts are keyed "200", "404", ...
    counters["by_status"] = {str(status): count for status, count in counters.get("by_status", {}).items()}
    return {"counters": counters, "requests": [dict(request) for request in simulator.requests()]}


def write_report(simulator: OktaSimulator, path: str) -> None:
    """Write :func:`report` to ``path`` in one step (a reader never sees half a file)."""
    target = Path(path)
    document = json.dumps(report(simulator), indent=1)
    handle, temporary = tempfile.mkstemp(prefix=".simulator-report-", dir=target.resolve().parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(document)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    rate_limits: Literal["okta"] | Mapping[str, int] | None
    if arguments.rate_limits == "none":
        rate_limits = None
    elif arguments.rate_limits == "okta":
        rate_limits = "okta"
    else:
        try:
            rate_limits = json.loads(arguments.rate_limits)
        except json.JSONDecodeError as error:
            print(f"--rate-limits: not JSON: {error}", file=sys.stderr)
            return 2
    try:
        faults = json.loads(arguments.faults) if arguments.faults else None
    except json.JSONDecodeError as error:
        print(f"--faults: not JSON: {error}", file=sys.stderr)
        return 2
    if arguments.report is not None and not Path(arguments.report).resolve().parent.is_dir():
        print(f"--report: no such folder: {Path(arguments.report).parent}", file=sys.stderr)
        return 2
    try:
        simulator = OktaSimulator(
            seed_users=arguments.seed_users,
            rate_limits=rate_limits,
            concurrency_limit=arguments.concurrency_limit,
            latency_ms=arguments.latency_ms,
            latency_jitter_ms=arguments.latency_jitter_ms,
            faults=faults,
            api_token=arguments.api_token,
            state_file=arguments.state_file,
            port=arguments.port,
            rate_limit_window_seconds=arguments.rate_limit_window_seconds,
            log_delay_seconds=arguments.log_delay_seconds,
            search_delay_seconds=arguments.search_delay_seconds,
        )
    except (ValueError, RuntimeError, OSError, OverflowError, TypeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    # SIGTERM stops it cleanly from the moment it says it is ready: a caller may stop it as soon as
    # it has read the first line.
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if arguments.json:
        print(json.dumps({"url": simulator.url, "api_token": simulator.api_token}), flush=True)
    else:
        print(f"Okta simulator at {simulator.url}", flush=True)
        print(f"API token: {simulator.api_token}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    status = 0
    try:
        if arguments.report is not None:
            write_report(simulator, arguments.report)
    except OSError as error:
        print(f"--report: could not write {arguments.report}: {error}", file=sys.stderr)
        status = 1
    finally:
        simulator.close()
    return status


if __name__ == "__main__":
    sys.exit(main())
