//! Reactivation: bring a deprovisioned (or suspended) account back and, optionally, restore the
//! memberships the user had when it was deprovisioned (the union of the journal's snapshots
//! since the user was last active).

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
    send_email: bool,
) -> Result<(), String> {
    let Some(user) = identity.user.clone() else {
        return Ok(());
    };
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
        for (group_id, name) in (context.recorded_groups)(&user.id).unwrap_or_default() {
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
    Ok(())
}
