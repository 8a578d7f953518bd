//! Users and groups as Okta returns them.
//!
//! Each model keeps the whole JSON object it was read from, so nothing Okta sends is lost
//! (custom profile attributes, `_links`, `_embedded`, fields added in later releases) and
//! serialising a model gives back exactly what was read. Typed accessors read the fields; only
//! the ones a model cannot do without (`id`, a `profile` object) are required when decoding.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::http::pages::Resource;

/// A user's lifecycle status.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UserStatus {
    /// Created, not activated.
    Staged,
    /// Activated, the user has not set a password yet.
    Provisioned,
    /// Can sign in.
    Active,
    /// In the password-reset flow.
    Recovery,
    /// Must change the password at next sign-in.
    PasswordExpired,
    /// Locked out by the password policy.
    LockedOut,
    /// Suspended by an admin; memberships kept.
    Suspended,
    /// Deactivated.
    Deprovisioned,
    /// A status this version does not know (kept as Okta spelled it).
    Other(String),
}

impl UserStatus {
    /// Okta's spelling (`ACTIVE`, `DEPROVISIONED`, ...).
    pub fn as_str(&self) -> &str {
        match self {
            UserStatus::Staged => "STAGED",
            UserStatus::Provisioned => "PROVISIONED",
            UserStatus::Active => "ACTIVE",
            UserStatus::Recovery => "RECOVERY",
            UserStatus::PasswordExpired => "PASSWORD_EXPIRED",
            UserStatus::LockedOut => "LOCKED_OUT",
            UserStatus::Suspended => "SUSPENDED",
            UserStatus::Deprovisioned => "DEPROVISIONED",
            UserStatus::Other(other) => other,
        }
    }

    /// Reads Okta's spelling; unknown values are kept as [`UserStatus::Other`].
    pub fn parse(text: &str) -> Self {
        match text {
            "STAGED" => UserStatus::Staged,
            "PROVISIONED" => UserStatus::Provisioned,
            "ACTIVE" => UserStatus::Active,
            "RECOVERY" => UserStatus::Recovery,
            "PASSWORD_EXPIRED" => UserStatus::PasswordExpired,
            "LOCKED_OUT" => UserStatus::LockedOut,
            "SUSPENDED" => UserStatus::Suspended,
            "DEPROVISIONED" => UserStatus::Deprovisioned,
            other => UserStatus::Other(other.to_owned()),
        }
    }
}

impl std::fmt::Display for UserStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A group's type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GroupType {
    /// Managed in Okta: profile and memberships writable through the API.
    OktaGroup,
    /// Imported from an app (AD, LDAP, ...): managed in the source.
    AppGroup,
    /// Managed by Okta itself, such as Everyone.
    BuiltIn,
    /// A type this version does not know.
    Other(String),
}

impl GroupType {
    /// Okta's spelling.
    pub fn as_str(&self) -> &str {
        match self {
            GroupType::OktaGroup => "OKTA_GROUP",
            GroupType::AppGroup => "APP_GROUP",
            GroupType::BuiltIn => "BUILT_IN",
            GroupType::Other(other) => other,
        }
    }

    /// Reads Okta's spelling.
    pub fn parse(text: &str) -> Self {
        match text {
            "OKTA_GROUP" => GroupType::OktaGroup,
            "APP_GROUP" => GroupType::AppGroup,
            "BUILT_IN" => GroupType::BuiltIn,
            other => GroupType::Other(other.to_owned()),
        }
    }
}

fn text<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    map.get(key).and_then(Value::as_str)
}

fn timestamp(map: &Map<String, Value>, key: &str) -> Option<DateTime<Utc>> {
    text(map, key).and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.with_timezone(&Utc))
}

fn object_with_id_and_profile(value: Value, what: &str) -> Result<Map<String, Value>, String> {
    let Value::Object(map) = value else {
        return Err(format!("a {what} must be a JSON object"));
    };
    match map.get("id") {
        Some(Value::String(id)) if !id.is_empty() => {}
        _ => return Err(format!("a {what} has no string \"id\"")),
    }
    if !matches!(map.get("profile"), Some(Value::Object(_))) {
        let id = text(&map, "id").unwrap_or_default();
        return Err(format!("{what} {id} has no \"profile\" object"));
    }
    Ok(map)
}

/// An Okta user.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    raw: Map<String, Value>,
}

impl User {
    /// Reads a user from Okta's JSON.
    pub fn from_json(value: Value) -> Result<Self, String> {
        Ok(User { raw: object_with_id_and_profile(value, "user")? })
    }

    /// The user's id (`00u...`).
    pub fn id(&self) -> &str {
        text(&self.raw, "id").unwrap_or_default()
    }

    /// `profile.login`.
    pub fn login(&self) -> Option<&str> {
        self.profile().get("login").and_then(Value::as_str)
    }

    /// `profile.email`.
    pub fn email(&self) -> Option<&str> {
        self.profile().get("email").and_then(Value::as_str)
    }

    /// The lifecycle status.
    pub fn status(&self) -> UserStatus {
        UserStatus::parse(text(&self.raw, "status").unwrap_or_default())
    }

    /// The status an asynchronous operation is moving the user to, if any.
    pub fn transitioning_to_status(&self) -> Option<UserStatus> {
        text(&self.raw, "transitioningToStatus").map(UserStatus::parse)
    }

    /// The profile, custom attributes included.
    pub fn profile(&self) -> &Map<String, Value> {
        match self.raw.get("profile") {
            Some(Value::Object(profile)) => profile,
            _ => unreachable_profile(),
        }
    }

    /// When the user was created.
    pub fn created(&self) -> Option<DateTime<Utc>> {
        timestamp(&self.raw, "created")
    }

    /// When the user was activated.
    pub fn activated(&self) -> Option<DateTime<Utc>> {
        timestamp(&self.raw, "activated")
    }

    /// When the status last changed.
    pub fn status_changed(&self) -> Option<DateTime<Utc>> {
        timestamp(&self.raw, "statusChanged")
    }

    /// When the user last signed in.
    pub fn last_login(&self) -> Option<DateTime<Utc>> {
        timestamp(&self.raw, "lastLogin")
    }

    /// When the user was last updated.
    pub fn last_updated(&self) -> Option<DateTime<Utc>> {
        timestamp(&self.raw, "lastUpdated")
    }

    /// When the password last changed.
    pub fn password_changed(&self) -> Option<DateTime<Utc>> {
        timestamp(&self.raw, "passwordChanged")
    }

    /// The user type's id (`type.id`).
    pub fn type_id(&self) -> Option<&str> {
        self.raw.get("type").and_then(|t| t.get("id")).and_then(Value::as_str)
    }

    /// The whole JSON object as Okta sent it.
    pub fn raw(&self) -> &Map<String, Value> {
        &self.raw
    }

    /// Gives up the JSON object.
    pub fn into_raw(self) -> Map<String, Value> {
        self.raw
    }
}

fn unreachable_profile() -> &'static Map<String, Value> {
    // Decoding guarantees a profile object; an empty map keeps accessors total regardless.
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    EMPTY.get_or_init(Map::new)
}

/// An Okta group.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    raw: Map<String, Value>,
}

impl Group {
    /// Reads a group from Okta's JSON.
    pub fn from_json(value: Value) -> Result<Self, String> {
        Ok(Group { raw: object_with_id_and_profile(value, "group")? })
    }

    /// The group's id (`00g...`).
    pub fn id(&self) -> &str {
        text(&self.raw, "id").unwrap_or_default()
    }

    /// `profile.name`.
    pub fn name(&self) -> Option<&str> {
        self.profile().get("name").and_then(Value::as_str)
    }

    /// `profile.description`.
    pub fn description(&self) -> Option<&str> {
        self.profile().get("description").and_then(Value::as_str)
    }

    /// The group's type.
    pub fn group_type(&self) -> GroupType {
        GroupType::parse(text(&self.raw, "type").unwrap_or_default())
    }

    /// The profile, custom attributes included.
    pub fn profile(&self) -> &Map<String, Value> {
        match self.raw.get("profile") {
            Some(Value::Object(profile)) => profile,
            _ => unreachable_profile(),
        }
    }

    /// When the group was created.
    pub fn created(&self) -> Option<DateTime<Utc>> {
        timestamp(&self.raw, "created")
    }

    /// When the profile was last updated.
    pub fn last_updated(&self) -> Option<DateTime<Utc>> {
        timestamp(&self.raw, "lastUpdated")
    }

    /// When the membership last changed.
    pub fn last_membership_updated(&self) -> Option<DateTime<Utc>> {
        timestamp(&self.raw, "lastMembershipUpdated")
    }

    /// `_embedded.stats.usersCount`, present when listed with `expand=stats`.
    pub fn users_count(&self) -> Option<u64> {
        self.raw.get("_embedded")?.get("stats")?.get("usersCount")?.as_u64()
    }

    /// The whole JSON object as Okta sent it.
    pub fn raw(&self) -> &Map<String, Value> {
        &self.raw
    }

    /// Gives up the JSON object.
    pub fn into_raw(self) -> Map<String, Value> {
        self.raw
    }
}

macro_rules! json_model {
    ($model:ident) => {
        impl Resource for $model {
            fn from_value(value: Value) -> Result<Self, String> {
                $model::from_json(value)
            }
        }

        impl Serialize for $model {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                self.raw.serialize(serializer)
            }
        }

        impl<'de> Deserialize<'de> for $model {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                $model::from_json(Value::deserialize(deserializer)?).map_err(serde::de::Error::custom)
            }
        }
    };
}

json_model!(User);
json_model!(Group);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn user_accessors_read_okta_json() {
        let user = User::from_json(json!({
            "id": "00u1", "status": "ACTIVE", "created": "2020-08-27T18:19:24.000Z",
            "lastLogin": null, "transitioningToStatus": "DEPROVISIONED",
            "profile": {"login": "ada@acme.com", "email": "ada@acme.com", "costCenter": "42"},
            "type": {"id": "oty1"}, "somethingNew": [1, 2]
        }))
        .unwrap();
        assert_eq!(user.id(), "00u1");
        assert_eq!(user.status(), UserStatus::Active);
        assert_eq!(user.transitioning_to_status(), Some(UserStatus::Deprovisioned));
        assert_eq!(user.login(), Some("ada@acme.com"));
        assert_eq!(user.profile()["costCenter"], "42");
        assert_eq!(user.created().unwrap().to_rfc3339(), "2020-08-27T18:19:24+00:00");
        assert_eq!(user.last_login(), None);
        assert_eq!(user.type_id(), Some("oty1"));
        assert_eq!(user.raw()["somethingNew"], json!([1, 2]));
        assert_eq!(UserStatus::parse("BRAND_NEW"), UserStatus::Other("BRAND_NEW".into()));
    }

    #[test]
    fn decoding_requires_id_and_profile() {
        assert!(User::from_json(json!({"status": "ACTIVE", "profile": {}})).is_err());
        assert!(User::from_json(json!({"id": "00u1"})).unwrap_err().contains("profile"));
        assert!(User::from_json(json!([1])).is_err());
        assert!(Group::from_json(json!({"id": "", "profile": {}})).is_err());
    }

    #[test]
    fn group_accessors() {
        let group = Group::from_json(json!({"id": "00g1", "type": "BUILT_IN", "profile": {"name": "Everyone"},
            "_embedded": {"stats": {"usersCount": 7}}}))
        .unwrap();
        assert_eq!(group.group_type(), GroupType::BuiltIn);
        assert_eq!(group.name(), Some("Everyone"));
        assert_eq!(group.users_count(), Some(7));
        assert_eq!(group.description(), None);
    }
}
