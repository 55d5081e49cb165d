//! The streamable HTTP client over TLS, against a real HTTPS MCP server: the official
//! Python SDK's streamable HTTP app served by uvicorn with a certificate from a CA the
//! fixture makes (`support/https_mcp_server.rs`). Trusted through `ca_cert`, its tools are listed and called; without
//! it, connecting fails at once saying the certificate is not trusted; a missing or
//! invalid CA file is an error naming the server and the file.

#[path = "support/https_mcp_server.rs"]
mod https_mcp_server;
#[allow(dead_code)]
#[path = "support/mcp_servers.rs"]
mod mcp_servers;

use std::path::Path;
use std::time::{Duration, Instant};

use agentry_tools::{
    McpError, McpLimits, McpServer, McpServerConfig, Policy, ToolCall, ToolRegistry,
};
use https_mcp_server::HttpsMcpServer;
use serde_json::json;

fn limits() -> McpLimits {
    McpLimits {
        connect: Duration::from_secs(20),
        ..McpLimits::default()
    }
}

#[tokio::test]
async fn a_server_behind_a_private_ca_is_listed_and_called_with_its_ca_cert() {
    let server = HttpsMcpServer::start();
    let config = McpServerConfig::http("tls", server.url())
        .ca_cert(server.ca())
        .limits(limits())
        .read_only();
    let client = McpServer::connect(config)
        .await
        .expect("connects over https with the CA trusted");
    let names: Vec<String> = client.tools().iter().map(|t| t.spec().name).collect();
    assert_eq!(names, ["tls__add"]);

    let mut registry = ToolRegistry::new();
    registry.register_all(client.tools()).expect("register");
    let result = registry
        .call(
            &ToolCall::new("1", "tls__add", json!({"a": 20, "b": 22})),
            &Policy::allow_all(),
        )
        .await;
    assert!(result.observation().contains("42"), "{result:?}");
    client.close();
}

#[tokio::test]
async fn without_the_ca_cert_connecting_fails_at_once_saying_the_certificate_is_not_trusted() {
    let server = HttpsMcpServer::start();
    let started = Instant::now();
    let error = McpServer::connect(McpServerConfig::http("tls", server.url()).limits(limits()))
        .await
        .expect_err("an unknown CA is refused");
    let message = error.to_string();
    assert!(
        !matches!(error, McpError::Timeout { .. }),
        "a timeout, not a refusal: {message}"
    );
    assert!(started.elapsed() < Duration::from_secs(10), "{message}");
    assert!(message.contains("`tls`"), "{message}");
    assert!(message.contains("not trusted"), "{message}");
    assert!(message.contains("ca_cert"), "{message}");
}

/// The error of connecting with `ca_cert` set to `path` (no server is needed: the file
/// is read first).
async fn ca_error(path: &Path) -> String {
    let config = McpServerConfig::http("private", "https://127.0.0.1:1/mcp").ca_cert(path);
    let error = McpServer::connect(config)
        .await
        .expect_err("the CA file is refused");
    assert!(matches!(error, McpError::CaCert { .. }), "{error}");
    let message = error.to_string();
    assert!(message.contains("`private`"), "{message}");
    assert!(message.contains(&path.display().to_string()), "{message}");
    message
}

#[tokio::test]
async fn a_missing_or_invalid_ca_file_is_an_error_naming_the_server_and_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");

    let missing = dir.path().join("missing.pem");
    let message = ca_error(&missing).await;
    assert!(message.contains("No such file"), "{message}");

    let text = dir.path().join("text.pem");
    std::fs::write(&text, "not a certificate\n").expect("write");
    let message = ca_error(&text).await;
    assert!(message.contains("BEGIN CERTIFICATE"), "{message}");

    let broken = dir.path().join("broken.pem");
    std::fs::write(
        &broken,
        "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
    )
    .expect("write");
    let message = ca_error(&broken).await;
    assert!(message.contains("not a usable CA certificate"), "{message}");

    let folder = dir.path().join("folder");
    std::fs::create_dir(&folder).expect("mkdir");
    ca_error(&folder).await;
}
