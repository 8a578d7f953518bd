//! Applying a plan: in dependency order (groups, then users, then memberships, then
//! deprovisions and reactivations, then password resets), with bounded concurrency under the
//! client's rate-limit governor, journaling every change before and after it is sent.
//!
//! One identity's failure never stops the others. A change whose prerequisite failed (a
//! membership for a user that could not be created) is skipped and reported. Resuming an
//! interrupted run skips what succeeded, and checks Okta for what was in flight: a create or a
//! status change that turns out to have happened is recorded as done, not repeated. A password
//! reset in flight is never repeated: it is reported as unknown.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

use futures_util::{stream, StreamExt};
use serde::Serialize;
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::http::OktaClient;
use crate::lifecycle::journal::{ChangeStatus, Journal, UserSnapshot};
use crate::lifecycle::plan::{Change, GroupRef, Operation, Plan, UserRef};
use crate::okta::{CreateUser, UserStatus};
use crate::secret::SecretString;

/// How to apply.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Changes in flight at once (the governor still paces them to Okta's limits).
    pub concurrency: usize,
    /// Apply even though the plan exceeds the policy's safety limits.
    pub override_safety: bool,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions { concurrency: 16, override_safety: false }
    }
}

/// What became of one change.
#[derive(Debug, Clone, Serialize)]
pub struct ChangeOutcome {
    /// The change's position in the plan.
    pub seq: u32,
    /// The operation's name.
    pub operation: String,
    /// The identity's source key.
    pub identity: Option<String>,
    /// The user's login.
    pub login: Option<String>,
    /// Where it ended.
    pub status: ChangeStatus,
    /// Why it failed, was skipped or is unknown.
    pub message: Option<String>,
    /// Okta's error code, when Okta refused it.
    pub error_code: Option<String>,
    /// Okta's request id of the failing request.
    pub request_id: Option<String>,
    /// True when the change had already been done before this apply (a resume).
    pub already_done: bool,
}

/// The result of an apply.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The run.
    pub run_id: String,
    /// One outcome per change, in plan order.
    pub outcomes: Vec<ChangeOutcome>,
    /// Counts by status.
    pub counts: BTreeMap<String, usize>,
    /// Password-reset links returned by Okta (`send_email = false`), by login. Secrets: they
    /// are not serialised and never journaled.
    #[serde(skip)]
    pub reset_links: Vec<(String, SecretString)>,
}

impl Report {
    /// True when every change succeeded (or had already).
    pub fn is_success(&self) -> bool {
        self.outcomes.iter().all(|o| o.status == ChangeStatus::Succeeded)
    }

    /// A human-readable account.
    pub fn render(&self) -> String {
        let mut out = format!("Run {}:", self.run_id);
        for (status, count) in &self.counts {
            out.push_str(&format!(" {count} {status},"));
        }
        out.pop();
        out.push('\n');
        for outcome in self.outcomes.iter().filter(|o| o.status != ChangeStatus::Succeeded) {
            out.push_str(&format!(
                "  {:>4}  {:<10} {:<16} {} {}\n",
                outcome.seq,
                format!("{:?}", outcome.status).to_lowercase(),
                outcome.operation,
                outcome.login.as_deref().unwrap_or("-"),
                outcome.message.as_deref().unwrap_or("")
            ));
        }
        out
    }
}

/// Ids learnt while applying: users by login, groups by name (both folded).
#[derive(Default)]
struct Resolved {
    users: HashMap<String, String>,
    groups: HashMap<String, String>,
    failed_users: HashSet<String>,
    failed_groups: HashSet<String>,
    /// Identities whose deprovision snapshot failed: nothing else may happen to them.
    unsafe_identities: HashSet<String>,
}

enum Done {
    Succeeded(Option<Value>),
    Skipped(String),
}

/// Applies a plan, journaling it under its run id. Applying the same plan again resumes it.
pub async fn apply(client: &OktaClient, plan: &Plan, journal: &Journal, options: &ApplyOptions) -> Result<Report> {
    if !plan.blocked.is_empty() && !options.override_safety {
        return Err(Error::PlanBlocked { reasons: plan.blocked.clone() });
    }
    journal.begin_run(plan)?;
    let resolved = Mutex::new(Resolved::default());
    let reset_links = Mutex::new(Vec::new());
    let mut outcomes: BTreeMap<u32, ChangeOutcome> = BTreeMap::new();
    for phase in 0..=4u8 {
        let chains = chains_of(plan, phase);
        if chains.is_empty() {
            continue;
        }
        let results: Vec<Vec<ChangeOutcome>> = stream::iter(chains)
            .map(|chain| run_chain(client, plan, journal, chain, &resolved, &reset_links))
            .buffer_unordered(options.concurrency.max(1))
            .collect()
            .await;
        for outcome in results.into_iter().flatten() {
            outcomes.insert(outcome.seq, outcome);
        }
    }
    let outcomes: Vec<ChangeOutcome> = outcomes.into_values().collect();
    let mut counts = BTreeMap::new();
    for outcome in &outcomes {
        *counts.entry(format!("{:?}", outcome.status).to_lowercase()).or_insert(0) += 1;
    }
    let finished =
        if outcomes.iter().all(|o| o.status == ChangeStatus::Succeeded) { "succeeded" } else { "finished_with_errors" };
    journal.finish_run(&plan.run_id, finished)?;
    Ok(Report {
        run_id: plan.run_id.clone(),
        outcomes,
        counts,
        reset_links: reset_links.into_inner().unwrap_or_else(|e| e.into_inner()),
    })
}

/// The changes of a phase as chains of plan indices. Deprovisions and reactivations run one
/// user at a time, in plan order; across users, and in every other phase, changes run
/// concurrently.
fn chains_of(plan: &Plan, phase: u8) -> Vec<Vec<usize>> {
    let indices = plan.changes.iter().enumerate().filter(|(_, c)| c.phase() == phase).map(|(i, _)| i);
    if phase != 3 {
        return indices.map(|i| vec![i]).collect();
    }
    let mut by_user: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for index in indices {
        by_user
            .entry(plan.changes[index].operation.login().unwrap_or_default().to_lowercase())
            .or_default()
            .push(index);
    }
    by_user.into_values().collect()
}

async fn run_chain(
    client: &OktaClient,
    plan: &Plan,
    journal: &Journal,
    chain: Vec<usize>,
    resolved: &Mutex<Resolved>,
    reset_links: &Mutex<Vec<(String, SecretString)>>,
) -> Vec<ChangeOutcome> {
    let mut outcomes = Vec::new();
    for index in chain {
        outcomes.push(run_change(client, plan, journal, &plan.changes[index], resolved, reset_links).await);
    }
    outcomes
}

fn fold(text: &str) -> String {
    text.to_lowercase()
}

fn resolve_user(resolved: &Mutex<Resolved>, user: &UserRef) -> std::result::Result<String, String> {
    let state = resolved.lock().unwrap_or_else(|e| e.into_inner());
    resolve(user.id.as_ref(), &user.login, "user", &state.users, &state.failed_users)
}

fn resolve_group(resolved: &Mutex<Resolved>, group: &GroupRef) -> std::result::Result<String, String> {
    let state = resolved.lock().unwrap_or_else(|e| e.into_inner());
    resolve(group.id.as_ref(), &group.name, "group", &state.groups, &state.failed_groups)
}

/// The id of a user or group: known when planning, or learnt from its create in this run.
fn resolve(
    id: Option<&String>,
    key: &str,
    kind: &str,
    known: &HashMap<String, String>,
    failed: &HashSet<String>,
) -> std::result::Result<String, String> {
    if let Some(id) = id {
        return Ok(id.clone());
    }
    if failed.contains(&fold(key)) {
        return Err(format!("{kind} {key:?} was not created"));
    }
    known.get(&fold(key)).cloned().ok_or_else(|| format!("{kind} {key:?} has no id yet"))
}

/// Records ids that a finished change made known.
fn learn(resolved: &Mutex<Resolved>, change: &Change, result: Option<&Value>, succeeded: bool) {
    let mut resolved = resolved.lock().unwrap_or_else(|e| e.into_inner());
    match (&change.operation, succeeded) {
        (Operation::CreateUser { login, .. }, true) => {
            if let Some(id) = result.and_then(|r| r.get("user_id")).and_then(Value::as_str) {
                resolved.users.insert(fold(login), id.to_owned());
            }
        }
        (Operation::CreateUser { login, .. }, false) => {
            resolved.failed_users.insert(fold(login));
        }
        (Operation::CreateGroup { name, .. }, true) => {
            if let Some(id) = result.and_then(|r| r.get("group_id")).and_then(Value::as_str) {
                resolved.groups.insert(fold(name), id.to_owned());
            }
        }
        (Operation::CreateGroup { name, .. }, false) => {
            resolved.failed_groups.insert(fold(name));
        }
        (Operation::SnapshotUser { user }, false) => {
            resolved.unsafe_identities.insert(fold(&user.login));
        }
        _ => {}
    }
}

async fn run_change(
    client: &OktaClient,
    plan: &Plan,
    journal: &Journal,
    change: &Change,
    resolved: &Mutex<Resolved>,
    reset_links: &Mutex<Vec<(String, SecretString)>>,
) -> ChangeOutcome {
    let mut outcome = ChangeOutcome {
        seq: change.seq,
        operation: change.operation.name().to_owned(),
        identity: change.identity.clone(),
        login: change.operation.login().map(str::to_owned),
        status: ChangeStatus::Failed,
        message: None,
        error_code: None,
        request_id: None,
        already_done: false,
    };
    let recorded = match journal.change_status(&plan.run_id, change.seq) {
        Ok(recorded) => recorded,
        Err(error) => {
            outcome.message = Some(error.to_string());
            return outcome;
        }
    };
    match recorded {
        Some((ChangeStatus::Succeeded, result)) => {
            learn(resolved, change, result.as_ref(), true);
            outcome.status = ChangeStatus::Succeeded;
            outcome.already_done = true;
            return outcome;
        }
        Some((ChangeStatus::Started | ChangeStatus::Unknown, _)) => {
            // In flight when the last apply stopped: find out whether it happened.
            match verify(client, change, resolved).await {
                Ok(Some(result)) => {
                    let _ = journal.mark(&plan.run_id, change, ChangeStatus::Succeeded, result.as_ref(), None, None);
                    learn(resolved, change, result.as_ref(), true);
                    outcome.status = ChangeStatus::Succeeded;
                    outcome.already_done = true;
                    return outcome;
                }
                Ok(None) => {}
                Err(message) => {
                    let _ = journal.mark(&plan.run_id, change, ChangeStatus::Unknown, None, Some(&message), None);
                    outcome.status = ChangeStatus::Unknown;
                    outcome.message = Some(message);
                    return outcome;
                }
            }
        }
        _ => {}
    }
    if let Some(login) = change.operation.login() {
        let blocked = resolved.lock().unwrap_or_else(|e| e.into_inner()).unsafe_identities.contains(&fold(login));
        if blocked && !matches!(change.operation, Operation::SnapshotUser { .. }) {
            let message = "skipped: the user's history could not be recorded first".to_owned();
            let _ = journal.mark(&plan.run_id, change, ChangeStatus::Skipped, None, Some(&message), None);
            outcome.status = ChangeStatus::Skipped;
            outcome.message = Some(message);
            return outcome;
        }
    }
    if let Err(error) = journal.mark(&plan.run_id, change, ChangeStatus::Started, None, None, None) {
        outcome.message = Some(error.to_string());
        return outcome;
    }
    let result = execute(client, plan, journal, change, resolved, reset_links).await;
    match result {
        Ok(Done::Succeeded(result)) => {
            learn(resolved, change, result.as_ref(), true);
            let _ = journal.mark(&plan.run_id, change, ChangeStatus::Succeeded, result.as_ref(), None, None);
            outcome.status = ChangeStatus::Succeeded;
        }
        Ok(Done::Skipped(message)) => {
            learn(resolved, change, None, false);
            let _ = journal.mark(&plan.run_id, change, ChangeStatus::Skipped, None, Some(&message), None);
            outcome.status = ChangeStatus::Skipped;
            outcome.message = Some(message);
        }
        Err(Error::OutcomeUnknown { reason, .. }) => {
            // Check right away where Okta can tell; otherwise report, never repeat.
            let verified = verify(client, change, resolved).await;
            match verified {
                Ok(Some(result)) => {
                    learn(resolved, change, result.as_ref(), true);
                    let _ = journal.mark(&plan.run_id, change, ChangeStatus::Succeeded, result.as_ref(), None, None);
                    outcome.status = ChangeStatus::Succeeded;
                }
                _ => {
                    learn(resolved, change, None, false);
                    let message = format!("outcome unknown: {reason}");
                    let _ = journal.mark(&plan.run_id, change, ChangeStatus::Unknown, None, Some(&message), None);
                    outcome.status = ChangeStatus::Unknown;
                    outcome.message = Some(message);
                }
            }
        }
        Err(error) => {
            learn(resolved, change, None, false);
            let api = error.api();
            outcome.error_code = api.and_then(|a| a.error_code.clone());
            outcome.request_id = api.and_then(|a| a.request_id.clone());
            let message = error.to_string();
            let _ = journal.mark(
                &plan.run_id,
                change,
                ChangeStatus::Failed,
                None,
                Some(&message),
                outcome.request_id.as_deref(),
            );
            outcome.message = Some(message);
            outcome.status = ChangeStatus::Failed;
        }
    }
    outcome
}

async fn execute(
    client: &OktaClient,
    plan: &Plan,
    journal: &Journal,
    change: &Change,
    resolved: &Mutex<Resolved>,
    reset_links: &Mutex<Vec<(String, SecretString)>>,
) -> Result<Done> {
    let users = client.users();
    let user_id = |user: &UserRef| resolve_user(resolved, user);
    macro_rules! or_skip {
        ($value:expr) => {
            match $value {
                Ok(value) => value,
                Err(message) => return Ok(Done::Skipped(format!("skipped: {message}"))),
            }
        };
    }
    match &change.operation {
        Operation::CreateGroup { name, description } => {
            let group = client.groups().create(name, description.as_deref()).await?;
            Ok(Done::Succeeded(Some(json!({ "group_id": group.id() }))))
        }
        Operation::CreateUser { profile, activate, groups, .. } => {
            let mut request = CreateUser::new(profile.clone());
            request.activate = *activate;
            request.group_ids = groups.iter().filter_map(|g| g.id.clone()).collect();
            let user = users.create(&request).await?;
            Ok(Done::Succeeded(Some(json!({ "user_id": user.id(), "status": user.status().as_str() }))))
        }
        Operation::UpdateUser { user, changes } => {
            let id = or_skip!(user_id(user));
            let profile = changes.iter().map(|c| (c.attribute.clone(), c.after.clone())).collect();
            users.update_profile(&id, &profile).await?;
            Ok(Done::Succeeded(Some(json!({ "user_id": id }))))
        }
        Operation::AddMember { user, group } => {
            let id = or_skip!(user_id(user));
            let group_id = or_skip!(resolve_group(resolved, group));
            client.groups().add_member(&group_id, &id).await?;
            Ok(Done::Succeeded(Some(json!({ "user_id": id, "group_id": group_id }))))
        }
        Operation::RemoveMember { user, group } => {
            let id = or_skip!(user_id(user));
            let group_id = or_skip!(resolve_group(resolved, group));
            match client.groups().remove_member(&group_id, &id).await {
                // Already gone (the group was deleted meanwhile): the goal holds.
                Err(error) if error.is_not_found() => {}
                other => other?,
            }
            Ok(Done::Succeeded(Some(json!({ "user_id": id, "group_id": group_id }))))
        }
        Operation::SnapshotUser { user } => {
            let id = or_skip!(user_id(user));
            let current = users.get(&id).await?;
            let mut groups = Vec::new();
            let mut listing = users.groups(&id)?;
            while let Some(group) = listing.next().await {
                let group = group?;
                groups.push((group.id().to_owned(), group.name().unwrap_or_default().to_owned()));
            }
            journal.record_snapshot(&UserSnapshot {
                run_id: plan.run_id.clone(),
                user_id: id.clone(),
                login: current.login().unwrap_or_default().to_owned(),
                taken_at: chrono::Utc::now().to_rfc3339(),
                status: current.status().as_str().to_owned(),
                profile: current.profile().clone(),
                groups,
            })?;
            Ok(Done::Succeeded(Some(json!({ "user_id": id }))))
        }
        Operation::DeactivateUser { user }
        | Operation::SuspendUser { user }
        | Operation::ActivateUser { user }
        | Operation::UnsuspendUser { user }
        | Operation::ClearSessions { user, .. } => {
            let id = or_skip!(user_id(user));
            match &change.operation {
                Operation::DeactivateUser { .. } => users.deactivate(&id, false).await?,
                Operation::SuspendUser { .. } => users.suspend(&id).await?,
                Operation::ActivateUser { .. } => users.activate(&id, false).await.map(drop)?,
                Operation::UnsuspendUser { .. } => users.unsuspend(&id).await?,
                Operation::ClearSessions { oauth_tokens, .. } => users.clear_sessions(&id, *oauth_tokens, None).await?,
                _ => unreachable!("matched above"),
            }
            Ok(Done::Succeeded(Some(json!({ "user_id": id }))))
        }
        Operation::ResetPassword { user, send_email, revoke_sessions } => {
            let id = or_skip!(user_id(user));
            if let Some(link) = users.reset_password(&id, *send_email, *revoke_sessions).await? {
                reset_links.lock().unwrap_or_else(|e| e.into_inner()).push((user.login.clone(), link));
            }
            Ok(Done::Succeeded(Some(json!({ "user_id": id }))))
        }
    }
}

/// Finds out whether a change that was in flight took effect. `Ok(Some(result))`: it did;
/// `Ok(None)`: it did not, and doing it now is safe; `Err`: it cannot be known and must not be
/// repeated.
async fn verify(
    client: &OktaClient,
    change: &Change,
    resolved: &Mutex<Resolved>,
) -> std::result::Result<Option<Option<Value>>, String> {
    let users = client.users();
    let status_of = |id: String| {
        let users = users.clone();
        async move { users.get(&id).await.map(|u| u.status()).map_err(|e| e.to_string()) }
    };
    match &change.operation {
        Operation::CreateUser { login, .. } => match users.get(login).await {
            Ok(user) => Ok(Some(Some(json!({ "user_id": user.id(), "status": user.status().as_str() })))),
            Err(error) if error.is_not_found() => Ok(None),
            Err(error) => Err(error.to_string()),
        },
        Operation::CreateGroup { name, .. } => match client.groups().find_by_name(name).await {
            Ok(Some(group)) => Ok(Some(Some(json!({ "group_id": group.id() })))),
            Ok(None) => Ok(None),
            Err(error) => Err(error.to_string()),
        },
        Operation::DeactivateUser { user } => {
            let Ok(id) = resolve_user(resolved, user) else { return Ok(None) };
            let done = status_of(id.clone()).await? == UserStatus::Deprovisioned;
            Ok(done.then(|| Some(json!({ "user_id": id }))))
        }
        Operation::SuspendUser { user } => {
            let Ok(id) = resolve_user(resolved, user) else { return Ok(None) };
            let done = status_of(id.clone()).await? == UserStatus::Suspended;
            Ok(done.then(|| Some(json!({ "user_id": id }))))
        }
        Operation::ActivateUser { user } | Operation::UnsuspendUser { user } => {
            let Ok(id) = resolve_user(resolved, user) else { return Ok(None) };
            let status = status_of(id.clone()).await?;
            let done = !matches!(status, UserStatus::Deprovisioned | UserStatus::Suspended);
            Ok(done.then(|| Some(json!({ "user_id": id }))))
        }
        Operation::ResetPassword { user, .. } => Err(format!(
            "a password reset for {} may already have been sent; resets are never repeated automatically",
            user.login
        )),
        // Setting attributes, memberships, logging out and recording history are safe to do
        // again.
        Operation::UpdateUser { .. }
        | Operation::AddMember { .. }
        | Operation::RemoveMember { .. }
        | Operation::ClearSessions { .. }
        | Operation::SnapshotUser { .. } => Ok(None),
    }
}
