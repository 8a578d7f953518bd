//! What the journal keeps of users: their state before a deprovision (for reactivation and
//! history) and the attributes last seen of each identity.

use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::runs::{ChangeRecord, ChangeStatus};
use super::schema::{org_key, SAME_ORG};
use super::sqlite::{journal_error, now, SqliteJournal};
use crate::error::Result;

/// The profile and memberships of a user, recorded before a deprovision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserSnapshot {
    /// The run that took it.
    pub run_id: String,
    /// The user's id.
    pub user_id: String,
    /// The login.
    pub login: String,
    /// When (RFC 3339).
    pub taken_at: String,
    /// The status then.
    pub status: String,
    /// Okta's `statusChanged` of the user then (`None` in snapshots of releases before 0.3).
    #[serde(default)]
    pub status_changed: Option<String>,
    /// The whole profile.
    pub profile: Map<String, Value>,
    /// `(group id, group name)` of every membership.
    pub groups: Vec<(String, String)>,
    /// The admin roles the user held itself (not through a group). Empty in snapshots taken
    /// before release 0.2, which did not record roles.
    #[serde(default)]
    pub roles: Vec<SnapshotRole>,
}

/// An admin role a user held when a snapshot was taken, with the targets it was limited to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotRole {
    /// The role type (`USER_ADMIN`, ...).
    pub role_type: String,
    /// Okta's label.
    pub label: String,
    /// The ids of the groups a scoped role was limited to (empty: not limited to groups).
    #[serde(default)]
    pub group_targets: Vec<String>,
    /// The catalog apps an APP_ADMIN role was limited to (empty: not limited to apps).
    #[serde(default)]
    pub app_targets: Vec<String>,
}

impl SnapshotRole {
    /// Whether the role was limited to some groups or apps.
    pub fn is_scoped(&self) -> bool {
        !self.group_targets.is_empty() || !self.app_targets.is_empty()
    }
}

/// What a reactivation restores: the union of the snapshots taken since the user was last
/// active.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Restorable {
    /// `(group id, group name)` of the memberships.
    pub groups: Vec<(String, String)>,
    /// The admin roles the user held itself.
    pub roles: Vec<SnapshotRole>,
}

/// Snapshots: users before a deprovision, and identities as last seen. Every journal backend
/// implements it; the engine reaches it through [`Journal`].
pub trait SnapshotStore {
    /// Records a user's profile and memberships before a deprovision.
    fn record_snapshot(&self, snapshot: &UserSnapshot) -> Result<()>;

    /// The latest snapshot of a user, by id.
    fn latest_snapshot(&self, user_id: &str) -> Result<Option<UserSnapshot>>;

    /// The memberships and admin roles to restore when a user comes back: what the most recent
    /// deprovision by okta-lifecycle removed, and only if the user's present absence is that
    /// one. `status_changed` is Okta's `statusChanged` of the user now: the absence is ours when
    /// it is the moment our deactivation or suspension left (recorded with the change), or the
    /// moment of a snapshot taken while the user was already disabled. A user reactivated by
    /// hand and disabled again since (by hand, or by a deprovision that found nothing to
    /// remove) gets nothing back from an older absence, so that a role deliberately not given
    /// back stays gone.
    ///
    /// Within the absence, the snapshots are united: the first one holds every membership and
    /// role, a later one (taken when an earlier deprovision was only partly done) holds only
    /// what was left. Snapshots of releases that did not record `statusChanged` are judged as
    /// those releases did: back to the last one taken while the user was active.
    fn restorable(&self, user_id: &str, status_changed: Option<&str>) -> Result<Option<Restorable>>;

    /// Every snapshot of a user of the org `org_url`, by id or login (oldest first). One journal
    /// may serve several orgs, where the same login is another person.
    fn snapshots(&self, user_id_or_login: &str, org_url: &str) -> Result<Vec<UserSnapshot>>;

    /// Every recorded change about a user of the org `org_url`, by id or login, oldest first:
    /// the changes of runs that were applied (a plan that was only looked at is not history).
    /// One journal may serve several orgs, where the same login is another person.
    fn history(&self, user_id_or_login: &str, org_url: &str) -> Result<Vec<ChangeRecord>>;

    /// The attributes last seen of an identity read from Okta (for mover detection).
    fn identity_attributes(&self, user_id: &str) -> Result<Option<Map<String, Value>>>;

    /// Remembers an identity's attributes as seen now.
    fn remember_identity(&self, user_id: &str, attributes: &Map<String, Value>) -> Result<()>;
}

impl SnapshotStore for SqliteJournal {
    fn record_snapshot(&self, snapshot: &UserSnapshot) -> Result<()> {
        self.connection()
            .execute(
                "INSERT INTO snapshots (run_id, user_id, login, taken_at, status, profile, groups, roles, status_changed) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    snapshot.run_id,
                    snapshot.user_id,
                    snapshot.login,
                    snapshot.taken_at,
                    snapshot.status,
                    Value::Object(snapshot.profile.clone()).to_string(),
                    serde_json::to_string(&snapshot.groups).unwrap_or_default(),
                    serde_json::to_string(&snapshot.roles).unwrap_or_default(),
                    snapshot.status_changed
                ],
            )
            .map_err(journal_error)?;
        Ok(())
    }

    fn latest_snapshot(&self, user_id: &str) -> Result<Option<UserSnapshot>> {
        self.connection()
            .query_row(
                "SELECT run_id, user_id, login, taken_at, status, profile, groups, roles, status_changed FROM snapshots WHERE user_id = ?1 ORDER BY id DESC LIMIT 1",
                params![user_id],
                snapshot_from_row,
            )
            .optional()
            .map_err(journal_error)
    }

    fn restorable(&self, user_id: &str, status_changed: Option<&str>) -> Result<Option<Restorable>> {
        let connection = self.connection();
        let mut statement = connection
            .prepare(
                "SELECT s.run_id, s.user_id, s.login, s.taken_at, s.status, s.profile, s.groups, s.roles, s.status_changed,
                    (SELECT json_extract(c.detail, '$.result.status_changed') FROM changes c
                      WHERE c.run_id = s.run_id AND c.user_id = s.user_id AND c.status = 'succeeded'
                        AND c.operation IN ('deactivate_user', 'suspend_user')
                      ORDER BY c.seq DESC LIMIT 1)
                 FROM snapshots s WHERE s.user_id = ?1 ORDER BY s.id DESC",
            )
            .map_err(journal_error)?;
        let rows = statement
            .query_map(params![user_id], |row| Ok((snapshot_from_row(row)?, row.get::<_, Option<String>>(9)?)))
            .map_err(journal_error)?;
        let snapshots = rows.collect::<rusqlite::Result<Vec<_>>>().map_err(journal_error)?;
        Ok(restorable_from(snapshots, status_changed))
    }

    fn snapshots(&self, user_id_or_login: &str, org_url: &str) -> Result<Vec<UserSnapshot>> {
        let connection = self.connection();
        let mut statement = connection
            .prepare(
                "SELECT s.run_id, s.user_id, s.login, s.taken_at, s.status, s.profile, s.groups, s.roles, s.status_changed
                 FROM snapshots s JOIN runs r ON r.run_id = s.run_id
                 WHERE (s.user_id = ?1 OR s.login = ?1 COLLATE NOCASE) AND ORG_MATCHES(?2)
                 ORDER BY s.id".replace("ORG_MATCHES(?2)", SAME_ORG).as_str(),
            )
            .map_err(journal_error)?;
        let rows = statement
            .query_map(params![user_id_or_login, org_key(org_url)], snapshot_from_row)
            .map_err(journal_error)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(journal_error)
    }

    fn history(&self, user_id_or_login: &str, org_url: &str) -> Result<Vec<ChangeRecord>> {
        let connection = self.connection();
        let org = org_key(org_url);
        // A login may be recorded before the id is known (a create); find the id first.
        let user_id: Option<String> = connection
            .query_row(
                &"SELECT c.user_id FROM changes c JOIN runs r ON r.run_id = c.run_id
                  WHERE (c.login = ?1 COLLATE NOCASE OR c.user_id = ?1) AND c.user_id IS NOT NULL AND ORG_MATCHES(?2)
                  LIMIT 1"
                    .replace("ORG_MATCHES(?2)", SAME_ORG),
                params![user_id_or_login, org],
                |row| row.get(0),
            )
            .optional()
            .map_err(journal_error)?;
        let mut statement = connection
            .prepare(
                &"SELECT c.run_id, c.seq, c.action, c.operation, c.identity, c.login, c.user_id, c.status, c.detail, c.error, c.request_id, c.updated_at
                 FROM changes c JOIN runs r ON r.run_id = c.run_id
                 WHERE (c.login = ?1 COLLATE NOCASE OR c.user_id = ?1 OR (?3 IS NOT NULL AND c.user_id = ?3))
                   AND r.status != 'planned' AND ORG_MATCHES(?2)
                 ORDER BY r.planned_at, c.run_id, c.seq"
                    .replace("ORG_MATCHES(?2)", SAME_ORG),
            )
            .map_err(journal_error)?;
        let rows = statement
            .query_map(params![user_id_or_login, org, user_id], |row| {
                let status: String = row.get(7)?;
                let detail: String = row.get(8)?;
                Ok(ChangeRecord {
                    run_id: row.get(0)?,
                    seq: row.get(1)?,
                    action: row.get(2)?,
                    operation: row.get(3)?,
                    identity: row.get(4)?,
                    login: row.get(5)?,
                    user_id: row.get(6)?,
                    status: ChangeStatus::parse(&status),
                    detail: serde_json::from_str(&detail).unwrap_or(Value::Null),
                    error: row.get(9)?,
                    request_id: row.get(10)?,
                    updated_at: row.get(11)?,
                })
            })
            .map_err(journal_error)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(journal_error)
    }

    fn identity_attributes(&self, user_id: &str) -> Result<Option<Map<String, Value>>> {
        self.connection()
            .query_row("SELECT attributes FROM identities WHERE user_id = ?1", params![user_id], |row| {
                row.get::<_, String>(0)
            })
            .optional()
            .map_err(journal_error)
            .map(|text| text.and_then(|t| serde_json::from_str(&t).ok()))
    }

    fn remember_identity(&self, user_id: &str, attributes: &Map<String, Value>) -> Result<()> {
        self.connection()
            .execute(
                "INSERT INTO identities (user_id, attributes, seen_at) VALUES (?1, ?2, ?3) ON CONFLICT(user_id) DO UPDATE SET attributes = excluded.attributes, seen_at = excluded.seen_at",
                params![user_id, Value::Object(attributes.clone()).to_string(), now()],
            )
            .map_err(journal_error)?;
        Ok(())
    }
}

fn snapshot_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<UserSnapshot> {
    let profile: String = row.get(5)?;
    let groups: String = row.get(6)?;
    Ok(UserSnapshot {
        run_id: row.get(0)?,
        user_id: row.get(1)?,
        login: row.get(2)?,
        taken_at: row.get(3)?,
        status: row.get(4)?,
        profile: serde_json::from_str(&profile).unwrap_or_default(),
        groups: serde_json::from_str(&groups).unwrap_or_default(),
        roles: row.get::<_, Option<String>>(7)?.and_then(|roles| serde_json::from_str(&roles).ok()).unwrap_or_default(),
        status_changed: row.get(8)?,
    })
}

/// What a reactivation restores, from a user's snapshots newest first, each with the
/// `statusChanged` its run's deactivation or suspension left (see
/// [`SnapshotStore::restorable`]).
pub(super) fn restorable_from(
    snapshots: impl IntoIterator<Item = (UserSnapshot, Option<String>)>,
    status_changed: Option<&str>,
) -> Option<Restorable> {
    let mut restorable = Restorable::default();
    let mut any = false;
    // The `statusChanged` moments that belong to the present absence, growing as older
    // snapshots taken during it show when it began.
    let mut absence: Vec<String> = status_changed.map(str::to_owned).into_iter().collect();
    for (snapshot, disabled_at) in snapshots {
        let disabled = matches!(snapshot.status.as_str(), "DEPROVISIONED" | "SUSPENDED");
        let legacy = snapshot.status_changed.is_none() && disabled_at.is_none();
        let ours = legacy
            || disabled_at.as_ref().is_some_and(|at| absence.contains(at))
            || (disabled && snapshot.status_changed.as_ref().is_some_and(|at| absence.contains(at)));
        if !ours {
            break;
        }
        any = true;
        for (id, name) in snapshot.groups {
            if !restorable.groups.iter().any(|(known, _)| *known == id) {
                restorable.groups.push((id, name));
            }
        }
        for role in snapshot.roles {
            if !restorable.roles.iter().any(|known| known.role_type == role.role_type) {
                restorable.roles.push(role);
            }
        }
        if !disabled {
            // Taken while the user was still active: the start of this absence.
            break;
        }
        absence.extend(snapshot.status_changed);
    }
    any.then_some(restorable)
}
