# -*- coding: utf-8 -*-
# Copyright: okta-lifecycle contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

"""okta_lifecycle's exceptions as the messages and result keys a task fails with."""

from __future__ import annotations

import datetime

import pytest
from okta_lifecycle import OktaClient, errors

from ansible_collections.okta_lifecycle.okta.plugins.module_utils.errors import (
    blocked_message,
    error_fields,
    is_not_found,
    issues_message,
    outcomes_message,
)


def test_an_okta_answer_keeps_its_code_status_and_request_id(client: OktaClient) -> None:
    with pytest.raises(errors.AuthenticationError) as raised:
        wrong = type(client)(client.org_url, api_token="00wrong-token", journal=":memory:")
        try:
            wrong.users.get("nobody@acme.example")
        finally:
            wrong.close()
    message, fields = error_fields(raised.value)
    assert "E0000011" in message and not message.startswith("unexpected error")
    assert fields["error_type"] == "AuthenticationError"
    assert fields["status"] == 401
    assert fields["error_code"] == "E0000011"
    assert fields["request_id"] and fields["request_id"] in message
    assert "00wrong-token" not in message and "00wrong-token" not in repr(fields)


def test_a_missing_user_is_not_found(client: OktaClient) -> None:
    with pytest.raises(errors.NotFoundError) as raised:
        client.users.get("nobody@acme.example")
    assert is_not_found(raised.value)
    message, fields = error_fields(raised.value)
    assert fields["error_type"] == "NotFoundError" and fields["status"] == 404
    assert fields["error_code"] == "E0000007"
    assert not is_not_found(errors.ValidationError("bad", status=400))
    assert not is_not_found(LookupError("not an okta_lifecycle error"))


def test_empty_attributes_are_left_out_and_the_reset_time_is_iso_8601() -> None:
    reset_at = datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    error = errors.RateLimitedError("rate limited", reset_at=reset_at, status=429, error_code="E0000047", causes=[])
    message, fields = error_fields(error)
    assert message == "rate limited"
    assert fields == {
        "error_type": "RateLimitedError",
        "status": 429,
        "error_code": "E0000047",
        "reset_at": "2030-01-02T03:04:05+00:00",
    }


def test_a_blocked_plan_and_a_run_in_progress_carry_their_reasons_and_owner() -> None:
    blocked = error_fields(errors.PlanBlockedError("blocked", reasons=["2 deprovisions planned"]))
    assert blocked == ("blocked", {"error_type": "PlanBlockedError", "reasons": ["2 deprovisions planned"]})
    running = error_fields(errors.RunInProgressError("busy", run_id="R1", owner="east"))
    assert running == ("busy", {"error_type": "RunInProgressError", "run_id": "R1", "owner": "east"})


def test_any_other_exception_is_an_unexpected_error() -> None:
    message, fields = error_fields(KeyError("profile"))
    assert message == "unexpected error: 'profile'"
    assert fields == {"error_type": "KeyError"}
    assert error_fields(RuntimeError())[0] == "unexpected error: RuntimeError"


def test_messages_of_plans_that_did_not_go_through() -> None:
    issues = [
        {"identity": "ada@acme.example", "message": "attribute department: an object", "row": 1},
        {"identity": None, "message": "row 2: login is empty", "row": 2},
    ]
    assert issues_message(issues) == "ada@acme.example: attribute department: an object; row 2: login is empty"
    assert blocked_message(["2 deprovisions planned", "1 too many"]) == (
        "the plan is blocked by the policy's safety limits (2 deprovisions planned; 1 too many); nothing was "
        "applied. Set override_safety=true to apply it anyway"
    )
    failures = [
        {"operation": "create_user", "login": "ada@acme.example", "message": "E0000001", "status": "failed"},
        {"operation": "add_member", "identity": "1002", "status": "skipped"},
    ]
    assert outcomes_message(failures, 5) == (
        "2 of 5 changes did not succeed: create_user ada@acme.example: E0000001 (failed); "
        "add_member 1002: skipped (skipped)"
    )
