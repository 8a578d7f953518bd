# -*- coding: utf-8 -*-
# Copyright: okta-lifecycle contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

"""What the okta_lifecycle.okta modules share: the connection options, the client, the
conversion of okta_lifecycle errors into fail_json, and plans and reports as result dicts and
diffs.

The modules are thin: every change goes through okta_lifecycle's plan, apply and journal, so a
playbook gets the same rate-limit governor, journal and guarantees as the library.
"""

from __future__ import annotations

import os
import re
import traceback

from ansible.module_utils.basic import env_fallback, missing_required_lib

try:
    import okta_lifecycle
    from okta_lifecycle import errors as okta_errors
except ImportError:
    okta_lifecycle = None
    okta_errors = None
    OKTA_LIFECYCLE_IMPORT_ERROR = traceback.format_exc()
else:
    OKTA_LIFECYCLE_IMPORT_ERROR = None


#: The options of the connection doc fragment (okta_lifecycle.okta.connection).
CONNECTION_ARGUMENT_SPEC = dict(
    org_url=dict(type="str", aliases=["url"], fallback=(env_fallback, ["OKTA_ORG_URL"])),
    api_token=dict(type="str", no_log=True, fallback=(env_fallback, ["OKTA_API_TOKEN"])),
    client_id=dict(type="str", fallback=(env_fallback, ["OKTA_CLIENT_ID"])),
    private_key=dict(type="str", no_log=True, fallback=(env_fallback, ["OKTA_PRIVATE_KEY"])),
    private_key_path=dict(type="path", no_log=False, fallback=(env_fallback, ["OKTA_PRIVATE_KEY_PATH"])),
    scopes=dict(type="list", elements="str", fallback=(env_fallback, ["OKTA_SCOPES"])),
    key_id=dict(type="str", no_log=False, fallback=(env_fallback, ["OKTA_KEY_ID"])),
    dpop=dict(type="bool", fallback=(env_fallback, ["OKTA_DPOP"])),
    timeout=dict(type="float", default=30.0),
    rate_limit_share=dict(type="float", default=1.0),
    max_concurrency=dict(type="int", default=75),
    journal=dict(type="str"),
    shared_budget=dict(type="raw"),
)

#: Okta's user statuses in which the account is disabled.
DISABLED_STATUSES = ("SUSPENDED", "DEPROVISIONED")


def argument_spec(**module_options):
    """The module's own options plus the connection options."""
    spec = dict(CONNECTION_ARGUMENT_SPEC)
    spec.update(module_options)
    return spec


def require_library(module):
    """Fail cleanly when the okta_lifecycle package is not importable by the module's Python."""
    if okta_lifecycle is None:
        module.fail_json(
            msg=missing_required_lib("okta-lifecycle", url="https://github.com/okta-lifecycle/okta-lifecycle"),
            exception=OKTA_LIFECYCLE_IMPORT_ERROR,
        )


def _holds_password(text):
    """Whether a PostgreSQL URL holds a password (in its user part or its query)."""
    text = text.strip()
    return bool(
        re.match(r"(?i)^postgres(ql)?://", text)
        and (re.match(r"(?i)^postgres(ql)?://[^/@?#]*:[^/@?#]*@", text) or re.search(r"(?i)[?&]password=", text))
    )


def _journal(module, value):
    """The journal option as the client takes it: a file path (with C(~) and variables expanded, as
    for a path option), V(:memory:), or a PostgreSQL URL as given. A URL holding a password fails the
    task: Ansible shows module options in its output and logs."""
    if value is None:
        return None
    text = str(value).strip()
    if re.match(r"(?i)^postgres(ql)?://", text):
        if _holds_password(text):
            module.fail_json(
                msg="the journal URL holds a password, which Ansible would show: give it in PGPASSWORD or "
                "~/.pgpass instead"
            )
        return text
    if text == ":memory:":
        return text
    return os.path.expanduser(os.path.expandvars(text))


def connect(module):
    """An okta_lifecycle.OktaClient configured from the connection options (or their environment
    variables); a configuration problem fails the task, naming the option."""
    require_library(module)
    params = module.params
    if not params.get("org_url"):
        module.fail_json(msg="org_url is required: set the org_url option or the OKTA_ORG_URL environment variable")
    if not params.get("api_token") and not params.get("client_id"):
        module.fail_json(
            msg="credentials are required: set api_token (or OKTA_API_TOKEN), or client_id with private_key "
            "or private_key_path (or OKTA_CLIENT_ID with OKTA_PRIVATE_KEY or OKTA_PRIVATE_KEY_PATH)"
        )
    options = dict(
        api_token=params.get("api_token"),
        client_id=params.get("client_id"),
        private_key=params.get("private_key"),
        private_key_path=params.get("private_key_path"),
        # A list as the option or OKTA_SCOPES gives it; the client splits each item on spaces and
        # commas, as it reads OKTA_SCOPES itself.
        scopes=params.get("scopes") or None,
        key_id=params.get("key_id"),
        timeout=params["timeout"],
        rate_limit_share=params["rate_limit_share"],
        max_concurrency=params["max_concurrency"],
        journal=_journal(module, params.get("journal")),
    )
    if params.get("dpop") is not None:
        options["dpop"] = params["dpop"]
    # Passed only when set, so that the modules work with okta-lifecycle releases from before it.
    # The client reads it (True, False, on, off or a directory) and refuses anything else.
    if params.get("shared_budget") is not None:
        options["shared_budget"] = params["shared_budget"]
        if isinstance(params["shared_budget"], str) and _holds_password(params["shared_budget"]):
            module.fail_json(
                msg="the shared_budget URL holds a password, which Ansible would show: give it in PGPASSWORD or "
                "~/.pgpass instead"
            )
    try:
        return okta_lifecycle.OktaClient(params["org_url"], **options)
    except TypeError as error:
        if "shared_budget" in options and "shared_budget" in str(error):
            module.fail_json(
                msg="the installed okta-lifecycle does not support shared_budget; upgrade it or unset the option"
            )
        module.fail_json(msg="could not configure the Okta client: %s" % error)
    except Exception as error:  # pylint: disable=broad-except
        fail_from_error(module, error)


def fail_from_error(module, error, **result):
    """fail_json for an exception from okta_lifecycle, with the attributes it carries
    (error_code, request_id, status, summary, causes, reasons, run_id). No okta_lifecycle
    error holds a secret, so its text can be shown as it is."""
    fields = dict(result)
    fields["error_type"] = type(error).__name__
    for name in (
        "status",
        "error_code",
        "summary",
        "causes",
        "request_id",
        "error_id",
        "reasons",
        "run_id",
        "reason",
        "owner",
    ):
        value = getattr(error, name, None)
        if value not in (None, []):
            fields[name] = value
    reset_at = getattr(error, "reset_at", None)
    if reset_at is not None:
        fields["reset_at"] = reset_at.isoformat()
    message = str(error) or type(error).__name__
    if okta_errors is None or not isinstance(error, okta_errors.OktaError):
        fields["exception"] = traceback.format_exc()
        message = "unexpected error: %s" % message
    module.fail_json(msg=message, **fields)


def is_not_found(error):
    return okta_errors is not None and isinstance(error, okta_errors.NotFoundError)


# --- reading users and groups ---------------------------------------------------------------------


def _timestamp(value):
    return value.isoformat() if value is not None else None


def user_to_dict(user, groups=None):
    """A user as a result dict (its profile, status and timestamps; never a credential)."""
    result = dict(
        id=user.id,
        login=user.login,
        email=user.email,
        status=user.status,
        transitioning_to_status=user.transitioning_to_status,
        profile=user.profile,
        created=_timestamp(user.created),
        activated=_timestamp(user.activated),
        status_changed=_timestamp(user.status_changed),
        last_login=_timestamp(user.last_login),
        last_updated=_timestamp(user.last_updated),
        password_changed=_timestamp(user.password_changed),
    )
    if groups is not None:
        result["groups"] = groups
    return result


def group_to_dict(group, members=None):
    """A group as a result dict."""
    result = dict(
        id=group.id,
        name=group.name,
        description=group.description,
        type=group.type,
        profile=group.profile,
        created=_timestamp(group.created),
        last_updated=_timestamp(group.last_updated),
        last_membership_updated=_timestamp(group.last_membership_updated),
    )
    if group.users_count is not None:
        result["users_count"] = group.users_count
    if members is not None:
        result["members"] = members
    return result


#: Okta's largest page of users or groups.
MAX_PAGE = 200


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


# --- plans, reports and diffs ---------------------------------------------------------------------


def plan_result(plan):
    """The result keys of a plan: run_id, changes, issues, summary and blocked."""
    return dict(
        run_id=plan.run_id,
        changes=plan.changes,
        issues=plan.issues,
        summary=plan.summary,
        blocked=plan.blocked,
    )


def report_result(report):
    """The result keys of a report: run_id, outcomes and counts, and the reset and activation
    links Okta issued (``reset_links``, ``activation_links``: login to link), whatever else
    happened, so that no link is lost with a failure. The modules that can return them have an
    action plugin that censors the task's displayed result (plugin_utils/secret_result.py)."""
    result = dict(run_id=report.run_id, outcomes=report.outcomes, counts=report.counts)
    for key, links in (("reset_links", report.reset_links), ("activation_links", report.activation_links)):
        if links:
            result[key] = dict((login, secret.reveal()) for login, secret in links.items())
    if report.journal_error:
        result["journal_error"] = report.journal_error
    return result


_NOT_DONE = ("failed", "unknown", "skipped", "planned", "started")


def failed_outcomes(report):
    return [outcome for outcome in report.outcomes if outcome["status"] in _NOT_DONE or outcome.get("journal_error")]


def fail_on_issues(module, plan, **result):
    """Fail when the plan could not act on a record (one-identity modules: the identity is the task)."""
    if plan.issues:
        messages = "; ".join(
            "%s: %s" % (issue["identity"], issue["message"]) if issue.get("identity") else issue["message"]
            for issue in plan.issues
        )
        module.fail_json(msg=messages, **result)


def fail_if_blocked(module, plan, **result):
    if plan.blocked:
        module.fail_json(
            msg="the plan is blocked by the policy's safety limits (%s); nothing was applied. "
            "Set override_safety=true to apply it anyway" % "; ".join(plan.blocked),
            reasons=plan.blocked,
            **result,
        )


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
    result["changed"] = any(
        outcome["status"] == "succeeded" and not outcome.get("already_done") for outcome in report.outcomes
    )
    failures = failed_outcomes(report)
    if failures or not report.is_success:
        first = failures[0] if failures else {}
        described = [
            "%s %s: %s (%s)"
            % (o["operation"], o.get("login") or o.get("identity") or "", o.get("message") or o["status"], o["status"])
            for o in failures
        ]
        module.fail_json(
            msg="%d of %d changes did not succeed: %s" % (len(failures), len(report.outcomes), "; ".join(described)),
            error_code=first.get("error_code"),
            request_id=first.get("request_id"),
            **result,
        )
    return report


def user_state(user, managed_attributes, groups):
    """A user's state for a diff: its status, the managed profile attributes, its OKTA_GROUPs."""
    if user is None:
        return {"exists": False}
    profile = user.profile
    return {
        "exists": True,
        "login": user.login,
        "status": user.status,
        "profile": dict((name, profile.get(name)) for name in managed_attributes),
        "groups": groups,
    }
