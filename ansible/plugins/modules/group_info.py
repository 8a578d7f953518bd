#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: okta-lifecycle contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: group_info
short_description: Read Okta groups
version_added: "0.1.0"
description:
  - Reads one group by name or id, or lists groups with a SCIM O(search) expression, a O(filter)
    expression or a O(q) name-prefix query. Nothing is changed.
author:
  - okta-lifecycle contributors (@okta-lifecycle)
extends_documentation_fragment:
  - okta_lifecycle.okta.connection
attributes:
  check_mode:
    description: Reads the same in check mode.
    support: full
  diff_mode:
    description: Nothing changes, so there is no diff.
    support: N/A
  action_group:
    description: Part of the C(okta_lifecycle.okta.okta) action group.
    support: full
    membership:
      - okta_lifecycle.okta.okta
options:
  name:
    description:
      - One group, by exact name (ignoring case). A group that does not exist gives an empty RV(groups).
    type: str
  id:
    description:
      - One group, by id.
    type: str
  search:
    description:
      - A SCIM search expression, for example C(type eq "OKTA_GROUP") or C(profile.name sw "dept-").
    type: str
  filter:
    description:
      - An Okta filter expression, for example C(type eq "OKTA_GROUP").
    type: str
  q:
    description:
      - A prefix query over group names.
    type: str
  limit:
    description:
      - The most groups returned.
    type: int
    default: 200
  include_members:
    description:
      - Whether each group's member logins are returned too (more requests per group).
    type: bool
    default: false
seealso:
  - module: okta_lifecycle.okta.group
"""

EXAMPLES = r"""
- name: The department groups with their members
  okta_lifecycle.okta.group_info:
    q: dept-
    include_members: true
  register: departments

- name: One group
  okta_lifecycle.okta.group_info:
    name: all-staff
"""

RETURN = r"""
groups:
  description: The groups.
  returned: always
  type: list
  elements: dict
  sample: [{"id": "00g1", "name": "all-staff", "description": "Everyone", "type": "OKTA_GROUP",
            "members": ["ada@acme.com"]}]
truncated:
  description: Whether more groups matched than O(limit).
  returned: always
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.okta_lifecycle.okta.plugins.module_utils.connection import argument_spec, connect
from ansible_collections.okta_lifecycle.okta.plugins.module_utils.conversion import group_to_dict
from ansible_collections.okta_lifecycle.okta.plugins.module_utils.errors import fail_from_error, is_not_found
from ansible_collections.okta_lifecycle.okta.plugins.module_utils.lifecycle import first, listing_options


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            **listing_options(
                name=dict(type="str"),
                id=dict(type="str"),
                include_members=dict(type="bool", default=False),
            )
        ),
        mutually_exclusive=[["name", "id", "search", "filter", "q"]],
        supports_check_mode=True,
    )
    params = module.params
    if params["limit"] < 1:
        module.fail_json(msg="limit must be at least 1")
    client = connect(module)
    groups, truncated = [], False
    try:
        if params["name"]:
            group = client.groups.find(params["name"])
            found = [group] if group is not None else []
        elif params["id"]:
            try:
                found = [client.groups.get(params["id"])]
            except Exception as error:  # pylint: disable=broad-except
                if not is_not_found(error):
                    raise
                found = []
        else:
            found, truncated = first(module, client.groups.list)
        for group in found:
            members = (
                sorted(user.login for user in client.groups.members(group.id)) if params["include_members"] else None
            )
            groups.append(group_to_dict(group, members))
    except Exception as error:  # pylint: disable=broad-except
        fail_from_error(module, error, changed=False)
    module.exit_json(changed=False, groups=groups, truncated=truncated)


if __name__ == "__main__":
    main()
