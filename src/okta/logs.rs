//! Okta's System Log (`GET /api/v1/logs`): a bounded listing of events, and a feed that follows
//! the log as Okta writes it.
//!
//! Okta's reference distinguishes two kinds of request. A *bounded* request names `until`: its
//! pages end, and the last one has no `next` link. A *polling* request leaves `until` out: every
//! page, even an empty last one, links to the next, which a poller requests again later to get
//! what was written since. Okta writes events in near real time, not at once, so a poller reads
//! its next link again after a pause rather than concluding that nothing happened. Polling needs
//! ascending order. `limit` is at most 1,000; `since` defaults to seven days ago; events are kept
//! for 90 days. Reading the log needs the `okta.logs.read` scope.
//!
//! [`LogsApi::list`] makes a bounded request (with `until` = now when none is given), so the
//! listing ends. [`LogsApi::follow`] polls: it yields events as they appear and never ends by
//! itself; drop it (or its Python iterator's `close()`) to stop.

use std::collections::VecDeque;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use reqwest::Method;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::http::pages::Resource;
use crate::http::{ItemStream, OktaClient};

/// Okta's largest page of log events.
pub const MAX_LOG_LIMIT: u32 = 1_000;

/// How long Okta keeps System Log events (90 days): nothing older can be read.
pub const LOG_RETENTION: chrono::TimeDelta = chrono::TimeDelta::days(90);

/// How far apart this machine's clock and Okta's may be when an event's `published` is compared
/// with a moment measured here (a send, a claim).
pub const CLOCK_MARGIN: chrono::TimeDelta = chrono::TimeDelta::seconds(2);

/// A filter matching any of `event_types` (`eventType eq "a" or eventType eq "b" ...`).
pub fn any_event_type(event_types: &[&str]) -> String {
    event_types.iter().map(|t| format!("eventType eq \"{t}\"")).collect::<Vec<_>>().join(" or ")
}

/// One System Log event, as Okta wrote it, with typed access to the fields this crate uses.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEvent {
    raw: Value,
}

/// One target of a [`LogEvent`] (what the event acted on), or its actor (who acted).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LogTarget {
    /// The object's id (`00u…` for a user, `00g…` for a group).
    pub id: String,
    /// Okta's object type (`User`, `UserGroup`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// The login of a user, the name of a group.
    pub alternate_id: Option<String>,
    /// A display name.
    pub display_name: Option<String>,
}

impl LogEvent {
    /// The event exactly as Okta sent it.
    pub fn raw(&self) -> &Value {
        &self.raw
    }

    /// The event's unique id.
    pub fn uuid(&self) -> &str {
        self.raw["uuid"].as_str().unwrap_or_default()
    }

    /// `user.lifecycle.create`, `user.account.reset_password`, …
    pub fn event_type(&self) -> &str {
        self.raw["eventType"].as_str().unwrap_or_default()
    }

    /// When Okta recorded the event.
    pub fn published(&self) -> Option<DateTime<Utc>> {
        self.raw["published"].as_str().and_then(parse_time)
    }

    /// The id of who acted (an admin, an API token's owner, a service app).
    pub fn actor_id(&self) -> Option<&str> {
        self.raw["actor"]["id"].as_str()
    }

    /// `SUCCESS`, `FAILURE`, …
    pub fn outcome(&self) -> Option<&str> {
        self.raw["outcome"]["result"].as_str()
    }

    /// The `X-Okta-Request-Id` of the request that caused the event, when Okta records it.
    pub fn request_id(&self) -> Option<&str> {
        self.raw["debugContext"]["debugData"]["requestId"].as_str()
    }

    /// What the event acted on.
    pub fn targets(&self) -> Vec<LogTarget> {
        let Some(targets) = self.raw["target"].as_array() else { return Vec::new() };
        targets.iter().filter_map(entity).collect()
    }

    /// Who acted: its id, type (`User`, `PublicClientApp`, …), login or client id, and name.
    pub fn actor(&self) -> Option<LogTarget> {
        entity(&self.raw["actor"])
    }

    /// Okta's one-line description of the event.
    pub fn display_message(&self) -> Option<&str> {
        self.raw["displayMessage"].as_str()
    }

    /// The path of the request that caused the event, when Okta records it.
    pub fn request_uri(&self) -> Option<&str> {
        self.raw["debugContext"]["debugData"]["requestUri"].as_str()
    }

    /// Whether one of the event's targets has this id.
    pub fn targets_id(&self, id: &str) -> bool {
        self.raw["target"].as_array().is_some_and(|targets| targets.iter().any(|t| t["id"].as_str() == Some(id)))
    }
}

/// An actor or a target, as the log writes both.
fn entity(value: &Value) -> Option<LogTarget> {
    Some(LogTarget {
        id: value["id"].as_str()?.to_owned(),
        kind: value["type"].as_str().unwrap_or_default().to_owned(),
        alternate_id: value["alternateId"].as_str().map(str::to_owned),
        display_name: value["displayName"].as_str().map(str::to_owned),
    })
}

impl Resource for LogEvent {
    fn from_value(value: Value) -> std::result::Result<Self, String> {
        for field in ["uuid", "eventType", "published"] {
            if !value[field].is_string() {
                return Err(format!("a System Log event without {field}"));
            }
        }
        Ok(LogEvent { raw: value })
    }
}

/// The time text Okta's log parameters take: ISO 8601 in UTC with milliseconds.
pub fn log_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).ok().map(|time| time.with_timezone(&Utc))
}

/// What to read from the System Log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogQuery {
    /// Events published at or after this time (Okta's default: seven days ago).
    pub since: Option<DateTime<Utc>>,
    /// Events published before this time. [`LogsApi::list`] uses now when it is not set.
    pub until: Option<DateTime<Utc>>,
    /// A SCIM filter over event fields, e.g. `eventType eq "user.lifecycle.create" and
    /// target.id eq "00u1"`.
    pub filter: Option<String>,
    /// Keywords, each of which must appear in the event.
    pub q: Option<String>,
    /// Events per page, 1 to 1,000 (default: the client's page size).
    pub limit: Option<u32>,
    /// Newest first (bounded listings only).
    pub descending: bool,
}

impl LogQuery {
    /// Events since `since` that match `filter`.
    pub fn since(since: DateTime<Utc>) -> LogQuery {
        LogQuery { since: Some(since), ..LogQuery::default() }
    }

    fn parameters(&self, default_limit: u32, until: Option<DateTime<Utc>>) -> Result<Vec<(&'static str, String)>> {
        let limit = self.limit.unwrap_or(default_limit);
        if !(1..=MAX_LOG_LIMIT).contains(&limit) {
            return Err(Error::InvalidInput(format!("limit must be between 1 and {MAX_LOG_LIMIT}, not {limit}")));
        }
        if let (Some(since), Some(until)) = (self.since, until) {
            if since > until {
                return Err(Error::InvalidInput(format!(
                    "since ({}) is after until ({})",
                    log_time(since),
                    log_time(until)
                )));
            }
        }
        let mut query = vec![("limit", limit.to_string())];
        if let Some(since) = self.since {
            query.push(("since", log_time(since)));
        }
        if let Some(until) = until {
            query.push(("until", log_time(until)));
        }
        for (name, value) in [("filter", &self.filter), ("q", &self.q)] {
            if let Some(value) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
                query.push((name, value.to_owned()));
            }
        }
        query.push(("sortOrder", if self.descending { "DESCENDING" } else { "ASCENDING" }.to_owned()));
        Ok(query)
    }
}

impl OktaClient {
    /// The System Log API.
    pub fn logs(&self) -> LogsApi {
        LogsApi { client: self.clone() }
    }
}

/// Okta's System Log API.
#[derive(Debug, Clone)]
pub struct LogsApi {
    client: OktaClient,
}

impl LogsApi {
    /// The events `query` names, lazily, oldest first (newest first when `descending`). The
    /// listing is bounded: without `until` it ends at the moment of the call.
    pub fn list(&self, query: &LogQuery) -> Result<ItemStream<LogEvent>> {
        let until = Some(query.until.unwrap_or_else(Utc::now));
        let parameters = query.parameters(self.default_limit(), until)?;
        Ok(ItemStream::new(self.client.clone(), self.client.request(Method::GET, "/api/v1/logs", &parameters)))
    }

    /// Follows the log from `query.since`: yields every event as Okta makes it visible, waiting
    /// `interval` after a page with nothing new before asking again. It never ends by itself;
    /// dropping it stops it. `until` and `descending` are refused (a feed runs forward, without
    /// an end).
    pub fn follow(&self, query: &LogQuery, interval: Duration) -> Result<LogFeed> {
        if query.until.is_some() {
            return Err(Error::InvalidInput("a log feed has no end: leave until out, or use list()".into()));
        }
        if query.descending {
            return Err(Error::InvalidInput("a log feed runs oldest first: descending is for list()".into()));
        }
        if interval.is_zero() || interval > Duration::from_secs(24 * 3600) {
            return Err(Error::InvalidInput(format!(
                "the polling interval must be between 1 ms and a day, not {interval:?}"
            )));
        }
        let parameters = query.parameters(self.default_limit(), None)?;
        let first = self.client.request(Method::GET, "/api/v1/logs", &parameters);
        Ok(LogFeed::new(self.client.clone(), first, interval))
    }

    fn default_limit(&self) -> u32 {
        self.client.config().page_size.clamp(1, MAX_LOG_LIMIT)
    }
}

/// A followed System Log: a stream of events that waits for more when it has read everything.
pub struct LogFeed {
    inner: BoxStream<'static, Result<LogEvent>>,
}

impl std::fmt::Debug for LogFeed {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("LogFeed")
    }
}

struct FeedState {
    client: OktaClient,
    next: crate::http::ApiRequest,
    buffer: VecDeque<Value>,
    interval: Duration,
    /// Read the next page at once (the first page, and after a page with events); otherwise
    /// wait `interval` first.
    at_once: bool,
    /// Why the feed ends once the buffer is out.
    end: Option<Error>,
}

fn decode_error(message: String) -> Error {
    Error::Decode { path: "/api/v1/logs".into(), message }
}

impl LogFeed {
    fn new(client: OktaClient, first: crate::http::ApiRequest, interval: Duration) -> LogFeed {
        let state = FeedState { client, next: first, buffer: VecDeque::new(), interval, at_once: true, end: None };
        let inner = futures_util::stream::unfold(Some(state), |state| async move {
            let mut state = state?;
            loop {
                if let Some(value) = state.buffer.pop_front() {
                    let item = LogEvent::from_value(value).map_err(decode_error);
                    return Some((item, Some(state)));
                }
                if let Some(error) = state.end.take() {
                    return Some((Err(error), None));
                }
                if !state.at_once {
                    tokio::time::sleep(state.interval).await;
                }
                let (page, response) = match state.client.send_json(&state.next).await {
                    Ok(answer) => answer,
                    // A failed page ends the feed after its error: the caller follows again from
                    // the last event it saw.
                    Err(error) => return Some((Err(error), None)),
                };
                let Value::Array(events) = page else {
                    let message = format!("a page of the System Log is not a list but {}", kind_of(&page));
                    return Some((Err(decode_error(message)), None));
                };
                state.at_once = !events.is_empty();
                state.buffer.extend(events);
                match response.next {
                    // The next page is read again later: the same link, for events not yet
                    // written when this page was read.
                    Some(url) => state.next = crate::http::ApiRequest { url, ..state.next.clone() },
                    // A polling request always links further; without a link there is nothing
                    // to follow.
                    None => {
                        let reason = response.next_refused.unwrap_or_else(|| "Okta gave no next link".into());
                        state.end = Some(decode_error(format!("the System Log feed cannot go on: {reason}")));
                    }
                }
            }
        })
        .boxed();
        LogFeed { inner }
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

impl futures_util::Stream for LogFeed {
    type Item = Result<LogEvent>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        context: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.inner.poll_next_unpin(context)
    }
}

impl LogFeed {
    /// The feed as a boxed stream.
    pub fn boxed(self) -> BoxStream<'static, Result<LogEvent>> {
        self.inner
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_checked_and_written_as_okta_reads_them() {
        let since = parse_time("2026-12-01T10:00:00Z").unwrap();
        let until = parse_time("2026-12-01T11:00:00.5Z").unwrap();
        let query =
            LogQuery { filter: Some("eventType eq \"user.lifecycle.create\"".into()), ..LogQuery::since(since) };
        let parameters = query.parameters(200, Some(until)).unwrap();
        assert_eq!(
            parameters,
            vec![
                ("limit", "200".to_owned()),
                ("since", "2026-12-01T10:00:00.000Z".to_owned()),
                ("until", "2026-12-01T11:00:00.500Z".to_owned()),
                ("filter", "eventType eq \"user.lifecycle.create\"".to_owned()),
                ("sortOrder", "ASCENDING".to_owned()),
            ]
        );
        assert!(LogQuery { limit: Some(0), ..LogQuery::default() }.parameters(200, None).is_err());
        assert!(LogQuery { limit: Some(1001), ..LogQuery::default() }.parameters(200, None).is_err());
        let backwards = LogQuery::since(until).parameters(200, Some(since));
        assert!(backwards.unwrap_err().to_string().contains("after until"));
    }

    #[test]
    fn events_need_their_identity_and_expose_targets() {
        assert!(
            LogEvent::from_value(serde_json::json!({"eventType": "x", "published": "2026-12-01T10:00:00Z"})).is_err()
        );
        let event = LogEvent::from_value(serde_json::json!({
            "uuid": "u1", "eventType": "user.account.reset_password", "published": "2026-12-01T10:00:00.123Z",
            "target": [{"id": "00u1", "type": "User", "alternateId": "ada@acme.com"}],
            "debugContext": {"debugData": {"requestId": "req-1"}},
        }))
        .unwrap();
        assert!(event.targets_id("00u1") && !event.targets_id("00u2"));
        assert_eq!(event.request_id(), Some("req-1"));
        assert_eq!(event.targets()[0].alternate_id.as_deref(), Some("ada@acme.com"));
        assert_eq!(event.published().map(log_time).as_deref(), Some("2026-12-01T10:00:00.123Z"));
    }
}
