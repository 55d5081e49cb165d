//! MCP client: start an MCP server as a child process (stdio transport, `rmcp`) or reach
//! it at a URL (streamable HTTP), list its tools, and expose each as a [`Tool`] named
//! `<server>__<tool>`.
//!
//! The separator `__` keeps names valid for OpenAI (`^[a-zA-Z0-9_-]+$`) and for a JSON
//! Schema `const`; characters of a server's tool name outside that set become `_`, and
//! the original name is used on the wire. Two tools whose names become the same are an
//! error at load.
//!
//! A server is code no one here wrote, so the client keeps it at arm's length:
//! - it starts with only the environment its configuration sets plus [`BASE_ENV`]; a
//!   server at a URL gets only the configured headers and bearer token;
//! - connecting (process start and `initialize`), each `tools/list` page and each call
//!   have a time limit, the listing a bound on pages (and refuses a cursor sent twice),
//!   and each tool's argument schema a bound on its size once `$ref`s are inlined
//!   ([`McpLimits`]);
//! - what its tools do is unknown, so they declare every capability (calls wait for
//!   approval) unless the configuration says otherwise ([`McpServerConfig::read_only`],
//!   or [`McpServerConfig::trust_read_only_hints`] for the server's own annotations);
//! - its output is untrusted text, and so is its tool descriptions'
//!   ([`ToolSpec::untrusted_description`](crate::ToolSpec::untrusted_description));
//! - a server that exits (or stops answering at its URL) makes its calls fail as
//!   observations, and [`McpServer::reconnect`] starts (or reaches) it again;
//! - a handshake that fails says which server, where (its command line or URL) and why
//!   ([`HandshakeFailure`]): the exit status and last stderr lines of a process that
//!   ended first, what a program that is not an MCP server wrote on stdout, an unknown
//!   protocol version, a refused `initialize`, an HTTP status.
//!
//! The other direction, [`McpToolServer`], offers a registry's tools to MCP clients.

mod child;
mod config;
mod env;
mod handshake;
mod http;
mod http_server;
mod names;
mod server;
mod tls;
mod tool;

use std::sync::{Arc, Mutex};

use rmcp::ServiceExt;
use rmcp::model::PaginatedRequestParams;
use rmcp::service::{ClientInitializeError, RoleClient, RunningService};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

pub use config::{McpLimits, McpServerConfig};
pub use env::BASE_ENV;
pub use handshake::HandshakeFailure;
pub use http_server::{HttpOptions, MCP_PATH};
pub use server::{McpServeError, McpToolServer};

use crate::schema::inline_refs_bounded;
use crate::spec::{Capabilities, ToolSpec, is_valid_tool_name};
use crate::tool::{ProgressSink, Tool};

/// The separator between server name and tool name.
pub const SEPARATOR: &str = "__";

/// Why an MCP server could not be used.
#[derive(Debug, thiserror::Error)]
pub enum McpError {
    /// The server name is not usable as a tool-name prefix.
    #[error("invalid MCP server name `{0}`: use 1 to 32 of a-z, A-Z, 0-9, `_` and `-`")]
    InvalidName(String),
    /// The configuration cannot be used (a bad URL or header).
    #[error("MCP server `{server}`: {message}")]
    InvalidConfig {
        /// The server's name.
        server: String,
        /// What is wrong.
        message: String,
    },
    /// The environment variable of the server's bearer token is not set.
    #[error("MCP server `{server}`: the bearer token variable `{var}` is not set")]
    MissingToken {
        /// The server's name.
        server: String,
        /// The variable.
        var: String,
    },
    /// The CA certificate file of a server at a URL is missing, unreadable or holds no
    /// valid certificate.
    #[error(
        "MCP server `{server}`: cannot use the CA certificate file `{}`: {message}",
        path.display()
    )]
    CaCert {
        /// The server's name.
        server: String,
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The server at an `https://` URL showed a certificate no trusted root vouches for.
    #[error(
        "MCP server `{server}`: its TLS certificate is not trusted ({reason}); for a \
         server behind a private CA, trust that CA's PEM file (`ca_cert` in a workflow's \
         `mcp:`, `--mcp-ca {server}=PATH` on the command line)"
    )]
    UntrustedCertificate {
        /// The server's name.
        server: String,
        /// Why rustls refused it.
        reason: String,
    },
    /// The server process could not be started.
    #[error("cannot start MCP server `{server}` (`{command}`): {source}")]
    Spawn {
        /// The server's name.
        server: String,
        /// The program.
        command: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The MCP handshake failed: why, in [`HandshakeFailure`]'s words, and the last
    /// lines the process wrote on stderr.
    #[error(
        "MCP server `{server}` (`{target}`) {failure}{}",
        stderr_note(failure, stderr)
    )]
    Handshake {
        /// The server's name.
        server: String,
        /// Its command line or URL.
        target: String,
        /// What went wrong.
        failure: HandshakeFailure,
        /// The last lines of its stderr (a process), oldest first.
        stderr: Vec<String>,
    },
    /// The server did not answer within its time limit.
    #[error(
        "MCP server `{server}` (`{target}`) did not answer {what} within {limit:?}; if it \
         is only slow, raise the limit (`McpLimits::{setting}`){}",
        handshake::stderr_tail(stderr)
    )]
    Timeout {
        /// The server's name.
        server: String,
        /// Its command line or URL.
        target: String,
        /// What it was asked (`initialize`, `tools/list`).
        what: &'static str,
        /// The limit.
        limit: std::time::Duration,
        /// The field of [`McpLimits`] that sets the limit (`connect`, `list`).
        setting: &'static str,
        /// The last lines of its stderr (a process), oldest first.
        stderr: Vec<String>,
    },
    /// Listing the server's tools failed.
    #[error("cannot list the tools of MCP server `{server}`: {message}")]
    ListTools {
        /// The server's name.
        server: String,
        /// What went wrong.
        message: String,
    },
    /// The server kept sending a `tools/list` cursor past the page bound.
    #[error(
        "MCP server `{server}` sent more than {limit} pages of `tools/list` \
         (an endless cursor?); refused"
    )]
    TooManyPages {
        /// The server's name.
        server: String,
        /// The bound.
        limit: usize,
    },
    /// The server sent a `tools/list` cursor it had sent before: paging would not end.
    #[error(
        "MCP server `{server}` sent the `tools/list` cursor `{cursor}` a second time (page \
         {page}): its pagination loops; refused"
    )]
    CursorLoop {
        /// The server's name.
        server: String,
        /// The cursor sent again.
        cursor: String,
        /// The page (counting from 1) whose `nextCursor` repeats an earlier one.
        page: usize,
    },
    /// A tool's argument schema is too large once inlined.
    #[error("tool `{tool}` of MCP server `{server}` is refused: {source}")]
    SchemaTooLarge {
        /// The server's name.
        server: String,
        /// The tool's name on the server.
        tool: String,
        /// The bound that was reached.
        source: crate::schema::SchemaTooLarge,
    },
    /// Two of the server's tools have the same name once sanitised.
    #[error(
        "MCP server `{server}` offers tools `{first}` and `{second}`, which both become \
         `{name}`; rename one on the server"
    )]
    NameCollision {
        /// The server's name.
        server: String,
        /// One tool's name on the server.
        first: String,
        /// The other tool's name on the server.
        second: String,
        /// The name both become.
        name: String,
    },
}

/// The note on stderr that ends a handshake failure: its last lines, or that there
/// were none when the process exited.
fn stderr_note(failure: &HandshakeFailure, stderr: &[String]) -> String {
    if stderr.is_empty() && matches!(failure, HandshakeFailure::Exited { .. }) {
        return "; it wrote nothing on stderr".into();
    }
    handshake::stderr_tail(stderr)
}

type Client = RunningService<RoleClient, Notices>;

/// The client's side of a session: it marks a server's tool list as changed when the
/// server sends `notifications/tools/list_changed`, and wakes whoever re-reads it; and it
/// hands each `notifications/progress` to the sink of the call whose progress token it
/// names.
#[derive(Clone, Default)]
struct Notices {
    changed: Arc<ListChanged>,
    progress: Arc<ProgressRoutes>,
}

/// The progress sinks of the calls in flight, by the progress token of their request.
#[derive(Default)]
struct ProgressRoutes(Mutex<std::collections::HashMap<rmcp::model::ProgressToken, ProgressSink>>);

impl ProgressRoutes {
    /// Sends the progress reports under `token` to `sink` until the guard is dropped.
    fn route(
        self: &Arc<Self>,
        token: rmcp::model::ProgressToken,
        sink: ProgressSink,
    ) -> ProgressRoute {
        if sink.is_listening() {
            self.lock().insert(token.clone(), sink);
        }
        ProgressRoute {
            routes: self.clone(),
            token,
        }
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<
        '_,
        std::collections::HashMap<rmcp::model::ProgressToken, ProgressSink>,
    > {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A call's progress route; dropping it ends the route.
struct ProgressRoute {
    routes: Arc<ProgressRoutes>,
    token: rmcp::model::ProgressToken,
}

impl Drop for ProgressRoute {
    fn drop(&mut self) {
        self.routes.lock().remove(&self.token);
    }
}

/// Whether a server said its tools changed since they were last listed.
#[derive(Default)]
struct ListChanged {
    flag: std::sync::atomic::AtomicBool,
    wake: tokio::sync::Notify,
}

impl rmcp::ClientHandler for Notices {
    async fn on_tool_list_changed(&self, _context: rmcp::service::NotificationContext<RoleClient>) {
        tracing::info!("an MCP server's tool list changed");
        self.changed
            .flag
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.changed.wake.notify_waiters();
    }

    async fn on_progress(
        &self,
        params: rmcp::model::ProgressNotificationParam,
        _context: rmcp::service::NotificationContext<RoleClient>,
    ) {
        let sink = self.progress.lock().get(&params.progress_token).cloned();
        match sink {
            Some(sink) => {
                let message = params.message.unwrap_or_else(|| match params.total {
                    Some(total) => format!("{} of {total}", params.progress),
                    None => params.progress.to_string(),
                });
                sink.report(params.progress, params.total, message);
            }
            None => tracing::debug!(
                "progress for no call in flight: {:?}",
                params.progress_token
            ),
        }
    }
}

/// The live connection to one server, shared by its tools so that a reconnection
/// reaches them all.
struct Connection {
    config: McpServerConfig,
    client: Mutex<Arc<Client>>,
    notices: Notices,
}

impl Connection {
    fn client(&self) -> Arc<Client> {
        match self.client.lock() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn replace(&self, client: Client) {
        let old = match self.client.lock() {
            Ok(mut guard) => std::mem::replace(&mut *guard, Arc::new(client)),
            Err(poisoned) => std::mem::replace(&mut *poisoned.into_inner(), Arc::new(client)),
        };
        old.cancellation_token().cancel();
    }
}

/// The tools of a server as last listed.
struct Listing {
    remote: Vec<rmcp::model::Tool>,
    tools: Vec<Arc<dyn Tool>>,
}

/// A connected MCP server and the tools it offers.
///
/// When the server sends `notifications/tools/list_changed`, its tools are listed again
/// in the background (within the same limits and checks as at connect): [`McpServer::tools`]
/// and [`McpServer::remote_tools`] then give the new list. A registry filled earlier
/// keeps the tools it was given; a call to a tool the server dropped fails as an
/// observation.
pub struct McpServer {
    connection: Arc<Connection>,
    listing: Arc<Mutex<Listing>>,
}

impl std::fmt::Debug for McpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpServer")
            .field("config", &self.connection.config)
            .field(
                "tools",
                &self
                    .remote_tools()
                    .iter()
                    .map(|t| t.name.to_string())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl McpServer {
    /// Starts the server `config` describes (or reaches its URL), performs the
    /// handshake, lists its tools and checks them (names, schema sizes), each step within
    /// [`McpServerConfig::limits`].
    ///
    /// # Errors
    /// An invalid name or configuration, a process that cannot start, a failed or slow
    /// handshake or listing, too many pages, a tool schema too large, two tools with one
    /// name.
    pub async fn connect(config: McpServerConfig) -> Result<Self, McpError> {
        if config.name.len() > 32 || !is_valid_tool_name(&config.name) {
            return Err(McpError::InvalidName(config.name));
        }
        let notices = Notices::default();
        let client = start(&config, notices.clone()).await?;
        let remote = list_tools(&config, &client).await?;
        let connection = Arc::new(Connection {
            config,
            client: Mutex::new(Arc::new(client)),
            notices,
        });
        let tools = build_tools(&connection, &remote)?;
        let listing = Arc::new(Mutex::new(Listing { remote, tools }));
        tokio::spawn(follow_changes(
            Arc::downgrade(&connection),
            Arc::downgrade(&listing),
        ));
        Ok(Self {
            connection,
            listing,
        })
    }

    /// The server's name (the prefix of its tools' names).
    pub fn name(&self) -> &str {
        &self.connection.config.name
    }

    /// The configuration it was started from.
    pub fn config(&self) -> &McpServerConfig {
        &self.connection.config
    }

    /// The tools as the server last listed them.
    pub fn remote_tools(&self) -> Vec<rmcp::model::Tool> {
        lock(&self.listing).remote.clone()
    }

    /// The server's tools as [`Tool`]s named `<server>__<tool>`, as last listed. Tools
    /// whose prefixed name would exceed 64 characters are left out (with a warning).
    pub fn tools(&self) -> Vec<Arc<dyn Tool>> {
        lock(&self.listing).tools.clone()
    }

    /// Lists the server's tools again now (what a `notifications/tools/list_changed`
    /// does in the background); true when the list differs from the one before.
    ///
    /// # Errors
    /// As for the listing at [`McpServer::connect`]; the old list is kept.
    pub async fn refresh(&self) -> Result<bool, McpError> {
        relist(&self.connection, &self.listing).await
    }

    /// Whether the server's connection is up (false once its process has exited).
    pub fn is_running(&self) -> bool {
        is_up(&self.connection.client())
    }

    /// Starts the server again (after it died, or to pick up a new build), or opens a
    /// new session at its URL: the tools from [`McpServer::tools`] use the new
    /// connection. The tool list is not re-read; the tools keep the names and schemas
    /// they were loaded with.
    ///
    /// # Errors
    /// As [`McpServer::connect`] for starting and the handshake.
    pub async fn reconnect(&self) -> Result<(), McpError> {
        let client = start(&self.connection.config, self.connection.notices.clone()).await?;
        self.connection.replace(client);
        Ok(())
    }

    /// Stops the server connection (the child process is ended). Tools obtained from
    /// [`McpServer::tools`] fail with an observation afterwards.
    pub fn close(&self) {
        self.connection.client().cancellation_token().cancel();
    }
}

impl Drop for McpServer {
    fn drop(&mut self) {
        // Wakes the task following list changes, which then finds the server gone.
        self.connection.notices.changed.wake.notify_waiters();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Re-lists the tools each time the server says they changed, until the server is
/// dropped.
async fn follow_changes(
    connection: std::sync::Weak<Connection>,
    listing: std::sync::Weak<Mutex<Listing>>,
) {
    loop {
        let Some(changed) = connection.upgrade().map(|c| c.notices.changed.clone()) else {
            return;
        };
        let woken = changed.wake.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        if !changed.flag.load(std::sync::atomic::Ordering::SeqCst) {
            woken.await;
        }
        let (Some(connection), Some(listing)) = (connection.upgrade(), listing.upgrade()) else {
            return;
        };
        if !changed.flag.load(std::sync::atomic::Ordering::SeqCst) {
            continue;
        }
        if let Err(e) = relist(&connection, &listing).await {
            tracing::warn!(server = %connection.config.name, "re-listing tools failed: {e}");
        }
    }
}

/// Lists the tools again and replaces the listing when they pass the checks.
async fn relist(connection: &Arc<Connection>, listing: &Mutex<Listing>) -> Result<bool, McpError> {
    connection
        .notices
        .changed
        .flag
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let client = connection.client();
    let remote = list_tools(&connection.config, &client).await?;
    let tools = build_tools(connection, &remote)?;
    let mut current = lock(listing);
    let differs = current.remote != remote;
    if differs {
        tracing::info!(
            server = %connection.config.name,
            tools = remote.len(),
            "MCP server's tools listed again"
        );
    }
    *current = Listing { remote, tools };
    Ok(differs)
}

fn is_up(client: &Client) -> bool {
    !client.is_closed() && !client.peer().is_transport_closed()
}

/// Starts the process with a cleared environment (or reaches the URL) and performs the
/// handshake within the connect limit.
async fn start(config: &McpServerConfig, notices: Notices) -> Result<Client, McpError> {
    let client = match &config.url {
        Some(url) => start_http(config, url, notices).await?,
        None => start_process(config, notices).await?,
    };
    let version = client.peer_info().map(|info| info.protocol_version.clone());
    if let Some(Err(failure)) = version.as_ref().map(handshake::check_version) {
        // Dropping the client ends the session (and the process).
        return Err(handshake_error(config, failure, Vec::new()));
    }
    Ok(client)
}

fn handshake_error(
    config: &McpServerConfig,
    failure: HandshakeFailure,
    stderr: Vec<String>,
) -> McpError {
    McpError::Handshake {
        server: config.name.clone(),
        target: config.describe(),
        failure,
        stderr,
    }
}

fn connect_timeout(config: &McpServerConfig, stderr: Vec<String>) -> McpError {
    McpError::Timeout {
        server: config.name.clone(),
        target: config.describe(),
        what: "`initialize`",
        limit: config.limits.connect,
        setting: "connect",
        stderr,
    }
}

/// Opens a session at `url` within the connect limit.
async fn start_http(
    config: &McpServerConfig,
    url: &str,
    notices: Notices,
) -> Result<Client, McpError> {
    let transport = http::transport(config, url)?;
    match tokio::time::timeout(config.limits.connect, notices.serve(transport)).await {
        Err(_) => Err(connect_timeout(config, Vec::new())),
        Ok(Err(e)) => Err(match tls::refused_certificate(&e) {
            Some(reason) => McpError::UntrustedCertificate {
                server: config.name.clone(),
                reason,
            },
            None => handshake_error(config, handshake::http(e), Vec::new()),
        }),
        Ok(Ok(client)) => Ok(client),
    }
}

/// Starts the process with a cleared environment and performs the handshake within the
/// connect limit; a failure says what the process did (its exit status, stray output on
/// stdout, its last stderr lines).
async fn start_process(config: &McpServerConfig, notices: Notices) -> Result<Client, McpError> {
    let session = CancellationToken::new();
    let spawned = child::spawn(config, session.clone()).map_err(|source| McpError::Spawn {
        server: config.name.clone(),
        command: config.command.clone(),
        source,
    })?;
    let serving = notices.serve_with_ct(spawned.transport, session.clone());
    let outcome = tokio::time::timeout(config.limits.connect, serving).await;
    let watch = spawned.watch;
    match outcome {
        Ok(Ok(client)) => Ok(client),
        Err(_) => {
            let report = watch.report_now();
            session.cancel();
            Err(match report.stray {
                Some(line) => handshake_error(
                    config,
                    HandshakeFailure::NotMcp { line, exited: None },
                    report.stderr,
                ),
                None => connect_timeout(config, report.stderr),
            })
        }
        Ok(Err(e)) => {
            // Its output ended or was not MCP: give the process a moment to exit.
            let settles = matches!(
                e,
                ClientInitializeError::ConnectionClosed(_)
                    | ClientInitializeError::TransportError { .. }
            );
            let report = if settles {
                watch.report().await
            } else {
                watch.report_now()
            };
            session.cancel();
            let failure = handshake::stdio(e, &report);
            Err(handshake_error(config, failure, report.stderr))
        }
    }
}

/// Reads every page of `tools/list`, each within the time limit, at most
/// [`McpLimits::max_pages`] of them.
async fn list_tools(
    config: &McpServerConfig,
    client: &Client,
) -> Result<Vec<rmcp::model::Tool>, McpError> {
    let limits = &config.limits;
    let mut tools = Vec::new();
    let mut cursor: Option<String> = None;
    let mut seen = std::collections::HashSet::new();
    for number in 1..=limits.max_pages {
        let params = cursor
            .take()
            .map(|c| PaginatedRequestParams::default().with_cursor(Some(c)));
        let page = match tokio::time::timeout(limits.list, client.list_tools(params)).await {
            Err(_) => {
                return Err(McpError::Timeout {
                    server: config.name.clone(),
                    target: config.describe(),
                    what: "`tools/list`",
                    limit: limits.list,
                    setting: "list",
                    stderr: Vec::new(),
                });
            }
            Ok(Err(e)) => {
                return Err(McpError::ListTools {
                    server: config.name.clone(),
                    message: e.to_string(),
                });
            }
            Ok(Ok(page)) => page,
        };
        tools.extend(page.tools);
        match page.next_cursor {
            Some(next) if !seen.insert(next.clone()) => {
                return Err(McpError::CursorLoop {
                    server: config.name.clone(),
                    cursor: next,
                    page: number,
                });
            }
            Some(next) => cursor = Some(next),
            None => return Ok(tools),
        }
    }
    Err(McpError::TooManyPages {
        server: config.name.clone(),
        limit: limits.max_pages,
    })
}

/// The registry's tools for `remote`: names checked for collisions, schemas inlined
/// within the size bound, capabilities from the configuration (and the server's
/// read-only hints where trusted).
fn build_tools(
    connection: &Arc<Connection>,
    remote: &[rmcp::model::Tool],
) -> Result<Vec<Arc<dyn Tool>>, McpError> {
    let config = &connection.config;
    let local = names::local_names(&config.name, remote)?;
    let mut tools: Vec<Arc<dyn Tool>> = Vec::new();
    for (tool, name) in remote.iter().zip(local) {
        if !is_valid_tool_name(&name) {
            tracing::warn!(server = %config.name, tool = %tool.name, "MCP tool name too long; skipped");
            continue;
        }
        let schema = Value::Object((*tool.input_schema).clone());
        let parameters =
            inline_refs_bounded(&schema, config.limits.max_schema_values).map_err(|source| {
                McpError::SchemaTooLarge {
                    server: config.name.clone(),
                    tool: tool.name.to_string(),
                    source,
                }
            })?;
        let mut spec = ToolSpec::new(
            name,
            tool.description.as_deref().unwrap_or_default(),
            parameters,
        );
        let hinted_read_only = tool
            .annotations
            .as_ref()
            .and_then(|a| a.read_only_hint)
            .unwrap_or(false);
        spec.capabilities = if config.trust_read_only_hints && hinted_read_only {
            Capabilities::NONE
        } else {
            config.capabilities
        };
        spec.timeout = Some(config.limits.call);
        // What a server returns, and what it says of its tools, is text from outside.
        spec.untrusted_output = true;
        spec.untrusted_description = true;
        tools.push(Arc::new(tool::McpTool::new(
            tool.name.to_string(),
            spec,
            connection.clone(),
        )));
    }
    Ok(tools)
}
