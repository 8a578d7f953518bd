//! Reactivation: bring a deprovisioned (or suspended) account back and, optionally, restore the
//! memberships and admin roles the user had when it was deprovisioned (the union of the
//! journal's snapshots since the user was last active).
//!
//! A role that was limited to some groups or apps is not given back: Okta assigns a role first
//! and limits it in later calls, so restoring it would grant it org-wide in between. The plan
//! says so, and the snapshot keeps its targets for whoever restores it by hand. A custom role
//! (assigned with a resource set) is not given back either, for the same reason.
//!
//! What is restored is what the most recent deprovision by okta-lifecycle removed, and only
//! while the user's present absence is that one (Okta's `statusChanged` tells): a user
//! reactivated and disabled again by hand meanwhile gets nothing back from the older absence.

use crate::lifecycle::actions::{Identity, PlanContext};
use crate::lifecycle::plan::{GroupRef, Operation, UserRef};
use crate::lifecycle::policy::ActionKind;
use crate::okta::{GroupType, UserStatus};

/// Decides the reactivation of one identity. A DEPROVISIONED user is activated (Okta makes it
/// PROVISIONED: `send_email` sends the activation email, otherwise the link is returned); a
/// SUSPENDED one is unsuspended.
pub fn decide(
    context: &mut PlanContext<'_>,
    identity: &mut Identity<'_>,
    restore_groups: bool,
    restore_roles: bool,
    send_email: bool,
) -> Result<(), String> {
    let Some(user) = identity.user else {
        return Ok(());
    };
    let recorded = if restore_groups || restore_roles {
        (context.restorable)(&user.id, user.status_changed.as_deref())
            .map_err(|e| format!("the journal's record of {} cannot be read: {e}", user.login))?
            .unwrap_or_default()
    } else {
        Default::default()
    };
    if restore_roles {
        if let Some(custom) = recorded
            .roles
            .iter()
            .find(|role| !crate::okta::roles::STANDARD_ROLE_TYPES.contains(&role.role_type.as_str()))
        {
            return Err(format!(
                "{} held the admin role {} ({}), which is not one of Okta's standard roles: a custom role is assigned \
                 with its resource set, which the snapshot does not hold; give it back by hand, or set \
                 restore_roles = false",
                user.login, custom.role_type, custom.label
            ));
        }
        if let Some(scoped) = recorded.roles.iter().find(|role| role.is_scoped()) {
            return Err(format!(
                "{} held the admin role {} limited to some groups or apps; restoring it would grant it org-wide \
                 until the limits are set again: give it back by hand (the snapshot keeps its targets), or set \
                 restore_roles = false",
                user.login, scoped.role_type
            ));
        }
    }
    let target = UserRef { id: Some(user.id.clone()), login: user.login.clone() };
    let operation = match user.status {
        UserStatus::Deprovisioned => Operation::ActivateUser { user: target.clone(), send_email },
        UserStatus::Suspended => Operation::UnsuspendUser { user: target.clone() },
        _ => return Ok(()),
    };
    context.push(ActionKind::ReactivateIdentity, Some(identity), operation);
    identity.planned_status = Some(UserStatus::Active);
    identity.target = Some(target.clone());
    if restore_groups {
        for (group_id, name) in recorded.groups {
            let Some(group) = context.snapshot.group(&group_id) else { continue };
            if group.group_type != GroupType::OktaGroup || context.snapshot.is_member(&user.id, &group_id) {
                continue;
            }
            let group =
                GroupRef { id: Some(group_id), name: if group.name.is_empty() { name } else { group.name.clone() } };
            context.push(
                ActionKind::ReactivateIdentity,
                Some(identity),
                Operation::AddMember { user: target.clone(), group },
            );
        }
    }
    if restore_roles {
        for role in recorded.roles {
            context.push(
                ActionKind::ReactivateIdentity,
                Some(identity),
                Operation::AssignRole { user: target.clone(), role_type: role.role_type },
            );
        }
    }
    Ok(())
}
