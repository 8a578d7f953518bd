//! Client configuration: the org URL, credentials and transport options, from code or from
//! the environment.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use crate::error::{Error, Result};
use crate::secret::SecretString;

/// The backoff schedule: capped exponential with "equal jitter".
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// The first pause.
    pub base: Duration,
    /// The longest pause.
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { base: Duration::from_millis(250), cap: Duration::from_secs(20) }
    }
}

impl Backoff {
    /// The pause before retry number `attempt` (0-based), with `jitter` in [0, 1): half the
    /// exponential step is fixed and half is random, so pauses never collapse to zero and
    /// clients that failed together do not retry together.
    pub fn delay(&self, attempt: u32, jitter: f64) -> Duration {
        let exponential = self.base.saturating_mul(1u32 << attempt.min(16)).min(self.cap);
        let jitter = jitter.clamp(0.0, 1.0);
        exponential.mul_f64(0.5 + jitter / 2.0)
    }
}

/// How the client authenticates to Okta.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Credentials {
    /// An Okta API token, sent as `Authorization: SSWS <token>`.
    ApiToken(SecretString),
    /// OAuth 2.0 client credentials with `private_key_jwt` against the org authorization
    /// server, Okta's recommended way for service apps.
    PrivateKey(PrivateKeyCredentials),
}

/// OAuth 2.0 service-app credentials.
#[derive(Debug, Clone)]
pub struct PrivateKeyCredentials {
    /// The service app's client id.
    pub client_id: String,
    /// The private key that signs client assertions: PEM (PKCS#8, PKCS#1 RSA or SEC1 EC) or a
    /// private JWK as JSON. RS256 and ES256 keys are supported.
    pub private_key: SecretString,
    /// The `kid` registered with Okta for the key; taken from the JWK when absent.
    pub key_id: Option<String>,
    /// The scopes to request, e.g. `okta.users.manage`.
    pub scopes: Vec<String>,
    /// Bind tokens to a per-client key with DPoP (on by default: Okta requires DPoP for new
    /// service apps since February 2024).
    pub dpop: bool,
}

/// Where credential options came from, so that an error names what the caller actually set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionSource {
    /// Arguments of a constructor (`api_token`, `client_id`, ...).
    Arguments,
    /// Environment variables (`OKTA_API_TOKEN`, `OKTA_CLIENT_ID`, ...).
    Environment,
}

impl OptionSource {
    fn name(self, argument: &'static str) -> &'static str {
        match (self, argument) {
            (OptionSource::Arguments, _) => argument,
            (OptionSource::Environment, "api_token") => "OKTA_API_TOKEN",
            (OptionSource::Environment, "client_id") => "OKTA_CLIENT_ID",
            (OptionSource::Environment, "private_key") => "OKTA_PRIVATE_KEY",
            (OptionSource::Environment, "private_key_path") => "OKTA_PRIVATE_KEY_PATH",
            (OptionSource::Environment, "scopes") => "OKTA_SCOPES",
            (OptionSource::Environment, other) => other,
        }
    }
}

/// The credential options as a caller gives them, before they are checked: the one place that
/// decides which combinations make credentials, for the constructors and the environment alike.
#[derive(Debug, Clone, Default)]
pub struct CredentialOptions {
    /// An API token.
    pub api_token: Option<SecretString>,
    /// A service app's client id (with a private key and scopes).
    pub client_id: Option<String>,
    /// The private key's text.
    pub private_key: Option<SecretString>,
    /// The file that holds the private key.
    pub private_key_path: Option<PathBuf>,
    /// The key's `kid`.
    pub key_id: Option<String>,
    /// The scopes to request.
    pub scopes: Option<Vec<String>>,
    /// DPoP on or off (on when not given).
    pub dpop: Option<bool>,
}

impl CredentialOptions {
    /// The credentials these options make: an API token, or a client id with exactly one of a
    /// key and a key file and at least one scope. Anything else is a configuration error that
    /// names the options (or variables) to set.
    pub fn build(self, source: OptionSource) -> Result<Credentials> {
        let name = |argument| source.name(argument);
        match (self.api_token, self.client_id) {
            (Some(_), Some(_)) => Err(Error::Configuration(format!(
                "both {} and {} are set: give one kind of credentials",
                name("api_token"),
                name("client_id")
            ))),
            (Some(token), None) if token.expose().trim().is_empty() => {
                Err(Error::Configuration("the API token is empty".into()))
            }
            (Some(token), None) => Ok(Credentials::ApiToken(token)),
            (None, None) => Err(Error::Configuration(format!(
                "give {}, or {} with {} (or {}) and {}",
                name("api_token"),
                name("client_id"),
                name("private_key"),
                name("private_key_path"),
                name("scopes")
            ))),
            (None, Some(client_id)) => {
                let private_key = match (self.private_key, self.private_key_path) {
                    (Some(key), None) => key,
                    (None, Some(path)) => {
                        SecretString::new(crate::input::read_text(&path, crate::input::MAX_KEY_BYTES).map_err(|e| {
                            Error::Configuration(format!(
                                "cannot read {} {}: {e}",
                                name("private_key_path"),
                                path.display()
                            ))
                        })?)
                    }
                    (Some(_), Some(_)) => {
                        return Err(Error::Configuration(format!(
                            "both {} and {} are set: give exactly one",
                            name("private_key"),
                            name("private_key_path")
                        )))
                    }
                    (None, None) => {
                        return Err(Error::Configuration(format!(
                            "{} is set but neither {} nor {}",
                            name("client_id"),
                            name("private_key"),
                            name("private_key_path")
                        )))
                    }
                };
                let scopes: Vec<String> =
                    self.scopes.unwrap_or_default().iter().flat_map(|scope| parse_scopes(scope)).collect();
                if scopes.is_empty() {
                    return Err(Error::Configuration(format!(
                        "{} is empty: name the scopes to request, e.g. okta.users.manage",
                        name("scopes")
                    )));
                }
                Ok(Credentials::PrivateKey(PrivateKeyCredentials {
                    client_id,
                    private_key,
                    key_id: self.key_id,
                    scopes,
                    dpop: self.dpop.unwrap_or(true),
                }))
            }
        }
    }
}

/// Everything the client needs to know before it sends a request.
#[derive(Clone)]
pub struct ClientConfig {
    /// The org's base URL, e.g. `https://acme.okta.com` (no path).
    pub org_url: Url,
    /// How to authenticate.
    pub credentials: Credentials,
    /// Time limit for one HTTP exchange.
    pub request_timeout: Duration,
    /// Time limit for establishing a connection.
    pub connect_timeout: Duration,
    /// An explicit proxy URL. When absent, `HTTPS_PROXY`/`NO_PROXY` from the environment are
    /// honoured, except for loopback orgs (the simulator), which are always reached directly.
    pub proxy: Option<String>,
    /// The `User-Agent` header.
    pub user_agent: String,
    /// How many times a retryable request is retried before its error is returned.
    pub max_retries: u32,
    /// The share of each rate-limit bucket this client may use, in (0, 1] (like Terraform's
    /// `max_api_capacity`): other integrations of the org keep the rest.
    pub rate_limit_share: f64,
    /// The most requests in flight at once (Okta's org-wide concurrency limit is 75).
    pub max_concurrency: usize,
    /// Page size for listings (Okta's maximum is 200).
    pub page_size: u32,
    /// The pauses between retries.
    pub backoff: Backoff,
    /// Whether the rate budget is shared with the other processes on this machine (or, through
    /// PostgreSQL, on every host) that talk to the same org (see [`crate::http::shared`]). Off unless set: the Python package and the
    /// command turn it on for every org but the built-in simulator's own clients.
    pub budget_sharing: BudgetSharing,
    /// How long the org's user schema, read once for planning, is used before it is read again
    /// (it is also read again after Okta refuses a write as invalid, and after a schema change
    /// made through this client). Zero reads it for every plan.
    pub schema_max_age: Duration,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A proxy URL may carry a user and password: shown without them.
        f.debug_struct("ClientConfig")
            .field("org_url", &self.org_url.as_str())
            .field("credentials", &self.credentials)
            .field("request_timeout", &self.request_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("proxy", &self.proxy.as_deref().map(without_userinfo))
            .field("user_agent", &self.user_agent)
            .field("max_retries", &self.max_retries)
            .field("rate_limit_share", &self.rate_limit_share)
            .field("max_concurrency", &self.max_concurrency)
            .field("page_size", &self.page_size)
            .field("backoff", &self.backoff)
            .field("budget_sharing", &self.budget_sharing)
            .field("schema_max_age", &self.schema_max_age)
            .finish()
    }
}

/// The variable that turns the shared rate budget off or points it at a directory or a
/// PostgreSQL database.
pub const SHARED_BUDGET_VARIABLE: &str = "OKTA_LIFECYCLE_SHARED_BUDGET";

/// Whether and where a client shares what its governor learns with other processes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum BudgetSharing {
    /// This process's own budget only.
    #[default]
    Off,
    /// The org's default store, beside its default journal
    /// ([`crate::http::shared::SharedBudget::default_dir`]). If that cannot be used, a warning is
    /// logged and the client keeps its own budget.
    OrgDefault,
    /// The store in this directory; a directory that cannot be used is a configuration error.
    At(PathBuf),
    /// The store in this PostgreSQL database, shared by every process on every host that names
    /// it. A database that cannot be reached is logged when the first request would use it, and
    /// the client keeps its own budget (see [`crate::http::shared`]).
    Postgres(PostgresUrl),
}

impl BudgetSharing {
    /// Reads the setting's text (`OKTA_LIFECYCLE_SHARED_BUDGET`): `off`/`false`/`no`/`0`,
    /// `on`/`true`/`yes`/`1`, a `postgresql://` (or `postgres://`) URL, or a directory.
    pub fn from_text(text: &str) -> Result<Self> {
        let text = text.trim();
        let lower = text.to_ascii_lowercase();
        match lower.as_str() {
            "" => Err(Error::Configuration(format!(
                "{SHARED_BUDGET_VARIABLE} is empty: give off, on, a directory or a postgresql:// URL"
            ))),
            "0" | "false" | "no" | "off" => Ok(BudgetSharing::Off),
            "1" | "true" | "yes" | "on" => Ok(BudgetSharing::OrgDefault),
            _ if crate::pg::is_postgres_url(text) => Ok(BudgetSharing::Postgres(PostgresUrl::new(text)?)),
            // `postgresql:/db` and the like were meant as a URL, not as a folder named `postgresql:`.
            _ if lower.starts_with("postgres:") || lower.starts_with("postgresql:") => Err(Error::Configuration(
                "the shared rate budget's PostgreSQL URL must start with postgresql:// (or postgres://)".into(),
            )),
            _ => Ok(BudgetSharing::At(PathBuf::from(text))),
        }
    }
}

/// A PostgreSQL database's URL, read as libpq reads one ([`crate::pg::PgTarget`]). It may hold a
/// password: `Debug` shows it as `***`, equality compares the text without leaking it through
/// timing, and only [`PostgresUrl::target`] leads to the password.
#[derive(Clone)]
pub struct PostgresUrl {
    text: SecretString,
    target: Box<crate::pg::PgTarget>,
}

impl PostgresUrl {
    /// Reads a `postgresql://` URL; one that cannot be read (or asks for what this release cannot
    /// do, such as TLS) is a configuration error, which never shows the password.
    pub fn new(text: &str) -> Result<Self> {
        let target = crate::pg::PgTarget::parse(text)
            .map_err(|error| Error::Configuration(format!("the shared rate budget's database: {error}")))?;
        Ok(PostgresUrl { text: SecretString::new(text.trim()), target: Box::new(target) })
    }

    /// The database, with libpq's defaults filled in, ready to connect to.
    pub fn target(&self) -> &crate::pg::PgTarget {
        &self.target
    }

    /// The URL as it may be shown: any password replaced by `***`.
    pub fn shown(&self) -> &str {
        self.target.shown()
    }
}

impl std::fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("PostgresUrl").field(&self.shown()).finish()
    }
}

impl PartialEq for PostgresUrl {
    fn eq(&self, other: &Self) -> bool {
        self.text.matches(&other.text)
    }
}

impl Eq for PostgresUrl {}

/// The crate's default `User-Agent`.
pub const DEFAULT_USER_AGENT: &str = concat!("okta-lifecycle/", env!("CARGO_PKG_VERSION"));

impl ClientConfig {
    /// A configuration with default options for `org_url` and `credentials`; the URL is
    /// validated (see [`validate_org_url`]).
    pub fn new(org_url: &str, credentials: Credentials) -> Result<Self> {
        Ok(ClientConfig {
            org_url: validate_org_url(org_url)?,
            credentials,
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            proxy: None,
            user_agent: DEFAULT_USER_AGENT.to_owned(),
            max_retries: 5,
            rate_limit_share: 1.0,
            max_concurrency: 75,
            page_size: 200,
            backoff: Backoff::default(),
            budget_sharing: BudgetSharing::Off,
            schema_max_age: DEFAULT_SCHEMA_MAX_AGE,
        })
    }

    /// A configuration authenticated with an API token.
    pub fn with_api_token(org_url: &str, api_token: impl Into<SecretString>) -> Result<Self> {
        let token = api_token.into();
        if token.is_empty() {
            return Err(Error::Configuration("the API token is empty".into()));
        }
        Self::new(org_url, Credentials::ApiToken(token))
    }

    /// Reads the configuration from the environment: `OKTA_ORG_URL` and either
    /// `OKTA_API_TOKEN`, or `OKTA_CLIENT_ID` with `OKTA_PRIVATE_KEY` (or
    /// `OKTA_PRIVATE_KEY_PATH`), `OKTA_SCOPES` (space- or comma-separated), optional
    /// `OKTA_KEY_ID` and `OKTA_DPOP` (`false` to turn DPoP off), and
    /// `OKTA_LIFECYCLE_SHARED_BUDGET` (see [`BudgetSharing::from_text`]). `HTTPS_PROXY` is
    /// honoured by the transport.
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`ClientConfig::from_env`] over any variable lookup (used by tests and bindings).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let org_url = get("OKTA_ORG_URL").ok_or_else(|| Error::Configuration("OKTA_ORG_URL is not set".into()))?;
        let dpop = match get("OKTA_DPOP").as_deref().map(str::to_ascii_lowercase).as_deref() {
            None => None,
            Some("1" | "true" | "yes" | "on") => Some(true),
            Some("0" | "false" | "no" | "off") => Some(false),
            Some(other) => return Err(Error::Configuration(format!("OKTA_DPOP must be true or false, not {other:?}"))),
        };
        let options = CredentialOptions {
            api_token: get("OKTA_API_TOKEN").map(SecretString::new),
            client_id: get("OKTA_CLIENT_ID"),
            private_key: get("OKTA_PRIVATE_KEY").map(SecretString::new),
            private_key_path: get("OKTA_PRIVATE_KEY_PATH").map(PathBuf::from),
            key_id: get("OKTA_KEY_ID"),
            scopes: get("OKTA_SCOPES").map(|text| parse_scopes(&text)),
            dpop,
        };
        let mut config = Self::new(&org_url, options.build(OptionSource::Environment)?)?;
        if let Some(text) = get(SHARED_BUDGET_VARIABLE) {
            config.budget_sharing = BudgetSharing::from_text(&text)?;
        }
        Ok(config)
    }

    /// True when the org is on a loopback address (the simulator).
    pub fn is_loopback(&self) -> bool {
        is_loopback_host(&self.org_url)
    }

    /// Checks the options that can be wrong independently of the URL.
    pub fn validate(&self) -> Result<()> {
        if !(self.rate_limit_share > 0.0 && self.rate_limit_share <= 1.0) {
            return Err(Error::Configuration(format!(
                "rate_limit_share must be in (0, 1], not {}",
                self.rate_limit_share
            )));
        }
        if !(1..=MAX_CONCURRENCY).contains(&self.max_concurrency) {
            return Err(Error::Configuration(format!(
                "max_concurrency must be between 1 and {MAX_CONCURRENCY}, not {}",
                self.max_concurrency
            )));
        }
        for (name, value) in [("timeout", self.request_timeout), ("connect_timeout", self.connect_timeout)] {
            if value.is_zero() || value > MAX_TIMEOUT {
                return Err(Error::Configuration(format!(
                    "{name} must be more than 0 and at most {} s",
                    MAX_TIMEOUT.as_secs()
                )));
            }
        }
        if self.max_retries > MAX_RETRIES {
            return Err(Error::Configuration(format!(
                "max_retries must be between 0 and {MAX_RETRIES}, not {}",
                self.max_retries
            )));
        }
        if !(1..=200).contains(&self.page_size) {
            return Err(Error::Configuration(format!(
                "page_size must be between 1 and 200 (Okta's maximum), not {}",
                self.page_size
            )));
        }
        Ok(())
    }
}

/// The default [`ClientConfig::schema_max_age`]: five minutes.
pub const DEFAULT_SCHEMA_MAX_AGE: Duration = Duration::from_secs(300);
/// The most retries a client may be configured for.
pub const MAX_RETRIES: u32 = 100;
/// The most requests in flight a client may be configured for (Okta's own limit is 75).
pub const MAX_CONCURRENCY: usize = 10_000;
/// The longest timeout a client may be configured for.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(3_600);

/// A duration in seconds from an argument: finite, more than 0 and at most `max`.
pub fn seconds(name: &str, value: f64, max: Duration) -> Result<Duration> {
    if value.is_finite() && value > 0.0 && value <= max.as_secs_f64() {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(Error::Configuration(format!("{name} must be more than 0 and at most {} s, not {value}", max.as_secs())))
    }
}

/// Splits a scope list written with spaces and/or commas.
pub fn parse_scopes(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || c == ',').filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// Validates an org URL: `https` with a host and no path, query or credentials; plain `http`
/// only for loopback addresses (the simulator). A trailing slash is accepted and removed.
pub fn validate_org_url(text: &str) -> Result<Url> {
    // Errors show the URL without any user information, which may hold a password.
    let shown = without_userinfo(text);
    let url = Url::parse(text.trim())
        .map_err(|e| Error::Configuration(format!("the org URL {shown:?} is not a URL: {e}")))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::Configuration(format!(
            "the org URL {shown:?} must not contain credentials (give them as api_token or a private key)"
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Error::Configuration(format!("the org URL {shown:?} has no host")));
    }
    match url.scheme() {
        "https" => {}
        "http" if is_loopback_host(&url) => {}
        "http" => {
            return Err(Error::Configuration(format!(
                "the org URL {shown:?} must use https (plain http is allowed only for loopback addresses)"
            )))
        }
        other => return Err(Error::Configuration(format!("the org URL {shown:?} has scheme {other:?}; use https"))),
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(Error::Configuration(format!(
            "the org URL {shown:?} must be the bare org address, e.g. https://acme.okta.com"
        )));
    }
    Ok(url)
}

/// The text of a URL with anything between `//` and the last `@` of its authority replaced, so
/// that a password given in it is never echoed (even when the text does not parse).
pub fn without_userinfo(text: &str) -> String {
    let Some(start) = text.find("//").map(|i| i + 2) else { return text.to_owned() };
    let rest = &text[start..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}***@{}", &text[..start], &rest[at + 1..]),
        None => text.to_owned(),
    }
}

fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn the_configuration_shows_no_proxy_credentials_and_bounds_retries() {
        let mut config = ClientConfig::with_api_token("https://acme.okta.com", "token-value").unwrap();
        config.proxy = Some("http://user:proxy-password@proxy.acme.com:3128".into());
        let shown = format!("{config:?}");
        assert!(!shown.contains("proxy-password") && !shown.contains("token-value"), "{shown}");
        assert!(shown.contains("proxy.acme.com:3128"), "{shown}");
        config.max_retries = MAX_RETRIES + 1;
        assert!(matches!(config.validate(), Err(Error::Configuration(m)) if m.contains("max_retries")));
    }

    #[test]
    fn https_required_except_loopback() {
        assert!(validate_org_url("https://acme.okta.com").is_ok());
        assert!(validate_org_url("https://acme.okta.com/").is_ok());
        assert!(validate_org_url("http://127.0.0.1:8080").is_ok());
        assert!(validate_org_url("http://localhost:8080").is_ok());
        assert!(validate_org_url("http://[::1]:8080").is_ok());
        assert!(validate_org_url("http://acme.okta.com").is_err());
        assert!(validate_org_url("http://10.0.0.1").is_err());
        assert!(validate_org_url("ftp://acme.okta.com").is_err());
        assert!(validate_org_url("https://acme.okta.com/api/v1").is_err());
        assert!(validate_org_url("https://user:pw@acme.okta.com").is_err());
        assert!(validate_org_url("not a url").is_err());
    }

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn from_environment_api_token() {
        let config = ClientConfig::from_lookup(env(&[
            ("OKTA_ORG_URL", "https://acme.okta.com"),
            ("OKTA_API_TOKEN", "00secret"),
        ]))
        .unwrap();
        assert!(matches!(config.credentials, Credentials::ApiToken(ref t) if t.expose() == "00secret"));
        assert!(!format!("{config:?}").contains("00secret"));
    }

    #[test]
    fn from_environment_private_key() {
        let config = ClientConfig::from_lookup(env(&[
            ("OKTA_ORG_URL", "https://acme.okta.com"),
            ("OKTA_CLIENT_ID", "0oa1"),
            ("OKTA_PRIVATE_KEY", "-----BEGIN PRIVATE KEY-----\nMIIsecret\n-----END PRIVATE KEY-----"),
            ("OKTA_SCOPES", "okta.users.manage, okta.groups.manage"),
            ("OKTA_DPOP", "false"),
        ]))
        .unwrap();
        let Credentials::PrivateKey(key) = &config.credentials else { panic!("expected a private key") };
        assert_eq!(key.scopes, ["okta.users.manage", "okta.groups.manage"]);
        assert!(!key.dpop);
        assert!(!format!("{config:?}").contains("MIIsecret"));
    }

    #[test]
    fn from_environment_errors_name_the_variable() {
        let missing = ClientConfig::from_lookup(env(&[])).unwrap_err().to_string();
        assert!(missing.contains("OKTA_ORG_URL"), "{missing}");
        let no_key =
            ClientConfig::from_lookup(env(&[("OKTA_ORG_URL", "https://acme.okta.com"), ("OKTA_CLIENT_ID", "0oa1")]))
                .unwrap_err()
                .to_string();
        assert!(no_key.contains("OKTA_PRIVATE_KEY"), "{no_key}");
        let bad_dpop = ClientConfig::from_lookup(env(&[
            ("OKTA_ORG_URL", "https://acme.okta.com"),
            ("OKTA_CLIENT_ID", "0oa1"),
            ("OKTA_PRIVATE_KEY", "k"),
            ("OKTA_SCOPES", "okta.users.read"),
            ("OKTA_DPOP", "maybe"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(bad_dpop.contains("OKTA_DPOP"), "{bad_dpop}");
        let no_scopes = ClientConfig::from_lookup(env(&[
            ("OKTA_ORG_URL", "https://acme.okta.com"),
            ("OKTA_CLIENT_ID", "0oa1"),
            ("OKTA_PRIVATE_KEY", "k"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(no_scopes.contains("OKTA_SCOPES is empty"), "{no_scopes}");
    }

    #[test]
    fn one_rule_set_for_arguments_and_environment() {
        let key = || Some(SecretString::new("k"));
        let refused = |options: CredentialOptions| {
            let arguments = options.clone().build(OptionSource::Arguments).unwrap_err().to_string();
            let environment = options.build(OptionSource::Environment).unwrap_err().to_string();
            (arguments, environment)
        };
        // Empty scopes are refused whichever way they were given.
        let (arguments, environment) =
            refused(CredentialOptions { client_id: Some("0oa1".into()), private_key: key(), ..Default::default() });
        assert!(arguments.contains("scopes is empty"), "{arguments}");
        assert!(environment.contains("OKTA_SCOPES is empty"), "{environment}");
        let (arguments, _) = refused(CredentialOptions {
            client_id: Some("0oa1".into()),
            private_key: key(),
            scopes: Some(vec![" ".into(), ",".into()]),
            ..Default::default()
        });
        assert!(arguments.contains("scopes is empty"), "{arguments}");
        // Two kinds of credentials, or two keys, are ambiguous: refused, never chosen between.
        let (arguments, environment) =
            refused(CredentialOptions { api_token: key(), client_id: Some("0oa1".into()), ..Default::default() });
        assert!(arguments.contains("api_token and client_id"), "{arguments}");
        assert!(environment.contains("OKTA_API_TOKEN and OKTA_CLIENT_ID"), "{environment}");
        let (arguments, _) = refused(CredentialOptions {
            client_id: Some("0oa1".into()),
            private_key: key(),
            private_key_path: Some(PathBuf::from("/k.pem")),
            scopes: Some(vec!["okta.users.read".into()]),
            ..Default::default()
        });
        assert!(arguments.contains("private_key and private_key_path"), "{arguments}");
        let (arguments, _) =
            refused(CredentialOptions { api_token: Some(SecretString::new(" ")), ..Default::default() });
        assert!(arguments.contains("empty"), "{arguments}");
        // Comma-separated scopes given as one argument are split like the variable.
        let built = CredentialOptions {
            client_id: Some("0oa1".into()),
            private_key: key(),
            scopes: Some(vec!["okta.users.read,okta.groups.read".into()]),
            ..Default::default()
        }
        .build(OptionSource::Arguments)
        .unwrap();
        let Credentials::PrivateKey(built) = built else { panic!("expected a private key") };
        assert_eq!(built.scopes, ["okta.users.read", "okta.groups.read"]);
        assert!(built.dpop, "DPoP is on unless turned off");
    }

    #[test]
    fn validate_rejects_bad_options() {
        let mut config = ClientConfig::with_api_token("https://acme.okta.com", "t").unwrap();
        assert!(config.validate().is_ok());
        config.rate_limit_share = 0.0;
        assert!(config.validate().is_err());
        config.rate_limit_share = 0.5;
        config.page_size = 500;
        assert!(config.validate().is_err());
        assert!(ClientConfig::with_api_token("https://acme.okta.com", "").is_err());
        config.page_size = 200;
        config.max_concurrency = 1 << 62;
        assert!(config.validate().is_err(), "a semaphore that large would panic");
        config.max_concurrency = 75;
        config.request_timeout = Duration::from_secs(10_000);
        assert!(config.validate().is_err());
        assert!(seconds("timeout", 1e20, MAX_TIMEOUT).is_err());
        assert!(seconds("timeout", f64::NAN, MAX_TIMEOUT).is_err());
        assert!(seconds("timeout", -1.0, MAX_TIMEOUT).is_err());
        assert_eq!(seconds("timeout", 2.5, MAX_TIMEOUT).unwrap(), Duration::from_millis(2500));
    }

    #[test]
    fn credentials_in_the_url_are_refused_and_never_echoed() {
        for text in
            ["http://admin:pw@acme.okta.com", "https://admin:pw@acme.okta.com", "https://:pw@x y", "ftp://u:pw@h/p"]
        {
            let message = validate_org_url(text).unwrap_err().to_string();
            assert!(!message.contains("pw"), "{message}");
        }
        assert!(validate_org_url("https://admin:pw@acme.okta.com").unwrap_err().to_string().contains("credentials"));
        assert_eq!(without_userinfo("https://a:b@c@host/x@y"), "https://***@host/x@y");
        assert_eq!(without_userinfo("no url here"), "no url here");
    }
}
