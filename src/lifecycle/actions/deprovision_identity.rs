//! DEPROVISION_IDENTITY: keep the history, disable the account, remove group memberships and
//! admin roles (Okta removes neither on deactivation) and log the user out.
//!
//! The order is fixed: the profile, memberships and roles are recorded in the journal first,
//! then the account is disabled (deactivated, or suspended when the policy wants it
//! reversible), then the sessions and OAuth tokens are revoked, then the OKTA_GROUP memberships
//! and the roles the user holds itself are removed (a role held through a group goes with the
//! membership). A user already disabled with no memberships and no roles left is nothing to do.

use crate::lifecycle::actions::{Identity, PlanContext};
use crate::lifecycle::plan::{GroupRef, Operation, RoleRef, UserRef};
use crate::lifecycle::policy::{ActionKind, DisableMode};
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
}

/// Decides the deprovision of one identity.
pub fn decide(
    context: &mut PlanContext<'_>,
    identity: &mut Identity<'_>,
    options: &DeprovisionOptions,
) -> Result<(), String> {
    let DeprovisionOptions { mode, remove_groups, logout, remove_roles } = *options;
    let Some(user) = identity.user.clone() else {
        // Never created in Okta: nothing to take away.
        return Ok(());
    };
    let status = identity.planned_status.clone().unwrap_or(user.status.clone());
    let disabled = match mode {
        DisableMode::Deactivate => status == UserStatus::Deprovisioned,
        DisableMode::Suspend => matches!(status, UserStatus::Suspended | UserStatus::Deprovisioned),
    };
    if mode == DisableMode::Suspend && !disabled && status != UserStatus::Active {
        return Err(format!(
            "{} is {status}: Okta suspends only ACTIVE users (use mode = \"deactivate\" for accounts that never became active)",
            user.login
        ));
    }
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
    if !disabled {
        let operation = match mode {
            DisableMode::Deactivate => Operation::DeactivateUser { user: target.clone() },
            DisableMode::Suspend => Operation::SuspendUser { user: target.clone() },
        };
        context.push(ActionKind::DeprovisionIdentity, Some(identity), operation);
        if logout {
            context.push(
                ActionKind::DeprovisionIdentity,
                Some(identity),
                Operation::ClearSessions { user: target.clone(), oauth_tokens: true },
            );
        }
    }
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
    identity.planned_status = Some(match mode {
        DisableMode::Deactivate => UserStatus::Deprovisioned,
        DisableMode::Suspend if status == UserStatus::Deprovisioned => UserStatus::Deprovisioned,
        DisableMode::Suspend => UserStatus::Suspended,
    });
    Ok(())
}
