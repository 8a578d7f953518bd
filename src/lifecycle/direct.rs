//! The actions one at a time, without a policy file: each call builds a one-identity plan with
//! the action's decision rules, applies it under the journal, and returns the plan and report.
//! This is what `client.actions.*` does from Python.

use serde_json::{json, Map, Value};

use crate::error::{Error, Result};
use crate::http::OktaClient;
use crate::lifecycle::apply::{apply, ApplyOptions, Report};
use crate::lifecycle::journal::Journal;
use crate::lifecycle::plan::Plan;
use crate::lifecycle::planner::plan;
use crate::lifecycle::policy::Policy;
use crate::lifecycle::record::IdentityRecord;

/// A plan and what applying it did.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The plan made for the call.
    pub plan: Plan,
    /// The apply report.
    pub report: Report,
}

async fn run(client: &OktaClient, journal: &Journal, policy: Value, record: Map<String, Value>) -> Result<Outcome> {
    let policy = Policy::from_value(&policy)?;
    let records = [IdentityRecord::from_map(record)];
    let plan = plan(client, &policy, &records, journal).await?;
    if let Some(issue) = plan.issues.first() {
        return Err(Error::InvalidInput(issue.message.clone()));
    }
    let report = apply(client, &plan, journal, &ApplyOptions::default()).await?;
    Ok(Outcome { plan, report })
}

fn single_action(attributes: Value, action: Value) -> Value {
    json!({
        "name": "direct",
        "source": {"format": "jsonl", "key": "login"},
        "attributes": attributes,
        "workflow": [{"name": action["action"].clone(), "actions": [action]}],
    })
}

/// The login of a user given by id or login.
async fn login_of(client: &OktaClient, user: &str) -> Result<String> {
    let user = client.users().get(user).await?;
    user.login()
        .map(str::to_owned)
        .ok_or_else(|| Error::Decode { path: "user".into(), message: "the user has no login".into() })
}

/// SYNC_IDENTITIES for one profile (Okta attribute names and values): creates the user or
/// updates the attributes that differ, matched by login.
pub async fn sync_identity(
    client: &OktaClient,
    journal: &Journal,
    profile: &Map<String, Value>,
    create: bool,
    activate: bool,
) -> Result<Outcome> {
    let mut attributes = Map::new();
    let mut record = Map::new();
    for (index, (name, value)) in profile.iter().enumerate() {
        // Each attribute reads its own record field, so values pass through unformatted.
        let field = format!("field{index}");
        attributes.insert(name.clone(), Value::String(format!("{{{field} | DEFAULT('')}}")));
        record.insert(field, value.clone());
    }
    let login = profile
        .get("login")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::InvalidInput("profile.login is required".into()))?;
    let field = format!("field{}", profile.keys().position(|k| k == "login").unwrap_or(0));
    // Only the attributes given are kept in sync on an existing user; required attributes that
    // were not given render empty, which matters only to a create (and is reported there).
    let synced: Vec<Value> = profile.keys().filter(|k| *k != "login").map(|k| Value::String(k.clone())).collect();
    for required in crate::lifecycle::policy::REQUIRED_ATTRIBUTES {
        attributes.entry(required.to_owned()).or_insert_with(|| Value::String("{absent | DEFAULT('')}".into()));
    }
    let action = json!({"action": "sync_identities", "create": create, "activate": activate, "attributes": synced});
    let mut policy = single_action(Value::Object(attributes), action);
    policy["source"]["key"] = Value::String(field.clone());
    record.insert(field, Value::String(login.to_owned()));
    run(client, journal, policy, record).await
}

/// MANAGE_RELATIONSHIPS for one user: `mode` is `add`, `remove` or `sync` (with
/// `exclusive_prefix` as the managed scope).
pub async fn manage_relationships(
    client: &OktaClient,
    journal: &Journal,
    user: &str,
    groups: &[String],
    mode: &str,
    exclusive_prefix: Option<&str>,
) -> Result<Outcome> {
    let login = login_of(client, user).await?;
    let mut record = Map::new();
    record.insert("login".into(), Value::String(login));
    let mut names = Vec::new();
    for (index, group) in groups.iter().enumerate() {
        record.insert(format!("group{index}"), Value::String(group.clone()));
        names.push(Value::String(format!("{{group{index}}}")));
    }
    let mut action = json!({"action": "manage_relationships", "groups": names, "mode": mode});
    if let Some(prefix) = exclusive_prefix {
        action["exclusive_prefix"] = Value::String(prefix.to_owned());
    }
    run(client, journal, single_action(json!({"login": "{login}"}), action), record).await
}

/// DEPROVISION_IDENTITY for one user.
pub async fn deprovision_identity(
    client: &OktaClient,
    journal: &Journal,
    user: &str,
    mode: &str,
    remove_groups: bool,
    logout: bool,
    remove_roles: bool,
) -> Result<Outcome> {
    let login = login_of(client, user).await?;
    let action = json!({
        "action": "deprovision_identity", "mode": mode, "remove_groups": remove_groups, "logout": logout,
        "remove_roles": remove_roles,
    });
    let mut record = Map::new();
    record.insert("login".into(), Value::String(login));
    run(client, journal, single_action(json!({"login": "{login}"}), action), record).await
}

/// Reactivation of one user, restoring the memberships and admin roles it had when
/// deprovisioned when asked. A
/// DEPROVISIONED user gets Okta's activation email (`send_email`), or the link comes back in
/// the report's activation links.
pub async fn reactivate_identity(
    client: &OktaClient,
    journal: &Journal,
    user: &str,
    restore_groups: bool,
    restore_roles: bool,
    send_email: bool,
) -> Result<Outcome> {
    let login = login_of(client, user).await?;
    let action = json!({
        "action": "reactivate_identity", "restore_groups": restore_groups, "restore_roles": restore_roles,
        "send_email": send_email,
    });
    let mut record = Map::new();
    record.insert("login".into(), Value::String(login));
    run(client, journal, single_action(json!({"login": "{login}"}), action), record).await
}

/// CREATE_ENTITLEMENT: one group, unless it exists.
pub async fn create_entitlement(
    client: &OktaClient,
    journal: &Journal,
    name: &str,
    description: Option<&str>,
) -> Result<Outcome> {
    let mut record = Map::new();
    record.insert("name".into(), Value::String(name.to_owned()));
    let mut action = json!({"action": "create_entitlement", "name": "{name}"});
    if let Some(description) = description {
        record.insert("description".into(), Value::String(description.to_owned()));
        action["description"] = Value::String("{description}".into());
    }
    let mut policy = single_action(json!({}), action);
    policy["source"]["key"] = Value::String("name".into());
    run(client, journal, policy, record).await
}

/// RESET_PASSWORD for one login.
pub async fn reset_password(
    client: &OktaClient,
    journal: &Journal,
    login: &str,
    send_email: bool,
    revoke_sessions: bool,
) -> Result<Outcome> {
    let login = login_of(client, login).await?;
    let action = json!({"action": "reset_password", "send_email": send_email, "revoke_sessions": revoke_sessions});
    let mut record = Map::new();
    record.insert("login".into(), Value::String(login));
    run(client, journal, single_action(json!({"login": "{login}"}), action), record).await
}
