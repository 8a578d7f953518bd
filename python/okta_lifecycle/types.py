"""The shapes of the dict-shaped results, as ``TypedDict`` s a type checker can see.

Plans, reports, the journal and the simulator return plain dicts and lists (easy to print, dump
as JSON or load into a DataFrame). These classes name their keys::

    from okta_lifecycle.types import Change

    def creates(changes: list[Change]) -> list[str]:
        return [c["login"] for c in changes if c["operation"] == "create_user"]

At run time they are ordinary dicts: nothing here is checked or converted.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict, Union

__all__ = [
    "ActivateUserChange",
    "AssignRoleChange",
    "AttributeChange",
    "Change",
    "ChangeRecord",
    "ChangeStatus",
    "ClearSessionsChange",
    "CreateGroupChange",
    "CreateUserChange",
    "DriftEvent",
    "GovernorStats",
    "GroupRef",
    "LogActor",
    "LogEvent",
    "LogOutcome",
    "LogParty",
    "LogTarget",
    "MembershipChange",
    "Outcome",
    "PartitionReport",
    "PlanRead",
    "PlanSummary",
    "RecordIssue",
    "ResetPasswordChange",
    "RoleAssignment",
    "RoleRef",
    "RunInfo",
    "RunStatus",
    "SimulatorCounters",
    "SimulatorRequest",
    "SnapshotRole",
    "UnassignRoleChange",
    "UpdateUserChange",
    "UserChange",
    "UserRef",
    "UserSnapshot",
]

ChangeStatus = Literal["planned", "started", "succeeded", "failed", "unknown", "skipped"]
"""Where a change stands in the journal (docs/operations.md, "The journal", says what each means)."""

RunStatus = Literal["planned", "applying", "succeeded", "finished_with_errors"]
"""Where a run stands."""


class UserRef(TypedDict):
    """A user a change applies to: its id when it existed at planning time, its login always."""

    id: str | None
    login: str


class GroupRef(TypedDict):
    """A group a change applies to: its id when it existed at planning time, its name always."""

    id: str | None
    name: str


class RoleRef(TypedDict):
    """An admin role assignment a change removes."""

    id: str
    role_type: str
    label: str


class AttributeChange(TypedDict):
    """One attribute's old and new value (``None`` when absent)."""

    attribute: str
    before: Any
    after: Any


class _ChangeKeys(TypedDict):
    seq: int
    action: str
    identity: str | None
    workflow: str | None


class CreateGroupChange(_ChangeKeys):
    """``create_group``: a group the plan creates."""

    operation: Literal["create_group"]
    name: str
    description: str | None


class _CreateUserKeys(_ChangeKeys):
    operation: Literal["create_user"]
    login: str
    profile: dict[str, Any]
    activate: bool


class CreateUserChange(_CreateUserKeys, total=False):
    """``create_user``: a user the plan creates, with the groups it is created in (present only
    when there are some)."""

    groups: list[GroupRef]


class UpdateUserChange(_ChangeKeys):
    """``update_user``: attributes of a user that change."""

    operation: Literal["update_user"]
    user: UserRef
    changes: list[AttributeChange]


class MembershipChange(_ChangeKeys):
    """``add_member`` / ``remove_member``: a user put in or taken out of a group."""

    operation: Literal["add_member", "remove_member"]
    user: UserRef
    group: GroupRef


class UserChange(_ChangeKeys):
    """``snapshot_user``, ``deactivate_user``, ``suspend_user``, ``unsuspend_user``: a change to a
    user that takes nothing more."""

    operation: Literal["snapshot_user", "deactivate_user", "suspend_user", "unsuspend_user"]
    user: UserRef


class ActivateUserChange(_ChangeKeys):
    """``activate_user``: a user activated (or reactivated), with or without Okta's email."""

    operation: Literal["activate_user"]
    user: UserRef
    send_email: bool


class ClearSessionsChange(_ChangeKeys):
    """``clear_sessions``: a user's sessions ended, and its OAuth tokens too when asked."""

    operation: Literal["clear_sessions"]
    user: UserRef
    oauth_tokens: bool


class UnassignRoleChange(_ChangeKeys):
    """``unassign_role``: an admin role assignment of the user's own removed."""

    operation: Literal["unassign_role"]
    user: UserRef
    role: RoleRef


class AssignRoleChange(_ChangeKeys):
    """``assign_role``: an admin role given to the user."""

    operation: Literal["assign_role"]
    user: UserRef
    role_type: str


class ResetPasswordChange(_ChangeKeys):
    """``reset_password``: a password reset, its link emailed by Okta or returned."""

    operation: Literal["reset_password"]
    user: UserRef
    send_email: bool
    revoke_sessions: bool


#: One planned change (``Plan.changes``): a union tagged by ``operation``, so a type checker knows
#: the other keys once ``change["operation"]`` is compared with a name.
Change = Union[  # noqa: UP007 - a runtime alias on Python 3.10, where TypedDicts do not take |
    CreateGroupChange,
    CreateUserChange,
    UpdateUserChange,
    MembershipChange,
    UserChange,
    ActivateUserChange,
    ClearSessionsChange,
    UnassignRoleChange,
    AssignRoleChange,
    ResetPasswordChange,
]


class RecordIssue(TypedDict):
    """A record the plan could not act on (``Plan.issues``): its 1-based row and why."""

    row: int
    identity: str | None
    message: str


class PlanSummary(TypedDict):
    """Counts for a plan (``Plan.summary``); ``operations`` counts the changes by operation."""

    records: int
    unmatched: int
    issues: int
    unchanged: int
    joiners: int
    movers: int
    leavers: int
    operations: dict[str, int]


class Outcome(TypedDict):
    """What became of one change (``Report.outcomes``)."""

    seq: int
    operation: str
    identity: str | None
    login: str | None
    status: ChangeStatus
    message: str | None
    error_code: str | None
    request_id: str | None
    already_done: bool
    journal_error: str | None


class ChangeRecord(TypedDict):
    """A change's row in the journal (``client.history(user)``)."""

    run_id: str
    seq: int
    action: str
    operation: str
    identity: str | None
    login: str | None
    user_id: str | None
    status: ChangeStatus
    detail: dict[str, Any]
    error: str | None
    request_id: str | None
    updated_at: str


class SnapshotRole(TypedDict):
    """An admin role a user held itself when a snapshot was taken, with the groups (ids) or
    catalog apps it was limited to (empty: not limited)."""

    role_type: str
    label: str
    group_targets: list[str]
    app_targets: list[str]


class UserSnapshot(TypedDict):
    """A user's profile, memberships and admin roles recorded before a deprovision
    (``client.snapshots``); ``groups`` holds ``(group id, group name)`` pairs and
    ``status_changed`` Okta's ``statusChanged`` then (``None`` in snapshots of older releases)."""

    run_id: str
    user_id: str
    login: str
    taken_at: str
    status: str
    status_changed: str | None
    profile: dict[str, Any]
    groups: list[tuple[str, str]]
    roles: list[SnapshotRole]


class RunInfo(TypedDict):
    """One run in the journal (``client.runs()``); ``changes`` counts its changes by status."""

    run_id: str
    policy: str
    org_url: str
    planned_at: str
    finished_at: str | None
    status: RunStatus
    changes: dict[str, int]


class RoleAssignment(TypedDict, total=False):
    """An admin role assignment as Okta returns it (``client.roles.list``): ``type`` is the role
    type (USER_ADMIN, ...), ``assignmentType`` is USER (held directly) or GROUP (through a group)."""

    id: str
    label: str
    type: str
    status: str
    created: str
    lastUpdated: str
    assignmentType: str
    _links: dict[str, Any]


class GovernorStats(TypedDict):
    """The rate-limit governor's counters (``client.governor_stats()``)."""

    throttled_waits: int
    throttled_ms: int
    concurrency_limited: int
    concurrency_cap: int


class _PlanReadMaybe(TypedDict, total=False):
    reason: str
    changed_since: str


class PlanRead(_PlanReadMaybe):
    """How a plan read the org (``Plan.read``, with ``plan(..., incremental=True)``): ``reason`` says
    why the whole org was read, ``changed_since`` the watermark an incremental read started from."""

    mode: Literal["incremental", "full"]
    users_read: int
    users_deleted: int
    groups_read: int
    groups_patched: int


class PartitionReport(TypedDict):
    """What a partitioned read of every user did (``PartitionedUsers.report``)."""

    pages: int
    ranges: int
    crowded: int
    caught_up: int
    changed_since: str


class SimulatorRequest(TypedDict):
    """One request as the simulator saw it (``OktaSimulator.requests()``); ``at`` is epoch seconds."""

    method: str
    path: str
    query: str | None
    status: int
    bucket: str
    dropped: bool
    at: float


class SimulatorCounters(TypedDict):
    """The simulator's counters (``OktaSimulator.counters()``)."""

    requests: int
    rate_limited: int
    concurrency_limited: int
    by_status: dict[int, int]
    reset_password: dict[str, int]
    max_in_flight: int


class LogActor(TypedDict, total=False):
    """Who acted in a System Log event: an admin, an API token's owner, a service app."""

    id: str
    type: str
    alternateId: str
    displayName: str
    detailEntry: dict[str, Any] | None


class LogTarget(TypedDict, total=False):
    """What a System Log event acted on: ``type`` is ``User``, ``UserGroup``, ...; ``alternateId``
    a user's login or a group's name."""

    id: str
    type: str
    alternateId: str
    displayName: str
    detailEntry: dict[str, Any] | None


class LogOutcome(TypedDict, total=False):
    """How a System Log event ended: ``result`` is SUCCESS, FAILURE, SKIPPED, ALLOW, DENY, ..."""

    result: str
    reason: str | None


class LogEvent(TypedDict, total=False):
    """One event of Okta's System Log (``client.logs.list`` and ``client.logs.follow``), as Okta
    sends it. ``debugContext["debugData"]["requestId"]`` is the ``X-Okta-Request-Id`` of the
    request that caused it."""

    uuid: str
    published: str
    eventType: str
    version: str
    severity: str
    displayMessage: str
    legacyEventType: str | None
    actor: LogActor
    client: dict[str, Any]
    outcome: LogOutcome
    target: list[LogTarget]
    transaction: dict[str, Any]
    debugContext: dict[str, Any]
    authenticationContext: dict[str, Any]
    securityContext: dict[str, Any]
    request: dict[str, Any]


class LogParty(TypedDict):
    """Who acted or what was acted on in a drift event or an identity change: ``type`` is ``User``, ``UserGroup``,
    ``PublicClientApp``, ...; ``alternate_id`` a login, a group's name or a client id."""

    id: str
    type: str
    alternate_id: str | None
    display_name: str | None


class DriftEvent(TypedDict):
    """A change Okta's System Log shows that no okta-lifecycle run made (``client.drift``):
    who made it (``actor``), to what (``targets``), when, and whether a target is a user or
    group the journal's runs manage."""

    uuid: str
    published: str
    event_type: str
    display_message: str | None
    actor: LogParty | None
    targets: list[LogParty]
    request_id: str | None
    managed: bool
