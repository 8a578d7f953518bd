//! `/api/v1/groups…`: create, read, replace, delete, list/search, members.

use std::ops::Bound;

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value};

use super::errors::ApiError;
use super::events::EventKind;
use super::ids::Cursor;
use super::listing::{
    check_filter, check_search, listing_page, page_links, parse_cursor, parse_expression, select_page, sort_key,
    value_at,
};
use super::logs::{group_target, user_target};
use super::responses::{json_response, no_content, with_links, Call};
use super::state::{group_json, now_timestamp, user_view, Group, GroupType, Org, UserLinks};
use crate::scim::EvalOptions;

/// Attributes `filter` accepts on groups, and whether ordering operators are allowed on each.
const GROUP_FILTER_ATTRIBUTES: &[(&str, bool)] =
    &[("id", false), ("type", false), ("lastUpdated", true), ("lastMembershipUpdated", true), ("profile.name", false)];

fn group_not_found(id: &str) -> ApiError {
    ApiError::not_found(id, "UserGroup")
}

fn not_modifiable(group: &Group, what: &str) -> ApiError {
    ApiError::access_denied()
        .with_cause(format!("{what} of a group of type {} cannot be modified through the API.", group.kind.as_str()))
}

/// The group profile of a create/replace body, validated; checks name uniqueness (ignoring
/// the group `except`).
fn group_profile(call: &Call, org: &Org, except: Option<&str>) -> Result<Map<String, Value>, ApiError> {
    let body = call.json_object()?;
    let mut profile = match body.get("profile") {
        Some(Value::Object(profile)) => profile.clone(),
        None | Some(Value::Null) => Map::new(),
        Some(_) => return Err(ApiError::malformed_body()),
    };
    let name = profile.get("name").and_then(Value::as_str).unwrap_or_default();
    if name.trim().is_empty() {
        return Err(ApiError::validation("name", vec!["name: The field cannot be left blank".into()]));
    }
    if name.chars().count() > 255 {
        return Err(ApiError::validation("name", vec!["name: The field is too long".into()]));
    }
    let description_length = profile.get("description").and_then(Value::as_str).map_or(0, |text| text.chars().count());
    if description_length > 1024 {
        return Err(ApiError::validation("description", vec!["description: The field is too long".into()]));
    }
    if let Some(existing) = org.group_names.get(&name.to_lowercase()) {
        if Some(existing.as_str()) != except {
            return Err(ApiError::validation(
                "name",
                vec!["name: An object with this field already exists in the current organization".into()],
            ));
        }
    }
    if !profile.contains_key("description") {
        profile.insert("description".into(), Value::Null);
    }
    Ok(profile)
}

/// `POST /api/v1/groups`.
pub(crate) fn create_group(call: &Call) -> Result<Response, ApiError> {
    let mut org = call.shared.write_org();
    let profile = group_profile(call, &org, None)?;
    let name = profile.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
    let description = profile.get("description").cloned().unwrap_or(Value::Null);
    let id = org.insert_group(GroupType::OktaGroup, &name, description);
    let group = org.groups.get_mut(&id).ok_or_else(|| group_not_found(&id))?;
    group.profile = profile;
    let target = group_target(group);
    org.record(&call.context, EventKind::GroupCreate, vec![target]);
    let group = org.groups.get(&id).ok_or_else(|| group_not_found(&id))?;
    Ok(json_response(StatusCode::OK, &group_json(&org, group, call.base(), false)))
}

/// `GET /api/v1/groups/{id}`.
pub(crate) fn get_group(call: &Call, id: &str) -> Result<Response, ApiError> {
    let org = call.shared.read_org();
    let group = org.groups.get(id).ok_or_else(|| group_not_found(id))?;
    let with_stats = call.query.get("expand") == Some("stats");
    Ok(json_response(StatusCode::OK, &group_json(&org, group, call.base(), with_stats)))
}

/// `PUT /api/v1/groups/{id}`: replaces the profile of an `OKTA_GROUP`.
pub(crate) fn replace_group(call: &Call, id: &str) -> Result<Response, ApiError> {
    let mut org = call.shared.write_org();
    let group = org.groups.get(id).ok_or_else(|| group_not_found(id))?;
    if group.kind != GroupType::OktaGroup {
        return Err(not_modifiable(group, "The profile"));
    }
    let old_name = group.name().to_lowercase();
    let profile = group_profile(call, &org, Some(id))?;
    let new_name = profile.get("name").and_then(Value::as_str).unwrap_or_default().to_lowercase();
    let group = org.groups.get_mut(id).ok_or_else(|| group_not_found(id))?;
    group.profile = profile;
    group.last_updated = now_timestamp();
    let target = group_target(group);
    org.group_names.remove(&old_name);
    org.group_names.insert(new_name, id.to_owned());
    org.record(&call.context, EventKind::GroupProfileUpdate, vec![target]);
    let group = org.groups.get(id).ok_or_else(|| group_not_found(id))?;
    Ok(json_response(StatusCode::OK, &group_json(&org, group, call.base(), false)))
}

/// `DELETE /api/v1/groups/{id}`: `OKTA_GROUP` and `APP_GROUP` only.
pub(crate) fn delete_group(call: &Call, id: &str) -> Result<Response, ApiError> {
    let mut org = call.shared.write_org();
    let group = org.groups.get(id).ok_or_else(|| group_not_found(id))?;
    if group.kind == GroupType::BuiltIn {
        return Err(not_modifiable(group, "A BUILT_IN group"));
    }
    let target = group_target(group);
    org.remove_group(id);
    org.record(&call.context, EventKind::GroupDelete, vec![target]);
    Ok(no_content())
}

/// `GET /api/v1/groups` with `q`, `filter`, `search`, `limit`, `after`, `expand=stats`.
pub(crate) fn list_groups(call: &Call) -> Result<Response, ApiError> {
    let path = "/api/v1/groups";
    let with_stats = call.query.get("expand") == Some("stats");
    let org = call.shared.read_org();
    if let Some(prefix) =
        call.query.get("q").filter(|_| call.query.get("search").is_none() && call.query.get("filter").is_none())
    {
        let limit = call.query.limit(300, 10_000)?;
        let prefix = prefix.to_lowercase();
        let page: Vec<Value> = org
            .groups
            .values()
            .filter(|group| group.name().to_lowercase().starts_with(&prefix))
            .take(limit)
            .map(|group| group_json(&org, group, call.base(), with_stats))
            .collect();
        let response = json_response(StatusCode::OK, &page);
        return Ok(with_links(response, &page_links(call, path, None, limit)));
    }
    let limit = call.query.limit(10_000, 10_000)?;
    let cursor = parse_cursor(call)?;
    let (filter, case_insensitive, sort_by) = if let Some(search) = call.query.get("search") {
        let filter = parse_expression(search)?;
        check_search(&filter)?;
        (Some(filter), true, call.query.get("sortBy").map(str::to_owned))
    } else if let Some(text) = call.query.get("filter") {
        let filter = parse_expression(text)?;
        check_filter(&filter, GROUP_FILTER_ATTRIBUTES)?;
        (Some(filter), false, None)
    } else {
        (None, false, None)
    };
    let options = EvalOptions { case_insensitive_values: case_insensitive };
    let keep = |group: &Group| filter.as_ref().is_none_or(|filter| filter.matches(&group.document(), &options));
    let descending = call.query.get("sortOrder").is_some_and(|order| order.eq_ignore_ascii_case("desc"));
    let sort = sort_by.as_deref().map(|attribute| (attribute, descending));
    let (page, next) = listing_page(&org.groups, cursor, sort, limit, keep, |group, attribute| {
        sort_key(value_at(&group.document(), attribute))
    })?;
    let body: Vec<Value> = page.into_iter().map(|group| group_json(&org, group, call.base(), with_stats)).collect();
    let response = json_response(StatusCode::OK, &body);
    Ok(with_links(response, &page_links(call, path, next, limit)))
}

/// `GET /api/v1/groups/{id}/users`, paged in user-id order.
pub(crate) fn list_members(call: &Call, group_id: &str) -> Result<Response, ApiError> {
    let limit = call.query.limit(1000, 10_000)?;
    let cursor = parse_cursor(call)?;
    let after = match &cursor {
        None => None,
        Some(Cursor::AfterId(id)) => Some(id.clone()),
        Some(Cursor::Offset(_)) => return Err(ApiError::invalid_cursor()),
    };
    let org = call.shared.read_org();
    let group = org.groups.get(group_id).ok_or_else(|| group_not_found(group_id))?;
    let lower = match &after {
        Some(id) => Bound::Excluded(id),
        None => Bound::Unbounded,
    };
    let (page, next) = if group.id == org.everyone_id {
        select_page(
            org.users.range::<String, _>((lower, Bound::Unbounded)).map(|(id, user)| (id.as_str(), user)),
            None,
            limit,
            |_| true,
        )
    } else {
        let members = group
            .members
            .range::<String, _>((lower, Bound::Unbounded))
            .filter_map(|id| org.users.get_key_value(id).map(|(id, user)| (id.as_str(), user)));
        select_page(members, None, limit, |_| true)
    };
    let views: Vec<_> = page.into_iter().map(|user| user_view(user, call.base(), UserLinks::SelfOnly)).collect();
    let response = json_response(StatusCode::OK, &views);
    let path = format!("/api/v1/groups/{group_id}/users");
    Ok(with_links(response, &page_links(call, &path, next, limit)))
}

/// Logs a membership change of `user_id` in `group_id`.
fn record_membership(call: &Call, org: &mut Org, kind: EventKind, group_id: &str, user_id: &str) {
    let user = org.users.get(user_id).map(user_target);
    let group = org.groups.get(group_id).map(group_target);
    if let (Some(user), Some(group)) = (user, group) {
        org.record(&call.context, kind, vec![user, group]);
    }
}

/// Shared checks of membership changes; returns the resolved user id.
fn membership_target(org: &Org, group_id: &str, user_id: &str) -> Result<String, ApiError> {
    let group = org.groups.get(group_id).ok_or_else(|| group_not_found(group_id))?;
    let user_id = org.resolve_user(user_id).ok_or_else(|| ApiError::not_found(user_id, "User"))?;
    if group.kind != GroupType::OktaGroup {
        return Err(not_modifiable(group, "The membership"));
    }
    Ok(user_id)
}

/// `PUT /api/v1/groups/{groupId}/users/{userId}` (idempotent).
pub(crate) fn add_member(call: &Call, group_id: &str, user_id: &str) -> Result<Response, ApiError> {
    let mut org = call.shared.write_org();
    let user_id = membership_target(&org, group_id, user_id)?;
    if !org.is_member(group_id, &user_id) {
        let now = now_timestamp();
        if let Some(group) = org.groups.get_mut(group_id) {
            group.members.insert(user_id.clone());
            group.last_membership_updated = now;
        }
        if let Some(user) = org.users.get_mut(&user_id) {
            user.groups.insert(group_id.to_owned());
        }
        record_membership(call, &mut org, EventKind::MembershipAdd, group_id, &user_id);
    }
    Ok(no_content())
}

/// `DELETE /api/v1/groups/{groupId}/users/{userId}` (idempotent).
pub(crate) fn remove_member(call: &Call, group_id: &str, user_id: &str) -> Result<Response, ApiError> {
    let mut org = call.shared.write_org();
    let user_id = membership_target(&org, group_id, user_id)?;
    if org.is_member(group_id, &user_id) {
        let now = now_timestamp();
        if let Some(group) = org.groups.get_mut(group_id) {
            group.members.remove(&user_id);
            group.last_membership_updated = now;
        }
        if let Some(user) = org.users.get_mut(&user_id) {
            user.groups.remove(group_id);
        }
        record_membership(call, &mut org, EventKind::MembershipRemove, group_id, &user_id);
    }
    Ok(no_content())
}
