//! `/api/v1/meta/schemas/user/{schemaId}` and `/api/v1/meta/types/user…`: the profile schema and
//! user types.
//!
//! Every user type shares one set of profile definitions (base and custom): a `POST` to any
//! type's schema changes them for all types. Each type still has its own schema id (`osc` + the
//! type id's suffix, as recorded), and a type's schema answers with that id, the type's name,
//! display name and description, and links to the type. (Okta gives a new type a copy of the
//! default schema that then evolves on its own; the simulator keeps one, so that validation is
//! the same for every user.)
//!
//! Errors: an unknown type is `404 E0000007 "Not found: Resource not found: {id} (CVDType)"`
//! (recorded); deleting the default type or a type in use is `403 E0000142 "This User Type cannot
//! be deleted."` (error-code catalogue; the spec's `deleteUserType` note). Chosen where Okta's
//! answer is not documented: an unknown schema id is `404 E0000007 … ({id} (UserSchema))`; invalid
//! type bodies are `400 E0000001 "Api validation failed: {field}"` with `"{field}: …"` causes
//! (`name: An object with this field already exists in the current organization` for a duplicate
//! name, as for duplicate logins and group names).
//!
//! System Log: a schema update logs `directory.user_profile.update` and a new type
//! `directory.non_default_user_profile.create` (Okta's Event Types catalog); the catalog has no
//! event for updating or deleting a user type, so those log nothing.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value};

use super::errors::ApiError;
use super::events::EventKind;
use super::logs::{schema_target, user_type_target};
use super::responses::{json_response, no_content, Call};
use super::schema::SchemaView;
use super::state::{now_timestamp, schema_id_of, Org, UserType};

/// Most user types an org can have (the default and nine more; spec `createUserType`).
const MAX_TYPES: usize = 10;

fn schema_not_found(id: &str) -> ApiError {
    ApiError::not_found(id, "UserSchema")
}

fn type_not_found(id: &str) -> ApiError {
    ApiError::not_found(id, "CVDType")
}

/// The schema of `user_type` as requested through `segment`.
fn schema_json(org: &Org, base: &str, segment: &str, user_type: &UserType) -> Value {
    let schema_id = schema_id_of(&user_type.id);
    let view = SchemaView {
        name: &user_type.name,
        title: &user_type.display_name,
        description: user_type.description.as_deref().unwrap_or_default(),
        schema_id: &schema_id,
        type_id: &user_type.id,
    };
    org.schema.to_json(base, segment, &view)
}

/// `GET /api/v1/meta/schemas/user/{schemaId}` (`default` or a type's schema id).
pub(crate) fn get_schema(call: &Call, schema_id: &str) -> Result<Response, ApiError> {
    let org = call.shared.read_org();
    let user_type = org.type_of_schema(schema_id).ok_or_else(|| schema_not_found(schema_id))?;
    Ok(json_response(StatusCode::OK, &schema_json(&org, call.base(), schema_id, user_type)))
}

/// `POST /api/v1/meta/schemas/user/{schemaId}`: partial update of the definitions.
pub(crate) fn update_schema(call: &Call, schema_id: &str) -> Result<Response, ApiError> {
    let body = call.json_object()?;
    let now = now_timestamp();
    let mut org = call.shared.write_org();
    let type_id = org.type_of_schema(schema_id).map(|user_type| user_type.id.clone());
    let type_id = type_id.ok_or_else(|| schema_not_found(schema_id))?;
    let removed = {
        let Org { schema, users, .. } = &mut *org;
        let users = &*users;
        let has_duplicates = |name: &str| {
            let mut seen = std::collections::HashSet::new();
            users
                .values()
                .filter_map(|user| user.profile.get(name).and_then(Value::as_str))
                .any(|value| !value.is_empty() && !seen.insert(value.to_lowercase()))
        };
        schema.update(&body, &now, &has_duplicates)?
    };
    // Values of removed properties leave the profiles with them.
    if !removed.is_empty() {
        for user in org.users.values_mut() {
            let mut changed = false;
            for name in &removed {
                changed |= user.profile.shift_remove(name).is_some();
            }
            if changed {
                user.refresh();
            }
        }
    }
    let user_type = org.user_types.get(&type_id).ok_or_else(|| schema_not_found(schema_id))?;
    let target = schema_target(user_type);
    org.record(&call.context, EventKind::SchemaUpdate, vec![target]);
    let user_type = org.user_types.get(&type_id).ok_or_else(|| schema_not_found(schema_id))?;
    Ok(json_response(StatusCode::OK, &schema_json(&org, call.base(), schema_id, user_type)))
}

/// `GET /api/v1/meta/types/user`: the default type first, then the others in creation order
/// (recorded in 2025 orgs).
pub(crate) fn list_types(call: &Call) -> Result<Response, ApiError> {
    let org = call.shared.read_org();
    let default = org.user_types.get(&org.user_type_id);
    let body: Vec<Value> = default
        .into_iter()
        .chain(org.user_types.values().filter(|user_type| !user_type.default))
        .map(|user_type| user_type.to_json(call.base()))
        .collect();
    Ok(json_response(StatusCode::OK, &body))
}

/// `GET /api/v1/meta/types/user/{typeId}` (`default` names the default type).
pub(crate) fn get_type(call: &Call, type_id: &str) -> Result<Response, ApiError> {
    let org = call.shared.read_org();
    let user_type = org.resolve_type(type_id).ok_or_else(|| type_not_found(type_id))?;
    Ok(json_response(StatusCode::OK, &user_type.to_json(call.base())))
}

/// A string member of a type body: `Ok(None)` when absent or null.
fn text_field(body: &Map<String, Value>, field: &str) -> Result<Option<String>, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(ApiError::validation(field, vec![format!("{field}: The field must be of type string")])),
    }
}

fn blank(field: &str) -> ApiError {
    ApiError::validation(field, vec![format!("{field}: The field cannot be left blank")])
}

/// A type name as the spec describes it: starts with a letter, then letters, digits and `_`.
fn valid_type_name(name: &str) -> bool {
    let mut characters = name.chars();
    characters.next().is_some_and(|first| first.is_ascii_alphabetic())
        && characters.all(|character| character.is_ascii_alphanumeric() || character == '_')
}

/// `POST /api/v1/meta/types/user`.
pub(crate) fn create_type(call: &Call) -> Result<Response, ApiError> {
    let body = call.json_object()?;
    let name = text_field(&body, "name")?.filter(|name| !name.trim().is_empty()).ok_or_else(|| blank("name"))?;
    let display_name = text_field(&body, "displayName")?
        .filter(|display_name| !display_name.trim().is_empty())
        .ok_or_else(|| blank("displayName"))?;
    let description = text_field(&body, "description")?;
    if !valid_type_name(&name) {
        return Err(ApiError::validation(
            "name",
            vec!["name: The name must start with a letter and contain only letters, digits and underscores".into()],
        ));
    }
    let now = now_timestamp();
    let mut org = call.shared.write_org();
    if org.user_types.values().any(|user_type| user_type.name.eq_ignore_ascii_case(&name)) {
        return Err(ApiError::validation(
            "name",
            vec!["name: An object with this field already exists in the current organization".into()],
        ));
    }
    if org.user_types.len() >= MAX_TYPES {
        return Err(ApiError::validation(
            "userType",
            vec![format!("userType: An org can have at most {MAX_TYPES} user types")],
        ));
    }
    let id = org.next_id("oty");
    let admin = org.admin_id.clone();
    let user_type = UserType {
        id: id.clone(),
        name,
        display_name,
        description,
        created_by: admin.clone(),
        last_updated_by: admin,
        created: now.clone(),
        last_updated: now,
        default: false,
    };
    let json = user_type.to_json(call.base());
    let target = user_type_target(&user_type);
    org.user_types.insert(id, user_type);
    org.record(&call.context, EventKind::UserTypeCreate, vec![target]);
    Ok(json_response(StatusCode::OK, &json))
}

/// `POST /api/v1/meta/types/user/{typeId}` (partial) and `PUT …` (full: `name`, `displayName`
/// and `description` required). The name cannot change.
pub(crate) fn update_type(call: &Call, type_id: &str, replace: bool) -> Result<Response, ApiError> {
    let body = call.json_object()?;
    let name = text_field(&body, "name")?;
    let display_name = text_field(&body, "displayName")?;
    let description = text_field(&body, "description")?;
    if replace {
        if name.as_deref().is_none_or(|name| name.trim().is_empty()) {
            return Err(blank("name"));
        }
        if display_name.as_deref().is_none_or(|text| text.trim().is_empty()) {
            return Err(blank("displayName"));
        }
        if description.is_none() {
            return Err(blank("description"));
        }
    }
    if display_name.as_deref().is_some_and(|text| text.trim().is_empty()) {
        return Err(blank("displayName"));
    }
    let now = now_timestamp();
    let mut org = call.shared.write_org();
    let admin = org.admin_id.clone();
    let id = org.resolve_type(type_id).map(|user_type| user_type.id.clone()).ok_or_else(|| type_not_found(type_id))?;
    let user_type = org.user_types.get_mut(&id).ok_or_else(|| type_not_found(type_id))?;
    if let Some(name) = &name {
        if name != &user_type.name {
            return Err(ApiError::validation("name", vec!["name: The name of a user type cannot be changed".into()]));
        }
    }
    if let Some(display_name) = display_name {
        user_type.display_name = display_name;
    }
    if replace || description.is_some() {
        user_type.description = description;
    }
    user_type.last_updated = now;
    user_type.last_updated_by = admin;
    Ok(json_response(StatusCode::OK, &user_type.to_json(call.base())))
}

/// `DELETE /api/v1/meta/types/user/{typeId}`: not the default type, not a type in use.
pub(crate) fn delete_type(call: &Call, type_id: &str) -> Result<Response, ApiError> {
    let mut org = call.shared.write_org();
    let user_type = org.resolve_type(type_id).ok_or_else(|| type_not_found(type_id))?;
    let id = user_type.id.clone();
    if user_type.default || org.users.values().any(|user| user.type_id == id) {
        return Err(ApiError::new(403, "E0000142", "This User Type cannot be deleted."));
    }
    org.user_types.remove(&id);
    Ok(no_content())
}
