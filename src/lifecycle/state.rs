//! What the engine knows of the org when it plans: users (the attributes the policy reads),
//! groups, and the memberships it may change. Read once per plan, indexed for lookups.

use std::collections::{BTreeSet, HashMap, HashSet};

use futures_util::{stream, StreamExt, TryStreamExt};
use serde_json::{Map, Value};

use crate::error::Result;
use crate::http::OktaClient;
use crate::okta::{Group, GroupType, ListGroups, ListUsers, User, UserSchema, UserStatus};
use crate::scim::Filter;

/// The key a match value is compared by, the same for the value a record renders and the one
/// Okta holds: text without surrounding spaces, in lower case, with full-width forms read as
/// ASCII (Okta's `search` compares values ignoring case); numbers and booleans as JSON writes
/// them (an integer attribute holding 4100 matches "04100" or "+4100" once typed). `None` for
/// no value.
pub fn match_key(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(email_key(text.trim())).filter(|key| !key.is_empty()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

/// The key an email is compared by: lower case, with full-width forms (`ａ`, `＠`) read as the
/// ASCII they look like, so that look-alike duplicates are caught as duplicates.
pub fn email_key(email: &str) -> String {
    email
        .chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            other => other,
        })
        .flat_map(char::to_lowercase)
        .collect()
}

/// A user as far as planning needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct UserState {
    /// Okta id.
    pub id: String,
    /// Status.
    pub status: UserStatus,
    /// Login.
    pub login: String,
    /// Email.
    pub email: String,
    /// The profile attributes the policy reads (others are dropped to bound memory).
    pub profile: Map<String, Value>,
    /// Okta's `statusChanged`, as it wrote it (`None` when absent).
    pub status_changed: Option<String>,
}

impl UserState {
    /// The user as the journal's mirror keeps it (see [`UserState::from_json`]).
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "id": self.id,
            "status": self.status.as_str(),
            "login": self.login,
            "email": self.email,
            "profile": self.profile,
            "statusChanged": self.status_changed,
        })
    }

    /// A user kept by [`UserState::to_json`]; `None` for anything else.
    pub fn from_json(value: &Value) -> Option<UserState> {
        let text = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_owned);
        Some(UserState {
            id: text("id").filter(|id| !id.is_empty())?,
            status: UserStatus::parse(&text("status")?),
            login: text("login")?,
            email: text("email")?,
            profile: value.get("profile")?.as_object()?.clone(),
            status_changed: text("statusChanged"),
        })
    }

    /// The planning view of a user, keeping only the profile attributes named in `keep`.
    pub fn from_user(user: &User, keep: &BTreeSet<String>) -> Self {
        UserState {
            id: user.id().to_owned(),
            status: user.status(),
            login: user.login().unwrap_or_default().to_owned(),
            email: user.email().unwrap_or_default().to_owned(),
            profile: user
                .profile()
                .iter()
                .filter(|(name, _)| keep.contains(*name))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            status_changed: user.raw().get("statusChanged").and_then(Value::as_str).map(str::to_owned),
        }
    }
}

/// A group as far as planning needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupState {
    /// Okta id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Type: only OKTA_GROUP memberships are writable.
    pub group_type: GroupType,
}

/// The org as read for one plan.
#[derive(Debug, Clone, Default)]
pub struct OrgSnapshot {
    users: Vec<UserState>,
    by_id: HashMap<String, usize>,
    by_login: HashMap<String, usize>,
    by_email: HashMap<String, Vec<usize>>,
    by_attribute: HashMap<String, HashMap<String, Vec<usize>>>,
    /// The profile attributes `by_attribute` indexes (`None`: every one). A plan matches on one
    /// attribute; indexing every profile value of a large org doubled the snapshot's memory.
    indexed: Option<BTreeSet<String>>,
    groups: Vec<GroupState>,
    groups_by_name: HashMap<String, usize>,
    groups_by_id: HashMap<String, usize>,
    memberships: HashMap<String, BTreeSet<String>>,
    complete_memberships: BTreeSet<String>,
    schema: Option<UserSchema>,
    roles: HashMap<String, Vec<RoleState>>,
}

/// An admin role assignment of a user, as read for a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleState {
    /// The assignment's id.
    pub id: String,
    /// The role type.
    pub role_type: String,
    /// Okta's label.
    pub label: String,
    /// `USER` (held directly) or `GROUP` (through a group).
    pub assignment_type: String,
}

fn fold(text: &str) -> String {
    text.to_lowercase()
}

impl OrgSnapshot {
    /// An empty org.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty org whose users are indexed by the profile attribute `match_on` only (logins
    /// and emails always are); [`OrgSnapshot::users_by_attribute`] scans for any other.
    pub fn indexing(match_on: &str) -> Self {
        OrgSnapshot { indexed: Some(BTreeSet::from([match_on.to_owned()])), ..Self::default() }
    }

    /// Makes room for `additional` users at once: a large org's indexes then never hold their
    /// old and grown tables together while they grow.
    pub fn reserve_users(&mut self, additional: usize) {
        self.users.reserve_exact(additional);
        self.by_id.reserve(additional);
        self.by_login.reserve(additional);
        self.by_email.reserve(additional);
        for attribute in self.indexed.iter().flatten() {
            self.by_attribute.entry(attribute.clone()).or_default().reserve(additional);
        }
    }

    /// Adds a user; `keep` names the profile attributes to keep.
    pub fn add_user(&mut self, user: &User, keep: &BTreeSet<String>) {
        self.insert_user(UserState::from_user(user, keep));
    }

    /// Adds a user state.
    pub fn insert_user(&mut self, state: UserState) {
        let index = self.users.len();
        self.by_id.insert(state.id.clone(), index);
        self.by_login.insert(fold(&state.login), index);
        if !state.email.is_empty() {
            self.by_email.entry(email_key(&state.email)).or_default().push(index);
        }
        for (name, value) in &state.profile {
            if self.indexed.as_ref().is_some_and(|indexed| !indexed.contains(name)) {
                continue;
            }
            if let Some(text) = match_key(value) {
                self.by_attribute.entry(name.clone()).or_default().entry(text).or_default().push(index);
            }
        }
        self.users.push(state);
    }

    /// Adds a group.
    pub fn add_group(&mut self, group: &Group) {
        self.insert_group(GroupState {
            id: group.id().to_owned(),
            name: group.name().unwrap_or_default().to_owned(),
            group_type: group.group_type(),
        });
    }

    /// Adds a group state.
    pub fn insert_group(&mut self, state: GroupState) {
        let index = self.groups.len();
        self.groups_by_name.insert(fold(&state.name), index);
        self.groups_by_id.insert(state.id.clone(), index);
        self.groups.push(state);
    }

    /// Records that `user_id` is a member of `group_id`.
    pub fn add_membership(&mut self, user_id: &str, group_id: &str) {
        self.memberships.entry(user_id.to_owned()).or_default().insert(group_id.to_owned());
    }

    /// Marks a user's memberships as complete, not only those of the groups the policy manages:
    /// read from the user's own group list, or known from the members of every OKTA_GROUP group
    /// (the only memberships a plan can write).
    pub fn mark_memberships_complete(&mut self, user_id: &str) {
        self.complete_memberships.insert(user_id.to_owned());
    }

    /// Every user.
    pub fn users(&self) -> &[UserState] {
        &self.users
    }

    /// A user by id.
    pub fn user(&self, id: &str) -> Option<&UserState> {
        self.by_id.get(id).map(|i| &self.users[*i])
    }

    /// A user by login, ignoring case.
    pub fn user_by_login(&self, login: &str) -> Option<&UserState> {
        self.by_login.get(&fold(login)).map(|i| &self.users[*i])
    }

    /// Users with this email, ignoring case.
    pub fn users_by_email(&self, email: &str) -> impl Iterator<Item = &UserState> {
        self.by_email.get(&email_key(email)).into_iter().flatten().map(|i| &self.users[*i])
    }

    /// Every user whose profile attribute (the policy's `match_on`) has this value, compared by
    /// [`match_key`] (a number as JSON writes it). Logins are unique in
    /// Okta (ignoring case); other attributes need not be: a rehire can have an old
    /// DEPROVISIONED account and a new one with the same employee number.
    pub fn users_by_attribute(&self, attribute: &str, value: &str) -> Vec<&UserState> {
        if attribute == "login" {
            return self.user_by_login(value.trim()).into_iter().collect();
        }
        let Some(key) = match_key(&Value::String(value.to_owned())) else {
            return Vec::new();
        };
        if self.indexed.as_ref().is_some_and(|indexed| !indexed.contains(attribute)) {
            let holds = |user: &&UserState| user.profile.get(attribute).and_then(match_key).as_deref() == Some(&key);
            return self.users.iter().filter(holds).collect();
        }
        match self.by_attribute.get(attribute).and_then(|values| values.get(&key)) {
            Some(indices) => indices.iter().map(|i| &self.users[*i]).collect(),
            None => Vec::new(),
        }
    }

    /// Every group.
    pub fn groups(&self) -> &[GroupState] {
        &self.groups
    }

    /// A group by name, ignoring case (Okta's names are unique ignoring case).
    pub fn group_by_name(&self, name: &str) -> Option<&GroupState> {
        self.groups_by_name.get(&fold(name)).map(|i| &self.groups[*i])
    }

    /// A group by id.
    pub fn group(&self, id: &str) -> Option<&GroupState> {
        self.groups_by_id.get(id).map(|i| &self.groups[*i])
    }

    /// The groups (ids) the user is known to be in.
    pub fn memberships(&self, user_id: &str) -> impl Iterator<Item = &str> {
        self.memberships.get(user_id).into_iter().flatten().map(String::as_str)
    }

    /// Whether the user is known to be in the group.
    pub fn is_member(&self, user_id: &str, group_id: &str) -> bool {
        self.memberships.get(user_id).is_some_and(|groups| groups.contains(group_id))
    }

    /// Records the admin roles of a user, read in full.
    pub fn set_roles(&mut self, user_id: &str, roles: Vec<RoleState>) {
        self.roles.insert(user_id.to_owned(), roles);
    }

    /// Whether the user's admin roles were read.
    pub fn has_roles(&self, user_id: &str) -> bool {
        self.roles.contains_key(user_id)
    }

    /// The user's admin roles, as read (empty when they were not read).
    pub fn roles(&self, user_id: &str) -> &[RoleState] {
        self.roles.get(user_id).map(Vec::as_slice).unwrap_or_default()
    }

    /// Sets the org's user schema (values are then typed and checked against it).
    pub fn set_schema(&mut self, schema: UserSchema) {
        self.schema = Some(schema);
    }

    /// The org's user schema, when it was read.
    pub fn schema(&self) -> Option<&UserSchema> {
        self.schema.as_ref()
    }

    /// Whether the user's memberships were read in full.
    pub fn has_complete_memberships(&self, user_id: &str) -> bool {
        self.complete_memberships.contains(user_id)
    }
}

/// What to read for a plan.
#[derive(Debug, Clone, Default)]
pub struct ReadRequest {
    /// Profile attributes to keep for each user.
    pub attributes: BTreeSet<String>,
    /// Group names or ids whose members matter (listed groups of manage_relationships).
    pub groups: BTreeSet<String>,
    /// Name prefixes whose groups' members matter (exclusive scopes).
    pub group_prefixes: BTreeSet<String>,
    /// Logins or match values of users whose every membership matters (leavers); resolved
    /// after the users are read.
    pub full_membership_users: Vec<String>,
    /// Logins or match values of users whose admin roles matter (leavers whose roles are
    /// removed); resolved after the users are read.
    pub role_users: Vec<String>,
    /// The attribute `full_membership_users` and `role_users` are matched on.
    pub match_on: String,
    /// For a plan over a few records: the users to look up instead of listing the whole org.
    pub lookups: Option<Lookups>,
    /// How the whole org's users are read (without lookups).
    pub users_read: UsersRead,
    /// Read (or take from `known`) the members of every OKTA_GROUP group, not only the groups
    /// that matter, so that the users whose every membership matters find theirs there rather
    /// than in one request each. An incremental read asks for this when its mirror can hold
    /// every group (see [`crate::lifecycle::incremental`]).
    pub every_okta_group: bool,
}

/// How a read of the whole org lists its users.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum UsersRead {
    /// In ranges of `created` when the org's size and Okta's round trip say it is sooner,
    /// otherwise as plain listings.
    #[default]
    Auto,
    /// As plain listings: one cursor chain for the users Okta lists by default, one for
    /// DEPROVISIONED users.
    Plain,
    /// In ranges of `created`, read side by side (see [`crate::okta::partitioned`]).
    Ranges(crate::okta::PartitionedListing),
}

/// The users a plan over a few records can consult, looked up one by one: every user holding a
/// login or fallback login a record renders (by login, which reads Okta's own record), and every
/// user holding a record's match value, email or fallback email (by `search`, which includes
/// DEPROVISIONED users and is served from Okta's index, typically under a second behind).
#[derive(Debug, Clone, Default)]
pub struct Lookups {
    /// Logins to read with `GET /api/v1/users/{login}`.
    pub logins: BTreeSet<String>,
    /// One `search` expression per record (its match value and emails, or-ed together).
    pub searches: BTreeSet<String>,
}

/// Requests in flight while reading members and users' groups.
const READ_CONCURRENCY: usize = 8;

/// Reads the org: every user (DEPROVISIONED included), every group, the members of the groups
/// that matter, and the full memberships of the users that need them. With [`Lookups`] (a plan
/// over a few records) only the users they name are read, each with all its memberships, so a
/// one-user task costs a few requests whatever the size of the org.
pub async fn read(client: &OktaClient, request: &ReadRequest) -> Result<OrgSnapshot> {
    if let Some(lookups) = &request.lookups {
        return read_targeted(client, request, lookups).await;
    }
    let keep = kept_attributes(request);
    let groups = client.groups().list(&ListGroups::default())?;
    let users = read_users(client, &keep, &request.users_read);
    let (users, groups) = futures_util::future::try_join(users, groups.try_collect::<Vec<_>>()).await?;
    let snapshot = assemble(request, users, &groups);
    Ok(complete(client, request, snapshot, &|_| None).await?.0)
}

/// A snapshot of `users` and `groups`, users in the order a plain listing gives them: those
/// Okta lists by default, then DEPROVISIONED ones, each by id (so that every way of reading the
/// org plans alike, down to the order candidates are named in).
pub(crate) fn assemble(request: &ReadRequest, mut users: Vec<UserState>, groups: &[Group]) -> OrgSnapshot {
    users.sort_by(|a, b| {
        let gone = |user: &UserState| user.status == UserStatus::Deprovisioned;
        (gone(a), &a.id).cmp(&(gone(b), &b.id))
    });
    let mut snapshot = OrgSnapshot::indexing(&request.match_on);
    snapshot.reserve_users(users.len());
    for user in users {
        if snapshot.user(&user.id).is_none() {
            snapshot.insert_user(user);
        }
    }
    for group in groups {
        snapshot.add_group(group);
    }
    snapshot
}

/// Completes a snapshot of users and groups: the members of the groups that matter (taken from
/// `known` where it has them, else read), the full memberships of the users that need them,
/// and roles. Returns the snapshot and the members it read.
pub(crate) async fn complete(
    client: &OktaClient,
    request: &ReadRequest,
    mut snapshot: OrgSnapshot,
    known: &(dyn Fn(&str) -> Option<Vec<String>> + Sync),
) -> Result<(OrgSnapshot, Vec<(String, Vec<String>)>)> {
    let wanted = if request.every_okta_group {
        let okta_groups = snapshot.groups().iter().filter(|g| g.group_type == GroupType::OktaGroup);
        okta_groups.map(|g| g.id.clone()).collect()
    } else {
        managed_group_ids(&snapshot, request)
    };
    let mut unknown = Vec::new();
    for group_id in wanted {
        match known(&group_id) {
            Some(user_ids) => {
                for user_id in user_ids {
                    snapshot.add_membership(&user_id, &group_id);
                }
            }
            None => unknown.push(group_id),
        }
    }
    let read: Vec<(String, Vec<String>)> = stream::iter(unknown)
        .map(|group_id| member_ids(client.groups(), group_id))
        .buffer_unordered(READ_CONCURRENCY)
        .try_collect()
        .await?;
    for (group_id, user_ids) in &read {
        for user_id in user_ids {
            snapshot.add_membership(user_id, group_id);
        }
    }
    let mut leavers = ids_of(&snapshot, &request.full_membership_users, &request.match_on);
    if request.every_okta_group {
        // Every membership a plan can act on (OKTA_GROUP ones: APP_GROUP and BUILT_IN ones
        // cannot be written) is in the snapshot already.
        for user_id in leavers.drain(..) {
            snapshot.mark_memberships_complete(&user_id);
        }
    }
    let full: Vec<(String, Vec<String>)> = stream::iter(leavers)
        .map(|user_id| group_ids_of(client.users(), user_id))
        .buffer_unordered(READ_CONCURRENCY)
        .try_collect()
        .await?;
    for (user_id, group_ids) in full {
        for group_id in group_ids {
            snapshot.add_membership(&user_id, &group_id);
        }
        snapshot.mark_memberships_complete(&user_id);
    }
    read_roles(client, request, &mut snapshot).await?;
    Ok((snapshot, read))
}

/// Reads every user, DEPROVISIONED included, reduced to what planning needs.
///
/// The plain listings (one chain for the users Okta lists by default, one for DEPROVISIONED
/// users) start at once. Beside them, one request reads the size of the org (`Everyone`'s member
/// count), and the chain's first pages tell how long each of its pages takes. When a
/// partitioned read (see [`crate::okta::partitioned`]) would be done sooner, after its settle
/// delay, than the rest of the chain, the plain listings are dropped and the org is read in
/// ranges instead. A count that cannot be read (a token that does not see `Everyone`) leaves
/// the plain listings to finish.
pub(crate) async fn read_users(
    client: &OktaClient,
    keep: &BTreeSet<String>,
    how: &UsersRead,
) -> Result<Vec<UserState>> {
    let users = client.users();
    if let UsersRead::Ranges(options) = how {
        return read_ranges(client, keep, options).await;
    }
    // Users are reduced to what planning needs as each page arrives, so memory holds one page
    // of full users at a time, not the whole org.
    let visible = users.list_as(&ListUsers::default())?;
    let deprovisioned = users.list_as(&ListUsers {
        filter: Some(Filter::eq("status", "DEPROVISIONED").to_string()),
        ..Default::default()
    })?;
    // What a page of the chain takes: the time from its first page to its fourth, a third
    // (the first page also pays for the connection).
    let page_size = client.config().page_size;
    let (pace, page_time) = tokio::sync::oneshot::channel();
    let mut pace = Some(pace);
    let (mut seen, mut first) = (0_usize, None);
    let visible = visible.inspect(move |_| {
        seen += 1;
        if seen == 1 {
            first = Some(std::time::Instant::now());
        } else if seen == 3 * page_size as usize + 1 {
            if let (Some(pace), Some(first)) = (pace.take(), first) {
                let _ = pace.send(first.elapsed() / 3);
            }
        }
    });
    // Boxed, so that dropping it ends its requests (and frees their share of the governor).
    let mut plain = Box::pin(async {
        let (mut users, deprovisioned) =
            futures_util::future::try_join(compact_users(visible, keep), compact_users(deprovisioned, keep)).await?;
        users.extend(deprovisioned);
        Ok::<_, crate::error::Error>(users)
    });
    let probe = async {
        match how {
            UsersRead::Auto => org_size(client).await,
            _ => std::future::pending().await,
        }
    };
    tokio::pin!(probe);
    let size = tokio::select! {
        biased;
        read = &mut plain => return read,
        size = &mut probe => size,
    };
    let page = match size {
        None => None,
        Some(_) => tokio::select! {
            biased;
            read = &mut plain => return read,
            page = page_time => page.ok(),
        },
    };
    let options = crate::okta::PartitionedListing::default();
    let pays = size.zip(page).is_some_and(|(users, page)| partitioning_pays(users, page, page_size, &options));
    if !pays {
        return plain.await;
    }
    drop(plain);
    read_ranges(client, keep, &options).await
}

async fn read_ranges(
    client: &OktaClient,
    keep: &BTreeSet<String>,
    options: &crate::okta::PartitionedListing,
) -> Result<Vec<UserState>> {
    let read = client.users().list_partitioned::<ListedUser>(options).await?;
    Ok(read.users.into_iter().map(|user| user.into_state(keep)).collect())
}

/// The number of users in the org (`Everyone`'s member count); `None` when it cannot be read.
async fn org_size(client: &OktaClient) -> Option<u64> {
    let options = ListGroups {
        filter: Some(Filter::eq("type", "BUILT_IN").to_string()),
        expand_stats: true,
        limit: Some(10),
        ..Default::default()
    };
    let mut built_in = client.groups().list(&options).ok()?;
    while let Some(group) = built_in.next().await {
        let group = group.ok()?;
        if group.name() == Some("Everyone") {
            return group.users_count();
        }
    }
    None
}

/// Whether reading `users` in ranges is done sooner than one chain of pages: one chain takes
/// `page` per page; the ranges take the first page, their share of the pages, the settle delay
/// and the catch-up.
fn partitioning_pays(
    users: u64,
    page: std::time::Duration,
    page_size: u32,
    options: &crate::okta::PartitionedListing,
) -> bool {
    let pages = users.div_ceil(u64::from(page_size.max(1))) as f64;
    let page = page.as_secs_f64();
    let chain = pages * page;
    let ranges = options.settle.as_secs_f64() + page * (2.0 + pages / options.chains as f64);
    chain > ranges
}

/// The profile attributes a snapshot keeps for each user.
pub(crate) fn kept_attributes(request: &ReadRequest) -> BTreeSet<String> {
    let mut keep = request.attributes.clone();
    keep.insert("login".into());
    keep.insert("email".into());
    keep.insert(request.match_on.clone());
    keep
}

async fn read_targeted(client: &OktaClient, request: &ReadRequest, lookups: &Lookups) -> Result<OrgSnapshot> {
    let keep = kept_attributes(request);
    // A login that cannot be a path segment (`/`, `.`, `..`) is searched for instead: Okta
    // holds no such user by that name in the path, and one record's login must not fail the
    // whole plan.
    let (readable, unreadable): (Vec<String>, Vec<String>) =
        lookups.logins.iter().cloned().partition(|login| crate::okta::UsersApi::user_path(login).is_ok());
    let mut searches: Vec<String> = lookups.searches.iter().cloned().collect();
    searches.extend(unreadable.iter().map(|login| Filter::eq("profile.login", login.as_str()).to_string()));
    let by_login: Vec<Option<User>> = stream::iter(readable)
        .map(|login| async move {
            match client.users().get(&login).await {
                Ok(user) => Ok(Some(user)),
                Err(error) if error.kind() == crate::error::ErrorKind::NotFound => Ok(None),
                Err(error) => Err(error),
            }
        })
        .buffer_unordered(READ_CONCURRENCY)
        .try_collect()
        .await?;
    let by_search: Vec<Vec<UserState>> = stream::iter(searches)
        .map(|search| {
            let keep = &keep;
            async move {
                let listing = client.users().list_as(&ListUsers { search: Some(search), ..Default::default() })?;
                compact_users(listing, keep).await
            }
        })
        .buffer_unordered(READ_CONCURRENCY)
        .try_collect()
        .await?;
    let groups: Vec<Group> = client.groups().list(&ListGroups::default())?.try_collect().await?;
    let mut snapshot = OrgSnapshot::indexing(&request.match_on);
    let found = by_login.iter().flatten().map(|user| UserState::from_user(user, &keep));
    for user in found.chain(by_search.into_iter().flatten()) {
        if snapshot.user(&user.id).is_none() {
            snapshot.insert_user(user);
        }
    }
    for group in &groups {
        snapshot.add_group(group);
    }
    // Every membership of each user found: what the listed groups' members would have told
    // about these users, and what a leaver's deprovisioning needs.
    let ids: Vec<String> = snapshot.users().iter().map(|user| user.id.clone()).collect();
    let memberships: Vec<(String, Vec<String>)> = stream::iter(ids)
        .map(|user_id| group_ids_of(client.users(), user_id))
        .buffer_unordered(READ_CONCURRENCY)
        .try_collect()
        .await?;
    for (user_id, group_ids) in memberships {
        for group_id in group_ids {
            snapshot.add_membership(&user_id, &group_id);
        }
        snapshot.mark_memberships_complete(&user_id);
    }
    read_roles(client, request, &mut snapshot).await?;
    Ok(snapshot)
}

/// How many users whose roles matter it takes for a plan to read Okta's listing of role holders
/// (one page in most orgs) and ask only those holders for their roles, rather than ask each user.
const ROLE_HOLDERS_FROM: usize = 3;

/// The admin roles of the users whose roles the plan may change. Beyond a few such users, Okta's
/// listing of the users holding a role (`/api/v1/iam/assignees/users`) says whose roles to read:
/// a user it leaves out holds no role of its own, and a plan only ever assigns, keeps or removes
/// a user's own roles (one held through a group is the group's). When that listing cannot be
/// read, every user's roles are read.
async fn read_roles(client: &OktaClient, request: &ReadRequest, snapshot: &mut OrgSnapshot) -> Result<()> {
    let mut role_users = ids_of(snapshot, &request.role_users, &request.match_on);
    if role_users.len() >= ROLE_HOLDERS_FROM {
        if let Ok(holders) = client.roles().assigned_users().await {
            let holders: HashSet<String> = holders.into_iter().collect();
            let (held, none): (Vec<String>, Vec<String>) =
                role_users.into_iter().partition(|user_id| holders.contains(user_id));
            for user_id in none {
                snapshot.set_roles(&user_id, Vec::new());
            }
            role_users = held;
        }
    }
    let roles: Vec<(String, Vec<RoleState>)> = stream::iter(role_users)
        .map(|user_id| roles_of(client.roles(), user_id))
        .buffer_unordered(READ_CONCURRENCY)
        .try_collect()
        .await?;
    for (user_id, roles) in roles {
        snapshot.set_roles(&user_id, roles);
    }
    Ok(())
}

async fn roles_of(roles: crate::okta::RolesApi, user_id: String) -> Result<(String, Vec<RoleState>)> {
    let assignments = roles.list(&crate::okta::Assignee::User(user_id.clone())).await?;
    let states = assignments
        .iter()
        .map(|role| RoleState {
            id: role.id().to_owned(),
            role_type: role.role_type().to_owned(),
            label: role.label().to_owned(),
            assignment_type: role.assignment_type().to_owned(),
        })
        .collect();
    Ok((user_id, states))
}

async fn compact_users(
    mut users: impl futures_util::Stream<Item = Result<ListedUser>> + Unpin,
    keep: &BTreeSet<String>,
) -> Result<Vec<UserState>> {
    let mut states = Vec::new();
    while let Some(user) = users.next().await {
        states.push(user?.into_state(keep));
    }
    Ok(states)
}

/// A user of a listing, with only what a plan reads: decoded from the page's bytes, skipping
/// everything else Okta sends (links, credentials, dates). A large org is read as 500 pages per
/// 100,000 users, and building each user's whole JSON first was most of the cost of a plan.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct ListedUser {
    id: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default, rename = "statusChanged")]
    status_changed: Option<String>,
    #[serde(default)]
    created: Option<String>,
    #[serde(default, rename = "lastUpdated")]
    last_updated: Option<String>,
    profile: Map<String, Value>,
}

impl crate::okta::Dated for ListedUser {
    fn id(&self) -> &str {
        &self.id
    }

    fn created_ms(&self) -> Option<i64> {
        self.created.as_deref().and_then(crate::okta::partitioned::timestamp_ms)
    }

    fn last_updated_ms(&self) -> Option<i64> {
        self.last_updated.as_deref().and_then(crate::okta::partitioned::timestamp_ms)
    }
}

impl ListedUser {
    fn checked(self) -> std::result::Result<Self, String> {
        if self.id.is_empty() {
            return Err("a user has no string \"id\"".into());
        }
        Ok(self)
    }

    pub(crate) fn into_state(self, keep: &BTreeSet<String>) -> UserState {
        let text = |name: &str| self.profile.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
        let (login, email) = (text("login"), text("email"));
        UserState {
            id: self.id,
            status: UserStatus::parse(self.status.as_deref().unwrap_or_default()),
            login,
            email,
            profile: {
                // Sized exactly: an org of 100,000 users keeps 100,000 of these maps.
                let kept = self.profile.keys().filter(|name| keep.contains(*name)).count();
                let mut profile = Map::with_capacity(kept);
                profile.extend(self.profile.into_iter().filter(|(name, _)| keep.contains(name)));
                profile
            },
            status_changed: self.status_changed,
        }
    }
}

impl crate::http::pages::Resource for ListedUser {
    fn from_value(value: Value) -> std::result::Result<Self, String> {
        serde_json::from_value::<ListedUser>(value).map_err(|e| format!("a user cannot be read: {e}"))?.checked()
    }

    fn from_page(body: &[u8]) -> std::result::Result<Vec<std::result::Result<Self, String>>, String> {
        match serde_json::from_slice::<Vec<ListedUser>>(body) {
            Ok(users) => Ok(users.into_iter().map(ListedUser::checked).collect()),
            // Not a list of users: read as JSON values, for the error that says why.
            Err(error) => match serde_json::from_slice::<Value>(body) {
                Ok(Value::Array(items)) => Ok(items.into_iter().map(Self::from_value).collect()),
                Ok(_) => Err(crate::http::pages::NOT_AN_ARRAY.into()),
                Err(_) => Err(format!("invalid JSON: {error}")),
            },
        }
    }
}

async fn member_ids(groups: crate::okta::GroupsApi, group_id: String) -> Result<(String, Vec<String>)> {
    let mut members = groups.members(&group_id)?;
    let mut ids = Vec::new();
    while let Some(user) = members.next().await {
        ids.push(user?.id().to_owned());
    }
    Ok((group_id, ids))
}

async fn group_ids_of(users: crate::okta::UsersApi, user_id: String) -> Result<(String, Vec<String>)> {
    let mut groups = users.groups(&user_id)?;
    let mut ids = Vec::new();
    while let Some(group) = groups.next().await {
        ids.push(group?.id().to_owned());
    }
    Ok((user_id, ids))
}

/// The OKTA_GROUPs whose members the plan needs: those named (by name or by id, as a policy may
/// give either), and those in a managed prefix.
pub(crate) fn managed_group_ids(snapshot: &OrgSnapshot, request: &ReadRequest) -> Vec<String> {
    snapshot
        .groups()
        .iter()
        .filter(|g| g.group_type == GroupType::OktaGroup)
        .filter(|g| {
            request.groups.iter().any(|name| fold(name) == fold(&g.name) || *name == g.id)
                || request.group_prefixes.iter().any(|prefix| fold(&g.name).starts_with(&fold(prefix)))
        })
        .map(|g| g.id.clone())
        .collect()
}

/// The ids of the users whose every membership the plan needs (leavers; every candidate when a
/// value matches several users, so that a tie-break can pick any of them).
/// The ids of the users some match values designate (every candidate of an ambiguous value:
/// the planner decides what to do with those).
fn ids_of(snapshot: &OrgSnapshot, values: &[String], match_on: &str) -> Vec<String> {
    values
        .iter()
        .flat_map(|value| snapshot.users_by_attribute(match_on, value).into_iter().map(|u| u.id.clone()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::pages::Resource;
    use serde_json::json;

    #[test]
    fn ranges_are_read_when_the_chain_would_take_longer_than_settling() {
        use std::time::Duration;
        let options = crate::okta::PartitionedListing::default(); // 8 chains, 2 s settle
        let ms = Duration::from_millis;
        // 100,000 users at 50 ms a page: 25 s in one chain, about 2.7 s in ranges.
        assert!(partitioning_pays(100_000, ms(50), 200, &options));
        // The same org over loopback with no latency: half a second in one chain.
        assert!(!partitioning_pays(100_000, ms(1), 200, &options));
        // 1,000 users at Okta's 300 ms: five pages, 1.5 s.
        assert!(!partitioning_pays(1_000, ms(300), 200, &options));
        // 5,000 users at 300 ms: 7.5 s against 2 s + 0.6 s + 25/8 pages.
        assert!(partitioning_pays(5_000, ms(300), 200, &options));
        assert!(!partitioning_pays(0, ms(300), 200, &options));
    }

    fn keep(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn a_listed_user_keeps_what_planning_reads_and_skips_the_rest() {
        let page = json!([{
            "id": "00u1", "status": "ACTIVE", "statusChanged": "2026-01-02T03:04:05.000Z",
            "created": "2025-01-01T00:00:00.000Z", "credentials": {"provider": {"type": "OKTA", "name": "OKTA"}},
            "_links": {"self": {"href": "https://example.okta.com/api/v1/users/00u1"}},
            "profile": {"login": "ada@example.com", "email": "ada@example.com", "title": "Engineer", "nickName": null}
        }]);
        let users = ListedUser::from_page(page.to_string().as_bytes()).unwrap();
        let state = users.into_iter().next().unwrap().unwrap().into_state(&keep(&["login", "title"]));
        assert_eq!(state.id, "00u1");
        assert_eq!(state.status, UserStatus::Active);
        assert_eq!(state.login, "ada@example.com");
        assert_eq!(state.email, "ada@example.com");
        assert_eq!(state.status_changed.as_deref(), Some("2026-01-02T03:04:05.000Z"));
        assert_eq!(Value::Object(state.profile), json!({"login": "ada@example.com", "title": "Engineer"}));
    }

    #[test]
    fn a_page_that_is_not_a_list_of_users_says_why() {
        let refused = ListedUser::from_page(br#"{"errorCode": "E0000011"}"#).unwrap_err();
        assert_eq!(refused, crate::http::pages::NOT_AN_ARRAY);
        assert!(ListedUser::from_page(b"[{").unwrap_err().starts_with("invalid JSON"));
        // One element that is not a user is an error of that element, not of the page.
        let page =
            json!([{"id": "00u1", "profile": {"login": "a@example.com"}}, {"id": "", "profile": {}}, {"id": "00u3"}]);
        let items = ListedUser::from_page(page.to_string().as_bytes()).unwrap();
        assert_eq!(items.len(), 3);
        assert!(items[0].is_ok());
        assert_eq!(items[1].as_ref().err().map(String::as_str), Some("a user has no string \"id\""));
        assert!(items[2].as_ref().err().is_some_and(|message| message.contains("profile")));
    }

    #[test]
    fn an_attribute_that_is_not_indexed_is_still_found() {
        let user = |id: &str, number: Value| UserState {
            id: id.into(),
            status: UserStatus::Active,
            login: format!("{id}@example.com"),
            email: format!("{id}@example.com"),
            profile: json!({"employeeNumber": number, "costCenter": "CC-1"}).as_object().cloned().unwrap(),
            status_changed: None,
        };
        let mut indexed = OrgSnapshot::indexing("employeeNumber");
        let mut everything = OrgSnapshot::new();
        for snapshot in [&mut indexed, &mut everything] {
            snapshot.insert_user(user("00u1", json!("E100")));
            snapshot.insert_user(user("00u2", json!(4100)));
        }
        for snapshot in [&indexed, &everything] {
            let ids = |attribute: &str, value: &str| -> Vec<String> {
                snapshot.users_by_attribute(attribute, value).iter().map(|u| u.id.clone()).collect()
            };
            assert_eq!(ids("employeeNumber", " e100"), ["00u1"]);
            assert_eq!(ids("employeeNumber", "4100"), ["00u2"]);
            assert_eq!(ids("costCenter", "cc-1"), ["00u1", "00u2"]);
            assert!(ids("costCenter", "CC-2").is_empty());
        }
    }
}
