//! Lifecycle policies: how identity records become Okta users, groups and memberships.
//!
//! One schema, loaded from TOML ([`Policy::from_toml`]) or from a JSON-like value such as a
//! Python dict ([`Policy::from_value`]). Both go through the same code: serde decodes the value
//! into the types below and the private `Raw*` mirrors (`deny_unknown_fields` everywhere, so a
//! misspelt key is an error listing the keys allowed there), `serde_path_to_error` says which
//! field failed, and the few rules serde cannot express (one field depending on another) are
//! checked on the decoded structs. Errors name the field (`workflow[1].actions[0].groups[2]`)
//! and, for TOML, the line, which the TOML parser's spans give (`line_of`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::lifecycle::record::{IdentityRecord, SourceFormat};
use crate::lifecycle::transform::Formatter;
use crate::scim::{self, EvalOptions, Filter};

/// The six lifecycle actions, plus the reactivation that undoes a deprovision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Create or update users from identity records.
    SyncIdentities,
    /// Add, remove or synchronise group memberships.
    ManageRelationships,
    /// Disable, remove memberships, log out; history kept.
    DeprovisionIdentity,
    /// Create Okta groups.
    CreateEntitlement,
    /// Trigger Okta's password-reset flow.
    ResetPassword,
    /// Read Okta as the source of identities.
    SourceOfIdentity,
    /// Restore a deprovisioned account (and optionally its memberships).
    ReactivateIdentity,
}

impl ActionKind {
    /// The action's name in policies and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::SyncIdentities => "sync_identities",
            ActionKind::ManageRelationships => "manage_relationships",
            ActionKind::DeprovisionIdentity => "deprovision_identity",
            ActionKind::CreateEntitlement => "create_entitlement",
            ActionKind::ResetPassword => "reset_password",
            ActionKind::SourceOfIdentity => "source_of_identity",
            ActionKind::ReactivateIdentity => "reactivate_identity",
        }
    }
}

/// Where records come from and how they match Okta users.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// The source's format.
    #[serde(deserialize_with = "source_format")]
    pub format: SourceFormat,
    /// The record field that identifies an identity in the source.
    #[serde(deserialize_with = "text")]
    pub key: String,
    /// The Okta profile attribute that holds the key (`login` by default).
    #[serde(default = "login", deserialize_with = "text")]
    pub match_on: String,
    /// What to do when a record's match value finds more than one Okta user.
    #[serde(default)]
    pub tie_break: TieBreak,
}

/// What to do when a match value resolves to more than one Okta user (a rehire with an old
/// DEPROVISIONED account and a new one sharing an employee number, for example).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TieBreak {
    /// Never guess: the record is an issue naming every candidate (the default).
    #[default]
    Issue,
    /// Take the one candidate that is not DEPROVISIONED; still an issue when there is not
    /// exactly one (`tie_break = "prefer_not_deprovisioned"`).
    PreferNotDeprovisioned,
}

/// How one Okta profile attribute is built.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeRule {
    /// The Okta profile attribute.
    pub name: String,
    /// The formatter that builds it.
    pub formatter: Formatter,
    /// Formatters tried in order when the value conflicts with another user (a taken login or
    /// email).
    pub fallbacks: Vec<Formatter>,
}

/// What `manage_relationships` does with the listed groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RelationshipMode {
    /// Ensure membership in the listed groups.
    Add,
    /// Ensure the user is not in the listed groups.
    Remove,
    /// Ensure membership in the listed groups and no other group within the managed scope.
    Sync,
}

/// How a deprovision disables the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisableMode {
    /// Deactivate (DEPROVISIONED; Okta also removes app assignments).
    Deactivate,
    /// Suspend (reversible; memberships and assignments kept by Okta).
    Suspend,
}

/// What a suspend-mode deprovision does with a user Okta will not suspend (only ACTIVE users
/// can be: LOCKED_OUT, PASSWORD_EXPIRED, RECOVERY, STAGED and PROVISIONED ones cannot). Their
/// access (groups, roles, sessions) is removed either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuspendRefused {
    /// Leave the status as it is and name the user as an issue.
    Issue,
    /// Deactivate instead.
    Deactivate,
}

/// One configured action of a workflow.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionSpec {
    /// `sync_identities`.
    SyncIdentities {
        /// Create users that do not exist yet.
        create: bool,
        /// Activate users on creation.
        activate: bool,
        /// Attributes kept in sync on existing users (default: every attribute but `login`).
        attributes: Option<Vec<String>>,
    },
    /// `create_entitlement`.
    CreateEntitlement {
        /// The group's name.
        name: Formatter,
        /// The group's description.
        description: Option<Formatter>,
    },
    /// `manage_relationships`.
    ManageRelationships {
        /// Add, remove or synchronise.
        mode: RelationshipMode,
        /// The groups, by name (formatters) or id (`00g...`).
        groups: Vec<Formatter>,
        /// With `sync`: groups whose name starts with this are managed.
        exclusive_prefix: Option<String>,
        /// With `sync`: these groups (names) are managed too.
        scope: Vec<String>,
        /// Admin role types the user holds itself (`HELP_DESK_ADMIN`, ...).
        roles: Vec<String>,
        /// With `sync`: these role types are managed (removed when not listed in `roles`).
        role_scope: Vec<String>,
    },
    /// `deprovision_identity`.
    DeprovisionIdentity {
        /// Deactivate or suspend.
        mode: DisableMode,
        /// Remove the user from every OKTA_GROUP.
        remove_groups: bool,
        /// End sessions and revoke OAuth tokens.
        logout: bool,
        /// Remove the admin roles the user holds itself (Okta keeps them on a deactivated user).
        remove_roles: bool,
        /// With `suspend`: what to do with a user Okta will not suspend.
        suspend_refused: SuspendRefused,
    },
    /// `reset_password`.
    ResetPassword {
        /// Let Okta email the reset link (otherwise it is returned, as a secret).
        send_email: bool,
        /// End the user's sessions too.
        revoke_sessions: bool,
    },
    /// `reactivate_identity`.
    ReactivateIdentity {
        /// Put back the memberships recorded when the user was deprovisioned.
        restore_groups: bool,
        /// Give back the admin roles recorded when the user was deprovisioned.
        restore_roles: bool,
        /// Let Okta email the activation link to a reactivated DEPROVISIONED user (otherwise the
        /// link is returned in the report, as a secret).
        send_email: bool,
    },
}

impl ActionSpec {
    /// Which of the actions this is.
    pub fn kind(&self) -> ActionKind {
        match self {
            ActionSpec::SyncIdentities { .. } => ActionKind::SyncIdentities,
            ActionSpec::CreateEntitlement { .. } => ActionKind::CreateEntitlement,
            ActionSpec::ManageRelationships { .. } => ActionKind::ManageRelationships,
            ActionSpec::DeprovisionIdentity { .. } => ActionKind::DeprovisionIdentity,
            ActionSpec::ResetPassword { .. } => ActionKind::ResetPassword,
            ActionSpec::ReactivateIdentity { .. } => ActionKind::ReactivateIdentity,
        }
    }
}

/// A named set of actions for the records its condition selects.
#[derive(Debug, Clone, PartialEq)]
pub struct Workflow {
    /// The workflow's name (joiner, mover, leaver, ...).
    pub name: String,
    /// The condition over the record (SCIM filter syntax, values compared ignoring case);
    /// `None` selects every record.
    pub when: Option<Filter>,
    /// The actions, in order.
    pub actions: Vec<ActionSpec>,
}

/// Limits that block a plan unless explicitly overridden.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Safety {
    /// Most deprovisions one run may make.
    pub max_deprovisions: Option<usize>,
    /// Most identities (as a percentage of the records) one run may change.
    pub max_changed_percent: Option<f64>,
}

/// A validated lifecycle policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// The policy's name.
    pub name: String,
    /// The source of records.
    pub source: SourceSpec,
    /// Attribute rules, in file order.
    pub attributes: Vec<AttributeRule>,
    /// Attributes whose change makes an identity a mover.
    pub movers: Vec<String>,
    /// Workflows; a record goes through the first whose condition it matches.
    pub workflows: Vec<Workflow>,
    /// Safety limits.
    pub safety: Safety,
}

/// The profile attributes Okta requires on every user.
pub const REQUIRED_ATTRIBUTES: [&str; 4] = ["login", "email", "firstName", "lastName"];

impl Policy {
    /// Loads a policy from TOML text.
    pub fn from_toml(text: &str) -> Result<Self> {
        let value: Value = toml::from_str(text).map_err(|e| {
            let message = e.message();
            match e.span() {
                Some(span) => Error::InvalidInput(format!("policy: line {}: {message}", line_at(text, span.start))),
                None => Error::InvalidInput(format!("policy: {message}")),
            }
        })?;
        Self::decode(&value).map_err(|invalid| invalid.into_error(Some(text)))
    }

    /// Loads a policy file (TOML).
    pub fn from_file(path: &std::path::Path) -> Result<Self> {
        let text = crate::input::read_text(path, crate::input::MAX_POLICY_BYTES)
            .map_err(|e| Error::InvalidInput(format!("cannot read the policy {}: {e}", path.display())))?;
        Self::from_toml(&text).map_err(|error| match error {
            Error::InvalidInput(message) => Error::InvalidInput(format!("{}: {message}", path.display())),
            other => other,
        })
    }

    /// Loads a policy from a JSON-like value with the TOML schema (e.g. a Python dict).
    pub fn from_value(value: &Value) -> Result<Self> {
        Self::decode(value).map_err(|invalid| invalid.into_error(None))
    }

    /// Decodes and checks a policy; both loaders end here.
    fn decode(value: &Value) -> Result<Self, Invalid> {
        let root = FieldPath::default();
        let raw: RawPolicy = root.decode_table(value)?;
        let attributes = attribute_rules(&raw.attributes, &root.key("attributes"))?;
        let known: BTreeSet<&str> = attributes.iter().map(|rule| rule.name.as_str()).collect();
        let movers = raw.movers.0.attributes;
        if let Some(index) = movers.iter().position(|mover| !known.contains(mover.as_str())) {
            let message = format!("{:?} is not one of the policy's attributes", movers[index]);
            return Err(root.key("movers").key("attributes").index(index).invalid(message));
        }
        let workflows = (raw.workflow.into_iter().enumerate())
            .map(|(index, workflow)| workflow.0.check(&root.key("workflow").index(index), &known))
            .collect::<Result<Vec<_>, _>>()?;
        let source = raw.source.0;
        if workflows.iter().flat_map(|w| &w.actions).any(|a| a.kind() == ActionKind::SyncIdentities) {
            if let Some(missing) = REQUIRED_ATTRIBUTES.iter().find(|name| !known.contains(*name)) {
                return Err(root.key("attributes").invalid(format!("sync_identities needs a rule for {missing}")));
            }
            if source.match_on != "login" && !known.contains(source.match_on.as_str()) {
                return Err(root.key("source").key("match_on").invalid(format!(
                    "{:?} must also be one of the policy's attributes so that created users carry it",
                    source.match_on
                )));
            }
        }
        let safety = Safety {
            max_deprovisions: raw.safety.0.max_deprovisions,
            max_changed_percent: raw.safety.0.max_changed_percent,
        };
        Ok(Policy { name: raw.name, source, attributes, movers, workflows, safety })
    }

    /// The first workflow whose condition the record matches.
    pub fn workflow_for(&self, record: &IdentityRecord) -> Option<&Workflow> {
        let options = EvalOptions { case_insensitive_values: true };
        self.workflows
            .iter()
            .find(|workflow| workflow.when.as_ref().is_none_or(|when| when.matches(record.as_value(), &options)))
    }

    /// The rule for an attribute.
    pub fn attribute(&self, name: &str) -> Option<&AttributeRule> {
        self.attributes.iter().find(|rule| rule.name == name)
    }
}

/// The policy as written; [`Policy::decode`] checks what serde cannot and builds the [`Policy`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(deserialize_with = "text")]
    name: String,
    /// For the reader only.
    #[serde(default, rename = "description", deserialize_with = "some")]
    _description: Option<String>,
    source: Table<SourceSpec>,
    /// Attribute name = formatter, in file order, plus `fallbacks` (see [`attribute_rules`]).
    #[serde(default)]
    attributes: Map<String, Value>,
    #[serde(default)]
    movers: Table<RawMovers>,
    #[serde(default)]
    workflow: Vec<Table<RawWorkflow>>,
    #[serde(default)]
    safety: Table<RawSafety>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMovers {
    #[serde(default)]
    attributes: Vec<String>,
}

/// [`Safety`] as written (whose own serde form is the journal's, with `null` for no limit).
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSafety {
    #[serde(default, deserialize_with = "whole_number")]
    max_deprovisions: Option<usize>,
    #[serde(default, deserialize_with = "percentage")]
    max_changed_percent: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkflow {
    #[serde(deserialize_with = "text")]
    name: String,
    #[serde(default, deserialize_with = "condition")]
    when: Option<Filter>,
    /// Decoded one by one by [`action`], once its `action` names the variant.
    #[serde(default)]
    actions: Vec<Value>,
}

impl RawWorkflow {
    fn check(self, at: &FieldPath, attributes: &BTreeSet<&str>) -> Result<Workflow, Invalid> {
        if self.actions.is_empty() {
            return Err(at.key("actions").invalid("needs at least one action"));
        }
        let actions = (self.actions.iter().enumerate())
            .map(|(index, value)| action(value, &at.key("actions").index(index), attributes))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Workflow { name: self.name, when: self.when, actions })
    }
}

/// Attribute rules from `[attributes]`: `name = "formatter"` in file order, and
/// `[attributes.fallbacks]` with `name = ["formatter", ...]` for rules above.
fn attribute_rules(table: &Map<String, Value>, at: &FieldPath) -> Result<Vec<AttributeRule>, Invalid> {
    let mut rules = (table.iter().filter(|(name, _)| *name != "fallbacks"))
        .map(|(name, value)| {
            Ok(AttributeRule { name: name.clone(), formatter: at.key(name).decode(value)?, fallbacks: Vec::new() })
        })
        .collect::<Result<Vec<_>, Invalid>>()?;
    if let Some(value) = table.get("fallbacks") {
        let at = at.key("fallbacks");
        let fallbacks: BTreeMap<String, Vec<Formatter>> = at.decode(value)?;
        for (name, formatters) in fallbacks {
            let Some(rule) = rules.iter_mut().find(|rule| rule.name == name) else {
                return Err(at.key(&name).invalid("has no attribute rule to fall back from"));
            };
            rule.fallbacks = formatters;
        }
    }
    Ok(rules)
}

/// Which action a table of `actions` is; its other keys depend on it.
#[derive(Deserialize)]
struct Tag {
    action: String,
}

/// The actions as written, one struct each so that unknown keys are named against the action's
/// own keys; each has `action` (read by [`Tag`]).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SyncIdentities {
    #[serde(rename = "action")]
    _action: IgnoredAny,
    #[serde(default = "yes")]
    create: bool,
    #[serde(default = "yes")]
    activate: bool,
    #[serde(default, deserialize_with = "some")]
    attributes: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateEntitlement {
    #[serde(rename = "action")]
    _action: IgnoredAny,
    #[serde(deserialize_with = "named")]
    name: Formatter,
    #[serde(default, deserialize_with = "some")]
    description: Option<Formatter>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ManageRelationships {
    #[serde(rename = "action")]
    _action: IgnoredAny,
    #[serde(default, deserialize_with = "some")]
    mode: Option<RelationshipMode>,
    #[serde(default)]
    groups: Vec<Formatter>,
    #[serde(default, deserialize_with = "some_text")]
    exclusive_prefix: Option<String>,
    #[serde(default)]
    scope: Vec<String>,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    role_scope: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeprovisionIdentity {
    #[serde(rename = "action")]
    _action: IgnoredAny,
    #[serde(default = "deactivate")]
    mode: DisableMode,
    #[serde(default = "yes")]
    remove_groups: bool,
    #[serde(default = "yes")]
    logout: bool,
    #[serde(default = "yes")]
    remove_roles: bool,
    #[serde(default = "suspend_refused_issue")]
    suspend_refused: SuspendRefused,
}

fn suspend_refused_issue() -> SuspendRefused {
    SuspendRefused::Issue
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResetPassword {
    #[serde(rename = "action")]
    _action: IgnoredAny,
    #[serde(default = "yes")]
    send_email: bool,
    #[serde(default)]
    revoke_sessions: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReactivateIdentity {
    #[serde(rename = "action")]
    _action: IgnoredAny,
    #[serde(default = "yes")]
    restore_groups: bool,
    #[serde(default = "yes")]
    restore_roles: bool,
    #[serde(default = "yes")]
    send_email: bool,
}

/// Decodes one action (at `at`); `attributes` are the policy's attribute rules.
fn action(value: &Value, at: &FieldPath, attributes: &BTreeSet<&str>) -> Result<ActionSpec, Invalid> {
    let Tag { action } = at.decode_table(value)?;
    Ok(match action.as_str() {
        "sync_identities" => {
            let SyncIdentities { create, activate, attributes: synced, .. } = at.decode_table(value)?;
            let unknown = synced.iter().flatten().position(|name| !attributes.contains(name.as_str()));
            if let (Some(index), Some(names)) = (unknown, &synced) {
                let message = format!("{:?} has no attribute rule", names[index]);
                return Err(at.key("attributes").index(index).invalid(message));
            }
            ActionSpec::SyncIdentities { create, activate, attributes: synced }
        }
        "create_entitlement" => {
            let CreateEntitlement { name, description, .. } = at.decode_table(value)?;
            ActionSpec::CreateEntitlement { name, description }
        }
        "manage_relationships" => {
            let ManageRelationships { mode, groups, exclusive_prefix, scope, roles, role_scope, .. } =
                at.decode_table(value)?;
            for (key, list) in [("roles", &roles), ("role_scope", &role_scope)] {
                if let Some(index) = list.iter().position(|role| crate::okta::roles::check_role_type(role).is_err()) {
                    let message = format!(
                        "{:?} is not a standard Okta role type (known: {})",
                        list[index],
                        crate::okta::roles::STANDARD_ROLE_TYPES.join(", ")
                    );
                    return Err(at.key(key).index(index).invalid(message));
                }
            }
            let scoped = exclusive_prefix.is_some() || !scope.is_empty() || !role_scope.is_empty();
            let mode = mode.unwrap_or(if scoped { RelationshipMode::Sync } else { RelationshipMode::Add });
            if groups.is_empty() && roles.is_empty() && mode != RelationshipMode::Sync {
                return Err(at.key("groups").invalid("needs at least one group or role"));
            }
            if mode == RelationshipMode::Sync && !scoped {
                return Err(at.key("mode").invalid(
                    "sync needs a managed scope (exclusive_prefix, scope or role_scope) so that unmanaged groups and roles are never touched",
                ));
            }
            ActionSpec::ManageRelationships { mode, groups, exclusive_prefix, scope, roles, role_scope }
        }
        "deprovision_identity" => {
            let DeprovisionIdentity { mode, remove_groups, logout, remove_roles, suspend_refused, .. } =
                at.decode_table(value)?;
            ActionSpec::DeprovisionIdentity { mode, remove_groups, logout, remove_roles, suspend_refused }
        }
        "reset_password" => {
            let ResetPassword { send_email, revoke_sessions, .. } = at.decode_table(value)?;
            ActionSpec::ResetPassword { send_email, revoke_sessions }
        }
        "reactivate_identity" => {
            let ReactivateIdentity { restore_groups, restore_roles, send_email, .. } = at.decode_table(value)?;
            ActionSpec::ReactivateIdentity { restore_groups, restore_roles, send_email }
        }
        "source_of_identity" => {
            return Err(at.key("action").invalid(
                "source_of_identity reads Okta; use it as a source (format = \"okta\"), not as a workflow action",
            ))
        }
        other => {
            return Err(at.key("action").invalid(format!(
                "unknown action {other:?} (known: sync_identities, manage_relationships, deprovision_identity, \
                 create_entitlement, reset_password, reactivate_identity)"
            )))
        }
    })
}

// Field decoders: each turns what serde reads into the field's type, or fails with the message
// that `serde_path_to_error` then puts at the field's path.

fn yes() -> bool {
    true
}

fn login() -> String {
    "login".to_owned()
}

fn deactivate() -> DisableMode {
    DisableMode::Deactivate
}

/// An optional field that, when present, must hold a value: `null` (a Python `None`, a TOML
/// `nan`) is refused rather than taken for "not set".
fn some<'de, D: Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

/// A string that is not blank.
fn text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let text = String::deserialize(deserializer)?;
    match text.trim().is_empty() {
        true => Err(de::Error::custom("must not be empty")),
        false => Ok(text),
    }
}

fn some_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    text(deserializer).map(Some)
}

/// A formatter that is not blank (a group's name).
fn named<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Formatter, D::Error> {
    Formatter::parse(&text(deserializer)?).map_err(de::Error::custom)
}

fn source_format<'de, D: Deserializer<'de>>(deserializer: D) -> Result<SourceFormat, D::Error> {
    let text = String::deserialize(deserializer)?;
    SourceFormat::parse(&text).ok_or_else(|| de::Error::custom(format!("{text:?} is not csv, jsonl or okta")))
}

/// A SCIM filter over the record.
fn condition<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Filter>, D::Error> {
    scim::parse(&String::deserialize(deserializer)?).map(Some).map_err(de::Error::custom)
}

fn whole_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<usize>, D::Error> {
    let value = Value::deserialize(deserializer)?;
    match value.as_u64().and_then(|n| usize::try_from(n).ok()) {
        Some(number) => Ok(Some(number)),
        None => Err(de::Error::custom(format!("must be a whole number ≥ 0, not {value}"))),
    }
}

fn percentage<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<f64>, D::Error> {
    let value = Value::deserialize(deserializer)?;
    match value.as_f64().filter(|percent| (0.0..=100.0).contains(percent)) {
        Some(percent) => Ok(Some(percent)),
        None => Err(de::Error::custom(format!("must be a number from 0 to 100, not {value}"))),
    }
}

/// A struct that must be written as a table (serde would also take a list of its fields' values).
#[derive(Default)]
struct Table<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Table<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TableVisitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for TableVisitor<T> {
            type Value = T;
            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a table")
            }
            fn visit_map<A: MapAccess<'de>>(self, entries: A) -> Result<T, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(entries))
            }
        }
        deserializer.deserialize_map(TableVisitor(std::marker::PhantomData)).map(Table)
    }
}

/// A field's place in the policy, printed as `workflow[1].actions[0].groups[2]`.
#[derive(Debug, Clone, Default)]
struct FieldPath(Vec<Step>);

#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

/// A policy that does not decode or check: where, and what is wrong.
#[derive(Debug)]
struct Invalid {
    at: FieldPath,
    message: String,
}

impl FieldPath {
    fn key(&self, key: &str) -> FieldPath {
        let mut path = self.clone();
        path.0.push(Step::Key(key.to_owned()));
        path
    }

    fn index(&self, index: usize) -> FieldPath {
        let mut path = self.clone();
        path.0.push(Step::Index(index));
        path
    }

    fn invalid(&self, message: impl fmt::Display) -> Invalid {
        Invalid { at: self.clone(), message: message.to_string() }
    }

    /// Decodes the value found at this path; an error carries the path down to the failing field.
    fn decode<'de, T: Deserialize<'de>>(&self, value: &'de Value) -> Result<T, Invalid> {
        serde_path_to_error::deserialize(value).map_err(|error| {
            let mut at = self.clone();
            for segment in error.path() {
                at.0.push(match segment {
                    serde_path_to_error::Segment::Seq { index } => Step::Index(*index),
                    serde_path_to_error::Segment::Map { key } => Step::Key(key.clone()),
                    serde_path_to_error::Segment::Enum { variant } => Step::Key(variant.clone()),
                    serde_path_to_error::Segment::Unknown => break,
                });
            }
            Invalid { at, message: error.into_inner().to_string() }
        })
    }

    /// [`decode`](FieldPath::decode)s a struct written as a table.
    fn decode_table<'de, T: Deserialize<'de>>(&self, value: &'de Value) -> Result<T, Invalid> {
        self.decode::<Table<T>>(value).map(|table| table.0)
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (position, step) in self.0.iter().enumerate() {
            match step {
                Step::Key(key) if position == 0 => formatter.write_str(key)?,
                Step::Key(key) => write!(formatter, ".{key}")?,
                Step::Index(index) => write!(formatter, "[{index}]")?,
            }
        }
        Ok(())
    }
}

impl Invalid {
    /// The error, with the line of the field when the policy was TOML `text`.
    fn into_error(self, text: Option<&str>) -> Error {
        let Invalid { at, message } = self;
        if at.0.is_empty() {
            return Error::InvalidInput(format!("policy: {message}"));
        }
        Error::InvalidInput(match text.and_then(|text| line_of(text, &at)) {
            Some(line) => format!("policy: {at} (line {line}): {message}"),
            None => format!("policy: {at}: {message}"),
        })
    }
}

/// The line of the value at `path` in the TOML `text`, or of its closest ancestor that is
/// written there (a missing key's table); `None` when that is the whole document.
///
/// The TOML parser attaches the span of the value being read to an error raised while reading
/// it, so [`Seek`] reads `text` down `path` and fails at the value it is after.
fn line_of(text: &str, path: &FieldPath) -> Option<usize> {
    let error = Seek { path: &path.0, depth: 0 }.deserialize(toml::Deserializer::new(text)).err()?;
    let span = error.span().filter(|_| error.message() != NOT_IN_DOCUMENT)?;
    Some(line_at(text, span.start))
}

/// The 1-based line of byte `offset` in `text`.
fn line_at(text: &str, offset: usize) -> usize {
    let before = &text.as_bytes()[..offset.min(text.len())];
    before.iter().filter(|&&byte| byte == b'\n').count() + 1
}

const HERE: &str = "here";
const NOT_IN_DOCUMENT: &str = "not in the document";

/// Reads a TOML value down `path`, skipping everything else, and fails where the path ends (or
/// at the deepest table or list on it that the text has).
struct Seek<'p> {
    path: &'p [Step],
    depth: usize,
}

impl Seek<'_> {
    fn here<E: de::Error>(&self) -> Result<IgnoredAny, E> {
        Err(E::custom(if self.depth == 0 { NOT_IN_DOCUMENT } else { HERE }))
    }
}

impl<'de> DeserializeSeed<'de> for Seek<'_> {
    type Value = IgnoredAny;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<IgnoredAny, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seek<'_> {
    type Value = IgnoredAny;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("the value at the path") // a scalar fails with serde's own invalid-type error
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<IgnoredAny, A::Error> {
        if let Some((Step::Index(index), rest)) = self.path.split_first() {
            for _ in 0..*index {
                if items.next_element::<IgnoredAny>()?.is_none() {
                    return self.here();
                }
            }
            items.next_element_seed(Seek { path: rest, depth: self.depth + 1 })?;
        }
        self.here()
    }

    fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<IgnoredAny, A::Error> {
        if let Some((Step::Key(wanted), rest)) = self.path.split_first() {
            while let Some(key) = entries.next_key::<String>()? {
                if key == *wanted {
                    entries.next_value_seed(Seek { path: rest, depth: self.depth + 1 })?;
                } else {
                    entries.next_value::<IgnoredAny>()?;
                }
            }
        }
        self.here()
    }
}
