//! The rate-limit governor: keeps the client under Okta's per-bucket, per-minute limits and
//! its concurrency limit, slowing down before a limit instead of running into it.
//!
//! Each bucket's budget is learnt from `X-Rate-Limit-Limit/-Remaining/-Reset`. Until a bucket
//! has answered once, one request at a time probes it. The client may use `share` of each
//! bucket (the rest is left to the org's other integrations, like Terraform's
//! `max_api_capacity`). Requests are counted against the estimate when they are sent, and the
//! estimate is corrected from every answer, assuming conservatively that requests still in
//! flight have been counted by Okta already (so it is never more than Okta has left, and is
//! exact again once nothing is in flight). The budget is spent as the work asks for it, not
//! spread over the window: spreading it made a job whose last requests fit in the window end
//! at the reset, a whole window late, and `share` is what leaves room to the org's other
//! integrations. When it is spent, senders look again as answers come in (they may show Okta
//! counted fewer), then wait for the reset (Okta's clock, read through the `Date` header, plus a
//! quarter of a second). A semaphore caps requests in flight; each concurrency 429 takes one slot away, and
//! successes give them back one at a time.
//!
//! The decisions ([`plan_send`], [`BucketState::observe`]) are pure functions of the state and
//! the clock, unit-tested without a network. The state is this process's own, or, with
//! [`Governor::shared`], a store that every process talking to the same org reads and updates
//! under a lock (a file store on one machine, or a PostgreSQL table every host shares), so that
//! they pace themselves as one client ([`crate::http::shared`]).
//!
//! It is hand-written rather than built on a generic rate limiter (the `governor` or
//! leaky-bucket crates) because those enforce a quota fixed in advance, while Okta's budget is
//! learnt per bucket from its `X-Rate-Limit-*` headers, resets on Okta's clock, is shared with
//! other integrations, and sits beside a separate concurrency limit; none of that is modelled
//! there. The header arithmetic is also fuzzed by `fuzz/fuzz_targets/headers.rs`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub use crate::http::budget::{plan_send, BucketState, SendPlan, ServerClock, MAX_WINDOW};
use crate::http::retry::RateLimitHeaders;
use crate::http::shared::{SharedBudget, SharedVerdict, SlotLease, StoreError, LOCK_PATIENCE, STORE_PATIENCE};

/// Successes needed to give back one concurrency slot after a concurrency 429.
const SUCCESSES_PER_SLOT: u64 = 20;

/// Counters a caller can show (throttling waits) or log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GovernorStats {
    /// Times a request waited for a bucket's budget.
    pub throttled_waits: u64,
    /// Total time spent waiting for budgets, in milliseconds.
    pub throttled_ms: u64,
    /// Concurrency 429s seen.
    pub concurrency_limited: u64,
    /// The current cap on requests in flight.
    pub concurrency_cap: usize,
}

/// The shared governor of one client.
#[derive(Debug)]
pub struct Governor {
    share: f64,
    buckets: Mutex<HashMap<&'static str, BucketState>>,
    slots: Arc<Semaphore>,
    max_concurrency: usize,
    cap: AtomicUsize,
    /// Slots taken out of the semaphore after concurrency 429s.
    withheld: AtomicUsize,
    /// Slots still to take out: they are in use now and are kept when released.
    debt: AtomicUsize,
    successes: AtomicU64,
    throttled_waits: AtomicU64,
    throttled_ms: AtomicU64,
    concurrency_limited: AtomicU64,
    /// The store shared with the other processes on this machine that talk to the same org.
    shared: Option<SharedBudget>,
    /// Set once the shared store has failed and this has been logged.
    shared_failed: AtomicBool,
    /// Okta's clock as the answers' `Date` headers tell it.
    clock: Mutex<ServerClock>,
}

/// Permission to send one request; hand the answer to [`Permit::finish`].
#[derive(Debug)]
pub struct Permit {
    governor: Arc<Governor>,
    bucket: &'static str,
    slot: Option<OwnedSemaphorePermit>,
    /// The slot held in the shared store, when the request was counted there.
    lease: Option<SlotLease>,
    /// When the request was let go (this machine's clock), for [`ServerClock`].
    sent: SystemTime,
    finished: bool,
}

impl Governor {
    /// A governor that uses `share` of each bucket and at most `max_concurrency` requests in
    /// flight.
    pub fn new(share: f64, max_concurrency: usize) -> Arc<Self> {
        Self::build(share, max_concurrency, None)
    }

    /// A governor that shares its budget and concurrency slots with every process using the
    /// same store (see [`crate::http::shared`]).
    pub fn shared(share: f64, max_concurrency: usize, store: SharedBudget) -> Arc<Self> {
        Self::build(share, max_concurrency, Some(store))
    }

    fn build(share: f64, max_concurrency: usize, shared: Option<SharedBudget>) -> Arc<Self> {
        let max_concurrency = max_concurrency.max(1);
        Arc::new(Governor {
            share: share.clamp(f64::MIN_POSITIVE, 1.0),
            buckets: Mutex::new(HashMap::new()),
            slots: Arc::new(Semaphore::new(max_concurrency)),
            max_concurrency,
            cap: AtomicUsize::new(max_concurrency),
            withheld: AtomicUsize::new(0),
            debt: AtomicUsize::new(0),
            successes: AtomicU64::new(0),
            throttled_waits: AtomicU64::new(0),
            throttled_ms: AtomicU64::new(0),
            concurrency_limited: AtomicU64::new(0),
            shared,
            shared_failed: AtomicBool::new(false),
            clock: Mutex::new(ServerClock::default()),
        })
    }

    /// Logs (once) that the shared store could not be used; requests are then governed by this
    /// process's own state.
    fn shared_failed(&self, store: &SharedBudget, error: &dyn std::fmt::Display) {
        store.give_up();
        if !self.shared_failed.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                store = %store.location(),
                "the shared rate budget cannot be used ({error}); this process governs its requests alone"
            );
        }
    }

    /// Waits for a slot and the budget in the shared store. `None` when the store fails (a
    /// database lost or unreachable), or when another process has held its lock for
    /// [`LOCK_PATIENCE`] (a stopped process), or it gives no answer for as long (a slow
    /// database): then the request, and every later one, is governed by this process alone.
    ///
    /// Every decision is taken on the store's own thread, never on the runtime's. What other
    /// processes hold is waited on for a bounded time: the store's lock for [`LOCK_PATIENCE`] at
    /// a stretch, its slots and another process's probe of a new bucket for [`STORE_PATIENCE`]
    /// in all. Only the bucket's own budget (a spent window) is waited out in full, and that is
    /// at most one window.
    async fn acquire_shared(&self, store: &SharedBudget, bucket: &'static str, waited: &mut bool) -> Option<SlotLease> {
        let mut locked_since: Option<Instant> = None;
        let mut held_by_others = Duration::ZERO;
        loop {
            if let Some(reason) = store.failure() {
                self.shared_failed(store, &reason);
                return None;
            }
            let verdict = store.verdict(bucket, self.share).await;
            if !matches!(verdict, Ok(SharedVerdict::Locked)) {
                locked_since = None;
            }
            let pause = match verdict {
                Ok(SharedVerdict::Locked) => {
                    let since = *locked_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= LOCK_PATIENCE {
                        self.shared_failed(store, &StoreError::Busy);
                        return None;
                    }
                    tokio::time::sleep(Duration::from_millis(fastrand::u64(1..=4))).await;
                    continue;
                }
                Ok(SharedVerdict::Go(lease)) => return Some(lease),
                Ok(SharedVerdict::WaitUntil { at, for_others: false }) => {
                    wait_for_budget(bucket, at, waited).await;
                    continue;
                }
                // Another process's probe of a new bucket, or every shared slot in use.
                Ok(SharedVerdict::WaitUntil { at, for_others: true }) => at.saturating_duration_since(Instant::now()),
                Ok(SharedVerdict::Busy) => Duration::from_millis(fastrand::u64(2..=12)),
                Err(error) => {
                    self.shared_failed(store, &error);
                    return None;
                }
            };
            if held_by_others >= STORE_PATIENCE {
                self.shared_failed(
                    store,
                    &format!("other processes held its slots for more than {} s", STORE_PATIENCE.as_secs()),
                );
                return None;
            }
            let started = Instant::now();
            tokio::time::sleep(pause).await;
            held_by_others += started.elapsed();
        }
    }

    /// Waits for a concurrency slot and for the bucket's budget, then counts the request as sent.
    pub async fn acquire(self: &Arc<Self>, bucket: &'static str) -> Permit {
        let slot = Arc::clone(&self.slots).acquire_owned().await.expect("the governor's semaphore is never closed");
        let mut waited = false;
        let started = Instant::now();
        let mut lease = None;
        if let Some(store) = &self.shared {
            if !self.shared_failed.load(Ordering::Relaxed) {
                lease = self.acquire_shared(store, bucket, &mut waited).await;
            }
        }
        if lease.is_none() {
            self.acquire_local(bucket, &mut waited).await;
        }
        if waited {
            self.throttled_waits.fetch_add(1, Ordering::Relaxed);
            self.throttled_ms.fetch_add(started.elapsed().as_millis() as u64, Ordering::Relaxed);
        }
        Permit { governor: Arc::clone(self), bucket, slot: Some(slot), lease, sent: SystemTime::now(), finished: false }
    }

    /// Waits for the bucket's budget as this process alone knows it, then counts the request.
    async fn acquire_local(&self, bucket: &'static str, waited: &mut bool) {
        loop {
            let plan = {
                let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
                let state = buckets.entry(bucket).or_default();
                let now = Instant::now();
                let plan = plan_send(state, self.share, now);
                if plan == SendPlan::Go {
                    state.on_send(now);
                }
                plan
            };
            match plan {
                SendPlan::Go => return,
                SendPlan::WaitUntil(moment) => wait_for_budget(bucket, moment, waited).await,
            }
        }
    }

    /// Whether requests are governed through a shared store: false without one, and once it has
    /// been given up (tests and diagnostics).
    pub fn shares_budget(&self) -> bool {
        self.shared.as_ref().is_some_and(|store| store.failure().is_none())
            && !self.shared_failed.load(Ordering::Relaxed)
    }

    /// A snapshot of one bucket's state (for tests and diagnostics).
    pub fn bucket(&self, bucket: &str) -> Option<BucketState> {
        if let Some(store) = &self.shared {
            if !self.shared_failed.load(Ordering::Relaxed) {
                return store.bucket(bucket);
            }
        }
        self.buckets.lock().unwrap_or_else(|e| e.into_inner()).get(bucket).cloned()
    }

    /// The counters so far.
    pub fn stats(&self) -> GovernorStats {
        GovernorStats {
            throttled_waits: self.throttled_waits.load(Ordering::Relaxed),
            throttled_ms: self.throttled_ms.load(Ordering::Relaxed),
            concurrency_limited: self.concurrency_limited.load(Ordering::Relaxed),
            concurrency_cap: match &self.shared {
                Some(store) if !self.shared_failed.load(Ordering::Relaxed) => {
                    store.concurrency_cap().unwrap_or(self.max_concurrency)
                }
                _ => self.cap.load(Ordering::Relaxed),
            },
        }
    }

    fn lower_cap(&self) {
        // One slot less per refusal: each concurrency 429 says one more request is in flight at
        // Okta than the org allows, so the cap settles at what is left for this client. The
        // slots are busy now; the next ones released are kept instead of returned.
        let lowered = self.cap.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |cap| (cap > 1).then(|| cap - 1));
        if let Ok(previous) = lowered {
            self.debt.fetch_add(1, Ordering::Relaxed);
            self.successes.store(0, Ordering::Relaxed);
            tracing::debug!(cap = previous - 1, "concurrency limit hit: fewer requests in flight");
        }
    }

    /// Keeps a released slot out of the semaphore when a lowered cap is still owed.
    fn settle(&self, slot: OwnedSemaphorePermit) {
        if self.debt.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |debt| debt.checked_sub(1)).is_ok() {
            slot.forget();
            self.withheld.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn on_success(&self) {
        if self.cap.load(Ordering::Relaxed) >= self.max_concurrency {
            return;
        }
        if self.successes.fetch_add(1, Ordering::Relaxed) + 1 < SUCCESSES_PER_SLOT {
            return;
        }
        self.successes.store(0, Ordering::Relaxed);
        if self.debt.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |debt| debt.checked_sub(1)).is_ok() {
            self.cap.fetch_add(1, Ordering::Relaxed);
        } else if self.withheld.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |w| w.checked_sub(1)).is_ok() {
            self.cap.fetch_add(1, Ordering::Relaxed);
            self.slots.add_permits(1);
        }
    }
}

/// Waits until `moment`, when a bucket's budget allows the next request; logs the first wait of
/// a request.
async fn wait_for_budget(bucket: &'static str, moment: Instant, waited: &mut bool) {
    if !*waited {
        tracing::debug!(
            bucket,
            wait_ms = moment.saturating_duration_since(Instant::now()).as_millis() as u64,
            "throttling before the rate limit"
        );
    }
    *waited = true;
    tokio::time::sleep_until(moment.into()).await;
}

impl Permit {
    /// Reports the answer: its status, rate-limit headers and `Date`. A request that failed
    /// without an answer is reported with `None` headers.
    pub fn finish(mut self, status: Option<u16>, headers: Option<RateLimitHeaders>, date: Option<SystemTime>) {
        self.finished = true;
        let governor = Arc::clone(&self.governor);
        let date = date.map(|date| {
            governor.clock.lock().unwrap_or_else(|e| e.into_inner()).observe(date, self.sent, SystemTime::now())
        });
        let concurrency_limited = matches!((status, headers), (Some(429), Some(h)) if h.limit == 0);
        if concurrency_limited {
            governor.concurrency_limited.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(lease) = self.lease.take() {
            // Counted in the shared store: the answer and the cap go there, on the store's
            // thread (this never waits for another process's lock).
            if let Some(store) = &governor.shared {
                store.finish_later(lease, self.bucket, status, headers, date);
            }
        } else {
            let now = Instant::now();
            {
                let mut buckets = governor.buckets.lock().unwrap_or_else(|e| e.into_inner());
                let state = buckets.entry(self.bucket).or_default();
                state.on_answer(headers, date, now);
                if status.is_some() {
                    state.answered = true;
                }
                state.on_done();
            }
            match status {
                _ if concurrency_limited => governor.lower_cap(),
                Some(status) if status < 400 => governor.on_success(),
                _ => {}
            }
        }
        if let Some(slot) = self.slot.take() {
            governor.settle(slot);
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if !self.finished {
            // Cancelled before an answer: the request no longer counts as in flight.
            if let Some(lease) = self.lease.take() {
                if let Some(store) = &self.governor.shared {
                    store.finish_later(lease, self.bucket, None, None, None);
                }
            } else {
                let mut buckets = self.governor.buckets.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(state) = buckets.get_mut(self.bucket) {
                    state.on_done();
                }
            }
            if let Some(slot) = self.slot.take() {
                self.governor.settle(slot);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::budget::{ANSWER_POLL, RESET_MARGIN};

    fn headers(limit: u64, remaining: u64, reset_epoch: u64) -> RateLimitHeaders {
        RateLimitHeaders { limit, remaining, reset_epoch }
    }

    fn epoch(seconds: u64) -> Option<SystemTime> {
        Some(SystemTime::UNIX_EPOCH + Duration::from_secs(seconds))
    }

    #[test]
    fn unknown_bucket_sends_one_probe_at_a_time() {
        let now = Instant::now();
        let mut state = BucketState::default();
        assert_eq!(plan_send(&state, 1.0, now), SendPlan::Go);
        state.on_send(now);
        assert!(matches!(plan_send(&state, 1.0, now), SendPlan::WaitUntil(_)));
        state.observe(headers(600, 599, 1_000_060), epoch(1_000_000), now);
        state.on_done();
        assert_eq!(state.limit, Some(600));
        assert_eq!(state.remaining, 599.0);
        assert_eq!(plan_send(&state, 1.0, now), SendPlan::Go);
    }

    #[test]
    fn a_bucket_without_rate_limit_headers_is_not_serialised() {
        let now = Instant::now();
        let state = BucketState { in_flight: 3, answered: true, ..Default::default() };
        assert_eq!(plan_send(&state, 1.0, now), SendPlan::Go);
    }

    #[test]
    fn a_reset_far_away_is_held_to_one_window() {
        let now = Instant::now();
        let mut state = BucketState::default();
        state.observe(headers(600, 0, u64::MAX), epoch(1_000_000), now);
        assert_eq!(state.reset_at, Some(now + MAX_WINDOW + RESET_MARGIN));
        let mut year_2500 = BucketState::default();
        year_2500.observe(headers(600, 0, 16_725_225_600), epoch(1_000_000), now);
        assert_eq!(year_2500.reset_at, Some(now + MAX_WINDOW + RESET_MARGIN));
    }

    #[test]
    fn a_tiny_share_still_sends_one_request_per_window() {
        let now = Instant::now();
        let mut state = BucketState::default();
        state.observe(headers(50, 50, 1_000_060), epoch(1_000_000), now);
        assert_eq!(plan_send(&state, 0.001, now), SendPlan::Go);
        state.on_send(now);
        state.on_done();
        assert!(matches!(plan_send(&state, 0.001, now), SendPlan::WaitUntil(_)), "one per window, not more");
    }

    #[test]
    fn reset_is_read_on_okta_clock_plus_margin() {
        let now = Instant::now();
        let mut state = BucketState { in_flight: 1, ..Default::default() };
        // Local clock is irrelevant: Date says 30 s before the reset.
        state.observe(headers(100, 50, 2_000_030), epoch(2_000_000), now);
        assert_eq!(state.reset_at, Some(now + Duration::from_secs(30) + RESET_MARGIN));
    }

    #[test]
    fn okta_clock_is_read_finer_than_whole_seconds_and_never_ahead() {
        let at = |seconds: f64| SystemTime::UNIX_EPOCH + Duration::from_secs_f64(seconds);
        let seconds = |t: SystemTime| t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs_f64();
        let mut clock = ServerClock::default();
        // Okta's clock is 0.3 s ahead of this machine's; each answer takes 50 ms.
        let mut errors = Vec::new();
        for step in 0..40 {
            let sent = 1_000_000.0 + f64::from(step) * 0.137;
            let written = sent + 0.025 + 0.3;
            let received = sent + 0.05;
            let date = at(written.floor());
            let estimate = seconds(clock.observe(date, at(sent), at(received)));
            let truth = received + 0.3;
            assert!(estimate <= truth + 1e-9, "step {step}: {estimate} is ahead of Okta's {truth}");
            errors.push(truth - estimate);
        }
        // The first answer knows the whole second only; after a few, about a round trip.
        assert!(errors[0] > 0.05, "{errors:?}");
        assert!(errors[39] < 0.06, "{errors:?}");
        // This machine's clock is stepped back 5 s: the answers disagree with what was known,
        // and it starts again rather than believe Okta is 5 s further ahead than it is.
        let sent: f64 = 1_000_010.0 - 5.0;
        let written = sent + 5.0 + 0.025 + 0.3;
        let estimate = seconds(clock.observe(at(written.floor()), at(sent), at(sent + 0.05)));
        assert!(estimate <= sent + 0.05 + 5.3 + 1e-9 && estimate >= written.floor());
    }

    #[test]
    fn spent_budget_waits_for_the_reset() {
        let now = Instant::now();
        let mut state = BucketState { in_flight: 1, ..Default::default() };
        state.observe(headers(10, 1, 1_000_020), epoch(1_000_000), now);
        state.on_done();
        assert_eq!(plan_send(&state, 1.0, now), SendPlan::Go);
        state.on_send(now);
        // Spent; its answer may still show one left, so it is looked at before the reset is.
        assert_eq!(plan_send(&state, 1.0, now), SendPlan::WaitUntil(now + ANSWER_POLL));
        state.on_answer(Some(headers(10, 0, 1_000_020)), epoch(1_000_000), now);
        state.on_done();
        assert_eq!(plan_send(&state, 1.0, now), SendPlan::WaitUntil(now + Duration::from_secs(20) + RESET_MARGIN));
        // After the reset the whole limit is available again.
        let later = now + Duration::from_secs(22);
        assert_eq!(plan_send(&state, 1.0, later), SendPlan::Go);
        state.on_send(later);
        assert_eq!(state.remaining, 9.0);
    }

    #[test]
    fn share_leaves_the_rest_of_the_bucket_alone() {
        let now = Instant::now();
        let mut state = BucketState { in_flight: 1, ..Default::default() };
        state.observe(headers(100, 60, 1_000_060), epoch(1_000_000), now);
        state.on_done();
        // With half the bucket, 10 more requests may go (60 - 50).
        let mut sent = 0;
        while plan_send(&state, 0.5, now) == SendPlan::Go && sent < 100 {
            state.on_send(now);
            state.on_done();
            sent += 1;
        }
        assert_eq!(sent, 10);
    }

    #[test]
    fn in_flight_requests_are_assumed_uncounted() {
        let now = Instant::now();
        let mut state = BucketState { limit: Some(100), remaining: 100.0, ..Default::default() };
        for _ in 0..5 {
            state.on_send(now);
        }
        // The first answer says 99 remain; four others are still in flight.
        state.observe(headers(100, 99, 1_000_060), epoch(1_000_000), now);
        state.on_done();
        assert_eq!(state.remaining, 95.0);
        // A later answer in the same window can only lower the estimate.
        state.observe(headers(100, 98, 1_000_060), epoch(1_000_000), now);
        state.on_done();
        assert_eq!(state.remaining, 95.0);
        state.observe(headers(100, 50, 1_000_060), epoch(1_000_000), now);
        assert_eq!(state.remaining, 48.0);
    }

    #[test]
    fn the_estimate_is_exact_again_once_nothing_is_in_flight() {
        let now = Instant::now();
        let mut state = BucketState { in_flight: 1, ..Default::default() };
        state.observe(headers(100, 100, 1_000_060), epoch(1_000_000), now);
        state.on_done();
        for _ in 0..4 {
            state.on_send(now);
        }
        // Okta counted them in another order than they are answered in.
        let mut estimates = Vec::new();
        for reported in [96, 98, 97, 99] {
            state.on_answer(Some(headers(100, reported, 1_000_060)), epoch(1_000_000), now);
            state.on_done();
            estimates.push(state.remaining);
        }
        // While some are in flight, each is assumed counted; none in flight: Okta's own count.
        assert_eq!(estimates, [93.0, 94.0, 95.0, 96.0]);
        // A request that ended without an answer may have been counted after every answer.
        state.on_send(now);
        state.on_send(now);
        state.on_answer(None, None, now);
        state.on_done();
        state.on_answer(Some(headers(100, 95, 1_000_060)), epoch(1_000_000), now);
        state.on_done();
        assert_eq!(state.remaining, 94.0);
        // A new window forgets both.
        let later = now + Duration::from_secs(61);
        state.on_send(later);
        assert_eq!((state.reported, state.unreported), (None, 0));
        state.on_answer(Some(headers(100, 99, 1_000_121)), epoch(1_000_061), later);
        state.on_done();
        assert_eq!((state.remaining, state.reported, state.unreported), (99.0, Some(99), 0));
    }

    #[test]
    fn the_end_of_a_window_is_spent_as_asked_and_not_left_unused() {
        let now = Instant::now();
        let mut state = BucketState { in_flight: 1, ..Default::default() };
        state.observe(headers(100, 6, 1_000_059), epoch(1_000_000), now);
        state.on_done();
        // The last of the budget goes at once, not spread until the reset.
        for _ in 0..6 {
            assert_eq!(plan_send(&state, 1.0, now), SendPlan::Go);
            state.on_send(now);
        }
        // Spent with six in flight: their answers are looked at shortly, not the reset.
        assert_eq!(plan_send(&state, 1.0, now), SendPlan::WaitUntil(now + ANSWER_POLL));
        // Okta had counted two of them before the first answered (it shows 1 left, not 0).
        for reported in [1, 1, 1, 1, 1, 1] {
            state.on_answer(Some(headers(100, reported, 1_000_059)), epoch(1_000_000), now);
            state.on_done();
        }
        assert_eq!(state.remaining, 1.0);
        assert_eq!(plan_send(&state, 1.0, now), SendPlan::Go);
        state.on_send(now);
        state.on_answer(Some(headers(100, 0, 1_000_059)), epoch(1_000_000), now);
        state.on_done();
        // Spent, nothing in flight: the reset.
        assert_eq!(plan_send(&state, 1.0, now), SendPlan::WaitUntil(now + Duration::from_secs(59) + RESET_MARGIN));
    }
    /// Sends `count` requests whose answers carry no rate-limit headers, following the
    /// governor's verdicts on a virtual clock; the time it took, or `None` when it never ended.
    fn send_without_headers(state: &mut BucketState, count: usize, start: Instant) -> Option<Duration> {
        let mut now = start;
        let mut sent = 0;
        for _ in 0..10_000 {
            match plan_send(state, 1.0, now) {
                SendPlan::Go => {
                    state.on_send(now);
                    state.on_answer(None, None, now);
                    state.on_done();
                    sent += 1;
                    if sent == count {
                        return Some(now - start);
                    }
                }
                SendPlan::WaitUntil(moment) => now = moment.max(now + Duration::from_millis(1)),
            }
        }
        None
    }

    #[test]
    fn a_window_without_announced_resets_ends_within_one_window() {
        // A bucket learnt earlier, whose window has ended; then every answer is lost (dropped
        // connections, timeouts, a proxy's 5xx), so no reset is ever announced again.
        let start = Instant::now();
        let mut state = BucketState { in_flight: 1, ..Default::default() };
        state.observe(headers(5, 5, 1_000_060), epoch(1_000_000), start);
        state.on_done();
        let later = start + Duration::from_secs(61);
        let took = send_without_headers(&mut state, 12, later).expect("the governor lets requests go again");
        // Five per window: the 12th goes in the third window, each at most one window long.
        assert!(took <= 2 * (MAX_WINDOW + RESET_MARGIN), "took {took:?}");
        // A state with a limit and no reset (an older store, a damaged file) is a fresh window.
        let mut unknown = BucketState { limit: Some(3), remaining: 0.0, ..Default::default() };
        assert!(send_without_headers(&mut unknown, 7, start).is_some());
    }

    #[test]
    fn an_announced_reset_replaces_an_assumed_one() {
        let now = Instant::now();
        let mut state = BucketState { limit: Some(100), remaining: 0.0, ..Default::default() };
        state.on_send(now);
        assert!(state.reset_assumed);
        assert_eq!(state.reset_at, Some(now + MAX_WINDOW + RESET_MARGIN));
        // Okta says the window resets in 20 s: that is believed, though it is earlier.
        state.observe(headers(100, 98, 1_000_020), epoch(1_000_000), now);
        state.on_done();
        assert!(!state.reset_assumed);
        assert_eq!(state.reset_at, Some(now + Duration::from_secs(20) + RESET_MARGIN));
        assert_eq!(state.remaining, 98.0);
    }

    #[test]
    fn concurrency_limit_answers_do_not_touch_bucket_budgets() {
        let now = Instant::now();
        let mut state = BucketState { limit: Some(600), remaining: 300.0, in_flight: 1, ..Default::default() };
        state.observe(headers(0, 0, 1_000_060), epoch(1_000_000), now);
        assert_eq!(state.remaining, 300.0);
    }

    #[tokio::test]
    async fn concurrency_cap_shrinks_on_concurrency_429_and_grows_back() {
        let governor = Governor::new(1.0, 8);
        let permit = governor.acquire("/api/v1").await;
        permit.finish(Some(429), Some(headers(0, 0, 0)), None);
        let permit = governor.acquire("/api/v1").await;
        permit.finish(Some(429), Some(headers(0, 0, 0)), None);
        assert_eq!(governor.stats().concurrency_cap, 6);
        assert_eq!(governor.stats().concurrency_limited, 2);
        for _ in 0..(2 * SUCCESSES_PER_SLOT) {
            let permit = governor.acquire("/api/v1").await;
            permit.finish(Some(200), Some(headers(1000, 999, 0)), epoch(0));
        }
        assert_eq!(governor.stats().concurrency_cap, 8);
    }
}
