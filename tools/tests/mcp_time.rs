//! The MCP client against a server no one here wrote: `mcp-server-time` from PyPI,
//! installed by `scripts/install-mcp-servers.sh` (called by `scripts/install-deps.sh`).

#[allow(dead_code)]
#[path = "support/mcp_servers.rs"]
mod mcp_servers;

use std::path::PathBuf;

use agentry_tools::{
    Capabilities, McpServer, McpServerConfig, Policy, ToolCall, ToolFailure, ToolRegistry,
};
use serde_json::json;

/// The installed server; a missing install fails the test with what to run.
fn time_server() -> PathBuf {
    mcp_servers::program("venv/bin/mcp-server-time")
}

async fn connect(config: McpServerConfig) -> (McpServer, ToolRegistry) {
    let server = McpServer::connect(config)
        .await
        .expect("mcp-server-time starts");
    let mut registry = ToolRegistry::new();
    registry
        .register_all(server.tools())
        .expect("its tools register");
    (server, registry)
}

#[tokio::test]
async fn mcp_server_time_lists_its_tools_and_tells_the_time_in_a_zone() {
    let path = time_server();
    let config = McpServerConfig::new("time", path.to_string_lossy()).read_only();
    let (server, registry) = connect(config).await;
    let mut names: Vec<String> = registry.list().iter().map(|s| s.name.clone()).collect();
    names.sort();
    assert_eq!(names, ["time__convert_time", "time__get_current_time"]);
    let spec = registry
        .get("time__get_current_time")
        .map(|t| t.spec())
        .expect("get_current_time");
    assert_eq!(spec.parameters["required"], json!(["timezone"]));
    assert!(spec.untrusted_description && spec.output_is_untrusted());

    let result = registry
        .call(
            &ToolCall::new(
                "1",
                "time__get_current_time",
                json!({"timezone": "Asia/Tokyo"}),
            ),
            &Policy::default(),
        )
        .await;
    let value = result.outcome.expect("the call succeeds").value;
    assert_eq!(value["timezone"], "Asia/Tokyo", "{value}");
    assert_eq!(value["is_dst"], false, "{value}");
    let datetime = value["datetime"].as_str().expect("a datetime");
    let parsed = chrono::DateTime::parse_from_rfc3339(datetime).expect("an RFC 3339 time");
    assert_eq!(parsed.offset().local_minus_utc(), 9 * 3600, "{datetime}");
    // The same instant as ours, give or take the round trip (minutes, not exactness).
    let skew = (parsed.timestamp() - chrono::Utc::now().timestamp()).abs();
    assert!(skew < 600, "{datetime} is {skew}s away from now");

    // A zone that does not exist is the server's error, as an observation.
    let bad = registry
        .call(
            &ToolCall::new(
                "2",
                "time__get_current_time",
                json!({"timezone": "Mars/Olympus_Mons"}),
            ),
            &Policy::default(),
        )
        .await;
    assert!(
        matches!(&bad.outcome, Err(ToolFailure::Failed { .. })),
        "{bad:?}"
    );
    assert!(bad.observation().contains("Invalid timezone"), "{bad:?}");
    server.close();
}

#[tokio::test]
async fn mcp_server_time_read_only_hints_are_used_only_when_trusted() {
    let path = time_server();
    let (server, registry) = connect(McpServerConfig::new("time", path.to_string_lossy())).await;
    let spec = registry
        .get("time__get_current_time")
        .map(|t| t.spec())
        .expect("get_current_time");
    assert_eq!(spec.capabilities, Capabilities::ALL);
    server.close();

    let trusting = McpServerConfig::new("time", path.to_string_lossy()).trust_read_only_hints();
    let (server, registry) = connect(trusting).await;
    let spec = registry
        .get("time__get_current_time")
        .map(|t| t.spec())
        .expect("get_current_time");
    assert_eq!(spec.capabilities, Capabilities::NONE);
    server.close();
}
