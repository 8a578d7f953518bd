"""Every public method of OktaClient and AsyncOktaClient, against a fresh simulator per test.

Each test body is written once and runs against both clients, through conftest's ``either_client``
(the plugin's ``okta_client`` or ``async_okta_client``, bound to ``okta_simulator``): a method call
returns its plain result, in a fresh event loop for the asyncio client (which must have returned an
awaitable, except for the few methods that return a value), and a listing comes back drained by
``for`` or ``async for``. The org is the plugin's ``okta_simulator``, three seeded users unless a
test's ``okta_simulator`` marker says otherwise; ``client_kind`` makes clients with other options.
"""

from __future__ import annotations

import asyncio
import csv
import datetime
import json
import os
import pathlib
import time
import urllib.request
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from okta_lifecycle import (
    AsyncOktaClient,
    ConfigurationError,
    ConflictError,
    Group,
    IdentityEvent,
    InvalidInputError,
    InvalidStatusTransitionError,
    NotFoundError,
    OktaClient,
    PermissionDeniedError,
    Plan,
    PlanBlockedError,
    Policy,
    Report,
    Secret,
    User,
    UserPages,
    ValidationError,
)
from okta_lifecycle._core import Actions, AsyncActions, AsyncGroups, AsyncUsers, Groups, Users
from okta_lifecycle.testing import OktaSimulator
from okta_lifecycle.types import SimulatorRequest

if TYPE_CHECKING:
    from conftest import ClientKind, EitherClient

ROOT = pathlib.Path(__file__).resolve().parents[2]
POLICY_FILE = ROOT / "examples" / "policy.toml"
DAY1 = ROOT / "examples" / "hr" / "day1.csv"
PASSWORD = "Corr3ct-Horse-Battery-Staple"

pytestmark = pytest.mark.okta_simulator(seed_users=3)


def profile(login: str, **extra: Any) -> dict[str, Any]:
    return {"login": login, "email": login, "firstName": "Test", "lastName": "User", **extra}


def status(sim: OktaSimulator, user: User) -> str:
    """The user's status as the org holds it."""
    state = sim.user(user.id)
    assert state is not None
    return str(state["status"])


def etag_of(sim: OktaSimulator, user_id: str) -> str:
    """The ETag Okta sends with a user (the Python API has no way to read it)."""
    request = urllib.request.Request(
        f"{sim.url}/api/v1/users/{user_id}",
        headers={"Authorization": f"SSWS {sim.api_token}", "Accept": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        etag = response.headers["ETag"]
    assert etag
    return str(etag)


def writes(sim: OktaSimulator) -> list[SimulatorRequest]:
    return [r for r in sim.requests() if r["method"] != "GET"]


# --- the client itself ----------------------------------------------------------------------------


def test_client_properties_repr_and_stats(either_client: EitherClient, okta_simulator: OktaSimulator) -> None:
    raw = either_client.raw
    assert raw.org_url == okta_simulator.url
    assert repr(raw) == f'{type(raw).__name__}("{okta_simulator.url}")'
    assert raw.journal_path is None, "a loopback org keeps its journal in memory"
    if either_client.mode == "blocking":
        assert isinstance(raw.users, Users) and isinstance(raw.groups, Groups) and isinstance(raw.actions, Actions)
    else:
        assert isinstance(raw.users, AsyncUsers)
        assert isinstance(raw.groups, AsyncGroups)
        assert isinstance(raw.actions, AsyncActions)
    stats = either_client.governor_stats()
    assert stats == {"throttled_waits": 0, "throttled_ms": 0, "concurrency_limited": 0, "concurrency_cap": 75}


@pytest.mark.okta_simulator(seed_users=1)
def test_org_url_trailing_slash_and_options(client_kind: ClientKind, okta_simulator: OktaSimulator) -> None:
    client = client_kind.bind(okta_simulator, timeout=5.0, max_retries=1, page_size=1)
    cls = type(client.raw)
    assert cls(okta_simulator.url + "/", api_token=okta_simulator.api_token).org_url == okta_simulator.url
    # page_size=1: each user is one page.
    okta_simulator.clear_requests()
    assert [u.login for u in client.users.list()] == ["user1@example.com"]
    assert all("limit=1" in (r["query"] or "") for r in okta_simulator.requests())


@pytest.mark.okta_simulator(seed_users=1)
def test_journal_file_keeps_history_across_clients(
    client_kind: ClientKind, okta_simulator: OktaSimulator, tmp_path: pathlib.Path
) -> None:
    journal = tmp_path / "journal.db"
    client = client_kind.bind(okta_simulator, journal=journal)
    assert client.raw.journal_path == journal
    client.actions.deprovision_identity("user1@example.com")
    assert journal.exists()
    again = type(client.raw)(okta_simulator.url, api_token=okta_simulator.api_token, journal=str(journal))
    assert [h["operation"] for h in again.history("user1@example.com")][:2] == ["snapshot_user", "deactivate_user"]


@pytest.mark.okta_simulator(seed_users=1)
def test_from_env(client_kind: ClientKind, okta_simulator: OktaSimulator, monkeypatch: pytest.MonkeyPatch) -> None:
    cls = client_kind.cls
    monkeypatch.delenv("OKTA_ORG_URL", raising=False)
    with pytest.raises(ConfigurationError, match="OKTA_ORG_URL"):
        cls.from_env()
    monkeypatch.setenv("OKTA_ORG_URL", okta_simulator.url)
    monkeypatch.setenv("OKTA_API_TOKEN", okta_simulator.api_token)
    monkeypatch.delenv("OKTA_CLIENT_ID", raising=False)
    client = cls.from_env()
    assert isinstance(client, cls)
    assert client.org_url == okta_simulator.url
    # A loopback URL may be a real org behind a tunnel: its journal is on disk, per org.
    assert client.journal_path is not None
    assert str(client.journal_path).startswith(os.environ["XDG_STATE_HOME"])
    assert client.journal_path.name == f"127.0.0.1-{okta_simulator.url.rsplit(':', 1)[1]}.sqlite"
    assert client_kind.wrap(client).users.get("user1@example.com").login == "user1@example.com"


@pytest.mark.okta_simulator(seed_users=1)
def test_blocking_context_manager_and_close(okta_simulator: OktaSimulator) -> None:
    sim = okta_simulator
    with OktaClient(sim.url, api_token=sim.api_token) as client:
        assert client.users.get("user1@example.com").login == "user1@example.com"
    for later in (
        lambda: client.users.get("user1@example.com"),
        lambda: client.users.list(),
        lambda: client.groups.list(),
        lambda: client.groups.create("g"),
        lambda: client.actions.source_of_identity(),
        lambda: client.actions.create_entitlement("g"),
        lambda: client.plan(Policy.from_file(POLICY_FILE), []),
    ):
        with pytest.raises(RuntimeError, match="closed"):
            later()
    assert sim.requests()[-1]["method"] == "GET" and len(sim.requests()) == 1


@pytest.mark.okta_simulator(seed_users=1)
def test_async_context_manager_and_close(okta_simulator: OktaSimulator) -> None:
    sim = okta_simulator

    async def main() -> AsyncOktaClient:
        async with AsyncOktaClient(sim.url, api_token=sim.api_token) as client:
            assert isinstance(client, AsyncOktaClient)
            assert (await client.users.get("user1@example.com")).login == "user1@example.com"
        with pytest.raises(RuntimeError, match="closed"):
            await client.users.get("user1@example.com")
        with pytest.raises(RuntimeError, match="closed"):
            client.users.list()
        with pytest.raises(RuntimeError, match="closed"):
            await client.actions.create_entitlement("g")
        return client

    client = asyncio.run(main())
    client.close()  # idempotent
    assert len(sim.requests()) == 1


def test_close_then_history_raises(either_client: EitherClient) -> None:
    either_client.close()
    with pytest.raises(RuntimeError, match="closed"):
        either_client.raw.history("user1@example.com")


# --- users ----------------------------------------------------------------------------------------


def test_users_create_active_staged_password_groups(either_client: EitherClient, okta_simulator: OktaSimulator) -> None:
    c = either_client
    group = c.groups.create("engineering")
    ada = c.users.create(profile("ada@acme.com", department="Eng"), password=PASSWORD, group_ids=[group.id])
    assert isinstance(ada, User)
    assert (ada.login, ada.email, ada.status) == ("ada@acme.com", "ada@acme.com", "ACTIVE")
    assert ada.profile["department"] == "Eng"
    assert ada.password_changed is not None and ada.activated is not None
    assert okta_simulator.group_members(group.id) == [ada.id]

    staged = c.users.create(profile("bob@acme.com"), activate=False)
    assert staged.status == "STAGED" and status(okta_simulator, staged) == "STAGED"
    assert staged.activated is None and staged.password_changed is None

    no_password = c.users.create(profile("cy@acme.com"))
    assert no_password.status == "PROVISIONED"

    expired = c.users.create(profile("eve@acme.com"), password=PASSWORD, next_login="changePassword")
    assert expired.status == "PASSWORD_EXPIRED"

    federated = c.users.create(profile("fed@acme.com"), provider=True)
    assert federated.raw["credentials"]["provider"]["type"] == "FEDERATION"

    before = len(writes(okta_simulator))
    with pytest.raises(ValueError, match="changePassword"):
        c.users.create(profile("x@acme.com"), password=PASSWORD, next_login="later")
    with pytest.raises(InvalidInputError, match="needs a password"):
        c.users.create(profile("x@acme.com"), next_login="changePassword")
    with pytest.raises(ValueError, match="dict"):
        c.users.create(["not", "a", "profile"])
    assert len(writes(okta_simulator)) == before, "refused arguments send nothing"
    with pytest.raises(ValidationError) as duplicate:
        c.users.create(profile("ada@acme.com"))
    assert duplicate.value.error_code == "E0000001"
    assert okta_simulator.user("x@acme.com") is None


def test_users_get_by_id_and_login(either_client: EitherClient) -> None:
    by_login = either_client.users.get("user2@example.com")
    by_id = either_client.users.get(by_login.id)
    assert by_login == by_id
    assert by_login.id.startswith("00u") and by_login.login == "user2@example.com"
    with pytest.raises(NotFoundError):
        either_client.users.get("nobody@example.com")


def test_users_update_sets_and_clears(either_client: EitherClient, okta_simulator: OktaSimulator) -> None:
    user = either_client.users.get("user1@example.com")
    updated = either_client.users.update(user, {"department": "Ops", "title": "Lead"})
    assert (updated.profile["department"], updated.profile["title"]) == ("Ops", "Lead")
    assert updated.profile["firstName"] == user.profile["firstName"], "a partial update keeps the rest"
    assert updated.last_updated is not None and updated.last_updated >= user.last_updated
    cleared = either_client.users.update(user.id, {"title": None})
    assert cleared.profile.get("title") is None and cleared.profile["department"] == "Ops"
    held = okta_simulator.user(user.id)
    assert held is not None
    assert held["profile"].get("title") is None


def test_users_replace_with_if_match(either_client: EitherClient, okta_simulator: OktaSimulator) -> None:
    c = either_client
    user = c.users.create(profile("ada@acme.com", department="Eng", title="Dev"))
    etag = etag_of(okta_simulator, user.id)
    replaced = c.users.replace(user, profile("ada@acme.com", department="Ops"), if_match=etag)
    assert replaced.profile["department"] == "Ops"
    assert replaced.profile.get("title") is None, "a replace drops attributes not given"
    with pytest.raises(ConflictError) as stale:
        c.users.replace(user, profile("ada@acme.com", department="Sales"), if_match=etag)
    assert stale.value.status == 412
    held = okta_simulator.user(user.id)
    assert held is not None
    assert held["profile"]["department"] == "Ops"
    fresh = etag_of(okta_simulator, user.id)
    assert fresh != etag
    assert c.users.replace(user.id, profile("ada@acme.com"), if_match=fresh).profile.get("department") is None
    assert c.users.replace(user, profile("ada@acme.com", department="R&D")).profile["department"] == "R&D"


@pytest.mark.okta_simulator(seed_users=45, search_delay_seconds=0.2)
def test_users_list_partitioned_reads_every_user_once(
    either_client: EitherClient, okta_simulator: OktaSimulator
) -> None:
    c = either_client
    gone = c.users.create(profile("gone@acme.com"))
    c.users.deactivate(gone)
    okta_simulator.clear_requests()
    # Written just now, so not yet in the search index: the catch-up after settling finds it.
    read = c.users.list_partitioned(chains=3, settle=0.5, limit=5)
    assert len(read) == 46
    assert read.report["caught_up"] >= 1 and read.report["pages"] >= 11, read.report
    users = list(read)
    assert list(read) == [], "one pass"
    ids = [user.id for user in users]
    assert ids == sorted(ids) and len(set(ids)) == 46, "every user once, in id order"
    assert [user.status for user in users if user.login == "gone@acme.com"] == ["DEPROVISIONED"]
    queries = [r["query"] or "" for r in okta_simulator.requests() if r["path"] == "/api/v1/users"]
    assert sum("sortBy=created" in query for query in queries) >= 10, "45 users in pages of 5, by ranges"
    assert sum("lastUpdated" in query for query in queries) == 1

    with pytest.raises(InvalidInputError, match="chains"):
        c.users.list_partitioned(chains=0)
    with pytest.raises(InvalidInputError, match="settle"):
        c.users.list_partitioned(settle=-1.0)
    with pytest.raises(InvalidInputError, match="limit"):
        c.users.list_partitioned(limit=201)


@pytest.mark.okta_simulator(seed_users=7)
def test_users_list_search_filter_q_and_pages(either_client: EitherClient, okta_simulator: OktaSimulator) -> None:
    c = either_client
    c.users.create(profile("eng1@acme.com", department="Eng"))
    c.users.create(profile("eng2@acme.com", department="Eng"), activate=False)
    gone = c.users.create(profile("gone@acme.com"))
    c.users.deactivate(gone)

    lazy = either_client.raw.users.list(limit=2)
    assert isinstance(lazy, UserPages)
    okta_simulator.clear_requests()
    everyone = c.users.list(limit=2)
    ids = [u.id for u in everyone]
    assert len(ids) == len(set(ids)) == 9, "every user once, DEPROVISIONED ones hidden"
    assert all(isinstance(u, User) for u in everyone)
    pages = [r for r in okta_simulator.requests() if r["path"] == "/api/v1/users"]
    assert len(pages) == 5 and all("limit=2" in (r["query"] or "") for r in pages)

    eng = c.users.list(search='profile.department eq "Eng"', limit=1)
    assert sorted(u.login for u in eng) == ["eng1@acme.com", "eng2@acme.com"]
    staged = c.users.list(filter='status eq "STAGED"')
    assert [u.login for u in staged] == ["eng2@acme.com"]
    deprovisioned = c.users.list(filter='status eq "DEPROVISIONED"')
    assert [u.login for u in deprovisioned] == ["gone@acme.com"]
    assert [u.login for u in c.users.list(q="user3")] == ["user3@example.com"]
    ordered = c.users.list(search='profile.login sw "user"', sort_by="profile.login", sort_order="desc")
    assert [u.login for u in ordered] == sorted((f"user{n}@example.com" for n in range(1, 8)), reverse=True)

    with pytest.raises(InvalidInputError, match="only one"):
        c.users.list(search='status eq "ACTIVE"', q="user")
    with pytest.raises(InvalidInputError, match="limit"):
        c.users.list(limit=0)
    with pytest.raises(ValidationError):
        c.users.list(search='profile.login eq "unterminated')


def test_users_lifecycle_methods(either_client: EitherClient, okta_simulator: OktaSimulator) -> None:
    c = either_client
    user = c.users.create(profile("ada@acme.com"), password=PASSWORD)
    c.users.suspend(user)
    assert status(okta_simulator, user) == "SUSPENDED"
    c.users.unsuspend(user.id)
    assert status(okta_simulator, user) == "ACTIVE"

    expired = c.users.expire_password(user)
    assert isinstance(expired, User) and expired.status == "PASSWORD_EXPIRED"
    temporary = c.users.expire_password_with_temp_password(user, revoke_sessions=True)
    assert isinstance(temporary, Secret) and len(temporary.reveal()) >= 8
    assert temporary.reveal() not in repr(temporary) and temporary.reveal() not in str(temporary)

    link = c.users.reset_password(user, send_email=False)
    assert isinstance(link, Secret) and link.reveal().startswith(okta_simulator.url + "/")
    assert status(okta_simulator, user) == "RECOVERY"
    assert c.users.reset_password(user, revoke_sessions=True) is None, "sent by email"
    assert okta_simulator.counters()["reset_password"] == {user.id: 2}

    c.users.reset_factors(user)
    assert okta_simulator.requests()[-1]["path"] == f"/api/v1/users/{user.id}/lifecycle/reset_factors"

    c.users.deactivate(user, send_email=True)
    assert status(okta_simulator, user) == "DEPROVISIONED"
    activation = c.users.activate(user, send_email=False)
    assert isinstance(activation, Secret) and activation.reveal().startswith(okta_simulator.url + "/")
    assert status(okta_simulator, user) == "ACTIVE", "a user with a password is active again"

    staged = c.users.create(profile("bob@acme.com"), activate=False)
    assert c.users.activate(staged) is None, "sent by email"
    assert status(okta_simulator, staged) == "PROVISIONED", "no password yet"
    again = c.users.reactivate(staged)
    assert isinstance(again, Secret) and again.reveal().startswith(okta_simulator.url + "/")
    assert c.users.reactivate(staged.id, send_email=True) is None
    assert status(okta_simulator, staged) == "PROVISIONED"


def test_users_lifecycle_errors(either_client: EitherClient, okta_simulator: OktaSimulator) -> None:
    c = either_client
    active = c.users.get("user1@example.com")
    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: c.users.activate(active), "E0000016"),
        (lambda: c.users.reactivate(active), "E0000038"),
        (lambda: c.users.unlock(active), "E0000032"),
    ]
    for make_call, code in cases:
        with pytest.raises(InvalidStatusTransitionError) as refused:
            make_call()
        assert refused.value.error_code == code and refused.value.status == 403
    staged = c.users.create(profile("bob@acme.com"), activate=False)
    with pytest.raises(ValidationError, match="ACTIVE") as not_active:
        c.users.suspend(staged)
    assert not_active.value.error_code == "E0000001"
    with pytest.raises(ValidationError, match="SUSPENDED"):
        c.users.unsuspend(active)
    assert status(okta_simulator, staged) == "STAGED" and status(okta_simulator, active) == "ACTIVE"


@pytest.mark.okta_simulator(seed_users=2)
def test_methods_that_return_nothing_give_none(either_client: EitherClient, okta_simulator: OktaSimulator) -> None:
    c = either_client
    user = c.users.create(profile("ada@acme.com"), password=PASSWORD)
    group = c.groups.create("eng")
    results = {
        "suspend": c.users.suspend(user),
        "unsuspend": c.users.unsuspend(user),
        "reset_factors": c.users.reset_factors(user),
        "clear_sessions": c.users.clear_sessions(user),
        "add_member": c.groups.add_member(group, user),
        "remove_member": c.groups.remove_member(group, user),
        "deactivate": c.users.deactivate(user),
        "delete": c.users.delete(user),
        "delete group": c.groups.delete(group),
    }
    assert okta_simulator.user(user.id) is None, "every call did its work"
    assert results == dict.fromkeys(results)


def test_users_unlock_a_locked_out_user(client_kind: ClientKind, tmp_path: pathlib.Path) -> None:
    # No API call locks a user out: the org comes from a state file with a LOCKED_OUT user.
    state = tmp_path / "org.json"
    with OktaSimulator(seed_users=1, state_file=state):
        pass
    org = json.loads(state.read_text())
    org["users"][0]["status"] = "LOCKED_OUT"
    state.write_text(json.dumps(org))
    with OktaSimulator(state_file=state) as sim:
        client = client_kind.bind(sim)
        user = client.users.get("user1@example.com")
        assert user.status == "LOCKED_OUT"
        client.users.unlock(user)
        assert status(sim, user) == "ACTIVE"


def test_users_delete_permanently_and_single(either_client: EitherClient, okta_simulator: OktaSimulator) -> None:
    c = either_client
    first = c.users.get("user1@example.com")
    c.users.delete(first)
    assert okta_simulator.user(first.id) is None
    with pytest.raises(NotFoundError):
        c.users.get(first.id)

    second = c.users.get("user2@example.com")
    c.users.delete(second.id, permanently=False)
    assert status(okta_simulator, second) == "DEPROVISIONED", "one DELETE only deactivates an active user"
    c.users.delete(second, permanently=False)
    assert okta_simulator.user(second.id) is None
    c.users.delete("nobody@example.com")  # already gone: a permanent delete is done
    with pytest.raises(NotFoundError):
        c.users.delete("nobody@example.com", permanently=False)


def test_users_clear_sessions(either_client: EitherClient, okta_simulator: OktaSimulator) -> None:
    user = either_client.users.get("user1@example.com")
    assert okta_simulator.create_session(user.id) and okta_simulator.create_oauth_token(user.id)
    assert (okta_simulator.sessions(user.id), okta_simulator.oauth_tokens(user.id)) == (1, 1)
    either_client.users.clear_sessions(user, oauth_tokens=False, forget_devices=True)
    assert (okta_simulator.sessions(user.id), okta_simulator.oauth_tokens(user.id)) == (0, 1)
    assert okta_simulator.requests()[-1]["query"] == "oauthTokens=false&forgetDevices=true"
    okta_simulator.create_session(user.id)
    either_client.users.clear_sessions(user.login)
    assert (okta_simulator.sessions(user.id), okta_simulator.oauth_tokens(user.id)) == (0, 0)


def test_users_groups(either_client: EitherClient) -> None:
    c = either_client
    user = c.users.get("user1@example.com")
    eng = c.groups.create("eng")
    ops = c.groups.create("ops")
    c.groups.add_member(eng, user)
    c.groups.add_member(ops.id, user.id)
    groups = c.users.groups(user)
    assert all(isinstance(g, Group) for g in groups)
    assert sorted((g.name, g.type) for g in groups) == [
        ("Everyone", "BUILT_IN"),
        ("eng", "OKTA_GROUP"),
        ("ops", "OKTA_GROUP"),
    ]
    assert [g.name for g in c.users.groups("user2@example.com")] == ["Everyone"]


# --- groups ---------------------------------------------------------------------------------------


def test_groups_crud_find_and_list(either_client: EitherClient) -> None:
    c = either_client
    group = c.groups.create("Engineering", "Builds things")
    assert isinstance(group, Group)
    assert (group.name, group.description, group.type) == ("Engineering", "Builds things", "OKTA_GROUP")
    assert c.groups.get(group.id) == group
    assert c.groups.get(group) == group
    assert c.groups.find("engineering") == group, "find ignores case"
    assert c.groups.find("Engineer") is None, "find wants the exact name"
    with pytest.raises(ValidationError):
        c.groups.create("Engineering")

    renamed = c.groups.replace(group, "Eng")
    assert (renamed.id, renamed.name, renamed.description) == (group.id, "Eng", None)
    c.groups.replace(group.id, "Eng", "Renamed")
    assert c.groups.get(group).description == "Renamed"

    for n in range(3):
        c.groups.create(f"team-{n}")
    listed = c.groups.list(limit=2)
    assert len({g.id for g in listed}) == len(listed) == 5
    assert sorted(g.name for g in c.groups.list(q="team")) == ["team-0", "team-1", "team-2"]
    assert [g.name for g in c.groups.list(search='type eq "BUILT_IN"')] == ["Everyone"]
    assert [g.name for g in c.groups.list(filter='type eq "BUILT_IN"')] == ["Everyone"]
    counts = {g.name: g.users_count for g in c.groups.list(expand_stats=True)}
    assert counts["Everyone"] == 3 and counts["team-0"] == 0
    assert all(g.users_count is None for g in c.groups.list())
    with pytest.raises(InvalidInputError):
        c.groups.list(q="a", filter='type eq "BUILT_IN"')

    c.groups.delete(group)
    with pytest.raises(NotFoundError):
        c.groups.get(group.id)
    assert c.groups.find("Eng") is None


def test_groups_members(either_client: EitherClient, okta_simulator: OktaSimulator) -> None:
    c = either_client
    group = c.groups.create("eng")
    one = c.users.get("user1@example.com")
    two = c.users.get("user2@example.com")
    c.groups.add_member(group, one)
    c.groups.add_member(group.id, two.id)
    c.groups.add_member(group, one)  # already a member: nothing happens
    members = c.groups.members(group)
    assert sorted(u.id for u in members) == sorted([one.id, two.id])
    assert all(isinstance(u, User) for u in members)
    c.groups.remove_member(group, one)
    assert [u.id for u in c.groups.members(group.id)] == [two.id]
    assert okta_simulator.group_members(group.id) == [two.id]


def test_app_groups_are_refused(either_client: EitherClient, okta_simulator: OktaSimulator) -> None:
    c = either_client
    app_group = okta_simulator.seed_app_group("app-sales")
    user = c.users.get("user1@example.com")
    assert c.groups.get(app_group).type == "APP_GROUP"
    refusals: list[Callable[[], object]] = [
        lambda: c.groups.add_member(app_group, user),
        lambda: c.groups.remove_member(app_group, user),
        lambda: c.groups.replace(app_group, "renamed"),
    ]
    for refused in refusals:
        with pytest.raises(PermissionDeniedError) as denied:
            refused()
        assert denied.value.error_code == "E0000006" and "APP_GROUP" in " ".join(denied.value.causes)
    assert okta_simulator.group_members(app_group) == []


# --- actions --------------------------------------------------------------------------------------


def test_sync_identities_creates_then_updates_only_changes(
    either_client: EitherClient, okta_simulator: OktaSimulator
) -> None:
    actions = either_client.actions
    created = actions.sync_identities(profile("ada@acme.com", department="Eng", title="Dev"))
    assert isinstance(created, Report) and created.is_success
    assert [o["operation"] for o in created.outcomes] == ["create_user"]
    user = either_client.users.get("ada@acme.com")
    assert (user.profile["department"], user.profile["title"]) == ("Eng", "Dev")
    either_client.users.update(user, {"costCenter": "CC-1"})

    okta_simulator.clear_requests()
    unchanged = actions.sync_identities(profile("ada@acme.com", department="Eng"))
    assert unchanged.outcomes == [] and unchanged.is_success
    assert writes(okta_simulator) == []

    moved = actions.sync_identities({"login": "ada@acme.com", "department": "Ops"})
    assert [o["operation"] for o in moved.outcomes] == ["update_user"]
    assert moved.counts == {"succeeded": 1}
    after = either_client.users.get(user.id)
    assert after.profile["department"] == "Ops"
    assert (after.profile["title"], after.profile["costCenter"], after.profile["firstName"]) == ("Dev", "CC-1", "Test")
    assert [(w["method"], w["path"]) for w in writes(okta_simulator)] == [("POST", f"/api/v1/users/{user.id}")]

    staged = actions.sync_identities(profile("bob@acme.com"), activate=False)
    held = okta_simulator.user("bob@acme.com")
    assert held is not None
    assert staged.is_success and held["status"] == "STAGED"
    with pytest.raises(InvalidInputError, match="does not create"):
        actions.sync_identities(profile("cy@acme.com"), create=False)
    with pytest.raises(InvalidInputError, match="login"):
        actions.sync_identities({"email": "x@acme.com"})
    assert okta_simulator.user("cy@acme.com") is None


def test_manage_relationships_add_remove_sync(either_client: EitherClient) -> None:
    c = either_client
    for name in ("dept-eng", "dept-ops", "all-staff"):
        c.groups.create(name)

    def names() -> list[str]:
        return sorted(g.name for g in c.users.groups("user1@example.com"))

    added = c.actions.manage_relationships("user1@example.com", ["dept-eng", "all-staff"])
    assert added.is_success and [o["operation"] for o in added.outcomes] == ["add_member", "add_member"]
    assert names() == ["Everyone", "all-staff", "dept-eng"]
    user = c.users.get("user1@example.com")
    synced = c.actions.manage_relationships(user, ["dept-ops"], mode="sync", exclusive_prefix="dept-")
    assert sorted(o["operation"] for o in synced.outcomes) == ["add_member", "remove_member"]
    assert names() == ["Everyone", "all-staff", "dept-ops"], "only dept-* groups are synced"
    again = c.actions.manage_relationships(user.id, ["dept-ops"], mode="sync", exclusive_prefix="dept-")
    assert again.outcomes == []
    c.actions.manage_relationships(user, ["all-staff"], mode="remove")
    assert names() == ["Everyone", "dept-ops"]
    with pytest.raises(InvalidInputError, match="does not exist"):
        c.actions.manage_relationships(user, ["no-such-group"])
    with pytest.raises(InvalidInputError, match="mode"):
        c.actions.manage_relationships(user, ["all-staff"], mode="bogus")


def test_deprovision_identity_history_and_snapshots(either_client: EitherClient, okta_simulator: OktaSimulator) -> None:
    c = either_client
    user = c.users.create(profile("ada@acme.com", department="Eng"), password=PASSWORD)
    group = c.groups.create("eng")
    c.groups.add_member(group, user)
    okta_simulator.create_session(user.id)

    report = c.actions.deprovision_identity(user)
    assert report.is_success
    assert [o["operation"] for o in report.outcomes] == [
        "snapshot_user",
        "deactivate_user",
        "clear_sessions",
        "remove_member",
    ]
    assert status(okta_simulator, user) == "DEPROVISIONED"
    assert okta_simulator.sessions(user.id) == 0 and okta_simulator.group_members(group.id) == []

    history = c.history("ada@acme.com")
    assert [h["operation"] for h in history] == [o["operation"] for o in report.outcomes]
    assert all(h["run_id"] == report.run_id and h["user_id"] == user.id for h in history)
    assert c.history(user.id) == history, "history by id or login"
    snapshots = c.snapshots("ada@acme.com")
    assert len(snapshots) == 1
    assert snapshots[0]["status"] == "ACTIVE" and snapshots[0]["profile"]["department"] == "Eng"
    assert [tuple(g) for g in snapshots[0]["groups"] if g[1] == "eng"] == [(group.id, "eng")]
    assert c.history("nobody@acme.com") == [] and c.snapshots("nobody@acme.com") == []

    other = c.users.get("user1@example.com")
    c.groups.add_member(group, other)
    okta_simulator.create_session(other.id)
    c.actions.deprovision_identity(other.login, mode="suspend", remove_groups=False, logout=False)
    assert status(okta_simulator, other) == "SUSPENDED"
    assert okta_simulator.group_members(group.id) == [other.id] and okta_simulator.sessions(other.id) == 1
    with pytest.raises(InvalidInputError, match="mode"):
        c.actions.deprovision_identity(other, mode="bogus")
    with pytest.raises(NotFoundError):
        c.actions.deprovision_identity("nobody@acme.com")


def test_reactivate_identity_restores_groups(either_client: EitherClient, okta_simulator: OktaSimulator) -> None:
    c = either_client
    user = c.users.create(profile("ada@acme.com"), password=PASSWORD)
    group = c.groups.create("eng")
    c.groups.add_member(group, user)
    c.actions.deprovision_identity(user)
    assert okta_simulator.group_members(group.id) == []

    report = c.actions.reactivate_identity(user)
    assert report.is_success
    assert [o["operation"] for o in report.outcomes] == ["activate_user", "add_member"]
    assert status(okta_simulator, user) == "ACTIVE"
    assert okta_simulator.group_members(group.id) == [user.id]

    c.actions.deprovision_identity(user)
    c.actions.reactivate_identity(user.login, restore_groups=False)
    assert status(okta_simulator, user) == "ACTIVE" and okta_simulator.group_members(group.id) == []


def test_create_entitlement_is_idempotent(either_client: EitherClient) -> None:
    first = either_client.actions.create_entitlement("all-staff", "Everyone employed")
    assert [o["operation"] for o in first.outcomes] == ["create_group"] and first.is_success
    second = either_client.actions.create_entitlement("all-staff", "Everyone employed")
    assert second.outcomes == [] and second.is_success
    group = either_client.groups.find("all-staff")
    assert group is not None and group.description == "Everyone employed"
    assert [g.name for g in either_client.groups.list(q="all-staff")] == ["all-staff"]


def test_reset_password_action_returns_secret_links(either_client: EitherClient, okta_simulator: OktaSimulator) -> None:
    actions = either_client.actions
    report = actions.reset_password("user1@example.com", send_email=False)
    assert report.is_success and list(report.reset_links) == ["user1@example.com"]
    link = report.reset_links["user1@example.com"]
    assert isinstance(link, Secret)
    assert repr(link) == "Secret('********')" and str(link) == "********" and f"{link}" == "********"
    url = link.reveal()
    assert url.startswith(okta_simulator.url + "/reset_password/")
    for text in (repr(report), str(report), report.render(), report._repr_html_(), repr(report.reset_links)):
        assert url not in text
    again = actions.reset_password("user1@example.com", send_email=False, revoke_sessions=True)
    assert again.reset_links["user1@example.com"].reveal() != url, "a new reset event each call"
    emailed = actions.reset_password("user2@example.com")
    assert emailed.is_success and emailed.reset_links == {}
    assert sorted(okta_simulator.counters()["reset_password"].values()) == [1, 2]


def test_source_of_identity_full_and_incremental(either_client: EitherClient) -> None:
    c = either_client
    c.users.update("user1@example.com", {"department": "Eng"})
    c.actions.deprovision_identity("user3@example.com")

    full = c.actions.source_of_identity(mover_attributes=["department"])
    assert all(isinstance(e, IdentityEvent) for e in full)
    events = {e.user.login: e.event for e in full}
    assert events == {"user1@example.com": "joiner", "user2@example.com": "joiner", "user3@example.com": "leaver"}
    first = next(e for e in full if e.user.login == "user1@example.com")
    assert first.record["id"] == first.user.id and first.record["status"] == "ACTIVE"
    assert first.record["department"] == "Eng" and first.moved == []
    assert repr(first) == 'IdentityEvent(event="joiner", login="user1@example.com")'

    mark = datetime.datetime.now(datetime.timezone.utc)
    time.sleep(0.02)
    c.users.update("user1@example.com", {"department": "Sales"})
    c.users.update("user2@example.com", {"title": "Boss"})
    changed = c.actions.source_of_identity(since=mark, mover_attributes=["department"])
    assert {e.user.login: e.event for e in changed} == {"user1@example.com": "mover", "user2@example.com": "updated"}
    mover = next(e for e in changed if e.event == "mover")
    assert mover.moved == [{"attribute": "department", "before": "Eng", "after": "Sales"}]
    assert c.actions.source_of_identity(since=datetime.datetime.now(datetime.timezone.utc)) == []
    with pytest.raises(TypeError, match="tzinfo"):
        c.actions.source_of_identity(since=datetime.datetime(2020, 1, 1))


# --- policies and plans ---------------------------------------------------------------------------

MINI_POLICY: dict[str, Any] = {
    "name": "mini",
    "source": {"format": "jsonl", "key": "login"},
    "attributes": {"login": "{login}", "email": "{login}", "firstName": "{first}", "lastName": "{last}"},
    "workflow": [{"name": "join", "actions": [{"action": "sync_identities"}]}],
}


def test_policy_constructors() -> None:
    from_file = Policy.from_file(POLICY_FILE)
    assert (from_file.name, from_file.workflows) == ("acme-workforce", ["it-support", "joiner-mover", "leaver"])
    assert Policy.from_file(str(POLICY_FILE)).workflows == from_file.workflows
    assert Policy.from_toml(POLICY_FILE.read_text()).name == "acme-workforce"
    mini = Policy.from_dict(MINI_POLICY)
    assert (mini.name, mini.workflows) == ("mini", ["join"])
    assert repr(mini) == 'Policy(name="mini", workflows=["join"])'
    with pytest.raises(InvalidInputError, match="source"):
        Policy.from_dict({"name": "x"})
    with pytest.raises(InvalidInputError, match="name"):
        Policy.from_toml("name = 1")
    with pytest.raises(InvalidInputError, match="cannot read"):
        Policy.from_file("/nonexistent/policy.toml")


def test_plan_incremental_reads_the_whole_org_once_then_what_changed(
    either_client: EitherClient, okta_simulator: OktaSimulator
) -> None:
    policy = Policy.from_file(POLICY_FILE)
    assert either_client.plan(policy, str(DAY1)).read is None, "only an incremental plan says how it read"
    first = either_client.plan(policy, str(DAY1), incremental=True)
    assert first.read is not None and first.read["mode"] == "full"
    assert "no earlier read" in first.read["reason"]
    report = either_client.apply(first)
    assert report.counts["succeeded"] == len(first.changes)
    okta_simulator.clear_requests()
    second = either_client.plan(policy, str(DAY1), incremental=True)
    assert second.read is not None and second.read["mode"] == "incremental", second.read
    assert "reason" not in second.read and second.read["changed_since"].endswith("Z")
    assert second.read["users_read"] >= 46, "the joiners the apply created"
    assert second.is_empty, second.render()
    requests = okta_simulator.requests()
    listings = [r for r in requests if r["path"] == "/api/v1/users" and "lastUpdated" in (r["query"] or "")]
    assert len(listings) == 1, "one search for the users changed since the first read"


def test_plan_from_csv_path_and_from_dicts(either_client: EitherClient, okta_simulator: OktaSimulator) -> None:
    policy = Policy.from_file(POLICY_FILE)
    okta_simulator.clear_requests()
    plan = either_client.plan(policy, str(DAY1))
    assert isinstance(plan, Plan)
    assert writes(okta_simulator) == [], "planning writes nothing"
    assert plan.policy == "acme-workforce" and not plan.blocked and not plan.is_empty
    assert len(plan) == len(plan.changes) > 0
    assert plan.summary["joiners"] == 46 and plan.summary["records"] == 48
    assert [i["identity"] for i in plan.issues] == ["E1012", "E1031"]
    assert plan.events["E1000"] == "joiner"
    assert plan.changes[0]["seq"] == 1
    assert plan.run_id in plan.render() and str(plan) == plan.render()
    html = plan._repr_html_()
    assert html.count("<tr>") == len(plan) + 1 and "issue, row 32" in html
    assert repr(plan) == f'Plan(run_id="{plan.run_id}", changes={len(plan)}, issues=2, blocked=false)'

    saved = plan.to_json()
    loaded = Plan.from_json(saved)
    assert loaded.run_id == plan.run_id and len(loaded) == len(plan) and loaded.to_json() == saved
    assert json.loads(saved)["run_id"] == plan.run_id
    with pytest.raises(ValueError, match="saved plan"):
        Plan.from_json("{}")

    with DAY1.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    from_dicts = either_client.plan(policy, rows)
    assert from_dicts.summary == plan.summary and len(from_dicts) == len(plan)
    assert len(either_client.plan(policy, DAY1)) == len(plan), "a pathlib.Path works too"
    with pytest.raises(ValueError, match="csv"):
        either_client.plan(policy, "records.txt")
    with pytest.raises(ValueError, match="not a dict"):
        either_client.plan(policy, [1])


@pytest.mark.okta_simulator()
def test_apply_plan_and_blocked_plans(either_client: EitherClient, okta_simulator: OktaSimulator) -> None:
    policy = Policy.from_file(POLICY_FILE)
    plan = either_client.plan(policy, DAY1)
    report = either_client.apply(Plan.from_json(plan.to_json()), concurrency=4)
    assert isinstance(report, Report) and report.is_success
    assert report.run_id == plan.run_id and report.counts == {"succeeded": len(plan)}
    assert len(report.outcomes) == len(plan) and report.run_id in report.render()
    assert either_client.run_progress(plan.run_id) == {"succeeded": len(plan)}
    assert either_client.run_progress("no-such-run") == {}
    held = okta_simulator.user("ada.lovelace@acme.example")
    assert held is not None
    assert held["profile"]["department"] == "Engineering"
    assert either_client.plan(policy, DAY1).is_empty, "applied: nothing left to do"

    with DAY1.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows[:10]:
        row["status"] = "Terminated"
    blocked = either_client.plan(policy, rows)
    assert blocked.blocked == ["10 deprovisions planned; the policy allows at most 5 per run"]
    assert "blocked" in blocked._repr_html_()
    okta_simulator.clear_requests()
    with pytest.raises(PlanBlockedError) as refused:
        either_client.apply(blocked)
    assert refused.value.reasons == blocked.blocked
    assert writes(okta_simulator) == []
    held = okta_simulator.user("ada.lovelace@acme.example")
    assert held is not None
    assert held["status"] == "PROVISIONED"
    overridden = either_client.apply(blocked, override_safety=True)
    assert overridden.is_success
    held = okta_simulator.user("ada.lovelace@acme.example")
    assert held is not None
    assert held["status"] == "DEPROVISIONED"


def test_plan_and_apply_with_a_dict_policy(either_client: EitherClient) -> None:
    policy = Policy.from_dict(MINI_POLICY)
    plan = either_client.plan(policy, [{"login": "m@acme.com", "first": "M", "last": "N"}])
    assert [c["operation"] for c in plan.changes] == ["create_user"]
    assert either_client.apply(plan).is_success
    assert either_client.users.get("m@acme.com").profile["firstName"] == "M"


# --- models ---------------------------------------------------------------------------------------


@pytest.mark.okta_simulator(custom_attributes=["costCenter"])
def test_user_attributes_equality_and_reprs(either_client: EitherClient) -> None:
    before = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=5)
    user = either_client.users.create(
        profile("ada@acme.com", costCenter="CC-42", department="<b>R&D</b>"), password=PASSWORD
    )
    assert user.id.startswith("00u") and user.email == "ada@acme.com" and user.transitioning_to_status is None
    assert user.profile["costCenter"] == "CC-42"
    user.profile["costCenter"] = "changed"
    assert user.profile["costCenter"] == "CC-42", "profile is a copy"
    for moment in (user.created, user.activated, user.status_changed, user.last_updated, user.password_changed):
        assert isinstance(moment, datetime.datetime)
        assert moment.utcoffset() == datetime.timedelta(0)
        assert before <= moment <= datetime.datetime.now(datetime.timezone.utc)
    assert user.last_login is None
    assert user.raw["id"] == user.id and user.raw["profile"] == user.profile
    assert user.raw["created"].endswith("Z")

    same = either_client.users.get(user.id)
    assert same == user and not (same != user)
    assert user != either_client.users.create(profile("bob@acme.com"))
    changed = either_client.users.update(user, {"title": "Dev"})
    assert changed != user and user != "ada@acme.com"
    with pytest.raises(TypeError):
        hash(user)

    assert repr(user) == f'User(id="{user.id}", login="ada@acme.com", status="ACTIVE")'
    for text in (repr(user), str(user), user._repr_html_(), repr(user.raw)):
        assert PASSWORD not in text
    html = user._repr_html_()
    assert "&lt;b&gt;R&amp;D&lt;/b&gt;" in html and "<b>" not in html and user.id in html


def test_group_attributes_and_reprs(either_client: EitherClient) -> None:
    group = either_client.groups.create("Sales <EMEA>", 'Says "hi" & more')
    assert group.type == "OKTA_GROUP" and not hasattr(group, "type_"), "Okta's name for the field"
    assert group.profile == {"name": "Sales <EMEA>", "description": 'Says "hi" & more'}
    assert group.raw["id"] == group.id and group.raw["type"] == "OKTA_GROUP"
    for moment in (group.created, group.last_updated, group.last_membership_updated):
        assert isinstance(moment, datetime.datetime) and moment.utcoffset() == datetime.timedelta(0)
    assert repr(group) == f'Group(id="{group.id}", name="Sales <EMEA>", type="OKTA_GROUP")'
    html = group._repr_html_()
    assert "Sales &lt;EMEA&gt;" in html and "Says &quot;hi&quot; &amp; more" in html
    assert group == either_client.groups.get(group) and group != group.id
    with pytest.raises(TypeError):
        hash(group)


def test_secret_is_never_printable(either_client: EitherClient) -> None:
    secret = either_client.users.expire_password_with_temp_password("user1@example.com")
    text = secret.reveal()
    for shown in (
        repr(secret),
        str(secret),
        f"{secret!r} {secret}",
        format(secret),
        repr([secret]),
        repr({"k": secret}),
    ):
        assert text not in shown and "********" in shown
    assert secret == secret and secret != text
    with pytest.raises(TypeError):
        hash(secret)
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(secret)


@pytest.mark.okta_simulator(seed_users=1)
def test_get_with_etag_guards_a_replace(okta_client: OktaClient) -> None:
    client = okta_client
    user, etag = client.users.get_with_etag("user1@example.com")
    assert etag is not None and etag.startswith('W/"')
    profile = {**user.profile, "title": "Engineer"}
    client.users.update(user, {"department": "Eng"})
    with pytest.raises(ConflictError):
        client.users.replace(user, profile, if_match=etag)
    _, fresh = client.users.get_with_etag(user.id)
    assert client.users.replace(user, profile, if_match=fresh).profile["title"] == "Engineer"
