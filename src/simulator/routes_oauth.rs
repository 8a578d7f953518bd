//! `POST /oauth2/v1/token`: access tokens for service apps (client credentials with
//! `private_key_jwt`, optionally DPoP-bound).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::ids::random_token;
use super::locks::lock;
use super::oauth::{check_proof, remember, unix_now, CLOCK_SKEW};
use super::shared::Shared;
use crate::jose;

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (status, Json(json!({ "error": error, "error_description": description }))).into_response()
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
