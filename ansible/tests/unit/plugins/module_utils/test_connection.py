# -*- coding: utf-8 -*-
# Copyright: okta-lifecycle contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

"""The connection options as okta_lifecycle.OktaClient takes them."""

from __future__ import annotations

from typing import Any

import pytest
from okta_lifecycle import OktaClient

from ansible_collections.okta_lifecycle.okta.plugins.module_utils.connection import (
    CONNECTION_ARGUMENT_SPEC,
    argument_spec,
    client_options,
    holds_password,
    journal_option,
)


def params(**given: Any) -> dict[str, Any]:
    """The module parameters as AnsibleModule gives them: every connection option, with its default."""
    values = dict((name, spec.get("default")) for name, spec in CONNECTION_ARGUMENT_SPEC.items())
    values.update(given)
    return values


def test_every_option_of_the_doc_fragment_and_its_environment_variable() -> None:
    fallbacks = dict(
        (name, spec["fallback"][1][0]) for name, spec in CONNECTION_ARGUMENT_SPEC.items() if "fallback" in spec
    )
    assert fallbacks == {
        "org_url": "OKTA_ORG_URL",
        "api_token": "OKTA_API_TOKEN",
        "client_id": "OKTA_CLIENT_ID",
        "private_key": "OKTA_PRIVATE_KEY",
        "private_key_path": "OKTA_PRIVATE_KEY_PATH",
        "scopes": "OKTA_SCOPES",
        "key_id": "OKTA_KEY_ID",
        "dpop": "OKTA_DPOP",
    }
    secret = sorted(name for name, spec in CONNECTION_ARGUMENT_SPEC.items() if spec.get("no_log"))
    assert secret == ["api_token", "private_key"]
    spec = argument_spec(login=dict(type="str", required=True))
    assert spec["login"] == {"type": "str", "required": True} and "org_url" in spec
    assert "login" not in CONNECTION_ARGUMENT_SPEC


@pytest.mark.parametrize(
    ("url", "holds"),
    [
        ("postgresql://lifecycle:hunter2@db.example/okta", True),
        ("postgres://lifecycle:@db.example/okta", True),
        ("POSTGRESQL://db.example/okta?sslmode=require&password=hunter2", True),
        ("postgresql://lifecycle@db.example/okta", False),
        ("postgresql://db.example:5432/okta", False),
        ("/var/lib/okta-lifecycle/user:secret@acme.sqlite", False),
    ],
)
def test_a_database_url_holding_a_password(url: str, holds: bool) -> None:
    assert holds_password(url) is holds


def test_the_journal_option(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/ada")
    monkeypatch.setenv("OKTA_STATE", "/srv/state")
    assert journal_option(None) is None
    assert journal_option(":memory:") == ":memory:"
    assert journal_option("~/acme.sqlite") == "/home/ada/acme.sqlite"
    assert journal_option("$OKTA_STATE/acme.sqlite") == "/srv/state/acme.sqlite"
    assert journal_option(" postgresql://lifecycle@db/okta ") == "postgresql://lifecycle@db/okta"
    with pytest.raises(ValueError, match="journal URL holds a password.*PGPASSWORD"):
        journal_option("postgresql://lifecycle:hunter2@db/okta")


def test_client_options_need_a_url_and_credentials() -> None:
    with pytest.raises(ValueError, match="org_url is required.*OKTA_ORG_URL"):
        client_options(params(api_token="token"))
    with pytest.raises(ValueError, match="credentials are required.*OKTA_API_TOKEN"):
        client_options(params(org_url="https://acme.okta.com"))
    with pytest.raises(ValueError, match="shared_budget URL holds a password"):
        client_options(params(org_url="https://acme.okta.com", api_token="t", shared_budget="postgresql://u:p@db/okta"))


def test_client_options_configure_a_real_client(client: OktaClient) -> None:
    options = client_options(
        params(
            org_url=client.org_url,
            api_token="00token",
            scopes=["okta.users.read okta.groups.read"],
            journal=":memory:",
            shared_budget=False,
            dpop=None,
        )
    )
    assert options["journal"] == ":memory:"
    assert options["shared_budget"] is False and "dpop" not in options
    assert options["timeout"] == 30.0 and options["max_concurrency"] == 75
    configured = OktaClient(client.org_url, **options)
    try:
        assert configured.org_url == client.org_url
    finally:
        configured.close()
    assert "shared_budget" not in client_options(params(org_url=client.org_url, api_token="t"))
