//! Every user of a large org, read as parallel `search` chains over ranges of `created`, and
//! correct while the org changes under the read.
//!
//! One listing of `GET /api/v1/users` is a single cursor chain: 500 pages in a row for 100,000
//! users. This reader splits the org by `created`, a value that never changes, so that each range
//! holds the same users however long the read takes (less those deleted meanwhile), and reads the
//! ranges side by side:
//!
//! 1. A range is read with `search=created ge "A" and created lt "B"`, `sortBy=created`, a page
//!    at a time. The next page starts at the last `created` the page held (`ge`, so users that
//!    share that millisecond are read again and kept once); it does not follow Okta's cursor, so
//!    users removed meanwhile cannot shift a position. Okta orders equal values by id (Users
//!    API reference, "List Users with search"); a page that is all one millisecond is read
//!    through `created eq` and Okta's id-keyed cursor instead.
//! 2. While fewer ranges are in flight than allowed, the range an answer continues is split
//!    into equal spans of time, as many as its density (users per millisecond on the page just
//!    read) fills with pages, so that an org whose users arrived in bursts is still read evenly.
//! 3. Once every range is read, the reader waits [`PartitionedListing::settle`], then reads
//!    `search=lastUpdated ge T`, where `T` is Okta's clock when the read began less the same
//!    delay, and keeps the newest version of each user by id. Okta's search is "computed from
//!    asynchronously indexed and eventually consistent data", with an indexing delay "typically
//!    less than one second" (Users API reference); the settle delay covers a write made just
//!    before the read began, and one made during it.
//!
//! What holds: every user that exists for the whole read appears exactly once, in a version at
//! least as new as its last change before the ranges were done. Users created during the read
//! appear. A user deleted during the read may still appear, as last read (Okta's search does
//! not return deleted users, so the catch-up cannot tell), and a change made while the catch-up
//! runs may be missed until the next read. `search` also returns `DEPROVISIONED` users, which a
//! plain listing leaves out.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};
use futures_util::stream::FuturesUnordered;
use futures_util::StreamExt;
use reqwest::Method;

use crate::error::{Error, Result};
use crate::http::pages::{fetch_page, ItemStream, Resource, MAX_PAGES};
use crate::http::OktaClient;
use crate::okta::UsersApi;

const PATH: &str = "/api/v1/users";

/// A user of a listing as far as a partitioned read needs to know it.
pub trait Dated {
    /// Okta's `id`.
    fn id(&self) -> &str;
    /// `created`, in milliseconds since the epoch.
    fn created_ms(&self) -> Option<i64>;
    /// `lastUpdated`, in milliseconds since the epoch.
    fn last_updated_ms(&self) -> Option<i64>;
}

impl Dated for crate::okta::User {
    fn id(&self) -> &str {
        crate::okta::User::id(self)
    }

    fn created_ms(&self) -> Option<i64> {
        self.created().map(|at| at.timestamp_millis())
    }

    fn last_updated_ms(&self) -> Option<i64> {
        self.last_updated().map(|at| at.timestamp_millis())
    }
}

/// A user of a listing kept as the JSON text Okta sent: a tenth of the memory of a decoded
/// [`crate::okta::User`], for reads that hold a whole org before handing it over.
#[derive(Debug, Clone)]
pub struct UserText {
    id: String,
    created_ms: Option<i64>,
    last_updated_ms: Option<i64>,
    json: Box<str>,
}

impl UserText {
    /// The user, decoded.
    pub fn user(&self) -> std::result::Result<crate::okta::User, String> {
        let value: serde_json::Value = serde_json::from_str(&self.json).map_err(|error| error.to_string())?;
        crate::okta::User::from_json(value)
    }
}

/// The fields of a listed user a [`UserText`] keeps apart from its text.
#[derive(serde::Deserialize)]
struct TextFields {
    id: String,
    #[serde(default)]
    created: Option<String>,
    #[serde(default, rename = "lastUpdated")]
    last_updated: Option<String>,
}

impl Resource for UserText {
    fn from_value(value: serde_json::Value) -> std::result::Result<Self, String> {
        let json = value.to_string();
        UserText::from_text(&json)
    }

    fn from_page(body: &[u8]) -> std::result::Result<Vec<std::result::Result<Self, String>>, String> {
        let items: Vec<&serde_json::value::RawValue> =
            serde_json::from_slice(body).map_err(|error| match serde_json::from_slice::<serde_json::Value>(body) {
                Ok(_) => crate::http::pages::NOT_AN_ARRAY.to_owned(),
                Err(_) => format!("invalid JSON: {error}"),
            })?;
        Ok(items.into_iter().map(|item| UserText::from_text(item.get())).collect())
    }
}

impl UserText {
    fn from_text(json: &str) -> std::result::Result<Self, String> {
        let fields: TextFields =
            serde_json::from_str(json).map_err(|error| format!("a user cannot be read: {error}"))?;
        if fields.id.is_empty() {
            return Err("a user has no string \"id\"".into());
        }
        Ok(UserText {
            created_ms: fields.created.as_deref().and_then(timestamp_ms),
            last_updated_ms: fields.last_updated.as_deref().and_then(timestamp_ms),
            id: fields.id,
            json: json.into(),
        })
    }
}

impl Dated for UserText {
    fn id(&self) -> &str {
        &self.id
    }

    fn created_ms(&self) -> Option<i64> {
        self.created_ms
    }

    fn last_updated_ms(&self) -> Option<i64> {
        self.last_updated_ms
    }
}

/// Milliseconds since the epoch of one of Okta's timestamps.
pub fn timestamp_ms(text: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(text).ok().map(|at| at.timestamp_millis())
}

/// How a partitioned read goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionedListing {
    /// Ranges read at once (1 to [`PartitionedListing::MAX_CHAINS`]); the client's rate
    /// governor still paces them within the bucket's budget.
    pub chains: usize,
    /// How long after the ranges are read the catch-up waits for Okta's search index, and how
    /// far before the read's start it looks (at most [`PartitionedListing::MAX_SETTLE`]).
    pub settle: Duration,
    /// Users per page, 1 to 200; the client's page size when `None`.
    pub limit: Option<u32>,
}

impl Default for PartitionedListing {
    fn default() -> Self {
        PartitionedListing { chains: 8, settle: Duration::from_secs(2), limit: None }
    }
}

impl PartitionedListing {
    /// Most ranges read at once.
    pub const MAX_CHAINS: usize = 64;
    /// Longest settle delay.
    pub const MAX_SETTLE: Duration = Duration::from_secs(300);

    fn check(&self) -> Result<()> {
        if !(1..=Self::MAX_CHAINS).contains(&self.chains) {
            return Err(Error::InvalidInput(format!(
                "chains must be between 1 and {}, not {}",
                Self::MAX_CHAINS,
                self.chains
            )));
        }
        if self.settle > Self::MAX_SETTLE {
            return Err(Error::InvalidInput(format!(
                "settle must be at most {} s, not {:.3} s",
                Self::MAX_SETTLE.as_secs(),
                self.settle.as_secs_f64()
            )));
        }
        if let Some(limit) = self.limit.filter(|limit| !(1..=200).contains(limit)) {
            return Err(Error::InvalidInput(format!("limit must be between 1 and 200, not {limit}")));
        }
        Ok(())
    }
}

/// What a partitioned read did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartitionReport {
    /// Pages read, the catch-up's included.
    pub pages: usize,
    /// Ranges of `created` read (each split adds ranges).
    pub ranges: usize,
    /// Milliseconds so crowded that a page held nothing else, read through `created eq`.
    pub crowded: usize,
    /// Users the catch-up returned (changed or created since the read began).
    pub caught_up: usize,
    /// The catch-up's lower bound on `lastUpdated`, as sent to Okta.
    pub changed_since: String,
}

/// The users a partitioned read found, by id order, and what it did.
#[derive(Debug)]
pub struct PartitionedUsers<T> {
    /// Each user once, in the newest version read.
    pub users: Vec<T>,
    /// What the read did.
    pub report: PartitionReport,
}

/// A span of `created`: from `from` (inclusive) to `until` (exclusive; open when `None`), in
/// milliseconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    from: i64,
    until: Option<i64>,
}

impl Span {
    fn search(&self) -> String {
        match self.until {
            Some(until) => format!("created ge \"{}\" and created lt \"{}\"", stamp(self.from), stamp(until)),
            None => format!("created ge \"{}\"", stamp(self.from)),
        }
    }

    fn holds(&self, created: i64) -> bool {
        created >= self.from && self.until.is_none_or(|until| created < until)
    }

    /// `pieces` spans of equal length covering this one up to `end` (its `until`, or the
    /// latest time known when it is open); the last stays open when this one is.
    fn split(self, pieces: i64, end: i64) -> Vec<Span> {
        let length = end.saturating_sub(self.from);
        let pieces = pieces.clamp(1, length.max(1));
        let step = length / pieces;
        (0..pieces)
            .map(|index| Span {
                from: self.from + step * index,
                until: if index + 1 == pieces { self.until } else { Some(self.from + step * (index + 1)) },
            })
            .collect()
    }
}

/// Okta's clock now, at the earliest: the `Date` of a small request, less its round trip
/// (this machine's clock less [`UNKNOWN_CLOCK_SKEW`] when Okta sends no `Date`), in milliseconds.
pub(crate) async fn okta_clock_ms(client: &OktaClient) -> Result<i64> {
    let started = Instant::now();
    let query = vec![("limit", "1".to_owned()), ("filter", "type eq \"BUILT_IN\"".to_owned())];
    let response = client.send(&client.request(Method::GET, "/api/v1/groups", &query)).await?;
    Ok(match response.date {
        Some(date) => epoch_ms(date) - ms(started.elapsed()),
        None => epoch_ms(SystemTime::now()) - ms(UNKNOWN_CLOCK_SKEW),
    })
}

/// A timestamp as Okta reads one: `2025-09-29T03:49:50.123Z`.
pub(crate) fn stamp(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn epoch_ms(at: SystemTime) -> i64 {
    match at.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_millis()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

pub(crate) fn ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// What one of the reads in flight brought back.
enum Step<T> {
    /// A page of a span.
    Page(Answer<T>),
    /// Every user of a crowded millisecond, read by id.
    Crowd(Found<T>),
}

type Running<T> = FuturesUnordered<std::pin::Pin<Box<dyn std::future::Future<Output = Result<Step<T>>> + Send>>>;

/// One answered page of a span.
struct Answer<T> {
    span: Span,
    users: Vec<T>,
    more: bool,
    /// Okta's clock at the answer (`Date`), in milliseconds.
    date: Option<i64>,
}

impl UsersApi {
    /// Reads every user (`DEPROVISIONED` included) as parallel ranges of `created`, then
    /// catches up with the users changed meanwhile; see [`crate::okta::partitioned`] for what
    /// holds while the org changes.
    pub async fn list_partitioned<T: Resource + Dated>(
        &self,
        options: &PartitionedListing,
    ) -> Result<PartitionedUsers<T>> {
        options.check()?;
        let client = self.client().clone();
        let limit = options.limit.unwrap_or(client.config().page_size).clamp(1, 200);
        let started = Instant::now();
        let mut users: HashMap<String, T> = HashMap::new();
        let mut report = PartitionReport::default();
        let mut waiting: VecDeque<Span> = VecDeque::from([Span { from: 0, until: None }]);
        // Every read in flight is driven from here, crowded milliseconds included: a read
        // awaited on its own would leave the others unpolled, holding the governor's slots it
        // needs, and hang when the client allows fewer requests at once than there are chains.
        let mut running: Running<T> = FuturesUnordered::new();
        // Okta's clock when the read began, at the latest (known from the first answer).
        let mut began: Option<i64> = None;
        // The latest of Okta's clock and the `created` values seen: where an open span ends.
        let mut latest = 0_i64;
        loop {
            while running.len() < options.chains {
                let Some(span) = waiting.pop_front() else { break };
                report.ranges += 1;
                let client = client.clone();
                running.push(Box::pin(async move { read_span::<T>(&client, span, limit).await.map(Step::Page) }));
            }
            let Some(step) = running.next().await else { break };
            let answer = match step? {
                Step::Page(answer) => answer,
                Step::Crowd(crowd) => {
                    report.pages += crowd.pages;
                    if report.pages > MAX_PAGES {
                        return Err(endless(format!("more than {MAX_PAGES} pages")));
                    }
                    for user in crowd.users {
                        keep_newest(&mut users, user);
                    }
                    continue;
                }
            };
            report.pages += 1;
            if report.pages > MAX_PAGES {
                return Err(endless(format!("more than {MAX_PAGES} pages")));
            }
            if began.is_none() {
                // Okta's clock at the answer is at least `Date`, and less than the time since the
                // read began before it.
                let date = answer.date.unwrap_or_else(|| epoch_ms(SystemTime::now()) - ms(UNKNOWN_CLOCK_SKEW));
                began = Some(date - ms(started.elapsed()));
            }
            if let Some(date) = answer.date {
                latest = latest.max(date);
            }
            let span = answer.span;
            let (first, last) = match (answer.users.first(), answer.users.last()) {
                (Some(first), Some(last)) => (created_of(first, span)?, created_of(last, span)?),
                _ => (span.from, span.from),
            };
            let count = answer.users.len();
            for user in answer.users {
                let created = created_of(&user, span)?;
                if !span.holds(created) {
                    return Err(endless(format!(
                        "the search {:?} answered a user created at {}",
                        span.search(),
                        stamp(created)
                    )));
                }
                latest = latest.max(created);
                keep_newest(&mut users, user);
            }
            if !answer.more || count == 0 {
                continue;
            }
            let rest = if last == span.from {
                // A whole page in one millisecond: read that millisecond by id, then go on.
                report.crowded += 1;
                let client = client.clone();
                let search = format!("created eq \"{}\"", stamp(span.from));
                running.push(Box::pin(async move { read_all::<T>(&client, search, limit).await.map(Step::Crowd) }));
                Span { from: span.from + 1, until: span.until }
            } else {
                Span { from: last, until: span.until }
            };
            if rest.until.is_some_and(|until| rest.from >= until) {
                continue;
            }
            let idle = options.chains.saturating_sub(running.len() + waiting.len() + 1);
            let end = rest.until.unwrap_or(latest.max(rest.from) + 1);
            let pieces = if idle == 0 {
                1
            } else {
                // Users per millisecond on this page, extended to the rest of the span.
                let density = count as f64 / (last - first).max(1) as f64;
                let expected_pages = density * (end - rest.from) as f64 / f64::from(limit);
                (expected_pages.floor() as i64).clamp(1, idle as i64 + 1)
            };
            for piece in rest.split(pieces, end).into_iter().rev() {
                waiting.push_front(piece);
            }
        }
        // Catch up with what changed since the read began, once the index holds it.
        tokio::time::sleep(options.settle).await;
        let since = began.unwrap_or_else(|| epoch_ms(SystemTime::now())) - ms(options.settle);
        report.changed_since = stamp(since);
        let search = format!("lastUpdated ge \"{}\"", report.changed_since);
        let changed = read_all::<T>(&client, search, limit).await?;
        report.pages += changed.pages;
        report.caught_up = changed.users.len();
        for user in changed.users {
            keep_newest(&mut users, user);
        }
        let mut users: Vec<T> = users.into_values().collect();
        users.sort_unstable_by(|a, b| a.id().cmp(b.id()));
        tracing::info!(
            users = users.len(),
            pages = report.pages,
            ranges = report.ranges,
            crowded = report.crowded,
            caught_up = report.caught_up,
            "read every user in ranges of created"
        );
        Ok(PartitionedUsers { users, report })
    }
}

/// How far this machine's clock is taken to be from Okta's when Okta sends no `Date`.
const UNKNOWN_CLOCK_SKEW: Duration = Duration::from_secs(300);

fn endless(message: String) -> Error {
    Error::Decode { path: PATH.into(), message: format!("the partitioned listing cannot go on: {message}") }
}

fn created_of<T: Dated>(user: &T, span: Span) -> Result<i64> {
    user.created_ms().ok_or_else(|| {
        endless(format!("user {} in the search {:?} has no readable \"created\"", user.id(), span.search()))
    })
}

/// Keeps `user` unless a version at least as new is already kept.
fn keep_newest<T: Dated>(users: &mut HashMap<String, T>, user: T) {
    match users.get(user.id()) {
        Some(kept) if kept.last_updated_ms() > user.last_updated_ms() => {}
        _ => {
            users.insert(user.id().to_owned(), user);
        }
    }
}

/// Reads one page of `span`, sorted by `created`.
async fn read_span<T: Resource>(client: &OktaClient, span: Span, limit: u32) -> Result<Answer<T>> {
    let query = vec![
        ("limit", limit.to_string()),
        ("search", span.search()),
        ("sortBy", "created".to_owned()),
        ("sortOrder", "asc".to_owned()),
    ];
    let request = client.request(Method::GET, PATH, &query);
    let (items, response) = fetch_page::<T>(client, &request).await?;
    let users = items
        .into_iter()
        .collect::<std::result::Result<Vec<T>, String>>()
        .map_err(|message| Error::Decode { path: PATH.into(), message })?;
    Ok(Answer { span, users, more: response.next.is_some(), date: response.date.map(epoch_ms) })
}

/// Every user a search finds, and the pages it took.
pub(crate) struct Found<T> {
    pub users: Vec<T>,
    pub pages: usize,
}

/// Reads every user `search` finds, following Okta's cursor (which is keyed by id, so users
/// removed meanwhile do not move it), with a listing's guards against a server that never ends.
pub(crate) async fn read_all<T: Resource>(client: &OktaClient, search: String, limit: u32) -> Result<Found<T>> {
    let query = vec![("limit", limit.to_string()), ("search", search)];
    let listing = ItemStream::<T>::new(client.clone(), client.request(Method::GET, PATH, &query));
    let pages = listing.page_count();
    let users = listing.try_collect_all().await?;
    Ok(Found { users, pages: pages.load(std::sync::atomic::Ordering::Relaxed) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_split_evenly_and_keep_an_open_end() {
        let open = Span { from: 1_000, until: None };
        let pieces = open.split(4, 2_000);
        assert_eq!(pieces.len(), 4);
        assert_eq!(pieces[0], Span { from: 1_000, until: Some(1_250) });
        assert_eq!(pieces[3], Span { from: 1_750, until: None });
        let closed = Span { from: 0, until: Some(3) };
        // Never thinner than a millisecond.
        assert_eq!(closed.split(10, 3).len(), 3);
        assert_eq!(closed.split(1, 3), vec![closed]);
        for window in pieces.windows(2) {
            assert_eq!(window[0].until, Some(window[1].from));
        }
    }

    #[test]
    fn searches_name_the_span_in_okta_timestamps() {
        let span = Span { from: 0, until: Some(1_500) };
        assert_eq!(span.search(), r#"created ge "1970-01-01T00:00:00.000Z" and created lt "1970-01-01T00:00:01.500Z""#);
        assert!(span.holds(0) && span.holds(1_499) && !span.holds(1_500) && !span.holds(-1));
        assert_eq!(timestamp_ms("1970-01-01T00:00:01.500Z"), Some(1_500));
        assert_eq!(timestamp_ms("2025-09-29T03:49:50.123+02:00"), Some(1_759_110_590_123));
    }

    #[test]
    fn options_out_of_range_are_refused() {
        for options in [
            PartitionedListing { chains: 0, ..Default::default() },
            PartitionedListing { chains: 65, ..Default::default() },
            PartitionedListing { settle: Duration::from_secs(301), ..Default::default() },
            PartitionedListing { limit: Some(201), ..Default::default() },
        ] {
            assert!(matches!(options.check(), Err(Error::InvalidInput(_))), "{options:?}");
        }
        assert!(PartitionedListing::default().check().is_ok());
    }
}
