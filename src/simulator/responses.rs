//! What the route handlers are given and how they answer: the decoded query, the call, JSON
//! responses and `Link` headers.

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::errors::ApiError;
use super::events::RequestContext;
use super::shared::Shared;

/// The decoded query string, in order.
pub(crate) struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    pub(crate) fn parse(query: Option<&str>) -> Query {
        Query {
            pairs: query
                .map(|query| {
                    url::form_urlencoded::parse(query.as_bytes())
                        .map(|(name, value)| (name.into_owned(), value.into_owned()))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// Every parameter, in request order.
    pub(crate) fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// The first value of `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    /// A boolean parameter: `true`/`false` (any case), else `default`.
    pub(crate) fn flag(&self, name: &str, default: bool) -> bool {
        match self.get(name) {
            Some(value) if value.eq_ignore_ascii_case("true") => true,
            Some(value) if value.eq_ignore_ascii_case("false") => false,
            _ => default,
        }
    }

    /// A page size: `default` when absent, clamped to `1..=maximum`; `400 E0000001` when it is
    /// not a number.
    pub(crate) fn limit(&self, default: usize, maximum: usize) -> Result<usize, ApiError> {
        match self.get("limit") {
            None => Ok(default),
            Some(text) => {
                let value: i64 = text
                    .trim()
                    .parse()
                    .map_err(|_| ApiError::validation("limit", vec![format!("limit: '{text}' is not a number")]))?;
                Ok(if value < 1 { default } else { (value as usize).min(maximum) })
            }
        }
    }
}

/// One API call, as the route handlers see it.
pub(crate) struct Call<'a> {
    pub shared: &'a Shared,
    pub query: Query,
    pub headers: &'a HeaderMap,
    pub body: Bytes,
    /// Who called, from where, under which request id: what System Log events record.
    pub context: RequestContext,
}

impl Call<'_> {
    pub(crate) fn base(&self) -> &str {
        &self.shared.base_url
    }

    /// The body as a JSON object; `400 E0000003` if it is not one.
    pub(crate) fn json_object(&self) -> Result<serde_json::Map<String, serde_json::Value>, ApiError> {
        match serde_json::from_slice::<serde_json::Value>(&self.body) {
            Ok(serde_json::Value::Object(object)) => Ok(object),
            _ => Err(ApiError::malformed_body()),
        }
    }
}

/// A JSON response.
pub(crate) fn json_response(status: StatusCode, value: &impl Serialize) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => {
            let mut response = (status, Body::from(bytes)).into_response();
            response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response
        }
        Err(_) => ApiError::server_fault(500).into_response(),
    }
}

/// `204 No Content`.
pub(crate) fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// A `Link` header value: `<base+path?params>; rel="{relation}"`.
pub(crate) fn link(base: &str, path: &str, params: &[(&str, &str)], relation: &str) -> String {
    let mut serializer = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in params {
        serializer.append_pair(name, value);
    }
    let query = serializer.finish();
    if query.is_empty() {
        format!("<{base}{path}>; rel=\"{relation}\"")
    } else {
        format!("<{base}{path}?{query}>; rel=\"{relation}\"")
    }
}

/// Adds `Link` headers to a response.
pub(crate) fn with_links(mut response: Response, links: &[String]) -> Response {
    for value in links {
        if let Ok(value) = HeaderValue::from_str(value) {
            response.headers_mut().append(header::LINK, value);
        }
    }
    response
}
