#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: okta-lifecycle contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: password_reset
short_description: Start Okta's password reset for a user (RESET_PASSWORD)
version_added: "0.1.0"
description:
  - Starts Okta's password-reset flow for one user with okta-lifecycle's C(reset_password) action.
  - Not idempotent. Each run of the task is a new reset event, so it always reports C(changed). The
    reset is journaled before it is sent and is never repeated after an ambiguous failure (a lost
    answer is reported, not resent). A task retried with C(retries)/C(until) sends a new reset each
    time.
  - In check mode the user is looked up, nothing is sent, and the task reports C(changed).
  - With O(send_email=false), Okta's reset link is returned in RV(reset_link). It is a secret, so the
    module then hides its whole result from the task's logged output (as C(no_log) does), at any
    verbosity and for every callback. The link is still in the registered result. It shows up only
    if the playbook prints it or passes it on.
author:
  - okta-lifecycle contributors (@okta-lifecycle)
extends_documentation_fragment:
  - okta_lifecycle.okta.connection
attributes:
  check_mode:
    description: Looks the user up and reports C(changed) without sending the reset.
    support: full
  diff_mode:
    description: Not supported. A reset has no before and after to show.
    support: none
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
  send_email:
    description:
      - Whether Okta emails the reset link to the user. With V(false) it is returned in RV(reset_link).
    type: bool
    default: true
  revoke_sessions:
    description:
      - Whether the user's sessions are ended too.
    type: bool
    default: false
seealso:
  - module: okta_lifecycle.okta.user
"""

EXAMPLES = r"""
- name: Okta emails the user a reset link
  okta_lifecycle.okta.password_reset:
    login: ada@acme.com

- name: Get the link to hand over by another channel (not shown in the task's output)
  okta_lifecycle.okta.password_reset:
    login: ada@acme.com
    send_email: false
  register: reset

- name: Pass it on without logging it
  ansible.builtin.copy:
    content: "{{ reset.reset_link }}"
    dest: ~/ada-reset-link
    mode: "0600"
  no_log: true
"""

RETURN = r"""
login:
  description: The user's login.
  returned: always
  type: str
user_status:
  description: The user's status before the reset.
  returned: always
  type: str
  sample: ACTIVE
run_id:
  description: The id of the engine's run in the journal.
  returned: when the reset was sent
  type: str
outcomes:
  description: What became of the reset.
  returned: when the reset was sent
  type: list
  elements: dict
counts:
  description: The outcomes counted by status.
  returned: when the reset was sent
  type: dict
reset_link:
  description:
    - Okta's one-time reset link. It is a secret. When it is returned, the task's logged output is
      hidden as with C(no_log), and the value is only in the registered result.
  returned: when O(send_email=false) and not in check mode
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.okta_lifecycle.okta.plugins.module_utils.connection import argument_spec, connect
from ansible_collections.okta_lifecycle.okta.plugins.module_utils.errors import fail_from_error
from ansible_collections.okta_lifecycle.okta.plugins.module_utils.lifecycle import apply_report, find_user


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            login=dict(type="str", required=True),
            send_email=dict(type="bool", default=True),
            revoke_sessions=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    client = connect(module)
    params = module.params
    result = dict(changed=False, login=params["login"])
    try:
        user = find_user(client, params["login"])
    except Exception as error:  # pylint: disable=broad-except
        fail_from_error(module, error, **result)
    if user is None:
        module.fail_json(msg="no Okta user %s" % params["login"], error_code="E0000007", **result)
    login = user.login or params["login"]
    result.update(login=login, user_status=user.status)
    if module.check_mode:
        result["changed"] = True
        module.exit_json(**result)
    try:
        report = client.actions.reset_password(
            login, send_email=params["send_email"], revoke_sessions=params["revoke_sessions"]
        )
    except Exception as error:  # pylint: disable=broad-except
        fail_from_error(module, error, **result)
    # Whatever the outcome, a reset may have happened: this is a new event, never a no-op.
    result["changed"] = True
    links = report.reset_links
    if links:
        link = links.get(login) or links[next(iter(links))]
        result["reset_link"] = link.reveal()
    apply_report(module, report, result)
    result["changed"] = True
    module.exit_json(**result)


if __name__ == "__main__":
    main()
