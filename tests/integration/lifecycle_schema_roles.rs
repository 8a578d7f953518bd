//! The engine against the org's schema and admin roles, checked over raw HTTP: typed custom
//! attributes from text, schema errors before any write, a leaver's admin roles removed and
//! recorded, and given back on reactivation unless they were limited to groups.
#![cfg(feature = "simulator")]

use crate::common;
use crate::common::raw::Org;

use okta_lifecycle::lifecycle::plan::Operation;
use okta_lifecycle::lifecycle::record::IdentityRecord;
use okta_lifecycle::lifecycle::{apply, direct, plan, ApplyOptions, Journal, Policy};
use okta_lifecycle::okta::{Assignee, CreateUser};
use okta_lifecycle::simulator::{ScriptedFault, SimulatorConfig};
use okta_lifecycle::{Error, OktaClient};
use reqwest::{Method, StatusCode};
use serde_json::{json, Map, Value};
use std::time::Duration;

fn policy(extra_attributes: Value, workflows: Value) -> Policy {
    let mut attributes = json!({
        "login": "{email | LOWER}", "email": "{email | LOWER}", "firstName": "{first}", "lastName": "{last}",
    });
    for (name, formatter) in extra_attributes.as_object().unwrap() {
        attributes[name] = formatter.clone();
    }
    Policy::from_value(&json!({
        "name": "schema-roles",
        "source": {"format": "jsonl", "key": "id"},
        "attributes": attributes,
        "workflow": workflows,
    }))
    .unwrap()
}

fn record(fields: Value) -> IdentityRecord {
    IdentityRecord::from_map(fields.as_object().unwrap().clone())
}

fn joiners() -> Value {
    json!([{"name": "joiner", "when": "status eq \"active\"", "actions": [{"action": "sync_identities"}]}])
}

fn leavers() -> Value {
    json!([
        {"name": "joiner", "when": "status eq \"active\"", "actions": [{"action": "sync_identities"}]},
        {"name": "leaver", "when": "status eq \"terminated\"", "actions": [{"action": "deprovision_identity"}]},
        {"name": "returner", "when": "status eq \"rehired\"", "actions": [{"action": "reactivate_identity"}]},
    ])
}

async fn define_custom(client: &OktaClient) {
    let mut properties = Map::new();
    properties.insert("hrCostCenter".into(), json!({"title": "Cost center", "type": "integer"}));
    properties.insert("isContractor".into(), json!({"title": "Contractor", "type": "boolean"}));
    properties
        .insert("costCodes".into(), json!({"title": "Cost codes", "type": "array", "items": {"type": "integer"}}));
    properties.insert(
        "tier".into(),
        json!({"title": "Tier", "type": "string", "enum": ["gold", "silver"],
               "oneOf": [{"const": "gold", "title": "Gold"}, {"const": "silver", "title": "Silver"}]}),
    );
    client.schema().update_custom(&properties).await.expect("the schema takes the custom attributes");
}

/// The id of the user with `login`, read over raw HTTP.
async fn user_id(org: &Org, login: &str) -> String {
    org.call(Method::GET, &format!("/api/v1/users/{login}"), None).await.body["id"].as_str().unwrap().to_owned()
}

fn writes(org: &Org) -> usize {
    org.simulator.requests().iter().filter(|r| r.method != "GET").count()
}

#[tokio::test]
async fn an_attribute_the_schema_does_not_define_is_a_policy_error_before_any_user_is_read() {
    let org = Org::new().await;
    let client = common::client_for(&org.simulator, |_| {});
    let journal = Journal::in_memory().unwrap();
    let policy = policy(json!({"hrCostCenter": "{cost_center}"}), joiners());
    let records = [record(json!({"id": "1", "email": "a@acme.com", "first": "A", "last": "B", "status": "active"}))];
    let error = plan(&client, &policy, &records, &journal).await.unwrap_err();
    let Error::InvalidInput(message) = &error else { panic!("expected a policy error, got {error:?}") };
    assert!(message.contains("attributes.hrCostCenter") && message.contains("does not define"), "{message}");
    let paths: Vec<String> = org.simulator.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, ["/api/v1/meta/schemas/user/default"], "nothing but the schema was read");
}

#[tokio::test]
async fn csv_text_becomes_typed_custom_attributes_and_values_okta_would_refuse_are_issues() {
    let org = Org::new().await;
    let client = common::client_for(&org.simulator, |_| {});
    define_custom(&client).await;
    let journal = Journal::in_memory().unwrap();
    let policy = policy(
        json!({"hrCostCenter": "{cost_center}", "isContractor": "{contractor}", "costCodes": "{codes}", "tier": "{tier}"}),
        joiners(),
    );
    let row = |id: &str, cost_center: &str, tier: &str| {
        record(json!({
            "id": id, "email": format!("u{id}@acme.com"), "first": "U", "last": id, "status": "active",
            "cost_center": cost_center, "contractor": "yes", "codes": "4100; 4200", "tier": tier,
        }))
    };
    let records = [row("1", "1200", "gold"), row("2", "twelve", "gold"), row("3", "1300", "bronze")];
    let made = plan(&client, &policy, &records, &journal).await.unwrap();
    let issues: Vec<(usize, &str)> = made.issues.iter().map(|i| (i.row, i.message.as_str())).collect();
    assert_eq!(issues.len(), 2, "{issues:?}");
    assert!(issues[0].1.contains("hrCostCenter") && issues[0].1.contains("whole number"), "{issues:?}");
    assert!(issues[1].1.contains("tier") && issues[1].1.contains("not one of"), "{issues:?}");
    let Operation::CreateUser { profile, .. } = &made.changes[0].operation else { panic!("{:?}", made.changes) };
    assert_eq!(profile["hrCostCenter"], json!(1200));
    assert_eq!((profile["isContractor"].clone(), profile["costCodes"].clone()), (json!(true), json!([4100, 4200])));

    let report = apply(&client, &made, &journal, &ApplyOptions::default()).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    let user = org.call(Method::GET, "/api/v1/users/u1@acme.com", None).await;
    assert_eq!(user.status, StatusCode::OK);
    assert_eq!(user.body["profile"]["hrCostCenter"], json!(1200), "{}", user.body);
    assert_eq!(user.body["profile"]["costCodes"], json!([4100, 4200]));
    assert_eq!(user.body["profile"]["isContractor"], json!(true));

    // Typed values are compared by value: the same rows plan nothing the second time.
    let again = plan(&client, &policy, &records[..1], &journal).await.unwrap();
    assert!(again.changes.is_empty(), "{:?}", again.changes);
    // A changed cost center is one update, with the typed value.
    let moved = plan(&client, &policy, &[row("1", "1250", "silver")], &journal).await.unwrap();
    let Operation::UpdateUser { changes, .. } = &moved.changes[0].operation else { panic!("{:?}", moved.changes) };
    let after: Vec<(&str, &Value)> = changes.iter().map(|c| (c.attribute.as_str(), &c.after)).collect();
    assert_eq!(after, [("hrCostCenter", &json!(1250)), ("tier", &json!("silver"))]);
}

#[tokio::test]
async fn native_json_values_take_the_schemas_types_and_structures_that_fit_no_attribute_are_issues() {
    let org = Org::new().await;
    let client = common::client_for(&org.simulator, |_| {});
    define_custom(&client).await;
    let mut properties = Map::new();
    properties.insert("tags".into(), json!({"title": "Tags", "type": "array", "items": {"type": "string"}}));
    properties.insert("score".into(), json!({"title": "Score", "type": "number"}));
    client.schema().update_custom(&properties).await.unwrap();
    let journal = Journal::in_memory().unwrap();
    let policy = policy(
        json!({"hrCostCenter": "{cost_center}", "costCodes": "{codes}", "tags": "{tags}", "score": "{score}",
               "title": "{title}"}),
        joiners(),
    );
    // JSON records as a .jsonl source or Python dicts give them: native arrays and numbers.
    let row = |id: &str, fields: Value| {
        let mut value = json!({"id": id, "email": format!("j{id}@acme.com"), "first": "J", "last": id,
            "status": "active", "cost_center": 7.0, "codes": [4100, 4200.0], "tags": ["vpn", "admins"],
            "score": 1e2, "title": "Engineer"});
        for (key, field) in fields.as_object().unwrap() {
            value[key] = field.clone();
        }
        record(value)
    };
    let records = [
        row("1", json!({})),
        row("2", json!({"title": {"name": "Eng"}})),
        row("3", json!({"title": ["Eng", "Ops"]})),
        row("4", json!({"score": "1e-400"})),
        row("5", json!({"tags": [["nested"]]})),
        row("6", json!({"tags": ["a;b"]})),
        row("7", json!({"cost_center": 7.5})),
    ];
    let made = plan(&client, &policy, &records, &journal).await.unwrap();
    let issues: Vec<(usize, String)> = made.issues.iter().map(|i| (i.row, i.message.clone())).collect();
    let expected = [
        "title: the field title is an object",
        "title: the field title is a list of 2 values, and title takes one value",
        "score: \"1e-400\" is too small",
        "tags: the field tags holds [\"nested\"]",
        "tags: the field tags holds \"a;b\"",
        "hrCostCenter: \"7.5\" is not a whole number",
    ];
    assert_eq!(issues.len(), expected.len(), "{issues:#?}");
    for ((_, message), wanted) in issues.iter().zip(expected) {
        assert!(message.contains(wanted), "{message:?} should say {wanted:?}");
    }
    assert_eq!(made.changes.len(), 1, "only the first record is sound: {}", made.render());
    let Operation::CreateUser { profile, .. } = &made.changes[0].operation else { panic!("{:?}", made.changes) };
    assert_eq!(profile["hrCostCenter"], json!(7));
    assert_eq!(profile["costCodes"], json!([4100, 4200]));
    assert_eq!(profile["tags"], json!(["vpn", "admins"]), "a list, not its JSON text");
    assert_eq!(profile["score"], json!(100));
    assert_eq!(profile["title"], json!("Engineer"));
    assert!(apply(&client, &made, &journal, &ApplyOptions::default()).await.unwrap().is_success());
    let user = org.call(Method::GET, "/api/v1/users/j1@acme.com", None).await;
    assert_eq!(user.body["profile"]["tags"], json!(["vpn", "admins"]), "{}", user.body);
}

#[tokio::test]
async fn a_leavers_admin_roles_are_removed_recorded_and_given_back_unless_they_were_scoped() {
    let org = Org::start(SimulatorConfig::default()).await;
    let client = common::client_for(&org.simulator, |_| {});
    let journal = Journal::in_memory().unwrap();
    let policy = policy(json!({}), leavers());
    let active = |id: &str, status: &str| {
        record(
            json!({"id": id, "email": format!("admin{id}@acme.com"), "first": "Ad", "last": "Min", "status": status}),
        )
    };
    let joined = plan(&client, &policy, &[active("1", "active"), active("2", "active")], &journal).await.unwrap();
    assert!(apply(&client, &joined, &journal, &ApplyOptions::default()).await.unwrap().is_success());
    let (one, two) = (user_id(&org, "admin1@acme.com").await, user_id(&org, "admin2@acme.com").await);
    let roles = client.roles();
    roles.assign(&Assignee::User(one.clone()), "USER_ADMIN").await.unwrap();
    roles.assign(&Assignee::User(one.clone()), "REPORT_ADMIN").await.unwrap();
    let scoped = roles.assign(&Assignee::User(two.clone()), "HELP_DESK_ADMIN").await.unwrap();
    let desk = client.groups().create("helpdesk-scope", None).await.unwrap();
    roles.add_group_target(&Assignee::User(two.clone()), scoped.id(), desk.id()).await.unwrap();

    let leaving =
        plan(&client, &policy, &[active("1", "terminated"), active("2", "terminated")], &journal).await.unwrap();
    let mut removed: Vec<String> = leaving
        .changes
        .iter()
        .filter_map(|c| match &c.operation {
            Operation::UnassignRole { user, role } => Some(format!("{} {}", user.login, role.role_type)),
            _ => None,
        })
        .collect();
    removed.sort();
    assert_eq!(
        removed,
        ["admin1@acme.com REPORT_ADMIN", "admin1@acme.com USER_ADMIN", "admin2@acme.com HELP_DESK_ADMIN"]
    );
    assert!(leaving.render().contains("remove the admin role USER_ADMIN"), "{}", leaving.render());
    let report = apply(&client, &leaving, &journal, &ApplyOptions::default()).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    for user in [&one, &two] {
        let held = org.call(Method::GET, &format!("/api/v1/users/{user}/roles"), None).await;
        assert_eq!(held.body, json!([]), "the deactivated user keeps no admin role");
    }
    let snapshot = journal.latest_snapshot(&two).unwrap().unwrap();
    assert_eq!(snapshot.roles.len(), 1);
    assert_eq!(
        (snapshot.roles[0].role_type.as_str(), snapshot.roles[0].group_targets.clone()),
        ("HELP_DESK_ADMIN", vec![desk.id().to_owned()])
    );

    // Coming back: the unscoped roles are given back; the scoped one is an issue, never widened.
    let returning = plan(&client, &policy, &[active("1", "rehired"), active("2", "rehired")], &journal).await.unwrap();
    assert_eq!(returning.issues.len(), 1, "{:?}", returning.issues);
    assert!(returning.issues[0].message.contains("HELP_DESK_ADMIN"), "{:?}", returning.issues);
    let before = writes(&org);
    let report = apply(&client, &returning, &journal, &ApplyOptions::default()).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(writes(&org) > before);
    let held = org.call(Method::GET, &format!("/api/v1/users/{one}/roles"), None).await;
    let mut types: Vec<&str> = held.body.as_array().unwrap().iter().filter_map(|r| r["type"].as_str()).collect();
    types.sort();
    assert_eq!(types, ["REPORT_ADMIN", "USER_ADMIN"]);
    let still = org.call(Method::GET, &format!("/api/v1/users/{two}"), None).await;
    assert_eq!(still.body["status"], json!("DEPROVISIONED"), "the scoped admin was not brought back");

    // The direct action restores without roles when asked to.
    let outcome = direct::reactivate_identity(&client, &journal, &two, true, false, true).await.unwrap();
    assert!(outcome.report.is_success(), "{:?}", outcome.report);
    let held = org.call(Method::GET, &format!("/api/v1/users/{two}/roles"), None).await;
    assert_eq!(held.body, json!([]));
}

#[tokio::test]
async fn manage_relationships_grants_and_takes_admin_roles_within_its_scope() {
    let org = Org::new().await;
    let client = common::client_for(&org.simulator, |_| {});
    let journal = Journal::in_memory().unwrap();
    let policy = Policy::from_value(&json!({
        "name": "roles",
        "source": {"format": "jsonl", "key": "id"},
        "attributes": {"login": "{email}", "email": "{email}", "firstName": "{first}", "lastName": "{last}",
                        "title": "{title}"},
        "workflow": [
            {"name": "it", "when": "title eq \"IT Support\"", "actions": [
                {"action": "sync_identities"},
                {"action": "manage_relationships", "roles": ["HELP_DESK_ADMIN"], "role_scope": ["HELP_DESK_ADMIN", "USER_ADMIN"]},
            ]},
            {"name": "staff", "actions": [
                {"action": "sync_identities"},
                {"action": "manage_relationships", "mode": "sync", "role_scope": ["HELP_DESK_ADMIN", "USER_ADMIN"]},
            ]},
        ],
    }))
    .unwrap();
    let person =
        |title: &str| record(json!({"id": "7", "email": "it@acme.com", "first": "I", "last": "T", "title": title}));

    let hired = plan(&client, &policy, &[person("IT Support")], &journal).await.unwrap();
    let operations: Vec<&str> = hired.changes.iter().map(|c| c.operation.name()).collect();
    assert_eq!(operations, ["create_user", "assign_role"]);
    assert!(apply(&client, &hired, &journal, &ApplyOptions::default()).await.unwrap().is_success());
    let id = org.call(Method::GET, "/api/v1/users/it@acme.com", None).await.body["id"].as_str().unwrap().to_owned();
    let types = |body: &Value| -> Vec<String> {
        body.as_array().unwrap().iter().filter_map(|r| r["type"].as_str().map(str::to_owned)).collect()
    };
    assert_eq!(
        types(&org.call(Method::GET, &format!("/api/v1/users/{id}/roles"), None).await.body),
        ["HELP_DESK_ADMIN"]
    );
    assert!(
        plan(&client, &policy, &[person("IT Support")], &journal).await.unwrap().changes.is_empty(),
        "held: nothing to do"
    );

    // A role outside the managed scope is never touched; one inside it goes when not listed.
    client.roles().assign(&Assignee::User(id.clone()), "REPORT_ADMIN").await.unwrap();
    let moved = plan(&client, &policy, &[person("Accountant")], &journal).await.unwrap();
    let removed: Vec<String> = moved
        .changes
        .iter()
        .filter_map(|c| match &c.operation {
            Operation::UnassignRole { role, .. } => Some(role.role_type.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(removed, ["HELP_DESK_ADMIN"]);
    assert!(apply(&client, &moved, &journal, &ApplyOptions::default()).await.unwrap().is_success());
    assert_eq!(types(&org.call(Method::GET, &format!("/api/v1/users/{id}/roles"), None).await.body), ["REPORT_ADMIN"]);

    let unknown = Policy::from_value(&json!({
        "name": "bad", "source": {"format": "jsonl", "key": "id"},
        "attributes": {"login": "{email}", "email": "{email}", "firstName": "{first}", "lastName": "{last}"},
        "workflow": [{"name": "w", "actions": [{"action": "manage_relationships", "roles": ["SUPER_USER"]}]}],
    }))
    .unwrap_err()
    .to_string();
    assert!(unknown.contains("workflow[0].actions[0].roles[0]") && unknown.contains("SUPER_USER"), "{unknown}");
}

#[tokio::test]
async fn source_of_identity_can_carry_each_users_groups_and_roles() {
    use futures_util::TryStreamExt;
    use okta_lifecycle::lifecycle::actions::source_of_identity::{read, SourceOptions};
    use std::sync::Arc;

    let org = Org::new().await;
    let client = common::client_for(&org.simulator, |_| {});
    let id = org.create_id("?activate=false", "ent@acme.com", false).await;
    let group = client.groups().create("finance", None).await.unwrap();
    client.groups().add_member(group.id(), &id).await.unwrap();
    client.roles().assign(&Assignee::User(id.clone()), "REPORT_ADMIN").await.unwrap();
    let journal = Arc::new(Journal::in_memory().unwrap());

    let plain = SourceOptions { since: None, mover_attributes: Vec::new(), entitlements: false };
    let without: Vec<_> = read(&client, Arc::clone(&journal), plain).unwrap().try_collect().await.unwrap();
    assert!(without[0].record.as_json().get("roles").is_none(), "entitlements cost requests: only when asked");
    org.simulator.clear_requests();
    let asked = SourceOptions { since: None, mover_attributes: Vec::new(), entitlements: true };
    let with: Vec<_> = read(&client, journal, asked).unwrap().try_collect().await.unwrap();
    let record = with[0].record.as_json();
    assert_eq!(record["groups"], json!(["Everyone", "finance"]));
    assert_eq!(record["roles"], json!(["REPORT_ADMIN"]));
    let paths: Vec<String> = org.simulator.requests().iter().map(|r| r.path.clone()).collect();
    assert!(paths.contains(&format!("/api/v1/users/{id}/roles")), "{paths:?}");
}

#[tokio::test]
async fn the_schema_is_read_once_for_many_plans_and_again_when_it_may_have_changed() {
    let org = Org::new().await;
    let client = common::client_for(&org.simulator, |_| {});
    let journal = Journal::in_memory().unwrap();
    let schema_reads = |org: &Org| {
        org.simulator
            .requests()
            .iter()
            .filter(|r| r.method == "GET" && r.path.starts_with("/api/v1/meta/schemas"))
            .count()
    };
    // One hundred one-user actions in a loop read the schema once.
    for n in 0..100 {
        let login = format!("loop{n}@acme.com");
        let profile = common::profile(&login, "Loop", "User");
        let outcome = direct::sync_identity(&client, &journal, &profile, true, true).await.unwrap();
        assert!(outcome.report.is_success());
    }
    assert_eq!(schema_reads(&org), 1);

    // Another client adds an attribute: a policy that writes it is planned with the schema
    // read again, not refused with the one this client had.
    let other = common::client_for(&org.simulator, |_| {});
    define_custom(&other).await;
    let policy = policy(json!({"hrCostCenter": "{cost_center}"}), joiners());
    let row = record(json!({"id": "1", "email": "cc@acme.com", "first": "C", "last": "C", "status": "active",
        "cost_center": "1200"}));
    let made = plan(&client, &policy, &[row], &journal).await.unwrap();
    assert!(made.issues.is_empty(), "{:?}", made.issues);
    assert_eq!(schema_reads(&org), 2);
    // A value Okta refuses as invalid (400 E0000001) makes the next plan read it again.
    let refused = client.users().create(&CreateUser::new(common::profile("not-an-email", "N", "E"))).await;
    assert!(
        matches!(refused, Err(Error::Api(ref api)) if api.error_code.as_deref() == Some("E0000001")),
        "{refused:?}"
    );
    direct::sync_identity(&client, &journal, &common::profile("after@acme.com", "A", "R"), true, true).await.unwrap();
    assert_eq!(schema_reads(&org), 3);
    // With no age allowed, every plan reads it.
    let fresh = common::client_for(&org.simulator, |config| config.schema_max_age = Duration::ZERO);
    for n in 0..3 {
        let login = format!("fresh{n}@acme.com");
        direct::sync_identity(&fresh, &journal, &common::profile(&login, "F", "R"), true, true).await.unwrap();
    }
    assert_eq!(schema_reads(&org), 6);
}

/// Requests the simulator answered for paths starting with `prefix` and ending with `suffix`.
fn requests_to(org: &Org, prefix: &str, suffix: &str) -> usize {
    org.simulator.requests().iter().filter(|r| r.path.starts_with(prefix) && r.path.ends_with(suffix)).count()
}

#[tokio::test]
async fn many_leavers_roles_are_read_only_for_the_users_okta_lists_as_role_holders() {
    let org = Org::start(SimulatorConfig::default()).await;
    let client = common::client_for(&org.simulator, |_| {});
    let journal = Journal::in_memory().unwrap();
    let policy = policy(json!({}), leavers());
    let person = |id: usize, status: &str| {
        record(json!({"id": id.to_string(), "email": format!("staff{id}@acme.com"), "first": "St", "last": "Aff",
                      "status": status}))
    };
    let everyone: Vec<IdentityRecord> = (1..=6).map(|id| person(id, "active")).collect();
    let joined = plan(&client, &policy, &everyone, &journal).await.unwrap();
    assert!(apply(&client, &joined, &journal, &ApplyOptions::default()).await.unwrap().is_success());
    let (admin, member) = (user_id(&org, "staff2@acme.com").await, user_id(&org, "staff5@acme.com").await);
    client.roles().assign(&Assignee::User(admin.clone()), "REPORT_ADMIN").await.unwrap();
    // A role held through a group: staff5 is listed with it, but it is the group's to keep.
    let admins = client.groups().create("report-admins", None).await.unwrap();
    client.groups().add_member(admins.id(), &member).await.unwrap();
    client.roles().assign(&Assignee::Group(admins.id().to_owned()), "READ_ONLY_ADMIN").await.unwrap();
    let holders = org.call(Method::GET, "/api/v1/iam/assignees/users?limit=1", None).await;
    assert_eq!(holders.body["value"][0]["id"], json!(admin), "{:?}", holders.body);

    let leaving: Vec<IdentityRecord> = (1..=6).map(|id| person(id, "terminated")).collect();
    let before_roles = requests_to(&org, "/api/v1/users/", "/roles");
    let before_holders = requests_to(&org, "/api/v1/iam/assignees/users", "");
    let planned = plan(&client, &policy, &leaving, &journal).await.unwrap();
    let removed: Vec<String> = planned
        .changes
        .iter()
        .filter_map(|c| match &c.operation {
            Operation::UnassignRole { user, role } => Some(format!("{} {}", user.login, role.role_type)),
            _ => None,
        })
        .collect();
    assert_eq!(removed, ["staff2@acme.com REPORT_ADMIN"]);
    assert_eq!(requests_to(&org, "/api/v1/iam/assignees/users", "") - before_holders, 1);
    assert_eq!(requests_to(&org, "/api/v1/users/", "/roles") - before_roles, 1, "only the holder's roles are read");

    // When Okta does not answer the listing, every leaver's roles are read, and the plan is the same.
    org.simulator.script_fault("GET", "/api/v1/iam/assignees/users", ScriptedFault::Status(404));
    let before_roles = requests_to(&org, "/api/v1/users/", "/roles");
    let again = plan(&client, &policy, &leaving, &journal).await.unwrap();
    assert_eq!(again.changes.len(), planned.changes.len());
    assert_eq!(requests_to(&org, "/api/v1/users/", "/roles") - before_roles, 6);
}
