//! Measures the rate-limit governor against a server that enforces a per-bucket limit: N reads
//! at a limit of R per window should take close to the floor, with no 429 reaching the caller.
//!
//! ```text
//! cargo run --release --features simulator --example governor_floor -- \
//!     --requests 1500 --limit 600 --window-seconds 60 --concurrency 75 --latency-ms 50
//! ```
//!
//! Two floors are printed: N/R windows (the issue's yardstick), and the earliest finish a
//! perfect client can reach when the first window is full at the start, (ceil(N/R) − 1)
//! windows plus one request's latency.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use okta_lifecycle::simulator::{RateLimits, Simulator, SimulatorConfig};
use okta_lifecycle::{ClientConfig, OktaClient};

fn argument(name: &str, default: u64) -> u64 {
    let arguments: Vec<String> = std::env::args().collect();
    arguments
        .iter()
        .position(|a| a == name)
        .and_then(|i| arguments.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let requests = argument("--requests", 250);
    let limit = argument("--limit", 100);
    let window = Duration::from_secs(argument("--window-seconds", 10));
    let concurrency = argument("--concurrency", 75) as usize;
    let latency_ms = argument("--latency-ms", 50);

    let limits = RateLimits { per_minute: BTreeMap::from([("/api/v1/users/{idOrLogin}".to_owned(), limit as u32)]) };
    let sim = Simulator::start(SimulatorConfig {
        seed_users: 1,
        rate_limits: Some(limits),
        rate_limit_window: window,
        latency_ms,
        ..Default::default()
    })
    .await?;
    let mut config = ClientConfig::with_api_token(&sim.url(), sim.api_token())?;
    config.max_concurrency = concurrency;
    let client = OktaClient::new(config)?;

    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..requests {
        let client = client.clone();
        tasks.push(tokio::spawn(async move { client.users().get("user1@example.com").await.map(drop) }));
    }
    let mut failures = 0;
    for task in tasks {
        if task.await?.is_err() {
            failures += 1;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let counters = sim.counters();
    let windows = window.as_secs_f64();
    let floor_rate = requests as f64 / limit as f64 * windows;
    let floor_earliest = ((requests as f64 / limit as f64).ceil() - 1.0) * windows + latency_ms as f64 / 1000.0;
    println!(
        "requests={requests} limit={limit}/window window={windows}s concurrency={concurrency} latency={latency_ms}ms"
    );
    println!("elapsed={elapsed:.2}s floor(N/R)={floor_rate:.2}s earliest_possible={floor_earliest:.2}s");
    println!("ratio_to_N/R={:.3} ratio_to_earliest={:.3}", elapsed / floor_rate, elapsed / floor_earliest.max(0.001));
    println!(
        "server_requests={} server_429s={} caller_failures={failures} throttled_waits={}",
        counters.requests,
        counters.rate_limited,
        client.governor_stats().throttled_waits
    );
    Ok(())
}
