"""How the bindings behave around Python: the GIL, Ctrl-C, cancellation, fork, logging, import."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import okta_lifecycle
from okta_lifecycle import AsyncOktaClient, OktaClient
from okta_lifecycle.testing import OktaSimulator


@pytest.mark.okta_simulator(seed_users=1, latency_ms=400)
def test_the_gil_is_released_during_a_call(okta_client: OktaClient) -> None:
    ticks = 0
    stop = threading.Event()

    def spin() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            time.sleep(0.001)

    thread = threading.Thread(target=spin)
    thread.start()
    started = time.perf_counter()
    okta_client.users.get("user1@example.com")
    elapsed = time.perf_counter() - started
    stop.set()
    thread.join()
    assert elapsed >= 0.35
    # With the GIL held for 0.4 s the thread could not have ticked more than a few times.
    assert ticks > 100, ticks


def test_ctrl_c_interrupts_a_blocking_call_promptly() -> None:
    script = textwrap.dedent(
        """
        import os, signal, threading, time
        from okta_lifecycle.testing import OktaSimulator
        with OktaSimulator(seed_users=1) as sim:
            client = sim.client()
            sim.script_fault("GET", "/api/v1/users/", "delay:20000")
            sent = []
            def interrupt():
                sent.append(time.perf_counter())
                os.kill(os.getpid(), signal.SIGINT)
            threading.Timer(0.5, interrupt).start()
            try:
                client.users.get("user1@example.com")
                print("not interrupted")
            except KeyboardInterrupt:
                print(f"interrupted after {time.perf_counter() - sent[0]:.3f}")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert "interrupted after" in result.stdout, result.stdout + result.stderr
    delay = float(result.stdout.split("interrupted after")[1])
    assert delay < 0.5, delay


@pytest.mark.okta_simulator(seed_users=1)
def test_cancelling_a_task_cancels_the_request(
    okta_simulator: OktaSimulator, async_okta_client: AsyncOktaClient
) -> None:
    sim = okta_simulator
    sim.script_fault("GET", "/api/v1/users/", "delay:3000")

    async def scenario() -> None:
        task = asyncio.ensure_future(async_okta_client.users.get("user1@example.com"))
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    started = time.perf_counter()
    asyncio.run(scenario())
    assert time.perf_counter() - started < 2.0
    # The cancelled request's connection was dropped: the simulator never finished it.
    time.sleep(3.2)
    assert [r for r in sim.requests() if r["path"].startswith("/api/v1/users/")] == []
    # The client still works afterwards.
    assert sim.client().users.get("user1@example.com").login == "user1@example.com"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_client_used_after_fork_raises_instead_of_hanging() -> None:
    with OktaSimulator(seed_users=1) as sim:
        client = sim.client()
        client.users.get("user1@example.com")
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports through the pipe
            try:
                client.users.get("user1@example.com")
                message = "no error"
            except RuntimeError as error:
                message = str(error)
            except BaseException as error:  # noqa: BLE001
                message = f"{type(error).__name__}: {error}"
            os.write(write, message.encode())
            os._exit(0)
        os.close(write)
        _, status = os.waitpid(pid, 0)
        message = os.read(read, 4096).decode()
        os.close(read)
        assert "fork" in message, message
        # The parent is unaffected.
        assert client.users.get("user1@example.com").login == "user1@example.com"


def test_requests_are_logged_without_secrets(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="okta_lifecycle")
    okta_lifecycle.refresh_logging()
    try:
        with OktaSimulator(seed_users=1) as sim:
            sim.client().users.get("user1@example.com")
            token = sim.api_token
        records = [r for r in caplog.records if r.name.startswith("okta_lifecycle")]
        assert any("okta request" in r.getMessage() for r in records), [r.getMessage() for r in records]
        assert all(token not in r.getMessage() for r in records)
    finally:
        caplog.set_level(logging.WARNING, logger="okta_lifecycle")
        okta_lifecycle.refresh_logging()

