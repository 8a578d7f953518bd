//! Bounded reading of the files users name (policies, sources, keys): only regular files, never
//! more than a cap, so that a FIFO, a device such as `/dev/zero` or a runaway file is a clear
//! error instead of a read that never returns or fills memory.

use std::io::Read;
use std::path::Path;

/// The largest policy file read.
pub const MAX_POLICY_BYTES: u64 = 4 << 20;
/// The largest source file (CSV or JSON lines) read.
pub const MAX_SOURCE_BYTES: u64 = 1 << 30;
/// The largest private-key file read.
pub const MAX_KEY_BYTES: u64 = 64 << 10;

/// Why a file could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// Missing, unreadable, or not valid UTF-8 (the message says which).
    Io(String),
    /// A directory, FIFO, socket or device.
    NotAFile,
    /// Larger than the cap.
    TooLarge(u64),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Io(message) => f.write_str(message),
            ReadError::NotAFile => f.write_str("it is not a regular file (a directory, pipe or device)"),
            ReadError::TooLarge(cap) => write!(f, "it is larger than {} MiB", cap >> 20),
        }
    }
}

/// Opens a regular file for reading at most `cap` bytes (one more, to tell "too large").
pub fn open(path: &Path, cap: u64) -> Result<std::io::Take<std::fs::File>, ReadError> {
    let metadata = std::fs::metadata(path).map_err(|e| ReadError::Io(e.to_string()))?;
    if !metadata.is_file() {
        return Err(ReadError::NotAFile);
    }
    if metadata.len() > cap {
        return Err(ReadError::TooLarge(cap));
    }
    // Checked before opening, because opening a FIFO blocks until a writer comes. (A file
    // swapped for a pipe between the check and the open would still block: that takes another
    // local user racing this process, which this check does not defend against.)
    let file = std::fs::File::open(path).map_err(|e| ReadError::Io(e.to_string()))?;
    Ok(file.take(cap + 1))
}

/// Reads a regular UTF-8 file of at most `cap` bytes.
pub fn read_text(path: &Path, cap: u64) -> Result<String, ReadError> {
    let mut text = String::new();
    open(path, cap)?.read_to_string(&mut text).map_err(|e| ReadError::Io(e.to_string()))?;
    if text.len() as u64 > cap {
        return Err(ReadError::TooLarge(cap));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_directories_and_large_files_are_refused() {
        if cfg!(unix) {
            assert!(matches!(read_text(Path::new("/dev/zero"), 1024), Err(ReadError::NotAFile)));
        }
        assert!(matches!(read_text(&std::env::temp_dir(), 1024), Err(ReadError::NotAFile)));
        let path = std::env::temp_dir().join(format!("okta-lifecycle-input-{}", std::process::id()));
        std::fs::write(&path, "x".repeat(2048)).unwrap();
        assert!(matches!(read_text(&path, 1024), Err(ReadError::TooLarge(1024))));
        assert_eq!(read_text(&path, 4096).unwrap().len(), 2048);
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(read_text(Path::new("/nonexistent/file"), 10), Err(ReadError::Io(_))));
    }
}
