"""Each Okta error (and each local failure) becomes the exception errors.rs maps it to.

Every condition is produced against the simulator (the plugin's ``okta_simulator``, two seeded
users unless a test's marker says otherwise) with both the blocking and the asyncio client, through
conftest's ``either_client`` and ``client_kind``.
"""

from __future__ import annotations

import asyncio
import builtins
import datetime
import json
import re
import socket
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

import okta_lifecycle
from okta_lifecycle import (
    ApiError,
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    InvalidInputError,
    InvalidStatusTransitionError,
    NotFoundError,
    OktaClient,
    OktaError,
    OutcomeUnknownError,
    PermissionDeniedError,
    PlanBlockedError,
    Policy,
    RateLimitedError,
    ServerError,
    TimeoutError,
    TransportError,
    ValidationError,
    errors,
)
from okta_lifecycle.testing import OktaSimulator

if TYPE_CHECKING:
    from conftest import ClientKind, EitherClient

pytestmark = pytest.mark.okta_simulator(seed_users=2)


def profile(login: str) -> dict[str, Any]:
    return {"login": login, "email": login, "firstName": "Test", "lastName": "User"}


_Error = TypeVar("_Error", bound=OktaError)


def raises(action: Callable[[], Any], cls: type[_Error]) -> _Error:
    """Runs ``action()``, which must raise exactly ``cls`` (an OktaError)."""
    with pytest.raises(cls) as caught:
        action()
    assert type(caught.value) is cls, f"{type(caught.value).__name__} is not exactly {cls.__name__}"
    assert isinstance(caught.value, OktaError)
    return caught.value


def check_api(
    error: ApiError, status: int, code: str, summary: str, causes: list[str], *, in_message: bool = True
) -> None:
    assert isinstance(error, ApiError)
    assert error.status == status
    assert error.error_code == code
    assert error.summary == summary
    assert error.causes == causes
    assert isinstance(error.request_id, str) and len(error.request_id) > 10
    assert isinstance(error.error_id, str) and error.error_id
    if in_message:
        assert code in str(error) and error.request_id in str(error)


def test_e0000001_validation_error(either_client: EitherClient) -> None:
    staged = either_client.users.create(profile("bob@acme.com"), activate=False)
    error = raises(lambda: either_client.users.suspend(staged), ValidationError)
    assert isinstance(error, ValueError)
    check_api(
        error,
        400,
        "E0000001",
        "Api validation failed: status",
        ["status: Only users with an ACTIVE status can be suspended."],
    )
    duplicate = raises(lambda: either_client.users.create(profile("user1@example.com")), ValidationError)
    check_api(
        duplicate,
        400,
        "E0000001",
        "Api validation failed: login",
        ["login: An object with this field already exists in the current organization"],
    )


def test_e0000007_not_found_error(either_client: EitherClient) -> None:
    error = raises(lambda: either_client.users.get("nobody@example.com"), NotFoundError)
    assert isinstance(error, LookupError)
    check_api(error, 404, "E0000007", "Not found: Resource not found: nobody@example.com (User)", [])
    group = raises(lambda: either_client.groups.get("00gmissing"), NotFoundError)
    assert group.error_code == "E0000007" and group.status == 404


def test_e0000011_authentication_error(okta_simulator: OktaSimulator, client_kind: ClientKind) -> None:
    client = client_kind.connect(okta_simulator.url, api_token="wrong-token-value")
    error = raises(lambda: client.users.get("user1@example.com"), AuthenticationError)
    check_api(error, 401, "E0000011", "Invalid token provided", [])
    assert "wrong-token-value" not in str(error) and "wrong-token-value" not in repr(error.__dict__)
    assert okta_simulator.requests()[-1]["status"] == 401


def test_e0000006_permission_denied_error(okta_simulator: OktaSimulator, client_kind: ClientKind) -> None:
    okta_simulator.add_api_token("read-only-token", scopes=["okta.users.read"])
    client = client_kind.connect(okta_simulator.url, api_token="read-only-token")
    assert client.users.get("user1@example.com").login == "user1@example.com"
    error = raises(lambda: client.users.create(profile("new@acme.com")), PermissionDeniedError)
    check_api(
        error,
        403,
        "E0000006",
        "You do not have permission to perform the requested action",
        ["The access token provided does not contain the required scope: okta.users.manage"],
    )
    assert okta_simulator.user("new@acme.com") is None


@pytest.mark.parametrize(
    ("method", "code", "summary"),
    [
        ("activate", "E0000016", "Activation failed because the user is already active"),
        ("reactivate", "E0000038", "This operation is not allowed in the user's current status."),
        ("unlock", "E0000032", "Unlock is not allowed for this user."),
    ],
)
def test_status_transition_errors(either_client: EitherClient, method: str, code: str, summary: str) -> None:
    error = raises(lambda: getattr(either_client.users, method)("user1@example.com"), InvalidStatusTransitionError)
    assert error.status == 403 and error.error_code == code and error.summary == summary
    assert isinstance(error.causes, list) and error.request_id
    assert not isinstance(error, PermissionDeniedError), "the code wins over the 403 status"


def test_412_conflict_error(okta_simulator: OktaSimulator, either_client: EitherClient) -> None:
    user = either_client.users.get("user1@example.com")
    request = urllib.request.Request(
        f"{okta_simulator.url}/api/v1/users/{user.id}", headers={"Authorization": f"SSWS {okta_simulator.api_token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        etag = response.headers["ETag"]
    either_client.users.update(user, {"title": "changed since"})
    error = raises(
        lambda: either_client.users.replace(user, {**user.profile, "title": "mine"}, if_match=etag), ConflictError
    )
    check_api(error, 412, "E0000231", "ETag value doesn't match.", [])
    held = okta_simulator.user(user.id)
    assert held is not None
    assert held["profile"]["title"] == "changed since"


@pytest.mark.okta_simulator(seed_users=1, rate_limits={"/api/v1/users/{idOrLogin}": 2})
def test_429_rate_limited_error(
    client_kind: ClientKind, okta_simulator: OktaSimulator, okta_client: OktaClient
) -> None:
    for _ in range(2):
        okta_client.users.get("user1@example.com")
    client = client_kind.bind(okta_simulator, max_retries=0)
    before = datetime.datetime.now(datetime.timezone.utc)
    error = raises(lambda: client.users.get("user1@example.com"), RateLimitedError)
    check_api(error, 429, "E0000047", "API call exceeded rate limit due to too many requests.", [], in_message=False)
    assert error.bucket == "/api/v1/users/{idOrLogin}"
    assert "rate limited" in str(error) and error.bucket in str(error)
    assert error.concurrency is False
    assert isinstance(error.reset_at, datetime.datetime) and error.reset_at.utcoffset() == datetime.timedelta(0)
    assert before < error.reset_at <= before + datetime.timedelta(seconds=63)
    assert okta_simulator.counters()["rate_limited"] == 1


@pytest.mark.okta_simulator(seed_users=1, concurrency_limit=1, latency_ms=500)
def test_429_concurrency_limited_error(
    client_kind: ClientKind, okta_simulator: OktaSimulator, okta_client: OktaClient
) -> None:
    thread = threading.Thread(target=lambda: okta_client.users.get("user1@example.com"))
    thread.start()
    deadline = time.monotonic() + 5
    while okta_simulator.counters()["max_in_flight"] < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    client = client_kind.bind(okta_simulator, max_retries=0)
    error = raises(lambda: client.users.get("user1@example.com"), RateLimitedError)
    thread.join()
    assert error.status == 429 and error.error_code == "E0000047"
    assert error.concurrency is True
    assert error.bucket == "/api/v1/users/{idOrLogin}"
    assert okta_simulator.counters()["concurrency_limited"] == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_server_error(okta_simulator: OktaSimulator, client_kind: ClientKind, status: int) -> None:
    client = client_kind.bind(okta_simulator, max_retries=0)
    okta_simulator.script_fault("GET", "/api/v1/users", status)
    error = raises(lambda: client.users.get("user1@example.com"), ServerError)
    assert error.status == status and error.request_id
    assert isinstance(error.error_code, str) and error.summary
    # With retries the same fault is ridden out.
    retrying = client_kind.bind(okta_simulator)
    okta_simulator.script_fault("GET", "/api/v1/users", status)
    assert retrying.users.get("user1@example.com").login == "user1@example.com"


def test_outcome_unknown_error_is_never_repeated(okta_simulator: OktaSimulator, either_client: EitherClient) -> None:
    # The client retries (its default), yet a create whose answer was lost is not repeated.
    okta_simulator.script_fault("POST", "/api/v1/users", "drop_after")
    error = raises(lambda: either_client.users.create(profile("new@acme.com")), OutcomeUnknownError)
    assert not isinstance(error, (ApiError, TransportError))
    assert "outcome unknown" in str(error)
    assert okta_simulator.user("new@acme.com") is not None, "the create happened; only the answer was lost"
    posts = [r for r in okta_simulator.requests() if r["method"] == "POST" and r["path"] == "/api/v1/users"]
    assert len(posts) == 1


def test_transport_error_on_a_closed_port(client_kind: ClientKind) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = client_kind.connect(f"http://127.0.0.1:{port}", api_token="token", max_retries=0)
    error = raises(lambda: client.users.get("user1@example.com"), TransportError)
    assert not isinstance(error, (TimeoutError, ApiError))


def test_timeout_error(okta_simulator: OktaSimulator, client_kind: ClientKind) -> None:
    client = client_kind.bind(okta_simulator, timeout=0.3, max_retries=0)
    okta_simulator.script_fault("GET", "/api/v1/users", "delay:2000")
    started = time.monotonic()
    error = raises(lambda: client.users.get("user1@example.com"), TimeoutError)
    assert time.monotonic() - started < 1.5
    assert isinstance(error, TransportError)
    assert re.search(r"after 3\d\d ms", str(error)), str(error)
    # The built-in, as code that never imported okta_lifecycle's catches it (asyncio's too).
    assert isinstance(error, builtins.TimeoutError) and isinstance(error, asyncio.TimeoutError)
    assert str(error) == error.args[0]


@pytest.mark.parametrize(
    ("url", "options", "match"),
    [
        ("http://acme.okta.com", {"api_token": "t"}, "https"),
        ("not a url", {"api_token": "t"}, "not a URL"),
        ("https://acme.okta.com", {}, "api_token"),
        ("https://acme.okta.com", {"api_token": "t", "client_id": "c"}, "api_token"),
        ("https://acme.okta.com", {"client_id": "c"}, "private_key"),
        ("https://acme.okta.com", {"api_token": "t", "timeout": 0}, "timeout"),
        ("https://acme.okta.com", {"api_token": "t", "page_size": 500}, "page_size"),
        ("https://acme.okta.com", {"api_token": "t", "max_concurrency": 0}, "max_concurrency"),
        ("https://acme.okta.com", {"api_token": "t", "rate_limit_share": 0.0}, "rate_limit_share"),
        ("https://acme.okta.com", {"api_token": "two words"}, "token"),
        ("https://acme.okta.com", {"api_token": ""}, "empty"),
    ],
)
def test_configuration_error(client_kind: ClientKind, url: str, options: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match) as caught:
        client_kind.cls(url, **options)
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, OktaError)


def test_invalid_input_error_sends_nothing(okta_simulator: OktaSimulator, either_client: EitherClient) -> None:
    slash = raises(lambda: either_client.users.get("a/b@acme.com"), InvalidInputError)
    assert "'/'" in str(slash) and isinstance(slash, ValueError)
    limit = raises(lambda: either_client.users.list(limit=500), InvalidInputError)
    assert "500" in str(limit)
    raises(lambda: either_client.groups.list(limit=500), InvalidInputError)
    raises(
        lambda: either_client.users.list(search='status eq "ACTIVE"', filter='status eq "ACTIVE"'), InvalidInputError
    )
    raises(
        lambda: either_client.actions.manage_relationships("user1@example.com", ["g"], mode="bogus"),
        InvalidInputError,
    )
    assert [r for r in okta_simulator.requests() if r["method"] != "GET"] == []
    assert all("a/b" not in r["path"] for r in okta_simulator.requests())


def test_plan_blocked_error_reasons(okta_simulator: OktaSimulator, either_client: EitherClient) -> None:
    policy = Policy.from_dict(
        {
            "name": "leavers",
            "source": {"format": "jsonl", "key": "login"},
            "attributes": {"login": "{login}"},
            "workflow": [{"name": "leave", "actions": [{"action": "deprovision_identity"}]}],
            "safety": {"max_deprovisions": 1},
        }
    )
    records = [{"login": "user1@example.com"}, {"login": "user2@example.com"}]
    plan = either_client.plan(policy, records)
    error = raises(lambda: either_client.apply(plan), PlanBlockedError)
    assert error.reasons == ["2 deprovisions planned; the policy allows at most 1 per run"]
    assert error.reasons == plan.blocked and error.reasons[0] in str(error)
    assert not isinstance(error, ApiError)
    held = okta_simulator.user("user1@example.com")
    assert held is not None
    assert held["status"] == "ACTIVE"


def test_journal_error(okta_simulator: OktaSimulator, tmp_path: Path, client_kind: ClientKind) -> None:
    with pytest.raises(errors.JournalError) as caught:
        client_kind.cls(okta_simulator.url, api_token=okta_simulator.api_token, journal=tmp_path)  # a directory
    assert isinstance(caught.value, OktaError)


def test_errors_module_and_package_export_the_same_classes() -> None:
    assert errors.__all__ == sorted(errors.__all__)
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert getattr(okta_lifecycle, name) is cls, name
        assert name in okta_lifecycle.__all__
        assert issubclass(cls, OktaError) and cls.__module__ == "okta_lifecycle.errors"
    exported = {n for n in okta_lifecycle.__all__ if isinstance(getattr(okta_lifecycle, n), type)}
    assert {n for n in exported if issubclass(getattr(okta_lifecycle, n), OktaError)} == set(errors.__all__)
    hierarchy = {
        ValidationError: (ApiError, ValueError),
        NotFoundError: (ApiError, LookupError),
        AuthenticationError: (ApiError,),
        PermissionDeniedError: (ApiError,),
        ConflictError: (ApiError,),
        InvalidStatusTransitionError: (ApiError,),
        RateLimitedError: (ApiError,),
        ServerError: (ApiError,),
        TimeoutError: (TransportError, builtins.TimeoutError),
        ConfigurationError: (ValueError,),
        InvalidInputError: (ValueError,),
    }
    for cls, bases in hierarchy.items():
        assert issubclass(cls, bases), cls
    assert json.dumps(sorted(errors.__all__))  # plain names only
