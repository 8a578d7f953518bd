//! Authentication: SSWS API tokens, and OAuth 2.0 client credentials with `private_key_jwt`
//! against the org authorization server, optionally bound to a key with DPoP.
//!
//! The OAuth access token is cached and refreshed five minutes before it expires; one refresh
//! runs at a time however many requests need it. With DPoP every request carries a fresh
//! proof (`htm`, `htu` without query or fragment, `iat`, `jti`, `ath`), and the token request
//! follows the `use_dpop_nonce` exchange. The DPoP key is generated per client and is separate
//! from the client-assertion key, as Okta requires.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::header::{HeaderName, HeaderValue, AUTHORIZATION};
use reqwest::Method;
use serde_json::{json, Map, Value};
use url::Url;

use crate::config::{Credentials, PrivateKeyCredentials};
use crate::error::{Error, Result};
use crate::jose::{self, SigningKey};
use crate::secret::SecretString;

/// Refresh a cached token this long before it expires.
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(300);
/// The longest token lifetime believed from a token endpoint.
const MAX_TOKEN_LIFETIME_SECONDS: u64 = 86_400;
/// Lifetime of a client assertion (Okta accepts at most one hour).
const ASSERTION_LIFETIME: u64 = 300;

/// The `DPoP` header name.
pub const DPOP: HeaderName = HeaderName::from_static("dpop");
/// The header in which a server hands out a DPoP nonce.
pub const DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");

/// Builds the authentication headers for each request.
#[derive(Debug)]
pub(crate) enum Authenticator {
    Ssws(SecretString),
    OAuth(Box<OAuthClient>),
}

/// An OAuth service-app client: assertion key, optional DPoP key, cached token.
#[derive(Debug)]
pub(crate) struct OAuthClient {
    client_id: String,
    assertion_key: SigningKey,
    scopes: Vec<String>,
    dpop_key: Option<SigningKey>,
    token_url: Url,
    cached: tokio::sync::Mutex<Option<AccessToken>>,
    token_nonce: std::sync::Mutex<Option<String>>,
    resource_nonce: std::sync::Mutex<Option<String>>,
}

/// A cached access token.
#[derive(Debug, Clone)]
struct AccessToken {
    value: SecretString,
    dpop_bound: bool,
    expires_at: Instant,
}

impl Authenticator {
    pub(crate) fn new(credentials: &Credentials, org_url: &Url) -> Result<Self> {
        match credentials {
            Credentials::ApiToken(token) => {
                if token.expose().chars().any(|c| c.is_control() || c == ' ') {
                    return Err(Error::Configuration("the API token contains spaces or control characters".into()));
                }
                Ok(Authenticator::Ssws(token.clone()))
            }
            Credentials::PrivateKey(credentials) => {
                Ok(Authenticator::OAuth(Box::new(OAuthClient::new(credentials, org_url)?)))
            }
        }
    }

    /// True for OAuth: a 401 may mean the cached token was revoked, so one refresh is worth it.
    pub(crate) fn can_refresh(&self) -> bool {
        matches!(self, Authenticator::OAuth(_))
    }

    /// Forgets the cached token (after a 401).
    pub(crate) async fn invalidate(&self) {
        if let Authenticator::OAuth(oauth) = self {
            *oauth.cached.lock().await = None;
        }
    }

    /// Remembers a nonce a resource server asked for (`WWW-Authenticate: DPoP error="use_dpop_nonce"`).
    pub(crate) fn remember_resource_nonce(&self, nonce: &str) {
        if let Authenticator::OAuth(oauth) = self {
            *oauth.resource_nonce.lock().unwrap_or_else(|e| e.into_inner()) = Some(nonce.to_owned());
        }
    }

    /// The headers that authenticate `method url`.
    pub(crate) async fn headers(
        &self,
        http: &reqwest::Client,
        method: &Method,
        url: &Url,
    ) -> Result<Vec<(HeaderName, HeaderValue)>> {
        match self {
            Authenticator::Ssws(token) => Ok(vec![(AUTHORIZATION, sensitive(&format!("SSWS {}", token.expose()))?)]),
            Authenticator::OAuth(oauth) => oauth.headers(http, method, url).await,
        }
    }
}

fn sensitive(text: &str) -> Result<HeaderValue> {
    let mut value = HeaderValue::from_str(text).map_err(|_| {
        Error::Configuration("a credential contains characters that cannot go in an HTTP header".into())
    })?;
    value.set_sensitive(true);
    Ok(value)
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// The `htu` of a DPoP proof: the URL without query and fragment.
pub fn dpop_target(url: &Url) -> String {
    let mut target = url.clone();
    target.set_query(None);
    target.set_fragment(None);
    target.to_string()
}

/// A DPoP proof JWT for one request.
pub fn dpop_proof(
    key: &SigningKey,
    method: &str,
    url: &Url,
    access_token: Option<&str>,
    nonce: Option<&str>,
) -> String {
    let mut header = Map::new();
    header.insert("typ".into(), "dpop+jwt".into());
    header.insert("jwk".into(), key.public_jwk());
    let mut claims = json!({
        "htm": method,
        "htu": dpop_target(url),
        "iat": unix_now(),
        "jti": jose::random_id(),
    });
    if let Some(token) = access_token {
        claims["ath"] = jose::sha256_base64url(token).into();
    }
    if let Some(nonce) = nonce {
        claims["nonce"] = nonce.into();
    }
    key.sign(header, &claims)
}

impl OAuthClient {
    fn new(credentials: &PrivateKeyCredentials, org_url: &Url) -> Result<Self> {
        if credentials.client_id.trim().is_empty() {
            return Err(Error::Configuration("the OAuth client id is empty".into()));
        }
        if credentials.scopes.is_empty() {
            return Err(Error::Configuration("no OAuth scopes requested (e.g. okta.users.manage)".into()));
        }
        let assertion_key = SigningKey::from_text(credentials.private_key.expose(), credentials.key_id.clone())?;
        let dpop_key = if credentials.dpop { Some(SigningKey::generate_ec()?) } else { None };
        let token_url = org_url
            .join("/oauth2/v1/token")
            .map_err(|e| Error::Configuration(format!("cannot build the token URL: {e}")))?;
        Ok(OAuthClient {
            client_id: credentials.client_id.clone(),
            assertion_key,
            scopes: credentials.scopes.clone(),
            dpop_key,
            token_url,
            cached: tokio::sync::Mutex::new(None),
            token_nonce: std::sync::Mutex::new(None),
            resource_nonce: std::sync::Mutex::new(None),
        })
    }

    async fn headers(
        &self,
        http: &reqwest::Client,
        method: &Method,
        url: &Url,
    ) -> Result<Vec<(HeaderName, HeaderValue)>> {
        let token = self.token(http).await?;
        if token.dpop_bound {
            let key = self.dpop_key.as_ref().ok_or_else(|| Error::Auth {
                error: "invalid_token".into(),
                description: Some("the token endpoint issued a DPoP token to a client without a DPoP key".into()),
                status: None,
            })?;
            let nonce = self.resource_nonce.lock().unwrap_or_else(|e| e.into_inner()).clone();
            let proof = dpop_proof(key, method.as_str(), url, Some(token.value.expose()), nonce.as_deref());
            Ok(vec![(AUTHORIZATION, sensitive(&format!("DPoP {}", token.value.expose()))?), (DPOP, sensitive(&proof)?)])
        } else {
            Ok(vec![(AUTHORIZATION, sensitive(&format!("Bearer {}", token.value.expose()))?)])
        }
    }

    async fn token(&self, http: &reqwest::Client) -> Result<AccessToken> {
        let mut cached = self.cached.lock().await;
        if let Some(token) = cached.as_ref() {
            if token.expires_at.saturating_duration_since(Instant::now()) > REFRESH_BEFORE_EXPIRY {
                return Ok(token.clone());
            }
        }
        let token = self.request_token(http).await?;
        *cached = Some(token.clone());
        Ok(token)
    }

    fn client_assertion(&self) -> String {
        let now = unix_now();
        let mut header = Map::new();
        header.insert("typ".into(), "JWT".into());
        if let Some(kid) = self.assertion_key.key_id() {
            header.insert("kid".into(), kid.into());
        }
        let claims = json!({
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": self.token_url.as_str(),
            "iat": now,
            "exp": now + ASSERTION_LIFETIME,
            "jti": jose::random_id(),
        });
        self.assertion_key.sign(header, &claims)
    }

    async fn request_token(&self, http: &reqwest::Client) -> Result<AccessToken> {
        // At most: one plain try, one with the nonce the server handed out.
        for _ in 0..2 {
            let body = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("grant_type", "client_credentials")
                .append_pair("scope", &self.scopes.join(" "))
                .append_pair("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
                .append_pair("client_assertion", &self.client_assertion())
                .finish();
            let mut request = http
                .post(self.token_url.clone())
                .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(reqwest::header::ACCEPT, "application/json")
                .body(body);
            if let Some(key) = &self.dpop_key {
                let nonce = self.token_nonce.lock().unwrap_or_else(|e| e.into_inner()).clone();
                request = request.header(DPOP, dpop_proof(key, "POST", &self.token_url, None, nonce.as_deref()));
            }
            let started = Instant::now();
            let response = request.send().await.map_err(|e| Error::Auth {
                error: "token_request_failed".into(),
                description: Some(format!("could not reach the token endpoint: {}", without_url(&e))),
                status: None,
            })?;
            let status = response.status().as_u16();
            let nonce = response.headers().get(DPOP_NONCE).and_then(|v| v.to_str().ok()).map(str::to_owned);
            let reset = response
                .headers()
                .get("x-rate-limit-reset")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(|reset| {
                    crate::http::response::reset_instant(reset, crate::http::response::date_header(response.headers()))
                });
            let raw = crate::http::response::read_body(response).await.unwrap_or_default();
            let body: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
            tracing::debug!(status, duration_ms = started.elapsed().as_millis() as u64, "okta token request");
            if status == 200 {
                return self.parse_token(&body);
            }
            if status == 429 {
                // The token endpoint has its own rate limit: say so, with Okta's reset.
                return Err(Error::RateLimited {
                    bucket: self.token_url.path().to_owned(),
                    reset_at: reset,
                    concurrency: false,
                    api: Some(Box::new(crate::error::OktaApiError::from_body(
                        429,
                        &raw,
                        None,
                        "POST",
                        self.token_url.path(),
                    ))),
                });
            }
            let error = body.get("error").and_then(Value::as_str).unwrap_or("token_request_failed").to_owned();
            if error == "use_dpop_nonce" && self.dpop_key.is_some() {
                if let Some(nonce) = nonce {
                    *self.token_nonce.lock().unwrap_or_else(|e| e.into_inner()) = Some(nonce);
                    continue;
                }
            }
            return Err(Error::Auth {
                error,
                description: body.get("error_description").and_then(Value::as_str).map(str::to_owned),
                status: Some(status),
            });
        }
        Err(Error::Auth {
            error: "use_dpop_nonce".into(),
            description: Some("the token endpoint kept asking for a new DPoP nonce".into()),
            status: Some(400),
        })
    }

    fn parse_token(&self, body: &Value) -> Result<AccessToken> {
        let value = body.get("access_token").and_then(Value::as_str).ok_or_else(|| Error::Auth {
            error: "invalid_response".into(),
            description: Some("the token endpoint answered without an access_token".into()),
            status: Some(200),
        })?;
        let token_type = body.get("token_type").and_then(Value::as_str).unwrap_or("Bearer");
        // Okta's org tokens last an hour; a server that claims longer (or an absurd number) is
        // held to a day, so that no lifetime can overflow the clock.
        let expires_in = body.get("expires_in").and_then(Value::as_u64).unwrap_or(3600).min(MAX_TOKEN_LIFETIME_SECONDS);
        Ok(AccessToken {
            value: SecretString::new(value),
            dpop_bound: token_type.eq_ignore_ascii_case("DPoP"),
            expires_at: Instant::now() + Duration::from_secs(expires_in),
        })
    }
}

/// A transport error's text without the URL (which is not secret, but is noise here).
pub(crate) fn without_url(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(url.as_str(), "");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpop_target_drops_query_and_fragment() {
        let url = Url::parse("https://acme.okta.com/api/v1/users?limit=200&after=x#frag").unwrap();
        assert_eq!(dpop_target(&url), "https://acme.okta.com/api/v1/users");
    }

    #[test]
    fn dpop_proof_carries_the_required_claims() {
        let key = SigningKey::generate_ec().unwrap();
        let url = Url::parse("https://acme.okta.com/api/v1/users/ada@acme.com?x=1").unwrap();
        let proof = dpop_proof(&key, "GET", &url, Some("token-value"), Some("n1"));
        let verified = jose::verify(&proof, &key.public_jwk()).expect("the proof verifies with its own jwk");
        assert_eq!(verified.header["typ"], "dpop+jwt");
        assert_eq!(verified.header["jwk"], key.public_jwk());
        assert_eq!(verified.claims["htm"], "GET");
        assert_eq!(verified.claims["htu"], "https://acme.okta.com/api/v1/users/ada@acme.com");
        assert_eq!(verified.claims["ath"], jose::sha256_base64url("token-value"));
        assert_eq!(verified.claims["nonce"], "n1");
        assert!(verified.claims["iat"].as_u64().unwrap() > 1_700_000_000);
        let second = dpop_proof(&key, "GET", &url, Some("token-value"), None);
        let second = jose::verify(&second, &key.public_jwk()).unwrap();
        assert_ne!(second.claims["jti"], verified.claims["jti"], "a fresh jti per proof");
    }

    #[test]
    fn api_token_with_a_newline_is_refused() {
        let url = Url::parse("https://acme.okta.com").unwrap();
        let error = Authenticator::new(&Credentials::ApiToken("abc\ndef".into()), &url).unwrap_err();
        assert!(matches!(error, Error::Configuration(_)));
        assert!(!error.to_string().contains("abc"));
    }
}
