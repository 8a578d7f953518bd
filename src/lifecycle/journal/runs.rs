//! Runs: recorded plans, the applier's lease, each change's claim and outcome, and the requests
//! each change sent.

use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use serde_json::Value;

use super::schema::{org_key, SAME_ORG};
use super::sqlite::{journal_error, now, sha256_hex, SqliteJournal};
use crate::error::{Error, Result};
use crate::lifecycle::plan::{Change, Plan};
use crate::lifecycle::policy::Safety;
use serde::Deserialize;

/// Where a change stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeStatus {
    /// In a plan, not started.
    Planned,
    /// Sent (or about to be); no answer recorded yet.
    Started,
    /// Done.
    Succeeded,
    /// Okta refused it; nothing changed.
    Failed,
    /// It may or may not have happened and could not be verified.
    Unknown,
    /// Not attempted because something it depends on failed.
    Skipped,
}

impl ChangeStatus {
    /// The status as stored in the journal (`planned`, `started`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeStatus::Planned => "planned",
            ChangeStatus::Started => "started",
            ChangeStatus::Succeeded => "succeeded",
            ChangeStatus::Failed => "failed",
            ChangeStatus::Unknown => "unknown",
            ChangeStatus::Skipped => "skipped",
        }
    }

    pub(super) fn parse(text: &str) -> ChangeStatus {
        match text {
            "started" => ChangeStatus::Started,
            "succeeded" => ChangeStatus::Succeeded,
            "failed" => ChangeStatus::Failed,
            "unknown" => ChangeStatus::Unknown,
            "skipped" => ChangeStatus::Skipped,
            "planned" => ChangeStatus::Planned,
            // A status this release does not know is never taken for "not sent yet".
            _ => ChangeStatus::Unknown,
        }
    }
}

/// A change's row in the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeRecord {
    /// The run.
    pub run_id: String,
    /// The change's position in the plan.
    pub seq: u32,
    /// The action (`sync_identities`, ...).
    pub action: String,
    /// The operation (`create_user`, ...).
    pub operation: String,
    /// The identity's source key.
    pub identity: Option<String>,
    /// The user's login.
    pub login: Option<String>,
    /// The user's id, once known.
    pub user_id: Option<String>,
    /// Where it stands.
    pub status: ChangeStatus,
    /// The change as planned (with before and after values) and its result.
    pub detail: Value,
    /// The error, if it failed or is unknown.
    pub error: Option<String>,
    /// Okta's request id of the failing request, if any.
    pub request_id: Option<String>,
    /// When the row last changed (RFC 3339).
    pub updated_at: String,
}

/// What the journal recorded of a plan when it was made.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRun {
    /// The org the plan was made against.
    pub org_url: String,
    /// The SHA-256 digest of the plan as made (`None` for runs recorded by release 0.1).
    pub digest: Option<String>,
    /// The safety limits the plan was judged against.
    pub safety: Safety,
    /// The number of records planned (the base of `max_changed_percent`).
    pub records: usize,
    /// The plan as made.
    pub plan: Option<Plan>,
}

/// One run, as listed by [`RunStore::runs`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunInfo {
    /// The run.
    pub run_id: String,
    /// The policy's name.
    pub policy: String,
    /// The org.
    pub org_url: String,
    /// When it was planned (RFC 3339).
    pub planned_at: String,
    /// When it finished, if it did.
    pub finished_at: Option<String>,
    /// `planned`, `applying`, `succeeded` or `finished_with_errors`.
    pub status: String,
    /// Changes by status.
    pub changes: std::collections::BTreeMap<String, usize>,
}

/// The change of a run that sent a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentBy {
    /// The run.
    pub run_id: String,
    /// The change's position in the plan.
    pub seq: u32,
    /// The operation (`deactivate_user`, ...).
    pub operation: String,
}

/// An attempt of a write that no answer came back to (its request id is not known).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unanswered {
    /// The path it was sent to.
    pub path: String,
    /// When it was sent (RFC 3339).
    pub sent_at: String,
    /// When it ended without an answer.
    pub ended_at: String,
    /// The change.
    pub by: SentBy,
}

/// A change that was in flight with attempts not recorded: its targets and when. An applier
/// stopped mid-send records nothing of what it sent; the applier that resumes the change may
/// send it again and record that. What the stopped one sent lies between the change's first
/// claim and the first attempt recorded (or, with none, the change's last mark).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unrecorded {
    /// When it was first claimed (`None`: before schema version 4).
    pub claimed_at: Option<String>,
    /// When its first recorded attempt was sent, or, with none recorded, when its row last
    /// changed.
    pub until: String,
    /// The ids of the user and group it was about.
    pub targets: Vec<String>,
    /// The change.
    pub by: SentBy,
}

/// What the journal knows its runs sent, as [`RunStore::sent_since`] reads it.
#[derive(Debug, Clone, Default)]
pub struct JournaledWrites {
    /// Okta's request ids of the answered attempts.
    pub request_ids: std::collections::HashMap<String, SentBy>,
    /// Attempts that no answer came back to.
    pub unanswered: Vec<Unanswered>,
    /// System Log events a change was settled by (a reset's event, by uuid).
    pub log_events: std::collections::HashMap<String, SentBy>,
    /// Changes whose attempts were not recorded.
    pub unrecorded: Vec<Unrecorded>,
    /// The users the journal's runs changed or recorded.
    pub users: std::collections::HashSet<String>,
    /// The groups the journal's runs created or changed memberships of.
    pub groups: std::collections::HashSet<String>,
}

/// The proof that an applier owns a run: its owner name and the lease's generation. Every
/// take-over of a run's lease starts a new generation, and every claim and outcome an applier
/// records names its fence, so that an applier that stalled (a stopped process, a paused
/// machine) and lost the run meanwhile can no longer claim or record anything, even if it
/// resumes believing it still owns the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    /// Who: `host:pid:token`.
    pub owner: String,
    /// The lease's generation when it was taken.
    pub generation: i64,
}

/// The result of asking for a run's lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseOutcome {
    /// The caller owns the run until the lease expires or is released, under this fence.
    Acquired(Fence),
    /// Another applier owns it, or another run of the same policy over the same records
    /// against the same org (two hosts that planned the same job at once): one at a time.
    Held {
        /// Who: `host:pid:token`.
        owner: String,
    },
    /// The run was never applied, and another run of the same policy over the same records
    /// against the same org began after it was made: it was planned from an org that has
    /// changed since, and must be planned again.
    Superseded {
        /// The run that began since.
        by: String,
    },
}

/// The boot a lease origin names (its part before the pid namespace).
pub(super) fn boot_of(origin: &str) -> &str {
    origin.split('/').next().unwrap_or_default()
}

pub(super) fn epoch_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis().min(i64::MAX as u128) as i64)
        .unwrap_or(0)
}

/// Whether the owner of a lease is a process of this machine, in this boot and this pid
/// namespace, that no longer runs: its lease can be taken over without waiting for it to
/// expire. A holder from another boot or another pid namespace (a container sharing the host
/// name and the journal's volume) is never judged by its pid, which means nothing here. Only
/// Linux can tell (through `/proc`); elsewhere a lease is taken over when it expires.
pub(super) fn owner_is_gone(owner: &str, origin: Option<&str>) -> bool {
    let mut parts = owner.splitn(3, ':');
    let (Some(host), Some(pid)) = (parts.next(), parts.next()) else { return false };
    if !cfg!(target_os = "linux") || host != this_host() || origin != this_origin().as_deref() {
        return false;
    }
    match pid.parse::<u32>() {
        Ok(pid) => !Path::new(&format!("/proc/{pid}")).exists(),
        Err(_) => false,
    }
}

/// Where this process runs, as far as a pid and a monotonic clock mean anything: the boot
/// (`/proc/sys/kernel/random/boot_id`) and the pid namespace. `None` where it cannot be read.
pub(super) fn this_origin() -> Option<String> {
    static ORIGIN: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    ORIGIN
        .get_or_init(|| {
            let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
            let namespace = std::fs::read_link("/proc/self/ns/pid").ok()?;
            Some(format!("{}/{}", boot.trim(), namespace.display()))
        })
        .clone()
}

/// Milliseconds since this machine booted, a clock that wall-clock jumps do not move
/// (`/proc/uptime`, which counts time asleep too). `None` where it cannot be read.
fn uptime_ms() -> Option<i64> {
    let text = std::fs::read_to_string("/proc/uptime").ok()?;
    let seconds: f64 = text.split_whitespace().next()?.parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then_some((seconds * 1000.0) as i64)
}

/// This machine's name, read once.
fn this_host() -> &'static str {
    static HOST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOST.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .or_else(|_| std::fs::read_to_string("/etc/hostname"))
            .map(|h| h.trim().to_owned())
            .ok()
            .filter(|h| !h.is_empty() && !h.contains(':'))
            .unwrap_or_else(|| "localhost".into())
    })
}

/// The `method` of a `requests` row that stands for the attempts an applier that stopped
/// mid-send may have made of a change, unrecorded: from its claim (`sent_at`) until another
/// applier claimed the change again (`ended_at`).
pub(super) const LOST_ATTEMPTS: &str = "*";

/// What became of a change, for [`RunStore::settle`].
#[derive(Debug, Clone, Copy)]
pub struct Outcome<'a> {
    /// The change's new status.
    pub status: ChangeStatus,
    /// Its result, merged into its detail.
    pub result: Option<&'a Value>,
    /// Why it failed or was skipped.
    pub error: Option<&'a str>,
    /// Okta's request id of a refused write.
    pub request_id: Option<&'a str>,
}

fn insert_requests(
    transaction: &rusqlite::Transaction<'_>,
    run_id: &str,
    seq: u32,
    writes: &[crate::http::SentWrite],
) -> Result<()> {
    if writes.is_empty() {
        return Ok(());
    }
    let mut insert = transaction
        .prepare_cached(
            "INSERT INTO requests (run_id, seq, method, path, request_id, status, sent_at, ended_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .map_err(journal_error)?;
    for write in writes {
        insert
            .execute(params![
                run_id,
                seq,
                write.method,
                write.path,
                write.request_id,
                write.status,
                write.sent_at,
                write.ended_at
            ])
            .map_err(journal_error)?;
    }
    Ok(())
}

/// Whether a plan made (its org read) from `planned_at` on is superseded by another run of the
/// same policy over the same records: that run was applying at some moment since (it began
/// and finished after `planned_at`, or began and never finished while its lease lasted past
/// it), so the org the plan was made from has changed. A time the journal cannot read is taken
/// for the worst (superseded): a needless plan again costs a read, a stale plan a wrong write.
pub(super) fn superseded_by(
    planned_at: &str,
    applied_at: Option<&str>,
    finished_at: Option<&str>,
    lease_expires_ms: Option<i64>,
) -> bool {
    let moment = |text: &str| chrono::DateTime::parse_from_rfc3339(text).ok().map(|at| at.timestamp_millis());
    if applied_at.is_none() {
        return false;
    }
    let Some(made) = moment(planned_at) else { return true };
    match finished_at {
        Some(finished) => moment(finished).is_none_or(|finished| finished > made),
        // Never finished: it worked for as long as its lease lasted (a killed applier's lapses).
        None => lease_expires_ms.is_some_and(|expires| expires > made),
    }
}

/// A settled change's row as every journal writes it: the change as planned with its result
/// merged in, and the user's id (from the result, else the change).
pub(super) fn settled_row(change: &Change, result: Option<&Value>) -> (Value, Option<String>) {
    let mut detail = serde_json::to_value(change).unwrap_or(Value::Null);
    if let (Some(result), Value::Object(map)) = (result, &mut detail) {
        map.insert("result".into(), result.clone());
    }
    let user_id = result
        .and_then(|r| r.get("user_id"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| change.operation.user().and_then(|u| u.id.clone()));
    (detail, user_id)
}

/// The error of an outcome an applier that lost its run tried to record.
pub(super) fn taken_over(run_id: &str, seq: u32) -> Error {
    Error::Journal(format!("run {run_id}: another applier took the run over; change {seq} is not recorded by this one"))
}

/// A fresh lease owner for this process: `host:pid:token`.
pub fn new_lease_owner() -> String {
    format!("{}:{}:{}", this_host(), std::process::id(), &crate::jose::random_id()[..12])
}

/// The SHA-256 digest (hex) of a plan's JSON: what the journal compares an applied plan with.
pub fn plan_digest(plan: &Plan) -> String {
    sha256_hex(&serde_json::to_vec(plan).unwrap_or_default())
}

/// Runs: plans, the applier's lease, claims, outcomes and the requests each change sent. Every
/// journal backend implements it; the engine reaches it through [`Journal`].
pub trait RunStore {
    /// Records a plan as made: its run, its changes as planned, its digest, the safety limits it
    /// was judged against, the number of records and their digest. Only a recorded plan can be
    /// applied with this journal. Recording the same run twice is refused.
    fn record_plan(&self, plan: &Plan, safety: &Safety, records: usize) -> Result<()>;

    /// What the journal recorded of a run when it was planned (`None`: not made with this
    /// journal).
    fn recorded_run(&self, run_id: &str) -> Result<Option<RecordedRun>>;

    /// The journal's clock now (RFC 3339): the database server's in PostgreSQL, which every host
    /// shares; this machine's for SQLite. Plans are dated by it, runs begin and end by it.
    fn clock(&self) -> Result<String>;

    /// Marks a recorded run as being applied.
    fn begin_run(&self, run_id: &str) -> Result<()>;

    /// Takes the lease of a run for `ttl`: free, expired, held by a process of this machine
    /// that is gone, or already held by `owner` (a renewal, which keeps the generation).
    /// Otherwise says who holds it. Taking it from anyone else starts a new generation.
    ///
    /// Expiry is judged on this machine's monotonic clock when the holder wrote its lease in
    /// the same boot (a wall-clock jump neither expires a live lease nor prolongs a dead one),
    /// and on the wall clock only for a holder from elsewhere.
    fn acquire_lease(&self, run_id: &str, owner: &str, ttl: Duration) -> Result<LeaseOutcome>;

    /// Extends a lease the caller holds; false when it is no longer the caller's (taken over:
    /// another generation).
    fn renew_lease(&self, run_id: &str, fence: &Fence, ttl: Duration) -> Result<bool>;

    /// Whether the caller still holds the run under this fence.
    fn holds_lease(&self, run_id: &str, fence: &Fence) -> Result<bool>;

    /// Gives a lease back (nothing happens when the caller no longer holds it). A run given back
    /// without being finished (an apply cancelled) is stamped with the moment its applier stopped.
    fn release_lease(&self, run_id: &str, fence: &Fence) -> Result<()>;

    /// Claims a change before it is sent: moves it to `started` only if it is still in the
    /// status `expected` the caller read (a compare-and-set), and only while the caller still
    /// holds the run under `fence`. False when another applier got there first, or took the
    /// run over, in which case the change must not be sent.
    ///
    /// The claim of a change that must not be sent twice is synced in full before this returns.
    fn claim(&self, run_id: &str, change: &Change, expected: ChangeStatus, fence: &Fence) -> Result<bool>;

    /// Moves a change to `status`, with its result (merged into the detail) or error. With a
    /// fence, only while the caller still holds the run under it: an applier that lost the run
    /// records nothing more (its successor owns every row now).
    #[allow(clippy::too_many_arguments)]
    fn mark(
        &self,
        run_id: &str,
        change: &Change,
        status: ChangeStatus,
        result: Option<&Value>,
        error: Option<&str>,
        request_id: Option<&str>,
        fence: Option<&Fence>,
    ) -> Result<()> {
        self.settle(run_id, change, &Outcome { status, result, error, request_id }, &[], fence)
    }

    /// Records what became of a change after it was sent, in one transaction: the attempts of
    /// the writes it sent (recorded whoever holds the run: they were sent) and its new status
    /// (only under `fence`, as [`RunStore::mark`]). An outcome is committed without waiting for a
    /// full sync: lost to a power cut, the change reads as `started` again and a resume verifies
    /// it in Okta. A change moved back to `started` with what its send depends on (a reset's
    /// status before it) is synced in full, as its claim was.
    fn settle(
        &self,
        run_id: &str,
        change: &Change,
        outcome: &Outcome<'_>,
        writes: &[crate::http::SentWrite],
        fence: Option<&Fence>,
    ) -> Result<()>;

    /// Records the attempts of writes a change sent (request ids, paths, times): what joins
    /// Okta's System Log with the journal. Recorded whoever holds the run: they were sent.
    fn record_requests(&self, run_id: &str, seq: u32, writes: &[crate::http::SentWrite]) -> Result<()>;

    /// The attempts of writes recorded for a change, in the order they ended.
    fn change_requests(&self, run_id: &str, seq: u32) -> Result<Vec<crate::http::SentWrite>>;

    /// What the journal knows its runs sent from `since` (RFC 3339) on, and which users and
    /// groups they manage: the journal's side of the join with Okta's System Log.
    fn sent_since(&self, since: &str) -> Result<JournaledWrites>;

    /// The recorded status and result of a change.
    fn change_status(&self, run_id: &str, seq: u32) -> Result<Option<(ChangeStatus, Option<Value>)>>;

    /// How long ago a change's row last changed (`None`: no such change, or an unreadable time).
    fn change_age(&self, run_id: &str, seq: u32) -> Result<Option<Duration>>;

    /// Marks a run finished with its overall status.
    fn finish_run(&self, run_id: &str, status: &str) -> Result<()>;

    /// Every change of a run.
    fn run_changes(&self, run_id: &str) -> Result<Vec<(u32, ChangeStatus)>>;

    /// Runs that were started and did not finish, newest first.
    fn unfinished_runs(&self) -> Result<Vec<RunInfo>> {
        Ok(self.runs()?.into_iter().filter(|run| run.status == "applying").collect())
    }

    /// The unfinished run of a policy over the same records (by their digest) against the org
    /// `org_url`, if any: what an apply of the same policy and source resumes instead of
    /// planning anew. A run against another org sharing the journal is not it.
    fn unfinished_run_for(&self, policy: &str, source_digest: &str, org_url: &str) -> Result<Option<String>>;

    /// The runs made against the org `org_url`, newest first, with their changes counted by
    /// status.
    fn org_runs(&self, org_url: &str) -> Result<Vec<RunInfo>> {
        let org = org_key(org_url);
        Ok(self.runs()?.into_iter().filter(|run| org_key(&run.org_url) == org).collect())
    }

    /// Every run, newest first, with its changes counted by status.
    fn runs(&self) -> Result<Vec<RunInfo>>;

    /// A run's changes counted by status (one query: the command polls it while applying).
    fn run_progress(&self, run_id: &str) -> Result<std::collections::BTreeMap<String, usize>>;
}

impl RunStore for SqliteJournal {
    fn record_plan(&self, plan: &Plan, safety: &Safety, records: usize) -> Result<()> {
        let plan_json =
            serde_json::to_string(plan).map_err(|e| Error::Journal(format!("cannot encode the plan: {e}")))?;
        let safety_json =
            serde_json::to_string(safety).map_err(|e| Error::Journal(format!("cannot encode the limits: {e}")))?;
        let summary = serde_json::to_string(&plan.summary).map_err(|e| Error::Journal(e.to_string()))?;
        let mut connection = self.connection();
        let transaction = connection.transaction().map_err(journal_error)?;
        let inserted = transaction
            .execute(
                "INSERT OR IGNORE INTO runs (run_id, policy, org_url, planned_at, status, summary, digest, safety, records, source_digest)
                 VALUES (?1, ?2, ?3, ?4, 'planned', ?5, ?6, ?7, ?8, ?9)",
                params![
                    plan.run_id,
                    plan.policy,
                    plan.org_url,
                    plan.created_at,
                    summary,
                    plan_digest(plan),
                    safety_json,
                    records as i64,
                    plan.source_digest
                ],
            )
            .map_err(journal_error)?;
        if inserted != 1 {
            return Err(Error::Journal(format!("run {} is already recorded", plan.run_id)));
        }
        // The plan's JSON has a table of its own: in the run's row it would sit before the lease
        // columns, which every claim reads, and SQLite would walk all of it to reach them.
        transaction
            .execute("INSERT INTO run_plans (run_id, plan) VALUES (?1, ?2)", params![plan.run_id, plan_json])
            .map_err(journal_error)?;
        {
            let mut insert = transaction
                .prepare("INSERT INTO changes (run_id, seq, action, operation, identity, login, user_id, status, detail, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'planned', ?8, ?9)")
                .map_err(journal_error)?;
            let stamp = now();
            for change in &plan.changes {
                let detail = serde_json::to_string(change).map_err(|e| Error::Journal(e.to_string()))?;
                insert
                    .execute(params![
                        plan.run_id,
                        change.seq,
                        change.action.as_str(),
                        change.operation.name(),
                        change.identity,
                        change.operation.login(),
                        change.operation.user().and_then(|u| u.id.clone()),
                        detail,
                        stamp
                    ])
                    .map_err(journal_error)?;
            }
        }
        transaction.commit().map_err(journal_error)
    }

    fn recorded_run(&self, run_id: &str) -> Result<Option<RecordedRun>> {
        type Row = (String, Option<String>, Option<String>, Option<i64>, Option<String>);
        let row: Option<Row> = self
            .connection()
            .query_row(
                "SELECT r.org_url, r.digest, r.safety, r.records, coalesce(p.plan, r.plan)
                 FROM runs r LEFT JOIN run_plans p ON p.run_id = r.run_id WHERE r.run_id = ?1",
                params![run_id],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?)),
            )
            .optional()
            .map_err(journal_error)?;
        let Some((org_url, digest, safety, records, plan)) = row else {
            return Ok(None);
        };
        let unreadable =
            |what: &str, e: serde_json::Error| Error::Journal(format!("run {run_id}: unreadable {what}: {e}"));
        let safety = match safety {
            Some(text) => serde_json::from_str(&text).map_err(|e| unreadable("safety limits", e))?,
            None => Safety::default(),
        };
        let plan = match plan {
            Some(text) => Some(serde_json::from_str(&text).map_err(|e| unreadable("plan", e))?),
            None => None,
        };
        Ok(Some(RecordedRun { org_url, digest, safety, records: records.unwrap_or(0).max(0) as usize, plan }))
    }

    fn clock(&self) -> Result<String> {
        Ok(now())
    }

    fn begin_run(&self, run_id: &str) -> Result<()> {
        let updated = self
            .connection()
            .execute(
                "UPDATE runs SET status = 'applying', applied_at = COALESCE(applied_at, ?2), finished_at = NULL WHERE run_id = ?1",
                params![run_id, now()],
            )
            .map_err(journal_error)?;
        if updated != 1 {
            return Err(Error::Journal(format!("run {run_id} is not recorded in this journal")));
        }
        Ok(())
    }

    fn acquire_lease(&self, run_id: &str, owner: &str, ttl: Duration) -> Result<LeaseOutcome> {
        let ttl_ms = ttl.as_millis().min(i64::MAX as u128) as i64;
        let (now_ms, now_uptime) = (epoch_ms(), uptime_ms());
        let origin = this_origin();
        let mut connection = self.connection();
        let transaction =
            connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(journal_error)?;
        type Row = (Option<String>, Option<i64>, i64, Option<String>, Option<i64>, String, String);
        let current: Option<Row> = transaction
            .query_row(
                "SELECT lease_owner, lease_expires_ms, lease_generation, lease_origin, lease_expires_uptime_ms,
                        planned_at, status
                 FROM runs WHERE run_id = ?1",
                params![run_id],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?, row.get(6)?)),
            )
            .optional()
            .map_err(journal_error)?;
        let Some((holder, expires_ms, generation, holder_origin, expires_uptime, planned_at, status)) = current else {
            return Err(Error::Journal(format!("run {run_id} is not recorded in this journal")));
        };
        // Whether a lease someone else wrote is still theirs.
        let live = |holder: &str, expires_ms: Option<i64>, holder_origin: Option<&str>, expires_uptime: Option<i64>| {
            let same_boot = holder_origin.is_some() && holder_origin.map(boot_of) == origin.as_deref().map(boot_of);
            let unexpired = match (same_boot, expires_uptime, now_uptime) {
                (true, Some(expires), Some(now)) => expires > now,
                _ => expires_ms.unwrap_or(0) > now_ms,
            };
            unexpired && !owner_is_gone(holder, holder_origin)
        };
        let renewal = holder.as_deref() == Some(owner);
        if !renewal {
            if let Some(holder) = holder.filter(|h| live(h, expires_ms, holder_origin.as_deref(), expires_uptime)) {
                return Ok(LeaseOutcome::Held { owner: holder });
            }
            // The other runs of the same policy over the same records against the same org.
            let mut statement = transaction
                .prepare(
                    "SELECT r.run_id, r.lease_owner, r.lease_expires_ms, r.lease_origin, r.lease_expires_uptime_ms,
                            r.applied_at, r.finished_at
                     FROM runs r JOIN runs me ON me.run_id = ?1
                     WHERE r.run_id != me.run_id AND r.policy = me.policy AND r.source_digest = me.source_digest
                       AND lower(rtrim(r.org_url, '/')) = lower(rtrim(me.org_url, '/'))",
                )
                .map_err(journal_error)?;
            type Sibling =
                (String, Option<String>, Option<i64>, Option<String>, Option<i64>, Option<String>, Option<String>);
            let siblings = statement
                .query_map(params![run_id], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?, row.get(6)?))
                })
                .map_err(journal_error)?
                .collect::<rusqlite::Result<Vec<Sibling>>>()
                .map_err(journal_error)?;
            for (_, sibling_holder, expires_ms, sibling_origin, expires_uptime, ..) in &siblings {
                if let Some(sibling_holder) = sibling_holder {
                    if live(sibling_holder, *expires_ms, sibling_origin.as_deref(), *expires_uptime) {
                        return Ok(LeaseOutcome::Held { owner: sibling_holder.clone() });
                    }
                }
            }
            if status == "planned" {
                let overlapped = |sibling: &&Sibling| {
                    superseded_by(&planned_at, sibling.5.as_deref(), sibling.6.as_deref(), sibling.2)
                };
                if let Some((by, ..)) = siblings.iter().find(overlapped) {
                    return Ok(LeaseOutcome::Superseded { by: by.clone() });
                }
            }
        }
        let generation = if renewal { generation } else { generation.saturating_add(1) };
        // The transaction is IMMEDIATE: no other applier can write between the read and this.
        transaction
            .execute(
                "UPDATE runs SET lease_owner = ?2, lease_expires_ms = ?3, lease_generation = ?4, lease_origin = ?5,
                    lease_expires_uptime_ms = ?6 WHERE run_id = ?1",
                params![
                    run_id,
                    owner,
                    now_ms.saturating_add(ttl_ms),
                    generation,
                    origin,
                    now_uptime.map(|now| now.saturating_add(ttl_ms))
                ],
            )
            .map_err(journal_error)?;
        transaction.commit().map_err(journal_error)?;
        Ok(LeaseOutcome::Acquired(Fence { owner: owner.to_owned(), generation }))
    }

    fn renew_lease(&self, run_id: &str, fence: &Fence, ttl: Duration) -> Result<bool> {
        let ttl_ms = ttl.as_millis().min(i64::MAX as u128) as i64;
        let updated = self
            .connection()
            .execute(
                "UPDATE runs SET lease_expires_ms = ?4, lease_expires_uptime_ms = ?5, lease_origin = ?6
                 WHERE run_id = ?1 AND lease_owner = ?2 AND lease_generation = ?3",
                params![
                    run_id,
                    fence.owner,
                    fence.generation,
                    epoch_ms().saturating_add(ttl_ms),
                    uptime_ms().map(|now| now.saturating_add(ttl_ms)),
                    this_origin()
                ],
            )
            .map_err(journal_error)?;
        Ok(updated == 1)
    }

    fn holds_lease(&self, run_id: &str, fence: &Fence) -> Result<bool> {
        self.connection()
            .query_row(
                "SELECT COUNT(*) FROM runs WHERE run_id = ?1 AND lease_owner = ?2 AND lease_generation = ?3",
                params![run_id, fence.owner, fence.generation],
                |row| row.get::<_, i64>(0),
            )
            .map(|count| count == 1)
            .map_err(journal_error)
    }

    fn release_lease(&self, run_id: &str, fence: &Fence) -> Result<()> {
        self.connection()
            .execute(
                "UPDATE runs SET lease_owner = NULL, lease_expires_ms = NULL, lease_expires_uptime_ms = NULL,
                    finished_at = COALESCE(finished_at, ?4)
                 WHERE run_id = ?1 AND lease_owner = ?2 AND lease_generation = ?3",
                params![run_id, fence.owner, fence.generation, now()],
            )
            .map_err(journal_error)?;
        Ok(())
    }

    fn claim(&self, run_id: &str, change: &Change, expected: ChangeStatus, fence: &Fence) -> Result<bool> {
        let claim = |connection: &mut Connection| {
            let transaction = connection.transaction().map_err(journal_error)?;
            let stamp = now();
            // A change another applier left in flight (it stopped mid-send) may have been sent
            // by it, unrecorded: the time since that applier claimed it is kept for the join
            // with Okta's System Log, whatever this applier then sends.
            let left_since: Option<String> = if matches!(expected, ChangeStatus::Started | ChangeStatus::Unknown) {
                transaction
                    .query_row(
                        "SELECT COALESCE(claimed_at, updated_at) FROM changes WHERE run_id = ?1 AND seq = ?2",
                        params![run_id, change.seq],
                        |row| row.get(0),
                    )
                    .optional()
                    .map_err(journal_error)?
            } else {
                None
            };
            let updated = transaction
                .execute(
                    "UPDATE changes SET status = 'started', error = NULL, updated_at = ?4, claimed_at = ?4
                     WHERE run_id = ?1 AND seq = ?2 AND status = ?3
                       AND EXISTS (SELECT 1 FROM runs WHERE run_id = ?1 AND lease_owner = ?5 AND lease_generation = ?6)",
                    params![run_id, change.seq, expected.as_str(), stamp, fence.owner, fence.generation],
                )
                .map_err(journal_error)?;
            if let (1, Some(since)) = (updated, left_since) {
                transaction
                    .execute(
                        "INSERT INTO requests (run_id, seq, method, path, request_id, status, sent_at, ended_at)
                         VALUES (?1, ?2, ?3, '', NULL, NULL, ?4, ?5)",
                        params![run_id, change.seq, LOST_ATTEMPTS, since, stamp],
                    )
                    .map_err(journal_error)?;
            }
            transaction.commit().map_err(journal_error)?;
            Ok(updated)
        };
        let updated =
            if change.operation.repeat_is_harmful() { claim(&mut self.connection()) } else { self.relaxed(claim) }?;
        Ok(updated == 1)
    }

    fn settle(
        &self,
        run_id: &str,
        change: &Change,
        outcome: &Outcome<'_>,
        writes: &[crate::http::SentWrite],
        fence: Option<&Fence>,
    ) -> Result<()> {
        let Outcome { status, result, error, request_id } = *outcome;
        let (detail, user_id) = settled_row(change, result);
        let write = |connection: &mut Connection| -> Result<usize> {
            let transaction = connection.transaction().map_err(journal_error)?;
            insert_requests(&transaction, run_id, change.seq, writes)?;
            let updated = transaction
                .execute(
                    // A result recorded earlier (a reset's status before it was sent) is kept when
                    // this mark brings none: it is what a resume needs to tell whether the change
                    // happened.
                    "UPDATE changes SET status = ?3,
                        detail = CASE WHEN ?9 AND json_extract(detail, '$.result') IS NOT NULL
                            THEN json_set(?4, '$.result', json(json_extract(detail, '$.result'))) ELSE ?4 END,
                        error = ?5, request_id = ?6, user_id = COALESCE(?7, user_id), updated_at = ?8
                     WHERE run_id = ?1 AND seq = ?2
                       AND (?10 IS NULL OR EXISTS (
                           SELECT 1 FROM runs WHERE run_id = ?1 AND lease_owner = ?10 AND lease_generation = ?11))",
                    params![
                        run_id,
                        change.seq,
                        status.as_str(),
                        detail.to_string(),
                        error,
                        request_id,
                        user_id,
                        now(),
                        result.is_none(),
                        fence.map(|f| f.owner.as_str()),
                        fence.map(|f| f.generation)
                    ],
                )
                .map_err(journal_error)?;
            transaction.commit().map_err(journal_error)?;
            Ok(updated)
        };
        let updated =
            if status == ChangeStatus::Started { write(&mut self.connection()) } else { self.relaxed(write) }?;
        if updated == 0 && fence.is_some() {
            return Err(taken_over(run_id, change.seq));
        }
        Ok(())
    }

    fn record_requests(&self, run_id: &str, seq: u32, writes: &[crate::http::SentWrite]) -> Result<()> {
        if writes.is_empty() {
            return Ok(());
        }
        self.relaxed(|connection| {
            let transaction = connection.transaction().map_err(journal_error)?;
            insert_requests(&transaction, run_id, seq, writes)?;
            transaction.commit().map_err(journal_error)
        })
    }

    fn change_requests(&self, run_id: &str, seq: u32) -> Result<Vec<crate::http::SentWrite>> {
        let connection = self.connection();
        let mut statement = connection
            .prepare(
                "SELECT method, path, request_id, status, sent_at, ended_at FROM requests
                 WHERE run_id = ?1 AND seq = ?2 AND method != ?3 ORDER BY rowid",
            )
            .map_err(journal_error)?;
        let rows = statement
            .query_map(params![run_id, seq, LOST_ATTEMPTS], |row| {
                Ok(crate::http::SentWrite {
                    method: row.get(0)?,
                    path: row.get(1)?,
                    request_id: row.get(2)?,
                    status: row.get(3)?,
                    sent_at: row.get(4)?,
                    ended_at: row.get(5)?,
                })
            })
            .map_err(journal_error)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(journal_error)
    }

    fn sent_since(&self, since: &str) -> Result<JournaledWrites> {
        let connection = self.connection();
        let mut sent = JournaledWrites::default();
        let origin = |row: &rusqlite::Row<'_>, at: usize| -> rusqlite::Result<SentBy> {
            Ok(SentBy { run_id: row.get(at)?, seq: row.get(at + 1)?, operation: row.get(at + 2)? })
        };
        let mut statement = connection
            .prepare(
                "SELECT q.path, q.request_id, q.sent_at, q.ended_at, q.run_id, q.seq, c.operation
                 FROM requests q JOIN changes c ON c.run_id = q.run_id AND c.seq = q.seq
                 WHERE q.ended_at >= ?1 AND q.method != ?2",
            )
            .map_err(journal_error)?;
        let rows = statement
            .query_map(params![since, LOST_ATTEMPTS], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, Option<String>>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    origin(row, 4)?,
                ))
            })
            .map_err(journal_error)?;
        for row in rows {
            let (path, request_id, sent_at, ended_at, by) = row.map_err(journal_error)?;
            match request_id {
                Some(id) => {
                    sent.request_ids.insert(id, by);
                }
                None => sent.unanswered.push(Unanswered { path, sent_at, ended_at, by }),
            }
        }
        drop(statement);
        // The time attempts may have been sent in by an applier that stopped mid-send, recorded
        // when another resumed the change.
        let mut statement = connection
            .prepare(
                "SELECT run_id, seq, MIN(sent_at), MAX(ended_at) FROM requests
                 WHERE method = ?1 AND ended_at >= ?2 GROUP BY run_id, seq",
            )
            .map_err(journal_error)?;
        let rows = statement
            .query_map(params![LOST_ATTEMPTS, since], |row| {
                Ok((
                    (row.get::<_, String>(0)?, row.get::<_, u32>(1)?),
                    (row.get::<_, String>(2)?, row.get::<_, String>(3)?),
                ))
            })
            .map_err(journal_error)?;
        let mut lost = rows.collect::<rusqlite::Result<std::collections::HashMap<_, _>>>().map_err(journal_error)?;
        drop(statement);
        // Changes in flight whose attempts were never recorded (the process stopped mid-send, or
        // the journal was written by a release before schema version 4): only their target and
        // the time between their claim and their last mark are known.
        let mut statement = connection
            .prepare(
                "SELECT c.claimed_at, c.updated_at, c.user_id, json_extract(c.detail, '$.group.id'),
                        json_extract(c.detail, '$.result.group_id'), json_extract(c.detail, '$.result.log_event'),
                        c.run_id, c.seq, c.operation,
                        EXISTS (SELECT 1 FROM requests q WHERE q.run_id = c.run_id AND q.seq = c.seq AND q.method != ?2)
                 FROM changes c JOIN runs r ON r.run_id = c.run_id
                 WHERE r.status != 'planned' AND c.status != 'planned' AND c.updated_at >= ?1
                   AND c.operation != 'snapshot_user'",
            )
            .map_err(journal_error)?;
        let rows = statement
            .query_map(params![since, LOST_ATTEMPTS], |row| {
                Ok((
                    row.get::<_, Option<String>>(0)?,
                    row.get::<_, String>(1)?,
                    [
                        row.get::<_, Option<String>>(2)?,
                        row.get::<_, Option<String>>(3)?,
                        row.get::<_, Option<String>>(4)?,
                    ],
                    row.get::<_, Option<String>>(5)?,
                    origin(row, 6)?,
                    row.get::<_, bool>(9)?,
                ))
            })
            .map_err(journal_error)?;
        for row in rows {
            let (claimed_at, updated_at, targets, log_event, by, recorded) = row.map_err(journal_error)?;
            if let Some(uuid) = log_event {
                sent.log_events.insert(uuid, by.clone());
            }
            let targets: Vec<String> = targets.into_iter().flatten().collect();
            if targets.is_empty() {
                continue;
            }
            if let Some((from, until)) = lost.remove(&(by.run_id.clone(), by.seq)) {
                // Resumed after an applier stopped with it in flight: what that one sent is
                // recorded only as the time it may have been sent in.
                sent.unrecorded.push(Unrecorded {
                    claimed_at: Some(from),
                    until,
                    targets: targets.clone(),
                    by: by.clone(),
                });
            }
            if !recorded {
                sent.unrecorded.push(Unrecorded { claimed_at, until: updated_at, targets, by });
            }
        }
        drop(statement);
        let mut statement = connection
            .prepare(
                "SELECT user_id FROM changes WHERE user_id IS NOT NULL
                 UNION SELECT user_id FROM snapshots",
            )
            .map_err(journal_error)?;
        let users = statement.query_map([], |row| row.get::<_, String>(0)).map_err(journal_error)?;
        sent.users = users.collect::<rusqlite::Result<_>>().map_err(journal_error)?;
        drop(statement);
        let mut statement = connection
            .prepare(
                "SELECT json_extract(detail, '$.group.id') FROM changes WHERE json_extract(detail, '$.group.id') IS NOT NULL
                 UNION SELECT json_extract(detail, '$.result.group_id') FROM changes
                   WHERE json_extract(detail, '$.result.group_id') IS NOT NULL",
            )
            .map_err(journal_error)?;
        let groups = statement.query_map([], |row| row.get::<_, String>(0)).map_err(journal_error)?;
        sent.groups = groups.collect::<rusqlite::Result<_>>().map_err(journal_error)?;
        Ok(sent)
    }

    fn change_status(&self, run_id: &str, seq: u32) -> Result<Option<(ChangeStatus, Option<Value>)>> {
        self.connection()
            .query_row(
                "SELECT status, detail FROM changes WHERE run_id = ?1 AND seq = ?2",
                params![run_id, seq],
                |row| {
                    let status: String = row.get(0)?;
                    let detail: String = row.get(1)?;
                    Ok((
                        ChangeStatus::parse(&status),
                        serde_json::from_str::<Value>(&detail).ok().and_then(|d| d.get("result").cloned()),
                    ))
                },
            )
            .optional()
            .map_err(journal_error)
    }

    fn change_age(&self, run_id: &str, seq: u32) -> Result<Option<Duration>> {
        let updated: Option<String> = self
            .connection()
            .query_row("SELECT updated_at FROM changes WHERE run_id = ?1 AND seq = ?2", params![run_id, seq], |row| {
                row.get(0)
            })
            .optional()
            .map_err(journal_error)?;
        Ok(updated
            .and_then(|text| chrono::DateTime::parse_from_rfc3339(&text).ok())
            .map(|at| (chrono::Utc::now() - at.with_timezone(&chrono::Utc)).to_std().unwrap_or_default()))
    }

    fn finish_run(&self, run_id: &str, status: &str) -> Result<()> {
        self.connection()
            .execute("UPDATE runs SET status = ?2, finished_at = ?3 WHERE run_id = ?1", params![run_id, status, now()])
            .map_err(journal_error)?;
        Ok(())
    }

    fn run_changes(&self, run_id: &str) -> Result<Vec<(u32, ChangeStatus)>> {
        let connection = self.connection();
        let mut statement = connection
            .prepare("SELECT seq, status FROM changes WHERE run_id = ?1 ORDER BY seq")
            .map_err(journal_error)?;
        let rows = statement
            .query_map(params![run_id], |row| {
                let status: String = row.get(1)?;
                Ok((row.get(0)?, ChangeStatus::parse(&status)))
            })
            .map_err(journal_error)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(journal_error)
    }

    fn unfinished_run_for(&self, policy: &str, source_digest: &str, org_url: &str) -> Result<Option<String>> {
        self.connection()
            .query_row(
                &"SELECT run_id FROM runs r WHERE status = 'applying' AND policy = ?1 AND source_digest = ?3
                   AND ORG_MATCHES(?2) ORDER BY planned_at DESC LIMIT 1"
                    .replace("ORG_MATCHES(?2)", SAME_ORG),
                params![policy, org_key(org_url), source_digest],
                |row| row.get(0),
            )
            .optional()
            .map_err(journal_error)
    }

    fn runs(&self) -> Result<Vec<RunInfo>> {
        let connection = self.connection();
        let mut statement = connection
            .prepare(
                "SELECT r.run_id, r.policy, r.org_url, r.planned_at, r.finished_at, r.status, c.status, COUNT(c.seq)
                 FROM runs r LEFT JOIN changes c ON c.run_id = r.run_id
                 GROUP BY r.run_id, c.status ORDER BY r.planned_at DESC, r.run_id",
            )
            .map_err(journal_error)?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    RunInfo {
                        run_id: row.get(0)?,
                        policy: row.get(1)?,
                        org_url: row.get(2)?,
                        planned_at: row.get(3)?,
                        finished_at: row.get(4)?,
                        status: row.get(5)?,
                        changes: Default::default(),
                    },
                    row.get::<_, Option<String>>(6)?,
                    row.get::<_, i64>(7)?,
                ))
            })
            .map_err(journal_error)?;
        let mut runs: Vec<RunInfo> = Vec::new();
        for row in rows {
            let (info, status, count) = row.map_err(journal_error)?;
            if runs.last().map(|r| r.run_id != info.run_id).unwrap_or(true) {
                runs.push(info);
            }
            if let (Some(status), Some(run)) = (status, runs.last_mut()) {
                run.changes.insert(status, count.max(0) as usize);
            }
        }
        Ok(runs)
    }

    fn run_progress(&self, run_id: &str) -> Result<std::collections::BTreeMap<String, usize>> {
        let connection = self.connection();
        let mut statement = connection
            .prepare("SELECT status, COUNT(*) FROM changes WHERE run_id = ?1 GROUP BY status")
            .map_err(journal_error)?;
        let rows = statement
            .query_map(params![run_id], |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?.max(0) as usize)))
            .map_err(journal_error)?;
        rows.collect::<rusqlite::Result<_>>().map_err(journal_error)
    }
}
