//! `write_jsonl`: appends JSON rows to a JSON Lines file inside the file tools' root.
//!
//! Each call appends its rows with one write on a file opened for appending, so rows
//! of concurrent calls never interleave inside a line. The file must be a regular file
//! (see [`super::regular_file`]); missing parent directories are created only inside
//! the root. Each row is a JSON object serialised on one line, at most
//! [`MAX_ROW_BYTES`] bytes, and one call appends at most [`MAX_ROWS`] rows. Like
//! `write_file`, it needs the `write_files` capability: a workflow or agent call goes
//! through approval.

use std::io::Write;
use std::sync::Arc;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::FsRoot;
use super::fs::file_error;
use super::regular_file::{RegularFileError, open_regular};
use crate::error::ToolError;
use crate::spec::Capabilities;
use crate::tool::{ToolContext, TypedTool};

/// Most bytes of one row, its newline excluded.
pub const MAX_ROW_BYTES: usize = 256 * 1024;
/// Most rows one call appends.
pub const MAX_ROWS: usize = 1000;

/// Arguments of [`WriteJsonl`]: `row` (one object) or `rows` (a list of objects).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct WriteJsonlArgs {
    /// Path of the `.jsonl` file, relative to the root; missing directories are created.
    pub path: String,
    /// One row to append (a JSON object).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row: Option<Value>,
    /// Rows to append, in order (JSON objects).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<Vec<Value>>,
}

/// Output of [`WriteJsonl`].
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
pub struct WriteJsonlOutput {
    /// Path relative to the root.
    pub path: String,
    /// Rows appended.
    pub rows_written: usize,
    /// Bytes appended, newlines included.
    pub bytes_written: usize,
}

/// Appends rows to a JSON Lines file inside the root.
#[derive(Debug, Clone)]
pub struct WriteJsonl {
    root: Arc<FsRoot>,
}

impl WriteJsonl {
    /// `write_jsonl` confined to `root`.
    pub fn new(root: FsRoot) -> Self {
        Self {
            root: Arc::new(root),
        }
    }
}

/// The lines of `args`' rows, checked: one to [`MAX_ROWS`] objects, each at most
/// [`MAX_ROW_BYTES`] bytes on one line.
fn lines(args: &WriteJsonlArgs) -> Result<Vec<u8>, ToolError> {
    let invalid = |message: String| ToolError::InvalidArguments {
        tool: WriteJsonl::NAME.to_owned(),
        message,
    };
    let rows: Vec<&Value> = match (&args.row, &args.rows) {
        (Some(row), None) => vec![row],
        (None, Some(rows)) => rows.iter().collect(),
        (Some(_), Some(_)) => return Err(invalid("give `row` or `rows`, not both".into())),
        (None, None) => return Err(invalid("give `row` (an object) or `rows` (a list)".into())),
    };
    if rows.is_empty() {
        return Err(invalid("`rows` is empty: nothing to append".into()));
    }
    if rows.len() > MAX_ROWS {
        return Err(invalid(format!(
            "{} rows in one call; at most {MAX_ROWS}",
            rows.len()
        )));
    }
    let mut out = Vec::new();
    for (i, row) in rows.into_iter().enumerate() {
        if !row.is_object() {
            return Err(invalid(format!(
                "row {i} is not a JSON object: {}",
                kind(row)
            )));
        }
        // serde_json escapes newlines inside strings: one row is one line.
        let line = serde_json::to_vec(row).map_err(|e| invalid(format!("row {i}: {e}")))?;
        if line.len() > MAX_ROW_BYTES {
            return Err(invalid(format!(
                "row {i} is {} bytes; at most {MAX_ROW_BYTES}",
                line.len()
            )));
        }
        out.extend_from_slice(&line);
        out.push(b'\n');
    }
    Ok(out)
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[async_trait]
impl TypedTool for WriteJsonl {
    const NAME: &'static str = "write_jsonl";
    type Args = WriteJsonlArgs;
    type Output = WriteJsonlOutput;

    fn description(&self) -> String {
        "Appends JSON objects as lines to a JSON Lines file inside the working directory."
            .to_owned()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::NONE.with_write_files()
    }

    async fn run(
        &self,
        args: WriteJsonlArgs,
        ctx: &ToolContext,
    ) -> Result<WriteJsonlOutput, ToolError> {
        if !ctx.granted.write_files {
            return Err(ToolError::Refused(
                "writing files needs the `write_files` capability".to_owned(),
            ));
        }
        let bytes = lines(&args)?;
        let rows_written = bytes.iter().filter(|b| **b == b'\n').count();
        let path = self.root.resolve_for_write(&args.path).await?;
        let (blocking_path, shown) = (path.clone(), args.path.clone());
        let length = bytes.len();
        tokio::task::spawn_blocking(move || {
            let mut file = open_regular(
                &blocking_path,
                &shown,
                std::fs::OpenOptions::new().create(true).append(true),
            )?;
            // One write of all the lines on an `O_APPEND` file: the rows land together
            // at the end, after whatever another writer appended.
            let written = file.write(&bytes)?;
            if written != bytes.len() {
                return Err(RegularFileError::Io(std::io::Error::new(
                    std::io::ErrorKind::WriteZero,
                    format!("only {written} of {} bytes were appended", bytes.len()),
                )));
            }
            file.flush()?;
            Ok(())
        })
        .await
        .map_err(|e| ToolError::failed(format!("appending to `{}` failed: {e}", args.path)))?
        .map_err(|e| file_error(e, "append", &args.path))?;
        Ok(WriteJsonlOutput {
            path: self.root.display(&path),
            rows_written,
            bytes_written: length,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Tool;
    use serde_json::json;

    fn ctx() -> ToolContext {
        ToolContext {
            granted: Capabilities::NONE.with_write_files(),
            ..ToolContext::default()
        }
    }

    async fn call(tool: &WriteJsonl, args: Value) -> Result<Value, ToolError> {
        Tool::call(tool, args, &ctx()).await.map(|o| o.value)
    }

    #[tokio::test]
    async fn rows_are_appended_one_per_line_in_new_directories() {
        let dir = tempfile::tempdir().unwrap();
        let tool = WriteJsonl::new(FsRoot::new(dir.path()).unwrap());
        let first = json!({"messages": [{"role": "user", "content": "a\nb"}]});
        let out = call(&tool, json!({"path": "data/train.jsonl", "row": first}))
            .await
            .unwrap();
        assert_eq!(out["rows_written"], 1);
        let more = json!({"path": "data/train.jsonl", "rows": [{"n": 2}, {"n": 3}]});
        assert_eq!(call(&tool, more).await.unwrap()["rows_written"], 2);
        let text = std::fs::read_to_string(dir.path().join("data/train.jsonl")).unwrap();
        let rows: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(rows, vec![first, json!({"n": 2}), json!({"n": 3})]);
    }

    #[tokio::test]
    async fn bad_rows_and_paths_are_refused_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let tool = WriteJsonl::new(FsRoot::new(dir.path()).unwrap());
        let big = "x".repeat(MAX_ROW_BYTES);
        let cases = [
            (
                json!({"path": "a.jsonl", "rows": [{"a": 1}, 3]}),
                "row 1 is not a JSON object",
            ),
            (json!({"path": "a.jsonl", "rows": []}), "empty"),
            (json!({"path": "a.jsonl"}), "give `row`"),
            (json!({"path": "a.jsonl", "row": {"t": big}}), "at most"),
            (json!({"path": "../a.jsonl", "row": {}}), "`..`"),
        ];
        for (args, says) in cases {
            let error = call(&tool, args.clone()).await.unwrap_err().to_string();
            assert!(error.contains(says), "{args}: {error}");
        }
        assert!(!dir.path().join("a.jsonl").exists());
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe.jsonl");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let tool = WriteJsonl::new(FsRoot::new(dir.path()).unwrap());
        let error = call(&tool, json!({"path": "pipe.jsonl", "row": {"a": 1}}))
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains("not a regular file"), "{error}");
    }
}
