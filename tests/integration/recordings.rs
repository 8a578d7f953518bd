//! Every response body recorded from real Okta orgs (Okta's Python SDK cassettes in
//! `../shared/okta-recordings`) decodes into the models without loss, and every error body into
//! the error type.

use std::path::{Path, PathBuf};

use okta_lifecycle::{Group, OktaApiError, User, UserStatus};
use serde_json::Value;

fn recordings_dir() -> PathBuf {
    let dir = std::env::var_os("OKTA_RECORDINGS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/okta-recordings"));
    assert!(dir.is_dir(), "the Okta recordings are expected at {} (set OKTA_RECORDINGS_DIR)", dir.display());
    dir
}

fn cassettes(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            cassettes(&path, found);
        } else if path.extension().is_some_and(|e| e == "yaml") {
            found.push(path);
        }
    }
}

/// What a recorded answer should decode into, from its method and path.
#[derive(Debug, PartialEq)]
enum Shape {
    User,
    Users,
    Group,
    Groups,
    Other,
}

fn shape(method: &str, path: &str) -> Shape {
    let segments: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    match (method, segments.as_slice()) {
        ("GET", ["api", "v1", "users"]) => Shape::Users,
        ("POST", ["api", "v1", "users"]) => Shape::User,
        ("GET" | "POST" | "PUT", ["api", "v1", "users", _]) => Shape::User,
        ("POST", ["api", "v1", "users", _, "lifecycle", "expire_password"]) => Shape::User,
        ("GET", ["api", "v1", "users", _, "groups"]) => Shape::Groups,
        ("GET", ["api", "v1", "groups"]) => Shape::Groups,
        ("POST", ["api", "v1", "groups"]) => Shape::Group,
        ("GET" | "PUT", ["api", "v1", "groups", id]) if *id != "rules" => Shape::Group,
        ("GET", ["api", "v1", "groups", _, "users"]) => Shape::Users,
        _ => Shape::Other,
    }
}

fn check_user(value: &Value, context: &str) {
    let user: User = serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("{context}: {e}"));
    assert_eq!(&serde_json::to_value(&user).unwrap(), value, "{context}: round trip lost data");
    assert!(!user.id().is_empty(), "{context}");
    assert!(!matches!(user.status(), UserStatus::Other(_)), "{context}: unknown status {}", user.status());
    assert!(user.login().is_some(), "{context}: no login");
    assert!(user.created().is_some(), "{context}: created did not parse");
}

fn check_group(value: &Value, context: &str) {
    let group: Group = serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("{context}: {e}"));
    assert_eq!(&serde_json::to_value(&group).unwrap(), value, "{context}: round trip lost data");
    assert!(group.name().is_some(), "{context}: no name");
    assert!(!matches!(group.group_type(), okta_lifecycle::GroupType::Other(_)), "{context}");
}

#[test]
fn recorded_bodies_decode_without_loss() {
    let mut files = Vec::new();
    cassettes(&recordings_dir(), &mut files);
    assert!(files.len() >= 30, "expected the users and groups cassettes, found {}", files.len());
    let (mut users, mut groups, mut errors) = (0, 0, 0);
    for file in &files {
        let cassette: serde_yaml::Value = serde_yaml::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        let interactions = cassette["interactions"].as_sequence().cloned().unwrap_or_default();
        for (index, interaction) in interactions.iter().enumerate() {
            let method = interaction["request"]["method"].as_str().unwrap_or_default();
            let uri = interaction["request"]["uri"].as_str().unwrap_or_default();
            let path = url::Url::parse(uri).map(|u| u.path().to_owned()).unwrap_or_default();
            let status = interaction["response"]["status"]["code"].as_u64().unwrap_or_default() as u16;
            let body = interaction["response"]["body"]["string"].as_str().unwrap_or_default();
            let context = format!("{} #{index} {method} {path} {status}", file.file_name().unwrap().to_string_lossy());
            if status >= 400 {
                let error = OktaApiError::from_body(status, body.as_bytes(), None, method, &path);
                let json: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{context}: {e}"));
                assert_eq!(error.error_code.as_deref(), json["errorCode"].as_str(), "{context}");
                let summary =
                    json["errorSummary"].as_str().or(json["message"].as_str()).unwrap_or_else(|| panic!("{context}"));
                assert_eq!(error.summary, summary, "{context}");
                let causes = json["errorCauses"].as_array().map(Vec::len).unwrap_or(0);
                assert_eq!(error.causes.len(), causes, "{context}");
                errors += 1;
                continue;
            }
            if body.trim().is_empty() {
                continue;
            }
            let json: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{context}: {e}"));
            match shape(method, &path) {
                Shape::User => {
                    check_user(&json, &context);
                    users += 1;
                }
                Shape::Users => {
                    for item in json.as_array().unwrap_or_else(|| panic!("{context}: not an array")) {
                        check_user(item, &context);
                        users += 1;
                    }
                }
                Shape::Group => {
                    check_group(&json, &context);
                    groups += 1;
                }
                Shape::Groups => {
                    for item in json.as_array().unwrap_or_else(|| panic!("{context}: not an array")) {
                        check_group(item, &context);
                        groups += 1;
                    }
                }
                Shape::Other => {}
            }
        }
    }
    // The cassettes hold well over these counts; a drop means the walk above broke.
    assert!(users >= 60, "only {users} users decoded");
    assert!(groups >= 20, "only {groups} groups decoded");
    assert!(errors >= 5, "only {errors} error bodies decoded");
    eprintln!("decoded {users} users, {groups} groups, {errors} error bodies from {} cassettes", files.len());
}
