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
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
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

    /// Decodes a page's body, a JSON array, into its elements (each decoded or the reason it
    /// cannot be). The default reads the page as JSON values first; a type that needs a few
    /// fields of each element can read them straight from the bytes, skipping the rest.
    fn from_page(body: &[u8]) -> std::result::Result<Vec<std::result::Result<Self, String>>, String> {
        match serde_json::from_slice(body) {
            Ok(Value::Array(items)) => Ok(items.into_iter().map(Self::from_value).collect()),
            Ok(_) => Err(NOT_AN_ARRAY.into()),
            Err(error) => Err(format!("invalid JSON: {error}")),
        }
    }
}

/// Why a page that is not a JSON array is refused.
pub const NOT_AN_ARRAY: &str = "a listing answered with something other than a JSON array";

/// More pages than this in one listing is not an org but a server that never ends (at Okta's
/// 200 per page, 400 million records).
pub const MAX_PAGES: usize = 2_000_000;
/// Empty pages in a row that still link further before the listing is called endless.
pub const MAX_EMPTY_PAGES: usize = 3;

/// A lazy listing of `T`.
pub struct ItemStream<T> {
    inner: BoxStream<'static, Result<T>>,
    pages: Arc<AtomicUsize>,
}

/// A page: its elements, decoded where it was fetched, and the response (for its links).
pub(crate) type PageResult<T> = Result<(Vec<std::result::Result<T, String>>, crate::http::ApiResponse)>;

/// A page being fetched (and decoded) in the background; aborted when dropped.
struct Prefetch<T>(tokio::task::JoinHandle<PageResult<T>>);

impl<T> Drop for Prefetch<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

struct State<T> {
    client: OktaClient,
    /// Pages read so far.
    pages: Arc<AtomicUsize>,
    next: Option<ApiRequest>,
    /// The fetch of `next`, when it was started early.
    prefetch: Option<Prefetch<T>>,
    /// The current page's elements, decoded (or why not).
    buffer: VecDeque<std::result::Result<T, String>>,
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

impl<T> State<T> {
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
            pages: Arc::new(AtomicUsize::new(0)),
        };
        let pages = Arc::clone(&state.pages);
        let inner = futures_util::stream::unfold(state, |mut state| async move {
            loop {
                if let Some(item) = state.buffer.pop_front() {
                    let item = item.map_err(|message| Error::Decode { path: state.path.clone(), message });
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
                    None => fetch_page(&state.client, &request).await,
                };
                match page {
                    Ok((items, response)) => {
                        state.pages.fetch_add(1, Ordering::Relaxed);
                        let empty = items.is_empty();
                        state.buffer = items.into();
                        state.pending =
                            response.next_refused.map(|message| Error::Decode { path: state.path.clone(), message });
                        state.next = state.follow(response.next, empty).map(|url| ApiRequest { url, ..request });
                        state.prefetch = state.next.as_ref().and_then(|next| prefetch(&state.client, next));
                    }
                    Err(error) => return Some((Err(error), state)),
                }
            }
        });
        ItemStream { inner: inner.boxed(), pages }
    }

    /// The number of pages read so far, kept current as the listing goes on (also after the
    /// stream is consumed).
    pub fn page_count(&self) -> Arc<AtomicUsize> {
        Arc::clone(&self.pages)
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

/// Fetches a page and decodes it, off the caller's task when it is prefetched.
pub(crate) async fn fetch_page<T: Resource>(client: &OktaClient, request: &ApiRequest) -> PageResult<T> {
    let response = client.send(request).await?;
    if response.body.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::Decode { path: request.url.path().to_owned(), message: NOT_AN_ARRAY.into() });
    }
    let items = T::from_page(&response.body)
        .map_err(|message| Error::Decode { path: request.url.path().to_owned(), message })?;
    Ok((items, response))
}

/// Starts fetching `request` in the background, when there is a runtime to do it on.
fn prefetch<T: Resource>(client: &OktaClient, request: &ApiRequest) -> Option<Prefetch<T>> {
    let runtime = tokio::runtime::Handle::try_current().ok()?;
    let client = client.clone();
    let request = request.clone();
    Some(Prefetch(runtime.spawn(async move { fetch_page(&client, &request).await })))
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
