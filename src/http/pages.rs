//! Listings as lazy streams that follow `Link: rel="next"`.
//!
//! A stream holds at most one page: the next page is requested when the current one is used
//! up, exactly at the URL Okta gave (cursors are never built by hand). A record that does not
//! decode is yielded as an error and the listing goes on; a page that fails to load ends the
//! stream after yielding its error.

use std::collections::VecDeque;
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

/// A lazy listing of `T`.
pub struct ItemStream<T> {
    inner: BoxStream<'static, Result<T>>,
}

struct State {
    client: OktaClient,
    next: Option<ApiRequest>,
    buffer: VecDeque<Value>,
    path: String,
    /// An error to yield once the buffered items are out (a refused next link).
    pending: Option<Error>,
}

impl<T: Resource> ItemStream<T> {
    /// A listing that starts with `first`.
    pub fn new(client: OktaClient, first: ApiRequest) -> Self {
        let state = State {
            path: first.url.path().to_owned(),
            client,
            next: Some(first),
            buffer: VecDeque::new(),
            pending: None,
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
                match state.client.send_json(&request).await {
                    Ok((Value::Array(items), response)) => {
                        state.buffer = items.into();
                        state.pending =
                            response.next_refused.map(|message| Error::Decode { path: state.path.clone(), message });
                        state.next = response.next.map(|url| ApiRequest { url, ..request });
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
