//! Plans: exactly the API changes a run would make, per identity and action, with before and
//! after values. A plan is data: it can be shown, saved as JSON, and applied later.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::lifecycle::policy::ActionKind;

/// A user a change applies to: its id when it exists, its login always (a user created by the
/// same plan gets its id when the plan is applied).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRef {
    /// The Okta id, if the user exists when planning.
    pub id: Option<String>,
    /// The login.
    pub login: String,
}

/// A group a change applies to: its id when it exists, its name always.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRef {
    /// The Okta id, if the group exists when planning.
    pub id: Option<String>,
    /// The group's name.
    pub name: String,
}

/// An admin role assignment a change applies to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleRef {
    /// The assignment's id.
    pub id: String,
    /// The role type (`USER_ADMIN`, ...).
    pub role_type: String,
    /// Okta's label (`User Administrator`, ...).
    pub label: String,
}

/// One attribute's old and new value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributeChange {
    /// The profile attribute.
    pub attribute: String,
    /// Its current value (`null` when absent).
    pub before: Value,
    /// The value the change sets.
    pub after: Value,
}

/// One API change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "operation", rename_all = "snake_case")]
pub enum Operation {
    /// `POST /api/v1/groups`.
    CreateGroup {
        /// Name.
        name: String,
        /// Description.
        description: Option<String>,
    },
    /// `POST /api/v1/users`.
    CreateUser {
        /// The new user's login.
        login: String,
        /// The full profile.
        profile: Map<String, Value>,
        /// Activate on creation.
        activate: bool,
        /// Existing groups the user joins in the same request (`groupIds`, at most 20).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        groups: Vec<GroupRef>,
    },
    /// `POST /api/v1/users/{id}` with only the changed attributes.
    UpdateUser {
        /// The user.
        user: UserRef,
        /// The changed attributes.
        changes: Vec<AttributeChange>,
    },
    /// `PUT /api/v1/groups/{id}/users/{userId}`.
    AddMember {
        /// The user.
        user: UserRef,
        /// The group.
        group: GroupRef,
    },
    /// `DELETE /api/v1/groups/{id}/users/{userId}`.
    RemoveMember {
        /// The user.
        user: UserRef,
        /// The group.
        group: GroupRef,
    },
    /// Records the profile and memberships in the journal before a deprovision.
    SnapshotUser {
        /// The user.
        user: UserRef,
    },
    /// `POST .../lifecycle/deactivate`.
    DeactivateUser {
        /// The user.
        user: UserRef,
    },
    /// `POST .../lifecycle/suspend`.
    SuspendUser {
        /// The user.
        user: UserRef,
    },
    /// `POST .../lifecycle/activate` (a DEPROVISIONED user). Okta makes the user PROVISIONED:
    /// the user needs the activation email, or the activation link returned to the caller, to
    /// sign in again.
    ActivateUser {
        /// The user.
        user: UserRef,
        /// Let Okta email the activation link (otherwise it is returned, as a secret).
        #[serde(default = "yes")]
        send_email: bool,
    },
    /// `POST .../lifecycle/unsuspend`.
    UnsuspendUser {
        /// The user.
        user: UserRef,
    },
    /// `DELETE /api/v1/users/{id}/sessions`.
    ClearSessions {
        /// The user.
        user: UserRef,
        /// Revoke OAuth tokens too.
        oauth_tokens: bool,
    },
    /// `DELETE /api/v1/users/{id}/roles/{assignmentId}`: an admin role the user holds directly.
    UnassignRole {
        /// The user.
        user: UserRef,
        /// The assignment.
        role: RoleRef,
    },
    /// `POST /api/v1/users/{id}/roles`: an admin role given back on reactivation.
    AssignRole {
        /// The user.
        user: UserRef,
        /// The role type (`USER_ADMIN`, ...).
        role_type: String,
    },
    /// `POST .../lifecycle/reset_password`: never repeated, never retried after an ambiguous
    /// failure.
    ResetPassword {
        /// The user.
        user: UserRef,
        /// Let Okta email the link.
        send_email: bool,
        /// End the user's sessions too.
        revoke_sessions: bool,
    },
}

impl Operation {
    /// Whether sending it a second time could do something the first did not: create a second
    /// user or group, send a second email or reset, add a second assignment. Such a change is
    /// claimed in the journal with a full sync before it is sent, so that not even a power cut
    /// between the claim and the send can make a resume send it again. Sending any other change
    /// twice leaves Okta as sending it once does.
    ///
    /// Every operation is named, with no catch-all: a new one does not compile until it says,
    /// and a wrong default here would let a power cut repeat a write.
    pub fn repeat_is_harmful(&self) -> bool {
        match self {
            Operation::CreateGroup { .. }
            | Operation::CreateUser { .. }
            | Operation::ActivateUser { .. }
            | Operation::AssignRole { .. }
            | Operation::ResetPassword { .. } => true,
            Operation::UpdateUser { .. }
            | Operation::AddMember { .. }
            | Operation::RemoveMember { .. }
            | Operation::SnapshotUser { .. }
            | Operation::DeactivateUser { .. }
            | Operation::SuspendUser { .. }
            | Operation::UnsuspendUser { .. }
            | Operation::ClearSessions { .. }
            | Operation::UnassignRole { .. } => false,
        }
    }

    /// A short name (`create_user`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Operation::CreateGroup { .. } => "create_group",
            Operation::CreateUser { .. } => "create_user",
            Operation::UpdateUser { .. } => "update_user",
            Operation::AddMember { .. } => "add_member",
            Operation::RemoveMember { .. } => "remove_member",
            Operation::SnapshotUser { .. } => "snapshot_user",
            Operation::DeactivateUser { .. } => "deactivate_user",
            Operation::SuspendUser { .. } => "suspend_user",
            Operation::ActivateUser { .. } => "activate_user",
            Operation::UnsuspendUser { .. } => "unsuspend_user",
            Operation::ClearSessions { .. } => "clear_sessions",
            Operation::UnassignRole { .. } => "unassign_role",
            Operation::AssignRole { .. } => "assign_role",
            Operation::ResetPassword { .. } => "reset_password",
        }
    }

    /// Whether the operation writes to Okta (all but recording a snapshot in the journal).
    pub fn writes(&self) -> bool {
        !matches!(self, Operation::SnapshotUser { .. })
    }

    /// The user the change is about, if any.
    pub fn user(&self) -> Option<&UserRef> {
        match self {
            Operation::CreateGroup { .. } | Operation::CreateUser { .. } => None,
            Operation::UpdateUser { user, .. }
            | Operation::AddMember { user, .. }
            | Operation::RemoveMember { user, .. }
            | Operation::SnapshotUser { user }
            | Operation::DeactivateUser { user }
            | Operation::SuspendUser { user }
            | Operation::ActivateUser { user, .. }
            | Operation::UnsuspendUser { user }
            | Operation::ClearSessions { user, .. }
            | Operation::UnassignRole { user, .. }
            | Operation::AssignRole { user, .. }
            | Operation::ResetPassword { user, .. } => Some(user),
        }
    }

    /// The login of the user the change is about (the created one for `create_user`).
    pub fn login(&self) -> Option<&str> {
        match self {
            Operation::CreateUser { login, .. } => Some(login),
            other => other.user().map(|user| user.login.as_str()),
        }
    }

    /// One line describing the change.
    pub fn describe(&self) -> String {
        match self {
            Operation::CreateGroup { name, .. } => format!("create group {name:?}"),
            Operation::CreateUser { login, activate, groups, .. } => {
                let mut text = format!("create user {login}{}", if *activate { " (activated)" } else { " (staged)" });
                if !groups.is_empty() {
                    let names: Vec<String> = groups.iter().map(|g| format!("{:?}", g.name)).collect();
                    text.push_str(&format!(" in {}", names.join(", ")));
                }
                text
            }
            Operation::UpdateUser { user, changes } => {
                let mut text = format!("update {}:", user.login);
                for change in changes {
                    let _ =
                        write!(text, " {} {} -> {};", change.attribute, short(&change.before), short(&change.after));
                }
                text.pop();
                text
            }
            Operation::AddMember { user, group } => format!("add {} to {:?}", user.login, group.name),
            Operation::RemoveMember { user, group } => format!("remove {} from {:?}", user.login, group.name),
            Operation::SnapshotUser { user } => format!("record {}'s profile, groups and admin roles", user.login),
            Operation::UnassignRole { user, role } => {
                format!("remove the admin role {} ({}) from {}", role.role_type, role.label, user.login)
            }
            Operation::AssignRole { user, role_type } => format!("give {} the admin role {role_type}", user.login),
            Operation::DeactivateUser { user } => format!("deactivate {}", user.login),
            Operation::SuspendUser { user } => format!("suspend {}", user.login),
            Operation::ActivateUser { user, send_email } => {
                format!(
                    "reactivate {}{}",
                    user.login,
                    if *send_email { " (activation email)" } else { " (link returned)" }
                )
            }
            Operation::UnsuspendUser { user } => format!("unsuspend {}", user.login),
            Operation::ClearSessions { user, oauth_tokens } => {
                format!("log {} out{}", user.login, if *oauth_tokens { " (sessions and OAuth tokens)" } else { "" })
            }
            Operation::ResetPassword { user, send_email, .. } => {
                format!("reset {}'s password{}", user.login, if *send_email { " (email)" } else { " (link returned)" })
            }
        }
    }
}

fn yes() -> bool {
    true
}

fn short(value: &Value) -> String {
    match value {
        Value::Null => "(none)".into(),
        Value::String(text) => format!("{text:?}"),
        other => other.to_string(),
    }
}

/// One planned change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// Position in the plan (stable: the journal keys results by it).
    pub seq: u32,
    /// The lifecycle action that asked for it.
    pub action: ActionKind,
    /// The source key of the identity, if the change is about one.
    pub identity: Option<String>,
    /// The workflow that selected the identity.
    pub workflow: Option<String>,
    /// The API change.
    #[serde(flatten)]
    pub operation: Operation,
}

/// The apply phase of deprovisions: each user's steps run in order, one chain per user.
pub const DEPROVISION_PHASE: u8 = 4;
/// The last apply phase (password resets).
pub const LAST_PHASE: u8 = 5;

impl Change {
    /// The apply phase, in the order Okta needs: groups first; then returners' accounts
    /// brought back (Okta refuses profile updates and memberships of a DEPROVISIONED user);
    /// then creates and updates; then memberships and role assignments (restored ones too, so
    /// that they are in place before the next day's synchronisation reads them); then
    /// deprovisions (every step of one in its own order, after the user's history is recorded);
    /// then password resets.
    pub fn phase(&self) -> u8 {
        match (&self.action, &self.operation) {
            (_, Operation::CreateGroup { .. }) => 0,
            (ActionKind::ReactivateIdentity, Operation::ActivateUser { .. } | Operation::UnsuspendUser { .. }) => 1,
            (ActionKind::DeprovisionIdentity, _) => DEPROVISION_PHASE,
            (_, Operation::ResetPassword { .. }) => LAST_PHASE,
            (_, Operation::CreateUser { .. } | Operation::UpdateUser { .. }) => 2,
            _ => 3,
        }
    }
}

/// A record the plan could not act on, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordIssue {
    /// The record's position in the source (1-based).
    pub row: usize,
    /// The source key, if the record has one.
    pub identity: Option<String>,
    /// What is wrong.
    pub message: String,
}

/// How an identity fares in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityEvent {
    /// A new user.
    Joiner,
    /// A change in a mover attribute.
    Mover,
    /// Deprovisioned.
    Leaver,
    /// Brought back.
    Returner,
    /// Changed in other ways.
    Updated,
}

/// Counts for a plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Records read.
    pub records: usize,
    /// Records no workflow selected.
    pub unmatched: usize,
    /// Records with an issue.
    pub issues: usize,
    /// Identities with no change.
    pub unchanged: usize,
    /// Joiners.
    pub joiners: usize,
    /// Movers.
    pub movers: usize,
    /// Leavers.
    pub leavers: usize,
    /// Changes by operation name.
    pub operations: std::collections::BTreeMap<String, usize>,
}

/// The plan of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The run's id (the journal's key).
    pub run_id: String,
    /// The policy's name.
    pub policy: String,
    /// The org the plan was made against.
    pub org_url: String,
    /// When the plan was made (RFC 3339): for a plan of a policy, when the org began to be read
    /// for it, on the journal's clock.
    pub created_at: String,
    /// The changes, in apply order within each phase.
    pub changes: Vec<Change>,
    /// Records that could not be acted on.
    pub issues: Vec<RecordIssue>,
    /// What happens to each identity that changes, by source key.
    pub events: std::collections::BTreeMap<String, IdentityEvent>,
    /// Counts.
    pub summary: Summary,
    /// Why the safety limits block the plan (empty: not blocked).
    pub blocked: Vec<String>,
    /// The SHA-256 digest of the policy and the records planned: an apply of the same policy and
    /// source finds its unfinished run by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_digest: Option<String>,
    /// How the org was read, when an incremental read was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read: Option<ReadInfo>,
}

/// The safety verdict of a list of changes: why `safety` blocks them (empty: it does not).
/// Derived from the changes alone, so that the planner and the applier reach the same verdict
/// and an edited `blocked` list cannot change it.
pub fn safety_verdict(changes: &[Change], safety: &crate::lifecycle::policy::Safety, records: usize) -> Vec<String> {
    let mut leavers = BTreeSet::new();
    let mut touched = BTreeSet::new();
    for change in changes {
        let identity = change.identity.clone().unwrap_or_else(|| format!("change {}", change.seq));
        if matches!(change.operation, Operation::DeactivateUser { .. } | Operation::SuspendUser { .. }) {
            leavers.insert(identity.clone());
        }
        touched.insert(identity);
    }
    let mut blocked = Vec::new();
    if let Some(limit) = safety.max_deprovisions {
        if leavers.len() > limit {
            blocked.push(format!("{} deprovisions planned; the policy allows at most {limit} per run", leavers.len()));
        }
    }
    if let Some(limit) = safety.max_changed_percent {
        let share = if records == 0 {
            if touched.is_empty() {
                0.0
            } else {
                100.0
            }
        } else {
            touched.len() as f64 * 100.0 / records as f64
        };
        if share > limit {
            blocked.push(format!(
                "{} of {records} identities ({share:.1}%) would change; the policy allows at most {limit}%",
                touched.len()
            ));
        }
    }
    blocked
}

impl Plan {
    /// True when applying would change nothing.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The plan as a human-readable table.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "Plan {} for policy {:?} against {}", self.run_id, self.policy, self.org_url);
        if let Some(read) = &self.read {
            let _ = match (&read.reason, &read.changed_since) {
                (Some(reason), _) => writeln!(out, "  read the whole org ({} users): {reason}", read.users_read),
                (None, Some(since)) => writeln!(
                    out,
                    "  read what changed since {since}: {} users changed, {} deleted; members of {} groups read, of {} brought up to date from the System Log",
                    read.users_read, read.users_deleted, read.groups_read, read.groups_patched
                ),
                (None, None) => writeln!(out, "  read the whole org ({} users)", read.users_read),
            };
        }
        let identities: BTreeSet<_> = self.changes.iter().filter_map(|c| c.identity.as_deref()).collect();
        let _ = writeln!(
            out,
            "  {} records: {} changes for {} identities ({} joiners, {} movers, {} leavers), {} unchanged, {} with issues, {} matched no workflow",
            self.summary.records,
            self.changes.len(),
            identities.len(),
            self.summary.joiners,
            self.summary.movers,
            self.summary.leavers,
            self.summary.unchanged,
            self.summary.issues,
            self.summary.unmatched
        );
        for change in &self.changes {
            let who = change.identity.as_deref().unwrap_or("-");
            let _ = writeln!(
                out,
                "  {:>4}  {:<22} {:<14} {}",
                change.seq,
                change.action.as_str(),
                who,
                change.operation.describe()
            );
        }
        for issue in &self.issues {
            let _ = writeln!(
                out,
                "  issue  row {} {}: {}",
                issue.row,
                issue.identity.as_deref().unwrap_or("-"),
                issue.message
            );
        }
        for reason in &self.blocked {
            let _ = writeln!(out, "  BLOCKED: {reason}");
        }
        if self.changes.is_empty() {
            let _ = writeln!(out, "  No changes.");
        }
        out
    }
}

/// How a plan read the org.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadInfo {
    /// `incremental` (from the journal's mirror and what changed) or `full`.
    pub mode: String,
    /// Why the org was read whole although an incremental read was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Users read from Okta: those changed since the watermark, or every user.
    pub users_read: usize,
    /// Users deleted since the watermark, from the System Log.
    pub users_deleted: usize,
    /// Groups whose members were read from Okta (the others came from the mirror).
    pub groups_read: usize,
    /// Groups whose members moved and were brought up to date from the System Log.
    #[serde(default)]
    pub groups_patched: usize,
    /// The watermark the read started from (incremental reads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_since: Option<String>,
}
