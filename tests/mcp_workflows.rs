//! MCP servers in workflows and on the command line, end to end through `agentry`: the
//! `world-clock` example validated and run against `mcp-server-time` (PyPI, installed by
//! `scripts/install-mcp-servers.sh`) on the real model, and the refusals that come before
//! any model loads; a server at an `https://` URL behind a private CA, from a workflow
//! (`ca_cert`) and from the command line (`--mcp NAME=https://... --mcp-ca NAME=PATH`).

#[path = "../tools/tests/support/https_mcp_server.rs"]
mod https_mcp_server;
#[allow(dead_code)]
#[path = "../tools/tests/support/mcp_servers.rs"]
mod mcp_servers;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The venv's `bin` holding `mcp-server-time`; a missing install fails the test with
/// what to run.
fn mcp_bin() -> PathBuf {
    let dir = std::env::var_os("AGENTRY_MCP_SERVERS")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/agentry/mcp-servers"))
        })
        .expect("HOME or AGENTRY_MCP_SERVERS is set");
    let bin = dir.join("venv/bin");
    assert!(
        bin.join("mcp-server-time").is_file(),
        "{} has no mcp-server-time: run scripts/install-mcp-servers.sh",
        bin.display()
    );
    bin
}

/// `agentry ARGS` in `cwd`, with the MCP servers' venv first on `PATH`.
fn agentry(cwd: &Path, args: &[&str]) -> (Output, String, String) {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![mcp_bin()];
    dirs.extend(std::env::split_paths(&path));
    let out = Command::new(env!("CARGO_BIN_EXE_agentry"))
        .args(args)
        .current_dir(cwd)
        .env("PATH", std::env::join_paths(dirs).expect("a PATH"))
        .env_remove("RUST_LOG")
        .output()
        .expect("run agentry");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stdout, stderr)
}

#[test]
fn world_clock_asks_the_mcp_time_server_and_the_model_says_the_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = repo("examples/workflows/world-clock.yaml");
    let file = file.to_str().expect("a UTF-8 path");
    let (out, stdout, stderr) = agentry(dir.path(), &["validate", file]);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains(": ok (workflow"), "{stdout}");

    let (out, stdout, stderr) = agentry(
        dir.path(),
        &["run", file, "--input", "zone=Asia/Tokyo", "--json"],
    );
    assert!(out.status.success(), "agentry run failed\n{stderr}");
    let result: Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"));
    let outputs = &result["outputs"];
    assert_eq!(outputs["zone"], "Asia/Tokyo", "{result}");
    let datetime = outputs["datetime"].as_str().expect("a datetime");
    assert!(datetime.ends_with("+09:00"), "{datetime}");
    let hh_mm = datetime.get(11..16).expect("HH:MM in the datetime");
    let sentence = outputs["sentence"].as_str().expect("a sentence");
    assert!(
        sentence.contains(hh_mm),
        "the model's sentence does not give {hh_mm}: {sentence}"
    );
}

#[test]
fn mcp_servers_and_tools_that_cannot_be_used_are_refused_before_the_model_loads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flow = dir.path().join("flow.yaml");
    std::fs::write(
        &flow,
        "name: f\nmodel: /nonexistent/model.gguf\nmcp:\n  time: { command: mcp-server-time }\n\
         agents:\n  a: { tools: [time__get_the_time] }\nsteps:\n  - id: one\n    agent: a\n    task: hi\n",
    )
    .expect("write");
    let flow = flow.to_str().expect("a UTF-8 path");
    // Valid as a file (the server's tools are known only once it runs)...
    let (out, _, stderr) = agentry(dir.path(), &["validate", flow]);
    assert!(out.status.success(), "{stderr}");
    // ...but the run starts the server and finds no such tool.
    let (out, _, stderr) = agentry(dir.path(), &["run", flow]);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "flow.yaml:6: MCP server `time` offers no tool `time__get_the_time`; \
             its tools: time__get_current_time, time__convert_time"
        ) || stderr.contains(
            "flow.yaml:6: MCP server `time` offers no tool `time__get_the_time`; \
             its tools: time__convert_time, time__get_current_time"
        ),
        "{stderr}"
    );

    // A `--mcp` flag that is not NAME=COMMAND, and one whose program does not exist.
    let (out, _, stderr) = agentry(dir.path(), &["run", flow, "--mcp", "time"]);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--mcp: `time` is not NAME=COMMAND"),
        "{stderr}"
    );
    let (out, _, stderr) = agentry(
        dir.path(),
        &["run", flow, "--mcp", "gone=/nonexistent/mcp-server"],
    );
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot start MCP server `gone` (`/nonexistent/mcp-server`)"),
        "{stderr}"
    );
    assert!(
        !dir.path().join(".agentry/runs").exists(),
        "nothing may run"
    );
}

#[test]
fn a_tool_of_a_mcp_flag_server_is_known_to_the_workflow() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flow = dir.path().join("flow.yaml");
    // No `mcp:` section: the tool comes from `--mcp clock=mcp-server-time`.
    std::fs::write(
        &flow,
        "name: f\nmodel: /nonexistent/model.gguf\n\
         agents:\n  a: { tools: [clock__get_current_time] }\nsteps:\n  - id: one\n    agent: a\n    task: hi\n",
    )
    .expect("write");
    let flow = flow.to_str().expect("a UTF-8 path");
    let (out, _, stderr) = agentry(dir.path(), &["run", flow]);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("unknown tool `clock__get_current_time`: no MCP server `clock`"),
        "{stderr}"
    );
    // With the flag the workflow is valid and the run goes on to load the model (which
    // does not exist here: the error is about the model, not the tool).
    let (out, _, stderr) = agentry(dir.path(), &["run", flow, "--mcp", "clock=mcp-server-time"]);
    assert!(!out.status.success(), "{stderr}");
    assert!(!stderr.contains("unknown tool"), "{stderr}");
    assert!(stderr.contains("model.gguf"), "{stderr}");
}

/// A workflow in `dir/flows` whose tool step adds 20 and 22 on the MCP server at `url`,
/// trusting `ca_cert` (as written in the file) when given.
fn adding_flow(dir: &Path, file: &str, url: &str, ca_cert: Option<&str>) -> String {
    let ca_cert = ca_cert
        .map(|path| format!("    ca_cert: {path}\n"))
        .unwrap_or_default();
    let flow = dir.join("flows").join(file);
    std::fs::write(
        &flow,
        format!(
            "name: add\nmodel: smollm2-135m\nmcp:\n  private:\n    url: {url}\n{ca_cert}    \
             read_only: true\nsteps:\n  - id: sum\n    tool: private__add\n    \
             args: {{ a: 20, b: 22 }}\noutputs:\n  sum: \"{{{{ steps.sum.output }}}}\"\n"
        ),
    )
    .expect("write");
    flow.to_str().expect("a UTF-8 path").to_string()
}

#[test]
fn a_workflow_reaches_an_https_server_behind_a_private_ca_through_its_ca_cert() {
    let server = https_mcp_server::HttpsMcpServer::start();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("flows/certs")).expect("mkdir");
    std::fs::copy(server.ca(), dir.path().join("flows/certs/ca.pem")).expect("copy the CA");

    // `ca_cert` is read from the workflow file's folder, not from the working directory.
    let trusted = adding_flow(
        dir.path(),
        "trusted.yaml",
        &server.url(),
        Some("certs/ca.pem"),
    );
    let (out, stdout, stderr) = agentry(dir.path(), &["run", &trusted, "--json"]);
    assert!(out.status.success(), "agentry run failed\n{stderr}");
    let result: Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"));
    assert!(
        result["outputs"]["sum"].to_string().contains("42"),
        "{result}"
    );

    let untrusted = adding_flow(dir.path(), "untrusted.yaml", &server.url(), None);
    let (out, _, stderr) = agentry(dir.path(), &["run", &untrusted]);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("MCP server `private`: its TLS certificate is not trusted"),
        "{stderr}"
    );

    let missing = adding_flow(dir.path(), "missing.yaml", &server.url(), Some("gone.pem"));
    let (out, _, stderr) = agentry(dir.path(), &["run", &missing]);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let gone = dir.path().join("flows/gone.pem");
    assert!(
        stderr.contains(&format!(
            "MCP server `private`: cannot use the CA certificate file `{}`",
            gone.display()
        )),
        "{stderr}"
    );
}

#[test]
fn a_mcp_flag_server_behind_a_private_ca_is_reached_with_mcp_ca() {
    let server = https_mcp_server::HttpsMcpServer::start();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(server.ca(), dir.path().join("ca.pem")).expect("copy the CA");
    std::fs::write(dir.path().join("bad.pem"), "not a certificate\n").expect("write");
    std::fs::create_dir_all(dir.path().join("flows")).expect("mkdir");
    // No `mcp:` section: the server is the `--mcp private=https://...` flag's.
    let flow = dir.path().join("flows/add.yaml");
    std::fs::write(
        &flow,
        "name: add\nmodel: smollm2-135m\nsteps:\n  - id: sum\n    tool: private__add\n    \
         args: { a: 20, b: 22 }\noutputs:\n  sum: \"{{ steps.sum.output }}\"\n",
    )
    .expect("write");
    let flow = flow.to_str().expect("a UTF-8 path");
    let mcp = format!("private={}", server.url());
    let run = |extra: &[&str]| {
        let mut args = vec!["run", flow, "--mcp", &mcp, "--approve", "private__add"];
        args.extend_from_slice(extra);
        agentry(dir.path(), &args)
    };

    // Without `--mcp-ca` the certificate is refused, and the message says which flag helps.
    let (out, _, stderr) = run(&[]);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("MCP server `private`: its TLS certificate is not trusted")
            && stderr.contains("`--mcp-ca private=PATH`"),
        "{stderr}"
    );

    // Each unusable `--mcp-ca` is refused before any server starts, naming the flag.
    let refused = [
        (
            vec!["--mcp-ca", "private"],
            "--mcp-ca: `private` is not NAME=PATH".to_string(),
        ),
        (
            vec!["--mcp-ca", "other=ca.pem"],
            "--mcp-ca other=ca.pem: no --mcp server is named `other`".to_string(),
        ),
        (
            vec!["--mcp", "clock=mcp-server-time", "--mcp-ca", "clock=ca.pem"],
            "--mcp-ca clock=ca.pem: `clock` is a stdio server".to_string(),
        ),
        (
            vec!["--mcp-ca", "private=ca.pem", "--mcp-ca", "private=ca.pem"],
            "--mcp-ca private=ca.pem: `private` already has a --mcp-ca".to_string(),
        ),
        (
            vec!["--mcp-ca", "private=gone.pem"],
            "--mcp-ca private=gone.pem: MCP server `private`: cannot use the CA \
             certificate file `gone.pem`"
                .to_string(),
        ),
        (
            vec!["--mcp-ca", "private=bad.pem"],
            "--mcp-ca private=bad.pem: MCP server `private`: cannot use the CA \
             certificate file `bad.pem`: no `BEGIN CERTIFICATE` block"
                .to_string(),
        ),
    ];
    for (extra, message) in &refused {
        let (out, _, stderr) = run(extra);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {stderr}");
        assert!(stderr.contains(message.as_str()), "{extra:?}: {stderr}");
    }
    assert!(
        !dir.path().join(".agentry/runs").exists(),
        "nothing may run"
    );

    // With the flag the run reaches the server; the CA file is read from the working
    // directory.
    let (out, stdout, stderr) = run(&["--mcp-ca", "private=ca.pem", "--json"]);
    assert!(out.status.success(), "agentry run failed\n{stderr}");
    let result: Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"));
    assert!(
        result["outputs"]["sum"].to_string().contains("42"),
        "{result}"
    );

    // `chat` takes the flag too, with the same refusals.
    let (out, _, stderr) = agentry(
        dir.path(),
        &["chat", "--mcp", &mcp, "--mcp-ca", "private=bad.pem"],
    );
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--mcp-ca private=bad.pem: MCP server `private`: cannot use the CA"),
        "{stderr}"
    );
}

/// Seconds since 1970 by the system clock.
fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// Every HH:MM Tokyo's clocks (UTC+9, no daylight saving) showed from `start` to `end`.
fn tokyo_minutes(start: u64, end: u64) -> Vec<String> {
    (start / 60..=end / 60)
        .map(|minute| {
            let of_day = (minute * 60 + 9 * 3600) % 86_400;
            format!("{:02}:{:02}", of_day / 3600, of_day % 3600 / 60)
        })
        .collect()
}

#[test]
fn an_agent_on_the_real_model_calls_the_mcp_time_tool_and_answers_with_its_result() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flow = dir.path().join("ask-the-time.yaml");
    // `tool_format: json` (the constrained step): in the model's own (Hermes) format, with
    // the server's description fenced as untrusted, this model answered `{{` instead of
    // calling the tool.
    std::fs::write(
        &flow,
        "name: ask-the-time\nmodel: qwen2.5-coder-1.5b\n\
         mcp:\n  time: { command: mcp-server-time, trust_read_only_hints: true }\n\
         agents:\n  clock:\n    role: You answer questions about the time using the tools.\n    \
         instructions: [Always call a tool to learn the time; never guess it, Answer with the time as HH:MM]\n    \
         tools: [time__get_current_time]\n    max_steps: 4\n    tool_format: json\n\
         steps:\n  - id: ask\n    agent: clock\n    task: What time is it now in the Asia/Tokyo time zone? Use the time__get_current_time tool.\n\
         outputs:\n  answer: \"{{ steps.ask.output }}\"\n",
    )
    .expect("write");
    let flow = flow.to_str().expect("a UTF-8 path");
    // The model cannot know the time: an answer with it came from the tool.
    let start = now_secs();
    let (out, stdout, stderr) = agentry(dir.path(), &["run", flow, "--json"]);
    let minutes = tokyo_minutes(start, now_secs());
    assert!(out.status.success(), "agentry run failed\n{stderr}");
    assert!(
        stderr.contains("call time__get_current_time("),
        "no call of the MCP tool was shown:\n{stderr}\n{stdout}"
    );
    let result: Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"));
    let answer = result["outputs"]["answer"].as_str().expect("an answer");
    assert!(
        minutes.iter().any(|m| answer.contains(m.as_str())),
        "the answer gives none of {minutes:?}: {answer}"
    );
}
