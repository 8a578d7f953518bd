//! The shared budget: clients with their own governors (as separate processes have) that share
//! one file store keep the org's bucket and concurrency limits together; the same clients
//! without it run into Okta's 429s.
#![cfg(feature = "simulator")]

use crate::common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use common::client_for;
use okta_lifecycle::simulator::{RateLimits, Simulator, SimulatorConfig};
use okta_lifecycle::{BudgetSharing, ClientConfig, Error, OktaClient};

fn store_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("okta-lifecycle-it-budget-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// `clients` clients, each with its own governor, each sending `each` reads at once.
async fn burst(sim: &Simulator, sharing: BudgetSharing, clients: usize, each: usize, max_concurrency: usize) {
    let clients: Vec<OktaClient> = (0..clients)
        .map(|_| {
            client_for(sim, |config| {
                config.budget_sharing = sharing.clone();
                config.max_concurrency = max_concurrency;
            })
        })
        .collect();
    let calls = clients.iter().flat_map(|client| {
        (0..each).map(move |_| {
            let client = client.clone();
            tokio::spawn(async move { client.users().get("user1@example.com").await })
        })
    });
    for call in futures_util::future::join_all(calls).await {
        call.unwrap().unwrap();
    }
}

fn limited_org() -> SimulatorConfig {
    let limits = RateLimits { per_minute: BTreeMap::from([("/api/v1/users/{idOrLogin}".to_owned(), 20)]) };
    SimulatorConfig {
        seed_users: 1,
        rate_limits: Some(limits),
        rate_limit_window: Duration::from_secs(2),
        ..Default::default()
    }
}

#[tokio::test]
async fn clients_sharing_a_store_keep_a_burst_under_the_bucket_limit_together() {
    let sim = Simulator::start(limited_org()).await.unwrap();
    let dir = store_dir("bucket");
    burst(&sim, BudgetSharing::At(dir.clone()), 4, 15, 16).await;
    let shared = sim.counters();
    assert_eq!(shared.requests, 60, "{shared:?}");
    assert_eq!(shared.rate_limited, 0, "four clients sharing one store act as one: {shared:?}");
    let _ = std::fs::remove_dir_all(&dir);

    // The same four clients, each alone, each believe the whole bucket is theirs.
    let sim = Simulator::start(limited_org()).await.unwrap();
    burst(&sim, BudgetSharing::Off, 4, 15, 16).await;
    assert!(sim.counters().rate_limited > 0, "without the store the burst meets the limit: {:?}", sim.counters());
}

#[tokio::test]
async fn clients_sharing_a_store_share_the_concurrency_slots() {
    let config = || SimulatorConfig { seed_users: 1, concurrency_limit: Some(4), latency_ms: 30, ..Default::default() };
    let sim = Simulator::start(config()).await.unwrap();
    let dir = store_dir("slots");
    burst(&sim, BudgetSharing::At(dir.clone()), 4, 12, 4).await;
    let shared = sim.counters();
    assert!(shared.max_in_flight <= 4, "four clients together never have more than four in flight: {shared:?}");
    assert_eq!(shared.concurrency_limited, 0, "{shared:?}");
    let _ = std::fs::remove_dir_all(&dir);

    let sim = Simulator::start(config()).await.unwrap();
    burst(&sim, BudgetSharing::Off, 4, 12, 4).await;
    assert!(sim.counters().concurrency_limited > 0, "each alone fills its four slots: {:?}", sim.counters());
}

#[tokio::test]
async fn a_store_directory_that_cannot_be_used_is_a_configuration_error() {
    let file = store_dir("file");
    std::fs::write(&file, b"not a directory").unwrap();
    let mut config = ClientConfig::with_api_token("https://acme.okta.com", "token").unwrap();
    config.budget_sharing = BudgetSharing::At(file.clone());
    match OktaClient::new(config) {
        Err(Error::Configuration(message)) => assert!(message.contains("shared rate budget"), "{message}"),
        other => panic!("expected a configuration error, got {other:?}"),
    }
    let _ = std::fs::remove_file(&file);
}

#[test]
fn the_setting_reads_on_off_and_directories() {
    assert_eq!(BudgetSharing::from_text("off").unwrap(), BudgetSharing::Off);
    assert_eq!(BudgetSharing::from_text(" No ").unwrap(), BudgetSharing::Off);
    assert_eq!(BudgetSharing::from_text("on").unwrap(), BudgetSharing::OrgDefault);
    assert_eq!(BudgetSharing::from_text("/var/lib/okta").unwrap(), BudgetSharing::At("/var/lib/okta".into()));
    assert!(matches!(BudgetSharing::from_text("  "), Err(Error::Configuration(_))));
    let config = ClientConfig::from_lookup(|name| match name {
        "OKTA_ORG_URL" => Some("https://acme.okta.com".into()),
        "OKTA_API_TOKEN" => Some("token".into()),
        "OKTA_LIFECYCLE_SHARED_BUDGET" => Some("off".into()),
        _ => None,
    })
    .unwrap();
    assert_eq!(config.budget_sharing, BudgetSharing::Off);
    let blank = ClientConfig::from_lookup(|name| match name {
        "OKTA_ORG_URL" => Some("https://acme.okta.com".into()),
        "OKTA_API_TOKEN" => Some("token".into()),
        "OKTA_LIFECYCLE_SHARED_BUDGET" => Some("  ".into()),
        _ => None,
    });
    assert_eq!(blank.unwrap().budget_sharing, BudgetSharing::Off, "blank is unset, as for the other variables");
}

#[tokio::test]
async fn a_store_locked_by_a_stopped_process_is_given_up_not_waited_for() {
    let sim = Simulator::start(SimulatorConfig { seed_users: 1, ..Default::default() }).await.unwrap();
    let dir = store_dir("wedged");
    let client = client_for(&sim, |config| config.budget_sharing = BudgetSharing::At(dir.clone()));
    // Another process took the store's lock and was stopped (SIGSTOP) before releasing it.
    let wedged = std::fs::OpenOptions::new().read(true).write(true).open(dir.join("state.json")).unwrap();
    wedged.lock().unwrap();
    let read = tokio::time::timeout(Duration::from_secs(20), client.users().get("user1@example.com")).await;
    assert!(read.expect("the request must not wait for the lock forever").is_ok());
    // Later requests go on without the store, at once.
    let started = std::time::Instant::now();
    client.users().get("user1@example.com").await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
    drop(wedged);
    let _ = std::fs::remove_dir_all(&dir);
}
