//! One tool of an MCP server as a [`Tool`]: a call goes to the server's current
//! connection; a server that has exited gives an observation that says so. The server's
//! progress notifications for a call reach the call's [`ProgressSink`](crate::ProgressSink),
//! and a call whose future is dropped is cancelled at the server.

use std::sync::Arc;

use async_trait::async_trait;
use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResult, CancelledNotificationParam,
    ClientRequest, ContentBlock, RequestId, ServerResult,
};
use rmcp::service::{Peer, PeerRequestOptions, RoleClient};
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

    async fn call(&self, args: Value, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
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
        let failed = |e: rmcp::ServiceError| {
            let state = if is_up(&client) {
                ""
            } else {
                " (the server is no longer running)"
            };
            ToolError::failed(format!("MCP server `{server}` failed: {e}{state}"))
        };
        // Sent as a request of our own (not `call_tool`) to know its progress token: the
        // server's progress notifications under it go to this call's sink.
        let request = ClientRequest::CallToolRequest(CallToolRequest::new(params));
        let handle = client
            .send_cancellable_request(request, PeerRequestOptions::no_options())
            .await
            .map_err(failed)?;
        let _route = self
            .connection
            .notices
            .progress
            .route(handle.progress_token.clone(), ctx.progress.clone());
        let mut abandoned = CancelOnDrop {
            peer: client.peer().clone(),
            id: Some(handle.id.clone()),
        };
        let response = handle.await_response().await;
        abandoned.id = None;
        match response.map_err(failed)? {
            ServerResult::CallToolResult(result) => output_of(result),
            // A result without content, as some servers answer.
            ServerResult::EmptyResult(_) => output_of(CallToolResult::default()),
            other => Err(ToolError::failed(format!(
                "MCP server `{server}` answered a tool call with another kind of result: {other:?}"
            ))),
        }
    }
}

/// Tells the server that a call was abandoned (its future dropped: a time limit, a
/// cancelled run) with `notifications/cancelled`, unless the answer came first.
struct CancelOnDrop {
    peer: Peer<RoleClient>,
    id: Option<RequestId>,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        let Some(id) = self.id.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let peer = self.peer.clone();
        runtime.spawn(async move {
            let params = CancelledNotificationParam::new(
                Some(id),
                Some("request abandoned by the caller".into()),
            );
            if let Err(e) = peer.notify_cancelled(params).await {
                tracing::debug!("the cancellation of an abandoned call was not sent: {e}");
            }
        });
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
