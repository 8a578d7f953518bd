#![cfg(feature = "simulator")]
//! The simulator's rate limits, concurrency limit, faults, request log, reset and state file.

use okta_lifecycle::simulator::{Faults, RateLimits, ScriptedFault, SimulatorConfig, GET_USER_BUCKET, USERS_BUCKET};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::time::{Duration, Instant};

use crate::common;

use common::raw::{profile, Answer, Org};

fn limits(pairs: &[(&str, u32)]) -> Option<RateLimits> {
    Some(RateLimits { per_minute: pairs.iter().map(|(bucket, limit)| ((*bucket).to_owned(), *limit)).collect() })
}

#[tokio::test]
async fn okta_default_limits_and_scaling() {
    let defaults = RateLimits::okta_defaults();
    assert_eq!(defaults.per_minute.get(USERS_BUCKET), Some(&600));
    assert_eq!(defaults.per_minute.get(GET_USER_BUCKET), Some(&2000));
    assert_eq!(defaults.per_minute.get("/api/v1/groups"), Some(&500));
    assert_eq!(defaults.per_minute.get("/api/v1/groups/{id}"), Some(&1000));
    let scaled = RateLimits::scaled(0.1);
    assert_eq!(scaled.per_minute.get(USERS_BUCKET), Some(&60));
}

#[tokio::test]
async fn exhausted_bucket_answers_429_with_headers() {
    let org = Org::start(SimulatorConfig {
        seed_users: 1,
        rate_limits: limits(&[(GET_USER_BUCKET, 3), (USERS_BUCKET, 100)]),
        ..SimulatorConfig::default()
    })
    .await;
    let path = "/api/v1/users/user1@example.com";
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let answer = org.call(Method::GET, path, None).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.header("x-rate-limit-limit"), Some("3"));
        remaining.push(answer.header("x-rate-limit-remaining").expect("remaining").to_owned());
    }
    assert_eq!(remaining, ["2", "1", "0"]);
    let limited = org.call(Method::GET, path, None).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.error_code(), "E0000047");
    assert_eq!(limited.body["errorSummary"], "API call exceeded rate limit due to too many requests.");
    assert_eq!(limited.header("x-rate-limit-remaining"), Some("0"));
    assert!(limited.header("retry-after").is_none());
    let reset: u64 = limited.header("x-rate-limit-reset").expect("reset").parse().expect("epoch");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    assert!(reset > now && reset <= now + 61, "{reset} vs {now}");
    // Another bucket is not affected.
    let listing = org.call(Method::GET, "/api/v1/users", None).await;
    assert_eq!(listing.status, StatusCode::OK);
    assert_eq!(listing.header("x-rate-limit-limit"), Some("100"));
    // Lifecycle operations count against /api/v1/users.
    let log = org.simulator.requests();
    assert_eq!(log.last().expect("record").bucket, USERS_BUCKET);
    assert!(log.iter().any(|record| record.status == 429 && record.bucket == GET_USER_BUCKET));
    assert_eq!(org.simulator.counters().rate_limited, 1);
}

#[tokio::test]
async fn concurrency_limit_answers_429_with_zero_limit() {
    let org =
        Org::start(SimulatorConfig { concurrency_limit: Some(2), latency_ms: 300, ..SimulatorConfig::default() }).await;
    let calls = (0..6).map(|_| org.call(Method::GET, "/api/v1/users", None));
    let answers = futures_util::future::join_all(calls).await;
    let limited: Vec<&Answer> =
        answers.iter().filter(|answer| answer.status == StatusCode::TOO_MANY_REQUESTS).collect();
    assert_eq!(limited.len(), 4);
    for answer in &limited {
        assert_eq!(answer.error_code(), "E0000047");
        assert_eq!(answer.header("x-rate-limit-limit"), Some("0"));
        assert_eq!(answer.header("x-rate-limit-remaining"), Some("0"));
    }
    let counters = org.simulator.counters();
    assert_eq!(counters.concurrency_limited, 4);
    assert_eq!(counters.max_in_flight, 2);
    assert_eq!(counters.requests, 6);
    assert_eq!(counters.by_status.get(&429), Some(&4));
}

#[tokio::test]
async fn scripted_faults_apply_once_in_order() {
    let org = Org::new().await;
    org.simulator.script_fault("GET", "/api/v1/users", ScriptedFault::Status(503));
    org.simulator.script_fault("*", "/api/v1/users", ScriptedFault::Status(500));
    let first = org.call(Method::GET, "/api/v1/users", None).await;
    assert_eq!(first.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(first.body["errorCode"].is_string());
    let second = org.call(Method::GET, "/api/v1/users", None).await;
    assert_eq!(second.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(second.error_code(), "E0000009");
    assert_eq!(org.call(Method::GET, "/api/v1/users", None).await.status, StatusCode::OK);

    org.simulator.script_fault("POST", "/api/v1/groups", ScriptedFault::DelayMs(300));
    let started = Instant::now();
    let delayed = org.call(Method::POST, "/api/v1/groups", Some(json!({"profile": {"name": "slow"}}))).await;
    assert_eq!(delayed.status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn dropped_connections_before_and_after_processing() {
    let org = Org::new().await;
    let url = format!("{}/api/v1/users", org.simulator.url());
    let token = format!("SSWS {}", org.simulator.api_token());
    let body = |login: &str| serde_json::to_vec(&json!({"profile": profile(login)})).expect("json");

    org.simulator.script_fault("POST", "/api/v1/users", ScriptedFault::DropBefore);
    let before = org.http.post(&url).header("Authorization", &token).body(body("before@example.com")).send().await;
    assert!(before.is_err(), "the client must see a connection error");
    assert!(org.simulator.user_json("before@example.com").is_none());

    org.simulator.script_fault("POST", "/api/v1/users", ScriptedFault::DropAfter);
    let after = org.http.post(&url).header("Authorization", &token).body(body("after@example.com")).send().await;
    assert!(after.is_err(), "the client must see a connection error");
    assert!(org.simulator.user_json("after@example.com").is_some());

    assert_eq!(org.create("", "normal@example.com", true).await.status, StatusCode::OK);
    let log = org.simulator.requests();
    assert_eq!(log.len(), 3);
    assert!(log[0].dropped && log[0].status == 0);
    assert!(log[1].dropped && log[1].status == 200);
    assert!(!log[2].dropped);
}

async fn statuses_with_faults(faults: Faults, requests: usize) -> Vec<u16> {
    let org = Org::start(SimulatorConfig { faults, ..SimulatorConfig::default() }).await;
    let mut statuses = Vec::new();
    for _ in 0..requests {
        let response = org
            .http
            .get(format!("{}/api/v1/users", org.simulator.url()))
            .header("Authorization", format!("SSWS {}", org.simulator.api_token()))
            .send()
            .await;
        statuses.push(response.map(|response| response.status().as_u16()).unwrap_or(0));
    }
    statuses
}

#[tokio::test]
async fn random_faults_are_seeded_and_repeatable() {
    let faults = Faults {
        seed: 42,
        error_500: 0.2,
        error_502: 0.1,
        error_503: 0.1,
        error_504: 0.1,
        drop_before: 0.1,
        ..Faults::default()
    };
    let first = statuses_with_faults(faults.clone(), 60).await;
    let second = statuses_with_faults(faults, 60).await;
    assert_eq!(first, second);
    for status in [200, 500, 502, 503, 504, 0] {
        assert!(first.contains(&status), "{status} missing from {first:?}");
    }
    let all_errors = statuses_with_faults(Faults { error_504: 1.0, ..Faults::default() }, 3).await;
    assert_eq!(all_errors, [504, 504, 504]);
}

#[tokio::test]
async fn latency_and_slow_faults_delay_answers() {
    let org = Org::start(SimulatorConfig {
        latency_ms: 50,
        latency_jitter_ms: 20,
        faults: Faults { slow: 1.0, slow_ms: 100, ..Faults::default() },
        ..SimulatorConfig::default()
    })
    .await;
    let started = Instant::now();
    assert_eq!(org.call(Method::GET, "/api/v1/users", None).await.status, StatusCode::OK);
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(150), "{elapsed:?}");
}

#[tokio::test]
async fn request_log_and_reset() {
    let org = Org::start(SimulatorConfig { seed_users: 3, ..SimulatorConfig::default() }).await;
    org.call_with(Method::GET, "/api/v1/users", None, "SSWS wrong").await;
    org.create_id("", "extra@example.com", true).await;
    let log = org.simulator.requests();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].status, 401);
    assert_eq!(log[0].method, "GET");
    assert_eq!(log[1].path, "/api/v1/users");
    assert_eq!(log[1].bucket, USERS_BUCKET);
    let listed = org.call(Method::GET, "/api/v1/users?limit=2", None).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(org.simulator.requests()[2].query.as_deref(), Some("limit=2"));

    org.simulator.reset();
    assert!(org.simulator.requests().is_empty());
    assert_eq!(org.simulator.counters().requests, 0);
    assert!(org.simulator.user_json("extra@example.com").is_none());
    assert!(org.simulator.user_json("user3@example.com").is_some());
    org.simulator.clear_requests();
    assert!(org.simulator.requests().is_empty());
}

#[tokio::test]
async fn state_file_round_trip() {
    let directory = std::env::temp_dir().join(format!("okta-sim-state-{}", std::process::id()));
    std::fs::create_dir_all(&directory).expect("directory");
    let file = directory.join("org.json");
    let _ = std::fs::remove_file(&file);
    let config = SimulatorConfig {
        seed_users: 2,
        state_file: Some(file.clone()),
        api_token: Some("fixed-token".into()),
        ..SimulatorConfig::default()
    };
    let org = Org::start(config.clone()).await;
    let user = org.create_id("?activate=false", "persist@example.com", true).await;
    let group = org.call(Method::POST, "/api/v1/groups", Some(json!({"profile": {"name": "kept"}}))).await;
    let group = group.body["id"].as_str().expect("id").to_owned();
    org.call(Method::PUT, &format!("/api/v1/groups/{group}/users/{user}"), None).await;
    let Org { simulator, .. } = org;
    simulator.shutdown().await;
    assert!(file.exists());

    let reloaded = Org::start(config).await;
    let restored = reloaded.simulator.user_json("persist@example.com").expect("user restored");
    assert_eq!(restored["id"], user.as_str());
    assert_eq!(restored["status"], "STAGED");
    assert_eq!(reloaded.simulator.group_members(&group), vec![user.clone()]);
    assert!(reloaded.simulator.user_json("user2@example.com").is_some());
    let over_http = reloaded.call(Method::GET, "/api/v1/users/persist@example.com", None).await;
    assert_eq!(over_http.status, StatusCode::OK);
    let newer = reloaded.create_id("", "newer@example.com", true).await;
    assert!(newer > user, "ids keep growing after a reload");
    drop(reloaded);
    let _ = std::fs::remove_dir_all(&directory);
}

/// Throughput: `cargo test --release --test integration simulator_limits -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn throughput_of_user_reads() {
    let org = std::sync::Arc::new(Org::start(SimulatorConfig { seed_users: 1000, ..SimulatorConfig::default() }).await);
    let total = 20_000;
    let clients = 64;
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|client| {
            let org = org.clone();
            tokio::spawn(async move {
                let mut ok = 0;
                for request in 0..total / clients {
                    let number = (client * 31 + request) % 1000 + 1;
                    let answer = org.call(Method::GET, &format!("/api/v1/users/user{number}@example.com"), None).await;
                    if answer.status == StatusCode::OK {
                        ok += 1;
                    }
                }
                ok
            })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        ok += task.await.expect("task");
    }
    let elapsed = started.elapsed();
    println!(
        "{ok} GETs with {clients} concurrent clients in {elapsed:?}: {:.0} requests/s",
        ok as f64 / elapsed.as_secs_f64()
    );
    assert_eq!(ok, total / clients * clients);
}
