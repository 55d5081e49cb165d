//! The MCP client against `mcp-server-git` (PyPI, pinned, installed by
//! `scripts/install-mcp-servers.sh`): its tools listed with their read-only hints, status
//! and log of a repository the test makes, a write tool held for approval, and the
//! server's own errors as observations.

#[allow(dead_code)]
#[path = "support/mcp_servers.rs"]
mod mcp_servers;

use std::path::{Path, PathBuf};
use std::process::Command;

use agentry_tools::{McpServer, McpServerConfig, Policy, ToolCall, ToolFailure, ToolRegistry};
use serde_json::json;

/// The installed server; a missing install fails the test with what to run.
fn git_server() -> PathBuf {
    mcp_servers::program("venv/bin/mcp-server-git")
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
        .args(args)
        .current_dir(dir)
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?}");
}

/// A repository with one commit and one untracked file.
fn repository() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    git(dir.path(), &["init", "-q"]);
    std::fs::write(dir.path().join("README.md"), "hello\n").expect("write");
    git(dir.path(), &["add", "README.md"]);
    git(
        dir.path(),
        &["commit", "-q", "-m", "the first commit of the test"],
    );
    std::fs::write(dir.path().join("untracked.txt"), "new\n").expect("write");
    dir
}

#[tokio::test]
async fn mcp_server_git_reads_a_repository_and_its_writes_wait_for_approval() {
    let repo = repository();
    let repo_path = repo.path().to_str().expect("a UTF-8 path").to_string();
    let mut config = McpServerConfig::new("git", git_server().to_string_lossy());
    config.trust_read_only_hints = true;
    let server = McpServer::connect(config)
        .await
        .expect("mcp-server-git starts");
    let mut registry = ToolRegistry::new();
    registry
        .register_all(server.tools())
        .expect("its tools register");
    let names: Vec<String> = registry.list().iter().map(|s| s.name.clone()).collect();
    for name in [
        "git__git_status",
        "git__git_log",
        "git__git_add",
        "git__git_commit",
    ] {
        assert!(names.iter().any(|n| n == name), "{name} not in {names:?}");
    }
    let spec = |name: &str| registry.get(name).map(|t| t.spec()).expect(name);
    assert_eq!(
        spec("git__git_status").parameters["required"],
        json!(["repo_path"])
    );
    // Read-only by the server's hint (trusted here); writing tools keep every capability.
    assert!(spec("git__git_status").side_effects().is_empty());
    assert!(!spec("git__git_add").side_effects().is_empty());

    let policy = Policy::allow_all();
    let status = registry
        .call(
            &ToolCall::new("1", "git__git_status", json!({"repo_path": repo_path})),
            &policy,
        )
        .await;
    let text = status.observation();
    assert!(!status.is_error(), "{text}");
    assert!(text.contains("untracked.txt"), "{text}");

    let log = registry
        .call(
            &ToolCall::new("2", "git__git_log", json!({"repo_path": repo_path})),
            &policy,
        )
        .await;
    let text = log.observation();
    assert!(!log.is_error(), "{text}");
    assert!(text.contains("the first commit of the test"), "{text}");

    // A write is held: no approver here, so it is not made and the index is unchanged.
    let add = registry
        .call(
            &ToolCall::new(
                "3",
                "git__git_add",
                json!({"repo_path": repo_path, "files": ["untracked.txt"]}),
            ),
            &policy,
        )
        .await;
    assert!(
        matches!(add.outcome, Err(ToolFailure::NoApprover { .. })),
        "{add:?}"
    );
    let staged = Command::new("git")
        .args(["diff", "--cached", "--name-only"])
        .current_dir(repo.path())
        .output()
        .expect("git diff");
    assert!(staged.stdout.is_empty(), "something was staged");

    // The server's own error (no repository there) comes back as an observation.
    let missing = repo.path().join("no-such-repo");
    let bad = registry
        .call(
            &ToolCall::new(
                "4",
                "git__git_status",
                json!({"repo_path": missing.to_str().expect("a UTF-8 path")}),
            ),
            &policy,
        )
        .await;
    assert!(bad.is_error(), "{bad:?}");
    assert!(
        bad.observation().contains("no-such-repo"),
        "{}",
        bad.observation()
    );

    // Arguments the schema refuses never reach the server.
    let invalid = registry
        .call(&ToolCall::new("5", "git__git_log", json!({})), &policy)
        .await;
    assert!(
        matches!(invalid.outcome, Err(ToolFailure::InvalidArguments { .. })),
        "{invalid:?}"
    );
}
