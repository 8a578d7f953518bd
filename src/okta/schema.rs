//! The org's user profile schema (`/api/v1/meta/schemas/user/default`) and user types
//! (`/api/v1/meta/types/user`): what a profile may hold, read once so that values are checked
//! and typed before anything is written.
//!
//! Okta's schema is JSON Schema: `definitions.base` (Okta's own attributes) and
//! `definitions.custom` (the org's), each a `properties` map and a `required` list. Attribute
//! types are `string`, `boolean`, `integer`, `number` and `array` (with `items.type`); `enum` or
//! `oneOf` (`const` / `title`) restrict values; strings have `minLength` / `maxLength`.

use reqwest::Method;
use serde_json::{json, Map, Value};

use crate::error::{Error, Result};
use crate::http::OktaClient;
use crate::okta::request::segment;

/// The path of the default user type's schema.
pub const DEFAULT_SCHEMA_PATH: &str = "/api/v1/meta/schemas/user/default";

/// The separator between the items of an array attribute written as text (a CSV cell).
pub const ARRAY_SEPARATOR: char = ';';

/// The type of a profile attribute's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropertyType {
    /// Text.
    String,
    /// `true` or `false`.
    Boolean,
    /// A whole number.
    Integer,
    /// Any number.
    Number,
    /// A list of items of one type (string, integer or number).
    Array(ItemType),
}

/// The type of an array attribute's items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemType {
    /// Text.
    String,
    /// Whole numbers.
    Integer,
    /// Numbers.
    Number,
}

impl PropertyType {
    /// Okta's name of the type (`string`, `array of integer`, ...).
    pub fn describe(self) -> &'static str {
        match self {
            PropertyType::String => "string",
            PropertyType::Boolean => "boolean",
            PropertyType::Integer => "integer",
            PropertyType::Number => "number",
            PropertyType::Array(ItemType::String) => "array of string",
            PropertyType::Array(ItemType::Integer) => "array of integer",
            PropertyType::Array(ItemType::Number) => "array of number",
        }
    }
}

/// One attribute of the schema.
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaProperty {
    /// The attribute's name.
    pub name: String,
    /// True for the org's own (custom) attributes.
    pub custom: bool,
    /// The values' type.
    pub kind: PropertyType,
    /// Whether a user must have a value.
    pub required: bool,
    /// The shortest string allowed.
    pub min_length: Option<u64>,
    /// The longest string allowed.
    pub max_length: Option<u64>,
    /// The allowed values (from `enum`, or the `const`s of `oneOf`), for the value or for each
    /// item of an array.
    pub allowed: Option<Vec<Value>>,
}

/// A value as an error message shows it: strings quoted, the rest as JSON.
fn shown(value: &Value) -> String {
    match value {
        Value::String(text) => format!("{text:?}"),
        other => other.to_string(),
    }
}

impl SchemaProperty {
    fn from_json(name: &str, custom: bool, required: bool, value: &Value) -> Option<Self> {
        let kind = match value.get("type").and_then(Value::as_str)? {
            "string" => PropertyType::String,
            "boolean" => PropertyType::Boolean,
            "integer" => PropertyType::Integer,
            "number" => PropertyType::Number,
            "array" => PropertyType::Array(match value.pointer("/items/type").and_then(Value::as_str) {
                Some("integer") => ItemType::Integer,
                Some("number") => ItemType::Number,
                _ => ItemType::String,
            }),
            _ => return None,
        };
        let allowed_of = |holder: &Value| -> Option<Vec<Value>> {
            if let Some(values) = holder.get("enum").and_then(Value::as_array) {
                return Some(values.clone());
            }
            holder
                .get("oneOf")
                .and_then(Value::as_array)
                .map(|options| options.iter().filter_map(|option| option.get("const").cloned()).collect())
        };
        let allowed = match kind {
            PropertyType::Array(_) => value.get("items").and_then(allowed_of),
            _ => allowed_of(value),
        };
        Some(SchemaProperty {
            name: name.to_owned(),
            custom,
            kind,
            required,
            min_length: value.get("minLength").and_then(Value::as_u64),
            max_length: value.get("maxLength").and_then(Value::as_u64),
            allowed,
        })
    }

    /// The value of this attribute written as `text` (a rendered policy attribute, a CSV
    /// cell): numbers and booleans parsed, arrays split on [`ARRAY_SEPARATOR`]. An empty text is
    /// no value: `null` for every type but string, and the empty string (unchecked: whether an
    /// attribute may be empty is the caller's rule) for strings. The value is then
    /// [`check`](Self::check)ed.
    pub fn from_text(&self, text: &str) -> std::result::Result<Value, String> {
        let trimmed = text.trim();
        if text.is_empty() && self.kind == PropertyType::String {
            return Ok(Value::String(String::new()));
        }
        let value = match self.kind {
            PropertyType::String => Value::String(text.to_owned()),
            _ if trimmed.is_empty() => Value::Null,
            PropertyType::Boolean => match trimmed.to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" => Value::Bool(true),
                "false" | "no" | "0" => Value::Bool(false),
                _ => return Err(format!("{}: {trimmed:?} is not a boolean (true or false)", self.name)),
            },
            PropertyType::Integer => Value::from(self.integer(trimmed)?),
            PropertyType::Number => self.number(trimmed)?,
            PropertyType::Array(items) => Value::Array(
                trimmed
                    .split(ARRAY_SEPARATOR)
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                    .map(|item| match items {
                        ItemType::String => Ok(Value::String(item.to_owned())),
                        ItemType::Integer => self.integer(item).map(Value::from),
                        ItemType::Number => self.number(item),
                    })
                    .collect::<std::result::Result<_, _>>()?,
            ),
        };
        self.check(&value)?;
        Ok(value)
    }

    /// A whole number: digits, or a number written with a fraction or an exponent whose value
    /// is whole (`7.0`, `1e2`: what a JSON record's numbers read as), within the range where a
    /// double is exact.
    fn integer(&self, text: &str) -> std::result::Result<i64, String> {
        if let Ok(whole) = text.parse::<i64>() {
            return Ok(whole);
        }
        match self.number(text) {
            Ok(value) if value.is_i64() => Ok(value.as_i64().unwrap_or_default()),
            _ => Err(format!("{}: {text:?} is not a whole number", self.name)),
        }
    }

    fn number(&self, text: &str) -> std::result::Result<Value, String> {
        let parsed = text.parse::<f64>().ok().filter(|n| n.is_finite());
        // A number too small for a double reads as 0: refused rather than written as 0.
        let mantissa = text.split(['e', 'E']).next().unwrap_or_default();
        if parsed == Some(0.0) && mantissa.chars().any(|c| c.is_ascii_digit() && c != '0') {
            return Err(format!("{}: {text:?} is too small to be written (it would become 0)", self.name));
        }
        match parsed {
            Some(number) if number.fract() == 0.0 && number.abs() < 9.0e15 => Ok(Value::from(number as i64)),
            Some(number) => serde_json::Number::from_f64(number)
                .map(Value::Number)
                .ok_or_else(|| format!("{}: {text:?} is not a number", self.name)),
            None => Err(format!("{}: {text:?} is not a number", self.name)),
        }
    }

    /// Whether Okta would accept `value` for this attribute: its type, length and allowed
    /// values (`null` is accepted unless the attribute is required).
    pub fn check(&self, value: &Value) -> std::result::Result<(), String> {
        let name = &self.name;
        if value.is_null() {
            return match self.required {
                true => Err(format!("{name} is required by the org's schema")),
                false => Ok(()),
            };
        }
        let fits = |value: &Value, kind: PropertyType| match kind {
            PropertyType::String => value.is_string(),
            PropertyType::Boolean => value.is_boolean(),
            PropertyType::Integer => value.as_i64().is_some() || value.as_u64().is_some(),
            PropertyType::Number => value.is_number(),
            PropertyType::Array(_) => value.is_array(),
        };
        if !fits(value, self.kind) {
            return Err(format!("{name}: {} is not a {}", shown(value), self.kind.describe()));
        }
        let items: Vec<&Value> = match (self.kind, value) {
            (PropertyType::Array(item), Value::Array(items)) => {
                let item_kind = match item {
                    ItemType::String => PropertyType::String,
                    ItemType::Integer => PropertyType::Integer,
                    ItemType::Number => PropertyType::Number,
                };
                if let Some(bad) = items.iter().find(|v| !fits(v, item_kind)) {
                    return Err(format!("{name}: the item {} is not a {}", shown(bad), item_kind.describe()));
                }
                items.iter().collect()
            }
            (_, value) => vec![value],
        };
        if let Value::String(text) = value {
            let length = text.chars().count() as u64;
            if self.min_length.is_some_and(|min| length < min) || self.max_length.is_some_and(|max| length > max) {
                return Err(format!(
                    "{name}: {length} characters, outside the schema's {}..{}",
                    self.min_length.unwrap_or(0),
                    self.max_length.map(|m| m.to_string()).unwrap_or_default()
                ));
            }
        }
        if let Some(allowed) = &self.allowed {
            if let Some(bad) = items.into_iter().find(|v| !allowed.iter().any(|a| same_value(a, v))) {
                let choices: Vec<String> = allowed.iter().map(shown).collect();
                return Err(format!("{name}: {} is not one of {}", shown(bad), choices.join(", ")));
            }
        }
        Ok(())
    }
}

/// Whether two profile values are the same for Okta: numbers by value (`1` and `1.0`), arrays
/// item by item, everything else exactly.
pub fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64().zip(y.as_f64()).is_some_and(|(x, y)| x == y),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_value(x, y)),
        _ => a == b,
    }
}

/// The org's user schema, as Okta returned it.
#[derive(Debug, Clone, PartialEq)]
pub struct UserSchema {
    raw: Value,
    properties: Vec<SchemaProperty>,
}

impl UserSchema {
    /// Reads a schema from Okta's JSON.
    pub fn from_json(raw: Value) -> std::result::Result<Self, String> {
        let mut properties = Vec::new();
        for (part, custom) in [("base", false), ("custom", true)] {
            let Some(definition) = raw.pointer(&format!("/definitions/{part}")) else { continue };
            let required: Vec<&str> = definition
                .get("required")
                .and_then(Value::as_array)
                .map(|names| names.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let Some(map) = definition.get("properties").and_then(Value::as_object) else { continue };
            for (name, value) in map {
                if let Some(property) =
                    SchemaProperty::from_json(name, custom, required.contains(&name.as_str()), value)
                {
                    properties.push(property);
                }
            }
        }
        if properties.is_empty() {
            return Err("the schema defines no properties".into());
        }
        Ok(UserSchema { raw, properties })
    }

    /// Every attribute, Okta's first.
    pub fn properties(&self) -> &[SchemaProperty] {
        &self.properties
    }

    /// An attribute by name.
    pub fn property(&self, name: &str) -> Option<&SchemaProperty> {
        self.properties.iter().find(|property| property.name == name)
    }

    /// The schema's id.
    pub fn id(&self) -> Option<&str> {
        self.raw.get("id").and_then(Value::as_str)
    }

    /// The JSON exactly as Okta sent it.
    pub fn raw(&self) -> &Value {
        &self.raw
    }
}

/// A user type (`/api/v1/meta/types/user`).
#[derive(Debug, Clone, PartialEq)]
pub struct UserType {
    raw: Value,
}

impl UserType {
    /// The type's id.
    pub fn id(&self) -> &str {
        self.raw.get("id").and_then(Value::as_str).unwrap_or_default()
    }

    /// The type's name (unique in the org).
    pub fn name(&self) -> &str {
        self.raw.get("name").and_then(Value::as_str).unwrap_or_default()
    }

    /// Whether this is the org's default type.
    pub fn is_default(&self) -> bool {
        self.raw.get("default").and_then(Value::as_bool).unwrap_or(false)
    }

    /// The JSON exactly as Okta sent it.
    pub fn raw(&self) -> &Value {
        &self.raw
    }
}

/// The schema and user-type endpoints of one client.
#[derive(Debug, Clone)]
pub struct SchemaApi {
    client: OktaClient,
}

impl OktaClient {
    /// The user schema and user types.
    pub fn schema(&self) -> SchemaApi {
        SchemaApi { client: self.clone() }
    }

    /// The user schema this client read last, if it is younger than
    /// [`ClientConfig::schema_max_age`](crate::config::ClientConfig::schema_max_age).
    pub(crate) fn cached_schema(&self) -> Option<UserSchema> {
        self.cached_schema_value()?.downcast_ref::<UserSchema>().cloned()
    }

    /// Remembers the user schema as just read or written.
    pub(crate) fn remember_schema(&self, schema: &UserSchema) {
        self.remember_schema_value(std::sync::Arc::new(schema.clone()));
    }
}

fn decode<T>(value: Value, path: &str, build: impl FnOnce(Value) -> std::result::Result<T, String>) -> Result<T> {
    build(value).map_err(|message| Error::Decode { path: path.to_owned(), message })
}

fn user_type(value: Value) -> std::result::Result<UserType, String> {
    match value.get("id").and_then(Value::as_str) {
        Some(_) => Ok(UserType { raw: value }),
        None => Err("a user type without an id".into()),
    }
}

impl SchemaApi {
    /// The default user type's schema, read now.
    pub async fn user_schema(&self) -> Result<UserSchema> {
        let request = self.client.request(Method::GET, DEFAULT_SCHEMA_PATH, &[]);
        let (value, _) = self.client.send_json(&request).await?;
        let schema = decode(value, DEFAULT_SCHEMA_PATH, UserSchema::from_json)?;
        self.client.remember_schema(&schema);
        Ok(schema)
    }

    /// Adds or changes custom attributes (`name` → Okta's attribute definition, e.g.
    /// `{"title": "Cost center", "type": "integer"}`); the others are left as they are.
    /// Repeating it sets the same definitions again.
    pub async fn update_custom(&self, properties: &Map<String, Value>) -> Result<UserSchema> {
        for (name, definition) in properties {
            if name.trim().is_empty() || !definition.is_object() {
                return Err(Error::InvalidInput(format!(
                    "a custom attribute needs a name and a definition object, not {name:?}: {definition}"
                )));
            }
        }
        self.post_custom(Value::Object(properties.clone())).await
    }

    /// Removes a custom attribute (and every user's value of it).
    pub async fn remove_custom(&self, name: &str) -> Result<UserSchema> {
        if name.trim().is_empty() {
            return Err(Error::InvalidInput("the attribute name is empty".into()));
        }
        let mut properties = Map::new();
        properties.insert(name.to_owned(), Value::Null);
        self.post_custom(Value::Object(properties)).await
    }

    async fn post_custom(&self, properties: Value) -> Result<UserSchema> {
        let mut request = self.client.request(Method::POST, DEFAULT_SCHEMA_PATH, &[]);
        // A partial update that sets definitions: repeating it gives the same schema.
        request.idempotency = crate::http::retry::Idempotency::Idempotent;
        request.body = Some(
            json!({ "definitions": { "custom": { "id": "#custom", "type": "object", "properties": properties } } }),
        );
        self.client.forget_schema();
        let (value, _) = self.client.send_json(&request).await?;
        let schema = decode(value, DEFAULT_SCHEMA_PATH, UserSchema::from_json)?;
        self.client.remember_schema(&schema);
        Ok(schema)
    }

    /// Every user type, the default first as Okta lists them.
    pub async fn user_types(&self) -> Result<Vec<UserType>> {
        let path = "/api/v1/meta/types/user";
        let (value, _) = self.client.send_json(&self.client.request(Method::GET, path, &[])).await?;
        let Value::Array(items) = value else {
            return Err(Error::Decode { path: path.into(), message: "expected a list of user types".into() });
        };
        items.into_iter().map(|item| decode(item, path, user_type)).collect()
    }

    /// Creates a user type (with its own schema).
    pub async fn create_user_type(
        &self,
        name: &str,
        display_name: &str,
        description: Option<&str>,
    ) -> Result<UserType> {
        if name.trim().is_empty() || display_name.trim().is_empty() {
            return Err(Error::InvalidInput("a user type needs a name and a display name".into()));
        }
        let path = "/api/v1/meta/types/user";
        let mut request = self.client.request(Method::POST, path, &[]);
        request.body = Some(json!({ "name": name, "displayName": display_name, "description": description }));
        let (value, _) = self.client.send_json(&request).await?;
        decode(value, path, user_type)
    }

    /// A user type by id.
    pub async fn user_type(&self, id: &str) -> Result<UserType> {
        let path = format!("/api/v1/meta/types/user/{}", segment("user type id", id)?);
        let (value, _) = self.client.send_json(&self.client.request(Method::GET, &path, &[])).await?;
        decode(value, &path, user_type)
    }

    /// Deletes a user type that is not the default and that no user has.
    pub async fn delete_user_type(&self, id: &str) -> Result<()> {
        let path = format!("/api/v1/meta/types/user/{}", segment("user type id", id)?);
        self.client.send(&self.client.request(Method::DELETE, &path, &[])).await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn property(definition: Value) -> SchemaProperty {
        SchemaProperty::from_json("x", true, false, &definition).unwrap()
    }

    #[test]
    fn text_becomes_the_schema_type_and_is_checked() {
        let integer = property(json!({"type": "integer"}));
        assert_eq!(integer.from_text(" 42 ").unwrap(), json!(42));
        assert!(integer.from_text("4.5").unwrap_err().contains("whole number"));
        assert_eq!(integer.from_text("7.0").unwrap(), json!(7), "a JSON record's 7.0");
        assert_eq!(integer.from_text("1e2").unwrap(), json!(100));
        assert!(integer.from_text("1e300").unwrap_err().contains("whole number"));
        assert_eq!(integer.from_text("").unwrap(), Value::Null);
        let flag = property(json!({"type": "boolean"}));
        assert_eq!(flag.from_text("TRUE").unwrap(), json!(true));
        assert!(flag.from_text("maybe").is_err());
        let number = property(json!({"type": "number"}));
        assert_eq!(number.from_text("2.5").unwrap(), json!(2.5));
        assert!(number.from_text("1e-400").unwrap_err().contains("too small"));
        assert_eq!(number.from_text("0.0e5").unwrap(), json!(0));
        assert_eq!(number.from_text("-0").unwrap(), json!(0));
        assert!(number.from_text("NaN").is_err());
        let codes = property(json!({"type": "array", "items": {"type": "integer"}}));
        assert_eq!(codes.from_text("1; 2;3").unwrap(), json!([1, 2, 3]));
        assert!(codes.from_text("1;x").unwrap_err().contains("whole number"));
        let tier = property(json!({"type": "string", "enum": ["gold", "silver"], "maxLength": 6}));
        assert!(tier.from_text("bronze").unwrap_err().contains("not one of"));
        assert_eq!(tier.from_text("gold").unwrap(), json!("gold"));
        let regions = property(
            json!({"type": "array", "items": {"type": "string", "oneOf": [{"const": "EU", "title": "Europe"}]}}),
        );
        assert!(regions.from_text("EU;US").unwrap_err().contains("\"US\""));
        let short = property(json!({"type": "string", "minLength": 2, "maxLength": 3}));
        assert!(short.check(&json!("abcd")).is_err() && short.check(&json!("a")).is_err());
        assert!(short.check(&json!(12)).unwrap_err().contains("not a string"));
    }

    #[test]
    fn same_value_compares_numbers_by_value() {
        assert!(same_value(&json!(1), &json!(1.0)));
        assert!(same_value(&json!([1, 2]), &json!([1.0, 2])));
        assert!(!same_value(&json!("1"), &json!(1)));
    }
}
