//! The MCP client against a misbehaving server (`agentry-mcp-bad-server`, written for
//! these tests): every limit the client keeps is reached and reported clearly.

use std::time::Duration;

use agentry_tools::{
    Capabilities, McpError, McpLimits, McpServer, McpServerConfig, Policy, ToolCall, ToolFailure,
    ToolRegistry,
};
use serde_json::json;

const BAD_SERVER: &str = env!("CARGO_BIN_EXE_agentry-mcp-bad-server");

fn bad(mode: &str) -> McpServerConfig {
    McpServerConfig::new("bad", BAD_SERVER).args([mode])
}

/// Short limits: a test that reaches one asserts the error, never how long it took.
fn short() -> McpLimits {
    McpLimits {
        connect: Duration::from_millis(500),
        list: Duration::from_millis(500),
        call: Duration::from_millis(500),
        ..McpLimits::default()
    }
}

async fn registry_of(server: &McpServer) -> ToolRegistry {
    let mut registry = ToolRegistry::new();
    registry
        .register_all(server.tools())
        .expect("the tools register");
    registry
}

#[tokio::test]
async fn a_server_that_never_answers_initialize_times_out() {
    let error = McpServer::connect(bad("silent").limits(short()))
        .await
        .err();
    assert!(
        matches!(
            &error,
            Some(McpError::Timeout {
                what: "`initialize`",
                ..
            })
        ),
        "{error:?}"
    );
    let message = error.map(|e| e.to_string()).unwrap_or_default();
    assert!(
        message.contains(&format!(
            "MCP server `bad` (`{BAD_SERVER} silent`) did not answer `initialize` within 500ms"
        )),
        "{message}"
    );
}

#[tokio::test]
async fn an_endless_cursor_is_refused() {
    let limits = McpLimits {
        max_pages: 7,
        ..McpLimits::default()
    };
    let error = McpServer::connect(bad("endless-pages").limits(limits))
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert_eq!(
        error,
        "MCP server `bad` sent more than 7 pages of `tools/list` (an endless cursor?); refused"
    );
}

#[tokio::test]
async fn an_exponential_schema_is_refused_at_load() {
    let error = McpServer::connect(bad("exponential-schema")).await.err();
    assert!(
        matches!(&error, Some(McpError::SchemaTooLarge { tool, .. }) if tool == "bomb"),
        "{error:?}"
    );
    let message = error.map(|e| e.to_string()).unwrap_or_default();
    assert!(
        message.contains("tool `bomb` of MCP server `bad` is refused: the schema grows past 20000"),
        "{message}"
    );
}

#[tokio::test]
async fn names_that_collide_after_sanitising_are_an_error_at_load() {
    let error = McpServer::connect(bad("colliding-names"))
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert_eq!(
        error,
        "MCP server `bad` offers tools `get.time` and `get_time`, which both become \
         `bad__get_time`; rename one on the server"
    );
}

#[tokio::test]
async fn the_child_sees_only_the_environment_it_is_given() {
    // Cargo runs tests with `CARGO_MANIFEST_DIR` set; it stands for a secret in the parent.
    assert!(std::env::var("CARGO_MANIFEST_DIR").is_ok());
    let config = bad("well-behaved")
        .env("AGENTRY_GIVEN", "given-value")
        .read_only();
    let server = McpServer::connect(config).await.expect("connects");
    let registry = registry_of(&server).await;
    let policy = Policy::default();
    let getenv = |id: &str, name: &str| ToolCall::new(id, "bad__getenv", json!({"name": name}));
    let secret = registry
        .call(&getenv("1", "CARGO_MANIFEST_DIR"), &policy)
        .await;
    assert_eq!(secret.observation(), "<unset>");
    let given = registry.call(&getenv("2", "AGENTRY_GIVEN"), &policy).await;
    assert_eq!(given.observation(), "given-value");
    let path = registry.call(&getenv("3", "PATH"), &policy).await;
    assert_eq!(
        path.observation(),
        std::env::var("PATH").unwrap_or_default()
    );
    server.close();
}

#[tokio::test]
async fn a_call_that_never_returns_times_out() {
    let server = McpServer::connect(bad("well-behaved").limits(short()).read_only())
        .await
        .expect("connects");
    let registry = registry_of(&server).await;
    let result = registry
        .call(
            &ToolCall::new("1", "bad__hang", json!({})),
            &Policy::default(),
        )
        .await;
    assert!(
        matches!(&result.outcome, Err(ToolFailure::TimedOut { after, .. }) if *after == Duration::from_millis(500)),
        "{result:?}"
    );
    server.close();
}

#[tokio::test]
async fn a_server_that_dies_is_an_observation_and_can_be_reconnected() {
    let server = McpServer::connect(bad("well-behaved").read_only())
        .await
        .expect("connects");
    let registry = registry_of(&server).await;
    let policy = Policy::default();
    let died = registry
        .call(&ToolCall::new("1", "bad__exit", json!({})), &policy)
        .await;
    assert!(died.outcome.is_err(), "{died:?}");
    assert!(died.observation().contains("MCP server `bad`"), "{died:?}");
    // Whatever the transport noticed first, the server is down now and says so.
    let mut after = registry
        .call(
            &ToolCall::new("2", "bad__getenv", json!({"name": "PATH"})),
            &policy,
        )
        .await;
    for attempt in 3..50 {
        if after.observation().contains("is not running") {
            break;
        }
        tokio::task::yield_now().await;
        after = registry
            .call(
                &ToolCall::new(attempt.to_string(), "bad__getenv", json!({"name": "PATH"})),
                &policy,
            )
            .await;
    }
    assert!(
        after
            .observation()
            .contains("MCP server `bad` is not running"),
        "{after:?}"
    );
    assert!(!server.is_running());

    server.reconnect().await.expect("restarts");
    assert!(server.is_running());
    let again = registry
        .call(
            &ToolCall::new("9", "bad__getenv", json!({"name": "AGENTRY_NONE"})),
            &policy,
        )
        .await;
    assert_eq!(again.observation(), "<unset>");
    server.close();
}

#[tokio::test]
async fn read_only_hints_count_only_when_trusted() {
    let untrusting = McpServer::connect(bad("annotated"))
        .await
        .expect("connects");
    let registry = registry_of(&untrusting).await;
    let look = registry.get("bad__look").map(|t| t.spec()).expect("look");
    assert_eq!(
        look.capabilities,
        Capabilities::ALL,
        "a hint alone is not trusted"
    );
    untrusting.close();

    let trusting = McpServer::connect(bad("annotated").trust_read_only_hints())
        .await
        .expect("connects");
    let registry = registry_of(&trusting).await;
    let look = registry.get("bad__look").map(|t| t.spec()).expect("look");
    assert_eq!(look.capabilities, Capabilities::NONE);
    assert!(look.output_is_untrusted());
    let touch = registry.get("bad__touch").map(|t| t.spec()).expect("touch");
    assert_eq!(touch.capabilities, Capabilities::ALL);
    // The read-only tool runs without approval; the other waits for it.
    let looked = registry
        .call(
            &ToolCall::new("1", "bad__look", json!({})),
            &Policy::default(),
        )
        .await;
    assert_eq!(looked.observation(), "done");
    let touched = registry
        .call(
            &ToolCall::new("2", "bad__touch", json!({})),
            &Policy::allow_all(),
        )
        .await;
    assert!(
        matches!(touched.outcome, Err(ToolFailure::NoApprover { .. })),
        "{touched:?}"
    );
    trusting.close();
}

#[tokio::test]
async fn descriptions_are_marked_untrusted() {
    let server = McpServer::connect(bad("well-behaved"))
        .await
        .expect("connects");
    let registry = registry_of(&server).await;
    let spec = registry
        .get("bad__getenv")
        .map(|t| t.spec())
        .expect("getenv");
    assert!(spec.untrusted_description);
    server.close();
}
