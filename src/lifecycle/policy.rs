//! Lifecycle policies: how identity records become Okta users, groups and memberships.
//!
//! One schema, loaded from TOML ([`Policy::from_toml`]) or from a JSON-like value such as a
//! Python dict ([`Policy::from_value`]). Both go through the same validation, whose errors name
//! the field (`workflow[1].actions[0].groups[2]`) and, for TOML, the line.

use std::collections::BTreeSet;

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
#[derive(Debug, Clone, PartialEq)]
pub struct SourceSpec {
    /// The source's format.
    pub format: SourceFormat,
    /// The record field that identifies an identity in the source.
    pub key: String,
    /// The Okta profile attribute that holds the key (`login` by default).
    pub match_on: String,
    /// What to do when a record's match value finds more than one Okta user.
    pub tie_break: TieBreak,
}

/// What to do when a match value resolves to more than one Okta user (a rehire with an old
/// DEPROVISIONED account and a new one sharing an employee number, for example).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelationshipMode {
    /// Ensure membership in the listed groups.
    Add,
    /// Ensure the user is not in the listed groups.
    Remove,
    /// Ensure membership in the listed groups and no other group within the managed scope.
    Sync,
}

/// How a deprovision disables the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisableMode {
    /// Deactivate (DEPROVISIONED; Okta also removes app assignments).
    Deactivate,
    /// Suspend (reversible; memberships and assignments kept by Okta).
    Suspend,
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
    },
    /// `deprovision_identity`.
    DeprovisionIdentity {
        /// Deactivate or suspend.
        mode: DisableMode,
        /// Remove the user from every OKTA_GROUP.
        remove_groups: bool,
        /// End sessions and revoke OAuth tokens.
        logout: bool,
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

struct Context<'a> {
    /// The TOML text, to point at lines; `None` for dicts.
    source: Option<&'a str>,
}

impl Context<'_> {
    fn error(&self, field: &str, message: impl std::fmt::Display, near: Option<&str>) -> Error {
        let line = match (self.source, near) {
            (Some(text), Some(needle)) if !needle.is_empty() => line_of(text, field, needle),
            _ => None,
        };
        match line {
            Some(line) => Error::InvalidInput(format!("policy: {field} (line {line}): {message}")),
            None => Error::InvalidInput(format!("policy: {field}: {message}")),
        }
    }
}

/// The line of `needle` in `text`, preferring a line that also names the field's last key.
fn line_of(text: &str, field: &str, needle: &str) -> Option<usize> {
    let key = field.rsplit(['.', '[']).next().unwrap_or(field).trim_end_matches(']');
    let lines: Vec<&str> = text.lines().collect();
    lines
        .iter()
        .position(|line| line.contains(needle) && line.contains(key))
        .or_else(|| lines.iter().position(|line| line.contains(needle)))
        .map(|index| index + 1)
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a table",
    }
}

impl Policy {
    /// Loads a policy from TOML text.
    pub fn from_toml(text: &str) -> Result<Self> {
        let value: Value = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|span| text[..span.start.min(text.len())].lines().count().max(1));
            let message = e.message().to_owned();
            match line {
                Some(line) => Error::InvalidInput(format!("policy: line {line}: {message}")),
                None => Error::InvalidInput(format!("policy: {message}")),
            }
        })?;
        Self::validate(&value, &Context { source: Some(text) })
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
        Self::validate(value, &Context { source: None })
    }

    fn validate(value: &Value, context: &Context<'_>) -> Result<Self> {
        let root = value.as_object().ok_or_else(|| context.error("policy", "must be a table", None))?;
        check_keys(
            root,
            "policy",
            &["name", "description", "source", "attributes", "movers", "workflow", "safety"],
            context,
        )?;
        let name = required_string(root, "name", "name", context)?;
        let source = validate_source(root.get("source"), context)?;
        let attributes = validate_attributes(root.get("attributes"), context)?;
        let movers = match root.get("movers") {
            None => Vec::new(),
            Some(Value::Object(movers)) => {
                check_keys(movers, "movers", &["attributes"], context)?;
                string_list(movers.get("attributes"), "movers.attributes", context)?
            }
            Some(other) => {
                return Err(context.error("movers", format!("must be a table, not {}", kind_of(other)), None))
            }
        };
        let known: BTreeSet<&str> = attributes.iter().map(|a| a.name.as_str()).collect();
        for mover in &movers {
            if !known.contains(mover.as_str()) {
                return Err(context.error(
                    "movers.attributes",
                    format!("{mover:?} is not one of the policy's attributes"),
                    Some(mover),
                ));
            }
        }
        let workflows = match root.get("workflow") {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(index, item)| validate_workflow(item, index, &known, context))
                .collect::<Result<Vec<_>>>()?,
            Some(other) => {
                return Err(context.error(
                    "workflow",
                    format!("must be a list of tables ([[workflow]]), not {}", kind_of(other)),
                    None,
                ))
            }
        };
        let uses_sync = workflows.iter().flat_map(|w| &w.actions).any(|a| a.kind() == ActionKind::SyncIdentities);
        if uses_sync {
            for required in REQUIRED_ATTRIBUTES {
                if !known.contains(required) {
                    return Err(context.error(
                        "attributes",
                        format!("sync_identities needs a rule for {required}"),
                        None,
                    ));
                }
            }
        }
        if source.match_on != "login" && !known.contains(source.match_on.as_str()) && uses_sync {
            return Err(context.error(
                "source.match_on",
                format!(
                    "{:?} must also be one of the policy's attributes so that created users carry it",
                    source.match_on
                ),
                Some(&source.match_on),
            ));
        }
        let safety = validate_safety(root.get("safety"), context)?;
        Ok(Policy { name, source, attributes, movers, workflows, safety })
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

fn check_keys(map: &Map<String, Value>, field: &str, allowed: &[&str], context: &Context<'_>) -> Result<()> {
    for key in map.keys() {
        if !allowed.contains(&key.as_str()) {
            let path = if field == "policy" { key.clone() } else { format!("{field}.{key}") };
            return Err(context.error(&path, format!("unknown key (allowed here: {})", allowed.join(", ")), Some(key)));
        }
    }
    Ok(())
}

fn required_string(map: &Map<String, Value>, key: &str, field: &str, context: &Context<'_>) -> Result<String> {
    match map.get(key) {
        Some(Value::String(text)) if !text.trim().is_empty() => Ok(text.clone()),
        Some(Value::String(_)) => Err(context.error(field, "must not be empty", Some(key))),
        Some(other) => Err(context.error(field, format!("must be a string, not {}", kind_of(other)), Some(key))),
        None => Err(context.error(field, "is required", None)),
    }
}

fn optional_bool(
    map: &Map<String, Value>,
    key: &str,
    default: bool,
    field: &str,
    context: &Context<'_>,
) -> Result<bool> {
    match map.get(key) {
        None => Ok(default),
        Some(Value::Bool(flag)) => Ok(*flag),
        Some(other) => Err(context.error(
            &format!("{field}.{key}"),
            format!("must be true or false, not {}", kind_of(other)),
            Some(key),
        )),
    }
}

fn string_list(value: Option<&Value>, field: &str, context: &Context<'_>) -> Result<Vec<String>> {
    match value {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(index, item)| match item {
                Value::String(text) => Ok(text.clone()),
                other => Err(context.error(
                    &format!("{field}[{index}]"),
                    format!("must be a string, not {}", kind_of(other)),
                    None,
                )),
            })
            .collect(),
        Some(other) => Err(context.error(field, format!("must be a list of strings, not {}", kind_of(other)), None)),
    }
}

fn formatter(text: &str, field: &str, context: &Context<'_>) -> Result<Formatter> {
    Formatter::parse(text).map_err(|e| context.error(field, e, Some(text)))
}

fn validate_source(value: Option<&Value>, context: &Context<'_>) -> Result<SourceSpec> {
    let Some(value) = value else {
        return Err(context.error("source", "is required ([source] with format and key)", None));
    };
    let map = value
        .as_object()
        .ok_or_else(|| context.error("source", format!("must be a table, not {}", kind_of(value)), None))?;
    check_keys(map, "source", &["format", "key", "match_on", "tie_break"], context)?;
    let format_text = required_string(map, "format", "source.format", context)?;
    let format = SourceFormat::parse(&format_text).ok_or_else(|| {
        context.error("source.format", format!("{format_text:?} is not csv, jsonl or okta"), Some(&format_text))
    })?;
    let key = required_string(map, "key", "source.key", context)?;
    let match_on = match map.get("match_on") {
        None => "login".to_owned(),
        Some(_) => required_string(map, "match_on", "source.match_on", context)?,
    };
    let tie_break = match map.get("tie_break") {
        None => TieBreak::Issue,
        Some(_) => {
            let text = required_string(map, "tie_break", "source.tie_break", context)?;
            match text.as_str() {
                "issue" => TieBreak::Issue,
                "prefer_not_deprovisioned" => TieBreak::PreferNotDeprovisioned,
                _ => {
                    return Err(context.error(
                        "source.tie_break",
                        format!("{text:?} is not \"issue\" or \"prefer_not_deprovisioned\""),
                        Some(&text),
                    ))
                }
            }
        }
    };
    Ok(SourceSpec { format, key, match_on, tie_break })
}

fn validate_attributes(value: Option<&Value>, context: &Context<'_>) -> Result<Vec<AttributeRule>> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let map = value
        .as_object()
        .ok_or_else(|| context.error("attributes", format!("must be a table, not {}", kind_of(value)), None))?;
    let mut rules = Vec::new();
    for (name, rule) in map {
        if name == "fallbacks" {
            continue;
        }
        let field = format!("attributes.{name}");
        match rule {
            Value::String(text) => rules.push(AttributeRule {
                name: name.clone(),
                formatter: formatter(text, &field, context)?,
                fallbacks: Vec::new(),
            }),
            other => {
                return Err(context.error(
                    &field,
                    format!("must be a formatter string, not {}", kind_of(other)),
                    Some(name),
                ))
            }
        }
    }
    if let Some(fallbacks) = map.get("fallbacks") {
        let fallbacks = fallbacks.as_object().ok_or_else(|| {
            context.error("attributes.fallbacks", "must be a table of attribute = [formatters]", None)
        })?;
        for (name, list) in fallbacks {
            let field = format!("attributes.fallbacks.{name}");
            let Some(rule) = rules.iter_mut().find(|rule| &rule.name == name) else {
                return Err(context.error(&field, "has no attribute rule to fall back from", Some(name)));
            };
            for (index, text) in string_list(Some(list), &field, context)?.iter().enumerate() {
                rule.fallbacks.push(formatter(text, &format!("{field}[{index}]"), context)?);
            }
        }
    }
    Ok(rules)
}

fn validate_workflow(
    value: &Value,
    index: usize,
    attributes: &BTreeSet<&str>,
    context: &Context<'_>,
) -> Result<Workflow> {
    let field = format!("workflow[{index}]");
    let map = value
        .as_object()
        .ok_or_else(|| context.error(&field, format!("must be a table, not {}", kind_of(value)), None))?;
    check_keys(map, &field, &["name", "when", "actions"], context)?;
    let name = required_string(map, "name", &format!("{field}.name"), context)?;
    let when = match map.get("when") {
        None => None,
        Some(Value::String(text)) => {
            Some(scim::parse(text).map_err(|e| context.error(&format!("{field}.when"), e, Some(text)))?)
        }
        Some(other) => {
            return Err(context.error(
                &format!("{field}.when"),
                format!("must be a SCIM filter string, not {}", kind_of(other)),
                None,
            ))
        }
    };
    let actions = match map.get("actions") {
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .enumerate()
            .map(|(position, item)| validate_action(item, &format!("{field}.actions[{position}]"), attributes, context))
            .collect::<Result<Vec<_>>>()?,
        Some(Value::Array(_)) | None => {
            return Err(context.error(&format!("{field}.actions"), "needs at least one action", Some(&name)))
        }
        Some(other) => {
            return Err(context.error(
                &format!("{field}.actions"),
                format!("must be a list, not {}", kind_of(other)),
                None,
            ))
        }
    };
    Ok(Workflow { name, when, actions })
}

fn validate_action(
    value: &Value,
    field: &str,
    attributes: &BTreeSet<&str>,
    context: &Context<'_>,
) -> Result<ActionSpec> {
    let map = value
        .as_object()
        .ok_or_else(|| context.error(field, format!("must be a table, not {}", kind_of(value)), None))?;
    let action = required_string(map, "action", &format!("{field}.action"), context)?;
    let spec = match action.as_str() {
        "sync_identities" => {
            check_keys(map, field, &["action", "create", "activate", "attributes"], context)?;
            let synced = match map.get("attributes") {
                None => None,
                Some(list) => {
                    let names = string_list(Some(list), &format!("{field}.attributes"), context)?;
                    for name in &names {
                        if !attributes.contains(name.as_str()) {
                            return Err(context.error(&format!("{field}.attributes"), format!("{name:?} has no attribute rule"), Some(name)));
                        }
                    }
                    Some(names)
                }
            };
            ActionSpec::SyncIdentities {
                create: optional_bool(map, "create", true, field, context)?,
                activate: optional_bool(map, "activate", true, field, context)?,
                attributes: synced,
            }
        }
        "create_entitlement" => {
            check_keys(map, field, &["action", "name", "description"], context)?;
            let name = required_string(map, "name", &format!("{field}.name"), context)?;
            let description = match map.get("description") {
                None => None,
                Some(Value::String(text)) => Some(formatter(text, &format!("{field}.description"), context)?),
                Some(other) => return Err(context.error(&format!("{field}.description"), format!("must be a string, not {}", kind_of(other)), None)),
            };
            ActionSpec::CreateEntitlement { name: formatter(&name, &format!("{field}.name"), context)?, description }
        }
        "manage_relationships" => {
            check_keys(map, field, &["action", "mode", "groups", "exclusive_prefix", "scope"], context)?;
            let groups = string_list(map.get("groups"), &format!("{field}.groups"), context)?;
            if groups.is_empty() && !matches!(map.get("mode").and_then(Value::as_str), Some("sync")) {
                return Err(context.error(&format!("{field}.groups"), "needs at least one group", Some(&action)));
            }
            let groups = groups
                .iter()
                .enumerate()
                .map(|(index, text)| formatter(text, &format!("{field}.groups[{index}]"), context))
                .collect::<Result<Vec<_>>>()?;
            let exclusive_prefix = match map.get("exclusive_prefix") {
                None => None,
                Some(_) => Some(required_string(map, "exclusive_prefix", &format!("{field}.exclusive_prefix"), context)?),
            };
            let scope = string_list(map.get("scope"), &format!("{field}.scope"), context)?;
            let default_mode = if exclusive_prefix.is_some() || !scope.is_empty() { "sync" } else { "add" };
            let mode_text = map.get("mode").and_then(Value::as_str).unwrap_or(default_mode);
            let mode = match mode_text {
                "add" => RelationshipMode::Add,
                "remove" => RelationshipMode::Remove,
                "sync" => RelationshipMode::Sync,
                other => return Err(context.error(&format!("{field}.mode"), format!("{other:?} is not add, remove or sync"), Some(other))),
            };
            if mode == RelationshipMode::Sync && exclusive_prefix.is_none() && scope.is_empty() {
                return Err(context.error(
                    &format!("{field}.mode"),
                    "sync needs a managed scope (exclusive_prefix or scope) so that unmanaged groups are never touched",
                    Some("sync"),
                ));
            }
            ActionSpec::ManageRelationships { mode, groups, exclusive_prefix, scope }
        }
        "deprovision_identity" => {
            check_keys(map, field, &["action", "mode", "remove_groups", "logout"], context)?;
            let mode = match map.get("mode").and_then(Value::as_str).unwrap_or("deactivate") {
                "deactivate" => DisableMode::Deactivate,
                "suspend" => DisableMode::Suspend,
                other => return Err(context.error(&format!("{field}.mode"), format!("{other:?} is not deactivate or suspend"), Some(other))),
            };
            ActionSpec::DeprovisionIdentity {
                mode,
                remove_groups: optional_bool(map, "remove_groups", true, field, context)?,
                logout: optional_bool(map, "logout", true, field, context)?,
            }
        }
        "reset_password" => {
            check_keys(map, field, &["action", "send_email", "revoke_sessions"], context)?;
            ActionSpec::ResetPassword {
                send_email: optional_bool(map, "send_email", true, field, context)?,
                revoke_sessions: optional_bool(map, "revoke_sessions", false, field, context)?,
            }
        }
        "reactivate_identity" => {
            check_keys(map, field, &["action", "restore_groups", "send_email"], context)?;
            ActionSpec::ReactivateIdentity {
                restore_groups: optional_bool(map, "restore_groups", true, field, context)?,
                send_email: optional_bool(map, "send_email", true, field, context)?,
            }
        }
        "source_of_identity" => {
            return Err(context.error(
                &format!("{field}.action"),
                "source_of_identity reads Okta; use it as a source (format = \"okta\"), not as a workflow action",
                Some(&action),
            ))
        }
        other => {
            return Err(context.error(
                &format!("{field}.action"),
                format!(
                    "unknown action {other:?} (known: sync_identities, manage_relationships, deprovision_identity, create_entitlement, reset_password, reactivate_identity)"
                ),
                Some(other),
            ))
        }
    };
    Ok(spec)
}

fn validate_safety(value: Option<&Value>, context: &Context<'_>) -> Result<Safety> {
    let Some(value) = value else {
        return Ok(Safety::default());
    };
    let map = value.as_object().ok_or_else(|| context.error("safety", "must be a table", None))?;
    check_keys(map, "safety", &["max_deprovisions", "max_changed_percent"], context)?;
    let max_deprovisions = match map.get("max_deprovisions") {
        None => None,
        Some(Value::Number(n)) if n.as_u64().is_some() => n.as_u64().map(|n| n as usize),
        Some(other) => {
            return Err(context.error(
                "safety.max_deprovisions",
                format!("must be a whole number ≥ 0, not {other}"),
                Some("max_deprovisions"),
            ))
        }
    };
    let max_changed_percent = match map.get("max_changed_percent") {
        None => None,
        Some(Value::Number(n)) if n.as_f64().is_some_and(|p| (0.0..=100.0).contains(&p)) => n.as_f64(),
        Some(other) => {
            return Err(context.error(
                "safety.max_changed_percent",
                format!("must be a number from 0 to 100, not {other}"),
                Some("max_changed_percent"),
            ))
        }
    };
    Ok(Safety { max_deprovisions, max_changed_percent })
}
