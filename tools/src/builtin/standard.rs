//! The standard tool set: every built-in tool, the file tools confined to one
//! directory. It is what workflows and the REPL of `agentry` can name.

use std::path::{Path, PathBuf};

use super::{
    Calculator, Clock, FsRoot, HttpGet, HttpGetConfig, ListDir, ReadFile, WriteFile, WriteJsonl,
};
use crate::{RegistryError, ToolError, ToolRegistry};

/// Names of the tools in [`standard_tools`], as workflows refer to them.
pub const STANDARD_TOOLS: &[&str] = &[
    "calculator",
    "clock",
    "read_file",
    "list_dir",
    "write_file",
    "write_jsonl",
    "http_get",
];

/// Why the standard tool set could not be built.
#[derive(Debug, thiserror::Error)]
pub enum StandardToolsError {
    /// The directory for the file tools cannot be used.
    #[error("opening {} for the file tools: {source}", path.display())]
    Root {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: ToolError,
    },
    /// A tool could not be created.
    #[error(transparent)]
    Tool(#[from] ToolError),
    /// A tool could not be registered.
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

/// A registry of every built-in tool; the file tools are confined to `root`.
pub fn standard_tools(root: &Path) -> Result<ToolRegistry, StandardToolsError> {
    let fs = FsRoot::new(root).map_err(|source| StandardToolsError::Root {
        path: root.to_path_buf(),
        source,
    })?;
    let mut tools = ToolRegistry::new();
    tools.register(Calculator)?;
    tools.register(Clock)?;
    tools.register(ReadFile::new(fs.clone()))?;
    tools.register(ListDir::new(fs.clone()))?;
    tools.register(WriteFile::new(fs.clone()))?;
    tools.register(WriteJsonl::new(fs))?;
    tools.register(HttpGet::new(HttpGetConfig::default())?)?;
    Ok(tools)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_holds_exactly_the_named_tools() {
        let dir = tempfile::tempdir().expect("tempdir");
        let tools = standard_tools(dir.path()).expect("standard tools");
        let mut registered: Vec<&str> = tools.list().iter().map(|s| s.name.as_str()).collect();
        let mut named = STANDARD_TOOLS.to_vec();
        registered.sort_unstable();
        named.sort_unstable();
        assert_eq!(registered, named);
    }

    #[test]
    fn a_missing_root_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("not-here");
        let err = standard_tools(&missing).expect_err("missing root");
        assert!(
            err.to_string().contains("not-here"),
            "the message names the directory: {err}"
        );
    }
}
