"""Exiting is always safe: a program whose daemon threads are inside blocking calls, or whose
event loop has requests pending, ends normally when its main thread ends, whether the calls
were succeeding or failing. Each case runs many times in fresh interpreters."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

RUNS = 50

PRELUDE = """
import asyncio, sys, threading, time
from okta_lifecycle import OktaError
from okta_lifecycle.testing import OktaSimulator

sim = OktaSimulator(seed_users=1, latency_ms=20, latency_jitter_ms=20)
target = "user1@example.com" if sys.argv[1] == "succeed" else "nobody@example.com"
started = threading.Event()
"""

BLOCKING = PRELUDE + """
client = sim.client()

def work():
    while True:
        try:
            client.users.get(target)
        except OktaError:
            pass
        started.set()

for _ in range(4):
    threading.Thread(target=work, daemon=True).start()
started.wait(10)
time.sleep(0.05)
print("exiting", flush=True)
"""

ASYNCIO = PRELUDE + """
client = sim.async_client()

async def one():
    while True:
        try:
            await client.users.get(target)
        except OktaError:
            pass
        started.set()

def loop_forever():
    loop = asyncio.new_event_loop()
    for _ in range(4):
        loop.create_task(one())
    loop.run_forever()

threading.Thread(target=loop_forever, daemon=True).start()
started.wait(10)
time.sleep(0.05)
print("exiting", flush=True)
"""


def run_once(script: str, mode: str) -> tuple[int, str]:
    result = subprocess.run([sys.executable, "-c", script, mode], capture_output=True, text=True, timeout=60)
    return result.returncode, result.stdout + result.stderr


@pytest.mark.parametrize("script", [BLOCKING, ASYNCIO], ids=["blocking", "asyncio"])
@pytest.mark.parametrize("mode", ["succeed", "fail"])
def test_exiting_with_calls_in_flight_never_aborts(script: str, mode: str) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: run_once(script, mode), range(RUNS)))
    abnormal = [(code, output[-300:]) for code, output in results if code != 0 or "exiting" not in output]
    assert not abnormal, f"{len(abnormal)} of {RUNS} runs ended abnormally, e.g. {abnormal[0]}"
