//! What every store of the shared budget is made of: the state as stored, the moment and turn
//! of one decision, the leases on concurrency slots, the jobs of the store's thread, and the
//! interface a storage (files, PostgreSQL) implements.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc::UnboundedSender;

use crate::http::budget::{BucketState, MAX_WINDOW};
use crate::http::retry::RateLimitHeaders;

/// The slot files this process has open and does not hold, by index (`None`: not opened yet, or
/// held by a lease of this process).
pub(super) type SlotPool = Arc<Mutex<Vec<Option<File>>>>;

/// How long one process waits for the store's lock before governing a request alone. The lock
/// is held for microseconds (a file) or a few round trips to the database; only a stopped or
/// wedged process holds it longer.
pub const LOCK_PATIENCE: Duration = Duration::from_secs(2);
/// How long the governor waits, in all, on what other processes hold for one request: the
/// store's slots (every one under the cap taken) and another process's first request to a new
/// bucket. Past it (a stopped process holds them), the process governs its requests alone.
pub const STORE_PATIENCE: Duration = Duration::from_secs(5);
/// A process's in-flight count older than this is dropped even if its pid or session looks
/// alive (it may have been reused). Longer than any request: Okta's windows are a minute and
/// requests time out well within this.
pub const IN_FLIGHT_EXPIRY: Duration = Duration::from_secs(300);
/// How long one attempt to decide a send waits for the store's lock before it says
/// [`SharedVerdict::Locked`] (the governor then tries again, up to [`LOCK_PATIENCE`]).
pub(super) const TRY_PATIENCE: Duration = Duration::from_millis(5);
/// Successes needed to give back one shared concurrency slot after a concurrency 429.
pub(super) const SUCCESSES_PER_SLOT: u64 = 20;
/// The store's format.
pub(super) const VERSION: u32 = 1;

/// Milliseconds since the Unix epoch on this machine's clock.
pub(super) fn now_ms() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// A moment on the store's clock as a local instant, given the same moment on both clocks.
pub(super) fn to_instant(ms: u64, now: Instant, now_ms: u64) -> Instant {
    if ms >= now_ms {
        now + Duration::from_millis(ms - now_ms)
    } else {
        now.checked_sub(Duration::from_millis(now_ms - ms)).unwrap_or(now)
    }
}

/// A local instant as a moment on the store's clock.
pub(super) fn to_ms(instant: Instant, now: Instant, now_ms: u64) -> u64 {
    if instant >= now {
        now_ms.saturating_add(instant.duration_since(now).as_millis() as u64)
    } else {
        now_ms.saturating_sub(now.duration_since(instant).as_millis() as u64)
    }
}

/// Requests one process (or database session) has in flight in one bucket.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub(super) struct InFlight {
    pub(super) count: u64,
    /// When the count last went up (ms on the store's clock).
    pub(super) since_ms: u64,
}

/// One bucket as the store keeps it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub(super) struct StoredBucket {
    #[serde(default)]
    pub(super) limit: Option<u64>,
    #[serde(default)]
    pub(super) remaining: f64,
    #[serde(default)]
    pub(super) reset_at_ms: Option<u64>,
    #[serde(default)]
    pub(super) answered: bool,
    #[serde(default)]
    pub(super) reset_assumed: bool,
    #[serde(default)]
    pub(super) reported: Option<u64>,
    #[serde(default)]
    pub(super) unreported: u64,
    /// Requests in flight by owner: a pid (files) or a database session's pid (PostgreSQL).
    #[serde(default)]
    pub(super) in_flight: BTreeMap<u32, InFlight>,
}

/// The whole store.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub(super) struct Stored {
    #[serde(default)]
    pub(super) version: u32,
    #[serde(default)]
    pub(super) buckets: BTreeMap<String, StoredBucket>,
    /// The shared cap on requests in flight, once a concurrency 429 has lowered it.
    #[serde(default)]
    pub(super) cap: Option<usize>,
    #[serde(default)]
    pub(super) successes: u64,
}

impl Stored {
    /// Reads the store's text; anything that is not a store of this version is an empty store.
    pub(super) fn parse(text: &[u8]) -> Stored {
        match serde_json::from_slice::<Stored>(text) {
            Ok(stored) if stored.version == VERSION => stored,
            Ok(_) | Err(_) => {
                if !text.is_empty() {
                    tracing::debug!("the shared budget's state is not readable; it is started afresh");
                }
                Stored { version: VERSION, ..Stored::default() }
            }
        }
    }

    /// Drops what cannot be believed: in-flight counts of owners that are gone (`alive` says,
    /// asked once per owner; `own` is always alive) or too old, values no answer could have
    /// given.
    pub(super) fn sanitise(&mut self, now_ms: u64, own: u32, alive: &dyn Fn(u32) -> bool) {
        let horizon = now_ms + (MAX_WINDOW + Duration::from_secs(1)).as_millis() as u64;
        let owners: BTreeSet<u32> = self.buckets.values().flat_map(|bucket| bucket.in_flight.keys().copied()).collect();
        let live: BTreeSet<u32> = owners.into_iter().filter(|&owner| owner == own || alive(owner)).collect();
        for bucket in self.buckets.values_mut() {
            // A limit of 0 is no answer's (a concurrency 429 carries no bucket): it would make
            // every sender wait for ever.
            if !bucket.remaining.is_finite() || bucket.limit == Some(0) {
                *bucket = StoredBucket { in_flight: std::mem::take(&mut bucket.in_flight), ..StoredBucket::default() };
            }
            bucket.reset_at_ms = bucket.reset_at_ms.map(|ms| ms.min(horizon));
            bucket.in_flight.retain(|owner, entry| {
                entry.count > 0
                    // A count from the future (a clock set back, a forged state) would never expire.
                    && entry.since_ms <= now_ms.saturating_add(LOCK_PATIENCE.as_millis() as u64)
                    && now_ms.saturating_sub(entry.since_ms) < IN_FLIGHT_EXPIRY.as_millis() as u64
                    && live.contains(owner)
            });
        }
    }

    /// The bucket as the governor's pure functions see it.
    pub(super) fn bucket_state(&self, name: &str, now: Instant, now_ms: u64) -> BucketState {
        let Some(stored) = self.buckets.get(name) else { return BucketState::default() };
        BucketState {
            limit: stored.limit,
            remaining: stored.remaining,
            reset_at: stored.reset_at_ms.map(|ms| to_instant(ms, now, now_ms)),
            in_flight: stored.in_flight.values().fold(0, |sum, entry| sum.saturating_add(entry.count)),
            answered: stored.answered,
            reset_assumed: stored.reset_assumed,
            // Held to the limit, as an answer would be.
            reported: stored.reported.map(|reported| stored.limit.map_or(reported, |limit| reported.min(limit))),
            unreported: stored.unreported,
        }
    }

    /// Writes a bucket back, charging the change in requests in flight to `owner`.
    pub(super) fn put_bucket(&mut self, name: &str, before: &BucketState, after: &BucketState, turn: &Moment) {
        let stored = self.buckets.entry(name.to_owned()).or_default();
        stored.limit = after.limit;
        stored.remaining = after.remaining;
        stored.reset_at_ms = after.reset_at.map(|at| to_ms(at, turn.now, turn.now_ms));
        stored.answered = after.answered;
        stored.reset_assumed = after.reset_assumed;
        stored.reported = after.reported;
        stored.unreported = after.unreported;
        let own = stored.in_flight.entry(turn.owner).or_default();
        if after.in_flight > before.in_flight {
            own.count = own.count.saturating_add(after.in_flight - before.in_flight);
            own.since_ms = turn.now_ms;
        } else {
            own.count = own.count.saturating_sub(before.in_flight - after.in_flight);
        }
        if own.count == 0 {
            stored.in_flight.remove(&turn.owner);
        }
    }
}

/// Why the store could not be used for a request; the governor then decides alone.
#[derive(Debug)]
pub(crate) enum StoreError {
    /// Another process held the lock for longer than [`LOCK_PATIENCE`].
    Busy,
    /// The store's thread gave no answer within [`LOCK_PATIENCE`]: a database that is slow,
    /// unreachable, or still being connected to.
    Silent,
    /// A file of the store could not be read or written.
    Io(std::io::Error),
    /// The database failed a statement or the connection (never holds a password).
    Database(String),
    /// The store has been given up already.
    GivenUp,
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Busy => write!(f, "its lock was held for more than {} s", LOCK_PATIENCE.as_secs()),
            StoreError::Silent => write!(f, "it gave no answer within {} s", LOCK_PATIENCE.as_secs()),
            StoreError::Io(error) => write!(f, "{error}"),
            StoreError::Database(error) => f.write_str(error),
            StoreError::GivenUp => f.write_str("it was given up"),
        }
    }
}

impl From<std::io::Error> for StoreError {
    fn from(error: std::io::Error) -> Self {
        StoreError::Io(error)
    }
}

impl From<postgres::Error> for StoreError {
    fn from(error: postgres::Error) -> Self {
        StoreError::Database(crate::pg::describe(&error))
    }
}

/// A concurrency slot held across processes while a request is in flight, given back when the
/// lease is dropped.
#[derive(Debug)]
pub(crate) struct SlotLease {
    pub(super) index: usize,
    pub(super) hold: Hold,
}

/// How a lease holds its slot.
#[derive(Debug)]
pub(super) enum Hold {
    /// The slot file's `flock`: unlocked and returned to the pool on drop.
    File { file: Option<File>, pool: SlotPool },
    /// The database session's advisory lock: only the store's thread, which holds the session,
    /// can give it back, so it is told to.
    Session(Option<UnboundedSender<Job>>),
}

impl Drop for SlotLease {
    fn drop(&mut self) {
        match &mut self.hold {
            Hold::File { file, pool } => {
                if let Some(file) = file.take() {
                    // Closing the file would unlock it too; the pool keeps it open for the next request.
                    if file.unlock().is_ok() {
                        let mut pool = pool.lock().unwrap_or_else(PoisonError::into_inner);
                        if let Some(entry) = pool.get_mut(self.index) {
                            *entry = Some(file);
                        }
                    }
                }
            }
            Hold::Session(jobs) => {
                // The thread gone, its session (and the lock) went with it.
                if let Some(jobs) = jobs.take() {
                    let _ = jobs.send(Job::Release(self.index));
                }
            }
        }
    }
}

/// What one attempt to send under the shared store decided.
#[derive(Debug)]
pub(crate) enum SharedVerdict {
    /// Send now; the request is counted in the store and holds a slot.
    Go(SlotLease),
    /// The bucket's budget says wait until then. `for_others` when the wait is for another
    /// process's first request to a bucket not yet known (its answer teaches the limit), which
    /// the governor waits on only for [`STORE_PATIENCE`].
    WaitUntil {
        /// When to ask again.
        at: Instant,
        /// Whether the wait is for another process's probe.
        for_others: bool,
    },
    /// Every slot under the cap is in use: try again shortly.
    Busy,
    /// Another process holds the store's lock this instant: try again shortly, and give the
    /// store up once it has been held for [`LOCK_PATIENCE`].
    Locked,
}

/// The moment of one turn with the state, and whom it charges.
#[derive(Debug, Clone, Copy)]
pub(super) struct Moment {
    /// Now, on this machine's monotonic clock...
    pub(super) now: Instant,
    /// ...and on the store's clock, in milliseconds since the epoch (every stored time is on it).
    pub(super) now_ms: u64,
    /// Whom this process's requests are charged to: its pid (files) or its database session.
    pub(super) owner: u32,
}

/// One turn with the state, under the store's lock.
pub(super) struct Turn<'a> {
    pub(super) stored: &'a mut Stored,
    pub(super) moment: Moment,
    /// Takes the first free slot below a cap, across processes (`None`: all are taken).
    pub(super) take_slot: &'a mut dyn FnMut(usize) -> Result<Option<SlotLease>, StoreError>,
}

/// Where a store keeps its state and how it holds its slots: the one interface between the
/// decisions, taken alike for every store ([`StoreCore`]), and a storage ([`file::FileStorage`],
/// [`database::DatabaseStorage`]). It is used from the store's thread only.
pub(super) trait Storage: Send {
    /// Reads the state under the store's lock, waiting for the lock about `patience` at most
    /// ([`StoreError::Busy`] then); drops from it what cannot be believed ([`Stored::sanitise`],
    /// with the storage's own knowledge of which owners are alive); lets `turn` decide and take
    /// slots; writes the state back if it changed, before the lock is let go. An error from
    /// `turn` leaves the state as it was. `turn` is called once at most.
    fn transact(
        &mut self,
        patience: Duration,
        turn: &mut dyn FnMut(&mut Turn<'_>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;

    /// Gives back slot `index`, whose lease (of [`Hold::Session`]) was dropped.
    fn release(&mut self, index: usize) -> Result<(), StoreError>;

    /// The state as last written, read without the store's lock and not written back, sanitised as
    /// [`Storage::transact`] does: `None` where that is not cheaper than a turn under the lock.
    /// A sender that was told to wait looks here first, so that waiting processes polling the
    /// budget do not queue on the lock before the answers and sends that change it.
    fn peek(&mut self) -> Result<Option<(Stored, Moment)>, StoreError> {
        Ok(None)
    }
}

/// What the store's thread is asked to do.
#[derive(Debug)]
pub(super) enum Job {
    /// Decide one attempt to send.
    Verdict { bucket: &'static str, share: f64, reply: tokio::sync::oneshot::Sender<Result<SharedVerdict, StoreError>> },
    /// Fold an answer in and give its slot back.
    Finish {
        lease: SlotLease,
        bucket: &'static str,
        status: Option<u16>,
        headers: Option<RateLimitHeaders>,
        date: Option<SystemTime>,
    },
    /// Give back a slot whose lease was dropped.
    Release(usize),
    /// Read one bucket (tests and diagnostics).
    Bucket { bucket: String, reply: std::sync::mpsc::Sender<Option<BucketState>> },
    /// Read the shared concurrency cap.
    Cap { reply: std::sync::mpsc::Sender<Option<usize>> },
    /// Look at the store again: it may have been given up.
    Wake,
}
