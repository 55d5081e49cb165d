//! MCP servers for `run` and `chat`: `--mcp NAME=COMMAND ARG...` (or `NAME=URL`) flags, with
//! `--mcp-ca NAME=PATH` for a server behind a private CA, and a workflow's
//! `mcp:` section, connected before the model loads, their tools (`NAME__TOOL`) added to
//! the run's registry. `AGENTRY_MCP_TIMEOUT=SECONDS` sets the time each server has to
//! start (its handshake) and to answer each page of its tool list.

use std::path::PathBuf;
use std::time::Duration;

use agentry_tools::{McpError, McpServer, McpServerConfig, ToolRegistry};
use anyhow::Context;

/// The environment variable that sets, in seconds, the time limit for each MCP server's
/// handshake and for each page of its tool list (`McpLimits::connect` and `list`).
pub const TIMEOUT_VAR: &str = "AGENTRY_MCP_TIMEOUT";

/// The servers of `--mcp` flags (`NAME=COMMAND ARG...`, split on whitespace, or
/// `NAME=http(s)://...`), each named by a `--mcp-ca NAME=PATH` of `cas` trusting the CA
/// certificates of the PEM file `PATH` (read now, so a bad file stops the command before
/// anything starts).
///
/// # Errors
/// A flag that is not `NAME=COMMAND`; a `--mcp-ca` that is not `NAME=PATH`, names no
/// `--mcp` server, names one that is not at an `https://` URL or twice, or whose file
/// cannot be used. Each message starts with the flag.
pub fn from_flags(flags: &[String], cas: &[String]) -> anyhow::Result<Vec<McpServerConfig>> {
    let mut configs = flags
        .iter()
        .map(|flag| McpServerConfig::parse_cli(flag).map_err(|e| anyhow::anyhow!("--mcp: {e}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    for flag in cas {
        let Some((name, path)) = flag
            .split_once('=')
            .map(|(name, path)| (name.trim(), path.trim()))
            .filter(|(name, path)| !name.is_empty() && !path.is_empty())
        else {
            anyhow::bail!("--mcp-ca: `{flag}` is not NAME=PATH (e.g. wiki=certs/ca.pem)");
        };
        let Some(config) = configs.iter_mut().find(|c| c.name == name) else {
            anyhow::bail!(
                "--mcp-ca {flag}: no --mcp server is named `{name}` (a workflow's `mcp:` \
                 server takes `ca_cert:` instead)"
            );
        };
        match config.url.as_deref() {
            None => anyhow::bail!(
                "--mcp-ca {flag}: `{name}` is a stdio server; a CA certificate is for a \
                 server at an https:// URL"
            ),
            Some(url) if !url.starts_with("https://") => anyhow::bail!(
                "--mcp-ca {flag}: `{name}` is at {url}; a CA certificate is for a server \
                 at an https:// URL"
            ),
            Some(_) => {}
        }
        if config.ca_cert.is_some() {
            anyhow::bail!("--mcp-ca {flag}: `{name}` already has a --mcp-ca");
        }
        config.ca_cert = Some(PathBuf::from(path));
        config
            .check_ca_cert()
            .map_err(|e| anyhow::anyhow!("--mcp-ca {flag}: {e}"))?;
    }
    Ok(configs)
}

/// Starts every server of `configs`, in order; one that cannot start (or whose tools are
/// refused) stops the whole command, naming it.
///
/// # Errors
/// The first server that fails, with why.
pub async fn connect_all(configs: Vec<McpServerConfig>) -> anyhow::Result<Vec<McpServer>> {
    let timeout = timeout_from_env()?;
    let mut servers: Vec<McpServer> = Vec::with_capacity(configs.len());
    for mut config in configs {
        if servers.iter().any(|s| s.name() == config.name) {
            anyhow::bail!("two MCP servers are named `{}`", config.name);
        }
        if let Some(limit) = timeout {
            config.limits.connect = limit;
            config.limits.list = limit;
        }
        let name = config.name.clone();
        let server = McpServer::connect(config)
            .await
            .map_err(with_remedy)
            .with_context(|| format!("connecting MCP server `{name}`"))?;
        servers.push(server);
    }
    Ok(servers)
}

/// [`TIMEOUT_VAR`] as a duration, when set.
///
/// # Errors
/// A value that is not a positive number of seconds.
fn timeout_from_env() -> anyhow::Result<Option<Duration>> {
    let Ok(value) = std::env::var(TIMEOUT_VAR) else {
        return Ok(None);
    };
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|secs| secs.is_finite() && *secs > 0.0 && *secs <= 86_400.0)
        .map(|secs| Some(Duration::from_secs_f64(secs)))
        .ok_or_else(|| {
            anyhow::anyhow!("{TIMEOUT_VAR}=`{value}`: not a number of seconds (0 < N <= 86400)")
        })
}

/// `error`, and for a time limit reached, how to raise it with this command.
fn with_remedy(error: McpError) -> anyhow::Error {
    match &error {
        McpError::Timeout { .. } => anyhow::anyhow!(
            "{error}; with agentry, set {TIMEOUT_VAR}=SECONDS (e.g. {TIMEOUT_VAR}=120)"
        ),
        _ => error.into(),
    }
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
