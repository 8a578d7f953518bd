//! Python bindings (`okta_lifecycle._core`). Only conversions live here: every behaviour is
//! in the Rust modules it calls.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::scim;

mod runtime;
mod simulator;

pyo3::create_exception!(_core, FilterSyntaxError, PyValueError, "A SCIM filter expression that does not parse.");

/// Quotes a value as a SCIM string literal: no value can change the expression around it.
#[pyfunction]
fn scim_quote(value: &str) -> String {
    scim::quote(value)
}

/// Parses a SCIM filter and returns its canonical text (operators in lower case, values escaped, parentheses only where precedence needs them).
#[pyfunction]
fn scim_canonical(expression: &str) -> PyResult<String> {
    scim::parse(expression)
        .map(|filter| filter.to_string())
        .map_err(|error| FilterSyntaxError::new_err(error.to_string()))
}

/// The `okta_lifecycle._core` extension module.
#[pymodule]
#[pyo3(name = "_core")]
fn core_module(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    module.add("FilterSyntaxError", module.py().get_type::<FilterSyntaxError>())?;
    module.add_function(wrap_pyfunction!(scim_quote, module)?)?;
    module.add_function(wrap_pyfunction!(scim_canonical, module)?)?;
    module.add_class::<simulator::PySimulator>()?;
    Ok(())
}
