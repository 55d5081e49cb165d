//! MCP server: offer the tools of a [`ToolRegistry`] to MCP clients (editors, desktop
//! assistants, other agents), each call going through the registry under one [`Policy`].
//!
//! - `tools/list` gives every tool the policy permits, its argument schema as
//!   `inputSchema` and `readOnlyHint` set for tools without side effects.
//! - `tools/call` checks the arguments against the schema first (a bad call is a tool
//!   error, `isError: true`, never a protocol error or a crash), then decides approval
//!   with the one rule of [`crate::hold()`]: a call with side effects that the policy
//!   does not pre-approve is put to the client's user as an elicitation when the client
//!   declared the elicitation capability (on protocol 2026-07-28 and later as an
//!   `InputRequiredResult` the client answers by retrying the call, before that as an
//!   `elicitation/create` request), and refused with a message naming the remedy
//!   otherwise. A declined elicitation is a refused result.
//! - a result is text content (the output rendered as the model would see it), plus
//!   `structuredContent` when the output is a JSON object;
//! - a client that sends a progress token gets `notifications/progress` from tools
//!   that report progress ([`crate::ProgressSink`]);
//! - a client's `notifications/cancelled` for a running call stops it: the call's work
//!   is dropped (a workflow run ends where it is) and no result is sent.
//!
//! It serves one client over stdio ([`McpToolServer::serve_stdio`]) or any number over
//! streamable HTTP ([`McpToolServer::serve_http`], each session its own server state).

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ElicitRequest,
    ElicitRequestParams, ElicitResult, ElicitationAction, ElicitationSchema, InputRequest,
    InputRequiredResult, ListToolsResult, PaginatedRequestParams, ProgressNotificationParam,
    ProtocolVersion, ServerCapabilities, ServerConfig, ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};
use serde_json::{Value, json};

use crate::call::{ApprovedCall, ToolCall};
use crate::hold::HoldReason;
use crate::policy::Policy;
use crate::registry::ToolRegistry;
use crate::tool::{Progress, ProgressSink};

/// The key of the approval question in an `InputRequiredResult`.
const APPROVAL_KEY: &str = "approve";
/// At most this many approval questions wait for their answer (older ones are dropped).
const MAX_PENDING: usize = 256;
/// How long the client's user may take to answer an `elicitation/create` question.
const ELICITATION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);
/// How long a finished call's last progress reports may take to go out.
const PROGRESS_FLUSH: std::time::Duration = std::time::Duration::from_secs(2);

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum McpServeError {
    /// The transport failed before the client finished `initialize`.
    #[error("the MCP session did not start: {0}")]
    Start(String),
    /// The session ended with an error.
    #[error("the MCP session failed: {0}")]
    Session(String),
    /// The HTTP server failed.
    #[error("the MCP HTTP server failed: {0}")]
    Http(String),
}

/// A call held for approval, waiting for the client's answer (`requestState`).
#[derive(Debug)]
struct Pending {
    state: String,
    tool: String,
    args: Value,
}

/// An MCP server offering the tools of a registry (see the [module docs](self)).
///
/// ```no_run
/// use std::sync::Arc;
/// use agentry_tools::{Policy, ToolRegistry, builtin::Calculator, mcp::McpToolServer};
///
/// # async fn serve() -> Result<(), agentry_tools::mcp::McpServeError> {
/// let mut tools = ToolRegistry::new();
/// tools.register(Calculator).unwrap();
/// McpToolServer::new(Arc::new(tools), Policy::allow_all())
///     .serve_stdio()
///     .await
/// # }
/// ```
pub struct McpToolServer {
    tools: Arc<ToolRegistry>,
    policy: Policy,
    name: String,
    instructions: Option<String>,
    pending: Mutex<VecDeque<Pending>>,
    next_state: AtomicU64,
}

impl McpToolServer {
    /// A server of `tools` under `policy`. The policy's approver is not used: held calls
    /// are put to the client (elicitation) or refused.
    pub fn new(tools: Arc<ToolRegistry>, policy: Policy) -> Self {
        Self {
            tools,
            policy,
            name: "agentry".into(),
            instructions: None,
            pending: Mutex::new(VecDeque::new()),
            next_state: AtomicU64::new(1),
        }
    }

    /// A server with the same tools, policy and instructions, and no pending approvals
    /// (one per HTTP session).
    pub(super) fn fresh(&self) -> Self {
        Self {
            tools: self.tools.clone(),
            policy: self.policy.clone(),
            name: self.name.clone(),
            instructions: self.instructions.clone(),
            pending: Mutex::new(VecDeque::new()),
            next_state: AtomicU64::new(1),
        }
    }

    /// Sets the instructions sent to the client at `initialize`.
    pub fn with_instructions(mut self, instructions: impl Into<String>) -> Self {
        self.instructions = Some(instructions.into());
        self
    }

    /// Serves one client over stdin and stdout until stdin closes (also before the
    /// client sent anything, which is no error).
    ///
    /// # Errors
    /// The session could not start or failed.
    pub async fn serve_stdio(self) -> Result<(), McpServeError> {
        let running = match self.serve(rmcp::transport::stdio()).await {
            Ok(running) => running,
            // Stdin closed before a client said anything: nothing to serve, no failure.
            Err(rmcp::service::ServerInitializeError::ConnectionClosed(why)) => {
                tracing::info!("stdin closed before initialize ({why})");
                return Ok(());
            }
            Err(e) => return Err(McpServeError::Start(e.to_string())),
        };
        running
            .waiting()
            .await
            .map(|_| ())
            .map_err(|e| McpServeError::Session(e.to_string()))
    }

    fn mcp_tools(&self) -> Vec<rmcp::model::Tool> {
        self.tools
            .permitted(&self.policy)
            .into_iter()
            .map(|spec| {
                let schema = match &spec.parameters {
                    Value::Object(map) => map.clone(),
                    _ => serde_json::Map::new(),
                };
                let mut tool = rmcp::model::Tool::new(
                    spec.name.clone(),
                    spec.description.clone(),
                    Arc::new(schema),
                );
                let read_only = spec.side_effects().is_empty() && !spec.needs_approval;
                tool.annotations = Some(ToolAnnotations::new().read_only(read_only));
                tool
            })
            .collect()
    }

    /// Keeps a held call until the client answers; the state names it.
    fn remember(&self, tool: &str, args: &Value) -> String {
        let n = self.next_state.fetch_add(1, Ordering::Relaxed);
        let state = format!("agentry-approval-{n}-{:x}", std::process::id());
        if let Ok(mut pending) = self.pending.lock() {
            if pending.len() >= MAX_PENDING {
                pending.pop_front();
            }
            pending.push_back(Pending {
                state: state.clone(),
                tool: tool.to_owned(),
                args: args.clone(),
            });
        }
        state
    }

    /// The held call named by `state`, taken out (each answer is used once).
    fn take(&self, state: &str) -> Option<Pending> {
        let mut pending = self.pending.lock().ok()?;
        let at = pending.iter().position(|p| p.state == state)?;
        pending.remove(at)
    }

    async fn call(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> CallToolResponse {
        let name = request.name.to_string();
        let args = Value::Object(request.arguments.clone().unwrap_or_default());
        let Some(tool) = self
            .tools
            .get(&name)
            .filter(|tool| self.policy.permits(&tool.spec()))
        else {
            let names: Vec<String> = self
                .tools
                .permitted(&self.policy)
                .into_iter()
                .map(|s| s.name.clone())
                .collect();
            return error_result(format!(
                "unknown tool `{name}`; tools: {}",
                names.join(", ")
            ))
            .into();
        };
        let spec = tool.spec();
        if let Some(failure) = self.tools.check_args(&name, &args) {
            return error_result(failure.to_string()).into();
        }
        if let Some(reason) = self.policy.hold(&spec, &[]) {
            match self
                .approval(&name, &args, &reason, &request, &context)
                .await
            {
                Decision::Approved => {}
                Decision::Ask(result) => return CallToolResponse::InputRequired(result),
                Decision::Refused(message) => return error_result(message).into(),
            }
        }
        let call = ApprovedCall::new(ToolCall::new(context.id.to_string(), name.clone(), args));
        let (progress, sending) = progress_sink(&context);
        let running = self
            .tools
            .call_approved_with_progress(&call, &self.policy, progress);
        // A `notifications/cancelled` for this request cancels its token: the call's work
        // is dropped here, and rmcp sends no response for a cancelled request.
        let result = tokio::select! {
            result = running => result,
            () = context.ct.cancelled() => {
                tracing::info!(tool = %name, "call cancelled by the client; its work is dropped");
                return error_result(format!("the call to `{name}` was cancelled")).into();
            }
        };
        // The last reports go out before the result.
        if let Some(sending) = sending {
            let _ = tokio::time::timeout(PROGRESS_FLUSH, sending).await;
        }
        match result.outcome {
            Ok(output) => {
                let mut done = CallToolResult::success(vec![ContentBlock::text(output.render())]);
                if let Value::Object(map) = output.value {
                    done.structured_content = Some(Value::Object(map));
                }
                done.into()
            }
            Err(failure) => error_result(failure.to_string()).into(),
        }
    }

    /// Decides on a held call: the client's answer to an earlier question, a new
    /// question, or a refusal.
    async fn approval(
        &self,
        name: &str,
        args: &Value,
        reason: &HoldReason,
        request: &CallToolRequestParams,
        context: &RequestContext<RoleServer>,
    ) -> Decision {
        let refused = |why: &str| {
            Decision::Refused(format!(
                "the call to `{name}` was not made: {reason}; {why}. Start the server with \
                 `--approve {name}` (or `--approve-all`) to let such calls run without asking"
            ))
        };
        if let Some(state) = &request.request_state {
            let answer = request
                .input_responses
                .as_ref()
                .and_then(|r| r.get(APPROVAL_KEY))
                .cloned();
            let Some(held) = self.take(state) else {
                return refused("the approval it answers is unknown or was already used");
            };
            if held.tool != name || &held.args != args {
                return refused("the approval answered was asked for another call");
            }
            return match answer.map(serde_json::from_value::<ElicitResult>) {
                Some(Ok(result)) => decided(name, result.action),
                Some(Err(e)) => {
                    refused(&format!("the client's answer is not an ElicitResult ({e})"))
                }
                None => refused("the client sent no answer to the approval question"),
            };
        }
        let can_ask = context
            .client_capabilities()
            .is_some_and(|caps| caps.elicitation.is_some());
        if !can_ask {
            return refused(
                "this MCP client cannot be asked (it did not declare the elicitation capability)",
            );
        }
        let params = ElicitRequestParams::FormElicitationParams {
            meta: None,
            message: format!("agentry: allow {name}({args})? Held because {reason}."),
            requested_schema: match ElicitationSchema::from_json_schema(
                json!({"type": "object", "properties": {}})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            ) {
                Ok(schema) => schema,
                Err(e) => return refused(&format!("no approval form could be made ({e})")),
            },
        };
        let modern = context
            .protocol_version()
            .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28);
        if modern {
            let state = self.remember(name, args);
            let mut questions = BTreeMap::new();
            questions.insert(
                APPROVAL_KEY.to_owned(),
                InputRequest::Elicitation(ElicitRequest::new(params)),
            );
            return Decision::Ask(InputRequiredResult::new(Some(questions), Some(state)));
        }
        let asked = context
            .peer
            .create_elicitation_with_timeout(params, Some(ELICITATION_TIMEOUT))
            .await;
        match asked {
            Ok(result) => decided(name, result.action),
            Err(e) => refused(&format!("asking the client failed ({e})")),
        }
    }
}

/// What became of a held call.
enum Decision {
    Approved,
    Ask(InputRequiredResult),
    Refused(String),
}

fn decided(name: &str, action: ElicitationAction) -> Decision {
    match action {
        ElicitationAction::Accept => Decision::Approved,
        ElicitationAction::Decline => Decision::Refused(format!(
            "the call to `{name}` was not made: the user declined it"
        )),
        _ => Decision::Refused(format!(
            "the call to `{name}` was not made: the user cancelled the approval"
        )),
    }
}

fn error_result(message: String) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message)])
}

/// Progress reports of the call as `notifications/progress`, in order, when the client
/// sent a progress token; else a sink that drops them. The task sending them ends when
/// every clone of the sink is dropped.
fn progress_sink(
    context: &RequestContext<RoleServer>,
) -> (ProgressSink, Option<tokio::task::JoinHandle<()>>) {
    let Some(token) = context.meta.get_progress_token() else {
        return (ProgressSink::default(), None);
    };
    let (send, mut receive) = tokio::sync::mpsc::unbounded_channel::<Progress>();
    let peer = context.peer.clone();
    let sending = tokio::spawn(async move {
        while let Some(progress) = receive.recv().await {
            let mut param = ProgressNotificationParam::new(token.clone(), progress.done);
            param.total = progress.total;
            param.message = Some(progress.message);
            if let Err(e) = peer.notify_progress(param).await {
                tracing::debug!("progress notification not sent: {e}");
                break;
            }
        }
    });
    let sink = ProgressSink::new(move |progress| {
        let _ = send.send(progress);
    });
    (sink, Some(sending))
}

impl ServerHandler for McpToolServer {
    fn get_info(&self) -> ServerConfig {
        let mut info = ServerConfig::new(ServerCapabilities::builder().enable_tools().build());
        info.server_info.name = self.name.clone();
        info.server_info.version = env!("CARGO_PKG_VERSION").to_owned();
        info.instructions = self.instructions.clone();
        info
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.mcp_tools()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        Ok(self.call(request, context).await)
    }
}
