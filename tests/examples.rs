//! Smoke tests of the example programs (built by `cargo test` next to this test), run on the
//! real model so that they never rot.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Mutex;

/// The built example `name` (target/<profile>/examples/<name>).
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>");
    let path = profile_dir.join("examples").join(name);
    assert!(
        path.exists(),
        "{} is not built (cargo test builds examples)",
        path.display()
    );
    path
}

/// One example at a time: each loads the model with one thread per core, and two at once
/// would oversubscribe the CPU.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn run(name: &str, args: &[&str]) -> (Output, String, String) {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let out = Command::new(example(name))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run the example");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stdout, stderr)
}

#[test]
fn assistant_runs_its_tools_loop() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("todo.txt"), "buy milk\n").unwrap();
    let (out, stdout, stderr) = run(
        "assistant",
        &[
            "--files",
            dir.path().to_str().unwrap(),
            "What is 12 * 37? Use the calculator.",
        ],
    );
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("[stopped]"),
        "the run went to its end (answer or limit): {stderr}"
    );
    assert!(
        stderr.contains("[step 1]") || stderr.contains("step 1:"),
        "{stderr}"
    );
    assert!(!stdout.trim().is_empty(), "an answer or the stop reason");
}

#[test]
fn rag_bot_retrieves_the_right_handbook_page() {
    let dir = tempfile::tempdir().unwrap();
    let memory = dir.path().join("memory");
    let (out, stdout, stderr) = run(
        "rag_bot",
        &[
            "--memory",
            memory.to_str().unwrap(),
            "When do production deploys run?",
        ],
    );
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stderr.matches("[ingest]").count(), 3, "{stderr}");
    let first_recall = stderr
        .lines()
        .find(|l| l.starts_with("[recall]"))
        .unwrap_or_else(|| panic!("no recall event: {stderr}"));
    assert!(first_recall.contains("deploys.md"), "{first_recall}");
    assert!(!stdout.trim().is_empty());

    // A second run finds every file unchanged.
    let (out, _, stderr) = run(
        "rag_bot",
        &[
            "--memory",
            memory.to_str().unwrap(),
            "Who signs off refunds?",
        ],
    );
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stderr.matches("unchanged").count(), 3, "{stderr}");
}

#[test]
fn memory_bot_recalls_what_it_was_told_in_an_earlier_run() {
    let dir = tempfile::tempdir().unwrap();
    let memory = dir.path().join("memory");
    let memory = memory.to_str().unwrap();
    let (out, stdout, stderr) = run(
        "memory_bot",
        &["--memory", memory, "My favourite colour is teal."],
    );
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("bot: "), "{stdout}");

    let (out, stdout, stderr) = run(
        "memory_bot",
        &["--memory", memory, "What is my favourite colour?"],
    );
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("bot: "), "{stdout}");
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("[recall]") && l.contains("teal")),
        "the second run recalls the first: {stderr}"
    );
}
