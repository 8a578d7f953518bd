//! Admin role assignments: `/api/v1/users/{userId}/roles…` and `/api/v1/groups/{groupId}/roles…`,
//! with group targets and OIN-catalog app targets.
//!
//! Shapes, ids, labels and order follow the recorded answers (Okta's Python SDK cassettes, 2020;
//! the Terraform provider's, 2025): a role that takes targets has the base32 of its type as id
//! (`USER_ADMIN` → `KVJUKUS7IFCE2SKO`), other standard roles get an id per assignment (`ra1…` for
//! users, `gra…` for groups), IAM-based standard roles (`WORKFLOWS_ADMIN`, `ACCESS_*`) an `irb…`
//! binding id and the spec's `CustomRole` shape; listings are ordered by label; target groups by
//! group id. A user's listing also shows the roles its groups hold (`assignmentType: GROUP`, spec
//! example `StandardRolesListResponse`).
//!
//! Errors: `404 E0000007 "Not found: Resource not found: {id} (RoleAssignment)"` (recorded),
//! `409 E0000090` for a duplicate standard role and `409 E0000263` for a duplicate IAM-based role,
//! `400 E0000211` for `BUILT_IN` groups, `400 E0000091` for targets on a role type that takes none
//! (error-code catalogue; E0000091 reported for exactly this in mbegan/Okta-PSModule#12).
//! Chosen where Okta's answer is not documented: an unknown or missing `type` is
//! `400 E0000001 "Api validation failed: type"`; a `CUSTOM` assignment (custom roles and resource
//! sets are not simulated) is `404 E0000007` for its role; removing the last target is
//! `400 E0000001 "Api validation failed: targets"` (the docs only say it "causes an exception").

use std::collections::BTreeSet;

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use super::errors::ApiError;
use super::events::EventKind;
use super::ids::Cursor;
use super::listing::{page_links, parse_cursor};
use super::logs::{group_target, user_target};
use super::responses::{json_response, link, no_content, with_links, Call};
use super::role_assignments::{base32, role_kind, Assignee, RoleAssignment, Targets};
use super::state::{group_json, now_timestamp, GroupType, Org};

/// A role operation, as the router parsed it.
#[derive(Debug)]
pub(crate) enum RoleOp {
    List,
    Assign,
    Get(String),
    Unassign(String),
    ListGroupTargets(String),
    AddGroupTarget(String, String),
    RemoveGroupTarget(String, String),
    ListAppTargets(String),
    AllApps(String),
    AddAppTarget(String, String),
    RemoveAppTarget(String, String),
}

impl RoleOp {
    /// Whether the operation only reads (scope `okta.roles.read`).
    pub(crate) fn reads(&self) -> bool {
        matches!(self, RoleOp::List | RoleOp::Get(_) | RoleOp::ListGroupTargets(_) | RoleOp::ListAppTargets(_))
    }
}

fn assignment_not_found(id: &str) -> ApiError {
    ApiError::not_found(id, "RoleAssignment")
}

/// The assignee with its path id resolved (a user may be named by login); `404` when missing.
fn resolve_assignee(org: &Org, assignee: &Assignee) -> Result<Assignee, ApiError> {
    match assignee {
        Assignee::User(id) => org.resolve_user(id).map(Assignee::User).ok_or_else(|| ApiError::not_found(id, "User")),
        Assignee::Group(id) => {
            if org.groups.contains_key(id) {
                Ok(Assignee::Group(id.clone()))
            } else {
                Err(ApiError::not_found(id, "UserGroup"))
            }
        }
    }
}

/// What `GET …/roles` lists for an assignee: its own assignments and, for a user, those of its
/// groups; ordered by label, then id (recorded order).
fn visible_assignments<'a>(org: &'a Org, assignee: &Assignee) -> Vec<(Assignee, &'a RoleAssignment)> {
    let mut listed: Vec<(Assignee, &RoleAssignment)> =
        org.roles.get(assignee.id()).into_iter().flatten().map(|assignment| (assignee.clone(), assignment)).collect();
    if let Assignee::User(user_id) = assignee {
        if let Some(user) = org.users.get(user_id) {
            for group_id in &user.groups {
                for assignment in org.roles.get(group_id).into_iter().flatten() {
                    listed.push((Assignee::Group(group_id.clone()), assignment));
                }
            }
        }
    }
    listed.sort_by(|(a_who, a), (b_who, b)| {
        (a.label().to_lowercase(), &a.id, a_who.id()).cmp(&(b.label().to_lowercase(), &b.id, b_who.id()))
    });
    listed
}

/// Handles a role operation for `assignee`.
pub(crate) fn handle(call: &Call, assignee: &Assignee, op: &RoleOp) -> Result<Response, ApiError> {
    match op {
        RoleOp::List => {
            let org = call.shared.read_org();
            let assignee = resolve_assignee(&org, assignee)?;
            let body: Vec<Value> = visible_assignments(&org, &assignee)
                .into_iter()
                .map(|(who, assignment)| assignment.to_json(call.base(), &who))
                .collect();
            Ok(json_response(StatusCode::OK, &body))
        }
        RoleOp::Get(role_id) => {
            let org = call.shared.read_org();
            let assignee = resolve_assignee(&org, assignee)?;
            let (who, assignment) = visible_assignments(&org, &assignee)
                .into_iter()
                .find(|(_, assignment)| &assignment.id == role_id)
                .ok_or_else(|| assignment_not_found(role_id))?;
            Ok(json_response(StatusCode::OK, &assignment.to_json(call.base(), &who)))
        }
        RoleOp::Assign => assign(call, assignee),
        RoleOp::Unassign(role_id) => {
            let mut org = call.shared.write_org();
            let assignee = resolve_assignee(&org, assignee)?;
            let assignments = org.roles.get_mut(assignee.id()).ok_or_else(|| assignment_not_found(role_id))?;
            let removed = assignments.iter().find(|assignment| &assignment.id == role_id).map(RoleAssignment::label);
            let Some(removed) = removed else {
                return Err(assignment_not_found(role_id));
            };
            assignments.retain(|assignment| &assignment.id != role_id);
            if assignments.is_empty() {
                org.roles.remove(assignee.id());
            }
            record_privileges(call, &mut org, &assignee, Some(removed));
            Ok(no_content())
        }
        RoleOp::ListGroupTargets(role_id) => list_group_targets(call, assignee, role_id),
        RoleOp::AddGroupTarget(role_id, group_id) => {
            change_targets(call, assignee, role_id, Targets::Groups, |org, assignment| {
                if !org.groups.contains_key(group_id) {
                    return Err(ApiError::not_found(group_id, "UserGroup"));
                }
                assignment.group_targets.insert(group_id.clone());
                Ok(())
            })?;
            Ok(no_content())
        }
        RoleOp::RemoveGroupTarget(role_id, group_id) => {
            change_targets(call, assignee, role_id, Targets::Groups, |org, assignment| {
                if !org.groups.contains_key(group_id) {
                    return Err(ApiError::not_found(group_id, "UserGroup"));
                }
                if assignment.group_targets.contains(group_id) {
                    if assignment.group_targets.len() == 1 {
                        return Err(last_target());
                    }
                    assignment.group_targets.remove(group_id);
                }
                Ok(())
            })?;
            Ok(no_content())
        }
        RoleOp::ListAppTargets(role_id) => list_app_targets(call, assignee, role_id),
        RoleOp::AllApps(role_id) => {
            change_targets(call, assignee, role_id, Targets::Apps, |_, assignment| {
                assignment.app_targets.clear();
                Ok(())
            })?;
            // The spec answers `200` without a body here.
            Ok(axum::response::IntoResponse::into_response(StatusCode::OK))
        }
        RoleOp::AddAppTarget(role_id, app) => {
            change_targets(call, assignee, role_id, Targets::Apps, |_, assignment| {
                if !valid_app_name(app) {
                    return Err(ApiError::not_found(app, "CatalogApp"));
                }
                assignment.app_targets.retain(|existing| existing != app);
                assignment.app_targets.insert(0, app.clone());
                Ok(())
            })?;
            Ok(no_content())
        }
        RoleOp::RemoveAppTarget(role_id, app) => {
            change_targets(call, assignee, role_id, Targets::Apps, |_, assignment| {
                if assignment.app_targets.iter().any(|existing| existing == app) {
                    if assignment.app_targets.len() == 1 {
                        return Err(last_target());
                    }
                    assignment.app_targets.retain(|existing| existing != app);
                }
                Ok(())
            })?;
            Ok(no_content())
        }
    }
}

/// Logs a change of the admin privileges of a (resolved) assignee. Okta's catalog defines
/// `user.account.privilege.revoke` (`group.privilege.revoke`) as "all admin privileges revoked",
/// the user (group) has none left, and `…privilege.grant` as "admin privileges changed", with
/// the privileges now held; so the revoke event is logged only when no role is left (for a user,
/// neither its own nor its groups'), and the grant event otherwise. `debugData.privilegeGranted`
/// lists the roles now held, `privilegeRevoked` the role just removed.
fn record_privileges(call: &Call, org: &mut Org, assignee: &Assignee, revoked: Option<&str>) {
    let held: Vec<&str> =
        visible_assignments(org, assignee).into_iter().map(|(_, assignment)| assignment.label()).collect();
    let (target, kind) = match assignee {
        Assignee::User(id) => (
            org.users.get(id).map(user_target),
            if held.is_empty() { EventKind::UserPrivilegeRevoke } else { EventKind::UserPrivilegeGrant },
        ),
        Assignee::Group(id) => (
            org.groups.get(id).map(group_target),
            if held.is_empty() { EventKind::GroupPrivilegeRevoke } else { EventKind::GroupPrivilegeGrant },
        ),
    };
    let Some(target) = target else { return };
    let mut debug = Vec::new();
    if !held.is_empty() {
        debug.push(("privilegeGranted", json!(held.join(", "))));
    }
    if let Some(label) = revoked {
        debug.push(("privilegeRevoked", json!(label)));
    }
    org.record_with(&call.context, kind, vec![target], debug);
}

/// chosen: the docs say removing the last target "causes an exception" without naming it.
fn last_target() -> ApiError {
    ApiError::validation(
        "targets",
        vec!["targets: The last target of a role assignment cannot be removed; delete the role assignment instead"
            .into()],
    )
}

/// `400 E0000091`: the role type takes no targets of this kind.
fn wrong_role_type() -> ApiError {
    ApiError::new(400, "E0000091", "The provided role type was not the same as required role type.")
}

fn valid_app_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|character| character.is_ascii_alphanumeric() || character == '_')
}

/// `POST …/roles`.
fn assign(call: &Call, assignee: &Assignee) -> Result<Response, ApiError> {
    let body = call.json_object()?;
    let role_type = match body.get("type") {
        Some(Value::String(role_type)) => role_type.clone(),
        None | Some(Value::Null) => {
            return Err(ApiError::validation("type", vec!["type: The field cannot be left blank".into()]))
        }
        Some(_) => return Err(ApiError::malformed_body()),
    };
    if role_type == "CUSTOM" {
        let role = body.get("role").and_then(Value::as_str).filter(|role| !role.is_empty());
        let resource_set = body.get("resource-set").and_then(Value::as_str).filter(|set| !set.is_empty());
        return match (role, resource_set) {
            (Some(role), Some(_)) => Err(ApiError::not_found(role, "CustomRole")),
            (None, _) => Err(ApiError::validation("role", vec!["role: The field cannot be left blank".into()])),
            (_, None) => {
                Err(ApiError::validation("resource-set", vec!["resource-set: The field cannot be left blank".into()]))
            }
        };
    }
    let kind = role_kind(&role_type)
        .ok_or_else(|| ApiError::validation("type", vec![format!("type: '{role_type}' is not a valid role type")]))?;
    let now = now_timestamp();
    let mut org = call.shared.write_org();
    let assignee = resolve_assignee(&org, assignee)?;
    if let Assignee::Group(group_id) = &assignee {
        if let Some(group) = org.groups.get(group_id).filter(|group| group.kind == GroupType::BuiltIn) {
            return Err(ApiError::new(
                400,
                "E0000211",
                format!("Roles cannot be granted to built-in groups: {}", group.name()),
            ));
        }
    }
    if org.roles.get(assignee.id()).into_iter().flatten().any(|assignment| assignment.role_type == role_type) {
        return Err(match kind.resource_set {
            Some(_) => {
                ApiError::new(409, "E0000263", "Attempted to assign a duplicate standard role assignment to an admin")
            }
            None => ApiError::new(409, "E0000090", "The role specified is already assigned to the user."),
        });
    }
    let id = if kind.resource_set.is_some() {
        org.next_id("irb")
    } else if kind.targets != Targets::None {
        base32(kind.name)
    } else {
        match assignee {
            Assignee::User(_) => org.next_id("ra1"),
            Assignee::Group(_) => org.next_id("gra"),
        }
    };
    let assignment = RoleAssignment {
        id,
        role_type,
        created: now.clone(),
        last_updated: now,
        group_targets: BTreeSet::new(),
        app_targets: Vec::new(),
    };
    let json = assignment.to_json(call.base(), &assignee);
    org.roles.entry(assignee.id().to_owned()).or_default().push(assignment);
    record_privileges(call, &mut org, &assignee, None);
    Ok(json_response(StatusCode::CREATED, &json))
}

/// Finds the assignee's own assignment `role_id` and checks that it takes `targets`.
fn own_assignment<'a>(
    org: &'a Org,
    assignee: &Assignee,
    role_id: &str,
    targets: Targets,
) -> Result<&'a RoleAssignment, ApiError> {
    let assignment = org
        .roles
        .get(assignee.id())
        .into_iter()
        .flatten()
        .find(|assignment| assignment.id == role_id)
        .ok_or_else(|| assignment_not_found(role_id))?;
    if assignment.kind().map(|kind| kind.targets) != Some(targets) {
        return Err(wrong_role_type());
    }
    Ok(assignment)
}

/// Changes the targets of one of the assignee's own assignments.
fn change_targets(
    call: &Call,
    assignee: &Assignee,
    role_id: &str,
    targets: Targets,
    change: impl FnOnce(&Org, &mut RoleAssignment) -> Result<(), ApiError>,
) -> Result<(), ApiError> {
    let mut org = call.shared.write_org();
    let assignee = resolve_assignee(&org, assignee)?;
    let before = own_assignment(&org, &assignee, role_id, targets)?.clone();
    let mut assignment = before.clone();
    change(&org, &mut assignment)?;
    assignment.last_updated = now_timestamp();
    let changed = assignment.group_targets != before.group_targets || assignment.app_targets != before.app_targets;
    if let Some(slot) =
        org.roles.get_mut(assignee.id()).into_iter().flatten().find(|existing| existing.id == assignment.id)
    {
        *slot = assignment;
    }
    // Narrowing or widening a role's targets changes the assignee's admin privileges.
    if changed {
        record_privileges(call, &mut org, &assignee, None);
    }
    Ok(())
}

/// The limit of a target listing: default 20 (the `limit` Okta's `self` links show), at most 200.
fn target_limit(call: &Call) -> Result<usize, ApiError> {
    call.query.limit(20, 200)
}

/// `GET …/roles/{roleId}/targets/groups`: groups in id order (recorded), paged.
fn list_group_targets(call: &Call, assignee: &Assignee, role_id: &str) -> Result<Response, ApiError> {
    let limit = target_limit(call)?;
    let after = match parse_cursor(call)? {
        None => None,
        Some(Cursor::AfterId(id)) => Some(id),
        Some(Cursor::Offset(_)) => return Err(ApiError::invalid_cursor()),
    };
    let org = call.shared.read_org();
    let resolved = resolve_assignee(&org, assignee)?;
    let assignment = own_assignment(&org, &resolved, role_id, Targets::Groups)?;
    let mut remaining = assignment
        .group_targets
        .iter()
        .filter(|id| after.as_ref().is_none_or(|after| *id > after))
        .filter_map(|id| org.groups.get(id));
    let page: Vec<Value> =
        remaining.by_ref().take(limit).map(|group| group_json(&org, group, call.base(), false)).collect();
    let more = remaining.next().is_some();
    let path = format!("/api/v1/{}/{}/roles/{role_id}/targets/groups", resolved.collection(), resolved.id());
    let mut links = page_links(call, &path, None, limit);
    if more {
        if let Some(last) = page.last().and_then(|group| group["id"].as_str()) {
            let cursor = Cursor::AfterId(last.to_owned()).encode();
            let limit = limit.to_string();
            links.push(link(call.base(), &path, &[("after", &cursor), ("limit", &limit)], "next"));
        }
    }
    Ok(with_links(json_response(StatusCode::OK, &page), &links))
}

/// `GET /api/v1/iam/assignees/users` (spec `listUsersWithRoleAssignments`): the users holding a
/// role assignment of their own, in id order, as `{"value": [...], "_links": {"next": …}}` (spec
/// `RoleAssignedUsers`, example `RoleAssignedUsersResponseExample`; the cursor is in the body).
/// `limit` defaults to 100 (spec). Chosen where the spec is silent: the largest page is 200, like
/// the target listings, users whose roles come only through a group are not listed, and `orn` is
/// left out (the simulator has no org id to build it from).
pub(crate) fn list_assigned_users(call: &Call) -> Result<Response, ApiError> {
    let limit = call.query.limit(100, 200)?;
    let after = match parse_cursor(call)? {
        None => None,
        Some(Cursor::AfterId(id)) => Some(id),
        Some(Cursor::Offset(_)) => return Err(ApiError::invalid_cursor()),
    };
    let org = call.shared.read_org();
    let base = call.base();
    let mut remaining = org
        .roles
        .iter()
        .filter(|(id, assignments)| !assignments.is_empty() && org.users.contains_key(*id))
        .map(|(id, _)| id)
        .filter(|id| after.as_ref().is_none_or(|after| *id > after));
    let page: Vec<&String> = remaining.by_ref().take(limit).collect();
    let more = remaining.next().is_some();
    let value: Vec<Value> = page
        .iter()
        .map(|id| {
            json!({
                "id": id,
                "_links": {
                    "self": { "href": format!("{base}/api/v1/users/{id}") },
                    "roles": { "href": format!("{base}/api/v1/users/{id}/roles") },
                },
            })
        })
        .collect();
    let mut links = serde_json::Map::new();
    if let (true, Some(last)) = (more, page.last()) {
        let cursor = Cursor::AfterId((*last).clone()).encode();
        let next = format!("{base}/api/v1/iam/assignees/users?after={cursor}&limit={limit}");
        links.insert("next".into(), json!({ "href": next }));
    }
    Ok(json_response(StatusCode::OK, &json!({ "value": value, "_links": links })))
}

/// An OIN catalog app as a target listing shows it (spec `CatalogApplication`; recorded entries
/// carry catalog data the simulator does not have, so only what it knows is filled in).
fn catalog_app(base: &str, name: &str, when: &str) -> Value {
    json!({
        "name": name,
        "displayName": name,
        "status": "ACTIVE",
        "lastUpdated": when,
        "signOnModes": [],
        "_links": { "self": { "href": format!("{base}/api/v1/catalog/apps/{name}") } },
    })
}

/// `GET …/roles/{roleId}/targets/catalog/apps`.
fn list_app_targets(call: &Call, assignee: &Assignee, role_id: &str) -> Result<Response, ApiError> {
    let limit = target_limit(call)?;
    let org = call.shared.read_org();
    let resolved = resolve_assignee(&org, assignee)?;
    let assignment = own_assignment(&org, &resolved, role_id, Targets::Apps)?;
    let page: Vec<Value> = assignment
        .app_targets
        .iter()
        .take(limit)
        .map(|name| catalog_app(call.base(), name, &assignment.last_updated))
        .collect();
    let path = format!("/api/v1/{}/{}/roles/{role_id}/targets/catalog/apps", resolved.collection(), resolved.id());
    let links = page_links(call, &path, None, limit);
    Ok(with_links(json_response(StatusCode::OK, &page), &links))
}

/// The role types of what `GET /api/v1/{users|groups}/{id}/roles` lists (empty for an unknown
/// id).
pub(crate) fn role_types(org: &Org, assignee_id: &str) -> Vec<String> {
    let assignee = if org.groups.contains_key(assignee_id) {
        Assignee::Group(assignee_id.to_owned())
    } else {
        match org.resolve_user(assignee_id) {
            Some(id) => Assignee::User(id),
            None => return Vec::new(),
        }
    };
    visible_assignments(org, &assignee).into_iter().map(|(_, assignment)| assignment.role_type.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targetable_roles_have_the_recorded_base32_ids() {
        assert_eq!(base32("USER_ADMIN"), "KVJUKUS7IFCE2SKO");
        assert_eq!(base32("APP_ADMIN"), "IFIFAX2BIRGUSTQ");
        assert_eq!(base32("HELP_DESK_ADMIN"), "JBCUYUC7IRCVGS27IFCE2SKO");
        assert_eq!(base32("GROUP_MEMBERSHIP_ADMIN"), "I5JE6VKQL5GUKTKCIVJFGSCJKBPUCRCNJFHA");
    }

    #[test]
    fn every_spec_role_type_but_custom_is_known() {
        for name in crate::okta::roles::STANDARD_ROLE_TYPES {
            assert!(role_kind(name).is_some(), "{name}");
        }
        assert!(role_kind("CUSTOM").is_none());
    }
}
