//! `client.actions`: the lifecycle actions one at a time, blocking (`Actions`) and asyncio
//! (`AsyncActions`), and the identity events that SOURCE_OF_IDENTITY streams.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use pyo3::prelude::*;
use serde_json::Value;

use crate::lifecycle::actions::source_of_identity::{self, FeedOptions, SourceOptions};
use crate::lifecycle::direct;
use crate::python::conversions::{wrap_user, Target};
use crate::python::errors::{convert, to_py, Outcome};
use crate::python::models::{Json, PyIdentityChange, PyIdentityEvent, PyReport};
use crate::python::pages::{IdentityChanges, IdentityEvents};
use crate::python::twins::{holders, twins};

holders! {
    Actions, "Actions", "The lifecycle actions (blocking).";
    AsyncActions, "AsyncActions", "The lifecycle actions (asyncio).";
}

fn report(outcome: crate::Result<direct::Outcome>) -> Outcome<PyReport> {
    convert(outcome).map(|outcome| PyReport { inner: outcome.report })
}

twins! { Actions, AsyncActions, core;
    shared {
        /// SOURCE_OF_IDENTITY: every user (since=None) or those changed after `since`, each with
        /// its event. Movers are told apart by the attributes the journal saw last; reading
        /// updates what it saw. With entitlements=True each record also has `groups` (names)
        /// and `roles` (admin role types), at two more requests per user.
        #[pyo3(signature = (*, since=None, mover_attributes=Vec::new(), entitlements=false))]
        fn source_of_identity(
            &self,
            since: Option<DateTime<chrono::FixedOffset>>,
            mover_attributes: Vec<String>,
            entitlements: bool,
        ) -> PyResult<IdentityEvents> {
            self.core.check()?;
            // Any aware datetime: compared on Okta's clock, in UTC.
            let since = since.map(|since| since.with_timezone(&Utc));
            let options = SourceOptions { since, mover_attributes, entitlements };
            let stream = to_py(source_of_identity::read(&self.core.client, Arc::clone(&self.core.journal), options))?;
            let events = stream.map(|item| {
                item.map(|identity| PyIdentityEvent {
                    event: identity.event.as_str(),
                    record: identity.record.as_value().clone(),
                    moved: serde_json::to_value(&identity.moved).unwrap_or(Value::Null),
                    user: wrap_user(identity.user),
                })
            });
            Ok(IdentityEvents::new(events.boxed()))
        }

        /// SOURCE_OF_IDENTITY from Okta's System Log: the joiners, movers, leavers, returners and
        /// deletions recorded between `since` and `until` (default now), oldest first, each with
        /// who made it. Deleted users, which no listing shows, are seen here. Needs okta.logs.read.
        #[pyo3(signature = (*, since, until=None, mover_attributes=Vec::new()))]
        fn identity_changes(
            &self,
            since: DateTime<chrono::FixedOffset>,
            until: Option<DateTime<chrono::FixedOffset>>,
            mover_attributes: Vec<String>,
        ) -> PyResult<IdentityChanges> {
            self.core.check()?;
            let options = FeedOptions {
                since: since.with_timezone(&Utc),
                until: until.map(|until| until.with_timezone(&Utc)),
                mover_attributes,
            };
            let stream = to_py(source_of_identity::changes(&self.core.client, Arc::clone(&self.core.journal), options))?;
            let changes = stream.map(|item| {
                item.map(|change| PyIdentityChange {
                    event: change.event.as_str(),
                    user_id: change.user_id,
                    login: change.login,
                    record: change.record.as_value().clone(),
                    moved: serde_json::to_value(&change.moved).unwrap_or(Value::Null),
                    actor: serde_json::to_value(&change.actor).unwrap_or(Value::Null),
                    event_type: change.event_type,
                    published: change.published,
                    uuid: change.uuid,
                    user: change.user.map(wrap_user),
                })
            });
            Ok(IdentityChanges::new(changes.boxed()))
        }
    }

    /// SYNC_IDENTITIES: creates the user (matched by profile["login"]) or updates the given
    /// attributes that differ.
    #[pyo3(signature = (profile, *, create=true, activate=true))]
    fn sync_identities(&self, profile: Json, create: bool, activate: bool) -> Outcome<PyReport> {
        let profile = profile.into_profile()?;
        report(direct::sync_identity(&core.client, &core.journal, &profile, create, activate).await)
    }

    /// MANAGE_RELATIONSHIPS: mode "add", "remove" or "sync" (with exclusive_prefix).
    #[pyo3(signature = (user, groups, *, mode="add".to_owned(), exclusive_prefix=None))]
    fn manage_relationships(&self, user: Target, groups: Vec<String>, mode: String, exclusive_prefix: Option<String>) -> Outcome<PyReport> {
        report(direct::manage_relationships(&core.client, &core.journal, &user.0, &groups, &mode, exclusive_prefix.as_deref()).await)
    }

    /// DEPROVISION_IDENTITY: history recorded, account disabled, memberships and admin roles
    /// removed, logged out.
    #[pyo3(signature = (user, *, mode="deactivate".to_owned(), remove_groups=true, logout=true, remove_roles=true))]
    fn deprovision_identity(&self, user: Target, mode: String, remove_groups: bool, logout: bool, remove_roles: bool) -> Outcome<PyReport> {
        report(direct::deprovision_identity(&core.client, &core.journal, &user.0, &mode, remove_groups, logout, remove_roles).await)
    }

    /// Brings a deprovisioned user back, restoring the memberships and admin roles it had. A
    /// DEPROVISIONED user gets Okta's activation email, or with send_email=False the link in
    /// report.activation_links.
    #[pyo3(signature = (user, *, restore_groups=true, send_email=true, restore_roles=true))]
    fn reactivate_identity(&self, user: Target, restore_groups: bool, send_email: bool, restore_roles: bool) -> Outcome<PyReport> {
        report(direct::reactivate_identity(&core.client, &core.journal, &user.0, restore_groups, restore_roles, send_email).await)
    }

    /// CREATE_ENTITLEMENT: creates the group unless it exists.
    #[pyo3(signature = (name, description=None))]
    fn create_entitlement(&self, name: String, description: Option<String>) -> Outcome<PyReport> {
        report(direct::create_entitlement(&core.client, &core.journal, &name, description.as_deref()).await)
    }

    /// RESET_PASSWORD: a new reset event each call; the link is in report.reset_links when
    /// send_email is False.
    #[pyo3(signature = (login, *, send_email=true, revoke_sessions=false))]
    fn reset_password(&self, login: String, send_email: bool, revoke_sessions: bool) -> Outcome<PyReport> {
        report(direct::reset_password(&core.client, &core.journal, &login, send_email, revoke_sessions).await)
    }
}
