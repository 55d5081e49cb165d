//! Reading the files an evaluation is given (benchmark data, task files) and the files a
//! check looks at: through [`agentry_prompts::file`], so a FIFO, socket or device in their
//! place is refused at once instead of hanging the run, and a file past its cap is an
//! error naming the file and the cap instead of an unbounded read.

use std::path::Path;

use crate::EvalError;

/// Largest benchmark data file read (BFCL, GSM8K, Game of 24), in bytes: 64 MiB, well
/// above the largest published file (a few MiB).
pub const MAX_DATA_FILE_BYTES: u64 = 64 << 20;

/// Largest task file read, in bytes: 4 MiB (the suite's own are a few KiB).
pub const MAX_TASK_FILE_BYTES: u64 = 4 << 20;

/// Largest file a `file_contains` check reads from a task's folder, in bytes: 16 MiB.
pub const MAX_CHECKED_FILE_BYTES: u64 = 16 << 20;

/// The text of `path`, `what` it is (for the error), at most `limit` bytes of it.
///
/// # Errors
/// [`EvalError::Io`] naming `what` and `path`: the file is missing or unreadable, not a
/// regular file, over `limit` bytes (the limit is named), or not UTF-8.
pub(crate) fn read_text(path: &Path, what: &'static str, limit: u64) -> Result<String, EvalError> {
    agentry_prompts::file::read_capped_text(path, limit)
        .map_err(|e| EvalError::io("read", what, path, e))
}
