//! `client.schema` (the user profile schema and user types) and `client.roles` (admin role
//! assignments), blocking and asyncio. Results are Okta's JSON as dicts.

use serde_json::Value;

use crate::okta::Assignee;
use crate::python::conversions::Target;
use crate::python::errors::{convert, invalid_input, Nothing, Outcome};
use crate::python::models::{Json, PyJson};
use crate::python::twins::{holders, twins};

holders! {
    Schema, "Schema", "The user schema and user types (blocking).";
    AsyncSchema, "AsyncSchema", "The user schema and user types (asyncio).";
    Roles, "Roles", "Admin role assignments (blocking).";
    AsyncRoles, "AsyncRoles", "Admin role assignments (asyncio).";
}

/// The holder of a role: exactly one of a user and a group.
fn assignee(user: Option<Target>, group: Option<Target>) -> Outcome<Assignee> {
    match (user, group) {
        (Some(user), None) => Ok(Assignee::User(user.0)),
        (None, Some(group)) => Ok(Assignee::Group(group.0)),
        _ => Err(invalid_input("give exactly one of user= and group=")),
    }
}

fn raw_list<T>(items: Vec<T>, raw: impl Fn(&T) -> Value) -> PyJson {
    PyJson(Value::Array(items.iter().map(raw).collect()))
}

twins! { Schema, AsyncSchema, core;
    /// The default user type's schema (Okta's JSON: definitions.base and definitions.custom).
    fn get(&self) -> Outcome<PyJson> {
        convert(core.client.schema().user_schema().await).map(|schema| PyJson(schema.raw().clone()))
    }

    /// Adds or changes custom attributes: {name: definition}, e.g.
    /// {"costCenter": {"title": "Cost center", "type": "integer"}}. Returns the schema.
    fn update_custom(&self, properties: Json) -> Outcome<PyJson> {
        let Value::Object(properties) = properties.0 else {
            return Err(invalid_input("properties must be a dict of attribute names to definitions"));
        };
        convert(core.client.schema().update_custom(&properties).await).map(|schema| PyJson(schema.raw().clone()))
    }

    /// Removes a custom attribute (and every user's value of it). Returns the schema.
    fn remove_custom(&self, name: String) -> Outcome<PyJson> {
        convert(core.client.schema().remove_custom(&name).await).map(|schema| PyJson(schema.raw().clone()))
    }

    /// Every user type.
    fn user_types(&self) -> Outcome<PyJson> {
        convert(core.client.schema().user_types().await).map(|types| raw_list(types, |t| t.raw().clone()))
    }

    /// Creates a user type.
    #[pyo3(signature = (name, display_name, description=None))]
    fn create_user_type(&self, name: String, display_name: String, description: Option<String>) -> Outcome<PyJson> {
        convert(core.client.schema().create_user_type(&name, &display_name, description.as_deref()).await)
            .map(|t| PyJson(t.raw().clone()))
    }

    /// A user type by id.
    fn get_user_type(&self, type_id: String) -> Outcome<PyJson> {
        convert(core.client.schema().user_type(&type_id).await).map(|t| PyJson(t.raw().clone()))
    }

    /// Deletes a user type that is not the default and that no user has.
    fn delete_user_type(&self, type_id: String) -> Outcome<Nothing> {
        convert(core.client.schema().delete_user_type(&type_id).await).map(|()| Nothing)
    }
}

twins! { Roles, AsyncRoles, core;
    /// The role assignments of a user (including those held through groups) or of a group.
    #[pyo3(signature = (*, user=None, group=None))]
    fn list(&self, user: Option<Target>, group: Option<Target>) -> Outcome<PyJson> {
        let assignee = assignee(user, group)?;
        convert(core.client.roles().list(&assignee).await).map(|roles| raw_list(roles, |r| r.raw().clone()))
    }

    /// Assigns a standard role (USER_ADMIN, HELP_DESK_ADMIN, ...) to a user or a group.
    #[pyo3(signature = (role_type, *, user=None, group=None))]
    fn assign(&self, role_type: String, user: Option<Target>, group: Option<Target>) -> Outcome<PyJson> {
        let assignee = assignee(user, group)?;
        convert(core.client.roles().assign(&assignee, &role_type).await).map(|role| PyJson(role.raw().clone()))
    }

    /// Removes a role assignment (by its id) from a user or a group.
    #[pyo3(signature = (assignment_id, *, user=None, group=None))]
    fn unassign(&self, assignment_id: String, user: Option<Target>, group: Option<Target>) -> Outcome<Nothing> {
        let assignee = assignee(user, group)?;
        convert(core.client.roles().unassign(&assignee, &assignment_id).await).map(|()| Nothing)
    }

    /// The groups a scoped role is limited to (empty: every group).
    #[pyo3(signature = (assignment_id, *, user=None, group=None))]
    fn group_targets(&self, assignment_id: String, user: Option<Target>, group: Option<Target>) -> Outcome<PyJson> {
        let assignee = assignee(user, group)?;
        convert(core.client.roles().group_targets(&assignee, &assignment_id).await).map(|groups| raw_list(groups, |g| Value::Object(g.raw().clone())))
    }

    /// Limits a scoped role (USER_ADMIN, GROUP_MEMBERSHIP_ADMIN, HELP_DESK_ADMIN) to `target` too.
    #[pyo3(signature = (assignment_id, target, *, user=None, group=None))]
    fn add_group_target(&self, assignment_id: String, target: Target, user: Option<Target>, group: Option<Target>) -> Outcome<Nothing> {
        let assignee = assignee(user, group)?;
        convert(core.client.roles().add_group_target(&assignee, &assignment_id, &target.0).await).map(|()| Nothing)
    }

    /// Removes a group from a scoped role's targets.
    #[pyo3(signature = (assignment_id, target, *, user=None, group=None))]
    fn remove_group_target(&self, assignment_id: String, target: Target, user: Option<Target>, group: Option<Target>) -> Outcome<Nothing> {
        let assignee = assignee(user, group)?;
        convert(core.client.roles().remove_group_target(&assignee, &assignment_id, &target.0).await).map(|()| Nothing)
    }

    /// The catalog apps an APP_ADMIN role is limited to.
    #[pyo3(signature = (assignment_id, *, user=None, group=None))]
    fn app_targets(&self, assignment_id: String, user: Option<Target>, group: Option<Target>) -> Outcome<PyJson> {
        let assignee = assignee(user, group)?;
        convert(core.client.roles().app_targets(&assignee, &assignment_id).await).map(PyJson::list)
    }

    /// Limits an APP_ADMIN role to a catalog app (by name, e.g. "salesforce").
    #[pyo3(signature = (assignment_id, app_name, *, user=None, group=None))]
    fn add_app_target(&self, assignment_id: String, app_name: String, user: Option<Target>, group: Option<Target>) -> Outcome<Nothing> {
        let assignee = assignee(user, group)?;
        convert(core.client.roles().add_app_target(&assignee, &assignment_id, &app_name).await).map(|()| Nothing)
    }

    /// Removes a catalog app from an APP_ADMIN role's targets.
    #[pyo3(signature = (assignment_id, app_name, *, user=None, group=None))]
    fn remove_app_target(&self, assignment_id: String, app_name: String, user: Option<Target>, group: Option<Target>) -> Outcome<Nothing> {
        let assignee = assignee(user, group)?;
        convert(core.client.roles().remove_app_target(&assignee, &assignment_id, &app_name).await).map(|()| Nothing)
    }
}
