//! Listings as lazy streams that follow `Link: rel="next"`.
//!
//! Pages are requested exactly at the URL Okta gave (cursors are never built by hand). As soon as
//! a page arrives, the next one is requested in the background while the caller works through
//! the current one, so a stream holds at most two pages and the caller rarely waits a full round
//! trip. Dropping the stream cancels the request in flight. A record that does not decode is
//! yielded as an error and the listing goes on; a page that fails to load ends the stream after
//! yielding its error.
//!
//! A server cannot keep a listing going forever: a `next` link that repeats a page already
//! fetched (a cycle), a run of empty pages that still point further, or more pages than any org
//! holds end the listing with an error.

use std::collections::{HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::http::{ApiRequest, OktaClient};

/// A resource that can be read from one element of a listing.
pub trait Resource: Sized + Send + 'static {
    /// Decodes one element; the message names what is wrong.
    fn from_value(value: Value) -> std::result::Result<Self, String>;
}

/// More pages than this in one listing is not an org but a server that never ends (at Okta's
/// 200 per page, 400 million records).
pub const MAX_PAGES: usize = 2_000_000;
/// Empty pages in a row that still link further before the listing is called endless.
pub const MAX_EMPTY_PAGES: usize = 3;

/// A lazy listing of `T`.
pub struct ItemStream<T> {
    inner: BoxStream<'static, Result<T>>,
}

type PageResult = Result<(Value, crate::http::ApiResponse)>;

/// A page being fetched in the background; aborted when dropped.
struct Prefetch(tokio::task::JoinHandle<PageResult>);

impl Drop for Prefetch {
    fn drop(&mut self) {
        self.0.abort();
    }
}

struct State {
    client: OktaClient,
    next: Option<ApiRequest>,
    /// The fetch of `next`, when it was started early.
    prefetch: Option<Prefetch>,
    buffer: VecDeque<Value>,
    path: String,
    /// An error to yield once the buffered items are out (a refused next link).
    pending: Option<Error>,
    /// Hashes of the page URLs fetched so far (to detect cycles).
    seen: HashSet<u64>,
    /// Empty pages in a row.
    empty_pages: usize,
}

fn url_hash(url: &url::Url) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    url.as_str().hash(&mut hasher);
    hasher.finish()
}

impl State {
    /// Takes a page's `next` link, unless following it would never end.
    fn follow(&mut self, next: Option<url::Url>, page_was_empty: bool) -> Option<url::Url> {
        let next = next?;
        self.empty_pages = if page_was_empty { self.empty_pages + 1 } else { 0 };
        let endless = if !self.seen.insert(url_hash(&next)) {
            Some(format!("the next link {} repeats a page already read (a cycle)", next.path()))
        } else if self.seen.len() > MAX_PAGES {
            Some(format!("more than {MAX_PAGES} pages"))
        } else if self.empty_pages >= MAX_EMPTY_PAGES {
            Some(format!("{MAX_EMPTY_PAGES} empty pages in a row that still link further"))
        } else {
            None
        };
        match endless {
            Some(reason) => {
                let error =
                    Error::Decode { path: self.path.clone(), message: format!("the listing does not end: {reason}") };
                self.pending = Some(self.pending.take().unwrap_or(error));
                None
            }
            None => Some(next),
        }
    }
}

impl<T: Resource> ItemStream<T> {
    /// A listing that starts with `first`.
    pub fn new(client: OktaClient, first: ApiRequest) -> Self {
        let state = State {
            path: first.url.path().to_owned(),
            seen: HashSet::from([url_hash(&first.url)]),
            client,
            next: Some(first),
            prefetch: None,
            buffer: VecDeque::new(),
            pending: None,
            empty_pages: 0,
        };
        let inner = futures_util::stream::unfold(state, |mut state| async move {
            loop {
                if let Some(value) = state.buffer.pop_front() {
                    let item =
                        T::from_value(value).map_err(|message| Error::Decode { path: state.path.clone(), message });
                    return Some((item, state));
                }
                if let Some(error) = state.pending.take() {
                    return Some((Err(error), state));
                }
                let request = state.next.take()?;
                let page = match state.prefetch.take() {
                    Some(mut prefetch) => match (&mut prefetch.0).await {
                        Ok(page) => page,
                        Err(join_error) => Err(Error::Transport {
                            method: "GET".into(),
                            path: state.path.clone(),
                            message: format!("the page fetch stopped: {join_error}"),
                        }),
                    },
                    None => state.client.send_json(&request).await,
                };
                match page {
                    Ok((Value::Array(items), response)) => {
                        let empty = items.is_empty();
                        state.buffer = items.into();
                        state.pending =
                            response.next_refused.map(|message| Error::Decode { path: state.path.clone(), message });
                        state.next = state.follow(response.next, empty).map(|url| ApiRequest { url, ..request });
                        state.prefetch = state.next.as_ref().and_then(|next| prefetch(&state.client, next));
                    }
                    Ok((_, _)) => {
                        let error = Error::Decode {
                            path: state.path.clone(),
                            message: "a listing answered with something other than a JSON array".into(),
                        };
                        return Some((Err(error), state));
                    }
                    Err(error) => return Some((Err(error), state)),
                }
            }
        });
        ItemStream { inner: inner.boxed() }
    }

    /// Collects every item, failing on the first error.
    pub async fn try_collect_all(mut self) -> Result<Vec<T>> {
        let mut items = Vec::new();
        while let Some(item) = self.next().await {
            items.push(item?);
        }
        Ok(items)
    }
}

/// Starts fetching `request` in the background, when there is a runtime to do it on.
fn prefetch(client: &OktaClient, request: &ApiRequest) -> Option<Prefetch> {
    let runtime = tokio::runtime::Handle::try_current().ok()?;
    let client = client.clone();
    let request = request.clone();
    Some(Prefetch(runtime.spawn(async move { client.send_json(&request).await })))
}

impl<T> Stream for ItemStream<T> {
    type Item = Result<T>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl<T> std::fmt::Debug for ItemStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ItemStream")
    }
}
