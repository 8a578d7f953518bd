//! DEPROVISION_IDENTITY: keep the history, disable the account, remove group memberships and
//! admin roles (Okta removes neither on deactivation) and log the user out.
//!
//! The order is fixed: the profile, memberships and roles are recorded in the journal first,
//! then the account is disabled (deactivated, or suspended when the policy wants it
//! reversible), then the sessions and OAuth tokens are revoked, then the OKTA_GROUP memberships
//! and the roles the user holds itself are removed (a role held through a group goes with the
//! membership). A user already disabled with no memberships and no roles left is nothing to do.
//!
//! A leaver whose record matches no Okta user is an issue, never passed over as unchanged: the
//! key may be written differently in Okta, and a leaver silently kept is the worst outcome.
//!
//! Okta suspends only ACTIVE users. A suspend-mode leaver in any other status that can still
//! sign in (LOCKED_OUT, PASSWORD_EXPIRED, RECOVERY) or be activated (STAGED, PROVISIONED) loses
//! its access first: its groups, roles and sessions go. Then, as the policy says
//! (`suspend_refused`), it is deactivated instead, or it keeps its status and is named as an
//! issue: anyone who can lock an account must not be able to keep a leaver's access by it.

use crate::lifecycle::actions::{Identity, PlanContext};
use crate::lifecycle::plan::{GroupRef, Operation, RecordIssue, RoleRef, UserRef};
use crate::lifecycle::policy::{ActionKind, DisableMode, SuspendRefused};
use crate::okta::{GroupType, UserStatus};

/// The options of one `deprovision_identity` action.
#[derive(Debug, Clone, Copy)]
pub struct DeprovisionOptions {
    /// Deactivate or suspend.
    pub mode: DisableMode,
    /// Remove every OKTA_GROUP membership.
    pub remove_groups: bool,
    /// End sessions and revoke OAuth tokens.
    pub logout: bool,
    /// Remove the admin roles the user holds itself.
    pub remove_roles: bool,
    /// With `suspend`: what to do with a user Okta will not suspend.
    pub suspend_refused: SuspendRefused,
}

/// Decides the deprovision of one identity.
pub fn decide(
    context: &mut PlanContext<'_>,
    identity: &mut Identity<'_>,
    options: &DeprovisionOptions,
) -> Result<(), String> {
    let DeprovisionOptions { mode, remove_groups, logout, remove_roles, suspend_refused } = *options;
    let Some(user) = identity.user else {
        return Err(format!(
            "no Okta user matches {} {}: a leaver is never passed over; if the account was never created or \
             was deleted, remove the record from the leavers, otherwise correct the key in Okta or the source",
            context.policy.source.match_on,
            identity.match_value.as_deref().unwrap_or("(none)")
        ));
    };
    let status = identity.planned_status.clone().unwrap_or(user.status.clone());
    let disabled = match mode {
        DisableMode::Deactivate => status == UserStatus::Deprovisioned,
        DisableMode::Suspend => matches!(status, UserStatus::Suspended | UserStatus::Deprovisioned),
    };
    // Suspend mode, and Okta will not suspend this user: access goes first, then the status
    // change the policy allows (deactivation) or none, said as an issue.
    let refused = mode == DisableMode::Suspend && !disabled && status != UserStatus::Active;
    if remove_groups && !context.snapshot.has_complete_memberships(&user.id) {
        return Err(format!("the memberships of {} were not read, so they cannot be removed", user.login));
    }
    let groups: Vec<GroupRef> = if remove_groups {
        context
            .snapshot
            .memberships(&user.id)
            .filter_map(|id| context.snapshot.group(id))
            .filter(|g| g.group_type == GroupType::OktaGroup)
            .map(|g| GroupRef { id: Some(g.id.clone()), name: g.name.clone() })
            .collect()
    } else {
        Vec::new()
    };
    if remove_roles && !context.snapshot.has_roles(&user.id) {
        return Err(format!("the admin roles of {} were not read, so they cannot be removed", user.login));
    }
    let roles: Vec<RoleRef> = if remove_roles {
        context
            .snapshot
            .roles(&user.id)
            .iter()
            .filter(|role| role.assignment_type == "USER")
            .map(|role| RoleRef { id: role.id.clone(), role_type: role.role_type.clone(), label: role.label.clone() })
            .collect()
    } else {
        Vec::new()
    };
    if disabled && groups.is_empty() && roles.is_empty() {
        return Ok(());
    }
    let target = UserRef { id: Some(user.id.clone()), login: user.login.clone() };
    context.push(ActionKind::DeprovisionIdentity, Some(identity), Operation::SnapshotUser { user: target.clone() });
    if refused {
        if logout {
            context.push(
                ActionKind::DeprovisionIdentity,
                Some(identity),
                Operation::ClearSessions { user: target.clone(), oauth_tokens: true },
            );
        }
        remove_access(context, identity, &target, groups, roles);
        match suspend_refused {
            SuspendRefused::Deactivate => {
                context.push(
                    ActionKind::DeprovisionIdentity,
                    Some(identity),
                    Operation::DeactivateUser { user: target.clone() },
                );
                context.notes.push(RecordIssue {
                    row: identity.row,
                    identity: Some(identity.key.clone()),
                    message: format!(
                        "deprovision_identity: {} is {status}, which Okta does not suspend: its access is removed and it \
                         is deactivated instead (suspend_refused = \"deactivate\")",
                        user.login
                    ),
                });
                identity.planned_status = Some(UserStatus::Deprovisioned);
            }
            SuspendRefused::Issue => {
                context.notes.push(RecordIssue {
                    row: identity.row,
                    identity: Some(identity.key.clone()),
                    message: format!(
                        "deprovision_identity: {} is {status}, which Okta does not suspend: its groups, roles and \
                         sessions are removed, but the account stays {status}; deactivate it by hand, or set \
                         suspend_refused = \"deactivate\"",
                        user.login
                    ),
                });
            }
        }
        return Ok(());
    }
    if !disabled {
        let operation = match mode {
            DisableMode::Deactivate => Operation::DeactivateUser { user: target.clone() },
            DisableMode::Suspend => Operation::SuspendUser { user: target.clone() },
        };
        context.push(ActionKind::DeprovisionIdentity, Some(identity), operation);
    }
    // Logged out whenever its access is taken, also when someone else disabled the account
    // first: a suspension by hand need not end the sessions and tokens the user holds.
    if logout {
        context.push(
            ActionKind::DeprovisionIdentity,
            Some(identity),
            Operation::ClearSessions { user: target.clone(), oauth_tokens: true },
        );
    }
    remove_access(context, identity, &target, groups, roles);
    identity.planned_status = Some(match mode {
        DisableMode::Deactivate => UserStatus::Deprovisioned,
        DisableMode::Suspend if status == UserStatus::Deprovisioned => UserStatus::Deprovisioned,
        DisableMode::Suspend => UserStatus::Suspended,
    });
    Ok(())
}

/// Plans the removal of a leaver's memberships and own admin roles.
fn remove_access(
    context: &mut PlanContext<'_>,
    identity: &Identity<'_>,
    target: &UserRef,
    groups: Vec<GroupRef>,
    roles: Vec<RoleRef>,
) {
    for group in groups {
        context.push(
            ActionKind::DeprovisionIdentity,
            Some(identity),
            Operation::RemoveMember { user: target.clone(), group },
        );
    }
    for role in roles {
        context.push(
            ActionKind::DeprovisionIdentity,
            Some(identity),
            Operation::UnassignRole { user: target.clone(), role },
        );
    }
}
