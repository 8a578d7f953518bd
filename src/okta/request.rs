//! The parts of a request that every endpoint builds the same way: path segments from ids and
//! logins, and the query of a listing.

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
        // A login may contain '/', and then only its id reaches the user; an id never does.
        let hint = if what.contains("login") { ": Okta can only find such a user by id" } else { "" };
        return Err(Error::InvalidInput(format!("the {what} {value:?} contains '/'{hint}")));
    }
    if value == "." || value == ".." {
        return Err(Error::InvalidInput(format!("the {what} {value:?} is not an id or login")));
    }
    Ok(utf8_percent_encode(value, SEGMENT).to_string())
}

/// The query of a listing: `limit` (checked against Okta's maximum of 200) and at most one of
/// `search`, `filter` and `q`, followed by `extra` parameters that are set.
pub(crate) fn listing_query(
    limit: u32,
    search: &Option<String>,
    filter: &Option<String>,
    q: &Option<String>,
    extra: &[(&'static str, &Option<String>)],
) -> Result<Vec<(&'static str, String)>> {
    if !(1..=200).contains(&limit) {
        return Err(Error::InvalidInput(format!("limit must be between 1 and 200, not {limit}")));
    }
    if [search, filter, q].iter().filter(|given| given.is_some()).count() > 1 {
        return Err(Error::InvalidInput("use only one of search, filter and q".into()));
    }
    let mut query = vec![("limit", limit.to_string())];
    for (name, value) in [("search", search), ("filter", filter), ("q", q)].into_iter().chain(extra.iter().copied()) {
        if let Some(value) = value {
            query.push((name, value.clone()));
        }
    }
    Ok(query)
}

#[cfg(test)]
mod tests {
    use super::segment;

    #[test]
    fn segments_are_encoded_and_checked() {
        assert_eq!(segment("login", "ada@acme.com").unwrap(), "ada@acme.com");
        assert_eq!(segment("login", "a b#?%").unwrap(), "a%20b%23%3F%25");
        assert!(segment("login", "").is_err());
        assert!(segment("login", "a/b").unwrap_err().to_string().contains("such a user by id"));
        let assignment = segment("role assignment id", "../x").unwrap_err().to_string();
        assert!(assignment.contains("role assignment id") && !assignment.contains("user"), "{assignment}");
        assert!(segment("id", "..").is_err());
    }
}
