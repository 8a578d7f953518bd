//! Retries, the non-idempotent rule, rate limits and the concurrency limit, over real HTTP
//! against the simulator's faults.
#![cfg(feature = "simulator")]

use crate::common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{client_for, org, profile};
use okta_lifecycle::okta::CreateUser;
use okta_lifecycle::simulator::{RateLimits, ScriptedFault, Simulator, SimulatorConfig};
use okta_lifecycle::Error;

fn statuses(sim: &Simulator, method: &str, path_prefix: &str) -> Vec<u16> {
    sim.requests().iter().filter(|r| r.method == method && r.path.starts_with(path_prefix)).map(|r| r.status).collect()
}

#[tokio::test]
async fn idempotent_reads_recover_from_server_errors_and_drops() {
    let (sim, client) = org(SimulatorConfig { seed_users: 1, ..Default::default() }).await;
    sim.clear_requests();
    for fault in
        [ScriptedFault::Status(503), ScriptedFault::Status(500), ScriptedFault::DropBefore, ScriptedFault::DropAfter]
    {
        sim.script_fault("GET", "/api/v1/users/", fault);
        assert_eq!(client.users().get("user1@example.com").await.unwrap().login(), Some("user1@example.com"));
    }
    let seen = statuses(&sim, "GET", "/api/v1/users/");
    assert_eq!(seen.len(), 8, "each fault costs exactly one retry: {seen:?}");
    assert_eq!(seen.iter().filter(|s| **s == 200).count(), 5, "{seen:?}");
}

#[tokio::test]
async fn a_create_is_never_repeated_after_an_ambiguous_failure() {
    let (sim, client) = org(SimulatorConfig::default()).await;
    for (index, fault) in
        [ScriptedFault::Status(500), ScriptedFault::Status(503), ScriptedFault::DropAfter].into_iter().enumerate()
    {
        sim.clear_requests();
        let login = format!("ambiguous{index}@acme.com");
        sim.script_fault("POST", "/api/v1/users", fault);
        let error = client.users().create(&CreateUser::new(profile(&login, "Am", "Biguous"))).await.unwrap_err();
        assert!(matches!(error, Error::OutcomeUnknown { .. }), "{fault:?}: {error}");
        assert!(error.to_string().contains("outcome unknown"), "{error}");
        assert_eq!(statuses(&sim, "POST", "/api/v1/users").len(), 1, "{fault:?}: sent once");
        // After DropAfter the write happened: the caller verifies instead of repeating.
        let exists = sim.user_json(&login).is_some();
        assert_eq!(exists, fault == ScriptedFault::DropAfter, "{fault:?}");
    }
}

#[tokio::test]
async fn a_rate_limited_create_is_retried_because_okta_did_nothing() {
    let (sim, client) = org(SimulatorConfig::default()).await;
    sim.script_fault("POST", "/api/v1/users", ScriptedFault::Status(429));
    let user = client.users().create(&CreateUser::new(profile("retry@acme.com", "Re", "Try"))).await.unwrap();
    assert_eq!(statuses(&sim, "POST", "/api/v1/users"), [429, 200]);
    assert_eq!(sim.user_json("retry@acme.com").unwrap()["id"], user.id());
}

#[tokio::test]
async fn connect_failures_are_retried_then_reported_as_transport_errors() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let sim = Simulator::start(SimulatorConfig::default()).await.unwrap();
    let config = okta_lifecycle::ClientConfig::with_api_token(&format!("http://127.0.0.1:{port}"), "token").unwrap();
    let backoff =
        okta_lifecycle::http::retry::Backoff { base: Duration::from_millis(5), cap: Duration::from_millis(20) };
    let client =
        okta_lifecycle::OktaClient::new(okta_lifecycle::ClientConfig { max_retries: 2, backoff, ..config }).unwrap();
    let error = client.users().create(&CreateUser::new(profile("x@acme.com", "X", "Y"))).await.unwrap_err();
    assert!(matches!(error, Error::Transport { .. }), "{error}");
    assert!(error.to_string().contains("3 attempts"), "{error}");
    drop(sim);
}

#[tokio::test]
async fn timeouts_retry_reads_and_make_writes_unknown() {
    let (sim, _) = org(SimulatorConfig { seed_users: 1, ..Default::default() }).await;
    let client = client_for(&sim, |config| config.request_timeout = Duration::from_millis(300));
    sim.script_fault("GET", "/api/v1/users/", ScriptedFault::DelayMs(1500));
    assert!(client.users().get("user1@example.com").await.is_ok());
    sim.script_fault("POST", "/api/v1/users", ScriptedFault::DelayMs(1500));
    let error = client.users().create(&CreateUser::new(profile("slow@acme.com", "Sl", "Ow"))).await.unwrap_err();
    assert!(matches!(error, Error::OutcomeUnknown { .. }), "{error}");
}

#[tokio::test]
async fn exhausted_rate_limit_is_a_typed_error_with_the_reset() {
    let limits = RateLimits { per_minute: BTreeMap::from([("/api/v1/users/{idOrLogin}".to_owned(), 1)]) };
    let (sim, _) = org(SimulatorConfig { seed_users: 1, rate_limits: Some(limits), ..Default::default() }).await;
    // Two clients: the first spends the bucket, the second does not know and is refused.
    let first = client_for(&sim, |_| {});
    first.users().get("user1@example.com").await.unwrap();
    let second = client_for(&sim, |config| config.max_retries = 0);
    let error = second.users().get("user1@example.com").await.unwrap_err();
    match &error {
        Error::RateLimited { reset_at, concurrency, api, .. } => {
            assert!(reset_at.is_some());
            assert!(!concurrency);
            assert_eq!(api.as_ref().and_then(|a| a.error_code.as_deref()), Some("E0000047"));
        }
        other => panic!("expected RateLimited, got {other}"),
    }
}

#[tokio::test]
async fn concurrency_limit_is_absorbed_and_the_cap_shrinks() {
    let (sim, _) =
        org(SimulatorConfig { seed_users: 1, concurrency_limit: Some(4), latency_ms: 40, ..Default::default() }).await;
    let client = client_for(&sim, |config| config.max_concurrency = 16);
    // Learn the bucket first so the governor's single probe does not serialise the burst.
    client.users().get("user1@example.com").await.unwrap();
    let calls = (0..48).map(|_| {
        let client = client.clone();
        tokio::spawn(async move { client.users().get("user1@example.com").await })
    });
    for call in futures_util::future::join_all(calls).await {
        call.unwrap().unwrap();
    }
    let stats = client.governor_stats();
    assert!(stats.concurrency_limited > 0, "the burst must meet the limit: {stats:?}");
    assert!(stats.concurrency_cap < 16, "{stats:?}");
    assert!(sim.counters().max_in_flight <= 5, "{:?}", sim.counters());
}

#[tokio::test]
async fn the_governor_keeps_a_burst_under_the_bucket_limit() {
    let limit = 20;
    let limits = RateLimits { per_minute: BTreeMap::from([("/api/v1/users/{idOrLogin}".to_owned(), limit)]) };
    let config = SimulatorConfig {
        seed_users: 1,
        rate_limits: Some(limits),
        rate_limit_window: Duration::from_secs(2),
        ..Default::default()
    };
    let (sim, client) = org(config).await;
    let started = Instant::now();
    let calls = (0..50).map(|_| {
        let client = client.clone();
        tokio::spawn(async move { client.users().get("user1@example.com").await })
    });
    for call in futures_util::future::join_all(calls).await {
        call.unwrap().unwrap();
    }
    let elapsed = started.elapsed();
    let counters = sim.counters();
    assert_eq!(counters.rate_limited, 0, "the governor waits instead of running into the limit");
    assert_eq!(counters.requests, 50);
    // 50 requests at 20 per 2 s window need at least two resets.
    assert!(elapsed >= Duration::from_secs(4), "{elapsed:?}");
    assert!(client.governor_stats().throttled_waits > 0);
}
