# -*- coding: utf-8 -*-
# Copyright: okta-lifecycle contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

"""A real org for the module_utils tests: the okta-lifecycle simulator in this process, and a
client on it with a journal in memory."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from okta_lifecycle import OktaClient

okta_lifecycle = pytest.importorskip("okta_lifecycle")
testing = pytest.importorskip("okta_lifecycle.testing")


@pytest.fixture
def client() -> Iterator[OktaClient]:
    with testing.OktaSimulator(seed_users=0) as simulator:
        okta = okta_lifecycle.OktaClient(simulator.url, api_token=simulator.api_token, journal=":memory:")
        try:
            yield okta
        finally:
            okta.close()
