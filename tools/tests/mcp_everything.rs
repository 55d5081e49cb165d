//! The MCP client against `@modelcontextprotocol/server-everything` (npm), the protocol's
//! reference server, installed by `scripts/install-mcp-servers.sh` (called by
//! `scripts/install-deps.sh`): over stdio, and over streamable HTTP (its
//! `streamableHttp` mode on a free loopback port). Its tools used here annotate
//! themselves read-only, and the configurations take them at their word. Its progress
//! notifications reach the caller's sink; its `isError` results are observations.

#[allow(dead_code)]
#[path = "support/mcp_servers.rs"]
mod mcp_servers;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agentry_tools::{
    ApprovedCall, McpLimits, McpServer, McpServerConfig, Policy, Progress, ProgressSink, ToolCall,
    ToolFailure, ToolRegistry,
};
use serde_json::json;

/// The installed server's program; a missing install fails the test with what to run.
fn everything() -> PathBuf {
    mcp_servers::everything()
}

fn registry_of(server: &McpServer) -> ToolRegistry {
    let mut registry = ToolRegistry::new();
    registry
        .register_all(server.tools())
        .expect("its tools register");
    registry
}

/// The calls every transport must get right: a plain result, arithmetic, structured
/// content with its output schema, and arguments the schema refuses.
async fn exercise(registry: &ToolRegistry) {
    let names: Vec<String> = registry.list().iter().map(|s| s.name.clone()).collect();
    for wanted in [
        "all__echo",
        "all__get-sum",
        "all__get-structured-content",
        "all__trigger-long-running-operation",
    ] {
        assert!(names.iter().any(|n| n == wanted), "{wanted} in {names:?}");
    }
    let policy = Policy::allow_all();
    let call = |id: &str, tool: &str, args: serde_json::Value| ToolCall::new(id, tool, args);

    let echo = registry
        .call(
            &call("1", "all__echo", json!({"message": "hi there"})),
            &policy,
        )
        .await;
    let text = echo.outcome.expect("echo answers").render();
    assert!(text.contains("Echo: hi there"), "{text}");

    let sum = registry
        .call(
            &call("2", "all__get-sum", json!({"a": 2, "b": 40})),
            &policy,
        )
        .await;
    let text = sum.outcome.expect("get-sum answers").render();
    assert!(text.contains("is 42"), "{text}");

    let weather = registry
        .call(
            &call(
                "3",
                "all__get-structured-content",
                json!({"location": "Chicago"}),
            ),
            &policy,
        )
        .await;
    let output = weather.outcome.expect("structured content");
    assert!(
        output.value["temperature"].is_number() && output.value["conditions"].is_string(),
        "structured content kept as JSON: {}",
        output.value
    );

    let bad = registry
        .call(&call("4", "all__get-sum", json!({"a": "two"})), &policy)
        .await;
    match bad.outcome {
        Err(ToolFailure::InvalidArguments { errors, .. }) => {
            assert!(!errors.is_empty(), "the schema's complaints are given")
        }
        other => panic!("arguments against the schema are refused before the call: {other:?}"),
    }
}

#[tokio::test]
async fn server_everything_over_stdio_lists_calls_and_refuses_bad_arguments() {
    let path = everything();
    let config = McpServerConfig::new("all", path.to_string_lossy())
        .args(["stdio"])
        .trust_read_only_hints();
    let started = Instant::now();
    let server = McpServer::connect(config)
        .await
        .expect("server-everything starts");
    eprintln!("stdio connect and list: {:?}", started.elapsed());
    let registry = registry_of(&server);
    exercise(&registry).await;
    server.close();
}

/// server-everything in `streamableHttp` mode on `port`, its output discarded.
struct HttpEverything(Child);

impl HttpEverything {
    fn start(port: u16) -> Self {
        let child = Command::new(everything())
            .arg("streamableHttp")
            .env("PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("server-everything starts");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "server-everything listens on {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Self(child)
    }

    fn stop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for HttpEverything {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[tokio::test]
async fn server_everything_over_streamable_http_with_time_limits_and_a_restart() {
    let port = free_port();
    let mut process = HttpEverything::start(port);
    let url = format!("http://127.0.0.1:{port}/mcp");
    let limits = McpLimits {
        call: Duration::from_secs(2),
        ..McpLimits::default()
    };
    let config = McpServerConfig::http("all", &url)
        .limits(limits)
        .trust_read_only_hints();
    let started = Instant::now();
    let server = McpServer::connect(config)
        .await
        .expect("connects over HTTP");
    eprintln!("HTTP connect and list: {:?}", started.elapsed());
    assert_eq!(server.config().describe(), url);
    let registry = registry_of(&server);
    exercise(&registry).await;
    let policy = Policy::allow_all();

    // A long operation within the call limit completes; one beyond it is cut off.
    let quick = registry
        .call(
            &ToolCall::new(
                "5",
                "all__trigger-long-running-operation",
                json!({"duration": 0.5, "steps": 2}),
            ),
            &policy,
        )
        .await;
    let text = quick.outcome.expect("a short operation completes").render();
    assert!(text.contains("completed"), "{text}");
    let slow_started = Instant::now();
    let slow = registry
        .call(
            &ToolCall::new(
                "6",
                "all__trigger-long-running-operation",
                json!({"duration": 30, "steps": 3}),
            ),
            &policy,
        )
        .await;
    assert!(
        matches!(slow.outcome, Err(ToolFailure::TimedOut { .. })),
        "the call limit ends a slow call: {:?}",
        slow.outcome
    );
    assert!(slow_started.elapsed() < Duration::from_secs(10));

    // The server goes away: a call is an observation, not a hang or a panic.
    process.stop();
    let gone_started = Instant::now();
    let gone = registry
        .call(
            &ToolCall::new("7", "all__echo", json!({"message": "anyone?"})),
            &policy,
        )
        .await;
    let failure = gone.outcome.expect_err("no server, no answer");
    assert!(
        failure.to_string().contains("MCP server `all`"),
        "the observation names the server: {failure}"
    );
    assert!(gone_started.elapsed() < Duration::from_secs(10));

    // It comes back: a reconnection opens a new session and the same tools work.
    let _process = HttpEverything::start(port);
    server.reconnect().await.expect("reconnects over HTTP");
    let back = registry
        .call(
            &ToolCall::new("8", "all__echo", json!({"message": "back"})),
            &policy,
        )
        .await;
    let text = back.outcome.expect("echo after the restart").render();
    assert!(text.contains("Echo: back"), "{text}");
    server.close();
}

#[tokio::test]
async fn a_url_that_answers_nothing_fails_within_the_connect_limit() {
    // A port nobody listens on: connection refused, reported with the server's name.
    let port = free_port();
    let limits = McpLimits {
        connect: Duration::from_secs(3),
        ..McpLimits::default()
    };
    let config =
        McpServerConfig::http("nobody", format!("http://127.0.0.1:{port}/mcp")).limits(limits);
    let started = Instant::now();
    let error = McpServer::connect(config)
        .await
        .expect_err("no server there");
    assert!(error.to_string().contains("`nobody`"), "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );

    // A listener that accepts and never answers: the connect limit ends the wait.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().expect("addr").port();
    let config =
        McpServerConfig::http("silent", format!("http://127.0.0.1:{port}/mcp")).limits(limits);
    let started = Instant::now();
    let error = McpServer::connect(config).await.expect_err("no answer");
    assert!(
        error
            .to_string()
            .contains("did not answer `initialize` within 3s"),
        "{error}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    drop(silent);

    // A missing token variable is named before anything is sent.
    let config = McpServerConfig::http("locked", "http://127.0.0.1:1/mcp")
        .bearer_token_env("AGENTRY_TEST_SURELY_UNSET_TOKEN");
    let error = McpServer::connect(config).await.expect_err("no token");
    assert!(
        error
            .to_string()
            .contains("`AGENTRY_TEST_SURELY_UNSET_TOKEN` is not set"),
        "{error}"
    );
}

#[tokio::test]
async fn server_everythings_progress_reaches_the_callers_sink_and_its_errors_are_observations() {
    let config = McpServerConfig::new("all", everything().to_string_lossy())
        .args(["stdio"])
        .trust_read_only_hints();
    let server = McpServer::connect(config)
        .await
        .expect("server-everything starts");
    let registry = registry_of(&server);
    let policy = Policy::allow_all();

    // Its long-running operation reports each step under the request's progress token.
    let seen: Arc<Mutex<Vec<Progress>>> = Arc::default();
    let sink = {
        let seen = seen.clone();
        ProgressSink::new(move |progress| seen.lock().unwrap().push(progress))
    };
    let long = ApprovedCall::new(ToolCall::new(
        "1",
        "all__trigger-long-running-operation",
        json!({"duration": 0.6, "steps": 3}),
    ));
    let done = registry
        .call_approved_with_progress(&long, &policy, sink)
        .await;
    let text = done.outcome.expect("the operation completes").render();
    assert!(text.contains("completed"), "{text}");
    let seen = seen.lock().unwrap().clone();
    let steps: Vec<(f64, Option<f64>)> = seen.iter().map(|p| (p.done, p.total)).collect();
    assert_eq!(
        steps,
        vec![(1.0, Some(3.0)), (2.0, Some(3.0)), (3.0, Some(3.0))],
        "every step's progress reached the sink: {seen:?}"
    );
    assert_eq!(
        seen[0].message, "1 of 3",
        "a message for a person: {seen:?}"
    );

    // A call that the schema allows but the tool refuses comes back with `isError`: an
    // observation that carries the server's words, not a crash or a success.
    let refused = registry
        .call(
            &ToolCall::new(
                "2",
                "all__get-resource-reference",
                json!({"resourceType": "Text", "resourceId": 0}),
            ),
            &policy,
        )
        .await;
    match refused.outcome {
        Err(ToolFailure::Failed { message, .. }) => {
            assert!(message.contains("Invalid resourceId"), "{message}")
        }
        other => panic!("the server's isError result is a failed observation: {other:?}"),
    }
    server.close();
}
