//! Typed Okta endpoints and models: users, groups, sessions.

mod groups;
mod models;
mod users;

pub use groups::{GroupsApi, ListGroups};
pub use models::{Group, GroupType, User, UserStatus};
pub use users::{ActivationToken, CreateUser, ListUsers, NextLogin, UsersApi};

use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};

use crate::error::{Error, Result};

/// Characters escaped in one path segment. `@`, `+` and `.` stay as they are, so a login in a
/// path reads the same to Okta and in a DPoP `htu`.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'/')
    .add(b'%')
    .add(b'\\')
    .add(b'^')
    .add(b'|')
    .add(b'[')
    .add(b']');

/// One path segment from an id or login, percent-encoded. Empty values are refused, and so
/// are values with `/`, which Okta cannot route (a login containing `/` is fetched by id).
pub(crate) fn segment(what: &str, value: &str) -> Result<String> {
    if value.trim().is_empty() {
        return Err(Error::InvalidInput(format!("the {what} is empty")));
    }
    if value.contains('/') {
        return Err(Error::InvalidInput(format!(
            "the {what} {value:?} contains '/': Okta can only find such a user by id"
        )));
    }
    if value == "." || value == ".." {
        return Err(Error::InvalidInput(format!("the {what} {value:?} is not an id or login")));
    }
    Ok(utf8_percent_encode(value, SEGMENT).to_string())
}

#[cfg(test)]
mod tests {
    use super::segment;

    #[test]
    fn segments_are_encoded_and_checked() {
        assert_eq!(segment("login", "ada@acme.com").unwrap(), "ada@acme.com");
        assert_eq!(segment("login", "a b#?%").unwrap(), "a%20b%23%3F%25");
        assert!(segment("login", "").is_err());
        assert!(segment("login", "a/b").is_err());
        assert!(segment("id", "..").is_err());
    }
}
