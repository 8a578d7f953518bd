"""Keeps the suite's journals out of the developer's state directory.

A client of an org without an explicit journal writes to the per-org default under
``$XDG_STATE_HOME``; here that is a folder of the test session's own, removed afterwards.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest

_STATE_HOME = tempfile.mkdtemp(prefix="okta-lifecycle-tests-state-")
os.environ["XDG_STATE_HOME"] = _STATE_HOME


@pytest.fixture(scope="session", autouse=True)
def _state_home() -> Iterator[str]:
    yield _STATE_HOME
    shutil.rmtree(_STATE_HOME, ignore_errors=True)
