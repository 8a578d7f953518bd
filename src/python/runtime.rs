//! The one tokio runtime behind the bindings (pyo3-async-runtimes'), blocking on it without
//! the GIL while staying interruptible, and the fork check.

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

static OWNER: OnceLock<u32> = OnceLock::new();

/// How often a blocking call wakes to let Python handle signals (Ctrl-C).
const SIGNAL_CHECK: Duration = Duration::from_millis(100);

/// The shared runtime; refuses to be used in a process forked after it started, where its
/// worker threads do not exist and every call would hang.
pub(crate) fn runtime() -> PyResult<&'static tokio::runtime::Runtime> {
    let owner = *OWNER.get_or_init(std::process::id);
    if owner != std::process::id() {
        return Err(PyRuntimeError::new_err(
            "okta_lifecycle was used before os.fork(); this process is a fork: create clients and simulators in it anew",
        ));
    }
    Ok(pyo3_async_runtimes::tokio::get_runtime())
}

/// Runs `future` on the shared runtime with the GIL released, checking for signals every
/// 100 ms: Ctrl-C cancels the future and raises KeyboardInterrupt.
pub(crate) fn block_on<F>(py: Python<'_>, future: F) -> PyResult<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let runtime = runtime()?;
    let mut task = runtime.spawn(future);
    loop {
        let finished = py.detach(|| runtime.block_on(async { tokio::time::timeout(SIGNAL_CHECK, &mut task).await }));
        match finished {
            Ok(Ok(output)) => return Ok(output),
            Ok(Err(join_error)) => {
                return Err(PyRuntimeError::new_err(format!("okta_lifecycle internal error: {join_error}")));
            }
            Err(_elapsed) => {
                if let Err(interrupted) = py.check_signals() {
                    task.abort();
                    return Err(interrupted);
                }
            }
        }
    }
}

/// Turns `future` into a Python awaitable; cancelling the awaitable drops the future.
pub(crate) fn awaitable<'py, F, T>(py: Python<'py>, future: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = PyResult<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    runtime()?;
    pyo3_async_runtimes::tokio::future_into_py(py, future)
}
