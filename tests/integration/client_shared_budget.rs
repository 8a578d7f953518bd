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
    reads_at_once(&clients, each).await;
}

/// `each` reads of the same user from every one of `clients`, all at once; each must succeed.
pub(crate) async fn reads_at_once(clients: &[OktaClient], each: usize) {
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

/// One seeded user, and a bucket of 20 reads of a user per 2-second window.
pub(crate) fn limited_org() -> SimulatorConfig {
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

const CHILD_URL: &str = "OKTA_LIFECYCLE_TEST_STOPPED_CHILD_URL";
const CHILD_TOKEN: &str = "OKTA_LIFECYCLE_TEST_STOPPED_CHILD_TOKEN";
const CHILD_STORE: &str = "OKTA_LIFECYCLE_TEST_STOPPED_CHILD_STORE";
const TEST_NAME: &str =
    "client_shared_budget::a_process_stopped_while_it_holds_the_store_delays_the_others_only_for_the_stores_patience";

/// The other process: keeps eight reads and the first request to a new bucket in flight, until
/// it is killed.
async fn child(url: String, token: String, store: PathBuf) {
    let mut config = ClientConfig::with_api_token(&url, token.as_str()).unwrap();
    config.budget_sharing = BudgetSharing::At(store);
    config.max_concurrency = 8;
    let client = OktaClient::new(config).unwrap();
    println!("child ready");
    let groups = {
        let client = client.clone();
        tokio::spawn(async move { client.groups().find_by_name("nobody").await })
    };
    let readers: Vec<_> = (0..8)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                loop {
                    let _ = client.users().get("user1@example.com").await;
                }
            })
        })
        .collect();
    let _ = groups.await;
    for reader in readers {
        let _ = reader.await;
    }
}

/// A process stopped (SIGSTOP: Ctrl-Z, `docker pause`) while it holds every slot of the shared
/// store and the first request to a new bucket delays the others for the store's patience at
/// most: they then govern alone. Their runtime threads are never blocked meanwhile (a heartbeat
/// task measures the longest stall). `STOPPED_SECONDS` sets how long the other is stopped
/// (default 8; the figure in docs/operations.md was measured with 30).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_stopped_while_it_holds_the_store_delays_the_others_only_for_the_stores_patience() {
    if let (Ok(url), Ok(token), Ok(store)) =
        (std::env::var(CHILD_URL), std::env::var(CHILD_TOKEN), std::env::var(CHILD_STORE))
    {
        return child(url, token, PathBuf::from(store)).await;
    }
    let stopped_for =
        Duration::from_secs(std::env::var("STOPPED_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(8));
    let sim = Simulator::start(SimulatorConfig { seed_users: 1, latency_ms: 400, ..Default::default() }).await.unwrap();
    let dir = store_dir("stopped");
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
        .env(CHILD_URL, sim.url())
        .env(CHILD_TOKEN, sim.api_token())
        .env(CHILD_STORE, &dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("child ready") {
        line.clear();
        assert!(std::io::BufRead::read_line(&mut out, &mut line).unwrap() > 0, "the child ended early");
    }
    // Stopped while its requests are in flight (each takes 400 ms).
    tokio::time::sleep(Duration::from_millis(150)).await;
    let pid = child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-STOP", &pid]).status().unwrap().success());
    let stopped_at = std::time::Instant::now();

    // The heartbeat: how late a 5-ms tick comes, at worst, while this process works.
    let beating = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let heartbeat = {
        let beating = beating.clone();
        tokio::spawn(async move {
            let mut worst = Duration::ZERO;
            while beating.load(std::sync::atomic::Ordering::Relaxed) {
                let tick = std::time::Instant::now();
                tokio::time::sleep(Duration::from_millis(5)).await;
                worst = worst.max(tick.elapsed().saturating_sub(Duration::from_millis(5)));
            }
            worst
        })
    };
    let client = client_for(&sim, |config| {
        config.budget_sharing = BudgetSharing::At(dir.clone());
        config.max_concurrency = 8;
    });
    let started = std::time::Instant::now();
    let mut slowest = Duration::ZERO;
    // The bucket the stopped process probes, then the one whose slots it holds.
    let probe = std::time::Instant::now();
    client.groups().find_by_name("somebody").await.unwrap();
    slowest = slowest.max(probe.elapsed());
    let reads = (0..40).map(|_| {
        let client = client.clone();
        async move {
            let read = std::time::Instant::now();
            client.users().get("user1@example.com").await.unwrap();
            read.elapsed()
        }
    });
    for took in futures_util::future::join_all(reads).await {
        slowest = slowest.max(took);
    }
    let finished = started.elapsed();
    beating.store(false, std::sync::atomic::Ordering::Relaxed);
    let worst_stall = heartbeat.await.unwrap();
    let still_stopped = stopped_at.elapsed() < stopped_for;
    if still_stopped {
        tokio::time::sleep(stopped_for - stopped_at.elapsed()).await;
    }
    let _ = std::process::Command::new("kill").args(["-CONT", &pid]).status();
    let _ = child.kill();
    let _ = child.wait();
    println!(
        "stopped {} s: 41 requests done in {:.2} s, slowest {:.2} s, longest runtime stall {} ms",
        stopped_for.as_secs(),
        finished.as_secs_f64(),
        slowest.as_secs_f64(),
        worst_stall.as_millis()
    );
    assert!(still_stopped, "the other process was still stopped when this one finished");
    let patience = okta_lifecycle::http::shared::STORE_PATIENCE + okta_lifecycle::http::shared::LOCK_PATIENCE;
    assert!(finished < patience + Duration::from_secs(2), "finished in {finished:?}");
    assert!(worst_stall < Duration::from_millis(500), "a runtime thread stalled {worst_stall:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
