//! Measures planning at scale: N identity records against an org of N users, read over HTTP
//! from the simulator, then planned. Prints the time of each stage and the peak memory.
//!
//! ```text
//! cargo run --release --features simulator --example plan_bench -- --users 100000
//! ```

use std::time::Instant;

use okta_lifecycle::lifecycle::planner::{plan_with_snapshot, read_request};
use okta_lifecycle::lifecycle::record::IdentityRecord;
use okta_lifecycle::lifecycle::{state, Policy};
use okta_lifecycle::simulator::{Simulator, SimulatorConfig};
use okta_lifecycle::{ClientConfig, OktaClient};
use serde_json::json;

fn peak_memory_mib() -> f64 {
    // VmHWM: the resident set's high-water mark.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| status.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_owned))
        .and_then(|line| line.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arguments: Vec<String> = std::env::args().collect();
    let users: usize = arguments
        .iter()
        .position(|a| a == "--users")
        .and_then(|i| arguments.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);

    let option = |name: &str| arguments.iter().position(|a| a == name).and_then(|i| arguments.get(i + 1)).cloned();
    // `--url U --token T`: an org served by another process (benchmarks/sim_server.py), so that
    // the peak memory printed is the planner's alone.
    let started = Instant::now();
    let (sim, url, token) = match (option("--url"), option("--token")) {
        (Some(url), Some(token)) => (None, url, token),
        _ => {
            let sim = Simulator::start(SimulatorConfig { seed_users: users, ..Default::default() }).await?;
            let (url, token) = (sim.url(), sim.api_token().to_owned());
            (Some(sim), url, token)
        }
    };
    let seeded = started.elapsed();
    let client = OktaClient::new(ClientConfig::with_api_token(&url, token.as_str())?)?;
    let after_seed = peak_memory_mib();

    let policy = Policy::from_value(&json!({
        "name": "bench",
        "source": {"format": "jsonl", "key": "email"},
        "attributes": {"login": "{email | LOWER}", "email": "{email | LOWER}", "firstName": "{first | TRIM}",
                        "lastName": "{last | TRIM}", "title": "{title | TITLE}"},
        "workflow": [{"name": "joiner-mover", "when": "status eq \"active\"", "actions": [{"action": "sync_identities"}]},
                     {"name": "leaver", "when": "status eq \"terminated\"", "actions": [{"action": "deprovision_identity", "remove_groups": false}]}],
    }))?;
    // Every seeded user has a record; one in ten changes title, one in a thousand leaves.
    let records: Vec<IdentityRecord> = (1..=users)
        .map(|n| {
            let status = if n % 1000 == 0 { "terminated" } else { "active" };
            let title = if n % 10 == 0 { "staff engineer" } else { "" };
            IdentityRecord::from_map(
                json!({"email": format!("user{n}@example.com"), "first": "User", "last": n.to_string(), "title": title, "status": status})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            )
        })
        .collect();

    let read_started = Instant::now();
    let snapshot = state::read(&client, &read_request(&policy, &records, None)).await?;
    let read = read_started.elapsed();
    let plan_started = Instant::now();
    let plan = plan_with_snapshot(&policy, &records, &snapshot, &url, &|_, _| Ok(None));
    let planned = plan_started.elapsed();
    println!("users={users} records={} seed={:.2}s", records.len(), seeded.as_secs_f64());
    println!(
        "read_org={:.2}s plan={:.2}s total={:.2}s",
        read.as_secs_f64(),
        planned.as_secs_f64(),
        (read + planned).as_secs_f64()
    );
    println!(
        "changes={} updates={} deprovisions={} unchanged={} issues={} peak_rss={:.0}MiB (of which the simulator's seeded org {after_seed:.0}MiB)",
        plan.changes.len(),
        plan.summary.operations.get("update_user").copied().unwrap_or(0),
        plan.summary.leavers,
        plan.summary.unchanged,
        plan.issues.len(),
        peak_memory_mib()
    );
    drop(sim);
    Ok(())
}
