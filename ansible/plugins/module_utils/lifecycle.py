# -*- coding: utf-8 -*-
# Copyright: okta-lifecycle contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

"""What the okta_lifecycle.okta modules share beyond the connection (connection.py), the errors
(errors.py) and the return values (conversion.py): finding users and groups, listings, one-off
policies, and applying a plan.

The modules are thin: every change goes through okta_lifecycle's plan, apply and journal, so a
playbook gets the same rate-limit governor, journal and guarantees as the library.
"""

from __future__ import annotations

import re

from ansible_collections.okta_lifecycle.okta.plugins.module_utils.connection import okta_lifecycle
from ansible_collections.okta_lifecycle.okta.plugins.module_utils.conversion import (
    changed,
    failed_outcomes,
    report_result,
)
from ansible_collections.okta_lifecycle.okta.plugins.module_utils.errors import (
    fail_from_error,
    is_not_found,
    outcomes_message,
)

#: Okta's user statuses in which the account is disabled.
DISABLED_STATUSES = ("SUSPENDED", "DEPROVISIONED")

#: Okta's largest page of users or groups.
MAX_PAGE = 200


# --- reading users and groups ---------------------------------------------------------------------


def listing_options(**module_options):
    """The options of a read-only listing: Okta's search, filter and q, and a limit."""
    options = dict(
        search=dict(type="str"),
        filter=dict(type="str"),
        q=dict(type="str"),
        limit=dict(type="int", default=200),
    )
    options.update(module_options)
    return options


def first(module, list_call):
    """The first ``limit`` items of ``list_call(search=, filter=, q=, limit=)``, and whether there
    were more."""
    params = module.params
    listing = list_call(
        search=params["search"], filter=params["filter"], q=params["q"], limit=min(params["limit"], MAX_PAGE)
    )
    found = []
    for item in listing:
        if len(found) == params["limit"]:
            return found, True
        found.append(item)
    return found, False


def find_user(client, login):
    """The user with this login or id, or None."""
    try:
        return client.users.get(login)
    except Exception as error:  # pylint: disable=broad-except
        if is_not_found(error):
            return None
        raise


def okta_group_names(client, user):
    """The names of the OKTA_GROUPs a user belongs to (Everyone and app groups left out), sorted."""
    return sorted(group.name for group in client.users.groups(user) if group.type == "OKTA_GROUP")


def find_group(client, name_or_id):
    """A group by exact name (ignoring case) or by id, or None."""
    group = client.groups.find(name_or_id)
    if group is not None:
        return group
    if re.match(r"^00g[0-9A-Za-z]+$", name_or_id):
        try:
            return client.groups.get(name_or_id)
        except Exception as error:  # pylint: disable=broad-except
            if is_not_found(error):
                return None
            raise
    return None


# --- policies for one-off runs --------------------------------------------------------------------

_ATTRIBUTE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def literal(text):
    """Text as a policy formatter that renders to itself (braces doubled)."""
    return text.replace("{", "{{").replace("}", "}}")


def record_value(value):
    """A module value as an identity record holds it: as given (a list stays a list, a dict a
    dict), for the engine to type by the org's schema. It refuses what fits no attribute (a dict,
    or a list for a one-value attribute) as an issue of the record, never as its text."""
    if isinstance(value, tuple):
        return list(value)
    return value


def attribute_rules(module, names):
    """``{name: "{name}"}`` for each profile attribute; a name that is not an Okta attribute name fails."""
    rules = {}
    for name in names:
        if not _ATTRIBUTE_NAME.match(name):
            module.fail_json(msg="%r is not an Okta profile attribute name (letters, digits and _)" % name)
        rules[name] = "{%s}" % name
    return rules


def one_off_policy(name, attributes, workflows):
    """An okta_lifecycle.Policy whose records are keyed and matched by login."""
    return okta_lifecycle.Policy.from_dict(
        {
            "name": name,
            "source": {"format": "jsonl", "key": "login", "match_on": "login"},
            "attributes": attributes,
            "workflow": workflows,
        }
    )


# --- applying plans -------------------------------------------------------------------------------


def apply_plan(module, client, plan, result, **apply_options):
    """Apply a plan and add the report to ``result``; a change that did not succeed fails the task
    with its message, Okta error code and request id."""
    try:
        report = client.apply(plan, **apply_options)
    except Exception as error:  # pylint: disable=broad-except
        result["changed"] = False
        fail_from_error(module, error, **result)
    return apply_report(module, report, result)


def apply_report(module, report, result):
    """Add a report (of a plan, or of one action) to ``result``: changed when a change succeeded in
    this apply (a change another applier had already made, such as another host's that ran the same
    job first, is not this task's); a change that did not succeed fails the task with its message,
    Okta error code and request id."""
    result.update(report_result(report))
    result["changed"] = changed(report.outcomes)
    failures = failed_outcomes(report.outcomes)
    if failures or not report.is_success:
        first_failure = failures[0] if failures else {}
        module.fail_json(
            msg=outcomes_message(failures, len(report.outcomes)),
            error_code=first_failure.get("error_code"),
            request_id=first_failure.get("request_id"),
            **result,
        )
    return report
