//! `agentry run --mcp NAME=COMMAND` with a server whose handshake fails: the command
//! stops with exit 2 before any model loads, and its message names the server, its
//! command line or URL, and why in plain words. The misbehaving servers are shell
//! scripts the test writes, and a listener that answers HTTP 404.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// A workflow that needs no MCP server (its model does not exist: nothing may get that
/// far).
const FLOW: &str = "name: f\nmodel: /nonexistent/model.gguf\nsteps:\n  - id: one\n    \
                    tool: calculator\n    args: { expression: \"1 + 1\" }\n";

/// Writes the executable script `name` in `dir`; its path.
fn script(dir: &Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}")).expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path.to_str().expect("a UTF-8 path").to_string()
}

/// `agentry run flow.yaml --mcp SPEC` in `dir` with `env`; its exit code and stderr.
fn run_with(dir: &Path, spec: &str, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_agentry"))
        .args(["run", "flow.yaml", "--mcp", spec])
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env_remove("AGENTRY_MCP_TIMEOUT")
        .envs(env.iter().copied())
        .output()
        .expect("run agentry");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !dir.join(".agentry/runs").exists(),
        "nothing may run: {stderr}"
    );
    (out.status.code(), stderr)
}

fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("flow.yaml"), FLOW).expect("write");
    dir
}

#[test]
fn a_server_that_exits_first_gives_its_exit_status_and_last_stderr_lines() {
    let dir = workspace();
    let exits = script(
        dir.path(),
        "exits.sh",
        "echo 'exits: starting' >&2\necho 'exits: cannot open /nonexistent/config.toml' >&2\nexit 4\n",
    );
    let (code, stderr) = run_with(dir.path(), &format!("conf={exits}"), &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "MCP server `conf` (`{exits}`) exited before the MCP handshake (exit status: 4); \
             the last lines of its stderr:\n  | exits: starting\n  \
             | exits: cannot open /nonexistent/config.toml"
        )),
        "{stderr}"
    );
}

#[test]
fn a_program_that_is_not_an_mcp_server_is_named_so() {
    let dir = workspace();
    let usage = script(
        dir.path(),
        "usage.sh",
        "echo 'usage: usage.sh [--port N]'\n",
    );
    let (code, stderr) = run_with(dir.path(), &format!("tool={usage} --help"), &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "MCP server `tool` (`{usage} --help`) is not an MCP server (or not started as \
             one): it wrote `usage: usage.sh [--port N]` on stdout, where JSON-RPC messages \
             were expected; then it exited (exit status: 0)"
        )),
        "{stderr}"
    );
}

#[test]
fn a_server_on_an_unknown_protocol_version_is_refused() {
    let dir = workspace();
    let old = script(
        dir.path(),
        "old.sh",
        "read line\n\
         id=$(printf '%s' \"$line\" | sed -n 's/.*\"id\":\\([0-9][0-9]*\\).*/\\1/p')\n\
         printf '{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":{\"protocolVersion\":\"1999-01-01\",\
         \"capabilities\":{\"tools\":{}},\"serverInfo\":{\"name\":\"old\",\"version\":\"0\"}}}\\n' \"${id:-0}\"\n\
         exec sleep 30\n",
    );
    let (code, stderr) = run_with(dir.path(), &format!("old={old}"), &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "MCP server `old` (`{old}`) answered `initialize` with MCP protocol version \
             `1999-01-01`, which this client does not speak (it speaks 2024-11-05"
        )),
        "{stderr}"
    );
}

#[test]
fn a_slow_server_times_out_with_the_limit_and_how_to_raise_it() {
    let dir = workspace();
    let slow = script(
        dir.path(),
        "slow.sh",
        "echo 'slow: loading a large index' >&2\nexec sleep 30\n",
    );
    let started = std::time::Instant::now();
    let (code, stderr) = run_with(
        dir.path(),
        &format!("slow={slow}"),
        &[("AGENTRY_MCP_TIMEOUT", "1")],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "MCP server `slow` (`{slow}`) did not answer `initialize` within 1s; if it is \
             only slow, raise the limit (`McpLimits::connect`); the last lines of its \
             stderr:\n  | slow: loading a large index; with agentry, set \
             AGENTRY_MCP_TIMEOUT=SECONDS (e.g. AGENTRY_MCP_TIMEOUT=120)"
        )),
        "{stderr}"
    );
    assert!(started.elapsed() < Duration::from_secs(20), "{stderr}");

    // A value that is not a number of seconds is refused by name.
    let (code, stderr) = run_with(
        dir.path(),
        &format!("slow={slow}"),
        &[("AGENTRY_MCP_TIMEOUT", "soon")],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("AGENTRY_MCP_TIMEOUT=`soon`: not a number of seconds"),
        "{stderr}"
    );
}

#[test]
fn a_url_that_answers_404_gives_the_status_and_what_to_check() {
    let dir = workspace();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let _ = stream.set_read_timeout(Some(Duration::from_millis(300)));
            let mut buf = [0u8; 8192];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n\
                  Content-Length: 9\r\nConnection: close\r\n\r\nnot found",
            );
        }
    });
    let url = format!("http://127.0.0.1:{port}/api");
    let (code, stderr) = run_with(dir.path(), &format!("web={url}"), &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "MCP server `web` (`{url}`) answered `initialize` with HTTP 404 (not found): is \
             the URL the server's MCP endpoint (often ending in `/mcp`)?"
        )),
        "{stderr}"
    );
}
