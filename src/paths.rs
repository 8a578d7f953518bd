//! Where okta-lifecycle keeps an org's state on this machine: the journal
//! (`<host>.sqlite`) and the shared rate budget (`<host>.budget/`), under
//! `$XDG_STATE_HOME/okta-lifecycle/` (`~/.local/state/okta-lifecycle/` when `XDG_STATE_HOME` is
//! unset or not absolute). The lowest layer: the HTTP client and the engine both find their
//! files here, and it depends on neither.

use std::path::PathBuf;

/// `$XDG_STATE_HOME/okta-lifecycle`, else `~/.local/state/okta-lifecycle`, else
/// `./okta-lifecycle`.
pub fn state_dir() -> PathBuf {
    std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|path| path.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("okta-lifecycle")
}

/// An org's state path with `extension`: `<state_dir>/<host>[-<port>].<extension>`, the host
/// reduced to letters, digits, `.` and `-` (anything else becomes `_`); `org` when the URL has no
/// host.
pub fn org_state_path(org_url: &str, extension: &str) -> PathBuf {
    let host = url::Url::parse(org_url)
        .ok()
        .and_then(|u| u.host_str().map(|h| format!("{h}{}", u.port().map(|p| format!("-{p}")).unwrap_or_default())))
        .unwrap_or_else(|| "org".into());
    let safe: String =
        host.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' }).collect();
    state_dir().join(format!("{safe}.{extension}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_org_names_its_files_by_host_and_port_only() {
        let journal = org_state_path("https://acme.okta.com/", "sqlite");
        assert_eq!(journal.file_name().unwrap(), "acme.okta.com.sqlite");
        assert_eq!(journal.parent().unwrap(), state_dir());
        let local = org_state_path("http://127.0.0.1:8080/api", "budget");
        assert_eq!(local.file_name().unwrap(), "127.0.0.1-8080.budget");
        assert_eq!(org_state_path("not a url", "sqlite").file_name().unwrap(), "org.sqlite");
    }
}
