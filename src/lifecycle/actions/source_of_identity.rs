//! SOURCE_OF_IDENTITY: Okta as the source of identities.
//!
//! A full read streams every user, DEPROVISIONED ones included (a plain listing hides them, so
//! they are read with a status filter). An incremental read streams the users changed after a
//! watermark (`filter=lastUpdated gt "..."`, which includes DEPROVISIONED users). Each user comes
//! out as an identity record (the profile plus `id`, `status`, `created`, `lastUpdated`,
//! `statusChanged`) with its joiner / mover / leaver event, so that a policy, another system or
//! another Okta org can consume it. Movers are told apart by comparing the configured mover
//! attributes with the values the journal saw last; each read updates what the journal saw.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::Result;
use crate::http::OktaClient;
use crate::lifecycle::journal::{off_runtime, Journal};
use crate::lifecycle::plan::AttributeChange;
use crate::lifecycle::record::IdentityRecord;
use crate::okta::{ListUsers, LogEvent, LogQuery, LogTarget, User, UserStatus};
use crate::scim::Filter;

/// What happened to an identity since the watermark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceEvent {
    /// Created after the watermark (every user on a full read).
    Joiner,
    /// A mover attribute changed.
    Mover,
    /// Deprovisioned after the watermark (every DEPROVISIONED user on a full read).
    Leaver,
    /// Changed otherwise.
    Updated,
    /// Brought back after being deprovisioned or suspended (read from the System Log only).
    Returner,
    /// Deleted: gone from every listing, so only the System Log tells (read from it only).
    Deleted,
}

/// One identity read from Okta.
#[derive(Debug, Clone)]
pub struct SourcedIdentity {
    /// The user as Okta returned it.
    pub user: User,
    /// The identity record built from it.
    pub record: IdentityRecord,
    /// Its event.
    pub event: SourceEvent,
    /// Mover attributes that changed (with a mover event).
    pub moved: Vec<AttributeChange>,
}

/// Options of a read.
#[derive(Debug, Clone, Default)]
pub struct SourceOptions {
    /// Only users changed after this moment (incremental); `None` reads everyone.
    pub since: Option<DateTime<Utc>>,
    /// Attributes whose change makes a mover.
    pub mover_attributes: Vec<String>,
    /// Add each user's entitlements to its record: `groups` (names) and `roles` (the admin role
    /// types it holds, itself or through a group). Two requests per user.
    pub entitlements: bool,
}

/// Requests in flight while entitlements are read.
const ENTITLEMENT_CONCURRENCY: usize = 8;

/// The identity record of a user: its profile plus `id`, `status` and the timestamps.
pub fn record_of(user: &User) -> IdentityRecord {
    let mut fields = Map::new();
    fields.insert("id".into(), Value::String(user.id().to_owned()));
    fields.insert("status".into(), Value::String(user.status().as_str().to_owned()));
    for key in ["created", "activated", "statusChanged", "lastUpdated", "lastLogin"] {
        if let Some(value) = user.raw().get(key) {
            fields.insert(key.into(), value.clone());
        }
    }
    for (name, value) in user.profile() {
        fields.insert(name.clone(), value.clone());
    }
    IdentityRecord::from_map(fields)
}

/// Classifies one user against the watermark and its previously seen mover attributes.
pub fn classify(
    user: &User,
    since: Option<DateTime<Utc>>,
    movers: &[String],
    previous: Option<&Map<String, Value>>,
) -> (SourceEvent, Vec<AttributeChange>) {
    let after = |moment: Option<DateTime<Utc>>| match (moment, since) {
        (_, None) => true,
        (Some(moment), Some(since)) => moment > since,
        (None, Some(_)) => false,
    };
    if user.status() == UserStatus::Deprovisioned && after(user.status_changed()) {
        return (SourceEvent::Leaver, Vec::new());
    }
    if after(user.created()) && previous.is_none() {
        return (SourceEvent::Joiner, Vec::new());
    }
    let moved: Vec<AttributeChange> = match previous {
        Some(previous) => movers
            .iter()
            .filter_map(|name| {
                let before = previous.get(name).cloned().unwrap_or(Value::Null);
                let now = user.profile().get(name).cloned().unwrap_or(Value::Null);
                (before != now).then(|| AttributeChange { attribute: name.clone(), before, after: now })
            })
            .collect(),
        None => Vec::new(),
    };
    if moved.is_empty() {
        (SourceEvent::Updated, moved)
    } else {
        (SourceEvent::Mover, moved)
    }
}

impl SourceEvent {
    /// The event's name: `joiner`, `mover`, `leaver`, `updated`, `returner` or `deleted`.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceEvent::Joiner => "joiner",
            SourceEvent::Mover => "mover",
            SourceEvent::Leaver => "leaver",
            SourceEvent::Updated => "updated",
            SourceEvent::Returner => "returner",
            SourceEvent::Deleted => "deleted",
        }
    }
}

/// Streams identities from Okta, one page in memory at a time. Each user's mover attributes are
/// compared with what `journal` saw last, and the journal then remembers what this read saw. A
/// journal that cannot be read or written is an error for that identity, never a silent gap (it
/// would turn a mover into an "updated", or every user into a joiner).
pub fn read(
    client: &OktaClient,
    journal: Arc<Journal>,
    options: SourceOptions,
) -> Result<impl Stream<Item = Result<SourcedIdentity>>> {
    let users = client.users();
    let listings = match options.since {
        Some(since) => {
            let watermark = since.to_rfc3339_opts(SecondsFormat::Millis, true);
            vec![users.list(&ListUsers {
                filter: Some(Filter::gt("lastUpdated", watermark).to_string()),
                ..Default::default()
            })?]
        }
        None => vec![
            users.list(&ListUsers::default())?,
            users.list(&ListUsers {
                filter: Some(Filter::eq("status", "DEPROVISIONED").to_string()),
                ..Default::default()
            })?,
        ],
    };
    let since = options.since;
    let movers = options.mover_attributes;
    let client = client.clone();
    let entitlements = options.entitlements;
    let identities = futures_util::stream::iter(listings).flatten().map(move |user| {
        let user = user?;
        let previous = off_runtime(|| journal.identity_attributes(user.id()))?;
        let (event, moved) = classify(&user, since, &movers, previous.as_ref());
        let seen: Map<String, Value> =
            movers.iter().filter_map(|m| user.profile().get(m).map(|v| (m.clone(), v.clone()))).collect();
        off_runtime(|| journal.remember_identity(user.id(), &seen))?;
        Ok(SourcedIdentity { record: record_of(&user), user, event, moved })
    });
    // Entitlements are read a few users at a time, in the listing's order.
    Ok(identities
        .map(move |identity: Result<SourcedIdentity>| {
            let client = client.clone();
            async move {
                let mut identity = identity?;
                if entitlements {
                    let (groups, roles) = entitlements_of(&client, identity.user.id()).await?;
                    identity.record.insert("groups", Value::Array(groups));
                    identity.record.insert("roles", Value::Array(roles));
                }
                Ok(identity)
            }
        })
        .buffered(ENTITLEMENT_CONCURRENCY))
}

/// The System Log event types the change feed reads (Okta's event-type catalog).
pub const IDENTITY_EVENT_TYPES: &[&str] = &[
    "user.lifecycle.create",
    "user.lifecycle.activate",
    "user.lifecycle.unsuspend",
    "user.lifecycle.deactivate",
    "user.lifecycle.suspend",
    "user.lifecycle.delete.initiated",
    "user.lifecycle.delete.completed",
    "user.account.update_profile",
];

/// One identity change read from Okta's System Log: what happened, to whom, who did it, when.
#[derive(Debug, Clone)]
pub struct LoggedChange {
    /// What happened.
    pub event: SourceEvent,
    /// The user's id.
    pub user_id: String,
    /// The user's login, as the event names it.
    pub login: Option<String>,
    /// The user as Okta returns it now (`None` once deleted).
    pub user: Option<User>,
    /// The identity record: the user's now, or for a deleted user its id, login and
    /// `status = "DELETED"`.
    pub record: IdentityRecord,
    /// Mover attributes that changed (with a mover event), against what the journal saw last.
    pub moved: Vec<AttributeChange>,
    /// Who made the change.
    pub actor: Option<LogTarget>,
    /// The System Log event's type (`user.lifecycle.create`, ...).
    pub event_type: String,
    /// When Okta recorded it: the watermark to read on from.
    pub published: DateTime<Utc>,
    /// The event's uuid.
    pub uuid: String,
}

/// What the change feed reads.
#[derive(Debug, Clone)]
pub struct FeedOptions {
    /// Events published at or after this moment (the watermark).
    pub since: DateTime<Utc>,
    /// Events published before this moment (default: now).
    pub until: Option<DateTime<Utc>>,
    /// Attributes whose change makes a mover.
    pub mover_attributes: Vec<String>,
}

/// What the feed remembers while it reads: users created or deleted in its window, and what the
/// journal had seen of each user's mover attributes before the feed began (the feed updates it
/// as it goes, and a user's later events must still be compared with the earlier sight).
#[derive(Default)]
struct FeedState {
    created: HashSet<String>,
    deleted: HashSet<String>,
    seen_before: std::collections::HashMap<String, Option<Map<String, Value>>>,
    moved: HashSet<String>,
}

/// SOURCE_OF_IDENTITY from Okta's System Log: the joiners, movers, leavers, returners and
/// deletions between `since` and `until`, in the order Okta recorded them, each with who made
/// it. Unlike a listing, it sees deletions (a deleted user is in no listing) and says who acted.
///
/// - `user.lifecycle.create` is a joiner; the activation that goes with it is not repeated.
/// - `user.lifecycle.deactivate` and `user.lifecycle.suspend` are leavers.
/// - `user.lifecycle.unsuspend` is a returner, and so is `user.lifecycle.activate` of a user the
///   log shows deactivated before; another activation (a staged user's first) is a joiner.
/// - `user.lifecycle.delete.*` is a deletion, once per user.
/// - `user.account.update_profile` is a mover when a mover attribute differs from what the
///   journal saw last, an update otherwise.
///
/// Each user is read as Okta has it now (a user deleted since is known only by what the log
/// names: its id and login, so its profile updates read as updates, not moves); the journal then
/// remembers its mover attributes, as a listing read does. Needs the `okta.logs.read` scope
/// besides `okta.users.read`.
pub fn changes(
    client: &OktaClient,
    journal: Arc<Journal>,
    options: FeedOptions,
) -> Result<impl Stream<Item = Result<LoggedChange>>> {
    let until = options.until.unwrap_or_else(Utc::now);
    if options.since >= until {
        return Err(crate::error::Error::InvalidInput("since must be earlier than until (and than now)".into()));
    }
    let filter = Some(crate::okta::logs::any_event_type(IDENTITY_EVENT_TYPES));
    let query = LogQuery { since: Some(options.since), until: Some(until), filter, ..LogQuery::default() };
    let events = client.logs().list(&query)?;
    let state = Arc::new(std::sync::Mutex::new(FeedState::default()));
    let client = client.clone();
    let movers = Arc::new(options.mover_attributes);
    let changes = events
        .then(move |event| {
            let (client, journal, state, movers) =
                (client.clone(), Arc::clone(&journal), Arc::clone(&state), Arc::clone(&movers));
            async move { logged_change(&client, &journal, &state, &movers, event?).await }
        })
        .filter_map(|change| async move { change.transpose() });
    Ok(changes)
}

/// An event of `event_type` on user `id` before `published`, within the log's retention.
async fn earlier_event(
    client: &OktaClient,
    event_type: &str,
    id: &str,
    published: chrono::DateTime<Utc>,
) -> Result<Option<LogEvent>> {
    let before = LogQuery {
        since: Some(published - crate::okta::logs::LOG_RETENTION + chrono::TimeDelta::minutes(1)),
        until: Some(published),
        filter: Some(format!(
            "eventType eq {} and target.id eq {}",
            crate::scim::quote(event_type),
            crate::scim::quote(id)
        )),
        limit: Some(1),
        ..LogQuery::default()
    };
    client.logs().list(&before)?.next().await.transpose()
}

/// The change one log event makes, if it is one the feed reports.
async fn logged_change(
    client: &OktaClient,
    journal: &Journal,
    state: &std::sync::Mutex<FeedState>,
    movers: &[String],
    event: LogEvent,
) -> Result<Option<LoggedChange>> {
    let Some(target) = event.targets().into_iter().find(|t| t.kind == "User") else { return Ok(None) };
    let Some(published) = event.published() else { return Ok(None) };
    let remember = |f: &mut dyn FnMut(&mut FeedState) -> bool| f(&mut state.lock().unwrap_or_else(|e| e.into_inner()));
    let kind = event.event_type();
    // What the journal saw of this user before the feed began, read at its first event.
    let known = remember(&mut |s| s.seen_before.contains_key(&target.id));
    if !known {
        let previous = off_runtime(|| journal.identity_attributes(&target.id))?;
        remember(&mut |s| s.seen_before.insert(target.id.clone(), previous.clone()).is_none());
    }
    let user = match client.users().get(&target.id).await {
        Ok(user) => Some(user),
        Err(error) if error.status() == Some(404) => None,
        Err(error) => return Err(error),
    };
    let (event_kind, moved) = match kind {
        "user.lifecycle.create" => {
            remember(&mut |s| s.created.insert(target.id.clone()));
            (SourceEvent::Joiner, Vec::new())
        }
        "user.lifecycle.activate" => {
            if remember(&mut |s| s.created.contains(&target.id)) {
                // The activation of a user created in this window: part of its joiner.
                return Ok(None);
            }
            if earlier_event(client, "user.lifecycle.deactivate", &target.id, published).await?.is_some() {
                (SourceEvent::Returner, Vec::new())
            } else {
                // The activation a create made in the same request, read in a later window than
                // the create (a read that ended between the two): the create was the joiner.
                let create = earlier_event(client, "user.lifecycle.create", &target.id, published).await?;
                let same_request = event.request_id().is_some()
                    && create.as_ref().and_then(LogEvent::request_id) == event.request_id();
                if same_request {
                    return Ok(None);
                }
                (SourceEvent::Joiner, Vec::new())
            }
        }
        "user.lifecycle.unsuspend" => (SourceEvent::Returner, Vec::new()),
        "user.lifecycle.deactivate" | "user.lifecycle.suspend" => (SourceEvent::Leaver, Vec::new()),
        "user.lifecycle.delete.initiated" | "user.lifecycle.delete.completed" => {
            if !remember(&mut |s| s.deleted.insert(target.id.clone())) {
                return Ok(None);
            }
            // A deletion's completion read in a later window than its start (a read that ended
            // between the two) was reported with its start.
            if kind == "user.lifecycle.delete.completed"
                && earlier_event(client, "user.lifecycle.delete.initiated", &target.id, published).await?.is_some()
            {
                return Ok(None);
            }
            (SourceEvent::Deleted, Vec::new())
        }
        "user.account.update_profile" => match &user {
            // A move shows once: at the user's first profile update that the mover attributes
            // differ from what the journal saw before the feed began.
            Some(user) if !remember(&mut |s| s.moved.contains(&target.id)) => {
                let previous =
                    state.lock().unwrap_or_else(|e| e.into_inner()).seen_before.get(&target.id).cloned().flatten();
                match classify(user, None, movers, previous.as_ref()) {
                    (SourceEvent::Mover, moved) => {
                        remember(&mut |s| s.moved.insert(target.id.clone()));
                        (SourceEvent::Mover, moved)
                    }
                    _ => (SourceEvent::Updated, Vec::new()),
                }
            }
            _ => (SourceEvent::Updated, Vec::new()),
        },
        _ => return Ok(None),
    };
    let record = match &user {
        Some(user) => {
            let seen: Map<String, Value> =
                movers.iter().filter_map(|m| user.profile().get(m).map(|v| (m.clone(), v.clone()))).collect();
            off_runtime(|| journal.remember_identity(user.id(), &seen))?;
            record_of(user)
        }
        None => {
            let mut fields = Map::new();
            fields.insert("id".into(), Value::String(target.id.clone()));
            fields.insert("status".into(), Value::String("DELETED".into()));
            if let Some(login) = &target.alternate_id {
                fields.insert("login".into(), Value::String(login.clone()));
            }
            IdentityRecord::from_map(fields)
        }
    };
    Ok(Some(LoggedChange {
        event: event_kind,
        user_id: target.id.clone(),
        login: user.as_ref().and_then(|u| u.login().map(str::to_owned)).or(target.alternate_id.clone()),
        user,
        record,
        moved,
        actor: event.actor(),
        event_type: kind.to_owned(),
        published,
        uuid: event.uuid().to_owned(),
    }))
}

/// A user's group names (sorted: Okta lists them in an order of its own, by id, so that an
/// export of the same memberships would otherwise differ between orgs and runs) and admin role
/// types.
async fn entitlements_of(client: &OktaClient, user_id: &str) -> Result<(Vec<Value>, Vec<Value>)> {
    let mut names = Vec::new();
    let mut listing = client.users().groups(user_id)?;
    while let Some(group) = listing.next().await {
        names.push(group?.name().unwrap_or_default().to_owned());
    }
    names.sort();
    let groups = names.into_iter().map(Value::String).collect();
    let assignee = crate::okta::Assignee::User(user_id.to_owned());
    let mut roles: Vec<Value> = Vec::new();
    for role in client.roles().list(&assignee).await? {
        let role_type = Value::String(role.role_type().to_owned());
        if !roles.contains(&role_type) {
            roles.push(role_type);
        }
    }
    Ok((groups, roles))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user(status: &str, created: &str, changed: &str, department: &str) -> User {
        User::from_json(json!({"id": "00u1", "status": status, "created": created, "statusChanged": changed,
            "lastUpdated": changed, "profile": {"login": "a@acme.com", "department": department}}))
        .unwrap()
    }

    fn at(text: &str) -> Option<DateTime<Utc>> {
        Some(DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc))
    }

    #[test]
    fn joiner_mover_leaver() {
        let movers = vec!["department".to_owned()];
        let joined = user("ACTIVE", "2026-01-02T00:00:00.000Z", "2026-01-02T00:00:00.000Z", "Eng");
        assert_eq!(classify(&joined, at("2026-01-01T00:00:00Z"), &movers, None).0, SourceEvent::Joiner);
        assert_eq!(
            classify(&joined, None, &movers, None).0,
            SourceEvent::Joiner,
            "a full read makes everyone a joiner"
        );

        let seen = json!({"department": "Sales"}).as_object().cloned().unwrap();
        let moved = classify(&joined, at("2026-01-01T00:00:00Z"), &movers, Some(&seen));
        assert_eq!(moved.0, SourceEvent::Mover);
        assert_eq!(moved.1[0].before, "Sales");
        assert_eq!(moved.1[0].after, "Eng");

        let same = json!({"department": "Eng"}).as_object().cloned().unwrap();
        assert_eq!(classify(&joined, at("2026-01-01T00:00:00Z"), &movers, Some(&same)).0, SourceEvent::Updated);

        let left = user("DEPROVISIONED", "2025-01-01T00:00:00.000Z", "2026-01-03T00:00:00.000Z", "Eng");
        assert_eq!(classify(&left, at("2026-01-01T00:00:00Z"), &movers, Some(&same)).0, SourceEvent::Leaver);
        let long_gone = user("DEPROVISIONED", "2025-01-01T00:00:00.000Z", "2025-06-01T00:00:00.000Z", "Eng");
        assert_eq!(classify(&long_gone, at("2026-01-01T00:00:00Z"), &movers, Some(&same)).0, SourceEvent::Updated);
        let record = record_of(&left);
        assert_eq!(record.text("status").as_deref(), Some("DEPROVISIONED"));
        assert_eq!(record.text("department").as_deref(), Some("Eng"));
    }
}
