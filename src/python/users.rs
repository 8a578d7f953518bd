//! `client.users`: Okta's Users API, blocking (`Users`) and asyncio (`AsyncUsers`).

use pyo3::prelude::*;

use std::time::Duration;

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::okta::partitioned::UserText;
use crate::okta::{CreateUser, ListUsers, NextLogin, PartitionReport, PartitionedListing};
use crate::python::conversions::Whole;
use crate::python::conversions::{group_pages, secret, user_pages, wrap_user, Target};
use crate::python::errors::{convert, invalid_input, to_py, Nothing};
use crate::python::models::{Json, PySecret, PyUser};
use crate::python::pages::{GroupPages, UserPages};
use crate::python::twins::{holders, twins};
use crate::secret::SecretString;

holders! {
    Users, "Users", "The Users API (blocking).";
    AsyncUsers, "AsyncUsers", "The Users API (asyncio).";
}

twins! { Users, AsyncUsers, core;
    shared {
        /// Lists users lazily (use at most one of search, filter and q).
        #[pyo3(signature = (*, search=None, filter=None, q=None, sort_by=None, sort_order=None, limit=None))]
        fn list(
            &self,
            search: Option<String>,
            filter: Option<String>,
            q: Option<String>,
            sort_by: Option<String>,
            sort_order: Option<String>,
            limit: Option<Whole>,
        ) -> PyResult<UserPages> {
            self.core.check()?;
            let limit = limit.map(|limit| limit.argument("limit", 1, 200)).transpose()?;
            let options = ListUsers { search, filter, q, sort_by, sort_order, limit };
            to_py(self.core.client.users().list(&options)).map(user_pages)
        }

        /// The groups a user belongs to, Everyone included.
        fn groups(&self, user: Target) -> PyResult<GroupPages> {
            self.core.check()?;
            to_py(self.core.client.users().groups(&user.0)).map(group_pages)
        }
    }

    /// Reads every user (DEPROVISIONED included) as `chains` searches over ranges of `created`
    /// side by side, then, after `settle` seconds for Okta's search index, catches up with the
    /// users changed meanwhile: each user once, in the newest version read, in id order.
    #[pyo3(signature = (*, chains=Whole::Number(8), settle=2.0, limit=None), text_signature = "($self, *, chains=8, settle=2.0, limit=None)")]
    fn list_partitioned(&self, chains: Whole, settle: f64, limit: Option<Whole>) -> Outcome<PartitionedUsers> {
        let chains = chains.argument("chains", 1, PartitionedListing::MAX_CHAINS as u64)? as usize;
        let limit = limit.map(|limit| limit.argument("limit", 1, 200)).transpose()?;
        let most = PartitionedListing::MAX_SETTLE.as_secs_f64();
        if !(settle.is_finite() && (0.0..=most).contains(&settle)) {
            return Err(invalid_input(format!("settle must be a number of seconds from 0 to {most}")));
        }
        let options = PartitionedListing { chains, settle: Duration::from_secs_f64(settle), limit };
        let read = convert(core.client.users().list_partitioned::<UserText>(&options).await)?;
        Ok(PartitionedUsers { users: read.users, report: read.report, next: AtomicUsize::new(0) })
    }

    /// A user by id or login.
    fn get(&self, id_or_login: String) -> Outcome<PyUser> {
        convert(core.client.users().get(&id_or_login).await).map(wrap_user)
    }

    /// A user and its ETag (for `replace(..., if_match=etag)`).
    fn get_with_etag(&self, id_or_login: String) -> Outcome<(PyUser, Option<String>)> {
        convert(core.client.users().get_with_etag(&id_or_login).await).map(|(user, etag)| (wrap_user(user), etag))
    }

    /// Creates a user.
    #[pyo3(signature = (profile, *, password=None, activate=true, provider=false, next_login=None, group_ids=None))]
    fn create(&self, profile: Json, password: Option<String>, activate: bool, provider: bool, next_login: Option<String>, group_ids: Option<Vec<String>>) -> Outcome<PyUser> {
        let mut request = CreateUser::new(profile.into_profile()?);
        request.password = password.map(SecretString::new);
        request.activate = activate;
        request.provider = provider;
        request.next_login = next_login.as_deref().map(str::parse::<NextLogin>).transpose()?;
        request.group_ids = group_ids.unwrap_or_default();
        convert(core.client.users().create(&request).await).map(wrap_user)
    }

    /// Updates the given profile attributes (None clears one).
    fn update(&self, user: Target, profile: Json) -> Outcome<PyUser> {
        let profile = profile.into_profile()?;
        convert(core.client.users().update_profile(&user.0, &profile).await).map(wrap_user)
    }

    /// Replaces the profile; with `if_match`, only if the user is unchanged since that ETag.
    #[pyo3(signature = (user, profile, *, if_match=None))]
    fn replace(&self, user: Target, profile: Json, if_match: Option<String>) -> Outcome<PyUser> {
        let profile = profile.into_profile()?;
        convert(core.client.users().replace(&user.0, &profile, if_match.as_deref()).await).map(wrap_user)
    }

    /// Activates a STAGED or DEPROVISIONED user; with send_email=False returns the activation link.
    #[pyo3(signature = (user, *, send_email=true))]
    fn activate(&self, user: Target, send_email: bool) -> Outcome<Option<PySecret>> {
        convert(core.client.users().activate(&user.0, send_email).await).map(|token| secret(token.map(|t| t.url)))
    }

    /// Sends a new activation to a PROVISIONED or RECOVERY user.
    #[pyo3(signature = (user, *, send_email=false))]
    fn reactivate(&self, user: Target, send_email: bool) -> Outcome<Option<PySecret>> {
        convert(core.client.users().reactivate(&user.0, send_email).await).map(|token| secret(token.map(|t| t.url)))
    }

    /// Deactivates a user (memberships are kept by Okta).
    #[pyo3(signature = (user, *, send_email=false))]
    fn deactivate(&self, user: Target, send_email: bool) -> Outcome<Nothing> {
        convert(core.client.users().deactivate(&user.0, send_email).await).map(|()| Nothing)
    }

    /// Suspends an ACTIVE user.
    fn suspend(&self, user: Target) -> Outcome<Nothing> {
        convert(core.client.users().suspend(&user.0).await).map(|()| Nothing)
    }

    /// Returns a SUSPENDED user to ACTIVE.
    fn unsuspend(&self, user: Target) -> Outcome<Nothing> {
        convert(core.client.users().unsuspend(&user.0).await).map(|()| Nothing)
    }

    /// Unlocks a LOCKED_OUT user.
    fn unlock(&self, user: Target) -> Outcome<Nothing> {
        convert(core.client.users().unlock(&user.0).await).map(|()| Nothing)
    }

    /// Expires the password.
    fn expire_password(&self, user: Target) -> Outcome<PyUser> {
        convert(core.client.users().expire_password(&user.0).await).map(wrap_user)
    }

    /// Expires the password and returns a temporary one (a Secret).
    #[pyo3(signature = (user, *, revoke_sessions=false))]
    fn expire_password_with_temp_password(&self, user: Target, revoke_sessions: bool) -> Outcome<PySecret> {
        convert(core.client.users().expire_password_with_temp_password(&user.0, revoke_sessions).await).map(|inner| PySecret { inner })
    }

    /// Starts Okta's password reset; with send_email=False returns the reset link (a Secret).
    #[pyo3(signature = (user, *, send_email=true, revoke_sessions=false))]
    fn reset_password(&self, user: Target, send_email: bool, revoke_sessions: bool) -> Outcome<Option<PySecret>> {
        convert(core.client.users().reset_password(&user.0, send_email, revoke_sessions).await).map(secret)
    }

    /// Resets every enrolled factor.
    fn reset_factors(&self, user: Target) -> Outcome<Nothing> {
        convert(core.client.users().reset_factors(&user.0).await).map(|()| Nothing)
    }

    /// Deletes a user: for good (deactivating first when needed), or with permanently=False one
    /// DELETE (which only deactivates a user that is not DEPROVISIONED).
    #[pyo3(signature = (user, *, permanently=true))]
    fn delete(&self, user: Target, permanently: bool) -> Outcome<Nothing> {
        if permanently {
            convert(core.client.users().delete_permanently(&user.0).await).map(|()| Nothing)
        } else {
            convert(core.client.users().delete(&user.0, false).await).map(|()| Nothing)
        }
    }

    /// Ends the user's sessions; with oauth_tokens also revokes their OAuth tokens.
    #[pyo3(signature = (user, *, oauth_tokens=true, forget_devices=None))]
    fn clear_sessions(&self, user: Target, oauth_tokens: bool, forget_devices: Option<bool>) -> Outcome<Nothing> {
        convert(core.client.users().clear_sessions(&user.0, oauth_tokens, forget_devices).await).map(|()| Nothing)
    }
}

/// The users a partitioned read found, in id order: an iterator (each user is decoded as it is
/// reached, so the org is held as Okta's JSON text, not as objects), with `len()` and what the
/// read did.
#[pyclass(module = "okta_lifecycle._core", name = "PartitionedUsers", frozen)]
pub struct PartitionedUsers {
    users: Vec<UserText>,
    report: PartitionReport,
    next: AtomicUsize,
}

#[pymethods]
impl PartitionedUsers {
    fn __len__(&self) -> usize {
        self.users.len()
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self) -> PyResult<Option<PyUser>> {
        let index = self.next.fetch_add(1, Ordering::Relaxed);
        let Some(text) = self.users.get(index) else {
            self.next.store(self.users.len(), Ordering::Relaxed);
            return Ok(None);
        };
        let user = text.user().map_err(|message| crate::error::Error::Decode { path: "/api/v1/users".into(), message });
        to_py(user).map(|user| Some(wrap_user(user)))
    }

    /// What the read did: pages, ranges, crowded milliseconds, users caught up, and the
    /// catch-up's lower bound on `lastUpdated`.
    #[getter]
    fn report<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
        let report = pyo3::types::PyDict::new(py);
        report.set_item("pages", self.report.pages)?;
        report.set_item("ranges", self.report.ranges)?;
        report.set_item("crowded", self.report.crowded)?;
        report.set_item("caught_up", self.report.caught_up)?;
        report.set_item("changed_since", &self.report.changed_since)?;
        Ok(report)
    }

    fn __repr__(&self) -> String {
        format!("PartitionedUsers({} users, {} pages)", self.users.len(), self.report.pages)
    }
}
