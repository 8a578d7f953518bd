//! The fault soak: a policy over joiners, movers, leavers and password resets applied once while
//! the simulator fails about one request in ten (5xx, connections dropped before and after the
//! work, answers slower than the client's timeout, rate-limit and concurrency 429s). After that
//! one apply the org must be what the policy asks for, with no user created twice, every reset
//! sent exactly once (one whose answer was lost is settled from Okta's System Log), every
//! journal row final, and no event of the System Log taken for a change made outside the run.
//!
//! `SOAK_IDENTITIES` sets the size (default 300, for CI); `SOAK_SEEDS` the fault seeds (default
//! `1`), e.g. `SOAK_IDENTITIES=1000 SOAK_SEEDS=1,2,3 cargo test --release --features simulator
//! --test integration lifecycle_soak -- --nocapture`.
#![cfg(feature = "simulator")]

use crate::common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use okta_lifecycle::lifecycle::drift::{drift, DriftOptions};
use okta_lifecycle::lifecycle::journal::ChangeStatus;
use okta_lifecycle::lifecycle::record::IdentityRecord;
use okta_lifecycle::lifecycle::{apply, plan, ApplyOptions, Journal, Policy};
use okta_lifecycle::simulator::{Faults, RateLimits, Simulator, SimulatorConfig};
use serde_json::json;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn policy() -> Policy {
    Policy::from_value(&json!({
        "name": "soak",
        "source": {"format": "jsonl", "key": "id"},
        "attributes": {
            "login": "{email}", "email": "{email}", "firstName": "{first}", "lastName": "{last}",
            "department": "{department | DEFAULT('')}",
        },
        "movers": {"attributes": ["department"]},
        "workflow": [
            {"name": "joiner-mover", "when": "status eq \"active\"", "actions": [
                {"action": "sync_identities"},
                {"action": "create_entitlement", "name": "dept-{department | LOWER}"},
                {"action": "manage_relationships", "groups": ["dept-{department | LOWER}"], "exclusive_prefix": "dept-"}]},
            {"name": "leaver", "when": "status eq \"terminated\"", "actions": [{"action": "deprovision_identity"}]},
            {"name": "reset", "when": "status eq \"reset\"", "actions": [{"action": "reset_password"}]},
        ],
    }))
    .unwrap()
}

fn record(id: String, email: String, last: String, department: &str, status: &str) -> IdentityRecord {
    let fields =
        json!({"id": id, "email": email, "first": "Soak", "last": last, "department": department, "status": status});
    IdentityRecord::from_map(fields.as_object().cloned().unwrap())
}

/// Joiners 40%, movers 30%, leavers 10%, resets 20% of `size`; the existing ones are seeded.
fn scenario(size: usize) -> (usize, Vec<IdentityRecord>, usize, usize) {
    let (joiners, movers, leavers) = (size * 4 / 10, size * 3 / 10, size / 10);
    let resets = size - joiners - movers - leavers;
    let departments = ["Eng", "Sales", "Ops", "Legal"];
    let mut records = Vec::new();
    for n in 1..=joiners {
        let department = departments[n % 4];
        records.push(record(format!("j{n}"), format!("joiner{n}@acme.com"), format!("J{n}"), department, "active"));
    }
    // The seeded users: movers get a department, leavers and resets keep none.
    let mut seeded = 0;
    for (count, status) in [(movers, "active"), (leavers, "terminated"), (resets, "reset")] {
        for _ in 0..count {
            seeded += 1;
            let department = if status == "active" { departments[seeded % 4] } else { "" };
            let email = format!("user{seeded}@example.com");
            records.push(record(format!("s{seeded}"), email, seeded.to_string(), department, status));
        }
    }
    (seeded, records, joiners, resets)
}

fn faults(seed: u64) -> Faults {
    Faults {
        seed,
        error_500: 0.02,
        error_502: 0.01,
        error_503: 0.02,
        error_504: 0.01,
        drop_before: 0.015,
        drop_after: 0.015,
        slow: 0.01,
        slow_ms: 1_500,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_apply_under_faults_reaches_the_desired_state_without_repeating_anything() {
    let size = env_number("SOAK_IDENTITIES", 300);
    let seeds: Vec<u64> = std::env::var("SOAK_SEEDS")
        .ok()
        .map(|text| text.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1]);
    for seed in seeds {
        soak(size, seed, Journal::in_memory().unwrap()).await;
    }
}

/// The same soak with the journal in PostgreSQL: every claim, outcome and lease through the
/// database, under the same faults.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_apply_under_faults_with_the_journal_in_postgresql_repeats_nothing() {
    let server = common::postgres::Postgres::start();
    let url = server.url();
    let journal = tokio::task::spawn_blocking(move || Journal::open_postgres(&url)).await.unwrap().unwrap();
    soak(env_number("SOAK_IDENTITIES", 300), 1, journal).await;
}

async fn soak(size: usize, seed: u64, journal: Journal) {
    let (seeded, records, joiners, resets) = scenario(size);
    let limits = RateLimits {
        per_minute: BTreeMap::from([
            ("/api/v1/users".to_owned(), 120),
            ("/api/v1/users/{id}".to_owned(), 120),
            ("/api/v1/groups".to_owned(), 120),
        ]),
    };
    let sim = Simulator::start(SimulatorConfig {
        seed_users: seeded,
        faults: faults(seed),
        rate_limits: Some(limits),
        rate_limit_window: Duration::from_secs(1),
        concurrency_limit: Some(20),
        ..Default::default()
    })
    .await
    .unwrap();
    let client = common::client_for(&sim, |config| config.request_timeout = Duration::from_secs(1));
    let policy = policy();
    let started = Instant::now();
    let since = chrono::Utc::now();
    let planned = plan(&client, &policy, &records, &journal).await.unwrap();
    assert!(planned.issues.is_empty(), "{:?}", planned.issues);
    let planning = started.elapsed();
    let report = apply(
        &client,
        &planned,
        &journal,
        &ApplyOptions { concurrency: 24, log_settle: Duration::from_secs(5), ..Default::default() },
    )
    .await
    .unwrap();
    let applying = started.elapsed() - planning;

    let requests = sim.requests();
    let injected = requests.iter().filter(|r| r.dropped || matches!(r.status, 0 | 429 | 500..=599)).count();
    let creates =
        requests.iter().filter(|r| r.method == "POST" && r.path == "/api/v1/users" && r.status == 200).count();
    let counters = sim.counters();
    let reset_events: u64 = counters.reset_password.values().sum();
    println!(
        "soak seed {seed}: {size} identities, {} changes, {} requests ({injected} faulted or throttled, {:.1}%), plan {:.1}s, apply {:.1}s, outcomes {:?}",
        planned.changes.len(),
        requests.len(),
        injected as f64 * 100.0 / requests.len() as f64,
        planning.as_secs_f64(),
        applying.as_secs_f64(),
        report.counts
    );
    assert!(injected * 100 / requests.len() >= 5, "the soak injected too few faults to mean anything");
    // Every change succeeds, resets whose answer was lost included: Okta's System Log says
    // whether each was made (then it is done) or not (then it is sent once more).
    for outcome in &report.outcomes {
        assert!(outcome.status == ChangeStatus::Succeeded && outcome.journal_error.is_none(), "{}", report.render());
    }
    assert_eq!(creates, joiners, "no user created twice");
    assert_eq!(reset_events as usize, resets, "every requested reset sent");
    assert!(counters.reset_password.values().all(|count| *count == 1), "no reset sent twice");
    // Okta's System Log joined with the journal finds no change made outside the run: every
    // event of every write, answered or not, is the run's own.
    let drifted = drift(
        &client,
        &journal,
        &DriftOptions { since: since - chrono::TimeDelta::seconds(5), until: None, everything: true },
    )
    .await
    .unwrap();
    assert!(drifted.is_empty(), "the run's own changes taken for drift: {drifted:#?}");
    let final_rows = journal.run_changes(&planned.run_id).unwrap();
    assert!(final_rows.iter().all(|(_, status)| *status == ChangeStatus::Succeeded), "every journal row final");

    // The org is what the policy asks for: planning again (without the resets, which are
    // events, not state) finds nothing to do.
    let steady: Vec<IdentityRecord> =
        records.into_iter().filter(|r| r.text("status").as_deref() != Some("reset")).collect();
    let again = plan(&client, &policy, &steady, &journal).await.unwrap();
    assert!(again.changes.is_empty(), "{}", again.render());
}
