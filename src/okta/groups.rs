//! The Groups API: create, read, replace, delete, list, members.

use reqwest::Method;
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::http::{ItemStream, OktaClient};
use crate::okta::models::{Group, User};
use crate::okta::request::{listing_query, segment};

/// Filters for listing groups. Use at most one of `search`, `filter` or `q`.
#[derive(Debug, Clone, Default)]
pub struct ListGroups {
    /// A SCIM search expression (e.g. `type eq "OKTA_GROUP"`); eventually consistent.
    pub search: Option<String>,
    /// A filter on `id`, `type`, `lastUpdated`, `lastMembershipUpdated`.
    pub filter: Option<String>,
    /// A prefix of the group name (not paged).
    pub q: Option<String>,
    /// Add `_embedded.stats` (member counts).
    pub expand_stats: bool,
    /// Page size (at most 200); the client's default when absent.
    pub limit: Option<u32>,
}

/// The Groups API of one client.
#[derive(Debug, Clone)]
pub struct GroupsApi {
    client: OktaClient,
}

impl OktaClient {
    /// The Groups API.
    pub fn groups(&self) -> GroupsApi {
        GroupsApi { client: self.clone() }
    }
}

fn group_from(value: Value, path: &str) -> Result<Group> {
    Group::from_json(value).map_err(|message| Error::Decode { path: path.to_owned(), message })
}

fn check_name(name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(Error::InvalidInput("a group name is required".into()));
    }
    if name.chars().count() > 255 {
        return Err(Error::InvalidInput("a group name has at most 255 characters".into()));
    }
    Ok(())
}

impl GroupsApi {
    fn group_path(id: &str) -> Result<String> {
        Ok(format!("/api/v1/groups/{}", segment("group id", id)?))
    }

    /// Creates an OKTA_GROUP. Not retried after an ambiguous failure (the caller checks by name).
    pub async fn create(&self, name: &str, description: Option<&str>) -> Result<Group> {
        check_name(name)?;
        let mut request = self.client.request(Method::POST, "/api/v1/groups", &[]);
        request.body = Some(json!({ "profile": { "name": name, "description": description } }));
        let (value, _) = self.client.send_json(&request).await?;
        group_from(value, "/api/v1/groups")
    }

    /// Reads a group by id.
    pub async fn get(&self, id: &str) -> Result<Group> {
        let path = Self::group_path(id)?;
        let (value, _) = self.client.send_json(&self.client.request(Method::GET, &path, &[])).await?;
        group_from(value, &path)
    }

    /// Finds a group by exact name (case-insensitive, like Okta's uniqueness rule), using the
    /// name-prefix query, which reads current data rather than the search index.
    pub async fn find_by_name(&self, name: &str) -> Result<Option<Group>> {
        use futures_util::StreamExt;
        check_name(name)?;
        let mut stream = self.list(&ListGroups { q: Some(name.to_owned()), limit: Some(200), ..Default::default() })?;
        while let Some(group) = stream.next().await {
            let group = group?;
            if group.name().is_some_and(|n| n.to_lowercase() == name.to_lowercase()) {
                return Ok(Some(group));
            }
        }
        Ok(None)
    }

    /// Replaces an OKTA_GROUP's profile.
    pub async fn replace(&self, id: &str, name: &str, description: Option<&str>) -> Result<Group> {
        check_name(name)?;
        let path = Self::group_path(id)?;
        let mut request = self.client.request(Method::PUT, &path, &[]);
        request.body = Some(json!({ "profile": { "name": name, "description": description } }));
        let (value, _) = self.client.send_json(&request).await?;
        group_from(value, &path)
    }

    /// Deletes an OKTA_GROUP (or APP_GROUP).
    pub async fn delete(&self, id: &str) -> Result<()> {
        let path = Self::group_path(id)?;
        self.client.send(&self.client.request(Method::DELETE, &path, &[])).await.map(drop)
    }

    /// Lists groups lazily, page by page.
    pub fn list(&self, options: &ListGroups) -> Result<ItemStream<Group>> {
        let limit = options.limit.unwrap_or(self.client.config().page_size);
        let mut query = listing_query(limit, &options.search, &options.filter, &options.q, &[])?;
        if options.expand_stats {
            query.push(("expand", "stats".into()));
        }
        Ok(ItemStream::new(self.client.clone(), self.client.request(Method::GET, "/api/v1/groups", &query)))
    }

    /// The group's members, lazily, 200 per page.
    pub fn members(&self, id: &str) -> Result<ItemStream<User>> {
        let path = format!("{}/users", Self::group_path(id)?);
        let limit = self.client.config().page_size.to_string();
        Ok(ItemStream::new(self.client.clone(), self.client.request(Method::GET, &path, &[("limit", limit)])))
    }

    /// Adds a user to an OKTA_GROUP (adding a member again is not an error).
    pub async fn add_member(&self, group_id: &str, user_id: &str) -> Result<()> {
        let path = format!("{}/users/{}", Self::group_path(group_id)?, segment("user id", user_id)?);
        self.client.send(&self.client.request(Method::PUT, &path, &[])).await.map(drop)
    }

    /// Removes a user from an OKTA_GROUP.
    pub async fn remove_member(&self, group_id: &str, user_id: &str) -> Result<()> {
        let path = format!("{}/users/{}", Self::group_path(group_id)?, segment("user id", user_id)?);
        self.client.send(&self.client.request(Method::DELETE, &path, &[])).await.map(drop)
    }
}
