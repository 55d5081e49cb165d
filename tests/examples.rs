//! Tests of the example programs (built by `cargo test` next to this test), run on their real
//! default model (qwen2.5-coder-1.5b) so that they never rot: each asserts the right answer.

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
fn assistant_answers_444_through_the_calculator() {
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
        stderr.contains("call calculator(") && stderr.contains("\"value\":444"),
        "the calculator computed it: {stderr}"
    );
    assert!(
        stderr.contains("[stopped] the model gave its final answer"),
        "{stderr}"
    );
    assert!(stdout.contains("444"), "answer: {stdout}\n{stderr}");
}

#[test]
fn rag_bot_answers_from_the_right_handbook_page() {
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
    // deploys.md: "Production deploys run every Tuesday and Thursday at 10:00 UTC."
    for needed in ["Tuesday", "Thursday", "10:00"] {
        assert!(stdout.contains(needed), "answer: {stdout}\n{stderr}");
    }

    // A second run finds every file unchanged, and answers from another page.
    let (out, stdout, stderr) = run(
        "rag_bot",
        &[
            "--memory",
            memory.to_str().unwrap(),
            "How many days of paid leave do employees get?",
        ],
    );
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stderr.matches("unchanged").count(), 3, "{stderr}");
    assert!(
        stdout.contains("27"),
        "holidays.md says 27: {stdout}\n{stderr}"
    );

    // A question the handbook does not answer is not made up.
    let (out, stdout, stderr) = run(
        "rag_bot",
        &[
            "--memory",
            memory.to_str().unwrap(),
            "What is the office wifi password?",
        ],
    );
    assert!(out.status.success(), "{stderr}");
    let answer = stdout.to_lowercase();
    assert!(
        [
            "does not say",
            "doesn't say",
            "not mentioned",
            "does not mention"
        ]
        .iter()
        .any(|declined| answer.contains(declined)),
        "the answer says the handbook has no password: {stdout}\n{stderr}"
    );
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
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("[recall]") && l.contains("teal")),
        "the second run recalls the first: {stderr}"
    );
    let reply = stdout
        .lines()
        .find_map(|l| l.strip_prefix("bot: "))
        .unwrap_or_else(|| panic!("no reply: {stdout}"));
    assert!(
        reply.to_lowercase().contains("teal"),
        "the answer uses the recalled fact: {reply}"
    );
}
