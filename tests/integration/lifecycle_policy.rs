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
        ActionSpec::DeprovisionIdentity {
            mode: DisableMode::Suspend,
            remove_groups: true,
            logout: false,
            remove_roles: true,
            suspend_refused: okta_lifecycle::lifecycle::policy::SuspendRefused::Issue,
        }
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
    assert!(message.contains("safety.max_deprovisons (line 23)"), "{message}");
    assert!(message.contains("unknown field `max_deprovisons`, expected"), "{message}");
    assert!(message.contains("`max_deprovisions` or `max_changed_percent`"), "the allowed keys: {message}");

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
                message.contains("workflow[0].actions[0].create") && message.contains("expected a boolean"),
                "{message}"
            );
            assert!(!message.contains("line"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(Policy::from_value(&json!([1, 2])).is_err());
    assert!(Policy::from_value(&json!({"name": "p"})).unwrap_err().to_string().contains("source"));

    // `None` is not "not set": an optional key, when given, holds a value.
    let mut value: serde_json::Value = toml::from_str(GOOD).unwrap();
    value["workflow"][1]["when"] = serde_json::Value::Null;
    let message = Policy::from_value(&value).unwrap_err().to_string();
    assert!(message.contains("workflow[1].when: invalid type: null, expected a string"), "{message}");
    // A table's fields given as a list are not the table.
    let mut value: serde_json::Value = toml::from_str(GOOD).unwrap();
    value["workflow"][0]["actions"][0] = json!(["sync_identities", true, true]);
    let message = Policy::from_value(&value).unwrap_err().to_string();
    assert!(message.contains("workflow[0].actions[0]: invalid type: sequence, expected a table"), "{message}");
}

/// The message without its line, as a dict's error for the same field reads.
fn without_line(message: &str) -> String {
    let start = message.find(" (line ").unwrap_or_else(|| panic!("no line in {message}"));
    let end = start + message[start..].find("):").expect("the line closes") + 1;
    format!("{}{}", &message[..start], &message[end..])
}

#[test]
fn an_unknown_key_anywhere_names_its_path_its_line_and_the_keys_allowed_there() {
    let message = error_of(&GOOD.replace("logout = false", "logout = false, lgout = true"));
    assert!(message.starts_with("policy: workflow[1].actions[0].lgout (line 21): unknown field `lgout`"), "{message}");
    assert!(message.contains("`action`, `mode`, `remove_groups`, `logout`"), "deprovision's own keys: {message}");

    // An action written as its own table: the line is the key's, not the table header's.
    let text = GOOD.replace(
        "actions = [{ action = \"deprovision_identity\", mode = \"suspend\", logout = false }]",
        "[[workflow.actions]]\naction = \"reset_password\"\nsend_email = false\nrevoke_session = true",
    );
    let message = error_of(&text);
    assert!(message.starts_with("policy: workflow[1].actions[0].revoke_session (line 24): unknown field"), "{message}");
    assert!(message.contains("`send_email`, `revoke_sessions`"), "{message}");

    // A dotted key makes a table that has no header: the line is the key's.
    let text = GOOD
        .replace("[safety]\nmax_deprovisions = 2\n", "")
        .replace("name = \"p\"\n", "name = \"p\"\nsafety.max_deprovisons = 2\n");
    let message = error_of(&text);
    assert!(message.starts_with("policy: safety.max_deprovisons (line 3): unknown field"), "{message}");

    let message = error_of(&GOOD.replace("key = \"id\"", "key = \"id\"\n  tiebreak = \"issue\""));
    assert!(message.starts_with("policy: source.tiebreak (line 6): unknown field `tiebreak`"), "{message}");
    assert!(message.contains("`tie_break`"), "{message}");
}

#[test]
fn a_wrong_type_names_its_path_and_line() {
    let message = error_of(&GOOD.replace("groups = [\"g-{team}\"]", "groups = \"g-{team}\""));
    assert_eq!(
        message,
        "policy: workflow[0].actions[1].groups (line 16): invalid type: string \"g-{team}\", expected a sequence"
    );
    let message = error_of(&GOOD.replace("max_deprovisions = 2", "max_deprovisions = \"2\""));
    assert_eq!(message, "policy: safety.max_deprovisions (line 23): must be a whole number ≥ 0, not \"2\"");
    let message = error_of(&GOOD.replace("[safety]\n", "[safety.limits]\n"));
    assert!(message.starts_with("policy: safety.limits (line 22): unknown field `limits`"), "{message}");
    let message = error_of(&GOOD.replace("format = \"jsonl\"", "format = [\"jsonl\"]"));
    assert_eq!(message, "policy: source.format (line 4): invalid type: sequence, expected a string");
    // A table's fields given as a list are not the table.
    let message = error_of(&GOOD.replace("[source]\nformat = \"jsonl\"\nkey = \"id\"", "source = [\"jsonl\", \"id\"]"));
    assert_eq!(message, "policy: source (line 3): invalid type: sequence, expected a table");
}

#[test]
fn a_bad_formatter_or_filter_names_its_path_and_line() {
    let text = GOOD.replace("[[workflow]]\nname = \"joiner\"", "[attributes.fallbacks]\nlogin = [\n  \"{first}.{last}\",\n  \"{first | NOPE}\",\n]\n[[workflow]]\nname = \"joiner\"");
    let message = error_of(&text);
    assert!(message.starts_with("policy: attributes.fallbacks.login[1] (line 14): invalid formatter"), "{message}");
    assert!(message.contains("unknown function NOPE"), "{message}");

    let message = error_of(&GOOD.replace("status eq \"gone\"", "status eq"));
    assert!(message.starts_with("policy: workflow[1].when (line 20): invalid SCIM filter"), "{message}");

    // Checks serde cannot make (one field against another) point at lines too.
    let message = error_of(&GOOD.replace(
        "{ action = \"sync_identities\" }",
        "{ action = \"sync_identities\", attributes = [\"email\", \"title\"] }",
    ));
    assert_eq!(message, "policy: workflow[0].actions[0].attributes[1] (line 15): \"title\" has no attribute rule");
    let message = error_of(&GOOD.replace("when = 'status eq \"gone\"'\nactions = [{ action = \"deprovision_identity\", mode = \"suspend\", logout = false }]", "when = 'status eq \"gone\"'"));
    assert_eq!(message, "policy: workflow[1].actions (line 18): needs at least one action", "the workflow's header");
    let message = error_of(&GOOD.replace("[source]\nformat = \"jsonl\"\nkey = \"id\"\n", ""));
    assert_eq!(message, "policy: missing field `source`", "the whole document has no line");
}

#[test]
fn a_dict_names_the_same_path_as_toml_without_a_line() {
    let bad = [
        GOOD.replace("logout = false", "logout = false, lgout = true"),
        GOOD.replace("groups = [\"g-{team}\"]", "groups = \"g-{team}\""),
        GOOD.replace("g-{team}", "g-{team | SHOUT}"),
        GOOD.replace("status eq \"gone\"", "status eq"),
        GOOD.replace("max_deprovisions = 2", "max_deprovisions = -2"),
        GOOD.replace("\"deprovision_identity\"", "\"deprovision\""),
        GOOD.replace("{ action = \"sync_identities\" }", "{ action = \"sync_identities\", create = 1 }"),
        GOOD.replace("[safety]", "[movers]\nattributes = [\"title\"]\n[safety]"),
    ];
    for text in bad {
        let from_toml = error_of(&text);
        let value: serde_json::Value = toml::from_str(&text).unwrap();
        let from_dict = match Policy::from_value(&value) {
            Err(Error::InvalidInput(message)) => message,
            other => panic!("{other:?}"),
        };
        assert_eq!(from_dict, without_line(&from_toml));
    }
}
