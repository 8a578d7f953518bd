//! Incremental reads: a daily plan reads from Okta only what changed since the last read.
//!
//! The journal keeps a mirror of each org it plans against (see [`MirrorStore::save_mirror`](crate::lifecycle::journal::MirrorStore::save_mirror)): every
//! user as a plan reads it, the members of the groups that matter with each group's
//! `lastMembershipUpdated`, and the watermark the next read starts from (Okta's clock when the
//! read began, less [`SETTLE`]). An incremental read then asks Okta for:
//! - the users changed since the watermark (`search=lastUpdated ge`, DEPROVISIONED included);
//! - the users deleted since then, which no listing shows, from the System Log
//!   (`user.lifecycle.delete.completed`);
//! - every group with its member count (one page in most orgs); the members of a group that
//!   matters are the mirror's while its `lastMembershipUpdated` has not moved, else the
//!   mirror's with the memberships the System Log added and removed since the watermark
//!   (`group.user_membership.add` / `.remove`) and without deleted users, as long as that comes
//!   to the member count Okta gives; a group the mirror does not hold, or whose count does not
//!   agree, is read again;
//! - the roles of the users whose roles matter, as a full read does.
//!
//! The mirror holds the members of every OKTA_GROUP group, not only of the groups that matter,
//! whenever reading the others costs no more pages than reading the users once: a leaver's
//! memberships (every one of which matters) are then found in the mirror instead of read one
//! request per leaver. Otherwise it holds the groups that matter, and leavers' memberships are
//! read as a full read reads them.
//!
//! The org is read whole, and the mirror started afresh, whenever the journal cannot vouch for
//! it: no mirror of this org, a policy that reads other attributes, a changed user schema, a
//! watermark older than the System Log keeps (90 days), a mirror that does not decode, or a token
//! without `okta.logs.read`. The plan says which read it made, and why.
//!
//! The watermark is taken before the read, less [`SETTLE`], because Okta's search index trails
//! writes ("typically less than one second"): a write just before the read that the search
//! missed is read again next time. A write made during the read is read again next time too.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;

use futures_util::TryStreamExt;

use crate::error::{Error, ErrorKind, Result};
use crate::http::OktaClient;
use crate::lifecycle::journal::{off_runtime, Journal, MirrorHead, MirrorUpdate};
// What a plan records of how it read the org; filled in here.
pub use crate::lifecycle::plan::ReadInfo;
use crate::lifecycle::state::{self, kept_attributes, ListedUser, OrgSnapshot, ReadRequest, UserState};
use crate::okta::partitioned::{okta_clock_ms, read_all, stamp, timestamp_ms};
use crate::okta::{Group, ListGroups, LogQuery, UserSchema};

/// How far before the read's start the next read looks, for writes Okta's search index had not
/// yet taken in.
pub const SETTLE: Duration = Duration::from_secs(2);

/// The System Log event of a user deleted for good.
const DELETED: &str = "user.lifecycle.delete.completed";
/// The System Log events of a membership added and removed.
const MEMBERSHIP_ADDED: &str = "group.user_membership.add";
const MEMBERSHIP_REMOVED: &str = "group.user_membership.remove";

fn digest(text: &str) -> String {
    crate::lifecycle::journal::sha256_hex(text.as_bytes())
}

/// What a plan reads of each user, as a digest: a mirror kept for other attributes cannot serve.
fn reads_digest(request: &ReadRequest) -> String {
    let kept: BTreeSet<String> = kept_attributes(request);
    digest(&serde_json::json!({ "attributes": kept, "match_on": request.match_on }).to_string())
}

/// Reads the org for a plan from the journal's mirror and what changed in Okta since, or whole
/// when the mirror cannot serve, and brings the mirror up to date.
///
/// `log_settle` is how long Okta's System Log may take to show an event (see
/// [`crate::lifecycle::apply::LOG_SETTLE`]): a group whose membership moved more recently than
/// that is read again rather than brought up to date from the log.
pub async fn read(
    client: &OktaClient,
    request: &ReadRequest,
    journal: &Journal,
    schema: &UserSchema,
    log_settle: Duration,
) -> Result<(OrgSnapshot, ReadInfo)> {
    let org = client.config().org_url.to_string();
    let began = okta_clock_ms(client).await? - crate::okta::partitioned::ms(SETTLE);
    let head =
        MirrorHead { read_from: stamp(began), reads: reads_digest(request), schema: digest(&schema.raw().to_string()) };
    let kept = off_runtime(|| journal.mirror_head(&org))?;
    let retention = crate::okta::logs::LOG_RETENTION.num_milliseconds() - crate::okta::partitioned::ms(SETTLE);
    let mut reason = match &kept {
        None => Some("the journal holds no earlier read of this org".to_owned()),
        Some(kept) if kept.reads != head.reads => {
            Some("the policy reads other user attributes than the last read kept".to_owned())
        }
        Some(kept) if kept.schema != head.schema => {
            Some("the org's user schema changed since the last read".to_owned())
        }
        Some(kept) => match timestamp_ms(&kept.read_from) {
            None => Some("the journal's watermark cannot be read".to_owned()),
            Some(from) if began - from > retention => {
                Some("the last read is older than the System Log keeps (90 days)".to_owned())
            }
            Some(_) => None,
        },
    };
    if let (None, Some(kept)) = (&reason, &kept) {
        let logged_until = began + crate::okta::partitioned::ms(SETTLE) - crate::okta::partitioned::ms(log_settle);
        match changes_since(client, request, journal, &org, &kept.read_from, logged_until).await? {
            Ok((snapshot, update, info)) => {
                off_runtime(|| journal.save_mirror(&org, &head, &update))?;
                return Ok((snapshot, info));
            }
            Err(why) => reason = Some(why),
        }
    }
    let (snapshot, update, mut info) = whole(client, request).await?;
    off_runtime(|| journal.save_mirror(&org, &head, &update))?;
    info.reason = reason;
    Ok((snapshot, info))
}

/// Whether the mirror is to hold the members of every OKTA_GROUP group, so that a leaver's
/// memberships are found there rather than read one request per leaver: when reading the members
/// of the groups the plan does not manage costs no more pages than reading the users once.
/// A group without a member count counts as one page.
fn mirror_every_group(request: &ReadRequest, snapshot: &OrgSnapshot, groups: &[Group], page_size: u32) -> bool {
    let page_size = u64::from(page_size.max(1));
    let managed: HashSet<String> = state::managed_group_ids(snapshot, request).into_iter().collect();
    let counts: HashMap<&str, Option<u64>> = groups.iter().map(|group| (group.id(), group.users_count())).collect();
    let extra: u64 = snapshot
        .groups()
        .iter()
        .filter(|group| group.group_type == crate::okta::GroupType::OktaGroup && !managed.contains(&group.id))
        .map(|group| {
            counts.get(group.id.as_str()).copied().flatten().map_or(1, |count| count.div_ceil(page_size).max(1))
        })
        .sum();
    extra <= (snapshot.users().len() as u64).div_ceil(page_size).max(1)
}

/// The request, with every OKTA_GROUP group's members asked for when the mirror can hold them.
fn with_every_group(request: &ReadRequest, snapshot: &OrgSnapshot, groups: &[Group], page_size: u32) -> ReadRequest {
    let mut request = request.clone();
    request.every_okta_group = mirror_every_group(&request, snapshot, groups, page_size);
    request
}

/// A full read, as [`state::read`] makes it, and the mirror it leaves.
async fn whole(client: &OktaClient, request: &ReadRequest) -> Result<(OrgSnapshot, MirrorUpdate, ReadInfo)> {
    let keep = kept_attributes(request);
    // The groups (and so each one's `lastMembershipUpdated`) are read before their members.
    let with_counts = ListGroups { expand_stats: true, ..Default::default() };
    let groups = async { client.groups().list(&with_counts)?.try_collect::<Vec<Group>>().await };
    let (groups, users) =
        futures_util::future::try_join(groups, state::read_users(client, &keep, &request.users_read)).await?;
    let snapshot = state::assemble(request, users, &groups);
    let request = with_every_group(request, &snapshot, &groups, client.config().page_size);
    let (snapshot, members) = state::complete(client, &request, snapshot, &|_| None).await?;
    let update = MirrorUpdate {
        replace: true,
        users: snapshot.users().to_vec(),
        removed: Vec::new(),
        members: with_membership_times(members, &membership_times(&groups)),
    };
    let info = ReadInfo {
        mode: "full".into(),
        users_read: snapshot.users().len(),
        groups_read: update.members.len(),
        ..Default::default()
    };
    Ok((snapshot, update, info))
}

/// A group's `lastMembershipUpdated` exactly as Okta wrote it.
fn membership_time(group: &Group) -> Option<&str> {
    group.raw().get("lastMembershipUpdated").and_then(serde_json::Value::as_str)
}

/// Each group's `lastMembershipUpdated`, by id.
fn membership_times(groups: &[Group]) -> HashMap<&str, &str> {
    groups.iter().filter_map(|group| membership_time(group).map(|time| (group.id(), time))).collect()
}

/// The members read, each group with its `lastMembershipUpdated` (a group without one is left
/// out of the mirror, and read again next time).
fn with_membership_times(
    members: Vec<(String, Vec<String>)>,
    times: &HashMap<&str, &str>,
) -> Vec<(String, String, Vec<String>)> {
    members
        .into_iter()
        .filter_map(|(group_id, ids)| {
            times.get(group_id.as_str()).map(|time| (group_id.clone(), (*time).to_owned(), ids))
        })
        .collect()
}

/// The org from the mirror and what changed since `since` (memberships from the System Log
/// only for groups whose membership last moved before `logged_until`); `Ok(Err(why))` when the
/// mirror cannot serve after all.
async fn changes_since(
    client: &OktaClient,
    request: &ReadRequest,
    journal: &Journal,
    org: &str,
    since: &str,
    logged_until: i64,
) -> Result<std::result::Result<(OrgSnapshot, MirrorUpdate, ReadInfo), String>> {
    let keep = kept_attributes(request);
    let (mirror, members) =
        match off_runtime(|| Ok::<_, Error>((journal.mirror_users(org)?, journal.mirror_members(org)?))) {
            Ok(found) => found,
            Err(error) => return Ok(Err(format!("the journal's mirror cannot be read ({error})"))),
        };
    let limit = client.config().page_size;
    let changed = read_all::<ListedUser>(client, format!("lastUpdated ge \"{since}\""), limit);
    let with_counts = ListGroups { expand_stats: true, ..Default::default() };
    let groups = async { client.groups().list(&with_counts)?.try_collect::<Vec<Group>>().await };
    let (changed, logged, groups) = futures_util::future::join3(changed, logged_since(client, since), groups).await;
    let (changed, groups) = (changed?, groups?);
    let Logged { deleted, memberships } = match logged {
        Ok(logged) => logged,
        Err(error) if error.kind() == ErrorKind::PermissionDenied => {
            return Ok(Err(format!(
                "the System Log, where deletions are seen, cannot be read ({error}); grant okta.logs.read"
            )));
        }
        Err(error) => return Err(error),
    };
    let changed: Vec<UserState> = changed.users.into_iter().map(|user| user.into_state(&keep)).collect();
    let mut users: HashMap<String, UserState> = mirror.into_iter().map(|user| (user.id.clone(), user)).collect();
    for user in &changed {
        users.insert(user.id.clone(), user.clone());
    }
    for user_id in &deleted {
        users.remove(user_id);
    }
    let snapshot = state::assemble(request, users.into_values().collect(), &groups);
    // Members of a group whose membership moved: the mirror's, with the System Log's additions
    // and removals since the watermark (in the order Okta logged them) and without deleted
    // users, when that comes to the member count Okta gives; otherwise they are read again.
    let gone: HashSet<&str> = deleted.iter().map(String::as_str).collect();
    let mut patched: HashMap<String, Vec<String>> = HashMap::new();
    for group in &groups {
        let Some((updated, ids)) = members.get(group.id()) else { continue };
        let moved = membership_time(group);
        if moved == Some(updated.as_str()) {
            continue;
        }
        // The log may not show a change this recent yet: such a group is read again.
        if moved.and_then(timestamp_ms).is_none_or(|moved| moved >= logged_until) {
            continue;
        }
        let mut now: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
        for change in memberships.iter().filter(|change| change.group == group.id()) {
            if change.added {
                now.insert(&change.user);
            } else {
                now.remove(change.user.as_str());
            }
        }
        now.retain(|user| !gone.contains(user));
        if group.users_count() == Some(now.len() as u64) {
            patched.insert(group.id().to_owned(), now.into_iter().map(str::to_owned).collect());
        }
    }
    let times = membership_times(&groups);
    let known = |group_id: &str| {
        if let Some(ids) = patched.get(group_id) {
            return Some(ids.clone());
        }
        let (updated, ids) = members.get(group_id)?;
        (times.get(group_id) == Some(&updated.as_str())).then(|| ids.clone())
    };
    let request = with_every_group(request, &snapshot, &groups, client.config().page_size);
    let (snapshot, read_members) = state::complete(client, &request, snapshot, &known).await?;
    let info = ReadInfo {
        mode: "incremental".into(),
        reason: None,
        users_read: changed.len(),
        users_deleted: deleted.len(),
        groups_read: read_members.len(),
        groups_patched: patched.len(),
        changed_since: Some(since.to_owned()),
    };
    let members = read_members.into_iter().chain(patched);
    let update = MirrorUpdate {
        replace: false,
        users: changed,
        removed: deleted,
        members: with_membership_times(members.collect(), &times),
    };
    Ok(Ok((snapshot, update, info)))
}

/// What the System Log says changed since the watermark.
struct Logged {
    /// Users deleted.
    deleted: Vec<String>,
    /// Memberships added and removed, oldest first.
    memberships: Vec<MembershipChange>,
}

struct MembershipChange {
    group: String,
    user: String,
    added: bool,
}

/// The users deleted and the memberships changed since `since`, from the System Log.
async fn logged_since(client: &OktaClient, since: &str) -> Result<Logged> {
    let since = chrono::DateTime::parse_from_rfc3339(since)
        .map_err(|error| Error::Journal(format!("the watermark {since:?} cannot be read: {error}")))?
        .with_timezone(&chrono::Utc);
    let filter = crate::okta::logs::any_event_type(&[DELETED, MEMBERSHIP_ADDED, MEMBERSHIP_REMOVED]);
    let query = LogQuery { filter: Some(filter), ..LogQuery::since(since) };
    let events: Vec<crate::okta::LogEvent> = client.logs().list(&query)?.try_collect().await?;
    let mut logged = Logged { deleted: Vec::new(), memberships: Vec::new() };
    for event in events.iter().filter(|event| event.outcome() == Some("SUCCESS")) {
        let targets = event.targets();
        let of_kind = |kind: &str| targets.iter().find(|target| target.kind == kind).map(|target| target.id.clone());
        match event.event_type() {
            DELETED => logged.deleted.extend(of_kind("User")),
            kind @ (MEMBERSHIP_ADDED | MEMBERSHIP_REMOVED) => {
                if let (Some(user), Some(group)) = (of_kind("User"), of_kind("UserGroup")) {
                    logged.memberships.push(MembershipChange { group, user, added: kind == MEMBERSHIP_ADDED });
                }
            }
            _ => {}
        }
    }
    Ok(logged)
}
