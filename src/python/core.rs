//! What a client and its API namespaces share: the Rust client, the journal, whether it is
//! closed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use pyo3::prelude::*;

use crate::http::OktaClient;
use crate::lifecycle::journal::Journal;
use crate::python::errors::{raise, Class};

/// What both clients and their namespaces share: the Rust client and the journal.
pub(crate) struct Core {
    pub(crate) client: OktaClient,
    pub(crate) journal: Arc<Journal>,
    pub(crate) closed: AtomicBool,
}

impl Core {
    /// Refuses calls on a closed client.
    pub(crate) fn check(&self) -> PyResult<()> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(raise(Class::Closed, "the client is closed"));
        }
        Ok(())
    }
}
