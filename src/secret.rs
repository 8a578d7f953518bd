//! A string that never shows itself.

use std::fmt;

/// Holds a secret (API token, private key, access token, assertion, reset URL, temporary
/// password). `Debug` and `Display` print `[redacted]`; the value is reachable only through
/// [`SecretString::expose`], so every use of the plain text is visible in review.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(Box<str>);

impl SecretString {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into().into_boxed_str())
    }

    /// The secret's plain text. Call only where the value must leave the process (an
    /// `Authorization` header, a signing key) or where the user asked for it explicitly.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString([redacted])")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&str> for SecretString {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let secret = SecretString::new("00abcSECRETtoken");
        assert!(!format!("{secret:?}").contains("SECRET"));
        assert!(!format!("{secret}").contains("SECRET"));
        assert_eq!(secret.expose(), "00abcSECRETtoken");
    }
}
