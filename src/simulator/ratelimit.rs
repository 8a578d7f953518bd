//! Per-bucket, per-minute request windows (Okta's rate limits) and the bucket mapping.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::http::Method;

/// Bucket of `GET|POST /api/v1/users`, lifecycle operations, sessions and a user's groups.
pub const USERS_BUCKET: &str = "/api/v1/users";
/// Bucket of `GET /api/v1/users/{idOrLogin}`.
pub const GET_USER_BUCKET: &str = "/api/v1/users/{idOrLogin}";
/// Bucket of `POST|PUT|DELETE /api/v1/users/{id}`.
pub const WRITE_USER_BUCKET: &str = "/api/v1/users/{id}";
/// Bucket of `/api/v1/groups` (create, list), of group memberships and of a group's admin
/// roles.
pub const GROUPS_BUCKET: &str = "/api/v1/groups";
/// Bucket of `/api/v1/groups/{id}`.
pub const GROUP_BUCKET: &str = "/api/v1/groups/{id}";
/// Bucket of `GET /api/v1/logs` (the System Log).
pub const LOGS_BUCKET: &str = "/api/v1/logs";
/// Bucket of every other `/api/v1` endpoint.
pub const OTHER_API_BUCKET: &str = "/api/v1";

/// The rate-limit bucket a request counts against, following Okta's published mapping
/// (`/users/{id}/lifecycle/*`, `/users/{id}/groups`, `/users/{id}/sessions` and
/// `/users/{id}/roles…` count against `/api/v1/users`; `/groups/{id}/users[/{userId}]` and
/// `/groups/{id}/roles…` against `/api/v1/groups`; `/meta/schemas…` and `/meta/types…` against
/// `/api/v1`; the System Log has its own, `/api/v1/logs`). Admin roles have no bucket of their own: recorded role calls share the
/// `X-Rate-Limit-Remaining` count of `POST /api/v1/users` (limit 600) and `POST /api/v1/groups`
/// (limit 500) (Okta's Python SDK cassettes, 2020), as in the Terraform provider's mapping
/// generated from Okta's (`okta/internal/apimutex/rate_limit_lines.go`).
pub fn bucket_for(method: &Method, path: &str) -> String {
    let path = collapse_slashes(path);
    let Some(rest) = path.strip_prefix("/api/v1/") else {
        return path.split('/').take(4).collect::<Vec<_>>().join("/");
    };
    let segments: Vec<&str> = rest.split('/').filter(|segment| !segment.is_empty()).collect();
    let bucket = match segments.as_slice() {
        ["users"] => USERS_BUCKET,
        ["users", _] if method == Method::GET => GET_USER_BUCKET,
        ["users", _] => WRITE_USER_BUCKET,
        ["users", _, ..] => USERS_BUCKET,
        ["groups"] => GROUPS_BUCKET,
        ["groups", _, "users" | "roles", ..] => GROUPS_BUCKET,
        ["groups", _] => GROUP_BUCKET,
        ["logs", ..] => LOGS_BUCKET,
        _ => OTHER_API_BUCKET,
    };
    bucket.to_owned()
}

/// The path with every run of `/` reduced to one: Okta answers `//api/v1/users` like
/// `/api/v1/users` (recorded by Okta's Python SDK, whose URLs sometimes carry a doubled slash).
pub(crate) fn collapse_slashes(path: &str) -> std::borrow::Cow<'_, str> {
    if !path.contains("//") {
        return std::borrow::Cow::Borrowed(path);
    }
    let mut collapsed = String::with_capacity(path.len());
    for character in path.chars() {
        if character == '/' && collapsed.ends_with('/') {
            continue;
        }
        collapsed.push(character);
    }
    std::borrow::Cow::Owned(collapsed)
}

/// What the limiter decided for one request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Decision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// When the window resets, in UTC epoch seconds.
    pub reset_epoch: u64,
}

struct Window {
    started: Instant,
    reset_epoch: u64,
    used: u32,
}

/// Fixed one-minute windows per bucket, each starting at the bucket's first request.
pub(crate) struct RateLimiter {
    limits: HashMap<String, u32>,
    window: Duration,
    windows: Mutex<HashMap<String, Window>>,
}

/// The reset time of a window starting now, rounded up to whole seconds (the header's
/// resolution) so that a client waiting for it never comes back early.
fn reset_epoch(window: Duration) -> u64 {
    let end = SystemTime::now() + window;
    end.duration_since(UNIX_EPOCH).map(|d| d.as_secs() + u64::from(d.subsec_nanos() > 0)).unwrap_or(0)
}

pub(crate) fn epoch_seconds_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|duration| duration.as_secs()).unwrap_or(0)
}

impl RateLimiter {
    pub(crate) fn new(limits: Option<&BTreeMap<String, u32>>, window: Duration) -> RateLimiter {
        RateLimiter {
            limits: limits.map(|limits| limits.iter().map(|(k, v)| (k.clone(), *v)).collect()).unwrap_or_default(),
            window: window.max(Duration::from_millis(1)),
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one request against `bucket`; `None` when the bucket has no limit.
    pub(crate) fn check(&self, bucket: &str) -> Option<Decision> {
        let limit = *self.limits.get(bucket)?;
        let now = Instant::now();
        let mut windows = self.windows.lock().unwrap_or_else(|poison| poison.into_inner());
        let window = windows.entry(bucket.to_owned()).or_insert_with(|| Window {
            started: now,
            reset_epoch: reset_epoch(self.window),
            used: 0,
        });
        if now.duration_since(window.started) >= self.window {
            window.started = now;
            window.reset_epoch = reset_epoch(self.window);
            window.used = 0;
        }
        let allowed = window.used < limit;
        if allowed {
            window.used += 1;
        }
        Some(Decision { allowed, limit, remaining: limit - window.used, reset_epoch: window.reset_epoch })
    }

    pub(crate) fn clear(&self) {
        self.windows.lock().unwrap_or_else(|poison| poison.into_inner()).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_follow_okta_mapping() {
        let get = Method::GET;
        let post = Method::POST;
        assert_eq!(bucket_for(&get, "/api/v1/users"), USERS_BUCKET);
        assert_eq!(bucket_for(&get, "/api/v1/users/00u1"), GET_USER_BUCKET);
        assert_eq!(bucket_for(&post, "/api/v1/users/00u1"), WRITE_USER_BUCKET);
        assert_eq!(bucket_for(&post, "/api/v1/users/00u1/lifecycle/suspend"), USERS_BUCKET);
        assert_eq!(bucket_for(&get, "/api/v1/groups/00g1/users"), GROUPS_BUCKET);
        assert_eq!(bucket_for(&get, "/api/v1/groups/00g1"), GROUP_BUCKET);
        assert_eq!(bucket_for(&get, "/api/v1/apps"), OTHER_API_BUCKET);
        assert_eq!(bucket_for(&post, "/api/v1/users/00u1/roles"), USERS_BUCKET);
        assert_eq!(bucket_for(&get, "/api/v1/users/00u1/roles/KVJUKUS7IFCE2SKO/targets/groups"), USERS_BUCKET);
        assert_eq!(bucket_for(&post, "/api/v1/groups/00g1/roles"), GROUPS_BUCKET);
        assert_eq!(
            bucket_for(&Method::PUT, "/api/v1/groups/00g1/roles/KVJUKUS7IFCE2SKO/targets/groups/00g2"),
            GROUPS_BUCKET
        );
        assert_eq!(bucket_for(&get, "/api/v1/meta/schemas/user/default"), OTHER_API_BUCKET);
        assert_eq!(bucket_for(&post, "/api/v1/meta/types/user"), OTHER_API_BUCKET);
        assert_eq!(bucket_for(&post, "//api/v1/users"), USERS_BUCKET);
        assert_eq!(bucket_for(&get, "/api//v1/groups//00g1"), GROUP_BUCKET);
        assert_eq!(bucket_for(&get, "/api/v1/logs"), LOGS_BUCKET);
        assert_eq!(bucket_for(&get, "/api/v1/logs/"), LOGS_BUCKET);
    }

    #[test]
    fn window_blocks_after_limit() {
        let limits = BTreeMap::from([(USERS_BUCKET.to_owned(), 2)]);
        let limiter = RateLimiter::new(Some(&limits), Duration::from_secs(60));
        assert!(limiter.check(USERS_BUCKET).is_some_and(|d| d.allowed && d.remaining == 1));
        assert!(limiter.check(USERS_BUCKET).is_some_and(|d| d.allowed && d.remaining == 0));
        assert!(limiter.check(USERS_BUCKET).is_some_and(|d| !d.allowed));
        assert!(limiter.check(GROUPS_BUCKET).is_none());
    }
}
