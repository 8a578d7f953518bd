#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: okta-lifecycle contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: group
short_description: Manage an Okta group (CREATE_ENTITLEMENT)
version_added: "0.1.0"
description:
  - Creates an OKTA_GROUP with okta-lifecycle's C(create_entitlement) action (journaled), updates its
    description, or deletes it.
  - Group names are matched ignoring case, as Okta does.
  - Only OKTA_GROUPs are changed. Changing or deleting an APP_GROUP or the BUILT_IN C(Everyone)
    group fails.
author:
  - okta-lifecycle contributors (@okta-lifecycle)
extends_documentation_fragment:
  - okta_lifecycle.okta.connection
attributes:
  check_mode:
    description: Reports what would change without sending anything.
    support: full
  diff_mode:
    description: Shows the group's name and description before and after.
    support: full
  action_group:
    description: Part of the C(okta_lifecycle.okta.okta) action group.
    support: full
    membership:
      - okta_lifecycle.okta.okta
options:
  name:
    description:
      - The group's name.
    type: str
    required: true
  description:
    description:
      - The group's description. If not given, an existing description is left as it is.
    type: str
  state:
    description:
      - Whether the group exists.
    type: str
    choices: [present, absent]
    default: present
seealso:
  - module: okta_lifecycle.okta.group_membership
  - module: okta_lifecycle.okta.group_info
"""

EXAMPLES = r"""
- name: A department group
  okta_lifecycle.okta.group:
    name: dept-engineering
    description: Everyone in Engineering

- name: Remove a group
  okta_lifecycle.okta.group:
    name: project-apollo
    state: absent
"""

RETURN = r"""
group:
  description: The group after the task (before it, in check mode); null when it does not exist.
  returned: always
  type: dict
  sample: {"id": "00g1", "name": "dept-engineering", "description": "Everyone in Engineering", "type": "OKTA_GROUP"}
run_id:
  description: The id of the engine's run that created the group.
  returned: when the group was created
  type: str
outcomes:
  description: What became of the creation.
  returned: when the group was created
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.okta_lifecycle.okta.plugins.module_utils.connection import argument_spec, connect
from ansible_collections.okta_lifecycle.okta.plugins.module_utils.conversion import group_to_dict
from ansible_collections.okta_lifecycle.okta.plugins.module_utils.errors import fail_from_error
from ansible_collections.okta_lifecycle.okta.plugins.module_utils.lifecycle import apply_report, find_group


def _state(group):
    if group is None:
        return {"exists": False}
    return {"exists": True, "name": group.name, "description": group.description}


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            name=dict(type="str", required=True),
            description=dict(type="str"),
            state=dict(type="str", default="present", choices=["present", "absent"]),
        ),
        supports_check_mode=True,
    )
    client = connect(module)
    name = module.params["name"]
    description = module.params["description"]
    state = module.params["state"]
    result = dict(changed=False)
    try:
        group = find_group(client, name)
    except Exception as error:  # pylint: disable=broad-except
        fail_from_error(module, error, **result)
    before = _state(group)
    if group is not None and group.type != "OKTA_GROUP":
        wanted_change = state == "absent" or (description is not None and description != group.description)
        if wanted_change:
            module.fail_json(
                msg="%s is a %s group; only OKTA_GROUPs can be changed" % (group.name, group.type),
                group=group_to_dict(group),
            )

    if state == "present":
        if group is None:
            after = {"exists": True, "name": name, "description": description}
        elif description is not None and description != (group.description or ""):
            after = dict(before, description=description)
        else:
            after = before
    else:
        after = {"exists": False}
    result["changed"] = after != before
    result["group"] = group_to_dict(group) if group is not None else None
    if module._diff:
        result["diff"] = {"before": before, "after": after}
    if module.check_mode or not result["changed"]:
        module.exit_json(**result)

    try:
        if state == "absent":
            client.groups.delete(group.id)
            result["group"] = None
        elif group is None:
            apply_report(module, client.actions.create_entitlement(name, description), result)
            created = client.groups.find(name)
            result["group"] = group_to_dict(created) if created is not None else None
        else:
            result["group"] = group_to_dict(client.groups.replace(group.id, group.name, description))
    except Exception as error:  # pylint: disable=broad-except
        fail_from_error(module, error, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
