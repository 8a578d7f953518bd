//! Authentication of API calls: SSWS API tokens and OAuth 2.0 access tokens (`Bearer`/`DPoP`),
//! and the per-operation scope check.

use std::collections::HashMap;
use std::time::SystemTime;

use axum::http::request::Parts;
use axum::http::HeaderName;

use super::errors::ApiError;
use super::events::Actor;
use super::oauth::OAuthServer;

/// An OAuth 2.0 access token the org accepts.
#[derive(Debug, Clone)]
pub(crate) struct AccessToken {
    pub scopes: Vec<String>,
    /// JWK thumbprint the token is bound to (DPoP), if any.
    pub dpop_jkt: Option<String>,
    pub expires_at: SystemTime,
    /// The service app the token endpoint issued the token to (`None` for tokens registered
    /// directly with [`super::Simulator::register_access_token`]).
    pub client_id: Option<String>,
}

/// Every credential the org accepts.
#[derive(Debug, Default)]
pub(crate) struct Credentials {
    /// SSWS tokens; `None` scopes means all scopes.
    pub api_tokens: HashMap<String, Option<Vec<String>>>,
    /// SSWS tokens that act as another admin of the org (by user id) rather than the org's admin.
    pub token_owners: HashMap<String, String>,
    pub access_tokens: HashMap<String, AccessToken>,
}

/// Who is calling, as far as authorization is concerned.
#[derive(Debug, Clone)]
pub(crate) enum Principal {
    /// An unrestricted API token.
    AllScopes,
    /// A token restricted to these scopes.
    Scoped(Vec<String>),
}

impl Principal {
    /// `403 E0000006` unless the principal holds `scope`. Okta does not let `.manage` imply
    /// `.read`, so neither does this.
    pub(crate) fn require(&self, scope: &str) -> Result<(), ApiError> {
        match self {
            Principal::AllScopes => Ok(()),
            Principal::Scoped(scopes) if scopes.iter().any(|held| held == scope) => Ok(()),
            Principal::Scoped(_) => Err(ApiError::access_denied()
                .with_cause(format!("The access token provided does not contain the required scope: {scope}"))
                .with_header(
                    HeaderName::from_static("www-authenticate"),
                    format!(
                        "Bearer realm=\"IdentityPlatform\", error=\"insufficient_scope\", \
                         error_description=\"The access token provided does not contain the required scopes.\", \
                         scope=\"{scope}\""
                    ),
                )),
        }
    }
}

/// Checks the `Authorization` header; returns what the caller may do and who it is (the System
/// Log's actor).
pub(crate) fn authenticate(
    credentials: &Credentials,
    parts: &Parts,
    base_url: &str,
    oauth: &OAuthServer,
) -> Result<(Principal, Actor), ApiError> {
    let header = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .ok_or_else(ApiError::invalid_token)?;
    // Okta's Python SDK 3.x sends `SSWS<token>` without the space (`okta/configuration.py`
    // `auth_settings`: `self.authorization_mode + self.access_token`), and its cassettes recorded
    // against real orgs with that code (User-Agent `OpenAPI-Generator/1.0.0/python`) get 200s.
    let (scheme, token) = match header.trim().strip_prefix("SSWS") {
        Some(rest) => ("SSWS", rest),
        None => header.trim().split_once(' ').ok_or_else(ApiError::invalid_token)?,
    };
    let token = token.trim();
    if scheme == "SSWS" {
        let actor = credentials.token_owners.get(token).map_or(Actor::Admin, |owner| Actor::User(owner.clone()));
        return match credentials.api_tokens.get(token) {
            Some(None) => Ok((Principal::AllScopes, actor)),
            Some(Some(scopes)) => Ok((Principal::Scoped(scopes.clone()), actor)),
            None => Err(ApiError::invalid_token()),
        };
    }
    let is_bearer = scheme.eq_ignore_ascii_case("Bearer");
    let is_dpop = scheme.eq_ignore_ascii_case("DPoP");
    if !is_bearer && !is_dpop {
        return Err(ApiError::invalid_token());
    }
    let access = credentials.access_tokens.get(token).ok_or_else(ApiError::invalid_token)?;
    if access.expires_at <= SystemTime::now() {
        return Err(ApiError::invalid_token());
    }
    if access.dpop_jkt.is_some() {
        if !is_dpop {
            return Err(
                ApiError::invalid_token().with_cause("The access token is bound to a DPoP key; use the DPoP scheme.")
            );
        }
        check_dpop_proof(parts, token, access, base_url, oauth)?;
    }
    let actor = access.client_id.clone().map_or(Actor::Admin, Actor::App);
    Ok((Principal::Scoped(access.scopes.clone()), actor))
}

/// Checks the DPoP proof of an API call made with a DPoP-bound token: signed by the key the
/// token is bound to (`jkt`), for this method and URL (without query), fresh, not replayed, and
/// with `ath` = b64url(SHA-256(token)).
fn check_dpop_proof(
    parts: &Parts,
    token: &str,
    access: &AccessToken,
    base_url: &str,
    oauth: &OAuthServer,
) -> Result<(), ApiError> {
    let proof = parts
        .headers
        .get("dpop")
        .and_then(|value| value.to_str().ok())
        .ok_or_else(|| ApiError::invalid_token().with_cause("A DPoP proof is required."))?;
    let target = format!("{}{}", base_url, parts.uri.path());
    let (claims, thumbprint) = super::oauth::check_proof(proof, parts.method.as_str(), &target, &oauth.used_proofs)
        .map_err(|reason| ApiError::invalid_token().with_cause(reason))?;
    if access.dpop_jkt.as_deref() != Some(thumbprint.as_str()) {
        return Err(ApiError::invalid_token().with_cause("The DPoP proof key does not match the token's key."));
    }
    let expected_ath = crate::jose::sha256_base64url(token);
    if claims.get("ath").and_then(serde_json::Value::as_str) != Some(expected_ath.as_str()) {
        return Err(ApiError::invalid_token().with_cause("The DPoP proof ath does not match the access token."));
    }
    Ok(())
}
