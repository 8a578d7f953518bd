//! Connecting to PostgreSQL, where several hosts keep one org's journal and rate budget.
//!
//! A database is named by a URL, `postgresql://user@host:port/dbname?sslmode=...` (or
//! `postgres://`), read as libpq reads one, so that what works with `psql` works here:
//!
//! - What the URL leaves out comes from libpq's variables: `PGHOST` (else the local socket
//!   folder `/var/run/postgresql` when it exists, else `localhost`), `PGPORT` (5432), `PGUSER`
//!   (else the login name), `PGDATABASE` (the user's name), `PGSSLMODE` (`prefer`),
//!   `PGCONNECT_TIMEOUT`.
//! - The password, when the URL has none, is `PGPASSWORD`, else the first matching line of the
//!   password file (`PGPASSFILE`, else `~/.pgpass`), which, as with libpq, is ignored unless only
//!   its owner may read it.
//! - `sslmode`: `disable`, `allow` and `prefer` connect without TLS (this release has no TLS
//!   to PostgreSQL; use a local socket or a trusted network); `require`, `verify-ca` and
//!   `verify-full` are refused with a clear error rather than connecting in the clear.
//!
//! A password never leaves this module: errors and logs name the database by
//! [`PgTarget::shown`], the URL with any password replaced by `***`.
//!
//! Nothing here can hang its caller: connecting gives up after `connect_timeout` (10 s unless
//! set), and an open connection whose server stops answering is closed by TCP keepalives and a
//! user timeout within about half a minute, so that a call waiting on it fails instead.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// How long connecting waits unless the URL or `PGCONNECT_TIMEOUT` says otherwise.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an unacknowledged write, or a silent server, keeps a connection open.
const SILENT_SERVER: Duration = Duration::from_secs(30);

/// Why a database could not be named or reached. Never holds a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgError(pub String);

impl std::fmt::Display for PgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PgError {}

/// Whether `text` names a PostgreSQL database (`postgresql://` or `postgres://`) rather than a
/// file.
pub fn is_postgres_url(text: &str) -> bool {
    let text = text.trim_start();
    ["postgresql://", "postgres://"]
        .iter()
        .any(|scheme| text.get(..scheme.len()).is_some_and(|head| head.eq_ignore_ascii_case(scheme)))
}

/// A database to connect to, with libpq's defaults filled in.
#[derive(Clone)]
pub struct PgTarget {
    config: postgres::Config,
    shown: String,
}

impl std::fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgTarget").field("url", &self.shown).finish_non_exhaustive()
    }
}

/// The URL with its password, if any, replaced by `***`.
fn redact(url: &str) -> String {
    match url::Url::parse(url.trim()) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            let mut pairs: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
            if pairs.iter().any(|(key, _)| key == "password") {
                for (key, value) in &mut pairs {
                    if key == "password" {
                        *value = "***".into();
                    }
                }
                parsed.query_pairs_mut().clear().extend_pairs(pairs);
            }
            parsed.to_string()
        }
        // Not a URL at all: nothing of it is shown, as it may hold anything.
        Err(_) => "(a PostgreSQL URL that cannot be read)".into(),
    }
}

/// Reads an environment variable, treating a blank one as unset.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.trim().is_empty())
}

impl PgTarget {
    /// Reads a `postgresql://` URL, filling in what it leaves out as libpq would.
    pub fn parse(url: &str) -> Result<PgTarget, PgError> {
        let shown = redact(url);
        let mut parsed = url::Url::parse(url.trim())
            .map_err(|error| PgError(format!("{shown} is not a PostgreSQL URL: {error}")))?;
        if !is_postgres_url(parsed.as_str()) {
            return Err(PgError(format!("{shown} is not a PostgreSQL URL (it must start with postgresql://)")));
        }
        // libpq's sslmode values that the driver does not read are taken out and judged here.
        let mut sslmode = env("PGSSLMODE");
        let mut kept: Vec<(String, String)> = Vec::new();
        for (key, value) in parsed.query_pairs().into_owned() {
            match key.as_str() {
                "sslmode" => sslmode = Some(value),
                "sslrootcert" | "sslcert" | "sslkey" | "sslcrl" | "sslcompression" => {}
                _ => kept.push((key, value)),
            }
        }
        if kept.is_empty() {
            parsed.set_query(None);
        } else {
            parsed.query_pairs_mut().clear().extend_pairs(kept);
        }
        match sslmode.as_deref().map(str::trim) {
            None | Some("disable" | "allow" | "prefer") => {}
            Some(mode @ ("require" | "verify-ca" | "verify-full")) => {
                return Err(PgError(format!(
                    "{shown}: sslmode={mode} asks for TLS, which this release does not speak to PostgreSQL; \
                     connect over a local socket or a trusted network with sslmode=disable or prefer"
                )))
            }
            Some(other) => return Err(PgError(format!("{shown}: sslmode={other} is not one of libpq's modes"))),
        }
        let mut config = postgres::Config::from_str(parsed.as_str())
            .map_err(|error| PgError(format!("{shown} cannot be read: {}", without_secrets(&error.to_string()))))?;
        config.ssl_mode(postgres::config::SslMode::Disable);
        if config.get_hosts().is_empty() {
            match env("PGHOST") {
                Some(hosts) => {
                    for host in hosts.split(',') {
                        config.host(host.trim());
                    }
                }
                None if Path::new("/var/run/postgresql").is_dir() => {
                    config.host_path("/var/run/postgresql");
                }
                None => {
                    config.host("localhost");
                }
            }
        }
        if config.get_ports().is_empty() {
            if let Some(port) = env("PGPORT") {
                let port = port.trim().parse::<u16>().map_err(|_| PgError(format!("PGPORT={port} is not a port")))?;
                config.port(port);
            }
        }
        if config.get_user().is_none() {
            let user = env("PGUSER").or_else(|| env("USER")).or_else(|| env("LOGNAME")).ok_or_else(|| {
                PgError(format!(
                    "{shown} names no user, and neither PGUSER nor USER is set: give postgresql://user@host/db"
                ))
            })?;
            config.user(&user);
        }
        if config.get_dbname().is_none() {
            let dbname = env("PGDATABASE").unwrap_or_else(|| config.get_user().unwrap_or_default().to_owned());
            config.dbname(&dbname);
        }
        if config.get_connect_timeout().is_none() {
            let seconds = env("PGCONNECT_TIMEOUT").and_then(|text| text.trim().parse::<u64>().ok()).filter(|&s| s > 0);
            config.connect_timeout(seconds.map_or(CONNECT_TIMEOUT, |s| Duration::from_secs(s.max(2))));
        }
        if config.get_password().is_none() {
            if let Some(password) = env("PGPASSWORD").or_else(|| password_from_file(&config)) {
                config.password(password);
            }
        }
        config
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(10))
            .keepalives_interval(Duration::from_secs(5))
            .keepalives_retries(3)
            .tcp_user_timeout(SILENT_SERVER)
            .application_name("okta-lifecycle");
        Ok(PgTarget { config, shown })
    }

    /// The URL as it may be shown: any password replaced by `***`.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// Connects, on a thread of its own (the driver runs its own event loop, which cannot run
    /// on an async runtime's thread).
    pub fn connect(&self) -> Result<postgres::Client, PgError> {
        let config = self.config.clone();
        on_own_thread(move || config.connect(postgres::NoTls))
            .map_err(|error| PgError(format!("cannot connect to PostgreSQL at {}: {}", self.shown, describe(&error))))
    }
}

/// A PostgreSQL error as it may be shown: the server's message when there is one (it never
/// holds the password), else the driver's, with anything that looks like a password removed.
pub fn describe(error: &postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => {
            let mut text = without_secrets(&error.to_string());
            let mut source = std::error::Error::source(error);
            while let Some(cause) = source {
                let cause_text = without_secrets(&cause.to_string());
                if !text.contains(&cause_text) {
                    text.push_str(": ");
                    text.push_str(&cause_text);
                }
                source = cause.source();
            }
            text
        }
    }
}

/// Removes `password=...` from a driver's message.
fn without_secrets(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    match lower.find("password=") {
        Some(at) => format!("{}password=***", &text[..at]),
        None => text.to_owned(),
    }
}

/// Runs `call` on a thread of its own and waits for it: the synchronous driver starts its own
/// event loop for each call, which tokio refuses on a thread already running one.
pub fn on_own_thread<T: Send>(call: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| match scope.spawn(call).join() {
        Ok(value) => value,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

/// The password file: `PGPASSFILE`, else `~/.pgpass`.
fn password_file() -> Option<PathBuf> {
    env("PGPASSFILE").map(PathBuf::from).or_else(|| env("HOME").map(|home| Path::new(&home).join(".pgpass")))
}

/// The password of the first line of the password file that matches the connection, as libpq
/// reads it: `host:port:database:user:password`, `*` matching anything, `\` escaping `:` and
/// `\`; a local socket matches `localhost`. A file others may read is ignored.
fn password_from_file(config: &postgres::Config) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let path = password_file()?;
    let metadata = std::fs::metadata(&path).ok()?;
    if !metadata.is_file() {
        return None;
    }
    if metadata.permissions().mode() & 0o077 != 0 {
        tracing::warn!(file = %path.display(), "the password file may be read by others and is ignored (chmod 0600 it)");
        return None;
    }
    let text = std::fs::read_to_string(&path).ok()?;
    let host = match config.get_hosts().first()? {
        postgres::config::Host::Tcp(host) => host.clone(),
        postgres::config::Host::Unix(_) => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432).to_string();
    let wanted = [host.as_str(), port.as_str(), config.get_dbname()?, config.get_user()?];
    text.lines().filter(|line| !line.trim_start().starts_with('#')).find_map(|line| {
        let fields = pgpass_fields(line);
        (fields.len() == 5 && fields[..4].iter().zip(wanted).all(|(field, value)| field == "*" || field == value))
            .then(|| fields[4].clone())
    })
}

/// One line of the password file split on unescaped `:`.
fn pgpass_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut characters = line.chars();
    while let Some(character) = characters.next() {
        match character {
            '\\' => {
                if let (Some(next), Some(field)) = (characters.next(), fields.last_mut()) {
                    field.push(next);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            _ => {
                if let Some(field) = fields.last_mut() {
                    field.push(character);
                }
            }
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_of_either_scheme_name_a_database_and_paths_do_not() {
        assert!(is_postgres_url("postgresql://okta@db/lifecycle"));
        assert!(is_postgres_url("  POSTGRES://db"));
        assert!(!is_postgres_url("/var/lib/journal.sqlite"));
        assert!(!is_postgres_url("postgresql:/relative"));
        assert!(!is_postgres_url(":memory:"));
    }

    #[test]
    fn a_password_in_the_url_is_never_shown() {
        let target = PgTarget::parse("postgresql://okta:s3cr%40t@db.example:5433/lifecycle").expect("a URL");
        assert_eq!(target.shown(), "postgresql://okta:***@db.example:5433/lifecycle");
        assert!(!format!("{target:?}").contains("s3cr"));
        let query = PgTarget::parse("postgresql://db.example/lifecycle?user=okta&password=hunter2").expect("a URL");
        assert!(!query.shown().contains("hunter2"), "{}", query.shown());
        let broken = PgTarget::parse("postgresql://okta:hunter2@db.example:notaport/x").unwrap_err();
        assert!(!broken.0.contains("hunter2"), "{broken}");
    }

    #[test]
    fn tls_modes_that_would_need_tls_are_refused_and_unknown_ones_too() {
        for mode in ["require", "verify-ca", "verify-full"] {
            let error = PgTarget::parse(&format!("postgresql://okta@db/x?sslmode={mode}")).unwrap_err();
            assert!(error.0.contains("TLS"), "{error}");
        }
        assert!(PgTarget::parse("postgresql://okta@db/x?sslmode=sometimes").is_err());
        assert!(PgTarget::parse("postgresql://okta@db/x?sslmode=disable").is_ok());
    }

    #[test]
    fn password_file_lines_are_split_as_libpq_splits_them() {
        assert_eq!(pgpass_fields("db:5432:*:okta:pa\\:ss\\\\word"), ["db", "5432", "*", "okta", "pa:ss\\word"]);
        assert_eq!(pgpass_fields("db:5432:x:okta:a:b"), ["db", "5432", "x", "okta", "a:b"]);
        assert_eq!(pgpass_fields("short:line").len(), 2);
    }
}
