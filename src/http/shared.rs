//! The shared budget: what the governor learns of an org's rate limits, kept in a small file
//! store so that every process on the machine talking to the same org shares it.
//!
//! Ansible runs each task of each host in a fresh process, twenty at once with `forks = 20`;
//! two scripts may run against one org side by side. Each of them alone believes it owns the
//! whole bucket and the org's concurrency limit, and together they run into Okta's 429s. With a
//! shared store they decide as one client would:
//!
//! - `state.json` holds each bucket's learnt limit, remaining estimate, reset (wall-clock
//!   milliseconds, which every process on the machine shares), the lowest count Okta reported in
//!   the window and the requests whose count it did not report, the requests each
//!   process has in flight in it, and the concurrency cap lowered by concurrency 429s. It is
//!   read and rewritten in place under an exclusive `flock` on the file itself; within one
//!   process a mutex orders the tasks, so only processes ever wait on the `flock`.
//! - `slot-N.lock` are the concurrency slots: a request holds one with `flock` while it is in
//!   flight, so the processes together never have more requests in flight than the cap.
//!
//! A killed process cannot leave the store locked: the kernel drops its `flock`s with its file
//! descriptors. The requests it had in flight are dropped from the estimate as soon as another
//! process sees in `/proc` that its pid is gone (or, should the pid be reused or `/proc` be
//! missing, after [`IN_FLIGHT_EXPIRY`]). Nothing here can hang or fail the embedding program: a store that
//! cannot be locked within [`LOCK_PATIENCE`] or read is logged and the request is governed by
//! the process's own state instead; a damaged `state.json` (a process killed while writing it,
//! or anything else) is started afresh (it is an estimate, relearnt from the next answer), and the values read from it are held to what an
//! answer could have said (a reset at most one window away).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use crate::http::governor::{plan_send, BucketState, SendPlan, MAX_WINDOW};
use crate::http::retry::RateLimitHeaders;

/// How long one process waits for the store's lock before governing a request alone. The lock
/// is held for microseconds; only a stopped or wedged process holds it longer.
pub const LOCK_PATIENCE: Duration = Duration::from_secs(2);
/// How long the governor waits, in all, on what other processes hold for one request: the
/// store's slots (every one under the cap taken) and another process's first request to a new
/// bucket. Past it (a stopped process holds them), the process governs its requests alone.
pub const STORE_PATIENCE: Duration = Duration::from_secs(5);
/// A process's in-flight count older than this is dropped even if its pid looks alive (the pid
/// may have been reused). Longer than any request: Okta's windows are a minute and requests
/// time out well within this.
pub const IN_FLIGHT_EXPIRY: Duration = Duration::from_secs(300);
/// The most that is read of `state.json`; a larger file is not the store's and is replaced.
const MAX_STATE_BYTES: u64 = 1 << 20;
/// Successes needed to give back one shared concurrency slot after a concurrency 429.
const SUCCESSES_PER_SLOT: u64 = 20;
/// The store's format.
const VERSION: u32 = 1;

/// Milliseconds since the Unix epoch on this machine's clock.
fn now_ms() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// A wall-clock moment as a local instant, given the same moment on both clocks.
fn to_instant(ms: u64, now: Instant, now_ms: u64) -> Instant {
    if ms >= now_ms {
        now + Duration::from_millis(ms - now_ms)
    } else {
        now.checked_sub(Duration::from_millis(now_ms - ms)).unwrap_or(now)
    }
}

/// A local instant as a wall-clock moment.
fn to_ms(instant: Instant, now: Instant, now_ms: u64) -> u64 {
    if instant >= now {
        now_ms.saturating_add(instant.duration_since(now).as_millis() as u64)
    } else {
        now_ms.saturating_sub(now.duration_since(instant).as_millis() as u64)
    }
}

/// Whether a process with this pid exists and runs, as far as this machine's `/proc` tells. A
/// stopped process (Ctrl-Z, `docker pause`, a debugger: state `T` or `t`) sends nothing, so its
/// requests do not count as in flight while it is stopped. Where there is no `/proc`, every pid
/// counts as alive and only [`IN_FLIGHT_EXPIRY`] drops a count.
fn alive(pid: u32) -> bool {
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return true;
    }
    match std::fs::read_to_string(proc.join(pid.to_string()).join("stat")) {
        // `pid (comm) state ...`: the state follows the last ')' (comm may hold one).
        Ok(stat) => {
            !matches!(stat.rsplit_once(')').and_then(|(_, rest)| rest.trim_start().chars().next()), Some('T' | 't'))
        }
        Err(_) => proc.join(pid.to_string()).exists(),
    }
}

/// Requests one process has in flight in one bucket.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
struct InFlight {
    count: u64,
    /// When the count last went up (wall-clock ms).
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

    /// Drops what cannot be believed: in-flight counts of processes that are gone or too old,
    /// values no answer could have given.
    fn sanitise(&mut self, now_ms: u64, own_pid: u32) {
        let horizon = now_ms + (MAX_WINDOW + Duration::from_secs(1)).as_millis() as u64;
        // Each process is looked up once, however many buckets it has requests in.
        let pids: BTreeSet<u32> = self.buckets.values().flat_map(|bucket| bucket.in_flight.keys().copied()).collect();
        let live: BTreeSet<u32> = pids.into_iter().filter(|&pid| pid == own_pid || alive(pid)).collect();
        for bucket in self.buckets.values_mut() {
            // A limit of 0 is no answer's (a concurrency 429 carries no bucket): it would make
            // every sender wait for ever.
            if !bucket.remaining.is_finite() || bucket.limit == Some(0) {
                *bucket = StoredBucket { in_flight: std::mem::take(&mut bucket.in_flight), ..StoredBucket::default() };
            }
            bucket.reset_at_ms = bucket.reset_at_ms.map(|ms| ms.min(horizon));
            bucket.in_flight.retain(|&pid, entry| {
                entry.count > 0
                    // A count from the future (a clock set back, a forged file) would never expire.
                    && entry.since_ms <= now_ms.saturating_add(LOCK_PATIENCE.as_millis() as u64)
                    && now_ms.saturating_sub(entry.since_ms) < IN_FLIGHT_EXPIRY.as_millis() as u64
                    && live.contains(&pid)
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

    /// Writes a bucket back, charging the change in requests in flight to this process.
    fn put_bucket(&mut self, name: &str, before: &BucketState, after: &BucketState, now: Instant, now_ms: u64) {
        let pid = std::process::id();
        let stored = self.buckets.entry(name.to_owned()).or_default();
        stored.limit = after.limit;
        stored.remaining = after.remaining;
        stored.reset_at_ms = after.reset_at.map(|at| to_ms(at, now, now_ms));
        stored.answered = after.answered;
        stored.reset_assumed = after.reset_assumed;
        stored.reported = after.reported;
        stored.unreported = after.unreported;
        let own = stored.in_flight.entry(pid).or_default();
        if after.in_flight > before.in_flight {
            own.count = own.count.saturating_add(after.in_flight - before.in_flight);
            own.since_ms = now_ms;
        } else {
            own.count = own.count.saturating_sub(before.in_flight - after.in_flight);
        }
        if own.count == 0 {
            stored.in_flight.remove(&pid);
        }
    }
}

/// Why the store could not be used for a request; the governor then decides alone.
#[derive(Debug)]
pub(crate) enum StoreError {
    /// Another process held the lock for longer than [`LOCK_PATIENCE`].
    Busy,
    Io(std::io::Error),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Busy => write!(f, "its lock was held for more than {} s", LOCK_PATIENCE.as_secs()),
            StoreError::Io(error) => write!(f, "{error}"),
        }
    }
}

impl From<std::io::Error> for StoreError {
    fn from(error: std::io::Error) -> Self {
        StoreError::Io(error)
    }
}

/// Opens (creating it, private to the user) one of the store's files. A symbolic link in its
/// place is refused (`O_NOFOLLOW`): writing through it would overwrite whatever it points to. So
/// is anything but a regular file (a FIFO would block the open).
fn open_lock_file(path: &Path) -> std::io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(|error| match error.raw_os_error() {
            Some(libc::ELOOP) => std::io::Error::other(format!("{} is a symbolic link", path.display())),
            _ => error,
        })?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other(format!("{} is not a regular file", path.display())));
    }
    Ok(file)
}

/// The store's directory must be this user's alone: created private (0700) if missing, and
/// refused when another user owns it or others may write in it (they could then plant links
/// or files the store would use).
fn check_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let metadata = std::fs::metadata(dir)?;
    // This process's effective user: the owner of its /proc entry (Linux, the package's
    // platform; elsewhere the owner is not checked, the mode still is).
    let me = std::fs::metadata("/proc/self").map(|own| own.uid()).ok();
    if !metadata.is_dir() {
        return Err(std::io::Error::other(format!("{} is not a directory", dir.display())));
    }
    if me.is_some_and(|me| metadata.uid() != me) {
        return Err(std::io::Error::other(format!(
            "{} belongs to another user (uid {}); the store must be this user's own",
            dir.display(),
            metadata.uid()
        )));
    }
    if metadata.mode() & 0o022 != 0 {
        return Err(std::io::Error::other(format!(
            "{} may be written by others (mode {:o}); make it private (chmod 700)",
            dir.display(),
            metadata.mode() & 0o777
        )));
    }
    Ok(())
}

/// The slot files this process has open and does not hold, by index (`None`: not opened yet, or
/// held by a lease of this process).
type SlotPool = Arc<Mutex<Vec<Option<File>>>>;

/// A concurrency slot held across processes while a request is in flight: the slot file's
/// `flock`, given back to the pool (unlocked) when the lease is dropped.
#[derive(Debug)]
pub(crate) struct SlotLease {
    index: usize,
    file: Option<File>,
    pool: SlotPool,
}

impl Drop for SlotLease {
    fn drop(&mut self) {
        if let Some(file) = self.file.take() {
            // Closing the file would unlock it too; the pool keeps it open for the next request.
            if file.unlock().is_ok() {
                let mut pool = self.pool.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(entry) = pool.get_mut(self.index) {
                    *entry = Some(file);
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

/// The file store of one org's budget, shared by every process that opens the same directory.
///
/// Its file locks and file I/O never run on the async runtime's threads: the governor hands
/// them to one thread of the store's own ([`SharedBudget::verdict`],
/// [`SharedBudget::finish_later`]), so a store another process holds locked (a stopped process)
/// delays only the store's thread, and the governor gives the store up after
/// [`LOCK_PATIENCE`] instead of stalling the program.
#[derive(Debug)]
pub struct SharedBudget {
    core: Arc<StoreCore>,
    /// The store thread's queue (started with the first job).
    worker: Mutex<Option<std::sync::mpsc::Sender<Job>>>,
    /// Set when the store thread could not record an answer: the governor stops using the store.
    failed: Arc<AtomicBool>,
}

/// What the store's thread does: decide a send, or fold an answer in.
enum Job {
    Verdict {
        bucket: &'static str,
        share: f64,
        reply: tokio::sync::oneshot::Sender<Result<SharedVerdict, StoreError>>,
    },
    Finish {
        lease: SlotLease,
        bucket: &'static str,
        status: Option<u16>,
        headers: Option<RateLimitHeaders>,
        date: Option<SystemTime>,
    },
}

/// The store's files and the decisions taken under their lock.
#[derive(Debug)]
struct StoreCore {
    dir: PathBuf,
    max_concurrency: usize,
    /// `state.json`, open for the store's lifetime; the mutex lets one thread of this process at
    /// a time take its `flock`.
    state: Mutex<File>,
    slots: SlotPool,
}

/// Releases the state file's `flock` when dropped.
struct Unlock<'a>(&'a File);

impl Drop for Unlock<'_> {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

impl SharedBudget {
    /// Opens (creating it if needed, private to the user) the store in `dir` for a client with
    /// at most `max_concurrency` requests in flight. A directory of another user's, or one others
    /// may write in, is refused, and so are links in place of its files.
    pub fn open(dir: &Path, max_concurrency: usize) -> std::io::Result<SharedBudget> {
        check_private_dir(dir)?;
        let state = open_lock_file(&dir.join("state.json"))?;
        let max_concurrency = max_concurrency.max(1);
        let core = StoreCore {
            dir: dir.to_owned(),
            max_concurrency,
            state: Mutex::new(state),
            slots: Arc::new(Mutex::new((0..max_concurrency).map(|_| None).collect())),
        };
        Ok(SharedBudget { core: Arc::new(core), worker: Mutex::new(None), failed: Arc::new(AtomicBool::new(false)) })
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.core.dir
    }

    /// Whether the store has been given up (an answer its thread could not record, or the
    /// governor's patience ran out).
    pub(crate) fn has_failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    /// Gives the store up for this process: answers still queued give their slots back without
    /// waiting for its lock.
    pub(crate) fn give_up(&self) {
        self.failed.store(true, Ordering::Relaxed);
    }

    /// Queues a job for the store's thread, starting it if needed. False when the thread is gone.
    fn submit(&self, job: Job) -> bool {
        let mut worker = self.worker.lock().unwrap_or_else(PoisonError::into_inner);
        if worker.is_none() {
            let (sender, receiver) = std::sync::mpsc::channel::<Job>();
            let core = Arc::clone(&self.core);
            let failed = Arc::clone(&self.failed);
            let started = std::thread::Builder::new()
                .name("okta-lifecycle-budget".into())
                .spawn(move || serve(&core, &failed, receiver));
            if started.is_err() {
                return false;
            }
            *worker = Some(sender);
        }
        worker.as_ref().is_some_and(|sender| sender.send(job).is_ok())
    }

    /// One attempt to send a request to `bucket`, decided on the store's thread; `None` when no
    /// decision came within [`LOCK_PATIENCE`] (the thread is waiting on a lock another process
    /// holds) or the thread is gone.
    pub(crate) async fn verdict(&self, bucket: &'static str, share: f64) -> Option<Result<SharedVerdict, StoreError>> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        if !self.submit(Job::Verdict { bucket, share, reply }) {
            return None;
        }
        tokio::time::timeout(LOCK_PATIENCE, answer).await.ok()?.ok()
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
        if self.has_failed() {
            drop(lease);
            return;
        }
        // If the thread is gone the job (and its slot) is dropped with the failed send.
        let _ = self.submit(Job::Finish { lease, bucket, status, headers, date });
    }

    /// The default store of an org: beside the org's default journal,
    /// `$XDG_STATE_HOME/okta-lifecycle/<host>.budget/` (see [`crate::paths`]).
    pub fn default_dir(org_url: &str) -> PathBuf {
        crate::paths::org_state_path(org_url, "budget")
    }

    /// A snapshot of one bucket as the store holds it (tests and diagnostics).
    pub fn bucket(&self, bucket: &str) -> Option<BucketState> {
        self.core.bucket(bucket)
    }

    /// The shared cap on requests in flight (this client's own maximum unless lowered).
    pub fn concurrency_cap(&self) -> usize {
        self.core.concurrency_cap()
    }
}

/// The store's thread: serves jobs until the store is dropped. An answer it cannot record gives
/// the store up for this process (logged by the governor), so that later answers are not queued
/// behind a lock another process holds.
fn serve(core: &StoreCore, failed: &AtomicBool, jobs: std::sync::mpsc::Receiver<Job>) {
    for job in jobs {
        match job {
            Job::Verdict { bucket, share, reply } => {
                // Once given up, the governor stops asking; a late question is answered with
                // the failure.
                let verdict =
                    if failed.load(Ordering::Relaxed) { Err(StoreError::Busy) } else { core.try_send(bucket, share) };
                let _ = reply.send(verdict);
            }
            Job::Finish { lease, bucket, status, headers, date } => {
                if failed.load(Ordering::Relaxed) {
                    drop(lease);
                } else if let Err(error) = core.finish(lease, bucket, status, headers, date) {
                    tracing::debug!(error = %error, "the shared rate budget could not record an answer");
                    failed.store(true, Ordering::Relaxed);
                }
            }
        }
    }
}

impl StoreCore {
    /// Runs `change` on the stored state under the lock and writes the result back. Waits for
    /// another process's `flock` at most `patience` (it is only ever held for a read and a
    /// write, so the wait yields, then naps a fifth of a millisecond at a time).
    fn locked<R>(&self, patience: Duration, change: impl FnOnce(&mut Stored) -> R) -> Result<R, StoreError> {
        let file = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let started = Instant::now();
        let mut tries = 0u32;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) => {
                    if started.elapsed() >= patience {
                        return Err(StoreError::Busy);
                    }
                    tries += 1;
                    if tries < 50 {
                        std::thread::yield_now();
                    } else {
                        std::thread::sleep(Duration::from_micros(200));
                    }
                }
                Err(std::fs::TryLockError::Error(error)) => return Err(error.into()),
            }
        }
        let _unlock = Unlock(&file);
        let mut text = Vec::new();
        (&*file).seek(SeekFrom::Start(0))?;
        (&*file).take(MAX_STATE_BYTES + 1).read_to_end(&mut text)?;
        if text.len() as u64 > MAX_STATE_BYTES {
            text.clear();
        }
        let mut stored = Stored::parse(&text);
        stored.sanitise(now_ms(), std::process::id());
        let before = stored.clone();
        let result = change(&mut stored);
        if stored != before || text.is_empty() {
            let bytes = serde_json::to_vec(&stored).map_err(std::io::Error::other)?;
            (&*file).seek(SeekFrom::Start(0))?;
            (&*file).write_all(&bytes)?;
            file.set_len(bytes.len() as u64)?;
        }
        Ok(result)
    }

    /// Takes the first free slot below `cap`, across processes.
    fn take_slot(&self, cap: usize) -> std::io::Result<Option<SlotLease>> {
        let mut pool = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        for index in 0..cap.min(pool.len()) {
            let file = match pool[index].take() {
                Some(file) => file,
                // Not opened yet, or held by this process already (then the pool's entry is
                // empty and opening it again only finds it locked).
                None => open_lock_file(&self.dir.join(format!("slot-{index}.lock")))?,
            };
            match file.try_lock() {
                Ok(()) => return Ok(Some(SlotLease { index, file: Some(file), pool: Arc::clone(&self.slots) })),
                Err(std::fs::TryLockError::WouldBlock) => pool[index] = Some(file),
                Err(std::fs::TryLockError::Error(error)) => return Err(error),
            }
        }
        Ok(None)
    }

    /// The slots a process may take now: the shared cap, never more than this client's own.
    fn cap(&self, stored: &Stored) -> usize {
        stored.cap.unwrap_or(self.max_concurrency).clamp(1, self.max_concurrency)
    }

    /// One attempt to send a request to `bucket`: a free slot under the shared cap and the
    /// bucket's budget. Does not wait for the lock beyond a few milliseconds (`Locked` then).
    fn try_send(&self, bucket: &str, share: f64) -> Result<SharedVerdict, StoreError> {
        let outcome = self.locked(Duration::from_millis(5), |stored| -> std::io::Result<SharedVerdict> {
            let now = Instant::now();
            let now_ms = now_ms();
            let state = stored.bucket_state(bucket, now, now_ms);
            match plan_send(&state, share, now) {
                SendPlan::WaitUntil(at) => {
                    return Ok(SharedVerdict::WaitUntil { at, for_others: state.limit.is_none() });
                }
                SendPlan::Go => {}
            }
            let Some(lease) = self.take_slot(self.cap(stored))? else { return Ok(SharedVerdict::Busy) };
            let mut after = state.clone();
            after.on_send(now);
            stored.put_bucket(bucket, &state, &after, now, now_ms);
            Ok(SharedVerdict::Go(lease))
        });
        match outcome {
            Ok(verdict) => Ok(verdict?),
            Err(StoreError::Busy) => Ok(SharedVerdict::Locked),
            Err(error) => Err(error),
        }
    }

    /// Folds a request's answer (or its failure, with `status` None) into the store and gives
    /// its slot back. A concurrency 429 lowers the shared cap by one; successes raise it back.
    fn finish(
        &self,
        lease: SlotLease,
        bucket: &str,
        status: Option<u16>,
        headers: Option<RateLimitHeaders>,
        date: Option<SystemTime>,
    ) -> Result<(), StoreError> {
        let result = self.locked(LOCK_PATIENCE, |stored| {
            let now = Instant::now();
            let now_ms = now_ms();
            let before = stored.bucket_state(bucket, now, now_ms);
            let mut after = before.clone();
            after.on_answer(headers, date, now);
            if status.is_some() {
                after.answered = true;
            }
            after.on_done();
            stored.put_bucket(bucket, &before, &after, now, now_ms);
            let cap = self.cap(stored);
            match (status, headers) {
                (Some(429), Some(h)) if h.limit == 0 => {
                    if cap > 1 {
                        tracing::debug!(
                            cap = cap - 1,
                            "concurrency limit hit: fewer requests in flight on this machine"
                        );
                    }
                    stored.cap = Some(cap.saturating_sub(1).max(1));
                    stored.successes = 0;
                }
                (Some(status), _) if status < 400 && stored.cap.is_some() => {
                    stored.successes = stored.successes.saturating_add(1);
                    if stored.successes >= SUCCESSES_PER_SLOT {
                        stored.successes = 0;
                        stored.cap = (cap + 1 < self.max_concurrency).then_some(cap + 1);
                    }
                }
                _ => {}
            }
        });
        drop(lease);
        result
    }

    fn bucket(&self, bucket: &str) -> Option<BucketState> {
        self.locked(LOCK_PATIENCE, |stored| {
            stored.buckets.contains_key(bucket).then(|| stored.bucket_state(bucket, Instant::now(), now_ms()))
        })
        .ok()
        .flatten()
    }

    fn concurrency_cap(&self) -> usize {
        self.locked(LOCK_PATIENCE, |stored| self.cap(stored)).unwrap_or(self.max_concurrency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(limit: u64, remaining: u64, reset_epoch: u64) -> RateLimitHeaders {
        RateLimitHeaders { limit, remaining, reset_epoch }
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("okta-lifecycle-shared-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn go(verdict: SharedVerdict) -> SlotLease {
        match verdict {
            SharedVerdict::Go(lease) => lease,
            other => panic!("expected to send, got {other:?}"),
        }
    }

    #[test]
    fn links_and_directories_others_control_are_refused_and_nothing_is_written_through_them() {
        use std::os::unix::fs::PermissionsExt;
        let dir = temp_dir("links");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        let victim = dir.with_extension("victim");
        std::fs::write(&victim, b"precious").unwrap();
        std::os::unix::fs::symlink(&victim, dir.join("state.json")).unwrap();
        let error = SharedBudget::open(&dir, 2).unwrap_err();
        assert!(error.to_string().contains("symbolic link"), "{error}");
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");

        // A slot file planted as a link: the request is not sent through the store.
        std::fs::remove_file(dir.join("state.json")).unwrap();
        std::os::unix::fs::symlink(&victim, dir.join("slot-0.lock")).unwrap();
        let store = SharedBudget::open(&dir, 2).unwrap();
        assert!(store.core.try_send("/api/v1/users", 1.0).is_err(), "the planted slot is refused");
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        std::fs::remove_file(&victim).unwrap();

        // A directory others may write in.
        let open = temp_dir("world-writable");
        std::fs::create_dir_all(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let error = SharedBudget::open(&open, 2).unwrap_err();
        assert!(error.to_string().contains("written by others"), "{error}");
        assert!(!open.join("state.json").exists());
        // A new one is created private.
        let fresh = temp_dir("fresh");
        SharedBudget::open(&fresh, 2).unwrap();
        let mode = std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        // A FIFO in place of the state file is refused at once, not waited on.
        let fifo_dir = temp_dir("fifo");
        std::fs::create_dir_all(&fifo_dir).unwrap();
        std::fs::set_permissions(&fifo_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        let made = std::process::Command::new("mkfifo").arg(fifo_dir.join("state.json")).status().unwrap();
        assert!(made.success());
        let error = SharedBudget::open(&fifo_dir, 2).unwrap_err();
        assert!(error.to_string().contains("not a regular file"), "{error}");
        for dir in [dir, open, fresh, fifo_dir] {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    #[test]
    fn two_stores_on_one_directory_share_what_is_learnt() {
        let dir = temp_dir("learn");
        let first = SharedBudget::open(&dir, 4).unwrap();
        let second = SharedBudget::open(&dir, 4).unwrap();
        let now = SystemTime::now();
        let epoch = now.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
        let lease = go(first.core.try_send("/api/v1/users", 1.0).unwrap());
        // The other process sees the probe in flight and waits for its answer.
        assert!(matches!(
            second.core.try_send("/api/v1/users", 1.0).unwrap(),
            SharedVerdict::WaitUntil { for_others: true, .. }
        ));
        first.core.finish(lease, "/api/v1/users", Some(200), Some(headers(10, 2, epoch + 30)), Some(now)).unwrap();
        let learnt = second.bucket("/api/v1/users").unwrap();
        assert_eq!(learnt.limit, Some(10));
        assert_eq!(learnt.remaining, 2.0);
        assert_eq!(learnt.in_flight, 0);
        // Two left: one each, then both wait for the reset.
        let a = go(first.core.try_send("/api/v1/users", 1.0).unwrap());
        let b = go(second.core.try_send("/api/v1/users", 1.0).unwrap());
        assert!(matches!(first.core.try_send("/api/v1/users", 1.0).unwrap(), SharedVerdict::WaitUntil { .. }));
        assert!(matches!(
            second.core.try_send("/api/v1/users", 1.0).unwrap(),
            SharedVerdict::WaitUntil { for_others: false, .. }
        ));
        assert_eq!(second.bucket("/api/v1/users").unwrap().in_flight, 2);
        drop((a, b));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn slots_are_shared_and_given_back() {
        let dir = temp_dir("slots");
        let first = SharedBudget::open(&dir, 2).unwrap();
        let second = SharedBudget::open(&dir, 2).unwrap();
        // A bucket that answers without rate-limit headers is limited by the slots alone.
        let probe = go(first.core.try_send("/api/v1", 1.0).unwrap());
        first.core.finish(probe, "/api/v1", Some(200), None, None).unwrap();
        let a = go(first.core.try_send("/api/v1", 1.0).unwrap());
        let b = go(second.core.try_send("/api/v1", 1.0).unwrap());
        assert!(matches!(second.core.try_send("/api/v1", 1.0).unwrap(), SharedVerdict::Busy));
        first.core.finish(a, "/api/v1", Some(200), None, None).unwrap();
        let c = go(second.core.try_send("/api/v1", 1.0).unwrap());
        drop((b, c));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_concurrency_429_lowers_the_shared_cap_and_successes_raise_it() {
        let dir = temp_dir("cap");
        let first = SharedBudget::open(&dir, 3).unwrap();
        let second = SharedBudget::open(&dir, 3).unwrap();
        let lease = go(first.core.try_send("/api/v1", 1.0).unwrap());
        first.core.finish(lease, "/api/v1", Some(429), Some(headers(0, 0, 0)), None).unwrap();
        assert_eq!(second.concurrency_cap(), 2);
        for _ in 0..SUCCESSES_PER_SLOT {
            let lease = go(second.core.try_send("/api/v1", 1.0).unwrap());
            second.core.finish(lease, "/api/v1", Some(200), None, None).unwrap();
        }
        assert_eq!(first.concurrency_cap(), 3);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_damaged_or_hostile_state_file_is_started_afresh_or_held_to_one_window() {
        let dir = temp_dir("hostile");
        let store = SharedBudget::open(&dir, 2).unwrap();
        std::fs::write(dir.join("state.json"), b"{ not json").unwrap();
        assert!(matches!(store.core.try_send("/api/v1/users", 1.0).unwrap(), SharedVerdict::Go(_)));
        // A reset a century away, a remaining that is not a number, a dead process in flight.
        let far = now_ms() + 100 * 365 * 24 * 3600 * 1000;
        std::fs::write(
            dir.join("state.json"),
            format!(
                r#"{{"version":1,"buckets":{{"/api/v1/users":{{"limit":5,"remaining":0,"reset_at_ms":{far},
                "answered":true,"in_flight":{{"4000000":{{"count":3,"since_ms":{}}}}}}}}}}}"#,
                now_ms()
            ),
        )
        .unwrap();
        let state = store.bucket("/api/v1/users").unwrap();
        assert_eq!(state.in_flight, 0, "a pid that does not exist has nothing in flight");
        let reset = state.reset_at.unwrap();
        assert!(reset <= Instant::now() + MAX_WINDOW + Duration::from_secs(1), "held to one window");
        // Counters at their largest, a cap of nothing: a success is still counted without overflow.
        std::fs::write(
            dir.join("state.json"),
            format!(
                r#"{{"version":1,"cap":0,"successes":{max},"buckets":{{"/api/v1":{{"answered":true,
                "in_flight":{{"{pid}":{{"count":{max},"since_ms":{now}}}}}}}}}}}"#,
                max = u64::MAX,
                pid = std::process::id(),
                now = now_ms()
            ),
        )
        .unwrap();
        assert_eq!(store.concurrency_cap(), 1, "a cap of nothing is one slot");
        let lease = go(store.core.try_send("/api/v1", 1.0).unwrap());
        store.core.finish(lease, "/api/v1", Some(200), None, None).unwrap();
        std::fs::write(dir.join("state.json"), vec![b' '; (MAX_STATE_BYTES + 10) as usize]).unwrap();
        assert_eq!(store.bucket("/api/v1/users"), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn no_stored_state_makes_senders_wait_for_ever() {
        let now = now_ms();
        let mut stored = Stored::default();
        // A limit of 0, which no answer gives, and a count from the future of a live process
        // (pid 1 always exists) on a bucket that has not answered yet.
        stored.buckets.entry("/api/v1/users".into()).or_default().limit = Some(0);
        let probe = stored.buckets.entry("/api/v1/groups".into()).or_default();
        probe.in_flight.insert(1, InFlight { count: 1, since_ms: now + 10_000_000 });
        stored.sanitise(now, std::process::id());
        let instant = Instant::now();
        for bucket in ["/api/v1/users", "/api/v1/groups"] {
            let state = stored.bucket_state(bucket, instant, now);
            assert_eq!(plan_send(&state, 1.0, instant), SendPlan::Go, "{bucket}: {state:?}");
        }
    }

    #[test]
    fn a_stopped_process_has_nothing_in_flight_until_it_runs_again() {
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id();
        assert!(alive(pid));
        let signal = |name: &str| {
            assert!(std::process::Command::new("kill").args([name, &pid.to_string()]).status().unwrap().success());
            // The kernel changes the state at once, but give /proc a moment.
            std::thread::sleep(Duration::from_millis(50));
        };
        signal("-STOP");
        assert!(!alive(pid), "a stopped process sends nothing");
        signal("-CONT");
        assert!(alive(pid));
        let _ = child.kill();
        let _ = child.wait();
        assert!(!alive(pid), "a process that is gone");
    }

    #[test]
    fn an_old_in_flight_count_expires_even_if_its_pid_is_alive() {
        let mut stored = Stored::default();
        let now = now_ms();
        let bucket = stored.buckets.entry("/api/v1/users".into()).or_default();
        bucket.in_flight.insert(1, InFlight { count: 2, since_ms: now - IN_FLIGHT_EXPIRY.as_millis() as u64 - 1 });
        bucket.in_flight.insert(std::process::id(), InFlight { count: 1, since_ms: now });
        stored.sanitise(now, std::process::id());
        assert_eq!(stored.buckets["/api/v1/users"].in_flight.len(), 1);
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
