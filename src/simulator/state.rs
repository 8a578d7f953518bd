//! The org: users, groups and memberships, user types, the profile schema, admin role
//! assignments and the System Log, with the indexes that keep lookups O(log n), the JSON shapes Okta answers with,
//! and the state-file format.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{json, Map, Value};

use super::events::{StoredEvent, SystemLog};
use super::ids::{fold_login, object_id};
use super::role_assignments::RoleAssignment;
use super::schema::UserSchema;

/// The current time as Okta writes it: `2025-09-29T03:49:50.123Z`.
pub(crate) fn now_timestamp() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Okta's `UserStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum UserStatus {
    Staged,
    Provisioned,
    Active,
    Recovery,
    LockedOut,
    PasswordExpired,
    Suspended,
    Deprovisioned,
}

impl UserStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            UserStatus::Staged => "STAGED",
            UserStatus::Provisioned => "PROVISIONED",
            UserStatus::Active => "ACTIVE",
            UserStatus::Recovery => "RECOVERY",
            UserStatus::LockedOut => "LOCKED_OUT",
            UserStatus::PasswordExpired => "PASSWORD_EXPIRED",
            UserStatus::Suspended => "SUSPENDED",
            UserStatus::Deprovisioned => "DEPROVISIONED",
        }
    }
}

/// A user and everything the simulator knows about it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct User {
    pub id: String,
    pub status: UserStatus,
    pub created: String,
    pub activated: Option<String>,
    pub status_changed: Option<String>,
    pub last_login: Option<String>,
    pub last_updated: String,
    pub password_changed: Option<String>,
    pub has_password: bool,
    /// `OKTA`, or `FEDERATION` for users created with `provider=true`.
    pub provider: String,
    pub profile: Map<String, Value>,
    /// Groups other than `Everyone` (which holds every user implicitly).
    pub groups: BTreeSet<String>,
    pub sessions: usize,
    pub oauth_tokens: usize,
    /// Bumped on every write; the ETag is derived from it.
    pub version: u64,
    /// The user type (`oty…`); empty in state files written before user types existed, which
    /// then means the default type.
    #[serde(default)]
    pub type_id: String,
    /// The realm the user resides in (`guo…`).
    #[serde(default)]
    pub realm_id: String,
    /// The user's JSON without `_links`, rebuilt on every write: filters and searches are
    /// evaluated against it and responses are serialized from it without copying.
    #[serde(skip)]
    pub document: Value,
    /// How far the org's search index trails writes ([`Org::search_delay`]); zero keeps no
    /// earlier documents.
    #[serde(skip)]
    pub index_delay: Duration,
    /// The documents this user had before its writes of the last `index_delay`, each with the
    /// time it was replaced (`Null`: the user did not exist yet), oldest first.
    #[serde(skip)]
    pub earlier: Vec<(Instant, Value)>,
}

impl User {
    /// What the search index holds for this user at `cutoff` (writes before it are indexed,
    /// later ones not yet): `None` when the user was created after it.
    pub(crate) fn indexed_at(&self, cutoff: Instant) -> Option<&Value> {
        match self.earlier.iter().find(|(replaced, _)| *replaced > cutoff) {
            Some((_, before)) => (!before.is_null()).then_some(before),
            None => Some(&self.document),
        }
    }

    /// Rebuilds [`User::document`]; call after every change.
    pub(crate) fn refresh(&mut self) {
        let mut credentials = Map::new();
        if self.has_password {
            credentials.insert("password".into(), json!({}));
        }
        let email = self.profile.get("email").cloned().unwrap_or(Value::Null);
        credentials.insert("emails".into(), json!([{ "value": email, "status": "VERIFIED", "type": "PRIMARY" }]));
        credentials.insert("provider".into(), json!({ "type": self.provider, "name": self.provider }));
        // Okta leaves `transitioningToStatus` out unless a transition is in progress, which
        // never happens here: every lifecycle operation completes synchronously.
        let document = json!({
            "id": self.id,
            "status": self.status.as_str(),
            "created": self.created,
            "activated": self.activated,
            "statusChanged": self.status_changed,
            "lastLogin": self.last_login,
            "lastUpdated": self.last_updated,
            "passwordChanged": self.password_changed,
            // Current orgs name the user's realm (spec `User.realmId`; recorded by Okta's Python SDK
            // and the Terraform provider in 2025 orgs, between `passwordChanged` and `type`).
            "realmId": self.realm_id,
            "type": { "id": self.type_id },
            "profile": self.profile,
            "credentials": credentials,
        });
        let before = std::mem::replace(&mut self.document, document);
        if !self.index_delay.is_zero() {
            let now = Instant::now();
            let delay = self.index_delay;
            self.earlier.retain(|(replaced, _)| now.duration_since(*replaced) < delay);
            self.earlier.push((now, before));
        }
    }

    /// Records a write: new `lastUpdated`, new version (and so a new ETag).
    pub(crate) fn touch(&mut self, now: &str) {
        self.last_updated = now.to_owned();
        self.version += 1;
    }

    /// Changes the status, setting `statusChanged` and `lastUpdated`.
    pub(crate) fn set_status(&mut self, status: UserStatus, now: &str) {
        self.status = status;
        self.status_changed = Some(now.to_owned());
        self.touch(now);
    }

    pub(crate) fn login(&self) -> &str {
        self.profile.get("login").and_then(Value::as_str).unwrap_or_default()
    }

    /// The weak ETag Okta sends with a user (`W/"<64 hex digits>"`).
    pub(crate) fn etag(&self) -> String {
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(format!("{}:{}", self.id, self.version).as_bytes());
        let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
        format!("W/\"{hex}\"")
    }
}

/// Okta's `GroupType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum GroupType {
    OktaGroup,
    AppGroup,
    BuiltIn,
}

impl GroupType {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            GroupType::OktaGroup => "OKTA_GROUP",
            GroupType::AppGroup => "APP_GROUP",
            GroupType::BuiltIn => "BUILT_IN",
        }
    }
}

/// A group. `Everyone` keeps `members` empty: it holds every user implicitly.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Group {
    pub id: String,
    pub kind: GroupType,
    pub created: String,
    pub last_updated: String,
    pub last_membership_updated: String,
    pub profile: Map<String, Value>,
    pub members: BTreeSet<String>,
}

impl Group {
    pub(crate) fn name(&self) -> &str {
        self.profile.get("name").and_then(Value::as_str).unwrap_or_default()
    }

    /// The group's JSON without `_links` (what searches and filters see).
    pub(crate) fn document(&self) -> Value {
        let object_class = match self.kind {
            GroupType::AppGroup => "okta:app_group",
            _ => "okta:user_group",
        };
        json!({
            "id": self.id,
            "created": self.created,
            "lastUpdated": self.last_updated,
            "lastMembershipUpdated": self.last_membership_updated,
            "objectClass": [object_class],
            "type": self.kind.as_str(),
            "profile": self.profile,
        })
    }
}

/// The whole org. Always accessed under the simulator's lock, never across an `.await`.
pub(crate) struct Org {
    pub users: BTreeMap<String, User>,
    /// Folded login → user id.
    pub logins: HashMap<String, String>,
    pub groups: BTreeMap<String, Group>,
    /// Lower-cased group name → group id (names are unique across all group types).
    pub group_names: HashMap<String, String>,
    pub everyone_id: String,
    /// The default user type (`oty…`).
    pub user_type_id: String,
    /// User types by id, the default included.
    pub user_types: BTreeMap<String, UserType>,
    /// The user profile schema (shared by every user type).
    pub schema: UserSchema,
    /// Admin role assignments by assignee (a user or group id).
    pub roles: BTreeMap<String, Vec<RoleAssignment>>,
    /// The org's realm (`guo…`), which every user resides in.
    pub realm_id: String,
    /// The admin the API token belongs to (`createdBy` of user types).
    pub admin_id: String,
    /// Okta's system principal (`createdBy` of the default user type).
    pub system_id: String,
    /// Feeds the ordered part of new ids, so ids sort in creation order.
    pub sequence: u64,
    pub rng: fastrand::Rng,
    /// The System Log: an event for every change made through the API.
    pub log: SystemLog,
    /// `(created, id)` of every user: the index a search on a range of `created` is served from.
    pub by_created: BTreeSet<(String, String)>,
    /// How far the search index (`search`, `filter` and `q` on users) trails writes.
    pub search_delay: Duration,
    /// Users removed within the last `search_delay`, with the time they went: the index still
    /// holds them.
    pub removed: Vec<(Instant, User)>,
}

/// A user type (`/api/v1/meta/types/user`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct UserType {
    pub id: String,
    pub name: String,
    pub display_name: String,
    pub description: Option<String>,
    pub created_by: String,
    pub last_updated_by: String,
    pub created: String,
    pub last_updated: String,
    pub default: bool,
}

/// The schema id of a user type: Okta gives both the same 17-character suffix (`oty…` and
/// `osc…`, recorded).
pub(crate) fn schema_id_of(type_id: &str) -> String {
    format!("osc{}", type_id.get(3..).unwrap_or_default())
}

impl UserType {
    /// The user type as Okta answers with it (recorded shape: `rel`, `href`, `method` links).
    pub(crate) fn to_json(&self, base: &str) -> Value {
        let mut map = Map::new();
        map.insert("id".into(), json!(self.id));
        map.insert("displayName".into(), json!(self.display_name));
        map.insert("name".into(), json!(self.name));
        if let Some(description) = &self.description {
            map.insert("description".into(), json!(description));
        }
        map.insert("createdBy".into(), json!(self.created_by));
        map.insert("lastUpdatedBy".into(), json!(self.last_updated_by));
        map.insert("created".into(), json!(self.created));
        map.insert("lastUpdated".into(), json!(self.last_updated));
        map.insert("default".into(), json!(self.default));
        map.insert(
            "_links".into(),
            json!({
                "schema": {
                    "rel": "schema",
                    "href": format!("{base}/api/v1/meta/schemas/user/{}", schema_id_of(&self.id)),
                    "method": "GET",
                },
                "self": { "rel": "self", "href": format!("{base}/api/v1/meta/types/user/{}", self.id), "method": "GET" },
            }),
        );
        Value::Object(map)
    }
}

/// What the state file holds (format 3; format 1 files, without types, schema and roles, load
/// with a fresh schema and no role assignments; format 1 and 2 files, without System Log events,
/// load with an empty log).
#[derive(Serialize, Deserialize)]
struct PersistedOrg {
    format: u32,
    sequence: u64,
    everyone_id: String,
    user_type_id: String,
    #[serde(default)]
    schema_id: String,
    users: Vec<User>,
    groups: Vec<Group>,
    #[serde(default)]
    user_types: Vec<UserType>,
    #[serde(default)]
    schema: Option<UserSchema>,
    #[serde(default)]
    roles: BTreeMap<String, Vec<RoleAssignment>>,
    #[serde(default)]
    realm_id: String,
    #[serde(default)]
    admin_id: String,
    #[serde(default)]
    system_id: String,
    #[serde(default)]
    events: Vec<StoredEvent>,
}

impl Org {
    /// An org holding only the `Everyone` group, the default user type and a schema with a
    /// custom string property for each of `custom_attributes` that is not a base property.
    pub(crate) fn new(seed: u64, custom_attributes: &[String]) -> Org {
        let mut rng = fastrand::Rng::with_seed(seed);
        let sequence = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|duration| duration.as_micros() as u64)
            .unwrap_or(1);
        let user_type_id = object_id("oty", sequence, &mut rng);
        let now = now_timestamp();
        let mut org = Org {
            users: BTreeMap::new(),
            logins: HashMap::new(),
            groups: BTreeMap::new(),
            group_names: HashMap::new(),
            everyone_id: String::new(),
            user_type_id: user_type_id.clone(),
            user_types: BTreeMap::new(),
            schema: UserSchema::new(&now, custom_attributes),
            roles: BTreeMap::new(),
            realm_id: object_id("guo", sequence, &mut rng),
            admin_id: object_id("00u", sequence, &mut rng),
            system_id: object_id("spr", sequence, &mut rng),
            sequence,
            rng,
            log: SystemLog::default(),
            by_created: BTreeSet::new(),
            search_delay: Duration::ZERO,
            removed: Vec::new(),
        };
        org.insert_default_type(&user_type_id, &now);
        let everyone =
            org.insert_group(GroupType::BuiltIn, "Everyone", Value::String("All users in your organization".into()));
        org.everyone_id = everyone;
        org
    }

    /// Adds Okta's default user type (recorded: name `user`, display name `User`, created by the
    /// system principal).
    fn insert_default_type(&mut self, id: &str, now: &str) {
        self.user_types.insert(
            id.to_owned(),
            UserType {
                id: id.to_owned(),
                name: "user".into(),
                display_name: "User".into(),
                description: Some("Okta user profile template with default permission settings".into()),
                created_by: self.system_id.clone(),
                last_updated_by: self.system_id.clone(),
                created: now.to_owned(),
                last_updated: now.to_owned(),
                default: true,
            },
        );
    }

    /// The user type a path names: its id, or `default`.
    pub(crate) fn resolve_type(&self, id: &str) -> Option<&UserType> {
        if id == "default" {
            return self.user_types.get(&self.user_type_id);
        }
        self.user_types.get(id)
    }

    /// The user type whose schema a path names: the schema id, or `default`.
    pub(crate) fn type_of_schema(&self, schema_id: &str) -> Option<&UserType> {
        if schema_id == "default" {
            return self.user_types.get(&self.user_type_id);
        }
        self.user_types.values().find(|user_type| schema_id_of(&user_type.id) == schema_id)
    }

    pub(crate) fn next_id(&mut self, prefix: &str) -> String {
        self.sequence += 1;
        object_id(prefix, self.sequence, &mut self.rng)
    }

    /// Adds a group without validation; returns its id.
    pub(crate) fn insert_group(&mut self, kind: GroupType, name: &str, description: Value) -> String {
        let id = self.next_id("00g");
        let now = now_timestamp();
        let mut profile = Map::new();
        profile.insert("name".into(), Value::String(name.to_owned()));
        profile.insert("description".into(), description);
        self.group_names.insert(name.to_lowercase(), id.clone());
        self.groups.insert(
            id.clone(),
            Group {
                id: id.clone(),
                kind,
                created: now.clone(),
                last_updated: now.clone(),
                last_membership_updated: now,
                profile,
                members: BTreeSet::new(),
            },
        );
        id
    }

    /// The id of the user with this id or (case- and accent-insensitively) this login.
    pub(crate) fn resolve_user(&self, id_or_login: &str) -> Option<String> {
        if self.users.contains_key(id_or_login) {
            return Some(id_or_login.to_owned());
        }
        self.logins.get(&fold_login(id_or_login)).cloned()
    }

    /// Whether `user_id` is a member of `group_id` (everyone is a member of `Everyone`).
    pub(crate) fn is_member(&self, group_id: &str, user_id: &str) -> bool {
        if group_id == self.everyone_id {
            return self.users.contains_key(user_id);
        }
        self.groups.get(group_id).is_some_and(|group| group.members.contains(user_id))
    }

    pub(crate) fn member_count(&self, group: &Group) -> usize {
        if group.id == self.everyone_id {
            self.users.len()
        } else {
            group.members.len()
        }
    }

    pub(crate) fn touch_everyone(&mut self, now: &str) {
        let everyone_id = self.everyone_id.clone();
        if let Some(everyone) = self.groups.get_mut(&everyone_id) {
            everyone.last_membership_updated = now.to_owned();
        }
    }

    /// Removes a user, its memberships and its role assignments.
    pub(crate) fn remove_user(&mut self, user_id: &str) {
        self.roles.remove(user_id);
        if let Some(user) = self.users.remove(user_id) {
            self.logins.remove(&fold_login(user.login()));
            self.by_created.remove(&(user.created.clone(), user.id.clone()));
            let now = now_timestamp();
            for group_id in &user.groups {
                if let Some(group) = self.groups.get_mut(group_id) {
                    group.members.remove(user_id);
                    group.last_membership_updated = now.clone();
                }
            }
            self.touch_everyone(&now);
            if !self.search_delay.is_zero() {
                let at = Instant::now();
                let delay = self.search_delay;
                self.removed.retain(|(removed, _)| at.duration_since(*removed) < delay);
                self.removed.push((at, user));
            }
        }
    }

    /// Makes the search index trail writes by `delay` from now on.
    pub(crate) fn set_search_delay(&mut self, delay: Duration) {
        self.search_delay = delay;
        for user in self.users.values_mut() {
            user.index_delay = delay;
        }
    }

    /// Whether the search index at `cutoff` holds every user as it is now (no write since).
    pub(crate) fn index_is_current(&self, cutoff: Instant) -> bool {
        self.removed.iter().all(|(at, _)| *at <= cutoff)
            && self.users.values().all(|user| user.earlier.last().is_none_or(|(at, _)| *at <= cutoff))
    }

    /// Every user the search index holds at `cutoff`, by id, as it holds them: current users
    /// written before it, and users removed after it.
    pub(crate) fn indexed_users(&self, cutoff: Instant) -> BTreeMap<&str, (&User, &Value)> {
        let removed = self.removed.iter().filter(|(at, _)| *at > cutoff).map(|(_, user)| user);
        self.users
            .values()
            .chain(removed)
            .filter_map(|user| user.indexed_at(cutoff).map(|document| (user.id.as_str(), (user, document))))
            .collect()
    }

    /// Removes a group, its memberships, its role assignments, and the group from the targets
    /// of every role assignment (recorded: a deleted target group disappears from the targets).
    pub(crate) fn remove_group(&mut self, group_id: &str) {
        self.roles.remove(group_id);
        for assignments in self.roles.values_mut() {
            for assignment in assignments.iter_mut() {
                assignment.group_targets.remove(group_id);
            }
        }
        if let Some(group) = self.groups.remove(group_id) {
            self.group_names.remove(&group.name().to_lowercase());
            for user_id in &group.members {
                if let Some(user) = self.users.get_mut(user_id) {
                    user.groups.remove(group_id);
                }
            }
        }
    }

    /// The state file's JSON.
    pub(crate) fn to_json(&self) -> serde_json::Result<Vec<u8>> {
        let persisted = PersistedOrg {
            format: 3,
            sequence: self.sequence,
            everyone_id: self.everyone_id.clone(),
            user_type_id: self.user_type_id.clone(),
            schema_id: schema_id_of(&self.user_type_id),
            users: self.users.values().cloned().collect(),
            groups: self.groups.values().cloned().collect(),
            user_types: self.user_types.values().cloned().collect(),
            schema: Some(self.schema.clone()),
            roles: self.roles.clone(),
            realm_id: self.realm_id.clone(),
            admin_id: self.admin_id.clone(),
            system_id: self.system_id.clone(),
            events: self.log.stored(),
        };
        serde_json::to_vec(&persisted)
    }

    /// Reads a state file written by [`Org::to_json`]; `custom_attributes` are added to the
    /// schema where missing (as for a fresh org).
    pub(crate) fn from_json(bytes: &[u8], seed: u64, custom_attributes: &[String]) -> serde_json::Result<Org> {
        let persisted: PersistedOrg = serde_json::from_slice(bytes)?;
        let now = now_timestamp();
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut fresh_id = |prefix: &str, current: String| {
            if current.is_empty() {
                object_id(prefix, persisted.sequence, &mut rng)
            } else {
                current
            }
        };
        let realm_id = fresh_id("guo", persisted.realm_id);
        let admin_id = fresh_id("00u", persisted.admin_id);
        let system_id = fresh_id("spr", persisted.system_id);
        let mut schema = persisted.schema.unwrap_or_else(|| UserSchema::new(&now, &[]));
        schema.add_convenience_properties(custom_attributes);
        let mut org = Org {
            users: BTreeMap::new(),
            logins: HashMap::new(),
            groups: BTreeMap::new(),
            group_names: HashMap::new(),
            everyone_id: persisted.everyone_id,
            user_type_id: persisted.user_type_id,
            user_types: persisted.user_types.into_iter().map(|user_type| (user_type.id.clone(), user_type)).collect(),
            schema,
            roles: persisted.roles,
            realm_id,
            admin_id,
            system_id,
            sequence: persisted.sequence,
            rng,
            log: SystemLog::from_events(persisted.events),
            by_created: BTreeSet::new(),
            search_delay: Duration::ZERO,
            removed: Vec::new(),
        };
        if !org.user_types.contains_key(&org.user_type_id) {
            let id = org.user_type_id.clone();
            org.insert_default_type(&id, &now);
        }
        for group in persisted.groups {
            org.group_names.insert(group.name().to_lowercase(), group.id.clone());
            org.groups.insert(group.id.clone(), group);
        }
        for mut user in persisted.users {
            if user.type_id.is_empty() || !org.user_types.contains_key(&user.type_id) {
                user.type_id = org.user_type_id.clone();
            }
            if user.realm_id.is_empty() {
                user.realm_id = org.realm_id.clone();
            }
            user.refresh();
            org.logins.insert(fold_login(user.login()), user.id.clone());
            org.by_created.insert((user.created.clone(), user.id.clone()));
            org.users.insert(user.id.clone(), user);
        }
        let (users, groups) = (&org.users, &org.groups);
        org.roles.retain(|assignee, _| users.contains_key(assignee) || groups.contains_key(assignee));
        if !org.groups.contains_key(&org.everyone_id) {
            let everyone = org.insert_group(
                GroupType::BuiltIn,
                "Everyone",
                Value::String("All users in your organization".into()),
            );
            org.everyone_id = everyone;
        }
        Ok(org)
    }
}

/// How much of `_links` to write for a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UserLinks {
    /// Only `self` (list items, as in Okta's listings).
    SelfOnly,
    /// Every lifecycle link the user's status allows (single-user responses).
    Full,
}

/// `_links` of a user, following the recorded responses; `schema` and `type` name the user's
/// own type.
pub(crate) fn user_links(user: &User, base: &str, links: UserLinks) -> Value {
    let type_id = user.type_id.as_str();
    let schema_id = schema_id_of(type_id);
    let user_url = format!("{base}/api/v1/users/{}", user.id);
    let mut map = Map::new();
    if links == UserLinks::SelfOnly {
        map.insert("self".into(), json!({ "href": user_url }));
        return Value::Object(map);
    }
    let action = |path: &str| json!({ "href": format!("{user_url}/{path}"), "method": "POST" });
    let lifecycle: &[(&str, &str)] = match user.status {
        UserStatus::Staged => &[("activate", "lifecycle/activate")],
        UserStatus::Provisioned => &[
            ("reactivate", "lifecycle/reactivate"),
            ("resetPassword", "lifecycle/reset_password"),
            ("deactivate", "lifecycle/deactivate"),
        ],
        UserStatus::Active | UserStatus::PasswordExpired => &[
            ("suspend", "lifecycle/suspend"),
            ("resetPassword", "lifecycle/reset_password"),
            ("forgotPassword", "credentials/forgot_password"),
            ("expirePassword", "lifecycle/expire_password"),
            ("changeRecoveryQuestion", "credentials/change_recovery_question"),
            ("changePassword", "credentials/change_password"),
            ("deactivate", "lifecycle/deactivate"),
        ],
        UserStatus::Recovery => &[
            ("reactivate", "lifecycle/reactivate"),
            ("resetPassword", "lifecycle/reset_password"),
            ("deactivate", "lifecycle/deactivate"),
        ],
        UserStatus::LockedOut => &[
            ("unlock", "lifecycle/unlock"),
            ("resetPassword", "lifecycle/reset_password"),
            ("deactivate", "lifecycle/deactivate"),
        ],
        UserStatus::Suspended => &[("unsuspend", "lifecycle/unsuspend"), ("deactivate", "lifecycle/deactivate")],
        UserStatus::Deprovisioned => &[("activate", "lifecycle/activate")],
    };
    map.insert("schema".into(), json!({ "href": format!("{base}/api/v1/meta/schemas/user/{schema_id}") }));
    for (name, path) in lifecycle {
        map.insert((*name).into(), action(path));
    }
    map.insert("self".into(), json!({ "href": user_url }));
    if user.status != UserStatus::Deprovisioned {
        map.insert("resetFactors".into(), action("lifecycle/reset_factors"));
    }
    map.insert("type".into(), json!({ "href": format!("{base}/api/v1/meta/types/user/{type_id}") }));
    Value::Object(map)
}

/// `_links` of a group, as recorded.
pub(crate) fn group_links(group: &Group, base: &str) -> Value {
    let group_url = format!("{base}/api/v1/groups/{}", group.id);
    json!({
        "logo": [
            { "name": "medium", "href": format!("{base}/assets/img/logos/groups/okta-medium.png"), "type": "image/png" },
            { "name": "large", "href": format!("{base}/assets/img/logos/groups/okta-large.png"), "type": "image/png" },
        ],
        "users": { "href": format!("{group_url}/users") },
        "apps": { "href": format!("{group_url}/apps") },
    })
}

/// Serializes a cached document followed by extra members, without copying the document.
pub(crate) struct DocumentWith<'a> {
    pub document: &'a Value,
    pub extra: Vec<(&'static str, Value)>,
}

impl Serialize for DocumentWith<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let object = self.document.as_object();
        let length = object.map_or(0, Map::len) + self.extra.len();
        let mut map = serializer.serialize_map(Some(length))?;
        if let Some(object) = object {
            for (key, value) in object {
                map.serialize_entry(key, value)?;
            }
        }
        for (key, value) in &self.extra {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// A user as Okta returns it.
pub(crate) fn user_view<'a>(user: &'a User, base: &str, links: UserLinks) -> DocumentWith<'a> {
    DocumentWith { document: &user.document, extra: vec![("_links", user_links(user, base, links))] }
}

/// A group as Okta returns it, with `_embedded.stats` when asked for.
pub(crate) fn group_json(org: &Org, group: &Group, base: &str, with_stats: bool) -> Value {
    let mut document = group.document();
    if let Value::Object(map) = &mut document {
        if with_stats {
            map.insert("_embedded".into(), json!({ "stats": { "usersCount": org.member_count(group) } }));
        }
        map.insert("_links".into(), group_links(group, base));
    }
    document
}
