# -*- coding: utf-8 -*-
# Copyright: okta-lifecycle contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

"""okta_lifecycle's users, groups, plans and reports as the return values of the
okta_lifecycle.okta modules, and a user's state as their diffs show it."""

from __future__ import annotations

#: Outcome statuses of a change that did not go through.
NOT_DONE = ("failed", "unknown", "skipped", "planned", "started")


def timestamp(value):
    return value.isoformat() if value is not None else None


def user_to_dict(user, groups=None):
    """A user as a result dict (its profile, status and timestamps; never a credential)."""
    result = dict(
        id=user.id,
        login=user.login,
        email=user.email,
        status=user.status,
        transitioning_to_status=user.transitioning_to_status,
        profile=user.profile,
        created=timestamp(user.created),
        activated=timestamp(user.activated),
        status_changed=timestamp(user.status_changed),
        last_login=timestamp(user.last_login),
        last_updated=timestamp(user.last_updated),
        password_changed=timestamp(user.password_changed),
    )
    if groups is not None:
        result["groups"] = groups
    return result


def group_to_dict(group, members=None):
    """A group as a result dict."""
    result = dict(
        id=group.id,
        name=group.name,
        description=group.description,
        type=group.type,
        profile=group.profile,
        created=timestamp(group.created),
        last_updated=timestamp(group.last_updated),
        last_membership_updated=timestamp(group.last_membership_updated),
    )
    if group.users_count is not None:
        result["users_count"] = group.users_count
    if members is not None:
        result["members"] = members
    return result


def plan_result(plan):
    """The result keys of a plan: run_id, changes, issues, summary and blocked."""
    return dict(
        run_id=plan.run_id,
        changes=plan.changes,
        issues=plan.issues,
        summary=plan.summary,
        blocked=plan.blocked,
    )


def report_result(report):
    """The result keys of a report: run_id, outcomes and counts, and the reset and activation
    links Okta issued (``reset_links``, ``activation_links``: login to link), whatever else
    happened, so that no link is lost with a failure. The modules that can return them have an
    action plugin that censors the task's displayed result (plugin_utils/secret_result.py)."""
    result = dict(run_id=report.run_id, outcomes=report.outcomes, counts=report.counts)
    for key, links in (("reset_links", report.reset_links), ("activation_links", report.activation_links)):
        if links:
            result[key] = dict((login, secret.reveal()) for login, secret in links.items())
    if report.journal_error:
        result["journal_error"] = report.journal_error
    return result


def failed_outcomes(outcomes):
    """The outcomes of changes that did not succeed, or whose journal entry failed."""
    return [outcome for outcome in outcomes if outcome["status"] in NOT_DONE or outcome.get("journal_error")]


def changed(outcomes):
    """Whether a change succeeded in this apply (a change another applier had already made, such
    as another host's that ran the same job first, is not this task's)."""
    return any(outcome["status"] == "succeeded" and not outcome.get("already_done") for outcome in outcomes)


def user_state(user, managed_attributes, groups):
    """A user's state for a diff: its status, the managed profile attributes, its OKTA_GROUPs."""
    if user is None:
        return {"exists": False}
    profile = user.profile
    return {
        "exists": True,
        "login": user.login,
        "status": user.status,
        "profile": dict((name, profile.get(name)) for name in managed_attributes),
        "groups": groups,
    }
