"""The exceptions okta_lifecycle raises, rooted at :class:`OktaError`.

Every exception the package raises on purpose is an :class:`OktaError`; where a built-in class
also fits, it is a second base (``ValueError`` for refused input, ``LookupError`` for a missing
user or group, ``RuntimeError`` for a closed client, the built-in ``TimeoutError`` for a request
past its timeout), so ``except ValueError`` or ``except TimeoutError`` written against the
built-ins keeps working.

Okta's answers become :class:`ApiError` subclasses chosen by Okta error code and HTTP status
(the same taxonomy as the Rust core's ``ErrorKind``); every one carries ``status``,
``error_code``, ``summary``, ``causes``, ``request_id`` and ``error_id``. Nothing here ever holds
a secret.
"""

from __future__ import annotations

import builtins
import datetime

__all__ = [
    "ApiError",
    "AuthenticationError",
    "ClosedError",
    "ConfigurationError",
    "ConflictError",
    "FilterSyntaxError",
    "InternalError",
    "InvalidInputError",
    "InvalidStatusTransitionError",
    "JournalError",
    "NotFoundError",
    "OktaError",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "PlanBlockedError",
    "PlanRejectedError",
    "RateLimitedError",
    "RunInProgressError",
    "ServerError",
    "SimulatorError",
    "TimeoutError",
    "TransportError",
    "ValidationError",
]


class OktaError(Exception):
    """The root of every okta_lifecycle error."""


class ApiError(OktaError):
    """Okta answered with an error."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_code: str | None = None,
        summary: str | None = None,
        causes: list[str] | None = None,
        request_id: str | None = None,
        error_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.summary = summary
        self.causes: list[str] = list(causes or [])
        self.request_id = request_id
        self.error_id = error_id


class ValidationError(ApiError, ValueError):
    """Okta refused the input (HTTP 400, e.g. E0000001 "Api validation failed")."""


class AuthenticationError(ApiError):
    """The credentials were refused (HTTP 401 E0000011, or an OAuth token endpoint error)."""


class PermissionDeniedError(ApiError):
    """The credentials lack a scope or role (HTTP 403 E0000006)."""


class NotFoundError(ApiError, LookupError):
    """No such user or group (HTTP 404 E0000007)."""


class ConflictError(ApiError):
    """The resource changed or is busy (HTTP 409, or 412 for a stale ETag)."""


class InvalidStatusTransitionError(ApiError):
    """The lifecycle operation is not allowed in the user's status (E0000016, E0000032, E0000038)."""


class RateLimitedError(ApiError):
    """Okta's rate limit held after every retry (HTTP 429 E0000047)."""

    def __init__(
        self,
        message: str,
        *,
        reset_at: datetime.datetime | None = None,
        bucket: str | None = None,
        concurrency: bool = False,
        status: int | None = None,
        error_code: str | None = None,
        summary: str | None = None,
        causes: list[str] | None = None,
        request_id: str | None = None,
        error_id: str | None = None,
    ) -> None:
        super().__init__(
            message,
            status=status,
            error_code=error_code,
            summary=summary,
            causes=causes,
            request_id=request_id,
            error_id=error_id,
        )
        self.reset_at = reset_at
        self.bucket = bucket
        self.concurrency = concurrency


class ServerError(ApiError):
    """Okta failed (HTTP 5xx) after every retry."""


class TransportError(OktaError):
    """The request could not be sent or the answer could not be read."""


class TimeoutError(TransportError, builtins.TimeoutError):  # noqa: A001 - the name the API promises
    """The request took longer than the configured timeout. It is also the built-in
    ``TimeoutError`` (and so ``asyncio.TimeoutError``), which an ``except TimeoutError`` in code
    that never imported this one catches."""


class OutcomeUnknownError(OktaError):
    """A create, lifecycle change or reset may or may not have happened; it is never repeated blindly."""


class ConfigurationError(OktaError, ValueError):
    """The client is configured wrongly (URL, credentials, options)."""


class InvalidInputError(OktaError, ValueError):
    """An argument, record or policy was refused before anything was sent."""


class FilterSyntaxError(InvalidInputError):
    """A SCIM filter expression that does not parse."""


class ClosedError(OktaError, RuntimeError):
    """The client or simulator was closed, or was created before this process was forked."""


class SimulatorError(OktaError, RuntimeError):
    """The simulator could not start, or its state file could not be read or written."""


class InternalError(OktaError, RuntimeError):
    """A defect in okta_lifecycle itself, caught before it could harm the calling program; please report it."""


class PlanBlockedError(OktaError):
    """The plan exceeds the policy's safety limits; pass override_safety=True to apply it anyway."""

    def __init__(self, message: str, *, reasons: list[str] | None = None) -> None:
        super().__init__(message)
        self.reasons: list[str] = list(reasons or [])


class PlanRejectedError(OktaError):
    """The plan cannot be applied as given: the journal did not record it when it was made, it
    differs from that record (edited or damaged), it was made for another org, or it was
    superseded: another run of the same policy over the same records (another host's, planned at
    the same time) began after it was made, and ``superseded_by`` names that run. A superseded
    plan is planned again, which sees what the other run did."""

    def __init__(
        self,
        message: str,
        *,
        run_id: str | None = None,
        reason: str | None = None,
        superseded_by: str | None = None,
    ) -> None:
        super().__init__(message)
        self.run_id = run_id
        self.reason = reason
        self.superseded_by = superseded_by


class RunInProgressError(OktaError):
    """Another applier owns the run; apply again once it is done (or pass ``wait_for_lease``)."""

    def __init__(self, message: str, *, run_id: str | None = None, owner: str | None = None) -> None:
        super().__init__(message)
        self.run_id = run_id
        self.owner = owner


class JournalError(OktaError):
    """The journal (the SQLite audit database) could not be read or written."""
