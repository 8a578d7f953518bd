//! Helpers shared by the integration tests: a simulator and a client bound to it.
#![allow(dead_code)]

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
