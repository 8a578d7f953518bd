"""What every test module of the Python suite shares.

* **A private state directory.** A client of an org without an explicit journal writes to the
  per-org default under ``$XDG_STATE_HOME``; here that is a folder of the test session's own,
  set when this file is imported (before any test runs) and removed when pytest finishes.
* **No shared rate budget unless a test asks.** Clients of an org share its rate budget through
  a store under ``$XDG_STATE_HOME`` by default, keyed by host and port; simulators come and go on
  reused ports here, so ``OKTA_LIFECYCLE_SHARED_BUDGET`` is ``off`` for the session and the tests
  of the shared budget give each client its store.
* **The package's own pytest plugin.** ``okta_simulator`` (configured by the
  ``@pytest.mark.okta_simulator(...)`` marker; a module sets its default with ``pytestmark``),
  ``okta_client`` and ``async_okta_client`` come from :mod:`okta_lifecycle.pytest_plugin`, loaded
  through its ``pytest11`` entry point exactly as in a user's suite; nothing here re-registers it.
* **One test body for both clients.** ``client_kind`` is parametrized ``blocking``/``async`` (the
  test ids show which); ``either_client`` is the plugin's ``okta_client`` or
  ``async_okta_client`` behind an :class:`EitherClient`, whose method calls return plain results
  for both: an asyncio method runs in a fresh event loop and must have returned an awaitable
  (except the few that return a value), and a listing comes back drained into a list (``for`` or
  ``async for``, checking it is a lazy page iterator). ``client_kind.bind(sim, **options)`` and
  ``client_kind.connect(url, **options)`` make further clients of the same kind, closed after the
  test; ``client_kind.wrap(raw)`` wraps one made elsewhere.
* **A real PostgreSQL.** ``postgres_server`` starts one for the session on a loopback port (the
  binaries ``scripts/ensure-postgres`` installs) and stops it at the end; a test takes a fresh
  database with ``postgres_server.database_url(name)``.
* **The shared reference checkout.** ``shared_path("okta-openapi/...")`` is the path of a file in
  ``<repo>/../shared``; a missing file skips the test, or fails it when the ``CI`` environment
  variable is set (to anything but ``""``, ``"0"`` or ``"false"``).
"""

from __future__ import annotations

import asyncio
import inspect
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from okta_lifecycle import (
    AsyncOktaClient,
    GroupPages,
    IdentityChanges,
    IdentityEvents,
    LogEvents,
    OktaClient,
    UserPages,
)
from okta_lifecycle._core import (
    Actions,
    AsyncActions,
    AsyncGroups,
    AsyncLogs,
    AsyncRoles,
    AsyncUsers,
    Groups,
    Logs,
    Roles,
    Users,
)
from okta_lifecycle.testing import OktaSimulator

if TYPE_CHECKING:
    from pg_server import PostgresServer

_STATE_HOME = tempfile.mkdtemp(prefix="okta-lifecycle-tests-state-")
os.environ["XDG_STATE_HOME"] = _STATE_HOME
os.environ["OKTA_LIFECYCLE_SHARED_BUDGET"] = "off"


def pytest_unconfigure(config: pytest.Config) -> None:
    # At the very end of the run, --collect-only included (a session fixture would not run then).
    shutil.rmtree(_STATE_HOME, ignore_errors=True)


# --- one test body for the blocking and the asyncio client ----------------------------------------

# Methods that return a lazy listing (an iterator and an async iterator of pages).
LISTINGS = frozenset({"list", "groups", "members", "source_of_identity", "identity_changes"})
# Methods of the asyncio classes that return a value (not an awaitable).
NOT_AWAITABLE = LISTINGS | {"history", "snapshots", "run_progress", "governor_stats", "close"}
PAGES = (UserPages, GroupPages, IdentityEvents, IdentityChanges, LogEvents)
NAMESPACES = (Users, Groups, Actions, Logs, Roles, AsyncUsers, AsyncGroups, AsyncActions, AsyncLogs, AsyncRoles)


def _blocking_call(name: str, method: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    result = method(*args, **kwargs)
    assert not inspect.isawaitable(result), f"the blocking {name} returned an awaitable"
    if name in LISTINGS:
        assert isinstance(result, PAGES), f"{name} should return a listing, not {result!r}"
        assert iter(result) is result
        return list(result)
    return result


async def _async_call(name: str, method: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    result = method(*args, **kwargs)
    if name in LISTINGS:
        assert isinstance(result, PAGES), f"{name} should return a listing, not {result!r}"
        assert result.__aiter__() is result
        return [item async for item in result]
    if name in NOT_AWAITABLE:
        assert not inspect.isawaitable(result), f"{name} should not return an awaitable"
        return result
    assert inspect.isawaitable(result), f"{name} should return an awaitable, not {result!r}"
    return await result


class _Plain:
    """Wraps a client or one of its namespaces (users, groups, actions, logs, roles): a method call returns its
    plain result, whichever kind of client is underneath."""

    def __init__(self, mode: str, target: Any) -> None:
        self._mode = mode
        self._target = target

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if isinstance(value, NAMESPACES):
            return _Plain(self._mode, value)
        if not callable(value):
            return value
        if self._mode == "blocking":
            return lambda *args, **kwargs: _blocking_call(name, value, args, kwargs)
        # The call itself happens inside the event loop, as an asyncio caller would make it.
        return lambda *args, **kwargs: asyncio.run(_async_call(name, value, args, kwargs))


class EitherClient(_Plain):
    """A blocking or an asyncio client (``raw``) whose method calls return plain results."""

    def __init__(self, mode: str, raw: OktaClient | AsyncOktaClient) -> None:
        super().__init__(mode, raw)
        self.mode = mode
        self.raw = raw

    def __repr__(self) -> str:
        return f"EitherClient({self.mode}, {self.raw!r})"


@dataclass
class ClientKind:
    """The kind of client a test runs with, and a maker of more clients of that kind."""

    mode: str
    cls: type[OktaClient] | type[AsyncOktaClient]
    opened: list[OktaClient | AsyncOktaClient] = field(default_factory=list)

    def wrap(self, raw: OktaClient | AsyncOktaClient) -> EitherClient:
        assert isinstance(raw, self.cls), f"a {self.mode} test got {raw!r}"
        return EitherClient(self.mode, raw)

    def connect(self, org_url: str, **options: Any) -> EitherClient:
        """``cls(org_url, **options)``, closed after the test."""
        raw = self.cls(org_url, **options)
        self.opened.append(raw)
        return self.wrap(raw)

    def bind(self, sim: OktaSimulator, **options: Any) -> EitherClient:
        """A client of ``sim`` like ``sim.client()`` (its token, its journal in memory), with options."""
        return self.connect(sim.url, **{"api_token": sim.api_token, "journal": ":memory:", **options})


@pytest.fixture(params=["blocking", "async"])
def client_kind(request: pytest.FixtureRequest) -> Iterator[ClientKind]:
    kind = ClientKind(request.param, OktaClient if request.param == "blocking" else AsyncOktaClient)
    yield kind
    for raw in kind.opened:
        raw.close()


@pytest.fixture
def either_client(client_kind: ClientKind, request: pytest.FixtureRequest) -> EitherClient:
    """The plugin's ``okta_client`` or ``async_okta_client`` (bound to ``okta_simulator``)."""
    name = "okta_client" if client_kind.mode == "blocking" else "async_okta_client"
    return client_kind.wrap(request.getfixturevalue(name))


# --- the shared reference checkout ----------------------------------------------------------------

SHARED = Path(__file__).resolve().parents[2].parent / "shared"


def in_ci() -> bool:
    """Whether the suite runs in CI: ``CI`` set to anything but ``""``, ``"0"`` or ``"false"``."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false")


def _shared_path(relative: str) -> Path:
    path = SHARED / relative
    if path.exists():
        return path
    reason = f"../shared/{relative} not found (looked for {path})"
    if in_ci():
        pytest.fail(f"{reason}; CI must provide the shared checkout", pytrace=False)
    pytest.skip(f"{reason}; it is the reference checkout next to the repository")


@pytest.fixture(scope="session")
def shared_path() -> Callable[[str], Path]:
    """``shared_path(relative)``: the file ``<repo>/../shared/<relative>``; when it is missing the
    test is skipped, or failed in CI."""
    return _shared_path


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the session (see ``pg_server.py``), stopped when it ends; each
    test takes a database of its own with ``postgres_server.database_url(name)``."""
    from pg_server import PostgresServer

    with PostgresServer() as server:
        yield server
