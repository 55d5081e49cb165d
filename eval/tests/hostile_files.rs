//! Files the harness reads that block or lie about their size (#17 item 5): a FIFO in
//! place of a benchmark data file, a task file or a file a check reads is refused at once
//! (reading one with no writer once blocked for ever), and a file past its cap is an
//! error naming the file and the limit.

#![cfg(unix)]

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use agentry_eval::{EvalError, bfcl, game24, gsm8k, tasks};

/// Makes a FIFO at `path` (no writer will ever open it).
fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success(), "mkfifo {}", path.display());
}

/// Runs `load` on a thread and fails if it does not end within a minute (a hang is the
/// bug); returns its error text.
fn error_within<T: Send + 'static>(
    what: &str,
    load: impl FnOnce() -> Result<T, EvalError> + Send + 'static,
) -> String {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(load().map(|_| ()).map_err(|e| e.to_string()));
    });
    rx.recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("{what} did not end"))
        .expect_err(what)
}

#[test]
fn benchmark_data_files_that_are_fifos_are_refused_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().to_path_buf();
    for sub in ["bfcl", "gsm8k", "game24"] {
        std::fs::create_dir(data.join(sub)).expect("mkdir");
    }
    let bfcl_file = data.join("bfcl").join("BFCL_v4_simple_python.json");
    let gsm8k_file = data.join("gsm8k").join("test.jsonl");
    let game24_file = data.join("game24").join("24.csv");
    for fifo in [&bfcl_file, &gsm8k_file, &game24_file] {
        mkfifo(fifo);
    }

    let d = data.clone();
    let error = error_within("BFCL load", move || bfcl::load(&d, "simple_python"));
    assert!(error.contains("a FIFO, not a regular file"), "{error}");
    assert!(error.contains(&bfcl_file.display().to_string()), "{error}");

    let d = data.clone();
    let error = error_within("GSM8K load", move || gsm8k::load(&d, "test"));
    assert!(error.contains("GSM8K problems"), "{error}");
    assert!(error.contains("a FIFO, not a regular file"), "{error}");

    let d = data.clone();
    let error = error_within("Game of 24 load", move || game24::load(&d, "tot"));
    assert!(error.contains("Game of 24 puzzles"), "{error}");
    assert!(error.contains("a FIFO, not a regular file"), "{error}");
}

#[test]
fn a_task_file_that_is_a_fifo_or_over_the_cap_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("tasks.yaml");
    mkfifo(&fifo);
    let owned = fifo.clone();
    let error = error_within("task file load", move || tasks::load_file(&owned));
    assert!(error.contains("task file"), "{error}");
    assert!(error.contains("a FIFO, not a regular file"), "{error}");

    let big = dir.path().join("big.yaml");
    let file = std::fs::File::create(&big).expect("create");
    file.set_len(agentry_eval::MAX_TASK_FILE_BYTES + 1)
        .expect("grow");
    let error = tasks::load_file(&big)
        .map(|_| ())
        .expect_err("over the cap")
        .to_string();
    assert!(
        error.contains(&format!(
            "limit of {} bytes",
            agentry_eval::MAX_TASK_FILE_BYTES
        )),
        "{error}"
    );
    assert!(error.contains(&big.display().to_string()), "{error}");
}
