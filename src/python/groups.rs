//! `client.groups`: Okta's Groups API, blocking (`Groups`) and asyncio (`AsyncGroups`).

use pyo3::prelude::*;

use crate::okta::ListGroups;
use crate::python::conversions::{group_pages, user_pages, wrap_group, Target};
use crate::python::errors::{convert, to_py, Nothing};
use crate::python::models::PyGroup;
use crate::python::pages::{GroupPages, UserPages};
use crate::python::twins::{holders, twins};

holders! {
    Groups, "Groups", "The Groups API (blocking).";
    AsyncGroups, "AsyncGroups", "The Groups API (asyncio).";
}

twins! { Groups, AsyncGroups, core;
    shared {
        /// Lists groups lazily (use at most one of search, filter and q).
        #[pyo3(signature = (*, search=None, filter=None, q=None, expand_stats=false, limit=None))]
        fn list(
            &self,
            search: Option<String>,
            filter: Option<String>,
            q: Option<String>,
            expand_stats: bool,
            limit: Option<crate::python::conversions::Whole>,
        ) -> PyResult<GroupPages> {
            self.core.check()?;
            let limit = limit.map(|limit| limit.argument("limit", 1, 200)).transpose()?;
            let options = ListGroups { search, filter, q, expand_stats, limit };
            to_py(self.core.client.groups().list(&options)).map(group_pages)
        }

        /// A group's members, lazily.
        fn members(&self, group: Target) -> PyResult<UserPages> {
            self.core.check()?;
            to_py(self.core.client.groups().members(&group.0)).map(user_pages)
        }
    }

    /// Creates an OKTA_GROUP.
    #[pyo3(signature = (name, description=None))]
    fn create(&self, name: String, description: Option<String>) -> Outcome<PyGroup> {
        convert(core.client.groups().create(&name, description.as_deref()).await).map(wrap_group)
    }

    /// A group by id.
    fn get(&self, group: Target) -> Outcome<PyGroup> {
        convert(core.client.groups().get(&group.0).await).map(wrap_group)
    }

    /// A group by exact name (ignoring case), or None.
    fn find(&self, name: String) -> Outcome<Option<PyGroup>> {
        convert(core.client.groups().find_by_name(&name).await).map(|found| found.map(wrap_group))
    }

    /// Replaces an OKTA_GROUP's name and description.
    #[pyo3(signature = (group, name, description=None))]
    fn replace(&self, group: Target, name: String, description: Option<String>) -> Outcome<PyGroup> {
        convert(core.client.groups().replace(&group.0, &name, description.as_deref()).await).map(wrap_group)
    }

    /// Deletes a group.
    fn delete(&self, group: Target) -> Outcome<Nothing> {
        convert(core.client.groups().delete(&group.0).await).map(|()| Nothing)
    }

    /// Adds a user to an OKTA_GROUP (already a member: nothing happens).
    fn add_member(&self, group: Target, user: Target) -> Outcome<Nothing> {
        convert(core.client.groups().add_member(&group.0, &user.0).await).map(|()| Nothing)
    }

    /// Removes a user from an OKTA_GROUP.
    fn remove_member(&self, group: Target, user: Target) -> Outcome<Nothing> {
        convert(core.client.groups().remove_member(&group.0, &user.0).await).map(|()| Nothing)
    }
}
