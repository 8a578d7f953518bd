//! `/api/v1/users…`: create, read, update, delete, list/search, lifecycle, sessions, groups.

use std::ops::Bound;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{json, Map, Value};

use super::errors::ApiError;
use super::events::EventKind;
use super::ids::{fold_login, random_token, Cursor};
use super::listing::{
    check_filter, check_search, listing_page, page_links, parse_cursor, parse_expression, select_page, sort_key,
    value_at, Selection,
};
use super::logs::{group_target, user_target};
use super::responses::{json_response, link, no_content, with_links, Call};
use super::state::{group_json, now_timestamp, user_view, DocumentWith, GroupType, Org, User, UserLinks, UserStatus};
use crate::scim::{CompareOp, EvalOptions, Filter, ScimValue};

/// Most group ids accepted when creating a user.
const MAX_CREATE_GROUP_IDS: usize = 20;

/// Adds a user of type `type_id` without validation; returns its id.
pub(crate) fn insert_user(
    org: &mut Org,
    profile: Map<String, Value>,
    status: UserStatus,
    has_password: bool,
    provider: &str,
    type_id: &str,
    now: &str,
) -> String {
    let id = org.next_id("00u");
    // Activation stamps `activated`, also when it leaves the user `PROVISIONED` (pending the
    // user's own activation step), as Okta does.
    let is_active = matches!(status, UserStatus::Active | UserStatus::PasswordExpired | UserStatus::Provisioned);
    let mut user = User {
        id: id.clone(),
        status,
        created: now.to_owned(),
        activated: is_active.then(|| now.to_owned()),
        // Current Okta sets `statusChanged` at creation for every status, `STAGED` included
        // (2020 orgs left it null for `STAGED`).
        status_changed: Some(now.to_owned()),
        last_login: None,
        last_updated: now.to_owned(),
        password_changed: has_password.then(|| now.to_owned()),
        has_password,
        provider: provider.to_owned(),
        profile,
        groups: Default::default(),
        sessions: 0,
        oauth_tokens: 0,
        version: 1,
        type_id: type_id.to_owned(),
        realm_id: org.realm_id.clone(),
        document: Value::Null,
        index_delay: org.search_delay,
        earlier: Vec::new(),
    };
    user.refresh();
    org.logins.insert(fold_login(user.login()), id.clone());
    org.by_created.insert((user.created.clone(), id.clone()));
    org.users.insert(id.clone(), user);
    org.touch_everyone(now);
    id
}

/// The profile in Okta's key order, with `mobilePhone` and `secondEmail` always present.
fn canonical_profile(input: Map<String, Value>) -> Map<String, Value> {
    let tail = ["mobilePhone", "secondEmail", "login", "email"];
    let mut profile = Map::new();
    for key in ["firstName", "lastName"] {
        if let Some(value) = input.get(key) {
            profile.insert(key.into(), value.clone());
        }
    }
    for (key, value) in &input {
        if !tail.contains(&key.as_str()) && key != "firstName" && key != "lastName" && !value.is_null() {
            profile.insert(key.clone(), value.clone());
        }
    }
    for key in tail {
        let value = input.get(key).cloned().unwrap_or(Value::Null);
        if !value.is_null() || key == "mobilePhone" || key == "secondEmail" {
            profile.insert(key.into(), value);
        }
    }
    profile
}

/// Checks a profile against the org's schema (`object` names the request object in the
/// summary of an undefined-property refusal). Unique custom properties are checked against
/// every other user, case-insensitively (chosen: Okta does not document the comparison).
fn validate_profile(
    org: &Org,
    profile: &Map<String, Value>,
    object: &str,
    except: Option<&str>,
) -> Result<(), ApiError> {
    let taken = |name: &str, value: &str| {
        let folded = value.to_lowercase();
        org.users.values().any(|user| {
            Some(user.id.as_str()) != except
                && user.profile.get(name).and_then(Value::as_str).is_some_and(|other| other.to_lowercase() == folded)
        })
    };
    org.schema.validate_profile(profile, object, &taken)
}

/// The user type a create or replace body names (`type.id`), or `None` when it names none;
/// `404 E0000007 … (CVDType)` for an unknown type (chosen: as `GET` on the type answers).
fn requested_type(org: &Org, body: &Map<String, Value>) -> Result<Option<String>, ApiError> {
    match body.get("type") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(kind)) => match kind.get("id") {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(id)) => match org.resolve_type(id) {
                Some(user_type) => Ok(Some(user_type.id.clone())),
                None => Err(ApiError::not_found(id, "CVDType")),
            },
            Some(_) => Err(ApiError::malformed_body()),
        },
        Some(_) => Err(ApiError::malformed_body()),
    }
}

fn duplicate_login() -> ApiError {
    ApiError::validation(
        "login",
        vec!["login: An object with this field already exists in the current organization".into()],
    )
}

fn user_not_found(id_or_login: &str) -> ApiError {
    ApiError::not_found(id_or_login, "User")
}

/// `credentials.password.value` (or a hash) from a request body: `Some(true)` when a password
/// is given.
fn password_given(body: &Map<String, Value>) -> bool {
    body.get("credentials").and_then(|credentials| credentials.get("password")).is_some_and(|password| {
        password.get("value").and_then(Value::as_str).is_some_and(|value| !value.is_empty())
            || password.get("hash").is_some_and(Value::is_object)
    })
}

fn full_user_response(user: &User, base: &str) -> Response {
    json_response(StatusCode::OK, &user_view(user, base, UserLinks::Full))
}

/// `POST /api/v1/users`.
pub(crate) fn create_user(call: &Call) -> Result<Response, ApiError> {
    let activate = call.query.flag("activate", true);
    let provider = call.query.flag("provider", false);
    let change_password = call.query.get("nextLogin").is_some_and(|next| next.eq_ignore_ascii_case("changePassword"));
    let body = call.json_object()?;
    let has_password = password_given(&body);
    if change_password && !activate {
        return Err(ApiError::new(
            400,
            "E0000125",
            "Could not create user. To create a user and expire their password immediately, \"activate\" must be true",
        ));
    }
    if change_password && !has_password {
        return Err(ApiError::new(
            400,
            "E0000124",
            "Could not create user. To create a user and expire their password immediately, a password must be specified",
        ));
    }
    let profile = match body.get("profile") {
        Some(Value::Object(profile)) => profile.clone(),
        None | Some(Value::Null) => Map::new(),
        Some(_) => return Err(ApiError::malformed_body()),
    };
    let group_ids: Vec<String> = match body.get("groupIds") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(ids)) => ids
            .iter()
            .map(|id| id.as_str().map(str::to_owned).ok_or_else(ApiError::malformed_body))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(ApiError::malformed_body()),
    };
    if group_ids.len() > MAX_CREATE_GROUP_IDS {
        return Err(ApiError::new(400, "E0000093", "Target count limit exceeded"));
    }
    let provider_type = body
        .get("credentials")
        .and_then(|credentials| credentials.get("provider"))
        .and_then(|provider| provider.get("type"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| if provider { "FEDERATION".into() } else { "OKTA".into() });
    let status = if !activate {
        UserStatus::Staged
    } else if provider || has_password {
        if change_password {
            UserStatus::PasswordExpired
        } else {
            UserStatus::Active
        }
    } else {
        UserStatus::Provisioned
    };

    let now = now_timestamp();
    let mut org = call.shared.write_org();
    let type_id = requested_type(&org, &body)?.unwrap_or_else(|| org.user_type_id.clone());
    validate_profile(&org, &profile, "newUser", None)?;
    let login = profile.get("login").and_then(Value::as_str).unwrap_or_default();
    if org.logins.contains_key(&fold_login(login)) {
        return Err(duplicate_login());
    }
    for group_id in &group_ids {
        match org.groups.get(group_id) {
            None => return Err(ApiError::not_found(group_id, "UserGroup")),
            Some(group) if group.kind != GroupType::OktaGroup => {
                return Err(ApiError::access_denied().with_cause(format!("Group {group_id} is not an OKTA_GROUP")))
            }
            Some(_) => {}
        }
    }
    let id = insert_user(&mut org, canonical_profile(profile), status, has_password, &provider_type, &type_id, &now);
    let mut joined = Vec::new();
    for group_id in &group_ids {
        if let Some(group) = org.groups.get_mut(group_id) {
            if group.members.insert(id.clone()) {
                joined.push(group_target(group));
            }
            group.last_membership_updated = now.clone();
        }
        if let Some(user) = org.users.get_mut(&id) {
            user.groups.insert(group_id.clone());
        }
    }
    let target = user_target(org.users.get(&id).ok_or_else(|| ApiError::server_fault(500))?);
    // Okta logs the creation, then the activation when `activate=true`, then each membership.
    org.record(&call.context, EventKind::UserCreate, vec![target.clone()]);
    if status != UserStatus::Staged {
        org.record(&call.context, EventKind::UserActivate, vec![target.clone()]);
    }
    for group in joined {
        org.record(&call.context, EventKind::MembershipAdd, vec![target.clone(), group]);
    }
    let user = org.users.get(&id).ok_or_else(|| ApiError::server_fault(500))?;
    Ok(full_user_response(user, call.base()))
}

/// `GET /api/v1/users/{idOrLogin}`.
pub(crate) fn get_user(call: &Call, id_or_login: &str) -> Result<Response, ApiError> {
    let org = call.shared.read_org();
    let user =
        org.resolve_user(id_or_login).and_then(|id| org.users.get(&id)).ok_or_else(|| user_not_found(id_or_login))?;
    let mut response = full_user_response(user, call.base());
    if let Ok(etag) = HeaderValue::from_str(&user.etag()) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    Ok(response)
}

fn etag_matches(call: &Call, user: &User) -> bool {
    let Some(expected) = call.headers.get(header::IF_MATCH).and_then(|value| value.to_str().ok()) else {
        return true;
    };
    let current = user.etag();
    let strong = current.trim_start_matches("W/");
    expected
        .split(',')
        .map(str::trim)
        .any(|candidate| candidate == "*" || candidate == current || candidate.trim_start_matches("W/") == strong)
}

/// `POST /api/v1/users/{id}` (partial update) and `PUT /api/v1/users/{id}` (replace).
///
/// A `PUT` whose body has `credentials` and no `profile` (an admin setting a password, as
/// Terraform's provider sends it) keeps the profile, as Okta does. Passwords are never stored:
/// the user only records that it has one.
pub(crate) fn update_user(call: &Call, id_or_login: &str, replace: bool) -> Result<Response, ApiError> {
    let body = call.json_object()?;
    let now = now_timestamp();
    let mut org = call.shared.write_org();
    let id = org.resolve_user(id_or_login).ok_or_else(|| user_not_found(id_or_login))?;
    let user = org.users.get(&id).ok_or_else(|| user_not_found(id_or_login))?;
    if !etag_matches(call, user) {
        return Err(ApiError::new(412, "E0000231", "ETag value doesn't match."));
    }
    if user.status == UserStatus::Deprovisioned {
        return Err(ApiError::wrong_user_status());
    }
    let profile = match body.get("profile") {
        Some(Value::Object(changes)) => {
            let mut profile = if replace { Map::new() } else { user.profile.clone() };
            for (key, value) in changes {
                if value.is_null() {
                    profile.remove(key);
                } else {
                    profile.insert(key.clone(), value.clone());
                }
            }
            canonical_profile(profile)
        }
        None | Some(Value::Null) if !replace => user.profile.clone(),
        None if body.get("credentials").is_some_and(Value::is_object) => user.profile.clone(),
        None | Some(Value::Null) => Map::new(),
        Some(_) => return Err(ApiError::malformed_body()),
    };
    // `type` changes only on a full replace (spec `updateUser`, `replaceUser`); a partial update
    // ignores it (chosen: Okta's answer to a `type` in a partial update is not documented).
    let new_type = if replace { requested_type(&org, &body)? } else { None };
    // chosen: the object named when a profile property is undefined on an update is not
    // documented; creates name `newUser` (recorded), updates name `user`.
    validate_profile(&org, &profile, "user", Some(&id))?;
    let old_key = fold_login(user.login());
    let new_key = fold_login(profile.get("login").and_then(Value::as_str).unwrap_or_default());
    if new_key != old_key && org.logins.contains_key(&new_key) {
        return Err(duplicate_login());
    }
    let sets_password = password_given(&body);
    let updates_profile = body.get("profile").is_some_and(Value::is_object);
    let user = org.users.get_mut(&id).ok_or_else(|| user_not_found(id_or_login))?;
    user.profile = profile;
    let mut changes_type = false;
    if let Some(type_id) = new_type {
        changes_type = type_id != user.type_id;
        user.type_id = type_id;
    }
    if sets_password {
        user.has_password = true;
        user.password_changed = Some(now.clone());
        if matches!(user.status, UserStatus::Provisioned | UserStatus::Recovery | UserStatus::PasswordExpired) {
            user.set_status(UserStatus::Active, &now);
            user.activated.get_or_insert_with(|| now.clone());
        }
    }
    user.touch(&now);
    user.refresh();
    let target = user_target(user);
    if new_key != old_key {
        org.logins.remove(&old_key);
        org.logins.insert(new_key, id.clone());
    }
    for (happened, kind) in [
        (updates_profile, EventKind::UpdateProfile),
        (changes_type, EventKind::UpdateUserType),
        (sets_password, EventKind::UpdatePassword),
    ] {
        if happened {
            org.record(&call.context, kind, vec![target.clone()]);
        }
    }
    let user = org.users.get(&id).ok_or_else(|| user_not_found(id_or_login))?;
    Ok(full_user_response(user, call.base()))
}

/// Deactivation: `DEPROVISIONED`, sessions and OAuth tokens ended, memberships kept.
fn deactivate(user: &mut User, now: &str) {
    user.set_status(UserStatus::Deprovisioned, now);
    user.sessions = 0;
    user.oauth_tokens = 0;
}

/// `DELETE /api/v1/users/{id}`: deactivates first, deletes a deactivated user.
pub(crate) fn delete_user(call: &Call, id_or_login: &str) -> Result<Response, ApiError> {
    let now = now_timestamp();
    let mut org = call.shared.write_org();
    let id = org.resolve_user(id_or_login).ok_or_else(|| user_not_found(id_or_login))?;
    let user = org.users.get_mut(&id).ok_or_else(|| user_not_found(id_or_login))?;
    if user.status == UserStatus::Deprovisioned {
        let target = user_target(user);
        org.remove_user(&id);
        org.record(&call.context, EventKind::UserDeleteInitiated, vec![target.clone()]);
        org.record(&call.context, EventKind::UserDeleteCompleted, vec![target]);
    } else {
        deactivate(user, &now);
        user.refresh();
        let target = user_target(user);
        org.record(&call.context, EventKind::UserDeactivate, vec![target]);
    }
    Ok(no_content())
}

fn activation_body(call: &Call) -> Value {
    let token = random_token(20);
    json!({
        "activationUrl": format!("{}/tokens/{token}/verify", call.base()),
        "activationToken": token,
    })
}

/// The System Log event of a lifecycle operation (`None` for an operation that does not exist).
fn lifecycle_event(operation: &str) -> Option<EventKind> {
    Some(match operation {
        "activate" => EventKind::UserActivate,
        "reactivate" => EventKind::UserReactivate,
        "deactivate" => EventKind::UserDeactivate,
        "suspend" => EventKind::UserSuspend,
        "unsuspend" => EventKind::UserUnsuspend,
        "unlock" => EventKind::UnlockByAdmin,
        "expire_password" | "expire_password_with_temp_password" => EventKind::ExpirePassword,
        "reset_password" => EventKind::ResetPassword,
        "reset_factors" => EventKind::ResetFactors,
        _ => return None,
    })
}

/// `POST /api/v1/users/{id}/lifecycle/{operation}`.
pub(crate) fn lifecycle(call: &Call, id_or_login: &str, operation: &str) -> Result<Response, ApiError> {
    let now = now_timestamp();
    let mut org = call.shared.write_org();
    let id = org.resolve_user(id_or_login).ok_or_else(|| user_not_found(id_or_login))?;
    let user = org.users.get_mut(&id).ok_or_else(|| user_not_found(id_or_login))?;
    let empty = || json_response(StatusCode::OK, &json!({}));
    let response = match operation {
        "activate" => match user.status {
            UserStatus::Staged | UserStatus::Deprovisioned => {
                if user.has_password || user.provider != "OKTA" {
                    user.set_status(UserStatus::Active, &now);
                } else {
                    user.set_status(UserStatus::Provisioned, &now);
                }
                user.activated = Some(now.clone());
                if call.query.flag("sendEmail", true) {
                    empty()
                } else {
                    json_response(StatusCode::OK, &activation_body(call))
                }
            }
            UserStatus::Active => {
                return Err(ApiError::new(403, "E0000016", "Activation failed because the user is already active"))
            }
            _ => return Err(ApiError::wrong_user_status()),
        },
        "reactivate" => match user.status {
            UserStatus::Provisioned | UserStatus::Recovery => {
                user.set_status(UserStatus::Provisioned, &now);
                if call.query.flag("sendEmail", false) {
                    empty()
                } else {
                    json_response(StatusCode::OK, &activation_body(call))
                }
            }
            _ => return Err(ApiError::wrong_user_status()),
        },
        "deactivate" => {
            if user.status == UserStatus::Deprovisioned {
                return Err(user_not_found(&id));
            }
            deactivate(user, &now);
            empty()
        }
        "suspend" => {
            if user.status != UserStatus::Active {
                return Err(ApiError::validation(
                    "status",
                    vec!["status: Only users with an ACTIVE status can be suspended.".into()],
                ));
            }
            user.set_status(UserStatus::Suspended, &now);
            empty()
        }
        "unsuspend" => {
            if user.status != UserStatus::Suspended {
                return Err(ApiError::validation(
                    "status",
                    vec!["status: Only users with a SUSPENDED status can be unsuspended.".into()],
                ));
            }
            user.set_status(UserStatus::Active, &now);
            empty()
        }
        "unlock" => {
            if user.status != UserStatus::LockedOut {
                return Err(ApiError::new(403, "E0000032", "Unlock is not allowed for this user.")
                    .with_cause("The user is not locked out."));
            }
            user.set_status(UserStatus::Active, &now);
            empty()
        }
        "expire_password" | "expire_password_with_temp_password" => {
            if !matches!(
                user.status,
                UserStatus::Active | UserStatus::PasswordExpired | UserStatus::Recovery | UserStatus::LockedOut
            ) {
                return Err(ApiError::wrong_user_status());
            }
            user.set_status(UserStatus::PasswordExpired, &now);
            if operation == "expire_password" {
                user.refresh();
                let target = user_target(user);
                org.record(&call.context, EventKind::ExpirePassword, vec![target]);
                let user = org.users.get(&id).ok_or_else(|| user_not_found(&id))?;
                return Ok(full_user_response(user, call.base()));
            }
            user.has_password = true;
            user.password_changed = Some(now.clone());
            if call.query.flag("revokeSessions", false) {
                user.sessions = 0;
            }
            json_response(StatusCode::OK, &json!({ "tempPassword": random_token(12) }))
        }
        "reset_password" => {
            if matches!(user.status, UserStatus::Staged | UserStatus::Deprovisioned | UserStatus::Suspended) {
                return Err(ApiError::wrong_user_status());
            }
            user.set_status(UserStatus::Recovery, &now);
            if call.query.flag("revokeSessions", false) {
                user.sessions = 0;
            }
            call.shared.count_reset_password(&id);
            if call.query.flag("sendEmail", true) {
                empty()
            } else {
                json_response(
                    StatusCode::OK,
                    &json!({ "resetPasswordUrl": format!("{}/reset_password/{}", call.base(), random_token(20)) }),
                )
            }
        }
        "reset_factors" => {
            if user.status == UserStatus::Deprovisioned {
                return Err(ApiError::wrong_user_status());
            }
            empty()
        }
        _ => return Err(ApiError::not_found(&format!("/api/v1/users/{id}/lifecycle/{operation}"), "Resource")),
    };
    user.refresh();
    let target = user_target(user);
    if let Some(kind) = lifecycle_event(operation) {
        org.record(&call.context, kind, vec![target]);
    }
    Ok(response)
}

/// `DELETE /api/v1/users/{id}/sessions?oauthTokens=`.
pub(crate) fn revoke_sessions(call: &Call, id_or_login: &str) -> Result<Response, ApiError> {
    let also_tokens = call.query.flag("oauthTokens", false);
    let mut org = call.shared.write_org();
    let id = org.resolve_user(id_or_login).ok_or_else(|| user_not_found(id_or_login))?;
    let user = org.users.get_mut(&id).ok_or_else(|| user_not_found(id_or_login))?;
    user.sessions = 0;
    if also_tokens {
        user.oauth_tokens = 0;
    }
    let target = user_target(user);
    org.record(&call.context, EventKind::ClearSessions, vec![target]);
    Ok(no_content())
}

/// `GET /api/v1/users/{id}/groups`: `Everyone` first, then the user's groups in id order.
pub(crate) fn user_groups(call: &Call, id_or_login: &str) -> Result<Response, ApiError> {
    let org = call.shared.read_org();
    let id = org.resolve_user(id_or_login).ok_or_else(|| user_not_found(id_or_login))?;
    let user = org.users.get(&id).ok_or_else(|| user_not_found(id_or_login))?;
    let groups: Vec<Value> = std::iter::once(&org.everyone_id)
        .chain(user.groups.iter())
        .filter_map(|group_id| org.groups.get(group_id))
        .map(|group| group_json(&org, group, call.base(), false))
        .collect();
    let self_link = link(call.base(), &format!("/api/v1/users/{id}/groups"), &[("limit", "200")], "self");
    Ok(with_links(json_response(StatusCode::OK, &groups), &[self_link]))
}

/// Attributes `filter` accepts on users, and whether ordering operators are allowed on each.
const USER_FILTER_ATTRIBUTES: &[(&str, bool)] = &[
    ("status", false),
    ("lastUpdated", true),
    ("id", false),
    ("profile.login", false),
    ("profile.email", false),
    ("profile.firstName", false),
    ("profile.lastName", false),
];

/// The range of `created` a search is confined to, when it is an `and` of terms one or more of
/// which compare `created` with a timestamp: `(lowest, highest)`, both inclusive and in the form
/// the org writes timestamps. The users to consider are then read from [`Org::by_created`]
/// rather than all of them (the whole search is still evaluated on each).
fn created_range(filter: &Filter) -> Option<(Option<String>, Option<String>)> {
    let mut terms = vec![filter];
    let (mut lowest, mut highest): (Option<String>, Option<String>) = (None, None);
    let mut confined = false;
    while let Some(term) = terms.pop() {
        match term {
            Filter::And(left, right) => terms.extend([left.as_ref(), right.as_ref()]),
            Filter::Compare { attribute, op, value: ScimValue::String(text) } if attribute == "created" => {
                let Some(at) = canonical_timestamp(text) else { continue };
                let (raises_lowest, lowers_highest) = match op {
                    CompareOp::Gt | CompareOp::Ge => (true, false),
                    CompareOp::Lt | CompareOp::Le => (false, true),
                    CompareOp::Eq => (true, true),
                    _ => (false, false),
                };
                if raises_lowest && lowest.as_ref().is_none_or(|current| at > *current) {
                    lowest = Some(at.clone());
                }
                if lowers_highest && highest.as_ref().is_none_or(|current| at < *current) {
                    highest = Some(at);
                }
                confined |= raises_lowest || lowers_highest;
            }
            _ => {}
        }
    }
    confined.then_some((lowest, highest))
}

/// A timestamp as the org writes them (`2025-09-29T03:49:50.123Z`, UTC, milliseconds).
fn canonical_timestamp(text: &str) -> Option<String> {
    let at = chrono::DateTime::parse_from_rfc3339(text).ok()?.with_timezone(&chrono::Utc);
    Some(at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
}

/// `GET /api/v1/users` with `q`, `filter`, `search`, `limit`, `after`, `sortBy`, `sortOrder`.
pub(crate) fn list_users(call: &Call) -> Result<Response, ApiError> {
    let path = "/api/v1/users";
    if let Some(prefix) =
        call.query.get("q").filter(|_| call.query.get("search").is_none() && call.query.get("filter").is_none())
    {
        let limit = call.query.limit(10, 200)?;
        let prefix = prefix.to_lowercase();
        let org = call.shared.read_org();
        let matches_prefix = |user: &User| {
            user.status != UserStatus::Deprovisioned
                && ["firstName", "lastName", "email"].iter().any(|field| {
                    user.profile
                        .get(*field)
                        .and_then(Value::as_str)
                        .is_some_and(|value| value.to_lowercase().starts_with(&prefix))
                })
        };
        let page: Vec<DocumentWith> = org
            .users
            .values()
            .filter(|user| matches_prefix(user))
            .take(limit)
            .map(|user| user_view(user, call.base(), UserLinks::SelfOnly))
            .collect();
        let response = json_response(StatusCode::OK, &page);
        return Ok(with_links(response, &page_links(call, path, None, limit)));
    }

    let limit = call.query.limit(200, 200)?;
    let cursor = parse_cursor(call)?;
    let selection = if let Some(search) = call.query.get("search") {
        let filter = parse_expression(search)?;
        check_search(&filter)?;
        Selection {
            filter: Some(filter),
            case_insensitive: true,
            sort_by: call.query.get("sortBy").map(str::to_owned),
            descending: call.query.get("sortOrder").is_some_and(|order| order.eq_ignore_ascii_case("desc")),
        }
    } else if let Some(text) = call.query.get("filter") {
        let filter = parse_expression(text)?;
        check_filter(&filter, USER_FILTER_ATTRIBUTES)?;
        Selection { filter: Some(filter), case_insensitive: false, sort_by: None, descending: false }
    } else {
        Selection { filter: None, case_insensitive: false, sort_by: None, descending: false }
    };
    let options = EvalOptions { case_insensitive_values: selection.case_insensitive };
    let org = call.shared.read_org();
    let sort = selection.sort_by.as_deref().map(|attribute| (attribute, selection.descending));
    let base = call.base();
    if let Some(filter) = &selection.filter {
        // Okta answers `search` and `filter` from an index that trails writes.
        let cutoff = std::time::Instant::now().checked_sub(org.search_delay);
        let recent_writes = !org.search_delay.is_zero() && call.shared.written_within(org.search_delay);
        if let Some(cutoff) = cutoff.filter(|cutoff| recent_writes && !org.index_is_current(*cutoff)) {
            let indexed: std::collections::BTreeMap<&str, (&User, &Value)> = org.indexed_users(cutoff);
            let (page, next) = listing_page(
                &indexed,
                cursor,
                sort,
                limit,
                |(_, document)| filter.matches(document, &options),
                |(_, document), attribute| sort_key(value_at(document, attribute)),
            )?;
            let views = page
                .into_iter()
                .map(|(user, document)| DocumentWith {
                    document,
                    extra: vec![("_links", super::state::user_links(user, base, UserLinks::SelfOnly))],
                })
                .collect();
            return Ok(finish_listing(call, path, views, next, limit));
        }
        let by_created = call.query.get("search").is_some() && sort.is_none_or(|(attribute, _)| attribute == "created");
        if let Some(range) = created_range(filter).filter(|_| by_created) {
            let keep = |user: &&User| filter.matches(&user.document, &options);
            let (page, next) = created_page(&org, &range, cursor, sort, limit, keep)?;
            let views = page.into_iter().map(|user| user_view(user, base, UserLinks::SelfOnly)).collect();
            return Ok(finish_listing(call, path, views, next, limit));
        }
    }
    let keep = |user: &User| match &selection.filter {
        Some(filter) => filter.matches(&user.document, &options),
        None => user.status != UserStatus::Deprovisioned,
    };
    let (page, next) = listing_page(&org.users, cursor, sort, limit, keep, |user, attribute| {
        sort_key(value_at(&user.document, attribute))
    })?;
    let views: Vec<DocumentWith> = page.into_iter().map(|user| user_view(user, base, UserLinks::SelfOnly)).collect();
    Ok(finish_listing(call, path, views, next, limit))
}

/// The listing's response: the page as JSON and its `Link` header.
fn finish_listing(call: &Call, path: &str, views: Vec<DocumentWith>, next: Option<Cursor>, limit: usize) -> Response {
    let response = json_response(StatusCode::OK, &views);
    drop(views);
    with_links(response, &page_links(call, path, next, limit))
}

/// A page of a search confined to a range of `created`, read from [`Org::by_created`]: in
/// `(created, id)` order when sorted by `created` (Okta orders equal values by id), else in id
/// order like any unsorted listing.
fn created_page<'a>(
    org: &'a Org,
    (lowest, highest): &(Option<String>, Option<String>),
    cursor: Option<Cursor>,
    sort: Option<(&str, bool)>,
    limit: usize,
    keep: impl Fn(&&'a User) -> bool,
) -> Result<(Vec<&'a User>, Option<Cursor>), ApiError> {
    let start = match lowest {
        Some(lowest) => Bound::Included((lowest.clone(), String::new())),
        None => Bound::Unbounded,
    };
    let in_range = org
        .by_created
        .range((start, Bound::Unbounded))
        .take_while(|(created, _)| highest.as_ref().is_none_or(|highest| created <= highest))
        .filter_map(|(_, id)| org.users.get(id));
    match sort {
        Some((_, descending)) => {
            if matches!(cursor, Some(Cursor::AfterId(_))) {
                return Err(ApiError::invalid_cursor());
            }
            let cursor = cursor.unwrap_or(Cursor::Offset(0));
            let users = in_range.map(|user| (user.id.as_str(), user));
            if descending {
                let mut all: Vec<(&str, &User)> = users.collect();
                all.reverse();
                Ok(select_page(all.into_iter(), Some(&cursor), limit, &keep))
            } else {
                Ok(select_page(users, Some(&cursor), limit, &keep))
            }
        }
        None => {
            let by_id: std::collections::BTreeMap<&str, &User> =
                in_range.filter(|user| keep(user)).map(|user| (user.id.as_str(), user)).collect();
            let (page, next) = listing_page(&by_id, cursor, None, limit, |_| true, |_, _| (false, String::new()))?;
            Ok((page.into_iter().copied().collect(), next))
        }
    }
}
