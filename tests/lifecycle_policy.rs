//! Policies load from TOML and from dicts with one schema; bad policies fail with the field and
//! the line.

use okta_lifecycle::lifecycle::policy::{ActionSpec, DisableMode, RelationshipMode};
use okta_lifecycle::lifecycle::record::{IdentityRecord, SourceFormat};
use okta_lifecycle::lifecycle::Policy;
use okta_lifecycle::Error;
use serde_json::json;

const GOOD: &str = r#"
name = "p"
[source]
format = "jsonl"
key = "id"
[attributes]
login = "{email | LOWER}"
email = "{email | LOWER}"
firstName = "{first}"
lastName = "{last}"
[[workflow]]
name = "joiner"
when = 'status eq "active"'
actions = [
  { action = "sync_identities" },
  { action = "manage_relationships", groups = ["g-{team}"], exclusive_prefix = "g-" },
]
[[workflow]]
name = "leaver"
when = 'status eq "gone"'
actions = [{ action = "deprovision_identity", mode = "suspend", logout = false }]
[safety]
max_deprovisions = 2
"#;

fn error_of(text: &str) -> String {
    match Policy::from_toml(text) {
        Err(Error::InvalidInput(message)) => message,
        other => panic!("expected an invalid-input error, got {other:?}"),
    }
}

#[test]
fn a_good_policy_loads_from_toml_and_from_a_dict_alike() {
    let policy = Policy::from_toml(GOOD).unwrap();
    assert_eq!(policy.source.format, SourceFormat::JsonLines);
    assert_eq!(policy.source.match_on, "login");
    assert_eq!(policy.workflows.len(), 2);
    assert!(matches!(
        &policy.workflows[0].actions[1],
        ActionSpec::ManageRelationships { mode: RelationshipMode::Sync, .. }
    ));
    assert!(matches!(
        policy.workflows[1].actions[0],
        ActionSpec::DeprovisionIdentity { mode: DisableMode::Suspend, remove_groups: true, logout: false }
    ));
    assert_eq!(policy.safety.max_deprovisions, Some(2));

    let value: serde_json::Value = toml::from_str(GOOD).unwrap();
    assert_eq!(Policy::from_value(&value).unwrap(), policy);

    let record = |status: &str| IdentityRecord::from_map(json!({"status": status}).as_object().cloned().unwrap());
    assert_eq!(policy.workflow_for(&record("Active")).map(|w| w.name.as_str()), Some("joiner"), "values ignore case");
    assert_eq!(policy.workflow_for(&record("GONE")).map(|w| w.name.as_str()), Some("leaver"));
    assert!(policy.workflow_for(&record("on leave")).is_none());
}

#[test]
fn errors_name_the_field_and_the_line() {
    let bad_group = GOOD.replace("g-{team}", "g-{team | SHOUT}");
    let message = error_of(&bad_group);
    assert!(message.contains("workflow[0].actions[1].groups[0]"), "{message}");
    assert!(message.contains("line 16"), "{message}");
    assert!(message.contains("unknown function SHOUT"), "{message}");

    let message = error_of(&GOOD.replace("\"deprovision_identity\"", "\"deprovision\""));
    assert!(message.contains("workflow[1].actions[0].action") && message.contains("line 21"), "{message}");
    assert!(message.contains("known: sync_identities"), "{message}");

    let message = error_of(&GOOD.replace("max_deprovisions = 2", "max_deprovisons = 2"));
    assert!(message.contains("safety.max_deprovisons") && message.contains("unknown key"), "{message}");

    let message = error_of(&GOOD.replace(r#"when = 'status eq "active"'"#, r#"when = 'status eq "active'"#));
    assert!(message.contains("workflow[0].when") && message.contains("line 13"), "{message}");

    let message = error_of(&GOOD.replace("firstName = \"{first}\"\n", ""));
    assert!(message.contains("firstName"), "sync needs every required attribute: {message}");

    let message = error_of("name = \"p\"\n[source\nformat = 1");
    assert!(message.contains("line 2"), "TOML syntax errors carry their line: {message}");

    let message = error_of(&GOOD.replace(", exclusive_prefix = \"g-\"", ", mode = \"sync\""));
    assert!(message.contains("managed scope"), "{message}");
}

#[test]
fn dict_errors_name_the_field() {
    let mut value: serde_json::Value = toml::from_str(GOOD).unwrap();
    value["workflow"][0]["actions"][0]["create"] = json!("yes");
    match Policy::from_value(&value) {
        Err(Error::InvalidInput(message)) => {
            assert!(
                message.contains("workflow[0].actions[0].create") && message.contains("true or false"),
                "{message}"
            );
            assert!(!message.contains("line"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(Policy::from_value(&json!([1, 2])).is_err());
    assert!(Policy::from_value(&json!({"name": "p"})).unwrap_err().to_string().contains("source"));
}
