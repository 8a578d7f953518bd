//! The mirror of an org that incremental reads start from, and named watermarks.

use std::collections::HashMap;

use rusqlite::{params, OptionalExtension};

use super::schema::org_key;
use super::sqlite::{journal_error, now, SqliteJournal};
use crate::error::{Error, Result};

/// What a mirror of an org (the users, and the members of the groups that matter, as the
/// journal last read them) was read under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorHead {
    /// Okta's clock, less the settle delay, when the read that brought it up to date began: the
    /// next read asks for what changed from then on (RFC 3339).
    pub read_from: String,
    /// A digest of what a plan reads of each user (its attributes and match attribute).
    pub reads: String,
    /// A digest of the org's user schema.
    pub schema: String,
}

/// A change to a mirror (see [`MirrorStore::save_mirror`]).
#[derive(Debug, Clone, Default)]
pub struct MirrorUpdate {
    /// Forget every user and member first (a full read).
    pub replace: bool,
    /// Users read (each replaces the mirror's).
    pub users: Vec<crate::lifecycle::state::UserState>,
    /// Users deleted from the org.
    pub removed: Vec<String>,
    /// Members read: group id, its `lastMembershipUpdated`, member ids.
    pub members: Vec<(String, String, Vec<String>)>,
}

/// The mirror: what incremental reads start from, and watermarks. Every journal backend
/// implements it; the engine reaches it through [`Journal`].
pub trait MirrorStore {
    /// What the mirror of `org_url` was read under, if the journal keeps one.
    fn mirror_head(&self, org_url: &str) -> Result<Option<MirrorHead>>;

    /// The users of the mirror of `org_url`. A row that does not decode is an error: the mirror
    /// is then not to be trusted, and [`MirrorStore::save_mirror`] with `replace` starts it afresh.
    fn mirror_users(&self, org_url: &str) -> Result<Vec<crate::lifecycle::state::UserState>>;

    /// The members the mirror of `org_url` holds, by group id, with the group's
    /// `lastMembershipUpdated` when they were read.
    fn mirror_members(&self, org_url: &str) -> Result<HashMap<String, (String, Vec<String>)>>;

    /// Brings the mirror of `org_url` up to date in one transaction: `head`, the users changed
    /// (or, with `update.replace`, every user), the users deleted, and the members read.
    fn save_mirror(&self, org_url: &str, head: &MirrorHead, update: &MirrorUpdate) -> Result<()>;

    /// A named watermark (e.g. the last `lastUpdated` an incremental read reached).
    fn watermark(&self, name: &str) -> Result<Option<String>>;

    /// Stores a named watermark.
    fn set_watermark(&self, name: &str, value: &str) -> Result<()>;
}

impl MirrorStore for SqliteJournal {
    fn mirror_head(&self, org_url: &str) -> Result<Option<MirrorHead>> {
        self.connection()
            .query_row(
                "SELECT read_from, reads, schema FROM mirrors WHERE org = ?1",
                params![org_key(org_url)],
                |row| Ok(MirrorHead { read_from: row.get(0)?, reads: row.get(1)?, schema: row.get(2)? }),
            )
            .optional()
            .map_err(journal_error)
    }

    fn mirror_users(&self, org_url: &str) -> Result<Vec<crate::lifecycle::state::UserState>> {
        let connection = self.connection();
        let mut statement =
            connection.prepare("SELECT state FROM mirror_users WHERE org = ?1").map_err(journal_error)?;
        let rows =
            statement.query_map(params![org_key(org_url)], |row| row.get::<_, String>(0)).map_err(journal_error)?;
        let mut users = Vec::new();
        for row in rows {
            let text = row.map_err(journal_error)?;
            let state = serde_json::from_str(&text)
                .ok()
                .and_then(|value| crate::lifecycle::state::UserState::from_json(&value))
                .ok_or_else(|| Error::Journal("a user of the mirror cannot be read".into()))?;
            users.push(state);
        }
        Ok(users)
    }

    fn mirror_members(&self, org_url: &str) -> Result<HashMap<String, (String, Vec<String>)>> {
        let connection = self.connection();
        let mut statement = connection
            .prepare("SELECT group_id, last_membership_updated, members FROM mirror_members WHERE org = ?1")
            .map_err(journal_error)?;
        let rows = statement
            .query_map(params![org_key(org_url)], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, row.get::<_, String>(2)?))
            })
            .map_err(journal_error)?;
        let mut members = HashMap::new();
        for row in rows {
            let (group_id, updated, ids) = row.map_err(journal_error)?;
            let ids: Vec<String> = serde_json::from_str(&ids)
                .map_err(|_| Error::Journal(format!("the mirror's members of group {group_id} cannot be read")))?;
            members.insert(group_id, (updated, ids));
        }
        Ok(members)
    }

    fn save_mirror(&self, org_url: &str, head: &MirrorHead, update: &MirrorUpdate) -> Result<()> {
        let org = org_key(org_url);
        self.relaxed(|connection| {
            let transaction = connection.transaction().map_err(journal_error)?;
            if update.replace {
                transaction.execute("DELETE FROM mirror_users WHERE org = ?1", params![org]).map_err(journal_error)?;
                transaction
                    .execute("DELETE FROM mirror_members WHERE org = ?1", params![org])
                    .map_err(journal_error)?;
            }
            {
                let mut upsert = transaction
                    .prepare(
                        "INSERT INTO mirror_users (org, user_id, state) VALUES (?1, ?2, ?3)
                         ON CONFLICT(org, user_id) DO UPDATE SET state = excluded.state",
                    )
                    .map_err(journal_error)?;
                for user in &update.users {
                    upsert.execute(params![org, user.id, user.to_json().to_string()]).map_err(journal_error)?;
                }
                let mut remove = transaction
                    .prepare("DELETE FROM mirror_users WHERE org = ?1 AND user_id = ?2")
                    .map_err(journal_error)?;
                for user_id in &update.removed {
                    remove.execute(params![org, user_id]).map_err(journal_error)?;
                }
                let mut members = transaction
                    .prepare(
                        "INSERT INTO mirror_members (org, group_id, last_membership_updated, members) VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT(org, group_id) DO UPDATE SET last_membership_updated = excluded.last_membership_updated, members = excluded.members",
                    )
                    .map_err(journal_error)?;
                for (group_id, updated, ids) in &update.members {
                    let ids = serde_json::to_string(ids).map_err(|e| Error::Journal(e.to_string()))?;
                    members.execute(params![org, group_id, updated, ids]).map_err(journal_error)?;
                }
            }
            transaction
                .execute(
                    "INSERT INTO mirrors (org, read_from, reads, schema, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT(org) DO UPDATE SET read_from = excluded.read_from, reads = excluded.reads,
                     schema = excluded.schema, updated_at = excluded.updated_at",
                    params![org, head.read_from, head.reads, head.schema, now()],
                )
                .map_err(journal_error)?;
            transaction.commit().map_err(journal_error)
        })
    }

    fn watermark(&self, name: &str) -> Result<Option<String>> {
        self.connection()
            .query_row("SELECT value FROM watermarks WHERE name = ?1", params![name], |row| row.get(0))
            .optional()
            .map_err(journal_error)
    }

    fn set_watermark(&self, name: &str, value: &str) -> Result<()> {
        self.connection()
            .execute("INSERT INTO watermarks (name, value) VALUES (?1, ?2) ON CONFLICT(name) DO UPDATE SET value = excluded.value", params![name, value])
            .map_err(journal_error)?;
        Ok(())
    }
}
