//! `notifications/tools/list_changed` honoured: a server written with the official Python
//! SDK (`tests/fixtures/growing_server.py`, run by the venv of
//! `scripts/install-mcp-servers.sh`) adds a tool while running and says so; the client
//! lists the tools again by itself and the new tool can be called.

#[allow(dead_code)]
#[path = "support/mcp_servers.rs"]
mod mcp_servers;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use agentry_tools::{McpServer, McpServerConfig, Policy, ToolCall, ToolRegistry};
use serde_json::json;

/// The venv's Python, which has the `mcp` SDK; a missing install fails with what to run.
fn python() -> PathBuf {
    mcp_servers::program("venv/bin/python")
}

fn names(server: &McpServer) -> Vec<String> {
    let mut names: Vec<String> = server.tools().iter().map(|t| t.spec().name).collect();
    names.sort();
    names
}

#[tokio::test]
async fn a_changed_tool_list_is_listed_again_and_its_new_tool_works() {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/growing_server.py"
    );
    let config = McpServerConfig::new("grow", python().to_string_lossy())
        .args([script])
        .read_only();
    let server = McpServer::connect(config).await.expect("the server starts");
    assert_eq!(names(&server), ["grow__grow"]);

    let mut registry = ToolRegistry::new();
    registry.register_all(server.tools()).expect("register");
    let policy = Policy::allow_all();
    let grown = registry
        .call(&ToolCall::new("1", "grow__grow", json!({})), &policy)
        .await;
    assert!(grown.observation().contains("grown"), "{grown:?}");

    // The notification arrives with the result; the new list follows in the background.
    let deadline = Instant::now() + Duration::from_secs(10);
    while names(&server) != ["grow__extra", "grow__grow"] {
        assert!(
            Instant::now() < deadline,
            "the tools were not listed again: {:?}",
            names(&server)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let remote: Vec<String> = server
        .remote_tools()
        .iter()
        .map(|t| t.name.to_string())
        .collect();
    assert!(remote.contains(&"extra".to_string()), "{remote:?}");

    // The new tool, registered from the new list, is called on the server.
    let mut fresh = ToolRegistry::new();
    fresh.register_all(server.tools()).expect("register");
    let extra = fresh
        .call(
            &ToolCall::new("2", "grow__extra", json!({"text": "hello"})),
            &policy,
        )
        .await;
    assert!(extra.observation().contains("extra: hello"), "{extra:?}");

    // Nothing changed since: an explicit refresh says so.
    assert!(!server.refresh().await.expect("refresh"));
    server.close();
}
