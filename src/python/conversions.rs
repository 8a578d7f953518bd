//! Arguments as the Python API takes them, and the results it gives: whole-number options, users
//! or groups given as objects or ids, identity records, lazy pages.

use std::path::PathBuf;

use futures_util::StreamExt;
use pyo3::prelude::*;

use crate::lifecycle::record::{read_records, IdentityRecord, SourceFormat};
use crate::python::errors::{invalid_input, to_py, Outcome};
use crate::python::models::{records_from, PyGroup, PySecret, PyUser};
use crate::python::pages::{GroupPages, UserPages};
use crate::secret::SecretString;

/// A whole-number option of the client (`max_retries`, `page_size`, ...): a Python int of any
/// size, kept as given until [`Whole::within`] checks it, so that one too large for any machine
/// integer is a `ConfigurationError` naming the option, not a bare `OverflowError`. Anything but
/// an int (a bool included) is a `TypeError`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Whole {
    /// An int that fits.
    Number(i128),
    /// An int too large (or too small) for 128 bits.
    Huge,
}

impl<'a, 'py> FromPyObject<'a, 'py> for Whole {
    type Error = PyErr;

    fn extract(object: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if !object.is_instance_of::<pyo3::types::PyInt>() || object.is_instance_of::<pyo3::types::PyBool>() {
            return Err(pyo3::exceptions::PyTypeError::new_err("an int is required"));
        }
        Ok(object.extract::<i128>().map_or(Whole::Huge, Whole::Number))
    }
}

impl Whole {
    /// A call's argument (`limit`, ...): the value when it lies in `low..=max`, otherwise an
    /// `InvalidInputError` naming it.
    /// Checked inside a call's future, so its refusal is an [`Outcome`] (built into an exception
    /// later, with the GIL).
    pub(crate) fn argument(self, name: &str, low: u64, max: u64) -> Outcome<u32> {
        match self {
            Whole::Number(number) if (i128::from(low)..=i128::from(max)).contains(&number) => Ok(number as u32),
            Whole::Number(number) => {
                Err(invalid_input(format!("{name} must be between {low} and {max}, not {number}")))
            }
            Whole::Huge => Err(invalid_input(format!("{name} must be between {low} and {max}"))),
        }
    }

    /// The value, when it lies in `low..=max`; otherwise a `ConfigurationError` naming `name`.
    pub(crate) fn within(self, name: &str, low: u64, max: u64) -> PyResult<u64> {
        match self {
            Whole::Number(number) if (i128::from(low)..=i128::from(max)).contains(&number) => Ok(number as u64),
            _ => {
                let shown = match self {
                    Whole::Number(number) => number.to_string(),
                    Whole::Huge => "a number that large".into(),
                };
                Err(crate::python::errors::raise(
                    crate::python::errors::Class::Kind(crate::error::ErrorKind::Configuration),
                    format!("{name} must be between {low} and {max}, not {shown}"),
                ))
            }
        }
    }
}

/// A user or group given as an object or as an id (or login, for users).
pub(crate) struct Target(pub String);

impl<'a, 'py> FromPyObject<'a, 'py> for Target {
    type Error = PyErr;

    fn extract(object: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if let Ok(user) = object.cast::<PyUser>() {
            return Ok(Target(user.get().inner.id().to_owned()));
        }
        if let Ok(group) = object.cast::<PyGroup>() {
            return Ok(Target(group.get().inner.id().to_owned()));
        }
        object
            .extract::<String>()
            .map(Target)
            .map_err(|_| PyErr::from(invalid_input("expected a User, a Group or an id string")))
    }
}

/// Identity records: a list of dicts, or the path of a CSV or JSON-lines file.
pub(crate) struct Records(pub Vec<IdentityRecord>);

impl<'a, 'py> FromPyObject<'a, 'py> for Records {
    type Error = PyErr;

    fn extract(object: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        let object = object.to_owned();
        if let Ok(path) = object.extract::<PathBuf>() {
            if !object.is_instance_of::<pyo3::types::PyList>() {
                let format = SourceFormat::from_path(&path)
                    .ok_or_else(|| invalid_input(format!("{}: use a .csv or .jsonl file", path.display())))?;
                return to_py(read_records(&path, format)).map(Records);
            }
        }
        records_from(&object).map(Records)
    }
}

pub(crate) fn wrap_user(user: crate::okta::User) -> PyUser {
    PyUser { inner: user }
}

pub(crate) fn wrap_group(group: crate::okta::Group) -> PyGroup {
    PyGroup { inner: group }
}

pub(crate) fn secret(value: Option<SecretString>) -> Option<PySecret> {
    value.map(|inner| PySecret { inner })
}

pub(crate) fn user_pages(stream: crate::http::ItemStream<crate::okta::User>) -> UserPages {
    UserPages::new(stream.map(|item| item.map(wrap_user)).boxed())
}

pub(crate) fn group_pages(stream: crate::http::ItemStream<crate::okta::Group>) -> GroupPages {
    GroupPages::new(stream.map(|item| item.map(wrap_group)).boxed())
}
