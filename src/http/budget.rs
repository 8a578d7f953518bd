//! What the governor knows of each rate-limit bucket, and its decisions on it: whether a
//! request may go now ([`plan_send`]) and what an answer teaches ([`BucketState::observe`]), pure
//! functions of the state and the clock, the same for a process's own governor and for a store
//! that several processes share (`crate::http::shared`).

use std::time::{Duration, Instant, SystemTime};

use crate::http::retry::RateLimitHeaders;

/// Added to every reset. `Date` is truncated to the second, so `Reset − Date` already errs late
/// by up to a second; the margin only absorbs clock jitter between Okta's servers.
pub(crate) const RESET_MARGIN: Duration = Duration::from_millis(250);
/// The longest window believed from `X-Rate-Limit-Reset`: Okta's windows are per minute, so a
/// reset further away (a wrong clock, a lying server) is held to this.
pub const MAX_WINDOW: Duration = Duration::from_secs(65);
/// How often a request that found the budget spent while requests are in flight looks again at
/// their answers.
pub(crate) const ANSWER_POLL: Duration = Duration::from_millis(15);
/// How long to wait when the budget is spent and the reset time is unknown.
pub(crate) const UNKNOWN_RESET_WAIT: Duration = Duration::from_millis(500);

/// What the client knows of one bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct BucketState {
    /// The bucket's per-minute limit, once an answer has told it.
    pub limit: Option<u64>,
    /// Requests the bucket can still take in this window, after those already sent.
    pub remaining: f64,
    /// When the window resets (local clock).
    pub reset_at: Option<Instant>,
    /// Requests sent and not answered yet.
    pub in_flight: u64,
    /// Whether the bucket has answered at least once (with or without rate-limit headers).
    pub answered: bool,
    /// Whether `reset_at` is this client's assumption (one window from the first request after
    /// a reset) rather than a reset Okta announced: the next announced reset replaces it.
    pub reset_assumed: bool,
    /// The lowest `X-Rate-Limit-Remaining` Okta has answered in this window. Okta counts down,
    /// so it is what was left after the last request Okta counted of those answered; every
    /// request counted since is one still in flight.
    pub reported: Option<u64>,
    /// Requests of this window that ended without telling the bucket's count (a lost answer,
    /// a concurrency 429): Okta may have counted them after every count it reported.
    pub unreported: u64,
}

impl Default for BucketState {
    fn default() -> Self {
        BucketState {
            limit: None,
            remaining: 0.0,
            reset_at: None,
            in_flight: 0,
            answered: false,
            reset_assumed: false,
            reported: None,
            unreported: 0,
        }
    }
}

/// The part of a bucket left to others: `1 − share` of it, but never so much that this client
/// has less than one request per window (which would wait forever).
fn reserve(limit: u64, share: f64) -> f64 {
    (limit as f64 * (1.0 - share)).min(limit as f64 - 1.0).max(0.0)
}

/// The verdict for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendPlan {
    /// Send now.
    Go,
    /// Ask again at this moment.
    WaitUntil(Instant),
}

/// Decides whether a request may go now. Pure: the caller applies [`BucketState::on_send`]
/// when the answer is [`SendPlan::Go`].
pub fn plan_send(state: &BucketState, share: f64, now: Instant) -> SendPlan {
    let Some(limit) = state.limit else {
        // Unknown bucket: one probe at a time until it has answered. A bucket that answers
        // without rate-limit headers is not limited by Okta's headers, only by the semaphore.
        return if state.answered || state.in_flight == 0 {
            SendPlan::Go
        } else {
            SendPlan::WaitUntil(now + Duration::from_millis(20))
        };
    };
    let (remaining, reset_at) = match state.reset_at {
        // A window that has ended, or one whose reset is not known (a state from an older store
        // or a damaged file): a fresh window, which [`BucketState::on_send`] bounds to one
        // window from now. No state may make senders wait for ever.
        Some(reset) if now >= reset => (limit as f64, None),
        None => (limit as f64, None),
        other => (state.remaining, other),
    };
    let budget = remaining - reserve(limit, share);
    if budget < 1.0 {
        // Spent, as far as the estimate knows. The estimate counts every request in flight as
        // already counted by Okta; their answers can show that Okta has counted fewer (it
        // counted them in another order), so while any is in flight they are looked at again
        // shortly, and the end of a window is not left unused. Otherwise: the reset.
        return match reset_at {
            Some(reset) if state.in_flight > 0 => SendPlan::WaitUntil(reset.min(now + ANSWER_POLL)),
            Some(reset) => SendPlan::WaitUntil(reset),
            None => SendPlan::WaitUntil(now + UNKNOWN_RESET_WAIT),
        };
    }
    SendPlan::Go
}

impl BucketState {
    /// Records a request leaving now.
    pub fn on_send(&mut self, now: Instant) {
        if let Some(limit) = self.limit {
            if self.reset_at.is_none_or(|reset| now >= reset) {
                // A new window. Okta announces its reset with the next answer; until one comes
                // (answers without rate-limit headers: dropped connections, timeouts, a proxy's
                // errors, concurrency 429s), the window is assumed to last at most one window,
                // so a spent budget is always waited out, never waited on for ever.
                self.remaining = limit as f64;
                self.reset_at = Some(now + MAX_WINDOW + RESET_MARGIN);
                self.reset_assumed = true;
                self.reported = None;
                self.unreported = 0;
            }
        }
        self.in_flight = self.in_flight.saturating_add(1);
        self.remaining -= 1.0;
    }

    /// Folds in an answer's rate-limit headers. `date` is the answer's `Date` (Okta's clock),
    /// used to turn the reset epoch into a local instant without trusting the local clock.
    /// Must be called before [`BucketState::on_done`] for the same request.
    pub fn observe(&mut self, headers: RateLimitHeaders, date: Option<SystemTime>, now: Instant) {
        if headers.limit == 0 {
            // A concurrency 429 carries no bucket information.
            return;
        }
        // Okta's clock now: the `Date` header (whole seconds), or what [`ServerClock`] made of
        // it (finer). A reset read against an earlier server time only waits longer.
        let server_now =
            date.unwrap_or_else(SystemTime::now).duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        let until_reset = Duration::from_secs(headers.reset_epoch).saturating_sub(server_now).min(MAX_WINDOW);
        let reset_at = now + until_reset + RESET_MARGIN;
        // Every request sent and not answered may or may not have been counted by Okta: the
        // estimate assumes each was, which is never more than Okta has left.
        let others_in_flight = self.in_flight.saturating_sub(1) as f64;
        let new_window = match self.reset_at {
            _ if self.limit.is_none() || self.reset_assumed => true,
            None => true,
            // A later reset than known means Okta has started a new window.
            Some(known) => reset_at > known + Duration::from_millis(1500),
        };
        self.limit = Some(headers.limit);
        if new_window {
            self.reported = Some(headers.remaining);
            self.unreported = 0;
            self.reset_at = Some(reset_at);
            self.reset_assumed = false;
        } else {
            // Answers may arrive in another order than Okta counted their requests: the lowest
            // count is the latest Okta made of those answered. Subtracting only what is in flight
            // now (not what was in flight at each earlier answer, which counted some requests
            // twice) lets the estimate come back up to exact once nothing is in flight, so the
            // end of a window is not left unused.
            self.reported = Some(self.reported.map_or(headers.remaining, |lowest| lowest.min(headers.remaining)));
        }
        self.remaining = self.reported.unwrap_or(headers.remaining) as f64 - others_in_flight - self.unreported as f64;
    }

    /// Folds in how a request ended: its answer's rate-limit headers, or none (a failure, or
    /// a concurrency 429, whose headers say nothing of the bucket). Then [`BucketState::on_done`].
    pub fn on_answer(&mut self, headers: Option<RateLimitHeaders>, date: Option<SystemTime>, now: Instant) {
        match headers {
            Some(headers) if headers.limit > 0 => self.observe(headers, date, now),
            _ => self.unreported = self.unreported.saturating_add(1),
        }
    }

    /// Records that a request's answer (or failure) arrived.
    pub fn on_done(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }
}

/// Okta's clock, read finer than its `Date` header's whole seconds. Each answer says that when
/// Okta wrote it, its clock was between `Date` and `Date` + 1 s, and that it wrote it between
/// the moment the request left and the moment the answer came back. The offset between Okta's
/// clock and this machine's lies in every such interval; their intersection narrows to about a
/// round trip after a few answers. Its lower end is used: an earlier server time makes a reset
/// look later, never sooner. When the answers stop agreeing (a clock was stepped), it starts
/// again from the latest.
///
/// Without it, `Reset − Date` overstates the time to a reset by the fraction of a second `Date`
/// drops, on average half a second at every reset.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct ServerClock {
    /// Okta's clock minus this machine's, in seconds: at least the first, less than the second.
    offset: Option<(f64, f64)>,
}

impl ServerClock {
    /// Folds in one answer and returns Okta's clock at `received`, as finely as is known.
    pub fn observe(&mut self, date: SystemTime, sent: SystemTime, received: SystemTime) -> SystemTime {
        let seconds = |t: SystemTime| t.duration_since(SystemTime::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
        let written = seconds(date).floor();
        let (low, high) = (written - seconds(received), written + 1.0 - seconds(sent));
        let (low, high) = match self.offset {
            Some((known_low, known_high)) if low.max(known_low) < high.min(known_high) => {
                (low.max(known_low), high.min(known_high))
            }
            _ => (low, high),
        };
        self.offset = Some((low, high));
        let at = seconds(received) + low;
        // Never before the whole second `Date` names (a wrong interval cannot make it earlier).
        SystemTime::UNIX_EPOCH + Duration::from_secs_f64(at.max(written).max(0.0))
    }
}
