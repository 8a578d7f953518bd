//! What the client puts on the wire and how it copes with answers a well-behaved org never
//! gives: retry headers, a bad record inside a page, a `Link` that points away from the org. A
//! small axum server plays the org and records what it received.
#![cfg(feature = "simulator")]

use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::header::LINK;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use futures_util::StreamExt;
use okta_lifecycle::okta::ListUsers;
use okta_lifecycle::{ClientConfig, Error, OktaClient};
use serde_json::{json, Value};

fn user(id: &str) -> Value {
    json!({"id": id, "status": "ACTIVE", "profile": {"login": format!("{id}@acme.com")}})
}

async fn users(State(base): State<Arc<String>>, Query(query): Query<Vec<(String, String)>>) -> impl IntoResponse {
    let after = query.iter().find(|(k, _)| k == "after").map(|(_, v)| v.as_str());
    match after {
        None => (
            [(LINK, format!("<{base}/api/v1/users?after=page2&limit=3>; rel=\"next\""))],
            Json(json!([user("00u1"), {"id": 42, "profile": "not an object"}, user("00u3")])),
        )
            .into_response(),
        Some("page2") => (
            [(LINK, "<https://elsewhere.example.com/api/v1/users?after=page3>; rel=\"next\"".to_owned())],
            Json(json!([user("00u4")])),
        )
            .into_response(),
        Some(_) => Json(json!([])).into_response(),
    }
}

#[tokio::test]
async fn a_bad_record_is_reported_and_the_listing_goes_on_but_never_leaves_the_org() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new().route("/api/v1/users", get(users)).with_state(Arc::new(base.clone()));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let client = OktaClient::new(ClientConfig::with_api_token(&base, "token").unwrap()).unwrap();
    let items: Vec<_> =
        client.users().list(&ListUsers { limit: Some(3), ..Default::default() }).unwrap().collect().await;
    let summary: Vec<String> = items
        .iter()
        .map(|item| match item {
            Ok(user) => user.id().to_owned(),
            Err(Error::Decode { .. }) => "decode error".to_owned(),
            Err(other) => format!("other: {other}"),
        })
        .collect();
    assert_eq!(summary[..3], ["00u1", "decode error", "00u3"]);
    // Page 2 arrives whole; its next link leads off the org, which ends the listing with an
    // error instead of sending the token elsewhere.
    assert_eq!(summary.len(), 5, "{summary:?}");
    assert_eq!(summary[3], "00u4", "{summary:?}");
    assert!(matches!(&items[4], Err(Error::Decode { message, .. }) if message.contains("outside the org")));
}

type Seen = Arc<Mutex<Vec<(Option<String>, Option<String>, Option<String>)>>>;

async fn flaky(State(seen): State<Seen>, headers: HeaderMap) -> impl IntoResponse {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let attempt = {
        let mut seen = seen.lock().unwrap();
        seen.push((header("x-okta-retry-for"), header("x-okta-retry-count"), header("authorization")));
        seen.len()
    };
    let request_id = format!("req-{attempt}");
    if attempt < 3 {
        let body = json!({"errorCode": "E0000009", "errorSummary": "Internal Server Error", "errorCauses": []});
        return (StatusCode::SERVICE_UNAVAILABLE, [("x-okta-request-id", request_id)], Json(body)).into_response();
    }
    ([("x-okta-request-id", request_id)], Json(user("00u1"))).into_response()
}

#[tokio::test]
async fn retries_name_the_first_failed_request_and_count_attempts() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen: Seen = Arc::default();
    let app = Router::new().route("/api/v1/users/{id}", get(flaky)).with_state(seen.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let mut config = ClientConfig::with_api_token(&base, "s3cret-token").unwrap();
    config.backoff = okta_lifecycle::http::retry::Backoff {
        base: std::time::Duration::from_millis(5),
        cap: std::time::Duration::from_millis(20),
    };
    let client = OktaClient::new(config).unwrap();
    assert_eq!(client.users().get("00u1").await.unwrap().id(), "00u1");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    assert_eq!((seen[0].0.as_deref(), seen[0].1.as_deref()), (None, None));
    assert_eq!((seen[1].0.as_deref(), seen[1].1.as_deref()), (Some("req-1"), Some("1")));
    assert_eq!((seen[2].0.as_deref(), seen[2].1.as_deref()), (Some("req-1"), Some("2")));
    assert!(seen.iter().all(|s| s.2.as_deref() == Some("SSWS s3cret-token")));
}
