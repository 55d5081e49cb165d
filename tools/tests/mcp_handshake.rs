//! A failed handshake says what and where: the server's name, its command line or URL,
//! and the reason in plain words. Against misbehaving servers: `agentry-mcp-bad-server`
//! (written for these tests) and, for servers at a URL, a listener in the test that
//! answers every request with one fixed HTTP response.

use std::io::{Read, Write};
use std::time::Duration;

use agentry_tools::{HandshakeFailure, McpError, McpLimits, McpServer, McpServerConfig};

const BAD_SERVER: &str = env!("CARGO_BIN_EXE_agentry-mcp-bad-server");

fn bad(mode: &str) -> McpServerConfig {
    McpServerConfig::new("bad", BAD_SERVER).args([mode])
}

fn short() -> McpLimits {
    McpLimits {
        connect: Duration::from_millis(1500),
        ..McpLimits::default()
    }
}

async fn failure_of(config: McpServerConfig) -> (HandshakeFailure, Vec<String>, String) {
    let error = McpServer::connect(config)
        .await
        .expect_err("the handshake fails");
    let message = error.to_string();
    match error {
        McpError::Handshake {
            failure, stderr, ..
        } => (failure, stderr, message),
        other => panic!("not a handshake failure: {other:?}"),
    }
}

#[tokio::test]
async fn a_process_that_exits_first_gives_its_status_and_last_stderr_lines() {
    let (failure, stderr, message) = failure_of(bad("exit-early")).await;
    assert_eq!(
        failure,
        HandshakeFailure::Exited {
            status: "exit status: 3".into()
        }
    );
    assert_eq!(
        stderr,
        [
            "bad-server: reading its configuration",
            "bad-server: fatal: no configuration file at /nonexistent/bad.toml"
        ]
    );
    assert_eq!(
        message,
        format!(
            "MCP server `bad` (`{BAD_SERVER} exit-early`) exited before the MCP handshake \
             (exit status: 3); the last lines of its stderr:\n  \
             | bad-server: reading its configuration\n  \
             | bad-server: fatal: no configuration file at /nonexistent/bad.toml"
        )
    );
}

#[tokio::test]
async fn a_program_that_is_not_an_mcp_server_is_named_so_with_what_it_wrote() {
    let (failure, _, message) = failure_of(bad("not-mcp")).await;
    assert_eq!(
        failure,
        HandshakeFailure::NotMcp {
            line: "Usage: bad-server MODE".into(),
            exited: Some("exit status: 0".into()),
        }
    );
    assert!(
        message.starts_with(&format!(
            "MCP server `bad` (`{BAD_SERVER} not-mcp`) is not an MCP server (or not started \
             as one): it wrote `Usage: bad-server MODE` on stdout, where JSON-RPC messages \
             were expected; then it exited (exit status: 0)"
        )),
        "{message}"
    );

    // One that writes a banner and then says nothing: not a bare timeout either.
    let (failure, stderr, _) = failure_of(bad("banner").limits(short())).await;
    assert_eq!(
        failure,
        HandshakeFailure::NotMcp {
            line: "bad-server 0.1 ready".into(),
            exited: None,
        }
    );
    assert_eq!(stderr, ["bad-server: warming up"]);
}

#[tokio::test]
async fn an_unknown_protocol_version_and_a_refused_initialize_are_named() {
    let (failure, _, message) = failure_of(bad("old-protocol")).await;
    assert_eq!(
        failure,
        HandshakeFailure::ProtocolVersion {
            version: "1999-01-01".into()
        }
    );
    assert!(
        message.contains(
            "answered `initialize` with MCP protocol version `1999-01-01`, which this client \
             does not speak (it speaks 2024-11-05, "
        ),
        "{message}"
    );

    let (failure, _, message) = failure_of(bad("refuse-initialize")).await;
    assert_eq!(
        failure,
        HandshakeFailure::Refused {
            code: -32602,
            message: "Unsupported protocol version".into()
        }
    );
    assert!(
        message.ends_with(
            "refused `initialize`: Unsupported protocol version (JSON-RPC error -32602)"
        ),
        "{message}"
    );
}

#[tokio::test]
async fn a_timeout_names_the_command_the_limit_and_how_to_raise_it() {
    let error = McpServer::connect(bad("silent").limits(short()))
        .await
        .expect_err("no answer");
    assert_eq!(
        error.to_string(),
        format!(
            "MCP server `bad` (`{BAD_SERVER} silent`) did not answer `initialize` within \
             1.5s; if it is only slow, raise the limit (`McpLimits::connect`)"
        )
    );
}

/// A loopback listener answering every request with `response` (a whole HTTP response);
/// its URL.
fn answering(response: &'static str) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let _ = stream.set_read_timeout(Some(Duration::from_millis(300)));
            let mut buf = [0u8; 8192];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(response.as_bytes());
        }
    });
    format!("http://127.0.0.1:{port}/mcp")
}

#[tokio::test]
async fn a_url_server_gives_its_http_status_and_what_to_check() {
    let url = answering(
        "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\
         Connection: close\r\n\r\nno MCP here",
    );
    let (failure, _, message) = failure_of(McpServerConfig::http("web", &url)).await;
    assert!(
        matches!(&failure, HandshakeFailure::HttpStatus { status: 404, detail } if detail.contains("no MCP here")),
        "{failure:?}"
    );
    assert!(
        message.starts_with(&format!(
            "MCP server `web` (`{url}`) answered `initialize` with HTTP 404"
        )),
        "{message}"
    );
    assert!(
        message.ends_with("is the URL the server's MCP endpoint (often ending in `/mcp`)?"),
        "{message}"
    );

    let url = answering(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    let (failure, _, message) = failure_of(McpServerConfig::http("web", &url)).await;
    assert!(
        matches!(&failure, HandshakeFailure::HttpStatus { status: 503, .. }),
        "{failure:?}"
    );
    assert!(message.contains("the server failed"), "{message}");

    let url = answering(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 13\r\n\
         Connection: close\r\n\r\n<html></html>",
    );
    let (failure, _, _) = failure_of(McpServerConfig::http("web", &url)).await;
    assert!(
        matches!(&failure, HandshakeFailure::NotMcpHttp { content_type } if content_type == "text/html"),
        "{failure:?}"
    );

    // Nobody listens: the connection is refused, in those words.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let url = format!("http://127.0.0.1:{port}/mcp");
    let (failure, _, message) = failure_of(McpServerConfig::http("web", &url)).await;
    assert!(
        matches!(&failure, HandshakeFailure::Unreachable(why) if why.to_lowercase().contains("refused")),
        "{failure:?}"
    );
    assert!(
        message.starts_with(&format!("MCP server `web` (`{url}`) cannot be reached")),
        "{message}"
    );
}
