#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: okta-lifecycle contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: user
short_description: Manage an Okta user's profile, groups and lifecycle through okta-lifecycle
version_added: "0.1.0"
description:
  - Creates or updates an Okta user, keeps its group memberships, and suspends, deprovisions or
    deletes it.
  - Every change goes through the okta-lifecycle engine. A one-record lifecycle policy is planned
    first (nothing is written), and the plan's changes are what check mode and C(--diff) report.
    Applying the plan records each change in the journal before it is sent.
  - With O(state=present), profile attributes that are not given are left alone. Only the
    attributes that differ from Okta's are sent, so a second identical run changes nothing.
  - A user that is C(SUSPENDED) or C(DEPROVISIONED) is reactivated by O(state=present) (unless
    O(reactivate=false)). By default it gets back the memberships and admin roles it had when it
    was deprovisioned (from the journal's snapshots), and then the O(groups) are ensured.
  - O(state=suspended) and O(state=deprovisioned) run the engine's C(deprovision_identity) action.
    It records the user's profile, groups and roles in the journal first, then suspends or
    deactivates the account, removes its OKTA_GROUP memberships and its own admin roles, and ends
    its sessions. Use M(okta_lifecycle.okta.deprovision) for the same action with all its options.
  - O(state=absent) deletes the user for good. It is deprovisioned first through the engine, so
    the journal keeps its history, and then deleted (Okta deletes only deactivated users).
author:
  - okta-lifecycle contributors (@okta-lifecycle)
extends_documentation_fragment:
  - okta_lifecycle.okta.connection
attributes:
  check_mode:
    description: Reports the engine's planned changes without sending anything.
    support: full
  diff_mode:
    description: Shows the user's status, managed profile attributes and OKTA_GROUPs before and after.
    support: full
  action_group:
    description: Part of the C(okta_lifecycle.okta.okta) action group, for the connection options in C(module_defaults).
    support: full
    membership:
      - okta_lifecycle.okta.okta
options:
  login:
    description:
      - The user's login (or id, for an existing user). Okta logins are never renamed by this module.
    type: str
    required: true
  state:
    description:
      - V(present) creates or updates the user (and reactivates a disabled one).
      - V(suspended) suspends it (Okta suspends only C(ACTIVE) users) and removes its access.
      - V(deprovisioned) deactivates it and removes its access; its history is kept.
      - V(absent) deprovisions it, then deletes it.
    type: str
    choices: [present, suspended, deprovisioned, absent]
    default: present
  profile:
    description:
      - Profile attributes to set, for example C(email), C(firstName), C(lastName), C(department), or
        custom attributes the org's user schema defines.
      - Creating a user needs C(email), C(firstName) and C(lastName).
      - Values take the schema's types. Lists become arrays, and V(null) values are ignored. To clear a
        string attribute, set it to an empty string.
    type: dict
  groups:
    description:
      - Names of the OKTA_GROUPs the user must be a member of. The groups must exist (see
        M(okta_lifecycle.okta.group)), unless O(create_groups=true).
      - Other memberships are kept, except within O(groups_exclusive_prefix) or O(groups_scope).
    type: list
    elements: str
  create_groups:
    description:
      - Whether groups in O(groups) that do not exist are created (the engine's C(create_entitlement)
        action, in the same plan). Otherwise a missing group fails the task.
      - Check mode then also works on an org where the groups are still to be created.
    type: bool
    default: false
  groups_exclusive_prefix:
    description:
      - Groups whose names start with this prefix are managed. The user is removed from those that
        are not in O(groups).
    type: str
  groups_scope:
    description:
      - Names of further groups that are managed. The user is removed from those that are not in
        O(groups).
    type: list
    elements: str
  activate:
    description:
      - Whether a new user is activated. Okta then sends its activation email. Otherwise the user is
        created C(STAGED).
    type: bool
    default: true
  reactivate:
    description:
      - With O(state=present), whether a C(SUSPENDED) or C(DEPROVISIONED) user is reactivated.
    type: bool
    default: true
  restore_groups:
    description:
      - When reactivating, whether the OKTA_GROUP memberships recorded at deprovisioning are put back.
    type: bool
    default: true
  restore_roles:
    description:
      - When reactivating, whether the admin roles recorded at deprovisioning are put back.
    type: bool
    default: true
  activation_email:
    description:
      - When reactivating a C(DEPROVISIONED) user, whether Okta emails it the activation link.
      - With V(false), the link is returned in RV(activation_link) and the task's output is hidden
        as with C(no_log).
    type: bool
    default: true
  remove_groups:
    description:
      - With O(state=suspended), O(state=deprovisioned) or O(state=absent), whether every OKTA_GROUP
        membership is removed.
    type: bool
    default: true
  logout:
    description:
      - With O(state=suspended), O(state=deprovisioned) or O(state=absent), whether the user's
        sessions are ended and OAuth tokens revoked.
    type: bool
    default: true
  remove_roles:
    description:
      - With O(state=suspended), O(state=deprovisioned) or O(state=absent), whether the admin roles
        the user holds itself are removed.
    type: bool
    default: true
seealso:
  - module: okta_lifecycle.okta.deprovision
  - module: okta_lifecycle.okta.group_membership
  - module: okta_lifecycle.okta.user_info
"""

EXAMPLES = r"""
- name: A joiner, with department groups
  okta_lifecycle.okta.user:
    org_url: "{{ okta_org_url }}"
    api_token: "{{ okta_api_token }}"
    login: ada@acme.com
    profile:
      email: ada@acme.com
      firstName: Ada
      lastName: Lovelace
      department: Engineering
    groups: [all-staff, dept-engineering]
    groups_exclusive_prefix: dept-

- name: A mover (credentials from module_defaults or OKTA_* environment variables)
  okta_lifecycle.okta.user:
    login: ada@acme.com
    profile:
      department: Research
    groups: [all-staff, dept-research]
    groups_exclusive_prefix: dept-

- name: A leaver (history kept in the journal)
  okta_lifecycle.okta.user:
    login: ada@acme.com
    state: deprovisioned

- name: Delete for good
  okta_lifecycle.okta.user:
    login: old.account@acme.com
    state: absent
"""

RETURN = r"""
login:
  description: The user's login.
  returned: always
  type: str
  sample: ada@acme.com
state:
  description: The state asked for.
  returned: always
  type: str
  sample: present
run_id:
  description: The id of the engine's run in the journal.
  returned: when a plan was made
  type: str
  sample: 20261130T031351Z-DIfeAUbw
changes:
  description:
    - The plan's changes, one dict per API change, with an C(operation) such as C(create_user),
      C(update_user) (with C(changes), each with C(attribute), C(before) and C(after)), C(add_member),
      C(remove_member), C(snapshot_user), C(suspend_user), C(deactivate_user), C(clear_sessions),
      C(activate_user) or C(unsuspend_user).
    - With O(state=absent) the last one is C(delete_user), which is not part of the engine's plan.
  returned: when a plan was made
  type: list
  elements: dict
  sample: [{"seq": 1, "action": "sync_identities", "operation": "update_user", "identity": "ada@acme.com",
            "user": {"id": "00u1", "login": "ada@acme.com"},
            "changes": [{"attribute": "department", "before": "Engineering", "after": "Research"}]}]
issues:
  description: Why the engine could not act on the user (the task then fails).
  returned: when a plan was made
  type: list
  elements: dict
summary:
  description: The plan's counts (records, joiners, movers, leavers, operations).
  returned: when a plan was made
  type: dict
blocked:
  description: Safety-limit reasons (always empty for one user).
  returned: when a plan was made
  type: list
  elements: str
outcomes:
  description: What became of each change (C(status) is C(succeeded), C(failed), C(unknown) or C(skipped)).
  returned: when changes were applied
  type: list
  elements: dict
counts:
  description: The outcomes counted by status.
  returned: when changes were applied
  type: dict
  sample: {"succeeded": 3}
user:
  description: The user after the task (before it, in check mode), with its OKTA_GROUP names; null when there is none.
  returned: always
  type: dict
  sample: {"id": "00u1", "login": "ada@acme.com", "status": "ACTIVE", "profile": {}, "groups": ["all-staff"]}
activation_link:
  description:
    - The activation link of a reactivated C(DEPROVISIONED) user, with O(activation_email=false).
    - It is a secret. The task's logged output is hidden (as with C(no_log)), but the value is in
      the registered result.
  returned: when a user was reactivated with O(activation_email=false)
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.okta_lifecycle.okta.plugins.module_utils.connection import argument_spec, connect
from ansible_collections.okta_lifecycle.okta.plugins.module_utils.users import manage_user


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            login=dict(type="str", required=True),
            state=dict(type="str", default="present", choices=["present", "suspended", "deprovisioned", "absent"]),
            profile=dict(type="dict"),
            groups=dict(type="list", elements="str"),
            create_groups=dict(type="bool", default=False),
            groups_exclusive_prefix=dict(type="str"),
            groups_scope=dict(type="list", elements="str"),
            activate=dict(type="bool", default=True),
            reactivate=dict(type="bool", default=True),
            restore_groups=dict(type="bool", default=True),
            restore_roles=dict(type="bool", default=True),
            activation_email=dict(type="bool", default=True),
            remove_groups=dict(type="bool", default=True),
            logout=dict(type="bool", default=True),
            remove_roles=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    client = connect(module)
    manage_user(module, client, module.params["login"], module.params["state"], module.params)


if __name__ == "__main__":
    main()
