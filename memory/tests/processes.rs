//! Tests that need more than one process (a custom harness: the binary
//! re-executes itself with `AGENTRY_MEMORY_CHILD` set to play the child).
//!
//! - crash safety: a child writes memories and prints each acknowledged id;
//!   it is killed with SIGKILL at a random moment, 20 times; after each
//!   kill the store reopens and every acknowledged id is there. The same,
//!   5 times, with `Durability::Power` (fsync before the acknowledgement).
//! - a chat session reopened in a new process has its window back, and a
//!   turn that left the window is found by recall.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use agentry_memory::{
    Durability, EdgeStore, EdgeStoreOptions, LongTermMemory, MemoryError, MemoryKind, PointId,
    ShortTermConfig, ShortTermMemory, SummarizeError, Summarizer, TokenCounter, TokenizerCounter,
    Turn, VectorStore,
};
use async_trait::async_trait;
use rand::Rng;

type TestFn = fn(&tokio::runtime::Runtime);

const CHILD_ENV: &str = "AGENTRY_MEMORY_CHILD";
const DIR_ENV: &str = "AGENTRY_MEMORY_CHILD_DIR";
const DURABILITY_ENV: &str = "AGENTRY_MEMORY_CHILD_DURABILITY";

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    match std::env::var(CHILD_ENV).as_deref() {
        Ok("crash-writer") => runtime.block_on(child_crash_writer()),
        Ok("chat-session") => runtime.block_on(child_chat_session()),
        _ => {
            let filter: Vec<String> = std::env::args()
                .skip(1)
                .filter(|a| !a.starts_with('-'))
                .collect();
            let tests: [(&str, TestFn); 3] = [
                ("acknowledged_writes_survive_sigkill_20_times", |rt| {
                    rt.block_on(crash_safety(20, Durability::Process))
                }),
                (
                    "acknowledged_writes_survive_sigkill_with_power_durability",
                    |rt| rt.block_on(crash_safety(5, Durability::Power)),
                ),
                (
                    "a_reopened_session_in_a_new_process_has_its_window_back",
                    |rt| rt.block_on(session_reopen()),
                ),
            ];
            for (name, test) in tests {
                if filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str())) {
                    println!("test {name} ...");
                    test(&runtime);
                    println!("test {name} ... ok");
                }
            }
        }
    }
}

fn child(role: &str, dir: &Path, durability: Durability) -> Child {
    Command::new(std::env::current_exe().expect("current exe"))
        .env(CHILD_ENV, role)
        .env(DIR_ENV, dir)
        .env(DURABILITY_ENV, durability.as_str())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child")
}

fn child_dir() -> PathBuf {
    PathBuf::from(std::env::var_os(DIR_ENV).expect("child dir"))
}

// ---------- crash safety ----------

async fn child_crash_writer() {
    let durability = std::env::var(DURABILITY_ENV)
        .expect("durability")
        .parse()
        .expect("a durability");
    let options = EdgeStoreOptions {
        durability,
        ..EdgeStoreOptions::default()
    };
    let store: Arc<dyn VectorStore> =
        Arc::new(EdgeStore::open_with(child_dir(), options).expect("child open"));
    let ltm = LongTermMemory::open(store, Arc::new(common::embedder().await))
        .await
        .expect("child ltm");
    println!("ready");
    let nonce: u64 = rand::rng().random();
    for i in 0u64.. {
        let text = format!("crash test memory {nonce} number {i}");
        let id = ltm
            .remember(&text, MemoryKind::Episodic, serde_json::json!({}), 0.5)
            .await
            .expect("remember");
        println!("ack {id}");
    }
}

/// Spawns the writer, waits for "ready", lets it run for `run_for`, kills it
/// with SIGKILL, and returns the ids it acknowledged.
fn run_and_kill(
    dir: &Path,
    run_for: Duration,
    check_lock: bool,
    durability: Durability,
) -> Vec<PointId> {
    let mut child = child("crash-writer", dir, durability);
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("child says ready");
    assert_eq!(first, "ready");
    if check_lock {
        match EdgeStore::open(dir) {
            Err(e @ MemoryError::StoreLocked { .. }) => {
                assert!(
                    e.to_string().contains(&dir.display().to_string()),
                    "names the path: {e}"
                )
            }
            other => panic!("a store open in another process must be refused, got {other:?}"),
        }
    }
    std::thread::sleep(run_for);
    child.kill().expect("SIGKILL"); // Child::kill sends SIGKILL on unix
    let status = child.wait().expect("wait");
    assert!(!status.success());
    reader.join().expect("reader");
    rx.try_iter()
        .filter_map(|l| l.strip_prefix("ack ").and_then(|id| id.trim().parse().ok()))
        .collect()
}

/// `rounds` times: a child writing with `durability` is killed, and every id it
/// acknowledged is found after reopening.
async fn crash_safety(rounds: usize, durability: Durability) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rng = rand::rng();
    let mut all: Vec<PointId> = Vec::new();
    for round in 0..rounds {
        let run_for = Duration::from_millis(rng.random_range(20..900));
        let acked = run_and_kill(dir.path(), run_for, round == 0, durability);
        all.extend(&acked);
        let store = EdgeStore::open(dir.path()).expect("reopen after SIGKILL");
        if all.is_empty() {
            continue;
        }
        let found = store.retrieve("memory", &all).await.expect("retrieve");
        assert_eq!(
            found.len(),
            all.len(),
            "round {round}: acknowledged ids lost after SIGKILL"
        );
        let count = store.count("memory", None).await.expect("count");
        assert!(count >= all.len() as u64);
    }
    assert!(
        all.len() > rounds,
        "the child wrote something: {} acks",
        all.len()
    );
    println!(
        "  {} acknowledged ids over {rounds} SIGKILLs ({durability}), all present after reopening",
        all.len()
    );
}

// ---------- session reopen ----------

/// Test double: a fixed short note (a model summarises in agent-core).
struct FixedNoteSummarizer;

#[async_trait]
impl Summarizer for FixedNoteSummarizer {
    async fn summarize(
        &self,
        _previous: Option<&str>,
        turns: &[Turn],
    ) -> Result<String, SummarizeError> {
        Ok(format!(
            "The user introduced their cat and {} plan messages.",
            turns.len()
        ))
    }
}

async fn open_session(dir: &Path) -> (Arc<EdgeStore>, ShortTermMemory) {
    let store = Arc::new(EdgeStore::open(dir).expect("open"));
    let e = common::embedder().await;
    let counter: Arc<dyn TokenCounter> =
        Arc::new(TokenizerCounter(e.tokenizer().expect("tokenizer")));
    let ltm = LongTermMemory::open(store.clone(), Arc::new(e))
        .await
        .expect("ltm");
    let config = ShortTermConfig::new(100).summarize_with(Arc::new(FixedNoteSummarizer));
    let stm = ShortTermMemory::open("chat-42", ltm, counter, config)
        .await
        .expect("session");
    (store, stm)
}

fn turn_text(i: usize) -> String {
    match i {
        0 => "My cat is named Biscuit and she loves tuna.".to_string(),
        _ => format!("Message {i}: the plan for week {i} has several tasks to finish."),
    }
}

async fn child_chat_session() {
    let (_store, mut stm) = open_session(&child_dir()).await;
    stm.set_system("You are a helpful assistant.")
        .await
        .expect("system");
    for i in 0..10 {
        let turn = if i % 2 == 0 {
            Turn::user(turn_text(i))
        } else {
            Turn::assistant(turn_text(i))
        };
        stm.push(turn).await.expect("push");
    }
    for m in stm.messages() {
        println!("{}\t{}", m.role, m.content);
    }
}

async fn session_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = child("chat-session", dir.path(), Durability::Process);
    let stdout = child.stdout.take().expect("stdout");
    let printed: Vec<Turn> = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| l.split_once('\t').map(|(r, c)| Turn::new(r, c)))
        .collect();
    assert!(child.wait().expect("wait").success(), "child session ran");
    assert!(printed.len() >= 3, "child printed its window: {printed:?}");

    let (_store, mut stm) = open_session(dir.path()).await;
    assert_eq!(
        stm.messages(),
        printed,
        "the reopened session has the same window"
    );
    assert_eq!(stm.system(), Some("You are a helpful assistant."));
    assert!(stm.summary().is_some());
    assert!(
        stm.window().iter().all(|t| t.content != turn_text(0)),
        "turn 0 left the window"
    );

    let hits = stm
        .recall("what is my cat called?", 1)
        .await
        .expect("recall");
    assert_eq!(hits[0].item.text, turn_text(0));

    // The session continues where it stopped.
    stm.push(Turn::user("One more message after the restart."))
        .await
        .expect("push");
    assert_eq!(
        stm.window().last().map(|t| t.content.as_str()),
        Some("One more message after the restart.")
    );
    assert!(stm.token_count() <= stm.budget());
}
