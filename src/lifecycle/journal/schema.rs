//! The journal's SQLite schema: its versions, the migrations between them, and the check that a
//! file is a journal before anything is written to it.

use std::path::Path;

use rusqlite::Connection;

use super::sqlite::{journal_error, BUSY_TIMEOUT};
use crate::error::{Error, Result};

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
pub(super) const SAME_ORG: &str = "lower(rtrim(r.org_url, '/')) = ?2";

/// An org URL as [`SAME_ORG`] compares it: without a trailing slash, in lower case (org URLs
/// have no path, and host names are case-insensitive).
pub(super) fn org_key(org_url: &str) -> String {
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
pub(super) fn check_is_journal(path: &Path) -> Result<()> {
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
pub(super) fn migrate(connection: &Connection) -> Result<()> {
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
