//! The one tokio runtime behind the bindings, blocking on it without the GIL while staying
//! interruptible, asyncio futures for async calls, and the fork and shutdown guards.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::IntoPyObjectExt;

use futures_util::FutureExt;

use crate::python::errors::{panic_message, raise, Class, Failure, Outcome};

static OWNER: OnceLock<u32> = OnceLock::new();

/// How often a blocking call wakes to let Python handle signals (Ctrl-C).
const SIGNAL_CHECK: Duration = Duration::from_millis(100);

/// The shared runtime; refuses to be used in a process forked after it started, where its
/// worker threads do not exist and every call would hang.
pub(crate) fn runtime() -> PyResult<&'static tokio::runtime::Runtime> {
    let owner = *OWNER.get_or_init(std::process::id);
    if owner != std::process::id() {
        return Err(raise(
            Class::Closed,
            "okta_lifecycle was used before os.fork(); this process is a fork: create clients and simulators in it anew",
        ));
    }
    static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    let built = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .thread_name("okta-lifecycle")
            .enable_all()
            .build()
            .map_err(|error| error.to_string())
    });
    built.as_ref().map_err(|error| raise(Class::Internal, format!("the async runtime could not start: {error}")))
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
        let finished = py.detach(|| {
            let finished = runtime.block_on(async { tokio::time::timeout(SIGNAL_CHECK, &mut task).await });
            // About to take the GIL again. While the interpreter shuts down, a thread other than
            // the one running the exit handlers must not: Python would end it inside Rust frames,
            // which aborts the process. It parks instead, and goes with the process.
            ATTACHING.fetch_add(1, Ordering::AcqRel);
            if SHUTTING_DOWN.load(Ordering::Acquire) && !is_exit_thread() {
                ATTACHING.fetch_sub(1, Ordering::AcqRel);
                park_forever();
            }
            finished
        });
        ATTACHING.fetch_sub(1, Ordering::AcqRel);
        match finished {
            Ok(Ok(output)) => return Ok(output),
            Ok(Err(join_error)) => {
                let message = match join_error.try_into_panic() {
                    Ok(panic) => panic_message(panic.as_ref()),
                    Err(join_error) => format!("okta_lifecycle internal error: {join_error}"),
                };
                return Err(raise(Class::Internal, message));
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

/// Calls into Python from runtime threads that have not returned yet.
static IN_PYTHON: AtomicUsize = AtomicUsize::new(0);
/// Blocking calls between deciding to re-enter Python and holding the GIL again.
static ATTACHING: AtomicUsize = AtomicUsize::new(0);
/// Set at interpreter exit: runtime threads stop calling into Python.
static SHUTTING_DOWN: AtomicBool = AtomicBool::new(false);
/// The thread that ran the exit handlers (it may still make calls from later handlers).
static EXIT_THREAD: OnceLock<std::thread::ThreadId> = OnceLock::new();

fn is_exit_thread() -> bool {
    EXIT_THREAD.get() == Some(&std::thread::current().id())
}

/// Never returns: the thread waits for the process to end.
fn park_forever() -> ! {
    loop {
        std::thread::park();
    }
}

/// Whether runtime threads may still call into Python (false once the interpreter is exiting).
fn python_is_available() -> bool {
    !SHUTTING_DOWN.load(Ordering::Acquire)
}

/// Runs `call` counted as a call into Python from outside a Python thread, unless the
/// interpreter is exiting.
pub(crate) fn into_python(call: impl FnOnce()) {
    if !python_is_available() {
        return;
    }
    IN_PYTHON.fetch_add(1, Ordering::AcqRel);
    if python_is_available() {
        call();
    }
    IN_PYTHON.fetch_sub(1, Ordering::AcqRel);
}

/// Turns `future` into an asyncio future on the running loop; cancelling it drops `future`.
///
/// The result is handed to the loop with `call_soon_threadsafe` from a blocking thread, and never
/// once the interpreter is shutting down: a runtime thread that took the GIL while Python
/// finalizes would abort the process.
pub(crate) fn awaitable<'py, F, T>(py: Python<'py>, future: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = Outcome<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    let runtime = runtime()?;
    let event_loop = py.import("asyncio")?.call_method0("get_running_loop")?;
    let python_future = event_loop.call_method0("create_future")?;
    let loop_handle: Py<PyAny> = event_loop.unbind();
    let future_handle: Py<PyAny> = python_future.clone().unbind();
    let task = runtime.spawn(async move {
        // A panic in the body must still settle the future, or the awaiting coroutine would
        // wait forever.
        let result = match AssertUnwindSafe(future).catch_unwind().await {
            Ok(result) => result,
            Err(panic) => Err(Failure::Internal(panic_message(panic.as_ref()))),
        };
        // Taking the GIL may block: do it off the runtime's worker threads.
        let _ = tokio::task::spawn_blocking(move || deliver(loop_handle, future_handle, result)).await;
    });
    python_future.call_method1("add_done_callback", (CancelOnDone { task: Mutex::new(Some(task.abort_handle())) },))?;
    Ok(python_future)
}

fn deliver<T>(event_loop: Py<PyAny>, future: Py<PyAny>, result: Outcome<T>)
where
    T: for<'a> IntoPyObject<'a>,
{
    crate::python::errors::delivering(|| {
        into_python(|| {
            let _ = Python::try_attach(|py| {
                // The exit may have begun while this thread waited for the GIL.
                if !python_is_available() {
                    return;
                }
                let outcome = match result {
                    Ok(value) => value.into_py_any(py).map(|value| (value, false)),
                    Err(failure) => Ok((PyErr::from(failure).into_value(py).into_any(), true)),
                };
                let (value, is_error) = match outcome {
                    Ok(pair) => pair,
                    Err(error) => (error.into_value(py).into_any(), true),
                };
                let settle = SettleFuture { future, value, is_error };
                // A closed loop (the program moved on) refuses the call; nothing is waiting then.
                let _ = event_loop.bind(py).call_method1("call_soon_threadsafe", (settle,));
            });
        })
    });
}

/// Sets an asyncio future's result or exception on its loop, unless it was cancelled meanwhile.
#[pyclass(module = "okta_lifecycle._core")]
struct SettleFuture {
    future: Py<PyAny>,
    value: Py<PyAny>,
    is_error: bool,
}

#[pymethods]
impl SettleFuture {
    fn __call__(&self, py: Python<'_>) -> PyResult<()> {
        let future = self.future.bind(py);
        if future.call_method0("done")?.is_truthy()? {
            return Ok(());
        }
        let method = if self.is_error { "set_exception" } else { "set_result" };
        future.call_method1(method, (self.value.clone_ref(py),))?;
        Ok(())
    }
}

/// Aborts the Rust task when its asyncio future is cancelled.
#[pyclass(module = "okta_lifecycle._core")]
struct CancelOnDone {
    task: Mutex<Option<tokio::task::AbortHandle>>,
}

#[pymethods]
impl CancelOnDone {
    fn __call__(&self, future: &Bound<'_, PyAny>) -> PyResult<()> {
        if future.call_method0("cancelled")?.is_truthy()? {
            if let Some(task) = self.task.lock().unwrap_or_else(|e| e.into_inner()).take() {
                task.abort();
            }
        }
        Ok(())
    }
}

/// Registered with `atexit`: from now on runtime threads leave Python alone; waits briefly for
/// those already inside.
#[pyfunction]
pub(crate) fn shutdown(py: Python<'_>) {
    let _ = EXIT_THREAD.set(std::thread::current().id());
    SHUTTING_DOWN.store(true, Ordering::Release);
    // Let the threads already on their way back into Python get there (they need the GIL, which
    // this wait gives up), so that none is caught half-way when finalization starts.
    py.detach(|| {
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while (IN_PYTHON.load(Ordering::Acquire) > 0 || ATTACHING.load(Ordering::Acquire) > 0)
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(5));
        }
    });
}
