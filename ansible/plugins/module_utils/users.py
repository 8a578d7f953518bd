# -*- coding: utf-8 -*-
# Copyright: okta-lifecycle contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

"""One user's lifecycle through the okta_lifecycle engine, shared by the user and deprovision
modules: a one-record policy is planned (nothing is written), the plan is the check-mode answer
and the diff, and applying it journals every change."""

from __future__ import annotations

from ansible_collections.okta_lifecycle.okta.plugins.module_utils.conversion import (
    plan_result,
    user_state,
    user_to_dict,
)
from ansible_collections.okta_lifecycle.okta.plugins.module_utils.errors import fail_from_error, fail_on_issues
from ansible_collections.okta_lifecycle.okta.plugins.module_utils.lifecycle import (
    DISABLED_STATUSES,
    apply_plan,
    attribute_rules,
    find_user,
    literal,
    okta_group_names,
    one_off_policy,
    record_value,
)

#: The profile attributes Okta requires; sync_identities checks them on every create and update.
REQUIRED_ATTRIBUTES = ("email", "firstName", "lastName")

#: The name of the one-off policies, as the journal's runs show it.
POLICY_NAME = "ansible-okta_lifecycle.okta.%s"


def _deprovision_action(mode, remove_groups, logout, remove_roles):
    return {
        "action": "deprovision_identity",
        "mode": mode,
        "remove_groups": remove_groups,
        "logout": logout,
        "remove_roles": remove_roles,
    }


def _present_workflow(module, existing, login, options):
    """The record and actions that make the user present: reactivate when disabled (and asked
    to), create or update the given attributes, ensure the groups."""
    profile = dict((name, value) for name, value in (options.get("profile") or {}).items() if value is not None)
    if "login" in profile and str(profile.pop("login")).lower() != login.lower():
        module.fail_json(msg="profile.login differs from login; Okta logins are never renamed by this module")
    record = {"login": login}
    record.update((name, record_value(value)) for name, value in profile.items())
    if existing is None:
        missing = [name for name in REQUIRED_ATTRIBUTES if name not in record]
        if missing:
            module.fail_json(msg="creating %s needs profile.%s" % (login, ", profile.".join(missing)))
    else:
        # sync_identities checks the required attributes on updates too: keep the user's own.
        current = existing.profile
        for name in REQUIRED_ATTRIBUTES:
            if name not in record and current.get(name) is not None:
                record[name] = record_value(current[name])
    actions = []
    if existing is not None and existing.status in DISABLED_STATUSES:
        if options.get("reactivate", True):
            actions.append(
                {
                    "action": "reactivate_identity",
                    "restore_groups": options.get("restore_groups", True),
                    "restore_roles": options.get("restore_roles", True),
                    "send_email": options.get("activation_email", True),
                }
            )
        else:
            module.warn("%s is %s and reactivate is false: it stays disabled" % (login, existing.status))
    actions.append({"action": "sync_identities", "create": True, "activate": options.get("activate", True)})
    groups = options.get("groups")
    prefix = options.get("groups_exclusive_prefix")
    scope = options.get("groups_scope") or []
    if options.get("create_groups"):
        actions.extend({"action": "create_entitlement", "name": literal(name)} for name in groups or [])
    if groups is not None or prefix or scope:
        relationships = {"action": "manage_relationships", "groups": [literal(name) for name in groups or []]}
        if prefix:
            relationships["exclusive_prefix"] = prefix
        if scope:
            relationships["scope"] = list(scope)
        actions.append(relationships)
    return record, actions, sorted(profile)


def manage_user(module, client, login, state, options):
    """Bring one user to ``state`` (present, suspended, deprovisioned or absent) and exit the
    module with the plan, the outcomes, the user and (with --diff) the diff."""
    result = dict(changed=False, login=login, state=state)
    try:
        existing = find_user(client, login)
        groups_before = okta_group_names(client, existing) if existing is not None else []
    except Exception as error:  # pylint: disable=broad-except
        fail_from_error(module, error, **result)
    if existing is not None:
        login = existing.login or login
        result["login"] = login

    managed = []
    if state == "present":
        record, actions, managed = _present_workflow(module, existing, login, options)
    elif existing is None:
        # Nothing to disable or delete.
        result.update(changes=[], issues=[], user=None)
        if module._diff:
            result["diff"] = {"before": {"exists": False}, "after": {"exists": False}}
        module.exit_json(**result)
    else:
        record = {"login": login}
        mode = "suspend" if state == "suspended" else "deactivate"
        actions = [
            _deprovision_action(
                mode, options.get("remove_groups", True), options.get("logout", True), options.get("remove_roles", True)
            )
        ]

    try:
        policy = one_off_policy(
            POLICY_NAME % module._name.split(".")[-1],
            attribute_rules(module, record),
            [{"name": state, "actions": actions}],
        )
        plan = client.plan(policy, [record])
    except Exception as error:  # pylint: disable=broad-except
        fail_from_error(module, error, **result)
    result.update(plan_result(plan))
    fail_on_issues(module, plan, **result)

    changes = list(plan.changes)
    delete = state == "absent" and existing is not None
    if delete:
        changes.append(
            {
                "seq": None,
                "action": "delete",
                "identity": login,
                "workflow": None,
                "operation": "delete_user",
                "user": {"id": existing.id, "login": login},
            }
        )
        result["changes"] = changes
    before = user_state(existing, managed, groups_before)
    # What the engine's plan says the user becomes: told by the plan, not worked out here again.
    predicted = {"exists": False} if delete else plan.predict(before)
    result["changed"] = bool(changes)
    result["user"] = user_to_dict(existing, groups_before) if existing is not None else None

    if module.check_mode:
        if module._diff:
            result["diff"] = {"before": before, "after": predicted}
        module.exit_json(**result)

    if plan.changes:
        report = apply_plan(module, client, plan, result)
        links = report.activation_links
        if links:
            # Returned for the playbook to register; the action plugin censors the task's output.
            result["activation_link"] = links[next(iter(links))].reveal()
    result["changed"] = bool(changes)
    try:
        if delete:
            client.users.delete(existing.id)
            result["user"] = None
            after = {"exists": False}
        else:
            user = find_user(client, login)
            groups_after = okta_group_names(client, user) if user is not None else []
            result["user"] = user_to_dict(user, groups_after) if user is not None else None
            after = user_state(user, managed, groups_after)
    except Exception as error:  # pylint: disable=broad-except
        fail_from_error(module, error, **result)
    if module._diff:
        result["diff"] = {"before": before, "after": after}
    module.exit_json(**result)
