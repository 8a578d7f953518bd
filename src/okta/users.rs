//! The Users API: create, read, update, list, lifecycle operations, delete, sessions and a
//! user's groups.

use reqwest::Method;
use serde_json::{json, Map, Value};

use crate::error::{Error, Result};
use crate::http::retry::Idempotency;
use crate::http::{ItemStream, OktaClient};
use crate::okta::models::{Group, User, UserStatus};
use crate::okta::request::{listing_query, segment};
use crate::secret::SecretString;

/// Okta accepts at most this many `groupIds` when creating a user.
pub const MAX_GROUP_IDS_AT_CREATE: usize = 20;

/// What to require at the user's next sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextLogin {
    /// The password is created expired: the user must change it (`nextLogin=changePassword`).
    ChangePassword,
}

impl NextLogin {
    /// The value of Okta's `nextLogin` query parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            NextLogin::ChangePassword => "changePassword",
        }
    }
}

impl std::str::FromStr for NextLogin {
    type Err = crate::Error;

    /// Okta's spelling (`changePassword`), the only value the Users API takes.
    fn from_str(text: &str) -> crate::Result<Self> {
        match text {
            "changePassword" => Ok(NextLogin::ChangePassword),
            other => Err(crate::Error::InvalidInput(format!("next_login must be \"changePassword\", not {other:?}"))),
        }
    }
}

/// A user to create. Its `Debug` leaves the password out (it says only whether there is one).
#[derive(Clone)]
pub struct CreateUser {
    /// The profile: at least `login` and `email`, with `firstName` and `lastName` in the default
    /// schema; custom attributes must exist in the org's schema.
    pub profile: Map<String, Value>,
    /// An initial password (never logged or echoed back).
    pub password: Option<SecretString>,
    /// Run the activation right away (Okta's default: true).
    pub activate: bool,
    /// Create the user with an authentication provider (`provider=true`).
    pub provider: bool,
    /// Require a password change at the next sign-in.
    pub next_login: Option<NextLogin>,
    /// Groups to add the user to at creation (at most 20).
    pub group_ids: Vec<String>,
    /// The user type's id, when not the default type.
    pub type_id: Option<String>,
}

impl std::fmt::Debug for CreateUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateUser")
            .field("profile", &self.profile)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .field("activate", &self.activate)
            .field("provider", &self.provider)
            .field("next_login", &self.next_login)
            .field("group_ids", &self.group_ids)
            .field("type_id", &self.type_id)
            .finish()
    }
}

impl CreateUser {
    /// A user with this profile, activated on creation, no password.
    pub fn new(profile: Map<String, Value>) -> Self {
        CreateUser {
            profile,
            password: None,
            activate: true,
            provider: false,
            next_login: None,
            group_ids: Vec::new(),
            type_id: None,
        }
    }

    /// Checks what Okta would refuse, before anything is sent.
    pub fn validate(&self) -> Result<()> {
        for attribute in ["login", "email"] {
            match self.profile.get(attribute) {
                Some(Value::String(value)) if value.chars().any(char::is_control) => {
                    return Err(Error::InvalidInput(format!("profile.{attribute} contains a control character")))
                }
                Some(Value::String(value)) if !value.trim().is_empty() => {}
                _ => return Err(Error::InvalidInput(format!("profile.{attribute} is required"))),
            }
        }
        if self.group_ids.len() > MAX_GROUP_IDS_AT_CREATE {
            return Err(Error::InvalidInput(format!(
                "{} groupIds given; Okta accepts at most {MAX_GROUP_IDS_AT_CREATE} at creation (add the rest afterwards)",
                self.group_ids.len()
            )));
        }
        if self.next_login.is_some() {
            if self.password.is_none() {
                return Err(Error::InvalidInput("nextLogin=changePassword needs a password (Okta E0000124)".into()));
            }
            if !self.activate {
                return Err(Error::InvalidInput("nextLogin=changePassword needs activate=true (Okta E0000125)".into()));
            }
        }
        Ok(())
    }
}

/// Filters for listing users. Use at most one of `search` (recommended), `filter` or `q`.
#[derive(Debug, Clone, Default)]
pub struct ListUsers {
    /// A SCIM search expression over any attribute (eventually consistent); build one with
    /// [`crate::scim::Filter`] so values are escaped. Includes DEPROVISIONED users.
    pub search: Option<String>,
    /// A filter on `status`, `lastUpdated`, `id` and a few profile attributes. Includes
    /// DEPROVISIONED users.
    pub filter: Option<String>,
    /// A prefix of first name, last name or email (not paged: at most `limit` users).
    pub q: Option<String>,
    /// Sort attribute (with `search`).
    pub sort_by: Option<String>,
    /// `asc` or `desc` (with `sort_by`).
    pub sort_order: Option<String>,
    /// Page size, at most 200; the client's default when absent.
    pub limit: Option<u32>,
}

/// The secret link and token returned by an activation with `sendEmail=false`.
#[derive(Debug, Clone)]
pub struct ActivationToken {
    /// `activationUrl`.
    pub url: SecretString,
    /// `activationToken`.
    pub token: SecretString,
}

/// The Users API of one client.
#[derive(Debug, Clone)]
pub struct UsersApi {
    client: OktaClient,
}

impl OktaClient {
    /// The Users API.
    pub fn users(&self) -> UsersApi {
        UsersApi { client: self.clone() }
    }
}

fn user_from(value: Value, path: &str) -> Result<User> {
    User::from_json(value).map_err(|message| Error::Decode { path: path.to_owned(), message })
}

fn boolean(value: bool) -> String {
    value.to_string()
}

impl UsersApi {
    /// The path of a user by id or login; an `InvalidInput` error for a value that cannot be a
    /// path segment (empty, `.`, `..`, or holding `/`).
    pub fn user_path(id: &str) -> Result<String> {
        Ok(format!("/api/v1/users/{}", segment("user id or login", id)?))
    }

    async fn lifecycle(&self, id: &str, operation: &str, query: &[(&str, String)]) -> Result<Value> {
        let path = format!("{}/lifecycle/{operation}", Self::user_path(id)?);
        let request = self.client.request(Method::POST, &path, query);
        Ok(self.client.send_json(&request).await?.0)
    }

    /// Creates a user (`POST /api/v1/users`). Not retried after an ambiguous failure: the
    /// error says the outcome is unknown, and the caller checks by login.
    pub async fn create(&self, user: &CreateUser) -> Result<User> {
        user.validate()?;
        let mut query = vec![("activate", boolean(user.activate))];
        if user.provider {
            query.push(("provider", "true".into()));
        }
        if let Some(next_login) = user.next_login {
            query.push(("nextLogin", next_login.as_str().into()));
        }
        let mut body = json!({ "profile": user.profile });
        if let Some(password) = &user.password {
            body["credentials"] = json!({ "password": { "value": password.expose() } });
        }
        if !user.group_ids.is_empty() {
            body["groupIds"] = json!(user.group_ids);
        }
        if let Some(type_id) = &user.type_id {
            body["type"] = json!({ "id": type_id });
        }
        let mut request = self.client.request(Method::POST, "/api/v1/users", &query);
        request.body = Some(body);
        let (value, _) = self.client.send_json(&request).await?;
        user_from(value, "/api/v1/users")
    }

    /// Reads a user by id or login.
    pub async fn get(&self, id_or_login: &str) -> Result<User> {
        Ok(self.get_with_etag(id_or_login).await?.0)
    }

    /// Reads a user and its `ETag` (for [`UsersApi::replace`] with `If-Match`).
    pub async fn get_with_etag(&self, id_or_login: &str) -> Result<(User, Option<String>)> {
        let path = Self::user_path(id_or_login)?;
        let (value, response) = self.client.send_json(&self.client.request(Method::GET, &path, &[])).await?;
        Ok((user_from(value, &path)?, response.etag))
    }

    /// Partially updates a profile (`POST /api/v1/users/{id}`): only the attributes given
    /// change; `null` clears one. Setting values is safe to repeat, so it is retried like a PUT.
    pub async fn update_profile(&self, id: &str, profile: &Map<String, Value>) -> Result<User> {
        let path = Self::user_path(id)?;
        let mut request = self.client.request(Method::POST, &path, &[]);
        request.body = Some(json!({ "profile": profile }));
        request.idempotency = Idempotency::Idempotent;
        let (value, _) = self.client.send_json(&request).await?;
        user_from(value, &path)
    }

    /// Replaces a profile (`PUT /api/v1/users/{id}`): attributes not given are removed. With
    /// `if_match`, Okta refuses the write when the user changed since that `ETag` was read.
    pub async fn replace(&self, id: &str, profile: &Map<String, Value>, if_match: Option<&str>) -> Result<User> {
        let path = Self::user_path(id)?;
        let mut request = self.client.request(Method::PUT, &path, &[]);
        request.body = Some(json!({ "profile": profile }));
        request.if_match = if_match.map(str::to_owned);
        let (value, _) = self.client.send_json(&request).await?;
        user_from(value, &path)
    }

    /// Lists users lazily, page by page.
    pub fn list(&self, options: &ListUsers) -> Result<ItemStream<User>> {
        self.list_as(options)
    }

    /// Lists users as `T`, a type that may read only the fields it needs from each page (the
    /// planner reads a large org this way, without building every user's full JSON).
    pub fn list_as<T: crate::http::pages::Resource>(&self, options: &ListUsers) -> Result<ItemStream<T>> {
        let limit = options.limit.unwrap_or(self.client.config().page_size);
        let extra = [("sortBy", &options.sort_by), ("sortOrder", &options.sort_order)];
        let query = listing_query(limit, &options.search, &options.filter, &options.q, &extra)?;
        Ok(ItemStream::new(self.client.clone(), self.client.request(Method::GET, "/api/v1/users", &query)))
    }

    /// Activates a STAGED or DEPROVISIONED user. With `send_email=false` Okta returns the
    /// activation link instead of emailing it.
    pub async fn activate(&self, id: &str, send_email: bool) -> Result<Option<ActivationToken>> {
        Ok(activation_token(&self.lifecycle(id, "activate", &[("sendEmail", boolean(send_email))]).await?))
    }

    /// Sends a new activation to a PROVISIONED or RECOVERY user.
    pub async fn reactivate(&self, id: &str, send_email: bool) -> Result<Option<ActivationToken>> {
        Ok(activation_token(&self.lifecycle(id, "reactivate", &[("sendEmail", boolean(send_email))]).await?))
    }

    /// Deactivates a user (DEPROVISIONED). Okta does not remove group memberships.
    pub async fn deactivate(&self, id: &str, send_email: bool) -> Result<()> {
        self.lifecycle(id, "deactivate", &[("sendEmail", boolean(send_email))]).await.map(drop)
    }

    /// Suspends an ACTIVE user (memberships and assignments are kept).
    pub async fn suspend(&self, id: &str) -> Result<()> {
        self.lifecycle(id, "suspend", &[]).await.map(drop)
    }

    /// Returns a SUSPENDED user to ACTIVE.
    pub async fn unsuspend(&self, id: &str) -> Result<()> {
        self.lifecycle(id, "unsuspend", &[]).await.map(drop)
    }

    /// Unlocks a LOCKED_OUT user.
    pub async fn unlock(&self, id: &str) -> Result<()> {
        self.lifecycle(id, "unlock", &[]).await.map(drop)
    }

    /// Expires the password: the user must change it at the next sign-in.
    pub async fn expire_password(&self, id: &str) -> Result<User> {
        let value = self.lifecycle(id, "expire_password", &[]).await?;
        user_from(value, "expire_password")
    }

    /// Expires the password and returns a temporary one (a secret).
    pub async fn expire_password_with_temp_password(&self, id: &str, revoke_sessions: bool) -> Result<SecretString> {
        let value = self
            .lifecycle(id, "expire_password_with_temp_password", &[("revokeSessions", boolean(revoke_sessions))])
            .await?;
        value.get("tempPassword").and_then(Value::as_str).map(SecretString::new).ok_or_else(|| Error::Decode {
            path: "expire_password_with_temp_password".into(),
            message: "no tempPassword in the answer".into(),
        })
    }

    /// Starts Okta's password-reset flow (the user goes to RECOVERY). With `send_email=false`
    /// the reset link is returned as a secret. Each call is a new reset event; it is never
    /// retried after an ambiguous failure.
    pub async fn reset_password(
        &self,
        id: &str,
        send_email: bool,
        revoke_sessions: bool,
    ) -> Result<Option<SecretString>> {
        let value = self
            .lifecycle(
                id,
                "reset_password",
                &[("sendEmail", boolean(send_email)), ("revokeSessions", boolean(revoke_sessions))],
            )
            .await?;
        Ok(value.get("resetPasswordUrl").and_then(Value::as_str).map(SecretString::new))
    }

    /// Resets all the user's enrolled factors.
    pub async fn reset_factors(&self, id: &str) -> Result<()> {
        self.lifecycle(id, "reset_factors", &[]).await.map(drop)
    }

    /// One `DELETE /api/v1/users/{id}`: deactivates a user that is not DEPROVISIONED, deletes
    /// one that is. Because of that double meaning it is not retried after an ambiguous
    /// failure.
    pub async fn delete(&self, id: &str, send_email: bool) -> Result<()> {
        let path = Self::user_path(id)?;
        let mut request = self.client.request(Method::DELETE, &path, &[("sendEmail", boolean(send_email))]);
        request.idempotency = Idempotency::NonIdempotent;
        self.client.send(&request).await.map(drop)
    }

    /// Deletes a user for good, deactivating first when needed (Okta's two-step delete). A user
    /// that is already gone is not an error. Ambiguous failures are resolved by reading the
    /// user again, never by repeating a DELETE blindly.
    pub async fn delete_permanently(&self, id: &str) -> Result<()> {
        for _ in 0..4 {
            let user = match self.get(id).await {
                Ok(user) => user,
                Err(error) if error.is_not_found() => return Ok(()),
                Err(error) => return Err(error),
            };
            match self.delete(user.id(), false).await {
                Ok(()) if user.status() == UserStatus::Deprovisioned => return Ok(()),
                Ok(()) => {}
                Err(error) if error.is_not_found() => return Ok(()),
                Err(Error::OutcomeUnknown { .. }) => {}
                Err(error) => return Err(error),
            }
        }
        Err(Error::OutcomeUnknown {
            method: "DELETE".into(),
            path: Self::user_path(id)?,
            reason: "the user still exists after repeated delete attempts".into(),
        })
    }

    /// Ends the user's Okta sessions (`DELETE /api/v1/users/{id}/sessions`); with
    /// `oauth_tokens` also revokes the OAuth access and refresh tokens Okta issued to the user.
    /// `forget_devices` clears remembered factors (Okta's default: true in Identity Engine).
    pub async fn clear_sessions(&self, id: &str, oauth_tokens: bool, forget_devices: Option<bool>) -> Result<()> {
        let path = format!("{}/sessions", Self::user_path(id)?);
        let mut query = vec![("oauthTokens", boolean(oauth_tokens))];
        if let Some(forget) = forget_devices {
            query.push(("forgetDevices", boolean(forget)));
        }
        self.client.send(&self.client.request(Method::DELETE, &path, &query)).await.map(drop)
    }

    /// The groups the user belongs to, Everyone included.
    pub fn groups(&self, id: &str) -> Result<ItemStream<Group>> {
        let path = format!("{}/groups", Self::user_path(id)?);
        Ok(ItemStream::new(self.client.clone(), self.client.request(Method::GET, &path, &[])))
    }

    /// The client these calls go through.
    pub fn client(&self) -> &OktaClient {
        &self.client
    }
}

fn activation_token(value: &Value) -> Option<ActivationToken> {
    let url = value.get("activationUrl").and_then(Value::as_str)?;
    let token = value.get("activationToken").and_then(Value::as_str).unwrap_or_default();
    Some(ActivationToken { url: SecretString::new(url), token: SecretString::new(token) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_login_parses_only_okta_spelling() {
        assert_eq!("changePassword".parse::<NextLogin>().unwrap(), NextLogin::ChangePassword);
        assert_eq!(NextLogin::ChangePassword.as_str(), "changePassword");
        let refused = "change_password".parse::<NextLogin>().unwrap_err();
        assert_eq!(refused.kind(), crate::ErrorKind::InvalidInput);
    }

    fn profile() -> Map<String, Value> {
        json!({"login": "ada@acme.com", "email": "ada@acme.com", "firstName": "Ada", "lastName": "Lovelace"})
            .as_object()
            .cloned()
            .unwrap()
    }

    #[test]
    fn create_validation_catches_what_okta_would_refuse() {
        assert!(CreateUser::new(profile()).validate().is_ok());
        let mut no_login = profile();
        no_login.remove("login");
        assert!(CreateUser::new(no_login).validate().unwrap_err().to_string().contains("login"));
        let mut many = CreateUser::new(profile());
        many.group_ids = (0..21).map(|i| format!("00g{i}")).collect();
        assert!(many.validate().unwrap_err().to_string().contains("20"));
        let mut expired = CreateUser::new(profile());
        expired.next_login = Some(NextLogin::ChangePassword);
        assert!(expired.validate().unwrap_err().to_string().contains("E0000124"));
        expired.password = Some("Passw0rd!".into());
        expired.activate = false;
        assert!(expired.validate().unwrap_err().to_string().contains("E0000125"));
    }

    #[test]
    fn activation_token_is_a_secret() {
        let token =
            activation_token(&json!({"activationUrl": "https://acme/x/tok123", "activationToken": "tok123"})).unwrap();
        assert!(!format!("{token:?}").contains("tok123"));
        assert_eq!(token.token.expose(), "tok123");
        assert!(activation_token(&json!({})).is_none());
    }
}
