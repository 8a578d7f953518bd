# -*- coding: utf-8 -*-
# Copyright: okta-lifecycle contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

"""The connection of the okta_lifecycle.okta modules: the options of the connection doc fragment
(with their environment variables), the checks of the journal and shared budget options, and the
okta_lifecycle.OktaClient they configure."""

from __future__ import annotations

import os
import re
import traceback

from ansible.module_utils.basic import env_fallback, missing_required_lib

from ansible_collections.okta_lifecycle.okta.plugins.module_utils.errors import fail_from_error

try:
    import okta_lifecycle
except ImportError:
    okta_lifecycle = None
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

_POSTGRESQL_URL = re.compile(r"(?i)^postgres(ql)?://")


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


def holds_password(text):
    """Whether a PostgreSQL URL holds a password (in its user part or its query)."""
    text = text.strip()
    return bool(
        _POSTGRESQL_URL.match(text)
        and (re.match(r"(?i)^postgres(ql)?://[^/@?#]*:[^/@?#]*@", text) or re.search(r"(?i)[?&]password=", text))
    )


def password_message(option):
    """Why a URL holding a password is refused for ``option``."""
    return "the %s URL holds a password, which Ansible would show: give it in PGPASSWORD or ~/.pgpass instead" % option


def journal_option(value):
    """The journal option as the client takes it: a file path (with C(~) and variables expanded, as
    for a path option), V(:memory:), or a PostgreSQL URL as given; None when unset. A URL holding a
    password raises ValueError: Ansible shows module options in its output and logs."""
    if value is None:
        return None
    text = str(value).strip()
    if _POSTGRESQL_URL.match(text):
        if holds_password(text):
            raise ValueError(password_message("journal"))
        return text
    if text == ":memory:":
        return text
    return os.path.expanduser(os.path.expandvars(text))


def client_options(params):
    """The keyword arguments of okta_lifecycle.OktaClient for the module's parameters (the URL
    apart). A missing URL or credential, or a database URL holding a password, raises ValueError
    with the message the task fails with."""
    if not params.get("org_url"):
        raise ValueError("org_url is required: set the org_url option or the OKTA_ORG_URL environment variable")
    if not params.get("api_token") and not params.get("client_id"):
        raise ValueError(
            "credentials are required: set api_token (or OKTA_API_TOKEN), or client_id with private_key "
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
        journal=journal_option(params.get("journal")),
    )
    if params.get("dpop") is not None:
        options["dpop"] = params["dpop"]
    # Passed only when set, so that the modules work with okta-lifecycle releases from before it.
    # The client reads it (True, False, on, off or a directory) and refuses anything else.
    if params.get("shared_budget") is not None:
        if isinstance(params["shared_budget"], str) and holds_password(params["shared_budget"]):
            raise ValueError(password_message("shared_budget"))
        options["shared_budget"] = params["shared_budget"]
    return options


def connect(module):
    """An okta_lifecycle.OktaClient configured from the connection options (or their environment
    variables); a configuration problem fails the task, naming the option."""
    require_library(module)
    try:
        options = client_options(module.params)
    except ValueError as error:
        module.fail_json(msg=str(error))
    try:
        return okta_lifecycle.OktaClient(module.params["org_url"], **options)
    except TypeError as error:
        if "shared_budget" in options and "shared_budget" in str(error):
            module.fail_json(
                msg="the installed okta-lifecycle does not support shared_budget; upgrade it or unset the option"
            )
        module.fail_json(msg="could not configure the Okta client: %s" % error)
    except Exception as error:  # pylint: disable=broad-except
        fail_from_error(module, error)
