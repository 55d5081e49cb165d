//! The built-in tools a workflow or chat can use, rooted at the working directory.

use std::path::Path;

use agentry_tools::ToolRegistry;
use agentry_tools::builtin::standard_tools;

/// Names of the built-in tools, as workflows refer to them.
pub use agentry_tools::builtin::STANDARD_TOOLS as BUILTIN_TOOLS;

/// A registry of the built-in tools; file tools are confined to `root`.
pub fn builtin_tools(root: &Path) -> anyhow::Result<ToolRegistry> {
    Ok(standard_tools(root)?)
}
