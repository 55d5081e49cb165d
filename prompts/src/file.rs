//! Reading files a user or a file names: regular files only, opened without blocking and
//! without following a final symlink swapped in after a check, read with a size cap
//! (never trusting the length the file system reports: `/proc` files say 0, a file can
//! grow while it is read).

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::path::Path;

/// Opens `path` for reading: non-blocking (a FIFO or device cannot hang the open), then
/// refused unless the opened handle is a regular file. Errors are
/// [`io::ErrorKind::InvalidInput`] for anything but a regular file.
///
/// # Errors
/// The open failed, or the file is not a regular file.
pub fn open_regular(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    let file = options.open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is {}, not a regular file",
                path.display(),
                kind(&meta.file_type())
            ),
        ));
    }
    Ok(file)
}

/// What kind of file `ty` describes, in words, for errors that refuse anything but a
/// regular file ("a directory", "a FIFO", "a socket", ...).
pub fn kind(ty: &std::fs::FileType) -> &'static str {
    if ty.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ty.is_fifo() {
            return "a FIFO";
        }
        if ty.is_socket() {
            return "a socket";
        }
        if ty.is_char_device() {
            return "a character device";
        }
        if ty.is_block_device() {
            return "a block device";
        }
    }
    "a special file"
}

/// The bytes of the regular file `path`, at most `limit` of them; a file with more is an
/// [`io::ErrorKind::InvalidData`] error naming the limit.
///
/// # Errors
/// As [`open_regular`], a read error, or the file is over `limit` bytes.
pub fn read_capped(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let file = open_regular(path)?;
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{} is larger than the limit of {limit} bytes",
                path.display()
            ),
        ));
    }
    Ok(bytes)
}

/// As [`read_capped`], as UTF-8 text.
///
/// # Errors
/// As [`read_capped`], or the file is not UTF-8 ([`io::ErrorKind::InvalidData`]).
pub fn read_capped_text(path: &Path, limit: u64) -> io::Result<String> {
    String::from_utf8(read_capped(path, limit)?).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} is not UTF-8 text", path.display()),
        )
    })
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_within_the_cap_are_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("a.txt");
        std::fs::write(&file, "hello").expect("write");
        assert_eq!(read_capped_text(&file, 5).expect("read"), "hello");
        let error = read_capped(&file, 4).expect_err("over the cap");
        assert!(error.to_string().contains("limit of 4 bytes"), "{error}");

        // A FIFO with no writer: refused at once, not a hang.
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().expect("utf-8")).expect("path");
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let error = read_capped(&fifo, 10).expect_err("a FIFO");
        assert!(error.to_string().contains("a FIFO"), "{error}");
        let error = read_capped(dir.path(), 10).expect_err("a directory");
        assert!(error.to_string().contains("a directory"), "{error}");
        let error = read_capped(Path::new("/dev/zero"), 10).expect_err("a device");
        assert!(error.to_string().contains("character device"), "{error}");

        // /proc files report size 0 and stream: the cap, not the metadata, bounds the read.
        let status = read_capped(Path::new("/proc/self/status"), 1 << 20).expect("read");
        assert!(!status.is_empty());
        let error = read_capped(Path::new("/proc/self/status"), 16).expect_err("capped");
        assert!(error.to_string().contains("limit of 16"), "{error}");
    }
}
