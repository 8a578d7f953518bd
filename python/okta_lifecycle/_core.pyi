"""Type stubs for the okta_lifecycle._core extension module."""

import os
from typing import Any, final

__all__ = ["FilterSyntaxError", "OktaSimulator", "__version__", "scim_canonical", "scim_quote"]
__version__: str

class FilterSyntaxError(ValueError):
    """A SCIM filter expression that does not parse."""

def scim_quote(value: str) -> str:
    """Quote a value as a SCIM string literal: no value can change the expression around it."""

def scim_canonical(expression: str) -> str:
    """Parse a SCIM filter and return its canonical text.

    Operators come out in lower case, values escaped, parentheses only where precedence needs them.
    """

@final
class OktaSimulator:
    """A simulated Okta org served on a loopback port: users, groups, lifecycle, sessions, OAuth.

    Use it as a context manager; ``close()`` stops it. Knobs: rate limits per bucket (None,
    "okta" for Okta's Workforce defaults, or ``{"/api/v1/users": 600, ...}``), a concurrency
    limit, latency with jitter, and random faults ``{"500": p, "502": p, "503": p, "504": p,
    "drop_before": p, "drop_after": p, "slow": p, "slow_ms": ms, "seed": n}``.
    """

    def __new__(
        cls,
        *,
        seed_users: int = 0,
        rate_limits: str | dict[str, int] | None = None,
        concurrency_limit: int | None = None,
        latency_ms: int = 0,
        latency_jitter_ms: int = 0,
        faults: dict[str, float] | None = None,
        custom_attributes: list[str] | None = None,
        api_token: str | None = None,
        state_file: str | os.PathLike[str] | None = None,
        port: int = 0,
        rate_limit_window_seconds: float = 60.0,
    ) -> OktaSimulator: ...
    @property
    def url(self) -> str:
        """The org's base URL, ``http://127.0.0.1:PORT``."""
    @property
    def api_token(self) -> str:
        """The SSWS API token with every scope."""
    @property
    def running(self) -> bool:
        """Whether the server is still running."""
    def requests(self) -> list[dict[str, Any]]:
        """The request log: method, path, query, status, bucket, dropped, at (epoch seconds)."""
    def clear_requests(self) -> None:
        """Empty the request log."""
    def counters(self) -> dict[str, Any]:
        """requests, rate_limited, concurrency_limited, by_status, reset_password, max_in_flight."""
    def reset(self) -> None:
        """Empty the org (seed users again), the log, the counters and the rate-limit windows."""
    def script_fault(self, method: str, path_prefix: str, fault: int | str) -> None:
        """Give the next matching request a fault: a status, "drop_before", "drop_after" or "delay:MS"."""
    def create_session(self, user_id: str) -> bool:
        """Give a user an IdP session so that a logout can be observed."""
    def create_oauth_token(self, user_id: str) -> bool:
        """Give a user an OAuth token grant."""
    def sessions(self, user_id: str) -> int:
        """The user's IdP sessions."""
    def oauth_tokens(self, user_id: str) -> int:
        """The user's OAuth token grants."""
    def user(self, id_or_login: str) -> dict[str, Any] | None:
        """The user's JSON as the org holds it, or None."""
    def group_members(self, group_id: str) -> list[str]:
        """The ids of a group's members."""
    def seed_app_group(self, name: str) -> str:
        """Create an APP_GROUP (memberships not writable through the API); return its id."""
    def add_api_token(self, token: str, scopes: list[str] | None = None) -> None:
        """Accept another SSWS token, optionally restricted to some scopes."""
    def register_oauth_app(
        self, client_id: str, public_keys: list[dict[str, Any]], scopes: list[str], require_dpop: bool = True
    ) -> None:
        """Register an OAuth service app: public JWKs, granted scopes, whether DPoP is required."""
    def close(self) -> None:
        """Stop the server (saving the state file, if any). Idempotent."""
    def __enter__(self) -> OktaSimulator: ...
    def __exit__(self, *_exc: object) -> bool: ...
