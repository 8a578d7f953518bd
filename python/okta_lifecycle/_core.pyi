"""Type stubs for the okta_lifecycle._core extension module (the Rust core's Python bindings).

Blocking classes (``OktaClient``, ``Users``, ``Groups``, ``Actions``) return values; their asyncio
twins (``AsyncOktaClient``, ``AsyncUsers``, ``AsyncGroups``, ``AsyncActions``) return awaitables
(asyncio futures, which need a running event loop when the method is called) of the same values.
Listings (``UserPages``, ``GroupPages``, ``IdentityEvents``, ``LogEvents``) are both iterators and async iterators.
"""

import datetime
import os
import pathlib
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, ClassVar, Literal, TypeAlias, final

from typing_extensions import Self

from okta_lifecycle.types import (
    AttributeChange,
    Change,
    ChangeRecord,
    DriftEvent,
    GovernorStats,
    LogEvent,
    LogParty,
    Outcome,
    PartitionReport,
    PlanRead,
    PlanSummary,
    RecordIssue,
    RoleAssignment,
    RunInfo,
    SimulatorCounters,
    SimulatorRequest,
    UserSnapshot,
)

__all__ = [
    "__version__",
    "scim_quote",
    "scim_canonical",
    "refresh_logging",
    "shutdown",
    "OktaSimulator",
    "OktaClient",
    "AsyncOktaClient",
    "Users",
    "AsyncUsers",
    "Groups",
    "AsyncGroups",
    "Logs",
    "AsyncLogs",
    "Actions",
    "AsyncActions",
    "Schema",
    "AsyncSchema",
    "Roles",
    "AsyncRoles",
    "IdentityChange",
    "IdentityEvent",
    "User",
    "Group",
    "Secret",
    "Policy",
    "Plan",
    "Report",
    "PartitionedUsers",
    "UserPages",
    "GroupPages",
    "IdentityChanges",
    "IdentityEvents",
    "LogEvents",
]

__version__: str

_StrPath: TypeAlias = str | os.PathLike[str]
_Profile: TypeAlias = Mapping[str, Any]
_UserRef: TypeAlias = User | str
"""A user: a ``User``, or its id or login."""
_GroupRef: TypeAlias = Group | str
"""A group: a ``Group``, or its id."""
_Records: TypeAlias = Sequence[Mapping[str, Any]] | _StrPath
"""Identity records: a list of dicts, or the path of a .csv or .jsonl file."""
_RelationshipMode: TypeAlias = Literal["add", "remove", "sync"]
_DeprovisionMode: TypeAlias = Literal["deactivate", "suspend"]

def scim_quote(value: str) -> str:
    """Quote a value as a SCIM string literal: no value can change the expression around it."""

def scim_canonical(expression: str) -> str:
    """Parse a SCIM filter and return its canonical text.

    Operators come out in lower case, values escaped, parentheses only where precedence needs them.
    Raises okta_lifecycle.errors.FilterSyntaxError if it does not parse.
    """

def refresh_logging() -> None:
    """Make the core see changes to Python's logging configuration (levels are cached)."""

def shutdown() -> None:
    """Stop runtime threads from calling into Python (registered with ``atexit``; not for direct use)."""

# --- models -------------------------------------------------------------------------------------

@final
class User:
    """An Okta user. Read-only; equal to another ``User`` with the same JSON. Its repr shows no secret."""

    __hash__: ClassVar[None]  # type: ignore[assignment]  # unhashable: object's __hash__ is a method
    @property
    def id(self) -> str:
        """The user's id."""
    @property
    def login(self) -> str | None:
        """``profile.login``."""
    @property
    def email(self) -> str | None:
        """``profile.email``."""
    @property
    def status(self) -> str:
        """The status: STAGED, PROVISIONED, ACTIVE, RECOVERY, PASSWORD_EXPIRED, LOCKED_OUT, SUSPENDED,
        DEPROVISIONED."""
    @property
    def transitioning_to_status(self) -> str | None:
        """The status the user is moving to, while Okta is still working on it."""
    @property
    def profile(self) -> dict[str, Any]:
        """The profile, custom attributes included (a new dict on each access)."""
    @property
    def created(self) -> datetime.datetime | None:
        """When the user was created (an aware UTC datetime)."""
    @property
    def activated(self) -> datetime.datetime | None:
        """When the user was last activated."""
    @property
    def status_changed(self) -> datetime.datetime | None:
        """When the status last changed."""
    @property
    def last_login(self) -> datetime.datetime | None:
        """When the user last signed in."""
    @property
    def last_updated(self) -> datetime.datetime | None:
        """When the user last changed."""
    @property
    def password_changed(self) -> datetime.datetime | None:
        """When the password last changed."""
    @property
    def raw(self) -> dict[str, Any]:
        """The user's JSON as Okta returned it."""
    def __eq__(self, value: object, /) -> bool: ...
    def _repr_html_(self) -> str:
        """An HTML table of the id, status and profile (for notebooks)."""

@final
class Group:
    """An Okta group. Read-only; equal to another ``Group`` with the same JSON."""

    __hash__: ClassVar[None]  # type: ignore[assignment]  # unhashable: object's __hash__ is a method
    @property
    def id(self) -> str:
        """The group's id."""
    @property
    def name(self) -> str | None:
        """``profile.name``."""
    @property
    def description(self) -> str | None:
        """``profile.description``."""
    @property
    def type(self) -> str:
        """The group type (Okta's ``type``): OKTA_GROUP, APP_GROUP or BUILT_IN."""
    @property
    def profile(self) -> dict[str, Any]:
        """The group's profile."""
    @property
    def created(self) -> datetime.datetime | None:
        """When the group was created (an aware UTC datetime)."""
    @property
    def last_updated(self) -> datetime.datetime | None:
        """When the group's profile last changed."""
    @property
    def last_membership_updated(self) -> datetime.datetime | None:
        """When the group's membership last changed."""
    @property
    def users_count(self) -> int | None:
        """The member count (only when listed with ``expand_stats=True``)."""
    @property
    def raw(self) -> dict[str, Any]:
        """The group's JSON as Okta returned it."""
    def __eq__(self, value: object, /) -> bool: ...
    def _repr_html_(self) -> str:
        """An HTML table of the id, name, type and description (for notebooks)."""

@final
class Secret:
    """A secret Okta returned (reset link, temporary password, activation link).

    Its repr and str never show it; ``reveal()`` does.
    """

    __hash__: ClassVar[None]  # type: ignore[assignment]  # unhashable: object's __hash__ is a method
    def reveal(self) -> str:
        """The secret's text."""
    def __eq__(self, value: object, /) -> bool: ...

@final
class Policy:
    """A lifecycle policy: attribute mappings, workflows of actions and safety limits."""

    @staticmethod
    def from_file(path: _StrPath) -> Policy:
        """Load a TOML policy file."""
    @staticmethod
    def from_toml(text: str) -> Policy:
        """Load a policy from TOML text."""
    @staticmethod
    def from_dict(value: Mapping[str, Any]) -> Policy:
        """Load a policy from a dict with the TOML schema."""
    @property
    def name(self) -> str:
        """The policy's name."""
    @property
    def workflows(self) -> list[str]:
        """The names of the policy's workflows, in order."""

@final
class Plan:
    """A plan: every change a run would make. ``len(plan)`` is the number of changes."""

    @property
    def run_id(self) -> str:
        """The run's id (applying the plan again resumes that run)."""
    @property
    def policy(self) -> str:
        """The name of the policy it was made from."""
    @property
    def changes(self) -> list[Change]:
        """The changes, in order."""
    @property
    def issues(self) -> list[RecordIssue]:
        """Records that could not be planned (row and message)."""
    @property
    def events(self) -> dict[str, str]:
        """The event of each identity, by its source key: "joiner", "mover", "leaver", ..."""
    @property
    def summary(self) -> PlanSummary:
        """Counts of the changes by kind."""
    @property
    def read(self) -> PlanRead | None:
        """How the org was read, when ``plan(..., incremental=True)`` was asked for: ``mode``
        ("incremental" or "full"), the ``reason`` for a full read, the users read and deleted, the
        groups whose members were read, and the watermark it read from."""
    @property
    def blocked(self) -> list[str]:
        """Why the policy's safety limits block the plan (empty: not blocked)."""
    @property
    def is_empty(self) -> bool:
        """Whether the plan changes nothing."""
    def diff(self) -> dict[str, dict[str, Any]]:
        """What the plan changes, per identity and for each group it creates, from its changes
        alone: ``{"before": {key: ...}, "after": {key: ...}}`` (check mode's diff)."""
    def predict(self, before: Mapping[str, Any]) -> dict[str, Any]:
        """The state a user (``{"exists", "login", "status", "profile", "groups"}`` as read now) is
        left in once the plan's changes are applied (a plan of that user's changes)."""
    def render(self) -> str:
        """The plan as text."""
    def to_json(self) -> str:
        """The plan as JSON (it can be applied later with ``Plan.from_json``)."""
    @staticmethod
    def from_json(text: str) -> Plan:
        """Read a plan saved with ``to_json``."""
    def __len__(self) -> int: ...
    def _repr_html_(self) -> str:
        """An HTML table of the changes, issues and blocking reasons (for notebooks)."""

@final
class Report:
    """What applying a plan (or one action) did."""

    @property
    def run_id(self) -> str:
        """The run's id."""
    @property
    def outcomes(self) -> list[Outcome]:
        """One outcome per change: seq, operation, login, status, message."""
    @property
    def counts(self) -> dict[str, int]:
        """Counts of the outcomes by status."""
    @property
    def is_success(self) -> bool:
        """Whether every change succeeded and the journal recorded it all."""
    @property
    def journal_error(self) -> str | None:
        """Why the journal could not record the end of the run, if it could not (the changes and
        links in this report are as Okta made them)."""
    @property
    def reset_links(self) -> dict[str, Secret]:
        """Password-reset links Okta returned, by login (as secrets)."""
    @property
    def activation_links(self) -> dict[str, Secret]:
        """Activation links of reactivated users (``send_email=False``), by login (as secrets)."""
    def render(self) -> str:
        """The report as text."""
    def _repr_html_(self) -> str:
        """An HTML table of the outcomes (for notebooks)."""

@final
class IdentityEvent:
    """One identity read from Okta with its joiner / mover / leaver event."""

    @property
    def event(self) -> Literal["joiner", "mover", "leaver", "updated"]:
        """One of "joiner", "mover", "leaver" or "updated"."""
    @property
    def user(self) -> User:
        """The user as Okta returned it."""
    @property
    def record(self) -> dict[str, Any]:
        """The identity record: the profile plus id, status and timestamps."""
    @property
    def moved(self) -> list[AttributeChange]:
        """Mover attributes that changed: ``[{"attribute", "before", "after"}]``."""

@final
class IdentityChange:
    """One identity change read from Okta's System Log (``actions.identity_changes``), with who made
    it."""

    @property
    def event(self) -> Literal["joiner", "mover", "leaver", "returner", "deleted", "updated"]:
        """One of "joiner", "mover", "leaver", "returner", "deleted" or "updated"."""
    @property
    def user_id(self) -> str:
        """The user's id."""
    @property
    def login(self) -> str | None:
        """The user's login."""
    @property
    def user(self) -> User | None:
        """The user as Okta returns it now (None once deleted)."""
    @property
    def record(self) -> dict[str, Any]:
        """The identity record: the user's now, or for a deleted user its id, login and status
        ``DELETED``."""
    @property
    def moved(self) -> list[AttributeChange]:
        """Mover attributes that changed: ``[{"attribute", "before", "after"}]``."""
    @property
    def actor(self) -> LogParty | None:
        """Who made the change."""
    @property
    def event_type(self) -> str:
        """The System Log event's type (``user.lifecycle.create``, ...)."""
    @property
    def published(self) -> datetime.datetime:
        """When Okta recorded it: the watermark to read on from."""
    @property
    def uuid(self) -> str:
        """The System Log event's uuid."""

# --- listings -----------------------------------------------------------------------------------

@final
class UserPages:
    """A lazy listing of users, one page in memory at a time: iterate it, or ``async for`` over it."""

    def __iter__(self) -> Self: ...
    def __next__(self) -> User: ...
    def __aiter__(self) -> Self: ...
    def __anext__(self) -> Awaitable[User]: ...

@final
class PartitionedUsers:
    """The users a partitioned read found, in id order: iterate it once (each user is decoded as it is
    reached; the org is held as Okta's JSON text), ``len()`` counts them."""

    def __len__(self) -> int: ...
    def __iter__(self) -> Self: ...
    def __next__(self) -> User: ...
    @property
    def report(self) -> PartitionReport:
        """What the read did: pages, ranges, crowded milliseconds, users caught up, and the catch-up's
        lower bound on ``lastUpdated``."""

@final
class GroupPages:
    """A lazy listing of groups, one page in memory at a time: iterate it, or ``async for`` over it."""

    def __iter__(self) -> Self: ...
    def __next__(self) -> Group: ...
    def __aiter__(self) -> Self: ...
    def __anext__(self) -> Awaitable[Group]: ...

@final
class IdentityEvents:
    """A lazy listing of identity events: iterate it, or ``async for`` over it."""

    def __iter__(self) -> Self: ...
    def __next__(self) -> IdentityEvent: ...
    def __aiter__(self) -> Self: ...
    def __anext__(self) -> Awaitable[IdentityEvent]: ...

@final
class IdentityChanges:
    """A lazy listing of identity changes read from the System Log: iterate it, or ``async for`` over it."""

    def __iter__(self) -> Self: ...
    def __next__(self) -> IdentityChange: ...
    def __aiter__(self) -> Self: ...
    def __anext__(self) -> Awaitable[IdentityChange]: ...

@final
class LogEvents:
    """System Log events, lazily: iterate them, or ``async for`` over them. A followed log never
    ends by itself: ``close()`` ends it (also from another thread or task, while it waits)."""

    def __iter__(self) -> Self: ...
    def __next__(self) -> LogEvent: ...
    def __aiter__(self) -> Self: ...
    def __anext__(self) -> Awaitable[LogEvent]: ...
    def close(self) -> None:
        """Stop the listing: an iteration waiting for events ends, and later ones end at once."""

# --- blocking API -------------------------------------------------------------------------------

@final
class Users:
    """The Users API (blocking)."""

    def get(self, id_or_login: str) -> User:
        """A user by id or login."""
    def create(
        self,
        profile: _Profile,
        *,
        password: str | None = None,
        activate: bool = True,
        provider: bool = False,
        next_login: Literal["changePassword"] | None = None,
        group_ids: Sequence[str] | None = None,
    ) -> User:
        """Create a user (ACTIVE with ``activate=True``, else STAGED)."""
    def update(self, user: _UserRef, profile: _Profile) -> User:
        """Update the given profile attributes (None clears one)."""
    def replace(self, user: _UserRef, profile: _Profile, *, if_match: str | None = None) -> User:
        """Replace the profile; with ``if_match``, only if the user is unchanged since that ETag."""
    def activate(self, user: _UserRef, *, send_email: bool = True) -> Secret | None:
        """Activate a STAGED or DEPROVISIONED user; with ``send_email=False`` return the activation link."""
    def reactivate(self, user: _UserRef, *, send_email: bool = False) -> Secret | None:
        """Send a new activation to a PROVISIONED or RECOVERY user."""
    def deactivate(self, user: _UserRef, *, send_email: bool = False) -> None:
        """Deactivate a user (memberships are kept by Okta)."""
    def suspend(self, user: _UserRef) -> None:
        """Suspend an ACTIVE user."""
    def unsuspend(self, user: _UserRef) -> None:
        """Return a SUSPENDED user to ACTIVE."""
    def unlock(self, user: _UserRef) -> None:
        """Unlock a LOCKED_OUT user."""
    def expire_password(self, user: _UserRef) -> User:
        """Expire the password."""
    def expire_password_with_temp_password(self, user: _UserRef, *, revoke_sessions: bool = False) -> Secret:
        """Expire the password and return a temporary one (a Secret)."""
    def reset_password(
        self, user: _UserRef, *, send_email: bool = True, revoke_sessions: bool = False
    ) -> Secret | None:
        """Start Okta's password reset; with ``send_email=False`` return the reset link (a Secret)."""
    def reset_factors(self, user: _UserRef) -> None:
        """Reset every enrolled factor."""
    def delete(self, user: _UserRef, *, permanently: bool = True) -> None:
        """Delete a user: for good (deactivating first when needed), or with ``permanently=False`` one
        DELETE (which only deactivates a user that is not DEPROVISIONED)."""
    def clear_sessions(self, user: _UserRef, *, oauth_tokens: bool = True, forget_devices: bool | None = None) -> None:
        """End the user's sessions; with ``oauth_tokens`` also revoke their OAuth tokens."""
    def list(
        self,
        *,
        search: str | None = None,
        filter: str | None = None,
        q: str | None = None,
        sort_by: str | None = None,
        sort_order: Literal["asc", "desc"] | None = None,
        limit: int | None = None,
    ) -> UserPages:
        """List users lazily (use at most one of search, filter and q; ``limit`` is the page size)."""
    def list_partitioned(self, *, chains: int = 8, settle: float = 2.0, limit: int | None = None) -> PartitionedUsers:
        """Every user (DEPROVISIONED included), read as ``chains`` searches over ranges of ``created`` side
        by side, then caught up with the users changed meanwhile after ``settle`` seconds for Okta's
        search index: each user once, in the newest version read, in id order."""
    def groups(self, user: _UserRef) -> GroupPages:
        """The groups a user belongs to, Everyone included."""
    def get_with_etag(self, id_or_login: str) -> tuple[User, str | None]:
        """A user and its ETag, for ``replace(..., if_match=etag)``."""

@final
class Groups:
    """The Groups API (blocking)."""

    def create(self, name: str, description: str | None = None) -> Group:
        """Create an OKTA_GROUP."""
    def get(self, group: _GroupRef) -> Group:
        """A group by id."""
    def find(self, name: str) -> Group | None:
        """A group by exact name (ignoring case), or None."""
    def replace(self, group: _GroupRef, name: str, description: str | None = None) -> Group:
        """Replace an OKTA_GROUP's name and description."""
    def delete(self, group: _GroupRef) -> None:
        """Delete a group."""
    def add_member(self, group: _GroupRef, user: _UserRef) -> None:
        """Add a user to an OKTA_GROUP (already a member: nothing happens)."""
    def remove_member(self, group: _GroupRef, user: _UserRef) -> None:
        """Remove a user from an OKTA_GROUP."""
    def list(
        self,
        *,
        search: str | None = None,
        filter: str | None = None,
        q: str | None = None,
        expand_stats: bool = False,
        limit: int | None = None,
    ) -> GroupPages:
        """List groups lazily (use at most one of search, filter and q; ``limit`` is the page size)."""
    def members(self, group: _GroupRef) -> UserPages:
        """A group's members, lazily."""

@final
class Actions:
    """The lifecycle actions (blocking); each returns the Report of a one-identity run."""

    def sync_identities(self, profile: _Profile, *, create: bool = True, activate: bool = True) -> Report:
        """SYNC_IDENTITIES: create the user (matched by ``profile["login"]``) or update the given
        attributes that differ."""
    def manage_relationships(
        self,
        user: _UserRef,
        groups: Sequence[str],
        *,
        mode: _RelationshipMode = ...,
        exclusive_prefix: str | None = None,
    ) -> Report:
        """MANAGE_RELATIONSHIPS: mode "add" (the default), "remove" or "sync" (with ``exclusive_prefix``)."""
    def deprovision_identity(
        self,
        user: _UserRef,
        *,
        mode: _DeprovisionMode = ...,
        remove_groups: bool = True,
        logout: bool = True,
        remove_roles: bool = True,
    ) -> Report:
        """DEPROVISION_IDENTITY: history recorded, account disabled (mode "deactivate", the default, or
        "suspend"), memberships and the admin roles the user holds itself removed, logged out."""
    def reactivate_identity(
        self, user: _UserRef, *, restore_groups: bool = True, send_email: bool = True, restore_roles: bool = True
    ) -> Report:
        """Bring a deprovisioned user back, restoring the memberships and admin roles it had when deprovisioned.
        A DEPROVISIONED user gets Okta's activation email, or with ``send_email=False`` the link
        in ``report.activation_links``."""
    def create_entitlement(self, name: str, description: str | None = None) -> Report:
        """CREATE_ENTITLEMENT: create the group unless it exists."""
    def reset_password(self, login: str, *, send_email: bool = True, revoke_sessions: bool = False) -> Report:
        """RESET_PASSWORD: a new reset event each call; the link is in ``report.reset_links`` when
        ``send_email`` is False."""
    def source_of_identity(
        self,
        *,
        since: datetime.datetime | None = None,
        mover_attributes: Sequence[str] = ...,
        entitlements: bool = False,
    ) -> IdentityEvents:
        """SOURCE_OF_IDENTITY: every user (``since=None``) or those changed after ``since``, each with
        its event. Movers are told apart by the attributes the journal saw last; reading updates
        what it saw. With ``entitlements=True`` each record also holds ``groups`` (names) and
        ``roles`` (admin role types), at two more requests per user."""
    def identity_changes(
        self,
        *,
        since: datetime.datetime,
        until: datetime.datetime | None = None,
        mover_attributes: Sequence[str] = ...,
    ) -> IdentityChanges:
        """SOURCE_OF_IDENTITY from Okta's System Log: the joiners, movers, leavers, returners and
        deletions recorded between ``since`` and ``until`` (default now), oldest first, each with
        who made it (``actor``). Deleted users, which no listing shows, are seen here. Read on from
        the last change's ``published``. Needs okta.logs.read."""

@final
class Schema:
    """The user profile schema and user types (blocking)."""

    def get(self) -> dict[str, Any]:
        """The default user type's schema (Okta's JSON: ``definitions.base`` and ``definitions.custom``)."""
    def update_custom(self, properties: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
        """Add or change custom attributes, e.g. ``{"costCenter": {"title": "Cost center", "type": "integer"}}``."""
    def remove_custom(self, name: str) -> dict[str, Any]:
        """Remove a custom attribute (and every user's value of it)."""
    def user_types(self) -> list[dict[str, Any]]:
        """Every user type."""
    def create_user_type(self, name: str, display_name: str, description: str | None = None) -> dict[str, Any]:
        """Create a user type."""
    def get_user_type(self, type_id: str) -> dict[str, Any]:
        """A user type by id."""
    def delete_user_type(self, type_id: str) -> None:
        """Delete a user type that is not the default and that no user has."""

@final
class Logs:
    """Okta's System Log (blocking)."""

    def list(
        self,
        *,
        since: datetime.datetime | None = None,
        until: datetime.datetime | None = None,
        filter: str | None = None,
        q: str | None = None,
        limit: int | None = None,
        descending: bool = False,
    ) -> LogEvents:
        """Events published from ``since`` (Okta's default: seven days ago) until ``until``
        (default: now), oldest first (``descending=True``: newest first). ``filter`` is a SCIM
        filter over event fields; ``q`` keywords that must all appear; ``limit`` the page size (1 to
        1,000). Needs the okta.logs.read scope."""
    def follow(
        self,
        *,
        since: datetime.datetime | None = None,
        filter: str | None = None,
        q: str | None = None,
        limit: int | None = None,
        interval: float = 5.0,
    ) -> LogEvents:
        """Follow the log from ``since`` (default: now): each event as Okta makes it visible,
        asking again ``interval`` seconds after a page with nothing new. It never ends by itself:
        call ``close()`` on it, break out of the loop, or cancel the task."""

@final
class Roles:
    """Admin role assignments of users and groups (blocking); give exactly one of ``user=`` and ``group=``."""

    def assign(
        self, role_type: str, *, user: _UserRef | None = None, group: _GroupRef | None = None
    ) -> RoleAssignment:
        """Assign a standard role (USER_ADMIN, HELP_DESK_ADMIN, ...)."""
    def unassign(
        self, assignment_id: str, *, user: _UserRef | None = None, group: _GroupRef | None = None
    ) -> None:
        """Remove a role assignment."""
    def group_targets(
        self, assignment_id: str, *, user: _UserRef | None = None, group: _GroupRef | None = None
    ) -> list[dict[str, Any]]:
        """The groups a scoped role is limited to (empty: every group)."""
    def add_group_target(
        self, assignment_id: str, target: _GroupRef, *, user: _UserRef | None = None, group: _GroupRef | None = None
    ) -> None:
        """Limit a scoped role (USER_ADMIN, GROUP_MEMBERSHIP_ADMIN, HELP_DESK_ADMIN) to ``target`` too."""
    def remove_group_target(
        self, assignment_id: str, target: _GroupRef, *, user: _UserRef | None = None, group: _GroupRef | None = None
    ) -> None:
        """Remove a group from a scoped role's targets."""
    def app_targets(
        self, assignment_id: str, *, user: _UserRef | None = None, group: _GroupRef | None = None
    ) -> list[dict[str, Any]]:
        """The catalog apps an APP_ADMIN role is limited to."""
    def add_app_target(
        self, assignment_id: str, app_name: str, *, user: _UserRef | None = None, group: _GroupRef | None = None
    ) -> None:
        """Limit an APP_ADMIN role to a catalog app (by name, e.g. "salesforce")."""
    def remove_app_target(
        self, assignment_id: str, app_name: str, *, user: _UserRef | None = None, group: _GroupRef | None = None
    ) -> None:
        """Remove a catalog app from an APP_ADMIN role's targets."""
    def list(self, *, user: _UserRef | None = None, group: _GroupRef | None = None) -> list[RoleAssignment]:
        """The role assignments of a user (including those held through groups) or of a group."""

@final
class OktaClient:
    """The blocking Okta client: ``users``, ``groups``, ``actions``, ``plan`` and ``apply``.

    Give ``api_token`` (SSWS), or ``client_id`` with ``private_key`` or ``private_key_path`` (OAuth
    private-key JWT, with ``scopes``). The journal is ``journal`` if given, else
    ``OKTA_LIFECYCLE_JOURNAL`` if set: a file, ``":memory:"`` (kept in memory, as the simulator's own
    ``sim.client()`` does) or a ``postgresql://`` URL (one database that several hosts share; an
    unreachable one raises ``JournalError``); otherwise the org's default file under
    ``$XDG_STATE_HOME/okta-lifecycle/``. Blocking calls release the GIL and stay interruptible.

    ``shared_budget`` shares the rate budget and concurrency slots with every other process on this
    machine that talks to the same org (Ansible forks, two scripts at once): True (the org's store
    beside its default journal), False, or the store's directory; or, with a ``postgresql://`` URL,
    with every process on every host that names the same database (a URL that cannot be read
    raises ``ConfigurationError``; a database that cannot be reached is logged and the client
    governs alone). Unset, it follows ``OKTA_LIFECYCLE_SHARED_BUDGET`` (``on``, ``off``, a
    directory or a URL) and is otherwise on, except for a client whose journal is ``":memory:"``.
    """

    def __new__(
        cls,
        org_url: str,
        *,
        api_token: str | None = None,
        client_id: str | None = None,
        private_key: str | None = None,
        private_key_path: _StrPath | None = None,
        scopes: str | Sequence[str] | None = None,
        key_id: str | None = None,
        dpop: bool = True,
        timeout: float = 30.0,
        max_retries: int = 5,
        rate_limit_share: float = 1.0,
        max_concurrency: int = 75,
        page_size: int = 200,
        proxy: str | None = None,
        journal: _StrPath | None = None,
        shared_budget: bool | _StrPath | None = None,
    ) -> Self:
        """A client of the org at ``org_url`` (``https://acme.okta.com``); see the class for the options."""
    @staticmethod
    def from_env(
        *,
        org_url: str | None = None,
        journal: _StrPath | None = None,
        timeout: float | None = None,
        shared_budget: bool | _StrPath | None = None,
    ) -> OktaClient:
        """A client configured from OKTA_ORG_URL (or ``org_url``), OKTA_API_TOKEN or OKTA_CLIENT_ID
        with OKTA_PRIVATE_KEY / OKTA_PRIVATE_KEY_PATH, OKTA_SCOPES, OKTA_KEY_ID, OKTA_DPOP."""
    @property
    def org_url(self) -> str:
        """The org's base URL, without a trailing slash."""
    @property
    def users(self) -> Users:
        """The Users API."""
    @property
    def groups(self) -> Groups:
        """The Groups API."""
    @property
    def schema(self) -> Schema:
        """The user profile schema and user types."""
    @property
    def roles(self) -> Roles:
        """Admin role assignments of users and groups."""
    @property
    def logs(self) -> Logs:
        """Okta's System Log."""
    @property
    def actions(self) -> Actions:
        """The lifecycle actions."""
    @property
    def journal_path(self) -> pathlib.Path | None:
        """The journal file (None when the journal is in memory or in PostgreSQL)."""
    @property
    def journal_url(self) -> str | None:
        """The PostgreSQL database of the journal, its URL without the password (None when the
        journal is a file or in memory)."""
    def governor_stats(self) -> GovernorStats:
        """Counters of the rate-limit governor: throttled_waits, throttled_ms, concurrency_limited,
        concurrency_cap."""
    def history(self, user: str) -> list[ChangeRecord]:
        """The journal's record of a user (by login or id) in this client's org, oldest first."""
    def snapshots(self, user: str) -> list[UserSnapshot]:
        """The profile and memberships recorded before each deprovision of a user."""
    def plan(self, policy: Policy, records: _Records, *, incremental: bool = False) -> Plan:
        """Read the org and plan ``policy`` for ``records`` (a list of dicts or a .csv/.jsonl path).
        Nothing is written to Okta; the plan is recorded in the journal, which is what lets it be
        applied. With ``incremental=True`` a plan over the whole org reads only what changed in
        Okta since the journal's last read of it, or the whole org when it cannot (``Plan.read``
        says which, and why)."""
    def drift(
        self, *, since: datetime.datetime, until: datetime.datetime | None = None, everything: bool = False
    ) -> list[DriftEvent]:
        """The changes Okta's System Log shows between ``since`` and ``until`` (default now) to the
        users and groups this journal's runs manage (to any, with ``everything=True``) that no
        okta-lifecycle run made: who changed what outside the process, oldest first. Joined with
        the journal by request id and target. ``since`` at most 90 days ago (InvalidInputError);
        needs the okta.logs.read scope (ConfigurationError)."""
    def apply(
        self, plan: Plan, *, concurrency: int = 16, override_safety: bool = False, wait_for_lease: float | None = None
    ) -> Report:
        """Apply a plan (or resume it), journaling every change. Only a plan recorded in this
        client's journal when it was made, unchanged and for this org, is applied (otherwise
        PlanRejectedError); the safety verdict is derived again from its changes (PlanBlockedError
        unless ``override_safety=True``). If another applier owns the run, RunInProgressError at
        once, or after waiting ``wait_for_lease`` seconds for it."""
    def run_progress(self, run_id: str) -> dict[str, int]:
        """How far a run has got: the number of its changes in each status (planned, started,
        succeeded, failed, unknown, skipped), read from the journal (not awaitable)."""
    def runs(self) -> list[RunInfo]:
        """Every run in the journal against this client's org, newest first: ``run_id``, ``policy``, ``org_url``,
        ``planned_at``, ``finished_at``, ``status`` (planned, applying, succeeded,
        finished_with_errors) and ``changes`` counted by status (not awaitable)."""
    def recorded_plan(self, run_id: str) -> Plan:
        """The plan of a run as the journal recorded it when it was made; applying it resumes the
        run (not awaitable)."""
    def unfinished_run(self, policy: Policy, records: _Records) -> str | None:
        """The run id of an unfinished apply of ``policy`` (the same content, not only the same
        name) over the same records, if any (not awaitable)."""
    def close(self) -> None:
        """Stop using the client: later calls raise RuntimeError."""
    def __enter__(self) -> Self: ...
    def __exit__(self, _exc_type: object, _exc_value: object, _traceback: object) -> Literal[False]: ...

# --- asyncio API --------------------------------------------------------------------------------

@final
class AsyncUsers:
    """The Users API (asyncio): the methods of ``Users``, returning awaitables."""

    def get(self, id_or_login: str) -> Awaitable[User]:
        """A user by id or login."""
    def create(
        self,
        profile: _Profile,
        *,
        password: str | None = None,
        activate: bool = True,
        provider: bool = False,
        next_login: Literal["changePassword"] | None = None,
        group_ids: Sequence[str] | None = None,
    ) -> Awaitable[User]:
        """Create a user (ACTIVE with ``activate=True``, else STAGED)."""
    def update(self, user: _UserRef, profile: _Profile) -> Awaitable[User]:
        """Update the given profile attributes (None clears one)."""
    def replace(self, user: _UserRef, profile: _Profile, *, if_match: str | None = None) -> Awaitable[User]:
        """Replace the profile; with ``if_match``, only if the user is unchanged since that ETag."""
    def activate(self, user: _UserRef, *, send_email: bool = True) -> Awaitable[Secret | None]:
        """Activate a STAGED or DEPROVISIONED user; with ``send_email=False`` return the activation link."""
    def reactivate(self, user: _UserRef, *, send_email: bool = False) -> Awaitable[Secret | None]:
        """Send a new activation to a PROVISIONED or RECOVERY user."""
    def deactivate(self, user: _UserRef, *, send_email: bool = False) -> Awaitable[None]:
        """Deactivate a user (memberships are kept by Okta)."""
    def suspend(self, user: _UserRef) -> Awaitable[None]:
        """Suspend an ACTIVE user."""
    def unsuspend(self, user: _UserRef) -> Awaitable[None]:
        """Return a SUSPENDED user to ACTIVE."""
    def unlock(self, user: _UserRef) -> Awaitable[None]:
        """Unlock a LOCKED_OUT user."""
    def expire_password(self, user: _UserRef) -> Awaitable[User]:
        """Expire the password."""
    def expire_password_with_temp_password(self, user: _UserRef, *, revoke_sessions: bool = False) -> Awaitable[Secret]:
        """Expire the password and return a temporary one (a Secret)."""
    def reset_password(
        self, user: _UserRef, *, send_email: bool = True, revoke_sessions: bool = False
    ) -> Awaitable[Secret | None]:
        """Start Okta's password reset; with ``send_email=False`` return the reset link (a Secret)."""
    def reset_factors(self, user: _UserRef) -> Awaitable[None]:
        """Reset every enrolled factor."""
    def delete(self, user: _UserRef, *, permanently: bool = True) -> Awaitable[None]:
        """Delete a user: for good (deactivating first when needed), or with ``permanently=False`` one
        DELETE (which only deactivates a user that is not DEPROVISIONED)."""
    def clear_sessions(
        self, user: _UserRef, *, oauth_tokens: bool = True, forget_devices: bool | None = None
    ) -> Awaitable[None]:
        """End the user's sessions; with ``oauth_tokens`` also revoke their OAuth tokens."""
    def list(
        self,
        *,
        search: str | None = None,
        filter: str | None = None,
        q: str | None = None,
        sort_by: str | None = None,
        sort_order: Literal["asc", "desc"] | None = None,
        limit: int | None = None,
    ) -> UserPages:
        """List users lazily (use at most one of search, filter and q); ``async for`` over the result."""
    def list_partitioned(
        self, *, chains: int = 8, settle: float = 2.0, limit: int | None = None
    ) -> Awaitable[PartitionedUsers]:
        """Every user (DEPROVISIONED included), read as ``chains`` searches over ranges of ``created`` side
        by side, then caught up with the users changed meanwhile after ``settle`` seconds for Okta's
        search index: each user once, in the newest version read, in id order."""
    def groups(self, user: _UserRef) -> GroupPages:
        """The groups a user belongs to, Everyone included; ``async for`` over the result."""
    def get_with_etag(self, id_or_login: str) -> Awaitable[tuple[User, str | None]]:
        """A user and its ETag, for ``replace(..., if_match=etag)``."""

@final
class AsyncGroups:
    """The Groups API (asyncio): the methods of ``Groups``, returning awaitables."""

    def create(self, name: str, description: str | None = None) -> Awaitable[Group]:
        """Create an OKTA_GROUP."""
    def get(self, group: _GroupRef) -> Awaitable[Group]:
        """A group by id."""
    def find(self, name: str) -> Awaitable[Group | None]:
        """A group by exact name (ignoring case), or None."""
    def replace(self, group: _GroupRef, name: str, description: str | None = None) -> Awaitable[Group]:
        """Replace an OKTA_GROUP's name and description."""
    def delete(self, group: _GroupRef) -> Awaitable[None]:
        """Delete a group."""
    def add_member(self, group: _GroupRef, user: _UserRef) -> Awaitable[None]:
        """Add a user to an OKTA_GROUP (already a member: nothing happens)."""
    def remove_member(self, group: _GroupRef, user: _UserRef) -> Awaitable[None]:
        """Remove a user from an OKTA_GROUP."""
    def list(
        self,
        *,
        search: str | None = None,
        filter: str | None = None,
        q: str | None = None,
        expand_stats: bool = False,
        limit: int | None = None,
    ) -> GroupPages:
        """List groups lazily (use at most one of search, filter and q); ``async for`` over the result."""
    def members(self, group: _GroupRef) -> UserPages:
        """A group's members, lazily; ``async for`` over the result."""

@final
class AsyncActions:
    """The lifecycle actions (asyncio): the methods of ``Actions``, returning awaitables."""

    def sync_identities(self, profile: _Profile, *, create: bool = True, activate: bool = True) -> Awaitable[Report]:
        """SYNC_IDENTITIES: create the user (matched by ``profile["login"]``) or update the given
        attributes that differ."""
    def manage_relationships(
        self,
        user: _UserRef,
        groups: Sequence[str],
        *,
        mode: _RelationshipMode = ...,
        exclusive_prefix: str | None = None,
    ) -> Awaitable[Report]:
        """MANAGE_RELATIONSHIPS: mode "add" (the default), "remove" or "sync" (with ``exclusive_prefix``)."""
    def deprovision_identity(
        self,
        user: _UserRef,
        *,
        mode: _DeprovisionMode = ...,
        remove_groups: bool = True,
        logout: bool = True,
        remove_roles: bool = True,
    ) -> Awaitable[Report]:
        """DEPROVISION_IDENTITY: history recorded, account disabled (mode "deactivate", the default, or
        "suspend"), memberships and the admin roles the user holds itself removed, logged out."""
    def reactivate_identity(
        self, user: _UserRef, *, restore_groups: bool = True, send_email: bool = True, restore_roles: bool = True
    ) -> Awaitable[Report]:
        """Bring a deprovisioned user back, restoring the memberships and admin roles it had when deprovisioned.
        A DEPROVISIONED user gets Okta's activation email, or with ``send_email=False`` the link
        in ``report.activation_links``."""
    def create_entitlement(self, name: str, description: str | None = None) -> Awaitable[Report]:
        """CREATE_ENTITLEMENT: create the group unless it exists."""
    def reset_password(
        self, login: str, *, send_email: bool = True, revoke_sessions: bool = False
    ) -> Awaitable[Report]:
        """RESET_PASSWORD: a new reset event each call; the link is in ``report.reset_links`` when
        ``send_email`` is False."""
    def source_of_identity(
        self,
        *,
        since: datetime.datetime | None = None,
        mover_attributes: Sequence[str] = ...,
        entitlements: bool = False,
    ) -> IdentityEvents:
        """SOURCE_OF_IDENTITY: every user (``since=None``) or those changed after ``since``, each with
        its event (with ``entitlements=True``, also its ``groups`` and ``roles``); ``async for`` over
        the result."""
    def identity_changes(
        self,
        *,
        since: datetime.datetime,
        until: datetime.datetime | None = None,
        mover_attributes: Sequence[str] = ...,
    ) -> IdentityChanges:
        """SOURCE_OF_IDENTITY from Okta's System Log: the joiners, movers, leavers, returners and
        deletions recorded between ``since`` and ``until`` (default now), oldest first, each with
        who made it (``actor``). Deleted users, which no listing shows, are seen here. Read on from
        the last change's ``published``. Needs okta.logs.read."""

@final
class AsyncSchema:
    """The user profile schema and user types (asyncio)."""

    def get(self) -> Awaitable[dict[str, Any]]:
        """The default user type's schema (Okta's JSON: ``definitions.base`` and ``definitions.custom``)."""
    def update_custom(self, properties: Mapping[str, Mapping[str, Any]]) -> Awaitable[dict[str, Any]]:
        """Add or change custom attributes, e.g. ``{"costCenter": {"title": "Cost center", "type": "integer"}}``."""
    def remove_custom(self, name: str) -> Awaitable[dict[str, Any]]:
        """Remove a custom attribute (and every user's value of it)."""
    def user_types(self) -> Awaitable[list[dict[str, Any]]]:
        """Every user type."""
    def create_user_type(
        self, name: str, display_name: str, description: str | None = None
    ) -> Awaitable[dict[str, Any]]:
        """Create a user type."""
    def get_user_type(self, type_id: str) -> Awaitable[dict[str, Any]]:
        """A user type by id."""
    def delete_user_type(self, type_id: str) -> Awaitable[None]:
        """Delete a user type that is not the default and that no user has."""

@final
class AsyncLogs:
    """Okta's System Log (asyncio): listings are async iterators (and iterators)."""

    def list(
        self,
        *,
        since: datetime.datetime | None = None,
        until: datetime.datetime | None = None,
        filter: str | None = None,
        q: str | None = None,
        limit: int | None = None,
        descending: bool = False,
    ) -> LogEvents:
        """Events published from ``since`` (Okta's default: seven days ago) until ``until``
        (default: now), oldest first (``descending=True``: newest first). ``filter`` is a SCIM
        filter over event fields; ``q`` keywords that must all appear; ``limit`` the page size (1 to
        1,000). Needs the okta.logs.read scope."""
    def follow(
        self,
        *,
        since: datetime.datetime | None = None,
        filter: str | None = None,
        q: str | None = None,
        limit: int | None = None,
        interval: float = 5.0,
    ) -> LogEvents:
        """Follow the log from ``since`` (default: now): each event as Okta makes it visible,
        asking again ``interval`` seconds after a page with nothing new. It never ends by itself:
        call ``close()`` on it, break out of the loop, or cancel the task."""

@final
class AsyncRoles:
    """Admin role assignments of users and groups (asyncio); give exactly one of ``user=`` and ``group=``."""

    def assign(
        self, role_type: str, *, user: _UserRef | None = None, group: _GroupRef | None = None
    ) -> Awaitable[RoleAssignment]:
        """Assign a standard role (USER_ADMIN, HELP_DESK_ADMIN, ...)."""
    def unassign(
        self, assignment_id: str, *, user: _UserRef | None = None, group: _GroupRef | None = None
    ) -> Awaitable[None]:
        """Remove a role assignment."""
    def group_targets(
        self, assignment_id: str, *, user: _UserRef | None = None, group: _GroupRef | None = None
    ) -> Awaitable[list[dict[str, Any]]]:
        """The groups a scoped role is limited to (empty: every group)."""
    def add_group_target(
        self, assignment_id: str, target: _GroupRef, *, user: _UserRef | None = None, group: _GroupRef | None = None
    ) -> Awaitable[None]:
        """Limit a scoped role (USER_ADMIN, GROUP_MEMBERSHIP_ADMIN, HELP_DESK_ADMIN) to ``target`` too."""
    def remove_group_target(
        self, assignment_id: str, target: _GroupRef, *, user: _UserRef | None = None, group: _GroupRef | None = None
    ) -> Awaitable[None]:
        """Remove a group from a scoped role's targets."""
    def app_targets(
        self, assignment_id: str, *, user: _UserRef | None = None, group: _GroupRef | None = None
    ) -> Awaitable[list[dict[str, Any]]]:
        """The catalog apps an APP_ADMIN role is limited to."""
    def add_app_target(
        self, assignment_id: str, app_name: str, *, user: _UserRef | None = None, group: _GroupRef | None = None
    ) -> Awaitable[None]:
        """Limit an APP_ADMIN role to a catalog app (by name, e.g. "salesforce")."""
    def remove_app_target(
        self, assignment_id: str, app_name: str, *, user: _UserRef | None = None, group: _GroupRef | None = None
    ) -> Awaitable[None]:
        """Remove a catalog app from an APP_ADMIN role's targets."""
    def list(self, *, user: _UserRef | None = None, group: _GroupRef | None = None) -> Awaitable[list[RoleAssignment]]:
        """The role assignments of a user (including those held through groups) or of a group."""

@final
class AsyncOktaClient:
    """The asyncio Okta client: the same constructor and methods as ``OktaClient``, with awaitables.

    Use ``async with``; cancelling an awaitable drops the Rust future.
    """

    def __new__(
        cls,
        org_url: str,
        *,
        api_token: str | None = None,
        client_id: str | None = None,
        private_key: str | None = None,
        private_key_path: _StrPath | None = None,
        scopes: str | Sequence[str] | None = None,
        key_id: str | None = None,
        dpop: bool = True,
        timeout: float = 30.0,
        max_retries: int = 5,
        rate_limit_share: float = 1.0,
        max_concurrency: int = 75,
        page_size: int = 200,
        proxy: str | None = None,
        journal: _StrPath | None = None,
        shared_budget: bool | _StrPath | None = None,
    ) -> Self:
        """An asyncio client of the org at ``org_url``; the options are those of ``OktaClient``."""
    @staticmethod
    def from_env(
        *,
        org_url: str | None = None,
        journal: _StrPath | None = None,
        timeout: float | None = None,
        shared_budget: bool | _StrPath | None = None,
    ) -> AsyncOktaClient:
        """A client configured from OKTA_ORG_URL (or ``org_url``), OKTA_API_TOKEN or OKTA_CLIENT_ID
        with OKTA_PRIVATE_KEY / OKTA_PRIVATE_KEY_PATH, OKTA_SCOPES, OKTA_KEY_ID, OKTA_DPOP."""
    @property
    def org_url(self) -> str:
        """The org's base URL, without a trailing slash."""
    @property
    def users(self) -> AsyncUsers:
        """The Users API."""
    @property
    def groups(self) -> AsyncGroups:
        """The Groups API."""
    @property
    def schema(self) -> AsyncSchema:
        """The user profile schema and user types."""
    @property
    def roles(self) -> AsyncRoles:
        """Admin role assignments of users and groups."""
    @property
    def logs(self) -> AsyncLogs:
        """Okta's System Log."""
    @property
    def actions(self) -> AsyncActions:
        """The lifecycle actions."""
    @property
    def journal_path(self) -> pathlib.Path | None:
        """The journal file (None when the journal is in memory or in PostgreSQL)."""
    @property
    def journal_url(self) -> str | None:
        """The PostgreSQL database of the journal, its URL without the password (None when the
        journal is a file or in memory)."""
    def governor_stats(self) -> GovernorStats:
        """Counters of the rate-limit governor: throttled_waits, throttled_ms, concurrency_limited,
        concurrency_cap."""
    def history(self, user: str) -> list[ChangeRecord]:
        """The journal's record of a user (by login or id), oldest first (not awaitable)."""
    def snapshots(self, user: str) -> list[UserSnapshot]:
        """The profile and memberships recorded before each deprovision of a user (not awaitable)."""
    def plan(self, policy: Policy, records: _Records, *, incremental: bool = False) -> Awaitable[Plan]:
        """Read the org and plan ``policy`` for ``records`` (a list of dicts or a .csv/.jsonl path).
        Nothing is written to Okta; the plan is recorded in the journal, which is what lets it be
        applied. With ``incremental=True`` a plan over the whole org reads only what changed in
        Okta since the journal's last read of it, or the whole org when it cannot (``Plan.read``
        says which, and why)."""
    def drift(
        self, *, since: datetime.datetime, until: datetime.datetime | None = None, everything: bool = False
    ) -> Awaitable[list[DriftEvent]]:
        """The changes Okta's System Log shows between ``since`` and ``until`` (default now) to the
        users and groups this journal's runs manage (to any, with ``everything=True``) that no
        okta-lifecycle run made: who changed what outside the process, oldest first. Joined with
        the journal by request id and target. ``since`` at most 90 days ago (InvalidInputError);
        needs the okta.logs.read scope (ConfigurationError)."""
    def apply(
        self, plan: Plan, *, concurrency: int = 16, override_safety: bool = False, wait_for_lease: float | None = None
    ) -> Awaitable[Report]:
        """Apply a plan (or resume it), journaling every change. Only a plan recorded in this
        client's journal when it was made, unchanged and for this org, is applied (otherwise
        PlanRejectedError); the safety verdict is derived again from its changes (PlanBlockedError
        unless ``override_safety=True``). If another applier owns the run, RunInProgressError at
        once, or after waiting ``wait_for_lease`` seconds for it."""
    def run_progress(self, run_id: str) -> dict[str, int]:
        """How far a run has got: the number of its changes in each status (planned, started,
        succeeded, failed, unknown, skipped), read from the journal (not awaitable)."""
    def runs(self) -> list[RunInfo]:
        """Every run in the journal against this client's org, newest first: ``run_id``, ``policy``, ``org_url``,
        ``planned_at``, ``finished_at``, ``status`` (planned, applying, succeeded,
        finished_with_errors) and ``changes`` counted by status (not awaitable)."""
    def recorded_plan(self, run_id: str) -> Plan:
        """The plan of a run as the journal recorded it when it was made; applying it resumes the
        run (not awaitable)."""
    def unfinished_run(self, policy: Policy, records: _Records) -> str | None:
        """The run id of an unfinished apply of ``policy`` (the same content, not only the same
        name) over the same records, if any (not awaitable)."""
    def close(self) -> None:
        """Stop using the client: later calls raise RuntimeError."""
    def __aenter__(self) -> Awaitable[Self]: ...
    def __aexit__(self, _exc_type: object, _exc_value: object, _traceback: object) -> Awaitable[Literal[False]]: ...

# --- simulator ----------------------------------------------------------------------------------

@final
class OktaSimulator:
    """A simulated Okta org served on a loopback port: users, groups, lifecycle, sessions, OAuth,
    the profile schema, user types and admin role assignments.

    Use it as a context manager; ``close()`` stops it. Knobs: rate limits per bucket (None,
    "okta" for Okta's Workforce defaults, or ``{"/api/v1/users": 600, ...}``), a concurrency
    limit, latency with jitter, and random faults ``{"500": p, "502": p, "503": p, "504": p,
    "drop_before": p, "drop_after": p, "slow": p, "slow_ms": ms, "seed": n}``.
    """

    def __new__(
        cls,
        *,
        seed_users: int = 0,
        rate_limits: Literal["okta"] | Mapping[str, int] | None = None,
        concurrency_limit: int | None = None,
        latency_ms: int = 0,
        latency_jitter_ms: int = 0,
        faults: Mapping[str, float] | None = None,
        custom_attributes: Sequence[str] | None = None,
        api_token: str | None = None,
        state_file: _StrPath | None = None,
        port: int = 0,
        rate_limit_window_seconds: float = 60.0,
        log_delay_seconds: float = 0.3,
        search_delay_seconds: float = 0.0,
    ) -> Self:
        """Start a simulated org on a loopback port (``port=0``: a free one) with these knobs; see the
        class for ``rate_limits`` and ``faults``."""
    @property
    def url(self) -> str:
        """The org's base URL, ``http://127.0.0.1:PORT``."""
    @property
    def api_token(self) -> str:
        """The SSWS API token with every scope."""
    @property
    def running(self) -> bool:
        """Whether the server is still running."""
    def requests(self) -> list[SimulatorRequest]:
        """The request log: method, path, query, status, bucket, dropped, at (epoch seconds)."""
    def clear_requests(self) -> None:
        """Empty the request log."""
    def log_events(self) -> list[LogEvent]:
        """Every System Log event so far, oldest first, visible or not yet (the log shows an event
        ``log_delay_seconds`` after it happened)."""
    def counters(self) -> SimulatorCounters:
        """requests, rate_limited, concurrency_limited, by_status, reset_password, max_in_flight."""
    def reset(self) -> None:
        """Empty the org (seed users again), the log, the counters and the rate-limit windows."""
    def script_fault(self, method: str, path_prefix: str, fault: int | str) -> None:
        """Give the next matching request a fault: a status, "drop_before", "drop_after",
        "garble_after" (processed, then a 200 whose body is not JSON) or "delay:MS"."""
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
    def role_assignments(self, user_or_group_id: str) -> list[str]:
        """The admin role types (``"USER_ADMIN"``, ...) that ``GET /api/v1/users/{id}/roles`` (or
        ``/api/v1/groups/{id}/roles``) lists for a user (by id or login) or a group, in Okta's
        order; a user's list includes the roles its groups hold. Empty for an unknown id."""
    def add_api_token(self, token: str, scopes: Sequence[str] | None = None) -> None:
        """Accept another SSWS token, optionally restricted to some scopes."""
    def add_admin_token(self, token: str, user: str) -> None:
        """Accept another SSWS token, with every scope, acting as the org's user ``user`` (id or
        login): an admin working by hand, whom the System Log names as the actor of its changes.
        ValueError when the org has no such user."""
    def register_oauth_app(
        self, client_id: str, public_keys: Sequence[Mapping[str, Any]], scopes: Sequence[str], require_dpop: bool = True
    ) -> None:
        """Register an OAuth service app: public JWKs, granted scopes, whether DPoP is required."""
    def client(self) -> OktaClient:
        """A blocking OktaClient bound to this org (its journal in memory)."""
    def async_client(self) -> AsyncOktaClient:
        """An AsyncOktaClient bound to this org (its journal in memory)."""
    def close(self) -> None:
        """Stop the server (saving the state file, if any). Idempotent."""
    def __enter__(self) -> Self: ...
    def __exit__(self, *_exc: object) -> Literal[False]: ...
