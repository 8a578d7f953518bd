#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: okta-lifecycle contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: deprovision
short_description: Deprovision an Okta user, keeping its history (DEPROVISION_IDENTITY)
version_added: "0.1.0"
description:
  - Runs okta-lifecycle's C(deprovision_identity) action for one user. The user's profile, OKTA_GROUP
    memberships and admin roles (with their targets) are first recorded in the journal. Then the
    account is deactivated or suspended, its sessions are ended and its OAuth tokens revoked, and
    every OKTA_GROUP membership and admin role the user holds itself is removed.
  - If the snapshot cannot be recorded, nothing else is sent. The account can be brought back,
    memberships included, with M(okta_lifecycle.okta.user) and O(okta_lifecycle.okta.user#module:state=present).
  - An account that is already disabled, with no memberships and no roles left, is nothing to do
    (C(changed=false)). A user that does not exist is nothing to do either.
author:
  - okta-lifecycle contributors (@okta-lifecycle)
extends_documentation_fragment:
  - okta_lifecycle.okta.connection
attributes:
  check_mode:
    description: Reports the engine's planned changes without sending anything.
    support: full
  diff_mode:
    description: Shows the user's status and OKTA_GROUPs before and after.
    support: full
  action_group:
    description: Part of the C(okta_lifecycle.okta.okta) action group.
    support: full
    membership:
      - okta_lifecycle.okta.okta
options:
  login:
    description:
      - The user's login (or id).
    type: str
    required: true
  mode:
    description:
      - V(deactivate) makes the user C(DEPROVISIONED). Okta also removes its app assignments.
      - V(suspend) makes it C(SUSPENDED), which is reversible. Okta suspends only C(ACTIVE) users.
    type: str
    choices: [deactivate, suspend]
    default: deactivate
  remove_groups:
    description:
      - Whether every OKTA_GROUP membership is removed. Okta keeps memberships on deactivation.
    type: bool
    default: true
  logout:
    description:
      - Whether the user's sessions are ended and its OAuth tokens revoked.
    type: bool
    default: true
  remove_roles:
    description:
      - Whether the admin roles the user holds itself are removed. Okta keeps them on deactivation.
    type: bool
    default: true
seealso:
  - module: okta_lifecycle.okta.user
"""

EXAMPLES = r"""
- name: A leaver
  okta_lifecycle.okta.deprovision:
    login: ada@acme.com

- name: Suspend, but keep the groups
  okta_lifecycle.okta.deprovision:
    login: grace@acme.com
    mode: suspend
    remove_groups: false
"""

RETURN = r"""
login:
  description: The user's login.
  returned: always
  type: str
run_id:
  description: The id of the engine's run in the journal.
  returned: when the user exists
  type: str
changes:
  description:
    - The plan's changes. Operations are C(snapshot_user), C(deactivate_user) or C(suspend_user),
      C(clear_sessions), C(remove_member) and C(unassign_role).
  returned: when the user exists
  type: list
  elements: dict
issues:
  description: Why the engine could not act on the user (the task then fails).
  returned: when the user exists
  type: list
  elements: dict
summary:
  description: The plan's counts.
  returned: when the user exists
  type: dict
blocked:
  description: Safety-limit reasons (always empty for one user).
  returned: when the user exists
  type: list
  elements: str
outcomes:
  description: What became of each change.
  returned: when changes were applied
  type: list
  elements: dict
counts:
  description: The outcomes counted by status.
  returned: when changes were applied
  type: dict
user:
  description: The user after the task (before it, in check mode); null when it does not exist.
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.okta_lifecycle.okta.plugins.module_utils.connection import argument_spec, connect
from ansible_collections.okta_lifecycle.okta.plugins.module_utils.users import manage_user


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            login=dict(type="str", required=True),
            mode=dict(type="str", default="deactivate", choices=["deactivate", "suspend"]),
            remove_groups=dict(type="bool", default=True),
            logout=dict(type="bool", default=True),
            remove_roles=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    client = connect(module)
    state = "suspended" if module.params["mode"] == "suspend" else "deprovisioned"
    manage_user(module, client, module.params["login"], state, module.params)


if __name__ == "__main__":
    main()
