//! Okta's rate-limit buckets: which per-minute budget a request counts against.
//!
//! Okta matches a request to a bucket by method and by exact path, then longest prefix. The
//! mapping that matters for lifecycle work (from Okta's published per-endpoint tables and the
//! Terraform provider's bucket lines, see `okta-api-facts.md` §4):
//! lifecycle operations, a user's groups and a user's sessions count against `/api/v1/users`;
//! group membership reads and writes count against `/api/v1/groups`. Role assignments share
//! those buckets too: recorded Okta traffic shows `X-Rate-Limit-Remaining` of
//! `/api/v1/users/{id}/roles` counting down with `POST /api/v1/users` (limit 600), and
//! `/api/v1/groups/{id}/roles` (and its targets) with `POST /api/v1/groups` (limit 500). The
//! System Log, `/api/v1/logs`, has a bucket of its own.

/// The bucket name for a request, in Okta's notation.
pub fn bucket_for(method: &str, path: &str) -> &'static str {
    let path = path.split('?').next().unwrap_or(path).trim_end_matches('/');
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["oauth2", "v1", "token"] => "/oauth2/v1/token",
        ["api", "v1", "users"] => "/api/v1/users",
        ["api", "v1", "users", _] if method.eq_ignore_ascii_case("GET") => "/api/v1/users/{idOrLogin}",
        ["api", "v1", "users", _] => "/api/v1/users/{id}",
        ["api", "v1", "users", _, "lifecycle", ..]
        | ["api", "v1", "users", _, "groups"]
        | ["api", "v1", "users", _, "sessions"]
        | ["api", "v1", "users", _, "roles", ..] => "/api/v1/users",
        ["api", "v1", "users", ..] => "/api/v1/users/{id}",
        ["api", "v1", "groups"] => "/api/v1/groups",
        ["api", "v1", "groups", _, "users", ..] | ["api", "v1", "groups", _, "roles", ..] => "/api/v1/groups",
        ["api", "v1", "groups", _] => "/api/v1/groups/{id}",
        ["api", "v1", "groups", ..] => "/api/v1/groups/{id}",
        ["api", "v1", "logs"] => "/api/v1/logs",
        _ => "/api/v1",
    }
}

#[cfg(test)]
mod tests {
    use super::bucket_for;

    #[test]
    fn okta_bucket_mapping() {
        assert_eq!(bucket_for("GET", "/api/v1/users"), "/api/v1/users");
        assert_eq!(bucket_for("POST", "/api/v1/users?activate=true"), "/api/v1/users");
        assert_eq!(bucket_for("GET", "/api/v1/users/00u1"), "/api/v1/users/{idOrLogin}");
        assert_eq!(bucket_for("POST", "/api/v1/users/00u1"), "/api/v1/users/{id}");
        assert_eq!(bucket_for("DELETE", "/api/v1/users/00u1"), "/api/v1/users/{id}");
        assert_eq!(bucket_for("POST", "/api/v1/users/00u1/lifecycle/suspend"), "/api/v1/users");
        assert_eq!(bucket_for("GET", "/api/v1/users/00u1/groups"), "/api/v1/users");
        assert_eq!(bucket_for("DELETE", "/api/v1/users/00u1/sessions"), "/api/v1/users");
        assert_eq!(bucket_for("POST", "/api/v1/groups"), "/api/v1/groups");
        assert_eq!(bucket_for("PUT", "/api/v1/groups/00g1/users/00u1"), "/api/v1/groups");
        assert_eq!(bucket_for("GET", "/api/v1/groups/00g1/users"), "/api/v1/groups");
        assert_eq!(bucket_for("GET", "/api/v1/groups/00g1"), "/api/v1/groups/{id}");
        assert_eq!(bucket_for("POST", "/oauth2/v1/token"), "/oauth2/v1/token");
        assert_eq!(bucket_for("GET", "/api/v1/apps"), "/api/v1");
        assert_eq!(bucket_for("POST", "/api/v1/users/00u1/roles"), "/api/v1/users");
        assert_eq!(bucket_for("DELETE", "/api/v1/users/00u1/roles/KVJUKUS7IFCE2SKO"), "/api/v1/users");
        assert_eq!(bucket_for("PUT", "/api/v1/groups/00g1/roles/KVJ/targets/groups/00g2"), "/api/v1/groups");
        assert_eq!(bucket_for("GET", "/api/v1/meta/schemas/user/default"), "/api/v1");
        assert_eq!(bucket_for("GET", "/api/v1/logs?since=2026-12-01T00:00:00Z"), "/api/v1/logs");
    }
}
