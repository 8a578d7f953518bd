//! A server that lies: cycles in `Link`, endless empty pages, absurd rate-limit and token
//! headers, huge bodies, headers that cannot be sent. Each ends in a typed error or a bounded
//! wait; none panics, hangs or loops.
#![cfg(feature = "simulator")]

use crate::common;

use std::time::{Duration, Instant};

use common::scripted::{Answer, Scripted};
use futures_util::StreamExt;
use okta_lifecycle::config::{Credentials, PrivateKeyCredentials};
use okta_lifecycle::okta::ListUsers;
use okta_lifecycle::{ClientConfig, Error, OktaClient};
use serde_json::{json, Value};

fn user(id: &str) -> Value {
    json!({"id": id, "status": "ACTIVE", "created": "2026-01-01T00:00:00.000Z", "profile": {"login": format!("{id}@acme.com"), "email": format!("{id}@acme.com")}})
}

fn client(url: &str) -> OktaClient {
    let mut config = ClientConfig::with_api_token(url, "token").unwrap();
    config.backoff =
        okta_lifecycle::http::retry::Backoff { base: Duration::from_millis(5), cap: Duration::from_millis(20) };
    OktaClient::new(config).unwrap()
}

async fn list_all(client: &OktaClient) -> (usize, Option<Error>) {
    let mut listing = client.users().list(&ListUsers::default()).unwrap();
    let mut items = 0;
    while let Some(item) = listing.next().await {
        match item {
            Ok(_) => items += 1,
            Err(error) => return (items, Some(error)),
        }
    }
    (items, None)
}

/// A server whose answers may name its own address (which is known only once it listens).
async fn start_with_own_url(script: impl Fn(&str, &str, &str, usize) -> Answer + Send + Sync + 'static) -> Scripted {
    let base = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let shared = std::sync::Arc::clone(&base);
    let server = Scripted::start(move |method, target, n| script(&shared.lock().unwrap(), method, target, n)).await;
    *base.lock().unwrap() = server.url.clone();
    server
}

#[tokio::test]
async fn a_two_page_cycle_in_next_links_ends_the_listing() {
    let server = start_with_own_url(|url, _, target, _| {
        let next = if target.contains("after=b") { "after=a" } else { "after=b" };
        Answer::json(200, json!([user("00u1")])).header("link", &format!("<{url}/api/v1/users?{next}>; rel=\"next\""))
    })
    .await;
    let (items, error) = list_all(&client(&server.url)).await;
    let message = error.expect("the cycle is an error").to_string();
    assert!(message.contains("does not end") && message.contains("cycle"), "{message}");
    assert!(server.requests() <= 4, "stopped after {} requests: {:?}", server.requests(), server.log());
    assert!(items >= 2);
}

#[tokio::test]
async fn a_self_link_and_endless_empty_pages_end_the_listing() {
    let server = start_with_own_url(|url, _, target, n| {
        if target.starts_with("/api/v1/users") {
            // The page points at itself.
            Answer::json(200, json!([user("00u1")])).header("link", &format!("<{url}{target}>; rel=\"next\""))
        } else {
            // Every group page is empty and points to a new cursor.
            Answer::json(200, json!([])).header("link", &format!("<{url}/api/v1/groups?after={n}>; rel=\"next\""))
        }
    })
    .await;
    let client = client(&server.url);
    let (items, error) = list_all(&client).await;
    assert_eq!(items, 1);
    assert!(error.unwrap().to_string().contains("cycle"));
    assert!(server.requests() <= 2, "{:?}", server.log());

    let before = server.requests();
    let found = client.groups().find_by_name("anything").await;
    let message = found.unwrap_err().to_string();
    assert!(message.contains("empty pages"), "{message}");
    assert!(server.requests() - before <= 4, "{:?}", server.log());
}

#[tokio::test]
async fn absurd_rate_limit_headers_neither_panic_nor_wait_for_ages() {
    let server = Scripted::start(|_, _, _| {
        Answer::json(200, user("00u1"))
            .header("x-rate-limit-limit", "600")
            .header("x-rate-limit-remaining", "599")
            .header("x-rate-limit-reset", &u64::MAX.to_string())
    })
    .await;
    let client = client(&server.url);
    let started = Instant::now();
    for _ in 0..3 {
        client.users().get("00u1").await.unwrap();
    }
    assert!(started.elapsed() < Duration::from_secs(10));

    // Reset in the year 2500 with nothing left: the wait is held to one window, and a 429 with
    // the same headers gives a typed error after a bounded number of tries.
    let far = Scripted::start(|_, _, _| {
        Answer::json(429, json!({"errorCode": "E0000047", "errorSummary": "API call exceeded rate limit"}))
            .header("x-rate-limit-limit", "600")
            .header("x-rate-limit-remaining", "0")
            .header("x-rate-limit-reset", "16725225600")
    })
    .await;
    let mut config = ClientConfig::with_api_token(&far.url, "token").unwrap();
    config.max_retries = 0;
    let error = OktaClient::new(config).unwrap().users().get("00u1").await.unwrap_err();
    match error {
        Error::RateLimited { reset_at: Some(reset_at), .. } => {
            let wait = reset_at.duration_since(std::time::SystemTime::now()).unwrap_or_default();
            assert!(wait <= Duration::from_secs(66), "{wait:?}");
        }
        other => panic!("expected a rate limit, got {other:?}"),
    }
}

#[tokio::test]
async fn a_body_too_large_is_refused_without_reading_it_all() {
    let server = Scripted::start(|_, _, _| Answer {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: vec![b' '; okta_lifecycle::http::MAX_BODY_BYTES + 1],
    })
    .await;
    let error = client(&server.url).users().get("00u1").await.unwrap_err();
    assert!(error.to_string().contains("larger than 32 MiB"), "{error}");
}

#[tokio::test]
async fn a_header_that_cannot_be_sent_is_invalid_input_and_not_retried() {
    let server = Scripted::start(|_, _, _| Answer::json(200, user("00u1"))).await;
    let profile = json!({"login": "a@acme.com"}).as_object().cloned().unwrap();
    let error = client(&server.url).users().replace("00u1", &profile, Some("W/\"1\"\r\nX-Evil: 1")).await.unwrap_err();
    assert!(matches!(error, Error::InvalidInput(_)), "{error:?}");
    assert_eq!(server.requests(), 0, "nothing was sent, nothing retried");
}

fn oauth_client(url: &str) -> OktaClient {
    let key =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/keys/rsa-pkcs8.pem")).unwrap();
    let credentials = Credentials::PrivateKey(PrivateKeyCredentials {
        client_id: "0oa1".into(),
        private_key: key.into(),
        key_id: Some("k1".into()),
        scopes: vec!["okta.users.read".into()],
        dpop: false,
    });
    OktaClient::new(ClientConfig::new(url, credentials).unwrap()).unwrap()
}

#[tokio::test]
async fn token_endpoint_lies_are_typed_errors() {
    // A lifetime of 2^64-1 seconds: believed for a day at most, no overflow.
    let server = Scripted::start(|_, target, _| {
        if target.starts_with("/oauth2/v1/token") {
            Answer::json(200, json!({"access_token": "a", "token_type": "Bearer", "expires_in": u64::MAX}))
        } else {
            Answer::json(200, user("00u1"))
        }
    })
    .await;
    oauth_client(&server.url).users().get("00u1").await.unwrap();

    // Its own rate limit keeps its status.
    let limited = Scripted::start(|_, _, _| {
        Answer::json(429, json!({"errorCode": "E0000047", "errorSummary": "API call exceeded rate limit"}))
            .header("x-rate-limit-reset", "16725225600")
    })
    .await;
    let error = oauth_client(&limited.url).users().get("00u1").await.unwrap_err();
    assert_eq!(error.status(), Some(429), "{error:?}");
    assert!(matches!(error, Error::RateLimited { .. }), "{error:?}");
}

#[tokio::test]
async fn a_5xx_too_large_to_read_on_a_write_is_an_unknown_outcome_not_a_failure() {
    // Okta (or a proxy) received the create and answered 500 with a body over the cap: the user
    // may exist, so the answer must go through the retry decision (ambiguous for a POST), not
    // become a plain failure that a resume would send again.
    let server = Scripted::start(|_, _, _| Answer {
        status: 500,
        headers: vec![("content-type".into(), "application/json".into())],
        body: vec![b' '; okta_lifecycle::http::MAX_BODY_BYTES + 1],
    })
    .await;
    let create = okta_lifecycle::okta::CreateUser::new(common::profile("ada@acme.com", "Ada", "Lovelace"));
    let error = client(&server.url).users().create(&create).await.unwrap_err();
    match &error {
        Error::OutcomeUnknown { reason, .. } => assert!(reason.contains("larger than 32 MiB"), "{reason}"),
        other => panic!("expected an unknown outcome, got {other:?}"),
    }
    assert_eq!(server.requests(), 1, "a non-idempotent write is not retried: {:?}", server.log());
    // A GET answered the same way is retried like any 5xx, then fails with the status.
    let error = client(&server.url).users().get("00u1").await.unwrap_err();
    assert_eq!(error.api().map(|api| api.status), Some(500), "{error:?}");
}

#[tokio::test]
async fn a_listing_of_role_holders_that_never_ends_or_leaves_the_org_is_refused() {
    // Every page names a new next page: the listing stops at its bound, with an error.
    let endless = start_with_own_url(|url, _, target, _| {
        let page = target.split("after=").nth(1).and_then(|n| n.parse::<u64>().ok()).unwrap_or(0);
        let next = format!("{url}/api/v1/iam/assignees/users?after={}", page + 1);
        Answer::json(200, json!({"value": [{"id": format!("00u{page}")}], "_links": {"next": {"href": next}}}))
    })
    .await;
    let error = client(&endless.url).roles().assigned_users().await.expect_err("an endless listing is refused");
    assert!(error.to_string().contains("more pages of role holders"), "{error}");
    assert!(endless.requests() <= 10_001, "{} requests", endless.requests());

    // A next link to another host is not followed: the token goes to the org alone.
    let elsewhere = Scripted::start(|_, _, _| {
        Answer::json(200, json!({"value": [{"id": "00u1"}], "_links": {"next": {"href": "https://evil.example/x"}}}))
    })
    .await;
    let error = client(&elsewhere.url).roles().assigned_users().await.expect_err("a foreign link is refused");
    assert!(error.to_string().contains("outside the org"), "{error}");
    assert_eq!(elsewhere.requests(), 1);
}
