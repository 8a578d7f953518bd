//! The PostgreSQL storage of a shared budget, for the processes of every host that names the same
//! database.
//!
//! - **The state** is one row per org (keyed by the org URL's origin) in the table
//!   `okta_lifecycle_budget`, its [`Stored`] state as `jsonb`. Each decision and each answer is
//!   one short transaction: the row read `FOR UPDATE`, the governor's decision taken here, the
//!   row written back if it changed, committed without waiting for the disk. The table is
//!   unlogged: an estimate lost in a crash or a fail-over is relearnt from the next answers.
//! - **Slots** are session-level advisory locks, `(space, slot)` with `space` drawn from the org
//!   (so that two orgs in one database do not share slots). A session may hold several; the
//!   server gives them all back when the session ends. This session's own, held by its leases,
//!   are known here and never asked for twice (an advisory lock is re-entrant within a session).
//! - **Requests in flight** are charged to the session (`pg_backend_pid()`), and dropped once
//!   the session is absent from `pg_stat_activity`: a killed process's connection closes, and
//!   the server drops a dead host's through TCP keepalives, which the session asks for.
//! - **Polling**: a sender told to wait asks again shortly (while the answers it waits on come
//!   in); it reads the state as last committed, without the lock, and takes the lock only when
//!   that state would let it go, so that waiting processes do not queue before the answers.
//! - **Time**: the transaction reads the server's clock beside the row, after its lock is taken,
//!   so every stored time is on the one clock all hosts share; this machine's monotonic clock
//!   takes over between reads (the round trip, well under the governor's reset margin, is the
//!   only error).
//! - **Patience**: statements time out on the server ([`STATEMENT_TIMEOUT`], a lock after
//!   [`LOCK_WAIT`]), and the server ends a session that sits inside a transaction past
//!   [`IDLE_IN_TRANSACTION`] (a stopped process), letting go of its row lock and slots.
//!
//! The table is created, if missing, under a transaction-level advisory lock so that many
//! processes starting at once do not race on it; that needs the `CREATE` privilege on the first
//! schema of the search path the first time only. The sessions must be the server's own: a
//! pooler in transaction mode (PgBouncer's default) would mix the sessions' advisory locks up.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use postgres::error::SqlState;
use postgres::{Client, Statement, Transaction};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc::WeakUnboundedSender;

use super::store::{Hold, Job, Moment, SlotLease, Storage, StoreError, Stored, Turn, LOCK_PATIENCE};
use crate::pg::PgTarget;

/// How long a statement may run on the server.
const STATEMENT_TIMEOUT: Duration = LOCK_PATIENCE;
/// How long a statement waits for a lock another session holds (the org's row): one attempt to
/// decide; the governor tries again until [`LOCK_PATIENCE`].
const LOCK_WAIT: Duration = Duration::from_millis(500);
/// How long the server lets a session sit idle inside a transaction before it ends the session.
/// This store's transactions take a few round trips; a session idle that long in one belongs to a
/// stopped process, whose row lock would otherwise hold every other process up.
const IDLE_IN_TRANSACTION: Duration = Duration::from_secs(1);

/// The table and its one row per org. The state is an estimate, rewritten twice per request and
/// relearnt from the next answers when lost, so it is kept out of the write-ahead log (`UNLOGGED`:
/// a crash or a fail-over empties it, and the rows are made again) and its pages leave room for
/// the next version of a row beside the last one (`fillfactor`).
const CREATE_TABLE: &str = "
CREATE UNLOGGED TABLE IF NOT EXISTS okta_lifecycle_budget (
    org TEXT PRIMARY KEY,
    state JSONB,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
) WITH (fillfactor = 50);
COMMENT ON TABLE okta_lifecycle_budget IS
    'okta-lifecycle: each org''s shared rate budget, rewritten on every request; safe to delete (it is relearnt)';
";

/// Whether the table is there (then nothing is created, and no `CREATE` privilege is needed).
const TABLE_EXISTS: &str = "SELECT to_regclass('okta_lifecycle_budget') IS NOT NULL";

/// The org's row, made if missing.
const ADD_ROW: &str = "INSERT INTO okta_lifecycle_budget (org) VALUES ($1) ON CONFLICT (org) DO NOTHING";

/// The org's state under its row lock, and, read after the lock is taken: the server's clock (ms
/// since the epoch) and the sessions alive in this database.
const READ: &str = "
WITH locked AS MATERIALIZED (
    SELECT state FROM okta_lifecycle_budget WHERE org = $1 FOR UPDATE
)
SELECT locked.state::text,
       (extract(epoch FROM clock_timestamp()) * 1000)::int8,
       ARRAY(SELECT pid FROM pg_stat_activity WHERE datname = current_database())
FROM locked";

/// [`READ`] without the lock: the state as last committed, for a sender told to wait.
const PEEK: &str = "
SELECT state::text,
       (extract(epoch FROM clock_timestamp()) * 1000)::int8,
       ARRAY(SELECT pid FROM pg_stat_activity WHERE datname = current_database())
FROM okta_lifecycle_budget WHERE org = $1";

const WRITE: &str = "UPDATE okta_lifecycle_budget SET state = $2::text::jsonb, updated_at = now() WHERE org = $1";

/// The first slot below `$2` that no session holds, taken, skipping those this session holds
/// (`$3`). `CASE` fixes the order in which the condition is read and `LIMIT 1` stops at the first
/// slot taken, so no other slot is locked on the way.
const TAKE_SLOT: &str = "
SELECT slot FROM generate_series(0, $2::int4 - 1) AS slot
WHERE CASE WHEN slot = ANY($3::int4[]) THEN false ELSE pg_try_advisory_lock($1::int4, slot) END
LIMIT 1";

const RELEASE_SLOT: &str = "SELECT pg_advisory_unlock($1::int4, $2::int4)";

/// The advisory lock under which the table is created (`-1`: never a slot).
const TABLE_LOCK: (i32, i32) = (0x4F4B_4C42, -1);

/// The session's settings: the patience above; commits that do not wait for the disk (an
/// estimate lost in a crash is relearnt); and a name that tells the budget's sessions from the
/// journal's in `pg_stat_activity`.
fn session_settings() -> String {
    format!(
        "SET statement_timeout = {}; SET lock_timeout = {}; SET idle_in_transaction_session_timeout = {}; \
         SET synchronous_commit = off; SET application_name = 'okta-lifecycle budget'",
        STATEMENT_TIMEOUT.as_millis(),
        LOCK_WAIT.as_millis(),
        IDLE_IN_TRANSACTION.as_millis()
    )
}

/// The server's side of the connection's keepalives: a host that dies (or is cut off) holding
/// slots loses its session within about half a minute. Ignored over a local socket.
const SERVER_KEEPALIVES: &str =
    "SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3; \
     SET tcp_user_timeout = 30000";

/// The advisory lock space of an org's slots.
fn lock_space(org: &str) -> i32 {
    let digest = Sha256::digest(format!("okta_lifecycle_budget\0{org}").as_bytes());
    i32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// The statements, prepared once per session.
struct Statements {
    read: Statement,
    peek: Statement,
    write: Statement,
    add_row: Statement,
    take_slot: Statement,
    release_slot: Statement,
}

/// One session's hold on an org's budget in the database.
pub(super) struct DatabaseStorage {
    client: Client,
    statements: Statements,
    org: String,
    space: i32,
    /// This session's backend pid: what its requests in flight are charged to.
    session: u32,
    /// The slots this session holds (for its leases).
    held: BTreeSet<i32>,
    /// The store thread's queue, for leases to give their slot back through.
    jobs: WeakUnboundedSender<Job>,
}

impl DatabaseStorage {
    /// Connects, creates the table if it is missing and the org's row, and prepares the
    /// statements.
    pub(super) fn connect(
        target: &PgTarget,
        org: &str,
        jobs: WeakUnboundedSender<Job>,
    ) -> Result<DatabaseStorage, StoreError> {
        let mut client = target.connect().map_err(|error| StoreError::Database(error.to_string()))?;
        let at = |error: postgres::Error| {
            StoreError::Database(format!("PostgreSQL at {}: {}", target.shown(), crate::pg::describe(&error)))
        };
        client.batch_execute(&session_settings()).map_err(at)?;
        // Kept only where the server can honour them.
        let _ = client.batch_execute(SERVER_KEEPALIVES);
        create_table(&mut client).map_err(|error| {
            StoreError::Database(format!(
                "the table okta_lifecycle_budget cannot be created in PostgreSQL at {}: {}",
                target.shown(),
                crate::pg::describe(&error)
            ))
        })?;
        client.execute(ADD_ROW, &[&org]).map_err(at)?;
        let session: i32 = client.query_one("SELECT pg_backend_pid()", &[]).map_err(at)?.get(0);
        let statements = Statements {
            read: client.prepare(READ).map_err(at)?,
            peek: client.prepare(PEEK).map_err(at)?,
            write: client.prepare(WRITE).map_err(at)?,
            add_row: client.prepare(ADD_ROW).map_err(at)?,
            take_slot: client.prepare(TAKE_SLOT).map_err(at)?,
            release_slot: client.prepare(RELEASE_SLOT).map_err(at)?,
        };
        Ok(DatabaseStorage {
            client,
            statements,
            org: org.to_owned(),
            space: lock_space(org),
            session: u32::try_from(session).unwrap_or_default(),
            held: BTreeSet::new(),
            jobs,
        })
    }
}

/// Creates the table unless it is there, one process at a time.
fn create_table(client: &mut Client) -> Result<(), postgres::Error> {
    if client.query_one(TABLE_EXISTS, &[])?.get::<_, bool>(0) {
        return Ok(());
    }
    let mut transaction = client.transaction()?;
    transaction.execute("SELECT pg_advisory_xact_lock($1::int4, $2::int4)", &[&TABLE_LOCK.0, &TABLE_LOCK.1])?;
    match transaction.batch_execute(CREATE_TABLE) {
        Ok(()) => transaction.commit(),
        // Made at the same moment by a program that did not take the lock.
        Err(error)
            if error.code() == Some(&SqlState::DUPLICATE_TABLE)
                || error.code() == Some(&SqlState::UNIQUE_VIOLATION) =>
        {
            Ok(())
        }
        Err(error) => Err(error),
    }
}

/// The state a row of [`READ`] or [`PEEK`] holds (its text, `None` for a new row), sanitised
/// with the sessions alive then, at the moment it was read on the server's clock.
fn state_of(row: &postgres::Row, session: u32) -> (Option<String>, Stored, Moment) {
    let now = Instant::now();
    let text: Option<String> = row.get(0);
    let server_ms: i64 = row.get(1);
    let live: BTreeSet<u32> = row.get::<_, Vec<i32>>(2).into_iter().filter_map(|pid| u32::try_from(pid).ok()).collect();
    let moment = Moment { now, now_ms: u64::try_from(server_ms).unwrap_or_default(), owner: session };
    let mut stored = Stored::parse(text.as_deref().unwrap_or_default().as_bytes());
    stored.sanitise(moment.now_ms, moment.owner, &|owner| live.contains(&owner));
    (text, stored, moment)
}

/// Takes the first free slot below `cap` for this session.
fn take_slot(
    transaction: &mut Transaction<'_>,
    statement: &Statement,
    space: i32,
    held: &mut BTreeSet<i32>,
    jobs: &WeakUnboundedSender<Job>,
    cap: usize,
) -> Result<Option<SlotLease>, StoreError> {
    // The store is being dropped: no lease could give its slot back.
    let Some(release) = jobs.upgrade() else { return Ok(None) };
    let cap = i32::try_from(cap).unwrap_or(i32::MAX);
    let mine: Vec<i32> = held.iter().copied().collect();
    let Some(row) = transaction.query_opt(statement, &[&space, &cap, &mine])? else { return Ok(None) };
    let slot: i32 = row.get(0);
    held.insert(slot);
    Ok(Some(SlotLease { index: usize::try_from(slot).unwrap_or_default(), hold: Hold::Session(Some(release)) }))
}

impl Storage for DatabaseStorage {
    fn transact(
        &mut self,
        patience: Duration,
        turn: &mut dyn FnMut(&mut Turn<'_>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let DatabaseStorage { client, statements, org, space, session, held, jobs } = self;
        let started = Instant::now();
        loop {
            let mut transaction = client.transaction()?;
            let row = match transaction.query_opt(&statements.read, &[&*org]) {
                Ok(Some(row)) => row,
                // The row was deleted (the table emptied by hand): made again, then read.
                Ok(None) => {
                    transaction.execute(&statements.add_row, &[&*org])?;
                    transaction.commit()?;
                    if started.elapsed() >= patience {
                        return Err(StoreError::Busy);
                    }
                    continue;
                }
                Err(error) if error.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) => {
                    drop(transaction);
                    if started.elapsed() >= patience {
                        return Err(StoreError::Busy);
                    }
                    continue;
                }
                Err(error) => return Err(error.into()),
            };
            let (text, mut stored, moment) = state_of(&row, *session);
            let before = stored.clone();
            {
                let mut take = |cap: usize| take_slot(&mut transaction, &statements.take_slot, *space, held, jobs, cap);
                turn(&mut Turn { stored: &mut stored, moment, take_slot: &mut take })?;
            }
            if stored != before || text.is_none() {
                let json = serde_json::to_string(&stored).map_err(|error| StoreError::Database(error.to_string()))?;
                transaction.execute(&statements.write, &[&*org, &json])?;
            }
            transaction.commit()?;
            return Ok(());
        }
    }

    fn peek(&mut self) -> Result<Option<(Stored, Moment)>, StoreError> {
        let Some(row) = self.client.query_opt(&self.statements.peek, &[&self.org])? else { return Ok(None) };
        let (_, stored, moment) = state_of(&row, self.session);
        Ok(Some((stored, moment)))
    }

    fn release(&mut self, index: usize) -> Result<(), StoreError> {
        let Ok(slot) = i32::try_from(index) else { return Ok(()) };
        if self.held.remove(&slot) {
            self.client.execute(&self.statements.release_slot, &[&self.space, &slot])?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orgs_have_lock_spaces_of_their_own_and_none_is_the_tables() {
        let acme = lock_space("https://acme.okta.com");
        assert_eq!(acme, lock_space("https://acme.okta.com"), "the same in every process");
        assert_ne!(acme, lock_space("https://other.okta.com"));
        // The table's lock is never a slot, whatever the space.
        assert!(TABLE_LOCK.1 < 0);
    }
}
