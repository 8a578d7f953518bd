//! The org authorization server's token endpoint (`POST /oauth2/v1/token`) for service apps:
//! the client-credentials grant with `private_key_jwt` client authentication, optionally bound
//! to a DPoP key, and the DPoP proof check on API calls.
//!
//! What is checked follows Okta's service-app guide: the assertion's `iss` and `sub` are the
//! client id, `aud` is the token URL, `exp` is in the future and at most an hour away, the `jti`
//! is not reused, the signature verifies with the app's registered key (by `kid` when given),
//! and every requested scope is granted to the app. For an app that requires DPoP, the proof
//! must be a `dpop+jwt` signed by the key in its `jwk` header, for `POST` on the token URL, and
//! carry the nonce the server handed out through `use_dpop_nonce`.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::jose;

use super::ids::random_token;
use super::locks::lock;

/// A service app registered with the simulated org.
#[derive(Debug, Clone)]
pub struct OAuthApp {
    /// The app's client id.
    pub client_id: String,
    /// Public JWKs the app signs client assertions with (each may carry a `kid`).
    pub public_keys: Vec<Value>,
    /// The Okta API scopes granted to the app.
    pub scopes: Vec<String>,
    /// Whether the app requires DPoP-bound tokens (Okta's default for new apps).
    pub require_dpop: bool,
}

/// Accepted clock difference for `iat` claims.
pub(crate) const CLOCK_SKEW: u64 = 300;
/// Recently seen `jti` values are remembered up to this many, then forgotten in one go.
const MAX_REMEMBERED_JTIS: usize = 200_000;

/// The registry behind the token endpoint.
#[derive(Debug)]
pub(crate) struct OAuthServer {
    pub(crate) apps: RwLock<HashMap<String, OAuthApp>>,
    pub(crate) used_assertions: Mutex<HashSet<String>>,
    pub(crate) used_proofs: Mutex<HashSet<String>>,
    pub(crate) nonce: Mutex<String>,
    pub(crate) token_lifetime: Mutex<Duration>,
    pub(crate) token_requests: std::sync::atomic::AtomicU64,
}

impl Default for OAuthServer {
    fn default() -> Self {
        OAuthServer {
            apps: RwLock::new(HashMap::new()),
            used_assertions: Mutex::new(HashSet::new()),
            used_proofs: Mutex::new(HashSet::new()),
            nonce: Mutex::new(random_token(32)),
            token_lifetime: Mutex::new(Duration::from_secs(3600)),
            token_requests: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

impl OAuthServer {
    pub(crate) fn register(&self, app: OAuthApp) {
        self.apps.write().unwrap_or_else(|e| e.into_inner()).insert(app.client_id.clone(), app);
    }

    pub(crate) fn set_token_lifetime(&self, lifetime: Duration) {
        *lock(&self.token_lifetime) = lifetime;
    }

    /// Hands out a new DPoP nonce (proofs with the old one are then refused).
    pub(crate) fn rotate_nonce(&self) {
        *lock(&self.nonce) = random_token(32);
    }

    pub(crate) fn token_requests(&self) -> u64 {
        self.token_requests.load(std::sync::atomic::Ordering::Relaxed)
    }
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

pub(crate) fn remember(set: &Mutex<HashSet<String>>, jti: &str) -> bool {
    let mut seen = lock(set);
    if seen.len() >= MAX_REMEMBERED_JTIS {
        seen.clear();
    }
    seen.insert(jti.to_owned())
}

/// Checks a DPoP proof's signature, type, method, target and age; returns its claims and the
/// thumbprint of its key.
pub(crate) fn check_proof(
    proof: &str,
    method: &str,
    target: &str,
    used: &Mutex<HashSet<String>>,
) -> Result<(serde_json::Map<String, Value>, String), &'static str> {
    let (header, _) = jose::decode_unverified(proof).ok_or("The DPoP proof JWT is malformed.")?;
    if header.get("typ").and_then(Value::as_str) != Some("dpop+jwt") {
        return Err("The DPoP proof JWT has the wrong typ.");
    }
    let jwk = header.get("jwk").ok_or("The DPoP proof JWT has no jwk header.")?;
    let verified = jose::verify(proof, jwk).ok_or("The DPoP proof JWT signature is invalid.")?;
    let claims = verified.claims;
    if claims.get("htm").and_then(Value::as_str) != Some(method) {
        return Err("The DPoP proof htm does not match the request method.");
    }
    if claims.get("htu").and_then(Value::as_str) != Some(target) {
        return Err("The DPoP proof htu does not match the request URL.");
    }
    let iat = claims.get("iat").and_then(Value::as_u64).ok_or("The DPoP proof has no iat.")?;
    if iat.abs_diff(unix_now()) > CLOCK_SKEW {
        return Err("The DPoP proof iat is too far from the current time.");
    }
    let jti = claims.get("jti").and_then(Value::as_str).ok_or("The DPoP proof has no jti.")?;
    if !remember(used, jti) {
        return Err("The DPoP proof jti has been used before.");
    }
    let thumbprint = jose::thumbprint(jwk).ok_or("The DPoP proof jwk is not an RSA or EC public key.")?;
    Ok((claims, thumbprint))
}
