//! `OktaClient` (blocking) and `AsyncOktaClient` (asyncio): the same methods, each a few lines
//! over one async Rust function. Blocking calls release the GIL and stay interruptible; async
//! calls return awaitables whose cancellation drops the Rust future. The API namespaces are in
//! `users.rs`, `groups.rs` and `actions.rs`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::config::{
    parse_scopes, BudgetSharing, ClientConfig, CredentialOptions, OptionSource, SHARED_BUDGET_VARIABLE,
};
use crate::http::OktaClient;
use crate::lifecycle::journal::{Journal, IN_MEMORY};
use crate::lifecycle::{self, ApplyOptions};
use crate::python::actions::{Actions, AsyncActions};
use crate::python::admin::{AsyncRoles, AsyncSchema, Roles, Schema};
use crate::python::conversions::{Records, Whole};
use crate::python::core::Core;
use crate::python::errors::{convert, invalid_input, to_py};
use crate::python::groups::{AsyncGroups, Groups};
use crate::python::logs::{AsyncLogs, Logs};
use crate::python::models::{to_python, PyJson, PyPlan, PyPolicy, PyReport};
use crate::python::runtime::awaitable;
use crate::python::twins::{holders, twins};
use crate::python::users::{AsyncUsers, Users};
use crate::secret::SecretString;

/// The API namespaces of a client class: `Users`, `Groups`, `Actions` for the blocking client,
/// their asyncio twins for the asyncio one.
pub(crate) trait Namespaces {
    type Users: From<Arc<Core>>;
    type Groups: From<Arc<Core>>;
    type Actions: From<Arc<Core>>;
    type Schema: From<Arc<Core>>;
    type Roles: From<Arc<Core>>;
    type Logs: From<Arc<Core>>;
}

holders! {
    PyOktaClient, "OktaClient", "The blocking Okta client.";
    PyAsyncOktaClient, "AsyncOktaClient", "The asyncio Okta client.";
}

impl Namespaces for PyOktaClient {
    type Users = Users;
    type Groups = Groups;
    type Actions = Actions;
    type Schema = Schema;
    type Roles = Roles;
    type Logs = Logs;
}

impl Namespaces for PyAsyncOktaClient {
    type Users = AsyncUsers;
    type Groups = AsyncGroups;
    type Actions = AsyncActions;
    type Schema = AsyncSchema;
    type Roles = AsyncRoles;
    type Logs = AsyncLogs;
}

/// `OKTA_LIFECYCLE_SHARED_BUDGET`, unless unset or blank (as `ClientConfig::from_lookup` reads it).
fn shared_budget_variable() -> Option<String> {
    std::env::var(SHARED_BUDGET_VARIABLE).ok().filter(|text| !text.trim().is_empty())
}

/// The budget sharing of a Python client: `shared_budget` if given (True, False, a directory or
/// a `postgresql://` URL), else `OKTA_LIFECYCLE_SHARED_BUDGET` if set, else the org's default
/// store, except for a client whose journal is in memory (the built-in simulator's own clients).
fn budget_sharing(
    argument: Option<&Bound<'_, PyAny>>,
    from_env: Option<BudgetSharing>,
    journal: Option<&std::path::Path>,
) -> PyResult<BudgetSharing> {
    match argument {
        Some(value) if value.is_none() => {}
        Some(value) => {
            if let Ok(flag) = value.cast::<pyo3::types::PyBool>() {
                return Ok(if flag.is_true() { BudgetSharing::OrgDefault } else { BudgetSharing::Off });
            }
            // Text is read as the environment variable and the command's option are: on, off
            // (and their synonyms), a PostgreSQL URL or a directory; an os.PathLike is a directory.
            if let Ok(text) = value.extract::<String>() {
                if text.trim().is_empty() {
                    return Err(invalid_input(
                        "shared_budget is empty: give True, False, on, off, a directory or a postgresql:// URL",
                    )
                    .into());
                }
                return to_py(BudgetSharing::from_text(&text));
            }
            return match value.extract::<PathBuf>() {
                Ok(dir) => Ok(BudgetSharing::At(dir)),
                Err(_) => {
                    Err(invalid_input("shared_budget must be True, False, on, off, a directory or a postgresql:// URL")
                        .into())
                }
            };
        }
        None => {}
    }
    if let Some(setting) = from_env {
        return Ok(setting);
    }
    Ok(if journal.is_some_and(|path| path.as_os_str() == IN_MEMORY) {
        BudgetSharing::Off
    } else {
        BudgetSharing::OrgDefault
    })
}

/// The variable that names the journal when the client is given none: a file, or a
/// `postgresql://` URL that several hosts share.
pub(crate) const JOURNAL_VARIABLE: &str = "OKTA_LIFECYCLE_JOURNAL";

fn core_from(config: ClientConfig, journal: Option<PathBuf>) -> PyResult<Arc<Core>> {
    // Every org gets a journal on disk unless told otherwise: a loopback URL may be a real org
    // behind a tunnel. Only the built-in simulator's clients ask for ":memory:". A
    // `postgresql://` URL (given, or from OKTA_LIFECYCLE_JOURNAL) names a database: an
    // unreachable one is an error here, before anything is sent to Okta.
    let journal = journal.or_else(|| {
        std::env::var_os(JOURNAL_VARIABLE).filter(|value| !value.to_string_lossy().trim().is_empty()).map(PathBuf::from)
    });
    let journal = match journal {
        Some(path) => match path.to_str() {
            Some(target) => to_py(Journal::open_target(target))?,
            None => to_py(Journal::open(&path))?,
        },
        None => to_py(Journal::open(&Journal::default_path(config.org_url.as_str())))?,
    };
    let client = to_py(OktaClient::new(config))?;
    Ok(Arc::new(Core { client, journal: Arc::new(journal), closed: AtomicBool::new(false) }))
}

twins! { PyOktaClient, PyAsyncOktaClient, core;
    shared {
        #[new]
        #[pyo3(signature = (
            org_url, *, api_token=None, client_id=None, private_key=None, private_key_path=None, scopes=None,
            key_id=None, dpop=true, timeout=30.0, max_retries=Whole::Number(5), rate_limit_share=1.0,
            max_concurrency=Whole::Number(75), page_size=Whole::Number(200), proxy=None, journal=None, shared_budget=None
        ), text_signature = "(org_url, *, api_token=None, client_id=None, private_key=None, private_key_path=None, scopes=None, key_id=None, dpop=True, timeout=30.0, max_retries=5, rate_limit_share=1.0, max_concurrency=75, page_size=200, proxy=None, journal=None, shared_budget=None)")]
        #[allow(clippy::too_many_arguments)]
        fn new(
            org_url: &str,
            api_token: Option<String>,
            client_id: Option<String>,
            private_key: Option<String>,
            private_key_path: Option<PathBuf>,
            scopes: Option<Bound<'_, PyAny>>,
            key_id: Option<String>,
            dpop: bool,
            timeout: f64,
            max_retries: Whole,
            rate_limit_share: f64,
            max_concurrency: Whole,
            page_size: Whole,
            proxy: Option<String>,
            journal: Option<PathBuf>,
            shared_budget: Option<Bound<'_, PyAny>>,
        ) -> PyResult<Self> {
            let scopes = scopes_argument(scopes.as_ref())?;
            let credentials = CredentialOptions {
                api_token: api_token.map(SecretString::new),
                client_id,
                private_key: private_key.map(SecretString::new),
                private_key_path,
                key_id,
                scopes,
                dpop: Some(dpop),
            };
            let mut config = to_py(ClientConfig::new(org_url, to_py(credentials.build(OptionSource::Arguments))?))?;
            config.request_timeout = to_py(crate::config::seconds("timeout", timeout, crate::config::MAX_TIMEOUT))?;
            use crate::config::{MAX_CONCURRENCY, MAX_RETRIES};
            config.max_retries = max_retries.within("max_retries", 0, MAX_RETRIES.into())? as u32;
            config.rate_limit_share = rate_limit_share;
            config.max_concurrency = max_concurrency.within("max_concurrency", 1, MAX_CONCURRENCY as u64)? as usize;
            config.page_size = page_size.within("page_size", 1, 200)? as u32;
            config.proxy = proxy;
            let from_env = match shared_budget_variable() {
                Some(text) => Some(to_py(BudgetSharing::from_text(&text))?),
                None => None,
            };
            config.budget_sharing = budget_sharing(shared_budget.as_ref(), from_env, journal.as_deref())?;
            Ok(Self::from(core_from(config, journal)?))
        }

        /// A client configured from OKTA_ORG_URL, OKTA_API_TOKEN or OKTA_CLIENT_ID with
        /// OKTA_PRIVATE_KEY / OKTA_PRIVATE_KEY_PATH, OKTA_SCOPES, OKTA_KEY_ID, OKTA_DPOP.
        #[staticmethod]
        #[pyo3(signature = (*, org_url=None, journal=None, timeout=None, shared_budget=None))]
        fn from_env(
            org_url: Option<String>,
            journal: Option<PathBuf>,
            timeout: Option<f64>,
            shared_budget: Option<Bound<'_, PyAny>>,
        ) -> PyResult<Self> {
            let mut config = to_py(ClientConfig::from_lookup(|name| match (name, &org_url) {
                ("OKTA_ORG_URL", Some(url)) => Some(url.clone()),
                _ => std::env::var(name).ok(),
            }))?;
            if let Some(timeout) = timeout {
                config.request_timeout = to_py(crate::config::seconds("timeout", timeout, crate::config::MAX_TIMEOUT))?;
            }
            let from_env = shared_budget_variable().map(|_| config.budget_sharing.clone());
            config.budget_sharing = budget_sharing(shared_budget.as_ref(), from_env, journal.as_deref())?;
            Ok(Self::from(core_from(config, journal)?))
        }

        #[getter]
        fn org_url(&self) -> String {
            self.core.client.config().org_url.as_str().trim_end_matches('/').to_owned()
        }

        #[getter]
        fn users(&self) -> <Self as Namespaces>::Users {
            Arc::clone(&self.core).into()
        }

        #[getter]
        fn groups(&self) -> <Self as Namespaces>::Groups {
            Arc::clone(&self.core).into()
        }

        #[getter]
        fn actions(&self) -> <Self as Namespaces>::Actions {
            Arc::clone(&self.core).into()
        }

        /// The user profile schema and user types.
        #[getter]
        fn schema(&self) -> <Self as Namespaces>::Schema {
            Arc::clone(&self.core).into()
        }

        /// Admin role assignments of users and groups.
        #[getter]
        fn roles(&self) -> <Self as Namespaces>::Roles {
            Arc::clone(&self.core).into()
        }

        /// Okta's System Log.
        #[getter]
        fn logs(&self) -> <Self as Namespaces>::Logs {
            Arc::clone(&self.core).into()
        }

        /// The journal file (None when the journal is in memory or in PostgreSQL).
        #[getter]
        fn journal_path(&self) -> Option<PathBuf> {
            self.core.journal.path().map(PathBuf::from)
        }

        /// The PostgreSQL database of the journal, its URL without the password (None when the
        /// journal is a file or in memory).
        #[getter]
        fn journal_url(&self) -> Option<String> {
            match self.core.journal.location() {
                crate::lifecycle::journal::Location::Database(url) => Some(url.clone()),
                _ => None,
            }
        }

        /// Counters of the rate-limit governor: throttled_waits, throttled_ms,
        /// concurrency_limited, concurrency_cap.
        fn governor_stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
            let stats = self.core.client.governor_stats();
            let dict = PyDict::new(py);
            dict.set_item("throttled_waits", stats.throttled_waits)?;
            dict.set_item("throttled_ms", stats.throttled_ms)?;
            dict.set_item("concurrency_limited", stats.concurrency_limited)?;
            dict.set_item("concurrency_cap", stats.concurrency_cap)?;
            Ok(dict)
        }

        /// The journal's record of a user (by login or id) in this client's org, oldest first.
        fn history<'py>(&self, py: Python<'py>, user: &str) -> PyResult<Bound<'py, PyAny>> {
            self.core.check()?;
            let history = to_py(self.core.journal.history(user, self.core.client.config().org_url.as_str()))?;
            to_python(py, &history)
        }

        /// The profile and memberships recorded before each deprovision of a user.
        fn snapshots<'py>(&self, py: Python<'py>, user: &str) -> PyResult<Bound<'py, PyAny>> {
            self.core.check()?;
            let snapshots = to_py(self.core.journal.snapshots(user, self.core.client.config().org_url.as_str()))?;
            to_python(py, &snapshots)
        }

        /// How far a run has got: the number of its changes in each status (planned,
        /// started, succeeded, failed, unknown, skipped), read from the journal.
        fn run_progress(&self, run_id: &str) -> PyResult<std::collections::BTreeMap<String, usize>> {
            self.core.check()?;
            to_py(self.core.journal.run_progress(run_id))
        }

        /// Every run in the journal against this client's org, newest first: run_id, policy, org_url, planned_at,
        /// finished_at, status (planned, applying, succeeded, finished_with_errors) and
        /// changes counted by status.
        fn runs<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
            self.core.check()?;
            let runs = to_py(self.core.journal.org_runs(self.core.client.config().org_url.as_str()))?;
            to_python(py, &runs)
        }

        /// The plan of a run as the journal recorded it when it was made (to resume it:
        /// ``client.apply(client.recorded_plan(run_id))``).
        fn recorded_plan(&self, run_id: &str) -> PyResult<PyPlan> {
            self.core.check()?;
            let recorded = to_py(self.core.journal.recorded_run(run_id))?;
            match recorded.and_then(|run| run.plan) {
                Some(inner) => Ok(PyPlan { inner }),
                None => Err(invalid_input(format!("the journal has no recorded plan for run {run_id:?}")).into()),
            }
        }

        /// The run id of an unfinished apply of this policy over the same records, if any:
        /// what applying them again should resume instead of planning anew.
        fn unfinished_run(&self, policy: PyPolicy, records: Records) -> PyResult<Option<String>> {
            self.core.check()?;
            let digest = lifecycle::planner::source_digest(&policy.inner, &records.0);
            to_py(self.core.journal.unfinished_run_for(&policy.inner.name, &digest, self.core.client.config().org_url.as_str()))
        }

        /// Stops using the client: later calls raise.
        fn close(&self) {
            self.core.closed.store(true, Ordering::Relaxed);
        }

        fn __repr__(&self) -> String {
            format!("{}({:?})", <Self as pyo3::PyTypeInfo>::NAME, self.org_url())
        }
    }

    blocking {
        fn __enter__(slf: Py<Self>) -> Py<Self> {
            slf
        }

        fn __exit__(&self, _exc_type: Py<PyAny>, _exc_value: Py<PyAny>, _traceback: Py<PyAny>) -> bool {
            self.close();
            false
        }
    }

    asynchronous {
        fn __aenter__<'py>(slf: Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
            let py = slf.py();
            let this: Py<Self> = slf.unbind();
            awaitable(py, async move { Ok(this) })
        }

        fn __aexit__<'py>(
            &self,
            py: Python<'py>,
            _exc_type: Py<PyAny>,
            _exc_value: Py<PyAny>,
            _traceback: Py<PyAny>,
        ) -> PyResult<Bound<'py, PyAny>> {
            self.close();
            awaitable(py, async move { Ok(false) })
        }
    }

    /// Reads the org and plans `policy` for `records` (a list of dicts or a .csv/.jsonl path).
    /// Nothing is written. With incremental=True a plan over the whole org reads only what
    /// changed in Okta since the journal's last read of it (or the whole org, saying why).
    #[pyo3(signature = (policy, records, *, incremental=false))]
    fn plan(&self, policy: PyPolicy, records: Records, incremental: bool) -> Outcome<PyPlan> {
        let options = lifecycle::planner::PlanOptions { incremental, ..Default::default() };
        convert(lifecycle::planner::plan_with(&core.client, &policy.inner, &records.0, &core.journal, &options).await)
            .map(|inner| PyPlan { inner })
    }

    /// The changes Okta's System Log shows to the users and groups this journal's runs manage
    /// (or to any, with everything=True) between `since` and `until` (default now) that no run
    /// made: each a dict with uuid, published, event_type, display_message, actor and targets
    /// (id, type, alternate_id, display_name), request_id and managed. Needs okta.logs.read.
    #[pyo3(signature = (*, since, until=None, everything=false))]
    fn drift(&self, since: chrono::DateTime<chrono::FixedOffset>, until: Option<chrono::DateTime<chrono::FixedOffset>>, everything: bool) -> Outcome<PyJson> {
        let options = lifecycle::drift::DriftOptions {
            since: since.with_timezone(&chrono::Utc),
            until: until.map(|until| until.with_timezone(&chrono::Utc)),
            everything,
        };
        let found = convert(lifecycle::drift::drift(&core.client, &core.journal, &options).await)?;
        Ok(PyJson(serde_json::to_value(found).unwrap_or_default()))
    }

    /// Applies a plan (or resumes it), journaling every change.
    #[pyo3(signature = (plan, *, concurrency=Whole::Number(16), override_safety=false, wait_for_lease=None), text_signature = "($self, plan, *, concurrency=16, override_safety=False, wait_for_lease=None)")]
    fn apply(&self, plan: PyPlan, concurrency: Whole, override_safety: bool, wait_for_lease: Option<f64>) -> Outcome<PyReport> {
        let concurrency = concurrency.argument("concurrency", 1, crate::config::MAX_CONCURRENCY as u64)? as usize;
        let wait_for_lease = match wait_for_lease {
            None => None,
            Some(seconds) if seconds.is_finite() && seconds >= 0.0 => Some(Duration::from_secs_f64(seconds.min(86_400.0))),
            Some(_) => return Err(invalid_input("wait_for_lease must be a number of seconds, 0 or more")),
        };
        let options = ApplyOptions { concurrency, override_safety, wait_for_lease, ..ApplyOptions::default() };
        convert(lifecycle::apply(&core.client, &plan.inner, &core.journal, &options).await).map(|inner| PyReport { inner })
    }
}

/// The `scopes` argument: a string of scopes separated by spaces or commas (as `OKTA_SCOPES` is
/// written), or a list of such strings (as Ansible gives a list option from an environment
/// variable or a playbook). Parsed here, once, for every caller.
fn scopes_argument(value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<String>>> {
    let Some(value) = value.filter(|value| !value.is_none()) else { return Ok(None) };
    let texts: Vec<String> = match value.extract::<String>() {
        Ok(text) => vec![text],
        Err(_) => value
            .extract::<Vec<String>>()
            .map_err(|_| PyErr::from(invalid_input("scopes must be a string or a list of strings")))?,
    };
    let scopes: Vec<String> = texts.iter().flat_map(|text| parse_scopes(text)).collect();
    Ok((!scopes.is_empty()).then_some(scopes))
}

/// A blocking client for an org at `url` with an API token (the simulator's `client()`).
pub(crate) fn blocking_client(url: &str, api_token: &str) -> PyResult<PyOktaClient> {
    let config = to_py(ClientConfig::with_api_token(url, api_token))?;
    Ok(PyOktaClient::from(core_from(config, Some(PathBuf::from(IN_MEMORY)))?))
}

/// An asyncio client for an org at `url` with an API token (the simulator's `async_client()`).
pub(crate) fn async_client(url: &str, api_token: &str) -> PyResult<PyAsyncOktaClient> {
    let config = to_py(ClientConfig::with_api_token(url, api_token))?;
    Ok(PyAsyncOktaClient::from(core_from(config, Some(PathBuf::from(IN_MEMORY)))?))
}
