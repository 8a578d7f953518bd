//! The shared budget: what the governor learns of an org's rate limits, kept in a store that
//! every process talking to the same org shares: a small file store for the processes of one
//! machine, or a table in PostgreSQL for the processes of every host that names the database.
//!
//! Ansible runs each task of each host in a fresh process, twenty at once with `forks = 20`;
//! two scripts may run against one org side by side, on one machine or on several. Each of them
//! alone believes it owns the whole bucket and the org's concurrency limit, and together they
//! run into Okta's 429s. With a shared store they decide as one client would.
//!
//! The store holds each bucket's learnt limit, remaining estimate, reset (wall-clock
//! milliseconds on the store's clock), the lowest count Okta reported in the window and the
//! requests whose count it did not report, the requests each process has in flight in it, and
//! the concurrency cap lowered by concurrency 429s. Every decision is the
//! governor's own ([`plan_send`], [`BucketState`]), taken by the same code for every store
//! (`StoreCore`) on the state read and written back under the store's lock; a concurrency
//! slot is held across processes while a request is in flight. Where the state lives, how its
//! lock is taken and how slots are held is the storage's (`Storage`), of which there are two:
//!
//! - **Files** (`file.rs`): `state.json`, read and rewritten in place under an exclusive `flock`
//!   on the file itself, and `slot-N.lock`, each slot a `flock`. A request in flight is charged
//!   to its process's pid, dropped once `/proc` shows the pid gone. Times are this machine's
//!   wall clock, which every process on it shares.
//! - **PostgreSQL** (`database.rs`): one row per org in the table `okta_lifecycle_budget`, its
//!   state read `FOR UPDATE` and written back in one short transaction per decision and per
//!   answer; each slot a session-level advisory lock. A request in flight is charged to the
//!   database session (`pg_backend_pid()`), dropped once the session is gone from
//!   `pg_stat_activity`. Times are the database server's clock, the one clock every host
//!   shares, so a host whose clock is off neither sends before a reset nor waits past one.
//!
//! A process that dies cannot leave the store locked or its slots held: the kernel drops its
//! `flock`s with its file descriptors, and the server ends its session (its socket closes; a
//! dead host's is dropped by TCP keepalives, which the session asks for) and with it its locks.
//! The requests it had in flight are dropped from the estimate as soon as another process sees
//! that its pid or session is gone (or, should either be reused or unreadable, after
//! [`IN_FLIGHT_EXPIRY`]).
//!
//! Nothing here can hang or fail the embedding program: the store is used from a thread of its
//! own; a store whose lock is held past [`LOCK_PATIENCE`], that fails, or whose database cannot be
//! reached or answers too slowly, is logged and given up, and the process governs its requests
//! alone from then on. A damaged state (a process killed while writing it, or anything else) is
//! started afresh (it is an estimate, relearnt from the next answer), and the values read from it
//! are held to what an answer could have said (a reset at most one window away).

mod database;
mod file;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, WeakUnboundedSender};

use crate::config::PostgresUrl;
use crate::http::governor::{plan_send, BucketState, SendPlan, MAX_WINDOW};
use crate::http::retry::RateLimitHeaders;

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
const TRY_PATIENCE: Duration = Duration::from_millis(5);
/// Successes needed to give back one shared concurrency slot after a concurrency 429.
const SUCCESSES_PER_SLOT: u64 = 20;
/// The store's format.
const VERSION: u32 = 1;

/// Milliseconds since the Unix epoch on this machine's clock.
fn now_ms() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// A moment on the store's clock as a local instant, given the same moment on both clocks.
fn to_instant(ms: u64, now: Instant, now_ms: u64) -> Instant {
    if ms >= now_ms {
        now + Duration::from_millis(ms - now_ms)
    } else {
        now.checked_sub(Duration::from_millis(now_ms - ms)).unwrap_or(now)
    }
}

/// A local instant as a moment on the store's clock.
fn to_ms(instant: Instant, now: Instant, now_ms: u64) -> u64 {
    if instant >= now {
        now_ms.saturating_add(instant.duration_since(now).as_millis() as u64)
    } else {
        now_ms.saturating_sub(now.duration_since(instant).as_millis() as u64)
    }
}

/// Requests one process (or database session) has in flight in one bucket.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
struct InFlight {
    count: u64,
    /// When the count last went up (ms on the store's clock).
    since_ms: u64,
}

/// One bucket as the store keeps it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
struct StoredBucket {
    #[serde(default)]
    limit: Option<u64>,
    #[serde(default)]
    remaining: f64,
    #[serde(default)]
    reset_at_ms: Option<u64>,
    #[serde(default)]
    answered: bool,
    #[serde(default)]
    reset_assumed: bool,
    #[serde(default)]
    reported: Option<u64>,
    #[serde(default)]
    unreported: u64,
    /// Requests in flight by owner: a pid (files) or a database session's pid (PostgreSQL).
    #[serde(default)]
    in_flight: BTreeMap<u32, InFlight>,
}

/// The whole store.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
struct Stored {
    #[serde(default)]
    version: u32,
    #[serde(default)]
    buckets: BTreeMap<String, StoredBucket>,
    /// The shared cap on requests in flight, once a concurrency 429 has lowered it.
    #[serde(default)]
    cap: Option<usize>,
    #[serde(default)]
    successes: u64,
}

impl Stored {
    /// Reads the store's text; anything that is not a store of this version is an empty store.
    fn parse(text: &[u8]) -> Stored {
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
    fn sanitise(&mut self, now_ms: u64, own: u32, alive: &dyn Fn(u32) -> bool) {
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
    fn bucket_state(&self, name: &str, now: Instant, now_ms: u64) -> BucketState {
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
    fn put_bucket(&mut self, name: &str, before: &BucketState, after: &BucketState, turn: &Moment) {
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
    index: usize,
    hold: Hold,
}

/// How a lease holds its slot.
#[derive(Debug)]
enum Hold {
    /// The slot file's `flock`: unlocked and returned to the pool on drop.
    File { file: Option<File>, pool: file::SlotPool },
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
struct Moment {
    /// Now, on this machine's monotonic clock...
    now: Instant,
    /// ...and on the store's clock, in milliseconds since the epoch (every stored time is on it).
    now_ms: u64,
    /// Whom this process's requests are charged to: its pid (files) or its database session.
    owner: u32,
}

/// One turn with the state, under the store's lock.
struct Turn<'a> {
    stored: &'a mut Stored,
    moment: Moment,
    /// Takes the first free slot below a cap, across processes (`None`: all are taken).
    take_slot: &'a mut dyn FnMut(usize) -> Result<Option<SlotLease>, StoreError>,
}

/// Where a store keeps its state and how it holds its slots: the one interface between the
/// decisions, taken alike for every store ([`StoreCore`]), and a storage ([`file::FileStorage`],
/// [`database::DatabaseStorage`]). It is used from the store's thread only.
trait Storage: Send {
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
enum Job {
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

/// The shared store of one org's budget, used by every process that opens the same directory
/// or connects to the same database.
///
/// Its locks and I/O never run on the async runtime's threads: the governor hands them to one
/// thread of the store's own (`SharedBudget::verdict`, `SharedBudget::finish_later`), so a
/// store another process holds locked (a stopped process), or a slow or lost database, delays only
/// the store's thread, and the governor gives the store up after [`LOCK_PATIENCE`] instead of
/// stalling the program.
#[derive(Debug)]
pub struct SharedBudget {
    /// Where the store is, as it may be shown (a directory, or a URL without its password).
    location: String,
    /// Whether the store is a database (a thread that does not answer is then a slow server,
    /// not a lock held).
    database: bool,
    /// The store thread's queue.
    jobs: UnboundedSender<Job>,
    /// Set when the store is given up: by the governor, or by the store's thread with a reason.
    failed: Arc<AtomicBool>,
    /// Why the store's thread gave the store up.
    failure: Arc<Mutex<Option<String>>>,
}

impl SharedBudget {
    /// Opens (creating it if needed, private to the user) the store in `dir` for a client with
    /// at most `max_concurrency` requests in flight. A directory of another user's, or one others
    /// may write in, is refused, and so are links in place of its files.
    pub fn open(dir: &Path, max_concurrency: usize) -> std::io::Result<SharedBudget> {
        let storage = file::FileStorage::open(dir, max_concurrency.max(1))?;
        Self::start(dir.display().to_string(), false, max_concurrency, move |_| Ok(Box::new(storage)))
    }

    /// The store of the org at `org_url` in the PostgreSQL database `database`, for a client with
    /// at most `max_concurrency` requests in flight. Returns at once: the store's thread connects
    /// (and creates the table `okta_lifecycle_budget` if it is missing); a database it cannot
    /// reach, or that refuses it, is logged when the first request would use it, and the client
    /// governs its requests alone. Only a thread that cannot be started is an error.
    pub fn connect(database: &PostgresUrl, org_url: &str, max_concurrency: usize) -> std::io::Result<SharedBudget> {
        let target = database.target().clone();
        let org = org_key(org_url);
        Self::start(database.shown().to_owned(), true, max_concurrency, move |jobs| {
            let storage = database::DatabaseStorage::connect(&target, &org, jobs)?;
            Ok(Box::new(storage))
        })
    }

    /// Starts the store's thread, which opens the storage with `open` and then serves jobs
    /// until the store and every lease of it are dropped.
    fn start(
        location: String,
        database: bool,
        max_concurrency: usize,
        open: impl FnOnce(WeakUnboundedSender<Job>) -> Result<Box<dyn Storage>, StoreError> + Send + 'static,
    ) -> std::io::Result<SharedBudget> {
        let (jobs, queue) = tokio::sync::mpsc::unbounded_channel::<Job>();
        let weak = jobs.downgrade();
        let failed = Arc::new(AtomicBool::new(false));
        let failure = Arc::new(Mutex::new(None));
        let thread = Thread { failed: Arc::clone(&failed), failure: Arc::clone(&failure) };
        let max_concurrency = max_concurrency.max(1);
        std::thread::Builder::new().name("okta-lifecycle-budget".into()).spawn(move || {
            let core = match open(weak) {
                Ok(storage) => Some(StoreCore { storage, max_concurrency, waiting: BTreeSet::new() }),
                Err(error) => {
                    thread.fail(error.to_string());
                    None
                }
            };
            thread.serve(core, queue);
        })?;
        Ok(SharedBudget { location, database, jobs, failed, failure })
    }

    /// Where the store is, as it may be shown in logs: its directory, or its database's URL
    /// with any password replaced by `***`.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Why the store cannot be used, once it has been given up (`None` while it is in use).
    pub(crate) fn failure(&self) -> Option<String> {
        if !self.failed.load(Ordering::Relaxed) {
            return None;
        }
        let reason = self.failure.lock().unwrap_or_else(PoisonError::into_inner).clone();
        Some(reason.unwrap_or_else(|| StoreError::GivenUp.to_string()))
    }

    /// Gives the store up for this process: answers still queued give their slots back without
    /// waiting for its lock, and a database session is closed (which gives back every slot it
    /// held and drops its requests from the others' estimate).
    pub(crate) fn give_up(&self) {
        if !self.failed.swap(true, Ordering::Relaxed) {
            let _ = self.jobs.send(Job::Wake);
        }
    }

    /// One attempt to send a request to `bucket`, decided on the store's thread. Without a
    /// decision within [`LOCK_PATIENCE`] (the thread is waiting on a lock another process holds,
    /// or on a slow database) or with the thread gone, an error.
    pub(crate) async fn verdict(&self, bucket: &'static str, share: f64) -> Result<SharedVerdict, StoreError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        if self.jobs.send(Job::Verdict { bucket, share, reply }).is_err() {
            return Err(StoreError::GivenUp);
        }
        match tokio::time::timeout(LOCK_PATIENCE, answer).await {
            Ok(Ok(verdict)) => verdict,
            Ok(Err(_)) => Err(StoreError::GivenUp),
            Err(_) if self.database => Err(StoreError::Silent),
            Err(_) => Err(StoreError::Busy),
        }
    }

    /// Folds a request's answer into the store on the store's thread, and gives its slot back
    /// there (after the answer is recorded). Never blocks the caller. A store already given up
    /// is not written: the slot is given back at once.
    pub(crate) fn finish_later(
        &self,
        lease: SlotLease,
        bucket: &'static str,
        status: Option<u16>,
        headers: Option<RateLimitHeaders>,
        date: Option<SystemTime>,
    ) {
        if self.failed.load(Ordering::Relaxed) {
            drop(lease);
            return;
        }
        // If the thread is gone the job (and its slot) is dropped with the failed send.
        let _ = self.jobs.send(Job::Finish { lease, bucket, status, headers, date });
    }

    /// The default store of an org: beside the org's default journal,
    /// `$XDG_STATE_HOME/okta-lifecycle/<host>.budget/` (see [`crate::paths`]).
    pub fn default_dir(org_url: &str) -> PathBuf {
        crate::paths::org_state_path(org_url, "budget")
    }

    /// A snapshot of one bucket as the store holds it (tests and diagnostics); `None` when the
    /// store does not know the bucket, or gives no answer within [`LOCK_PATIENCE`].
    pub fn bucket(&self, bucket: &str) -> Option<BucketState> {
        let (reply, answer) = std::sync::mpsc::channel();
        self.jobs.send(Job::Bucket { bucket: bucket.to_owned(), reply }).ok()?;
        answer.recv_timeout(LOCK_PATIENCE).ok().flatten()
    }

    /// The shared cap on requests in flight (this client's own maximum unless lowered); `None`
    /// when the store gives no answer within [`LOCK_PATIENCE`].
    pub fn concurrency_cap(&self) -> Option<usize> {
        let (reply, answer) = std::sync::mpsc::channel();
        self.jobs.send(Job::Cap { reply }).ok()?;
        answer.recv_timeout(LOCK_PATIENCE).ok().flatten()
    }
}

/// The key of an org's row in a database store: its URL's origin (`https://acme.okta.com`, or a
/// simulator's `http://127.0.0.1:8080`).
fn org_key(org_url: &str) -> String {
    match url::Url::parse(org_url) {
        Ok(url) => url.origin().ascii_serialization(),
        Err(_) => org_url.trim_end_matches('/').to_owned(),
    }
}

/// The store's thread's view of the flags it shares with its [`SharedBudget`].
struct Thread {
    failed: Arc<AtomicBool>,
    failure: Arc<Mutex<Option<String>>>,
}

impl Thread {
    /// Gives the store up with a reason the governor logs.
    fn fail(&self, reason: String) {
        let mut failure = self.failure.lock().unwrap_or_else(PoisonError::into_inner);
        failure.get_or_insert(reason);
        self.failed.store(true, Ordering::Relaxed);
    }

    /// Serves jobs until the store and every lease of it are dropped. Once the store is given
    /// up (here, or by the governor), its storage is closed: a database session then ends, which
    /// gives back every slot it held and drops its requests from the others' estimate.
    fn serve(&self, mut core: Option<StoreCore>, mut jobs: UnboundedReceiver<Job>) {
        while let Some(job) = jobs.blocking_recv() {
            if self.failed.load(Ordering::Relaxed) {
                core = None;
            }
            match job {
                Job::Verdict { bucket, share, reply } => {
                    let verdict = match core.as_mut() {
                        Some(core) => core.try_send(bucket, share),
                        None => Err(StoreError::GivenUp),
                    };
                    // A verdict the governor no longer waits for is dropped here, and its slot
                    // with it.
                    let _ = reply.send(verdict);
                }
                Job::Finish { lease, bucket, status, headers, date } => {
                    let Some(store) = core.as_mut() else { continue };
                    if let Err(error) = store.finish(lease, bucket, status, headers, date) {
                        tracing::debug!(error = %error, "the shared rate budget could not record an answer");
                        self.fail(format!("an answer could not be recorded in it: {error}"));
                        core = None;
                    }
                }
                Job::Release(index) => {
                    let Some(store) = core.as_mut() else { continue };
                    if let Err(error) = store.storage.release(index) {
                        self.fail(format!("a concurrency slot could not be given back: {error}"));
                        core = None;
                    }
                }
                Job::Bucket { bucket, reply } => {
                    let _ = reply.send(core.as_mut().and_then(|core| core.bucket(&bucket)));
                }
                Job::Cap { reply } => {
                    let _ = reply.send(core.as_mut().and_then(|core| core.concurrency_cap().ok()));
                }
                Job::Wake => {}
            }
        }
    }
}

/// The slots a process may take now: the shared cap, never more than this client's own.
fn slots_open(stored: &Stored, max_concurrency: usize) -> usize {
    stored.cap.unwrap_or(max_concurrency).clamp(1, max_concurrency)
}

/// The decisions taken under a store's lock, the same for every storage.
struct StoreCore {
    storage: Box<dyn Storage>,
    max_concurrency: usize,
    /// The buckets whose last verdict was to wait: the next is looked for without the lock first.
    waiting: BTreeSet<String>,
}

impl StoreCore {
    /// Runs `change` on the state under the store's lock and writes the result back (see
    /// [`Storage::transact`]).
    fn locked<R>(
        &mut self,
        patience: Duration,
        change: impl FnOnce(&mut Stored, &Moment, &mut dyn FnMut(usize) -> Result<Option<SlotLease>, StoreError>) -> R,
    ) -> Result<R, StoreError> {
        let mut change = Some(change);
        let mut outcome = None;
        self.storage.transact(patience, &mut |turn| {
            if let Some(change) = change.take() {
                outcome = Some(change(&mut *turn.stored, &turn.moment, &mut *turn.take_slot));
            }
            Ok(())
        })?;
        // A storage that let go of its lock without a turn has not decided anything.
        outcome.ok_or(StoreError::Busy)
    }

    /// One attempt to send a request to `bucket`: a free slot under the shared cap and the
    /// bucket's budget. Does not wait for the lock beyond a few milliseconds (`Locked` then).
    fn try_send(&mut self, bucket: &str, share: f64) -> Result<SharedVerdict, StoreError> {
        if self.waiting.contains(bucket) {
            if let Some((stored, moment)) = self.storage.peek()? {
                let state = stored.bucket_state(bucket, moment.now, moment.now_ms);
                if let SendPlan::WaitUntil(at) = plan_send(&state, share, moment.now) {
                    return Ok(SharedVerdict::WaitUntil { at, for_others: state.limit.is_none() });
                }
            }
        }
        let verdict = self.decide(bucket, share);
        if matches!(verdict, Ok(SharedVerdict::WaitUntil { .. })) {
            self.waiting.insert(bucket.to_owned());
        } else {
            self.waiting.remove(bucket);
        }
        verdict
    }

    /// [`StoreCore::try_send`] under the store's lock.
    fn decide(&mut self, bucket: &str, share: f64) -> Result<SharedVerdict, StoreError> {
        let max_concurrency = self.max_concurrency;
        let outcome = self.locked(TRY_PATIENCE, |stored, moment, take_slot| -> Result<SharedVerdict, StoreError> {
            let state = stored.bucket_state(bucket, moment.now, moment.now_ms);
            if let SendPlan::WaitUntil(at) = plan_send(&state, share, moment.now) {
                return Ok(SharedVerdict::WaitUntil { at, for_others: state.limit.is_none() });
            }
            let Some(lease) = take_slot(slots_open(stored, max_concurrency))? else { return Ok(SharedVerdict::Busy) };
            let mut after = state.clone();
            after.on_send(moment.now);
            stored.put_bucket(bucket, &state, &after, moment);
            Ok(SharedVerdict::Go(lease))
        });
        match outcome {
            Ok(verdict) => verdict,
            Err(StoreError::Busy) => Ok(SharedVerdict::Locked),
            Err(error) => Err(error),
        }
    }

    /// Folds a request's answer (or its failure, with `status` None) into the store and gives
    /// its slot back. A concurrency 429 lowers the shared cap by one; successes raise it back.
    fn finish(
        &mut self,
        lease: SlotLease,
        bucket: &str,
        status: Option<u16>,
        headers: Option<RateLimitHeaders>,
        date: Option<SystemTime>,
    ) -> Result<(), StoreError> {
        let max_concurrency = self.max_concurrency;
        let result = self.locked(LOCK_PATIENCE, |stored, moment, _| {
            let before = stored.bucket_state(bucket, moment.now, moment.now_ms);
            let mut after = before.clone();
            after.on_answer(headers, date, moment.now);
            if status.is_some() {
                after.answered = true;
            }
            after.on_done();
            stored.put_bucket(bucket, &before, &after, moment);
            let cap = slots_open(stored, max_concurrency);
            match (status, headers) {
                (Some(429), Some(h)) if h.limit == 0 => {
                    if cap > 1 {
                        tracing::debug!(cap = cap - 1, "concurrency limit hit: fewer requests in flight in the store");
                    }
                    stored.cap = Some(cap.saturating_sub(1).max(1));
                    stored.successes = 0;
                }
                (Some(status), _) if status < 400 && stored.cap.is_some() => {
                    stored.successes = stored.successes.saturating_add(1);
                    if stored.successes >= SUCCESSES_PER_SLOT {
                        stored.successes = 0;
                        stored.cap = (cap + 1 < max_concurrency).then_some(cap + 1);
                    }
                }
                _ => {}
            }
        });
        drop(lease);
        result
    }

    fn bucket(&mut self, bucket: &str) -> Option<BucketState> {
        self.locked(LOCK_PATIENCE, |stored, moment, _| {
            stored.buckets.contains_key(bucket).then(|| stored.bucket_state(bucket, moment.now, moment.now_ms))
        })
        .ok()
        .flatten()
    }

    fn concurrency_cap(&mut self) -> Result<usize, StoreError> {
        let max_concurrency = self.max_concurrency;
        self.locked(LOCK_PATIENCE, |stored, _, _| slots_open(stored, max_concurrency))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn headers(limit: u64, remaining: u64, reset_epoch: u64) -> RateLimitHeaders {
        RateLimitHeaders { limit, remaining, reset_epoch }
    }

    pub(super) fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("okta-lifecycle-shared-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    /// The decisions over a file store in `dir`, without the store's thread.
    pub(super) fn core(dir: &Path, max_concurrency: usize) -> std::io::Result<StoreCore> {
        let storage = file::FileStorage::open(dir, max_concurrency)?;
        Ok(StoreCore { storage: Box::new(storage), max_concurrency, waiting: BTreeSet::new() })
    }

    pub(super) fn go(verdict: SharedVerdict) -> SlotLease {
        match verdict {
            SharedVerdict::Go(lease) => lease,
            other => panic!("expected to send, got {other:?}"),
        }
    }

    #[test]
    fn two_stores_on_one_directory_share_what_is_learnt() {
        let dir = temp_dir("learn");
        let mut first = core(&dir, 4).unwrap();
        let mut second = core(&dir, 4).unwrap();
        let now = SystemTime::now();
        let epoch = now.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
        let lease = go(first.try_send("/api/v1/users", 1.0).unwrap());
        // The other process sees the probe in flight and waits for its answer.
        assert!(matches!(
            second.try_send("/api/v1/users", 1.0).unwrap(),
            SharedVerdict::WaitUntil { for_others: true, .. }
        ));
        first.finish(lease, "/api/v1/users", Some(200), Some(headers(10, 2, epoch + 30)), Some(now)).unwrap();
        let learnt = second.bucket("/api/v1/users").unwrap();
        assert_eq!(learnt.limit, Some(10));
        assert_eq!(learnt.remaining, 2.0);
        assert_eq!(learnt.in_flight, 0);
        // Two left: one each, then both wait for the reset.
        let a = go(first.try_send("/api/v1/users", 1.0).unwrap());
        let b = go(second.try_send("/api/v1/users", 1.0).unwrap());
        assert!(matches!(first.try_send("/api/v1/users", 1.0).unwrap(), SharedVerdict::WaitUntil { .. }));
        assert!(matches!(
            second.try_send("/api/v1/users", 1.0).unwrap(),
            SharedVerdict::WaitUntil { for_others: false, .. }
        ));
        assert_eq!(second.bucket("/api/v1/users").unwrap().in_flight, 2);
        drop((a, b));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn slots_are_shared_and_given_back() {
        let dir = temp_dir("slots");
        let mut first = core(&dir, 2).unwrap();
        let mut second = core(&dir, 2).unwrap();
        // A bucket that answers without rate-limit headers is limited by the slots alone.
        let probe = go(first.try_send("/api/v1", 1.0).unwrap());
        first.finish(probe, "/api/v1", Some(200), None, None).unwrap();
        let a = go(first.try_send("/api/v1", 1.0).unwrap());
        let b = go(second.try_send("/api/v1", 1.0).unwrap());
        assert!(matches!(second.try_send("/api/v1", 1.0).unwrap(), SharedVerdict::Busy));
        first.finish(a, "/api/v1", Some(200), None, None).unwrap();
        let c = go(second.try_send("/api/v1", 1.0).unwrap());
        drop((b, c));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_concurrency_429_lowers_the_shared_cap_and_successes_raise_it() {
        let dir = temp_dir("cap");
        let mut first = core(&dir, 3).unwrap();
        let mut second = core(&dir, 3).unwrap();
        let lease = go(first.try_send("/api/v1", 1.0).unwrap());
        first.finish(lease, "/api/v1", Some(429), Some(headers(0, 0, 0)), None).unwrap();
        assert_eq!(second.concurrency_cap().unwrap(), 2);
        for _ in 0..SUCCESSES_PER_SLOT {
            let lease = go(second.try_send("/api/v1", 1.0).unwrap());
            second.finish(lease, "/api/v1", Some(200), None, None).unwrap();
        }
        assert_eq!(first.concurrency_cap().unwrap(), 3);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_store_thread_answers_and_a_given_up_store_is_left_alone() {
        let dir = temp_dir("thread");
        let store = SharedBudget::open(&dir, 2).unwrap();
        assert_eq!(store.location(), dir.display().to_string());
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let lease = go(runtime.block_on(store.verdict("/api/v1", 1.0)).unwrap());
        assert_eq!(store.bucket("/api/v1").map(|bucket| bucket.in_flight), Some(1));
        store.finish_later(lease, "/api/v1", Some(200), None, None);
        assert_eq!(store.bucket("/api/v1").map(|bucket| bucket.in_flight), Some(0));
        assert_eq!(store.concurrency_cap(), Some(2));
        assert_eq!(store.failure(), None);
        store.give_up();
        assert_eq!(store.failure().as_deref(), Some("it was given up"));
        assert!(matches!(runtime.block_on(store.verdict("/api/v1", 1.0)), Err(StoreError::GivenUp)));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn no_stored_state_makes_senders_wait_for_ever() {
        let now = now_ms();
        let mut stored = Stored::default();
        // A limit of 0, which no answer gives, and a count from the future of a live owner on a
        // bucket that has not answered yet.
        stored.buckets.entry("/api/v1/users".into()).or_default().limit = Some(0);
        let probe = stored.buckets.entry("/api/v1/groups".into()).or_default();
        probe.in_flight.insert(1, InFlight { count: 1, since_ms: now + 10_000_000 });
        stored.sanitise(now, std::process::id(), &|_| true);
        let instant = Instant::now();
        for bucket in ["/api/v1/users", "/api/v1/groups"] {
            let state = stored.bucket_state(bucket, instant, now);
            assert_eq!(plan_send(&state, 1.0, instant), SendPlan::Go, "{bucket}: {state:?}");
        }
    }

    #[test]
    fn an_old_in_flight_count_expires_even_if_its_owner_is_alive() {
        let mut stored = Stored::default();
        let now = now_ms();
        let bucket = stored.buckets.entry("/api/v1/users".into()).or_default();
        bucket.in_flight.insert(1, InFlight { count: 2, since_ms: now - IN_FLIGHT_EXPIRY.as_millis() as u64 - 1 });
        bucket.in_flight.insert(7, InFlight { count: 1, since_ms: now });
        stored.sanitise(now, 7, &|_| true);
        assert_eq!(stored.buckets["/api/v1/users"].in_flight.len(), 1);
    }

    #[test]
    fn owners_that_are_gone_have_nothing_in_flight_and_each_is_asked_about_once() {
        let mut stored = Stored::default();
        let now = now_ms();
        for name in ["/api/v1/users", "/api/v1/groups"] {
            let bucket = stored.buckets.entry(name.into()).or_default();
            for owner in [7, 8, 9] {
                bucket.in_flight.insert(owner, InFlight { count: 1, since_ms: now });
            }
        }
        let asked = std::cell::RefCell::new(Vec::new());
        stored.sanitise(now, 7, &|owner| {
            asked.borrow_mut().push(owner);
            owner == 8
        });
        assert_eq!(asked.into_inner(), [8, 9], "its own owner is not asked about; the others once");
        for bucket in stored.buckets.values() {
            assert_eq!(bucket.in_flight.keys().copied().collect::<Vec<_>>(), [7, 8]);
        }
    }

    #[test]
    fn orgs_are_keyed_by_their_origin() {
        assert_eq!(org_key("https://acme.okta.com/"), "https://acme.okta.com");
        assert_eq!(org_key("https://ACME.okta.com"), "https://acme.okta.com");
        assert_eq!(org_key("http://127.0.0.1:8080/api"), "http://127.0.0.1:8080");
    }

    #[test]
    fn wall_clock_and_instants_round_trip() {
        let now = Instant::now();
        let ms = 1_000_000_000;
        for offset in [0u64, 1, 250, 65_000] {
            assert_eq!(to_ms(to_instant(ms + offset, now, ms), now, ms), ms + offset);
            assert_eq!(to_ms(to_instant(ms - offset, now, ms), now, ms), ms - offset);
        }
    }
}
