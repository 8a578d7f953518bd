//! The journal in PostgreSQL: one database that every host applying to an org shares, so that
//! a run's lease, its claims and its history are the same wherever an applier runs.
//!
//! The contract is the SQLite journal's, statement for statement: the same tables (in the
//! schema `okta_lifecycle`, so the journal can share a database), the same compare-and-set
//! claims under the run's lease, the same records. What differs is what several hosts need:
//!
//! - **Time.** A lease's expiry is set and judged on the database server's clock, the one clock
//!   every host shares, so neither a host's wall clock nor its skew from the others decides
//!   when a run may be taken over. (A holder on the caller's own machine whose process is gone
//!   is still taken over at once, as with SQLite.)
//! - **Fencing.** Every take-over of a lease starts a new generation; every claim and outcome
//!   names the generation it was granted under and is refused under another, so an applier
//!   that stalled (a paused VM, a partitioned host) and lost its run can send nothing more.
//! - **Locks.** A lease is taken under the run row's lock (`SELECT ... FOR UPDATE`). A
//!   statement waits at most [`LOCK_WAIT`] for a lock, and the server ends a session that
//!   sits idle inside a transaction, so a stopped host cannot hold a run's row for ever.
//! - **Durability.** Claims and plans commit with the server's synchronous commit; outcomes and
//!   request records, which a resume finds out again on its own, commit with
//!   `synchronous_commit = off`, as the SQLite journal relaxes them.
//! - **A lost server.** A call whose connection is gone fails with a journal error (the apply
//!   stops, sending nothing it has not claimed) and the next call connects again; nothing is
//!   retried blindly, as a commit whose answer was lost may or may not have happened, which
//!   the next claim reads from the rows.
//!
//! The schema's version is kept in `okta_lifecycle.meta`; a database of a newer release is
//! refused rather than misread. Creating the schema the first time needs the `CREATE`
//! privilege on the database (docs/several-hosts.md, "Privileges").

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use postgres::{Client, Transaction};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::lifecycle::plan::{Change, Plan};
use crate::lifecycle::policy::Safety;
use crate::pg::{describe, on_own_thread, PgTarget};

use super::mirror::{MirrorHead, MirrorStore, MirrorUpdate};
use super::runs::{boot_of, owner_is_gone, settled_row, superseded_by, taken_over, this_origin, LOST_ATTEMPTS};
use super::runs::{
    plan_digest, ChangeRecord, ChangeStatus, Fence, JournaledWrites, LeaseOutcome, Outcome, RecordedRun, RunInfo,
    RunStore, SentBy, Unanswered, Unrecorded,
};
use super::schema::{org_key, SAME_ORG};
use super::snapshots::{Restorable, SnapshotStore, UserSnapshot};
use super::sqlite::now;

/// The journal's schema version in PostgreSQL (its own line of versions; SQLite's is
/// [`SCHEMA_VERSION`]).
pub const POSTGRES_SCHEMA_VERSION: i64 = 1;

/// How long a statement waits for a lock another session holds before it fails.
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// The advisory lock key under which the schema is created or migrated (one at a time).
const SCHEMA_LOCK: i64 = 0x4F4B_4C4A_0001;

const SCHEMA_V1: &str = "
CREATE TABLE IF NOT EXISTS okta_lifecycle.runs (
    run_id TEXT PRIMARY KEY,
    policy TEXT NOT NULL,
    org_url TEXT NOT NULL,
    planned_at TEXT NOT NULL,
    applied_at TEXT,
    finished_at TEXT,
    status TEXT NOT NULL,
    summary TEXT NOT NULL,
    digest TEXT,
    safety TEXT,
    records BIGINT,
    source_digest TEXT,
    lease_owner TEXT,
    lease_expires_ms BIGINT,
    lease_generation BIGINT NOT NULL DEFAULT 0,
    lease_origin TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_job ON okta_lifecycle.runs(policy, source_digest);
CREATE INDEX IF NOT EXISTS runs_by_status ON okta_lifecycle.runs(status);
CREATE TABLE IF NOT EXISTS okta_lifecycle.run_plans (
    run_id TEXT PRIMARY KEY REFERENCES okta_lifecycle.runs(run_id),
    plan TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS okta_lifecycle.changes (
    run_id TEXT NOT NULL REFERENCES okta_lifecycle.runs(run_id),
    seq BIGINT NOT NULL,
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
    claimed_at TEXT,
    PRIMARY KEY (run_id, seq)
);
CREATE INDEX IF NOT EXISTS changes_by_login ON okta_lifecycle.changes(lower(login));
CREATE INDEX IF NOT EXISTS changes_by_user ON okta_lifecycle.changes(user_id);
CREATE INDEX IF NOT EXISTS changes_by_update ON okta_lifecycle.changes(updated_at);
CREATE TABLE IF NOT EXISTS okta_lifecycle.requests (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    request_id TEXT,
    status INTEGER,
    sent_at TEXT NOT NULL,
    ended_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS requests_by_change ON okta_lifecycle.requests(run_id, seq);
CREATE INDEX IF NOT EXISTS requests_by_end ON okta_lifecycle.requests(ended_at);
CREATE TABLE IF NOT EXISTS okta_lifecycle.snapshots (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    login TEXT NOT NULL,
    taken_at TEXT NOT NULL,
    status TEXT NOT NULL,
    profile TEXT NOT NULL,
    groups TEXT NOT NULL,
    roles TEXT,
    status_changed TEXT
);
CREATE INDEX IF NOT EXISTS snapshots_by_user ON okta_lifecycle.snapshots(user_id);
CREATE INDEX IF NOT EXISTS snapshots_by_login ON okta_lifecycle.snapshots(lower(login));
CREATE TABLE IF NOT EXISTS okta_lifecycle.identities (
    user_id TEXT PRIMARY KEY,
    attributes TEXT NOT NULL,
    seen_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS okta_lifecycle.watermarks (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS okta_lifecycle.mirrors (
    org TEXT PRIMARY KEY,
    read_from TEXT NOT NULL,
    reads TEXT NOT NULL,
    schema TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS okta_lifecycle.mirror_users (
    org TEXT NOT NULL,
    user_id TEXT NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (org, user_id)
);
CREATE TABLE IF NOT EXISTS okta_lifecycle.mirror_members (
    org TEXT NOT NULL,
    group_id TEXT NOT NULL,
    last_membership_updated TEXT NOT NULL,
    members TEXT NOT NULL,
    PRIMARY KEY (org, group_id)
);
";

/// The database server's clock, in milliseconds since the epoch.
const SERVER_MS: &str = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint";

/// The database server's clock, as the journal writes times (RFC 3339, milliseconds, UTC).
const SERVER_TIME: &str = "to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";

/// The journal in a PostgreSQL database.
pub struct PostgresJournal {
    target: PgTarget,
    /// The session, opened again when it was lost.
    client: Mutex<Option<Client>>,
}

impl std::fmt::Debug for PostgresJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresJournal").field("url", &self.target.shown()).finish_non_exhaustive()
    }
}

fn seq_of(value: i64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

impl PostgresJournal {
    /// Connects to the database `url` names and brings its journal schema up to date. An
    /// unreachable database, or one whose journal is newer than this release, is an error.
    pub fn open(url: &str) -> Result<PostgresJournal> {
        let target = PgTarget::parse(url).map_err(|e| Error::Journal(e.0))?;
        let journal = PostgresJournal { target, client: Mutex::new(None) };
        journal.with(|client| migrate(client, journal.shown()))?;
        Ok(journal)
    }

    /// The database's URL without its password.
    pub fn shown(&self) -> &str {
        self.target.shown()
    }

    fn error(&self, error: postgres::Error) -> Error {
        Error::Journal(format!("the journal at {}: {}", self.shown(), describe(&error)))
    }

    /// Runs `call` with the session (connecting first if there is none, or it was lost), on a
    /// thread of its own. A session that broke during the call is dropped, so the next call
    /// connects again.
    fn with<T: Send>(&self, call: impl FnOnce(&mut Client) -> Result<T> + Send) -> Result<T> {
        let mut slot = self.client.lock().unwrap_or_else(|e| e.into_inner());
        if slot.as_ref().is_none_or(Client::is_closed) {
            discard(slot.take());
            let mut client = self.target.connect().map_err(|e| Error::Journal(e.0))?;
            let settings = format!(
                "SET lock_timeout = '{}ms'; SET idle_in_transaction_session_timeout = '60s'; \
                 SET statement_timeout = '120s'; SET TIME ZONE 'UTC'; SET search_path TO okta_lifecycle",
                LOCK_WAIT.as_millis()
            );
            on_own_thread(|| client.batch_execute(&settings)).map_err(|e| self.error(e))?;
            *slot = Some(client);
        }
        let Some(client) = slot.as_mut() else {
            return Err(Error::Journal(format!("the journal at {}: no session", self.shown())));
        };
        let result = on_own_thread(|| call(client));
        if client.is_closed() {
            discard(slot.take());
        }
        result
    }

    /// Runs `work` in one transaction; `relaxed` commits without waiting for the server to
    /// flush it (what a resume finds out again on its own).
    fn transaction<T: Send>(
        &self,
        relaxed: bool,
        work: impl FnOnce(&mut Transaction<'_>) -> std::result::Result<T, TxError> + Send,
    ) -> Result<T> {
        self.with(|client| {
            let mut transaction = client.transaction().map_err(|e| self.error(e))?;
            if relaxed {
                transaction.batch_execute("SET LOCAL synchronous_commit = off").map_err(|e| self.error(e))?;
            }
            match work(&mut transaction) {
                Ok(value) => {
                    transaction.commit().map_err(|e| self.error(e))?;
                    Ok(value)
                }
                Err(TxError::Database(error)) => Err(self.error(error)),
                Err(TxError::Journal(error)) => Err(error),
            }
        })
    }

    /// One statement in a transaction of its own (autocommit).
    fn query(&self, sql: &str, params: &[&(dyn postgres::types::ToSql + Sync)]) -> Result<Vec<postgres::Row>> {
        self.with(|client| client.query(sql, params).map_err(|e| self.error(e)))
    }

    fn execute(&self, sql: &str, params: &[&(dyn postgres::types::ToSql + Sync)]) -> Result<u64> {
        self.with(|client| client.execute(sql, params).map_err(|e| self.error(e)))
    }
}

/// Closes a session on a thread of its own: the driver's `Drop` runs its event loop, which
/// must not happen on an async runtime's thread.
fn discard(client: Option<Client>) {
    if let Some(client) = client {
        on_own_thread(move || drop(client));
    }
}

impl Drop for PostgresJournal {
    fn drop(&mut self) {
        let slot = self.client.get_mut().unwrap_or_else(|e| e.into_inner());
        discard(slot.take());
    }
}

/// What ends a transaction early.
enum TxError {
    Database(postgres::Error),
    Journal(Error),
}

impl From<postgres::Error> for TxError {
    fn from(error: postgres::Error) -> Self {
        TxError::Database(error)
    }
}

/// Creates the schema, or brings it to [`POSTGRES_SCHEMA_VERSION`], one session at a time.
fn migrate(client: &mut Client, shown: &str) -> Result<()> {
    let failed = |error: postgres::Error| Error::Journal(format!("the journal at {shown}: {}", describe(&error)));
    let mut transaction = client.transaction().map_err(failed)?;
    transaction.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK]).map_err(failed)?;
    transaction
        .batch_execute(
            "CREATE SCHEMA IF NOT EXISTS okta_lifecycle;
             CREATE TABLE IF NOT EXISTS okta_lifecycle.meta (name TEXT PRIMARY KEY, value BIGINT NOT NULL)",
        )
        .map_err(failed)?;
    let version: Option<i64> = transaction
        .query_opt("SELECT value FROM okta_lifecycle.meta WHERE name = 'schema_version'", &[])
        .map_err(failed)?
        .map(|row| row.get(0));
    match version {
        Some(version) if version > POSTGRES_SCHEMA_VERSION => {
            return Err(Error::Journal(format!(
                "the journal at {shown} has schema version {version}, newer than this release understands \
                 ({POSTGRES_SCHEMA_VERSION}); use a newer okta-lifecycle"
            )));
        }
        Some(version) if version == POSTGRES_SCHEMA_VERSION => {}
        _ => {
            transaction.batch_execute(SCHEMA_V1).map_err(failed)?;
            transaction
                .execute(
                    "INSERT INTO okta_lifecycle.meta (name, value) VALUES ('schema_version', $1)
                     ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                    &[&POSTGRES_SCHEMA_VERSION],
                )
                .map_err(failed)?;
        }
    }
    transaction.commit().map_err(failed)
}

/// Whether the run is still held under `fence`, locking its row (shared) for the rest of the
/// transaction: a take-over waits for this transaction, and this one sees a take-over that
/// committed first.
fn holds(transaction: &mut Transaction<'_>, run_id: &str, fence: &Fence) -> std::result::Result<bool, TxError> {
    let row = transaction.query_opt(
        "SELECT 1 FROM runs WHERE run_id = $1 AND lease_owner = $2 AND lease_generation = $3 FOR SHARE",
        &[&run_id, &fence.owner, &fence.generation],
    )?;
    Ok(row.is_some())
}

fn insert_requests(
    transaction: &mut Transaction<'_>,
    run_id: &str,
    seq: u32,
    writes: &[crate::http::SentWrite],
) -> std::result::Result<(), TxError> {
    if writes.is_empty() {
        return Ok(());
    }
    let methods: Vec<&str> = writes.iter().map(|w| w.method.as_str()).collect();
    let paths: Vec<&str> = writes.iter().map(|w| w.path.as_str()).collect();
    let ids: Vec<Option<&str>> = writes.iter().map(|w| w.request_id.as_deref()).collect();
    let statuses: Vec<Option<i32>> = writes.iter().map(|w| w.status.map(i32::from)).collect();
    let sent: Vec<&str> = writes.iter().map(|w| w.sent_at.as_str()).collect();
    let ended: Vec<&str> = writes.iter().map(|w| w.ended_at.as_str()).collect();
    transaction.execute(
        "INSERT INTO requests (run_id, seq, method, path, request_id, status, sent_at, ended_at)
         SELECT $1, $2, m, p, i, s, a, e
         FROM unnest($3::text[], $4::text[], $5::text[], $6::int[], $7::text[], $8::text[])
              WITH ORDINALITY AS t(m, p, i, s, a, e, n) ORDER BY n",
        &[&run_id, &i64::from(seq), &methods, &paths, &ids, &statuses, &sent, &ended],
    )?;
    Ok(())
}

impl RunStore for PostgresJournal {
    fn record_plan(&self, plan: &Plan, safety: &Safety, records: usize) -> Result<()> {
        let plan_json =
            serde_json::to_string(plan).map_err(|e| Error::Journal(format!("cannot encode the plan: {e}")))?;
        let safety_json =
            serde_json::to_string(safety).map_err(|e| Error::Journal(format!("cannot encode the limits: {e}")))?;
        let summary = serde_json::to_string(&plan.summary).map_err(|e| Error::Journal(e.to_string()))?;
        let mut seqs: Vec<i64> = Vec::new();
        let mut actions: Vec<&str> = Vec::new();
        let mut operations: Vec<&str> = Vec::new();
        let mut identities: Vec<Option<&str>> = Vec::new();
        let mut logins: Vec<Option<&str>> = Vec::new();
        let mut user_ids: Vec<Option<String>> = Vec::new();
        let mut details: Vec<String> = Vec::new();
        for change in &plan.changes {
            seqs.push(i64::from(change.seq));
            actions.push(change.action.as_str());
            operations.push(change.operation.name());
            identities.push(change.identity.as_deref());
            logins.push(change.operation.login());
            user_ids.push(change.operation.user().and_then(|u| u.id.clone()));
            details.push(serde_json::to_string(change).map_err(|e| Error::Journal(e.to_string()))?);
        }
        let digest = plan_digest(plan);
        let records = i64::try_from(records).unwrap_or(i64::MAX);
        self.transaction(false, |transaction| {
            let inserted = transaction.execute(
                "INSERT INTO runs (run_id, policy, org_url, planned_at, status, summary, digest, safety, records, source_digest)
                 VALUES ($1, $2, $3, $4, 'planned', $5, $6, $7, $8, $9) ON CONFLICT (run_id) DO NOTHING",
                &[
                    &plan.run_id,
                    &plan.policy,
                    &plan.org_url,
                    &plan.created_at,
                    &summary,
                    &digest,
                    &safety_json,
                    &records,
                    &plan.source_digest,
                ],
            )?;
            if inserted != 1 {
                return Err(TxError::Journal(Error::Journal(format!("run {} is already recorded", plan.run_id))));
            }
            transaction
                .execute("INSERT INTO run_plans (run_id, plan) VALUES ($1, $2)", &[&plan.run_id, &plan_json])?;
            transaction.execute(
                "INSERT INTO changes (run_id, seq, action, operation, identity, login, user_id, status, detail, updated_at)
                 SELECT $1, s, a, o, i, l, u, 'planned', d, $2
                 FROM unnest($3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
                      AS t(s, a, o, i, l, u, d)",
                &[&plan.run_id, &now(), &seqs, &actions, &operations, &identities, &logins, &user_ids, &details],
            )?;
            Ok(())
        })
    }

    fn recorded_run(&self, run_id: &str) -> Result<Option<RecordedRun>> {
        let rows = self.query(
            "SELECT r.org_url, r.digest, r.safety, r.records, p.plan
             FROM runs r LEFT JOIN run_plans p ON p.run_id = r.run_id WHERE r.run_id = $1",
            &[&run_id],
        )?;
        let Some(row) = rows.first() else { return Ok(None) };
        let unreadable =
            |what: &str, e: serde_json::Error| Error::Journal(format!("run {run_id}: unreadable {what}: {e}"));
        let safety = match row.get::<_, Option<String>>(2) {
            Some(text) => serde_json::from_str(&text).map_err(|e| unreadable("safety limits", e))?,
            None => Safety::default(),
        };
        let plan = match row.get::<_, Option<String>>(4) {
            Some(text) => Some(serde_json::from_str(&text).map_err(|e| unreadable("plan", e))?),
            None => None,
        };
        let records = row.get::<_, Option<i64>>(3).unwrap_or(0).max(0);
        Ok(Some(RecordedRun {
            org_url: row.get(0),
            digest: row.get(1),
            safety,
            records: usize::try_from(records).unwrap_or(usize::MAX),
            plan,
        }))
    }

    fn clock(&self) -> Result<String> {
        let rows = self.query(&format!("SELECT {SERVER_TIME}"), &[])?;
        Ok(rows.first().map(|row| row.get(0)).unwrap_or_else(now))
    }

    fn begin_run(&self, run_id: &str) -> Result<()> {
        let updated = self.execute(
            &format!(
                "UPDATE runs SET status = 'applying', applied_at = COALESCE(applied_at, {SERVER_TIME}), finished_at = NULL
                 WHERE run_id = $1"
            ),
            &[&run_id],
        )?;
        if updated != 1 {
            return Err(Error::Journal(format!("run {run_id} is not recorded in this journal")));
        }
        Ok(())
    }

    /// As the SQLite journal's, except that expiry is set and judged on the database server's
    /// clock, which every host shares.
    fn acquire_lease(&self, run_id: &str, owner: &str, ttl: Duration) -> Result<LeaseOutcome> {
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        let origin = this_origin();
        self.transaction(false, |transaction| {
            // The run's row and those of the other runs of the same policy over the same
            // records, locked in one order: two hosts taking leases of such runs at once take
            // turns.
            let rows = transaction.query(
                &format!(
                    "SELECT run_id, lease_owner, lease_expires_ms, lease_generation, lease_origin, {SERVER_MS},
                            org_url, status, planned_at, applied_at, finished_at
                     FROM runs WHERE run_id = $1
                        OR (policy, source_digest) = (SELECT policy, source_digest FROM runs WHERE run_id = $1)
                     ORDER BY run_id FOR UPDATE"
                ),
                &[&run_id],
            )?;
            let Some(row) = rows.iter().find(|row| row.get::<_, &str>(0) == run_id) else {
                return Err(TxError::Journal(Error::Journal(format!("run {run_id} is not recorded in this journal"))));
            };
            let holder: Option<String> = row.get(1);
            let generation: i64 = row.get(3);
            let server_now: i64 = row.get(5);
            let org = org_key(row.get(6));
            // Whether a lease someone else wrote is still theirs: unexpired on the server's clock,
            // and not a process of this machine that is gone.
            let live = |row: &postgres::Row| {
                let Some(holder) = row.get::<_, Option<&str>>(1) else { return false };
                let holder_origin: Option<&str> = row.get(4);
                let gone = holder_origin.map(boot_of) == origin.as_deref().map(boot_of)
                    && owner_is_gone(holder, holder_origin);
                row.get::<_, Option<i64>>(2).unwrap_or(0) > server_now && !gone
            };
            let renewal = holder.as_deref() == Some(owner);
            if !renewal {
                if let Some(holder) = holder.as_ref().filter(|_| live(row)) {
                    return Ok(LeaseOutcome::Held { owner: holder.clone() });
                }
                let siblings: Vec<&postgres::Row> = rows
                    .iter()
                    .filter(|other| other.get::<_, &str>(0) != run_id && org_key(other.get(6)) == org)
                    .collect();
                if let Some(sibling) = siblings.iter().find(|sibling| live(sibling)) {
                    return Ok(LeaseOutcome::Held { owner: sibling.get(1) });
                }
                if row.get::<_, &str>(7) == "planned" {
                    let overlapped = |sibling: &&&postgres::Row| {
                        superseded_by(row.get(8), sibling.get(9), sibling.get(10), sibling.get(2))
                    };
                    if let Some(sibling) = siblings.iter().find(overlapped) {
                        return Ok(LeaseOutcome::Superseded { by: sibling.get(0) });
                    }
                }
            }
            let generation = if renewal { generation } else { generation.saturating_add(1) };
            transaction.execute(
                &format!(
                    "UPDATE runs SET lease_owner = $2, lease_expires_ms = {SERVER_MS} + $3, lease_generation = $4,
                        lease_origin = $5 WHERE run_id = $1"
                ),
                &[&run_id, &owner, &ttl_ms, &generation, &origin],
            )?;
            Ok(LeaseOutcome::Acquired(Fence { owner: owner.to_owned(), generation }))
        })
    }

    fn renew_lease(&self, run_id: &str, fence: &Fence, ttl: Duration) -> Result<bool> {
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        let updated = self.execute(
            &format!(
                "UPDATE runs SET lease_expires_ms = {SERVER_MS} + $4, lease_origin = $5
                 WHERE run_id = $1 AND lease_owner = $2 AND lease_generation = $3"
            ),
            &[&run_id, &fence.owner, &fence.generation, &ttl_ms, &this_origin()],
        )?;
        Ok(updated == 1)
    }

    fn holds_lease(&self, run_id: &str, fence: &Fence) -> Result<bool> {
        let rows = self.query(
            "SELECT 1 FROM runs WHERE run_id = $1 AND lease_owner = $2 AND lease_generation = $3",
            &[&run_id, &fence.owner, &fence.generation],
        )?;
        Ok(rows.len() == 1)
    }

    fn release_lease(&self, run_id: &str, fence: &Fence) -> Result<()> {
        self.execute(
            &format!(
                "UPDATE runs SET lease_owner = NULL, lease_expires_ms = NULL,
                    finished_at = COALESCE(finished_at, {SERVER_TIME})
                 WHERE run_id = $1 AND lease_owner = $2 AND lease_generation = $3"
            ),
            &[&run_id, &fence.owner, &fence.generation],
        )?;
        Ok(())
    }

    fn claim(&self, run_id: &str, change: &Change, expected: ChangeStatus, fence: &Fence) -> Result<bool> {
        let seq = i64::from(change.seq);
        let relaxed = !change.operation.repeat_is_harmful();
        let updated = self.transaction(relaxed, |transaction| {
            let stamp = now();
            if !holds(transaction, run_id, fence)? {
                return Ok(0);
            }
            let left_since: Option<String> = if matches!(expected, ChangeStatus::Started | ChangeStatus::Unknown) {
                transaction
                    .query_opt(
                        "SELECT COALESCE(claimed_at, updated_at) FROM changes WHERE run_id = $1 AND seq = $2",
                        &[&run_id, &seq],
                    )?
                    .map(|row| row.get(0))
            } else {
                None
            };
            let updated = transaction.execute(
                "UPDATE changes SET status = 'started', error = NULL, updated_at = $4, claimed_at = $4
                 WHERE run_id = $1 AND seq = $2 AND status = $3",
                &[&run_id, &seq, &expected.as_str(), &stamp],
            )?;
            if let (1, Some(since)) = (updated, left_since) {
                transaction.execute(
                    "INSERT INTO requests (run_id, seq, method, path, request_id, status, sent_at, ended_at)
                     VALUES ($1, $2, $3, '', NULL, NULL, $4, $5)",
                    &[&run_id, &seq, &LOST_ATTEMPTS, &since, &stamp],
                )?;
            }
            Ok(updated)
        })?;
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
        let seq = i64::from(change.seq);
        let updated = self.transaction(status != ChangeStatus::Started, |transaction| {
            insert_requests(transaction, run_id, change.seq, writes)?;
            if let Some(fence) = fence {
                if !holds(transaction, run_id, fence)? {
                    return Ok(0);
                }
            }
            // A result recorded earlier (a reset's status before it was sent) is kept when this
            // outcome brings none: it is what a resume needs to tell whether the change happened.
            let mut detail = detail.clone();
            if result.is_none() {
                let before = transaction
                    .query_opt(
                        "SELECT detail FROM changes WHERE run_id = $1 AND seq = $2 FOR UPDATE",
                        &[&run_id, &seq],
                    )?
                    .and_then(|row| serde_json::from_str::<Value>(&row.get::<_, String>(0)).ok())
                    .and_then(|before| before.get("result").cloned())
                    .filter(|kept| !kept.is_null());
                if let (Some(kept), Value::Object(map)) = (before, &mut detail) {
                    map.insert("result".into(), kept);
                }
            }
            let updated = transaction.execute(
                "UPDATE changes SET status = $3, detail = $4, error = $5, request_id = $6,
                    user_id = COALESCE($7, user_id), updated_at = $8
                 WHERE run_id = $1 AND seq = $2",
                &[&run_id, &seq, &status.as_str(), &detail.to_string(), &error, &request_id, &user_id, &now()],
            )?;
            Ok(updated)
        })?;
        if updated == 0 && fence.is_some() {
            return Err(taken_over(run_id, change.seq));
        }
        Ok(())
    }

    fn record_requests(&self, run_id: &str, seq: u32, writes: &[crate::http::SentWrite]) -> Result<()> {
        if writes.is_empty() {
            return Ok(());
        }
        self.transaction(true, |transaction| insert_requests(transaction, run_id, seq, writes))
    }

    fn change_requests(&self, run_id: &str, seq: u32) -> Result<Vec<crate::http::SentWrite>> {
        let rows = self.query(
            "SELECT method, path, request_id, status, sent_at, ended_at FROM requests
             WHERE run_id = $1 AND seq = $2 AND method != $3 ORDER BY id",
            &[&run_id, &i64::from(seq), &LOST_ATTEMPTS],
        )?;
        Ok(rows
            .iter()
            .map(|row| crate::http::SentWrite {
                method: row.get(0),
                path: row.get(1),
                request_id: row.get(2),
                status: row.get::<_, Option<i32>>(3).and_then(|s| u16::try_from(s).ok()),
                sent_at: row.get(4),
                ended_at: row.get(5),
            })
            .collect())
    }

    fn sent_since(&self, since: &str) -> Result<JournaledWrites> {
        let by = |row: &postgres::Row, at: usize| SentBy {
            run_id: row.get(at),
            seq: seq_of(row.get(at + 1)),
            operation: row.get(at + 2),
        };
        let mut sent = JournaledWrites::default();
        let answered = self.query(
            "SELECT q.path, q.request_id, q.sent_at, q.ended_at, q.run_id, q.seq, c.operation
             FROM requests q JOIN changes c ON c.run_id = q.run_id AND c.seq = q.seq
             WHERE q.ended_at >= $1 AND q.method != $2",
            &[&since, &LOST_ATTEMPTS],
        )?;
        for row in &answered {
            match row.get::<_, Option<String>>(1) {
                Some(id) => {
                    sent.request_ids.insert(id, by(row, 4));
                }
                None => sent.unanswered.push(Unanswered {
                    path: row.get(0),
                    sent_at: row.get(2),
                    ended_at: row.get(3),
                    by: by(row, 4),
                }),
            }
        }
        let mut lost: HashMap<(String, u32), (String, String)> = self
            .query(
                "SELECT run_id, seq, MIN(sent_at), MAX(ended_at) FROM requests
                 WHERE method = $1 AND ended_at >= $2 GROUP BY run_id, seq",
                &[&LOST_ATTEMPTS, &since],
            )?
            .iter()
            .map(|row| ((row.get(0), seq_of(row.get(1))), (row.get(2), row.get(3))))
            .collect();
        let in_flight = self.query(
            "SELECT c.claimed_at, c.updated_at, c.user_id, c.detail::jsonb #>> '{group,id}',
                    c.detail::jsonb #>> '{result,group_id}', c.detail::jsonb #>> '{result,log_event}',
                    c.run_id, c.seq, c.operation,
                    EXISTS (SELECT 1 FROM requests q WHERE q.run_id = c.run_id AND q.seq = c.seq AND q.method != $2)
             FROM changes c JOIN runs r ON r.run_id = c.run_id
             WHERE r.status != 'planned' AND c.status != 'planned' AND c.updated_at >= $1
               AND c.operation != 'snapshot_user'",
            &[&since, &LOST_ATTEMPTS],
        )?;
        for row in &in_flight {
            let by = by(row, 6);
            if let Some(uuid) = row.get::<_, Option<String>>(5) {
                sent.log_events.insert(uuid, by.clone());
            }
            let targets: Vec<String> = (2..5).filter_map(|at| row.get::<_, Option<String>>(at)).collect();
            if targets.is_empty() {
                continue;
            }
            if let Some((from, until)) = lost.remove(&(by.run_id.clone(), by.seq)) {
                sent.unrecorded.push(Unrecorded {
                    claimed_at: Some(from),
                    until,
                    targets: targets.clone(),
                    by: by.clone(),
                });
            }
            if !row.get::<_, bool>(9) {
                sent.unrecorded.push(Unrecorded { claimed_at: row.get(0), until: row.get(1), targets, by });
            }
        }
        sent.users = self
            .query("SELECT user_id FROM changes WHERE user_id IS NOT NULL UNION SELECT user_id FROM snapshots", &[])?
            .iter()
            .map(|row| row.get(0))
            .collect::<HashSet<String>>();
        sent.groups = self
            .query(
                "SELECT detail::jsonb #>> '{group,id}' AS id FROM changes WHERE detail::jsonb #>> '{group,id}' IS NOT NULL
                 UNION SELECT detail::jsonb #>> '{result,group_id}' FROM changes
                   WHERE detail::jsonb #>> '{result,group_id}' IS NOT NULL",
                &[],
            )?
            .iter()
            .map(|row| row.get(0))
            .collect::<HashSet<String>>();
        Ok(sent)
    }

    fn change_status(&self, run_id: &str, seq: u32) -> Result<Option<(ChangeStatus, Option<Value>)>> {
        let rows = self
            .query("SELECT status, detail FROM changes WHERE run_id = $1 AND seq = $2", &[&run_id, &i64::from(seq)])?;
        Ok(rows.first().map(|row| {
            let detail: String = row.get(1);
            (
                ChangeStatus::parse(row.get(0)),
                serde_json::from_str::<Value>(&detail).ok().and_then(|d| d.get("result").cloned()),
            )
        }))
    }

    fn change_age(&self, run_id: &str, seq: u32) -> Result<Option<Duration>> {
        let rows =
            self.query("SELECT updated_at FROM changes WHERE run_id = $1 AND seq = $2", &[&run_id, &i64::from(seq)])?;
        Ok(rows
            .first()
            .and_then(|row| chrono::DateTime::parse_from_rfc3339(row.get(0)).ok())
            .map(|at| (chrono::Utc::now() - at.with_timezone(&chrono::Utc)).to_std().unwrap_or_default()))
    }

    fn finish_run(&self, run_id: &str, status: &str) -> Result<()> {
        self.execute(
            &format!("UPDATE runs SET status = $2, finished_at = {SERVER_TIME} WHERE run_id = $1"),
            &[&run_id, &status],
        )?;
        Ok(())
    }

    fn run_changes(&self, run_id: &str) -> Result<Vec<(u32, ChangeStatus)>> {
        let rows = self.query("SELECT seq, status FROM changes WHERE run_id = $1 ORDER BY seq", &[&run_id])?;
        Ok(rows.iter().map(|row| (seq_of(row.get(0)), ChangeStatus::parse(row.get(1)))).collect())
    }

    fn unfinished_run_for(&self, policy: &str, source_digest: &str, org_url: &str) -> Result<Option<String>> {
        let rows = self.query(
            &"SELECT run_id FROM runs r WHERE status = 'applying' AND policy = $1 AND source_digest = $3
               AND ORG_MATCHES ORDER BY planned_at DESC LIMIT 1"
                .replace("ORG_MATCHES", &SAME_ORG.replace("?2", "$2")),
            &[&policy, &org_key(org_url), &source_digest],
        )?;
        Ok(rows.first().map(|row| row.get(0)))
    }

    fn runs(&self) -> Result<Vec<RunInfo>> {
        let rows = self.query(
            "SELECT r.run_id, r.policy, r.org_url, r.planned_at, r.finished_at, r.status, c.status, COUNT(c.seq)
             FROM runs r LEFT JOIN changes c ON c.run_id = r.run_id
             GROUP BY r.run_id, c.status ORDER BY r.planned_at DESC, r.run_id",
            &[],
        )?;
        let mut runs: Vec<RunInfo> = Vec::new();
        for row in &rows {
            let run_id: String = row.get(0);
            if runs.last().is_none_or(|run| run.run_id != run_id) {
                runs.push(RunInfo {
                    run_id,
                    policy: row.get(1),
                    org_url: row.get(2),
                    planned_at: row.get(3),
                    finished_at: row.get(4),
                    status: row.get(5),
                    changes: BTreeMap::new(),
                });
            }
            if let (Some(status), Some(run)) = (row.get::<_, Option<String>>(6), runs.last_mut()) {
                run.changes.insert(status, usize::try_from(row.get::<_, i64>(7)).unwrap_or(0));
            }
        }
        Ok(runs)
    }

    fn run_progress(&self, run_id: &str) -> Result<BTreeMap<String, usize>> {
        let rows = self.query("SELECT status, COUNT(*) FROM changes WHERE run_id = $1 GROUP BY status", &[&run_id])?;
        Ok(rows.iter().map(|row| (row.get(0), usize::try_from(row.get::<_, i64>(1)).unwrap_or(0))).collect())
    }
}

fn snapshot_from_row(row: &postgres::Row) -> UserSnapshot {
    let profile: String = row.get(5);
    let groups: String = row.get(6);
    UserSnapshot {
        run_id: row.get(0),
        user_id: row.get(1),
        login: row.get(2),
        taken_at: row.get(3),
        status: row.get(4),
        profile: serde_json::from_str(&profile).unwrap_or_default(),
        groups: serde_json::from_str(&groups).unwrap_or_default(),
        roles: row.get::<_, Option<String>>(7).and_then(|roles| serde_json::from_str(&roles).ok()).unwrap_or_default(),
        status_changed: row.get(8),
    }
}

impl SnapshotStore for PostgresJournal {
    fn record_snapshot(&self, snapshot: &UserSnapshot) -> Result<()> {
        self.execute(
            "INSERT INTO snapshots (run_id, user_id, login, taken_at, status, profile, groups, roles, status_changed)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                &snapshot.run_id,
                &snapshot.user_id,
                &snapshot.login,
                &snapshot.taken_at,
                &snapshot.status,
                &Value::Object(snapshot.profile.clone()).to_string(),
                &serde_json::to_string(&snapshot.groups).unwrap_or_default(),
                &serde_json::to_string(&snapshot.roles).unwrap_or_default(),
                &snapshot.status_changed,
            ],
        )?;
        Ok(())
    }

    fn latest_snapshot(&self, user_id: &str) -> Result<Option<UserSnapshot>> {
        let rows = self.query(
            "SELECT run_id, user_id, login, taken_at, status, profile, groups, roles, status_changed
             FROM snapshots WHERE user_id = $1 ORDER BY id DESC LIMIT 1",
            &[&user_id],
        )?;
        Ok(rows.first().map(snapshot_from_row))
    }

    fn restorable(&self, user_id: &str, status_changed: Option<&str>) -> Result<Option<Restorable>> {
        let rows = self.query(
            "SELECT s.run_id, s.user_id, s.login, s.taken_at, s.status, s.profile, s.groups, s.roles, s.status_changed,
                (SELECT c.detail::jsonb #>> '{result,status_changed}' FROM changes c
                  WHERE c.run_id = s.run_id AND c.user_id = s.user_id AND c.status = 'succeeded'
                    AND c.operation IN ('deactivate_user', 'suspend_user')
                  ORDER BY c.seq DESC LIMIT 1)
             FROM snapshots s WHERE s.user_id = $1 ORDER BY s.id DESC",
            &[&user_id],
        )?;
        let snapshots = rows.iter().map(|row| (snapshot_from_row(row), row.get::<_, Option<String>>(9)));
        Ok(super::snapshots::restorable_from(snapshots, status_changed))
    }

    fn snapshots(&self, user_id_or_login: &str, org_url: &str) -> Result<Vec<UserSnapshot>> {
        let rows = self.query(
            &"SELECT s.run_id, s.user_id, s.login, s.taken_at, s.status, s.profile, s.groups, s.roles, s.status_changed
              FROM snapshots s JOIN runs r ON r.run_id = s.run_id
              WHERE (s.user_id = $1 OR lower(s.login) = lower($1)) AND ORG_MATCHES
              ORDER BY s.id"
                .replace("ORG_MATCHES", &SAME_ORG.replace("?2", "$2")),
            &[&user_id_or_login, &org_key(org_url)],
        )?;
        Ok(rows.iter().map(snapshot_from_row).collect())
    }

    fn history(&self, user_id_or_login: &str, org_url: &str) -> Result<Vec<ChangeRecord>> {
        let org = org_key(org_url);
        let same_org = SAME_ORG.replace("?2", "$2");
        let user_id: Option<String> = self
            .query(
                &"SELECT c.user_id FROM changes c JOIN runs r ON r.run_id = c.run_id
                  WHERE (lower(c.login) = lower($1) OR c.user_id = $1) AND c.user_id IS NOT NULL AND ORG_MATCHES
                  LIMIT 1"
                    .replace("ORG_MATCHES", &same_org),
                &[&user_id_or_login, &org],
            )?
            .first()
            .map(|row| row.get(0));
        let rows = self.query(
            &"SELECT c.run_id, c.seq, c.action, c.operation, c.identity, c.login, c.user_id, c.status, c.detail,
                     c.error, c.request_id, c.updated_at
              FROM changes c JOIN runs r ON r.run_id = c.run_id
              WHERE (lower(c.login) = lower($1) OR c.user_id = $1 OR ($3::text IS NOT NULL AND c.user_id = $3))
                AND r.status != 'planned' AND ORG_MATCHES
              ORDER BY r.planned_at, c.run_id, c.seq"
                .replace("ORG_MATCHES", &same_org),
            &[&user_id_or_login, &org, &user_id],
        )?;
        Ok(rows
            .iter()
            .map(|row| {
                let detail: String = row.get(8);
                ChangeRecord {
                    run_id: row.get(0),
                    seq: seq_of(row.get(1)),
                    action: row.get(2),
                    operation: row.get(3),
                    identity: row.get(4),
                    login: row.get(5),
                    user_id: row.get(6),
                    status: ChangeStatus::parse(row.get(7)),
                    detail: serde_json::from_str(&detail).unwrap_or(Value::Null),
                    error: row.get(9),
                    request_id: row.get(10),
                    updated_at: row.get(11),
                }
            })
            .collect())
    }

    fn identity_attributes(&self, user_id: &str) -> Result<Option<Map<String, Value>>> {
        let rows = self.query("SELECT attributes FROM identities WHERE user_id = $1", &[&user_id])?;
        Ok(rows.first().and_then(|row| serde_json::from_str(row.get(0)).ok()))
    }

    fn remember_identity(&self, user_id: &str, attributes: &Map<String, Value>) -> Result<()> {
        self.execute(
            "INSERT INTO identities (user_id, attributes, seen_at) VALUES ($1, $2, $3)
             ON CONFLICT (user_id) DO UPDATE SET attributes = excluded.attributes, seen_at = excluded.seen_at",
            &[&user_id, &Value::Object(attributes.clone()).to_string(), &now()],
        )?;
        Ok(())
    }
}

impl MirrorStore for PostgresJournal {
    fn mirror_head(&self, org_url: &str) -> Result<Option<MirrorHead>> {
        let rows = self.query("SELECT read_from, reads, schema FROM mirrors WHERE org = $1", &[&org_key(org_url)])?;
        Ok(rows.first().map(|row| MirrorHead { read_from: row.get(0), reads: row.get(1), schema: row.get(2) }))
    }

    fn mirror_users(&self, org_url: &str) -> Result<Vec<crate::lifecycle::state::UserState>> {
        let rows = self.query("SELECT state FROM mirror_users WHERE org = $1", &[&org_key(org_url)])?;
        rows.iter()
            .map(|row| {
                serde_json::from_str(row.get(0))
                    .ok()
                    .and_then(|value| crate::lifecycle::state::UserState::from_json(&value))
                    .ok_or_else(|| Error::Journal("a user of the mirror cannot be read".into()))
            })
            .collect()
    }

    fn mirror_members(&self, org_url: &str) -> Result<HashMap<String, (String, Vec<String>)>> {
        let rows = self.query(
            "SELECT group_id, last_membership_updated, members FROM mirror_members WHERE org = $1",
            &[&org_key(org_url)],
        )?;
        rows.iter()
            .map(|row| {
                let group_id: String = row.get(0);
                let ids: Vec<String> = serde_json::from_str(row.get(2))
                    .map_err(|_| Error::Journal(format!("the mirror's members of group {group_id} cannot be read")))?;
                Ok((group_id, (row.get(1), ids)))
            })
            .collect()
    }

    fn save_mirror(&self, org_url: &str, head: &MirrorHead, update: &MirrorUpdate) -> Result<()> {
        let org = org_key(org_url);
        let user_ids: Vec<&str> = update.users.iter().map(|user| user.id.as_str()).collect();
        let states: Vec<String> = update.users.iter().map(|user| user.to_json().to_string()).collect();
        let group_ids: Vec<&str> = update.members.iter().map(|(id, _, _)| id.as_str()).collect();
        let updated: Vec<&str> = update.members.iter().map(|(_, at, _)| at.as_str()).collect();
        let members = update
            .members
            .iter()
            .map(|(_, _, ids)| serde_json::to_string(ids))
            .collect::<std::result::Result<Vec<String>, _>>()
            .map_err(|e| Error::Journal(e.to_string()))?;
        self.transaction(true, |transaction| {
            if update.replace {
                transaction.execute("DELETE FROM mirror_users WHERE org = $1", &[&org])?;
                transaction.execute("DELETE FROM mirror_members WHERE org = $1", &[&org])?;
            }
            transaction.execute(
                "INSERT INTO mirror_users (org, user_id, state) SELECT $1, u, s FROM unnest($2::text[], $3::text[]) AS t(u, s)
                 ON CONFLICT (org, user_id) DO UPDATE SET state = excluded.state",
                &[&org, &user_ids, &states],
            )?;
            transaction.execute(
                "DELETE FROM mirror_users WHERE org = $1 AND user_id = ANY($2::text[])",
                &[&org, &update.removed],
            )?;
            transaction.execute(
                "INSERT INTO mirror_members (org, group_id, last_membership_updated, members)
                 SELECT $1, g, u, m FROM unnest($2::text[], $3::text[], $4::text[]) AS t(g, u, m)
                 ON CONFLICT (org, group_id) DO UPDATE SET last_membership_updated = excluded.last_membership_updated,
                    members = excluded.members",
                &[&org, &group_ids, &updated, &members],
            )?;
            transaction.execute(
                "INSERT INTO mirrors (org, read_from, reads, schema, updated_at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (org) DO UPDATE SET read_from = excluded.read_from, reads = excluded.reads,
                    schema = excluded.schema, updated_at = excluded.updated_at",
                &[&org, &head.read_from, &head.reads, &head.schema, &now()],
            )?;
            Ok(())
        })
    }

    fn watermark(&self, name: &str) -> Result<Option<String>> {
        let rows = self.query("SELECT value FROM watermarks WHERE name = $1", &[&name])?;
        Ok(rows.first().map(|row| row.get(0)))
    }

    fn set_watermark(&self, name: &str, value: &str) -> Result<()> {
        self.execute(
            "INSERT INTO watermarks (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            &[&name, &value],
        )?;
        Ok(())
    }
}
