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
//! A plan is recorded when it is made ([`RunStore::record_plan`]): its JSON, a SHA-256 digest of
//! it, the safety limits it was judged against and the number of records. Applying compares the
//! plan it is given with that record, so an edited plan, or one made for another org, is
//! refused. One applier owns a run at a time through a lease ([`RunStore::acquire_lease`]), and
//! every change is claimed with a compare-and-set ([`RunStore::claim`]) before it is sent.
//!
//! By subject: `schema` (versions and migrations), `runs` (plans, the lease, claims, outcomes
//! and the requests each change sent), `snapshots` (users before a deprovision, identities last
//! seen) and `mirror` (what incremental reads start from, and watermarks). Every part is a
//! method of the one [`Journal`].

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::Connection;

use crate::error::{Error, Result};

mod mirror;
mod postgresql;
mod runs;
mod schema;
mod snapshots;
mod sqlite;

pub use mirror::{MirrorHead, MirrorStore, MirrorUpdate};
pub use postgresql::PostgresJournal;
pub use runs::{
    new_lease_owner, plan_digest, ChangeRecord, ChangeStatus, Fence, JournaledWrites, LeaseOutcome, Outcome,
    RecordedRun, RunInfo, RunStore, SentBy, Unanswered, Unrecorded,
};
use schema::{check_is_journal, migrate};
pub use schema::{APPLICATION_ID, SCHEMA_VERSION};
pub use snapshots::{Restorable, SnapshotRole, SnapshotStore, UserSnapshot};
pub(crate) use sqlite::sha256_hex;
use sqlite::{journal_error, BUSY_TIMEOUT};
pub use sqlite::{off_runtime, SqliteJournal};

/// Everything a journal keeps, whichever database keeps it: SQLite ([`SqliteJournal`], a file
/// of one machine's) or PostgreSQL ([`PostgresJournal`], one database several hosts share).
/// The engine sees only this, through a [`Journal`].
pub trait JournalStore: RunStore + SnapshotStore + MirrorStore + Send + Sync + std::fmt::Debug {}

impl<T: RunStore + SnapshotStore + MirrorStore + Send + Sync + std::fmt::Debug> JournalStore for T {}

/// The journal: one store, SQLite or PostgreSQL, and where it is. Its methods are the store's
/// ([`RunStore`], [`SnapshotStore`], [`MirrorStore`]).
#[derive(Debug)]
pub struct Journal {
    store: Box<dyn JournalStore>,
    location: Location,
}

/// The journal target that means "in memory" (SQLite's own name for it).
pub const IN_MEMORY: &str = ":memory:";

/// Where a journal is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// In memory: nothing is kept after the process.
    Memory,
    /// An SQLite file.
    File(PathBuf),
    /// A PostgreSQL database, by its URL without the password.
    Database(String),
}

impl std::ops::Deref for Journal {
    type Target = dyn JournalStore;

    fn deref(&self) -> &Self::Target {
        self.store.as_ref()
    }
}

impl Journal {
    /// Opens the journal `target` names: a `postgresql://` URL (see [`crate::pg`]), `:memory:`,
    /// or the path of an SQLite file (see [`Journal::open`]).
    pub fn open_target(target: &str) -> Result<Self> {
        if crate::pg::is_postgres_url(target) {
            Journal::open_postgres(target)
        } else if target == IN_MEMORY {
            Journal::in_memory()
        } else {
            Journal::open(Path::new(target))
        }
    }

    /// Opens (creating its tables if needed) the journal in the PostgreSQL database `url`.
    /// An unreachable database is an error: nothing is written to Okta without a journal.
    pub fn open_postgres(url: &str) -> Result<Self> {
        let store = PostgresJournal::open(url)?;
        let location = Location::Database(store.shown().to_owned());
        Ok(Journal { store: Box::new(store), location })
    }

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
        let store = SqliteJournal::prepare(connection)?;
        Ok(Journal { store: Box::new(store), location: Location::File(path.to_owned()) })
    }

    /// A journal in memory (tests, dry runs).
    pub fn in_memory() -> Result<Self> {
        let store = SqliteJournal::prepare(Connection::open_in_memory().map_err(journal_error)?)?;
        Ok(Journal { store: Box::new(store), location: Location::Memory })
    }

    /// The default journal of an org: `$XDG_STATE_HOME/okta-lifecycle/<host>.sqlite`
    /// (`~/.local/state/...` when XDG_STATE_HOME is unset; see [`crate::paths`]).
    pub fn default_path(org_url: &str) -> PathBuf {
        crate::paths::org_state_path(org_url, "sqlite")
    }

    /// The file behind the journal (`None` in memory or in PostgreSQL).
    pub fn path(&self) -> Option<&Path> {
        match &self.location {
            Location::File(path) => Some(path),
            _ => None,
        }
    }

    /// Where the journal is kept.
    pub fn location(&self) -> &Location {
        &self.location
    }
}

impl SqliteJournal {
    fn prepare(connection: Connection) -> Result<Self> {
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
        Ok(SqliteJournal { connection: Mutex::new(connection) })
    }
}
