"""pytest fixtures for suites that drive okta_lifecycle offline.

Installed with the package (entry point ``pytest11``), so these fixtures are available as soon as
okta-lifecycle is installed:

* ``okta_simulator``: a fresh simulated Okta org per test. Options come from the marker
  ``@pytest.mark.okta_simulator(seed_users=10, rate_limits="okta", latency_ms=50, faults={...})``
  (the keyword arguments of :class:`okta_lifecycle.testing.OktaSimulator`).
* ``okta_client``: a blocking :class:`okta_lifecycle.OktaClient` bound to it.
* ``async_okta_client``: an :class:`okta_lifecycle.AsyncOktaClient` bound to it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from okta_lifecycle import AsyncOktaClient, OktaClient
from okta_lifecycle.testing import OktaSimulator

__all__ = ["async_okta_client", "okta_client", "okta_simulator"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "okta_simulator(**options): options of the okta_simulator fixture (seed_users, rate_limits, "
        "concurrency_limit, latency_ms, latency_jitter_ms, faults, custom_attributes, rate_limit_window_seconds, "
        "log_delay_seconds, search_delay_seconds)",
    )


@pytest.fixture
def okta_simulator(request: pytest.FixtureRequest) -> Iterator[OktaSimulator]:
    """A fresh simulated Okta org, configured by the ``okta_simulator`` marker."""
    marker = request.node.get_closest_marker("okta_simulator")
    options = dict(marker.kwargs) if marker else {}
    with OktaSimulator(**options) as simulator:
        yield simulator


@pytest.fixture
def okta_client(okta_simulator: OktaSimulator) -> Iterator[OktaClient]:
    """A blocking client bound to ``okta_simulator``."""
    with okta_simulator.client() as client:
        yield client


@pytest.fixture
def async_okta_client(okta_simulator: OktaSimulator) -> Iterator[AsyncOktaClient]:
    """An asyncio client bound to ``okta_simulator``."""
    client = okta_simulator.async_client()
    yield client
    client.close()
