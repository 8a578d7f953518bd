"""The package's pytest plugin (okta_lifecycle.pytest_plugin): loaded through its ``pytest11``
entry point, as in a user's suite, and the source of this suite's ``okta_simulator``,
``okta_client`` and ``async_okta_client``."""

from __future__ import annotations

from collections.abc import Iterator
from importlib.metadata import entry_points
from typing import Any

import pytest

import okta_lifecycle.pytest_plugin
from okta_lifecycle import AsyncOktaClient, OktaClient
from okta_lifecycle.testing import OktaSimulator


def test_the_plugin_is_loaded_through_its_entry_point(pytestconfig: pytest.Config) -> None:
    [entry] = [e for e in entry_points(group="pytest11") if e.name == "okta_lifecycle"]
    assert entry.value == "okta_lifecycle.pytest_plugin"
    assert pytestconfig.pluginmanager.get_plugin("okta_lifecycle") is okta_lifecycle.pytest_plugin
    assert any(line.startswith("okta_simulator(") for line in pytestconfig.getini("markers"))


@pytest.fixture
def after_the_test() -> Iterator[dict[str, Any]]:
    """Set up before (so torn down after) the plugin's fixtures: checks that they were closed."""
    seen: dict[str, Any] = {}
    yield seen
    assert not seen["sim"].running, "okta_simulator is stopped after the test"
    for client in (seen["client"], seen["async_client"]):
        with pytest.raises(RuntimeError, match="closed"):
            client.history("user1@example.com")


def test_without_a_marker_a_fresh_empty_org_and_two_clients_of_it(
    after_the_test: dict[str, Any],
    okta_simulator: OktaSimulator,
    okta_client: OktaClient,
    async_okta_client: AsyncOktaClient,
) -> None:
    after_the_test.update(sim=okta_simulator, client=okta_client, async_client=async_okta_client)
    assert okta_simulator.running and okta_simulator.user("user1@example.com") is None
    assert isinstance(okta_client, OktaClient) and isinstance(async_okta_client, AsyncOktaClient)
    assert okta_client.org_url == async_okta_client.org_url == okta_simulator.url
    assert okta_client.journal_path is None and async_okta_client.journal_path is None
    assert list(okta_client.users.list()) == []


@pytest.mark.okta_simulator(seed_users=2, custom_attributes=["costCenter"])
def test_the_marker_gives_the_simulator_its_options(okta_simulator: OktaSimulator, okta_client: OktaClient) -> None:
    assert [u.login for u in okta_client.users.list()] == ["user1@example.com", "user2@example.com"]
    created = okta_client.users.create(
        {"login": "a@acme.com", "email": "a@acme.com", "firstName": "A", "lastName": "B", "costCenter": "CC-1"}
    )
    held = okta_simulator.user(created.id)
    assert held is not None
    assert held["profile"]["costCenter"] == "CC-1"
