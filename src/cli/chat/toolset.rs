//! The tools of the REPL's own agent: calculator and clock always; with `--files DIR`,
//! read_file and list_dir inside DIR, and write_file, whose every call asks the user.

use std::path::Path;
use std::sync::Arc;

use agentry_tools::builtin::{Calculator, Clock, FsRoot, ListDir, ReadFile, WriteFile};
use agentry_tools::{
    Approver, Capabilities, Policy, Tool, ToolContext, ToolError, ToolOutput, ToolRegistry,
    ToolSpec,
};
use anyhow::Context;
use async_trait::async_trait;
use serde_json::Value;

/// The registry, and the capabilities its tools need.
pub struct Toolset {
    /// The tools.
    pub registry: Arc<ToolRegistry>,
    /// What the policy grants.
    pub capabilities: Capabilities,
}

impl Toolset {
    /// Calculator and clock, plus the file tools over `files` when given.
    ///
    /// # Errors
    /// When `files` is not a folder that can be opened.
    pub fn new(files: Option<&Path>) -> anyhow::Result<Self> {
        let mut registry = ToolRegistry::new();
        registry.register(Calculator)?;
        registry.register(Clock)?;
        let mut capabilities = Capabilities::NONE;
        if let Some(dir) = files {
            let root = FsRoot::new(dir)
                .with_context(|| format!("--files {}: not a folder to work in", dir.display()))?;
            registry.register(ReadFile::new(root.clone()))?;
            registry.register(ListDir::new(root.clone()))?;
            registry.register(NeedsApproval::new(Arc::new(WriteFile::new(root))))?;
            capabilities = Capabilities {
                read_files: true,
                write_files: true,
                ..Capabilities::NONE
            };
        }
        Ok(Self {
            registry: Arc::new(registry),
            capabilities,
        })
    }

    /// With the tools of MCP `servers`; the policy grants what they declare, so a call to
    /// one with side effects (every call, unless the server is read-only) waits for
    /// approval.
    ///
    /// # Errors
    /// A tool name already taken.
    pub fn with_mcp(mut self, servers: &[agentry_tools::McpServer]) -> anyhow::Result<Self> {
        if servers.is_empty() {
            return Ok(self);
        }
        let registry = Arc::get_mut(&mut self.registry)
            .context("MCP tools are added before the toolset is shared")?;
        crate::cli::mcp::register(registry, servers)?;
        for server in servers {
            let caps = server.config().capabilities;
            self.capabilities = Capabilities {
                network: self.capabilities.network || caps.network,
                read_files: self.capabilities.read_files || caps.read_files,
                write_files: self.capabilities.write_files || caps.write_files,
                run_processes: self.capabilities.run_processes || caps.run_processes,
            };
        }
        Ok(self)
    }

    /// The policy: every tool here, their capabilities, and `approver` for the calls
    /// that need approval.
    pub fn policy(&self, approver: Arc<dyn Approver>) -> Policy {
        Policy::default()
            .with_capabilities(self.capabilities)
            .with_approver(approver)
    }
}

/// A tool whose every call must be approved, whatever its own spec says.
pub struct NeedsApproval {
    inner: Arc<dyn Tool>,
}

impl NeedsApproval {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Tool>) -> Self {
        Self { inner }
    }
}

#[async_trait]
impl Tool for NeedsApproval {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            needs_approval: true,
            ..self.inner.spec()
        }
    }

    async fn call(&self, args: Value, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        self.inner.call(args, ctx).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_files_only_pure_tools() {
        let tools = match Toolset::new(None) {
            Ok(tools) => tools,
            Err(e) => panic!("{e:#}"),
        };
        let names: Vec<String> = tools
            .registry
            .permitted(&Policy::default())
            .into_iter()
            .map(|spec| spec.name.clone())
            .collect();
        assert_eq!(names.len(), 2);
        assert!(names.contains(&"calculator".to_owned()));
        assert!(names.contains(&"clock".to_owned()));
        assert_eq!(tools.capabilities, Capabilities::NONE);
    }

    #[test]
    fn with_files_writing_needs_approval_and_reading_does_not() {
        let dir = match tempfile::tempdir() {
            Ok(dir) => dir,
            Err(e) => panic!("{e}"),
        };
        let tools = match Toolset::new(Some(dir.path())) {
            Ok(tools) => tools,
            Err(e) => panic!("{e:#}"),
        };
        let policy = Policy::default().with_capabilities(tools.capabilities);
        let specs = tools.registry.permitted(&policy);
        assert_eq!(specs.len(), 5);
        for spec in specs {
            assert_eq!(
                spec.needs_approval,
                spec.name == "write_file",
                "{}",
                spec.name
            );
        }
        assert!(Toolset::new(Some(&dir.path().join("missing"))).is_err());
    }
}
