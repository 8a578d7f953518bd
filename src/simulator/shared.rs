//! What every request handler shares: the org, the credentials, the limits and faults, the
//! request log and counters.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, SystemTime};

use super::auth::{AccessToken, Credentials};
use super::faults::FaultEngine;
use super::locks::lock;
use super::oauth;
use super::ratelimit::RateLimiter;
use super::state::Org;

/// One request as the simulator saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// HTTP method.
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    /// Status answered; 0 when the connection was dropped before processing.
    pub status: u16,
    /// Rate-limit bucket the request belongs to.
    pub bucket: String,
    /// Whether the connection was dropped instead of answering.
    pub dropped: bool,
    /// When the request arrived.
    pub at: SystemTime,
}

/// Request counters kept without a global lock.
pub(super) struct CounterCells {
    pub(super) requests: AtomicU64,
    pub(super) rate_limited: AtomicU64,
    pub(super) concurrency_limited: AtomicU64,
    pub(super) by_status: Vec<AtomicU64>,
    pub(super) max_in_flight: AtomicUsize,
    pub(super) reset_password: Mutex<HashMap<String, u64>>,
}

impl CounterCells {
    pub(super) fn new() -> CounterCells {
        CounterCells {
            requests: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            concurrency_limited: AtomicU64::new(0),
            by_status: (0..600).map(|_| AtomicU64::new(0)).collect(),
            max_in_flight: AtomicUsize::new(0),
            reset_password: Mutex::new(HashMap::new()),
        }
    }

    pub(super) fn clear(&self) {
        self.requests.store(0, Ordering::Relaxed);
        self.rate_limited.store(0, Ordering::Relaxed);
        self.concurrency_limited.store(0, Ordering::Relaxed);
        for cell in &self.by_status {
            cell.store(0, Ordering::Relaxed);
        }
        self.max_in_flight.store(0, Ordering::Relaxed);
        lock(&self.reset_password).clear();
    }
}

/// Everything the request handlers share.
pub(crate) struct Shared {
    pub(super) base_url: String,
    pub(super) org: RwLock<Org>,
    /// The `custom_attributes` convenience names, for fresh orgs after a reset.
    pub(super) custom_attributes: Vec<String>,
    pub(super) seed_users: usize,
    pub(super) credentials: RwLock<Credentials>,
    pub(super) limiter: RateLimiter,
    pub(super) concurrency_limit: Option<usize>,
    pub(super) faults: FaultEngine,
    pub(super) log: Mutex<Vec<RequestRecord>>,
    pub(super) counters: CounterCells,
    pub(super) in_flight: AtomicUsize,
    pub(super) dirty: AtomicBool,
    pub(super) state_file: Option<PathBuf>,
    pub(super) oauth: oauth::OAuthServer,
    /// [`SimulatorConfig::log_delay`], in nanoseconds (changed by [`Simulator::set_log_delay`]).
    pub(super) log_delay_nanos: AtomicU64,
    /// When the org was last taken for writing, in nanoseconds since `started`.
    pub(super) written_nanos: AtomicU64,
    pub(super) started: std::time::Instant,
}

impl Shared {
    pub(super) fn read_org(&self) -> std::sync::RwLockReadGuard<'_, Org> {
        self.org.read().unwrap_or_else(|poison| poison.into_inner())
    }

    pub(super) fn write_org(&self) -> std::sync::RwLockWriteGuard<'_, Org> {
        self.dirty.store(true, Ordering::Release);
        self.written_nanos.store(nanos(self.started.elapsed()), Ordering::Release);
        self.org.write().unwrap_or_else(|poison| poison.into_inner())
    }

    pub(super) fn read_credentials(&self) -> std::sync::RwLockReadGuard<'_, Credentials> {
        self.credentials.read().unwrap_or_else(|poison| poison.into_inner())
    }

    pub(super) fn write_credentials(&self) -> std::sync::RwLockWriteGuard<'_, Credentials> {
        self.credentials.write().unwrap_or_else(|poison| poison.into_inner())
    }

    pub(super) fn register_token(
        &self,
        token: &str,
        scopes: Vec<String>,
        dpop_jkt: Option<String>,
        expires_at: SystemTime,
        client_id: Option<String>,
    ) {
        let access = AccessToken { scopes, dpop_jkt, expires_at, client_id };
        self.write_credentials().access_tokens.insert(token.to_owned(), access);
    }

    /// How long System Log events stay invisible after `published`.
    /// Whether the org may have changed within `delay` (the search index may then trail it).
    pub(crate) fn written_within(&self, delay: Duration) -> bool {
        let written = Duration::from_nanos(self.written_nanos.load(Ordering::Acquire));
        self.started.elapsed().saturating_sub(written) < delay
    }

    pub(crate) fn log_delay(&self) -> Duration {
        Duration::from_nanos(self.log_delay_nanos.load(Ordering::Relaxed))
    }

    pub(super) fn count_reset_password(&self, user_id: &str) {
        *lock(&self.counters.reset_password).entry(user_id.to_owned()).or_insert(0) += 1;
    }

    /// Writes the state file if the org changed since the last save.
    pub(super) fn save_if_dirty(&self) {
        let Some(path) = &self.state_file else {
            return;
        };
        if !self.dirty.swap(false, Ordering::AcqRel) {
            return;
        }
        let bytes = match self.read_org().to_json() {
            Ok(bytes) => bytes,
            Err(error) => {
                tracing::warn!("simulator: cannot serialize the org: {error}");
                return;
            }
        };
        let temporary = path.with_extension("tmp");
        let written = std::fs::write(&temporary, bytes).and_then(|()| std::fs::rename(&temporary, path));
        if let Err(error) = written {
            tracing::warn!("simulator: cannot write {}: {error}", path.display());
            self.dirty.store(true, Ordering::Release);
        }
    }
}

pub(super) fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}
