//! Admin role assignments of users and groups (`/api/v1/users/{id}/roles`,
//! `/api/v1/groups/{id}/roles`) and the targets of scoped roles (groups, apps).
//!
//! A user's list includes the roles it holds through its groups (`assignmentType: GROUP`); only
//! its own (`USER`) assignments can be removed from the user. Okta keeps role assignments when a
//! user is deactivated, so a leaver's roles are removed explicitly.

use reqwest::Method;
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::http::OktaClient;
use crate::okta::models::Group;
use crate::okta::request::segment;

/// Okta's standard role types (`RoleType` in Okta's API reference), `CUSTOM` aside.
pub const STANDARD_ROLE_TYPES: [&str; 12] = [
    "ACCESS_CERTIFICATIONS_ADMIN",
    "ACCESS_REQUESTS_ADMIN",
    "API_ACCESS_MANAGEMENT_ADMIN",
    "APP_ADMIN",
    "GROUP_MEMBERSHIP_ADMIN",
    "HELP_DESK_ADMIN",
    "ORG_ADMIN",
    "READ_ONLY_ADMIN",
    "REPORT_ADMIN",
    "SUPER_ADMIN",
    "USER_ADMIN",
    "WORKFLOWS_ADMIN",
];

/// The role types that can be limited to groups.
pub const GROUP_SCOPED_ROLE_TYPES: [&str; 3] = ["USER_ADMIN", "GROUP_MEMBERSHIP_ADMIN", "HELP_DESK_ADMIN"];

/// Checks a role type against Okta's standard ones.
pub fn check_role_type(role_type: &str) -> Result<()> {
    if STANDARD_ROLE_TYPES.contains(&role_type) {
        Ok(())
    } else {
        Err(Error::InvalidInput(format!(
            "{role_type:?} is not a standard Okta role type; known: {}",
            STANDARD_ROLE_TYPES.join(", ")
        )))
    }
}

/// Who holds a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assignee {
    /// A user (by id).
    User(String),
    /// A group (by id).
    Group(String),
}

impl Assignee {
    fn roles_path(&self) -> Result<String> {
        Ok(match self {
            Assignee::User(id) => format!("/api/v1/users/{}/roles", segment("user id", id)?),
            Assignee::Group(id) => format!("/api/v1/groups/{}/roles", segment("group id", id)?),
        })
    }

    fn assignment_path(&self, assignment_id: &str) -> Result<String> {
        Ok(format!("{}/{}", self.roles_path()?, segment("role assignment id", assignment_id)?))
    }
}

/// One role assignment, as Okta returned it.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleAssignment {
    raw: Value,
}

impl RoleAssignment {
    fn from_json(raw: Value) -> std::result::Result<Self, String> {
        match (raw.get("id").and_then(Value::as_str), raw.get("type").and_then(Value::as_str)) {
            (Some(_), Some(_)) => Ok(RoleAssignment { raw }),
            _ => Err("a role assignment without an id or a type".into()),
        }
    }

    fn text(&self, key: &str) -> &str {
        self.raw.get(key).and_then(Value::as_str).unwrap_or_default()
    }

    /// The assignment's id (used to unassign it).
    pub fn id(&self) -> &str {
        self.text("id")
    }

    /// The role type (`USER_ADMIN`, ...).
    pub fn role_type(&self) -> &str {
        self.text("type")
    }

    /// Okta's label (`User Administrator`, ...).
    pub fn label(&self) -> &str {
        self.text("label")
    }

    /// `USER` (held directly) or `GROUP` (held through a group).
    pub fn assignment_type(&self) -> &str {
        self.text("assignmentType")
    }

    /// The JSON exactly as Okta sent it.
    pub fn raw(&self) -> &Value {
        &self.raw
    }
}

/// The role endpoints of one client.
#[derive(Debug, Clone)]
pub struct RolesApi {
    client: OktaClient,
}

impl OktaClient {
    /// Admin role assignments.
    pub fn roles(&self) -> RolesApi {
        RolesApi { client: self.clone() }
    }
}

fn decode_list<T>(value: Value, path: &str, build: impl Fn(Value) -> std::result::Result<T, String>) -> Result<Vec<T>> {
    let Value::Array(items) = value else {
        return Err(Error::Decode { path: path.to_owned(), message: "expected a list".into() });
    };
    items
        .into_iter()
        .map(|item| build(item).map_err(|message| Error::Decode { path: path.to_owned(), message }))
        .collect()
}

impl RolesApi {
    /// The roles a user or group holds (a user's include those held through its groups).
    pub async fn list(&self, assignee: &Assignee) -> Result<Vec<RoleAssignment>> {
        let path = assignee.roles_path()?;
        let (value, _) = self.client.send_json(&self.client.request(Method::GET, &path, &[])).await?;
        decode_list(value, &path, RoleAssignment::from_json)
    }

    /// The ids of the users holding a role assignment (`GET /api/v1/iam/assignees/users`, every
    /// page). Okta pages this listing in the body (`_links.next`), not in `Link` headers. A user
    /// left out holds no role assignment of its own.
    pub async fn assigned_users(&self) -> Result<Vec<String>> {
        const PATH: &str = "/api/v1/iam/assignees/users";
        let mut request = self.client.request(Method::GET, PATH, &[("limit", "100".to_owned())]);
        let mut seen = std::collections::HashSet::new();
        let mut ids = Vec::new();
        loop {
            let (value, _) = self.client.send_json(&request).await?;
            let decode = |message: &str| Error::Decode { path: PATH.to_owned(), message: message.to_owned() };
            let entries = value.get("value").and_then(Value::as_array).ok_or_else(|| decode("expected `value`"))?;
            for entry in entries {
                ids.push(
                    entry.get("id").and_then(Value::as_str).ok_or_else(|| decode("an entry without id"))?.to_owned(),
                );
            }
            let next = value.pointer("/_links/next/href").and_then(Value::as_str);
            let Some(next) = next.filter(|_| !entries.is_empty()) else { return Ok(ids) };
            let url = self.client.org_link(next, PATH)?;
            if !seen.insert(url.to_string()) {
                return Err(decode("the next link repeats an earlier page"));
            }
            // A million role holders at 100 a page: no org has so many admins, and a server
            // that never ends the listing is not followed into memory exhaustion.
            if seen.len() >= 10_000 {
                return Err(decode("more pages of role holders than any org holds"));
            }
            request.url = url;
        }
    }

    /// Assigns a standard role. Okta refuses a role the assignee already holds; the caller
    /// checks with [`list`](Self::list) after an ambiguous failure (it is not retried).
    pub async fn assign(&self, assignee: &Assignee, role_type: &str) -> Result<RoleAssignment> {
        check_role_type(role_type)?;
        let path = assignee.roles_path()?;
        let mut request = self.client.request(Method::POST, &path, &[]);
        request.body = Some(json!({ "type": role_type }));
        let (value, _) = self.client.send_json(&request).await?;
        RoleAssignment::from_json(value).map_err(|message| Error::Decode { path, message })
    }

    /// Removes a role assignment.
    pub async fn unassign(&self, assignee: &Assignee, assignment_id: &str) -> Result<()> {
        let path = assignee.assignment_path(assignment_id)?;
        self.client.send(&self.client.request(Method::DELETE, &path, &[])).await.map(drop)
    }

    /// The groups a scoped role is limited to (empty: every group).
    pub async fn group_targets(&self, assignee: &Assignee, assignment_id: &str) -> Result<Vec<Group>> {
        let path = format!("{}/targets/groups", assignee.assignment_path(assignment_id)?);
        let (value, _) = self.client.send_json(&self.client.request(Method::GET, &path, &[])).await?;
        decode_list(value, &path, Group::from_json)
    }

    /// Limits a scoped role (USER_ADMIN, GROUP_MEMBERSHIP_ADMIN, HELP_DESK_ADMIN) to a group too.
    pub async fn add_group_target(&self, assignee: &Assignee, assignment_id: &str, group_id: &str) -> Result<()> {
        let path =
            format!("{}/targets/groups/{}", assignee.assignment_path(assignment_id)?, segment("group id", group_id)?);
        self.client.send(&self.client.request(Method::PUT, &path, &[])).await.map(drop)
    }

    /// Removes a group from a scoped role's targets (Okta refuses to remove the last one).
    pub async fn remove_group_target(&self, assignee: &Assignee, assignment_id: &str, group_id: &str) -> Result<()> {
        let path =
            format!("{}/targets/groups/{}", assignee.assignment_path(assignment_id)?, segment("group id", group_id)?);
        self.client.send(&self.client.request(Method::DELETE, &path, &[])).await.map(drop)
    }

    /// The apps (catalog entries) an APP_ADMIN role is limited to.
    pub async fn app_targets(&self, assignee: &Assignee, assignment_id: &str) -> Result<Vec<Value>> {
        let path = format!("{}/targets/catalog/apps", assignee.assignment_path(assignment_id)?);
        let (value, _) = self.client.send_json(&self.client.request(Method::GET, &path, &[])).await?;
        decode_list(value, &path, Ok)
    }

    /// Limits an APP_ADMIN role to an app of the catalog (by its name, e.g. `salesforce`).
    pub async fn add_app_target(&self, assignee: &Assignee, assignment_id: &str, app_name: &str) -> Result<()> {
        let path = format!(
            "{}/targets/catalog/apps/{}",
            assignee.assignment_path(assignment_id)?,
            segment("app name", app_name)?
        );
        self.client.send(&self.client.request(Method::PUT, &path, &[])).await.map(drop)
    }

    /// Removes an app from an APP_ADMIN role's targets.
    pub async fn remove_app_target(&self, assignee: &Assignee, assignment_id: &str, app_name: &str) -> Result<()> {
        let path = format!(
            "{}/targets/catalog/apps/{}",
            assignee.assignment_path(assignment_id)?,
            segment("app name", app_name)?
        );
        self.client.send(&self.client.request(Method::DELETE, &path, &[])).await.map(drop)
    }
}
