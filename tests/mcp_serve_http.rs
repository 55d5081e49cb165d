//! `agentry mcp serve --http`: the real binary serving streamable HTTP, driven by the
//! official Python `mcp` SDK's streamable HTTP client (PyPI, in the venv
//! `scripts/install-mcp-servers.sh` makes; `tests/fixtures/mcp/sdk_client.py`) and by
//! agentry's own MCP client over HTTP; a call cancelled by the client
//! (`notifications/cancelled`) stops the workflow it runs. No model: the workflows have
//! tool steps only.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use agentry_tools::{McpServer, McpServerConfig, Policy, ToolCall, ToolRegistry, ToolSet};
use serde_json::{Value, json};

#[allow(dead_code)]
mod mcp_support;
use mcp_support::{AGENTRY, call, installed, repo, sdk_report, workspace};

const TOKEN: &str = "test-token-5b1d";

/// `agentry mcp serve --http 127.0.0.1:0 ARGS` in `dir` with `TOKEN` in
/// `AGENTRY_TEST_MCP_TOKEN`; its URL read from the line it prints.
struct Served {
    child: Child,
    url: String,
    stderr: mpsc::Receiver<String>,
}

impl Served {
    fn start(dir: &Path, args: &[&str]) -> Self {
        let mut child = Command::new(AGENTRY)
            .args(["mcp", "serve", "--http", "127.0.0.1:0"])
            .args(args)
            .current_dir(dir)
            .env("AGENTRY_TEST_MCP_TOKEN", TOKEN)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("agentry starts");
        let stderr = child.stderr.take().expect("stderr");
        let (lines, stderr) = forward(stderr);
        let deadline = Instant::now() + Duration::from_secs(60);
        let url = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("agentry mcp serve --http printed no address"));
            if let Some(at) = line.find("listening on ") {
                break line[at + "listening on ".len()..].trim().to_string();
            }
        };
        Self { child, url, stderr }
    }

    /// `read_file`, `calculator` and the workflow `wf.yaml` of [`workspace`], served to
    /// clients that send `TOKEN`.
    fn with_token(dir: &Path) -> Self {
        Self::start(
            dir,
            &[
                "--tools",
                "read_file,calculator",
                "--workflow",
                "wf.yaml",
                "--api-key-env",
                "AGENTRY_TEST_MCP_TOKEN",
            ],
        )
    }

    /// Everything printed on stderr so far.
    fn log(&self) -> String {
        self.stderr.try_iter().collect::<Vec<_>>().join("\n")
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Stderr's lines on two channels: the first for the address, the second for the rest.
fn forward(stderr: ChildStderr) -> (mpsc::Receiver<String>, mpsc::Receiver<String>) {
    let (first, first_out) = mpsc::channel();
    let (rest, rest_out) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = first.send(line.clone());
            let _ = rest.send(line);
        }
    });
    (first_out, rest_out)
}

/// Runs the SDK client with `plan` against `url`.
fn sdk_output(plan: &Value, url: &str) -> std::process::Output {
    Command::new(installed::python_with("mcp, mcp_types, httpx2"))
        .arg(repo("tests/fixtures/mcp/sdk_client.py"))
        .arg(plan.to_string())
        .args(["--url", url])
        .output()
        .expect("run the SDK client")
}

fn sdk_client(plan: &Value, url: &str) -> Value {
    sdk_report(&sdk_output(plan, url))
}

/// The HTTP status of an `initialize` POST to `url` with `token` as the bearer token.
fn status_of_post(url: &str, token: Option<&str>) -> u16 {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (authority, path) = rest.split_at(rest.find('/').expect("a path"));
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}"#;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\n{auth}Content-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = std::net::TcpStream::connect(authority).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream.write_all(request.as_bytes()).expect("send");
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).expect("a status line");
    String::from_utf8_lossy(&head[9..12])
        .parse()
        .expect("a status code")
}

#[test]
fn the_python_sdk_over_http_lists_calls_runs_a_workflow_and_needs_the_token() {
    let dir = workspace();
    let mut served = Served::with_token(dir.path());
    assert!(
        served.url.starts_with("http://127.0.0.1:"),
        "{}",
        served.url
    );
    assert!(served.url.ends_with("/mcp"), "{}", served.url);

    let plan = json!({"mode": "auto", "elicit": null, "token": TOKEN, "actions": [
        {"op": "list"},
        call("calculator", json!({"expression": "6 * 7"})),
        call("file-words", json!({"path": "hello.txt", "times": 3})),
        call("read_file", json!({"nope": 1})),
    ]});
    let started = Instant::now();
    let report = sdk_client(&plan, &served.url);
    eprintln!("SDK session over HTTP: {:?}", started.elapsed());
    let results = report["results"].as_array().expect("results");
    let names: Vec<&str> = results[0]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["calculator", "file-words", "read_file"], "{report}");
    assert_eq!(results[1]["isError"], false, "{report}");
    assert!(
        results[1]["text"].as_str().unwrap_or("").contains("42"),
        "{report}"
    );
    assert_eq!(results[2]["isError"], false, "{report}");
    assert_eq!(
        results[2]["structured"],
        json!({"text": "hello from the root\n", "number": 63}),
        "{report}"
    );
    assert_eq!(results[3]["isError"], true, "{report}");

    // Without the token (or with a wrong one) nothing is served: the SDK fails, and the
    // answer is a 401.
    for token in [Value::Null, json!("wrong")] {
        let plan =
            json!({"mode": "auto", "elicit": null, "token": token, "actions": [{"op": "list"}]});
        let out = sdk_output(&plan, &served.url);
        assert!(
            !out.status.success(),
            "a client without the token is refused: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    assert_eq!(status_of_post(&served.url, None), 401);
    assert_eq!(status_of_post(&served.url, Some("wrong")), 401);
    assert_ne!(status_of_post(&served.url, Some(TOKEN)), 401);

    // SIGTERM stops the server gracefully: exit 0, saying so.
    let pid = served.child.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = served.child.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "agentry stops on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "a graceful stop exits 0: {status}");
    std::thread::sleep(Duration::from_millis(100));
    assert!(served.log().contains("stopped"), "{}", served.log());
}

#[test]
fn bad_http_flags_are_refused_with_exit_2() {
    let out = Command::new(AGENTRY)
        .args([
            "mcp",
            "serve",
            "--http",
            "0.0.0.0:0",
            "--tools",
            "calculator",
        ])
        .output()
        .expect("agentry");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not a loopback address"), "{stderr}");

    let out = Command::new(AGENTRY)
        .args([
            "mcp",
            "serve",
            "--http",
            "127.0.0.1:0",
            "--tools",
            "calculator",
        ])
        .args(["--api-key-env", "AGENTRY_TEST_SURELY_UNSET_VAR"])
        .output()
        .expect("agentry");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("AGENTRY_TEST_SURELY_UNSET_VAR: the variable is not set"),
        "{stderr}"
    );

    let out = Command::new(AGENTRY)
        .args([
            "mcp",
            "serve",
            "--http",
            "not-an-address",
            "--tools",
            "calculator",
        ])
        .output()
        .expect("agentry");
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test]
async fn agentrys_own_client_uses_agentry_mcp_serve_over_http() {
    let dir = workspace();
    let served = Served::with_token(dir.path());
    let refused = McpServer::connect(McpServerConfig::http("self", &served.url))
        .await
        .expect_err("no token, no session");
    assert!(refused.to_string().contains("`self`"), "{refused}");

    let config = McpServerConfig::http("self", &served.url)
        .header("Authorization", format!("Bearer {TOKEN}"));
    let server = McpServer::connect(config)
        .await
        .expect("connects with the token");
    let mut tools = ToolRegistry::new();
    tools.register_all(server.tools()).expect("register");
    let names: Vec<String> = tools.list().iter().map(|s| s.name.clone()).collect();
    assert_eq!(
        names,
        ["self__calculator", "self__file-words", "self__read_file"]
    );
    let policy = Policy::allow_all().approve(&ToolSet::All);
    let sum = tools
        .call(
            &ToolCall::new("1", "self__calculator", json!({"expression": "2 + 40"})),
            &policy,
        )
        .await;
    assert!(sum.observation().contains("42"), "{sum:?}");
    let ran = tools
        .call(
            &ToolCall::new("2", "self__file-words", json!({"path": "hello.txt"})),
            &policy,
        )
        .await;
    let output = ran.outcome.expect("the workflow runs");
    assert_eq!(output.value["number"], json!(42), "{}", output.value);
    assert_eq!(output.value["text"], json!("hello from the root\n"));
    server.close();
}

#[test]
fn a_cancelled_call_stops_the_workflow_it_runs() {
    let dir = workspace();
    let everything = installed::everything();
    // A slow step (server-everything's long operation, 6 s in 6 steps), then a write the
    // run only reaches if it is not stopped.
    let flow = format!(
        "name: slow-write\nmodel: smollm2-135m\nmcp:\n  all:\n    command: {}\n    args: [stdio]\n    \
         trust_read_only_hints: true\nsteps:\n  - id: wait\n    tool: all__trigger-long-running-operation\n    \
         args: {{ duration: 6, steps: 6 }}\n  - id: mark\n    tool: write_file\n    \
         args: {{ path: marker.txt, content: reached }}\noutputs:\n  done: \"{{{{ steps.mark.output }}}}\"\n",
        everything.display()
    );
    std::fs::write(dir.path().join("slow.yaml"), flow).expect("write");
    let served = Served::start(
        dir.path(),
        &[
            "--workflow",
            "slow.yaml",
            "--approve",
            "write_file",
            "--runs-dir",
            "runs",
        ],
    );
    let plan = json!({"mode": "auto", "elicit": null, "actions": [
        {"op": "cancel", "name": "slow-write", "args": {}, "after_progress": 2},
    ]});
    let report = sdk_client(&plan, &served.url);
    let cancelled_at = Instant::now();
    let results = report["results"].as_array().expect("results");
    assert_eq!(results[0]["cancelled"], true, "{report}");
    assert_eq!(
        results[0]["result"],
        Value::Null,
        "no result came: {report}"
    );
    // Cancelled once the slow step had started (the second progress report), before it
    // was done.
    let progress = report["progress"].to_string();
    assert!(progress.contains("step wait (tool) started"), "{report}");
    assert!(!progress.contains("step wait done"), "{report}");
    // Past the time the slow step would have taken, the write was never made.
    std::thread::sleep(Duration::from_secs(9).saturating_sub(cancelled_at.elapsed()));
    assert!(
        !dir.path().join("marker.txt").exists(),
        "the run went on after the cancellation"
    );
    let log = served.log();
    assert!(log.contains("cancelled by the client"), "{log}");
}
