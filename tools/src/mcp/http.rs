//! The streamable HTTP transport of the client: a `reqwest` client (TLS through rustls
//! with the `ring` provider and the system's root certificates) and the transport's
//! configuration from an [`McpServerConfig`]: its URL, headers, bearer token and bounds
//! on what one response may hold.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;

use super::{McpError, McpServerConfig};

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

/// A client that gives up connecting after the connect limit; TLS by rustls with `ring`.
fn client(config: &McpServerConfig) -> Result<reqwest_mcp::Client, McpError> {
    let fail = |message: String| McpError::InvalidConfig {
        server: config.name.clone(),
        message,
    };
    let tls = tls().map_err(|e| fail(format!("no TLS configuration: {e}")))?;
    reqwest_mcp::Client::builder()
        .connect_timeout(config.limits.connect)
        .tls_backend_preconfigured((*tls).clone())
        .build()
        .map_err(|e| fail(format!("no HTTP client: {e}")))
}

/// The TLS configuration: the system's root certificates, `ring` as the provider (made
/// once per process).
fn tls() -> Result<Arc<rustls::ClientConfig>, String> {
    static TLS: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    TLS.get_or_init(|| {
        let mut roots = rustls::RootCertStore::empty();
        let found = rustls_native_certs::load_native_certs();
        for error in &found.errors {
            tracing::debug!("a system root certificate was not read: {error}");
        }
        let (added, ignored) = roots.add_parsable_certificates(found.certs);
        tracing::debug!("TLS roots: {added} added, {ignored} ignored");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map(|builder| Arc::new(builder.with_root_certificates(roots).with_no_client_auth()))
            .map_err(|e| e.to_string())
    })
    .clone()
}
