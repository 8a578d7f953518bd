//! Python bindings (`okta_lifecycle._core`). Only conversions live here: every behaviour is
//! in the Rust modules it calls.

use pyo3::prelude::*;

use crate::scim;

mod actions;
mod admin;
mod client;
mod conversions;
mod core;
mod errors;
mod groups;
mod logs;
mod models;
mod pages;
mod runtime;
mod simulator;
mod twins;
mod users;

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
        .map_err(|error| errors::raise(errors::Class::FilterSyntax, error.to_string()))
}

static LOGGING: std::sync::OnceLock<pyo3_log::ResetHandle> = std::sync::OnceLock::new();

/// The logging bridge, minus the one thing that is never safe: taking the GIL from a runtime
/// thread while the interpreter exits. Log events after that point are dropped.
struct ExitSafeLogger(pyo3_log::Logger);

impl log::Log for ExitSafeLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        let mut enabled = false;
        runtime::into_python(|| enabled = self.0.enabled(metadata));
        enabled
    }

    fn log(&self, record: &log::Record<'_>) {
        runtime::into_python(|| self.0.log(record));
    }

    fn flush(&self) {}
}

/// Makes the core see changes to Python's logging configuration (levels are cached).
#[pyfunction]
fn refresh_logging() {
    if let Some(handle) = LOGGING.get() {
        handle.reset();
    }
}

/// The `okta_lifecycle._core` extension module.
#[pymodule]
#[pyo3(name = "_core")]
fn core_module(module: &Bound<'_, PyModule>) -> PyResult<()> {
    // The core's log events reach Python's logging under the "okta_lifecycle" logger. Levels
    // are cached so that a disabled logger costs no GIL round trip per request;
    // refresh_logging() drops the cache after logging is reconfigured.
    let logger = pyo3_log::Logger::new(module.py(), pyo3_log::Caching::LoggersAndLevels)?
        .filter(log::LevelFilter::Warn)
        .filter_target("okta_lifecycle".to_owned(), log::LevelFilter::Trace);
    let handle = logger.reset_handle();
    if log::set_boxed_logger(Box::new(ExitSafeLogger(logger))).is_ok() {
        log::set_max_level(log::LevelFilter::Trace);
        let _ = LOGGING.set(handle);
    }
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    module.add_function(wrap_pyfunction!(scim_quote, module)?)?;
    module.add_function(wrap_pyfunction!(scim_canonical, module)?)?;
    module.add_function(wrap_pyfunction!(refresh_logging, module)?)?;
    module.add_function(wrap_pyfunction!(runtime::shutdown, module)?)?;
    // Before the interpreter finalizes, runtime threads must stop calling into Python.
    module.py().import("atexit")?.call_method1("register", (module.getattr("shutdown")?,))?;
    module.add_class::<simulator::PySimulator>()?;
    module.add_class::<client::PyOktaClient>()?;
    module.add_class::<client::PyAsyncOktaClient>()?;
    module.add_class::<users::Users>()?;
    module.add_class::<users::AsyncUsers>()?;
    module.add_class::<groups::Groups>()?;
    module.add_class::<groups::AsyncGroups>()?;
    module.add_class::<logs::Logs>()?;
    module.add_class::<logs::AsyncLogs>()?;
    module.add_class::<logs::LogEvents>()?;
    module.add_class::<actions::Actions>()?;
    module.add_class::<actions::AsyncActions>()?;
    module.add_class::<models::PyIdentityEvent>()?;
    module.add_class::<models::PyIdentityChange>()?;
    module.add_class::<admin::Schema>()?;
    module.add_class::<admin::AsyncSchema>()?;
    module.add_class::<admin::Roles>()?;
    module.add_class::<admin::AsyncRoles>()?;
    module.add_class::<models::PyUser>()?;
    module.add_class::<models::PyGroup>()?;
    module.add_class::<models::PySecret>()?;
    module.add_class::<models::PyPolicy>()?;
    module.add_class::<models::PyPlan>()?;
    module.add_class::<models::PyReport>()?;
    module.add_class::<pages::UserPages>()?;
    module.add_class::<users::PartitionedUsers>()?;
    module.add_class::<pages::GroupPages>()?;
    module.add_class::<pages::IdentityEvents>()?;
    module.add_class::<pages::IdentityChanges>()?;
    Ok(())
}
