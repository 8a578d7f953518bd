//! The one tokio runtime behind the Python bindings, and blocking on it without holding the GIL.

use std::future::Future;
use std::sync::OnceLock;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

static RUNTIME: OnceLock<(tokio::runtime::Runtime, u32)> = OnceLock::new();

/// The shared runtime; refuses to be used from a process forked after it started, where its
/// worker threads do not exist and every call would hang.
pub(crate) fn runtime() -> PyResult<&'static tokio::runtime::Runtime> {
    let (runtime, owner) = RUNTIME.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("okta-lifecycle")
            .enable_all()
            .build()
            .expect("the tokio runtime starts");
        (runtime, std::process::id())
    });
    if *owner != std::process::id() {
        return Err(PyRuntimeError::new_err(
            "okta_lifecycle was used before os.fork(); create clients and simulators in the child process",
        ));
    }
    Ok(runtime)
}

/// Runs `future` to completion on the shared runtime with the GIL released.
pub(crate) fn block_on<F>(py: Python<'_>, future: F) -> PyResult<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    let runtime = runtime()?;
    Ok(py.detach(|| runtime.block_on(future)))
}
