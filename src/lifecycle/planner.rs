//! Planning: records and the org as read become a [`Plan`], without writing anything.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::http::OktaClient;
use crate::lifecycle::actions::{self, Identity, PlanContext};
use crate::lifecycle::journal::{off_runtime, Journal};
use crate::lifecycle::plan::{safety_verdict, IdentityEvent, Operation, Plan, RecordIssue, Summary};
use crate::lifecycle::policy::{ActionSpec, Policy, TieBreak};
use crate::lifecycle::record::{records_digest, IdentityRecord};
use crate::lifecycle::state::{self, Lookups, OrgSnapshot, ReadRequest, UserState};
use crate::okta::{UserSchema, UserStatus};
use crate::scim::Filter;

/// Renders the policy's primary attribute values for a record. With the org's schema, each
/// value takes its attribute's type (a number, a boolean, an array) and is checked as Okta would
/// check it, so that a value Okta would refuse is an issue for the record, not a failed write.
fn render_attributes(
    policy: &Policy,
    record: &IdentityRecord,
    schema: Option<&UserSchema>,
) -> std::result::Result<Map<String, Value>, String> {
    let lookup = |field: &str| record.text(field);
    let mut attributes = Map::with_capacity(policy.attributes.len());
    for rule in &policy.attributes {
        let property = schema.and_then(|schema| schema.property(&rule.name));
        let takes_a_list = property.is_some_and(|p| matches!(p.kind, crate::okta::schema::PropertyType::Array(_)));
        for field in rule.formatter.fields() {
            match record.structured(field) {
                Some(Value::Object(_)) => {
                    return Err(format!("attribute {}: the field {field} is an object, not a value", rule.name));
                }
                Some(Value::Array(items)) if !takes_a_list => {
                    return Err(format!(
                        "attribute {}: the field {field} is a list of {} values, and {} takes one value",
                        rule.name,
                        items.len(),
                        rule.name
                    ));
                }
                Some(Value::Array(items)) => {
                    let separator = crate::okta::schema::ARRAY_SEPARATOR;
                    if let Some(bad) = items.iter().find(|item| {
                        item.is_array() || item.is_object() || item.as_str().is_some_and(|t| t.contains(separator))
                    }) {
                        return Err(format!(
                            "attribute {}: the field {field} holds {bad}, which is not one value of a list \
                             (lists or objects inside a list, or text with {separator:?})",
                            rule.name
                        ));
                    }
                }
                _ => {}
            }
        }
        let text = rule.formatter.render(&lookup).map_err(|e| format!("attribute {}: {e}", rule.name))?;
        let value = match property {
            Some(property) => property.from_text(&text).map_err(|e| format!("attribute {e}"))?,
            None => Value::String(text),
        };
        attributes.insert(rule.name.clone(), value);
    }
    Ok(attributes)
}

/// Refuses a policy that writes an attribute the org's schema does not define (Okta would
/// refuse every write of it), before any user is read.
pub fn check_against_schema(policy: &Policy, schema: &UserSchema) -> Result<()> {
    let undefined: Vec<&str> = policy
        .attributes
        .iter()
        .map(|rule| rule.name.as_str())
        .filter(|name| schema.property(name).is_none())
        .collect();
    if let Some(first) = undefined.first() {
        return Err(Error::InvalidInput(format!(
            "policy: attributes.{first}: the org's user schema does not define {}; add {} to the schema first \
             (client.schema.update_custom) or remove {} from the policy",
            undefined.join(", "),
            if undefined.len() == 1 { "it" } else { "them" },
            if undefined.len() == 1 { "it" } else { "them" },
        )));
    }
    Ok(())
}

/// The value a record is matched on, as it is written to Okta: the attribute `match_on` as the
/// policy renders it (its formatter and the schema's type applied), or, when the policy does not
/// write that attribute, the source key without surrounding spaces, typed by the schema. The
/// Okta value and this one are then compared by [`actions::match_key`]: " E100", "e100" and
/// "E100" are one key, and so are "04100", "+4100" and the integer 4100.
fn match_value(
    policy: &Policy,
    record: &IdentityRecord,
    attributes: &Map<String, Value>,
    schema: Option<&UserSchema>,
) -> Option<Value> {
    let match_on = policy.source.match_on.as_str();
    if let Some(value) = attributes.get(match_on) {
        return Some(value.clone()).filter(|value| actions::match_key(value).is_some());
    }
    let text = record.text(&policy.source.key)?.trim().to_owned();
    let typed = match schema.and_then(|schema| schema.property(match_on)) {
        Some(property) => property.from_text(&text).unwrap_or(Value::String(text)),
        None => Value::String(text),
    };
    Some(typed).filter(|value| actions::match_key(value).is_some())
}

/// The match value as the text the snapshot's index is keyed by.
fn match_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.trim().to_owned()),
        other => actions::match_key(other),
    }
}

/// Up to this many records, planning looks up the users the records name (a few requests per
/// record) instead of listing the org (a request per 200 users, and the members of every managed
/// group): a one-user Ansible task or action costs the same in an org of 100 or 100,000 users.
pub const TARGETED_READ_MAX_RECORDS: usize = 20;

/// The users planning can consult for these records: the holders of each record's login and
/// fallback logins, match value, email and fallback emails (each also in its plain ASCII form,
/// so that a full-width look-alike finds the account it imitates, as the listing path does).
fn lookups(policy: &Policy, records: &[IdentityRecord], schema: Option<&UserSchema>) -> Lookups {
    let mut lookups = Lookups::default();
    for record in records {
        let lookup = |field: &str| record.text(field);
        let attributes = render_attributes(policy, record, schema).unwrap_or_default();
        let rendered = |name: &str| {
            let primary = attributes.get(name).and_then(Value::as_str).map(str::to_owned);
            let fallbacks = policy.attribute(name).map(|rule| rule.fallbacks.as_slice()).unwrap_or_default();
            primary
                .into_iter()
                .chain(fallbacks.iter().filter_map(|fallback| fallback.render(&lookup).ok()))
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
                .collect::<Vec<_>>()
        };
        let logins = rendered("login");
        let mut terms: Vec<Filter> = Vec::new();
        for login in &logins {
            let plain = actions::email_key(login);
            if plain != login.to_lowercase() {
                terms.push(Filter::eq("profile.login", plain));
            }
        }
        lookups.logins.extend(logins);
        for email in rendered("email") {
            let plain = actions::email_key(&email);
            if plain != email.to_lowercase() {
                terms.push(Filter::eq("profile.email", plain));
            }
            terms.push(Filter::eq("profile.email", email));
        }
        if policy.source.match_on != "login" {
            let attribute = format!("profile.{}", policy.source.match_on);
            match match_value(policy, record, &attributes, schema) {
                Some(Value::String(text)) => terms.push(Filter::eq(attribute, text.trim())),
                Some(Value::Number(number)) => terms.push(Filter::eq(attribute, number)),
                Some(Value::Bool(flag)) => terms.push(Filter::eq(attribute, flag)),
                _ => {}
            }
        }
        if let Some(search) = terms.into_iter().reduce(Filter::or) {
            lookups.searches.insert(search.to_string());
        }
    }
    lookups
}

/// What the planner must read from the org for these records (with the org's schema, match
/// values are typed as they are when planning).
pub fn read_request(policy: &Policy, records: &[IdentityRecord], schema: Option<&UserSchema>) -> ReadRequest {
    let mut request = ReadRequest {
        attributes: policy.attributes.iter().map(|r| r.name.clone()).collect(),
        match_on: policy.source.match_on.clone(),
        ..Default::default()
    };
    request.attributes.extend(policy.movers.iter().cloned());
    if records.len() <= TARGETED_READ_MAX_RECORDS {
        request.lookups = Some(lookups(policy, records, schema));
    }
    for record in records {
        let Some(workflow) = policy.workflow_for(record) else { continue };
        let lookup = |field: &str| record.text(field);
        for action in &workflow.actions {
            match action {
                ActionSpec::ManageRelationships { groups, exclusive_prefix, scope, roles, role_scope, .. } => {
                    for group in groups {
                        if let Ok(name) = group.render(&lookup) {
                            request.groups.insert(name);
                        }
                    }
                    if !roles.is_empty() || !role_scope.is_empty() {
                        if let Ok(attributes) = render_attributes(policy, record, schema) {
                            if let Some(value) =
                                match_value(policy, record, &attributes, schema).as_ref().and_then(match_text)
                            {
                                request.role_users.push(value);
                            }
                        }
                    }
                    request.groups.extend(scope.iter().cloned());
                    if let Some(prefix) = exclusive_prefix {
                        request.group_prefixes.insert(prefix.clone());
                    }
                }
                // A returner's memberships are restored only where it is not a member already:
                // every one of them is read, in scope or not, as a leaver's are (the lookup path
                // reads them all too).
                ActionSpec::ReactivateIdentity { restore_groups: true, .. } => {
                    if let Ok(attributes) = render_attributes(policy, record, schema) {
                        if let Some(value) =
                            match_value(policy, record, &attributes, schema).as_ref().and_then(match_text)
                        {
                            request.full_membership_users.push(value);
                        }
                    }
                }
                ActionSpec::DeprovisionIdentity { remove_groups, remove_roles, .. }
                    if *remove_groups || *remove_roles =>
                {
                    if let Ok(attributes) = render_attributes(policy, record, schema) {
                        if let Some(value) =
                            match_value(policy, record, &attributes, schema).as_ref().and_then(match_text)
                        {
                            if *remove_groups {
                                request.full_membership_users.push(value.clone());
                            }
                            if *remove_roles {
                                request.role_users.push(value);
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }
    request
}

/// Reads the org, plans, and records the plan in the journal (only a recorded plan can be
/// applied). The journal also gives the memberships to restore for reactivations. Nothing is
/// written to Okta.
pub async fn plan(client: &OktaClient, policy: &Policy, records: &[IdentityRecord], journal: &Journal) -> Result<Plan> {
    plan_with(client, policy, records, journal, &PlanOptions::default()).await
}

/// How [`plan_with`] reads the org.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanOptions {
    /// Read from the journal's mirror of the org and what changed in Okta since the last read
    /// (see [`crate::lifecycle::incremental`]), when the plan reads the whole org; the plan's
    /// `read` says how it read and, after a full read, why.
    pub incremental: bool,
    /// How long Okta's System Log may take to show an event: an incremental read reads the
    /// members of a group whose membership moved more recently than this again, rather than
    /// trusting the log for it. Default [`crate::lifecycle::apply::LOG_SETTLE`].
    pub log_settle: std::time::Duration,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions { incremental: false, log_settle: crate::lifecycle::apply::LOG_SETTLE }
    }
}

/// [`plan`], with options.
pub async fn plan_with(
    client: &OktaClient,
    policy: &Policy,
    records: &[IdentityRecord],
    journal: &Journal,
    options: &PlanOptions,
) -> Result<Plan> {
    // The plan is dated when the org begins to be read, on the journal's clock (the database
    // server's when several hosts share one): a run of the same policy that applies from then
    // on supersedes it (see `RunStore::acquire_lease`).
    let as_of = off_runtime(|| journal.clock())?;
    // The schema this client read last, while younger than `ClientConfig::schema_max_age`: a
    // loop of one-user actions reads it once. The client forgets it after Okta refuses a write
    // as invalid (400 E0000001) and after a schema change made through it.
    let (mut schema, kept) = match client.cached_schema() {
        Some(schema) => (schema, true),
        None => (client.schema().user_schema().await?, false),
    };
    if kept && check_against_schema(policy, &schema).is_err() {
        // The schema may have gained the attribute since this client read it.
        schema = client.schema().user_schema().await?;
    }
    check_against_schema(policy, &schema)?;
    let request = read_request(policy, records, Some(&schema));
    let (mut snapshot, read) = if options.incremental && request.lookups.is_none() {
        let (snapshot, read) =
            crate::lifecycle::incremental::read(client, &request, journal, &schema, options.log_settle).await?;
        (snapshot, Some(read))
    } else {
        (state::read(client, &request).await?, None)
    };
    snapshot.set_schema(schema);
    let recorded = |user_id: &str, status_changed: Option<&str>| {
        off_runtime(|| journal.restorable(user_id, status_changed)).map_err(|e| e.to_string())
    };
    let mut plan = plan_with_snapshot(policy, records, &snapshot, client.config().org_url.as_str(), &recorded);
    plan.read = read;
    plan.created_at = as_of;
    off_runtime(|| journal.record_plan(&plan, &policy.safety, records.len()))?;
    Ok(plan)
}

/// The Okta user a match value designates: none, exactly one, or, when several users carry the
/// value, the policy's tie-break or an issue naming every candidate.
fn matched_user<'s>(
    policy: &Policy,
    snapshot: &'s OrgSnapshot,
    value: &str,
) -> std::result::Result<Option<&'s UserState>, String> {
    let candidates = snapshot.users_by_attribute(&policy.source.match_on, value);
    match candidates.as_slice() {
        [] => return Ok(None),
        [only] => return Ok(Some(only)),
        _ => {}
    }
    if policy.source.tie_break == TieBreak::PreferNotDeprovisioned {
        let live: Vec<&&UserState> = candidates.iter().filter(|u| u.status != UserStatus::Deprovisioned).collect();
        if let [only] = live.as_slice() {
            return Ok(Some(only));
        }
    }
    let names: Vec<String> = candidates.iter().map(|u| format!("{} ({}, {})", u.login, u.id, u.status)).collect();
    let hint = match policy.source.tie_break {
        TieBreak::Issue => {
            "; nothing is done until one remains, or set source.tie_break = \"prefer_not_deprovisioned\""
        }
        TieBreak::PreferNotDeprovisioned => {
            "; more than one of them is not DEPROVISIONED, so the tie-break cannot choose"
        }
    };
    Err(format!(
        "{} {value:?} matches {} Okta users: {}{hint}",
        policy.source.match_on,
        candidates.len(),
        names.join(", ")
    ))
}

/// The SHA-256 digest (hex) of a policy and the records it is planned over: an apply of the same
/// policy (the same content, not only the same name) over the same records finds its unfinished
/// run by it, and a corrected policy starts a new run instead of resuming the old plan.
pub fn source_digest(policy: &Policy, records: &[IdentityRecord]) -> String {
    use sha2::{Digest, Sha256};
    // The policy's Debug form holds every rule as written (no hashed collections: stable).
    let policy_digest = Sha256::digest(format!("{policy:?}").as_bytes());
    let mut hasher = Sha256::new();
    hasher.update(policy_digest);
    hasher.update(records_digest(records).as_bytes());
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// A run id: the time and a random suffix, readable and unique.
pub fn new_run_id() -> String {
    let now = chrono::Utc::now();
    format!("{}-{}", now.format("%Y%m%dT%H%M%SZ"), &crate::jose::random_id()[..8])
}

/// Plans against an org already read. Pure: no I/O.
pub fn plan_with_snapshot(
    policy: &Policy,
    records: &[IdentityRecord],
    snapshot: &OrgSnapshot,
    org_url: &str,
    restorable: &actions::Restorer<'_>,
) -> Plan {
    let mut context = PlanContext::new(policy, snapshot, restorable);
    let mut issues = Vec::new();
    let mut summary = Summary { records: records.len(), ..Default::default() };
    let mut seen_keys = HashSet::with_capacity(records.len());
    // First pass: every record's key, workflow, attributes and matched user, so that two
    // records resolving to one Okta user are found before anything is decided for either.
    let mut prepared = Vec::with_capacity(records.len());
    for (index, record) in records.iter().enumerate() {
        let row = index + 1;
        let key = record.text(&policy.source.key).filter(|k| !k.trim().is_empty());
        let issue = |message: String| RecordIssue { row, identity: key.clone(), message };
        let Some(key_text) = key.clone() else {
            issues.push(issue(format!("the key field {} is missing", policy.source.key)));
            continue;
        };
        if !seen_keys.insert(key_text.clone()) {
            issues.push(issue(format!("{} {key_text} appears more than once in the source", policy.source.key)));
            continue;
        }
        let Some(workflow) = policy.workflow_for(record) else {
            summary.unmatched += 1;
            continue;
        };
        let attributes = match render_attributes(policy, record, snapshot.schema()) {
            Ok(attributes) => attributes,
            Err(message) => {
                issues.push(issue(message));
                continue;
            }
        };
        let value = match_value(policy, record, &attributes, snapshot.schema()).as_ref().and_then(match_text);
        let user = match value.as_deref().map(|value| matched_user(policy, snapshot, value)) {
            Some(Ok(user)) => user,
            None => None,
            Some(Err(message)) => {
                issues.push(issue(message));
                continue;
            }
        };
        // The attributes are rendered again when the identity is decided: holding every
        // record's rendered attributes until then was a quarter of a large plan's memory.
        drop(attributes);
        let identity = Identity {
            key: key_text,
            row,
            record,
            workflow: workflow.name.clone(),
            attributes: Map::new(),
            user,
            target: None,
            planned_status: None,
            match_value: value,
        };
        prepared.push((identity, workflow));
    }
    drop(seen_keys);
    let mut claimants: std::collections::HashMap<&str, Vec<(usize, &str)>> = std::collections::HashMap::new();
    for (identity, _) in &prepared {
        if let Some(user) = &identity.user {
            claimants.entry(user.id.as_str()).or_default().push((identity.row, identity.key.as_str()));
        }
    }
    let mut shared_issues = Vec::new();
    for (identity, _) in &prepared {
        let (row, key) = (identity.row, &identity.key);
        let Some(user) = &identity.user else { continue };
        let others: Vec<String> = claimants[user.id.as_str()]
            .iter()
            .filter(|(other_row, _)| *other_row != row)
            .map(|(other_row, other_key)| format!("{} {other_key} (row {other_row})", policy.source.key))
            .collect();
        if !others.is_empty() {
            shared_issues.push(RecordIssue {
                row,
                identity: Some(key.clone()),
                message: format!(
                    "resolves to Okta user {} ({}) as does {}; one account cannot follow two records, so neither is acted on",
                    user.login,
                    user.id,
                    others.join(", ")
                ),
            });
        }
    }
    let shared_rows: HashSet<usize> = shared_issues.iter().map(|i| i.row).collect();
    issues.extend(shared_issues);
    for (mut identity, workflow) in prepared {
        if shared_rows.contains(&identity.row) {
            continue;
        }
        let (row, record) = (identity.row, identity.record);
        match render_attributes(policy, record, snapshot.schema()) {
            Ok(attributes) => identity.attributes = attributes,
            // Rendered once already without an issue: the same record and schema render alike.
            Err(message) => {
                issues.push(RecordIssue { row, identity: Some(identity.key.clone()), message });
                continue;
            }
        }
        identity.target =
            identity.user.map(|u| crate::lifecycle::plan::UserRef { id: Some(u.id.clone()), login: u.login.clone() });
        let before = context.changes.len();
        let lookup = |field: &str| record.text(field);
        let mut failure = None;
        for action in &workflow.actions {
            let outcome = match action {
                ActionSpec::SyncIdentities { create, activate, attributes } => actions::sync_identities::decide(
                    &mut context,
                    &mut identity,
                    &actions::sync_identities::SyncOptions {
                        create: *create,
                        activate: *activate,
                        attributes: attributes.as_deref(),
                    },
                ),
                ActionSpec::CreateEntitlement { name, description } => match name.render(&lookup) {
                    Ok(name) => {
                        let description = description.as_ref().and_then(|d| d.render(&lookup).ok());
                        actions::create_entitlement::decide(&mut context, Some(&identity), &name, description)
                    }
                    Err(e) => Err(format!("create_entitlement name: {e}")),
                },
                ActionSpec::ManageRelationships { mode, groups, exclusive_prefix, scope, roles, role_scope } => {
                    let names: std::result::Result<Vec<String>, String> = groups
                        .iter()
                        .map(|g| g.render(&lookup).map_err(|e| format!("manage_relationships group: {e}")))
                        .collect();
                    match names {
                        Ok(names) => {
                            let scope = actions::manage_relationships::Scope {
                                prefix: exclusive_prefix.as_deref(),
                                names: scope,
                                roles: role_scope,
                            };
                            actions::manage_relationships::decide(&mut context, &identity, *mode, &names, roles, &scope)
                        }
                        Err(e) => Err(e),
                    }
                }
                ActionSpec::DeprovisionIdentity { mode, remove_groups, logout, remove_roles, suspend_refused } => {
                    let options = actions::deprovision_identity::DeprovisionOptions {
                        mode: *mode,
                        remove_groups: *remove_groups,
                        logout: *logout,
                        remove_roles: *remove_roles,
                        suspend_refused: *suspend_refused,
                    };
                    actions::deprovision_identity::decide(&mut context, &mut identity, &options)
                }
                ActionSpec::ResetPassword { send_email, revoke_sessions } => {
                    actions::reset_password::decide(&mut context, &identity, *send_email, *revoke_sessions)
                }
                ActionSpec::ReactivateIdentity { restore_groups, restore_roles, send_email } => {
                    actions::reactivate_identity::decide(
                        &mut context,
                        &mut identity,
                        *restore_groups,
                        *restore_roles,
                        *send_email,
                    )
                }
            };
            if let Err(message) = outcome {
                failure = Some(format!("{}: {message}", action.kind().as_str()));
                break;
            }
        }
        if let Some(message) = failure {
            // Nothing is planned for an identity with an issue: half a workflow is worse than none.
            for dropped in context.changes.drain(before..) {
                if let Operation::CreateGroup { name, .. } = dropped.operation {
                    context.planned_groups.remove(&name.to_lowercase());
                }
            }
            context.claimed_logins.retain(|_, key| *key != identity.key);
            context.claimed_emails.retain(|_, key| *key != identity.key);
            issues.push(RecordIssue { row, identity: Some(identity.key.clone()), message });
            continue;
        }
        // A membership restored by a reactivation in a group that the identity's
        // synchronisation keeps it out of is not planned: the returner would hold the old
        // department's group until the next day's run took it away again.
        if let Some(excluded) = context.excluded_groups.get(&identity.key) {
            let mut index = before;
            while index < context.changes.len() {
                let change = &context.changes[index];
                let restored_elsewhere = change.action == crate::lifecycle::policy::ActionKind::ReactivateIdentity
                    && matches!(&change.operation, Operation::AddMember { group, .. }
                        if group.id.as_ref().is_some_and(|id| excluded.contains(id)));
                if restored_elsewhere {
                    context.changes.remove(index);
                } else {
                    index += 1;
                }
            }
        }
        if context.changes.len() == before {
            summary.unchanged += 1;
        }
    }
    issues.append(&mut context.notes);
    issues.sort_by_key(|issue| issue.row);
    let events = classify(policy, &context.changes);
    summary.issues = issues.len();
    summary.joiners = events.values().filter(|e| **e == IdentityEvent::Joiner).count();
    summary.movers = events.values().filter(|e| **e == IdentityEvent::Mover).count();
    summary.leavers = events.values().filter(|e| **e == IdentityEvent::Leaver).count();
    let mut changes = fold_memberships_into_creates(context.changes);
    // Apply order: by phase, and within a phase in decision order (stable sort).
    changes.sort_by_key(|c| c.phase());
    for (index, change) in changes.iter_mut().enumerate() {
        change.seq = index as u32 + 1;
    }
    for change in &changes {
        *summary.operations.entry(change.operation.name().to_owned()).or_insert(0) += 1;
    }
    let blocked = safety_verdict(&changes, &policy.safety, records.len());
    Plan {
        run_id: new_run_id(),
        policy: policy.name.clone(),
        org_url: org_url.to_owned(),
        created_at: chrono::Utc::now().to_rfc3339(),
        changes,
        issues,
        events,
        summary,
        blocked,
        source_digest: Some(source_digest(policy, records)),
        read: None,
    }
}

/// Okta adds a new user to up to 20 groups in the create request itself (`groupIds`): a joiner's
/// memberships in groups that already exist go there, which saves one request per membership.
fn fold_memberships_into_creates(changes: Vec<crate::lifecycle::plan::Change>) -> Vec<crate::lifecycle::plan::Change> {
    use std::collections::HashMap;
    let mut creates: HashMap<String, usize> = HashMap::new();
    for (index, change) in changes.iter().enumerate() {
        if let Operation::CreateUser { login, .. } = &change.operation {
            creates.insert(login.to_lowercase(), index);
        }
    }
    let mut folded: Vec<(usize, crate::lifecycle::plan::GroupRef)> = Vec::new();
    let mut taken: HashMap<usize, usize> = HashMap::new();
    let mut keep = vec![true; changes.len()];
    for (index, change) in changes.iter().enumerate() {
        let Operation::AddMember { user, group } = &change.operation else { continue };
        if user.id.is_some() || group.id.is_none() {
            continue;
        }
        let Some(&create) = creates.get(&user.login.to_lowercase()) else { continue };
        let count = taken.entry(create).or_insert(0);
        if *count < crate::okta::MAX_GROUP_IDS_AT_CREATE {
            *count += 1;
            folded.push((create, group.clone()));
            keep[index] = false;
        }
    }
    let mut changes = changes;
    for (create, group) in folded {
        if let Operation::CreateUser { groups, .. } = &mut changes[create].operation {
            groups.push(group);
        }
    }
    changes.into_iter().zip(keep).filter_map(|(change, keep)| keep.then_some(change)).collect()
}

fn classify(policy: &Policy, changes: &[crate::lifecycle::plan::Change]) -> BTreeMap<String, IdentityEvent> {
    let movers: BTreeSet<&str> = policy.movers.iter().map(String::as_str).collect();
    let mut events: BTreeMap<String, IdentityEvent> = BTreeMap::new();
    for change in changes {
        let Some(key) = &change.identity else { continue };
        let event = match &change.operation {
            Operation::CreateUser { .. } => IdentityEvent::Joiner,
            Operation::DeactivateUser { .. } | Operation::SuspendUser { .. } => IdentityEvent::Leaver,
            Operation::ActivateUser { .. } | Operation::UnsuspendUser { .. } => IdentityEvent::Returner,
            Operation::UpdateUser { changes, .. } if changes.iter().any(|c| movers.contains(c.attribute.as_str())) => {
                IdentityEvent::Mover
            }
            Operation::CreateGroup { .. } => continue,
            _ => IdentityEvent::Updated,
        };
        let entry = events.entry(key.clone()).or_insert(event);
        // The strongest event wins: joiner and leaver over returner over mover over updated.
        if rank(event) > rank(*entry) {
            *entry = event;
        }
    }
    events
}

fn rank(event: IdentityEvent) -> u8 {
    match event {
        IdentityEvent::Updated => 0,
        IdentityEvent::Mover => 1,
        IdentityEvent::Returner => 2,
        IdentityEvent::Leaver | IdentityEvent::Joiner => 3,
    }
}
