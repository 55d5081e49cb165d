//! MCP client: start an MCP server as a child process (stdio transport, `rmcp`), list
//! its tools, and expose each as a [`Tool`] named `<server>__<tool>`.
//!
//! The separator `__` keeps names valid for OpenAI (`^[a-zA-Z0-9_-]+$`) and for a JSON
//! Schema `const`; characters of a server's tool name outside that set become `_`, and
//! the original name is used on the wire. What an MCP tool does is unknown to us, so its
//! tools declare every capability by default ([`McpServer::with_capabilities`] narrows
//! that for a server you trust).

use std::sync::Arc;

use async_trait::async_trait;
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, CallToolResult, ContentBlock};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::TokioChildProcess;
use serde_json::Value;

use crate::error::ToolError;
use crate::spec::{Capabilities, ToolSpec, is_valid_tool_name};
use crate::tool::{Tool, ToolContext, ToolOutput};

/// The separator between server name and tool name.
pub const SEPARATOR: &str = "__";

/// Why an MCP server could not be used.
#[derive(Debug, thiserror::Error)]
pub enum McpError {
    /// The server name is not usable as a tool-name prefix.
    #[error("invalid MCP server name `{0}`: use 1 to 32 of a-z, A-Z, 0-9, `_` and `-`")]
    InvalidName(String),
    /// The server process could not be started.
    #[error("cannot start MCP server `{server}`: {source}")]
    Spawn {
        /// The server's name.
        server: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The MCP handshake failed.
    #[error("MCP server `{server}` did not complete the handshake: {message}")]
    Handshake {
        /// The server's name.
        server: String,
        /// What went wrong.
        message: String,
    },
    /// Listing the server's tools failed.
    #[error("cannot list the tools of MCP server `{server}`: {message}")]
    ListTools {
        /// The server's name.
        server: String,
        /// What went wrong.
        message: String,
    },
}

type Client = RunningService<RoleClient, ()>;

/// A connected MCP server and the tools it offers.
pub struct McpServer {
    name: String,
    client: Arc<Client>,
    tools: Vec<rmcp::model::Tool>,
    capabilities: Capabilities,
    needs_approval: bool,
}

impl std::fmt::Debug for McpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpServer")
            .field("name", &self.name)
            .field(
                "tools",
                &self.tools.iter().map(|t| &t.name).collect::<Vec<_>>(),
            )
            .field("capabilities", &self.capabilities)
            .field("needs_approval", &self.needs_approval)
            .finish()
    }
}

impl McpServer {
    /// Starts `command` as an MCP server speaking over its stdin/stdout, performs the
    /// handshake and lists its tools.
    ///
    /// # Errors
    /// An invalid `name`, a process that cannot start, a failed handshake or listing.
    pub async fn spawn(
        name: impl Into<String>,
        command: tokio::process::Command,
    ) -> Result<Self, McpError> {
        let name = name.into();
        if name.len() > 32 || !is_valid_tool_name(&name) {
            return Err(McpError::InvalidName(name));
        }
        let transport = TokioChildProcess::new(command).map_err(|source| McpError::Spawn {
            server: name.clone(),
            source,
        })?;
        let client = ().serve(transport).await.map_err(|e| McpError::Handshake {
            server: name.clone(),
            message: e.to_string(),
        })?;
        let tools = client
            .list_all_tools()
            .await
            .map_err(|e| McpError::ListTools {
                server: name.clone(),
                message: e.to_string(),
            })?;
        Ok(Self {
            name,
            client: Arc::new(client),
            tools,
            capabilities: Capabilities::ALL,
            needs_approval: false,
        })
    }

    /// The capabilities this server's tools declare (default: all, so every call has side
    /// effects and waits for approval unless pre-approved; see [`McpServer::read_only`]).
    pub fn with_capabilities(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = capabilities;
        self
    }

    /// Declares this server's tools read-only: they have no side effects (no capability),
    /// so their calls run without approval; their output is still untrusted text.
    pub fn read_only(mut self) -> Self {
        self.capabilities = Capabilities::NONE;
        self
    }

    /// Whether this server's tools ask approval for every call, side effects or not
    /// (default: no; with the default capabilities every call waits for approval
    /// unless the policy pre-approves it).
    pub fn with_approval(mut self, needs_approval: bool) -> Self {
        self.needs_approval = needs_approval;
        self
    }

    /// The server's name (the prefix of its tools' names).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The tools as the server listed them.
    pub fn remote_tools(&self) -> &[rmcp::model::Tool] {
        &self.tools
    }

    /// The server's tools as [`Tool`]s named `<server>__<tool>`. Tools whose prefixed
    /// name would exceed 64 characters are left out (with a warning).
    pub fn tools(&self) -> Vec<Arc<dyn Tool>> {
        self.tools
            .iter()
            .filter_map(|remote| {
                let name = format!("{}{SEPARATOR}{}", self.name, sanitize(&remote.name));
                if !is_valid_tool_name(&name) {
                    tracing::warn!(server = %self.name, tool = %remote.name, "MCP tool name too long; skipped");
                    return None;
                }
                let mut spec = ToolSpec::new(
                    name,
                    remote.description.as_deref().unwrap_or_default(),
                    Value::Object((*remote.input_schema).clone()),
                );
                spec.capabilities = self.capabilities;
                spec.needs_approval = self.needs_approval;
                // What a server returns is text from outside the run.
                spec.untrusted_output = true;
                Some(Arc::new(McpTool {
                    server: self.name.clone(),
                    remote_name: remote.name.to_string(),
                    spec,
                    client: self.client.clone(),
                }) as Arc<dyn Tool>)
            })
            .collect()
    }

    /// Stops the server connection (the child process is ended). Tools obtained from
    /// [`McpServer::tools`] fail with an observation afterwards.
    pub fn close(self) {
        self.client.cancellation_token().cancel();
    }
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// One tool of an MCP server.
struct McpTool {
    server: String,
    remote_name: String,
    spec: ToolSpec,
    client: Arc<Client>,
}

#[async_trait]
impl Tool for McpTool {
    fn spec(&self) -> ToolSpec {
        self.spec.clone()
    }

    async fn call(&self, args: Value, _ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let mut params = CallToolRequestParams::new(self.remote_name.clone());
        match args {
            Value::Object(map) => params = params.with_arguments(map),
            Value::Null => {}
            other => {
                return Err(ToolError::InvalidArguments {
                    tool: self.spec.name.clone(),
                    message: format!("arguments must be a JSON object, not {other}"),
                });
            }
        }
        let result =
            self.client.call_tool(params).await.map_err(|e| {
                ToolError::failed(format!("MCP server `{}` failed: {e}", self.server))
            })?;
        output_of(result)
    }
}

fn output_of(result: CallToolResult) -> Result<ToolOutput, ToolError> {
    let text = result
        .content
        .iter()
        .map(|block| match block {
            ContentBlock::Text(text) => text.text.clone(),
            ContentBlock::Image(_) => "[image]".to_owned(),
            ContentBlock::Audio(_) => "[audio]".to_owned(),
            _ => "[non-text content]".to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    if result.is_error == Some(true) {
        return Err(ToolError::Failed(text));
    }
    Ok(match result.structured_content {
        Some(value) => ToolOutput::json(value),
        None => ToolOutput::text(text),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sanitised() {
        assert_eq!(sanitize("get.weather/now"), "get_weather_now");
        assert_eq!(sanitize("ok-name_1"), "ok-name_1");
    }
}
