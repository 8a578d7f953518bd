//! The org's user profile schema (`/api/v1/meta/schemas/user/{schemaId}`): Okta's base
//! properties, the custom properties an admin defines, the JSON Okta answers with, partial
//! updates, and the validation of user profiles against it.
//!
//! Shapes follow the spec (`UserSchema`, `UserSchemaAttribute`, examples `UserSchemaResponse`,
//! `UserSchemaDefaultResponse`) and the user-schema answers Okta's Python SDK and the Terraform
//! provider recorded (key order, `mutability`/`scope` defaults, `unique: "UNIQUE_VALIDATED"`, no
//! `required` member in `#custom` while it has no property, `_links.self`/`_links.type` with
//! `rel` and `method`).
//!
//! Where Okta's wording is not documented, the causes below follow the `"{property}: {sentence}"`
//! pattern of Okta's known causes ("login: The field is too short", "name: The field cannot be
//! left blank"); each such text is marked "chosen".

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::errors::ApiError;

/// One of Okta's base properties as a fresh org's default schema defines it.
struct BaseProperty {
    name: &'static str,
    title: &'static str,
    required: bool,
    format: Option<&'static str>,
    min_length: Option<u64>,
    max_length: Option<u64>,
    /// The `SELF` permission of a fresh org.
    permission: &'static str,
}

const fn base(
    name: &'static str,
    title: &'static str,
    permission: &'static str,
    format: Option<&'static str>,
) -> BaseProperty {
    BaseProperty { name, title, required: false, format, min_length: None, max_length: None, permission }
}

/// Okta's base user properties in the order Okta lists them (recorded
/// `GET /api/v1/meta/schemas/user/default`, Terraform provider cassettes, 2025), with the
/// recorded titles, formats, lengths and `SELF` permissions.
const BASE_PROPERTIES: &[BaseProperty] = &[
    BaseProperty {
        name: "login",
        title: "Username",
        required: true,
        format: None,
        min_length: Some(5),
        max_length: Some(100),
        permission: "READ_WRITE",
    },
    BaseProperty {
        name: "firstName",
        title: "First name",
        required: true,
        format: None,
        min_length: Some(1),
        max_length: Some(50),
        permission: "READ_WRITE",
    },
    BaseProperty {
        name: "lastName",
        title: "Last name",
        required: true,
        format: None,
        min_length: Some(1),
        max_length: Some(50),
        permission: "READ_WRITE",
    },
    base("middleName", "Middle name", "READ_ONLY", None),
    base("honorificPrefix", "Honorific prefix", "READ_ONLY", None),
    base("honorificSuffix", "Honorific suffix", "READ_ONLY", None),
    BaseProperty {
        name: "email",
        title: "Primary email",
        required: true,
        format: Some("email"),
        min_length: None,
        max_length: None,
        permission: "READ_WRITE",
    },
    base("title", "Title", "READ_ONLY", None),
    base("displayName", "Display name", "READ_ONLY", None),
    base("nickName", "Nickname", "READ_ONLY", None),
    base("profileUrl", "Profile Url", "READ_ONLY", Some("uri")),
    base("secondEmail", "Secondary email", "READ_WRITE", Some("email")),
    BaseProperty { max_length: Some(100), ..base("mobilePhone", "Mobile phone", "READ_WRITE", None) },
    BaseProperty { max_length: Some(100), ..base("primaryPhone", "Primary phone", "HIDE", None) },
    base("streetAddress", "Street address", "HIDE", None),
    base("city", "City", "HIDE", None),
    base("state", "State", "HIDE", None),
    base("zipCode", "Zip code", "HIDE", None),
    base("countryCode", "Country code", "HIDE", Some("country-code")),
    base("postalAddress", "Postal Address", "HIDE", None),
    base("preferredLanguage", "Preferred language", "READ_ONLY", Some("language-code")),
    base("locale", "Locale", "READ_ONLY", Some("locale")),
    base("timezone", "Time zone", "READ_ONLY", Some("timezone")),
    base("userType", "User type", "READ_ONLY", None),
    base("employeeNumber", "Employee number", "READ_ONLY", None),
    base("costCenter", "Cost center", "READ_ONLY", None),
    base("organization", "Organization", "READ_ONLY", None),
    base("division", "Division", "READ_ONLY", None),
    base("department", "Department", "READ_ONLY", None),
    base("managerId", "ManagerId", "READ_ONLY", None),
    base("manager", "Manager", "READ_ONLY", None),
];

/// Whether `name` is one of Okta's base user properties.
pub(crate) fn is_base(name: &str) -> bool {
    BASE_PROPERTIES.iter().any(|property| property.name == name)
}

fn base_property(name: &str) -> Option<&'static BaseProperty> {
    BASE_PROPERTIES.iter().find(|property| property.name == name)
}

/// The property types of the spec's `UserSchemaAttributeType`.
const PROPERTY_TYPES: &[&str] = &["string", "boolean", "integer", "number", "array"];
/// The element types an `array` property may have (Okta's Universal Directory).
const ITEM_TYPES: &[&str] = &["string", "number", "integer"];
/// The spec's `UserSchemaAttributeFormat`.
const FORMATS: &[&str] = &[
    "country-code",
    "date-time",
    "email",
    "encrypted",
    "hashed",
    "language-code",
    "locale",
    "ref-id",
    "timezone",
    "uri",
];
/// The spec's `UserSchemaAttributeMutabilityString`.
const MUTABILITIES: &[&str] = &["IMMUTABLE", "READ_ONLY", "READ_WRITE", "WRITE_ONLY"];
/// The spec's `UserSchemaAttributeMasterType`.
const MASTER_TYPES: &[&str] = &["OKTA", "OVERRIDE", "PROFILE_MASTER"];
/// Most unique properties per user type (spec, tag `Schema`, "Unique Attributes").
const MAX_UNIQUE: usize = 5;

/// The user schema of the org. Every user type shares it (see the module doc of
/// `routes_meta`); each type has its own schema id.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct UserSchema {
    pub created: String,
    pub last_updated: String,
    /// `SELF` permissions of base properties changed by an admin (the only base change Okta
    /// allows besides the nullability of `firstName`/`lastName` and the `login` pattern).
    #[serde(default)]
    pub base_permissions: BTreeMap<String, Value>,
    /// Base properties made optional (`firstName`, `lastName`).
    #[serde(default)]
    pub optional_base: BTreeSet<String>,
    /// The `login` pattern (`None`: logins are e-mail addresses).
    #[serde(default)]
    pub login_pattern: Option<String>,
    /// Custom properties in definition order, each as Okta answers with it.
    #[serde(default)]
    pub custom: Map<String, Value>,
    /// Required custom properties, in the order they became required.
    #[serde(default)]
    pub custom_required: Vec<String>,
}

/// A custom string property as the simulator's `custom_attributes` convenience defines it.
fn convenience_property(name: &str) -> Value {
    json!({
        "title": name,
        "type": "string",
        "mutability": "READ_WRITE",
        "scope": "NONE",
        "permissions": [{ "principal": "SELF", "action": "READ_ONLY" }],
        "master": { "type": "PROFILE_MASTER" },
    })
}

impl UserSchema {
    /// A fresh org's schema plus a custom string property for each of `custom_attributes` that
    /// is not a base property.
    pub(crate) fn new(now: &str, custom_attributes: &[String]) -> UserSchema {
        let mut schema = UserSchema {
            created: now.to_owned(),
            last_updated: now.to_owned(),
            base_permissions: BTreeMap::new(),
            optional_base: BTreeSet::new(),
            login_pattern: None,
            custom: Map::new(),
            custom_required: Vec::new(),
        };
        schema.add_convenience_properties(custom_attributes);
        schema
    }

    /// Adds the `custom_attributes` convenience properties that are missing.
    pub(crate) fn add_convenience_properties(&mut self, custom_attributes: &[String]) {
        for name in custom_attributes {
            if !name.is_empty() && !is_base(name) && !self.custom.contains_key(name) {
                self.custom.insert(name.clone(), convenience_property(name));
            }
        }
    }

    /// Whether a profile may carry `name`.
    pub(crate) fn is_defined(&self, name: &str) -> bool {
        is_base(name) || self.custom.contains_key(name)
    }

    fn base_required(&self, property: &BaseProperty) -> bool {
        property.required && !self.optional_base.contains(property.name)
    }

    fn base_json(&self) -> Value {
        let mut properties = Map::new();
        for property in BASE_PROPERTIES {
            let mut entry = Map::new();
            entry.insert("title".into(), json!(property.title));
            entry.insert("type".into(), json!("string"));
            if self.base_required(property) {
                entry.insert("required".into(), json!(true));
            }
            if let Some(format) = property.format {
                entry.insert("format".into(), json!(format));
            }
            entry.insert("mutability".into(), json!("READ_WRITE"));
            entry.insert("scope".into(), json!("NONE"));
            if let Some(min) = property.min_length {
                entry.insert("minLength".into(), json!(min));
            }
            if let Some(max) = property.max_length {
                entry.insert("maxLength".into(), json!(max));
            }
            if property.name == "login" {
                if let Some(pattern) = &self.login_pattern {
                    entry.insert("pattern".into(), json!(pattern));
                }
            }
            let permissions = self
                .base_permissions
                .get(property.name)
                .cloned()
                .unwrap_or_else(|| json!([{ "principal": "SELF", "action": property.permission }]));
            entry.insert("permissions".into(), permissions);
            entry.insert("master".into(), json!({ "type": "PROFILE_MASTER" }));
            properties.insert(property.name.into(), Value::Object(entry));
        }
        let required: Vec<&str> =
            BASE_PROPERTIES.iter().filter(|property| self.base_required(property)).map(|p| p.name).collect();
        json!({ "id": "#base", "type": "object", "properties": properties, "required": required })
    }

    fn custom_json(&self) -> Value {
        let mut custom = Map::new();
        custom.insert("id".into(), json!("#custom"));
        custom.insert("type".into(), json!("object"));
        custom.insert("properties".into(), Value::Object(self.custom.clone()));
        // Recorded: `#custom` has no `required` member while it has no property.
        if !self.custom.is_empty() {
            custom.insert("required".into(), json!(self.custom_required));
        }
        Value::Object(custom)
    }

    /// The schema as `GET /api/v1/meta/schemas/user/{segment}` answers: `segment` is what the
    /// caller asked for (`default` or the schema id); the links name the schema and type ids.
    pub(crate) fn to_json(&self, base_url: &str, segment: &str, view: &SchemaView<'_>) -> Value {
        json!({
            "id": format!("{base_url}/meta/schemas/user/{segment}"),
            "$schema": "http://json-schema.org/draft-04/schema#",
            "name": view.name,
            "title": view.title,
            "description": view.description,
            "lastUpdated": self.last_updated,
            "created": self.created,
            "definitions": { "custom": self.custom_json(), "base": self.base_json() },
            "type": "object",
            "properties": {
                "profile": { "allOf": [{ "$ref": "#/definitions/custom" }, { "$ref": "#/definitions/base" }] },
            },
            "_links": {
                "self": {
                    "rel": "self",
                    "href": format!("{base_url}/api/v1/meta/schemas/user/{}", view.schema_id),
                    "method": "GET",
                },
                "type": {
                    "rel": "type",
                    "href": format!("{base_url}/api/v1/meta/types/user/{}", view.type_id),
                    "method": "GET",
                },
            },
        })
    }

    /// Names of the custom properties whose values must be unique.
    pub(crate) fn unique_properties(&self) -> Vec<&str> {
        self.custom
            .iter()
            .filter(|(_, definition)| definition.get("unique").is_some())
            .map(|(name, _)| name.as_str())
            .collect()
    }

    /// Applies a `POST /api/v1/meta/schemas/user/{id}` body: a partial update of
    /// `definitions.custom.properties` (a property set to `null` is removed), of
    /// `definitions.custom.required`, and of what Okta lets admins change in
    /// `definitions.base.properties`. All or nothing: on a refusal nothing changes. Returns the
    /// names of removed custom properties. `has_duplicates(name)` tells whether existing users
    /// share a value of `name` (a property then cannot become unique, as in Okta).
    pub(crate) fn update(
        &mut self,
        body: &Map<String, Value>,
        now: &str,
        has_duplicates: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<String>, ApiError> {
        let mut next = self.clone();
        let mut failures: Vec<(String, String)> = Vec::new();
        let mut removed = Vec::new();
        let definitions = match body.get("definitions") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(definitions)) => definitions.clone(),
            Some(_) => return Err(ApiError::malformed_body()),
        };
        if let Some(base) = definitions.get("base").filter(|base| !base.is_null()) {
            let base = base.as_object().ok_or_else(ApiError::malformed_body)?;
            if let Some(properties) = base.get("properties").filter(|p| !p.is_null()) {
                let properties = properties.as_object().ok_or_else(ApiError::malformed_body)?;
                for (name, definition) in properties {
                    next.update_base(name, definition, &mut failures);
                }
            }
        }
        if let Some(custom) = definitions.get("custom").filter(|custom| !custom.is_null()) {
            let custom = custom.as_object().ok_or_else(ApiError::malformed_body)?;
            let mut required: Option<Vec<String>> = match custom.get("required") {
                None | Some(Value::Null) => None,
                Some(Value::Array(names)) => Some(
                    names
                        .iter()
                        .map(|name| name.as_str().map(str::to_owned).ok_or_else(ApiError::malformed_body))
                        .collect::<Result<_, _>>()?,
                ),
                Some(_) => return Err(ApiError::malformed_body()),
            };
            let mut made_required = Vec::new();
            let mut made_optional = Vec::new();
            if let Some(properties) = custom.get("properties").filter(|p| !p.is_null()) {
                let properties = properties.as_object().ok_or_else(ApiError::malformed_body)?;
                for (name, definition) in properties {
                    match definition {
                        Value::Null => {
                            if next.custom.shift_remove(name).is_some() {
                                removed.push(name.clone());
                            }
                            made_optional.push(name.clone());
                        }
                        Value::Object(definition) => {
                            if let Some(property) = next.define_custom(name, definition, &mut failures) {
                                if property.get("required") == Some(&Value::Bool(true)) {
                                    made_required.push(name.clone());
                                } else {
                                    made_optional.push(name.clone());
                                }
                                next.custom.insert(name.clone(), Value::Object(property));
                            }
                        }
                        _ => {
                            failures.push((name.clone(), format!("{name}: The property definition must be an object")))
                        }
                    }
                }
            }
            // An explicit `required` list is taken as is; without one, the properties (re)defined
            // here say by their own `required` whether they are required.
            let mut names = match required.take() {
                Some(names) => names,
                None => {
                    let mut names = next.custom_required.clone();
                    names.retain(|name| !made_optional.contains(name));
                    names
                }
            };
            for name in made_required {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
            for name in &names {
                if !next.custom.contains_key(name) {
                    // chosen: Okta's wording for a required name without a property is not documented.
                    failures.push((name.clone(), format!("{name}: Property name '{name}' is not defined in profile")));
                }
            }
            // A property listed as required says so in its own definition too.
            for (name, definition) in next.custom.iter_mut() {
                if let Value::Object(definition) = definition {
                    if names.contains(name) {
                        if definition.get("required") != Some(&Value::Bool(true)) {
                            *definition = with_required(definition);
                        }
                    } else {
                        definition.shift_remove("required");
                    }
                }
            }
            names.dedup();
            next.custom_required = names;
        }
        let unique = next.unique_properties();
        if unique.len() > MAX_UNIQUE {
            let name = unique.last().map(|name| (*name).to_owned()).unwrap_or_default();
            // chosen: the limit is documented (five unique properties per type), its error text is not.
            failures
                .push((name.clone(), format!("{name}: A user type can have at most {MAX_UNIQUE} unique properties")));
        }
        if let Some((field, _)) = failures.first() {
            let summary = field.clone();
            return Err(ApiError::validation(&summary, failures.into_iter().map(|(_, cause)| cause).collect()));
        }
        // A property that becomes unique while users share a value stays non-unique (spec, tag
        // `Schema`: "if duplicate records are found, the `unique` attribute ... isn't shown").
        for (name, definition) in next.custom.iter_mut() {
            let was_unique = self.custom.get(name).is_some_and(|old| old.get("unique").is_some());
            if !was_unique && definition.get("unique").is_some() && has_duplicates(name) {
                if let Value::Object(definition) = definition {
                    definition.shift_remove("unique");
                }
            }
        }
        next.last_updated = now.to_owned();
        *self = next;
        Ok(removed)
    }

    /// Checks a base-property definition against what Okta lets admins change.
    fn update_base(&mut self, name: &str, definition: &Value, failures: &mut Vec<(String, String)>) {
        if base_property(name).is_none() {
            // chosen wording: the spec says base properties "can't be removed" or added, not how Okta refuses.
            failures.push((name.to_owned(), format!("{name}: Base properties cannot be added or removed")));
            return;
        }
        let Some(definition) = definition.as_object() else {
            failures.push((name.to_owned(), format!("{name}: Base properties cannot be added or removed")));
            return;
        };
        let current = self.base_json();
        let current = &current["properties"][name];
        for (key, value) in definition {
            match key.as_str() {
                "permissions" => match validate_permissions(value) {
                    Ok(permissions) => {
                        self.base_permissions.insert(name.to_owned(), permissions);
                    }
                    Err(message) => failures.push((name.to_owned(), format!("{name}: {message}"))),
                },
                "required" if matches!(name, "firstName" | "lastName") => match value {
                    Value::Bool(true) | Value::Null => {
                        self.optional_base.remove(name);
                    }
                    Value::Bool(false) => {
                        self.optional_base.insert(name.to_owned());
                    }
                    _ => failures.push((name.to_owned(), format!("{name}: The field must be of type boolean"))),
                },
                "pattern" if name == "login" => match value {
                    Value::Null => self.login_pattern = None,
                    Value::String(pattern) if LoginPattern::parse(pattern).is_some() => {
                        self.login_pattern = Some(pattern.clone())
                    }
                    // chosen wording; the accepted forms are the spec's (`UserSchemaBaseProperties.login`).
                    _ => failures.push((
                        name.to_owned(),
                        format!("{name}: The pattern must be \".+\" or a character class such as \"[a-z0-9.]+\""),
                    )),
                },
                "type" if value != &current["type"] => {
                    // chosen wording: the spec says base properties can't be modified except as above.
                    failures.push((name.to_owned(), format!("{name}: The type of a base property cannot be changed")));
                }
                _ => {
                    let unchanged = match current.get(key) {
                        Some(existing) => existing == value,
                        // `required: false` and nulls restate the default of an absent member.
                        None => value.is_null() || value == &Value::Bool(false),
                    };
                    if !unchanged {
                        // chosen wording, as above.
                        failures.push((
                            name.to_owned(),
                            format!("{name}: Only the permissions of a base property can be changed ({key})"),
                        ));
                    }
                }
            }
        }
    }

    /// A custom property definition checked and put in Okta's shape, or `None` (with the
    /// reasons in `failures`).
    fn define_custom(
        &self,
        name: &str,
        definition: &Map<String, Value>,
        failures: &mut Vec<(String, String)>,
    ) -> Option<Map<String, Value>> {
        let before = failures.len();
        let mut fail = |message: String| failures.push((name.to_owned(), format!("{name}: {message}")));
        if name.trim().is_empty() {
            fail("The property name cannot be left blank".into());
            return None;
        }
        if BASE_PROPERTIES.iter().any(|property| property.name.eq_ignore_ascii_case(name)) {
            // chosen wording; the collision rule is the spec's (`UserSchemaPublic`).
            fail("A custom property cannot have the name of a base property".into());
            return None;
        }
        if let Some(other) = self.custom.keys().find(|other| *other != name && other.eq_ignore_ascii_case(name)) {
            fail(format!("A custom property cannot differ from '{other}' only by case"));
            return None;
        }
        let existing = self.custom.get(name).and_then(Value::as_object);
        let text = |key: &str| definition.get(key).or_else(|| existing.and_then(|e| e.get(key)));
        let kind = match text("type") {
            Some(Value::String(kind)) if PROPERTY_TYPES.contains(&kind.as_str()) => kind.clone(),
            None | Some(Value::Null) => {
                fail("type: The field cannot be left blank".into());
                return None;
            }
            Some(other) => {
                // chosen wording.
                fail(format!(
                    "type: {} is not a valid property type; use one of string, boolean, integer, number, array",
                    display(other)
                ));
                return None;
            }
        };
        if let Some(old) = existing.and_then(|e| e.get("type")).and_then(Value::as_str) {
            if old != kind {
                // chosen wording: Okta does not let an existing property change type.
                fail(format!("The type of an existing property cannot be changed from {old} to {kind}"));
                return None;
            }
        }
        let mut property = Map::new();
        match text("title") {
            Some(Value::String(title)) if !title.trim().is_empty() => {
                property.insert("title".into(), json!(title));
            }
            _ => fail("title: The field cannot be left blank".into()),
        }
        match definition.get("description") {
            None | Some(Value::Null) => {}
            Some(Value::String(description)) => {
                property.insert("description".into(), json!(description));
            }
            Some(_) => fail("description: The field must be of type string".into()),
        }
        property.insert("type".into(), json!(kind));
        match definition.get("required") {
            None | Some(Value::Null) | Some(Value::Bool(false)) => {}
            Some(Value::Bool(true)) => {
                property.insert("required".into(), json!(true));
            }
            Some(_) => fail("required: The field must be of type boolean".into()),
        }
        match definition.get("format") {
            None | Some(Value::Null) => {}
            Some(Value::String(format)) if FORMATS.contains(&format.as_str()) => {
                property.insert("format".into(), json!(format));
            }
            Some(other) => fail(format!("format: {} is not a supported format", display(other))),
        }
        match definition.get("unique") {
            None | Some(Value::Null) | Some(Value::Bool(false)) => {}
            Some(Value::String(state)) if state == "NOT_UNIQUE" => {}
            Some(Value::Bool(true)) => {
                property.insert("unique".into(), json!("UNIQUE_VALIDATED"));
            }
            Some(Value::String(state)) if state == "UNIQUE_VALIDATED" || state == "PENDING_UNIQUENESS" => {
                property.insert("unique".into(), json!("UNIQUE_VALIDATED"));
            }
            Some(other) => fail(format!("unique: {} is not a valid uniqueness", display(other))),
        }
        if property.contains_key("unique") && kind != "string" {
            // chosen wording: Universal Directory enforces uniqueness on custom string properties.
            fail("unique: Only string properties can be unique".into());
        }
        let mutability = match definition.get("mutability") {
            None | Some(Value::Null) => "READ_WRITE".to_owned(),
            Some(Value::String(value)) if MUTABILITIES.contains(&value.as_str()) => value.clone(),
            Some(other) => {
                fail(format!("mutability: {} is not a valid mutability", display(other)));
                String::new()
            }
        };
        property.insert("mutability".into(), json!(mutability));
        let scope = match definition.get("scope") {
            None | Some(Value::Null) => "NONE".to_owned(),
            Some(Value::String(value)) if value == "NONE" || value == "SELF" => value.clone(),
            Some(other) => {
                fail(format!("scope: {} is not a valid scope; use NONE or SELF", display(other)));
                String::new()
            }
        };
        property.insert("scope".into(), json!(scope));
        if kind == "array" {
            if definition.get("enum").is_some_and(|value| !value.is_null())
                || definition.get("oneOf").is_some_and(|value| !value.is_null())
            {
                fail("enum: An array property lists its allowed values in items.enum".into());
            }
            match definition.get("items") {
                Some(Value::Object(items)) => match normalize_items(items) {
                    Ok(items) => {
                        property.insert("items".into(), Value::Object(items));
                    }
                    Err(message) => fail(message),
                },
                None | Some(Value::Null) => fail("items: The field cannot be left blank".into()),
                Some(_) => fail("items: The field must be an object".into()),
            }
        } else {
            match enumeration(definition.get("enum"), definition.get("oneOf"), &kind) {
                Ok(Some((values, one_of))) => {
                    property.insert("enum".into(), Value::Array(values));
                    if let Some(one_of) = one_of {
                        property.insert("oneOf".into(), Value::Array(one_of));
                    }
                }
                Ok(None) => {}
                Err(message) => fail(message),
            }
            if definition.get("items").is_some_and(|value| !value.is_null()) {
                fail("items: Only array properties have items".into());
            }
        }
        for key in ["minLength", "maxLength"] {
            match definition.get(key) {
                None | Some(Value::Null) => {}
                Some(value) if kind == "string" && value.as_u64().is_some() => {
                    property.insert(key.into(), value.clone());
                }
                Some(_) if kind != "string" => fail(format!("{key}: Only string properties have a {key}")),
                Some(value) => fail(format!("{key}: {} is not a valid length", display(value))),
            }
        }
        if let (Some(min), Some(max)) =
            (property.get("minLength").and_then(Value::as_u64), property.get("maxLength").and_then(Value::as_u64))
        {
            if min > max {
                fail("minLength: The minimum length cannot exceed the maximum length".into());
            }
        }
        match definition.get("pattern") {
            None | Some(Value::Null) => {}
            Some(Value::String(pattern)) if kind == "string" => {
                property.insert("pattern".into(), json!(pattern));
            }
            Some(_) => fail("pattern: Only string properties have a pattern".into()),
        }
        for key in ["default", "externalName", "externalNamespace"] {
            if let Some(value) = definition.get(key).filter(|value| !value.is_null()) {
                property.insert(key.into(), value.clone());
            }
        }
        let permissions = match definition.get("permissions") {
            None | Some(Value::Null) => Ok(json!([{ "principal": "SELF", "action": "READ_ONLY" }])),
            Some(value) => validate_permissions(value),
        };
        match permissions {
            Ok(permissions) => {
                property.insert("permissions".into(), permissions);
            }
            Err(message) => fail(message),
        }
        match definition.get("master") {
            None | Some(Value::Null) => {}
            Some(Value::Object(master))
                if master.get("type").and_then(Value::as_str).is_some_and(|kind| MASTER_TYPES.contains(&kind)) =>
            {
                property.insert("master".into(), Value::Object(master.clone()));
            }
            Some(_) => fail("master: The type must be one of OKTA, OVERRIDE, PROFILE_MASTER".into()),
        }
        (failures.len() == before).then_some(property)
    }

    /// Checks a user profile against the schema: defined properties first (`400 E0000001`
    /// "Api validation failed: {object}" with "Property name 'x' is not defined in profile",
    /// recorded), then types, lengths, formats, enumerations, required properties and unique
    /// values (`400 E0000001` "Api validation failed: {first property}" with one cause per
    /// failure). `taken(name, value)` tells whether another user holds a unique value.
    pub(crate) fn validate_profile(
        &self,
        profile: &Map<String, Value>,
        object: &str,
        taken: &dyn Fn(&str, &str) -> bool,
    ) -> Result<(), ApiError> {
        let undefined: Vec<String> = profile
            .keys()
            .filter(|key| !self.is_defined(key))
            .map(|key| format!("Property name '{key}' is not defined in profile"))
            .collect();
        if !undefined.is_empty() {
            return Err(ApiError::validation(object, undefined));
        }
        let mut failures: Vec<(String, String)> = Vec::new();
        for property in BASE_PROPERTIES {
            let value = profile.get(property.name).unwrap_or(&Value::Null);
            self.check_base(property, value, &mut failures);
        }
        for (name, definition) in &self.custom {
            let value = profile.get(name).unwrap_or(&Value::Null);
            let required = self.custom_required.contains(name);
            check_custom(name, definition, value, required, &mut failures);
            if definition.get("unique").is_some() {
                if let Some(text) = value.as_str().filter(|text| !text.is_empty()) {
                    if taken(name, text) {
                        failures.push((
                            name.clone(),
                            format!("{name}: An object with this field already exists in the current organization"),
                        ));
                    }
                }
            }
        }
        match failures.first() {
            None => Ok(()),
            Some((field, _)) => {
                let field = field.clone();
                Err(ApiError::validation(&field, failures.into_iter().map(|(_, cause)| cause).collect()))
            }
        }
    }

    fn check_base(&self, property: &BaseProperty, value: &Value, failures: &mut Vec<(String, String)>) {
        let name = property.name;
        let mut fail = |message: &str| failures.push((name.to_owned(), format!("{name}: {message}")));
        let text = match value {
            Value::Null => None,
            Value::String(text) => Some(text.as_str()),
            _ => {
                // chosen wording (see the module doc).
                fail("The field must be of type string");
                return;
            }
        };
        let Some(text) = text.filter(|text| !text.trim().is_empty()) else {
            if self.base_required(property) {
                fail("The field cannot be left blank");
            }
            return;
        };
        let length = text.chars().count();
        if name == "login" {
            match self.login_pattern.as_deref().and_then(LoginPattern::parse) {
                Some(LoginPattern::Anything) => {
                    if length > 100 {
                        fail("The field is too long");
                    }
                }
                pattern => {
                    if length < 5 {
                        fail("The field is too short");
                    } else if length > 100 {
                        fail("The field is too long");
                    } else if let Some(LoginPattern::Characters(set)) = pattern {
                        if !text.chars().all(|character| set.contains(character)) {
                            fail("Does not match required pattern");
                        }
                    } else if !looks_like_email(text) {
                        fail("Username must be in the form of an email address");
                    }
                }
            }
            return;
        }
        if property.format == Some("email") {
            if length > 100 || !looks_like_email(text) {
                fail("Does not match required pattern");
            }
            return;
        }
        if property.min_length.is_some_and(|min| (length as u64) < min) {
            fail("The field is too short");
        } else if property.max_length.is_some_and(|max| (length as u64) > max) {
            fail("The field is too long");
        }
    }
}

/// What a schema response names besides its definitions.
pub(crate) struct SchemaView<'a> {
    pub name: &'a str,
    pub title: &'a str,
    pub description: &'a str,
    pub schema_id: &'a str,
    pub type_id: &'a str,
}

/// A definition with `required: true` placed after `type`, where Okta puts it.
fn with_required(definition: &Map<String, Value>) -> Map<String, Value> {
    let mut result = Map::new();
    for (key, value) in definition {
        if key == "required" {
            continue;
        }
        result.insert(key.clone(), value.clone());
        if key == "type" {
            result.insert("required".into(), json!(true));
        }
    }
    result
}

fn display(value: &Value) -> String {
    match value {
        Value::String(text) => format!("'{text}'"),
        other => other.to_string(),
    }
}

fn validate_permissions(value: &Value) -> Result<Value, String> {
    let list = value.as_array().ok_or_else(|| "permissions: The field must be an array".to_owned())?;
    let mut permissions = Vec::new();
    for permission in list {
        let principal = permission.get("principal").and_then(Value::as_str);
        let action = permission.get("action").and_then(Value::as_str);
        match (principal, action) {
            (Some(principal), Some(action)) => permissions.push(json!({ "principal": principal, "action": action })),
            _ => return Err("permissions: Each permission needs a principal and an action".into()),
        }
    }
    Ok(Value::Array(permissions))
}

/// Whether `value` has the JSON type of a property (or array element) of `kind`.
fn has_type(value: &Value, kind: &str) -> bool {
    match kind {
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|number| number.fract() == 0.0),
        "array" => value.is_array(),
        _ => false,
    }
}

/// Checks `enum` and `oneOf` of a property (or of array items) of `kind`.
#[allow(clippy::type_complexity)]
fn enumeration(
    values: Option<&Value>,
    one_of: Option<&Value>,
    kind: &str,
) -> Result<Option<(Vec<Value>, Option<Vec<Value>>)>, String> {
    let values = match values {
        None | Some(Value::Null) => {
            if one_of.is_some_and(|one_of| !one_of.is_null()) {
                return Err("Array specified in enum field must match const values specified in oneOf field.".into());
            }
            return Ok(None);
        }
        Some(Value::Array(values)) => values.clone(),
        Some(_) => return Err("enum: The field must be an array".into()),
    };
    if kind == "boolean" {
        return Err("enum: Boolean properties have no enum".into());
    }
    for value in &values {
        if !has_type(value, kind) {
            // The wording of a recorded Okta refusal (okta/terraform-provider-okta#1074), without the
            // Java class names Okta leaked in it.
            return Err(format!("The enum constraint {value} is not valid for the given property type {kind}."));
        }
    }
    for (position, value) in values.iter().enumerate() {
        if values[..position].contains(value) {
            return Err("enum: The values of an enum must be unique".into());
        }
    }
    let one_of = match one_of {
        None | Some(Value::Null) => None,
        Some(Value::Array(entries)) => {
            let mut normalized = Vec::new();
            for entry in entries {
                let constant = entry.get("const").cloned().unwrap_or(Value::Null);
                let title = entry.get("title").cloned().unwrap_or(Value::Null);
                normalized.push(json!({ "const": constant, "title": title }));
            }
            let constants: Vec<&Value> = normalized.iter().map(|entry| &entry["const"]).collect();
            if constants.len() != values.len() || constants.iter().zip(&values).any(|(a, b)| *a != b) {
                // Okta's wording, quoted by an Okta engineer in okta/terraform-provider-okta#2250.
                return Err("Array specified in enum field must match const values specified in oneOf field.".into());
            }
            Some(normalized)
        }
        Some(_) => return Err("oneOf: The field must be an array".into()),
    };
    Ok(Some((values, one_of)))
}

fn normalize_items(items: &Map<String, Value>) -> Result<Map<String, Value>, String> {
    let kind = match items.get("type") {
        Some(Value::String(kind)) if ITEM_TYPES.contains(&kind.as_str()) => kind.clone(),
        None | Some(Value::Null) => return Err("items.type: The field cannot be left blank".into()),
        // chosen wording.
        Some(other) => {
            return Err(format!(
                "items.type: {} is not a valid element type; use one of string, number, integer",
                display(other)
            ))
        }
    };
    let mut normalized = Map::new();
    normalized.insert("type".into(), json!(kind));
    if let Some((values, one_of)) = enumeration(items.get("enum"), items.get("oneOf"), &kind)? {
        normalized.insert("enum".into(), Value::Array(values));
        if let Some(one_of) = one_of {
            normalized.insert("oneOf".into(), Value::Array(one_of));
        }
    }
    Ok(normalized)
}

/// Checks one custom property's value (chosen wordings, see the module doc).
fn check_custom(name: &str, definition: &Value, value: &Value, required: bool, failures: &mut Vec<(String, String)>) {
    let mut fail = |message: String| failures.push((name.to_owned(), format!("{name}: {message}")));
    let kind = definition.get("type").and_then(Value::as_str).unwrap_or("string");
    let blank = match value {
        Value::Null => true,
        Value::String(text) => text.trim().is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    };
    if value.is_null() {
        if required {
            fail("The field cannot be left blank".into());
        }
        return;
    }
    if !has_type(value, kind) {
        fail(format!("The field must be of type {kind}"));
        return;
    }
    if blank && required {
        fail("The field cannot be left blank".into());
        return;
    }
    match kind {
        "array" => {
            let items = definition.get("items");
            let item_kind = items.and_then(|items| items.get("type")).and_then(Value::as_str).unwrap_or("string");
            let allowed = items.and_then(|items| items.get("enum")).and_then(Value::as_array);
            for element in value.as_array().into_iter().flatten() {
                if !has_type(element, item_kind) {
                    fail(format!("Each element of the field must be of type {item_kind}"));
                    return;
                }
                if allowed.is_some_and(|allowed| !allowed.iter().any(|candidate| same_value(candidate, element))) {
                    fail("The field must be one of the enumerated values".into());
                    return;
                }
            }
        }
        _ => {
            if let Some(allowed) = definition.get("enum").and_then(Value::as_array) {
                if !allowed.iter().any(|candidate| same_value(candidate, value)) {
                    fail("The field must be one of the enumerated values".into());
                    return;
                }
            }
            if let Some(text) = value.as_str() {
                let length = text.chars().count() as u64;
                if definition.get("minLength").and_then(Value::as_u64).is_some_and(|min| length < min) {
                    fail("The field is too short".into());
                } else if definition.get("maxLength").and_then(Value::as_u64).is_some_and(|max| length > max) {
                    fail("The field is too long".into());
                }
            }
        }
    }
}

/// Equality of JSON values where `2` and `2.0` are the same number.
fn same_value(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) if a.is_number() && b.is_number() => x == y,
        _ => a == b,
    }
}

/// The `login` patterns Okta accepts (spec, `UserSchemaBaseProperties.login`).
enum LoginPattern {
    /// `".+"`: any non-empty login.
    Anything,
    /// `"[...]+"`: logins made of these characters.
    Characters(String),
}

impl LoginPattern {
    fn parse(pattern: &str) -> Option<LoginPattern> {
        if pattern == ".+" {
            return Some(LoginPattern::Anything);
        }
        let inner = pattern.strip_prefix('[')?.strip_suffix("]+")?;
        let mut set = String::new();
        let mut characters = inner.chars().peekable();
        let mut first = true;
        while let Some(character) = characters.next() {
            match character {
                '-' if first => set.push('-'),
                '\\' => set.push(characters.next()?),
                start if characters.peek() == Some(&'-') => {
                    characters.next();
                    let end = characters.next()?;
                    if end < start {
                        return None;
                    }
                    set.extend(start..=end);
                }
                other if other.is_ascii_alphanumeric() => set.push(other),
                _ => return None,
            }
            first = false;
        }
        (!set.is_empty()).then_some(LoginPattern::Characters(set))
    }
}

/// An e-mail address as Okta's default login and `email` format accept it.
pub(crate) fn looks_like_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !text.chars().any(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> UserSchema {
        UserSchema::new("2025-01-01T00:00:00.000Z", &["startDate".to_owned(), "department".to_owned()])
    }

    #[test]
    fn convenience_attributes_become_custom_strings_unless_base() {
        let schema = schema();
        assert!(schema.custom.contains_key("startDate"));
        assert!(!schema.custom.contains_key("department"));
        assert!(schema.is_defined("department") && schema.is_defined("startDate"));
        assert!(!schema.is_defined("nickname"));
    }

    #[test]
    fn login_patterns_parse_as_documented() {
        assert!(matches!(LoginPattern::parse(".+"), Some(LoginPattern::Anything)));
        match LoginPattern::parse("[-a-z13579\\.]+") {
            Some(LoginPattern::Characters(set)) => {
                assert!(set.contains('-') && set.contains('q') && set.contains('.') && set.contains('7'));
                assert!(!set.contains('2'));
            }
            _ => panic!("character class"),
        }
        assert!(LoginPattern::parse("^a$").is_none());
    }

    #[test]
    fn updates_are_all_or_nothing() {
        let mut schema = schema();
        let body = json!({"definitions": {"custom": {"properties": {
            "ok": {"title": "OK", "type": "string"},
            "bad": {"title": "Bad", "type": "date"},
        }}}});
        let error = schema.update(body.as_object().unwrap(), "now", &|_| false).unwrap_err();
        assert_eq!(error.code, "E0000001");
        assert!(!schema.custom.contains_key("ok"));
    }
}
