//! `okta_lifecycle._core.OktaSimulator`: the offline Okta org for Python tests and demos.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use pythonize::pythonize;

use crate::python::errors::{raise, Class};
use crate::python::models::from_python;
use crate::python::runtime::{block_on, runtime};
use crate::simulator::{Faults, OAuthApp, RateLimits, ScriptedFault, Simulator, SimulatorConfig};
use crate::ErrorKind;

/// A running simulated Okta org on a loopback port.
#[pyclass(module = "okta_lifecycle._core", name = "OktaSimulator")]
pub(crate) struct PySimulator {
    inner: Option<Simulator>,
    url: String,
    api_token: String,
}

fn rate_limits_from(value: &Bound<'_, PyAny>) -> PyResult<Option<RateLimits>> {
    if value.is_none() {
        return Ok(None);
    }
    if let Ok(text) = value.extract::<String>() {
        return match text.as_str() {
            "okta" => Ok(Some(RateLimits::okta_defaults())),
            other => Err(raise(
                Class::Kind(ErrorKind::InvalidInput),
                format!("rate_limits must be None, \"okta\" or a dict of per-minute limits by bucket, not {other:?}"),
            )),
        };
    }
    let per_minute: BTreeMap<String, u32> = value.extract().map_err(|_| {
        raise(
            Class::Kind(ErrorKind::InvalidInput),
            "rate_limits must be None, \"okta\" or a dict such as {\"/api/v1/users\": 600}",
        )
    })?;
    Ok(Some(RateLimits { per_minute }))
}

fn faults_from(value: &Bound<'_, PyAny>) -> PyResult<Faults> {
    let invalid = |message: String| raise(Class::Kind(ErrorKind::InvalidInput), message);
    let mut faults = Faults::default();
    if value.is_none() {
        return Ok(faults);
    }
    let dict = value.cast::<PyDict>().map_err(|_| invalid("faults must be a dict".into()))?;
    for (key, item) in dict.iter() {
        let key: String =
            key.extract().map_err(|_| invalid(format!("fault names are strings; known: {}", Faults::NAMES)))?;
        let number = match from_python(&item)? {
            serde_json::Value::Number(number) if !item.is_instance_of::<pyo3::types::PyBool>() => number,
            _ => return Err(invalid(format!("faults[{key:?}] must be a number"))),
        };
        faults.set(&key, &number).map_err(invalid)?;
    }
    Ok(faults)
}

fn scripted_fault_from(fault: &Bound<'_, PyAny>) -> PyResult<ScriptedFault> {
    let text = match fault.extract::<u16>() {
        Ok(status) => status.to_string(),
        Err(_) => fault.extract::<String>().map_err(|_| {
            raise(
                Class::Kind(ErrorKind::InvalidInput),
                "a scripted fault is a status number or a string such as \"drop_after\"",
            )
        })?,
    };
    text.parse().map_err(|message: String| raise(Class::Kind(ErrorKind::InvalidInput), message))
}

impl PySimulator {
    fn simulator(&self) -> PyResult<&Simulator> {
        self.inner.as_ref().ok_or_else(|| raise(Class::Closed, "the simulator is closed"))
    }
}

#[pymethods]
impl PySimulator {
    #[new]
    #[pyo3(signature = (
        *, seed_users=0, rate_limits=None, concurrency_limit=None, latency_ms=0, latency_jitter_ms=0,
        faults=None, custom_attributes=None, api_token=None, state_file=None, port=0,
        rate_limit_window_seconds=60.0, log_delay_seconds=0.3, search_delay_seconds=0.0
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        seed_users: usize,
        rate_limits: Option<&Bound<'_, PyAny>>,
        concurrency_limit: Option<usize>,
        latency_ms: u64,
        latency_jitter_ms: u64,
        faults: Option<&Bound<'_, PyAny>>,
        custom_attributes: Option<Vec<String>>,
        api_token: Option<String>,
        state_file: Option<PathBuf>,
        port: u16,
        rate_limit_window_seconds: f64,
        log_delay_seconds: f64,
        search_delay_seconds: f64,
    ) -> PyResult<Self> {
        if !(log_delay_seconds.is_finite() && (0.0..=3_600.0).contains(&log_delay_seconds)) {
            return Err(raise(Class::Kind(ErrorKind::InvalidInput), "log_delay_seconds must be between 0 and 3600"));
        }
        if !(search_delay_seconds.is_finite() && (0.0..=60.0).contains(&search_delay_seconds)) {
            return Err(raise(Class::Kind(ErrorKind::InvalidInput), "search_delay_seconds must be between 0 and 60"));
        }
        if !(rate_limit_window_seconds.is_finite()
            && rate_limit_window_seconds > 0.0
            && rate_limit_window_seconds <= 86_400.0)
        {
            return Err(raise(
                Class::Kind(ErrorKind::InvalidInput),
                "rate_limit_window_seconds must be more than 0 and at most 86400",
            ));
        }
        if concurrency_limit == Some(0) {
            return Err(raise(Class::Kind(ErrorKind::InvalidInput), "concurrency_limit must be at least 1 (or None)"));
        }
        let mut config = SimulatorConfig {
            seed_users,
            rate_limits: match rate_limits {
                Some(value) => rate_limits_from(value)?,
                None => None,
            },
            rate_limit_window: Duration::from_secs_f64(rate_limit_window_seconds),
            concurrency_limit,
            latency_ms,
            latency_jitter_ms,
            faults: match faults {
                Some(value) => faults_from(value)?,
                None => Faults::default(),
            },
            api_token,
            state_file,
            log_delay: Duration::from_secs_f64(log_delay_seconds),
            search_delay: Duration::from_secs_f64(search_delay_seconds),
            ..SimulatorConfig::default()
        };
        if let Some(extra) = custom_attributes {
            config.custom_attributes.extend(extra);
        }
        let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let simulator = block_on(py, async move { Simulator::start_on(address, config).await })?
            .map_err(|error| raise(Class::Simulator, format!("the simulator could not start: {error}")))?;
        Ok(PySimulator { url: simulator.url(), api_token: simulator.api_token().to_owned(), inner: Some(simulator) })
    }

    /// The org's base URL, `http://127.0.0.1:PORT`.
    #[getter]
    fn url(&self) -> &str {
        &self.url
    }

    /// The SSWS API token with every scope.
    #[getter]
    fn api_token(&self) -> &str {
        &self.api_token
    }

    /// Whether the server is still running.
    #[getter]
    fn running(&self) -> bool {
        self.inner.is_some()
    }

    /// The request log: one dict per request (method, path, query, status, bucket, dropped, at).
    fn requests<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let records = self.simulator()?.requests();
        let list = PyList::empty(py);
        for record in records {
            let entry = PyDict::new(py);
            entry.set_item("method", record.method)?;
            entry.set_item("path", record.path)?;
            entry.set_item("query", record.query)?;
            entry.set_item("status", record.status)?;
            entry.set_item("bucket", record.bucket)?;
            entry.set_item("dropped", record.dropped)?;
            entry.set_item("at", record.at.duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0))?;
            list.append(entry)?;
        }
        Ok(list)
    }

    /// Empties the request log.
    fn clear_requests(&self) -> PyResult<()> {
        self.simulator()?.clear_requests();
        Ok(())
    }

    /// Every System Log event so far, oldest first, visible or not yet (the log shows an event
    /// `log_delay_seconds` after it happened).
    fn log_events<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let events = serde_json::Value::Array(self.simulator()?.log_events());
        crate::python::models::to_python(py, &events)
    }

    /// Counters: requests, rate_limited, concurrency_limited, by_status, reset_password, max_in_flight.
    fn counters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let counters = self.simulator()?.counters();
        let dict = PyDict::new(py);
        dict.set_item("requests", counters.requests)?;
        dict.set_item("rate_limited", counters.rate_limited)?;
        dict.set_item("concurrency_limited", counters.concurrency_limited)?;
        dict.set_item("by_status", counters.by_status)?;
        dict.set_item("reset_password", counters.reset_password)?;
        dict.set_item("max_in_flight", counters.max_in_flight)?;
        Ok(dict)
    }

    /// Empties the org (seed users again), the log, the counters and the rate-limit windows.
    fn reset(&self) -> PyResult<()> {
        self.simulator()?.reset();
        Ok(())
    }

    /// Gives the next request matching `method` and `path_prefix` a fault: a status (503),
    /// "drop_before", "drop_after" or "delay:MS".
    fn script_fault(&self, method: &str, path_prefix: &str, fault: &Bound<'_, PyAny>) -> PyResult<()> {
        self.simulator()?.script_fault(method, path_prefix, scripted_fault_from(fault)?);
        Ok(())
    }

    /// Gives a user an IdP session (so a logout can be observed).
    fn create_session(&self, user_id: &str) -> PyResult<bool> {
        Ok(self.simulator()?.create_session(user_id))
    }

    /// Gives a user an OAuth token grant.
    fn create_oauth_token(&self, user_id: &str) -> PyResult<bool> {
        Ok(self.simulator()?.create_oauth_token(user_id))
    }

    /// The user's IdP sessions.
    fn sessions(&self, user_id: &str) -> PyResult<usize> {
        Ok(self.simulator()?.sessions(user_id))
    }

    /// The user's OAuth token grants.
    fn oauth_tokens(&self, user_id: &str) -> PyResult<usize> {
        Ok(self.simulator()?.oauth_tokens(user_id))
    }

    /// The user's JSON as the org holds it, or None.
    fn user<'py>(&self, py: Python<'py>, id_or_login: &str) -> PyResult<Option<Bound<'py, PyAny>>> {
        match self.simulator()?.user_json(id_or_login) {
            Some(value) => Ok(Some(pythonize(py, &value).map_err(|e| raise(Class::Internal, e.to_string()))?)),
            None => Ok(None),
        }
    }

    /// The ids of a group's members.
    fn group_members(&self, group_id: &str) -> PyResult<Vec<String>> {
        Ok(self.simulator()?.group_members(group_id))
    }

    /// Creates an APP_GROUP (memberships not writable through the API) and returns its id.
    fn seed_app_group(&self, name: &str) -> PyResult<String> {
        Ok(self.simulator()?.seed_app_group(name))
    }

    /// The admin role types listed for a user (by id or login) or a group, in Okta's order.
    fn role_assignments(&self, user_or_group_id: &str) -> PyResult<Vec<String>> {
        Ok(self.simulator()?.role_assignments(user_or_group_id))
    }

    /// Accepts another SSWS token, optionally restricted to some scopes.
    #[pyo3(signature = (token, scopes=None))]
    fn add_api_token(&self, token: &str, scopes: Option<Vec<String>>) -> PyResult<()> {
        self.simulator()?.add_api_token(token, scopes);
        Ok(())
    }

    /// Accepts another SSWS token, with every scope, acting as the org's user `user` (id or
    /// login): an admin working by hand, whom the System Log names as the actor. ValueError
    /// when there is no such user.
    fn add_admin_token(&self, token: &str, user: &str) -> PyResult<()> {
        if self.simulator()?.add_admin_token(token, user) {
            Ok(())
        } else {
            Err(pyo3::exceptions::PyValueError::new_err(format!("the simulated org has no user {user:?}")))
        }
    }

    /// Registers an OAuth service app: its client id, public JWKs (dicts), granted scopes and
    /// whether it requires DPoP.
    #[pyo3(signature = (client_id, public_keys, scopes, require_dpop=true))]
    fn register_oauth_app(
        &self,
        client_id: String,
        public_keys: Vec<Bound<'_, PyAny>>,
        scopes: Vec<String>,
        require_dpop: bool,
    ) -> PyResult<()> {
        let public_keys = public_keys
            .iter()
            .map(|key| pythonize::depythonize::<serde_json::Value>(key))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                raise(Class::Kind(ErrorKind::InvalidInput), format!("a public key must be a JWK dict: {e}"))
            })?;
        self.simulator()?.register_oauth_app(OAuthApp { client_id, public_keys, scopes, require_dpop });
        Ok(())
    }

    /// A blocking OktaClient bound to this org (its journal in memory).
    fn client(&self) -> PyResult<crate::python::client::PyOktaClient> {
        self.simulator()?;
        crate::python::client::blocking_client(&self.url, &self.api_token)
    }

    /// An AsyncOktaClient bound to this org (its journal in memory).
    fn async_client(&self) -> PyResult<crate::python::client::PyAsyncOktaClient> {
        self.simulator()?;
        crate::python::client::async_client(&self.url, &self.api_token)
    }

    /// Stops the server (saving the state file, if any). Idempotent.
    fn close(&mut self, py: Python<'_>) -> PyResult<()> {
        if let Some(simulator) = self.inner.take() {
            runtime()?;
            block_on(py, simulator.shutdown())?;
        }
        Ok(())
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&mut self, py: Python<'_>, _exc: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        let state = if self.inner.is_some() { "running" } else { "closed" };
        format!("<OktaSimulator {} {state}>", self.url)
    }
}
