#![cfg(feature = "simulator")]
//! The simulator's Users API over real HTTP: statuses, error codes, shapes, listing rules.

use okta_lifecycle::simulator::SimulatorConfig;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common;

use common::raw::{profile, Org};

#[tokio::test]
async fn requests_without_a_valid_token_get_401_e0000011() {
    let org = Org::new().await;
    let missing = org.call_with(Method::GET, "/api/v1/users", None, "").await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(missing.error_code(), "E0000011");
    assert_eq!(missing.body["errorSummary"], "Invalid token provided");
    let wrong = org.call_with(Method::GET, "/api/v1/users", None, "SSWS not-the-token").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.header("x-okta-request-id").is_some());
    assert!(wrong.header("date").is_some());
    assert_eq!(wrong.header("content-type"), Some("application/json"));
    assert_eq!(wrong.body["errorLink"], "E0000011");
    assert!(wrong.body["errorId"].as_str().is_some_and(|id| !id.is_empty()));
}

#[tokio::test]
async fn create_user_statuses_follow_okta_table() {
    let org = Org::new().await;
    let staged = org.create("?activate=false", "staged@example.com", true).await;
    assert_eq!(staged.body["status"], "STAGED");
    let provisioned = org.create("", "provisioned@example.com", false).await;
    assert_eq!(provisioned.body["status"], "PROVISIONED");
    assert!(provisioned.body["credentials"].get("password").is_none());
    let active = org.create("?activate=true", "active@example.com", true).await;
    assert_eq!(active.status, StatusCode::OK);
    assert_eq!(active.body["status"], "ACTIVE");
    assert_eq!(active.body["credentials"]["password"], json!({}));
    assert_eq!(active.body["credentials"]["provider"], json!({"type": "OKTA", "name": "OKTA"}));
    assert!(active.body["type"]["id"].as_str().is_some_and(|id| id.starts_with("oty")));
    let id = active.body["id"].as_str().expect("id");
    assert_eq!(id.len(), 20);
    assert!(id.starts_with("00u"));
    assert_eq!(active.body["_links"]["self"]["href"], format!("{}/api/v1/users/{id}", org.simulator.url()));
    assert!(active.body["_links"]["suspend"]["href"].is_string());
    assert!(active.body["_links"].get("activate").is_none());
    assert!(staged.body["_links"]["activate"]["href"].is_string());
    assert_eq!(active.body["profile"]["mobilePhone"], Value::Null);
    assert!(active.body["activated"].is_string());
    assert!(staged.body["activated"].is_null());

    let expired = org.create("?nextLogin=changePassword", "expired@example.com", true).await;
    assert_eq!(expired.body["status"], "PASSWORD_EXPIRED");
    let no_password = org.create("?nextLogin=changePassword", "nopass@example.com", false).await;
    assert_eq!(no_password.status, StatusCode::BAD_REQUEST);
    assert_eq!(no_password.error_code(), "E0000124");
    let not_activated = org.create("?activate=false&nextLogin=changePassword", "notact@example.com", true).await;
    assert_eq!(not_activated.error_code(), "E0000125");
}

#[tokio::test]
async fn create_user_validates_profile_and_group_ids() {
    let org = Org::new().await;
    let blank = org
        .call(
            Method::POST,
            "/api/v1/users",
            Some(json!({"profile": {"login": "x@example.com", "email": "x@example.com"}})),
        )
        .await;
    assert_eq!(blank.status, StatusCode::BAD_REQUEST);
    assert_eq!(blank.error_code(), "E0000001");
    assert_eq!(blank.body["errorSummary"], "Api validation failed: firstName");
    assert!(blank.causes().contains(&"lastName: The field cannot be left blank".to_owned()));

    let mut undefined = profile("undef@example.com");
    undefined["notValid"] = json!("x");
    let answer = org.call(Method::POST, "/api/v1/users", Some(json!({ "profile": undefined }))).await;
    assert_eq!(answer.body["errorSummary"], "Api validation failed: newUser");
    assert_eq!(answer.causes(), ["Property name 'notValid' is not defined in profile"]);

    let mut custom = profile("custom@example.com");
    custom["department"] = json!("Engineering");
    custom["startDate"] = json!("2024-01-01");
    let created = org.call(Method::POST, "/api/v1/users", Some(json!({ "profile": custom }))).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    assert_eq!(created.body["profile"]["department"], "Engineering");

    let mut bad_email = profile("bad@example.com");
    bad_email["email"] = json!("not-an-email");
    let answer = org.call(Method::POST, "/api/v1/users", Some(json!({ "profile": bad_email }))).await;
    assert_eq!(answer.causes(), ["email: Does not match required pattern"]);

    let long_name = org
        .call(
            Method::POST,
            "/api/v1/users",
            Some(json!({"profile": {"firstName": "x".repeat(51), "lastName": "L", "login": "long@example.com", "email": "long@example.com"}})),
        )
        .await;
    assert_eq!(long_name.body["errorSummary"], "Api validation failed: firstName");

    let malformed = org
        .http
        .post(format!("{}/api/v1/users", org.simulator.url()))
        .header("Authorization", format!("SSWS {}", org.simulator.api_token()))
        .body("{not json")
        .send()
        .await
        .expect("response");
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    let body: Value = serde_json::from_slice(&malformed.bytes().await.expect("body")).expect("json");
    assert_eq!(body["errorCode"], "E0000003");

    let too_many: Vec<String> = (0..21).map(|n| format!("00g{n:017}")).collect();
    let answer = org
        .call(
            Method::POST,
            "/api/v1/users",
            Some(json!({"profile": profile("groups@example.com"), "groupIds": too_many})),
        )
        .await;
    assert_eq!(answer.error_code(), "E0000093");

    let group = org.call(Method::POST, "/api/v1/groups", Some(json!({"profile": {"name": "staff"}}))).await;
    let group_id = group.body["id"].as_str().expect("group id").to_owned();
    let member = org
        .call(
            Method::POST,
            "/api/v1/users",
            Some(json!({"profile": profile("member@example.com"), "groupIds": [group_id]})),
        )
        .await;
    let member_id = member.body["id"].as_str().expect("id").to_owned();
    assert_eq!(org.simulator.group_members(&group_id), vec![member_id]);
}

#[tokio::test]
async fn login_uniqueness_ignores_case_and_accents() {
    let org = Org::new().await;
    org.create_id("", "isaac.brock@example.com", true).await;
    for clash in ["Isaac.Brock@Example.com", "isaac.bröck@example.com", "ISAAC.BRÖCK@EXAMPLE.COM"] {
        let answer = org.create("", clash, true).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{clash}");
        assert_eq!(answer.body["errorSummary"], "Api validation failed: login");
        assert_eq!(answer.causes(), ["login: An object with this field already exists in the current organization"]);
    }
    assert_eq!(org.create("", "isaac.brock2@example.com", true).await.status, StatusCode::OK);
}

#[tokio::test]
async fn get_user_by_id_or_login_with_etag_and_if_match() {
    let org = Org::new().await;
    let id = org.create_id("", "John.Doe+get@example.com", true).await;
    let by_login = org.call(Method::GET, "/api/v1/users/john.doe%2Bget%40EXAMPLE.com", None).await;
    assert_eq!(by_login.status, StatusCode::OK);
    assert_eq!(by_login.body["id"], id.as_str());
    let first_etag = by_login.header("etag").expect("etag").to_owned();
    assert!(first_etag.starts_with("W/\""));
    // lastUpdated has millisecond precision.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;

    let updated =
        org.call(Method::POST, &format!("/api/v1/users/{id}"), Some(json!({"profile": {"nickName": "JD"}}))).await;
    assert_eq!(updated.status, StatusCode::OK);
    let again = org.call(Method::GET, &format!("/api/v1/users/{id}"), None).await;
    let second_etag = again.header("etag").expect("etag").to_owned();
    assert_ne!(first_etag, second_etag);
    assert_ne!(by_login.body["lastUpdated"], again.body["lastUpdated"]);

    let stale = org
        .http
        .post(format!("{}/api/v1/users/{id}", org.simulator.url()))
        .header("Authorization", format!("SSWS {}", org.simulator.api_token()))
        .header("If-Match", &first_etag)
        .body(r#"{"profile":{"nickName":"X"}}"#)
        .send()
        .await
        .expect("response");
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
    let body: Value = serde_json::from_slice(&stale.bytes().await.expect("body")).expect("json");
    assert_eq!(body["errorCode"], "E0000231");
    let fresh = org
        .http
        .post(format!("{}/api/v1/users/{id}", org.simulator.url()))
        .header("Authorization", format!("SSWS {}", org.simulator.api_token()))
        .header("If-Match", &second_etag)
        .body(r#"{"profile":{"nickName":"X"}}"#)
        .send()
        .await
        .expect("response");
    assert_eq!(fresh.status(), StatusCode::OK);

    let missing = org.call(Method::GET, "/api/v1/users/nobody@example.com", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.body["errorSummary"], "Not found: Resource not found: nobody@example.com (User)");
}

#[tokio::test]
async fn partial_update_merges_and_put_replaces() {
    let org = Org::new().await;
    let id = org.create_id("", "merge@example.com", true).await;
    let path = format!("/api/v1/users/{id}");
    let answer =
        org.call(Method::POST, &path, Some(json!({"profile": {"department": "R&D", "title": "Engineer"}}))).await;
    assert_eq!(answer.body["profile"]["department"], "R&D");
    assert_eq!(answer.body["profile"]["firstName"], "Ada");
    let answer = org.call(Method::POST, &path, Some(json!({"profile": {"title": null}}))).await;
    assert!(answer.body["profile"].get("title").is_none());
    assert_eq!(answer.body["profile"]["department"], "R&D");

    let replaced = org.call(Method::PUT, &path, Some(json!({"profile": profile("merge@example.com")}))).await;
    assert_eq!(replaced.status, StatusCode::OK);
    assert!(replaced.body["profile"].get("department").is_none());
    let incomplete = org.call(Method::PUT, &path, Some(json!({"profile": {"login": "merge@example.com"}}))).await;
    assert_eq!(incomplete.status, StatusCode::BAD_REQUEST);
    assert_eq!(incomplete.error_code(), "E0000001");
}

#[tokio::test]
async fn lifecycle_operations_follow_the_state_machine() {
    let org = Org::new().await;
    let staged = org.create_id("?activate=false", "life@example.com", true).await;
    let post = |operation: &str| {
        let path = format!("/api/v1/users/{staged}/lifecycle/{operation}");
        let org = &org;
        async move { org.call(Method::POST, &path, None).await }
    };
    let reactivate = post("reactivate").await;
    assert_eq!(reactivate.status, StatusCode::FORBIDDEN);
    assert_eq!(reactivate.error_code(), "E0000038");
    let suspend = post("suspend").await;
    assert_eq!(suspend.status, StatusCode::BAD_REQUEST);
    assert_eq!(suspend.error_code(), "E0000001");

    let activate = post("activate?sendEmail=false").await;
    assert_eq!(activate.status, StatusCode::OK);
    let token = activate.body["activationToken"].as_str().expect("token");
    assert!(activate.body["activationUrl"].as_str().expect("url").contains(token));
    assert_eq!(org.simulator.user_json(&staged).expect("user")["status"], "ACTIVE");
    let again = post("activate").await;
    assert_eq!(again.status, StatusCode::FORBIDDEN);
    assert_eq!(again.error_code(), "E0000016");

    let unlock = post("unlock").await;
    assert_eq!(unlock.error_code(), "E0000032");
    assert_eq!(unlock.causes(), ["The user is not locked out."]);

    assert_eq!(post("suspend").await.body, json!({}));
    assert_eq!(org.simulator.user_json(&staged).expect("user")["status"], "SUSPENDED");
    assert_eq!(post("unsuspend").await.status, StatusCode::OK);
    assert_eq!(post("unsuspend").await.error_code(), "E0000001");

    let expired = post("expire_password").await;
    assert_eq!(expired.body["status"], "PASSWORD_EXPIRED");
    assert_eq!(expired.body["id"], staged.as_str());
    let temporary = post("expire_password_with_temp_password").await;
    assert!(temporary.body["tempPassword"].as_str().is_some_and(|p| !p.is_empty()));

    let reset = post("reset_password?sendEmail=false").await;
    let url = reset.body["resetPasswordUrl"].as_str().expect("reset url");
    assert!(url.starts_with(&format!("{}/reset_password/", org.simulator.url())));
    assert_eq!(org.simulator.user_json(&staged).expect("user")["status"], "RECOVERY");
    assert_eq!(post("reset_password").await.body, json!({}));
    assert_eq!(org.simulator.counters().reset_password.get(&staged), Some(&2));
    assert_eq!(post("reset_factors").await.status, StatusCode::OK);

    let before = org.simulator.user_json(&staged).expect("user");
    // Timestamps have millisecond resolution: make sure the clock moves.
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    let deactivate = post("deactivate").await;
    assert_eq!(deactivate.status, StatusCode::OK);
    assert_eq!(deactivate.body, json!({}));
    let after = org.simulator.user_json(&staged).expect("user");
    assert_eq!(after["status"], "DEPROVISIONED");
    assert_ne!(before["statusChanged"], after["statusChanged"]);
    assert!(after["transitioningToStatus"].is_null());
    assert_eq!(post("deactivate").await.status, StatusCode::NOT_FOUND);

    let reactivated = post("activate?sendEmail=true").await;
    assert_eq!(reactivated.body, json!({}));
    assert_eq!(org.simulator.user_json(&staged).expect("user")["status"], "ACTIVE");

    let provisioned = org.create_id("", "prov@example.com", false).await;
    let path = format!("/api/v1/users/{provisioned}/lifecycle/reactivate?sendEmail=false");
    let answer = org.call(Method::POST, &path, None).await;
    assert!(answer.body["activationToken"].is_string());
}

#[tokio::test]
async fn delete_deactivates_then_deletes() {
    let org = Org::new().await;
    let id = org.create_id("", "delete@example.com", true).await;
    let group = org.call(Method::POST, "/api/v1/groups", Some(json!({"profile": {"name": "g"}}))).await;
    let group_id = group.body["id"].as_str().expect("id").to_owned();
    org.call(Method::PUT, &format!("/api/v1/groups/{group_id}/users/{id}"), None).await;
    org.simulator.create_session(&id);
    let path = format!("/api/v1/users/{id}");
    let first = org.call(Method::DELETE, &path, None).await;
    assert_eq!(first.status, StatusCode::NO_CONTENT);
    assert_eq!(org.simulator.user_json(&id).expect("user")["status"], "DEPROVISIONED");
    assert_eq!(org.simulator.sessions(&id), 0);
    assert_eq!(org.simulator.group_members(&group_id), vec![id.clone()]);
    let second = org.call(Method::DELETE, &path, None).await;
    assert_eq!(second.status, StatusCode::NO_CONTENT);
    let gone = org.call(Method::GET, &path, None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(gone.error_code(), "E0000007");
    assert_eq!(gone.body["errorSummary"], format!("Not found: Resource not found: {id} (User)"));
    assert!(org.simulator.group_members(&group_id).is_empty());
    assert!(org.simulator.user_json(&id).is_none());
    assert_eq!(org.create("", "delete@example.com", true).await.status, StatusCode::OK);
}

#[tokio::test]
async fn sessions_and_oauth_tokens_are_revoked_separately() {
    let org = Org::new().await;
    let id = org.create_id("", "sessions@example.com", true).await;
    assert!(org.simulator.create_session(&id));
    assert!(org.simulator.create_session(&id));
    assert!(org.simulator.create_oauth_token(&id));
    assert!(!org.simulator.create_session("00unknown"));
    assert_eq!(org.simulator.sessions(&id), 2);
    let path = format!("/api/v1/users/{id}/sessions");
    let answer = org.call(Method::DELETE, &path, None).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    assert_eq!(org.simulator.sessions(&id), 0);
    assert_eq!(org.simulator.oauth_tokens(&id), 1);
    let answer = org.call(Method::DELETE, &format!("{path}?oauthTokens=true"), None).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    assert_eq!(org.simulator.oauth_tokens(&id), 0);
}

#[tokio::test]
async fn deprovisioned_users_are_hidden_unless_filtered_or_searched() {
    let org = Org::new().await;
    let kept = org.create_id("", "kept@example.com", true).await;
    let gone = org.create_id("", "gone@example.com", true).await;
    org.call(Method::POST, &format!("/api/v1/users/{gone}/lifecycle/deactivate"), None).await;
    let plain = org.call(Method::GET, "/api/v1/users", None).await;
    let ids: Vec<&str> = plain.body.as_array().expect("array").iter().filter_map(|u| u["id"].as_str()).collect();
    assert_eq!(ids, [kept.as_str()]);
    assert!(plain.header("link").is_some_and(|link| link.ends_with("rel=\"self\"")));
    let filtered = org.call(Method::GET, "/api/v1/users?filter=status%20eq%20%22DEPROVISIONED%22", None).await;
    assert_eq!(filtered.body.as_array().expect("array").len(), 1);
    assert_eq!(filtered.body[0]["id"], gone.as_str());
    let searched = org.call(Method::GET, "/api/v1/users?search=status+eq+%22deprovisioned%22", None).await;
    assert_eq!(searched.body[0]["id"], gone.as_str());
    let query = org.call(Method::GET, "/api/v1/users?q=gone", None).await;
    assert_eq!(query.body, json!([]));
}

#[tokio::test]
async fn q_filter_and_search_rules() {
    let org = Org::start(SimulatorConfig { seed_users: 15, ..SimulatorConfig::default() }).await;
    let q = org.call(Method::GET, "/api/v1/users?q=USER", None).await;
    assert_eq!(q.body.as_array().expect("array").len(), 10);
    assert!(q.next_link().is_none());
    let q_limited = org.call(Method::GET, "/api/v1/users?q=user1&limit=3", None).await;
    assert_eq!(q_limited.body.as_array().expect("array").len(), 3);

    let case_sensitive =
        org.call(Method::GET, "/api/v1/users?filter=profile.login+eq+%22USER1@example.com%22", None).await;
    assert_eq!(case_sensitive.body, json!([]));
    let exact = org.call(Method::GET, "/api/v1/users?filter=profile.login+eq+%22user1@example.com%22", None).await;
    assert_eq!(exact.body.as_array().expect("array").len(), 1);
    let insensitive =
        org.call(Method::GET, "/api/v1/users?search=profile.login+eq+%22USER1@example.com%22", None).await;
    assert_eq!(insensitive.body.as_array().expect("array").len(), 1);

    for invalid in [
        "filter=profile.department+eq+%22x%22",
        "filter=status+sw+%22ACT%22",
        "filter=status+gt+%22A%22",
        "filter=not+(status+eq+%22ACTIVE%22)",
        "search=status+ne+%22ACTIVE%22",
        "search=status+eq",
    ] {
        let answer = org.call(Method::GET, &format!("/api/v1/users?{invalid}"), None).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{invalid}");
        assert_eq!(answer.error_code(), "E0000031", "{invalid}");
        assert_eq!(answer.body["errorSummary"], "Invalid search criteria.");
    }
    let since = org.call(Method::GET, "/api/v1/users?filter=lastUpdated+gt+%222000-01-01T00:00:00.000Z%22", None).await;
    assert_eq!(since.body.as_array().expect("array").len(), 15);

    let sorted = org
        .call(
            Method::GET,
            "/api/v1/users?search=status+eq+%22ACTIVE%22&sortBy=profile.login&sortOrder=desc&limit=4",
            None,
        )
        .await;
    let logins: Vec<&str> =
        sorted.body.as_array().expect("array").iter().filter_map(|u| u["profile"]["login"].as_str()).collect();
    assert_eq!(logins, ["user9@example.com", "user8@example.com", "user7@example.com", "user6@example.com"]);
    let next = sorted.next_link().expect("next");
    let second = org.call(Method::GET, &next, None).await;
    assert_eq!(second.body[0]["profile"]["login"], "user5@example.com");
}

#[tokio::test]
async fn pagination_follows_link_next_with_opaque_cursors() {
    let org = Org::start(SimulatorConfig { seed_users: 450, ..SimulatorConfig::default() }).await;
    let first = org.call(Method::GET, "/api/v1/users?limit=100", None).await;
    let next = first.next_link().expect("next link");
    let cursor = next.split("after=").nth(1).and_then(|rest| rest.split('&').next()).expect("after");
    let first_id = first.body[99]["id"].as_str().expect("id");
    assert_ne!(cursor, first_id);
    assert!(!cursor.contains(first_id));

    let mut seen = std::collections::BTreeSet::new();
    let mut pages = 0;
    let mut url = Some(format!("{}/api/v1/users?limit=100", org.simulator.url()));
    while let Some(current) = url {
        let answer = org.call(Method::GET, &current, None).await;
        assert_eq!(answer.status, StatusCode::OK);
        pages += 1;
        for user in answer.body.as_array().expect("array") {
            assert!(seen.insert(user["id"].as_str().expect("id").to_owned()), "duplicate");
            assert!(user["_links"].get("suspend").is_none());
        }
        if pages == 2 {
            // Users created while paging must not shift the pages.
            org.create_id("", "late@example.com", true).await;
        }
        url = answer.next_link();
    }
    assert_eq!(pages, 5);
    assert_eq!(seen.len(), 451);

    let clamped = org.call(Method::GET, "/api/v1/users?limit=1000", None).await;
    assert_eq!(clamped.body.as_array().expect("array").len(), 200);
    let invalid = org.call(Method::GET, "/api/v1/users?after=00ubogus", None).await;
    assert_eq!(invalid.status, StatusCode::BAD_REQUEST);
    assert_eq!(invalid.error_code(), "E0000029");
    assert_eq!(invalid.causes(), ["Invalid cursor."]);
}

#[tokio::test]
async fn scoped_tokens_need_each_scope_separately() {
    let org = Org::new().await;
    let id = org.create_id("", "scoped@example.com", true).await;
    org.simulator.add_api_token("reader", Some(vec!["okta.users.read".into()]));
    let read = org.call_with(Method::GET, &format!("/api/v1/users/{id}"), None, "SSWS reader").await;
    assert_eq!(read.status, StatusCode::OK);
    let write =
        org.call_with(Method::POST, &format!("/api/v1/users/{id}/lifecycle/suspend"), None, "SSWS reader").await;
    assert_eq!(write.status, StatusCode::FORBIDDEN);
    assert_eq!(write.error_code(), "E0000006");
    assert!(write.causes()[0].contains("okta.users.manage"));

    let far = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
    org.simulator.register_access_token("manager", vec!["okta.users.manage".into()], None, far);
    let manage_only_read = org.call_with(Method::GET, "/api/v1/users", None, "Bearer manager").await;
    assert_eq!(manage_only_read.status, StatusCode::FORBIDDEN);
    assert!(manage_only_read.causes()[0].contains("okta.users.read"));
    let manage = org.call_with(Method::DELETE, &format!("/api/v1/users/{id}/sessions"), None, "Bearer manager").await;
    assert_eq!(manage.status, StatusCode::NO_CONTENT);

    let past = std::time::SystemTime::now() - std::time::Duration::from_secs(1);
    org.simulator.register_access_token("expired", vec!["okta.users.read".into()], None, past);
    let expired = org.call_with(Method::GET, "/api/v1/users", None, "Bearer expired").await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert_eq!(expired.error_code(), "E0000011");
}
