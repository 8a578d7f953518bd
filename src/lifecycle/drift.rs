//! Drift made by hand: the changes Okta's System Log shows to the users and groups
//! okta-lifecycle manages that no okta-lifecycle run made (a role granted in the Admin Console,
//! a leaver reactivated by hand, a membership added by another script).
//!
//! The journal records every attempt of every write a run sends ([`RunStore::record_requests`](crate::lifecycle::journal::RunStore::record_requests)):
//! its `X-Okta-Request-Id` when an answer came back, its path and times otherwise. Okta writes
//! the request id of the request that caused an event in the event's
//! `debugContext.debugData.requestId`, and its path in `requestUri`. An event is a run's own
//! when:
//!
//! 1. its request id is one the journal recorded; or
//! 2. its uuid is the one a run settled a change by (a reset found in the log); or
//! 3. its `requestUri` is the path of an attempt no answer came back to, and it was published
//!    while that attempt was in flight (give or take the clocks' margin); or
//! 4. it acts on the user or group of a change, and it was published while an attempt of that
//!    change may have gone unrecorded: between the change's first claim and its first recorded
//!    attempt (or its last mark, with none recorded). The process stopped mid-send records
//!    nothing of what it sent, and the applier that resumes the change may send it again;
//!    a journal from before schema version 4 records no attempts at all.
//!
//! Every other successful change event acting on a managed user or group is drift, reported
//! with its actor: who changed it outside the process. A managed user is one a run changed or
//! recorded a snapshot of; a managed group one a run created or changed a membership of.
//! Rules 3 and 4 can only err towards a run: a change by hand to the same object in the same
//! seconds as a run's unanswered write is taken for the run's.

use std::collections::HashSet;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::http::OktaClient;
use crate::lifecycle::journal::{off_runtime, Journal, JournaledWrites};
use crate::okta::logs::{any_event_type, CLOCK_MARGIN, LOG_RETENTION};
use crate::okta::{LogEvent, LogQuery, LogTarget};

/// The System Log event types of changes to users and groups (Okta's event-type catalog):
/// what drift looks for.
pub const CHANGE_EVENT_TYPES: &[&str] = &[
    "user.lifecycle.create",
    "user.lifecycle.activate",
    "user.lifecycle.reactivate",
    "user.lifecycle.deactivate",
    "user.lifecycle.suspend",
    "user.lifecycle.unsuspend",
    "user.lifecycle.delete.initiated",
    "user.lifecycle.delete.completed",
    "user.account.update_profile",
    "user.account.update_password",
    "user.account.reset_password",
    "user.account.expire_password",
    "user.account.unlock_by_admin",
    "user.account.update_user_type",
    "user.account.privilege.grant",
    "user.account.privilege.revoke",
    "user.mfa.factor.reset_all",
    "user.session.clear",
    "group.lifecycle.delete",
    "group.profile.update",
    "group.user_membership.add",
    "group.user_membership.remove",
    "group.privilege.grant",
    "group.privilege.revoke",
];

/// What to look for.
#[derive(Debug, Clone, PartialEq)]
pub struct DriftOptions {
    /// Events published at or after this time (at most [`LOG_RETENTION`] ago).
    pub since: DateTime<Utc>,
    /// Events published before this time (default: now).
    pub until: Option<DateTime<Utc>>,
    /// Report changes to every user and group, not only the managed ones.
    pub everything: bool,
}

/// A change Okta's log shows that no okta-lifecycle run made.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftEvent {
    /// The event's uuid.
    pub uuid: String,
    /// When Okta recorded it (RFC 3339).
    pub published: String,
    /// Its event type (`user.account.privilege.grant`, ...).
    pub event_type: String,
    /// Okta's description.
    pub display_message: Option<String>,
    /// Who made it.
    pub actor: Option<LogTarget>,
    /// What it acted on.
    pub targets: Vec<LogTarget>,
    /// The request that made it, when Okta recorded one.
    pub request_id: Option<String>,
    /// Whether one of its targets is a user or group okta-lifecycle manages.
    pub managed: bool,
}

impl DriftEvent {
    fn of(event: &LogEvent, managed: bool) -> Self {
        DriftEvent {
            uuid: event.uuid().to_owned(),
            published: event.published().map(|at| at.to_rfc3339_opts(SecondsFormat::Millis, true)).unwrap_or_default(),
            event_type: event.event_type().to_owned(),
            display_message: event.display_message().map(str::to_owned),
            actor: event.actor(),
            targets: event.targets(),
            request_id: event.request_id().map(str::to_owned),
            managed,
        }
    }

    /// One line: when, what, on what, by whom.
    pub fn render(&self) -> String {
        let on: Vec<String> = self
            .targets
            .iter()
            .map(|t| format!("{} {}", t.kind, t.alternate_id.as_deref().or(t.display_name.as_deref()).unwrap_or(&t.id)))
            .collect();
        let by = self
            .actor
            .as_ref()
            .map(|a| format!("{} ({})", a.alternate_id.as_deref().unwrap_or(&a.id), a.kind))
            .unwrap_or_else(|| "unknown actor".into());
        format!("{}  {:<32} {}  by {}", self.published, self.event_type, on.join(", "), by)
    }
}

fn parse(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).ok().map(|at| at.with_timezone(&Utc))
}

/// Whether `at` lies within `[from - margin, to + margin]`.
fn within(at: DateTime<Utc>, from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> bool {
    match (from, to) {
        (Some(from), Some(to)) => at >= from - CLOCK_MARGIN && at <= to + CLOCK_MARGIN,
        _ => false,
    }
}

/// Whether a run of the journal made this event (the rules in the module's header).
pub fn made_by_a_run(event: &LogEvent, sent: &JournaledWrites) -> bool {
    if event.request_id().is_some_and(|id| sent.request_ids.contains_key(id)) {
        return true;
    }
    if sent.log_events.contains_key(event.uuid()) {
        return true;
    }
    let Some(published) = event.published() else { return false };
    if let Some(uri) = event.request_uri() {
        let in_flight = sent
            .unanswered
            .iter()
            .any(|attempt| attempt.path == uri && within(published, parse(&attempt.sent_at), parse(&attempt.ended_at)));
        if in_flight {
            return true;
        }
    }
    sent.unrecorded.iter().any(|change| {
        let to = parse(&change.until);
        // A change recorded by a release without claim times: from a lease's lifetime before it.
        let from =
            change.claimed_at.as_deref().and_then(parse).or_else(|| {
                to.map(|to| to - TimeDelta::from_std(crate::lifecycle::apply::LEASE_TTL).unwrap_or_default())
            });
        change.targets.iter().any(|id| event.targets_id(id)) && within(published, from, to)
    })
}

/// The changes Okta's System Log shows between `since` and `until` to the users and groups the
/// journal's runs manage (or to any, with `everything`) that none of its runs made, oldest
/// first. Reading the log needs the `okta.logs.read` scope.
pub async fn drift(client: &OktaClient, journal: &Journal, options: &DriftOptions) -> Result<Vec<DriftEvent>> {
    let now = Utc::now();
    let until = options.until.unwrap_or(now).min(now);
    if options.since >= until {
        return Err(Error::InvalidInput("since must be earlier than until (and than now)".into()));
    }
    if now - options.since > LOG_RETENTION {
        return Err(Error::InvalidInput(
            "since is further back than Okta keeps its System Log (90 days); give a later time".into(),
        ));
    }
    // The journal's side first, from a little before `since`: an attempt that began before it
    // can have an event after it.
    let from = (options.since - TimeDelta::from_std(crate::lifecycle::apply::LEASE_TTL).unwrap_or_default())
        .to_rfc3339_opts(SecondsFormat::Millis, true);
    let sent = off_runtime(|| journal.sent_since(&from))?;
    let managed_ids: HashSet<&String> = sent.users.iter().chain(sent.groups.iter()).collect();
    let query = LogQuery {
        since: Some(options.since),
        until: Some(until),
        filter: Some(any_event_type(CHANGE_EVENT_TYPES)),
        ..LogQuery::default()
    };
    let events = client.logs().list(&query)?.try_collect_all().await.map_err(|error| match error.status() {
        Some(403) => Error::Configuration(
            "reading Okta's System Log needs the okta.logs.read scope (or an API token of an admin who may read it)"
                .into(),
        ),
        _ => error,
    })?;
    let mut drifted = Vec::new();
    for event in &events {
        if event.outcome() != Some("SUCCESS") || made_by_a_run(event, &sent) {
            continue;
        }
        let managed = event.targets().iter().any(|target| managed_ids.contains(&target.id));
        if managed || options.everything {
            drifted.push(DriftEvent::of(event, managed));
        }
    }
    drifted.sort_by(|a, b| a.published.cmp(&b.published));
    Ok(drifted)
}
