"""The bad-input corpus (tests/corpus/cases.jsonl, written by tests/corpus/generate.py): policies,
records, arguments, keys, URLs and hostile server answers. Every case ends in the typed error it
names (or, for records, an issue in the plan) within a time bound, with no panic and nothing
written to Okta."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from okta_lifecycle import OktaClient, Plan, Policy, errors
from okta_lifecycle.testing import OktaSimulator

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
CASES = [json.loads(line) for line in (CORPUS / "cases.jsonl").read_text().splitlines()]
GOOD_POLICY = (CORPUS / "generate.py").read_text().split("GOOD_POLICY = '''")[1].split("'''")[0]
BOUND_SECONDS = 30


def bounded(call: Callable[[], Any]) -> Any:
    """Runs `call` on a thread; a call still running after the bound is a hang."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as error:  # noqa: BLE001 - reported to the test below
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(BOUND_SECONDS)
    assert not thread.is_alive(), f"still running after {BOUND_SECONDS} s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def expect_error(expected: str, call: Callable[[], Any]) -> BaseException:
    cls: type[errors.OktaError] = getattr(errors, expected)
    with pytest.raises(errors.OktaError) as caught:
        bounded(call)
    assert isinstance(caught.value, cls), f"{type(caught.value).__name__}: {caught.value}"
    assert str(caught.value), "the error says what is wrong"
    return caught.value


@pytest.fixture(scope="module")
def sim() -> Iterator[OktaSimulator]:
    with OktaSimulator(seed_users=1) as simulator:
        yield simulator


def writes(sim: OktaSimulator) -> list[str]:
    return [f"{r['method']} {r['path']}" for r in sim.requests() if r["method"] != "GET"]


def policy_value(case: dict[str, Any]) -> Any:
    if case.get("cyclic"):
        value: dict[str, Any] = {"name": "x"}
        value["self"] = value
        return value
    if case.get("deep"):
        nested: list[Any] = []
        for _ in range(case["deep"]):
            nested = [nested]
        return {"name": "x", "deep": nested}
    if case.get("nonstring_key"):
        return {"name": "x", 5: "five"}
    if case.get("set_value"):
        return {"name": "x", "tags": {"a", "b"}}
    return case["value"]


class Scripted(http.server.BaseHTTPRequestHandler):
    answer: dict[str, Any] = {}
    server: http.server.HTTPServer  # run_server_case serves it with an HTTPServer, which knows its port

    def _answer(self) -> None:
        answer = self.answer
        status = answer["status"]
        body = answer.get("body", "").encode()
        self.send_response(status)
        for name, value in answer.get("headers", {}).items():
            self.send_header(name, value)
        if answer.get("self_link"):
            self.send_header("Link", f'<http://127.0.0.1:{self.server.server_port}{self.path}>; rel="next"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = _answer  # noqa: N815

    def log_message(self, *_: object) -> None:
        pass


def run_server_case(case: dict[str, Any]) -> None:
    handler = type("Answer", (Scripted,), {"answer": case["answer"]})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = OktaClient(
            f"http://127.0.0.1:{server.server_address[1]}", api_token="t", journal=":memory:", max_retries=0, timeout=5
        )
        operation = case["answer"]["op"]
        profile = {"login": "a@acme.com", "email": "a@acme.com", "firstName": "A", "lastName": "B"}
        calls: dict[str, Callable[[], Any]] = {
            "create": lambda: client.users.create(profile),
            "get": lambda: client.users.get("00u1"),
            "get_ok": lambda: client.users.get("00u1"),
            "list": lambda: list(client.users.list()),
        }
        if operation == "get_ok":
            assert bounded(calls[operation]).id == "00u1"
        else:
            expect_error(case["expect"], calls[operation])
    finally:
        server.shutdown()
        server.server_close()


def run_call_case(sim: OktaSimulator, case: dict[str, Any]) -> None:
    client = sim.client()
    name, argument = case["call"]
    calls: dict[str, Callable[[], Any]] = {
        "users.create": lambda: client.users.create(argument),
        "users.get": lambda: client.users.get(argument),
        "users.list": lambda: list(client.users.list(**argument)),
        "groups.create": lambda: client.groups.create(argument),
        "groups.list": lambda: list(client.groups.list(**argument)),
        "logs.list": lambda: list(client.logs.list(**argument)),
        "actions.reset_password": lambda: client.actions.reset_password(argument),
        "plan_from_json": lambda: Plan.from_json(argument),
        "apply_wait": lambda: client.apply(client.plan(Policy.from_toml(GOOD_POLICY), []), wait_for_lease=argument),
        "roles.unassign": lambda: client.roles.unassign(argument, user="ada@acme.com"),
        "apply_concurrency": lambda: client.apply(client.plan(Policy.from_toml(GOOD_POLICY), []), concurrency=argument),
    }
    expect_error(case["expect"], calls[name])


@pytest.mark.parametrize("case", CASES, ids=[f"{c['kind']}: {c['name']}" for c in CASES])
def test_bad_input(case: dict[str, Any], sim: OktaSimulator, tmp_path: Path) -> None:
    sim.clear_requests()
    kind = case["kind"]
    if kind == "policy_toml":
        expect_error(case["expect"], lambda: Policy.from_toml(case["text"]))
    elif kind == "policy_dict":
        expect_error(case["expect"], lambda: Policy.from_dict(policy_value(case)))
    elif kind == "policy_path":
        expect_error(case["expect"], lambda: Policy.from_file(case["path"]))
    elif kind in ("records_csv", "records_jsonl"):
        path = tmp_path / ("hr.csv" if kind == "records_csv" else "hr.jsonl")
        path.write_text(case["text"], encoding="utf-8", errors="surrogateescape")
        expect_error(case["expect"], lambda: sim.client().plan(Policy.from_toml(GOOD_POLICY), str(path)))
    elif kind == "records_path":
        expect_error(case["expect"], lambda: sim.client().plan(Policy.from_toml(GOOD_POLICY), case["path"]))
    elif kind == "record_issue":
        record = {"id": "1", "email": "ada@acme.com", "first": "Ada", "last": "L", "status": "Active", **case["fields"]}
        plan = bounded(lambda: sim.client().plan(Policy.from_toml(GOOD_POLICY), [record]))
        assert len(plan) == 0 and len(plan.issues) == 1, plan.render()
    elif kind == "client":
        org = case.get("org_url", "https://acme.okta.com")
        error = expect_error(case["expect"], lambda: OktaClient(org, **case["kwargs"]))
        assert "pw-corpus" not in str(error) + repr(error)
    elif kind == "call":
        run_call_case(sim, case)
    elif kind == "server":
        run_server_case(case)
    else:
        pytest.fail(f"unknown kind {kind}")
    assert writes(sim) == [], "nothing is written to Okta for bad input"


def test_the_corpus_is_large_and_current() -> None:
    assert len(CASES) >= 250
    kinds = {case["kind"] for case in CASES}
    assert kinds >= {"policy_toml", "policy_dict", "records_csv", "records_jsonl", "client", "call", "server"}


def test_a_fifo_is_refused_at_once(tmp_path: Path, okta_client: OktaClient) -> None:
    import os

    fifo = tmp_path / "policy.toml"
    os.mkfifo(fifo)
    expect_error("InvalidInputError", lambda: Policy.from_file(str(fifo)))
    source = tmp_path / "hr.csv"
    os.mkfifo(source)
    expect_error("InvalidInputError", lambda: okta_client.plan(Policy.from_toml(GOOD_POLICY), str(source)))


def test_absurd_simulator_knobs_are_refused() -> None:
    for window in (1e300, float("nan")):
        with pytest.raises(ValueError):
            OktaSimulator(rate_limit_window_seconds=window)
