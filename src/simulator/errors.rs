//! Okta error bodies: `{"errorCode","errorSummary","errorLink","errorId","errorCauses"}`.

use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::ids::random_token;

/// An Okta API error, turned into a response with [`IntoResponse`].
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub summary: String,
    pub causes: Vec<String>,
    pub headers: Vec<(HeaderName, String)>,
}

impl ApiError {
    pub(crate) fn new(status: u16, code: &'static str, summary: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code,
            summary: summary.into(),
            causes: Vec::new(),
            headers: Vec::new(),
        }
    }

    pub(crate) fn with_cause(mut self, cause: impl Into<String>) -> ApiError {
        self.causes.push(cause.into());
        self
    }

    pub(crate) fn with_header(mut self, name: HeaderName, value: impl Into<String>) -> ApiError {
        self.headers.push((name, value.into()));
        self
    }

    /// `E0000001` validation failure: `Api validation failed: {field}` with causes.
    pub(crate) fn validation(field: &str, causes: Vec<String>) -> ApiError {
        let mut error = ApiError::new(400, "E0000001", format!("Api validation failed: {field}"));
        error.causes = causes;
        error
    }

    pub(crate) fn malformed_body() -> ApiError {
        ApiError::new(400, "E0000003", "The request body was not well-formed.")
    }

    pub(crate) fn invalid_token() -> ApiError {
        ApiError::new(401, "E0000011", "Invalid token provided")
    }

    pub(crate) fn access_denied() -> ApiError {
        ApiError::new(403, "E0000006", "You do not have permission to perform the requested action")
    }

    /// `404 E0000007 "Not found: Resource not found: {what} ({kind})"`.
    pub(crate) fn not_found(what: &str, kind: &str) -> ApiError {
        ApiError::new(404, "E0000007", format!("Not found: Resource not found: {what} ({kind})"))
    }

    pub(crate) fn wrong_user_status() -> ApiError {
        ApiError::new(403, "E0000038", "This operation is not allowed in the user's current status.")
    }

    pub(crate) fn rate_limited() -> ApiError {
        ApiError::new(429, "E0000047", "API call exceeded rate limit due to too many requests.")
    }

    pub(crate) fn invalid_search() -> ApiError {
        ApiError::new(400, "E0000031", "Invalid search criteria.")
    }

    pub(crate) fn invalid_cursor() -> ApiError {
        ApiError::new(400, "E0000029", "Invalid paging request.").with_cause("Invalid cursor.")
    }

    pub(crate) fn method_not_allowed() -> ApiError {
        ApiError::new(405, "E0000022", "The endpoint does not support the provided HTTP method")
    }

    /// The error an injected 5xx fault answers with.
    pub(crate) fn server_fault(status: u16) -> ApiError {
        match status {
            503 => ApiError::new(503, "E0000010", "Service is in read only mode"),
            429 => ApiError::rate_limited(),
            _ => ApiError::new(status, "E0000009", "Internal Server Error"),
        }
    }

    /// The JSON body.
    pub(crate) fn body(&self) -> serde_json::Value {
        let causes: Vec<serde_json::Value> =
            self.causes.iter().map(|cause| serde_json::json!({ "errorSummary": cause })).collect();
        serde_json::json!({
            "errorCode": self.code,
            "errorSummary": self.summary,
            "errorLink": self.code,
            "errorId": format!("oae{}", random_token(22)),
            "errorCauses": causes,
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.body()).unwrap_or_default();
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(axum::http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
        response
    }
}
