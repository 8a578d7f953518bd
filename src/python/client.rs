//! `OktaClient` (blocking) and `AsyncOktaClient` (asyncio): the same methods, each a few lines
//! over one async Rust function. Blocking calls release the GIL and stay interruptible; async
//! calls return awaitables whose cancellation drops the Rust future.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use serde_json::{Map, Value};

use crate::config::{parse_scopes, ClientConfig, CredentialOptions, OptionSource};
use crate::http::OktaClient;
use crate::lifecycle::actions::source_of_identity::{self, SourceOptions};
use crate::lifecycle::journal::Journal;
use crate::lifecycle::{self, direct, ApplyOptions};
use crate::okta::{CreateUser, ListGroups, ListUsers, NextLogin};
use crate::python::errors::{convert, invalid_input, to_py, Nothing, Outcome};
use crate::python::models::{
    from_python, records_from, to_python, PyGroup, PyPlan, PyPolicy, PyReport, PySecret, PyUser,
};
use crate::python::pages::{GroupPages, IdentityEvents, UserPages};
use crate::python::runtime::{awaitable, block_on};
use crate::secret::SecretString;

/// What both clients share: the Rust client and the journal.
pub(crate) struct Core {
    client: OktaClient,
    journal: Arc<Journal>,
    closed: AtomicBool,
}

impl Core {
    fn check(&self) -> PyResult<()> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(crate::python::errors::raise(crate::python::errors::Class::Closed, "the client is closed"));
        }
        Ok(())
    }
}

/// A JSON-like Python value (dict, list, str, number, bool, None).
pub(crate) struct Json(pub Value);

impl<'a, 'py> FromPyObject<'a, 'py> for Json {
    type Error = PyErr;

    fn extract(object: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        from_python(&object.to_owned()).map(Json)
    }
}

fn profile_of(value: Json) -> PyResult<Map<String, Value>> {
    match value.0 {
        Value::Object(map) => Ok(map),
        _ => Err(invalid_input("a profile must be a dict of attribute names to values").into()),
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
pub(crate) struct Records(pub Vec<lifecycle::record::IdentityRecord>);

impl<'a, 'py> FromPyObject<'a, 'py> for Records {
    type Error = PyErr;

    fn extract(object: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        let object = object.to_owned();
        if let Ok(path) = object.extract::<PathBuf>() {
            if !object.is_instance_of::<pyo3::types::PyList>() {
                let format = lifecycle::record::SourceFormat::from_path(&path)
                    .ok_or_else(|| invalid_input(format!("{}: use a .csv or .jsonl file", path.display())))?;
                return to_py(lifecycle::record::read_records(&path, format)).map(Records);
            }
        }
        records_from(&object).map(Records)
    }
}

#[allow(clippy::too_many_arguments)]
fn build_core(
    org_url: &str,
    api_token: Option<String>,
    client_id: Option<String>,
    private_key: Option<String>,
    private_key_path: Option<PathBuf>,
    scopes: Option<Vec<String>>,
    key_id: Option<String>,
    dpop: bool,
    timeout: f64,
    max_retries: u32,
    rate_limit_share: f64,
    max_concurrency: usize,
    page_size: u32,
    proxy: Option<String>,
    journal: Option<PathBuf>,
) -> PyResult<Arc<Core>> {
    let options = CredentialOptions {
        api_token: api_token.map(SecretString::new),
        client_id,
        private_key: private_key.map(SecretString::new),
        private_key_path,
        key_id,
        scopes,
        dpop: Some(dpop),
    };
    let credentials = to_py(options.build(OptionSource::Arguments))?;
    let mut config = to_py(ClientConfig::new(org_url, credentials))?;
    config.request_timeout = to_py(crate::config::seconds("timeout", timeout, crate::config::MAX_TIMEOUT))?;
    config.max_retries = max_retries;
    config.rate_limit_share = rate_limit_share;
    config.max_concurrency = max_concurrency;
    config.page_size = page_size;
    config.proxy = proxy;
    core_from(config, journal)
}

/// The journal path that means "in memory" (SQLite's own name for it).
pub(crate) const IN_MEMORY: &str = ":memory:";

fn core_from(config: ClientConfig, journal: Option<PathBuf>) -> PyResult<Arc<Core>> {
    // Every org gets a journal on disk unless told otherwise: a loopback URL may be a real org
    // behind a tunnel. Only the built-in simulator's clients ask for ":memory:".
    let journal = match journal {
        Some(path) if path.as_os_str() == IN_MEMORY => to_py(Journal::in_memory())?,
        Some(path) => to_py(Journal::open(&path))?,
        None => to_py(Journal::open(&Journal::default_path(config.org_url.as_str())))?,
    };
    let client = to_py(OktaClient::new(config))?;
    Ok(Arc::new(Core { client, journal: Arc::new(journal), closed: AtomicBool::new(false) }))
}

/// Generates the blocking and the async variant of each method from one body. Inside a body,
/// the name given first (`core`) is the shared [`Core`]; the body returns [`Outcome<T>`]: it runs
/// on a runtime worker thread and never touches Python, and its error becomes an exception only
/// once it is back where the GIL is held.
macro_rules! dual {
    ($blocking:ident, $asynchronous:ident, $core:ident; $(
        $(#[$attribute:meta])*
        fn $name:ident(&self $(, $argument:ident : $type:ty)*) -> $output:ty $body:block
    )*) => {
        #[pymethods]
        impl $blocking {
            $(
                $(#[$attribute])*
                #[allow(clippy::too_many_arguments)]
                fn $name(&self, py: Python<'_> $(, $argument: $type)*) -> PyResult<$output> {
                    let $core = Arc::clone(&self.core);
                    $core.check()?;
                    let outcome: Outcome<$output> = block_on(py, async move { $body })?;
                    outcome.map_err(PyErr::from)
                }
            )*
        }

        #[pymethods]
        impl $asynchronous {
            $(
                $(#[$attribute])*
                #[allow(clippy::too_many_arguments)]
                fn $name<'py>(&self, py: Python<'py> $(, $argument: $type)*) -> PyResult<Bound<'py, PyAny>> {
                    let $core = Arc::clone(&self.core);
                    $core.check()?;
                    awaitable(py, async move { $body })
                }
            )*
        }
    };
}

macro_rules! holder {
    ($($name:ident, $python_name:literal, $doc:literal;)*) => {
        $(
            #[doc = $doc]
            #[pyclass(module = "okta_lifecycle._core", name = $python_name, frozen)]
            pub(crate) struct $name {
                core: Arc<Core>,
            }
        )*
    };
}

holder! {
    PyOktaClient, "OktaClient", "The blocking Okta client.";
    PyAsyncOktaClient, "AsyncOktaClient", "The asyncio Okta client.";
    Users, "Users", "The Users API (blocking).";
    AsyncUsers, "AsyncUsers", "The Users API (asyncio).";
    Groups, "Groups", "The Groups API (blocking).";
    AsyncGroups, "AsyncGroups", "The Groups API (asyncio).";
    Actions, "Actions", "The lifecycle actions (blocking).";
    AsyncActions, "AsyncActions", "The lifecycle actions (asyncio).";
}

fn wrap_user(user: crate::okta::User) -> PyUser {
    PyUser { inner: user }
}

fn secret(value: Option<SecretString>) -> Option<PySecret> {
    value.map(|inner| PySecret { inner })
}

fn user_pages(stream: crate::http::ItemStream<crate::okta::User>) -> UserPages {
    UserPages::new(stream.map(|item| item.map(wrap_user)).boxed())
}

fn group_pages(stream: crate::http::ItemStream<crate::okta::Group>) -> GroupPages {
    GroupPages::new(stream.map(|item| item.map(|inner| PyGroup { inner })).boxed())
}

macro_rules! client_common {
    ($class:ident, $users:ident, $groups:ident, $actions:ident) => {
        #[pymethods]
        impl $class {
            #[new]
            #[pyo3(signature = (
                org_url, *, api_token=None, client_id=None, private_key=None, private_key_path=None, scopes=None,
                key_id=None, dpop=true, timeout=30.0, max_retries=5, rate_limit_share=1.0, max_concurrency=75,
                page_size=200, proxy=None, journal=None
            ))]
            #[allow(clippy::too_many_arguments)]
            fn new(
                org_url: &str,
                api_token: Option<String>,
                client_id: Option<String>,
                private_key: Option<String>,
                private_key_path: Option<PathBuf>,
                scopes: Option<Vec<String>>,
                key_id: Option<String>,
                dpop: bool,
                timeout: f64,
                max_retries: u32,
                rate_limit_share: f64,
                max_concurrency: usize,
                page_size: u32,
                proxy: Option<String>,
                journal: Option<PathBuf>,
            ) -> PyResult<Self> {
                let core = build_core(
                    org_url, api_token, client_id, private_key, private_key_path, scopes, key_id, dpop, timeout,
                    max_retries, rate_limit_share, max_concurrency, page_size, proxy, journal,
                )?;
                Ok($class { core })
            }

            /// A client configured from OKTA_ORG_URL, OKTA_API_TOKEN or OKTA_CLIENT_ID with
            /// OKTA_PRIVATE_KEY / OKTA_PRIVATE_KEY_PATH, OKTA_SCOPES, OKTA_KEY_ID, OKTA_DPOP.
            #[staticmethod]
            #[pyo3(signature = (*, org_url=None, journal=None, timeout=None))]
            fn from_env(org_url: Option<String>, journal: Option<PathBuf>, timeout: Option<f64>) -> PyResult<Self> {
                let mut config = to_py(ClientConfig::from_lookup(|name| match (name, &org_url) {
                    ("OKTA_ORG_URL", Some(url)) => Some(url.clone()),
                    _ => std::env::var(name).ok(),
                }))?;
                if let Some(timeout) = timeout {
                    config.request_timeout =
                        to_py(crate::config::seconds("timeout", timeout, crate::config::MAX_TIMEOUT))?;
                }
                Ok($class { core: core_from(config, journal)? })
            }

            #[getter]
            fn org_url(&self) -> String {
                self.core.client.config().org_url.as_str().trim_end_matches('/').to_owned()
            }

            #[getter]
            fn users(&self) -> $users {
                $users { core: Arc::clone(&self.core) }
            }

            #[getter]
            fn groups(&self) -> $groups {
                $groups { core: Arc::clone(&self.core) }
            }

            #[getter]
            fn actions(&self) -> $actions {
                $actions { core: Arc::clone(&self.core) }
            }

            /// The journal file (None when the journal is in memory).
            #[getter]
            fn journal_path(&self) -> Option<PathBuf> {
                self.core.journal.path().map(PathBuf::from)
            }

            /// Counters of the rate-limit governor: throttled_waits, throttled_ms,
            /// concurrency_limited, concurrency_cap.
            fn governor_stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
                let stats = self.core.client.governor_stats();
                let dict = pyo3::types::PyDict::new(py);
                dict.set_item("throttled_waits", stats.throttled_waits)?;
                dict.set_item("throttled_ms", stats.throttled_ms)?;
                dict.set_item("concurrency_limited", stats.concurrency_limited)?;
                dict.set_item("concurrency_cap", stats.concurrency_cap)?;
                Ok(dict)
            }

            /// The journal's record of a user (by login or id), oldest first.
            fn history<'py>(&self, py: Python<'py>, user: &str) -> PyResult<Bound<'py, PyAny>> {
                self.core.check()?;
                let history = to_py(self.core.journal.history(user))?;
                to_python(py, &history)
            }

            /// The profile and memberships recorded before each deprovision of a user.
            fn snapshots<'py>(&self, py: Python<'py>, user: &str) -> PyResult<Bound<'py, PyAny>> {
                self.core.check()?;
                let snapshots = to_py(self.core.journal.snapshots(user))?;
                to_python(py, &snapshots)
            }

            /// How far a run has got: the number of its changes in each status (planned,
            /// started, succeeded, failed, unknown, skipped), read from the journal.
            fn run_progress(&self, run_id: &str) -> PyResult<std::collections::BTreeMap<String, usize>> {
                to_py(self.core.journal.run_progress(run_id))
            }

            /// Every run in the journal, newest first: run_id, policy, org_url, planned_at,
            /// finished_at, status (planned, applying, succeeded, finished_with_errors) and
            /// changes counted by status.
            fn runs<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                self.core.check()?;
                let runs = to_py(self.core.journal.runs())?;
                to_python(py, &runs)
            }

            /// The plan of a run as the journal recorded it when it was made (to resume it:
            /// ``client.apply(client.recorded_plan(run_id))``).
            fn recorded_plan(&self, run_id: &str) -> PyResult<crate::python::models::PyPlan> {
                self.core.check()?;
                let recorded = to_py(self.core.journal.recorded_run(run_id))?;
                match recorded.and_then(|run| run.plan) {
                    Some(inner) => Ok(crate::python::models::PyPlan { inner }),
                    None => Err(invalid_input(format!("the journal has no recorded plan for run {run_id:?}")).into()),
                }
            }

            /// The run id of an unfinished apply of this policy over the same records, if any:
            /// what applying them again should resume instead of planning anew.
            fn unfinished_run(&self, policy: PyPolicy, records: Records) -> PyResult<Option<String>> {
                self.core.check()?;
                let digest = lifecycle::planner::source_digest(&policy.inner, &records.0);
                to_py(self.core.journal.unfinished_run_for(&policy.inner.name, &digest))
            }

            /// Stops using the client: later calls raise.
            fn close(&self) {
                self.core.closed.store(true, Ordering::Relaxed);
            }

            fn __repr__(&self) -> String {
                format!("{}({:?})", stringify!($class).trim_start_matches("Py"), self.org_url())
            }
        }
    };
}

client_common!(PyOktaClient, Users, Groups, Actions);
client_common!(PyAsyncOktaClient, AsyncUsers, AsyncGroups, AsyncActions);

#[pymethods]
impl PyOktaClient {
    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, _exc: &Bound<'_, PyTuple>) -> bool {
        self.close();
        false
    }
}

#[pymethods]
impl PyAsyncOktaClient {
    fn __aenter__<'py>(slf: Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let this: Py<Self> = slf.unbind();
        awaitable(py, async move { Ok(this) })
    }

    #[pyo3(signature = (*_exc))]
    fn __aexit__<'py>(&self, py: Python<'py>, _exc: &Bound<'py, PyTuple>) -> PyResult<Bound<'py, PyAny>> {
        self.close();
        awaitable(py, async move { Ok(false) })
    }
}

dual! { PyOktaClient, PyAsyncOktaClient, core;
    /// Reads the org and plans `policy` for `records` (a list of dicts or a .csv/.jsonl path).
    /// Nothing is written.
    fn plan(&self, policy: PyPolicy, records: Records) -> PyPlan {
        convert(lifecycle::plan(&core.client, &policy.inner, &records.0, &core.journal).await).map(|inner| PyPlan { inner })
    }

    /// Applies a plan (or resumes it), journaling every change.
    #[pyo3(signature = (plan, *, concurrency=16, override_safety=false, wait_for_lease=None))]
    fn apply(&self, plan: PyPlan, concurrency: usize, override_safety: bool, wait_for_lease: Option<f64>) -> PyReport {
        let wait_for_lease = match wait_for_lease {
            None => None,
            Some(seconds) if seconds.is_finite() && seconds >= 0.0 => Some(Duration::from_secs_f64(seconds.min(86_400.0))),
            Some(_) => return Err(invalid_input("wait_for_lease must be a number of seconds, 0 or more")),
        };
        let options = ApplyOptions { concurrency, override_safety, wait_for_lease };
        convert(lifecycle::apply(&core.client, &plan.inner, &core.journal, &options).await).map(|inner| PyReport { inner })
    }
}

dual! { Users, AsyncUsers, core;
    /// A user by id or login.
    fn get(&self, id_or_login: String) -> PyUser {
        convert(core.client.users().get(&id_or_login).await).map(wrap_user)
    }

    /// A user and its ETag (for `replace(..., if_match=etag)`).
    fn get_with_etag(&self, id_or_login: String) -> (PyUser, Option<String>) {
        convert(core.client.users().get_with_etag(&id_or_login).await).map(|(user, etag)| (wrap_user(user), etag))
    }

    /// Creates a user.
    #[pyo3(signature = (profile, *, password=None, activate=true, provider=false, next_login=None, group_ids=None))]
    fn create(&self, profile: Json, password: Option<String>, activate: bool, provider: bool, next_login: Option<String>, group_ids: Option<Vec<String>>) -> PyUser {
        let mut request = CreateUser::new(profile_of(profile)?);
        request.password = password.map(SecretString::new);
        request.activate = activate;
        request.provider = provider;
        request.next_login = next_login.as_deref().map(str::parse::<NextLogin>).transpose()?;
        request.group_ids = group_ids.unwrap_or_default();
        convert(core.client.users().create(&request).await).map(wrap_user)
    }

    /// Updates the given profile attributes (None clears one).
    fn update(&self, user: Target, profile: Json) -> PyUser {
        let profile = profile_of(profile)?;
        convert(core.client.users().update_profile(&user.0, &profile).await).map(wrap_user)
    }

    /// Replaces the profile; with `if_match`, only if the user is unchanged since that ETag.
    #[pyo3(signature = (user, profile, *, if_match=None))]
    fn replace(&self, user: Target, profile: Json, if_match: Option<String>) -> PyUser {
        let profile = profile_of(profile)?;
        convert(core.client.users().replace(&user.0, &profile, if_match.as_deref()).await).map(wrap_user)
    }

    /// Activates a STAGED or DEPROVISIONED user; with send_email=False returns the activation link.
    #[pyo3(signature = (user, *, send_email=true))]
    fn activate(&self, user: Target, send_email: bool) -> Option<PySecret> {
        convert(core.client.users().activate(&user.0, send_email).await).map(|token| secret(token.map(|t| t.url)))
    }

    /// Sends a new activation to a PROVISIONED or RECOVERY user.
    #[pyo3(signature = (user, *, send_email=false))]
    fn reactivate(&self, user: Target, send_email: bool) -> Option<PySecret> {
        convert(core.client.users().reactivate(&user.0, send_email).await).map(|token| secret(token.map(|t| t.url)))
    }

    /// Deactivates a user (memberships are kept by Okta).
    #[pyo3(signature = (user, *, send_email=false))]
    fn deactivate(&self, user: Target, send_email: bool) -> Nothing {
        convert(core.client.users().deactivate(&user.0, send_email).await).map(|()| Nothing)
    }

    /// Suspends an ACTIVE user.
    fn suspend(&self, user: Target) -> Nothing {
        convert(core.client.users().suspend(&user.0).await).map(|()| Nothing)
    }

    /// Returns a SUSPENDED user to ACTIVE.
    fn unsuspend(&self, user: Target) -> Nothing {
        convert(core.client.users().unsuspend(&user.0).await).map(|()| Nothing)
    }

    /// Unlocks a LOCKED_OUT user.
    fn unlock(&self, user: Target) -> Nothing {
        convert(core.client.users().unlock(&user.0).await).map(|()| Nothing)
    }

    /// Expires the password.
    fn expire_password(&self, user: Target) -> PyUser {
        convert(core.client.users().expire_password(&user.0).await).map(wrap_user)
    }

    /// Expires the password and returns a temporary one (a Secret).
    #[pyo3(signature = (user, *, revoke_sessions=false))]
    fn expire_password_with_temp_password(&self, user: Target, revoke_sessions: bool) -> PySecret {
        convert(core.client.users().expire_password_with_temp_password(&user.0, revoke_sessions).await).map(|inner| PySecret { inner })
    }

    /// Starts Okta's password reset; with send_email=False returns the reset link (a Secret).
    #[pyo3(signature = (user, *, send_email=true, revoke_sessions=false))]
    fn reset_password(&self, user: Target, send_email: bool, revoke_sessions: bool) -> Option<PySecret> {
        convert(core.client.users().reset_password(&user.0, send_email, revoke_sessions).await).map(secret)
    }

    /// Resets every enrolled factor.
    fn reset_factors(&self, user: Target) -> Nothing {
        convert(core.client.users().reset_factors(&user.0).await).map(|()| Nothing)
    }

    /// Deletes a user: for good (deactivating first when needed), or with permanently=False one
    /// DELETE (which only deactivates a user that is not DEPROVISIONED).
    #[pyo3(signature = (user, *, permanently=true))]
    fn delete(&self, user: Target, permanently: bool) -> Nothing {
        if permanently {
            convert(core.client.users().delete_permanently(&user.0).await).map(|()| Nothing)
        } else {
            convert(core.client.users().delete(&user.0, false).await).map(|()| Nothing)
        }
    }

    /// Ends the user's sessions; with oauth_tokens also revokes their OAuth tokens.
    #[pyo3(signature = (user, *, oauth_tokens=true, forget_devices=None))]
    fn clear_sessions(&self, user: Target, oauth_tokens: bool, forget_devices: Option<bool>) -> Nothing {
        convert(core.client.users().clear_sessions(&user.0, oauth_tokens, forget_devices).await).map(|()| Nothing)
    }
}

macro_rules! listing_methods {
    ($users:ident, $groups:ident) => {
        #[pymethods]
        impl $users {
            /// Lists users lazily (use at most one of search, filter and q).
            #[pyo3(signature = (*, search=None, filter=None, q=None, sort_by=None, sort_order=None, limit=None))]
            fn list(
                &self,
                search: Option<String>,
                filter: Option<String>,
                q: Option<String>,
                sort_by: Option<String>,
                sort_order: Option<String>,
                limit: Option<u32>,
            ) -> PyResult<UserPages> {
                self.core.check()?;
                let options = ListUsers { search, filter, q, sort_by, sort_order, limit };
                to_py(self.core.client.users().list(&options)).map(user_pages)
            }

            /// The groups a user belongs to, Everyone included.
            fn groups(&self, user: Target) -> PyResult<GroupPages> {
                self.core.check()?;
                to_py(self.core.client.users().groups(&user.0)).map(group_pages)
            }
        }

        #[pymethods]
        impl $groups {
            /// Lists groups lazily (use at most one of search, filter and q).
            #[pyo3(signature = (*, search=None, filter=None, q=None, expand_stats=false, limit=None))]
            fn list(
                &self,
                search: Option<String>,
                filter: Option<String>,
                q: Option<String>,
                expand_stats: bool,
                limit: Option<u32>,
            ) -> PyResult<GroupPages> {
                self.core.check()?;
                let options = ListGroups { search, filter, q, expand_stats, limit };
                to_py(self.core.client.groups().list(&options)).map(group_pages)
            }

            /// A group's members, lazily.
            fn members(&self, group: Target) -> PyResult<UserPages> {
                self.core.check()?;
                to_py(self.core.client.groups().members(&group.0)).map(user_pages)
            }
        }
    };
}

listing_methods!(Users, Groups);
listing_methods!(AsyncUsers, AsyncGroups);

dual! { Groups, AsyncGroups, core;
    /// Creates an OKTA_GROUP.
    #[pyo3(signature = (name, description=None))]
    fn create(&self, name: String, description: Option<String>) -> PyGroup {
        convert(core.client.groups().create(&name, description.as_deref()).await).map(|inner| PyGroup { inner })
    }

    /// A group by id.
    fn get(&self, group: Target) -> PyGroup {
        convert(core.client.groups().get(&group.0).await).map(|inner| PyGroup { inner })
    }

    /// A group by exact name (ignoring case), or None.
    fn find(&self, name: String) -> Option<PyGroup> {
        convert(core.client.groups().find_by_name(&name).await).map(|found| found.map(|inner| PyGroup { inner }))
    }

    /// Replaces an OKTA_GROUP's name and description.
    #[pyo3(signature = (group, name, description=None))]
    fn replace(&self, group: Target, name: String, description: Option<String>) -> PyGroup {
        convert(core.client.groups().replace(&group.0, &name, description.as_deref()).await).map(|inner| PyGroup { inner })
    }

    /// Deletes a group.
    fn delete(&self, group: Target) -> Nothing {
        convert(core.client.groups().delete(&group.0).await).map(|()| Nothing)
    }

    /// Adds a user to an OKTA_GROUP (already a member: nothing happens).
    fn add_member(&self, group: Target, user: Target) -> Nothing {
        convert(core.client.groups().add_member(&group.0, &user.0).await).map(|()| Nothing)
    }

    /// Removes a user from an OKTA_GROUP.
    fn remove_member(&self, group: Target, user: Target) -> Nothing {
        convert(core.client.groups().remove_member(&group.0, &user.0).await).map(|()| Nothing)
    }
}

fn report(outcome: crate::Result<direct::Outcome>) -> Outcome<PyReport> {
    convert(outcome).map(|outcome| PyReport { inner: outcome.report })
}

dual! { Actions, AsyncActions, core;
    /// SYNC_IDENTITIES: creates the user (matched by profile["login"]) or updates the given
    /// attributes that differ.
    #[pyo3(signature = (profile, *, create=true, activate=true))]
    fn sync_identities(&self, profile: Json, create: bool, activate: bool) -> PyReport {
        let profile = profile_of(profile)?;
        report(direct::sync_identity(&core.client, &core.journal, &profile, create, activate).await)
    }

    /// MANAGE_RELATIONSHIPS: mode "add", "remove" or "sync" (with exclusive_prefix).
    #[pyo3(signature = (user, groups, *, mode="add".to_owned(), exclusive_prefix=None))]
    fn manage_relationships(&self, user: Target, groups: Vec<String>, mode: String, exclusive_prefix: Option<String>) -> PyReport {
        report(direct::manage_relationships(&core.client, &core.journal, &user.0, &groups, &mode, exclusive_prefix.as_deref()).await)
    }

    /// DEPROVISION_IDENTITY: history recorded, account disabled, memberships removed, logged out.
    #[pyo3(signature = (user, *, mode="deactivate".to_owned(), remove_groups=true, logout=true))]
    fn deprovision_identity(&self, user: Target, mode: String, remove_groups: bool, logout: bool) -> PyReport {
        report(direct::deprovision_identity(&core.client, &core.journal, &user.0, &mode, remove_groups, logout).await)
    }

    /// Brings a deprovisioned user back, restoring the memberships it had. A DEPROVISIONED
    /// user gets Okta's activation email, or with send_email=False the link in
    /// report.activation_links.
    #[pyo3(signature = (user, *, restore_groups=true, send_email=true))]
    fn reactivate_identity(&self, user: Target, restore_groups: bool, send_email: bool) -> PyReport {
        report(direct::reactivate_identity(&core.client, &core.journal, &user.0, restore_groups, send_email).await)
    }

    /// CREATE_ENTITLEMENT: creates the group unless it exists.
    #[pyo3(signature = (name, description=None))]
    fn create_entitlement(&self, name: String, description: Option<String>) -> PyReport {
        report(direct::create_entitlement(&core.client, &core.journal, &name, description.as_deref()).await)
    }

    /// RESET_PASSWORD: a new reset event each call; the link is in report.reset_links when
    /// send_email is False.
    #[pyo3(signature = (login, *, send_email=true, revoke_sessions=false))]
    fn reset_password(&self, login: String, send_email: bool, revoke_sessions: bool) -> PyReport {
        report(direct::reset_password(&core.client, &core.journal, &login, send_email, revoke_sessions).await)
    }
}

/// One identity read from Okta with its joiner / mover / leaver event.
#[pyclass(module = "okta_lifecycle._core", name = "IdentityEvent", frozen)]
pub(crate) struct PyIdentityEvent {
    event: &'static str,
    user: PyUser,
    record: Value,
    moved: Value,
}

#[pymethods]
impl PyIdentityEvent {
    /// "joiner", "mover", "leaver" or "updated".
    #[getter]
    fn event(&self) -> &'static str {
        self.event
    }
    /// The user as Okta returned it.
    #[getter]
    fn user(&self) -> PyUser {
        self.user.clone()
    }
    /// The identity record: the profile plus id, status and timestamps.
    #[getter]
    fn record<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.record)
    }
    /// Mover attributes that changed: [{"attribute", "before", "after"}].
    #[getter]
    fn moved<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.moved)
    }
    fn __repr__(&self) -> String {
        format!("IdentityEvent(event={:?}, login={:?})", self.event, self.user.inner.login().unwrap_or_default())
    }
}

macro_rules! source_method {
    ($actions:ident) => {
        #[pymethods]
        impl $actions {
            /// SOURCE_OF_IDENTITY: every user (since=None) or those changed after `since`, each with
            /// its event. Movers are told apart by the attributes the journal saw last; reading
            /// updates what it saw.
            #[pyo3(signature = (*, since=None, mover_attributes=Vec::new()))]
            fn source_of_identity(
                &self,
                since: Option<DateTime<chrono::FixedOffset>>,
                mover_attributes: Vec<String>,
            ) -> PyResult<IdentityEvents> {
                self.core.check()?;
                // Any aware datetime: compared on Okta's clock, in UTC.
                let since = since.map(|since| since.with_timezone(&Utc));
                let options = SourceOptions { since, mover_attributes };
                let stream =
                    to_py(source_of_identity::read(&self.core.client, Arc::clone(&self.core.journal), options))?;
                let events = stream.map(|item| {
                    item.map(|identity| PyIdentityEvent {
                        event: identity.event.as_str(),
                        record: identity.record.as_value().clone(),
                        moved: serde_json::to_value(&identity.moved).unwrap_or(Value::Null),
                        user: PyUser { inner: identity.user },
                    })
                });
                Ok(IdentityEvents::new(events.boxed()))
            }
        }
    };
}

source_method!(Actions);
source_method!(AsyncActions);

/// Parses a scope list written with spaces and/or commas (exposed for the command line).
#[pyfunction]
pub(crate) fn split_scopes(text: &str) -> Vec<String> {
    parse_scopes(text)
}

/// A blocking client for an org at `url` with an API token (the simulator's `client()`).
pub(crate) fn blocking_client(url: &str, api_token: &str) -> PyResult<PyOktaClient> {
    let config = to_py(ClientConfig::with_api_token(url, api_token))?;
    Ok(PyOktaClient { core: core_from(config, Some(PathBuf::from(IN_MEMORY)))? })
}

/// An asyncio client for an org at `url` with an API token (the simulator's `async_client()`).
pub(crate) fn async_client(url: &str, api_token: &str) -> PyResult<PyAsyncOktaClient> {
    let config = to_py(ClientConfig::with_api_token(url, api_token))?;
    Ok(PyAsyncOktaClient { core: core_from(config, Some(PathBuf::from(IN_MEMORY)))? })
}
