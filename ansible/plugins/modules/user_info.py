#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: okta-lifecycle contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: user_info
short_description: Read Okta users
version_added: "0.1.0"
description:
  - Reads one user by login or id, or lists users with a SCIM O(search) expression, a O(filter)
    expression or a O(q) prefix query. Nothing is changed.
  - Listings follow Okta's pages lazily and stop after O(limit) users.
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
  login:
    description:
      - One user, by login. A user that does not exist gives an empty RV(users).
    type: str
  id:
    description:
      - One user, by id.
    type: str
  search:
    description:
      - A SCIM search expression over any attribute, for example C(profile.department eq "Engineering").
    type: str
  filter:
    description:
      - An Okta filter expression (C(status), C(lastUpdated), C(id), C(profile.login), ...), for example
        C(status eq "DEPROVISIONED").
    type: str
  q:
    description:
      - A prefix query over first name, last name and email.
    type: str
  limit:
    description:
      - The most users returned.
    type: int
    default: 200
  include_groups:
    description:
      - Whether each user's OKTA_GROUP names are returned too (one more request per user).
    type: bool
    default: false
seealso:
  - module: okta_lifecycle.okta.user
"""

EXAMPLES = r"""
- name: One user
  okta_lifecycle.okta.user_info:
    login: ada@acme.com
    include_groups: true
  register: ada

- name: Everyone in a department
  okta_lifecycle.okta.user_info:
    search: profile.department eq "Engineering"
    limit: 1000
  register: engineers

- name: Leavers
  okta_lifecycle.okta.user_info:
    filter: status eq "DEPROVISIONED"
"""

RETURN = r"""
users:
  description: The users (profile, status and timestamps; never a credential).
  returned: always
  type: list
  elements: dict
  sample: [{"id": "00u1", "login": "ada@acme.com", "email": "ada@acme.com", "status": "ACTIVE",
            "profile": {"firstName": "Ada", "lastName": "Lovelace"}, "groups": ["all-staff"]}]
truncated:
  description: Whether more users matched than O(limit).
  returned: always
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.okta_lifecycle.okta.plugins.module_utils.connection import argument_spec, connect
from ansible_collections.okta_lifecycle.okta.plugins.module_utils.conversion import user_to_dict
from ansible_collections.okta_lifecycle.okta.plugins.module_utils.errors import fail_from_error
from ansible_collections.okta_lifecycle.okta.plugins.module_utils.lifecycle import (
    find_user,
    first,
    listing_options,
    okta_group_names,
)


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            **listing_options(
                login=dict(type="str"),
                id=dict(type="str"),
                include_groups=dict(type="bool", default=False),
            )
        ),
        mutually_exclusive=[["login", "id", "search", "filter", "q"]],
        supports_check_mode=True,
    )
    params = module.params
    if params["limit"] < 1:
        module.fail_json(msg="limit must be at least 1")
    client = connect(module)
    users, truncated = [], False
    try:
        if params["login"] or params["id"]:
            user = find_user(client, params["login"] or params["id"])
            found = [user] if user is not None else []
        else:
            found, truncated = first(module, client.users.list)
        for user in found:
            users.append(user_to_dict(user, okta_group_names(client, user) if params["include_groups"] else None))
    except Exception as error:  # pylint: disable=broad-except
        fail_from_error(module, error, changed=False)
    module.exit_json(changed=False, users=users, truncated=truncated)


if __name__ == "__main__":
    main()
