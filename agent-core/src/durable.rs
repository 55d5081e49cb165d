//! Files that survive a power cut once written: [`write_atomic`] writes a temporary file
//! of a name no other writer uses, syncs it, renames it over the target and syncs the
//! folder, so a reader sees the old file or the new one, never half of one, and the new
//! one is on disk when the call returns.

use std::fs::File;
use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically and durably: a uniquely named temporary file in
/// the same folder, fsynced, renamed over `path`, then the folder fsynced. Two writers of
/// the same path never share a temporary file; the last rename wins. The temporary file
/// is removed when a step fails.
///
/// # Errors
/// The I/O error of the step that failed (creating, writing or syncing the temporary
/// file, the rename, syncing the folder).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let folder = parent_of(path);
    let name = path.file_name().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} names no file", path.display()),
        )
    })?;
    let temporary = folder.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        uuid::Uuid::new_v4().simple()
    ));
    let written = (|| {
        let mut file = File::create_new(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temporary, path)
    })();
    if let Err(error) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(error);
    }
    sync_dir(folder)
}

/// Creates `dir` and the missing folders above it, syncing each parent that gained an
/// entry, so the new folders survive a power cut.
///
/// # Errors
/// The I/O error of creating or syncing a folder.
pub fn create_dir_all(dir: &Path) -> std::io::Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    let parent = parent_of(dir);
    create_dir_all(parent)?;
    match std::fs::create_dir(dir) {
        Ok(()) => sync_dir(parent),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(error) => Err(error),
    }
}

/// Syncs a folder's entries (a rename or a new file in it) to disk. A no-op where
/// folders cannot be opened as files (Windows).
///
/// # Errors
/// The I/O error of opening or syncing the folder.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    if cfg!(unix) {
        File::open(dir)?.sync_all()
    } else {
        Ok(())
    }
}

/// The folder of `path` (`.` for a bare file name).
fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_replaces_the_file_and_leaves_no_temporary_behind() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nested/deeper/state.json");
        create_dir_all(path.parent().expect("parent")).expect("folders");
        write_atomic(&path, b"one").expect("first write");
        write_atomic(&path, b"two").expect("second write");
        assert_eq!(std::fs::read(&path).expect("read"), b"two");
        let names: Vec<_> = std::fs::read_dir(path.parent().expect("parent"))
            .expect("list")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("state.json")]);
    }

    #[test]
    fn a_stale_temporary_of_another_writer_does_not_block_a_write() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.json");
        // What an older writer (fixed temporary name) may have left: even a folder there
        // does not stop a write.
        std::fs::create_dir(dir.path().join("state.json.tmp")).expect("stale");
        write_atomic(&path, b"ok").expect("write");
        assert_eq!(std::fs::read(&path).expect("read"), b"ok");
    }
}
