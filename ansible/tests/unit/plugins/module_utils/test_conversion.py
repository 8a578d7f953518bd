# -*- coding: utf-8 -*-
# Copyright: okta-lifecycle contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

"""okta_lifecycle's users, groups, plans and reports as the modules' return values, made by a
real client on the simulator."""

from __future__ import annotations

from typing import Any

import okta_lifecycle
from okta_lifecycle import OktaClient

from ansible_collections.okta_lifecycle.okta.plugins.module_utils.conversion import (
    changed,
    failed_outcomes,
    group_to_dict,
    plan_result,
    report_result,
    timestamp,
    user_state,
    user_to_dict,
)

ADA = {"login": "ada@acme.example", "email": "ada@acme.example", "firstName": "Ada", "lastName": "Lovelace"}


def policy(actions: list[dict[str, Any]]) -> okta_lifecycle.Policy:
    return okta_lifecycle.Policy.from_dict(
        {
            "name": "unit",
            "source": {"format": "jsonl", "key": "login", "match_on": "login"},
            "attributes": dict((name, "{%s}" % name) for name in ADA),
            "workflow": [{"name": "present", "actions": actions}],
        }
    )


def test_a_user_and_its_groups(client: OktaClient) -> None:
    group = client.groups.create("dept-engineering", "Engineering")
    user = client.users.create(dict(ADA, department="Engineering"), group_ids=[group.id])
    result = user_to_dict(user, ["dept-engineering"])
    assert result["id"] == user.id and result["login"] == "ada@acme.example"
    assert result["status"] == user.status
    assert result["profile"]["department"] == "Engineering"
    assert result["created"] == user.created.isoformat()
    assert result["groups"] == ["dept-engineering"]
    assert "groups" not in user_to_dict(user)
    assert not any("password" in key and value for key, value in result.items() if key != "password_changed")
    assert result["last_login"] is None and timestamp(None) is None

    described = group_to_dict(client.groups.get(group.id), ["ada@acme.example"])
    assert described["name"] == "dept-engineering" and described["description"] == "Engineering"
    assert described["type"] == "OKTA_GROUP" and described["members"] == ["ada@acme.example"]
    assert described["created"] == group.created.isoformat()


def test_a_users_state_for_a_diff(client: OktaClient) -> None:
    assert user_state(None, ["department"], []) == {"exists": False}
    user = client.users.create(dict(ADA, department="Engineering", title="Engineer"))
    assert user_state(user, ["department", "costCenter"], ["all-staff"]) == {
        "exists": True,
        "login": "ada@acme.example",
        "status": user.status,
        "profile": {"department": "Engineering", "costCenter": None},
        "groups": ["all-staff"],
    }


def test_a_plan_and_its_report(client: OktaClient) -> None:
    plan = client.plan(policy([{"action": "sync_identities", "create": True, "activate": True}]), [ADA])
    planned = plan_result(plan)
    assert sorted(planned) == ["blocked", "changes", "issues", "run_id", "summary"]
    assert planned["run_id"] == plan.run_id and planned["blocked"] == [] and planned["issues"] == []
    assert [change["operation"] for change in planned["changes"]][:1] == ["create_user"]

    report = client.apply(plan)
    result = report_result(report)
    assert result["run_id"] == plan.run_id
    assert result["counts"] == {"succeeded": len(report.outcomes)}
    assert "reset_links" not in result and "activation_links" not in result and "journal_error" not in result
    assert failed_outcomes(report.outcomes) == []
    assert changed(report.outcomes) is True


def test_the_links_a_report_returns_are_revealed(client: OktaClient) -> None:
    client.users.create(ADA)
    plan = client.plan(policy([{"action": "reset_password", "send_email": False}]), [ADA])
    result = report_result(client.apply(plan))
    assert list(result["reset_links"]) == ["ada@acme.example"]
    assert isinstance(result["reset_links"]["ada@acme.example"], str)
    assert "/reset_password/" in result["reset_links"]["ada@acme.example"]


def test_what_counts_as_changed_and_as_failed() -> None:
    done = {"status": "succeeded", "operation": "create_user"}
    already = {"status": "succeeded", "operation": "create_user", "already_done": True}
    journal = {"status": "succeeded", "operation": "add_member", "journal_error": "disk full"}
    failed = {"status": "failed", "operation": "add_member"}
    unknown = {"status": "unknown", "operation": "add_member"}
    assert changed([already]) is False and changed([already, done]) is True and changed([]) is False
    assert failed_outcomes([done, already, journal, failed, unknown]) == [journal, failed, unknown]
