#![cfg(feature = "simulator")]
//! The simulator's Groups API over real HTTP: shapes, types, memberships, listings.

use okta_lifecycle::simulator::SimulatorConfig;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common;

use common::raw::{Answer, Org};

async fn create_group(org: &Org, name: &str) -> Answer {
    org.call(Method::POST, "/api/v1/groups", Some(json!({"profile": {"name": name, "description": "test group"}})))
        .await
}

fn everyone_id(answer: &Answer) -> String {
    answer
        .body
        .as_array()
        .expect("array")
        .iter()
        .find(|group| group["type"] == "BUILT_IN")
        .and_then(|group| group["id"].as_str())
        .expect("Everyone")
        .to_owned()
}

#[tokio::test]
async fn group_crud_has_okta_shape_and_rules() {
    let org = Org::new().await;
    let created = create_group(&org, "Engineering").await;
    assert_eq!(created.status, StatusCode::OK);
    assert_eq!(created.body["type"], "OKTA_GROUP");
    assert_eq!(created.body["objectClass"], json!(["okta:user_group"]));
    assert_eq!(created.body["profile"]["name"], "Engineering");
    let id = created.body["id"].as_str().expect("id").to_owned();
    assert!(id.starts_with("00g") && id.len() == 20);
    assert_eq!(created.body["_links"]["users"]["href"], format!("{}/api/v1/groups/{id}/users", org.simulator.url()));
    assert!(created.body["lastMembershipUpdated"].is_string());

    let duplicate = create_group(&org, "engineering").await;
    assert_eq!(duplicate.status, StatusCode::BAD_REQUEST);
    assert_eq!(duplicate.body["errorSummary"], "Api validation failed: name");
    assert_eq!(duplicate.causes(), ["name: An object with this field already exists in the current organization"]);
    let blank = org.call(Method::POST, "/api/v1/groups", Some(json!({"profile": {"name": ""}}))).await;
    assert_eq!(blank.error_code(), "E0000001");

    let path = format!("/api/v1/groups/{id}");
    let replaced = org.call(Method::PUT, &path, Some(json!({"profile": {"name": "Eng", "description": "new"}}))).await;
    assert_eq!(replaced.status, StatusCode::OK);
    assert_eq!(replaced.body["profile"]["description"], "new");
    let fetched = org.call(Method::GET, &path, None).await;
    assert_eq!(fetched.body["profile"]["name"], "Eng");
    assert_eq!(create_group(&org, "Engineering").await.status, StatusCode::OK);

    assert_eq!(org.call(Method::DELETE, &path, None).await.status, StatusCode::NO_CONTENT);
    let gone = org.call(Method::GET, &path, None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(gone.error_code(), "E0000007");
    assert_eq!(gone.body["errorSummary"], format!("Not found: Resource not found: {id} (UserGroup)"));
}

#[tokio::test]
async fn built_in_and_app_groups_are_protected() {
    let org = Org::new().await;
    let user = org.create_id("", "member@example.com", true).await;
    let groups = org.call(Method::GET, &format!("/api/v1/users/{user}/groups"), None).await;
    assert_eq!(groups.body.as_array().expect("array").len(), 1);
    assert_eq!(groups.body[0]["profile"]["name"], "Everyone");
    let everyone = everyone_id(&groups);

    let delete_everyone = org.call(Method::DELETE, &format!("/api/v1/groups/{everyone}"), None).await;
    assert_eq!(delete_everyone.status, StatusCode::FORBIDDEN);
    assert_eq!(delete_everyone.error_code(), "E0000006");
    let rename_everyone =
        org.call(Method::PUT, &format!("/api/v1/groups/{everyone}"), Some(json!({"profile": {"name": "All"}}))).await;
    assert_eq!(rename_everyone.status, StatusCode::FORBIDDEN);

    let app_group = org.simulator.seed_app_group("AD Staff");
    let fetched = org.call(Method::GET, &format!("/api/v1/groups/{app_group}"), None).await;
    assert_eq!(fetched.body["type"], "APP_GROUP");
    let add = org.call(Method::PUT, &format!("/api/v1/groups/{app_group}/users/{user}"), None).await;
    assert_eq!(add.status, StatusCode::FORBIDDEN);
    assert_eq!(add.error_code(), "E0000006");
    assert!(org.simulator.group_members(&app_group).is_empty());
    let duplicate = create_group(&org, "ad staff").await;
    assert_eq!(duplicate.status, StatusCode::BAD_REQUEST);
    let delete_app = org.call(Method::DELETE, &format!("/api/v1/groups/{app_group}"), None).await;
    assert_eq!(delete_app.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn memberships_are_idempotent_and_listed() {
    let org = Org::new().await;
    let user = org.create_id("", "m1@example.com", true).await;
    let group = create_group(&org, "staff").await.body["id"].as_str().expect("id").to_owned();
    let member_path = format!("/api/v1/groups/{group}/users/{user}");
    for _ in 0..2 {
        let answer = org.call(Method::PUT, &member_path, None).await;
        assert_eq!(answer.status, StatusCode::NO_CONTENT);
    }
    assert_eq!(org.simulator.group_members(&group), vec![user.clone()]);
    let members = org.call(Method::GET, &format!("/api/v1/groups/{group}/users"), None).await;
    assert_eq!(members.body.as_array().expect("array").len(), 1);
    assert_eq!(members.body[0]["id"], user.as_str());
    assert!(members.header("link").is_some_and(|link| link.contains("rel=\"self\"")));
    let user_groups = org.call(Method::GET, &format!("/api/v1/users/{user}/groups"), None).await;
    assert_eq!(user_groups.body.as_array().expect("array").len(), 2);
    assert_eq!(user_groups.body[0]["profile"]["name"], "Everyone");

    let stats = org.call(Method::GET, &format!("/api/v1/groups/{group}?expand=stats"), None).await;
    assert_eq!(stats.body["_embedded"]["stats"]["usersCount"], 1);

    for _ in 0..2 {
        let answer = org.call(Method::DELETE, &member_path, None).await;
        assert_eq!(answer.status, StatusCode::NO_CONTENT);
    }
    assert!(org.simulator.group_members(&group).is_empty());
    let missing_user = org.call(Method::PUT, &format!("/api/v1/groups/{group}/users/00unknown"), None).await;
    assert_eq!(missing_user.status, StatusCode::NOT_FOUND);
    let missing_group = org.call(Method::PUT, &format!("/api/v1/groups/00gunknown/users/{user}"), None).await;
    assert_eq!(missing_group.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn everyone_holds_every_user_and_member_lists_page() {
    let org = Org::start(SimulatorConfig { seed_users: 25, ..SimulatorConfig::default() }).await;
    let groups = org.call(Method::GET, "/api/v1/groups", None).await;
    let everyone = everyone_id(&groups);
    assert_eq!(org.simulator.group_members(&everyone).len(), 25);
    let mut seen = Vec::new();
    let mut url = Some(format!("/api/v1/groups/{everyone}/users?limit=10"));
    let mut pages = 0;
    while let Some(current) = url {
        let answer = org.call(Method::GET, &current, None).await;
        pages += 1;
        seen.extend(
            answer.body.as_array().expect("array").iter().map(|user| user["id"].as_str().expect("id").to_owned()),
        );
        url = answer.next_link();
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, org.simulator.group_members(&everyone));
    let default_limit = org.call(Method::GET, &format!("/api/v1/groups/{everyone}/users"), None).await;
    assert_eq!(default_limit.body.as_array().expect("array").len(), 25);
    assert!(default_limit.next_link().is_none());
}

#[tokio::test]
async fn group_listing_q_filter_search_and_paging() {
    let org = Org::new().await;
    for name in ["dept-eng", "dept-ops", "Dept-Sales", "all-staff"] {
        assert_eq!(create_group(&org, name).await.status, StatusCode::OK);
    }
    let q = org.call(Method::GET, "/api/v1/groups?q=DEPT", None).await;
    assert_eq!(q.body.as_array().expect("array").len(), 3);
    let filtered = org.call(Method::GET, "/api/v1/groups?filter=type+eq+%22OKTA_GROUP%22", None).await;
    assert_eq!(filtered.body.as_array().expect("array").len(), 4);
    let built_in = org.call(Method::GET, "/api/v1/groups?filter=type+eq+%22BUILT_IN%22", None).await;
    assert_eq!(built_in.body[0]["profile"]["name"], "Everyone");
    let bad = org.call(Method::GET, "/api/v1/groups?filter=profile.description+eq+%22x%22", None).await;
    assert_eq!(bad.error_code(), "E0000031");
    let searched = org.call(Method::GET, "/api/v1/groups?search=profile.name+sw+%22dept%22&expand=stats", None).await;
    assert_eq!(searched.body.as_array().expect("array").len(), 3);
    assert_eq!(searched.body[0]["_embedded"]["stats"]["usersCount"], 0);

    let first = org.call(Method::GET, "/api/v1/groups?limit=2", None).await;
    assert_eq!(first.body.as_array().expect("array").len(), 2);
    let next = first.next_link().expect("next");
    let second = org.call(Method::GET, &next, None).await;
    let third = org.call(Method::GET, &second.next_link().expect("next"), None).await;
    assert_eq!(third.body.as_array().expect("array").len(), 1);
    assert!(third.next_link().is_none());
}
