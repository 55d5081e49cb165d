//! `agentry mcp serve` end to end: the real binary driven over stdio by the official
//! Python `mcp` SDK client (PyPI, in the venv `scripts/install-mcp-servers.sh` makes;
//! `tests/fixtures/mcp/sdk_client.py`) on both protocol generations (2026-07-28, and the
//! initialize handshake of 2025-11-25), and by agentry's own MCP client
//! (`agentry_tools::McpServer`). No model: the workflow served has tool steps only.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use agentry_tools::{McpServer, McpServerConfig, Policy, ToolCall, ToolRegistry};
use serde_json::{Value, json};

#[allow(dead_code)]
mod mcp_support;
use mcp_support::{AGENTRY, call, installed, repo, sdk_report, workspace};

/// Runs the SDK client with `plan` against `agentry mcp serve SERVE_ARGS` in `dir`; its
/// report.
fn sdk_client(dir: &Path, plan: Value, serve_args: &[&str]) -> Value {
    let out = Command::new(installed::python_with("mcp, mcp_types"))
        .arg(repo("tests/fixtures/mcp/sdk_client.py"))
        .arg(plan.to_string())
        .arg("--")
        .arg(AGENTRY)
        .args(["mcp", "serve"])
        .args(serve_args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .output()
        .expect("run the SDK client");
    sdk_report(&out)
}

#[test]
fn the_python_sdk_lists_calls_and_runs_a_workflow_and_side_effects_are_refused() {
    let dir = workspace();
    let plan = json!({"mode": "auto", "elicit": null, "actions": [
        {"op": "list"},
        call("read_file", json!({"path": "hello.txt"})),
        call("read_file", json!({"nope": 1})),
        call("no_such_tool", json!({})),
        call("calculator", json!({"expression": "6 * 7"})),
        call("write_file", json!({"path": "out.txt", "content": "pwned"})),
        call("read_file", json!({"path": "../outside.txt"})),
        call("file-words", json!({"path": "hello.txt", "times": 3})),
        call("file-words", json!({"times": 3})),
    ]});
    let report = sdk_client(
        dir.path(),
        plan,
        &[
            "--tools",
            "read_file,list_dir,write_file,calculator",
            "--root",
            ".",
            "--workflow",
            "wf.yaml",
        ],
    );
    assert_eq!(report["protocol"], "2026-07-28", "{report}");
    let results = report["results"].as_array().expect("results");

    // tools/list: the chosen built-ins and the workflow, with their schemas.
    let tools = results[0]["tools"].as_array().expect("tools");
    let names: Vec<&str> = tools.iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(
        names,
        [
            "calculator",
            "file-words",
            "list_dir",
            "read_file",
            "write_file"
        ],
        "{report}"
    );
    let tool = |name: &str| tools.iter().find(|t| t["name"] == name).expect(name);
    assert_eq!(
        tool("read_file")["inputSchema"]["required"],
        json!(["path"])
    );
    assert_eq!(tool("read_file")["readOnly"], true);
    assert_eq!(tool("write_file")["readOnly"], false);
    let workflow = tool("file-words");
    assert_eq!(
        workflow["inputSchema"]["properties"]["times"],
        json!({"type": "integer", "default": 2})
    );
    assert_eq!(workflow["inputSchema"]["required"], json!(["path"]));
    assert!(
        workflow["description"]
            .as_str()
            .is_some_and(|d| d.contains("multiplies with the calculator")),
        "{workflow}"
    );

    // A built-in tool: text content and structured content.
    let read = &results[1];
    assert_eq!(read["isError"], false, "{read}");
    assert_eq!(read["structured"]["content"], "hello from the root\n");
    assert!(
        read["text"]
            .as_str()
            .unwrap()
            .contains("hello from the root")
    );

    // Bad arguments and an unknown tool: tool errors, and the server goes on.
    assert_eq!(results[2]["isError"], true, "{}", results[2]);
    assert!(
        results[2]["text"]
            .as_str()
            .unwrap()
            .contains("invalid arguments for `read_file`"),
        "{}",
        results[2]
    );
    assert_eq!(results[3]["isError"], true, "{}", results[3]);
    assert!(
        results[3]["text"]
            .as_str()
            .unwrap()
            .contains("unknown tool `no_such_tool`")
    );
    assert_eq!(results[4]["structured"]["value"], 42, "{}", results[4]);

    // A write without approval, from a client that cannot be asked: refused, with the
    // remedy, and nothing written.
    let refused = &results[5];
    assert_eq!(refused["isError"], true, "{refused}");
    let text = refused["text"].as_str().unwrap();
    assert!(text.contains("was not made"), "{text}");
    assert!(text.contains("--approve write_file"), "{text}");
    assert!(!dir.path().join("out.txt").exists());

    // The root holds: a path out of it is a tool error.
    assert_eq!(results[6]["isError"], true, "{}", results[6]);

    // The workflow tool: its outputs as structured content, progress on the way.
    let ran = &results[7];
    assert_eq!(ran["isError"], false, "{ran}");
    assert_eq!(
        ran["structured"],
        json!({"text": "hello from the root\n", "number": 63}),
        "{ran}"
    );
    let progress = report["progress"].as_array().expect("progress");
    let messages: Vec<&str> = progress
        .iter()
        .filter_map(|p| p["message"].as_str())
        .collect();
    assert!(messages.contains(&"step read done"), "{messages:?}");
    assert!(messages.contains(&"step double done"), "{messages:?}");
    let values: Vec<f64> = progress
        .iter()
        .filter_map(|p| p["progress"].as_f64())
        .collect();
    assert!(
        values.windows(2).all(|w| w[0] < w[1]),
        "progress must grow: {values:?}"
    );

    // A workflow call without its required input: a tool error naming it.
    assert_eq!(results[8]["isError"], true, "{}", results[8]);
    assert!(
        results[8]["text"].as_str().unwrap().contains("path"),
        "{}",
        results[8]
    );
}

#[test]
fn a_pre_approved_write_runs_and_a_write_inside_a_workflow_needs_the_same_approval() {
    const WRITER: &str = r#"name: note-taker
model: smollm2-135m
inputs:
  note: { type: string }
steps:
  - id: save
    tool: write_file
    args: { path: notes/note.txt, content: "{{ inputs.note }}" }
outputs:
  saved: "{{ steps.save.output.path }}"
"#;
    let dir = workspace();
    std::fs::write(dir.path().join("writer.yaml"), WRITER).expect("write");
    let plan = json!({"mode": "auto", "elicit": null, "actions": [
        call("write_file", json!({"path": "out.txt", "content": "approved"})),
        call("note-taker", json!({"note": "remember the milk"})),
    ]});
    // Not approved: the workflow's write step is held and refused, failing the call.
    let report = sdk_client(
        dir.path(),
        plan.clone(),
        &["--workflow", "writer.yaml", "--tools", "write_file"],
    );
    let results = report["results"].as_array().expect("results");
    assert_eq!(results[0]["isError"], true, "{report}");
    assert_eq!(results[1]["isError"], true, "{report}");
    let text = results[1]["text"].as_str().unwrap();
    assert!(text.contains("workflow `note-taker` failed"), "{text}");
    assert!(text.contains("write_file"), "{text}");
    assert!(!dir.path().join("out.txt").exists());
    assert!(!dir.path().join("notes/note.txt").exists());

    // Pre-approved: both write.
    let report = sdk_client(
        dir.path(),
        plan,
        &[
            "--workflow",
            "writer.yaml",
            "--tools",
            "write_file",
            "--approve",
            "write_file",
        ],
    );
    let results = report["results"].as_array().expect("results");
    assert_eq!(results[0]["isError"], false, "{report}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out.txt")).expect("out.txt"),
        "approved"
    );
    assert_eq!(results[1]["isError"], false, "{report}");
    assert_eq!(
        results[1]["structured"]["saved"], "notes/note.txt",
        "{report}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("notes/note.txt")).expect("note"),
        "remember the milk"
    );
}

#[test]
fn a_held_call_is_put_to_the_user_by_elicitation_on_both_protocol_generations() {
    for (mode, protocol) in [("auto", "2026-07-28"), ("legacy", "2025-11-25")] {
        for answer in ["accept", "decline"] {
            let dir = workspace();
            let plan = json!({"mode": mode, "elicit": answer, "actions": [
                call("write_file", json!({"path": "out.txt", "content": "asked"})),
                call("read_file", json!({"path": "hello.txt"})),
            ]});
            let report = sdk_client(dir.path(), plan, &["--tools", "write_file,read_file"]);
            let context = format!("{mode}/{answer}: {report}");
            assert_eq!(report["protocol"], protocol, "{context}");
            // One question, for the write only (reading needs no approval).
            let questions = report["questions"].as_array().expect("questions");
            assert_eq!(questions.len(), 1, "{context}");
            let question = questions[0].as_str().unwrap();
            assert!(question.contains("allow write_file"), "{context}");
            assert!(question.contains("out.txt"), "{context}");
            let written = dir.path().join("out.txt");
            let results = report["results"].as_array().expect("results");
            if answer == "accept" {
                assert_eq!(results[0]["isError"], false, "{context}");
                assert_eq!(std::fs::read_to_string(&written).expect("out.txt"), "asked");
            } else {
                assert_eq!(results[0]["isError"], true, "{context}");
                assert!(
                    results[0]["text"].as_str().unwrap().contains("declined"),
                    "{context}"
                );
                assert!(!written.exists(), "{context}");
            }
            assert_eq!(results[1]["isError"], false, "{context}");
        }
    }
}

#[tokio::test]
async fn agentrys_own_mcp_client_uses_agentry_mcp_serve() {
    let dir = workspace();
    let root = dir.path().to_str().expect("a UTF-8 path").to_string();
    let wf = dir.path().join("wf.yaml");
    let config = McpServerConfig::new("self", AGENTRY).args([
        "mcp".to_string(),
        "serve".into(),
        "--tools".into(),
        "read_file,write_file".into(),
        "--root".into(),
        root,
        "--workflow".into(),
        wf.to_str().expect("a UTF-8 path").into(),
        "--runs-dir".into(),
        dir.path()
            .join("runs")
            .to_str()
            .expect("a UTF-8 path")
            .into(),
    ]);
    let server = McpServer::connect(config).await.expect("connect");
    let mut tools = ToolRegistry::new();
    tools.register_all(server.tools()).expect("register");
    let names: Vec<String> = tools.list().iter().map(|s| s.name.clone()).collect();
    assert_eq!(
        names,
        ["self__file-words", "self__read_file", "self__write_file"]
    );
    // Approved on our side, refused on the server's: it cannot ask our client.
    let policy = Policy::allow_all().approve(&agentry_tools::ToolSet::All);
    let read = tools
        .call(
            &ToolCall::new("1", "self__read_file", json!({"path": "hello.txt"})),
            &policy,
        )
        .await;
    assert!(
        read.observation().contains("hello from the root"),
        "{read:?}"
    );
    let ran = tools
        .call(
            &ToolCall::new("2", "self__file-words", json!({"path": "hello.txt"})),
            &policy,
        )
        .await;
    let output = ran.outcome.as_ref().expect("the workflow ran");
    assert_eq!(output.value["number"], 42, "{ran:?}");
    let write = tools
        .call(
            &ToolCall::new(
                "3",
                "self__write_file",
                json!({"path": "x.txt", "content": "x"}),
            ),
            &policy,
        )
        .await;
    assert!(write.is_error(), "{write:?}");
    assert!(
        write.observation().contains("--approve write_file"),
        "{write:?}"
    );
    assert!(!dir.path().join("x.txt").exists());
}

#[test]
fn the_server_exits_cleanly_when_stdin_closes_and_refuses_bad_flags() {
    let dir = workspace();
    let mut child = Command::new(AGENTRY)
        .args(["mcp", "serve", "--tools", "calculator"])
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start agentry mcp serve");
    drop(child.stdin.take());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("agentry mcp serve did not exit when stdin closed");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = child.wait_with_output().expect("output");
    assert!(status.success(), "{status:?}");
    assert!(
        out.stdout.is_empty(),
        "nothing but the protocol goes to stdout"
    );

    for (args, says) in [
        (&["--tools", "rm_rf"][..], "no such built-in tool"),
        (&[][..], "nothing to serve"),
        (
            &["--tools", "calculator", "--approve", "nope"][..],
            "--approve nope: no such tool",
        ),
        (&["--workflow", "missing.yaml"][..], "missing.yaml"),
    ] {
        let out = Command::new(AGENTRY)
            .args(["mcp", "serve"])
            .args(args)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

/// The lines a variant of [`ask_workflow`] adds: a `models:` section, more inputs, more
/// keys of its agent.
#[derive(Default)]
struct AskVariant {
    models: &'static str,
    inputs: &'static str,
    agent: &'static str,
}

/// A workflow `name` of one agent step on qwen2.5-coder-0.5b that answers the input
/// `question` in one short sentence (the output `answer`), with `variant`'s lines.
fn ask_workflow(name: &str, variant: AskVariant) -> String {
    let AskVariant {
        models,
        inputs,
        agent,
    } = variant;
    format!(
        r#"name: {name}
description: Answers a question in one short sentence.
model: qwen2.5-coder-0.5b
{models}inputs:
  question: {{ type: string }}
{inputs}agents:
  helper:
{agent}    role: You answer questions in one short sentence.
    sampling: {{ temperature: 0, max_tokens: 32 }}
    max_steps: 1
steps:
  - id: answer
    agent: helper
    task: "{{{{ inputs.question }}}}"
outputs:
  answer: "{{{{ steps.answer.output }}}}"
"#
    )
}

/// Serves `workflow` as a tool, calls it as `tool` with `args` (asking for the capital
/// of France) from the SDK client, checks the answer says Paris and returns the report.
fn asks_for_paris(workflow: &str, tool: &str, mut args: Value) -> Value {
    let dir = workspace();
    std::fs::write(dir.path().join("ask.yaml"), workflow).expect("write");
    args["question"] = json!("What is the capital city of France?");
    let plan = json!({"mode": "auto", "elicit": null, "actions": [call(tool, args)]});
    let report = sdk_client(dir.path(), plan, &["--workflow", "ask.yaml"]);
    let result = &report["results"][0];
    assert_eq!(result["isError"], false, "{report}");
    let answer = result["structured"]["answer"].as_str().expect("an answer");
    assert!(answer.to_lowercase().contains("paris"), "{answer}");
    report
}

#[test]
fn an_agent_served_as_a_one_step_workflow_answers_on_the_real_model() {
    // An agent as a tool: a workflow of one agent step; its model loads on the first call.
    let workflow = ask_workflow("ask", AskVariant::default());
    let report = asks_for_paris(&workflow, "ask", json!({}));
    let messages: Vec<&str> = report["progress"]
        .as_array()
        .expect("progress")
        .iter()
        .filter_map(|p| p["message"].as_str())
        .collect();
    assert!(
        messages.contains(&"step answer (agent) started"),
        "{messages:?}"
    );
}

#[test]
fn a_workflow_tool_loads_its_models_section_rendered_against_the_calls_arguments() {
    // The agent runs on `answerer` of `models:`, whose spec is an argument of the call
    // (its default names no model); equal to `model:`, it is the same model, loaded once.
    let workflow = ask_workflow(
        "ask-named",
        AskVariant {
            models: "models:\n  answerer: \"{{ inputs.answerer }}\"\n",
            inputs: "  answerer: { type: string, default: no-such-registry-model }\n",
            agent: "    model: answerer\n",
        },
    );
    asks_for_paris(
        &workflow,
        "ask-named",
        json!({"answerer": "qwen2.5-coder-0.5b"}),
    );
}
