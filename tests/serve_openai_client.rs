//! The official `openai` Python package (pinned by `scripts/install-mcp-servers.sh` in its
//! venv) as the client of `agentry serve` on SmolLM2-135M: models, chat, stream, tools
//! (`tool_calls` with a tool's name and JSON arguments, then the tool's result back),
//! json_schema, embeddings and typed errors. Skips, saying why, when the venv or the
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

#[test]
fn the_official_openai_python_client_drives_agentry_serve() {
    let python = match python() {
        Ok(python) => python,
        Err(why) => {
            let required =
                std::env::var("AGENTRY_REQUIRE_OPENAI_CLIENT").is_ok_and(|v| v.trim() == "1");
            assert!(!required, "AGENTRY_REQUIRE_OPENAI_CLIENT=1 but {why}");
            eprintln!("SKIPPED: {why} (run scripts/install-mcp-servers.sh)");
            return;
        }
    };
    let server = Served::start(
        &["--api-key-env", "SERVE_TEST_KEY"],
        &[("SERVE_TEST_KEY", "sk-test-123")],
    );
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/serve_support/openai_client.py");
    let output = Command::new(python)
        .arg(script)
        .arg(format!("{}/v1", server.base))
        .output()
        .expect("run the client script");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success() && stdout.trim_end().ends_with("ALL OK"),
        "the openai client failed:\n{stdout}\n{stderr}"
    );
    assert!(server.stop());
}
