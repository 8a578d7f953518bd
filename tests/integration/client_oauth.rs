//! OAuth 2.0 service-app authentication against the simulator's token endpoint:
//! `private_key_jwt` with RS256 and ES256, scopes, token caching and refresh, DPoP proofs and
//! the `use_dpop_nonce` exchange.
#![cfg(feature = "simulator")]

use crate::common;

use std::time::Duration;

use okta_lifecycle::config::PrivateKeyCredentials;
use okta_lifecycle::jose::SigningKey;
use okta_lifecycle::okta::CreateUser;
use okta_lifecycle::simulator::{OAuthApp, Simulator, SimulatorConfig};
use okta_lifecycle::{ClientConfig, Credentials, Error, OktaClient};

const RSA_KEY: &str = include_str!("../fixtures/keys/rsa-pkcs8.pem");
const EC_KEY: &str = include_str!("../fixtures/keys/ec-sec1.pem");

fn register(sim: &Simulator, client_id: &str, pem: &str, kid: &str, scopes: &[&str], require_dpop: bool) {
    let mut jwk = SigningKey::from_pem(pem).unwrap().public_jwk();
    jwk["kid"] = kid.into();
    sim.register_oauth_app(OAuthApp {
        client_id: client_id.into(),
        public_keys: vec![jwk],
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        require_dpop,
    });
}

fn oauth_client(sim: &Simulator, client_id: &str, pem: &str, kid: &str, scopes: &[&str], dpop: bool) -> OktaClient {
    let credentials = Credentials::PrivateKey(PrivateKeyCredentials {
        client_id: client_id.into(),
        private_key: pem.into(),
        key_id: Some(kid.into()),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        dpop,
    });
    OktaClient::new(ClientConfig::new(&sim.url(), credentials).unwrap()).unwrap()
}

const ALL: &[&str] = &["okta.users.read", "okta.users.manage", "okta.groups.read", "okta.groups.manage"];

#[tokio::test]
async fn rs256_bearer_token_is_fetched_once_and_reused() {
    let sim = Simulator::start(SimulatorConfig { seed_users: 3, ..Default::default() }).await.unwrap();
    register(&sim, "0oa-rsa", RSA_KEY, "rsa-1", ALL, false);
    let client = oauth_client(&sim, "0oa-rsa", RSA_KEY, "rsa-1", ALL, false);
    for n in 1..=3 {
        client.users().get(&format!("user{n}@example.com")).await.unwrap();
    }
    assert_eq!(sim.token_requests(), 1);
    assert!(!format!("{client:?} {:?}", client.config()).contains("PRIVATE KEY"));
}

#[tokio::test]
async fn es256_with_dpop_follows_the_nonce_exchange_and_signs_every_call() {
    let sim = Simulator::start(SimulatorConfig::default()).await.unwrap();
    register(&sim, "0oa-ec", EC_KEY, "ec-1", ALL, true);
    let client = oauth_client(&sim, "0oa-ec", EC_KEY, "ec-1", ALL, true);
    let user = client.users().create(&CreateUser::new(common::profile("dpop@acme.com", "De", "Pop"))).await.unwrap();
    // A login with '@' in the path: the proof's htu must match the URL as sent.
    assert_eq!(client.users().get("dpop@acme.com").await.unwrap().id(), user.id());
    client.groups().create("dpop-group", None).await.unwrap();
    // First request without a nonce, second with it.
    assert_eq!(sim.token_requests(), 2);
    let token_statuses: Vec<u16> =
        sim.requests().iter().filter(|r| r.path == "/oauth2/v1/token").map(|r| r.status).collect();
    assert_eq!(token_statuses, [400, 200]);
}

#[tokio::test]
async fn an_app_that_requires_dpop_refuses_a_plain_client() {
    let sim = Simulator::start(SimulatorConfig::default()).await.unwrap();
    register(&sim, "0oa-ec", EC_KEY, "ec-1", ALL, true);
    let client = oauth_client(&sim, "0oa-ec", EC_KEY, "ec-1", ALL, false);
    match client.users().get("nobody@acme.com").await.unwrap_err() {
        Error::Auth { error, status, .. } => assert_eq!((error.as_str(), status), ("invalid_dpop_proof", Some(400))),
        other => panic!("expected an auth error, got {other}"),
    }
}

#[tokio::test]
async fn scopes_are_enforced_at_the_token_endpoint_and_per_operation() {
    let sim = Simulator::start(SimulatorConfig { seed_users: 1, ..Default::default() }).await.unwrap();
    register(&sim, "0oa-read", RSA_KEY, "rsa-1", &["okta.users.read"], false);
    let greedy = oauth_client(&sim, "0oa-read", RSA_KEY, "rsa-1", &["okta.users.manage"], false);
    match greedy.users().get("user1@example.com").await.unwrap_err() {
        Error::Auth { error, description, .. } => {
            assert_eq!(error, "invalid_scope");
            assert!(description.unwrap().contains("okta.users.manage"));
        }
        other => panic!("expected invalid_scope, got {other}"),
    }
    let reader = oauth_client(&sim, "0oa-read", RSA_KEY, "rsa-1", &["okta.users.read"], false);
    reader.users().get("user1@example.com").await.unwrap();
    let denied = reader.users().create(&CreateUser::new(common::profile("no@acme.com", "N", "O"))).await.unwrap_err();
    assert_eq!(denied.status(), Some(403));
    assert_eq!(denied.error_code(), Some("E0000006"));
    assert!(denied.api().unwrap().causes.iter().any(|c| c.summary.contains("okta.users.manage")));
}

#[tokio::test]
async fn tokens_are_refreshed_before_expiry_and_after_a_401() {
    let sim = Simulator::start(SimulatorConfig { seed_users: 1, ..Default::default() }).await.unwrap();
    register(&sim, "0oa-ec", EC_KEY, "ec-1", ALL, true);
    let client = oauth_client(&sim, "0oa-ec", EC_KEY, "ec-1", ALL, true);
    client.users().get("user1@example.com").await.unwrap();
    let after_first = sim.token_requests();

    // A token that expires within the refresh margin is replaced before use.
    sim.set_token_lifetime(Duration::from_secs(301));
    sim.revoke_access_tokens();
    client.users().get("user1@example.com").await.unwrap();
    assert_eq!(sim.token_requests(), after_first + 1, "a revoked token costs one 401 and one refresh");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    client.users().get("user1@example.com").await.unwrap();
    assert_eq!(sim.token_requests(), after_first + 2, "refreshed ahead of expiry");
    let unauthorised = sim.requests().iter().filter(|r| r.status == 401).count();
    assert_eq!(unauthorised, 1);
}

#[tokio::test]
async fn a_wrong_key_is_an_auth_error_that_names_no_secret() {
    let sim = Simulator::start(SimulatorConfig::default()).await.unwrap();
    register(&sim, "0oa-rsa", RSA_KEY, "rsa-1", ALL, false);
    let client = oauth_client(&sim, "0oa-rsa", EC_KEY, "rsa-1", ALL, false);
    let error = client.users().get("x@acme.com").await.unwrap_err();
    assert!(matches!(&error, Error::Auth { error, .. } if error == "invalid_client"), "{error}");
    assert!(!error.to_string().contains("BEGIN"));
}
