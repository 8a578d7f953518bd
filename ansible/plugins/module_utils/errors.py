# -*- coding: utf-8 -*-
# Copyright: okta-lifecycle contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

"""okta_lifecycle's errors, and the plans and reports that did not go through, as the messages
and result keys a task fails with."""

from __future__ import annotations

import traceback

try:
    from okta_lifecycle import errors as okta_errors
except ImportError:
    okta_errors = None

#: The attributes of an okta_lifecycle error that a failed task returns, when set.
ERROR_ATTRIBUTES = (
    "status",
    "error_code",
    "summary",
    "causes",
    "request_id",
    "error_id",
    "reasons",
    "run_id",
    "reason",
    "owner",
)


def is_okta_error(error):
    return okta_errors is not None and isinstance(error, okta_errors.OktaError)


def is_not_found(error):
    return okta_errors is not None and isinstance(error, okta_errors.NotFoundError)


def error_fields(error):
    """The message and result keys of a failure from an exception: ``(msg, fields)``, with
    error_type and the attributes an okta_lifecycle error carries (error_code, request_id, status,
    summary, causes, reasons, run_id...). No okta_lifecycle error holds a secret, so its text is
    shown as it is; any other exception is an unexpected error."""
    fields = dict(error_type=type(error).__name__)
    for name in ERROR_ATTRIBUTES:
        value = getattr(error, name, None)
        if value not in (None, []):
            fields[name] = value
    reset_at = getattr(error, "reset_at", None)
    if reset_at is not None:
        fields["reset_at"] = reset_at.isoformat()
    message = str(error) or type(error).__name__
    if not is_okta_error(error):
        message = "unexpected error: %s" % message
    return message, fields


def fail_from_error(module, error, **result):
    """fail_json for an exception from okta_lifecycle (see error_fields), with ``result``'s keys;
    the traceback too for an unexpected error."""
    message, fields = error_fields(error)
    failure = dict(result)
    failure.update(fields)
    if not is_okta_error(error):
        failure["exception"] = traceback.format_exc()
    module.fail_json(msg=message, **failure)


def issues_message(issues):
    """The plan's issues as one message: ``identity: message; ...``."""
    return "; ".join(
        "%s: %s" % (issue["identity"], issue["message"]) if issue.get("identity") else issue["message"]
        for issue in issues
    )


def blocked_message(reasons):
    return (
        "the plan is blocked by the policy's safety limits (%s); nothing was applied. "
        "Set override_safety=true to apply it anyway" % "; ".join(reasons)
    )


def outcomes_message(failures, total):
    """The changes that did not succeed, as one message."""
    described = [
        "%s %s: %s (%s)"
        % (o["operation"], o.get("login") or o.get("identity") or "", o.get("message") or o["status"], o["status"])
        for o in failures
    ]
    return "%d of %d changes did not succeed: %s" % (len(failures), total, "; ".join(described))


def fail_on_issues(module, plan, **result):
    """Fail when the plan could not act on a record (one-identity modules: the identity is the task)."""
    if plan.issues:
        module.fail_json(msg=issues_message(plan.issues), **result)


def fail_if_blocked(module, plan, **result):
    if plan.blocked:
        module.fail_json(msg=blocked_message(plan.blocked), reasons=plan.blocked, **result)
