//! One tool of an MCP server as a [`Tool`]: a call goes to the server's current
//! connection; a server that has exited gives an observation that says so.

use std::sync::Arc;

use async_trait::async_trait;
use rmcp::model::{CallToolRequestParams, CallToolResult, ContentBlock};
use serde_json::Value;

use super::{Connection, is_up};
use crate::error::ToolError;
use crate::spec::ToolSpec;
use crate::tool::{Tool, ToolContext, ToolOutput};

pub(super) struct McpTool {
    remote_name: String,
    spec: ToolSpec,
    connection: Arc<Connection>,
}

impl McpTool {
    pub(super) fn new(remote_name: String, spec: ToolSpec, connection: Arc<Connection>) -> Self {
        Self {
            remote_name,
            spec,
            connection,
        }
    }
}

#[async_trait]
impl Tool for McpTool {
    fn spec(&self) -> ToolSpec {
        self.spec.clone()
    }

    async fn call(&self, args: Value, _ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let server = &self.connection.config.name;
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
        let client = self.connection.client();
        if !is_up(&client) {
            return Err(ToolError::failed(format!(
                "MCP server `{server}` is not running (its process exited or was closed); \
                 it must be reconnected before its tools can be used"
            )));
        }
        let result = client.call_tool(params).await.map_err(|e| {
            let state = if is_up(&client) {
                ""
            } else {
                " (the server is no longer running)"
            };
            ToolError::failed(format!("MCP server `{server}` failed: {e}{state}"))
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
