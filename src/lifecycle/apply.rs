//! Applying a plan: in dependency order (groups, then users, then memberships, then
//! deprovisions and reactivations, then password resets), with bounded concurrency under the
//! client's rate-limit governor, journaling every change before and after it is sent.
//!
//! One identity's failure never stops the others. A change whose prerequisite failed (a
//! membership for a user that could not be created) is skipped and reported. Resuming an
//! interrupted run skips what succeeded, and checks Okta for what was in flight: a create or a
//! status change that turns out to have happened is recorded as done, not repeated. A password
//! reset in flight is never repeated: it is reported as unknown.
//!
//! Before anything is sent, the plan is checked against what the journal recorded when it was
//! made (the same digest, the same org), and the safety verdict is derived again from the
//! changes themselves. One applier owns a run at a time (a lease in the journal, renewed while
//! it works), and each change is claimed with a compare-and-set before it is sent, so that no
//! write is sent twice by two appliers.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use futures_util::{stream, StreamExt};
use serde::Serialize;
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::http::OktaClient;
use crate::lifecycle::journal::{
    new_lease_owner, off_runtime, plan_digest, ChangeStatus, Fence, Journal, LeaseOutcome, Outcome, SnapshotRole,
    UserSnapshot,
};
use crate::lifecycle::plan::{safety_verdict, Change, GroupRef, Operation, Plan, UserRef};
use crate::okta::logs::{CLOCK_MARGIN, LOG_RETENTION};
use crate::okta::roles::GROUP_SCOPED_ROLE_TYPES;
use crate::okta::{Assignee, CreateUser, UserStatus};
use crate::secret::SecretString;

/// How to apply.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Changes in flight at once (the governor still paces them to Okta's limits).
    pub concurrency: usize,
    /// Apply even though the plan exceeds the policy's safety limits.
    pub override_safety: bool,
    /// How long to wait when another applier owns the run; `None` refuses at once with
    /// [`Error::RunInProgress`].
    pub wait_for_lease: Option<Duration>,
    /// How long after a send Okta's System Log is taken to hold every event of it (Okta writes
    /// the log in near real time, not at once). A password reset whose answer was lost is
    /// settled from the log: its event means it was made; no event once the log shows a later
    /// one, or once this long has passed since the send, means it was not, and it is sent again.
    pub log_settle: Duration,
}

/// The default [`ApplyOptions::log_settle`].
pub const LOG_SETTLE: Duration = Duration::from_secs(30);

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions { concurrency: 16, override_safety: false, wait_for_lease: None, log_settle: LOG_SETTLE }
    }
}

/// How long a run's lease lasts without renewal; an applier that stops renewing (killed, or
/// stalled) loses the run after this. A killed applier of this host loses it at once.
pub const LEASE_TTL: Duration = Duration::from_secs(60);
/// How often a working applier renews its lease.
const LEASE_RENEWAL: Duration = Duration::from_secs(15);

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
    /// The journal could not record this outcome: the change's row may not say what happened
    /// (a resume checks Okta again).
    pub journal_error: Option<String>,
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
    /// Activation links of reactivated users (`send_email = false`), by login. Secrets, as
    /// above.
    #[serde(skip)]
    pub activation_links: Vec<(String, SecretString)>,
    /// The journal could not record the end of the run (or give its lease back): the changes
    /// above happened as reported, and the links Okta issued are here, but the run's row may
    /// still say `applying` (the next apply finds every change done).
    pub journal_error: Option<String>,
}

impl Report {
    /// True when every change succeeded (or had already) and the journal recorded every outcome.
    pub fn is_success(&self) -> bool {
        self.journal_error.is_none()
            && self.outcomes.iter().all(|o| o.status == ChangeStatus::Succeeded && o.journal_error.is_none())
    }

    /// A human-readable account.
    pub fn render(&self) -> String {
        let mut out = format!("Run {}:", self.run_id);
        for (status, count) in &self.counts {
            out.push_str(&format!(" {count} {status},"));
        }
        out.pop();
        out.push('\n');
        if let Some(error) = &self.journal_error {
            out.push_str(&format!("  the journal could not record the end of the run: {error}\n"));
        }
        for outcome in self.outcomes.iter().filter(|o| o.status != ChangeStatus::Succeeded || o.journal_error.is_some())
        {
            out.push_str(&format!(
                "  {:>4}  {:<10} {:<16} {} {}\n",
                outcome.seq,
                outcome.status.as_str(),
                outcome.operation,
                outcome.login.as_deref().unwrap_or("-"),
                outcome.message.as_deref().unwrap_or("")
            ));
            if let Some(error) = &outcome.journal_error {
                out.push_str(&format!("        journal not updated: {error}\n"));
            }
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
    /// Users (folded logins) on whom nothing more may be done in this run, and why: a
    /// deprovision whose snapshot was not recorded, a reactivation that did not happen.
    blocked_users: HashMap<String, String>,
}

enum Done {
    /// Done, with what Okta answered, and a note when the answer was lost or unreadable.
    Succeeded {
        result: Option<Value>,
        note: Option<String>,
    },
    Skipped(String),
}

impl Done {
    fn answered(result: Value) -> Result<Done> {
        Ok(Done::Succeeded { result: Some(result), note: None })
    }
}

/// Links Okta returned, by login (secrets).
type Links = Mutex<Vec<(String, SecretString)>>;

/// What every change of one apply shares.
struct Context<'a> {
    client: &'a OktaClient,
    plan: &'a Plan,
    journal: &'a Journal,
    resolved: Mutex<Resolved>,
    reset_links: Links,
    activation_links: Links,
    /// Set when the lease could not be renewed: nothing more is claimed.
    lease_lost: AtomicBool,
    /// The run's lease, named in every claim and every recorded outcome.
    fence: Fence,
    /// Until when this applier's own monotonic clock says its lease holds (its last renewal
    /// plus the lease's lifetime, less a renewal period). Past it (the process was stopped, the
    /// machine paused), the journal is asked again before anything more is sent.
    lease_until: Mutex<std::time::Instant>,
    /// [`ApplyOptions::log_settle`].
    log_settle: Duration,
}

impl Context<'_> {
    /// Whether this applier still owns the run: asked before every request that writes. Past
    /// the moment its own clock trusts the lease, the lease is renewed first, which fails when
    /// another applier has taken the run over meanwhile.
    fn still_owns_run(&self) -> bool {
        if self.lease_lost.load(Ordering::SeqCst) {
            return false;
        }
        let now = std::time::Instant::now();
        if now < *self.lease_until.lock().unwrap_or_else(|e| e.into_inner()) {
            return true;
        }
        match off_runtime(|| self.journal.renew_lease(&self.plan.run_id, &self.fence, LEASE_TTL)) {
            Ok(true) => {
                *self.lease_until.lock().unwrap_or_else(|e| e.into_inner()) = now + LEASE_TTL - LEASE_RENEWAL;
                true
            }
            Ok(false) | Err(_) => {
                tracing::warn!(run_id = self.plan.run_id, "the run's lease was taken over; nothing more is sent");
                self.lease_lost.store(true, Ordering::SeqCst);
                false
            }
        }
    }
}

/// Applies a plan, journaling it under its run id. Applying the same plan again resumes it.
///
/// Refused before anything is sent: a plan the journal did not record when it was made, one
/// that differs from that record, one made for another org, one another run of the same policy
/// over the same records began after ([`Error::PlanRejected`]); one the
/// safety limits recorded with it block, unless overridden ([`Error::PlanBlocked`]); one that
/// another applier is applying ([`Error::RunInProgress`], or a wait, by option).
pub async fn apply(client: &OktaClient, plan: &Plan, journal: &Journal, options: &ApplyOptions) -> Result<Report> {
    check_plan(client, plan, journal, options)?;
    let owner = new_lease_owner();
    let lease = Lease::acquire(journal, &plan.run_id, &owner, options.wait_for_lease).await?;
    let acquired_at = std::time::Instant::now();
    off_runtime(|| journal.begin_run(&plan.run_id))?;
    let context = Context {
        client,
        plan,
        journal,
        resolved: Mutex::new(Resolved::default()),
        reset_links: Mutex::new(Vec::new()),
        activation_links: Mutex::new(Vec::new()),
        lease_lost: AtomicBool::new(false),
        fence: lease.fence.clone(),
        lease_until: Mutex::new(acquired_at + LEASE_TTL - LEASE_RENEWAL),
        log_settle: options.log_settle,
    };
    let outcomes = {
        let work = std::pin::pin!(run_phases(&context, options.concurrency));
        let renewal = std::pin::pin!(renew_lease(&context));
        match futures_util::future::select(work, renewal).await {
            futures_util::future::Either::Left((outcomes, _)) => outcomes,
            futures_util::future::Either::Right((_, work)) => work.await,
        }
    };
    let mut counts = BTreeMap::new();
    for outcome in &outcomes {
        *counts.entry(outcome.status.as_str().to_owned()).or_insert(0) += 1;
    }
    let finished = if outcomes.iter().all(|o| o.status == ChangeStatus::Succeeded) {
        "succeeded"
    } else if outcomes.iter().any(|o| matches!(o.status, ChangeStatus::Started | ChangeStatus::Planned)) {
        "applying"
    } else {
        "finished_with_errors"
    };
    // Changes were sent and links issued: a journal that cannot record the run's end is
    // reported with them, never instead of them (a lost link leaves its user with no way in).
    let mut journal_error = off_runtime(|| journal.finish_run(&plan.run_id, finished)).err().map(|e| e.to_string());
    if let Err(error) = lease.release() {
        journal_error.get_or_insert_with(|| error.to_string());
    }
    if let Some(error) = &journal_error {
        tracing::warn!(run_id = plan.run_id, error = %error, "the journal could not record the end of the run");
    }
    Ok(Report {
        run_id: plan.run_id.clone(),
        outcomes,
        counts,
        reset_links: context.reset_links.into_inner().unwrap_or_else(|e| e.into_inner()),
        activation_links: context.activation_links.into_inner().unwrap_or_else(|e| e.into_inner()),
        journal_error,
    })
}

/// The plan must be the one the journal recorded, for this client's org, and within the
/// safety limits recorded with it (derived again from its changes) unless overridden.
fn check_plan(client: &OktaClient, plan: &Plan, journal: &Journal, options: &ApplyOptions) -> Result<()> {
    let rejected = |reason: String| Error::PlanRejected { run_id: plan.run_id.clone(), reason, superseded_by: None };
    let Some(recorded) = off_runtime(|| journal.recorded_run(&plan.run_id))? else {
        return Err(rejected(
            "it was not made with this journal (a plan is recorded when it is made, so that what is applied is what was planned); plan again with this journal".into(),
        ));
    };
    match &recorded.digest {
        Some(digest) if *digest == plan_digest(plan) => {}
        Some(_) => {
            return Err(rejected(
                "it differs from the plan recorded when it was made (edited or damaged); plan again".into(),
            ))
        }
        None => return Err(rejected("it was recorded by an older release without a digest; plan again".into())),
    }
    let org = client.config().org_url.as_str();
    if !same_org(&plan.org_url, org) || !same_org(&recorded.org_url, org) {
        return Err(rejected(format!("it was made for {} and this client works on {org}", recorded.org_url)));
    }
    let blocked = safety_verdict(&plan.changes, &recorded.safety, recorded.records);
    if !blocked.is_empty() && !options.override_safety {
        return Err(Error::PlanBlocked { reasons: blocked });
    }
    Ok(())
}

/// Whether two org URLs name the same org (scheme, host ignoring case, and port).
fn same_org(left: &str, right: &str) -> bool {
    match (url::Url::parse(left), url::Url::parse(right)) {
        (Ok(left), Ok(right)) => {
            left.scheme() == right.scheme()
                && left.host_str().map(str::to_lowercase) == right.host_str().map(str::to_lowercase)
                && left.port_or_known_default() == right.port_or_known_default()
        }
        _ => false,
    }
}

/// A run's lease, given back when the apply ends or is dropped (cancelled).
struct Lease<'a> {
    journal: &'a Journal,
    run_id: &'a str,
    fence: Fence,
    released: bool,
}

impl<'a> Lease<'a> {
    async fn acquire(journal: &'a Journal, run_id: &'a str, owner: &'a str, wait: Option<Duration>) -> Result<Self> {
        let deadline = wait.map(|wait| tokio::time::Instant::now() + wait.min(Duration::from_secs(86_400)));
        loop {
            match off_runtime(|| journal.acquire_lease(run_id, owner, LEASE_TTL))? {
                LeaseOutcome::Acquired(fence) => return Ok(Lease { journal, run_id, fence, released: false }),
                LeaseOutcome::Held { owner: holder } => match deadline {
                    Some(deadline) if tokio::time::Instant::now() < deadline => {
                        tokio::time::sleep(Duration::from_millis(250)).await;
                    }
                    _ => return Err(Error::RunInProgress { run_id: run_id.to_owned(), owner: holder }),
                },
                LeaseOutcome::Superseded { by } => {
                    return Err(Error::PlanRejected {
                        run_id: run_id.to_owned(),
                        reason: format!(
                            "run {by} of the same policy over the same records began after this plan was made, so \
                             the org has changed since; plan again"
                        ),
                        superseded_by: Some(by),
                    })
                }
            }
        }
    }

    fn release(mut self) -> Result<()> {
        self.released = true;
        self.journal.release_lease(self.run_id, &self.fence)
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if !self.released {
            if let Err(error) = self.journal.release_lease(self.run_id, &self.fence) {
                // The lease then lapses on its own (LEASE_TTL), or at once if this process ends.
                tracing::warn!(run_id = self.run_id, error = %error, "could not give back the run's lease");
            }
        }
    }
}

/// Renews the lease while the apply works; never returns.
async fn renew_lease(context: &Context<'_>) {
    loop {
        tokio::time::sleep(LEASE_RENEWAL).await;
        let now = std::time::Instant::now();
        match off_runtime(|| context.journal.renew_lease(&context.plan.run_id, &context.fence, LEASE_TTL)) {
            Ok(true) => {
                *context.lease_until.lock().unwrap_or_else(|e| e.into_inner()) = now + LEASE_TTL - LEASE_RENEWAL;
            }
            Ok(false) => {
                tracing::warn!(run_id = context.plan.run_id, "the run's lease was taken over; nothing more is sent");
                context.lease_lost.store(true, Ordering::SeqCst);
            }
            Err(error) => {
                tracing::warn!(run_id = context.plan.run_id, error = %error, "could not renew the run's lease")
            }
        }
    }
}

async fn run_phases(context: &Context<'_>, concurrency: usize) -> Vec<ChangeOutcome> {
    let mut outcomes: BTreeMap<u32, ChangeOutcome> = BTreeMap::new();
    for phase in 0..=crate::lifecycle::plan::LAST_PHASE {
        let chains = chains_of(context.plan, phase);
        if chains.is_empty() {
            continue;
        }
        let results: Vec<Vec<ChangeOutcome>> = stream::iter(chains)
            .map(|chain| run_chain(context, chain))
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
        for outcome in results.into_iter().flatten() {
            outcomes.insert(outcome.seq, outcome);
        }
    }
    outcomes.into_values().collect()
}

/// The changes of a phase as chains of plan indices. Deprovisions run one user at a time, in
/// plan order; across users, and in every other phase, changes run concurrently.
fn chains_of(plan: &Plan, phase: u8) -> Vec<Vec<usize>> {
    let indices = plan.changes.iter().enumerate().filter(|(_, c)| c.phase() == phase).map(|(i, _)| i);
    if phase != crate::lifecycle::plan::DEPROVISION_PHASE {
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

/// Runs one chain in order. A deprovision whose history could not be recorded stops there:
/// the rest of it (and anything else for that user in this run) is skipped, so that no account
/// is disabled without its snapshot.
async fn run_chain(context: &Context<'_>, chain: Vec<usize>) -> Vec<ChangeOutcome> {
    let mut outcomes = Vec::new();
    for index in chain {
        let change = &context.plan.changes[index];
        let outcome = run_change(context, change).await;
        block_after_failure(context, change, &outcome);
        outcomes.push(outcome);
    }
    outcomes
}

/// After a change that others of the same user depend on did not succeed, blocks the rest of
/// that user's run: a deprovision's snapshot (no account is disabled without its history), a
/// reactivation (Okta refuses updates and memberships of a disabled account, and a returner
/// half restored is worse than one not restored).
fn block_after_failure(context: &Context<'_>, change: &Change, outcome: &ChangeOutcome) {
    if outcome.status == ChangeStatus::Succeeded {
        return;
    }
    let reason = match &change.operation {
        Operation::SnapshotUser { .. } => "the user's history could not be recorded first",
        Operation::ActivateUser { .. } | Operation::UnsuspendUser { .. } => {
            "the account could not be reactivated first"
        }
        _ => return,
    };
    if let Some(login) = change.operation.login() {
        let mut resolved = context.resolved.lock().unwrap_or_else(|e| e.into_inner());
        resolved.blocked_users.entry(fold(login)).or_insert_with(|| reason.to_owned());
    }
}

impl ChangeOutcome {
    fn for_change(change: &Change) -> Self {
        ChangeOutcome {
            seq: change.seq,
            operation: change.operation.name().to_owned(),
            identity: change.identity.clone(),
            login: change.operation.login().map(str::to_owned),
            status: ChangeStatus::Failed,
            message: None,
            error_code: None,
            request_id: None,
            already_done: false,
            journal_error: None,
        }
    }
}

/// Records a change's new status; a journal failure is kept in the outcome, never dropped.
fn record(
    context: &Context<'_>,
    change: &Change,
    status: ChangeStatus,
    result: Option<&Value>,
    error: Option<&str>,
    request_id: Option<&str>,
    outcome: &mut ChangeOutcome,
) {
    record_sent(context, change, &Outcome { status, result, error, request_id }, &[], outcome);
}

/// Records a change's new status with the writes it sent (their request ids join Okta's System
/// Log with this change, whatever the outcome), in one journal transaction.
fn record_sent(
    context: &Context<'_>,
    change: &Change,
    settled: &Outcome<'_>,
    writes: &[crate::http::SentWrite],
    outcome: &mut ChangeOutcome,
) {
    let (run_id, fence) = (&context.plan.run_id, &context.fence);
    let recorded = off_runtime(|| context.journal.settle(run_id, change, settled, writes, Some(fence)));
    if let Err(journal_error) = recorded {
        tracing::warn!(run_id = context.plan.run_id, seq = change.seq, error = %journal_error, "journal write failed");
        outcome.journal_error = Some(journal_error.to_string());
    }
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
        _ => {}
    }
}

async fn run_change(context: &Context<'_>, change: &Change) -> ChangeOutcome {
    let (journal, run_id, resolved) = (context.journal, &context.plan.run_id, &context.resolved);
    let mut outcome = ChangeOutcome::for_change(change);
    let (recorded_status, recorded_result) = match off_runtime(|| journal.change_status(run_id, change.seq)) {
        Ok(Some(recorded)) => recorded,
        Ok(None) => {
            outcome.status = ChangeStatus::Skipped;
            outcome.message = Some("not sent: the change is not recorded in the journal".into());
            return outcome;
        }
        Err(error) => {
            outcome.status = ChangeStatus::Skipped;
            outcome.message = Some("not sent: the journal could not be read".into());
            outcome.journal_error = Some(error.to_string());
            return outcome;
        }
    };
    match recorded_status {
        ChangeStatus::Succeeded => {
            learn(resolved, change, recorded_result.as_ref(), true);
            outcome.status = ChangeStatus::Succeeded;
            outcome.already_done = true;
            return outcome;
        }
        ChangeStatus::Started | ChangeStatus::Unknown => {
            // In flight when the last apply stopped: find out whether it happened.
            let before_reset = recorded_result.as_ref().and_then(|r| r.get("status_before"));
            let unsent_reset = matches!(change.operation, Operation::ResetPassword { .. }) && before_reset.is_none();
            // A reset is sent only after the status before it is journaled: without that
            // status, it was never sent, and sending it now is its first time.
            let verified = if unsent_reset { Ok(None) } else { verify(context, change).await };
            match verified {
                Ok(Some(result)) => {
                    learn(resolved, change, result.as_ref(), true);
                    record(context, change, ChangeStatus::Succeeded, result.as_ref(), None, None, &mut outcome);
                    outcome.status = ChangeStatus::Succeeded;
                    outcome.already_done = true;
                    return outcome;
                }
                Ok(None) => {}
                Err(message) => {
                    record(context, change, ChangeStatus::Unknown, None, Some(&message), None, &mut outcome);
                    outcome.status = ChangeStatus::Unknown;
                    outcome.message = Some(message);
                    return outcome;
                }
            }
        }
        ChangeStatus::Planned | ChangeStatus::Failed | ChangeStatus::Skipped => {}
    }
    if !context.still_owns_run() {
        outcome.status = recorded_status;
        outcome.message = Some(LEASE_LOST.into());
        return outcome;
    }
    if let Some(login) = change.operation.login() {
        let blocked = resolved.lock().unwrap_or_else(|e| e.into_inner()).blocked_users.get(&fold(login)).cloned();
        if let Some(reason) = blocked.filter(|_| !matches!(change.operation, Operation::SnapshotUser { .. })) {
            let message = format!("skipped: {reason}");
            record(context, change, ChangeStatus::Skipped, None, Some(&message), None, &mut outcome);
            outcome.status = ChangeStatus::Skipped;
            outcome.message = Some(message);
            return outcome;
        }
    }
    // Claim the change: only the applier whose compare-and-set moves it to "started" sends it.
    match off_runtime(|| journal.claim(run_id, change, recorded_status, &context.fence)) {
        Ok(true) => {}
        Ok(false) => {
            outcome.status = off_runtime(|| journal.change_status(run_id, change.seq))
                .ok()
                .flatten()
                .map_or(recorded_status, |r| r.0);
            outcome.message = Some(if context.still_owns_run() {
                "not sent: another applier claimed it".into()
            } else {
                LEASE_LOST.into()
            });
            return outcome;
        }
        Err(error) => {
            outcome.status = ChangeStatus::Skipped;
            outcome.message = Some("not sent: the journal could not record it as started".into());
            outcome.journal_error = Some(error.to_string());
            return outcome;
        }
    }
    let (settled, writes) = crate::http::record_writes(settle(context, change)).await;
    // The request ids of what was sent go with the outcome: a System Log event is then joined
    // with this change (`drift`), whatever the outcome turns out to be.
    let done = |status, result, error, request_id| Outcome { status, result, error, request_id };
    match settled {
        Ok(Done::Succeeded { result, note }) => {
            learn(resolved, change, result.as_ref(), true);
            let settled = done(ChangeStatus::Succeeded, result.as_ref(), note.as_deref(), None);
            record_sent(context, change, &settled, &writes, &mut outcome);
            outcome.status = ChangeStatus::Succeeded;
            outcome.message = note;
        }
        Ok(Done::Skipped(message)) => {
            learn(resolved, change, None, false);
            record_sent(
                context,
                change,
                &done(ChangeStatus::Skipped, None, Some(&message), None),
                &writes,
                &mut outcome,
            );
            outcome.status = ChangeStatus::Skipped;
            outcome.message = Some(message);
        }
        Err(Error::RunInProgress { .. }) => {
            // The run was taken over between the claim and the send: nothing more was sent, and
            // the applier that owns the run now owns this change too. What was sent before is
            // still this change's.
            if let Err(journal_error) = off_runtime(|| journal.record_requests(run_id, change.seq, &writes)) {
                tracing::warn!(run_id, seq = change.seq, error = %journal_error, "journal write failed");
                outcome.journal_error = Some(journal_error.to_string());
            }
            outcome.status = ChangeStatus::Started;
            outcome.message = Some(LEASE_LOST.into());
        }
        Err(Error::OutcomeUnknown { reason, .. }) => {
            learn(resolved, change, None, false);
            let message = format!("outcome unknown: {reason}");
            record_sent(
                context,
                change,
                &done(ChangeStatus::Unknown, None, Some(&message), None),
                &writes,
                &mut outcome,
            );
            outcome.status = ChangeStatus::Unknown;
            outcome.message = Some(message);
        }
        Err(error) => {
            learn(resolved, change, None, false);
            let api = error.api();
            let request_id = api.and_then(|a| a.request_id.clone());
            outcome.error_code = api.and_then(|a| a.error_code.clone());
            let message = error.to_string();
            let settled = done(ChangeStatus::Failed, None, Some(&message), request_id.as_deref());
            record_sent(context, change, &settled, &writes, &mut outcome);
            outcome.request_id = request_id;
            outcome.message = Some(message);
            outcome.status = ChangeStatus::Failed;
        }
    }
    outcome
}

/// Sends a change and settles any doubt about it within the run: an unanswered request (a
/// dropped connection, a timeout, a 5xx to a write) is checked in Okta; done → succeeded; provably
/// not done → sent again, up to [`MAX_ATTEMPTS`] times; not knowable → unknown, never resent. A
/// resend that Okta refuses (the create landed after all and the login is now taken, the status
/// already changed) is checked once more before it counts as a failure. A write answered 2xx
/// with a body that cannot be read happened: it is done, with what Okta can tell about it.
async fn settle(context: &Context<'_>, change: &Change) -> Result<Done> {
    let verified = |found: Option<Value>| {
        Ok(Done::Succeeded { result: found, note: Some("an answer was lost; Okta shows the change was made".into()) })
    };
    // What a write needs read and journaled first happens before it, apart from it: a failure
    // there (an unreadable answer included) is the failure of a read, and nothing was sent.
    if let Operation::ResetPassword { user, .. } = &change.operation {
        if let Some(done) = prepare_reset(context, change, user).await? {
            return Ok(done);
        }
    }
    let mut attempt = 1;
    loop {
        if attempt > 1 && !context.still_owns_run() {
            return Err(lease_lost(context));
        }
        // A reset sent again journals its own send time first: the System Log is searched from
        // the latest send, and only a log caught up past it proves that send was not made.
        if let (true, Operation::ResetPassword { user, .. }) = (attempt > 1, &change.operation) {
            if let Some(done) = prepare_reset(context, change, user).await? {
                return Ok(done);
            }
        }
        let result = execute(context, change).await;
        match &result {
            Err(Error::OutcomeUnknown { .. }) => {}
            Err(Error::Decode { message, .. }) if change.operation.writes() => {
                let found = verify(context, change).await.ok().flatten().flatten();
                return Ok(Done::Succeeded {
                    result: Some(found.unwrap_or_else(|| json!({ "answer_unreadable": true }))),
                    note: Some(format!("succeeded, but Okta's answer could not be read: {message}")),
                });
            }
            Err(Error::Api(_)) if attempt > 1 => {
                if let Ok(Some(found)) = verify(context, change).await {
                    return verified(found);
                }
                return result;
            }
            _ => return result,
        }
        match verify(context, change).await {
            Ok(Some(found)) => return verified(found),
            Ok(None) if attempt < MAX_ATTEMPTS => {
                attempt += 1;
                tracing::debug!(seq = change.seq, attempt, "Okta shows the change was not made; sending it again");
            }
            // Not made after every attempt: a failure, which a resume sends again.
            Ok(None) => {
                return Err(Error::Transport {
                    method: "-".into(),
                    path: change.operation.name().into(),
                    message: format!("no answer after {MAX_ATTEMPTS} attempts, and Okta shows the change was not made"),
                })
            }
            Err(_) => return result,
        }
    }
}

/// Sends of one change within a run when Okta shows the earlier ones did not land.
pub const MAX_ATTEMPTS: u32 = 5;

/// What an applier that lost its run says of a change it did not send.
const LEASE_LOST: &str = "not sent: another applier took over the run";

/// The error that stops an applier that lost its run before a send.
fn lease_lost(context: &Context<'_>) -> Error {
    context.lease_lost.store(true, Ordering::SeqCst);
    Error::RunInProgress { run_id: context.plan.run_id.clone(), owner: "another applier".into() }
}

/// Before a reset is sent: the user's status, journaled under the run's fence, which is what
/// tells a resume whether an unanswered reset was ever sent (no status journaled: never sent).
/// `Some` when the reset is not to be sent at all.
async fn prepare_reset(context: &Context<'_>, change: &Change, user: &UserRef) -> Result<Option<Done>> {
    let id = match resolve_user(&context.resolved, user) {
        Ok(id) => id,
        Err(message) => return Ok(Some(Done::Skipped(format!("skipped: {message}")))),
    };
    let before = match context.client.users().get(&id).await {
        Ok(current) => current.status(),
        Err(Error::Decode { path, message }) => {
            return Err(Error::Transport {
                method: "GET".into(),
                path,
                message: format!("the user could not be read before the reset, which was not sent: {message}"),
            })
        }
        Err(error) => return Err(error),
    };
    // The send time bounds the System Log search that settles a reset whose answer is lost.
    let sent_at = crate::okta::logs::log_time(chrono::Utc::now());
    let started = json!({ "user_id": id, "status_before": before.as_str(), "sent_at": sent_at });
    let run_id = &context.plan.run_id;
    match off_runtime(|| {
        context.journal.mark(run_id, change, ChangeStatus::Started, Some(&started), None, None, Some(&context.fence))
    }) {
        Ok(()) => Ok(None),
        Err(_) if !off_runtime(|| context.journal.holds_lease(run_id, &context.fence)).unwrap_or(false) => {
            Err(lease_lost(context))
        }
        Err(error) => Err(error),
    }
}

/// Okta's `statusChanged` of a user as it answers it now (`None` when it cannot be read): what a
/// deprovision records, so that a later reactivation can tell that the absence is still ours.
async fn status_changed_now(context: &Context<'_>, id: &str) -> Option<String> {
    let user = context.client.users().get(id).await.ok()?;
    user.raw().get("statusChanged").and_then(Value::as_str).map(str::to_owned)
}

async fn execute(context: &Context<'_>, change: &Change) -> Result<Done> {
    let (client, plan, journal, resolved) = (context.client, context.plan, context.journal, &context.resolved);
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
            Done::answered(json!({ "group_id": group.id() }))
        }
        Operation::CreateUser { profile, activate, groups, .. } => {
            let mut request = CreateUser::new(profile.clone());
            request.activate = *activate;
            request.group_ids = groups.iter().filter_map(|g| g.id.clone()).collect();
            let user = users.create(&request).await?;
            Done::answered(json!({ "user_id": user.id(), "status": user.status().as_str() }))
        }
        Operation::UpdateUser { user, changes } => {
            let id = or_skip!(user_id(user));
            let profile = changes.iter().map(|c| (c.attribute.clone(), c.after.clone())).collect();
            users.update_profile(&id, &profile).await?;
            Done::answered(json!({ "user_id": id }))
        }
        Operation::AddMember { user, group } => {
            let id = or_skip!(user_id(user));
            let group_id = or_skip!(resolve_group(resolved, group));
            client.groups().add_member(&group_id, &id).await?;
            Done::answered(json!({ "user_id": id, "group_id": group_id }))
        }
        Operation::RemoveMember { user, group } => {
            let id = or_skip!(user_id(user));
            let group_id = or_skip!(resolve_group(resolved, group));
            match client.groups().remove_member(&group_id, &id).await {
                // Already gone (the group was deleted meanwhile): the goal holds.
                Err(error) if error.is_not_found() => {}
                other => other?,
            }
            Done::answered(json!({ "user_id": id, "group_id": group_id }))
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
            let roles = held_roles(client, &id).await?;
            let snapshot = UserSnapshot {
                run_id: plan.run_id.clone(),
                user_id: id.clone(),
                login: current.login().unwrap_or_default().to_owned(),
                taken_at: chrono::Utc::now().to_rfc3339(),
                status: current.status().as_str().to_owned(),
                status_changed: current.raw().get("statusChanged").and_then(Value::as_str).map(str::to_owned),
                profile: current.profile().clone(),
                groups,
                roles,
            };
            off_runtime(|| journal.record_snapshot(&snapshot))?;
            Done::answered(json!({ "user_id": id }))
        }
        Operation::UnassignRole { user, role } => {
            let id = or_skip!(user_id(user));
            match client.roles().unassign(&Assignee::User(id.clone()), &role.id).await {
                // Already gone: the goal holds.
                Err(error) if error.is_not_found() => {}
                other => other?,
            }
            Done::answered(json!({ "user_id": id, "role_type": role.role_type }))
        }
        Operation::AssignRole { user, role_type } => {
            let id = or_skip!(user_id(user));
            let assignee = Assignee::User(id.clone());
            match client.roles().assign(&assignee, role_type).await {
                Ok(assignment) => {
                    Done::answered(json!({ "user_id": id, "role_type": role_type, "assignment_id": assignment.id() }))
                }
                // Okta refuses a role the user already holds: the goal holds then.
                Err(error @ Error::Api(_)) => match held_directly(client, &id, role_type).await {
                    Some(assignment_id) => Done::answered(
                        json!({ "user_id": id, "role_type": role_type, "assignment_id": assignment_id, "already_held": true }),
                    ),
                    None => Err(error),
                },
                Err(error) => Err(error),
            }
        }
        Operation::ActivateUser { user, send_email } => {
            let id = or_skip!(user_id(user));
            if let Some(activation) = users.activate(&id, *send_email).await? {
                context
                    .activation_links
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((user.login.clone(), activation.url));
            }
            Done::answered(json!({ "user_id": id }))
        }
        Operation::DeactivateUser { user }
        | Operation::SuspendUser { user }
        | Operation::UnsuspendUser { user }
        | Operation::ClearSessions { user, .. } => {
            let id = or_skip!(user_id(user));
            match &change.operation {
                Operation::DeactivateUser { .. } => users.deactivate(&id, false).await?,
                Operation::SuspendUser { .. } => users.suspend(&id).await?,
                Operation::UnsuspendUser { .. } => users.unsuspend(&id).await?,
                Operation::ClearSessions { oauth_tokens, .. } => users.clear_sessions(&id, *oauth_tokens, None).await?,
                _ => unreachable!("matched above"),
            }
            let mut result = json!({ "user_id": id });
            if matches!(change.operation, Operation::DeactivateUser { .. } | Operation::SuspendUser { .. }) {
                if let Some(at) = status_changed_now(context, &id).await {
                    result["status_changed"] = Value::String(at);
                }
            }
            Done::answered(result)
        }
        Operation::ResetPassword { user, send_email, revoke_sessions } => {
            // The status before it was journaled by `prepare_reset`.
            let id = or_skip!(user_id(user));
            if let Some(link) = users.reset_password(&id, *send_email, *revoke_sessions).await? {
                context.reset_links.lock().unwrap_or_else(|e| e.into_inner()).push((user.login.clone(), link));
            }
            Done::answered(json!({ "user_id": id }))
        }
    }
}

/// Okta's System Log event for a password reset an admin (or an API client) started.
pub const RESET_EVENT: &str = "user.account.reset_password";

/// What the System Log says of a reset sent at a known time.
#[derive(Debug)]
enum LogVerdict {
    /// Its event, by uuid: the reset was made.
    Found(String),
    /// No event, and the log has caught up past the send: the reset was not made.
    Absent,
    /// The log cannot tell (not readable, not caught up in time, too old).
    Unsettled(String),
}

/// Looks for the reset of `user_id` sent at `sent_at` in Okta's System Log. Its event (any
/// published from just before the send) means it was made. Without one, the log must first
/// have caught up past the send: it shows a later event of any kind, or the configured settle
/// time has passed since the send; until then it is asked again, at most until then.
async fn reset_in_log(context: &Context<'_>, user_id: &str, sent_at: chrono::DateTime<chrono::Utc>) -> LogVerdict {
    use crate::okta::LogQuery;
    let settle = chrono::TimeDelta::from_std(context.log_settle).unwrap_or(chrono::TimeDelta::MAX);
    if chrono::Utc::now() - sent_at > LOG_RETENTION {
        return LogVerdict::Unsettled("it was sent longer ago than Okta keeps its System Log".into());
    }
    let unreadable = |error: Error| {
        LogVerdict::Unsettled(match error.status() {
            Some(403) => "reading Okta's System Log, which would settle it, needs the okta.logs.read scope".into(),
            _ => format!("Okta's System Log, which would settle it, could not be read: {error}"),
        })
    };
    let logs = context.client.logs();
    // The uuid of the reset's event, when the log shows one up to now.
    let reset_event = || async {
        let ours = LogQuery {
            since: Some(sent_at - CLOCK_MARGIN),
            until: Some(chrono::Utc::now()),
            filter: Some(format!("eventType eq \"{RESET_EVENT}\" and target.id eq \"{user_id}\"")),
            ..LogQuery::default()
        };
        let events = logs.list(&ours)?.try_collect_all().await?;
        let made = events.iter().find(|e| e.outcome() != Some("FAILURE") && e.targets_id(user_id));
        Ok::<_, Error>(made.map(|event| event.uuid().to_owned()))
    };
    loop {
        let now = chrono::Utc::now();
        match reset_event().await {
            Ok(Some(uuid)) => return LogVerdict::Found(uuid),
            Ok(None) => {}
            Err(error) => return unreadable(error),
        }
        if now - sent_at >= settle {
            return LogVerdict::Absent;
        }
        // A later event: one published after the send (and the clocks' margin).
        let caught_up = if now > sent_at + CLOCK_MARGIN {
            let later = LogQuery {
                since: Some(sent_at + CLOCK_MARGIN),
                until: Some(now),
                limit: Some(1),
                ..LogQuery::default()
            };
            match logs.list(&later) {
                Ok(mut listing) => match futures_util::StreamExt::next(&mut listing).await {
                    Some(Ok(_)) => true,
                    Some(Err(error)) => return unreadable(error),
                    None => false,
                },
                Err(error) => return unreadable(error),
            }
        } else {
            false
        };
        if caught_up {
            // Asked once more: the reset's own event may have become visible with the later one.
            return match reset_event().await {
                Ok(Some(uuid)) => LogVerdict::Found(uuid),
                Ok(None) => LogVerdict::Absent,
                Err(error) => unreadable(error),
            };
        }
        let left = (sent_at + settle - chrono::Utc::now()).to_std().unwrap_or_default();
        tokio::time::sleep(left.min(Duration::from_secs(1)).max(Duration::from_millis(50))).await;
    }
}

/// The admin roles a user holds itself, with the groups or apps each is limited to.
async fn held_roles(client: &OktaClient, user_id: &str) -> Result<Vec<SnapshotRole>> {
    let assignee = Assignee::User(user_id.to_owned());
    let mut held = Vec::new();
    for role in client.roles().list(&assignee).await? {
        if role.assignment_type() != "USER" {
            continue;
        }
        let mut snapshot = SnapshotRole {
            role_type: role.role_type().to_owned(),
            label: role.label().to_owned(),
            group_targets: Vec::new(),
            app_targets: Vec::new(),
        };
        if GROUP_SCOPED_ROLE_TYPES.contains(&role.role_type()) {
            let groups = client.roles().group_targets(&assignee, role.id()).await?;
            snapshot.group_targets = groups.iter().map(|g| g.id().to_owned()).collect();
        } else if role.role_type() == "APP_ADMIN" {
            let apps = client.roles().app_targets(&assignee, role.id()).await?;
            snapshot.app_targets =
                apps.iter().filter_map(|app| app.get("name").and_then(Value::as_str)).map(str::to_owned).collect();
        }
        held.push(snapshot);
    }
    Ok(held)
}

/// The id of the assignment through which the user holds `role_type` itself (not through a
/// group), if it does (`None` too when the roles cannot be read).
async fn held_directly(client: &OktaClient, user_id: &str, role_type: &str) -> Option<String> {
    let roles = client.roles().list(&Assignee::User(user_id.to_owned())).await.ok()?;
    roles
        .iter()
        .find(|role| role.role_type() == role_type && role.assignment_type() == "USER")
        .map(|role| role.id().to_owned())
}

/// Finds out whether a change that was in flight took effect. `Ok(Some(result))`: it did;
/// `Ok(None)`: it did not, and doing it now is safe; `Err`: it cannot be known and must not be
/// repeated.
async fn verify(context: &Context<'_>, change: &Change) -> std::result::Result<Option<Option<Value>>, String> {
    let (client, resolved) = (context.client, &context.resolved);
    let users = client.users();
    let status_of = |id: String| {
        let users = users.clone();
        async move { users.get(&id).await.map(|u| u.status()).map_err(|e| e.to_string()) }
    };
    let disabled_as = |id: String, wanted: UserStatus| {
        let users = users.clone();
        async move {
            let user = users.get(&id).await.map_err(|e| e.to_string())?;
            let mut result = json!({ "user_id": id });
            if let Some(at) = user.raw().get("statusChanged").and_then(Value::as_str) {
                result["status_changed"] = Value::String(at.to_owned());
            }
            Ok::<_, String>((user.status() == wanted).then_some(Some(result)))
        }
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
            disabled_as(id, UserStatus::Deprovisioned).await
        }
        Operation::SuspendUser { user } => {
            let Ok(id) = resolve_user(resolved, user) else { return Ok(None) };
            disabled_as(id, UserStatus::Suspended).await
        }
        Operation::ActivateUser { user, .. } | Operation::UnsuspendUser { user } => {
            let Ok(id) = resolve_user(resolved, user) else { return Ok(None) };
            let status = status_of(id.clone()).await?;
            let done = !matches!(status, UserStatus::Deprovisioned | UserStatus::Suspended);
            Ok(done.then(|| Some(json!({ "user_id": id }))))
        }
        Operation::ResetPassword { user, .. } => {
            // A user that was ACTIVE and is now in RECOVERY shows the reset was made. A status
            // cannot show it was not (a user who completed the reset meanwhile is ACTIVE again):
            // Okta's System Log settles it, and without it the reset stays unknown, never resent.
            let recorded = context
                .journal
                .change_status(&context.plan.run_id, change.seq)
                .ok()
                .flatten()
                .and_then(|(_, result)| result);
            let field = |name: &str| recorded.as_ref().and_then(|r| r.get(name)?.as_str().map(str::to_owned));
            let before = field("status_before").map(|status| UserStatus::parse(&status));
            let sent_at = field("sent_at").and_then(|text| chrono::DateTime::parse_from_rfc3339(&text).ok());
            let unknown = |why: &str| {
                format!(
                    "a password reset for {} may already have been sent; resets are never repeated without proof ({why})",
                    user.login
                )
            };
            let Ok(id) = resolve_user(resolved, user) else {
                return Err(unknown("the user is not known"));
            };
            if before == Some(UserStatus::Active) && status_of(id.clone()).await? == UserStatus::Recovery {
                return Ok(Some(Some(json!({ "user_id": id }))));
            }
            let Some(sent_at) = sent_at else {
                return Err(unknown("its send time was not journaled, so the System Log cannot settle it"));
            };
            match reset_in_log(context, &id, sent_at.with_timezone(&chrono::Utc)).await {
                LogVerdict::Found(uuid) => Ok(Some(Some(json!({ "user_id": id, "log_event": uuid })))),
                LogVerdict::Absent => Ok(None),
                LogVerdict::Unsettled(why) => Err(unknown(&why)),
            }
        }
        Operation::AssignRole { user, role_type } => {
            let Ok(id) = resolve_user(resolved, user) else { return Ok(None) };
            let held = held_directly(client, &id, role_type).await;
            Ok(held.map(|assignment_id| {
                Some(json!({ "user_id": id, "role_type": role_type, "assignment_id": assignment_id }))
            }))
        }
        // Setting attributes, memberships, logging out, removing a role and recording history
        // are safe to do again.
        Operation::UnassignRole { .. }
        | Operation::UpdateUser { .. }
        | Operation::AddMember { .. }
        | Operation::RemoveMember { .. }
        | Operation::ClearSessions { .. }
        | Operation::SnapshotUser { .. } => Ok(None),
    }
}
