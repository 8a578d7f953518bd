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
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::jose;

use super::ids::random_token;
use super::{lock, Shared};

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
const CLOCK_SKEW: u64 = 300;
/// Recently seen `jti` values are remembered up to this many, then forgotten in one go.
const MAX_REMEMBERED_JTIS: usize = 200_000;

/// The registry behind the token endpoint.
#[derive(Debug)]
pub(crate) struct OAuthServer {
    apps: RwLock<HashMap<String, OAuthApp>>,
    used_assertions: Mutex<HashSet<String>>,
    pub(crate) used_proofs: Mutex<HashSet<String>>,
    nonce: Mutex<String>,
    token_lifetime: Mutex<Duration>,
    token_requests: std::sync::atomic::AtomicU64,
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

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (status, Json(json!({ "error": error, "error_description": description }))).into_response()
}

fn remember(set: &Mutex<HashSet<String>>, jti: &str) -> bool {
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

/// `POST /oauth2/v1/token`.
pub(crate) async fn token(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let server = &shared.oauth;
    server.token_requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    if field("grant_type") != "client_credentials" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "The grant type is not supported by this server.",
        );
    }
    if field("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "client_assertion_type must be jwt-bearer.");
    }
    let assertion = field("client_assertion");
    let Some((assertion_header, assertion_claims)) = jose::decode_unverified(assertion) else {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "The client_assertion is malformed.");
    };
    let client_id = assertion_claims.get("iss").and_then(Value::as_str).unwrap_or_default().to_owned();
    let Some(app) = server.apps.read().unwrap_or_else(|e| e.into_inner()).get(&client_id).cloned() else {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "The client_id is invalid.");
    };
    let token_url = format!("{}/oauth2/v1/token", shared.base_url);
    let kid = assertion_header.get("kid").and_then(Value::as_str);
    let verified = app
        .public_keys
        .iter()
        .filter(|key| kid.is_none() || key.get("kid").and_then(Value::as_str) == kid)
        .find_map(|key| jose::verify(assertion, key));
    let Some(verified) = verified else {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "The client_assertion signature is invalid.");
    };
    let claim = |name: &str| verified.claims.get(name).and_then(Value::as_str);
    if claim("sub") != Some(client_id.as_str()) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The client_assertion sub must be the client_id.",
        );
    }
    if claim("aud") != Some(token_url.as_str()) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The audience of the client_assertion is invalid.",
        );
    }
    let now = unix_now();
    match verified.claims.get("exp").and_then(Value::as_u64) {
        Some(exp) if exp > now && exp <= now + 3600 + CLOCK_SKEW => {}
        _ => {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "The client_assertion token is expired or lives longer than one hour.",
            )
        }
    }
    if let Some(jti) = claim("jti") {
        if !remember(&server.used_assertions, jti) {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "The client_assertion token has already been used.",
            );
        }
    }
    let requested: Vec<String> = field("scope").split_whitespace().map(str::to_owned).collect();
    if requested.is_empty() {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_scope", "The authorization server requires scopes.");
    }
    let refused: Vec<&str> = requested.iter().filter(|s| !app.scopes.contains(s)).map(String::as_str).collect();
    if !refused.is_empty() {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            &format!("The following scopes are not allowed: {}", refused.join(", ")),
        );
    }

    let proof = headers.get("dpop").and_then(|v| v.to_str().ok());
    let jkt = match (app.require_dpop, proof) {
        (true, None) => {
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_dpop_proof", "The DPoP proof JWT header is missing.");
        }
        (false, Some(_)) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_dpop_proof",
                "DPoP proof JWT is not enabled for this client.",
            );
        }
        (false, None) => None,
        (true, Some(proof)) => match check_proof(proof, "POST", &token_url, &server.used_proofs) {
            Err(description) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_dpop_proof", description),
            Ok((claims, thumbprint)) => {
                let nonce = lock(&server.nonce).clone();
                if claims.get("nonce").and_then(Value::as_str) != Some(nonce.as_str()) {
                    let mut response = oauth_error(
                        StatusCode::BAD_REQUEST,
                        "use_dpop_nonce",
                        "Authorization server requires nonce in DPoP proof.",
                    );
                    if let Ok(value) = HeaderValue::from_str(&nonce) {
                        response.headers_mut().insert("dpop-nonce", value);
                    }
                    return response;
                }
                Some(thumbprint)
            }
        },
    };
    let lifetime = *lock(&server.token_lifetime);
    let access_token = random_token(48);
    shared.register_token(
        &access_token,
        requested.clone(),
        jkt.clone(),
        SystemTime::now() + lifetime,
        Some(client_id.clone()),
    );
    Json(json!({
        "token_type": if jkt.is_some() { "DPoP" } else { "Bearer" },
        "expires_in": lifetime.as_secs(),
        "access_token": access_token,
        "scope": requested.join(" "),
    }))
    .into_response()
}
