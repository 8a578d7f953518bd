//! What a server says in headers: `Link` parsing, error bodies, and the rate-limit arithmetic
//! (resets, dates, remaining counts of any size) never panic and never wait past one window.
#![no_main]

use std::time::{Duration, Instant, SystemTime};

use libfuzzer_sys::fuzz_target;
use okta_lifecycle::error::OktaApiError;
use okta_lifecycle::http::parse_next_link;
use okta_lifecycle::http::governor::{plan_send, BucketState, SendPlan, MAX_WINDOW};
use okta_lifecycle::http::retry::{decide, rate_limit_wait, Attempt, Backoff, Decision, Idempotency, RateLimitHeaders};

fuzz_target!(|input: (&str, &[u8], u64, u64, u64, u64, u16, u32, f64)| {
    let (link, body, limit, remaining, reset, date, status, attempt, share) = input;
    let _ = parse_next_link(link);
    let _ = OktaApiError::from_body(status, body, None, "GET", "/api/v1/users").to_string();

    let headers = RateLimitHeaders { limit, remaining, reset_epoch: reset };
    let date = SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(date));
    if let Some(wait) = rate_limit_wait(Some(headers), date) {
        assert!(wait <= Duration::from_secs(61));
    }
    let outcome = Attempt::Answered { status, rate_limit: Some(headers), date };
    for kind in [Idempotency::Idempotent, Idempotency::NonIdempotent] {
        if let Decision::RetryAfter(pause) = decide(kind, outcome, attempt, 5, Backoff::default(), 0.5) {
            assert!(pause <= Duration::from_secs(61));
        }
    }
    let now = Instant::now();
    let mut state = BucketState::default();
    state.on_send(now);
    state.observe(headers, date, now);
    state.on_done();
    if let SendPlan::WaitUntil(until) = plan_send(&state, share.clamp(f64::MIN_POSITIVE, 1.0), now) {
        assert!(until <= now + MAX_WINDOW + Duration::from_secs(1));
    }
});
