//! The HTTP client: one `send` loop that authenticates, asks the governor, sends, and applies
//! the retry decision.
//!
//! The `Link` header parser ([`parse_next_link`]) is a dozen hand-written lines rather than an
//! RFC 8288 crate: pagination needs only Okta's `rel="next"` target, which is then checked to
//! stay inside the org. It is unit-tested here and fuzzed by `fuzz/fuzz_targets/headers.rs`.

use std::any::Any;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use reqwest::header::{HeaderMap, ACCEPT, CONTENT_TYPE, ETAG, IF_MATCH, LINK};
use reqwest::Method;
use serde_json::{json, Value};
use url::Url;

use crate::config::{BudgetSharing, ClientConfig};
use crate::error::{Error, OktaApiError, Result};
use crate::http::auth::Authenticator;
use crate::http::buckets::bucket_for;
use crate::http::governor::{Governor, GovernorStats};
use crate::http::response::{date_header, read_capped, reset_instant, BodyError, MAX_BODY_BYTES};
use crate::http::retry::{decide, Attempt, Decision, GiveUp, Idempotency, RateLimitHeaders};
use crate::http::shared::SharedBudget;

/// One request to the Okta API.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    /// HTTP method.
    pub method: Method,
    /// The full URL (built from the org URL, or a `Link` taken from a previous answer).
    pub url: Url,
    /// A JSON body.
    pub body: Option<Value>,
    /// `If-Match` for optimistic concurrency on replaces.
    pub if_match: Option<String>,
    /// Whether repeating the request is safe; decides the retry rules.
    pub idempotency: Idempotency,
}

/// Okta's answer to a successful request.
#[derive(Debug, Clone)]
pub struct ApiResponse {
    /// HTTP status (2xx).
    pub status: u16,
    /// The raw body (empty for 204).
    pub body: Bytes,
    /// The `ETag` header, if any.
    pub etag: Option<String>,
    /// The `Link: <...>; rel="next"` URL, if any.
    pub next: Option<Url>,
    /// Why a `next` link was not followed (malformed, or pointing outside the org).
    pub next_refused: Option<String>,
    /// The `X-Okta-Request-Id` header.
    pub request_id: Option<String>,
    /// The `Date` header: Okta's clock when it answered, to the second (rounded down).
    pub date: Option<SystemTime>,
}

impl ApiResponse {
    /// The body as JSON; an empty body reads as `{}` (Okta answers some operations with 204 and
    /// others with 200 `{}`).
    pub fn json(&self, path: &str) -> Result<Value> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Object(Default::default()));
        }
        serde_json::from_slice(&self.body)
            .map_err(|e| Error::Decode { path: path.to_owned(), message: format!("invalid JSON: {e}") })
    }
}

struct Inner {
    config: ClientConfig,
    http: reqwest::Client,
    auth: Authenticator,
    governor: Arc<Governor>,
    /// The org's user schema as last read, and when. The schema endpoints (`okta::schema`) read
    /// and write it; to the transport it is a value kept with the client, forgotten when Okta
    /// refuses a value as invalid.
    schema: std::sync::Mutex<Option<(Instant, Arc<dyn Any + Send + Sync>)>>,
}

/// The Okta Management API client. Cheap to clone; clones share connections, the token cache
/// and the rate-limit governor.
#[derive(Clone)]
pub struct OktaClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for OktaClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OktaClient").field("org_url", &self.inner.config.org_url.as_str()).finish_non_exhaustive()
    }
}

/// The governor the configuration asks for: this process's own, or one sharing its budget
/// through a file store or a PostgreSQL database. A database is connected to in the background:
/// one that cannot be reached is logged when the first request would use it, and the client
/// governs alone (as with the org's default store), so an unreachable database never keeps the
/// client from working; only a URL that cannot be read is a configuration error (before this).
fn governor_for(config: &ClientConfig) -> Result<Arc<Governor>> {
    let (share, max) = (config.rate_limit_share, config.max_concurrency);
    match &config.budget_sharing {
        BudgetSharing::Off => Ok(Governor::new(share, max)),
        BudgetSharing::At(dir) => match SharedBudget::open(dir, max) {
            Ok(store) => Ok(Governor::shared(share, max, store)),
            Err(error) => Err(Error::Configuration(format!(
                "the shared rate budget directory {} cannot be used: {error}",
                dir.display()
            ))),
        },
        BudgetSharing::OrgDefault => {
            let dir = SharedBudget::default_dir(config.org_url.as_str());
            match SharedBudget::open(&dir, max) {
                Ok(store) => Ok(Governor::shared(share, max, store)),
                Err(error) => {
                    tracing::warn!(
                        store = %dir.display(),
                        "the shared rate budget cannot be used ({error}); this process governs its requests alone"
                    );
                    Ok(Governor::new(share, max))
                }
            }
        }
        BudgetSharing::Postgres(database) => match SharedBudget::connect(database, config.org_url.as_str(), max) {
            Ok(store) => Ok(Governor::shared(share, max, store)),
            Err(error) => {
                tracing::warn!(
                    store = %database.shown(),
                    "the shared rate budget cannot be used ({error}); this process governs its requests alone"
                );
                Ok(Governor::new(share, max))
            }
        },
    }
}

/// One attempt of a write (any method but GET and HEAD), as the caller that asked for them with
/// [`record_writes`] sees it: what the System Log's events of that write can be joined on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SentWrite {
    /// `POST`, `PUT`, `DELETE`.
    pub method: String,
    /// The path (the System Log's `debugContext.debugData.requestUri`).
    pub path: String,
    /// Okta's `X-Okta-Request-Id` (the System Log's `debugContext.debugData.requestId`), when an
    /// answer arrived.
    pub request_id: Option<String>,
    /// The answer's status; `None` when none arrived (the request may still have been carried out).
    pub status: Option<u16>,
    /// When the attempt was sent and when it ended, on this machine's clock (RFC 3339).
    pub sent_at: String,
    /// When it ended (answered, timed out or dropped).
    pub ended_at: String,
}

tokio::task_local! {
    static WRITES: std::cell::RefCell<Vec<SentWrite>>;
}

/// Runs `work`, collecting every attempt of every write it sends through an [`OktaClient`]
/// (retries included, answered or not), in the order they ended. This is how the journal learns
/// the request ids of what a change sent.
pub async fn record_writes<T>(work: impl std::future::Future<Output = T>) -> (T, Vec<SentWrite>) {
    WRITES
        .scope(std::cell::RefCell::new(Vec::new()), async move {
            let output = work.await;
            let writes = WRITES.with(|writes| writes.take());
            (output, writes)
        })
        .await
}

/// Adds an attempt of a write to the [`record_writes`] collecting it, if any.
fn note_write(request: &ApiRequest, path: &str, request_id: Option<String>, status: Option<u16>, sent_at: SystemTime) {
    if request.method == Method::GET || request.method == Method::HEAD {
        return;
    }
    let write = SentWrite {
        method: request.method.as_str().to_owned(),
        path: path.to_owned(),
        request_id,
        status,
        sent_at: rfc3339(sent_at),
        ended_at: rfc3339(SystemTime::now()),
    };
    // Outside `record_writes` nobody asked for them.
    let _ = WRITES.try_with(|writes| writes.borrow_mut().push(write));
}

fn rfc3339(at: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(at).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

const X_OKTA_REQUEST_ID: &str = "x-okta-request-id";
const X_OKTA_RETRY_FOR: &str = "x-okta-retry-for";
const X_OKTA_RETRY_COUNT: &str = "x-okta-retry-count";

impl OktaClient {
    /// Builds a client. Nothing is sent until the first request.
    pub fn new(config: ClientConfig) -> Result<Self> {
        config.validate()?;
        let mut builder = reqwest::Client::builder()
            .user_agent(config.user_agent.clone())
            .timeout(config.request_timeout)
            .connect_timeout(config.connect_timeout)
            .pool_max_idle_per_host(config.max_concurrency)
            .tcp_nodelay(true)
            .redirect(reqwest::redirect::Policy::none());
        if config.is_loopback() {
            builder = builder.no_proxy();
        } else if let Some(proxy) = &config.proxy {
            let proxy =
                reqwest::Proxy::all(proxy).map_err(|e| Error::Configuration(format!("invalid proxy URL: {e}")))?;
            builder = builder.proxy(proxy);
        }
        let http = builder.build().map_err(|e| Error::Configuration(format!("cannot build the HTTP client: {e}")))?;
        let auth = Authenticator::new(&config.credentials, &config.org_url)?;
        let governor = governor_for(&config)?;
        let schema = std::sync::Mutex::new(None);
        Ok(OktaClient { inner: Arc::new(Inner { config, http, auth, governor, schema }) })
    }

    /// The configuration the client was built with.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The user schema this client read last, if it is younger than
    /// [`ClientConfig::schema_max_age`] (typed by `okta::schema`).
    pub(crate) fn cached_schema_value(&self) -> Option<Arc<dyn Any + Send + Sync>> {
        let cached = self.inner.schema.lock().unwrap_or_else(|e| e.into_inner());
        cached
            .as_ref()
            .filter(|(read_at, _)| read_at.elapsed() < self.inner.config.schema_max_age)
            .map(|(_, schema)| schema.clone())
    }

    /// Remembers the user schema as just read or written.
    pub(crate) fn remember_schema_value(&self, schema: Arc<dyn Any + Send + Sync>) {
        *self.inner.schema.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), schema));
    }

    /// Forgets the user schema: the next plan reads it again.
    pub(crate) fn forget_schema(&self) {
        *self.inner.schema.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// The rate-limit governor's counters.
    pub fn governor_stats(&self) -> GovernorStats {
        self.inner.governor.stats()
    }

    /// The governor itself (diagnostics and tests).
    pub fn governor(&self) -> &Arc<Governor> {
        &self.inner.governor
    }

    /// A URL under the org: `path` (already percent-encoded per segment) plus query pairs.
    pub fn url(&self, path: &str, query: &[(&str, String)]) -> Url {
        let mut url = self.inner.config.org_url.clone();
        url.set_path(path);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        url
    }

    /// Builds a request for `method path?query` with the default idempotency of the method
    /// (GET, PUT, DELETE idempotent; POST not).
    pub fn request(&self, method: Method, path: &str, query: &[(&str, String)]) -> ApiRequest {
        let idempotency = if method == Method::POST { Idempotency::NonIdempotent } else { Idempotency::Idempotent };
        ApiRequest { method, url: self.url(path, query), body: None, if_match: None, idempotency }
    }

    /// Sends a request under the governor and the retry rules. Returns the answer for 2xx, and
    /// the typed error otherwise.
    pub async fn send(&self, request: &ApiRequest) -> Result<ApiResponse> {
        let inner = &*self.inner;
        let method = request.method.as_str();
        let path = request.url.path().to_owned();
        let bucket = bucket_for(method, &path);
        let body = match &request.body {
            Some(body) => Some(Bytes::from(
                serde_json::to_vec(body).map_err(|e| Error::InvalidInput(format!("cannot encode the body: {e}")))?,
            )),
            None => None,
        };
        let mut attempt: u32 = 0;
        let mut first_request_id: Option<String> = None;
        let mut refreshed_auth = false;
        loop {
            let permit = inner.governor.acquire(bucket).await;
            let auth_headers = inner.auth.headers(&inner.http, &request.method, &request.url).await?;
            let mut builder =
                inner.http.request(request.method.clone(), request.url.clone()).header(ACCEPT, "application/json");
            for (name, value) in auth_headers {
                builder = builder.header(name, value);
            }
            if let Some(body) = &body {
                builder = builder.header(CONTENT_TYPE, "application/json").body(body.clone());
            }
            if let Some(etag) = &request.if_match {
                builder = builder.header(IF_MATCH, etag.as_str());
            }
            if attempt > 0 {
                builder = builder.header(X_OKTA_RETRY_COUNT, attempt.to_string());
                if let Some(id) = &first_request_id {
                    builder = builder.header(X_OKTA_RETRY_FOR, id.as_str());
                }
            }
            let started = Instant::now();
            let sent_at = SystemTime::now();
            let sent = builder.send().await;
            let (outcome, answer) = match sent {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let headers = response.headers().clone();
                    match read_capped(response, MAX_BODY_BYTES).await {
                        Err(BodyError::TooLarge) => {
                            let rate_limit = rate_limit_headers(&headers);
                            let date = date_header(&headers);
                            permit.finish(Some(status), rate_limit, date);
                            let message =
                                format!("the answer is larger than {} MiB; it was not read", MAX_BODY_BYTES >> 20);
                            if (200..300).contains(&status) {
                                // Answered 2xx: done, but unreadable (a write is not repeated).
                                note_write(
                                    request,
                                    &path,
                                    header_text(&headers, X_OKTA_REQUEST_ID),
                                    Some(status),
                                    sent_at,
                                );
                                return Err(Error::Decode { path, message });
                            }
                            // Any other status goes through the same retry decision as a readable
                            // one (a 5xx to a write is ambiguous, a 429 waits), with a body that
                            // says why Okta's own was not read.
                            let body = Bytes::from(json!({ "errorSummary": message }).to_string());
                            (Attempt::Answered { status, rate_limit, date }, Some((status, headers, body)))
                        }
                        Ok(bytes) => {
                            let rate_limit = rate_limit_headers(&headers);
                            let date = date_header(&headers);
                            permit.finish(Some(status), rate_limit, date);
                            (Attempt::Answered { status, rate_limit, date }, Some((status, headers, bytes)))
                        }
                        Err(BodyError::Failed) => {
                            permit.finish(None, None, None);
                            (Attempt::DroppedAfterSend, None)
                        }
                    }
                }
                Err(error) if error.is_builder() => {
                    // The request could not even be built (a header value that is not valid in
                    // HTTP, for example): nothing was sent, and retrying cannot help.
                    permit.finish(None, None, None);
                    return Err(Error::InvalidInput(format!(
                        "cannot send {method} {path}: {}",
                        crate::http::auth::without_url(&error)
                    )));
                }
                Err(error) => {
                    permit.finish(None, None, None);
                    let outcome = if error.is_connect() {
                        Attempt::ConnectFailed
                    } else if error.is_timeout() {
                        Attempt::TimedOut
                    } else {
                        Attempt::DroppedAfterSend
                    };
                    tracing::debug!(method, path, error = %error, attempt, "okta request failed on the wire");
                    (outcome, None)
                }
            };
            let elapsed = started.elapsed();
            let request_id = answer.as_ref().and_then(|(_, headers, _)| header_text(headers, X_OKTA_REQUEST_ID));
            if !matches!(outcome, Attempt::ConnectFailed) {
                // A connection never opened carried nothing to Okta.
                note_write(request, &path, request_id.clone(), answer.as_ref().map(|(status, _, _)| *status), sent_at);
            }
            if let Some((status, _, _)) = &answer {
                tracing::debug!(
                    method,
                    path,
                    status,
                    duration_ms = elapsed.as_millis() as u64,
                    attempt,
                    request_id = request_id.as_deref().unwrap_or(""),
                    "okta request"
                );
            }

            if let Some((401, headers, _)) = &answer {
                if inner.auth.can_refresh() && !refreshed_auth {
                    refreshed_auth = true;
                    if let Some(nonce) = header_text(headers, "dpop-nonce") {
                        inner.auth.remember_resource_nonce(&nonce);
                    }
                    inner.auth.invalidate().await;
                    continue;
                }
            }

            match decide(
                request.idempotency,
                outcome,
                attempt,
                inner.config.max_retries,
                inner.config.backoff,
                fastrand::f64(),
            ) {
                Decision::Finish => {
                    let (status, headers, bytes) = answer.expect("Finish is only decided for an answer");
                    // Only a 2xx is a success. Okta's management API never redirects: a 3xx comes
                    // from something else on the way (a proxy, a wrong host) and means the request
                    // was not carried out.
                    if (200..300).contains(&status) {
                        let (next, next_refused) = match self.next_link(&headers) {
                            Ok(next) => (next, None),
                            Err(error) => (None, Some(error.to_string())),
                        };
                        return Ok(ApiResponse {
                            status,
                            body: bytes,
                            etag: header_text(&headers, ETAG.as_str()),
                            next,
                            next_refused,
                            request_id,
                            date: date_header(&headers),
                        });
                    }
                    let mut api = OktaApiError::from_body(status, &bytes, request_id, method, &path);
                    if status == 400 && api.error_code.as_deref() == Some("E0000001") {
                        // Okta refused a value (an attribute, a type): the schema may have
                        // changed since it was read.
                        self.forget_schema();
                    }
                    if status < 400 {
                        let location = header_text(&headers, "location").unwrap_or_else(|| "none".into());
                        api.error_code = None;
                        api.causes.clear();
                        api.summary = format!(
                            "unexpected HTTP {status} (Location: {location}); Okta's management API never answers this way, so the request was not carried out"
                        );
                    }
                    return Err(api.into());
                }
                Decision::RetryAfter(pause) => {
                    if first_request_id.is_none() {
                        first_request_id = request_id;
                    }
                    tracing::debug!(
                        method,
                        path,
                        attempt,
                        pause_ms = pause.as_millis() as u64,
                        "retrying okta request"
                    );
                    tokio::time::sleep(pause).await;
                    attempt += 1;
                }
                Decision::Stop(GiveUp::Exhausted) => {
                    return Err(match (outcome, answer) {
                        (Attempt::Answered { status: 429, rate_limit, date }, Some((_, _, bytes))) => {
                            Error::RateLimited {
                                bucket: bucket.to_owned(),
                                reset_at: rate_limit
                                    .filter(|r| r.limit > 0)
                                    .map(|r| reset_instant(r.reset_epoch, date)),
                                concurrency: rate_limit.is_some_and(|r| r.limit == 0),
                                api: Some(Box::new(OktaApiError::from_body(429, &bytes, request_id, method, &path))),
                            }
                        }
                        (_, Some((status, _, bytes))) => {
                            OktaApiError::from_body(status, &bytes, request_id, method, &path).into()
                        }
                        (Attempt::TimedOut, None) => {
                            Error::Timeout { method: method.to_owned(), path, elapsed_ms: elapsed.as_millis() as u64 }
                        }
                        (_, None) => Error::Transport {
                            method: method.to_owned(),
                            path,
                            message: format!("no answer after {} attempts ({})", attempt + 1, describe(outcome)),
                        },
                    });
                }
                Decision::Stop(GiveUp::OutcomeUnknown) => {
                    let reason = match &answer {
                        Some((status, _, bytes)) => {
                            let api = OktaApiError::from_body(*status, bytes, request_id, method, &path);
                            format!("Okta answered {status} ({}) after receiving the request", api)
                        }
                        None => describe(outcome).to_owned(),
                    };
                    return Err(Error::OutcomeUnknown { method: method.to_owned(), path, reason });
                }
            }
        }
    }

    /// Sends and decodes the JSON body.
    pub async fn send_json(&self, request: &ApiRequest) -> Result<(Value, ApiResponse)> {
        let response = self.send(request).await?;
        let value = response.json(request.url.path())?;
        Ok((value, response))
    }

    fn next_link(&self, headers: &HeaderMap) -> Result<Option<Url>> {
        let Some(next) = headers.get_all(LINK).iter().filter_map(|v| v.to_str().ok()).find_map(parse_next_link) else {
            return Ok(None);
        };
        self.org_link(&next, "Link").map(Some)
    }

    /// A next link an answer gave (`where_from` names it in errors), checked to point at the org:
    /// credentials go to the org alone, so a link elsewhere is refused, not followed.
    pub(crate) fn org_link(&self, href: &str, where_from: &str) -> Result<Url> {
        let url = Url::parse(href)
            .map_err(|e| Error::Decode { path: where_from.into(), message: format!("invalid next link: {e}") })?;
        let org = &self.inner.config.org_url;
        if url.scheme() != org.scheme()
            || url.host_str() != org.host_str()
            || url.port_or_known_default() != org.port_or_known_default()
        {
            return Err(Error::Decode {
                path: where_from.into(),
                message: format!("the next link points outside the org: {}", url.origin().ascii_serialization()),
            });
        }
        Ok(url)
    }
}

fn describe(outcome: Attempt) -> &'static str {
    match outcome {
        Attempt::ConnectFailed => "the connection could not be opened",
        Attempt::DroppedAfterSend => "the connection closed before the answer arrived",
        Attempt::TimedOut => "the request timed out",
        Attempt::Answered { .. } => "Okta answered with an error",
    }
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

fn rate_limit_headers(headers: &HeaderMap) -> Option<RateLimitHeaders> {
    let number = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<u64>().ok();
    Some(RateLimitHeaders {
        limit: number("x-rate-limit-limit")?,
        remaining: number("x-rate-limit-remaining")?,
        reset_epoch: number("x-rate-limit-reset")?,
    })
}

/// Finds the `rel="next"` target in one `Link` header value (which may hold several links).
pub fn parse_next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (target, params) = part.trim().split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        params
            .split(';')
            .filter_map(|p| p.trim().split_once('='))
            .any(|(key, value)| {
                key.trim().eq_ignore_ascii_case("rel")
                    && value.trim().trim_matches('"').split_whitespace().any(|r| r.eq_ignore_ascii_case("next"))
            })
            .then(|| target.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_link_is_found_among_several() {
        let header = r#"<https://test.okta.com/api/v1/users?limit=1>; rel="self", <https://test.okta.com/api/v1/users?after=200unwlw0tbo8E6aVj5d7&limit=1>; rel="next""#;
        assert_eq!(
            parse_next_link(header).as_deref(),
            Some("https://test.okta.com/api/v1/users?after=200unwlw0tbo8E6aVj5d7&limit=1")
        );
        assert_eq!(parse_next_link(r#"<https://x/a>; rel="self""#), None);
        assert_eq!(parse_next_link("garbage"), None);
        assert_eq!(parse_next_link(r#"<https://x/b>; rel=next"#).as_deref(), Some("https://x/b"));
    }

    #[test]
    fn next_link_outside_the_org_is_refused() {
        let client = OktaClient::new(ClientConfig::with_api_token("https://acme.okta.com", "t").unwrap()).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(LINK, r#"<https://evil.example.com/api/v1/users?after=x>; rel="next""#.parse().unwrap());
        assert!(client.next_link(&headers).is_err());
        headers.insert(LINK, r#"<https://acme.okta.com/api/v1/users?after=x>; rel="next""#.parse().unwrap());
        assert_eq!(client.next_link(&headers).unwrap().unwrap().as_str(), "https://acme.okta.com/api/v1/users?after=x");
    }

    #[test]
    fn empty_bodies_read_as_empty_objects() {
        let response = ApiResponse {
            status: 204,
            body: Bytes::new(),
            etag: None,
            next: None,
            next_refused: None,
            request_id: None,
            date: None,
        };
        assert_eq!(response.json("/p").unwrap(), serde_json::json!({}));
    }
}
