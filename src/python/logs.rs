//! `client.logs`: Okta's System Log, blocking (`Logs`) and asyncio (`AsyncLogs`). Events are
//! Okta's JSON as dicts; both listings are iterators and async iterators at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use pyo3::exceptions::PyStopAsyncIteration;
use pyo3::prelude::*;

use crate::okta::LogQuery;
use crate::python::errors::{convert, invalid_input, to_py};
use crate::python::models::PyJson;
use crate::python::runtime::{awaitable, block_on};
use crate::python::twins::{holders, twins};

holders! {
    Logs, "Logs", "Okta's System Log (blocking).";
    AsyncLogs, "AsyncLogs", "Okta's System Log (asyncio).";
}

type Events = BoxStream<'static, crate::Result<PyJson>>;

/// System Log events, lazily: iterate them, or `async for` over them. A followed log never
/// ends by itself: `close()` ends it (also from another thread or task, while it waits).
#[pyclass(module = "okta_lifecycle._core", name = "LogEvents")]
pub(crate) struct LogEvents {
    stream: Arc<tokio::sync::Mutex<Events>>,
    stop: Arc<tokio::sync::Notify>,
    closed: Arc<AtomicBool>,
}

impl LogEvents {
    fn new(stream: BoxStream<'static, crate::Result<crate::okta::LogEvent>>) -> LogEvents {
        let stop = Arc::new(tokio::sync::Notify::new());
        let stopped = Arc::clone(&stop);
        // `notify_one` keeps a permit, so a close before the first wait is not lost.
        let stream = stream
            .map(|item| item.map(|event| PyJson(event.raw().clone())))
            .take_until(async move { stopped.notified().await })
            .boxed();
        LogEvents { stream: Arc::new(tokio::sync::Mutex::new(stream)), stop, closed: Arc::new(AtomicBool::new(false)) }
    }
}

#[pymethods]
impl LogEvents {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<PyJson>> {
        if self.closed.load(Ordering::SeqCst) {
            return Ok(None);
        }
        let stream = Arc::clone(&self.stream);
        let next = block_on(py, async move { stream.lock().await.next().await })?;
        next.map(convert).transpose().map_err(PyErr::from)
    }

    fn __aiter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __anext__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let (stream, closed) = (Arc::clone(&self.stream), Arc::clone(&self.closed));
        awaitable(py, async move {
            if closed.load(Ordering::SeqCst) {
                return Err(PyStopAsyncIteration::new_err(()).into());
            }
            match stream.lock().await.next().await {
                Some(item) => convert(item),
                None => Err(PyStopAsyncIteration::new_err(()).into()),
            }
        })
    }

    /// Stops the listing: an iteration waiting for events ends, and later ones end at once.
    fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.stop.notify_one();
    }
}

fn utc(time: Option<DateTime<FixedOffset>>) -> Option<DateTime<Utc>> {
    time.map(|time| time.with_timezone(&Utc))
}

twins! { Logs, AsyncLogs, core;
    shared {
        /// Events published from `since` (Okta's default: seven days ago) until `until` (default:
        /// now), oldest first (`descending=True`: newest first). `filter` is a SCIM filter over
        /// event fields (`eventType eq "user.lifecycle.create" and target.id eq "00u1"`); `q`
        /// keywords that must all appear; `limit` the page size (1 to 1,000). Needs the
        /// okta.logs.read scope.
        #[pyo3(signature = (*, since=None, until=None, filter=None, q=None, limit=None, descending=false))]
        #[allow(clippy::too_many_arguments)]
        fn list(
            &self,
            since: Option<DateTime<FixedOffset>>,
            until: Option<DateTime<FixedOffset>>,
            filter: Option<String>,
            q: Option<String>,
            limit: Option<crate::python::conversions::Whole>,
            descending: bool,
        ) -> PyResult<LogEvents> {
            self.core.check()?;
            let limit = limit.map(|limit| limit.argument("limit", 1, 1000)).transpose()?;
            let query = LogQuery { since: utc(since), until: utc(until), filter, q, limit, descending };
            let listing = to_py(self.core.client.logs().list(&query))?;
            Ok(LogEvents::new(listing.boxed()))
        }

        /// Follows the log from `since` (default: now): yields each event as Okta makes it
        /// visible, asking again `interval` seconds after a page with nothing new. It never
        /// ends by itself: call `close()` on it, break out of the loop, or cancel the task.
        #[pyo3(signature = (*, since=None, filter=None, q=None, limit=None, interval=5.0))]
        fn follow(
            &self,
            since: Option<DateTime<FixedOffset>>,
            filter: Option<String>,
            q: Option<String>,
            limit: Option<crate::python::conversions::Whole>,
            interval: f64,
        ) -> PyResult<LogEvents> {
            self.core.check()?;
            let interval = Duration::try_from_secs_f64(interval)
                .ok()
                .filter(|interval| !interval.is_zero())
                .ok_or_else(|| PyErr::from(invalid_input(format!("interval must be a positive number of seconds, not {interval}"))))?;
            let since = utc(since).unwrap_or_else(Utc::now);
            let limit = limit.map(|limit| limit.argument("limit", 1, 1000)).transpose()?;
            let query = LogQuery { since: Some(since), filter, q, limit, ..LogQuery::default() };
            let feed = to_py(self.core.client.logs().follow(&query, interval))?;
            Ok(LogEvents::new(feed.boxed()))
        }
    }
}
