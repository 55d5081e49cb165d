//! Shared by the `agentry mcp serve` tests (stdio and streamable HTTP): the workflow they
//! serve, its folder, the official Python SDK client's plan steps, and where the
//! third-party MCP servers are installed.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

#[path = "../../tools/tests/support/mcp_servers.rs"]
pub mod installed;

/// The `agentry` binary under test.
pub const AGENTRY: &str = env!("CARGO_BIN_EXE_agentry");

/// A workflow of tool steps only: read a file, multiply with the calculator.
pub const WORKFLOW: &str = r#"name: file-words
description: Reads a file under the root and multiplies with the calculator.
model: smollm2-135m
inputs:
  path: { type: string, description: the file to read }
  times: { type: integer, default: 2 }
steps:
  - id: read
    tool: read_file
    args: { path: "{{ inputs.path }}" }
  - id: double
    tool: calculator
    args: { expression: "{{ inputs.times }} * 21" }
outputs:
  text: "{{ steps.read.output.content }}"
  number: "{{ steps.double.output.value }}"
"#;

/// `path` in this repository.
pub fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// A folder with `hello.txt` and the workflow `wf.yaml` ([`WORKFLOW`]).
pub fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("hello.txt"), "hello from the root\n").expect("write");
    std::fs::write(dir.path().join("wf.yaml"), WORKFLOW).expect("write");
    dir
}

/// A `call` step of the SDK client's plan (`tests/fixtures/mcp/sdk_client.py`).
pub fn call(name: &str, args: Value) -> Value {
    json!({"op": "call", "name": name, "args": args})
}

/// The SDK client's report: its stdout as JSON, the test failing with its output when it
/// failed.
pub fn sdk_report(output: &std::process::Output) -> Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the SDK client failed\n{stdout}\n{stderr}"
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}
