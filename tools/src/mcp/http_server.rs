//! [`McpToolServer`] over streamable HTTP: an axum router with the MCP endpoint at
//! `/mcp`, each session served by its own copy of the server, an optional bearer token,
//! loopback `Host` headers only unless the address is not loopback, and a graceful stop.

use std::future::Future;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use super::{McpServeError, McpToolServer};

/// The path of the MCP endpoint.
pub const MCP_PATH: &str = "/mcp";
/// Most bytes of one request body.
const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

/// How [`McpToolServer::serve_http`] serves.
#[derive(Debug, Clone, Default)]
pub struct HttpOptions {
    /// The bearer token every request must carry (`Authorization: Bearer TOKEN`); none:
    /// no check.
    pub api_key: Option<String>,
    /// Accept any `Host` header (a server reached by a public name); by default only
    /// `localhost`, `127.0.0.1` and `::1` are accepted, against DNS rebinding.
    pub any_host: bool,
}

impl McpToolServer {
    /// Serves MCP clients over streamable HTTP on `listener` (endpoint [`MCP_PATH`])
    /// until `shutdown` completes, then closes the sessions and returns.
    ///
    /// # Errors
    /// The HTTP server failed.
    pub async fn serve_http(
        self,
        listener: tokio::net::TcpListener,
        options: HttpOptions,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), McpServeError> {
        let stop = CancellationToken::new();
        let mut config = StreamableHttpServerConfig::default()
            .with_cancellation_token(stop.child_token())
            .with_max_request_body_bytes(MAX_REQUEST_BYTES);
        if options.any_host {
            config = config.disable_allowed_hosts();
        }
        let template = Arc::new(self);
        let service = StreamableHttpService::new(
            move || Ok(template.fresh()),
            Arc::new(LocalSessionManager::default()),
            config,
        );
        let mut router = axum::Router::new().nest_service(MCP_PATH, service);
        if let Some(key) = options.api_key {
            router = router.layer(axum::middleware::from_fn_with_state(
                Arc::<str>::from(key),
                require_token,
            ));
        }
        let stopping = stop.clone();
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                shutdown.await;
                // Open event streams end, so that the graceful stop does not wait on them.
                stopping.cancel();
            })
            .await
            .map_err(|e| McpServeError::Http(e.to_string()))
    }
}

/// Lets a request through only with `Authorization: Bearer KEY`.
async fn require_token(State(key): State<Arc<str>>, request: Request, next: Next) -> Response {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(token) if same(token.as_bytes(), key.as_bytes()) => next.run(request).await,
        _ => (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "a bearer token is required (Authorization: Bearer ...)",
        )
            .into_response(),
    }
}

/// Compares two byte strings in time that depends only on their lengths.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_compare_whole() {
        assert!(super::same(b"secret", b"secret"));
        assert!(!super::same(b"secret", b"secreT"));
        assert!(!super::same(b"secret", b"secret2"));
        assert!(!super::same(b"", b"x"));
    }
}
