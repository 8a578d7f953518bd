//! Maps the crate's errors onto the exceptions of `okta_lifecycle.errors`: one class per
//! [`ErrorKind`](crate::ErrorKind), plus the few that only the bindings raise. The classes are
//! looked up once per process and cached.

use chrono::{DateTime, Utc};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyModule, PyType};

use crate::error::{Error, ErrorKind, OktaApiError};

/// An exception class of `okta_lifecycle.errors`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Class {
    /// The class of an [`ErrorKind`].
    Kind(ErrorKind),
    /// A SCIM filter that does not parse (an `InvalidInputError`).
    FilterSyntax,
    /// A closed client or simulator, or one inherited by a forked process.
    Closed,
    /// The simulator could not start, or its state could not be read or written.
    Simulator,
    /// A bug in okta_lifecycle, caught at the boundary.
    Internal,
}

impl Class {
    fn name(self) -> &'static str {
        match self {
            Class::Kind(kind) => match kind {
                ErrorKind::Validation => "ValidationError",
                ErrorKind::Authentication => "AuthenticationError",
                ErrorKind::PermissionDenied => "PermissionDeniedError",
                ErrorKind::NotFound => "NotFoundError",
                ErrorKind::Conflict => "ConflictError",
                ErrorKind::InvalidStatusTransition => "InvalidStatusTransitionError",
                ErrorKind::RateLimited => "RateLimitedError",
                ErrorKind::Server => "ServerError",
                ErrorKind::Transport => "TransportError",
                ErrorKind::Timeout => "TimeoutError",
                ErrorKind::OutcomeUnknown => "OutcomeUnknownError",
                ErrorKind::Configuration => "ConfigurationError",
                ErrorKind::InvalidInput => "InvalidInputError",
                ErrorKind::PlanBlocked => "PlanBlockedError",
                ErrorKind::PlanRejected => "PlanRejectedError",
                ErrorKind::RunInProgress => "RunInProgressError",
                ErrorKind::Journal => "JournalError",
                // Any other answer from Okta, and a kind added to the core before its class.
                _ => "ApiError",
            },
            Class::FilterSyntax => "FilterSyntaxError",
            Class::Closed => "ClosedError",
            Class::Simulator => "SimulatorError",
            Class::Internal => "InternalError",
        }
    }
}

/// `okta_lifecycle.errors`, imported once per process.
static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

fn class(py: Python<'_>, class: Class) -> PyResult<Bound<'_, PyType>> {
    let module = MODULE.get_or_try_init(py, || py.import("okta_lifecycle.errors").map(Bound::unbind))?;
    Ok(module.bind(py).getattr(class.name())?.cast_into::<PyType>()?)
}

fn api_fields<'py>(py: Python<'py>, api: &OktaApiError) -> PyResult<Bound<'py, PyDict>> {
    let fields = PyDict::new(py);
    fields.set_item("status", api.status)?;
    fields.set_item("error_code", api.error_code.clone())?;
    fields.set_item("summary", api.summary.clone())?;
    fields.set_item("causes", api.causes.iter().map(|c| c.summary.clone()).collect::<Vec<_>>())?;
    fields.set_item("request_id", api.request_id.clone())?;
    fields.set_item("error_id", api.error_id.clone())?;
    Ok(fields)
}

fn build(py: Python<'_>, which: Class, message: &str, fields: Option<Bound<'_, PyDict>>) -> PyErr {
    let instance = class(py, which).and_then(|class| class.call((message,), fields.as_ref()));
    match instance {
        Ok(instance) => PyErr::from_value(instance),
        Err(failure) => {
            PyRuntimeError::new_err(format!("{message} (and okta_lifecycle.errors could not be loaded: {failure})"))
        }
    }
}

thread_local! {
    /// Set while a blocking-pool thread hands a result to the asyncio loop: the one place off the
    /// Python threads where an exception is built (behind the exit guard of `runtime::deliver`).
    static DELIVERING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `deliver` as the asyncio delivery, where building an exception is allowed.
pub(crate) fn delivering<R>(deliver: impl FnOnce() -> R) -> R {
    /// Clears the mark however `deliver` ends, a panic included: the blocking-pool thread is
    /// reused, and a mark left set would hide a later wrong-thread exception from the check.
    struct Unmark;
    impl Drop for Unmark {
        fn drop(&mut self) {
            DELIVERING.set(false);
        }
    }
    DELIVERING.set(true);
    let _unmark = Unmark;
    deliver()
}

/// Takes the GIL to build an exception. Never on the runtime's threads: a body that ran there and
/// took the GIL while Python finalizes would abort the process. Debug builds (the test suite)
/// check it on every call.
fn attach<R>(build: impl for<'py> FnOnce(Python<'py>) -> R) -> R {
    debug_assert!(
        tokio::runtime::Handle::try_current().is_err() || DELIVERING.get(),
        "okta_lifecycle built an exception on a runtime thread"
    );
    Python::attach(build)
}

/// An exception of `okta_lifecycle.errors` with a message and no fields (for code that holds
/// the GIL: argument checks, a closed client, the simulator).
pub(crate) fn raise(which: Class, message: impl AsRef<str>) -> PyErr {
    attach(|py| build(py, which, message.as_ref(), None))
}

/// The fields an error's class takes besides its message.
fn fields<'py>(py: Python<'py>, error: &Error) -> PyResult<Option<Bound<'py, PyDict>>> {
    let fields = match error {
        Error::Api(api) => api_fields(py, api)?,
        Error::RateLimited { bucket, reset_at, concurrency, api } => {
            let fields = match api {
                Some(api) => api_fields(py, api)?,
                None => {
                    let fields = PyDict::new(py);
                    fields.set_item("status", 429)?;
                    fields
                }
            };
            fields.set_item("bucket", bucket.clone())?;
            fields.set_item("concurrency", *concurrency)?;
            fields.set_item("reset_at", reset_at.map(DateTime::<Utc>::from))?;
            fields
        }
        Error::Auth { error, description, status } => {
            let fields = PyDict::new(py);
            fields.set_item("status", *status)?;
            fields.set_item("error_code", error.clone())?;
            fields.set_item("summary", description.clone())?;
            fields
        }
        Error::PlanBlocked { reasons } => {
            let fields = PyDict::new(py);
            fields.set_item("reasons", reasons.clone())?;
            fields
        }
        Error::PlanRejected { run_id, reason, superseded_by } => {
            let fields = PyDict::new(py);
            fields.set_item("run_id", run_id.clone())?;
            fields.set_item("reason", reason.clone())?;
            fields.set_item("superseded_by", superseded_by.clone())?;
            fields
        }
        Error::RunInProgress { run_id, owner } => {
            let fields = PyDict::new(py);
            fields.set_item("run_id", run_id.clone())?;
            fields.set_item("owner", owner.clone())?;
            fields
        }
        _ => return Ok(None),
    };
    Ok(Some(fields))
}

/// The Python exception for an error: the class of its [`ErrorKind`], with its fields.
pub(crate) fn to_py_err(py: Python<'_>, error: Error) -> PyErr {
    let message = error.to_string();
    match fields(py, &error) {
        Ok(fields) => build(py, Class::Kind(error.kind()), &message, fields),
        Err(failure) => PyRuntimeError::new_err(format!("{message} (and its fields could not be built: {failure})")),
    }
}

/// An error on its way to Python. Built without the GIL (the futures that produce it run on the
/// runtime's worker threads, where taking the GIL while Python finalizes would abort the process)
/// and turned into an exception once, where the GIL is held: the blocking wait, or the asyncio
/// bridge's delivery.
pub(crate) enum Failure {
    /// The crate's error, converted into its exception class later.
    Core(Error),
    /// An exception already built (by code that held the GIL).
    Python(PyErr),
    /// A defect caught at the boundary (a panic in a future): an `InternalError`.
    Internal(String),
}

/// The text of a caught panic.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    let detail = panic
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_owned());
    format!("okta_lifecycle internal error: {detail}")
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure::Core(error)
    }
}

impl From<PyErr> for Failure {
    fn from(error: PyErr) -> Self {
        Failure::Python(error)
    }
}

impl From<Failure> for PyErr {
    /// Call only where the GIL is held (or may safely be taken).
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Core(error) => attach(|py| to_py_err(py, error)),
            Failure::Python(error) => error,
            Failure::Internal(message) => raise(Class::Internal, message),
        }
    }
}

/// What the bindings' futures return.
pub(crate) type Outcome<T> = Result<T, Failure>;

/// Wraps a crate result for Python without touching Python: the exception is built later, where
/// the GIL is held.
pub(crate) fn convert<T>(result: crate::Result<T>) -> Outcome<T> {
    result.map_err(Failure::Core)
}

/// The crate's result as a Python result, for code that holds the GIL.
pub(crate) fn to_py<T>(result: crate::Result<T>) -> PyResult<T> {
    result.map_err(|error| attach(|py| to_py_err(py, error)))
}

/// An `InvalidInputError` for an argument refused before anything was sent.
pub(crate) fn invalid_input(message: impl Into<String>) -> Failure {
    Failure::Core(Error::InvalidInput(message.into()))
}

/// What a method that returns nothing gives Python: `None` (a bare `()` would become an empty
/// tuple).
pub(crate) struct Nothing;

impl<'py> IntoPyObject<'py> for Nothing {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = std::convert::Infallible;

    fn into_pyobject(self, py: Python<'py>) -> Result<Self::Output, Self::Error> {
        Ok(py.None().into_bound(py))
    }
}
