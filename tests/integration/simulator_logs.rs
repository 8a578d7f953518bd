//! The simulator's System Log (`GET /api/v1/logs`): an event with Okta's event type for every
//! change made through the API (changes made with the crate's client), each valid against the
//! `LogEvent` schema of Okta's OpenAPI spec, and the query parameters, paging, polling, the
//! visibility delay, the `okta.logs.read` scope and the rate-limit bucket (read with raw HTTP).
#![cfg(feature = "simulator")]

use crate::common;
use crate::common::raw::{Answer, Org};

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use okta_lifecycle::config::PrivateKeyCredentials;
use okta_lifecycle::jose::SigningKey;
use okta_lifecycle::okta::{Assignee, CreateUser};
use okta_lifecycle::simulator::{
    bucket_for, OAuthApp, RateLimits, SimulatorConfig, ADMIN_LOGIN, LOGS_BUCKET, OTHER_API_BUCKET,
};
use okta_lifecycle::{ClientConfig, Credentials, OktaClient, SecretString};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const RSA_KEY: &str = include_str!("../fixtures/keys/rsa-pkcs8.pem");

/// An org whose events are visible at once.
async fn org() -> Org {
    Org::start(SimulatorConfig { log_delay: Duration::ZERO, ..SimulatorConfig::default() }).await
}

fn client(org: &Org) -> OktaClient {
    common::client_for(&org.simulator, |_| {})
}

/// `/api/v1/logs` with these query parameters, encoded.
fn logs_path(params: &[(&str, &str)]) -> String {
    let mut serializer = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in params {
        serializer.append_pair(name, value);
    }
    let query = serializer.finish();
    if query.is_empty() {
        "/api/v1/logs".to_owned()
    } else {
        format!("/api/v1/logs?{query}")
    }
}

async fn read(org: &Org, params: &[(&str, &str)]) -> Answer {
    org.call(Method::GET, &logs_path(params), None).await
}

/// The events of a successful read.
async fn events(org: &Org, params: &[(&str, &str)]) -> Vec<Value> {
    let answer = read(org, params).await;
    assert_eq!(answer.status, StatusCode::OK, "{params:?}: {}", answer.body);
    answer.body.as_array().cloned().expect("an array of events")
}

fn event_types(events: &[Value]) -> Vec<String> {
    events.iter().map(|event| event["eventType"].as_str().unwrap_or_default().to_owned()).collect()
}

fn target_ids(event: &Value) -> Vec<String> {
    event["target"]
        .as_array()
        .map(|targets| targets.iter().filter_map(|target| target["id"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

fn uuids(events: &[Value]) -> Vec<String> {
    events.iter().map(|event| event["uuid"].as_str().unwrap_or_default().to_owned()).collect()
}

/// A `Link` header's URL for `relation`.
fn link(answer: &Answer, relation: &str) -> Option<String> {
    let suffix = format!("rel=\"{relation}\"");
    answer
        .headers
        .get_all("link")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.ends_with(&suffix))
        .and_then(|value| value.split(['<', '>']).nth(1).map(str::to_owned))
}

/// An instant `offset` from now as ISO 8601 (UTC, milliseconds).
fn instant(offset: chrono::Duration) -> String {
    (chrono::Utc::now() + offset).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// A bounded window that holds every event written during a test.
fn until_later() -> String {
    instant(chrono::Duration::hours(1))
}

// ---------------------------------------------------------------------------------------------
// Validation against the `LogEvent` schema of Okta's OpenAPI spec (Swagger 2.0).

fn spec() -> Value {
    let dir = std::env::var_os("OKTA_OPENAPI_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/okta-openapi"));
    let file = dir.join("legacy-v1-swagger-spec.json");
    let text = std::fs::read_to_string(&file)
        .unwrap_or_else(|error| panic!("Okta's spec is expected at {} ({error})", file.display()));
    serde_json::from_str(&text).expect("the spec is JSON")
}

/// Checks `value` against `schema`: the JSON type (and enumeration, and `date-time` format) of
/// every property the schema names, recursively. `null` is accepted anywhere (Okta sends it for
/// properties it has no value for; Swagger 2.0 cannot say "nullable"); the properties that must
/// not be null are checked by [`check_required`].
fn validate(spec: &Value, schema: &Value, value: &Value, path: &str, problems: &mut Vec<String>) {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = reference.trim_start_matches("#/definitions/");
        let resolved = &spec["definitions"][name];
        assert!(resolved.is_object(), "{reference} resolves");
        return validate(spec, resolved, value, path, problems);
    }
    if value.is_null() {
        return;
    }
    let kind = schema.get("type").and_then(Value::as_str).unwrap_or("object");
    let fits = match kind {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        other => {
            problems.push(format!("{path}: unknown schema type {other}"));
            return;
        }
    };
    if !fits {
        problems.push(format!("{path}: expected {kind}, got {value}"));
        return;
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !allowed.contains(value) {
            problems.push(format!("{path}: {value} is not one of {allowed:?}"));
        }
    }
    if schema.get("format").and_then(Value::as_str) == Some("date-time") {
        if let Some(text) = value.as_str() {
            if chrono::DateTime::parse_from_rfc3339(text).is_err() {
                problems.push(format!("{path}: {text} is not a date-time"));
            }
        }
    }
    match value {
        Value::Object(members) => {
            if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                for (name, property) in properties {
                    if let Some(member) = members.get(name) {
                        validate(spec, property, member, &format!("{path}.{name}"), problems);
                    }
                }
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                validate(spec, &schema["items"], item, &format!("{path}[{index}]"), problems);
            }
        }
        _ => {}
    }
}

/// What every simulated event must carry (not null).
fn check_required(event: &Value, problems: &mut Vec<String>) {
    let pointers = [
        "/uuid",
        "/published",
        "/eventType",
        "/version",
        "/severity",
        "/displayMessage",
        "/actor/id",
        "/actor/type",
        "/actor/alternateId",
        "/actor/displayName",
        "/client/ipAddress",
        "/client/userAgent/rawUserAgent",
        "/outcome/result",
        "/transaction/type",
        "/transaction/id",
        "/debugContext/debugData/requestId",
        "/debugContext/debugData/requestUri",
        "/authenticationContext",
        "/securityContext",
        "/request/ipChain/0/ip",
        "/target/0/id",
        "/target/0/type",
        "/target/0/alternateId",
        "/target/0/displayName",
    ];
    for pointer in pointers {
        if event.pointer(pointer).is_none_or(Value::is_null) {
            problems.push(format!("{pointer} is missing in {event}"));
        }
    }
    for target in event["target"].as_array().into_iter().flatten() {
        for field in ["id", "type", "alternateId", "displayName"] {
            if !target[field].is_string() {
                problems.push(format!("target.{field} is not a string in {event}"));
            }
        }
    }
}

/// Every event is a valid `LogEvent` with what the simulator promises in it.
fn assert_valid_events(events: &[Value]) {
    let spec = spec();
    let schema = &spec["definitions"]["LogEvent"];
    let named: Vec<&String> = schema["properties"].as_object().expect("LogEvent has properties").keys().collect();
    assert!(named.len() >= 15, "the spec names the LogEvent properties: {named:?}");
    let mut problems = Vec::new();
    for event in events {
        validate(&spec, schema, event, "event", &mut problems);
        check_required(event, &mut problems);
        // Every property the spec names is there (so that the validation above covers it), but
        // `legacyEventType`, which Okta only sends for events that had a legacy name.
        for name in &named {
            if name.as_str() != "legacyEventType" && event.get(name.as_str()).is_none() {
                problems.push(format!("{name} is missing in {event}"));
            }
        }
        let published = event["published"].as_str().unwrap_or_default();
        if published.len() != 24 || !published.ends_with('Z') || published.as_bytes().get(19) != Some(&b'.') {
            problems.push(format!("published {published} is not YYYY-MM-DDTHH:MM:SS.mmmZ"));
        }
        if event["version"] != "0" || event["severity"] != "INFO" || event["outcome"]["result"] != "SUCCESS" {
            problems.push(format!("version/severity/outcome in {event}"));
        }
        if event["transaction"]["id"] != event["debugContext"]["debugData"]["requestId"] {
            problems.push(format!("transaction.id is not the request id in {event}"));
        }
        let uuid = event["uuid"].as_str().unwrap_or_default();
        let groups: Vec<usize> = uuid.split('-').map(str::len).collect();
        if groups != [8, 4, 4, 4, 12] || uuid.as_bytes().get(14) != Some(&b'4') {
            problems.push(format!("uuid {uuid} is not a version 4 UUID"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let unique: HashSet<String> = uuids(events).into_iter().collect();
    assert_eq!(unique.len(), events.len(), "uuids are unique");
}

#[test]
fn the_validator_rejects_wrong_types() {
    let spec = spec();
    let schema = &spec["definitions"]["LogEvent"];
    let mut problems = Vec::new();
    let event = json!({
        "eventType": 7,
        "published": "yesterday",
        "severity": "LOUD",
        "target": [{ "id": ["00u1"] }],
        "authenticationContext": { "authenticationStep": "zero" },
    });
    validate(&spec, schema, &event, "event", &mut problems);
    assert_eq!(problems.len(), 5, "{problems:#?}");
}

// ---------------------------------------------------------------------------------------------
// Events for every change.

fn find<'a>(events: &'a [Value], event_type: &str, target: &str) -> &'a Value {
    events
        .iter()
        .find(|event| event["eventType"] == event_type && target_ids(event).iter().any(|id| id == target))
        .unwrap_or_else(|| panic!("no {event_type} event for {target} in {:#?}", event_types(events)))
}

#[tokio::test]
async fn every_change_made_with_the_client_logs_oktas_event_type() {
    let org = org().await;
    let client = client(&org);
    let users = client.users();
    let groups = client.groups();
    let roles = client.roles();

    let group = groups.create("engineering", Some("Engineers")).await.unwrap();
    let mut ada = CreateUser::new(common::profile("ada@example.com", "Ada", "Lovelace"));
    ada.group_ids = vec![group.id().to_owned()];
    let ada = users.create(&ada).await.unwrap(); // PROVISIONED: activated, no password
    let mut grace = CreateUser::new(common::profile("grace@example.com", "Grace", "Hopper"));
    grace.activate = false;
    grace.password = Some(SecretString::new("Sw0rdfish-Sw0rdfish"));
    let grace = users.create(&grace).await.unwrap(); // STAGED
    let (ada, grace) = (ada.id().to_owned(), grace.id().to_owned());

    users.activate(&grace, false).await.unwrap();
    let mut change = serde_json::Map::new();
    change.insert("title".into(), json!("Rear Admiral"));
    users.update_profile(&grace, &change).await.unwrap();
    users.suspend(&grace).await.unwrap();
    users.unsuspend(&grace).await.unwrap();
    users.reset_password(&grace, false, false).await.unwrap();
    users.reactivate(&ada, false).await.unwrap();
    users.clear_sessions(&grace, true, None).await.unwrap();
    groups.add_member(group.id(), &grace).await.unwrap();
    groups.remove_member(group.id(), &grace).await.unwrap();

    let as_user = Assignee::User(grace.clone());
    let user_admin = roles.assign(&as_user, "USER_ADMIN").await.unwrap();
    let read_only = roles.assign(&as_user, "READ_ONLY_ADMIN").await.unwrap();
    roles.unassign(&as_user, read_only.id()).await.unwrap();
    roles.unassign(&as_user, user_admin.id()).await.unwrap();
    let auditors = groups.create("auditors", None).await.unwrap();
    let as_group = Assignee::Group(auditors.id().to_owned());
    let assignment = roles.assign(&as_group, "READ_ONLY_ADMIN").await.unwrap();
    roles.unassign(&as_group, assignment.id()).await.unwrap();

    let mut linus = CreateUser::new(common::profile("linus@example.com", "Linus", "Torvalds"));
    linus.password = Some(SecretString::new("Penguin-Penguin-1"));
    let linus = users.create(&linus).await.unwrap().id().to_owned(); // ACTIVE
    assert!(org.simulator.lock_out(&linus));
    users.unlock(&linus).await.unwrap();
    users.expire_password(&linus).await.unwrap();
    users.reset_factors(&linus).await.unwrap();

    users.deactivate(&ada, false).await.unwrap();
    users.delete(&ada, false).await.unwrap(); // deactivated, so this deletes
    groups.delete(auditors.id()).await.unwrap();

    let expected: Vec<(&str, Vec<&str>)> = vec![
        ("group.lifecycle.create", vec![group.id()]),
        ("user.lifecycle.create", vec![&ada]),
        ("user.lifecycle.activate", vec![&ada]),
        ("group.user_membership.add", vec![&ada, group.id()]),
        ("user.lifecycle.create", vec![&grace]),
        ("user.lifecycle.activate", vec![&grace]),
        ("user.account.update_profile", vec![&grace]),
        ("user.lifecycle.suspend", vec![&grace]),
        ("user.lifecycle.unsuspend", vec![&grace]),
        ("user.account.reset_password", vec![&grace]),
        ("user.lifecycle.reactivate", vec![&ada]),
        ("user.session.clear", vec![&grace]),
        ("group.user_membership.add", vec![&grace, group.id()]),
        ("group.user_membership.remove", vec![&grace, group.id()]),
        ("user.account.privilege.grant", vec![&grace]),
        ("user.account.privilege.grant", vec![&grace]),
        // One role of two removed: privileges changed, some are left.
        ("user.account.privilege.grant", vec![&grace]),
        ("user.account.privilege.revoke", vec![&grace]),
        ("group.lifecycle.create", vec![auditors.id()]),
        ("group.privilege.grant", vec![auditors.id()]),
        ("group.privilege.revoke", vec![auditors.id()]),
        ("user.lifecycle.create", vec![&linus]),
        ("user.lifecycle.activate", vec![&linus]),
        ("user.account.unlock_by_admin", vec![&linus]),
        ("user.account.expire_password", vec![&linus]),
        ("user.mfa.factor.reset_all", vec![&linus]),
        ("user.lifecycle.deactivate", vec![&ada]),
        ("user.lifecycle.delete.initiated", vec![&ada]),
        ("user.lifecycle.delete.completed", vec![&ada]),
        ("group.lifecycle.delete", vec![auditors.id()]),
    ];
    let logged = events(&org, &[("limit", "1000")]).await;
    let actual: Vec<(String, Vec<String>)> = logged
        .iter()
        .map(|event| (event["eventType"].as_str().unwrap_or_default().to_owned(), target_ids(event)))
        .collect();
    let expected: Vec<(String, Vec<String>)> = expected
        .into_iter()
        .map(|(event_type, targets)| (event_type.to_owned(), targets.into_iter().map(str::to_owned).collect()))
        .collect();
    assert_eq!(actual, expected);
    assert_valid_events(&logged);
    assert_eq!(logged, org.simulator.log_events(), "the API and the test accessor agree");

    // Targets name users by login and full name, groups by name.
    let membership = find(&logged, "group.user_membership.add", &ada);
    assert_eq!(membership["target"][0]["type"], "User");
    assert_eq!(membership["target"][0]["alternateId"], "ada@example.com");
    assert_eq!(membership["target"][0]["displayName"], "Ada Lovelace");
    assert_eq!(membership["target"][1]["type"], "UserGroup");
    assert_eq!(membership["target"][1]["alternateId"], "engineering");
    assert_eq!(membership["displayMessage"], "Add user to group membership");
    // The privilege events say what is held and what was removed.
    let privileges: Vec<&Value> =
        logged.iter().filter(|event| event["eventType"] == "user.account.privilege.grant").collect();
    assert_eq!(
        privileges[1]["debugContext"]["debugData"]["privilegeGranted"],
        "Group Administrator, Read-only Administrator"
    );
    assert_eq!(privileges[2]["debugContext"]["debugData"]["privilegeRevoked"], "Read-only Administrator");
    let revoke = find(&logged, "user.account.privilege.revoke", &grace);
    assert_eq!(revoke["debugContext"]["debugData"]["privilegeRevoked"], "Group Administrator");
    assert!(revoke["debugContext"]["debugData"].get("privilegeGranted").is_none());
    // The API token's calls are the admin's.
    assert!(logged
        .iter()
        .all(|event| event["actor"]["alternateId"] == ADMIN_LOGIN && event["actor"]["type"] == "User"));
}

#[tokio::test]
async fn schema_user_type_and_role_target_changes_are_logged() {
    let org = org().await;
    let schema = json!({ "definitions": { "custom": { "id": "#custom", "type": "object", "properties": {
        "badge": { "title": "Badge", "type": "string" }
    } } } });
    let answer = org.call(Method::POST, "/api/v1/meta/schemas/user/default", Some(schema)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let kind = json!({ "name": "contractor", "displayName": "Contractor", "description": "Contractors" });
    let created = org.call(Method::POST, "/api/v1/meta/types/user", Some(kind)).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let type_id = created.body["id"].as_str().expect("type id").to_owned();
    let user = org.create_id("", "pat@example.com", true).await;
    let mut body = json!({ "profile": common::raw::profile("pat@example.com"), "type": { "id": type_id } });
    let replaced = org.call(Method::PUT, &format!("/api/v1/users/{user}"), Some(body.take())).await;
    assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.body);
    let group = org.call(Method::POST, "/api/v1/groups", Some(json!({ "profile": { "name": "ops" } }))).await;
    let group = group.body["id"].as_str().expect("group id").to_owned();
    let role =
        org.call(Method::POST, &format!("/api/v1/users/{user}/roles"), Some(json!({ "type": "USER_ADMIN" }))).await;
    let role = role.body["id"].as_str().expect("role id").to_owned();
    let target = format!("/api/v1/users/{user}/roles/{role}/targets/groups/{group}");
    assert_eq!(org.call(Method::PUT, &target, None).await.status, StatusCode::NO_CONTENT);
    // Adding the same target again changes nothing and logs nothing.
    assert_eq!(org.call(Method::PUT, &target, None).await.status, StatusCode::NO_CONTENT);
    let renamed = org
        .call(Method::PUT, &format!("/api/v1/groups/{group}"), Some(json!({ "profile": { "name": "operations" } })))
        .await;
    assert_eq!(renamed.status, StatusCode::OK);

    let logged = events(&org, &[]).await;
    assert_eq!(
        event_types(&logged),
        [
            "directory.user_profile.update",
            "directory.non_default_user_profile.create",
            "user.lifecycle.create",
            "user.lifecycle.activate",
            "user.account.update_profile",
            "user.account.update_user_type",
            "group.lifecycle.create",
            "user.account.privilege.grant",
            "user.account.privilege.grant",
            "group.profile.update",
        ]
    );
    assert_eq!(target_ids(&logged[1]), [type_id]);
    assert_eq!(logged[1]["target"][0]["type"], "UserType");
    assert_eq!(logged[9]["target"][0]["alternateId"], "operations");
    assert_valid_events(&logged);
}

#[tokio::test]
async fn refused_and_idempotent_requests_log_nothing() {
    let org = org().await;
    let user = org.create_id("", "once@example.com", false).await;
    let before = org.simulator.log_events().len();
    assert_eq!(before, 2);
    assert_eq!(org.create("", "once@example.com", false).await.status, StatusCode::BAD_REQUEST);
    let suspend = org.call(Method::POST, &format!("/api/v1/users/{user}/lifecycle/suspend"), None).await;
    assert_eq!(suspend.status, StatusCode::BAD_REQUEST, "a PROVISIONED user cannot be suspended");
    let missing = org.call(Method::POST, "/api/v1/users/00unobody/lifecycle/deactivate", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let group = org.call(Method::POST, "/api/v1/groups", Some(json!({ "profile": { "name": "g" } }))).await;
    let group = group.body["id"].as_str().expect("id").to_owned();
    let member = format!("/api/v1/groups/{group}/users/{user}");
    assert_eq!(org.call(Method::PUT, &member, None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(org.call(Method::PUT, &member, None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(org.call(Method::GET, &format!("/api/v1/users/{user}"), None).await.status, StatusCode::OK);
    assert_eq!(
        event_types(&org.simulator.log_events()[before..]),
        ["group.lifecycle.create", "group.user_membership.add"],
        "only the two changes that happened are logged"
    );
}

// ---------------------------------------------------------------------------------------------
// What an event says about its request.

#[tokio::test]
async fn events_carry_the_request_id_sent_back_and_describe_the_request() {
    let org = org().await;
    let url = format!("{}/api/v1/users?activate=true", org.simulator.url());
    let body = json!({ "profile": common::raw::profile("ada@example.com") });
    let response = org
        .http
        .post(&url)
        .header("Authorization", format!("SSWS {}", org.simulator.api_token()))
        .header("User-Agent", "simulator-logs-test/1.0 (rust)")
        .header("Content-Type", "application/json")
        .body(serde_json::to_vec(&body).expect("json"))
        .send()
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    let request_id = response.headers()["x-okta-request-id"].to_str().expect("ascii").to_owned();
    assert!(!request_id.is_empty());
    let created: Value = serde_json::from_slice(&response.bytes().await.expect("body")).expect("json");
    let user = created["id"].as_str().expect("id").to_owned();

    let other = org.call(Method::POST, &format!("/api/v1/users/{user}/lifecycle/deactivate"), None).await;
    let other_id = other.header("x-okta-request-id").expect("request id").to_owned();
    assert_ne!(other_id, request_id);

    let logged = events(&org, &[]).await;
    assert_eq!(event_types(&logged), ["user.lifecycle.create", "user.lifecycle.activate", "user.lifecycle.deactivate"]);
    for event in &logged[..2] {
        assert_eq!(event["debugContext"]["debugData"]["requestId"], request_id.as_str());
        assert_eq!(event["transaction"]["id"], request_id.as_str());
        assert_eq!(event["transaction"]["type"], "WEB");
        assert_eq!(event["debugContext"]["debugData"]["requestUri"], "/api/v1/users");
        assert_eq!(event["debugContext"]["debugData"]["url"], "/api/v1/users?activate=true");
        assert_eq!(event["client"]["userAgent"]["rawUserAgent"], "simulator-logs-test/1.0 (rust)");
        assert_eq!(event["client"]["ipAddress"], "127.0.0.1");
        assert_eq!(event["request"]["ipChain"][0]["ip"], "127.0.0.1");
        assert_eq!(event["request"]["ipChain"][0]["version"], "V4");
        assert_eq!(event["securityContext"], json!({}));
        assert_eq!(event["actor"]["alternateId"], ADMIN_LOGIN);
    }
    assert_eq!(logged[2]["debugContext"]["debugData"]["requestId"], other_id.as_str());
    assert_eq!(
        logged[2]["debugContext"]["debugData"]["requestUri"],
        format!("/api/v1/users/{user}/lifecycle/deactivate")
    );
    assert_ne!(logged[0]["uuid"], logged[1]["uuid"]);
    assert_valid_events(&logged);
}

#[tokio::test]
async fn a_service_apps_calls_name_the_app_as_actor() {
    let org = org().await;
    let mut jwk = SigningKey::from_pem(RSA_KEY).unwrap().public_jwk();
    jwk["kid"] = "rsa-1".into();
    let scopes = ["okta.users.manage", "okta.logs.read"];
    org.simulator.register_oauth_app(OAuthApp {
        client_id: "0oa-log-writer".into(),
        public_keys: vec![jwk],
        scopes: scopes.iter().map(|scope| scope.to_string()).collect(),
        require_dpop: false,
    });
    let credentials = Credentials::PrivateKey(PrivateKeyCredentials {
        client_id: "0oa-log-writer".into(),
        private_key: RSA_KEY.into(),
        key_id: Some("rsa-1".into()),
        scopes: scopes.iter().map(|scope| scope.to_string()).collect(),
        dpop: false,
    });
    let app = OktaClient::new(ClientConfig::new(&org.simulator.url(), credentials).unwrap()).unwrap();
    let user = app.users().create(&CreateUser::new(common::profile("app@example.com", "App", "Made"))).await.unwrap();
    let logged = org.simulator.log_events();
    assert_eq!(event_types(&logged), ["user.lifecycle.create", "user.lifecycle.activate"]);
    for event in &logged {
        assert_eq!(event["actor"]["type"], "PublicClientApp");
        assert_eq!(event["actor"]["id"], "0oa-log-writer");
        assert_eq!(event["client"]["id"], "0oa-log-writer");
        assert_eq!(target_ids(event), [user.id().to_owned()]);
    }
    assert_valid_events(&logged);
}

// ---------------------------------------------------------------------------------------------
// Query parameters.

/// Two users (Ada in a group, Grace not) and a group: 6 events.
async fn small_org() -> (Org, String, String, String) {
    let org = org().await;
    let ada = org.create_id("", "ada@example.com", false).await;
    let grace = org
        .call(
            Method::POST,
            "/api/v1/users",
            Some(json!({ "profile": {
                "firstName": "Grace", "lastName": "Hopper", "email": "grace@example.com", "login": "grace@example.com"
            } })),
        )
        .await;
    let grace = grace.body["id"].as_str().expect("id").to_owned();
    let group = org.call(Method::POST, "/api/v1/groups", Some(json!({ "profile": { "name": "eng-team" } }))).await;
    let group = group.body["id"].as_str().expect("id").to_owned();
    assert_eq!(
        org.call(Method::PUT, &format!("/api/v1/groups/{group}/users/{ada}"), None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(org.simulator.log_events().len(), 6);
    (org, ada, grace, group)
}

#[tokio::test]
async fn filter_selects_by_event_type_target_actor_and_outcome() {
    let (org, ada, grace, group) = small_org().await;
    let all = events(&org, &[]).await;
    let admin = all[0]["actor"]["id"].as_str().expect("actor id").to_owned();

    let by_filter = |filter: String| {
        let org = &org;
        async move { events(org, &[("filter", &filter)]).await }
    };
    let created = by_filter(r#"eventType eq "user.lifecycle.create""#.into()).await;
    assert_eq!(created.len(), 2);
    assert!(created.iter().all(|event| event["eventType"] == "user.lifecycle.create"));
    assert_eq!(
        event_types(&by_filter(format!(r#"target.id eq "{ada}""#)).await),
        ["user.lifecycle.create", "user.lifecycle.activate", "group.user_membership.add"],
        "any target matches"
    );
    assert_eq!(
        event_types(&by_filter(format!(r#"target.id eq "{group}""#)).await),
        ["group.lifecycle.create", "group.user_membership.add"]
    );
    assert_eq!(by_filter(format!(r#"actor.id eq "{admin}""#)).await.len(), 6);
    assert!(by_filter(r#"actor.id eq "00unobody""#.into()).await.is_empty());
    assert_eq!(by_filter(r#"outcome.result eq "SUCCESS""#.into()).await.len(), 6);
    assert!(by_filter(r#"outcome.result eq "FAILURE""#.into()).await.is_empty());
    let both = by_filter(format!(r#"eventType eq "group.user_membership.add" and target.id eq "{ada}""#)).await;
    assert_eq!(event_types(&both), ["group.user_membership.add"]);
    assert!(by_filter(format!(r#"eventType eq "group.user_membership.add" and target.id eq "{grace}""#))
        .await
        .is_empty());
    let either = by_filter(format!(r#"eventType eq "group.lifecycle.create" or target.id eq "{grace}""#)).await;
    assert_eq!(event_types(&either), ["user.lifecycle.create", "user.lifecycle.activate", "group.lifecycle.create"]);
    assert_eq!(target_ids(&either[0]), std::slice::from_ref(&grace));
    let nested = by_filter(format!(
        r#"(target.id eq "{ada}" or target.id eq "{grace}") and eventType eq "user.lifecycle.activate""#
    ))
    .await;
    assert_eq!(nested.len(), 2);
    assert_eq!(by_filter(r#"eventType sw "group.""#.into()).await.len(), 2);

    for (filter, code) in [
        (r#"eventType eqq "x""#, "E0000053"),
        (r#"eventType eq "unterminated"#, "E0000053"),
        (r#"favouriteColour eq "blue""#, "E0000053"),
        (r#"published gt "2024-01-01T00:00:00.000Z""#, "E0000053"),
        (r#"debugContext.debugData.requestUri co "/users""#, "E0000031"),
    ] {
        let answer = read(&org, &[("filter", filter)]).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{filter}");
        assert_eq!(answer.error_code(), code, "{filter}: {}", answer.body);
    }
}

#[tokio::test]
async fn q_matches_every_keyword_case_insensitively() {
    let (org, ada, grace, group) = small_org().await;
    let ids = |events: Vec<Value>| -> Vec<Vec<String>> { events.iter().map(target_ids).collect() };
    // `small_org`'s Ada is "Ada Lovelace" (the raw profile), Grace is "Grace Hopper".
    let hopper = events(&org, &[("q", "hopper")]).await;
    assert_eq!(ids(hopper), [vec![grace.clone()], vec![grace.clone()]]);
    assert_eq!(events(&org, &[("q", "GRACE Hopper")]).await.len(), 2);
    assert_eq!(events(&org, &[("q", "grace@example.com")]).await.len(), 2);
    assert_eq!(ids(events(&org, &[("q", "lovelace eng-team")]).await), [vec![ada.clone(), group.clone()]]);
    assert_eq!(events(&org, &[("q", "team")]).await.len(), 2, "hyphenated words match by their parts");
    assert!(events(&org, &[("q", "grace lovelace")]).await.is_empty(), "every keyword must match");
    assert!(events(&org, &[("q", "hop")]).await.is_empty(), "keywords match whole words");
    assert_eq!(events(&org, &[("q", "membership")]).await.len(), 1, "displayMessage is searched");

    let long = read(&org, &[("q", &"x".repeat(41))]).await;
    assert_eq!(long.status, StatusCode::BAD_REQUEST);
    assert_eq!(long.error_code(), "E0000001");
    assert!(long.body["errorSummary"].as_str().unwrap_or_default().contains("longer than 40 characters"));
    let many = read(&org, &[("q", "a b c d e f g h i j k")]).await;
    assert_eq!(many.status, StatusCode::BAD_REQUEST);
    assert_eq!(many.error_code(), "E0000001");
}

#[tokio::test]
async fn limit_defaults_to_100_and_must_be_between_1_and_1000() {
    let org = org().await;
    for number in 0..51 {
        org.create_id("", &format!("bulk{number}@example.com"), false).await;
    }
    assert_eq!(org.simulator.log_events().len(), 102);
    let until = until_later();
    let first = read(&org, &[("until", &until)]).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.body.as_array().map(Vec::len), Some(100), "default limit");
    let next = link(&first, "next").expect("more remain");
    let rest = org.call(Method::GET, &next, None).await;
    assert_eq!(rest.body.as_array().map(Vec::len), Some(2));
    assert_eq!(events(&org, &[("limit", "1000")]).await.len(), 102);
    assert_eq!(events(&org, &[("limit", "1")]).await.len(), 1);
    for limit in ["0", "1001", "-5", "many", ""] {
        let answer = read(&org, &[("limit", limit)]).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "limit={limit}");
        assert_eq!(answer.error_code(), "E0000001");
        assert!(answer.body["errorSummary"].as_str().unwrap_or_default().contains("'limit'"), "{}", answer.body);
    }
}

#[tokio::test]
async fn sort_order_ascending_by_default_or_descending() {
    let (org, ..) = small_org().await;
    let all = org.simulator.log_events();
    let ascending = events(&org, &[]).await;
    assert_eq!(uuids(&ascending), uuids(&all));
    assert_eq!(uuids(&events(&org, &[("sortOrder", "ASCENDING")]).await), uuids(&all));
    let published: Vec<&str> = ascending.iter().map(|event| event["published"].as_str().unwrap_or_default()).collect();
    assert!(published.windows(2).all(|pair| pair[0] <= pair[1]), "{published:?}");
    let descending = events(&org, &[("sortOrder", "DESCENDING")]).await;
    let mut reversed = uuids(&all);
    reversed.reverse();
    assert_eq!(uuids(&descending), reversed);
    let answer = read(&org, &[("sortOrder", "SIDEWAYS")]).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.error_code(), "E0000001");
}

#[tokio::test]
async fn since_and_until_bound_the_published_time() {
    let org = org().await;
    let mut published = Vec::new();
    for name in ["first", "second", "third"] {
        let answer = org.call(Method::POST, "/api/v1/groups", Some(json!({ "profile": { "name": name } }))).await;
        assert_eq!(answer.status, StatusCode::OK);
        published.push(org.simulator.log_events().last().expect("an event")["published"].as_str().unwrap().to_owned());
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    let window = events(&org, &[("since", &published[1]), ("until", &published[2])]).await;
    assert_eq!(window.len(), 1, "since is inclusive, until exclusive");
    assert_eq!(window[0]["target"][0]["alternateId"], "second");
    assert_eq!(events(&org, &[("since", &published[1])]).await.len(), 2);
    assert_eq!(events(&org, &[("until", &published[1])]).await.len(), 1);
    // Other ISO 8601 spellings of the same instant.
    let offset = chrono::DateTime::parse_from_rfc3339(&published[1]).unwrap().format("%Y-%m-%dT%H:%M:%S%.3f+00:00");
    assert_eq!(events(&org, &[("since", &offset.to_string())]).await.len(), 2);
    assert!(events(&org, &[("since", &instant(chrono::Duration::minutes(5)))]).await.is_empty());
    // `since` defaults to seven days before `until`.
    assert!(events(&org, &[("until", &instant(chrono::Duration::days(8)))]).await.is_empty());
    assert_eq!(events(&org, &[("until", &instant(chrono::Duration::days(6)))]).await.len(), 3);

    for name in ["since", "until"] {
        let answer = read(&org, &[(name, "last tuesday")]).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        assert_eq!(answer.error_code(), "E0000001");
        let summary = answer.body["errorSummary"].as_str().unwrap_or_default();
        assert!(summary.starts_with(&format!("Api validation failed: '{name}': The date format")), "{summary}");
        assert_eq!(answer.causes().len(), 2);
    }
    let ancient = read(&org, &[("since", &instant(chrono::Duration::days(-200)))]).await;
    assert_eq!(ancient.status, StatusCode::BAD_REQUEST);
    assert_eq!(ancient.error_code(), "E0000053");
}

// ---------------------------------------------------------------------------------------------
// Paging and polling.

/// Follows `next` links from `first` until a page without one (or `max_pages`).
async fn follow(org: &Org, first: Answer, max_pages: usize) -> (Vec<Vec<Value>>, Answer) {
    let mut pages = Vec::new();
    let mut answer = first;
    loop {
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        pages.push(answer.body.as_array().cloned().expect("events"));
        let Some(next) = link(&answer, "next") else { return (pages, answer) };
        if pages.len() == max_pages {
            return (pages, answer);
        }
        answer = org.call(Method::GET, &next, None).await;
    }
}

async fn org_with_events(count: usize) -> Org {
    let org = org().await;
    for number in 0..count {
        let body = json!({ "profile": { "name": format!("group-{number:02}") } });
        assert_eq!(org.call(Method::POST, "/api/v1/groups", Some(body)).await.status, StatusCode::OK);
    }
    org
}

#[tokio::test]
async fn bounded_requests_page_with_after_and_end() {
    let org = org_with_events(25).await;
    let all = uuids(&org.simulator.log_events());
    let until = until_later();

    let first = read(&org, &[("until", &until), ("limit", "7")]).await;
    let own = link(&first, "self").expect("a self link");
    assert!(own.contains("limit=7") && own.contains("until="), "{own}");
    let next = link(&first, "next").expect("a next link");
    assert!(next.contains("after=") && next.contains("limit=7") && next.contains("until="), "{next}");
    let (pages, last) = follow(&org, first, 10).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [7, 7, 7, 4]);
    assert!(link(&last, "next").is_none(), "the last page of a bounded request has no next link");
    assert!(link(&last, "self").is_some());
    assert_eq!(pages.concat().iter().map(|event| event["uuid"].as_str().unwrap().to_owned()).collect::<Vec<_>>(), all);

    let descending = read(&org, &[("until", &until), ("limit", "10"), ("sortOrder", "DESCENDING")]).await;
    let (pages, _) = follow(&org, descending, 10).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [10, 10, 5]);
    let mut reversed = all.clone();
    reversed.reverse();
    assert_eq!(uuids(&pages.concat()), reversed);

    // Exactly a page's worth: no next link on the full last page.
    let exact = read(&org, &[("until", &until), ("limit", "25")]).await;
    assert_eq!(exact.body.as_array().map(Vec::len), Some(25));
    assert!(link(&exact, "next").is_none());

    let forged = read(&org, &[("after", "not-a-cursor")]).await;
    assert_eq!(forged.status, StatusCode::BAD_REQUEST);
    assert_eq!(forged.error_code(), "E0000029");
}

#[tokio::test]
async fn polling_always_links_to_the_next_page_even_when_empty() {
    let org = org_with_events(15).await;
    let all = uuids(&org.simulator.log_events());
    let first = read(&org, &[("limit", "6")]).await;
    let (pages, last) = follow(&org, first, 4).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [6, 6, 3, 0]);
    assert_eq!(uuids(&pages.concat()), all);
    let next = link(&last, "next").expect("an empty polling page still links to the next");

    // Polling the same link again: still empty, still a next link.
    let again = org.call(Method::GET, &next, None).await;
    assert_eq!(again.body, json!([]));
    let next = link(&again, "next").expect("next link");

    // New events appear on the polled link, and only those.
    let group = org.call(Method::POST, "/api/v1/groups", Some(json!({ "profile": { "name": "late" } }))).await;
    let group = group.body["id"].as_str().expect("id").to_owned();
    let fresh = org.call(Method::GET, &next, None).await;
    let fresh = fresh.body.as_array().cloned().expect("events");
    assert_eq!(fresh.len(), 1);
    assert_eq!(target_ids(&fresh[0]), [group]);

    // A polling request whose filter matches nothing: an empty page with a next link.
    let none = read(&org, &[("filter", r#"eventType eq "user.lifecycle.create""#)]).await;
    assert_eq!(none.body, json!([]));
    assert!(link(&none, "next").is_some());
    // The same request bounded by `until`: no next link.
    let bounded = read(&org, &[("filter", r#"eventType eq "user.lifecycle.create""#), ("until", &until_later())]).await;
    assert_eq!(bounded.body, json!([]));
    assert!(link(&bounded, "next").is_none());
    assert!(link(&bounded, "self").is_some());
}

// ---------------------------------------------------------------------------------------------
// Near real time: the visibility delay.

#[tokio::test]
async fn events_become_visible_only_after_the_log_delay() {
    let delay = Duration::from_millis(1500);
    let org = Org::start(SimulatorConfig { log_delay: delay, ..SimulatorConfig::default() }).await;
    let started = Instant::now();
    let user = org.create_id("?activate=false", "slow@example.com", false).await;
    let first = read(&org, &[]).await;
    assert!(started.elapsed() < delay, "the machine is too slow for this check");
    assert_eq!(first.body, json!([]), "not visible yet");
    assert_eq!(org.simulator.log_events().len(), 1, "but logged");
    let next = link(&first, "next").expect("polling link");

    let mut visible = Vec::new();
    while started.elapsed() < delay * 4 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let answer = org.call(Method::GET, &next, None).await;
        visible = answer.body.as_array().cloned().unwrap_or_default();
        if !visible.is_empty() {
            break;
        }
    }
    assert_eq!(visible.len(), 1, "visible after the delay");
    assert_eq!(target_ids(&visible[0]), [user]);
    let published = chrono::DateTime::parse_from_rfc3339(visible[0]["published"].as_str().unwrap()).unwrap();
    let waited = chrono::Utc::now().signed_duration_since(published);
    assert!(waited >= chrono::Duration::from_std(delay).unwrap(), "returned {waited} after publication");

    // The delay can change at run time; it decides visibility when the log is read.
    org.simulator.set_log_delay(Duration::from_secs(3600));
    org.create_id("?activate=false", "hidden@example.com", false).await;
    assert!(events(&org, &[]).await.is_empty(), "an hour's delay hides even the older event");
    org.simulator.set_log_delay(Duration::ZERO);
    assert_eq!(events(&org, &[]).await.len(), 2);
}

// ---------------------------------------------------------------------------------------------
// Scope, rate limits, methods.

#[tokio::test]
async fn reading_the_log_needs_the_okta_logs_read_scope() {
    let org = org().await;
    org.create_id("", "scoped@example.com", false).await;
    let far = SystemTime::now() + Duration::from_secs(3600);
    org.simulator.register_access_token(
        "users-only",
        vec!["okta.users.read".into(), "okta.users.manage".into()],
        None,
        far,
    );
    org.simulator.register_access_token("log-reader", vec!["okta.logs.read".into()], None, far);

    let refused = org.call_with(Method::GET, "/api/v1/logs", None, "Bearer users-only").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.error_code(), "E0000006");
    assert!(refused.header("www-authenticate").unwrap_or_default().contains("okta.logs.read"));
    let allowed = org.call_with(Method::GET, "/api/v1/logs", None, "Bearer log-reader").await;
    assert_eq!(allowed.status, StatusCode::OK);
    assert_eq!(allowed.body.as_array().map(Vec::len), Some(2));
    let cannot_write = org.call_with(Method::POST, "/api/v1/groups", None, "Bearer log-reader").await;
    assert_eq!(cannot_write.status, StatusCode::FORBIDDEN);

    org.simulator.add_api_token("scoped-ssws", Some(vec!["okta.users.read".into()]));
    let scoped = org.call_with(Method::GET, "/api/v1/logs", None, "SSWS scoped-ssws").await;
    assert_eq!(scoped.status, StatusCode::FORBIDDEN);
    let anonymous = org.call_with(Method::GET, "/api/v1/logs", None, "").await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let posted = org.call(Method::POST, "/api/v1/logs", Some(json!({}))).await;
    assert_eq!(posted.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn the_log_has_its_own_rate_limit_bucket() {
    assert_eq!(bucket_for(&Method::GET, "/api/v1/logs"), LOGS_BUCKET);
    assert_eq!(LOGS_BUCKET, "/api/v1/logs");
    assert_eq!(RateLimits::okta_defaults().per_minute.get(LOGS_BUCKET), Some(&120));
    let limits = [(LOGS_BUCKET.to_owned(), 2), (OTHER_API_BUCKET.to_owned(), 100)].into_iter().collect();
    let org = Org::start(SimulatorConfig {
        rate_limits: Some(RateLimits { per_minute: limits }),
        log_delay: Duration::ZERO,
        ..SimulatorConfig::default()
    })
    .await;
    let first = read(&org, &[]).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.header("x-rate-limit-limit"), Some("2"));
    assert_eq!(first.header("x-rate-limit-remaining"), Some("1"));
    assert_eq!(read(&org, &[]).await.status, StatusCode::OK);
    let third = read(&org, &[]).await;
    assert_eq!(third.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(third.error_code(), "E0000047");
    let other = org.call(Method::GET, "/api/v1/meta/types/user", None).await;
    assert_eq!(other.status, StatusCode::OK, "other endpoints have their own buckets");
    assert_eq!(other.header("x-rate-limit-limit"), Some("100"));
    let buckets: Vec<String> = org.simulator.requests().into_iter().map(|record| record.bucket).collect();
    assert_eq!(buckets[..3], [LOGS_BUCKET, LOGS_BUCKET, LOGS_BUCKET]);
}

// ---------------------------------------------------------------------------------------------
// PUT with credentials only (an admin setting a password).

#[tokio::test]
async fn put_with_only_credentials_sets_the_password_and_keeps_the_profile() {
    let org = org().await;
    let secret = "Corr3ct-Horse-Battery";
    let user = org.create_id("", "pending@example.com", false).await; // PROVISIONED, no password
    let before = org.simulator.user_json(&user).expect("user");
    assert_eq!(before["status"], "PROVISIONED");
    assert!(before["credentials"].get("password").is_none());

    let body = json!({ "credentials": { "password": { "value": secret } } });
    let answer = org.call(Method::PUT, &format!("/api/v1/users/{user}"), Some(body)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["profile"], before["profile"], "the profile is unchanged");
    assert_eq!(answer.body["credentials"]["password"], json!({}), "a password, never its value");
    assert_eq!(answer.body["status"], "ACTIVE", "setting the password completes the activation");
    assert!(answer.body["passwordChanged"].is_string());

    let logged = events(&org, &[]).await;
    assert_eq!(
        event_types(&logged),
        ["user.lifecycle.create", "user.lifecycle.activate", "user.account.update_password"],
        "a password change, not a profile update"
    );
    assert_valid_events(&logged);
    let everything = format!("{:?} {:?} {}", org.simulator.log_events(), org.simulator.users(), answer.body);
    assert!(!everything.contains(secret), "the password is neither logged nor stored");

    // With the profile too, a PUT still replaces it (and logs both changes).
    let mut profile = common::raw::profile("pending@example.com");
    profile["title"] = json!("Engineer");
    let body = json!({ "profile": profile, "credentials": { "password": { "value": secret } } });
    let answer = org.call(Method::PUT, &format!("/api/v1/users/{user}"), Some(body)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["profile"]["title"], "Engineer");
    assert_eq!(
        event_types(&org.simulator.log_events()[3..]),
        ["user.account.update_profile", "user.account.update_password"]
    );
    // Without credentials or profile there is nothing to replace the profile with.
    let empty = org.call(Method::PUT, &format!("/api/v1/users/{user}"), Some(json!({}))).await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    assert_eq!(empty.error_code(), "E0000001");
    assert_eq!(org.simulator.log_events().len(), 5);
}

// ---------------------------------------------------------------------------------------------
// Persistence.

#[tokio::test]
async fn events_are_kept_in_the_state_file_and_older_files_still_load() {
    let directory = std::env::temp_dir().join(format!("okta-sim-logs-{}", std::process::id()));
    std::fs::create_dir_all(&directory).expect("directory");
    let file = directory.join("org.json");
    let _ = std::fs::remove_file(&file);
    let config = SimulatorConfig {
        state_file: Some(file.clone()),
        api_token: Some("fixed-token".into()),
        log_delay: Duration::ZERO,
        ..SimulatorConfig::default()
    };
    let org = Org::start(config.clone()).await;
    let user = org.create_id("", "kept@example.com", true).await;
    let written = org.simulator.log_events();
    assert_eq!(written.len(), 2);
    let Org { simulator, .. } = org;
    simulator.shutdown().await;

    let reloaded = Org::start(config.clone()).await;
    assert_eq!(reloaded.simulator.log_events(), written);
    assert_eq!(events(&reloaded, &[]).await, written);
    reloaded.call(Method::POST, &format!("/api/v1/users/{user}/lifecycle/suspend"), None).await;
    let after = events(&reloaded, &[]).await;
    assert_eq!(event_types(&after), ["user.lifecycle.create", "user.lifecycle.activate", "user.lifecycle.suspend"]);
    let Org { simulator, .. } = reloaded;
    simulator.shutdown().await;

    // A state file from before the System Log (no `events`) loads with an empty log.
    let mut state: Value = serde_json::from_slice(&std::fs::read(&file).expect("state file")).expect("json");
    assert_eq!(state["events"].as_array().map(Vec::len), Some(3));
    state.as_object_mut().expect("object").remove("events");
    state["format"] = json!(2);
    std::fs::write(&file, serde_json::to_vec(&state).expect("json")).expect("write");
    let older = Org::start(config).await;
    assert!(older.simulator.log_events().is_empty());
    assert!(older.simulator.user_json("kept@example.com").is_some());
    drop(older);
    let _ = std::fs::remove_dir_all(&directory);
}
