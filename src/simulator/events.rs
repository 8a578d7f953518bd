//! The System Log as the org keeps it: what happened (the event types), who did it and from which
//! request, and the events themselves, oldest first.

use std::collections::VecDeque;
use std::net::IpAddr;

use chrono::DateTime;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The login of the admin the API token belongs to (the actor of API-token calls).
pub const ADMIN_LOGIN: &str = "admin@example.com";

/// The display name of that admin.
pub const ADMIN_DISPLAY_NAME: &str = "Simulator Admin";

/// Events kept; older ones are dropped first.
pub const MAX_EVENTS: usize = 100_000;

/// What happened: one System Log event type of Okta's catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventKind {
    /// `user.lifecycle.create`: "Create Okta user."
    UserCreate,
    /// `user.lifecycle.activate`: "Activate Okta user."
    UserActivate,
    /// `user.lifecycle.reactivate`: "Reactivate Okta user."
    UserReactivate,
    /// `user.lifecycle.deactivate`: "Deactivate Okta user."
    UserDeactivate,
    /// `user.lifecycle.suspend`: "Suspend Okta user."
    UserSuspend,
    /// `user.lifecycle.unsuspend`: "Unsuspend Okta user."
    UserUnsuspend,
    /// `user.lifecycle.delete.initiated`: "Delete Okta user initiated."
    UserDeleteInitiated,
    /// `user.lifecycle.delete.completed`: "Delete Okta user completed."
    UserDeleteCompleted,
    /// `user.account.update_profile`: "Update user profile for Okta."
    UpdateProfile,
    /// `user.account.update_password`: "User update password for Okta." (an admin setting it).
    UpdatePassword,
    /// `user.account.update_user_type`: a user changed from one type to another.
    UpdateUserType,
    /// `user.account.reset_password`: "User's Okta password has been reset."
    ResetPassword,
    /// `user.account.expire_password`: the user's password expired by an administrator.
    ExpirePassword,
    /// `user.account.unlock_by_admin`: "User account unlock by admin."
    UnlockByAdmin,
    /// `user.mfa.factor.reset_all`: "Reset all factors or authenticator enrollments for user."
    ResetFactors,
    /// `user.session.clear`: "Clear user session."
    ClearSessions,
    /// `group.lifecycle.create`: "Create Okta group."
    GroupCreate,
    /// `group.lifecycle.delete`: "Delete Okta group."
    GroupDelete,
    /// `group.profile.update`: "Okta group profile updated."
    GroupProfileUpdate,
    /// `group.user_membership.add`: "Add user to group membership."
    MembershipAdd,
    /// `group.user_membership.remove`: "Remove user from group membership."
    MembershipRemove,
    /// `user.account.privilege.grant`: a user's admin privileges changed.
    UserPrivilegeGrant,
    /// `user.account.privilege.revoke`: all of a user's admin privileges revoked.
    UserPrivilegeRevoke,
    /// `group.privilege.grant`: a group's admin privileges granted (changed).
    GroupPrivilegeGrant,
    /// `group.privilege.revoke`: all of a group's admin privileges revoked.
    GroupPrivilegeRevoke,
    /// `directory.user_profile.update`: "Update universal directory user profile."
    SchemaUpdate,
    /// `directory.non_default_user_profile.create`: a new (non-default) user type's profile.
    UserTypeCreate,
}

impl EventKind {
    /// The `eventType`.
    pub(crate) fn event_type(self) -> &'static str {
        match self {
            EventKind::UserCreate => "user.lifecycle.create",
            EventKind::UserActivate => "user.lifecycle.activate",
            EventKind::UserReactivate => "user.lifecycle.reactivate",
            EventKind::UserDeactivate => "user.lifecycle.deactivate",
            EventKind::UserSuspend => "user.lifecycle.suspend",
            EventKind::UserUnsuspend => "user.lifecycle.unsuspend",
            EventKind::UserDeleteInitiated => "user.lifecycle.delete.initiated",
            EventKind::UserDeleteCompleted => "user.lifecycle.delete.completed",
            EventKind::UpdateProfile => "user.account.update_profile",
            EventKind::UpdatePassword => "user.account.update_password",
            EventKind::UpdateUserType => "user.account.update_user_type",
            EventKind::ResetPassword => "user.account.reset_password",
            EventKind::ExpirePassword => "user.account.expire_password",
            EventKind::UnlockByAdmin => "user.account.unlock_by_admin",
            EventKind::ResetFactors => "user.mfa.factor.reset_all",
            EventKind::ClearSessions => "user.session.clear",
            EventKind::GroupCreate => "group.lifecycle.create",
            EventKind::GroupDelete => "group.lifecycle.delete",
            EventKind::GroupProfileUpdate => "group.profile.update",
            EventKind::MembershipAdd => "group.user_membership.add",
            EventKind::MembershipRemove => "group.user_membership.remove",
            EventKind::UserPrivilegeGrant => "user.account.privilege.grant",
            EventKind::UserPrivilegeRevoke => "user.account.privilege.revoke",
            EventKind::GroupPrivilegeGrant => "group.privilege.grant",
            EventKind::GroupPrivilegeRevoke => "group.privilege.revoke",
            EventKind::SchemaUpdate => "directory.user_profile.update",
            EventKind::UserTypeCreate => "directory.non_default_user_profile.create",
        }
    }

    /// The `displayMessage`.
    pub(crate) fn display_message(self) -> &'static str {
        match self {
            EventKind::UserCreate => "Create Okta user",
            EventKind::UserActivate => "Activate Okta user",
            EventKind::UserReactivate => "Reactivate Okta user",
            EventKind::UserDeactivate => "Deactivate Okta user",
            EventKind::UserSuspend => "Suspend Okta user",
            EventKind::UserUnsuspend => "Unsuspend Okta user",
            EventKind::UserDeleteInitiated => "Delete Okta user initiated",
            EventKind::UserDeleteCompleted => "Delete Okta user completed",
            EventKind::UpdateProfile => "Update user profile for Okta",
            EventKind::UpdatePassword => "User update password for Okta",
            EventKind::UpdateUserType => "Update user type",
            EventKind::ResetPassword => "Reset password for Okta user",
            EventKind::ExpirePassword => "Expire password for Okta user",
            EventKind::UnlockByAdmin => "User account unlock by admin",
            EventKind::ResetFactors => "Reset all factors for user",
            EventKind::ClearSessions => "Clear user session",
            EventKind::GroupCreate => "Create Okta group",
            EventKind::GroupDelete => "Delete Okta group",
            EventKind::GroupProfileUpdate => "Okta group profile updated",
            EventKind::MembershipAdd => "Add user to group membership",
            EventKind::MembershipRemove => "Remove user from group membership",
            EventKind::UserPrivilegeGrant => "Grant user privilege",
            EventKind::UserPrivilegeRevoke => "Revoke user privilege",
            EventKind::GroupPrivilegeGrant => "Grant group privilege",
            EventKind::GroupPrivilegeRevoke => "Revoke group privilege",
            EventKind::SchemaUpdate => "Update universal directory user profile",
            EventKind::UserTypeCreate => "Create non-default universal directory user profile",
        }
    }
}

/// Who made a request, as the System Log's `actor` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Actor {
    /// The admin an API token (or a registered access token) belongs to.
    Admin,
    /// A service app calling with an access token from the token endpoint: its client id.
    App(String),
    /// Another admin of the org (a person, as in the Admin Console), by user id: the owner of
    /// a token added with [`super::Simulator::add_admin_token`].
    User(String),
}

/// The request an event comes from: what `client`, `request`, `transaction` and
/// `debugContext` describe.
#[derive(Debug, Clone)]
pub(crate) struct RequestContext {
    /// The `X-Okta-Request-Id` sent back for the request.
    pub request_id: String,
    /// The caller's address.
    pub ip: Option<IpAddr>,
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
    /// The request path.
    pub path: String,
    /// The raw query string.
    pub query: Option<String>,
    /// The caller.
    pub actor: Actor,
}

/// One event as the log keeps it (and the state file stores it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredEvent {
    /// Position in the log: increases with every event, never reused.
    pub seq: u64,
    /// `published`, in milliseconds since the epoch.
    pub published_ms: i64,
    /// The event as `GET /api/v1/logs` returns it.
    pub event: Value,
}

/// The org's System Log, oldest event first.
#[derive(Debug, Clone, Default)]
pub(crate) struct SystemLog {
    pub(crate) events: VecDeque<StoredEvent>,
    next_seq: u64,
    last_published_ms: i64,
}

impl SystemLog {
    /// A log holding `events` (from a state file), in order.
    pub(crate) fn from_events(mut events: Vec<StoredEvent>) -> SystemLog {
        events.sort_by_key(|event| event.seq);
        let next_seq = events.last().map_or(1, |event| event.seq + 1);
        let last_published_ms = events.iter().map(|event| event.published_ms).max().unwrap_or(0);
        SystemLog { events: events.into(), next_seq, last_published_ms }
    }

    /// Every event, oldest first (for the state file).
    pub(crate) fn stored(&self) -> Vec<StoredEvent> {
        self.events.iter().cloned().collect()
    }

    /// Every event as JSON, oldest first.
    pub(crate) fn all(&self) -> Vec<Value> {
        self.events.iter().map(|event| event.event.clone()).collect()
    }

    pub(crate) fn append(&mut self, build: impl FnOnce(i64) -> Value) {
        // `published` never goes back, so that the order of `seq` is the order of `published`
        // and the events visible at any moment are a prefix of the log.
        let published_ms = now_millis().max(self.last_published_ms);
        self.last_published_ms = published_ms;
        let seq = self.next_seq.max(1);
        self.next_seq = seq + 1;
        self.events.push_back(StoredEvent { seq, published_ms, event: build(published_ms) });
        while self.events.len() > MAX_EVENTS {
            self.events.pop_front();
        }
    }
}

pub(crate) fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// An instant in milliseconds as Okta writes it: `2025-09-29T03:49:50.123Z`.
pub(crate) fn timestamp(millis: i64) -> String {
    DateTime::from_timestamp_millis(millis).unwrap_or_default().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_log_keeps_published_monotonic_and_drops_the_oldest() {
        let mut log = SystemLog::default();
        for _ in 0..3 {
            log.append(|published| json!({ "published": published }));
        }
        let seqs: Vec<u64> = log.events.iter().map(|event| event.seq).collect();
        assert_eq!(seqs, [1, 2, 3]);
        assert!(log.events.iter().zip(log.events.iter().skip(1)).all(|(a, b)| a.published_ms <= b.published_ms));
        let reloaded = SystemLog::from_events(log.stored());
        assert_eq!(reloaded.next_seq, 4);
    }
}
