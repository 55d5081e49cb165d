//! Where `scripts/install-mcp-servers.sh` puts the third-party MCP servers the tests
//! use (a Python venv and an npm folder). A missing install fails the test with what to
//! run. Shared by `tools/tests` and, through `#[path]`, by the binary's tests.

use std::path::PathBuf;
use std::process::Command;

/// `$AGENTRY_MCP_SERVERS`, else `~/.cache/agentry/mcp-servers`.
pub fn dir() -> PathBuf {
    std::env::var_os("AGENTRY_MCP_SERVERS")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/agentry/mcp-servers"))
        })
        .expect("HOME or AGENTRY_MCP_SERVERS is set")
}

/// The installed program at `relative` under [`dir`] (`venv/bin/mcp-server-time`).
pub fn program(relative: &str) -> PathBuf {
    let path = dir().join(relative);
    let needs = if relative.starts_with("npm/") {
        " (needs node and npm)"
    } else {
        ""
    };
    assert!(
        path.is_file(),
        "{} is missing: run scripts/install-mcp-servers.sh{needs}",
        path.display()
    );
    path
}

/// `@modelcontextprotocol/server-everything` (npm).
pub fn everything() -> PathBuf {
    program("npm/node_modules/.bin/mcp-server-everything")
}

/// The venv's Python, checked to import `modules` (comma-separated, e.g. `mcp, mcp_types`:
/// the official `mcp` SDK).
pub fn python_with(modules: &str) -> PathBuf {
    let python = program("venv/bin/python");
    let imports = Command::new(&python)
        .args(["-c", &format!("import {modules}")])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        imports,
        "{} cannot import {modules}: run scripts/install-mcp-servers.sh",
        python.display()
    );
    python
}
