//! Helpers shared by the integration tests: a simulator and a client bound to it.
#![allow(dead_code)]

pub mod postgres;
pub mod raw;
#[cfg(feature = "simulator")]
pub mod scripted;

use std::time::Duration;

use okta_lifecycle::http::retry::Backoff;
use okta_lifecycle::simulator::{Simulator, SimulatorConfig};
use okta_lifecycle::{ClientConfig, OktaClient};
use serde_json::{json, Map, Value};

/// A simulator with `config` and a client using its API token with short backoffs.
pub async fn org(config: SimulatorConfig) -> (Simulator, OktaClient) {
    let simulator = Simulator::start(config).await.expect("the simulator starts");
    let client = client_for(&simulator, |_| {});
    (simulator, client)
}

/// A client for `simulator`, after `adjust` has changed its configuration.
pub fn client_for(simulator: &Simulator, adjust: impl FnOnce(&mut ClientConfig)) -> OktaClient {
    let mut config = ClientConfig::with_api_token(&simulator.url(), simulator.api_token()).unwrap();
    config.backoff = Backoff { base: Duration::from_millis(20), cap: Duration::from_millis(200) };
    adjust(&mut config);
    OktaClient::new(config).unwrap()
}

/// A valid profile for `login`.
pub fn profile(login: &str, first: &str, last: &str) -> Map<String, Value> {
    json!({"login": login, "email": login, "firstName": first, "lastName": last}).as_object().cloned().unwrap()
}

/// Runs `work` (an apply) until the simulator holds the write [`Simulator::hold_write`] chose,
/// then drops it there, as a kill at that moment would, and lets the simulator go on. `Some`
/// with the work's output when it ended before any write was held.
pub async fn kill_at_held_write<F: std::future::Future>(sim: &Simulator, work: F) -> Option<F::Output> {
    let held = async {
        while !sim.holding() {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };
    let ended = tokio::select! {
        output = work => Some(output),
        () = held => None,
    };
    sim.release_hold();
    ended
}
