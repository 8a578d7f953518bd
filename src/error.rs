//! The crate's one error type.

use std::fmt;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A result with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in okta-lifecycle.
///
/// The variants are stable in meaning; new ones may be added, so match with a wildcard arm.
/// No variant ever holds a secret: tokens, keys and assertions are redacted before an error is
/// built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Okta answered with an error body (4xx or 5xx other than a rate limit).
    #[error("{0}")]
    Api(Box<OktaApiError>),

    /// Okta answered 429 and the retry budget is spent (or retrying was not allowed).
    #[error("rate limited by Okta on {bucket}{}", reset_at.map(|t| format!(" until {}", httpdate::fmt_http_date(t))).unwrap_or_default())]
    RateLimited {
        /// The rate-limit bucket that was exhausted.
        bucket: String,
        /// When Okta said the bucket refills, if it said.
        reset_at: Option<SystemTime>,
        /// True for the concurrency limit (Okta sends limit 0) rather than a per-minute bucket.
        concurrency: bool,
        /// The Okta error body, when one was sent.
        api: Option<Box<OktaApiError>>,
    },

    /// A non-idempotent request (create, lifecycle transition, reset) may or may not have taken
    /// effect: the connection failed after the request was sent. It is never retried blindly.
    #[error("outcome unknown for {method} {path}: {reason}; check Okta before repeating it")]
    OutcomeUnknown {
        /// HTTP method of the request.
        method: String,
        /// Path of the request, without the query.
        path: String,
        /// What happened on the wire.
        reason: String,
    },

    /// The request could not be sent or the response could not be read.
    #[error("transport error on {method} {path}: {message}")]
    Transport {
        /// HTTP method of the request.
        method: String,
        /// Path of the request, without the query.
        path: String,
        /// What went wrong.
        message: String,
    },

    /// The request or the whole operation exceeded its time limit.
    #[error("timed out on {method} {path} after {elapsed_ms} ms")]
    Timeout {
        /// HTTP method of the request.
        method: String,
        /// Path of the request, without the query.
        path: String,
        /// How long it ran.
        elapsed_ms: u64,
    },

    /// Obtaining an OAuth access token failed (the token endpoint's `error` and description).
    #[error("authentication failed: {error}{}", description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Auth {
        /// The OAuth error code (`invalid_client`, `invalid_dpop_proof`, ...), or a local reason.
        error: String,
        /// The server's description, if any.
        description: Option<String>,
        /// HTTP status of the token endpoint's answer, when there was one.
        status: Option<u16>,
    },

    /// The client was configured wrongly (bad URL, missing credential, unreadable key).
    #[error("configuration error: {0}")]
    Configuration(String),

    /// An argument was rejected before any request was sent.
    #[error("invalid input: {0}")]
    InvalidInput(String),

    /// A plan exceeds the policy's safety limits and was not explicitly allowed.
    #[error("the plan is blocked by the policy's safety limits: {}", reasons.join("; "))]
    PlanBlocked {
        /// Each limit exceeded, in words.
        reasons: Vec<String>,
    },

    /// The plan cannot be applied as given: not recorded in the journal, different from what
    /// was recorded when it was made, made for another org, or superseded (another run of the
    /// same policy over the same records began since it was made: plan again).
    #[error("plan {run_id} is refused: {reason}")]
    PlanRejected {
        /// The plan's run.
        run_id: String,
        /// Why.
        reason: String,
        /// The run that superseded it, when that is why: a fresh plan sees what it did.
        superseded_by: Option<String>,
    },

    /// Another applier owns the run (its lease in the journal is live).
    #[error(
        "run {run_id} is being applied by {owner}; wait for it to finish (or pass a wait), then apply again to resume"
    )]
    RunInProgress {
        /// The run.
        run_id: String,
        /// The lease's owner (`host:pid:token`).
        owner: String,
    },

    /// The journal (the SQLite audit database) could not be read or written.
    #[error("journal error: {0}")]
    Journal(String),

    /// Okta's answer could not be understood.
    #[error("unexpected response from {path}: {message}")]
    Decode {
        /// Path of the request, without the query.
        path: String,
        /// What could not be decoded.
        message: String,
    },
}

/// Okta error codes that mean "not allowed in the user's current status" (Okta's error-code
/// reference: E0000016 activation failed, E0000032 unlock not allowed, E0000038 operation not
/// allowed in the user's current status).
const STATUS_TRANSITION_CODES: [&str; 3] = ["E0000016", "E0000032", "E0000038"];

/// What kind of failure an [`Error`] is: the taxonomy callers branch on, shared by the Rust API
/// and the Python exception classes (one class per kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Okta refused the request's content (400, `E0000001` and friends).
    Validation,
    /// Okta did not accept the credentials (401), or no access token could be obtained.
    Authentication,
    /// The credentials lack a permission or scope (403).
    PermissionDenied,
    /// The user, group or resource does not exist (404).
    NotFound,
    /// The request conflicts with the resource's state (409), or an `If-Match` failed (412).
    Conflict,
    /// The lifecycle operation is not allowed in the user's current status.
    InvalidStatusTransition,
    /// Okta's rate limit or concurrency limit, after the retry budget.
    RateLimited,
    /// Okta failed (5xx).
    Server,
    /// Any other error answer from Okta.
    Api,
    /// The request could not be sent, or the answer could not be read.
    Transport,
    /// The request or operation exceeded its time limit.
    Timeout,
    /// A non-idempotent write may or may not have taken effect.
    OutcomeUnknown,
    /// The client's configuration is wrong.
    Configuration,
    /// An argument was refused before anything was sent.
    InvalidInput,
    /// A plan exceeds its safety limits.
    PlanBlocked,
    /// A plan cannot be applied as given.
    PlanRejected,
    /// Another applier owns the run.
    RunInProgress,
    /// The journal could not be read or written.
    Journal,
}

impl ErrorKind {
    /// The kind's name in snake case (`not_found`, `invalid_status_transition`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Validation => "validation",
            ErrorKind::Authentication => "authentication",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::InvalidStatusTransition => "invalid_status_transition",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Server => "server",
            ErrorKind::Api => "api",
            ErrorKind::Transport => "transport",
            ErrorKind::Timeout => "timeout",
            ErrorKind::OutcomeUnknown => "outcome_unknown",
            ErrorKind::Configuration => "configuration",
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::PlanBlocked => "plan_blocked",
            ErrorKind::PlanRejected => "plan_rejected",
            ErrorKind::RunInProgress => "run_in_progress",
            ErrorKind::Journal => "journal",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl OktaApiError {
    /// The kind of an error answer: Okta's status-transition codes first, then the status.
    pub fn kind(&self) -> ErrorKind {
        let code = self.error_code.as_deref().unwrap_or_default();
        if STATUS_TRANSITION_CODES.contains(&code) {
            return ErrorKind::InvalidStatusTransition;
        }
        match self.status {
            400 => ErrorKind::Validation,
            401 => ErrorKind::Authentication,
            403 => ErrorKind::PermissionDenied,
            404 => ErrorKind::NotFound,
            409 | 412 => ErrorKind::Conflict,
            429 => ErrorKind::RateLimited,
            500..=599 => ErrorKind::Server,
            _ => ErrorKind::Api,
        }
    }
}

impl Error {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Api(api) => api.kind(),
            Error::RateLimited { .. } => ErrorKind::RateLimited,
            Error::OutcomeUnknown { .. } => ErrorKind::OutcomeUnknown,
            Error::Transport { .. } | Error::Decode { .. } => ErrorKind::Transport,
            Error::Timeout { .. } => ErrorKind::Timeout,
            Error::Auth { .. } => ErrorKind::Authentication,
            Error::Configuration(_) => ErrorKind::Configuration,
            Error::InvalidInput(_) => ErrorKind::InvalidInput,
            Error::PlanBlocked { .. } => ErrorKind::PlanBlocked,
            Error::PlanRejected { .. } => ErrorKind::PlanRejected,
            Error::RunInProgress { .. } => ErrorKind::RunInProgress,
            Error::Journal(_) => ErrorKind::Journal,
        }
    }

    /// The Okta error body carried by this error, if any.
    pub fn api(&self) -> Option<&OktaApiError> {
        match self {
            Error::Api(api) => Some(api),
            Error::RateLimited { api, .. } => api.as_deref(),
            _ => None,
        }
    }

    /// The HTTP status Okta answered with, if this error came from an answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api(api) => Some(api.status),
            Error::RateLimited { .. } => Some(429),
            Error::Auth { status, .. } => *status,
            _ => None,
        }
    }

    /// Okta's `errorCode` (`E0000007`, ...), if any.
    pub fn error_code(&self) -> Option<&str> {
        self.api().and_then(|api| api.error_code.as_deref())
    }

    /// True when the error is Okta's 404.
    pub fn is_not_found(&self) -> bool {
        self.kind() == ErrorKind::NotFound
    }
}

/// One cause in Okta's `errorCauses`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorCause {
    /// The cause's text, e.g. `login: An object with this field already exists ...`.
    #[serde(rename = "errorSummary", default)]
    pub summary: String,
}

/// An error answer from the Okta API: status, `errorCode`, `errorSummary`, `errorCauses`,
/// `errorId` and the `X-Okta-Request-Id` to quote to Okta support.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OktaApiError {
    /// HTTP status code.
    pub status: u16,
    /// Okta's error code such as `E0000001`: the only field Okta supports for flow control.
    pub error_code: Option<String>,
    /// Okta's human-readable summary (may change between releases).
    pub summary: String,
    /// Okta's `errorCauses`, parsed leniently (array, single object or absent).
    pub causes: Vec<ErrorCause>,
    /// Okta's `errorId` for this occurrence.
    pub error_id: Option<String>,
    /// The `X-Okta-Request-Id` response header.
    pub request_id: Option<String>,
    /// HTTP method of the request that failed.
    pub method: String,
    /// Path of the request that failed, without the query.
    pub path: String,
}

impl OktaApiError {
    /// Builds the error from a response body, accepting every shape Okta sends: the standard
    /// error object, `errorCauses` as an array, a single object or null, an OAuth
    /// `{"error","error_description"}` body, or a body that is not JSON at all.
    pub fn from_body(status: u16, body: &[u8], request_id: Option<String>, method: &str, path: &str) -> Self {
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        let field = |name: &str| -> Option<String> {
            parsed.as_ref().and_then(|v| v.get(name)).and_then(Value::as_str).map(str::to_owned)
        };
        let causes = match parsed.as_ref().and_then(|v| v.get("errorCauses")) {
            Some(Value::Array(items)) => items.iter().filter_map(cause_from).collect(),
            Some(single @ Value::Object(_)) => cause_from(single).into_iter().collect(),
            _ => Vec::new(),
        };
        let summary = field("errorSummary")
            .or_else(|| field("error_description"))
            // A gateway-level 404 has been recorded as {"status":404,"message":"Resource not found"}.
            .or_else(|| field("message"))
            .or_else(|| field("error"))
            .unwrap_or_else(|| {
                let text = String::from_utf8_lossy(body);
                let text = text.trim();
                if text.is_empty() {
                    format!("HTTP {status}")
                } else {
                    text.chars().take(200).collect()
                }
            });
        OktaApiError {
            status,
            error_code: field("errorCode").or_else(|| field("error")),
            summary,
            causes,
            error_id: field("errorId"),
            request_id,
            method: method.to_owned(),
            path: path.to_owned(),
        }
    }
}

fn cause_from(value: &Value) -> Option<ErrorCause> {
    match value {
        Value::Object(map) => {
            Some(ErrorCause { summary: map.get("errorSummary").and_then(Value::as_str).unwrap_or_default().to_owned() })
        }
        Value::String(text) => Some(ErrorCause { summary: text.clone() }),
        _ => None,
    }
}

impl fmt::Display for OktaApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Okta {} on {} {}: ", self.status, self.method, self.path)?;
        if let Some(code) = &self.error_code {
            write!(f, "{code} ")?;
        }
        f.write_str(&self.summary)?;
        for cause in &self.causes {
            write!(f, "; {}", cause.summary)?;
        }
        if let Some(request_id) = &self.request_id {
            write!(f, " (request id {request_id})")?;
        }
        Ok(())
    }
}

impl From<OktaApiError> for Error {
    fn from(value: OktaApiError) -> Self {
        Error::Api(Box::new(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_standard_error_with_causes() {
        let body = br#"{"errorCode":"E0000001","errorSummary":"Api validation failed: login","errorLink":"E0000001","errorId":"oaeX","errorCauses":[{"errorSummary":"login: An object with this field already exists in the current organization"}]}"#;
        let error = OktaApiError::from_body(400, body, Some("req1".into()), "POST", "/api/v1/users");
        assert_eq!(error.error_code.as_deref(), Some("E0000001"));
        assert_eq!(error.causes.len(), 1);
        assert!(error.causes[0].summary.starts_with("login:"));
        let text = error.to_string();
        assert!(text.contains("E0000001") && text.contains("req1"), "{text}");
    }

    #[test]
    fn parses_single_object_cause_and_missing_causes() {
        let single = br#"{"errorCode":"E0000001","errorSummary":"x","errorCauses":{"errorSummary":"only one"}}"#;
        let error = OktaApiError::from_body(400, single, None, "GET", "/p");
        assert_eq!(error.causes[0].summary, "only one");
        let none = br#"{"errorCode":"E0000001","errorSummary":"x","errorCauses":null}"#;
        assert!(OktaApiError::from_body(400, none, None, "GET", "/p").causes.is_empty());
    }

    #[test]
    fn parses_oauth_error_and_non_json() {
        let oauth = br#"{"error":"invalid_client","error_description":"The client_id is invalid."}"#;
        let error = OktaApiError::from_body(401, oauth, None, "POST", "/oauth2/v1/token");
        assert_eq!(error.error_code.as_deref(), Some("invalid_client"));
        assert_eq!(error.summary, "The client_id is invalid.");
        let html = OktaApiError::from_body(502, b"<html>bad gateway</html>", None, "GET", "/p");
        assert_eq!(html.error_code, None);
        assert!(html.summary.contains("bad gateway"));
        assert_eq!(OktaApiError::from_body(503, b"", None, "GET", "/p").summary, "HTTP 503");
    }

    #[test]
    fn kinds_follow_okta_codes_before_statuses() {
        let kind = |status: u16, code: &str| {
            let body = format!(r#"{{"errorCode":"{code}","errorSummary":"x"}}"#);
            Error::from(OktaApiError::from_body(status, body.as_bytes(), None, "POST", "/p")).kind()
        };
        assert_eq!(kind(400, "E0000038"), ErrorKind::InvalidStatusTransition);
        assert_eq!(kind(403, "E0000016"), ErrorKind::InvalidStatusTransition);
        assert_eq!(kind(400, "E0000001"), ErrorKind::Validation);
        assert_eq!(kind(404, "E0000007"), ErrorKind::NotFound);
        assert_eq!(kind(412, "E0000068"), ErrorKind::Conflict);
        assert_eq!(kind(503, "E0000009"), ErrorKind::Server);
        assert_eq!(kind(418, "E0000000"), ErrorKind::Api);
        let decode = Error::Decode { path: "/p".into(), message: "m".into() };
        assert_eq!(decode.kind(), ErrorKind::Transport);
        assert_eq!(ErrorKind::InvalidStatusTransition.to_string(), "invalid_status_transition");
    }
}
