//! Opening files that cannot block or lie: only regular files, opened
//! without blocking, read with a byte bound.
//!
//! A path may name a FIFO (opening it for reading blocks until a writer
//! comes, and a blocked thread keeps the process from exiting), a socket, a
//! device (`/dev/zero` never ends), or a file whose reported size is wrong
//! (`/proc` files report 0; a log grows while it is read), directly or
//! through a symlink. So a file is opened with `O_NONBLOCK` (on unix), the
//! *opened handle* is checked to be a regular file, and at most `limit + 1`
//! bytes are read whatever size the file claims.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::path::Path;

/// Why a file was not read or written.
#[derive(Debug, thiserror::Error)]
pub enum RegularFileError {
    /// The path names something other than a regular file.
    #[error("`{path}` is {kind}, not a regular file; only regular files can be read or written")]
    NotRegular {
        /// The path, as the caller gave it.
        path: String,
        /// What it is (`a FIFO`, `a character device`, ...).
        kind: &'static str,
    },
    /// Opening, checking or reading failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Opens `path` with `options` plus `O_NONBLOCK` (unix), then refuses the
/// handle unless it is a regular file. `shown` names the path in errors.
pub fn open_regular(
    path: &Path,
    shown: &str,
    options: &mut OpenOptions,
) -> Result<File, RegularFileError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Never wait on a FIFO's other end, a terminal or a device.
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    let file = options.open(path).map_err(|error| {
        // A FIFO without a reader refuses a non-blocking open for writing
        // with ENXIO; a socket refuses any open the same way.
        #[cfg(unix)]
        if error.raw_os_error() == Some(libc::ENXIO)
            && let Ok(meta) = std::fs::metadata(path)
            && !meta.is_file()
        {
            return RegularFileError::NotRegular {
                path: shown.to_owned(),
                kind: agentry_model::file::kind(&meta.file_type()),
            };
        }
        RegularFileError::Io(error)
    })?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(RegularFileError::NotRegular {
            path: shown.to_owned(),
            kind: agentry_model::file::kind(&meta.file_type()),
        });
    }
    Ok(file)
}

/// Reads at most `limit` bytes of the regular file at `path`; the flag says
/// whether there was more. The file's stated size is not trusted.
pub fn read_bounded(
    path: &Path,
    shown: &str,
    limit: u64,
) -> Result<(Vec<u8>, bool), RegularFileError> {
    let file = open_regular(path, shown, OpenOptions::new().read(true))?;
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    let truncated = bytes.len() as u64 > limit;
    bytes.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok((bytes, truncated))
}
