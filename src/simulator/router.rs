//! The HTTP front: the per-request pipeline (concurrency limit, latency, faults, request log,
//! standard headers) and the dispatch of `/api/v1` calls (authentication, scopes, rate limits).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;

use super::errors::ApiError;
use super::events::RequestContext;
use super::faults::{ConnectionHandle, FaultAction};
use super::ids::random_token;
use super::locks::lock;
use super::ratelimit::{bucket_for, collapse_slashes, epoch_seconds_now};
use super::responses::{Call, Query};
use super::role_assignments::Assignee;
use super::roles::RoleOp;
use super::shared::{RequestRecord, Shared};
use super::{logs, roles, routes_groups, routes_meta, routes_oauth, routes_users};

/// Largest request body accepted.
const BODY_LIMIT: usize = 4 * 1024 * 1024;

/// The whole application.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .merge(extra_routes(shared.clone()))
        .fallback(dispatch)
        .layer(axum::middleware::from_fn_with_state(shared.clone(), pipeline))
        .with_state(shared)
}

/// Routes outside `/api/v1`, e.g. the OAuth 2.0 token endpoint (`POST /oauth2/v1/token`) that
/// will register tokens with [`super::Simulator::register_access_token`]'s machinery. They go
/// through the same pipeline (request log, faults, latency, concurrency limit) but do their own
/// authentication.
pub(crate) fn extra_routes(shared: Arc<Shared>) -> Router<Arc<Shared>> {
    let _ = shared;
    Router::new().route("/oauth2/v1/token", axum::routing::post(routes_oauth::token))
}

/// The longest a held request waits for its release.
const HOLD_LIMIT: Duration = Duration::from_secs(120);

/// Decrements the in-flight count when a request ends, however it ends.
struct InFlight<'a>(&'a Shared);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The rate-limit bucket of the request, computed once by the pipeline.
#[derive(Clone)]
pub(crate) struct Bucket(pub String);

/// The request's `X-Okta-Request-Id`, chosen by the pipeline before the handler runs, so that the
/// System Log events the handler writes carry the id the response then sends.
#[derive(Clone)]
pub(crate) struct RequestId(pub String);

async fn pipeline(State(shared): State<Arc<Shared>>, mut request: Request, next: Next) -> Response {
    let at = SystemTime::now();
    let request_id = random_token(27);
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().map(str::to_owned);
    let connection = request.extensions().get::<ConnectInfo<ConnectionHandle>>().map(|info| info.0.clone());
    let bucket = bucket_for(&method, &path);
    shared.counters.requests.fetch_add(1, Ordering::Relaxed);

    let before = shared.in_flight.fetch_add(1, Ordering::AcqRel);
    let in_flight = InFlight(&shared);
    let mut dropped = false;
    let mut dropped_before = false;
    let mut response = match shared.concurrency_limit {
        Some(limit) if before >= limit => {
            shared.counters.concurrency_limited.fetch_add(1, Ordering::Relaxed);
            let mut response = ApiError::rate_limited().into_response();
            set_rate_limit_headers(response.headers_mut(), 0, 0, epoch_seconds_now() + 1);
            response
        }
        _ => {
            shared.counters.max_in_flight.fetch_max(before + 1, Ordering::Relaxed);
            let plan = shared.faults.plan(method.as_str(), &path);
            if plan.delay_ms > 0 {
                tokio::time::sleep(Duration::from_millis(plan.delay_ms)).await;
            }
            match plan.action {
                FaultAction::Status(status) => ApiError::server_fault(status).into_response(),
                FaultAction::DropBefore => {
                    dropped = true;
                    dropped_before = true;
                    if let Some(connection) = &connection {
                        connection.kill();
                    }
                    StatusCode::INTERNAL_SERVER_ERROR.into_response()
                }
                FaultAction::HoldBefore => {
                    shared.faults.mark_held();
                    shared.faults.wait_release(HOLD_LIMIT).await;
                    dropped = true;
                    dropped_before = true;
                    if let Some(connection) = &connection {
                        connection.kill();
                    }
                    StatusCode::INTERNAL_SERVER_ERROR.into_response()
                }
                FaultAction::DropAfter | FaultAction::GarbleAfter | FaultAction::HoldAfter | FaultAction::None => {
                    request.extensions_mut().insert(Bucket(bucket.clone()));
                    request.extensions_mut().insert(RequestId(request_id.clone()));
                    let response = next.run(request).await;
                    match plan.action {
                        FaultAction::HoldAfter => {
                            shared.faults.mark_held();
                            shared.faults.wait_release(HOLD_LIMIT).await;
                            dropped = true;
                            if let Some(connection) = &connection {
                                connection.kill();
                            }
                            response
                        }
                        FaultAction::DropAfter => {
                            dropped = true;
                            if let Some(connection) = &connection {
                                connection.kill();
                            }
                            response
                        }
                        FaultAction::GarbleAfter => {
                            (StatusCode::OK, [(header::CONTENT_TYPE, "text/html")], "<html>gateway</html>")
                                .into_response()
                        }
                        _ => response,
                    }
                }
            }
        }
    };
    drop(in_flight);

    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        headers.insert(HeaderName::from_static("x-okta-request-id"), value);
    }
    if let Ok(value) = HeaderValue::from_str(&httpdate::fmt_http_date(SystemTime::now())) {
        headers.insert(header::DATE, value);
    }
    // A connection dropped before processing never produced a status.
    let status = if dropped_before { 0 } else { response.status().as_u16() };
    let status_slot = usize::from(status).min(shared.counters.by_status.len() - 1);
    shared.counters.by_status[status_slot].fetch_add(1, Ordering::Relaxed);
    lock(&shared.log).push(RequestRecord { method: method.to_string(), path, query, status, bucket, dropped, at });
    response
}

/// Sets Okta's three rate-limit headers.
pub(crate) fn set_rate_limit_headers(headers: &mut HeaderMap, limit: u32, remaining: u32, reset_epoch: u64) {
    for (name, value) in [
        ("x-rate-limit-limit", limit as u64),
        ("x-rate-limit-remaining", remaining as u64),
        ("x-rate-limit-reset", reset_epoch),
    ] {
        headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
    }
}

/// The API operations the simulator serves.
#[derive(Debug)]
enum Route {
    ListUsers,
    CreateUser,
    GetUser(String),
    UpdateUser(String),
    ReplaceUser(String),
    DeleteUser(String),
    Lifecycle(String, String),
    UserGroups(String),
    RevokeSessions(String),
    ListGroups,
    CreateGroup,
    GetGroup(String),
    ReplaceGroup(String),
    DeleteGroup(String),
    GroupMembers(String),
    AddMember(String, String),
    RemoveMember(String, String),
    GetSchema(String),
    UpdateSchema(String),
    ListTypes,
    CreateType,
    GetType(String),
    UpdateType(String),
    ReplaceType(String),
    DeleteType(String),
    Roles(Assignee, RoleOp),
    RoleAssignees,
    ListLogs,
}

fn decode_segment(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment).decode_utf8_lossy().into_owned()
}

impl Route {
    fn parse(method: &Method, path: &str) -> Result<Route, ApiError> {
        let not_found = || ApiError::not_found(path, "Resource");
        let path = collapse_slashes(path);
        let rest = path.strip_prefix("/api/v1/").ok_or_else(not_found)?;
        let segments: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
        let id = |index: usize| decode_segment(segments[index]);
        let route = match (segments.as_slice(), method.as_str()) {
            (["users"], "GET") => Route::ListUsers,
            (["users"], "POST") => Route::CreateUser,
            (["users"], _) => return Err(ApiError::method_not_allowed()),
            (["users", _], "GET") => Route::GetUser(id(1)),
            (["users", _], "POST") => Route::UpdateUser(id(1)),
            (["users", _], "PUT") => Route::ReplaceUser(id(1)),
            (["users", _], "DELETE") => Route::DeleteUser(id(1)),
            (["users", _], _) => return Err(ApiError::method_not_allowed()),
            (["users", _, "lifecycle", operation], "POST") => Route::Lifecycle(id(1), (*operation).to_owned()),
            (["users", _, "lifecycle", _], _) => return Err(ApiError::method_not_allowed()),
            (["users", _, "groups"], "GET") => Route::UserGroups(id(1)),
            (["users", _, "groups"], _) => return Err(ApiError::method_not_allowed()),
            (["users", _, "sessions"], "DELETE") => Route::RevokeSessions(id(1)),
            (["users", _, "sessions"], _) => return Err(ApiError::method_not_allowed()),
            (["groups"], "GET") => Route::ListGroups,
            (["groups"], "POST") => Route::CreateGroup,
            (["groups"], _) => return Err(ApiError::method_not_allowed()),
            (["groups", _], "GET") => Route::GetGroup(id(1)),
            (["groups", _], "PUT") => Route::ReplaceGroup(id(1)),
            (["groups", _], "DELETE") => Route::DeleteGroup(id(1)),
            (["groups", _], _) => return Err(ApiError::method_not_allowed()),
            (["groups", _, "users"], "GET") => Route::GroupMembers(id(1)),
            (["groups", _, "users"], _) => return Err(ApiError::method_not_allowed()),
            (["groups", _, "users", _], "PUT") => Route::AddMember(id(1), id(3)),
            (["groups", _, "users", _], "DELETE") => Route::RemoveMember(id(1), id(3)),
            (["groups", _, "users", _], _) => return Err(ApiError::method_not_allowed()),
            (["meta", "schemas", "user", _], "GET") => Route::GetSchema(id(3)),
            (["meta", "schemas", "user", _], "POST") => Route::UpdateSchema(id(3)),
            (["meta", "schemas", "user", _], _) => return Err(ApiError::method_not_allowed()),
            (["meta", "types", "user"], "GET") => Route::ListTypes,
            (["meta", "types", "user"], "POST") => Route::CreateType,
            (["meta", "types", "user"], _) => return Err(ApiError::method_not_allowed()),
            (["meta", "types", "user", _], "GET") => Route::GetType(id(3)),
            (["meta", "types", "user", _], "POST") => Route::UpdateType(id(3)),
            (["meta", "types", "user", _], "PUT") => Route::ReplaceType(id(3)),
            (["meta", "types", "user", _], "DELETE") => Route::DeleteType(id(3)),
            (["meta", "types", "user", _], _) => return Err(ApiError::method_not_allowed()),
            (["iam", "assignees", "users"], "GET") => Route::RoleAssignees,
            (["iam", "assignees", "users"], _) => return Err(ApiError::method_not_allowed()),
            (["logs"], "GET") => Route::ListLogs,
            (["logs"], _) => return Err(ApiError::method_not_allowed()),
            ([collection @ ("users" | "groups"), _, "roles", rest @ ..], method) => {
                let assignee = if *collection == "users" { Assignee::User(id(1)) } else { Assignee::Group(id(1)) };
                let rest: Vec<String> = rest.iter().map(|segment| decode_segment(segment)).collect();
                let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
                let op = match (rest.as_slice(), method) {
                    ([], "GET") => RoleOp::List,
                    ([], "POST") => RoleOp::Assign,
                    ([role], "GET") => RoleOp::Get((*role).to_owned()),
                    ([role], "DELETE") => RoleOp::Unassign((*role).to_owned()),
                    ([role, "targets", "groups"], "GET") => RoleOp::ListGroupTargets((*role).to_owned()),
                    ([role, "targets", "groups", group], "PUT") => {
                        RoleOp::AddGroupTarget((*role).to_owned(), (*group).to_owned())
                    }
                    ([role, "targets", "groups", group], "DELETE") => {
                        RoleOp::RemoveGroupTarget((*role).to_owned(), (*group).to_owned())
                    }
                    ([role, "targets", "catalog", "apps"], "GET") => RoleOp::ListAppTargets((*role).to_owned()),
                    ([role, "targets", "catalog", "apps"], "PUT") if *collection == "users" => {
                        RoleOp::AllApps((*role).to_owned())
                    }
                    ([role, "targets", "catalog", "apps", app], "PUT") => {
                        RoleOp::AddAppTarget((*role).to_owned(), (*app).to_owned())
                    }
                    ([role, "targets", "catalog", "apps", app], "DELETE") => {
                        RoleOp::RemoveAppTarget((*role).to_owned(), (*app).to_owned())
                    }
                    (
                        []
                        | [_]
                        | [_, "targets", "groups"]
                        | [_, "targets", "groups", _]
                        | [_, "targets", "catalog", "apps"]
                        | [_, "targets", "catalog", "apps", _],
                        _,
                    ) => return Err(ApiError::method_not_allowed()),
                    _ => return Err(not_found()),
                };
                Route::Roles(assignee, op)
            }
            _ => return Err(not_found()),
        };
        Ok(route)
    }

    /// The OAuth scope the operation needs (Okta's per-operation `security`).
    fn scope(&self) -> &'static str {
        match self {
            Route::ListUsers | Route::GetUser(_) | Route::UserGroups(_) => "okta.users.read",
            Route::CreateUser
            | Route::UpdateUser(_)
            | Route::ReplaceUser(_)
            | Route::DeleteUser(_)
            | Route::Lifecycle(..)
            | Route::RevokeSessions(_) => "okta.users.manage",
            Route::ListGroups | Route::GetGroup(_) | Route::GroupMembers(_) => "okta.groups.read",
            Route::CreateGroup
            | Route::ReplaceGroup(_)
            | Route::DeleteGroup(_)
            | Route::AddMember(..)
            | Route::RemoveMember(..) => "okta.groups.manage",
            Route::GetSchema(_) => "okta.schemas.read",
            Route::UpdateSchema(_) => "okta.schemas.manage",
            Route::ListTypes | Route::GetType(_) => "okta.userTypes.read",
            Route::CreateType | Route::UpdateType(_) | Route::ReplaceType(_) | Route::DeleteType(_) => {
                "okta.userTypes.manage"
            }
            Route::Roles(_, op) if op.reads() => "okta.roles.read",
            Route::RoleAssignees => "okta.roles.read",
            Route::Roles(..) => "okta.roles.manage",
            Route::ListLogs => "okta.logs.read",
        }
    }

    fn reads_body(&self) -> bool {
        matches!(
            self,
            Route::CreateUser
                | Route::UpdateUser(_)
                | Route::ReplaceUser(_)
                | Route::CreateGroup
                | Route::ReplaceGroup(_)
                | Route::UpdateSchema(_)
                | Route::CreateType
                | Route::UpdateType(_)
                | Route::ReplaceType(_)
                | Route::Roles(_, RoleOp::Assign)
        )
    }
}

async fn dispatch(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let bucket = match parts.extensions.get::<Bucket>() {
        Some(bucket) => bucket.0.clone(),
        None => bucket_for(&parts.method, parts.uri.path()),
    };
    let authenticated = {
        let credentials = shared.read_credentials();
        super::auth::authenticate(&credentials, &parts, &shared.base_url, &shared.oauth)
    };
    let (principal, actor) = match authenticated {
        Ok(authenticated) => authenticated,
        Err(error) => return error.into_response(),
    };
    let route = match Route::parse(&parts.method, parts.uri.path()) {
        Ok(route) => route,
        Err(error) => return error.into_response(),
    };
    if let Err(error) = principal.require(route.scope()) {
        return error.into_response();
    }
    let decision = shared.limiter.check(&bucket);
    if let Some(decision) = decision {
        if !decision.allowed {
            shared.counters.rate_limited.fetch_add(1, Ordering::Relaxed);
            let mut response = ApiError::rate_limited().into_response();
            set_rate_limit_headers(response.headers_mut(), decision.limit, 0, decision.reset_epoch);
            return response;
        }
    }
    let body = if route.reads_body() {
        match axum::body::to_bytes(body, BODY_LIMIT).await {
            Ok(bytes) => bytes,
            Err(_) => return ApiError::malformed_body().into_response(),
        }
    } else {
        Bytes::new()
    };
    let context = RequestContext {
        request_id: match parts.extensions.get::<RequestId>() {
            Some(id) => id.0.clone(),
            None => random_token(27),
        },
        ip: parts.extensions.get::<ConnectInfo<ConnectionHandle>>().map(|info| info.0.peer().ip()),
        user_agent: parts.headers.get(header::USER_AGENT).and_then(|value| value.to_str().ok()).map(str::to_owned),
        path: collapse_slashes(parts.uri.path()).into_owned(),
        query: parts.uri.query().map(str::to_owned),
        actor,
    };
    let call = Call { shared: &shared, query: Query::parse(parts.uri.query()), headers: &parts.headers, body, context };
    let result = match &route {
        Route::ListUsers => routes_users::list_users(&call),
        Route::CreateUser => routes_users::create_user(&call),
        Route::GetUser(id) => routes_users::get_user(&call, id),
        Route::UpdateUser(id) => routes_users::update_user(&call, id, false),
        Route::ReplaceUser(id) => routes_users::update_user(&call, id, true),
        Route::DeleteUser(id) => routes_users::delete_user(&call, id),
        Route::Lifecycle(id, operation) => routes_users::lifecycle(&call, id, operation),
        Route::UserGroups(id) => routes_users::user_groups(&call, id),
        Route::RevokeSessions(id) => routes_users::revoke_sessions(&call, id),
        Route::ListGroups => routes_groups::list_groups(&call),
        Route::CreateGroup => routes_groups::create_group(&call),
        Route::GetGroup(id) => routes_groups::get_group(&call, id),
        Route::ReplaceGroup(id) => routes_groups::replace_group(&call, id),
        Route::DeleteGroup(id) => routes_groups::delete_group(&call, id),
        Route::GroupMembers(id) => routes_groups::list_members(&call, id),
        Route::AddMember(group, user) => routes_groups::add_member(&call, group, user),
        Route::RemoveMember(group, user) => routes_groups::remove_member(&call, group, user),
        Route::GetSchema(id) => routes_meta::get_schema(&call, id),
        Route::UpdateSchema(id) => routes_meta::update_schema(&call, id),
        Route::ListTypes => routes_meta::list_types(&call),
        Route::CreateType => routes_meta::create_type(&call),
        Route::GetType(id) => routes_meta::get_type(&call, id),
        Route::UpdateType(id) => routes_meta::update_type(&call, id, false),
        Route::ReplaceType(id) => routes_meta::update_type(&call, id, true),
        Route::DeleteType(id) => routes_meta::delete_type(&call, id),
        Route::Roles(assignee, op) => roles::handle(&call, assignee, op),
        Route::RoleAssignees => roles::list_assigned_users(&call),
        Route::ListLogs => logs::list_logs(&call),
    };
    let mut response = result.unwrap_or_else(IntoResponse::into_response);
    if let Some(decision) = decision {
        set_rate_limit_headers(response.headers_mut(), decision.limit, decision.remaining, decision.reset_epoch);
    }
    response
}
