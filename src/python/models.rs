//! Python views of users, groups, secrets, policies, plans, reports and identity events, and
//! JSON-like values in both directions.

use chrono::{DateTime, Utc};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use pythonize::pythonize;
use serde_json::{Map, Value};

use crate::lifecycle;
use crate::okta;
use crate::python::errors::{invalid_input, to_py, Outcome};
use crate::secret::SecretString;

pub(crate) fn to_python<'py>(py: Python<'py>, value: &impl serde::Serialize) -> PyResult<Bound<'py, PyAny>> {
    pythonize(py, value)
        .map_err(|e| crate::python::errors::raise(crate::python::errors::Class::Internal, e.to_string()))
}

/// A JSON value handed to Python as dicts, lists and scalars (Okta's JSON, as sent).
pub(crate) struct PyJson(pub Value);

impl PyJson {
    /// A list of JSON values.
    pub(crate) fn list(items: Vec<Value>) -> Self {
        PyJson(Value::Array(items))
    }
}

impl<'py> IntoPyObject<'py> for PyJson {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.0)
    }
}

pub(crate) fn from_python(value: &Bound<'_, PyAny>) -> PyResult<Value> {
    json_from_python(value, 0)
}

/// How deep a Python value given as JSON-like data may nest. Policies and records need a handful
/// of levels; the bound makes a cyclic dict (`d["x"] = d`) or a list nested 20,000 deep a typed
/// error instead of a stack overflow.
pub(crate) const MAX_DEPTH: usize = 64;

fn json_from_python(value: &Bound<'_, PyAny>, depth: usize) -> PyResult<Value> {
    use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyString, PyTuple};
    let refuse = |message: String| Err(crate::python::errors::invalid_input(message).into());
    if depth > MAX_DEPTH {
        return refuse(format!(
            "not JSON-like: nested more than {MAX_DEPTH} levels deep (or a value that contains itself)"
        ));
    }
    if value.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(flag) = value.cast::<PyBool>() {
        return Ok(Value::Bool(flag.is_true()));
    }
    if value.is_instance_of::<PyInt>() {
        if let Ok(number) = value.extract::<i64>() {
            return Ok(Value::from(number));
        }
        if let Ok(number) = value.extract::<u64>() {
            return Ok(Value::from(number));
        }
        return refuse("not JSON-like: an integer does not fit in 64 bits (give it as a string)".into());
    }
    if let Ok(number) = value.cast::<PyFloat>() {
        return match serde_json::Number::from_f64(number.value()) {
            Some(number) => Ok(Value::Number(number)),
            None => refuse("not JSON-like: NaN and infinity are not JSON numbers".into()),
        };
    }
    if let Ok(text) = value.cast::<PyString>() {
        return Ok(Value::String(text.to_str()?.to_owned()));
    }
    if let Ok(dict) = value.cast::<PyDict>() {
        // Sized once: a source of 100,000 records holds 100,000 of these maps.
        let mut map = serde_json::Map::with_capacity(dict.len());
        for (key, item) in dict.iter() {
            let Ok(key) = key.cast::<PyString>() else {
                return refuse(format!("not JSON-like: a dict key must be a string, not {}", key.get_type().name()?));
            };
            map.insert(key.to_str()?.to_owned(), json_from_python(&item, depth + 1)?);
        }
        return Ok(Value::Object(map));
    }
    if value.cast::<PyList>().is_ok() || value.cast::<PyTuple>().is_ok() {
        let mut items = Vec::new();
        for item in value.try_iter()? {
            items.push(json_from_python(&item?, depth + 1)?);
        }
        return Ok(Value::Array(items));
    }
    refuse(format!("not JSON-like: a {} cannot be read as JSON", value.get_type().name()?))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn html_table(headers: &[&str], rows: impl Iterator<Item = Vec<String>>) -> String {
    let mut html = String::from("<table><thead><tr>");
    for header in headers {
        html.push_str(&format!("<th>{}</th>", escape(header)));
    }
    html.push_str("</tr></thead><tbody>");
    for row in rows {
        html.push_str("<tr>");
        for cell in row {
            html.push_str(&format!("<td>{}</td>", escape(&cell)));
        }
        html.push_str("</tr>");
    }
    html.push_str("</tbody></table>");
    html
}

/// An Okta user.
#[pyclass(module = "okta_lifecycle._core", name = "User", frozen)]
#[derive(Clone)]
pub(crate) struct PyUser {
    pub(crate) inner: okta::User,
}

#[pymethods]
impl PyUser {
    #[getter]
    fn id(&self) -> &str {
        self.inner.id()
    }
    #[getter]
    fn login(&self) -> Option<&str> {
        self.inner.login()
    }
    #[getter]
    fn email(&self) -> Option<&str> {
        self.inner.email()
    }
    #[getter]
    fn status(&self) -> String {
        self.inner.status().as_str().to_owned()
    }
    #[getter]
    fn transitioning_to_status(&self) -> Option<String> {
        self.inner.transitioning_to_status().map(|s| s.as_str().to_owned())
    }
    #[getter]
    fn profile<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, self.inner.profile())
    }
    #[getter]
    fn created(&self) -> Option<DateTime<Utc>> {
        self.inner.created()
    }
    #[getter]
    fn activated(&self) -> Option<DateTime<Utc>> {
        self.inner.activated()
    }
    #[getter]
    fn status_changed(&self) -> Option<DateTime<Utc>> {
        self.inner.status_changed()
    }
    #[getter]
    fn last_login(&self) -> Option<DateTime<Utc>> {
        self.inner.last_login()
    }
    #[getter]
    fn last_updated(&self) -> Option<DateTime<Utc>> {
        self.inner.last_updated()
    }
    #[getter]
    fn password_changed(&self) -> Option<DateTime<Utc>> {
        self.inner.password_changed()
    }
    #[getter]
    fn raw<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, self.inner.raw())
    }
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<PyUser>().is_ok_and(|other| other.get().inner == self.inner)
    }
    fn __repr__(&self) -> String {
        format!(
            "User(id={:?}, login={:?}, status={:?})",
            self.inner.id(),
            self.inner.login().unwrap_or_default(),
            self.inner.status().as_str()
        )
    }
    fn _repr_html_(&self) -> String {
        let mut rows =
            vec![vec!["id".into(), self.inner.id().into()], vec!["status".into(), self.inner.status().as_str().into()]];
        for (name, value) in self.inner.profile() {
            rows.push(vec![name.clone(), value.as_str().map(str::to_owned).unwrap_or_else(|| value.to_string())]);
        }
        html_table(&["attribute", "value"], rows.into_iter())
    }
}

/// An Okta group.
#[pyclass(module = "okta_lifecycle._core", name = "Group", frozen)]
#[derive(Clone)]
pub(crate) struct PyGroup {
    pub(crate) inner: okta::Group,
}

#[pymethods]
impl PyGroup {
    #[getter]
    fn id(&self) -> &str {
        self.inner.id()
    }
    #[getter]
    fn name(&self) -> Option<&str> {
        self.inner.name()
    }
    #[getter]
    fn description(&self) -> Option<&str> {
        self.inner.description()
    }
    /// Okta's `type`, under the name Okta and its SDK give it.
    #[getter]
    #[pyo3(name = "type")]
    fn group_type(&self) -> String {
        self.inner.group_type().as_str().to_owned()
    }
    #[getter]
    fn profile<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, self.inner.profile())
    }
    #[getter]
    fn created(&self) -> Option<DateTime<Utc>> {
        self.inner.created()
    }
    #[getter]
    fn last_updated(&self) -> Option<DateTime<Utc>> {
        self.inner.last_updated()
    }
    #[getter]
    fn last_membership_updated(&self) -> Option<DateTime<Utc>> {
        self.inner.last_membership_updated()
    }
    #[getter]
    fn users_count(&self) -> Option<u64> {
        self.inner.users_count()
    }
    #[getter]
    fn raw<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, self.inner.raw())
    }
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<PyGroup>().is_ok_and(|other| other.get().inner == self.inner)
    }
    fn __repr__(&self) -> String {
        format!(
            "Group(id={:?}, name={:?}, type={:?})",
            self.inner.id(),
            self.inner.name().unwrap_or_default(),
            self.inner.group_type().as_str()
        )
    }
    fn _repr_html_(&self) -> String {
        let rows = vec![
            vec!["id".into(), self.inner.id().into()],
            vec!["name".into(), self.inner.name().unwrap_or_default().into()],
            vec!["type".into(), self.inner.group_type().as_str().into()],
            vec!["description".into(), self.inner.description().unwrap_or_default().into()],
        ];
        html_table(&["attribute", "value"], rows.into_iter())
    }
}

/// A secret Okta returned (reset link, temporary password, activation token): its repr never
/// shows it; `reveal()` does.
#[pyclass(module = "okta_lifecycle._core", name = "Secret", frozen)]
pub(crate) struct PySecret {
    pub(crate) inner: SecretString,
}

#[pymethods]
impl PySecret {
    /// The secret's text.
    fn reveal(&self) -> &str {
        self.inner.expose()
    }
    fn __repr__(&self) -> &'static str {
        "Secret('********')"
    }
    fn __str__(&self) -> &'static str {
        "********"
    }
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<PySecret>().is_ok_and(|other| other.get().inner.matches(&self.inner))
    }
}

/// A lifecycle policy.
#[pyclass(module = "okta_lifecycle._core", name = "Policy", frozen)]
#[derive(Clone)]
pub(crate) struct PyPolicy {
    pub(crate) inner: lifecycle::Policy,
}

#[pymethods]
impl PyPolicy {
    /// Loads a TOML policy file.
    #[staticmethod]
    fn from_file(path: std::path::PathBuf) -> PyResult<Self> {
        to_py(lifecycle::Policy::from_file(&path)).map(|inner| PyPolicy { inner })
    }
    /// Loads a policy from TOML text.
    #[staticmethod]
    fn from_toml(text: &str) -> PyResult<Self> {
        to_py(lifecycle::Policy::from_toml(text)).map(|inner| PyPolicy { inner })
    }
    /// Loads a policy from a dict with the TOML schema.
    #[staticmethod]
    fn from_dict(value: &Bound<'_, PyAny>) -> PyResult<Self> {
        to_py(lifecycle::Policy::from_value(&from_python(value)?)).map(|inner| PyPolicy { inner })
    }
    #[getter]
    fn name(&self) -> &str {
        &self.inner.name
    }
    #[getter]
    fn workflows(&self) -> Vec<String> {
        self.inner.workflows.iter().map(|w| w.name.clone()).collect()
    }
    fn __repr__(&self) -> String {
        format!("Policy(name={:?}, workflows={:?})", self.inner.name, self.workflows())
    }
}

/// A plan: every change a run would make.
#[pyclass(module = "okta_lifecycle._core", name = "Plan", frozen)]
#[derive(Clone)]
pub(crate) struct PyPlan {
    pub(crate) inner: lifecycle::Plan,
}

#[pymethods]
impl PyPlan {
    #[getter]
    fn run_id(&self) -> &str {
        &self.inner.run_id
    }
    #[getter]
    fn policy(&self) -> &str {
        &self.inner.policy
    }
    #[getter]
    fn changes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.inner.changes)
    }
    #[getter]
    fn issues<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.inner.issues)
    }
    #[getter]
    fn events<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.inner.events)
    }
    #[getter]
    fn summary<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.inner.summary)
    }
    #[getter]
    fn blocked(&self) -> Vec<String> {
        self.inner.blocked.clone()
    }
    /// How the org was read when an incremental plan was asked for (None otherwise).
    #[getter]
    fn read<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.inner.read)
    }
    #[getter]
    fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }
    /// What the plan changes, per identity and for each group it creates, from its changes
    /// alone: ``{"before": {key: ...}, "after": {key: ...}}`` (check mode's diff).
    fn diff<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &lifecycle::effects::diff(&self.inner.changes))
    }
    /// The state a user (``{"exists", "login", "status", "profile", "groups"}`` as read now) is
    /// left in once the plan's changes are applied (a plan of that user's changes).
    fn predict<'py>(&self, py: Python<'py>, before: Json) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &lifecycle::effects::predict(&before.0, &self.inner.changes))
    }
    /// The plan as text.
    fn render(&self) -> String {
        self.inner.render()
    }
    /// The plan as JSON (it can be applied later with `Plan.from_json`).
    fn to_json(&self) -> PyResult<String> {
        serde_json::to_string_pretty(&self.inner)
            .map_err(|e| crate::python::errors::raise(crate::python::errors::Class::Internal, e.to_string()))
    }
    /// Reads a plan saved with `to_json`.
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Self> {
        serde_json::from_str(text)
            .map(|inner| PyPlan { inner })
            .map_err(|e| crate::python::errors::invalid_input(format!("not a saved plan: {e}")).into())
    }
    fn __len__(&self) -> usize {
        self.inner.changes.len()
    }
    fn __repr__(&self) -> String {
        format!(
            "Plan(run_id={:?}, changes={}, issues={}, blocked={})",
            self.inner.run_id,
            self.inner.changes.len(),
            self.inner.issues.len(),
            !self.inner.blocked.is_empty()
        )
    }
    fn __str__(&self) -> String {
        self.inner.render()
    }
    fn _repr_html_(&self) -> String {
        let rows = self.inner.changes.iter().map(|c| {
            vec![
                c.seq.to_string(),
                c.action.as_str().to_owned(),
                c.identity.clone().unwrap_or_default(),
                c.operation.describe(),
            ]
        });
        let mut html = format!("<p>Plan {} for policy {}</p>", escape(&self.inner.run_id), escape(&self.inner.policy));
        html.push_str(&html_table(&["#", "action", "identity", "change"], rows));
        for issue in &self.inner.issues {
            html.push_str(&format!("<p>issue, row {}: {}</p>", issue.row, escape(&issue.message)));
        }
        for reason in &self.inner.blocked {
            html.push_str(&format!("<p><b>blocked</b>: {}</p>", escape(reason)));
        }
        html
    }
}

/// What applying a plan did.
#[pyclass(module = "okta_lifecycle._core", name = "Report", frozen)]
pub(crate) struct PyReport {
    pub(crate) inner: lifecycle::Report,
}

#[pymethods]
impl PyReport {
    #[getter]
    fn run_id(&self) -> &str {
        &self.inner.run_id
    }
    #[getter]
    fn outcomes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.inner.outcomes)
    }
    #[getter]
    fn counts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.inner.counts)
    }
    #[getter]
    fn is_success(&self) -> bool {
        self.inner.is_success()
    }
    /// Why the journal could not record the end of the run, if it could not (the changes and
    /// links in this report are as Okta made them).
    #[getter]
    fn journal_error(&self) -> Option<&str> {
        self.inner.journal_error.as_deref()
    }
    /// Password-reset links Okta returned, by login (as secrets).
    #[getter]
    fn reset_links<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let links = PyDict::new(py);
        for (login, link) in &self.inner.reset_links {
            links.set_item(login, Py::new(py, PySecret { inner: link.clone() })?)?;
        }
        Ok(links)
    }
    /// Activation links of reactivated users (``send_email=False``), by login (as secrets).
    #[getter]
    fn activation_links<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let links = PyDict::new(py);
        for (login, link) in &self.inner.activation_links {
            links.set_item(login, Py::new(py, PySecret { inner: link.clone() })?)?;
        }
        Ok(links)
    }
    fn render(&self) -> String {
        self.inner.render()
    }
    fn __repr__(&self) -> String {
        format!("Report(run_id={:?}, counts={:?})", self.inner.run_id, self.inner.counts)
    }
    fn __str__(&self) -> String {
        self.inner.render()
    }
    fn _repr_html_(&self) -> String {
        let rows = self.inner.outcomes.iter().map(|o| {
            vec![
                o.seq.to_string(),
                o.operation.clone(),
                o.login.clone().unwrap_or_default(),
                o.status.as_str().to_owned(),
                o.message.clone().unwrap_or_default(),
            ]
        });
        format!(
            "<p>Run {}</p>{}",
            escape(&self.inner.run_id),
            html_table(&["#", "change", "login", "status", "message"], rows)
        )
    }
}

/// Converts a list of Python dicts into identity records.
pub(crate) fn records_from(value: &Bound<'_, PyAny>) -> PyResult<Vec<lifecycle::record::IdentityRecord>> {
    let list =
        value.cast::<PyList>().map_err(|_| crate::python::errors::invalid_input("records must be a list of dicts"))?;
    list.iter()
        .enumerate()
        .map(|(index, item)| match from_python(&item)? {
            Value::Object(map) => Ok(lifecycle::record::IdentityRecord::from_map(map)),
            _ => Err(crate::python::errors::invalid_input(format!("record {index} is not a dict")).into()),
        })
        .collect()
}

/// One identity read from Okta with its joiner / mover / leaver event.
#[pyclass(module = "okta_lifecycle._core", name = "IdentityEvent", frozen)]
pub(crate) struct PyIdentityEvent {
    pub(crate) event: &'static str,
    pub(crate) user: PyUser,
    pub(crate) record: Value,
    pub(crate) moved: Value,
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

/// One identity change read from Okta's System Log, with who made it.
#[pyclass(module = "okta_lifecycle._core", name = "IdentityChange", frozen)]
pub(crate) struct PyIdentityChange {
    pub(crate) event: &'static str,
    pub(crate) user_id: String,
    pub(crate) login: Option<String>,
    pub(crate) user: Option<PyUser>,
    pub(crate) record: Value,
    pub(crate) moved: Value,
    pub(crate) actor: Value,
    pub(crate) event_type: String,
    pub(crate) published: DateTime<Utc>,
    pub(crate) uuid: String,
}

#[pymethods]
impl PyIdentityChange {
    /// "joiner", "mover", "leaver", "returner", "deleted" or "updated".
    #[getter]
    fn event(&self) -> &'static str {
        self.event
    }
    /// The user's id.
    #[getter]
    fn user_id(&self) -> &str {
        &self.user_id
    }
    /// The user's login.
    #[getter]
    fn login(&self) -> Option<&str> {
        self.login.as_deref()
    }
    /// The user as Okta returns it now (None once deleted).
    #[getter]
    fn user(&self) -> Option<PyUser> {
        self.user.clone()
    }
    /// The identity record: the user's now, or for a deleted user its id, login and status DELETED.
    #[getter]
    fn record<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.record)
    }
    /// Mover attributes that changed: [{"attribute", "before", "after"}].
    #[getter]
    fn moved<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.moved)
    }
    /// Who made the change: {"id", "type", "alternate_id", "display_name"} (None if Okta names nobody).
    #[getter]
    fn actor<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.actor)
    }
    /// The System Log event's type.
    #[getter]
    fn event_type(&self) -> &str {
        &self.event_type
    }
    /// When Okta recorded it: the watermark to read on from.
    #[getter]
    fn published(&self) -> DateTime<Utc> {
        self.published
    }
    /// The System Log event's uuid.
    #[getter]
    fn uuid(&self) -> &str {
        &self.uuid
    }
    fn __repr__(&self) -> String {
        format!(
            "IdentityChange(event={:?}, login={:?}, published={:?})",
            self.event,
            self.login.as_deref().unwrap_or_default(),
            self.published.to_rfc3339()
        )
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

impl Json {
    /// The value as a profile: a dict of attribute names to values. Called inside the calls'
    /// futures, so its refusal is an [`Outcome`] (built into an exception later, with the GIL).
    pub(crate) fn into_profile(self) -> Outcome<Map<String, Value>> {
        match self.0 {
            Value::Object(map) => Ok(map),
            _ => Err(invalid_input("a profile must be a dict of attribute names to values")),
        }
    }
}
