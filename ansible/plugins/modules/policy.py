#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: okta-lifecycle contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: policy
short_description: Apply an okta-lifecycle policy to a source of identity records
version_added: "0.1.0"
description:
  - Plans a lifecycle policy (TOML) over a source file (CSV or JSON lines), that is joiners, movers and
    leavers, with every API change listed with its before and after values. Then it applies the
    plan with okta-lifecycle's journal, rate-limit governor and guarantees.
  - In check mode the plan is made, and its changes, issues and safety verdict are returned.
    Nothing is sent to Okta. The plan is recorded in the journal, as every plan is.
  - A plan over the policy's safety limits (C([safety]) in the policy) fails the task and applies
    nothing, unless O(override_safety=true).
  - If an earlier apply of the same policy over the same records did not finish (an interrupted
    run, a crash, a lost connection), that run is resumed instead of planning anew (O(resume)).
  - The policy and the source are read on the host that runs the module.
author:
  - okta-lifecycle contributors (@okta-lifecycle)
extends_documentation_fragment:
  - okta_lifecycle.okta.connection
attributes:
  check_mode:
    description: Returns the plan without sending anything.
    support: full
  diff_mode:
    description:
      - Shows, for each identity, only what changes. That is the attributes before and after, the
        groups left and joined, the status after, and each group created.
    support: full
  action_group:
    description: Part of the C(okta_lifecycle.okta.okta) action group.
    support: full
    membership:
      - okta_lifecycle.okta.okta
options:
  policy:
    description:
      - The policy file (TOML). Its format is described in the okta-lifecycle policy reference (docs/policy.md).
    type: path
    required: true
  source:
    description:
      - The identity records, a C(.csv) or C(.jsonl) file.
    type: path
    required: true
  override_safety:
    description:
      - Apply a plan that the policy's safety limits block.
    type: bool
    default: false
  concurrency:
    description:
      - The most changes in flight at once while applying.
    type: int
    default: 16
  wait_for_lease:
    description:
      - If another applier (another play, a cron job, the okta-lifecycle command) is applying the same
        run, wait this many seconds for it. By default the task fails at once.
      - The same holds for another run of the same policy over the same records (another control
        host that planned the same job at the same time, sharing a PostgreSQL journal). Once that
        run has begun, this task's plan is superseded and planned again, once, which sees what the
        other run did; the result's RV(superseded_by) names it.
    type: float
  resume:
    description:
      - Whether an unfinished earlier run of the same policy over the same records is resumed instead
        of planning anew.
    type: bool
    default: true
  fail_on_issues:
    description:
      - Whether records the plan cannot act on (a missing email, a duplicate, an ambiguous match) fail
        the task. Otherwise they are returned in RV(issues) and shown as warnings.
    type: bool
    default: false
seealso:
  - module: okta_lifecycle.okta.user
notes:
  - The okta-lifecycle command C(okta-lifecycle plan) / C(okta-lifecycle apply) does the same
    from a shell, with the same journal.
"""

EXAMPLES = r"""
- name: Plan the day's HR export (see what would change)
  okta_lifecycle.okta.policy:
    policy: "{{ playbook_dir }}/files/policy.toml"
    source: "{{ playbook_dir }}/files/hr-export.csv"
  check_mode: true
  register: plan

- name: Apply it
  okta_lifecycle.okta.policy:
    policy: "{{ playbook_dir }}/files/policy.toml"
    source: "{{ playbook_dir }}/files/hr-export.csv"
    journal: ~/acme-journal.sqlite
"""

RETURN = r"""
run_id:
  description: The run's id in the journal (C(okta-lifecycle runs) lists it).
  returned: always
  type: str
  sample: 20261130T031351Z-DIfeAUbw
resumed:
  description: Whether an unfinished earlier run was resumed instead of planning anew.
  returned: always
  type: bool
superseded_by:
  description: The run of the same policy over the same records that began after this task's first
    plan was made (another host's), when the task planned again because of it.
  returned: when a plan was superseded
  type: str
changes:
  description: The plan's changes, each with its C(operation) and before and after values.
  returned: always
  type: list
  elements: dict
issues:
  description: Records the plan could not act on, each with C(row), C(identity) and C(message).
  returned: always
  type: list
  elements: dict
summary:
  description: Counts of the records (joiners, movers, leavers, unchanged, issues) and of the changes by operation.
  returned: always
  type: dict
blocked:
  description: Why the safety limits block the plan (empty when they do not).
  returned: always
  type: list
  elements: str
events:
  description: The event of each identity, by its source key (C(joiner), C(mover), C(leaver), ...).
  returned: always
  type: dict
outcomes:
  description: What became of each change.
  returned: when the plan was applied
  type: list
  elements: dict
counts:
  description: The outcomes counted by status.
  returned: when the plan was applied
  type: dict
  sample: {"succeeded": 12}
reset_links:
  description:
    - The password-reset links Okta issued for a policy's C(reset_password) with C(send_email = false), by login.
    - They are secrets. The task's logged output is hidden (as with C(no_log)), but the values are in the registered
      result, failures included.
  returned: when a policy asked for them
  type: dict
activation_links:
  description:
    - The activation links of users a policy reactivated with C(send_email = false), by login.
    - Secrets, hidden as RV(reset_links) are.
  returned: when a policy asked for them
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.okta_lifecycle.okta.plugins.module_utils.connection import (
    argument_spec,
    connect,
    okta_lifecycle,
)
from ansible_collections.okta_lifecycle.okta.plugins.module_utils.conversion import plan_result
from ansible_collections.okta_lifecycle.okta.plugins.module_utils.errors import fail_from_error, fail_if_blocked
from ansible_collections.okta_lifecycle.okta.plugins.module_utils.lifecycle import apply_report

#: Issues shown as warnings, at most (all of them are in the result).
WARNED_ISSUES = 20


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            policy=dict(type="path", required=True),
            source=dict(type="path", required=True),
            override_safety=dict(type="bool", default=False),
            concurrency=dict(type="int", default=16),
            wait_for_lease=dict(type="float"),
            resume=dict(type="bool", default=True),
            fail_on_issues=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    client = connect(module)
    params = module.params
    result = dict(changed=False, resumed=False)
    try:
        policy = okta_lifecycle.Policy.from_file(params["policy"])
    except Exception as error:  # pylint: disable=broad-except
        fail_from_error(module, error, **result)
    apply_options = dict(concurrency=params["concurrency"], override_safety=params["override_safety"])
    if params["wait_for_lease"] is not None:
        apply_options["wait_for_lease"] = params["wait_for_lease"]
    # A plan made while another host planned the same policy and records is superseded once the
    # other's run begins; it is planned again (once), which sees what that run did.
    for attempt in range(2):
        plan = _plan(module, client, policy, params, result)
        if module.check_mode or not plan.changes:
            module.exit_json(**result)
        try:
            report = client.apply(plan, **apply_options)
        except okta_lifecycle.PlanRejectedError as error:
            if attempt == 0 and getattr(error, "superseded_by", None):
                result["superseded_by"] = error.superseded_by
                continue
            result["changed"] = False
            fail_from_error(module, error, **result)
        except Exception as error:  # pylint: disable=broad-except
            result["changed"] = False
            fail_from_error(module, error, **result)
        apply_report(module, report, result)
        module.exit_json(**result)


def _plan(module, client, policy, params, result):
    """The plan to apply: the unfinished run of this policy over these records (resumed), or a new
    one; its summary, changes, issues and diff go into ``result``."""
    result["resumed"] = False
    try:
        run_id = client.unfinished_run(policy, params["source"]) if params["resume"] else None
        if run_id is not None:
            plan = client.recorded_plan(run_id)
            result["resumed"] = True
        else:
            plan = client.plan(policy, params["source"])
    except Exception as error:  # pylint: disable=broad-except
        fail_from_error(module, error, **result)
    result.update(plan_result(plan))
    result["events"] = plan.events
    result["changed"] = bool(plan.changes)
    if module._diff:
        result["diff"] = plan.diff()
    for issue in plan.issues[:WARNED_ISSUES]:
        module.warn("row %s (%s): %s" % (issue.get("row"), issue.get("identity"), issue.get("message")))
    if len(plan.issues) > WARNED_ISSUES:
        module.warn("%d more issues: see the result's issues" % (len(plan.issues) - WARNED_ISSUES))
    if params["fail_on_issues"] and plan.issues:
        module.fail_json(msg="%d records could not be acted on (fail_on_issues)" % len(plan.issues), **result)
    if not params["override_safety"]:
        fail_if_blocked(module, plan, **result)
    return plan


if __name__ == "__main__":
    main()
