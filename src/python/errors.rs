//! Maps the crate's errors onto the exceptions of `okta_lifecycle.errors`.

use chrono::{DateTime, Utc};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::error::{Error, OktaApiError};

/// Okta error codes that mean "not allowed in the user's current status".
const STATUS_TRANSITION_CODES: [&str; 3] = ["E0000016", "E0000032", "E0000038"];

fn class_for_api(api: &OktaApiError) -> &'static str {
    let code = api.error_code.as_deref().unwrap_or_default();
    if STATUS_TRANSITION_CODES.contains(&code) {
        return "InvalidStatusTransitionError";
    }
    match api.status {
        400 => "ValidationError",
        401 => "AuthenticationError",
        403 => "PermissionDeniedError",
        404 => "NotFoundError",
        409 | 412 => "ConflictError",
        429 => "RateLimitedError",
        500..=599 => "ServerError",
        _ => "ApiError",
    }
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

fn build(py: Python<'_>, class: &str, message: String, fields: Option<Bound<'_, PyDict>>) -> PyResult<PyErr> {
    let module = py.import("okta_lifecycle.errors")?;
    let class = module.getattr(class)?;
    let instance = class.call((message,), fields.as_ref())?;
    Ok(PyErr::from_value(instance))
}

/// The Python exception for an error.
pub(crate) fn to_py_err(py: Python<'_>, error: Error) -> PyErr {
    let message = error.to_string();
    let built = match &error {
        Error::Api(api) => {
            api_fields(py, api).and_then(|fields| build(py, class_for_api(api), message.clone(), Some(fields)))
        }
        Error::RateLimited { bucket, reset_at, concurrency, api } => (|| {
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
            build(py, "RateLimitedError", message.clone(), Some(fields))
        })(),
        Error::Auth { error, description, status } => (|| {
            let fields = PyDict::new(py);
            fields.set_item("status", *status)?;
            fields.set_item("error_code", error.clone())?;
            fields.set_item("summary", description.clone())?;
            build(py, "AuthenticationError", message.clone(), Some(fields))
        })(),
        Error::OutcomeUnknown { .. } => build(py, "OutcomeUnknownError", message.clone(), None),
        Error::Transport { .. } | Error::Decode { .. } => build(py, "TransportError", message.clone(), None),
        Error::Timeout { .. } => build(py, "TimeoutError", message.clone(), None),
        Error::Configuration(_) => build(py, "ConfigurationError", message.clone(), None),
        Error::InvalidInput(_) => build(py, "InvalidInputError", message.clone(), None),
        Error::PlanBlocked { reasons } => (|| {
            let fields = PyDict::new(py);
            fields.set_item("reasons", reasons.clone())?;
            build(py, "PlanBlockedError", message.clone(), Some(fields))
        })(),
        Error::PlanRejected { run_id, reason } => (|| {
            let fields = PyDict::new(py);
            fields.set_item("run_id", run_id.clone())?;
            fields.set_item("reason", reason.clone())?;
            build(py, "PlanRejectedError", message.clone(), Some(fields))
        })(),
        Error::RunInProgress { run_id, owner } => (|| {
            let fields = PyDict::new(py);
            fields.set_item("run_id", run_id.clone())?;
            fields.set_item("owner", owner.clone())?;
            build(py, "RunInProgressError", message.clone(), Some(fields))
        })(),
        Error::Journal(_) => build(py, "JournalError", message.clone(), None),
    };
    built.unwrap_or_else(|failure| {
        PyRuntimeError::new_err(format!("{message} (and okta_lifecycle.errors could not be loaded: {failure})"))
    })
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
            Failure::Core(error) => Python::attach(|py| to_py_err(py, error)),
            Failure::Python(error) => error,
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
    result.map_err(|error| Python::attach(|py| to_py_err(py, error)))
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
