//! The built-in tools a workflow or chat can use, rooted at the working directory.

use std::path::Path;

use agentry_tools::ToolRegistry;
use agentry_tools::builtin::{
    Calculator, Clock, FsRoot, HttpGet, HttpGetConfig, ListDir, ReadFile, WriteFile,
};
use anyhow::Context;

/// Names of the built-in tools, as workflows refer to them.
pub const BUILTIN_TOOLS: &[&str] = &[
    "calculator",
    "clock",
    "read_file",
    "list_dir",
    "write_file",
    "http_get",
];

/// A registry of the built-in tools; file tools are confined to `root`.
pub fn builtin_tools(root: &Path) -> anyhow::Result<ToolRegistry> {
    let fs =
        FsRoot::new(root).with_context(|| format!("opening {} for file tools", root.display()))?;
    let mut tools = ToolRegistry::new();
    tools.register(Calculator)?;
    tools.register(Clock)?;
    tools.register(ReadFile::new(fs.clone()))?;
    tools.register(ListDir::new(fs.clone()))?;
    tools.register(WriteFile::new(fs))?;
    tools.register(HttpGet::new(HttpGetConfig::default())?)?;
    Ok(tools)
}
