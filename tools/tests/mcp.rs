//! MCP end to end: start this crate's test server (rmcp server side) over stdio, list its
//! tools, register them, and call them through the registry with the real protocol.

use agentry_tools::{
    Capabilities, McpServer, McpServerConfig, Policy, ToolCall, ToolFailure, ToolRegistry, ToolSet,
};
use serde_json::json;

fn config() -> McpServerConfig {
    McpServerConfig::new("test", env!("CARGO_BIN_EXE_agentry-mcp-test-server"))
}

async fn connect(config: McpServerConfig) -> McpServer {
    McpServer::connect(config)
        .await
        .expect("the test MCP server starts")
}

#[tokio::test]
async fn mcp_round_trip_lists_and_calls_tools() {
    let mut config = config();
    config.capabilities = Capabilities::NONE;
    let server = connect(config).await;
    let mut remote: Vec<String> = server
        .remote_tools()
        .iter()
        .map(|t| t.name.to_string())
        .collect();
    remote.sort();
    assert_eq!(remote, ["add", "echo"]);

    let mut registry = ToolRegistry::new();
    registry
        .register_all(server.tools())
        .expect("MCP tools register");
    let names: Vec<&str> = registry.list().iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["test__add", "test__echo"]);
    let add = registry.get("test__add").map(|t| t.spec());
    assert_eq!(
        add.as_ref().map(|s| s.description.as_str()),
        Some("Adds two integers.")
    );
    assert_eq!(
        add.map(|s| s.parameters["properties"]["a"]["type"].clone()),
        Some(json!("integer"))
    );

    let policy = Policy::default();
    let sum = registry
        .call(
            &ToolCall::new("1", "test__add", json!({"a": 2, "b": 40})),
            &policy,
        )
        .await;
    assert_eq!(sum.observation(), "42");
    let echo = registry
        .call(
            &ToolCall::new("2", "test__echo", json!({"text": "héllo"})),
            &policy,
        )
        .await;
    assert_eq!(echo.observation(), "héllo");

    // The server's own schema validates arguments before anything is sent.
    let bad = registry
        .call(
            &ToolCall::new("3", "test__add", json!({"a": "two"})),
            &policy,
        )
        .await;
    assert!(
        matches!(bad.outcome, Err(ToolFailure::InvalidArguments { .. })),
        "{bad:?}"
    );

    // MCP tools are offered to the planner like any other tool.
    let offered: Vec<&str> = registry
        .permitted(&policy)
        .iter()
        .map(|spec| spec.name.as_str())
        .collect();
    assert_eq!(offered.first(), Some(&"test__add"));

    server.close();
}

#[tokio::test]
async fn mcp_tools_declare_every_capability_by_default() {
    let server = connect(config()).await;
    let mut registry = ToolRegistry::new();
    registry
        .register_all(server.tools())
        .expect("MCP tools register");
    let result = registry
        .call(
            &ToolCall::new("1", "test__add", json!({"a": 1, "b": 1})),
            &Policy::default(),
        )
        .await;
    assert!(
        result
            .observation()
            .contains("not granted: network, read_files, write_files, run_processes"),
        "{result:?}"
    );
    // Granted, its calls have side effects: they wait for approval...
    let held = registry
        .call(
            &ToolCall::new("2", "test__add", json!({"a": 1, "b": 1})),
            &Policy::allow_all(),
        )
        .await;
    assert!(
        matches!(held.outcome, Err(ToolFailure::NoApprover { .. })),
        "{held:?}"
    );
    assert!(
        held.observation().contains("--approve test__add"),
        "{held:?}"
    );
    // ...unless pre-approved.
    let approved = Policy::allow_all().approve(&ToolSet::named(["test__add"]));
    let granted = registry
        .call(
            &ToolCall::new("3", "test__add", json!({"a": 1, "b": 1})),
            &approved,
        )
        .await;
    assert_eq!(granted.observation(), "2");
    server.close();
}

#[tokio::test]
async fn a_read_only_server_runs_without_approval_and_its_output_is_untrusted() {
    let server = connect(config().read_only()).await;
    let mut registry = ToolRegistry::new();
    registry
        .register_all(server.tools())
        .expect("MCP tools register");
    let spec = registry.get("test__add").map(|t| t.spec()).expect("spec");
    assert!(spec.side_effects().is_empty());
    assert!(spec.output_is_untrusted());
    let sum = registry
        .call(
            &ToolCall::new("1", "test__add", json!({"a": 1, "b": 1})),
            &Policy::default(),
        )
        .await;
    assert_eq!(sum.observation(), "2");
    server.close();
}

#[tokio::test]
async fn a_bad_server_command_is_an_error() {
    let error = McpServer::connect(McpServerConfig::new(
        "missing",
        "/nonexistent/agentry-mcp-server",
    ))
    .await
    .err()
    .map(|e| e.to_string());
    assert!(error.is_some_and(|e| e.contains("cannot start MCP server `missing`")));
    let error = McpServer::connect(McpServerConfig::new("bad name", "true"))
        .await
        .err()
        .map(|e| e.to_string());
    assert!(error.is_some_and(|e| e.contains("invalid MCP server name `bad name`")));
}
