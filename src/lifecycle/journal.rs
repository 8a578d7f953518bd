//! The journal: an SQLite database that records every run and every change (planned, started,
//! succeeded, failed, unknown), the profile and memberships of users before they are
//! deprovisioned, and the attributes last seen of each identity read from Okta. It is what lets
//! an interrupted apply resume without repeating work, and what answers "what happened to this
//! user".
//!
//! Secrets never enter it: changes are stored as planned (no passwords), and reset links are
//! returned to the caller only.
//!
//! The journal is a contract, versioned with `PRAGMA user_version` (see [`SCHEMA_VERSION`]):
//! a journal written by an older release is migrated in place when opened, and one written by a
//! newer release is refused rather than misread. Commits are durable (`synchronous=FULL`): a
//! change recorded as started before its request was sent is still recorded after a power loss.
//!
//! A plan is recorded when it is made ([`Journal::record_plan`]): its JSON, a SHA-256 digest of
//! it, the safety limits it was judged against and the number of records. Applying compares the
//! plan it is given with that record, so an edited plan, or one made for another org, is
//! refused. One applier owns a run at a time through a lease ([`Journal::acquire_lease`]), and
//! every change is claimed with a compare-and-set ([`Journal::claim`]) before it is sent.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::lifecycle::plan::{Change, Plan};
use crate::lifecycle::policy::Safety;

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

    fn parse(text: &str) -> ChangeStatus {
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

/// The profile and memberships of a user, recorded before a deprovision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserSnapshot {
    /// The run that took it.
    pub run_id: String,
    /// The user's id.
    pub user_id: String,
    /// The login.
    pub login: String,
    /// When (RFC 3339).
    pub taken_at: String,
    /// The status then.
    pub status: String,
    /// Okta's `statusChanged` of the user then (`None` in snapshots of releases before 0.3).
    #[serde(default)]
    pub status_changed: Option<String>,
    /// The whole profile.
    pub profile: Map<String, Value>,
    /// `(group id, group name)` of every membership.
    pub groups: Vec<(String, String)>,
    /// The admin roles the user held itself (not through a group). Empty in snapshots taken
    /// before release 0.2, which did not record roles.
    #[serde(default)]
    pub roles: Vec<SnapshotRole>,
}

/// An admin role a user held when a snapshot was taken, with the targets it was limited to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotRole {
    /// The role type (`USER_ADMIN`, ...).
    pub role_type: String,
    /// Okta's label.
    pub label: String,
    /// The ids of the groups a scoped role was limited to (empty: not limited to groups).
    #[serde(default)]
    pub group_targets: Vec<String>,
    /// The catalog apps an APP_ADMIN role was limited to (empty: not limited to apps).
    #[serde(default)]
    pub app_targets: Vec<String>,
}

impl SnapshotRole {
    /// Whether the role was limited to some groups or apps.
    pub fn is_scoped(&self) -> bool {
        !self.group_targets.is_empty() || !self.app_targets.is_empty()
    }
}

/// What a reactivation restores: the union of the snapshots taken since the user was last
/// active.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Restorable {
    /// `(group id, group name)` of the memberships.
    pub groups: Vec<(String, String)>,
    /// The admin roles the user held itself.
    pub roles: Vec<SnapshotRole>,
}

/// What a mirror of an org (the users, and the members of the groups that matter, as the
/// journal last read them) was read under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorHead {
    /// Okta's clock, less the settle delay, when the read that brought it up to date began: the
    /// next read asks for what changed from then on (RFC 3339).
    pub read_from: String,
    /// A digest of what a plan reads of each user (its attributes and match attribute).
    pub reads: String,
    /// A digest of the org's user schema.
    pub schema: String,
}

/// A change to a mirror (see [`Journal::save_mirror`]).
#[derive(Debug, Clone, Default)]
pub struct MirrorUpdate {
    /// Forget every user and member first (a full read).
    pub replace: bool,
    /// Users read (each replaces the mirror's).
    pub users: Vec<crate::lifecycle::state::UserState>,
    /// Users deleted from the org.
    pub removed: Vec<String>,
    /// Members read: group id, its `lastMembershipUpdated`, member ids.
    pub members: Vec<(String, String, Vec<String>)>,
}

/// The journal database.
#[derive(Debug)]
pub struct Journal {
    connection: Mutex<Connection>,
    path: Option<PathBuf>,
}

fn journal_error(error: rusqlite::Error) -> Error {
    Error::Journal(error.to_string())
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// How long a journal operation waits for another process's write to finish.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs a journal call (SQLite, which may wait up to [`BUSY_TIMEOUT`] for another process's
/// write) without holding up the async runtime: on a worker of a multi-threaded runtime the
/// worker's other tasks move to another thread meanwhile (`block_in_place`); anywhere else (no
/// runtime, a single-threaded one) it simply runs.
pub fn off_runtime<R>(call: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(call)
        }
        _ => call(),
    }
}

/// The journal's schema version (`PRAGMA user_version`). Version 0 is the schema of release
/// 0.1; each later version adds to it through [`MIGRATIONS`].
pub const SCHEMA_VERSION: i64 = 5;

/// The schema of release 0.1 (version 0), created as it was so that old and new journals go
/// through the same migrations.
const SCHEMA_V0: &str = "
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    policy TEXT NOT NULL,
    org_url TEXT NOT NULL,
    planned_at TEXT NOT NULL,
    applied_at TEXT,
    finished_at TEXT,
    status TEXT NOT NULL,
    summary TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS changes (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    seq INTEGER NOT NULL,
    action TEXT NOT NULL,
    operation TEXT NOT NULL,
    identity TEXT,
    login TEXT,
    user_id TEXT,
    status TEXT NOT NULL,
    detail TEXT NOT NULL,
    error TEXT,
    request_id TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE INDEX IF NOT EXISTS changes_by_login ON changes(login COLLATE NOCASE);
CREATE INDEX IF NOT EXISTS changes_by_user ON changes(user_id);
CREATE TABLE IF NOT EXISTS snapshots (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    login TEXT NOT NULL,
    taken_at TEXT NOT NULL,
    status TEXT NOT NULL,
    profile TEXT NOT NULL,
    groups TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS snapshots_by_user ON snapshots(user_id);
CREATE TABLE IF NOT EXISTS identities (
    user_id TEXT PRIMARY KEY,
    attributes TEXT NOT NULL,
    seen_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS watermarks (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
";

/// The SQL condition that run `r` was made against the org whose [`org_key`] is `?2`.
const SAME_ORG: &str = "lower(rtrim(r.org_url, '/')) = ?2";

/// An org URL as [`SAME_ORG`] compares it: without a trailing slash, in lower case (org URLs
/// have no path, and host names are case-insensitive).
fn org_key(org_url: &str) -> String {
    org_url.trim().trim_end_matches('/').to_lowercase()
}

/// `PRAGMA application_id` of an okta-lifecycle journal ("OKLJ"), set from schema version 4.
pub const APPLICATION_ID: i64 = 0x4F4B_4C4A;

/// The tables a journal of any schema version may hold (besides SQLite's own).
const JOURNAL_TABLES: &[&str] = &[
    "runs",
    "changes",
    "snapshots",
    "identities",
    "watermarks",
    "requests",
    "mirrors",
    "mirror_users",
    "mirror_members",
    "run_plans",
];

/// Refuses, without changing it, a non-empty file that is not an okta-lifecycle journal: one
/// that is not SQLite, one marked by another application, or one whose tables are not a
/// journal's. A journal of release 0.1 to 0.3 (not yet marked) is known by its tables.
fn check_is_journal(path: &Path) -> Result<()> {
    let refuse = |why: String| {
        Err(Error::Journal(format!(
            "{} is not an okta-lifecycle journal ({why}); it was left as it is: give another file",
            path.display()
        )))
    };
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let connection = match Connection::open_with_flags(path, flags) {
        Ok(connection) => connection,
        Err(error) => return refuse(format!("it cannot be opened as SQLite: {error}")),
    };
    let _ = connection.busy_timeout(BUSY_TIMEOUT);
    let application_id: i64 = match connection.query_row("PRAGMA application_id", [], |row| row.get(0)) {
        Ok(id) => id,
        Err(error) => return refuse(format!("it cannot be read as SQLite: {error}")),
    };
    if application_id == APPLICATION_ID {
        return Ok(());
    }
    if application_id != 0 {
        return refuse(format!("another application's database, application_id {application_id:#x}"));
    }
    let tables: Vec<String> = connection
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .and_then(|mut statement| statement.query_map([], |row| row.get(0))?.collect())
        .map_err(|e| Error::Journal(format!("{}: cannot list its tables: {e}", path.display())))?;
    if tables.is_empty() {
        // An empty database (created by SQLite, nothing in it yet): it becomes a journal.
        return Ok(());
    }
    let foreign: Vec<&String> = tables.iter().filter(|t| !JOURNAL_TABLES.contains(&t.as_str())).collect();
    if !foreign.is_empty() {
        return refuse(format!(
            "it holds other tables: {}",
            foreign.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ")
        ));
    }
    let columns = |table: &str| -> Vec<String> {
        connection
            .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
            .and_then(|mut statement| statement.query_map([], |row| row.get(0))?.collect())
            .unwrap_or_default()
    };
    let needs =
        [("runs", ["run_id", "policy", "org_url", "status"]), ("changes", ["run_id", "seq", "operation", "status"])];
    for (table, wanted) in needs {
        let have = columns(table);
        if let Some(missing) = wanted.iter().find(|column| !have.iter().any(|c| c == *column)) {
            return refuse(format!("its {table} table has no {missing} column"));
        }
    }
    Ok(())
}

/// Migration `i` takes a journal from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    "
ALTER TABLE runs ADD COLUMN plan TEXT;
ALTER TABLE runs ADD COLUMN digest TEXT;
ALTER TABLE runs ADD COLUMN safety TEXT;
ALTER TABLE runs ADD COLUMN records INTEGER;
ALTER TABLE runs ADD COLUMN source_digest TEXT;
ALTER TABLE runs ADD COLUMN lease_owner TEXT;
ALTER TABLE runs ADD COLUMN lease_expires_ms INTEGER;
CREATE INDEX IF NOT EXISTS runs_by_status ON runs(status);
",
    "
ALTER TABLE snapshots ADD COLUMN roles TEXT;
",
    "
ALTER TABLE runs ADD COLUMN lease_generation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN lease_origin TEXT;
ALTER TABLE runs ADD COLUMN lease_expires_uptime_ms INTEGER;
ALTER TABLE snapshots ADD COLUMN status_changed TEXT;
",
    "
ALTER TABLE changes ADD COLUMN claimed_at TEXT;
CREATE TABLE IF NOT EXISTS requests (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    request_id TEXT,
    status INTEGER,
    sent_at TEXT NOT NULL,
    ended_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS requests_by_change ON requests(run_id, seq);
CREATE INDEX IF NOT EXISTS requests_by_request_id ON requests(request_id);
PRAGMA application_id = 1330334794;
",
    "
CREATE TABLE IF NOT EXISTS mirrors (
    org TEXT PRIMARY KEY,
    read_from TEXT NOT NULL,
    reads TEXT NOT NULL,
    schema TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS mirror_users (
    org TEXT NOT NULL,
    user_id TEXT NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (org, user_id)
);
CREATE TABLE IF NOT EXISTS mirror_members (
    org TEXT NOT NULL,
    group_id TEXT NOT NULL,
    last_membership_updated TEXT NOT NULL,
    members TEXT NOT NULL,
    PRIMARY KEY (org, group_id)
);
CREATE TABLE IF NOT EXISTS run_plans (
    run_id TEXT PRIMARY KEY,
    plan TEXT NOT NULL
);
INSERT OR IGNORE INTO run_plans (run_id, plan) SELECT run_id, plan FROM runs WHERE plan IS NOT NULL;
UPDATE runs SET plan = NULL WHERE plan IS NOT NULL;
",
];

/// Brings a journal to [`SCHEMA_VERSION`]. The version is read again inside one IMMEDIATE
/// transaction that holds every step, so that processes opening a new journal at once take
/// turns: the first migrates it, the others find it migrated.
fn migrate(connection: &Connection) -> Result<()> {
    let read_version = |connection: &Connection| -> Result<i64> {
        connection.query_row("PRAGMA user_version", [], |row| row.get(0)).map_err(journal_error)
    };
    let too_new = |version: i64| {
        Error::Journal(format!(
            "the journal has schema version {version}, newer than this release understands ({SCHEMA_VERSION}); use a newer okta-lifecycle"
        ))
    };
    let version = read_version(connection)?;
    if version == SCHEMA_VERSION {
        return Ok(());
    }
    if version > SCHEMA_VERSION {
        return Err(too_new(version));
    }
    connection.execute_batch("BEGIN IMMEDIATE").map_err(journal_error)?;
    let steps = || -> Result<()> {
        let version = read_version(connection)?;
        if version > SCHEMA_VERSION {
            return Err(too_new(version));
        }
        if version == 0 {
            connection.execute_batch(SCHEMA_V0).map_err(journal_error)?;
        }
        for (step, sql) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
            let target = step as i64 + 1;
            connection
                .execute_batch(&format!("{sql} PRAGMA user_version = {target};"))
                .map_err(|e| Error::Journal(format!("cannot migrate the journal to schema version {target}: {e}")))?;
        }
        Ok(())
    };
    match steps() {
        Ok(()) => connection.execute_batch("COMMIT").map_err(journal_error),
        Err(error) => {
            let _ = connection.execute_batch("ROLLBACK");
            Err(error)
        }
    }
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

/// One run, as listed by [`Journal::runs`].
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

/// What the journal knows its runs sent, as [`Journal::sent_since`] reads it.
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
    /// Another applier owns it.
    Held {
        /// Who: `host:pid:token`.
        owner: String,
    },
}

/// The boot a lease origin names (its part before the pid namespace).
fn boot_of(origin: &str) -> &str {
    origin.split('/').next().unwrap_or_default()
}

fn epoch_ms() -> i64 {
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
fn owner_is_gone(owner: &str, origin: Option<&str>) -> bool {
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
fn this_origin() -> Option<String> {
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
const LOST_ATTEMPTS: &str = "*";

/// What became of a change, for [`Journal::settle`].
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

/// A fresh lease owner for this process: `host:pid:token`.
pub fn new_lease_owner() -> String {
    format!("{}:{}:{}", this_host(), std::process::id(), &crate::jose::random_id()[..12])
}

/// The SHA-256 digest of `bytes`, in hex.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 digest (hex) of a plan's JSON: what the journal compares an applied plan with.
pub fn plan_digest(plan: &Plan) -> String {
    sha256_hex(&serde_json::to_vec(plan).unwrap_or_default())
}

impl Journal {
    /// Opens (creating if needed) the journal at `path`. Before anything is changed, the file
    /// must be a regular file (not a device, a directory or a pipe) holding an okta-lifecycle
    /// journal, or an empty database: any other SQLite file, or a file that is not SQLite, is
    /// refused and left as it was. An empty path is refused (SQLite would take it for a
    /// temporary database, and nothing could be resumed).
    pub fn open(path: &Path) -> Result<Self> {
        if path.as_os_str().is_empty() || path.to_str().is_some_and(|text| text.trim().is_empty()) {
            return Err(Error::Journal(
                "the journal path is empty (give a file, or \":memory:\" for a journal that is not kept)".into(),
            ));
        }
        match std::fs::metadata(path) {
            Ok(metadata) if !metadata.is_file() => {
                return Err(Error::Journal(format!(
                    "{} is not a regular file; the journal must be one (or a path where one can be created)",
                    path.display()
                )));
            }
            Ok(metadata) if metadata.len() > 0 => check_is_journal(path)?,
            Ok(_) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(Error::Journal(format!("cannot read {}: {error}", path.display()))),
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::Journal(format!("cannot create {}: {e}", parent.display())))?;
        }
        let connection =
            Connection::open(path).map_err(|e| Error::Journal(format!("cannot open {}: {e}", path.display())))?;
        Self::prepare(connection, Some(path.to_owned()))
    }

    /// A journal in memory (tests, dry runs).
    pub fn in_memory() -> Result<Self> {
        Self::prepare(Connection::open_in_memory().map_err(journal_error)?, None)
    }

    fn prepare(connection: Connection, path: Option<PathBuf>) -> Result<Self> {
        // WAL with FULL sync: a committed "started" survives a crash of the process and a loss
        // of power, which is what resuming without repeating a write needs. The busy timeout
        // lets two processes share one journal.
        connection.busy_timeout(BUSY_TIMEOUT).map_err(journal_error)?;
        // Switching a new file to WAL needs it to itself for a moment, and SQLite answers "busy"
        // at once, without waiting, when another process is switching it too (many processes
        // opening a new journal at once): that is retried for as long as a busy wait lasts.
        let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
        loop {
            match connection.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;")
            {
                Ok(()) => break,
                Err(rusqlite::Error::SqliteFailure(error, _))
                    if error.code == rusqlite::ErrorCode::DatabaseBusy && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(5 + u64::from(fastrand::u8(..20))));
                }
                Err(error) => return Err(journal_error(error)),
            }
        }
        migrate(&connection)?;
        Ok(Journal { connection: Mutex::new(connection), path })
    }

    /// The default journal of an org: `$XDG_STATE_HOME/okta-lifecycle/<host>.sqlite`
    /// (`~/.local/state/...` when XDG_STATE_HOME is unset).
    pub fn default_path(org_url: &str) -> PathBuf {
        let base = std::env::var_os("XDG_STATE_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/state")))
            .unwrap_or_else(|| PathBuf::from("."));
        let host = url::Url::parse(org_url)
            .ok()
            .and_then(|u| u.host_str().map(|h| format!("{h}{}", u.port().map(|p| format!("-{p}")).unwrap_or_default())))
            .unwrap_or_else(|| "org".into());
        let safe: String =
            host.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' }).collect();
        base.join("okta-lifecycle").join(format!("{safe}.sqlite"))
    }

    /// The file behind the journal (`None` in memory).
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn connection(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.connection.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `write` with SQLite's `synchronous=NORMAL` instead of the journal's `FULL`: its commit
    /// survives the process being killed (WAL), but not a power cut before the next full sync,
    /// which any later `FULL` commit brings (it syncs the whole log). Only for what a resume
    /// finds out again on its own if it is lost: an outcome (the change then reads as `started`
    /// and is verified in Okta), the request ids of a change, the claim of a change that is
    /// harmless to send twice ([`Operation::repeat_is_harmful`]).
    fn relaxed<T>(&self, write: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        let mut connection = self.connection();
        connection.pragma_update(None, "synchronous", "NORMAL").map_err(journal_error)?;
        let result = write(&mut connection);
        let restored = connection.pragma_update(None, "synchronous", "FULL").map_err(journal_error);
        let value = result?;
        restored.map(|()| value)
    }

    /// Records a plan as made: its run, its changes as planned, its digest, the safety limits it
    /// was judged against, the number of records and their digest. Only a recorded plan can be
    /// applied with this journal. Recording the same run twice is refused.
    pub fn record_plan(&self, plan: &Plan, safety: &Safety, records: usize) -> Result<()> {
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

    /// What the journal recorded of a run when it was planned (`None`: not made with this
    /// journal).
    pub fn recorded_run(&self, run_id: &str) -> Result<Option<RecordedRun>> {
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

    /// Marks a recorded run as being applied.
    pub fn begin_run(&self, run_id: &str) -> Result<()> {
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

    /// Takes the lease of a run for `ttl`: free, expired, held by a process of this machine
    /// that is gone, or already held by `owner` (a renewal, which keeps the generation).
    /// Otherwise says who holds it. Taking it from anyone else starts a new generation.
    ///
    /// Expiry is judged on this machine's monotonic clock when the holder wrote its lease in
    /// the same boot (a wall-clock jump neither expires a live lease nor prolongs a dead one),
    /// and on the wall clock only for a holder from elsewhere.
    pub fn acquire_lease(&self, run_id: &str, owner: &str, ttl: Duration) -> Result<LeaseOutcome> {
        let ttl_ms = ttl.as_millis().min(i64::MAX as u128) as i64;
        let (now_ms, now_uptime) = (epoch_ms(), uptime_ms());
        let origin = this_origin();
        let mut connection = self.connection();
        let transaction =
            connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(journal_error)?;
        type Row = (Option<String>, Option<i64>, i64, Option<String>, Option<i64>);
        let current: Option<Row> = transaction
            .query_row(
                "SELECT lease_owner, lease_expires_ms, lease_generation, lease_origin, lease_expires_uptime_ms FROM runs WHERE run_id = ?1",
                params![run_id],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?)),
            )
            .optional()
            .map_err(journal_error)?;
        let Some((holder, expires_ms, generation, holder_origin, expires_uptime)) = current else {
            return Err(Error::Journal(format!("run {run_id} is not recorded in this journal")));
        };
        let renewal = holder.as_deref() == Some(owner);
        if let (Some(holder), false) = (&holder, renewal) {
            let same_boot =
                holder_origin.is_some() && holder_origin.as_deref().map(boot_of) == origin.as_deref().map(boot_of);
            let unexpired = match (same_boot, expires_uptime, now_uptime) {
                (true, Some(expires), Some(now)) => expires > now,
                _ => expires_ms.unwrap_or(0) > now_ms,
            };
            if unexpired && !owner_is_gone(holder, holder_origin.as_deref()) {
                return Ok(LeaseOutcome::Held { owner: holder.clone() });
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

    /// Extends a lease the caller holds; false when it is no longer the caller's (taken over:
    /// another generation).
    pub fn renew_lease(&self, run_id: &str, fence: &Fence, ttl: Duration) -> Result<bool> {
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

    /// Whether the caller still holds the run under this fence.
    pub fn holds_lease(&self, run_id: &str, fence: &Fence) -> Result<bool> {
        self.connection()
            .query_row(
                "SELECT COUNT(*) FROM runs WHERE run_id = ?1 AND lease_owner = ?2 AND lease_generation = ?3",
                params![run_id, fence.owner, fence.generation],
                |row| row.get::<_, i64>(0),
            )
            .map(|count| count == 1)
            .map_err(journal_error)
    }

    /// Gives a lease back (nothing happens when the caller no longer holds it).
    pub fn release_lease(&self, run_id: &str, fence: &Fence) -> Result<()> {
        self.connection()
            .execute(
                "UPDATE runs SET lease_owner = NULL, lease_expires_ms = NULL, lease_expires_uptime_ms = NULL
                 WHERE run_id = ?1 AND lease_owner = ?2 AND lease_generation = ?3",
                params![run_id, fence.owner, fence.generation],
            )
            .map_err(journal_error)?;
        Ok(())
    }

    /// Claims a change before it is sent: moves it to `started` only if it is still in the
    /// status `expected` the caller read (a compare-and-set), and only while the caller still
    /// holds the run under `fence`. False when another applier got there first, or took the
    /// run over, in which case the change must not be sent.
    ///
    /// The claim of a change that must not be sent twice is synced in full before this returns.
    pub fn claim(&self, run_id: &str, change: &Change, expected: ChangeStatus, fence: &Fence) -> Result<bool> {
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

    /// Moves a change to `status`, with its result (merged into the detail) or error. With a
    /// fence, only while the caller still holds the run under it: an applier that lost the run
    /// records nothing more (its successor owns every row now).
    #[allow(clippy::too_many_arguments)]
    pub fn mark(
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
    /// (only under `fence`, as [`Journal::mark`]). An outcome is committed without waiting for a
    /// full sync: lost to a power cut, the change reads as `started` again and a resume verifies
    /// it in Okta. A change moved back to `started` with what its send depends on (a reset's
    /// status before it) is synced in full, as its claim was.
    pub fn settle(
        &self,
        run_id: &str,
        change: &Change,
        outcome: &Outcome<'_>,
        writes: &[crate::http::SentWrite],
        fence: Option<&Fence>,
    ) -> Result<()> {
        let Outcome { status, result, error, request_id } = *outcome;
        let mut detail = serde_json::to_value(change).unwrap_or(Value::Null);
        if let (Some(result), Value::Object(map)) = (result, &mut detail) {
            map.insert("result".into(), result.clone());
        }
        let user_id = result
            .and_then(|r| r.get("user_id"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| change.operation.user().and_then(|u| u.id.clone()));
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
            return Err(Error::Journal(format!(
                "run {run_id}: another applier took the run over; change {} is not recorded by this one",
                change.seq
            )));
        }
        Ok(())
    }

    /// Records the attempts of writes a change sent (request ids, paths, times): what joins
    /// Okta's System Log with the journal. Recorded whoever holds the run: they were sent.
    pub fn record_requests(&self, run_id: &str, seq: u32, writes: &[crate::http::SentWrite]) -> Result<()> {
        if writes.is_empty() {
            return Ok(());
        }
        self.relaxed(|connection| {
            let transaction = connection.transaction().map_err(journal_error)?;
            insert_requests(&transaction, run_id, seq, writes)?;
            transaction.commit().map_err(journal_error)
        })
    }

    /// The attempts of writes recorded for a change, in the order they ended.
    pub fn change_requests(&self, run_id: &str, seq: u32) -> Result<Vec<crate::http::SentWrite>> {
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

    /// What the journal knows its runs sent from `since` (RFC 3339) on, and which users and
    /// groups they manage: the journal's side of the join with Okta's System Log.
    pub fn sent_since(&self, since: &str) -> Result<JournaledWrites> {
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

    /// The recorded status and result of a change.
    pub fn change_status(&self, run_id: &str, seq: u32) -> Result<Option<(ChangeStatus, Option<Value>)>> {
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

    /// How long ago a change's row last changed (`None`: no such change, or an unreadable time).
    pub fn change_age(&self, run_id: &str, seq: u32) -> Result<Option<Duration>> {
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

    /// Marks a run finished with its overall status.
    pub fn finish_run(&self, run_id: &str, status: &str) -> Result<()> {
        self.connection()
            .execute("UPDATE runs SET status = ?2, finished_at = ?3 WHERE run_id = ?1", params![run_id, status, now()])
            .map_err(journal_error)?;
        Ok(())
    }

    /// Records a user's profile and memberships before a deprovision.
    pub fn record_snapshot(&self, snapshot: &UserSnapshot) -> Result<()> {
        self.connection()
            .execute(
                "INSERT INTO snapshots (run_id, user_id, login, taken_at, status, profile, groups, roles, status_changed) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    snapshot.run_id,
                    snapshot.user_id,
                    snapshot.login,
                    snapshot.taken_at,
                    snapshot.status,
                    Value::Object(snapshot.profile.clone()).to_string(),
                    serde_json::to_string(&snapshot.groups).unwrap_or_default(),
                    serde_json::to_string(&snapshot.roles).unwrap_or_default(),
                    snapshot.status_changed
                ],
            )
            .map_err(journal_error)?;
        Ok(())
    }

    /// The latest snapshot of a user, by id.
    pub fn latest_snapshot(&self, user_id: &str) -> Result<Option<UserSnapshot>> {
        self.connection()
            .query_row(
                "SELECT run_id, user_id, login, taken_at, status, profile, groups, roles, status_changed FROM snapshots WHERE user_id = ?1 ORDER BY id DESC LIMIT 1",
                params![user_id],
                snapshot_from_row,
            )
            .optional()
            .map_err(journal_error)
    }

    /// The memberships and admin roles to restore when a user comes back: what the most recent
    /// deprovision by okta-lifecycle removed, and only if the user's present absence is that
    /// one. `status_changed` is Okta's `statusChanged` of the user now: the absence is ours when
    /// it is the moment our deactivation or suspension left (recorded with the change), or the
    /// moment of a snapshot taken while the user was already disabled. A user reactivated by
    /// hand and disabled again since (by hand, or by a deprovision that found nothing to
    /// remove) gets nothing back from an older absence, so that a role deliberately not given
    /// back stays gone.
    ///
    /// Within the absence, the snapshots are united: the first one holds every membership and
    /// role, a later one (taken when an earlier deprovision was only partly done) holds only
    /// what was left. Snapshots of releases that did not record `statusChanged` are judged as
    /// those releases did: back to the last one taken while the user was active.
    pub fn restorable(&self, user_id: &str, status_changed: Option<&str>) -> Result<Option<Restorable>> {
        let connection = self.connection();
        let mut statement = connection
            .prepare(
                "SELECT s.run_id, s.user_id, s.login, s.taken_at, s.status, s.profile, s.groups, s.roles, s.status_changed,
                    (SELECT json_extract(c.detail, '$.result.status_changed') FROM changes c
                      WHERE c.run_id = s.run_id AND c.user_id = s.user_id AND c.status = 'succeeded'
                        AND c.operation IN ('deactivate_user', 'suspend_user')
                      ORDER BY c.seq DESC LIMIT 1)
                 FROM snapshots s WHERE s.user_id = ?1 ORDER BY s.id DESC",
            )
            .map_err(journal_error)?;
        let rows = statement
            .query_map(params![user_id], |row| Ok((snapshot_from_row(row)?, row.get::<_, Option<String>>(9)?)))
            .map_err(journal_error)?;
        let mut restorable = Restorable::default();
        let mut any = false;
        // The `statusChanged` moments that belong to the present absence, growing as older
        // snapshots taken during it show when it began.
        let mut absence: Vec<String> = status_changed.map(str::to_owned).into_iter().collect();
        for row in rows {
            let (snapshot, disabled_at) = row.map_err(journal_error)?;
            let disabled = matches!(snapshot.status.as_str(), "DEPROVISIONED" | "SUSPENDED");
            let legacy = snapshot.status_changed.is_none() && disabled_at.is_none();
            let ours = legacy
                || disabled_at.as_ref().is_some_and(|at| absence.contains(at))
                || (disabled && snapshot.status_changed.as_ref().is_some_and(|at| absence.contains(at)));
            if !ours {
                break;
            }
            any = true;
            for (id, name) in snapshot.groups {
                if !restorable.groups.iter().any(|(known, _)| *known == id) {
                    restorable.groups.push((id, name));
                }
            }
            for role in snapshot.roles {
                if !restorable.roles.iter().any(|known| known.role_type == role.role_type) {
                    restorable.roles.push(role);
                }
            }
            if !disabled {
                // Taken while the user was still active: the start of this absence.
                break;
            }
            absence.extend(snapshot.status_changed);
        }
        Ok(any.then_some(restorable))
    }

    /// Every snapshot of a user of the org `org_url`, by id or login (oldest first). One journal
    /// may serve several orgs, where the same login is another person.
    pub fn snapshots(&self, user_id_or_login: &str, org_url: &str) -> Result<Vec<UserSnapshot>> {
        let connection = self.connection();
        let mut statement = connection
            .prepare(
                "SELECT s.run_id, s.user_id, s.login, s.taken_at, s.status, s.profile, s.groups, s.roles, s.status_changed
                 FROM snapshots s JOIN runs r ON r.run_id = s.run_id
                 WHERE (s.user_id = ?1 OR s.login = ?1 COLLATE NOCASE) AND ORG_MATCHES(?2)
                 ORDER BY s.id".replace("ORG_MATCHES(?2)", SAME_ORG).as_str(),
            )
            .map_err(journal_error)?;
        let rows = statement
            .query_map(params![user_id_or_login, org_key(org_url)], snapshot_from_row)
            .map_err(journal_error)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(journal_error)
    }

    /// Every recorded change about a user of the org `org_url`, by id or login, oldest first:
    /// the changes of runs that were applied (a plan that was only looked at is not history).
    /// One journal may serve several orgs, where the same login is another person.
    pub fn history(&self, user_id_or_login: &str, org_url: &str) -> Result<Vec<ChangeRecord>> {
        let connection = self.connection();
        let org = org_key(org_url);
        // A login may be recorded before the id is known (a create); find the id first.
        let user_id: Option<String> = connection
            .query_row(
                &"SELECT c.user_id FROM changes c JOIN runs r ON r.run_id = c.run_id
                  WHERE (c.login = ?1 COLLATE NOCASE OR c.user_id = ?1) AND c.user_id IS NOT NULL AND ORG_MATCHES(?2)
                  LIMIT 1"
                    .replace("ORG_MATCHES(?2)", SAME_ORG),
                params![user_id_or_login, org],
                |row| row.get(0),
            )
            .optional()
            .map_err(journal_error)?;
        let mut statement = connection
            .prepare(
                &"SELECT c.run_id, c.seq, c.action, c.operation, c.identity, c.login, c.user_id, c.status, c.detail, c.error, c.request_id, c.updated_at
                 FROM changes c JOIN runs r ON r.run_id = c.run_id
                 WHERE (c.login = ?1 COLLATE NOCASE OR c.user_id = ?1 OR (?3 IS NOT NULL AND c.user_id = ?3))
                   AND r.status != 'planned' AND ORG_MATCHES(?2)
                 ORDER BY r.planned_at, c.run_id, c.seq"
                    .replace("ORG_MATCHES(?2)", SAME_ORG),
            )
            .map_err(journal_error)?;
        let rows = statement
            .query_map(params![user_id_or_login, org, user_id], |row| {
                let status: String = row.get(7)?;
                let detail: String = row.get(8)?;
                Ok(ChangeRecord {
                    run_id: row.get(0)?,
                    seq: row.get(1)?,
                    action: row.get(2)?,
                    operation: row.get(3)?,
                    identity: row.get(4)?,
                    login: row.get(5)?,
                    user_id: row.get(6)?,
                    status: ChangeStatus::parse(&status),
                    detail: serde_json::from_str(&detail).unwrap_or(Value::Null),
                    error: row.get(9)?,
                    request_id: row.get(10)?,
                    updated_at: row.get(11)?,
                })
            })
            .map_err(journal_error)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(journal_error)
    }

    /// Every change of a run.
    pub fn run_changes(&self, run_id: &str) -> Result<Vec<(u32, ChangeStatus)>> {
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

    /// Runs that were started and did not finish, newest first.
    pub fn unfinished_runs(&self) -> Result<Vec<RunInfo>> {
        Ok(self.runs()?.into_iter().filter(|run| run.status == "applying").collect())
    }

    /// The unfinished run of a policy over the same records (by their digest) against the org
    /// `org_url`, if any: what an apply of the same policy and source resumes instead of
    /// planning anew. A run against another org sharing the journal is not it.
    pub fn unfinished_run_for(&self, policy: &str, source_digest: &str, org_url: &str) -> Result<Option<String>> {
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

    /// The runs made against the org `org_url`, newest first, with their changes counted by
    /// status.
    pub fn org_runs(&self, org_url: &str) -> Result<Vec<RunInfo>> {
        let org = org_key(org_url);
        Ok(self.runs()?.into_iter().filter(|run| org_key(&run.org_url) == org).collect())
    }

    /// Every run, newest first, with its changes counted by status.
    pub fn runs(&self) -> Result<Vec<RunInfo>> {
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

    /// A run's changes counted by status (one query: the command polls it while applying).
    pub fn run_progress(&self, run_id: &str) -> Result<std::collections::BTreeMap<String, usize>> {
        let connection = self.connection();
        let mut statement = connection
            .prepare("SELECT status, COUNT(*) FROM changes WHERE run_id = ?1 GROUP BY status")
            .map_err(journal_error)?;
        let rows = statement
            .query_map(params![run_id], |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?.max(0) as usize)))
            .map_err(journal_error)?;
        rows.collect::<rusqlite::Result<_>>().map_err(journal_error)
    }

    /// The attributes last seen of an identity read from Okta (for mover detection).
    pub fn identity_attributes(&self, user_id: &str) -> Result<Option<Map<String, Value>>> {
        self.connection()
            .query_row("SELECT attributes FROM identities WHERE user_id = ?1", params![user_id], |row| {
                row.get::<_, String>(0)
            })
            .optional()
            .map_err(journal_error)
            .map(|text| text.and_then(|t| serde_json::from_str(&t).ok()))
    }

    /// Remembers an identity's attributes as seen now.
    pub fn remember_identity(&self, user_id: &str, attributes: &Map<String, Value>) -> Result<()> {
        self.connection()
            .execute(
                "INSERT INTO identities (user_id, attributes, seen_at) VALUES (?1, ?2, ?3) ON CONFLICT(user_id) DO UPDATE SET attributes = excluded.attributes, seen_at = excluded.seen_at",
                params![user_id, Value::Object(attributes.clone()).to_string(), now()],
            )
            .map_err(journal_error)?;
        Ok(())
    }

    /// What the mirror of `org_url` was read under, if the journal keeps one.
    pub fn mirror_head(&self, org_url: &str) -> Result<Option<MirrorHead>> {
        self.connection()
            .query_row(
                "SELECT read_from, reads, schema FROM mirrors WHERE org = ?1",
                params![org_key(org_url)],
                |row| Ok(MirrorHead { read_from: row.get(0)?, reads: row.get(1)?, schema: row.get(2)? }),
            )
            .optional()
            .map_err(journal_error)
    }

    /// The users of the mirror of `org_url`. A row that does not decode is an error: the mirror
    /// is then not to be trusted, and [`Journal::save_mirror`] with `replace` starts it afresh.
    pub fn mirror_users(&self, org_url: &str) -> Result<Vec<crate::lifecycle::state::UserState>> {
        let connection = self.connection();
        let mut statement =
            connection.prepare("SELECT state FROM mirror_users WHERE org = ?1").map_err(journal_error)?;
        let rows =
            statement.query_map(params![org_key(org_url)], |row| row.get::<_, String>(0)).map_err(journal_error)?;
        let mut users = Vec::new();
        for row in rows {
            let text = row.map_err(journal_error)?;
            let state = serde_json::from_str(&text)
                .ok()
                .and_then(|value| crate::lifecycle::state::UserState::from_json(&value))
                .ok_or_else(|| Error::Journal("a user of the mirror cannot be read".into()))?;
            users.push(state);
        }
        Ok(users)
    }

    /// The members the mirror of `org_url` holds, by group id, with the group's
    /// `lastMembershipUpdated` when they were read.
    pub fn mirror_members(&self, org_url: &str) -> Result<HashMap<String, (String, Vec<String>)>> {
        let connection = self.connection();
        let mut statement = connection
            .prepare("SELECT group_id, last_membership_updated, members FROM mirror_members WHERE org = ?1")
            .map_err(journal_error)?;
        let rows = statement
            .query_map(params![org_key(org_url)], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, row.get::<_, String>(2)?))
            })
            .map_err(journal_error)?;
        let mut members = HashMap::new();
        for row in rows {
            let (group_id, updated, ids) = row.map_err(journal_error)?;
            let ids: Vec<String> = serde_json::from_str(&ids)
                .map_err(|_| Error::Journal(format!("the mirror's members of group {group_id} cannot be read")))?;
            members.insert(group_id, (updated, ids));
        }
        Ok(members)
    }

    /// Brings the mirror of `org_url` up to date in one transaction: `head`, the users changed
    /// (or, with `update.replace`, every user), the users deleted, and the members read.
    pub fn save_mirror(&self, org_url: &str, head: &MirrorHead, update: &MirrorUpdate) -> Result<()> {
        let org = org_key(org_url);
        self.relaxed(|connection| {
            let transaction = connection.transaction().map_err(journal_error)?;
            if update.replace {
                transaction.execute("DELETE FROM mirror_users WHERE org = ?1", params![org]).map_err(journal_error)?;
                transaction
                    .execute("DELETE FROM mirror_members WHERE org = ?1", params![org])
                    .map_err(journal_error)?;
            }
            {
                let mut upsert = transaction
                    .prepare(
                        "INSERT INTO mirror_users (org, user_id, state) VALUES (?1, ?2, ?3)
                         ON CONFLICT(org, user_id) DO UPDATE SET state = excluded.state",
                    )
                    .map_err(journal_error)?;
                for user in &update.users {
                    upsert.execute(params![org, user.id, user.to_json().to_string()]).map_err(journal_error)?;
                }
                let mut remove = transaction
                    .prepare("DELETE FROM mirror_users WHERE org = ?1 AND user_id = ?2")
                    .map_err(journal_error)?;
                for user_id in &update.removed {
                    remove.execute(params![org, user_id]).map_err(journal_error)?;
                }
                let mut members = transaction
                    .prepare(
                        "INSERT INTO mirror_members (org, group_id, last_membership_updated, members) VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT(org, group_id) DO UPDATE SET last_membership_updated = excluded.last_membership_updated, members = excluded.members",
                    )
                    .map_err(journal_error)?;
                for (group_id, updated, ids) in &update.members {
                    let ids = serde_json::to_string(ids).map_err(|e| Error::Journal(e.to_string()))?;
                    members.execute(params![org, group_id, updated, ids]).map_err(journal_error)?;
                }
            }
            transaction
                .execute(
                    "INSERT INTO mirrors (org, read_from, reads, schema, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT(org) DO UPDATE SET read_from = excluded.read_from, reads = excluded.reads,
                     schema = excluded.schema, updated_at = excluded.updated_at",
                    params![org, head.read_from, head.reads, head.schema, now()],
                )
                .map_err(journal_error)?;
            transaction.commit().map_err(journal_error)
        })
    }

    /// A named watermark (e.g. the last `lastUpdated` an incremental read reached).
    pub fn watermark(&self, name: &str) -> Result<Option<String>> {
        self.connection()
            .query_row("SELECT value FROM watermarks WHERE name = ?1", params![name], |row| row.get(0))
            .optional()
            .map_err(journal_error)
    }

    /// Stores a named watermark.
    pub fn set_watermark(&self, name: &str, value: &str) -> Result<()> {
        self.connection()
            .execute("INSERT INTO watermarks (name, value) VALUES (?1, ?2) ON CONFLICT(name) DO UPDATE SET value = excluded.value", params![name, value])
            .map_err(journal_error)?;
        Ok(())
    }
}

fn snapshot_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<UserSnapshot> {
    let profile: String = row.get(5)?;
    let groups: String = row.get(6)?;
    Ok(UserSnapshot {
        run_id: row.get(0)?,
        user_id: row.get(1)?,
        login: row.get(2)?,
        taken_at: row.get(3)?,
        status: row.get(4)?,
        profile: serde_json::from_str(&profile).unwrap_or_default(),
        groups: serde_json::from_str(&groups).unwrap_or_default(),
        roles: row.get::<_, Option<String>>(7)?.and_then(|roles| serde_json::from_str(&roles).ok()).unwrap_or_default(),
        status_changed: row.get(8)?,
    })
}
