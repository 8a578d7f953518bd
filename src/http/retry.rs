//! The retry decision: a pure function of the request's kind, what happened, the attempt
//! number and the clock, so that every rule is unit-tested without a network.
//!
//! The rules:
//! * A 429 means Okta refused the request before doing anything, so every request may be
//!   retried: after `X-Rate-Limit-Reset − Date + 1 s` for a per-minute bucket (what Okta's own
//!   SDKs wait; Okta sends no `Retry-After`), or after an exponential backoff for the
//!   concurrency limit (Okta sends limit 0 and only an estimated reset).
//! * A connection that never opened means the request never reached Okta: every request may be
//!   retried.
//! * 500, 502, 503, 504, a connection dropped after sending, and a timeout are ambiguous:
//!   idempotent requests (GET, PUT, DELETE, and writes that set an absolute value) are retried
//!   with capped exponential backoff and jitter; non-idempotent ones (create, lifecycle
//!   transitions, password resets) stop with "outcome unknown" and are never repeated blindly.
//! * Anything else is final.
//!
//! It is hand-written rather than a retry/backoff crate because the decision depends on Okta's
//! specifics (its 429 headers, the concurrency 429's limit of 0, which writes are idempotent, and
//! the "outcome unknown" stop), which a generic policy of attempts and delays does not express;
//! the backoff arithmetic itself is a few lines. It is fuzzed by `fuzz/fuzz_targets/headers.rs`.

use std::time::{Duration, SystemTime};

// The schedule is part of the client configuration; the retry decision takes it as given.
pub use crate::config::Backoff;

/// Whether repeating a request can change the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// Repeating it leaves Okta in the same state (GET, PUT, DELETE, setting attributes).
    Idempotent,
    /// Repeating it may do the work twice (create, lifecycle transition, password reset).
    NonIdempotent,
}

/// The rate-limit headers of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitHeaders {
    /// `X-Rate-Limit-Limit`.
    pub limit: u64,
    /// `X-Rate-Limit-Remaining`.
    pub remaining: u64,
    /// `X-Rate-Limit-Reset`, epoch seconds on Okta's clock.
    pub reset_epoch: u64,
}

/// What one attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Okta answered with this status.
    Answered {
        /// HTTP status.
        status: u16,
        /// Rate-limit headers, if present.
        rate_limit: Option<RateLimitHeaders>,
        /// The `Date` header (Okta's clock), if present.
        date: Option<SystemTime>,
    },
    /// The connection could not be opened: the request provably never reached Okta.
    ConnectFailed,
    /// The request may have been sent, but no answer was read (reset, closed, broken body).
    DroppedAfterSend,
    /// The exchange took longer than the request timeout.
    TimedOut,
}

/// Why the client stops without a usable answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveUp {
    /// The retry budget is spent; return the last error.
    Exhausted,
    /// A non-idempotent request met an ambiguous failure: its outcome is unknown.
    OutcomeUnknown,
}

/// What to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Use the answer as it is (success or a final error).
    Finish,
    /// Send the request again after this pause.
    RetryAfter(Duration),
    /// Stop and report.
    Stop(GiveUp),
}

/// The longest wait a 429's reset header may ask for; Okta's windows are one minute.
const MAX_RESET_WAIT: Duration = Duration::from_secs(61);

/// Decides what to do after `attempt` (0 for the first try) ended as `outcome`.
pub fn decide(
    kind: Idempotency,
    outcome: Attempt,
    attempt: u32,
    max_retries: u32,
    backoff: Backoff,
    jitter: f64,
) -> Decision {
    let may_retry = attempt < max_retries;
    let retry_or_exhausted = |pause: Duration| {
        if may_retry {
            Decision::RetryAfter(pause)
        } else {
            Decision::Stop(GiveUp::Exhausted)
        }
    };
    match outcome {
        Attempt::Answered { status: 429, rate_limit, date } => {
            retry_or_exhausted(rate_limit_wait(rate_limit, date).unwrap_or_else(|| backoff.delay(attempt, jitter)))
        }
        Attempt::Answered { status: 500 | 502 | 503 | 504, .. } | Attempt::DroppedAfterSend | Attempt::TimedOut => {
            match kind {
                Idempotency::Idempotent => retry_or_exhausted(backoff.delay(attempt, jitter)),
                Idempotency::NonIdempotent => Decision::Stop(GiveUp::OutcomeUnknown),
            }
        }
        Attempt::ConnectFailed => retry_or_exhausted(backoff.delay(attempt, jitter)),
        Attempt::Answered { .. } => Decision::Finish,
    }
}

/// How long a 429 asks to wait: `reset − date + 1 s`, for a per-minute bucket. `None` for a
/// concurrency 429 (limit 0, reset only an estimate) or when a header is missing, in which case
/// the caller backs off exponentially instead.
pub fn rate_limit_wait(rate_limit: Option<RateLimitHeaders>, date: Option<SystemTime>) -> Option<Duration> {
    let headers = rate_limit?;
    if headers.limit == 0 {
        return None;
    }
    let now = date?.duration_since(SystemTime::UNIX_EPOCH).ok()?.as_secs();
    let wait = Duration::from_secs(headers.reset_epoch.saturating_sub(now).saturating_add(1));
    Some(wait.min(MAX_RESET_WAIT))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_JITTER: f64 = 0.0;

    fn answered(status: u16) -> Attempt {
        Attempt::Answered { status, rate_limit: None, date: None }
    }

    fn at(epoch: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(epoch)
    }

    #[test]
    fn success_and_client_errors_finish() {
        for status in [200, 204, 400, 401, 403, 404, 409, 412] {
            for kind in [Idempotency::Idempotent, Idempotency::NonIdempotent] {
                assert_eq!(decide(kind, answered(status), 0, 3, Backoff::default(), NO_JITTER), Decision::Finish);
            }
        }
    }

    #[test]
    fn rate_limit_waits_until_reset_plus_one_second_for_every_kind() {
        let outcome = Attempt::Answered {
            status: 429,
            rate_limit: Some(RateLimitHeaders { limit: 600, remaining: 0, reset_epoch: 1_000_030 }),
            date: Some(at(1_000_000)),
        };
        for kind in [Idempotency::Idempotent, Idempotency::NonIdempotent] {
            assert_eq!(
                decide(kind, outcome, 0, 3, Backoff::default(), NO_JITTER),
                Decision::RetryAfter(Duration::from_secs(31))
            );
        }
        assert_eq!(
            decide(Idempotency::NonIdempotent, outcome, 3, 3, Backoff::default(), NO_JITTER),
            Decision::Stop(GiveUp::Exhausted)
        );
    }

    #[test]
    fn rate_limit_wait_is_clamped_and_tolerates_past_resets() {
        let far = Some(RateLimitHeaders { limit: 600, remaining: 0, reset_epoch: 5_000 });
        assert_eq!(rate_limit_wait(far, Some(at(1_000))), Some(MAX_RESET_WAIT));
        let past = Some(RateLimitHeaders { limit: 600, remaining: 0, reset_epoch: 900 });
        assert_eq!(rate_limit_wait(past, Some(at(1_000))), Some(Duration::from_secs(1)));
        assert_eq!(rate_limit_wait(past, None), None, "no Date header: back off instead");
        assert_eq!(rate_limit_wait(None, Some(at(1_000))), None);
        // A reset at the end of time, read on a clock at the epoch: clamped, not an overflow.
        let end_of_time = Some(RateLimitHeaders { limit: 600, remaining: 0, reset_epoch: u64::MAX });
        assert_eq!(rate_limit_wait(end_of_time, Some(at(0))), Some(MAX_RESET_WAIT));
    }

    #[test]
    fn concurrency_limit_backs_off_exponentially() {
        let concurrency = Attempt::Answered {
            status: 429,
            rate_limit: Some(RateLimitHeaders { limit: 0, remaining: 0, reset_epoch: 1_000_059 }),
            date: Some(at(1_000_000)),
        };
        let backoff = Backoff { base: Duration::from_millis(100), cap: Duration::from_secs(10) };
        assert_eq!(
            decide(Idempotency::NonIdempotent, concurrency, 0, 5, backoff, NO_JITTER),
            Decision::RetryAfter(Duration::from_millis(50))
        );
        assert_eq!(
            decide(Idempotency::NonIdempotent, concurrency, 2, 5, backoff, NO_JITTER),
            Decision::RetryAfter(Duration::from_millis(200))
        );
    }

    #[test]
    fn server_errors_retry_only_idempotent_requests() {
        for status in [500, 502, 503, 504] {
            assert!(matches!(
                decide(Idempotency::Idempotent, answered(status), 0, 3, Backoff::default(), NO_JITTER),
                Decision::RetryAfter(_)
            ));
            assert_eq!(
                decide(Idempotency::NonIdempotent, answered(status), 0, 3, Backoff::default(), NO_JITTER),
                Decision::Stop(GiveUp::OutcomeUnknown)
            );
        }
        assert_eq!(
            decide(Idempotency::Idempotent, answered(501), 0, 3, Backoff::default(), NO_JITTER),
            Decision::Finish
        );
    }

    #[test]
    fn ambiguous_transport_failures_make_posts_unknown() {
        for outcome in [Attempt::DroppedAfterSend, Attempt::TimedOut] {
            assert!(matches!(
                decide(Idempotency::Idempotent, outcome, 1, 3, Backoff::default(), NO_JITTER),
                Decision::RetryAfter(_)
            ));
            assert_eq!(
                decide(Idempotency::NonIdempotent, outcome, 0, 3, Backoff::default(), NO_JITTER),
                Decision::Stop(GiveUp::OutcomeUnknown)
            );
        }
    }

    #[test]
    fn connect_failures_retry_every_kind_until_the_budget_is_spent() {
        for kind in [Idempotency::Idempotent, Idempotency::NonIdempotent] {
            assert!(matches!(
                decide(kind, Attempt::ConnectFailed, 0, 2, Backoff::default(), NO_JITTER),
                Decision::RetryAfter(_)
            ));
            assert_eq!(
                decide(kind, Attempt::ConnectFailed, 2, 2, Backoff::default(), NO_JITTER),
                Decision::Stop(GiveUp::Exhausted)
            );
        }
    }

    #[test]
    fn backoff_grows_is_capped_and_jitter_stays_in_the_upper_half() {
        let backoff = Backoff { base: Duration::from_millis(100), cap: Duration::from_secs(1) };
        assert_eq!(backoff.delay(0, 0.0), Duration::from_millis(50));
        assert_eq!(backoff.delay(1, 0.0), Duration::from_millis(100));
        assert_eq!(backoff.delay(10, 0.0), Duration::from_millis(500));
        assert_eq!(backoff.delay(40, 0.999_999), backoff.delay(40, 0.999_999).min(Duration::from_secs(1)));
        for step in 0..10 {
            let jitter = f64::from(step) / 10.0;
            let pause = backoff.delay(3, jitter);
            assert!(pause >= Duration::from_millis(400) && pause <= Duration::from_millis(800), "{pause:?}");
        }
    }
}
