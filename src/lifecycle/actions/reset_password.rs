//! RESET_PASSWORD: trigger Okta's password-reset flow for a login. Not idempotent: every
//! requested reset is a new event, so it is planned every time it is asked for, never retried
//! after an ambiguous failure and never repeated when a run resumes.

use crate::lifecycle::actions::{Identity, PlanContext};
use crate::lifecycle::plan::{Operation, UserRef};
use crate::lifecycle::policy::ActionKind;
use crate::okta::UserStatus;

/// Decides the reset for one identity.
pub fn decide(
    context: &mut PlanContext<'_>,
    identity: &Identity<'_>,
    send_email: bool,
    revoke_sessions: bool,
) -> Result<(), String> {
    let Some(user) = identity.user.as_ref() else {
        return Err("no Okta user matches, so no password can be reset".into());
    };
    if matches!(user.status, UserStatus::Deprovisioned | UserStatus::Staged) {
        return Err(format!("{} is {}: Okta resets passwords only for activated users", user.login, user.status));
    }
    let user = UserRef { id: Some(user.id.clone()), login: user.login.clone() };
    context.push(
        ActionKind::ResetPassword,
        Some(identity),
        Operation::ResetPassword { user, send_email, revoke_sessions },
    );
    Ok(())
}
