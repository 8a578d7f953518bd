//! Reading Okta's answers the same way wherever they arrive (API calls and token requests): the
//! body within a size limit, and Okta's clock from the `Date` header.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use reqwest::header::HeaderMap;

/// The largest answer read. A page of 200 Okta users is about 1 MiB; anything near this is not
/// an Okta answer, and reading it unbounded would let a server exhaust memory.
pub const MAX_BODY_BYTES: usize = 32 << 20;

/// Why a body was not read.
pub(crate) enum BodyError {
    TooLarge,
    Failed,
}

/// Reads a body of at most [`MAX_BODY_BYTES`]; `None` when it is larger or cannot be read.
pub(crate) async fn read_body(response: reqwest::Response) -> Option<Bytes> {
    read_capped(response, MAX_BODY_BYTES).await.ok()
}

/// Reads a body, stopping as soon as it exceeds `cap` bytes.
pub(crate) async fn read_capped(mut response: reqwest::Response, cap: usize) -> std::result::Result<Bytes, BodyError> {
    if response.content_length().is_some_and(|length| length > cap as u64) {
        return Err(BodyError::TooLarge);
    }
    let mut body = bytes::BytesMut::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > cap {
                    return Err(BodyError::TooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body.freeze()),
            Err(_) => return Err(BodyError::Failed),
        }
    }
}

/// The `Date` header: Okta's clock.
pub(crate) fn date_header(headers: &HeaderMap) -> Option<SystemTime> {
    headers.get(reqwest::header::DATE).and_then(|v| v.to_str().ok()).and_then(|v| httpdate::parse_http_date(v).ok())
}

/// When a window that Okta says resets at `reset_epoch` (on its clock, read from `date`) resets on
/// the local clock; never more than one window away.
pub(crate) fn reset_instant(reset_epoch: u64, date: Option<SystemTime>) -> SystemTime {
    let now = SystemTime::now();
    let server_now = date.unwrap_or(now).duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    now + Duration::from_secs(reset_epoch.saturating_sub(server_now)).min(crate::http::governor::MAX_WINDOW)
}
