//! The lifecycle actions. Each decides, from the org as read and one identity, exactly the
//! changes that make Okta match the policy, and nothing when Okta already does; the engine
//! applies what they decide.

pub mod create_entitlement;
pub mod deprovision_identity;
pub mod manage_relationships;
pub mod reactivate_identity;
pub mod reset_password;
pub mod source_of_identity;
pub mod sync_identities;

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use crate::lifecycle::plan::{Change, GroupRef, Operation, RecordIssue, UserRef};
use crate::lifecycle::policy::{ActionKind, Policy};
use crate::lifecycle::record::IdentityRecord;
// The org snapshot indexes users by these keys; the actions compare values by them too.
pub use crate::lifecycle::state::{email_key, match_key};
use crate::lifecycle::state::{OrgSnapshot, UserState};
use crate::okta::UserStatus;

/// One identity being planned.
#[derive(Debug)]
pub struct Identity<'a> {
    /// The source key.
    pub key: String,
    /// The record's position in the source (1-based).
    pub row: usize,
    /// The record.
    pub record: &'a IdentityRecord,
    /// The workflow that selected it.
    pub workflow: String,
    /// The attribute values the policy's primary formatters give.
    pub attributes: Map<String, Value>,
    /// The Okta user it matches, if any.
    pub user: Option<&'a UserState>,
    /// The user as later actions should see it (after a create or a reactivation planned
    /// earlier for the same identity).
    pub target: Option<UserRef>,
    /// The status the user will have after the actions planned so far.
    pub planned_status: Option<UserStatus>,
    /// The value the record is matched on, as written to Okta (for messages).
    pub match_value: Option<String>,
}

pub use crate::lifecycle::journal::Restorable;

/// Everything the actions share while a plan is made.
pub struct PlanContext<'a> {
    /// The policy.
    pub policy: &'a Policy,
    /// The org as read.
    pub snapshot: &'a OrgSnapshot,
    /// The changes decided so far.
    pub changes: Vec<Change>,
    /// Logins (folded) taken by users this plan creates, with the identity key.
    pub claimed_logins: HashMap<String, String>,
    /// Emails (folded) taken by users this plan creates or changes, with the identity key.
    pub claimed_emails: HashMap<String, String>,
    /// Group names (folded) this plan creates.
    pub planned_groups: HashSet<String>,
    /// The memberships and admin roles recorded before a user's deprovisions (for reactivation).
    /// An error when the journal cannot be read: the identity is then an issue, never a
    /// reactivation that silently restores nothing.
    pub restorable: &'a Restorer<'a>,
    /// Issues about identities whose changes are still planned (a leaver whose access is
    /// removed but whose status cannot change).
    pub notes: Vec<RecordIssue>,
    /// Groups (ids) a synchronisation keeps each identity out of, by identity key: a restored
    /// membership in one of them is not planned.
    pub excluded_groups: HashMap<String, HashSet<String>>,
}

/// What a reactivation may restore of a user (its id and Okta's `statusChanged` now): what the
/// journal recorded of the user's present absence. An error when the journal cannot be read.
pub type Restorer<'a> = dyn Fn(&str, Option<&str>) -> std::result::Result<Option<Restorable>, String> + 'a;

impl<'a> PlanContext<'a> {
    /// A context over a policy and an org.
    pub fn new(policy: &'a Policy, snapshot: &'a OrgSnapshot, restorable: &'a Restorer<'a>) -> Self {
        PlanContext {
            policy,
            snapshot,
            changes: Vec::new(),
            claimed_logins: HashMap::new(),
            claimed_emails: HashMap::new(),
            planned_groups: HashSet::new(),
            restorable,
            notes: Vec::new(),
            excluded_groups: HashMap::new(),
        }
    }

    /// Appends a change.
    pub fn push(&mut self, action: ActionKind, identity: Option<&Identity<'_>>, operation: Operation) {
        let seq = self.changes.len() as u32 + 1;
        self.changes.push(Change {
            seq,
            action,
            identity: identity.map(|i| i.key.clone()),
            workflow: identity.map(|i| i.workflow.clone()),
            operation,
        });
    }

    /// Resolves a group by name or id: an existing group, or one this plan creates.
    pub fn resolve_group(&self, name_or_id: &str) -> Result<GroupRef, String> {
        if let Some(group) = self.snapshot.group(name_or_id).or_else(|| self.snapshot.group_by_name(name_or_id)) {
            if group.group_type != crate::okta::GroupType::OktaGroup {
                return Err(format!(
                    "group {:?} is {}: only OKTA_GROUP memberships can be written through the API",
                    group.name,
                    group.group_type.as_str()
                ));
            }
            return Ok(GroupRef { id: Some(group.id.clone()), name: group.name.clone() });
        }
        if self.planned_groups.contains(&name_or_id.to_lowercase()) {
            return Ok(GroupRef { id: None, name: name_or_id.to_owned() });
        }
        Err(format!("group {name_or_id:?} does not exist (add a create_entitlement action for it)"))
    }
}

/// Characters that do not show: zero-width spaces and joiners, direction marks and overrides, the
/// word joiner family, the soft hyphen and the byte-order mark.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// What is wrong with a profile value's characters, if anything: control characters (NUL, line
/// breaks, escape ...) anywhere, and invisible characters in a login or email, where they make
/// two different accounts look the same.
pub fn character_problem(attribute: &str, value: &str) -> Option<String> {
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Some(format!("{attribute} contains the control character U+{:04X}", c as u32));
    }
    if matches!(attribute, "login" | "email") {
        if let Some(c) = value.chars().find(|c| is_invisible(*c)) {
            return Some(format!("{attribute} contains the invisible character U+{:04X}", c as u32));
        }
    }
    None
}

/// A profile value as text, for comparisons: an empty string counts as no value, so that a
/// blank source column and an absent Okta attribute agree.
pub(crate) fn as_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(text) if text.is_empty() => None,
        Value::String(text) => Some(text.clone()),
        other => Some(other.to_string()),
    }
}
