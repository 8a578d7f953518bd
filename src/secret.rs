//! A string that never shows itself: a wrapper over `secrecy`'s zeroizing secret.

use std::fmt;

use secrecy::ExposeSecret;

/// Holds a secret (API token, private key, access token, assertion, reset URL, temporary
/// password). The memory is zeroed when the value is dropped (`secrecy`); `Debug` prints
/// `[redacted]`; there is no `Display` and no `==` (a comparison that is not constant-time would
/// leak the value's prefix through timing). The value is reachable only through
/// [`SecretString::expose`], so every use of the plain text is visible in review.
#[derive(Clone)]
pub struct SecretString(secrecy::SecretString);

impl SecretString {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(secrecy::SecretString::from(value.into()))
    }

    /// The secret's plain text. Call only where the value must leave the process (an
    /// `Authorization` header, a signing key) or where the user asked for it explicitly.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// Whether two secrets are equal, compared in constant time for equal lengths (only the
    /// length can show through timing).
    pub fn matches(&self, other: &SecretString) -> bool {
        use subtle::ConstantTimeEq;
        self.expose().as_bytes().ct_eq(other.expose().as_bytes()).into()
    }

    /// True when the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.expose().is_empty()
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString([redacted])")
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
        assert_eq!(secret.expose(), "00abcSECRETtoken");
        assert!(secret.matches(&SecretString::new("00abcSECRETtoken")));
        assert!(!secret.matches(&SecretString::new("00abcSECRETtokeN")));
        assert!(!secret.matches(&SecretString::new("00abc")));
    }
}
