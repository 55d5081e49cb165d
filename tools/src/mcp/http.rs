//! The streamable HTTP transport of the client: a `reqwest` client (TLS through rustls
//! with the `ring` provider, the system's roots and the server's own CA file, see
//! [`tls`]) and the transport's
//! configuration from an [`McpServerConfig`]: its URL, headers, bearer token and bounds
//! on what one response may hold.

use std::collections::HashMap;

use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;

use super::{McpError, McpServerConfig, tls};

/// Most bytes of one JSON response or one server-sent event (a tool list, a result).
const MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;

/// The transport to the server at `url`, with the configuration's headers and token.
pub(super) fn transport(
    config: &McpServerConfig,
    url: &str,
) -> Result<StreamableHttpClientTransport<reqwest_mcp::Client>, McpError> {
    let invalid = |message: String| McpError::InvalidConfig {
        server: config.name.clone(),
        message,
    };
    let parsed = url::Url::parse(url).map_err(|e| invalid(format!("url `{url}`: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid(format!(
            "url `{url}`: the scheme must be http or https"
        )));
    }
    let mut headers = HashMap::new();
    for (name, value) in &config.headers {
        let header = http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| invalid(format!("header `{name}`: {e}")))?;
        let value = http::HeaderValue::from_str(value)
            .map_err(|e| invalid(format!("the value of header `{name}`: {e}")))?;
        headers.insert(header, value);
    }
    let mut transport_config = StreamableHttpClientTransportConfig::with_uri(url)
        .custom_headers(headers)
        .max_json_response_size(MAX_RESPONSE_BYTES)
        .max_sse_event_size(MAX_RESPONSE_BYTES)
        .control_request_timeout(config.limits.list);
    if let Some(var) = &config.bearer_token_env {
        let token = std::env::var(var).map_err(|_| McpError::MissingToken {
            server: config.name.clone(),
            var: var.clone(),
        })?;
        transport_config = transport_config.auth_header(token);
    }
    let client = client(config)?;
    Ok(StreamableHttpClientTransport::with_client(
        client,
        transport_config,
    ))
}

/// A client that gives up connecting after the connect limit; TLS as [`tls`] configures.
fn client(config: &McpServerConfig) -> Result<reqwest_mcp::Client, McpError> {
    let tls = tls::client_config(config)?;
    reqwest_mcp::Client::builder()
        .connect_timeout(config.limits.connect)
        .tls_backend_preconfigured(tls)
        .build()
        .map_err(|e| McpError::InvalidConfig {
            server: config.name.clone(),
            message: format!("no HTTP client: {e}"),
        })
}
