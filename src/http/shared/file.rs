//! The file storage of a shared budget, for the processes of one machine: `state.json` read and
//! rewritten in place under an exclusive `flock` on the file itself, and `slot-N.lock`, the
//! concurrency slots, each held with `flock` while a request is in flight. Requests in flight are
//! charged to the process's pid; times are this machine's wall clock.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::store::{now_ms, Hold, Moment, SlotLease, SlotPool, Storage, StoreError, Stored, Turn};

/// The most that is read of `state.json`; a larger file is not the store's and is replaced.
pub(super) const MAX_STATE_BYTES: u64 = 1 << 20;

/// Whether a process with this pid exists and runs, as far as this machine's `/proc` tells. A
/// stopped process (Ctrl-Z, `docker pause`, a debugger: state `T` or `t`) sends nothing, so its
/// requests do not count as in flight while it is stopped. Where there is no `/proc`, every pid
/// counts as alive and only [`super::IN_FLIGHT_EXPIRY`] drops a count.
pub(super) fn alive(pid: u32) -> bool {
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return true;
    }
    match std::fs::read_to_string(proc.join(pid.to_string()).join("stat")) {
        // `pid (comm) state ...`: the state follows the last ')' (comm may hold one).
        Ok(stat) => {
            !matches!(stat.rsplit_once(')').and_then(|(_, rest)| rest.trim_start().chars().next()), Some('T' | 't'))
        }
        Err(_) => proc.join(pid.to_string()).exists(),
    }
}

/// Opens (creating it, private to the user) one of the store's files. A symbolic link in its
/// place is refused (`O_NOFOLLOW`): writing through it would overwrite whatever it points to. So
/// is anything but a regular file (a FIFO would block the open).
fn open_lock_file(path: &Path) -> std::io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(|error| match error.raw_os_error() {
            Some(libc::ELOOP) => std::io::Error::other(format!("{} is a symbolic link", path.display())),
            _ => error,
        })?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other(format!("{} is not a regular file", path.display())));
    }
    Ok(file)
}

/// The store's directory must be this user's alone: created private (0700) if missing, and
/// refused when another user owns it or others may write in it (they could then plant links
/// or files the store would use).
fn check_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let metadata = std::fs::metadata(dir)?;
    // This process's effective user: the owner of its /proc entry (Linux, the package's
    // platform; elsewhere the owner is not checked, the mode still is).
    let me = std::fs::metadata("/proc/self").map(|own| own.uid()).ok();
    if !metadata.is_dir() {
        return Err(std::io::Error::other(format!("{} is not a directory", dir.display())));
    }
    if me.is_some_and(|me| metadata.uid() != me) {
        return Err(std::io::Error::other(format!(
            "{} belongs to another user (uid {}); the store must be this user's own",
            dir.display(),
            metadata.uid()
        )));
    }
    if metadata.mode() & 0o022 != 0 {
        return Err(std::io::Error::other(format!(
            "{} may be written by others (mode {:o}); make it private (chmod 700)",
            dir.display(),
            metadata.mode() & 0o777
        )));
    }
    Ok(())
}

/// A store's files.
#[derive(Debug)]
pub(super) struct FileStorage {
    dir: PathBuf,
    /// `state.json`, open for the store's lifetime.
    state: File,
    slots: SlotPool,
}

/// Releases the state file's `flock` when dropped.
struct Unlock<'a>(&'a File);

impl Drop for Unlock<'_> {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

impl FileStorage {
    /// Opens (creating it if needed) the store in `dir` with `max_concurrency` slots at most.
    pub(super) fn open(dir: &Path, max_concurrency: usize) -> std::io::Result<FileStorage> {
        check_private_dir(dir)?;
        let state = open_lock_file(&dir.join("state.json"))?;
        let slots = Arc::new(Mutex::new((0..max_concurrency).map(|_| None).collect()));
        Ok(FileStorage { dir: dir.to_owned(), state, slots })
    }

    /// Takes the `flock` of `state.json`, waiting another process's at most `patience` (it is
    /// only ever held for a read and a write, so the wait yields, then naps a fifth of a
    /// millisecond at a time).
    fn lock_state(&self, patience: Duration) -> Result<Unlock<'_>, StoreError> {
        let started = Instant::now();
        let mut tries = 0u32;
        loop {
            match self.state.try_lock() {
                Ok(()) => return Ok(Unlock(&self.state)),
                Err(std::fs::TryLockError::WouldBlock) => {
                    if started.elapsed() >= patience {
                        return Err(StoreError::Busy);
                    }
                    tries += 1;
                    if tries < 50 {
                        std::thread::yield_now();
                    } else {
                        std::thread::sleep(Duration::from_micros(200));
                    }
                }
                Err(std::fs::TryLockError::Error(error)) => return Err(error.into()),
            }
        }
    }

    /// Takes the first free slot below `cap`, across processes.
    fn take_slot(dir: &Path, slots: &SlotPool, cap: usize) -> std::io::Result<Option<SlotLease>> {
        let mut pool = slots.lock().unwrap_or_else(PoisonError::into_inner);
        for index in 0..cap.min(pool.len()) {
            let file = match pool[index].take() {
                Some(file) => file,
                // Not opened yet, or held by this process already (then the pool's entry is
                // empty and opening it again only finds it locked).
                None => open_lock_file(&dir.join(format!("slot-{index}.lock")))?,
            };
            match file.try_lock() {
                Ok(()) => {
                    let hold = Hold::File { file: Some(file), pool: Arc::clone(slots) };
                    return Ok(Some(SlotLease { index, hold }));
                }
                Err(std::fs::TryLockError::WouldBlock) => pool[index] = Some(file),
                Err(std::fs::TryLockError::Error(error)) => return Err(error),
            }
        }
        Ok(None)
    }
}

impl Storage for FileStorage {
    fn transact(
        &mut self,
        patience: Duration,
        turn: &mut dyn FnMut(&mut Turn<'_>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let _unlock = self.lock_state(patience)?;
        let mut file: &File = &self.state;
        let mut text = Vec::new();
        file.seek(SeekFrom::Start(0))?;
        file.take(MAX_STATE_BYTES + 1).read_to_end(&mut text)?;
        if text.len() as u64 > MAX_STATE_BYTES {
            text.clear();
        }
        let moment = Moment { now: Instant::now(), now_ms: now_ms(), owner: std::process::id() };
        let mut stored = Stored::parse(&text);
        stored.sanitise(moment.now_ms, moment.owner, &alive);
        let before = stored.clone();
        let (dir, slots) = (&self.dir, &self.slots);
        let mut take_slot = |cap: usize| Self::take_slot(dir, slots, cap).map_err(StoreError::from);
        turn(&mut Turn { stored: &mut stored, moment, take_slot: &mut take_slot })?;
        if stored != before || text.is_empty() {
            let bytes = serde_json::to_vec(&stored).map_err(std::io::Error::other)?;
            file.seek(SeekFrom::Start(0))?;
            file.write_all(&bytes)?;
            file.set_len(bytes.len() as u64)?;
        }
        Ok(())
    }

    fn release(&mut self, _index: usize) -> Result<(), StoreError> {
        // A slot file's lease unlocks it itself when dropped.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{core, go, temp_dir};
    use super::super::{SharedBudget, SharedVerdict};
    use super::*;
    use crate::http::budget::MAX_WINDOW;

    #[test]
    fn links_and_directories_others_control_are_refused_and_nothing_is_written_through_them() {
        use std::os::unix::fs::PermissionsExt;
        let dir = temp_dir("links");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        let victim = dir.with_extension("victim");
        std::fs::write(&victim, b"precious").unwrap();
        std::os::unix::fs::symlink(&victim, dir.join("state.json")).unwrap();
        let error = SharedBudget::open(&dir, 2).unwrap_err();
        assert!(error.to_string().contains("symbolic link"), "{error}");
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");

        // A slot file planted as a link: the request is not sent through the store.
        std::fs::remove_file(dir.join("state.json")).unwrap();
        std::os::unix::fs::symlink(&victim, dir.join("slot-0.lock")).unwrap();
        let mut store = core(&dir, 2).unwrap();
        assert!(store.try_send("/api/v1/users", 1.0).is_err(), "the planted slot is refused");
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        std::fs::remove_file(&victim).unwrap();

        // A directory others may write in.
        let open = temp_dir("world-writable");
        std::fs::create_dir_all(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let error = SharedBudget::open(&open, 2).unwrap_err();
        assert!(error.to_string().contains("written by others"), "{error}");
        assert!(!open.join("state.json").exists());
        // A new one is created private.
        let fresh = temp_dir("fresh");
        SharedBudget::open(&fresh, 2).unwrap();
        let mode = std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        // A FIFO in place of the state file is refused at once, not waited on.
        let fifo_dir = temp_dir("fifo");
        std::fs::create_dir_all(&fifo_dir).unwrap();
        std::fs::set_permissions(&fifo_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        let made = std::process::Command::new("mkfifo").arg(fifo_dir.join("state.json")).status().unwrap();
        assert!(made.success());
        let error = SharedBudget::open(&fifo_dir, 2).unwrap_err();
        assert!(error.to_string().contains("not a regular file"), "{error}");
        for dir in [dir, open, fresh, fifo_dir] {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    #[test]
    fn a_damaged_or_hostile_state_file_is_started_afresh_or_held_to_one_window() {
        let dir = temp_dir("hostile");
        let mut store = core(&dir, 2).unwrap();
        std::fs::write(dir.join("state.json"), b"{ not json").unwrap();
        assert!(matches!(store.try_send("/api/v1/users", 1.0).unwrap(), SharedVerdict::Go(_)));
        // A reset a century away, a remaining that is not a number, a dead process in flight.
        let far = now_ms() + 100 * 365 * 24 * 3600 * 1000;
        std::fs::write(
            dir.join("state.json"),
            format!(
                r#"{{"version":1,"buckets":{{"/api/v1/users":{{"limit":5,"remaining":0,"reset_at_ms":{far},
                "answered":true,"in_flight":{{"4000000":{{"count":3,"since_ms":{}}}}}}}}}}}"#,
                now_ms()
            ),
        )
        .unwrap();
        let state = store.bucket("/api/v1/users").unwrap();
        assert_eq!(state.in_flight, 0, "a pid that does not exist has nothing in flight");
        let reset = state.reset_at.unwrap();
        assert!(reset <= Instant::now() + MAX_WINDOW + Duration::from_secs(1), "held to one window");
        // Counters at their largest, a cap of nothing: a success is still counted without overflow.
        std::fs::write(
            dir.join("state.json"),
            format!(
                r#"{{"version":1,"cap":0,"successes":{max},"buckets":{{"/api/v1":{{"answered":true,
                "in_flight":{{"{pid}":{{"count":{max},"since_ms":{now}}}}}}}}}}}"#,
                max = u64::MAX,
                pid = std::process::id(),
                now = now_ms()
            ),
        )
        .unwrap();
        assert_eq!(store.concurrency_cap().unwrap(), 1, "a cap of nothing is one slot");
        let lease = go(store.try_send("/api/v1", 1.0).unwrap());
        store.finish(lease, "/api/v1", Some(200), None, None).unwrap();
        std::fs::write(dir.join("state.json"), vec![b' '; (MAX_STATE_BYTES + 10) as usize]).unwrap();
        assert_eq!(store.bucket("/api/v1/users"), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_stopped_process_has_nothing_in_flight_until_it_runs_again() {
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id();
        assert!(alive(pid));
        let signal = |name: &str| {
            assert!(std::process::Command::new("kill").args([name, &pid.to_string()]).status().unwrap().success());
            // The kernel changes the state at once, but give /proc a moment.
            std::thread::sleep(Duration::from_millis(50));
        };
        signal("-STOP");
        assert!(!alive(pid), "a stopped process sends nothing");
        signal("-CONT");
        assert!(alive(pid));
        let _ = child.kill();
        let _ = child.wait();
        assert!(!alive(pid), "a process that is gone");
    }
}
