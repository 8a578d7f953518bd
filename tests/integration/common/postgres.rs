//! A real PostgreSQL server for the tests, started by the test itself: a cluster made with
//! `initdb` in a fresh temporary folder, served on a free loopback port with `pg_ctl`, stopped
//! and removed when dropped. Trust authentication on loopback (the cluster lives only as long as
//! the test); `fsync` is off, as nothing here survives a power cut anyway.
//!
//! The server binaries are found through `OKTA_LIFECYCLE_PG_BIN`, else Debian's
//! `/usr/lib/postgresql/<version>/bin` (newest), else `initdb` on `PATH`; `scripts/test` installs
//! Debian's `postgresql` package when none is there (`scripts/ensure-postgres`). PostgreSQL
//! refuses to run as root: as root, the cluster belongs to the `postgres` account and its
//! commands run through `runuser`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A running server and the folder it lives in.
pub struct Postgres {
    folder: PathBuf,
    bin: PathBuf,
    run_as: Option<String>,
    port: u16,
}

/// The database user the tests connect as.
pub const USER: &str = "okta";

impl Postgres {
    /// Starts a server; panics, saying what is missing, when it cannot.
    pub fn start() -> Postgres {
        let bin = server_bin().unwrap_or_else(|| {
            panic!(
                "PostgreSQL's server binaries (initdb, pg_ctl) were not found: run scripts/ensure-postgres, \
                 or set OKTA_LIFECYCLE_PG_BIN to the folder that holds them"
            )
        });
        let root = Command::new("id").arg("-u").output().is_ok_and(|out| out.stdout.trim_ascii() == b"0");
        let run_as = root.then(|| "postgres".to_owned());
        let folder =
            std::env::temp_dir().join(format!("okta-lifecycle-pg-{}-{}", std::process::id(), fastrand::u64(..)));
        std::fs::create_dir_all(&folder).expect("a folder for the cluster");
        if let Some(account) = &run_as {
            let owned = Command::new("chown").arg(account).arg(&folder).status().expect("chown runs");
            assert!(owned.success(), "the cluster's folder cannot be given to {account}");
        }
        let port = free_port();
        let server = Postgres { folder, bin, run_as, port };
        let data = server.folder.join("data");
        server.run(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-U".as_ref(),
                USER.as_ref(),
                "--auth=trust".as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
                "--no-instructions".as_ref(),
            ],
        );
        server.serve();
        server
    }

    /// Starts the server of the cluster (again), on the same port.
    pub fn serve(&self) {
        let data = self.folder.join("data");
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            self.port,
            self.folder.display()
        );
        let log = self.folder.join("server.log");
        self.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-l".as_ref(),
                log.as_os_str(),
                "-o".as_ref(),
                options.as_ref(),
                "-w".as_ref(),
                "-t".as_ref(),
                "60".as_ref(),
                "start".as_ref(),
            ],
        );
        self.wait_ready();
    }

    /// Stops the server at once, as a crash would (`pg_ctl stop -m immediate`); [`Postgres::serve`]
    /// starts it again.
    pub fn stop(&self) {
        let data = self.folder.join("data");
        self.run("pg_ctl", &["-D".as_ref(), data.as_os_str(), "-m".as_ref(), "immediate".as_ref(), "stop".as_ref()]);
    }

    /// A connection URL for database `postgres`.
    pub fn url(&self) -> String {
        format!("postgresql://{USER}@127.0.0.1:{}/postgres", self.port)
    }

    /// The server's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        match &self.run_as {
            Some(account) => {
                let mut command = Command::new("runuser");
                command.arg("-u").arg(account).arg("--").arg(path);
                command
            }
            None => Command::new(path),
        }
    }

    fn run(&self, program: &str, arguments: &[&std::ffi::OsStr]) {
        let output = self.command(program).args(arguments).output().unwrap_or_else(|e| panic!("{program}: {e}"));
        assert!(
            output.status.success(),
            "{program} failed: {}\n{}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr),
            std::fs::read_to_string(self.folder.join("server.log")).unwrap_or_default()
        );
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "PostgreSQL did not listen on port {} in 60 s", self.port);
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.folder.join("data");
        let _ = self
            .command("pg_ctl")
            .args(["-D".as_ref(), data.as_os_str(), "-m".as_ref(), "immediate".as_ref(), "stop".as_ref()])
            .output();
        let _ = std::fs::remove_dir_all(&self.folder);
    }
}

/// The folder holding `initdb` and `pg_ctl`.
fn server_bin() -> Option<PathBuf> {
    let has_initdb = |folder: &Path| folder.join("initdb").is_file();
    if let Some(folder) = std::env::var_os("OKTA_LIFECYCLE_PG_BIN").map(PathBuf::from) {
        return has_initdb(&folder).then_some(folder);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let folder = entry.path().join("bin");
            has_initdb(&folder).then_some((version, folder))
        })
        .collect();
    versions.sort();
    if let Some((_, folder)) = versions.pop() {
        return Some(folder);
    }
    std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .find(|folder| has_initdb(folder))
}

/// A loopback port nobody listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}
