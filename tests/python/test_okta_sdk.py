"""Okta's official Python SDK (PyPI ``okta``, pinned in requirements-test.txt), unmodified, drives
the simulator through a user/group lifecycle: what the SDK parses and what reached the org."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from okta.client import Client
from okta.errors.okta_api_error import OktaAPIError
from okta.models import AddGroupRequest, CreateUserRequest, UpdateUserRequest
from okta.pagination import paginate_all, paginate_pages

from okta_lifecycle.testing import OktaSimulator

SEEDED = 25
PAGE = 10


@pytest.fixture
def sdk_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # The SDK refuses a plain-http org URL unless its testing switch is set (read from the env).
    monkeypatch.setenv("OKTA_TESTING_TESTINGDISABLEHTTPSCHECK", "true")


def person(name: str) -> dict[str, Any]:
    return {"firstName": name.title(), "lastName": "Sdk", "email": f"{name}@acme.com", "login": f"{name}@acme.com"}


def calls(sim: OktaSimulator) -> list[tuple[str, str, str | None, int]]:
    """The request log as (method, path, query, status), then cleared."""
    log = [(r["method"], r["path"], r["query"], r["status"]) for r in sim.requests()]
    sim.clear_requests()
    return log


async def lifecycle(sim: OktaSimulator) -> None:
    async with Client({"orgUrl": sim.url, "token": sim.api_token}) as client:
        # --- create: activate=false -> STAGED; activate=true with a password -> ACTIVE.
        staged, _, error = await client.create_user(
            CreateUserRequest.from_dict({"profile": person("ann")}), activate=False
        )
        assert error is None, error
        assert staged.status.value == "STAGED"
        assert staged.id.startswith("00u")
        assert (staged.profile.first_name, staged.profile.last_name, staged.profile.login) == (
            "Ann",
            "Sdk",
            "ann@acme.com",
        )
        assert staged.activated is None
        body = {"profile": person("bob"), "credentials": {"password": {"value": "Tr0ub4dor&3-horse"}}}
        active, _, error = await client.create_user(CreateUserRequest.from_dict(body), activate=True)
        assert error is None, error
        assert active.status.value == "ACTIVE"
        assert active.activated is not None
        assert active.id != staged.id
        # activate defaults to true; without a password the user waits in PROVISIONED.
        provisioned, _, error = await client.create_user(CreateUserRequest.from_dict({"profile": person("cat")}))
        assert error is None, error
        assert provisioned.status.value == "PROVISIONED"
        assert calls(sim) == [
            ("POST", "/api/v1/users", "activate=false", 200),
            ("POST", "/api/v1/users", "activate=true", 200),
            ("POST", "/api/v1/users", None, 200),
        ]
        held = sim.user(active.id)
        assert held is not None
        assert held["status"] == "ACTIVE"
        held = sim.user("ann@acme.com")
        assert held is not None
        assert held["status"] == "STAGED"

        # --- get by login (the SDK puts the login into the path as it is).
        fetched, response, error = await client.get_user("bob@acme.com")
        assert error is None, error
        assert fetched.id == active.id
        assert fetched.profile.email == "bob@acme.com"
        assert response.status_code == 200
        assert calls(sim) == [("GET", "/api/v1/users/bob@acme.com", None, 200)]

        # --- partial profile update (POST): new attribute set, the others kept.
        update = UpdateUserRequest.from_dict({"profile": {"title": "Engineer", "firstName": "Robert"}})
        updated, _, error = await client.update_user(active.id, update)
        assert error is None, error
        assert (updated.profile.title, updated.profile.first_name) == ("Engineer", "Robert")
        assert (updated.profile.last_name, updated.profile.login) == ("Sdk", "bob@acme.com")
        assert updated.last_updated >= active.last_updated
        held = sim.user(active.id)
        assert held is not None
        assert held["profile"]["title"] == "Engineer"
        assert calls(sim) == [("POST", f"/api/v1/users/{active.id}", None, 200)]

        # --- list with the SDK's own pagination: every user exactly once, over several pages.
        expected = {f"user{n}@example.com" for n in range(1, SEEDED + 1)} | {
            "ann@acme.com",
            "bob@acme.com",
            "cat@acme.com",
        }
        logins = [user.profile.login async for user in paginate_all(client.list_users, limit=PAGE)]
        assert len(logins) == len(set(logins)), "a user was listed twice"
        assert set(logins) == expected
        log = calls(sim)
        pages = -(-len(expected) // PAGE)
        assert len(log) == pages
        assert all(method == "GET" and path == "/api/v1/users" and status == 200 for method, path, _, status in log)
        assert log[0][2] == f"limit={PAGE}"
        assert all(query is not None and "after=" in query and f"limit={PAGE}" in query for _, _, query, _ in log[1:])
        sizes = [(len(page), more) async for page, _, more in paginate_pages(client.list_users, limit=PAGE)]
        assert sizes == [(PAGE, True)] * (pages - 1) + [(len(expected) - PAGE * (pages - 1), False)]
        calls(sim)

        # --- groups: create, add a member, list members and the user's groups, remove.
        group, _, error = await client.add_group(
            AddGroupRequest.from_dict({"profile": {"name": "Engineering", "description": "Builders"}})
        )
        assert error is None, error
        assert group.id.startswith("00g")
        assert group.type.value == "OKTA_GROUP"
        assert (group.profile.actual_instance.name, group.profile.actual_instance.description) == (
            "Engineering",
            "Builders",
        )
        _, response, error = await client.assign_user_to_group(group.id, active.id)
        assert error is None, error
        assert response.status_code == 204
        assert sim.group_members(group.id) == [active.id]
        members, _, error = await client.list_group_users(group.id)
        assert error is None, error
        assert [member.id for member in members] == [active.id]
        user_groups, _, error = await client.list_user_groups(active.id)
        assert error is None, error
        assert {(g.type.value, g.id) for g in user_groups} >= {("OKTA_GROUP", group.id)}
        assert "BUILT_IN" in {g.type.value for g in user_groups}, "Everyone is listed too"
        _, response, error = await client.unassign_user_from_group(group.id, active.id)
        assert error is None, error
        assert response.status_code == 204
        members, _, error = await client.list_group_users(group.id)
        assert error is None, error
        assert members == []
        assert sim.group_members(group.id) == []
        assert calls(sim) == [
            ("POST", "/api/v1/groups", None, 200),
            ("PUT", f"/api/v1/groups/{group.id}/users/{active.id}", None, 204),
            ("GET", f"/api/v1/groups/{group.id}/users", None, 200),
            ("GET", f"/api/v1/users/{active.id}/groups", None, 200),
            ("DELETE", f"/api/v1/groups/{group.id}/users/{active.id}", None, 204),
            ("GET", f"/api/v1/groups/{group.id}/users", None, 200),
        ]

        # --- suspend / unsuspend / deactivate (the SDK types these answers as `Success`).
        for operation, status in (
            (client.suspend_user, "SUSPENDED"),
            (client.unsuspend_user, "ACTIVE"),
            (client.deactivate_user, "DEPROVISIONED"),
        ):
            result = await operation(active.id)
            assert result[-1] is None, result
            assert result[-2].status_code == 200
            user, _, error = await client.get_user(active.id)
            assert error is None, error
            assert user.status.value == status
            held = sim.user(active.id)
            assert held is not None
            assert held["status"] == status
        assert [(method, path, status) for method, path, _, status in calls(sim)] == [
            ("POST", f"/api/v1/users/{active.id}/lifecycle/suspend", 200),
            ("GET", f"/api/v1/users/{active.id}", 200),
            ("POST", f"/api/v1/users/{active.id}/lifecycle/unsuspend", 200),
            ("GET", f"/api/v1/users/{active.id}", 200),
            ("POST", f"/api/v1/users/{active.id}/lifecycle/deactivate", 200),
            ("GET", f"/api/v1/users/{active.id}", 200),
        ]

        # --- illegal transition: suspending a STAGED user is Okta's 400 E0000001.
        result = await client.suspend_user(staged.id)
        error = result[-1]
        assert isinstance(error, OktaAPIError)
        assert (error.status, error.error_code) == (400, "E0000001")
        calls(sim)

        # --- delete: a STAGED user takes two DELETEs (deactivate, then delete).
        _, response, error = await client.delete_user(staged.id)
        assert error is None, error
        assert response.status_code == 204
        held = sim.user(staged.id)
        assert held is not None
        assert held["status"] == "DEPROVISIONED"
        _, response, error = await client.delete_user(staged.id)
        assert error is None, error
        assert response.status_code == 204
        assert sim.user(staged.id) is None
        _, response, error = await client.delete_user(active.id)
        assert error is None, error
        assert sim.user(active.id) is None
        assert calls(sim) == [
            ("DELETE", f"/api/v1/users/{staged.id}", None, 204),
            ("DELETE", f"/api/v1/users/{staged.id}", None, 204),
            ("DELETE", f"/api/v1/users/{active.id}", None, 204),
        ]

        # --- get after delete: the SDK's 404 error.
        user, response, error = await client.get_user(staged.id)
        assert user is None
        assert isinstance(error, OktaAPIError)
        assert (error.status, error.error_code) == (404, "E0000007")
        assert staged.id in error.error_summary
        assert calls(sim) == [("GET", f"/api/v1/users/{staged.id}", None, 404)]

        # --- the group goes too.
        _, response, error = await client.delete_group(group.id)
        assert error is None, error
        assert response.status_code == 204
        _, _, error = await client.get_group(group.id)
        assert isinstance(error, OktaAPIError)
        assert error.status == 404


@pytest.mark.okta_simulator(seed_users=SEEDED)
def test_sdk_drives_a_user_lifecycle(sdk_env: None, okta_simulator: OktaSimulator) -> None:
    asyncio.run(lifecycle(okta_simulator))


async def schema_and_roles(sim: OktaSimulator) -> None:
    from okta.models import AssignRoleToUserRequest, UserSchema

    async with Client({"orgUrl": sim.url, "token": sim.api_token}) as client:
        # --- a custom typed attribute, through the SDK's own schema model.
        update = UserSchema.from_dict(
            {
                "definitions": {
                    "custom": {
                        "id": "#custom",
                        "type": "object",
                        "properties": {
                            "badgeNumber": {"title": "Badge number", "type": "integer", "permissions": []},
                        },
                    }
                }
            }
        )
        schema, _, error = await client.update_user_profile("default", update)
        assert error is None, error
        assert schema.definitions.custom.properties["badgeNumber"].type.value == "integer"
        fetched, _, error = await client.get_user_schema("default")
        assert error is None, error
        assert "badgeNumber" in fetched.definitions.custom.properties
        assert fetched.definitions.base.properties.login is not None

        # --- a user that carries it: the simulator keeps the integer as an integer.
        profile = {**person("dan"), "badgeNumber": 4217}
        user, _, error = await client.create_user(CreateUserRequest.from_dict({"profile": profile}), activate=False)
        assert error is None, error
        held = sim.user(user.id)
        assert held is not None
        assert held["profile"]["badgeNumber"] == 4217
        wrong = {**person("eve"), "badgeNumber": "not a number"}
        _, _, error = await client.create_user(CreateUserRequest.from_dict({"profile": wrong}), activate=False)
        assert isinstance(error, OktaAPIError) and error.error_code == "E0000001", error

        # --- an admin role: assigned, listed, unassigned.
        request = AssignRoleToUserRequest.from_dict({"type": "HELP_DESK_ADMIN"})
        assigned, response, error = await client.assign_role_to_user(user.id, request)
        assert error is None, error
        assert response.status_code == 201
        role_id = assigned.actual_instance.id
        listed, _, error = await client.list_assigned_roles_for_user(user.id)
        assert error is None, error
        assert [role.actual_instance.type.value for role in listed] == ["HELP_DESK_ADMIN"]
        _, _, error = await client.unassign_role_from_user(user.id, role_id)
        assert error is None, error
        listed, _, error = await client.list_assigned_roles_for_user(user.id)
        assert error is None and listed == [], (listed, error)


@pytest.mark.usefixtures("sdk_env")
def test_the_sdk_defines_a_custom_attribute_creates_a_user_with_it_and_assigns_a_role() -> None:
    with OktaSimulator() as sim:
        asyncio.run(schema_and_roles(sim))
