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
mod store;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, WeakUnboundedSender};

use crate::config::PostgresUrl;
use crate::http::budget::{plan_send, BucketState, SendPlan};
use crate::http::retry::RateLimitHeaders;
use store::{Job, Moment, Storage, Stored, SUCCESSES_PER_SLOT, TRY_PATIENCE};
pub(crate) use store::{SharedVerdict, SlotLease, StoreError};
pub use store::{IN_FLIGHT_EXPIRY, LOCK_PATIENCE, STORE_PATIENCE};

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
    use std::time::Instant;

    use super::store::{now_ms, to_instant, to_ms, InFlight};
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
