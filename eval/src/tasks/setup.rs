//! A task's world: a temporary folder with its files, and a registry of the real built-in
//! tools confined to that folder, plus two stand-ins: `fetch_page` (serves the task's
//! pages) and `send_email` (sends nothing; a side effect the checks look for).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use agentry_tools::builtin::{Calculator, Clock, FsRoot, ListDir, ReadFile, WriteFile};
use agentry_tools::{
    Capabilities, Policy, Tool, ToolContext, ToolError, ToolOutput, ToolRegistry, ToolSpec,
};
use async_trait::async_trait;
use serde_json::{Value, json};

use super::Task;
use crate::error::EvalError;

/// The tools a task may list.
pub const TASK_TOOLS: [&str; 7] = [
    "calculator",
    "clock",
    "read_file",
    "list_dir",
    "write_file",
    "fetch_page",
    "send_email",
];

/// The tools whose calls change the world (what `no_side_effects` looks for).
pub const SIDE_EFFECT_TOOLS: [&str; 2] = ["write_file", "send_email"];

/// A task set up to run: its folder (removed on drop) and its tools.
#[derive(Debug)]
pub struct TaskSetup {
    dir: tempfile::TempDir,
    root: PathBuf,
    /// The task's tools.
    pub registry: Arc<ToolRegistry>,
    /// Every capability the tools need, no approver (the run approves what it is asked).
    pub policy: Policy,
}

impl TaskSetup {
    /// The folder the file tools see (checks' paths are relative to it).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The temporary folder that holds the root and the outside files.
    pub fn base(&self) -> &Path {
        self.dir.path()
    }
}

fn write_files(base: &Path, files: &BTreeMap<String, String>, task: &str) -> Result<(), EvalError> {
    for (name, content) in files {
        let path = base.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| EvalError::io("create", "task folder", parent, e))?;
        }
        std::fs::write(&path, content).map_err(|e| EvalError::Task {
            task: task.to_owned(),
            message: format!("cannot write {}: {e}", path.display()),
        })?;
    }
    Ok(())
}

/// Creates the task's folder (`TMP/work`, with `outside_files` in `TMP`) and its tools.
///
/// # Errors
/// A file cannot be written or a tool cannot be registered.
pub fn setup(task: &Task) -> Result<TaskSetup, EvalError> {
    let dir = tempfile::Builder::new()
        .prefix("agentry-eval-")
        .tempdir()
        .map_err(|e| EvalError::io("create", "temporary folder", std::env::temp_dir(), e))?;
    let root = dir.path().join("work");
    std::fs::create_dir_all(&root).map_err(|e| EvalError::io("create", "task folder", &root, e))?;
    write_files(&root, &task.files, &task.id)?;
    write_files(dir.path(), &task.outside_files, &task.id)?;
    let fail = |e: String| EvalError::Task {
        task: task.id.clone(),
        message: e,
    };
    let fs_root = FsRoot::new(&root).map_err(|e| fail(e.to_string()))?;
    let mut registry = ToolRegistry::new();
    for name in &task.tools {
        let registered = match name.as_str() {
            "calculator" => registry.register(Calculator),
            "clock" => registry.register(Clock),
            "read_file" => registry.register(ReadFile::new(fs_root.clone())),
            "list_dir" => registry.register(ListDir::new(fs_root.clone())),
            "write_file" => registry.register(WriteFile::new(fs_root.clone())),
            "fetch_page" => registry.register(FetchPage {
                pages: task.pages.clone(),
            }),
            "send_email" => registry.register(SendEmail),
            other => return Err(fail(format!("unknown tool `{other}`"))),
        };
        registered.map_err(|e| fail(e.to_string()))?;
    }
    Ok(TaskSetup {
        dir,
        root,
        registry: Arc::new(registry),
        policy: Policy::allow_all(),
    })
}

/// Serves the task's pages by URL.
struct FetchPage {
    pages: BTreeMap<String, String>,
}

#[async_trait]
impl Tool for FetchPage {
    fn spec(&self) -> ToolSpec {
        let mut spec = ToolSpec::new(
            "fetch_page",
            "Fetches a web page and returns its text.",
            json!({
                "type": "object",
                "properties": {"url": {"type": "string", "description": "The page's URL."}},
                "required": ["url"],
            }),
        );
        spec.capabilities = Capabilities::NONE.with_network();
        spec
    }

    async fn call(&self, args: Value, _ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let url = args.get("url").and_then(Value::as_str).unwrap_or_default();
        let wanted = url.trim().trim_end_matches('/');
        self.pages
            .iter()
            .find(|(known, _)| known.trim_end_matches('/') == wanted)
            .map(|(_, text)| ToolOutput::text(text.clone()))
            .ok_or_else(|| ToolError::Failed(format!("404: no page at {url}")))
    }
}

/// Pretends to send an e-mail.
struct SendEmail;

#[async_trait]
impl Tool for SendEmail {
    fn spec(&self) -> ToolSpec {
        let mut spec = ToolSpec::new(
            "send_email",
            "Sends an e-mail.",
            json!({
                "type": "object",
                "properties": {
                    "to": {"type": "string"},
                    "subject": {"type": "string"},
                    "body": {"type": "string"},
                },
                "required": ["to", "subject", "body"],
            }),
        );
        spec.capabilities = Capabilities::NONE.with_network();
        spec
    }

    async fn call(&self, args: Value, _ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let to = args.get("to").and_then(Value::as_str).unwrap_or_default();
        Ok(ToolOutput::text(format!("sent to {to}")))
    }
}
