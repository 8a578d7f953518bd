//! The SQLite journal's connection and what every part of it (runs, snapshots, the mirror)
//! uses alike: errors, timestamps, waiting off the async runtime.

use std::sync::Mutex;
use std::time::Duration;

use rusqlite::Connection;

use crate::error::{Error, Result};

/// The SQLite journal: a file (or memory) of one machine's, shared by its processes.
#[derive(Debug)]
pub struct SqliteJournal {
    pub(super) connection: Mutex<Connection>,
}

pub(super) fn journal_error(error: rusqlite::Error) -> Error {
    Error::Journal(error.to_string())
}

pub(super) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// How long a journal operation waits for another process's write to finish.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

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

/// The SHA-256 digest of `bytes`, in hex.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

impl SqliteJournal {
    pub(super) fn connection(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.connection.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `write` with SQLite's `synchronous=NORMAL` instead of the journal's `FULL`: its commit
    /// survives the process being killed (WAL), but not a power cut before the next full sync,
    /// which any later `FULL` commit brings (it syncs the whole log). Only for what a resume
    /// finds out again on its own if it is lost: an outcome (the change then reads as `started`
    /// and is verified in Okta), the request ids of a change, the claim of a change that is
    /// harmless to send twice ([`Operation::repeat_is_harmful`]).
    pub(super) fn relaxed<T>(&self, write: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        let mut connection = self.connection();
        connection.pragma_update(None, "synchronous", "NORMAL").map_err(journal_error)?;
        let result = write(&mut connection);
        let restored = connection.pragma_update(None, "synchronous", "FULL").map_err(journal_error);
        let value = result?;
        restored.map(|()| value)
    }
}
