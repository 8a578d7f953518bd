//! What a plan does to each identity, told from its changes alone (without reading more of the
//! org): the diff a check mode shows, and the state one user is left in. Every operation is
//! matched here by name, with no catch-all, so an operation added to [`Operation`] cannot be
//! left out of a diff: it does not compile until it says what it changes.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use crate::lifecycle::plan::{Change, Operation};

/// What a change does to its user that the plan alone can tell, besides attributes, groups
/// and roles: the status Okta gives it, and a mark no attribute shows (its sessions revoked, a
/// password reset started).
struct Effect {
    status: Option<&'static str>,
    mark: Option<(&'static str, &'static str)>,
}

impl Effect {
    const NONE: Effect = Effect { status: None, mark: None };

    fn status(status: &'static str) -> Effect {
        Effect { status: Some(status), mark: None }
    }

    fn mark(key: &'static str, value: &'static str) -> Effect {
        Effect { status: None, mark: Some((key, value)) }
    }
}

/// The [`Effect`] of `operation`. `before` is the status the user had (an activation of a
/// SUSPENDED user makes it ACTIVE, of a DEPROVISIONED one PROVISIONED).
fn effect(operation: &Operation, before: Option<&str>) -> Effect {
    match operation {
        Operation::CreateUser { activate, .. } => Effect::status(if *activate { "PROVISIONED" } else { "STAGED" }),
        Operation::DeactivateUser { .. } => Effect::status("DEPROVISIONED"),
        Operation::SuspendUser { .. } => Effect::status("SUSPENDED"),
        Operation::UnsuspendUser { .. } => Effect::status("ACTIVE"),
        Operation::ActivateUser { .. } => {
            Effect::status(if before == Some("SUSPENDED") { "ACTIVE" } else { "PROVISIONED" })
        }
        Operation::ClearSessions { .. } => Effect::mark("sessions", "revoked"),
        Operation::ResetPassword { .. } => Effect::mark("password", "reset"),
        Operation::CreateGroup { .. }
        | Operation::UpdateUser { .. }
        | Operation::AddMember { .. }
        | Operation::RemoveMember { .. }
        | Operation::SnapshotUser { .. }
        | Operation::UnassignRole { .. }
        | Operation::AssignRole { .. } => Effect::NONE,
    }
}

fn push(map: &mut Map<String, Value>, key: &str, value: Value) {
    match map.entry(key.to_owned()).or_insert_with(|| Value::Array(Vec::new())) {
        Value::Array(items) => items.push(value),
        other => *other = Value::Array(vec![value]),
    }
}

fn object<'a>(map: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let entry = map.entry(key.to_owned()).or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    entry.as_object_mut().expect("made an object above")
}

/// The state a user (`{"exists", "login", "status", "profile", "groups"}`, as read before) is
/// left in once `changes` (the plan's changes of that user) are applied: profile attributes
/// set, groups joined and left, the status Okta gives, roles removed and added, sessions revoked
/// and a password reset started.
pub fn predict(before: &Value, changes: &[Change]) -> Value {
    let mut after = before.as_object().cloned().unwrap_or_default();
    let mut profile = after.get("profile").and_then(Value::as_object).cloned().unwrap_or_default();
    let mut groups: BTreeSet<String> = after
        .get("groups")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default();
    let status_before = before.get("status").and_then(Value::as_str).map(str::to_owned);
    for change in changes {
        let operation = &change.operation;
        let Effect { status, mark } = effect(operation, status_before.as_deref());
        if let Some(status) = status {
            after.insert("status".into(), json!(status));
        }
        if let Some((key, value)) = mark {
            after.insert(key.into(), json!(value));
        }
        match operation {
            Operation::CreateUser { login, profile: created, groups: joined, .. } => {
                after.insert("exists".into(), json!(true));
                after.insert("login".into(), json!(login));
                profile.extend(created.iter().map(|(name, value)| (name.clone(), value.clone())));
                groups.extend(joined.iter().map(|group| group.name.clone()));
            }
            Operation::UpdateUser { changes, .. } => {
                profile.extend(changes.iter().map(|c| (c.attribute.clone(), c.after.clone())));
            }
            Operation::AddMember { group, .. } => {
                groups.insert(group.name.clone());
            }
            Operation::RemoveMember { group, .. } => {
                groups.remove(&group.name);
            }
            Operation::UnassignRole { role, .. } => push(&mut after, "roles_removed", json!(role.role_type)),
            Operation::AssignRole { role_type, .. } => push(&mut after, "roles_added", json!(role_type)),
            // Told by `status_after` or `mark`, or nothing the user's state shows.
            Operation::ClearSessions { .. }
            | Operation::ResetPassword { .. }
            | Operation::DeactivateUser { .. }
            | Operation::SuspendUser { .. }
            | Operation::UnsuspendUser { .. }
            | Operation::ActivateUser { .. }
            | Operation::SnapshotUser { .. }
            | Operation::CreateGroup { .. } => {}
        }
    }
    after.insert("profile".into(), Value::Object(profile));
    after.insert("groups".into(), json!(groups));
    Value::Object(after)
}

/// The diff of a plan: for each identity (by its source key, or its login), only what changes
/// (attributes before and after, groups left and joined, the status after, roles, sessions, a
/// password reset), and each group created (`"group NAME"`). `{"before": {...}, "after": {...}}`.
pub fn diff(changes: &[Change]) -> Value {
    let (mut before, mut after) = (Map::new(), Map::new());
    for change in changes {
        let operation = &change.operation;
        if let Operation::CreateGroup { name, description } = operation {
            let key = format!("group {name}");
            before.insert(key.clone(), Value::Null);
            after.insert(key, json!({"name": name, "description": description}));
            continue;
        }
        let key = change.identity.clone().or_else(|| operation.login().map(str::to_owned)).unwrap_or_default();
        if !before.contains_key(&key) {
            before.insert(key.clone(), Value::Object(Map::new()));
        }
        let new = object(&mut after, &key);
        let Effect { status, mark } = effect(operation, None);
        if let Some(status) = status {
            let shown = if matches!(operation, Operation::ActivateUser { .. }) { "reactivated" } else { status };
            new.insert("status".into(), json!(shown));
        }
        if let Some((key, value)) = mark {
            new.insert(key.into(), json!(value));
        }
        match operation {
            Operation::CreateUser { profile, groups, .. } => {
                new.insert("profile".into(), Value::Object(profile.clone()));
                let mut names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
                names.sort_unstable();
                new.insert("groups".into(), json!(names));
                before.insert(key, Value::Null);
            }
            Operation::UpdateUser { changes, .. } => {
                for attribute in changes {
                    object(new, "profile").insert(attribute.attribute.clone(), attribute.after.clone());
                }
                if let Some(old) = before.get_mut(&key).and_then(Value::as_object_mut) {
                    for attribute in changes {
                        object(old, "profile").insert(attribute.attribute.clone(), attribute.before.clone());
                    }
                }
            }
            Operation::AddMember { group, .. } => push(new, "groups_joined", json!(group.name)),
            Operation::RemoveMember { group, .. } => {
                if let Some(old) = before.get_mut(&key).and_then(Value::as_object_mut) {
                    push(old, "groups_left", json!(group.name));
                }
            }
            Operation::UnassignRole { role, .. } => {
                if let Some(old) = before.get_mut(&key).and_then(Value::as_object_mut) {
                    push(old, "roles", json!(role.role_type));
                }
            }
            Operation::AssignRole { role_type, .. } => push(new, "roles", json!(role_type)),
            // Told by `status_after` or `mark`; a snapshot changes nothing in Okta; groups are
            // above.
            Operation::ClearSessions { .. }
            | Operation::ResetPassword { .. }
            | Operation::DeactivateUser { .. }
            | Operation::SuspendUser { .. }
            | Operation::UnsuspendUser { .. }
            | Operation::ActivateUser { .. }
            | Operation::SnapshotUser { .. }
            | Operation::CreateGroup { .. } => {}
        }
    }
    json!({"before": before, "after": after})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::plan::{AttributeChange, GroupRef, RoleRef, UserRef};
    use crate::lifecycle::policy::ActionKind;

    fn change(seq: u32, operation: Operation) -> Change {
        Change { seq, action: ActionKind::SyncIdentities, identity: Some("7".into()), workflow: None, operation }
    }

    fn ada() -> UserRef {
        UserRef { id: Some("00u1".into()), login: "ada@acme.com".into() }
    }

    fn group(name: &str) -> GroupRef {
        GroupRef { id: Some(format!("00g{name}")), name: name.into() }
    }

    #[test]
    fn a_leaver_and_a_mover_are_predicted_and_diffed_from_the_changes_alone() {
        let changes = vec![
            change(
                1,
                Operation::UpdateUser {
                    user: ada(),
                    changes: vec![AttributeChange {
                        attribute: "title".into(),
                        before: json!("Eng"),
                        after: json!("Lead"),
                    }],
                },
            ),
            change(2, Operation::RemoveMember { user: ada(), group: group("staff") }),
            change(3, Operation::AddMember { user: ada(), group: group("leads") }),
            change(4, Operation::SnapshotUser { user: ada() }),
            change(
                5,
                Operation::UnassignRole {
                    user: ada(),
                    role: RoleRef {
                        id: "ra1".into(),
                        role_type: "USER_ADMIN".into(),
                        label: "User Administrator".into(),
                    },
                },
            ),
            change(6, Operation::SuspendUser { user: ada() }),
            change(7, Operation::ClearSessions { user: ada(), oauth_tokens: true }),
        ];
        let before = json!({"exists": true, "login": "ada@acme.com", "status": "ACTIVE",
            "profile": {"title": "Eng"}, "groups": ["staff"]});
        let after = predict(&before, &changes);
        assert_eq!(after["status"], "SUSPENDED");
        assert_eq!(after["profile"], json!({"title": "Lead"}));
        assert_eq!(after["groups"], json!(["leads"]));
        assert_eq!(after["roles_removed"], json!(["USER_ADMIN"]));
        assert_eq!(after["sessions"], "revoked");
        let shown = diff(&changes);
        assert_eq!(
            shown["before"]["7"],
            json!({"profile": {"title": "Eng"}, "groups_left": ["staff"], "roles": ["USER_ADMIN"]})
        );
        assert_eq!(
            shown["after"]["7"],
            json!({"profile": {"title": "Lead"}, "groups_joined": ["leads"], "status": "SUSPENDED", "sessions": "revoked"})
        );
        // A suspended returner comes back ACTIVE; a deprovisioned one PROVISIONED.
        let back = [change(1, Operation::ActivateUser { user: ada(), send_email: false })];
        assert_eq!(predict(&json!({"status": "SUSPENDED"}), &back)["status"], "ACTIVE");
        assert_eq!(predict(&json!({"status": "DEPROVISIONED"}), &back)["status"], "PROVISIONED");
        assert_eq!(diff(&back)["after"]["7"]["status"], "reactivated");
    }

    #[test]
    fn a_joiner_and_a_new_group_have_nothing_before() {
        let mut profile = Map::new();
        profile.insert("login".into(), json!("grace@acme.com"));
        let changes = vec![
            change(1, Operation::CreateGroup { name: "eng".into(), description: None }),
            change(
                2,
                Operation::CreateUser {
                    login: "grace@acme.com".into(),
                    profile,
                    activate: false,
                    groups: vec![group("eng")],
                },
            ),
            change(3, Operation::ResetPassword { user: ada(), send_email: true, revoke_sessions: false }),
        ];
        let shown = diff(&changes);
        assert_eq!(shown["before"]["group eng"], Value::Null);
        assert_eq!(shown["after"]["group eng"], json!({"name": "eng", "description": null}));
        assert_eq!(shown["before"]["7"], Value::Null);
        assert_eq!(shown["after"]["7"]["status"], "STAGED");
        assert_eq!(shown["after"]["7"]["groups"], json!(["eng"]));
        assert_eq!(shown["after"]["7"]["password"], "reset");
        let after = predict(&json!({"exists": false}), &changes[1..2]);
        assert_eq!((after["exists"].clone(), after["status"].clone()), (json!(true), json!("STAGED")));
        assert_eq!(after["groups"], json!(["eng"]));
    }
}
