//! `tools/list` pagination against a server no one here wrote the protocol of: the
//! official Python SDK's low-level `Server` (`tests/fixtures/paged_server.py`, run by
//! the venv of `scripts/install-mcp-servers.sh`), which pages its 25 tools 10 at a time
//! with `nextCursor`. The client follows every cursor, and refuses a cursor that comes
//! round again.

#[allow(dead_code)]
#[path = "support/mcp_servers.rs"]
mod mcp_servers;

use agentry_tools::{McpError, McpServer, McpServerConfig, Policy, ToolCall, ToolRegistry};
use serde_json::json;

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/paged_server.py"
);

/// The paging server (`loop` for cursors that go round).
fn paged(args: &[&str]) -> McpServerConfig {
    let python = mcp_servers::python_with("mcp, mcp_types");
    let mut all = vec![SCRIPT];
    all.extend_from_slice(args);
    McpServerConfig::new("paged", python.to_string_lossy())
        .args(all)
        .read_only()
}

#[tokio::test]
async fn every_page_of_a_paging_sdk_server_is_read_and_its_last_tool_called() {
    let server = McpServer::connect(paged(&[]))
        .await
        .expect("the paging server starts and lists");
    let names: Vec<String> = server
        .remote_tools()
        .iter()
        .map(|t| t.name.to_string())
        .collect();
    let expected: Vec<String> = (0..25).map(|n| format!("tool_{n:02}")).collect();
    assert_eq!(names, expected, "all 25 tools, in the server's order");

    let mut registry = ToolRegistry::new();
    registry.register_all(server.tools()).expect("register");
    assert_eq!(registry.list().len(), 25);
    let result = registry
        .call(
            &ToolCall::new("1", "paged__tool_24", json!({"text": "from page 3"})),
            &Policy::default(),
        )
        .await;
    assert_eq!(result.observation(), "tool_24: from page 3");
    server.close();
}

#[tokio::test]
async fn a_cursor_that_comes_round_again_is_refused() {
    let error = McpServer::connect(paged(&["loop"]))
        .await
        .expect_err("a looping cursor is refused");
    assert!(
        matches!(&error, McpError::CursorLoop { cursor, page: 3, .. } if cursor == "a"),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "MCP server `paged` sent the `tools/list` cursor `a` a second time (page 3): its \
         pagination loops; refused"
    );
}
