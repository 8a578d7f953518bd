# -*- coding: utf-8 -*-
# Copyright: okta-lifecycle contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

"""The options every okta_lifecycle.okta module shares: the org, the credentials, the journal
and the rate-limit governor."""

from __future__ import annotations


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  org_url:
    description:
      - The Okta org's base URL, for example C(https://acme.okta.com).
      - Plain C(http) is accepted only for loopback addresses (the okta-lifecycle simulator).
      - If not set, the environment variable E(OKTA_ORG_URL) is used.
    type: str
    aliases: [url]
  api_token:
    description:
      - An Okta API token, sent in the C(Authorization) header as C(SSWS <token>).
      - If not set, the environment variable E(OKTA_API_TOKEN) is used.
      - Give either O(api_token), or O(client_id) with O(private_key) or O(private_key_path).
    type: str
  client_id:
    description:
      - The client id of an OAuth 2.0 API service app using C(private_key_jwt).
      - If not set, the environment variable E(OKTA_CLIENT_ID) is used.
    type: str
  private_key:
    description:
      - The service app's private key (RS256 or ES256, PEM or JWK), as text.
      - If not set, the environment variable E(OKTA_PRIVATE_KEY) is used.
    type: str
  private_key_path:
    description:
      - The file holding the service app's private key (instead of O(private_key)).
      - If not set, the environment variable E(OKTA_PRIVATE_KEY_PATH) is used.
    type: path
  scopes:
    description:
      - The OAuth scopes to ask for, for example C(okta.users.manage) and C(okta.groups.manage).
      - If not set, the environment variable E(OKTA_SCOPES) is used (scopes separated by spaces or commas).
    type: list
    elements: str
  key_id:
    description:
      - The C(kid) of the service app's key, when Okta holds several.
      - If not set, the environment variable E(OKTA_KEY_ID) is used.
    type: str
  dpop:
    description:
      - Bind OAuth tokens with DPoP, which Okta requires for service apps created since February 2024.
      - If not set, the environment variable E(OKTA_DPOP) is used, and otherwise V(true).
    type: bool
  timeout:
    description:
      - The timeout of one request to Okta, in seconds.
    type: float
    default: 30
  rate_limit_share:
    description:
      - The share (above 0, at most 1) of each of Okta's rate-limit budgets this client may use.
    type: float
    default: 1.0
  max_concurrency:
    description:
      - The most requests in flight at once (Okta's concurrency limit is 75).
    type: int
    default: 75
  journal:
    description:
      - The journal, in which every change is recorded before it is sent (an SQLite file, or a
        PostgreSQL database).
      - By default, the org's own file under C($XDG_STATE_HOME/okta-lifecycle/) on the host that runs
        the module (the controller, with a local connection).
      - V(:memory:) keeps it in memory for the task only (no history, no resume, no snapshots to
        restore on reactivation).
      - A C(postgresql://) URL keeps it in a PostgreSQL database that every execution node and
        control host shares, so that runs from several of them never apply one change twice. Give
        its password in E(PGPASSWORD) or C(~/.pgpass), not in the URL (a URL with a password is
        refused, as Ansible would show it). An unreachable database fails the task before anything
        is sent to Okta.
      - If not set, E(OKTA_LIFECYCLE_JOURNAL) if set, else the default above.
    type: str
  shared_budget:
    description:
      - Whether processes on the same host that talk to the same org share Okta's rate budget through
        a file store (playbooks with C(forks) above 1, cron jobs and the okta-lifecycle command).
      - V(true) or V(false), or the directory of the store.
      - A C(postgresql://) URL shares the budget with every process on every host that names the same
        database (several execution nodes or control hosts). Give its password in E(PGPASSWORD) or
        C(~/.pgpass); a URL holding one is refused, as Ansible would show it. A database that cannot be
        reached is logged and each process governs alone.
      - If not set, the okta-lifecycle default applies (sharing on, or the environment variable
        E(OKTA_LIFECYCLE_SHARED_BUDGET)). Setting it needs an okta-lifecycle release that supports it.
    type: raw
requirements:
  - python >= 3.10
  - okta-lifecycle (the Python package, on the host that runs the module)
notes:
  - The modules run where the task runs. They talk to Okta over HTTPS, not to the inventory host,
    so run them with C(connection=local) or C(delegate_to=localhost).
  - Set the connection options once for a play with
    C(module_defaults) and the action group C(group/okta_lifecycle.okta.okta).
  - Okta's rate limits are respected by the okta-lifecycle governor; requests that Okta refuses with
    HTTP 429 are waited for and retried.
"""
