//! SYNC_IDENTITIES: create or update a user from an identity record.
//!
//! Only changed attributes are sent; an unchanged user costs no request. The login is fixed at
//! creation: a record that would change it is an error for that identity, never a rename. An
//! email already used by another user is caught before anything is written; a taken login or
//! email tries the policy's fallbacks in order.

use serde_json::Value;

use crate::lifecycle::actions::{as_text, character_problem, email_key, Identity, PlanContext};
use crate::lifecycle::plan::{AttributeChange, Operation, UserRef};
use crate::lifecycle::policy::{ActionKind, REQUIRED_ATTRIBUTES};
use crate::okta::schema::same_value;
use crate::okta::UserStatus;

/// The options of one `sync_identities` action.
#[derive(Debug, Clone)]
pub struct SyncOptions<'a> {
    /// Create a user when none matches.
    pub create: bool,
    /// Activate created users.
    pub activate: bool,
    /// Attributes kept in sync on existing users (`None`: all but login).
    pub attributes: Option<&'a [String]>,
}

/// Whether an attribute already holds the value: typed values (numbers, booleans, arrays)
/// compared by value, and an empty string the same as no value.
fn unchanged(before: &Value, after: &Value) -> bool {
    match (before, after) {
        (Value::Array(_), _) | (_, Value::Array(_)) => {
            same_value(before, after)
                || [before, after].iter().all(|v| v.is_null() || v.as_array().is_some_and(Vec::is_empty))
        }
        (Value::Number(_), Value::Number(_)) => same_value(before, after),
        _ => as_text(before) == as_text(after),
    }
}

fn looks_like_email(text: &str) -> bool {
    match text.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !text.contains(char::is_whitespace)
        }
        None => false,
    }
}

/// Decides the create or update for one identity.
pub fn decide(
    context: &mut PlanContext<'_>,
    identity: &mut Identity<'_>,
    options: &SyncOptions<'_>,
) -> Result<(), String> {
    let login = identity.attributes.get("login").and_then(as_text).unwrap_or_default();
    for (name, value) in &identity.attributes {
        if let Some(problem) = value.as_str().and_then(|text| character_problem(name, text)) {
            return Err(problem);
        }
    }
    match identity.user {
        Some(user) => {
            let status = identity.planned_status.clone().unwrap_or(user.status.clone());
            if status == UserStatus::Deprovisioned {
                return Err(format!(
                    "{} is DEPROVISIONED in Okta; add reactivate_identity to the workflow to bring the account back",
                    user.login
                ));
            }
            if !login.is_empty() && login.to_lowercase() != user.login.to_lowercase() {
                return Err(format!(
                    "the login would change from {} to {login}; a login cannot change after creation",
                    user.login
                ));
            }
            let synced: Vec<&str> = match options.attributes {
                Some(names) => names.iter().map(String::as_str).filter(|n| *n != "login").collect(),
                None => context.policy.attributes.iter().map(|r| r.name.as_str()).filter(|n| *n != "login").collect(),
            };
            let mut changes = Vec::new();
            for name in synced {
                let Some(after) = identity.attributes.get(name) else { continue };
                let before = user.profile.get(name).cloned().unwrap_or(Value::Null);
                if unchanged(&before, after) {
                    continue;
                }
                if REQUIRED_ATTRIBUTES.contains(&name) && as_text(after).is_none_or(|text| text.trim().is_empty()) {
                    return Err(format!("{name} would become empty; Okta requires it"));
                }
                if name == "email" {
                    let email = as_text(after).unwrap_or_default();
                    if !looks_like_email(&email) {
                        return Err(format!("email {email:?} is not an email address"));
                    }
                    if let Some(other) = context.snapshot.users_by_email(&email).find(|other| other.id != user.id) {
                        return Err(format!("email {email} is already used by {}", other.login));
                    }
                    if let Some(key) = context.claimed_emails.get(&email_key(&email)) {
                        return Err(format!("email {email} is also claimed by identity {key} in this run"));
                    }
                    context.claimed_emails.insert(email_key(&email), identity.key.clone());
                }
                changes.push(AttributeChange { attribute: name.to_owned(), before, after: after.clone() });
            }
            let target = UserRef { id: Some(user.id.clone()), login: user.login.clone() };
            identity.target = Some(target.clone());
            if !changes.is_empty() {
                context.push(
                    ActionKind::SyncIdentities,
                    Some(identity),
                    Operation::UpdateUser { user: target, changes },
                );
            }
            Ok(())
        }
        None if !options.create => Err("no Okta user matches and the workflow does not create users".into()),
        None => {
            for required in REQUIRED_ATTRIBUTES {
                let value = identity.attributes.get(required).and_then(as_text).unwrap_or_default();
                if value.trim().is_empty() {
                    return Err(format!("{required} is empty; Okta requires it"));
                }
            }
            let mut profile = identity.attributes.clone();
            let login = choose(context, identity, "login", |context, value| {
                let folded = value.to_lowercase();
                context.snapshot.user_by_login(value).is_none() && !context.claimed_logins.contains_key(&folded)
            })?;
            let email = choose(context, identity, "email", |context, value| {
                context.snapshot.users_by_email(value).next().is_none()
                    && !context.claimed_emails.contains_key(&email_key(value))
            })?;
            if !looks_like_email(&email) {
                return Err(format!("email {email:?} is not an email address"));
            }
            // A fallback is rendered from other fields: its characters are checked too.
            for (name, value) in [("login", &login), ("email", &email)] {
                if let Some(problem) = character_problem(name, value) {
                    return Err(problem);
                }
            }
            context.claimed_logins.insert(login.to_lowercase(), identity.key.clone());
            context.claimed_emails.insert(email_key(&email), identity.key.clone());
            profile.insert("login".into(), Value::String(login.clone()));
            profile.insert("email".into(), Value::String(email));
            identity.target = Some(UserRef { id: None, login: login.clone() });
            identity.planned_status = Some(if options.activate { UserStatus::Active } else { UserStatus::Staged });
            context.push(
                ActionKind::SyncIdentities,
                Some(identity),
                Operation::CreateUser { login, profile, activate: options.activate, groups: Vec::new() },
            );
            Ok(())
        }
    }
}

/// The primary value of `attribute`, or the first fallback that is free.
fn choose(
    context: &PlanContext<'_>,
    identity: &Identity<'_>,
    attribute: &str,
    is_free: impl Fn(&PlanContext<'_>, &str) -> bool,
) -> Result<String, String> {
    let primary = identity.attributes.get(attribute).and_then(as_text).unwrap_or_default();
    if is_free(context, &primary) {
        return Ok(primary);
    }
    let fallbacks = context.policy.attribute(attribute).map(|rule| rule.fallbacks.as_slice()).unwrap_or_default();
    for fallback in fallbacks {
        let lookup = |field: &str| identity.record.text(field);
        if let Ok(candidate) = fallback.render(&lookup) {
            if !candidate.trim().is_empty() && is_free(context, &candidate) {
                return Ok(candidate);
            }
        }
    }
    let holder = if attribute == "login" {
        context
            .snapshot
            .user_by_login(&primary)
            .map(|u| u.login.clone())
            .or_else(|| context.claimed_logins.get(&primary.to_lowercase()).map(|k| format!("identity {k}")))
    } else {
        context
            .snapshot
            .users_by_email(&primary)
            .next()
            .map(|u| u.login.clone())
            .or_else(|| context.claimed_emails.get(&email_key(&primary)).map(|k| format!("identity {k}")))
    };
    Err(format!(
        "{attribute} {primary} is already used by {}{}",
        holder.unwrap_or_else(|| "another user".into()),
        if fallbacks.is_empty() { "" } else { " and no fallback is free" }
    ))
}

#[cfg(test)]
mod tests {
    use super::looks_like_email;

    #[test]
    fn email_shape() {
        assert!(looks_like_email("ada@acme.com"));
        assert!(!looks_like_email("ada@acme"));
        assert!(!looks_like_email("@acme.com"));
        assert!(!looks_like_email("a da@acme.com"));
        assert!(!looks_like_email(""));
    }
}
