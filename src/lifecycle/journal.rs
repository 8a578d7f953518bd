//! The journal: an SQLite database that records every run and every change (planned, started,
//! succeeded, failed, unknown), the profile and memberships of users before they are
//! deprovisioned, and the attributes last seen of each identity read from Okta. It is what lets
//! an interrupted apply resume without repeating work, and what answers "what happened to this
//! user".
//!
//! Secrets never enter it: changes are stored as planned (no passwords), and reset links are
//! returned to the caller only.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::lifecycle::plan::{Change, Plan};

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
    fn as_str(self) -> &'static str {
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
            _ => ChangeStatus::Planned,
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
    /// The whole profile.
    pub profile: Map<String, Value>,
    /// `(group id, group name)` of every membership.
    pub groups: Vec<(String, String)>,
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

const SCHEMA: &str = "
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

impl Journal {
    /// Opens (creating if needed) the journal at `path`.
    pub fn open(path: &Path) -> Result<Self> {
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
        // WAL with NORMAL sync: every commit survives a crash of this process, which is what
        // resuming needs, without an fsync per change.
        connection
            .execute_batch(
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000;",
            )
            .map_err(journal_error)?;
        connection.execute_batch(SCHEMA).map_err(journal_error)?;
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

    /// Records a plan's run and its changes as planned. Calling it again for the same run (a
    /// resume) keeps what is recorded and returns false.
    pub fn begin_run(&self, plan: &Plan) -> Result<bool> {
        let mut connection = self.connection();
        let transaction = connection.transaction().map_err(journal_error)?;
        let inserted = transaction
            .execute(
                "INSERT OR IGNORE INTO runs (run_id, policy, org_url, planned_at, applied_at, status, summary) VALUES (?1, ?2, ?3, ?4, ?5, 'applying', ?6)",
                params![plan.run_id, plan.policy, plan.org_url, plan.created_at, now(), serde_json::to_string(&plan.summary).unwrap_or_default()],
            )
            .map_err(journal_error)?;
        if inserted == 1 {
            let mut insert = transaction
                .prepare("INSERT INTO changes (run_id, seq, action, operation, identity, login, user_id, status, detail, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'planned', ?8, ?9)")
                .map_err(journal_error)?;
            let stamp = now();
            for change in &plan.changes {
                insert
                    .execute(params![
                        plan.run_id,
                        change.seq,
                        change.action.as_str(),
                        change.operation.name(),
                        change.identity,
                        change.operation.login(),
                        change.operation.user().and_then(|u| u.id.clone()),
                        serde_json::to_string(change).unwrap_or_default(),
                        stamp
                    ])
                    .map_err(journal_error)?;
            }
        } else {
            transaction
                .execute("UPDATE runs SET status = 'applying' WHERE run_id = ?1", params![plan.run_id])
                .map_err(journal_error)?;
        }
        transaction.commit().map_err(journal_error)?;
        Ok(inserted == 1)
    }

    /// Moves a change to `status`, with its result (merged into the detail) or error.
    pub fn mark(
        &self,
        run_id: &str,
        change: &Change,
        status: ChangeStatus,
        result: Option<&Value>,
        error: Option<&str>,
        request_id: Option<&str>,
    ) -> Result<()> {
        let mut detail = serde_json::to_value(change).unwrap_or(Value::Null);
        if let (Some(result), Value::Object(map)) = (result, &mut detail) {
            map.insert("result".into(), result.clone());
        }
        let user_id = result
            .and_then(|r| r.get("user_id"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| change.operation.user().and_then(|u| u.id.clone()));
        self.connection()
            .execute(
                "UPDATE changes SET status = ?3, detail = ?4, error = ?5, request_id = ?6, user_id = COALESCE(?7, user_id), updated_at = ?8 WHERE run_id = ?1 AND seq = ?2",
                params![run_id, change.seq, status.as_str(), detail.to_string(), error, request_id, user_id, now()],
            )
            .map_err(journal_error)?;
        Ok(())
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
                "INSERT INTO snapshots (run_id, user_id, login, taken_at, status, profile, groups) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    snapshot.run_id,
                    snapshot.user_id,
                    snapshot.login,
                    snapshot.taken_at,
                    snapshot.status,
                    Value::Object(snapshot.profile.clone()).to_string(),
                    serde_json::to_string(&snapshot.groups).unwrap_or_default()
                ],
            )
            .map_err(journal_error)?;
        Ok(())
    }

    /// The latest snapshot of a user, by id.
    pub fn latest_snapshot(&self, user_id: &str) -> Result<Option<UserSnapshot>> {
        self.connection()
            .query_row(
                "SELECT run_id, user_id, login, taken_at, status, profile, groups FROM snapshots WHERE user_id = ?1 ORDER BY id DESC LIMIT 1",
                params![user_id],
                snapshot_from_row,
            )
            .optional()
            .map_err(journal_error)
    }

    /// Every snapshot of a user, by id or login (oldest first).
    pub fn snapshots(&self, user_id_or_login: &str) -> Result<Vec<UserSnapshot>> {
        let connection = self.connection();
        let mut statement = connection
            .prepare("SELECT run_id, user_id, login, taken_at, status, profile, groups FROM snapshots WHERE user_id = ?1 OR login = ?1 COLLATE NOCASE ORDER BY id")
            .map_err(journal_error)?;
        let rows = statement.query_map(params![user_id_or_login], snapshot_from_row).map_err(journal_error)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(journal_error)
    }

    /// Every recorded change about a user, by id or login, oldest first.
    pub fn history(&self, user_id_or_login: &str) -> Result<Vec<ChangeRecord>> {
        let connection = self.connection();
        // A login may be recorded before the id is known (a create); find the id first.
        let user_id: Option<String> = connection
            .query_row(
                "SELECT user_id FROM changes WHERE (login = ?1 COLLATE NOCASE OR user_id = ?1) AND user_id IS NOT NULL LIMIT 1",
                params![user_id_or_login],
                |row| row.get(0),
            )
            .optional()
            .map_err(journal_error)?;
        let mut statement = connection
            .prepare(
                "SELECT c.run_id, c.seq, c.action, c.operation, c.identity, c.login, c.user_id, c.status, c.detail, c.error, c.request_id, c.updated_at
                 FROM changes c JOIN runs r ON r.run_id = c.run_id
                 WHERE c.login = ?1 COLLATE NOCASE OR c.user_id = ?1 OR (?2 IS NOT NULL AND c.user_id = ?2)
                 ORDER BY r.planned_at, c.run_id, c.seq",
            )
            .map_err(journal_error)?;
        let rows = statement
            .query_map(params![user_id_or_login, user_id], |row| {
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

    /// Runs that did not finish, newest first: `(run_id, policy, planned_at)`.
    pub fn unfinished_runs(&self) -> Result<Vec<(String, String, String)>> {
        let connection = self.connection();
        let mut statement = connection
            .prepare("SELECT run_id, policy, planned_at FROM runs WHERE status = 'applying' ORDER BY planned_at DESC")
            .map_err(journal_error)?;
        let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?))).map_err(journal_error)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(journal_error)
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
    })
}
