//! MCP servers for `run` and `chat`: `--mcp NAME=COMMAND ARG...` (or `NAME=URL`) flags and a workflow's
//! `mcp:` section, connected before the model loads, their tools (`NAME__TOOL`) added to
//! the run's registry.

use agentry_tools::{McpServer, McpServerConfig, ToolRegistry};
use anyhow::Context;

/// The servers of `--mcp` flags (`NAME=COMMAND ARG...`, split on whitespace, or
/// `NAME=http(s)://...`).
///
/// # Errors
/// A flag that is not `NAME=COMMAND`.
pub fn from_flags(flags: &[String]) -> anyhow::Result<Vec<McpServerConfig>> {
    flags
        .iter()
        .map(|flag| McpServerConfig::parse_cli(flag).map_err(|e| anyhow::anyhow!("--mcp: {e}")))
        .collect()
}

/// Starts every server of `configs`, in order; one that cannot start (or whose tools are
/// refused) stops the whole command, naming it.
///
/// # Errors
/// The first server that fails, with why.
pub async fn connect_all(configs: Vec<McpServerConfig>) -> anyhow::Result<Vec<McpServer>> {
    let mut servers: Vec<McpServer> = Vec::with_capacity(configs.len());
    for config in configs {
        if servers.iter().any(|s| s.name() == config.name) {
            anyhow::bail!("two MCP servers are named `{}`", config.name);
        }
        let name = config.name.clone();
        let server = McpServer::connect(config)
            .await
            .with_context(|| format!("connecting MCP server `{name}`"))?;
        servers.push(server);
    }
    Ok(servers)
}

/// The names of the tools of `servers` (`NAME__TOOL`).
pub fn tool_names(servers: &[McpServer]) -> Vec<String> {
    servers
        .iter()
        .flat_map(|s| s.tools())
        .map(|t| t.spec().name)
        .collect()
}

/// Adds the tools of `servers` to `registry`.
///
/// # Errors
/// A name already taken (by a built-in tool, say).
pub fn register(registry: &mut ToolRegistry, servers: &[McpServer]) -> anyhow::Result<()> {
    for server in servers {
        registry
            .register_all(server.tools())
            .with_context(|| format!("adding the tools of MCP server `{}`", server.name()))?;
    }
    Ok(())
}
