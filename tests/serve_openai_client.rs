//! The official `openai` Python package (pinned by `scripts/install-mcp-servers.sh` in its
//! venv) as the client of `agentry serve` on SmolLM2-135M: models, chat, stream, tools
//! (`tool_calls` with a tool's name and JSON arguments, then the tool's result back),
//! json_schema, embeddings and typed errors; and on qwen2.5-coder-0.5b, tool calls streamed
//! token by token (name first, then argument fragments). Skips, saying why, when the venv or the
//! package is absent, unless `AGENTRY_REQUIRE_OPENAI_CLIENT=1`.

mod serve_support;

use std::path::PathBuf;
use std::process::Command;

use serve_support::Served;

/// The venv's python with `openai` importable, or why not.
fn python() -> Result<PathBuf, String> {
    let dir = std::env::var_os("AGENTRY_MCP_SERVERS")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/agentry/mcp-servers"))
        })
        .ok_or("no HOME")?;
    let python = dir.join("venv/bin/python");
    if !python.is_file() {
        return Err(format!("{} is missing", python.display()));
    }
    let check = Command::new(&python)
        .args(["-c", "import openai"])
        .output()
        .map_err(|e| format!("{}: {e}", python.display()))?;
    if !check.status.success() {
        return Err(format!(
            "the venv {} has no `openai` package",
            dir.display()
        ));
    }
    Ok(python)
}

/// The venv's python, or `None` (the test skips, saying why) when it is absent and not
/// required.
fn python_or_skip() -> Option<PathBuf> {
    match python() {
        Ok(python) => Some(python),
        Err(why) => {
            let required =
                std::env::var("AGENTRY_REQUIRE_OPENAI_CLIENT").is_ok_and(|v| v.trim() == "1");
            assert!(!required, "AGENTRY_REQUIRE_OPENAI_CLIENT=1 but {why}");
            eprintln!("SKIPPED: {why} (run scripts/install-mcp-servers.sh)");
            None
        }
    }
}

/// Runs `tests/serve_support/SCRIPT ARGS` and asserts it ends with `ALL OK`.
fn run_client(python: PathBuf, script: &str, args: &[&str]) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/serve_support")
        .join(script);
    let output = Command::new(python)
        .arg(script)
        .args(args)
        .output()
        .expect("run the client script");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success() && stdout.trim_end().ends_with("ALL OK"),
        "the openai client failed:\n{stdout}\n{stderr}"
    );
}

#[test]
fn the_official_openai_python_client_drives_agentry_serve() {
    let Some(python) = python_or_skip() else {
        return;
    };
    let server = Served::start(
        &["--api-key-env", "SERVE_TEST_KEY"],
        &[("SERVE_TEST_KEY", "sk-test-123")],
    );
    run_client(
        python,
        "openai_client.py",
        &[&format!("{}/v1", server.base)],
    );
    assert!(server.stop());
}

/// A streamed reply with tools on qwen2.5-coder-0.5b: the call comes as its name, then
/// argument fragments that join to the arguments of the same request not streamed,
/// `finish_reason: tool_calls`, and no call markup as content; a reply in text (with
/// `tool_choice: none`, or to a question that needs no tool) streams as content alone.
#[test]
fn the_openai_client_gets_tool_calls_streamed_token_by_token() {
    let Some(python) = python_or_skip() else {
        return;
    };
    let model = "qwen2.5-coder-0.5b";
    let server = Served::start_on(model, &[], &[]);
    run_client(
        python,
        "openai_tool_stream.py",
        &[&format!("{}/v1", server.base), model],
    );
    assert!(server.stop());
}
