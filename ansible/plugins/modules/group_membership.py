#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: okta-lifecycle contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: group_membership
short_description: Manage the members of an Okta group (MANAGE_RELATIONSHIPS)
version_added: "0.1.0"
description:
  - Ensures that the listed users are (or, with O(state=absent), are not) members of an OKTA_GROUP.
    With O(exclusive=true), every other member is removed.
  - The changes are planned by the okta-lifecycle engine as one C(manage_relationships) action per
    user. Check mode and C(--diff) report that plan, and applying it journals every change.
  - Every listed user must exist. An unknown login fails the task before anything is sent.
  - The group must exist. In check mode only, a missing group is taken as one that an earlier task
    would have created. Every listed user is then reported as added, with a warning.
author:
  - okta-lifecycle contributors (@okta-lifecycle)
extends_documentation_fragment:
  - okta_lifecycle.okta.connection
attributes:
  check_mode:
    description: Reports the engine's planned changes without sending anything.
    support: full
  diff_mode:
    description: Shows the group's members (logins) before and after.
    support: full
  action_group:
    description: Part of the C(okta_lifecycle.okta.okta) action group.
    support: full
    membership:
      - okta_lifecycle.okta.okta
options:
  group:
    description:
      - The group's name (matched ignoring case) or id.
    type: str
    required: true
  members:
    description:
      - Logins of the users.
    type: list
    elements: str
    default: []
  state:
    description:
      - V(present) adds the users that are not members. V(absent) removes those that are.
    type: str
    choices: [present, absent]
    default: present
  exclusive:
    description:
      - With O(state=present), whether members that are not listed are removed.
    type: bool
    default: false
seealso:
  - module: okta_lifecycle.okta.group
  - module: okta_lifecycle.okta.user
"""

EXAMPLES = r"""
- name: Exactly these members
  okta_lifecycle.okta.group_membership:
    group: project-apollo
    members: [ada@acme.com, grace@acme.com]
    exclusive: true

- name: Remove one member
  okta_lifecycle.okta.group_membership:
    group: project-apollo
    members: [grace@acme.com]
    state: absent
"""

RETURN = r"""
group:
  description: The group.
  returned: always
  type: dict
members:
  description: The group's member logins after the task (in check mode, as planned), sorted.
  returned: always
  type: list
  elements: str
run_id:
  description: The id of the engine's run in the journal.
  returned: when a plan was made
  type: str
changes:
  description: The plan's changes (C(add_member) and C(remove_member)).
  returned: when a plan was made
  type: list
  elements: dict
issues:
  description: Users the engine could not act on (the task then fails).
  returned: when a plan was made
  type: list
  elements: dict
outcomes:
  description: What became of each change.
  returned: when changes were applied
  type: list
  elements: dict
counts:
  description: The outcomes counted by status.
  returned: when changes were applied
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.okta_lifecycle.okta.plugins.module_utils.connection import argument_spec, connect
from ansible_collections.okta_lifecycle.okta.plugins.module_utils.conversion import group_to_dict, plan_result
from ansible_collections.okta_lifecycle.okta.plugins.module_utils.errors import fail_from_error, fail_on_issues
from ansible_collections.okta_lifecycle.okta.plugins.module_utils.lifecycle import (
    apply_plan,
    find_group,
    literal,
    one_off_policy,
)


def _workflow(name, group, mode):
    return {
        "name": name,
        "when": 'membership eq "%s"' % name,
        "actions": [{"action": "manage_relationships", "groups": [literal(group)], "mode": mode}],
    }


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            group=dict(type="str", required=True),
            members=dict(type="list", elements="str", default=[]),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            exclusive=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    client = connect(module)
    params = module.params
    result = dict(changed=False)
    try:
        group = find_group(client, params["group"])
        if group is None and module.check_mode and params["state"] == "present":
            # An earlier task (okta_lifecycle.okta.group) would have created it.
            module.warn("the group %s does not exist (yet): every listed member would be added" % params["group"])
            members = sorted(set(params["members"]))
            result.update(changed=bool(members), members=members, group=None, changes=[], issues=[])
            if module._diff:
                result["diff"] = {"before": {"members": []}, "after": {"members": members}}
            module.exit_json(**result)
        if group is None:
            module.fail_json(msg="no group named %s" % params["group"])
        result["group"] = group_to_dict(group)
        current = sorted(user.login for user in client.groups.members(group.id))
    except Exception as error:  # pylint: disable=broad-except
        fail_from_error(module, error, **result)

    wanted = "present" if params["state"] == "present" else "absent"
    records, seen = [], set()
    for login in params["members"]:
        if login.lower() not in seen:
            seen.add(login.lower())
            records.append({"login": login, "membership": wanted})
    if params["state"] == "present" and params["exclusive"]:
        records.extend({"login": login, "membership": "absent"} for login in current if login.lower() not in seen)

    members_after = set(login.lower() for login in current)
    if records:
        try:
            # The group is named in the policy (its id would not do for removals).
            policy = one_off_policy(
                "ansible-okta_lifecycle.okta.group_membership",
                {"login": "{login}"},
                [_workflow("present", group.name, "add"), _workflow("absent", group.name, "remove")],
            )
            plan = client.plan(policy, records)
        except Exception as error:  # pylint: disable=broad-except
            fail_from_error(module, error, **result)
        result.update(plan_result(plan))
        fail_on_issues(module, plan, **result)
        by_login = dict((login.lower(), login) for login in current)
        # Who joins and who leaves, as the engine's plan tells it (keyed by login).
        diff = plan.diff()
        for login, joined in diff["after"].items():
            if group.name in ((joined or {}).get("groups_joined") or []):
                by_login.setdefault(login.lower(), login)
                members_after.add(login.lower())
        for login, left in diff["before"].items():
            if group.name in ((left or {}).get("groups_left") or []):
                members_after.discard(login.lower())
        result["changed"] = bool(plan.changes)
    else:
        plan, by_login = None, {}
        result.update(changes=[], issues=[])
    after = sorted(by_login.get(login, login) for login in members_after)
    result["members"] = after
    if module._diff:
        result["diff"] = {"before": {"members": current}, "after": {"members": after}}
    if module.check_mode or not result["changed"]:
        module.exit_json(**result)
    apply_plan(module, client, plan, result)
    try:
        result["members"] = sorted(user.login for user in client.groups.members(group.id))
    except Exception as error:  # pylint: disable=broad-except
        fail_from_error(module, error, **result)
    result["changed"] = True
    module.exit_json(**result)


if __name__ == "__main__":
    main()
