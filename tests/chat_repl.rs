//! `agentry chat` driven through a pseudo-terminal (expectrl), on the real SmolLM2-135M
//! model and a real memory in a temp dir: /help, a question with a streamed answer, /tools,
//! /set, a bad /set, Ctrl-C during a reply, /exit, the history file; and, with `--files`,
//! the approval prompt of a risky tool call (on qwen2.5-coder-0.5b, whose arguments are right).
//!
//! Timeouts are generous (the model runs on 2 shared cores); nothing asserts on time.
//! Where the test waits for the next prompt it first waits for the end of what it typed
//! (rustyline redraws the line as it is typed, so the prompt text shows up in the echo).

#![cfg(unix)]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use expectrl::process::unix::WaitStatus;
use expectrl::{Eof, Expect, Regex, Session};

const PROMPT: &str = "you> ";
const TIMEOUT: Duration = Duration::from_secs(120);

/// The text of terminal output: ANSI escape sequences and carriage returns removed.
fn plain(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => {
                // CSI: ESC [ params final-byte (0x40..=0x7e); other escapes: ESC + one char.
                if chars.next_if_eq(&'[').is_some() {
                    for c in chars.by_ref() {
                        if ('\x40'..='\x7e').contains(&c) {
                            break;
                        }
                    }
                } else {
                    chars.next();
                }
            }
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

fn escape(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == ' ' {
                c.to_string()
            } else {
                format!("\\x{{{:x}}}", c as u32)
            }
        })
        .collect()
}

struct Repl {
    session: expectrl::session::OsSession,
}

impl Repl {
    /// `agentry chat` on `model`, replies capped at `max_tokens`, memory in `dir`.
    fn start(dir: &Path, model: &str, max_tokens: &str, extra: &[&str]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_agentry"));
        command
            .arg("chat")
            // One thread: the tests run in parallel, and llama.cpp threads of two
            // processes waiting on each other on a small machine slow both down.
            .args(["--model", model, "--threads", "1"])
            .args(["--max-tokens", max_tokens, "--memory"])
            .arg(dir.join("memory"))
            .args(extra)
            .current_dir(dir)
            .env_remove("RUST_LOG")
            .env_remove("NO_COLOR")
            .env("TERM", "xterm");
        let mut session = Session::spawn(command).expect("spawn agentry chat in a pty");
        session
            .get_process_mut()
            .set_window_size(200, 50)
            .expect("set the pty size");
        session.set_expect_timeout(Some(TIMEOUT));
        let mut repl = Self { session };
        repl.expect_text("Type a message, or /help for commands.");
        repl.expect_text(PROMPT);
        repl
    }

    /// Waits for `text`; returns the plain text printed before it.
    fn expect_text(&mut self, text: &str) -> String {
        match self.session.expect(text) {
            Ok(found) => plain(found.before()),
            Err(e) => panic!("waiting for {text:?}: {e}"),
        }
    }

    /// Types `line` and Enter, and waits until the terminal has shown the whole line.
    fn type_line(&mut self, line: &str) {
        self.session.send_line(line).expect("type a line");
        // The line, then maybe escape sequences, then the newline.
        let echoed = format!("{}(\\x1b\\[[0-9;?]*[a-zA-Z]|\\r)*\\n", escape(line));
        if let Err(e) = self.session.expect(Regex(echoed)) {
            panic!("waiting for the echo of {line:?}: {e}");
        }
    }

    /// Types `/exit` and checks that the process ends with status 0.
    fn exit(mut self) {
        self.type_line("/exit");
        if let Err(e) = self.session.expect(Eof) {
            panic!("waiting for the REPL to end: {e}");
        }
        let status = self.session.get_process().wait().expect("wait for agentry");
        assert!(
            matches!(status, WaitStatus::Exited(_, 0)),
            "exit status {status:?}"
        );
    }

    /// Types `line` and returns the plain text printed before the next prompt.
    fn ask(&mut self, line: &str) -> String {
        self.type_line(line);
        self.expect_text(PROMPT)
    }
}

#[test]
fn the_repl_chats_lists_sets_cancels_and_exits() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut repl = Repl::start(dir.path(), "smollm2-135m", "64", &[]);

    let help = repl.ask("/help");
    for command in [
        "/help",
        "/tools",
        "/memory",
        "/remember",
        "/forget",
        "/strategy",
        "/set",
        "/reset",
        "/save",
        "/load",
        "/model",
        "/run",
        "/exit",
    ] {
        assert!(help.contains(command), "{command} missing from:\n{help}");
    }

    let answer = repl.ask("What is the capital of France?");
    assert!(
        answer.chars().any(char::is_alphanumeric),
        "no answer text before the next prompt: {answer:?}"
    );
    assert!(!answer.contains("error:"), "{answer}");

    let tools = repl.ask("/tools");
    assert!(tools.contains("calculator"), "{tools}");
    assert!(tools.contains("clock"), "{tools}");

    let set = repl.ask("/set temperature=0");
    assert!(set.contains("Set: temperature=0 "), "{set}");

    let bad = repl.ask("/set temperature=hot");
    assert!(
        bad.contains("error: invalid value `hot` for temperature"),
        "{bad}"
    );
    // Still alive, settings unchanged.
    let shown = repl.ask("/set");
    assert!(shown.contains("temperature=0 "), "{shown}");

    // Ctrl-C during a long reply stops it and the REPL goes on.
    let _ = repl.ask("/set max_tokens=2000");
    repl.type_line("Count from one to five hundred in words, one number per line.");
    // Three letters in a row: a word of the reply, not an escape sequence.
    repl.session
        .expect(Regex("[a-zA-Z]{3}"))
        .expect("the reply starts");
    repl.session.send([3u8]).expect("send Ctrl-C");
    let stopped = repl.expect_text(PROMPT);
    assert!(stopped.contains("(stopped)"), "{stopped}");
    let model = repl.ask("/model");
    assert!(model.contains("Model: "), "{model}");

    repl.exit();

    let history = std::fs::read_to_string(dir.path().join("chat_history")).unwrap_or_default();
    assert!(history.contains("/help"), "history: {history:?}");
    assert!(
        history.contains("/set temperature=0"),
        "history: {history:?}"
    );
}

/// With `--files`, write_file asks before each call: the file is written only once the
/// user says yes; a call the user denies is not made. The arguments must be right, so
/// this runs on qwen2.5-coder-0.5b (SmolLM2-135M wrote the path as "a1"); at
/// temperature 0 its first step calls write_file for this task.
#[test]
fn a_risky_tool_call_waits_for_the_users_yes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let files = dir.path().join("files");
    std::fs::create_dir(&files).expect("files dir");
    let files_arg = files.to_string_lossy().into_owned();
    let mut repl = Repl::start(
        dir.path(),
        "qwen2.5-coder-0.5b",
        "128",
        &["--files", &files_arg],
    );
    let tools = repl.ask("/tools");
    assert!(
        tools.contains("write_file [write_files, asks approval]"),
        "{tools}"
    );

    repl.type_line(r#"/run Call the write_file tool with path "a.txt" and content "hello"."#);
    let before = repl.expect_text("Allow write_file(");
    assert!(
        before.contains("call write_file("),
        "the call is shown before the question: {before}"
    );
    let question = repl.expect_text("? [y/N] ");
    assert!(question.contains("a.txt"), "{question}");
    assert!(
        !files.join("a.txt").exists(),
        "nothing is written before the answer"
    );
    repl.type_line("y");
    // The run may go on and ask again: deny every later call, until the prompt is back.
    let question_or_prompt = Regex("Allow write_file\\(|you> ");
    loop {
        let found = match repl.session.expect(&question_or_prompt) {
            Ok(found) => found,
            Err(e) => panic!("waiting for a question or the prompt: {e}"),
        };
        if found.get(0) == Some(PROMPT.as_bytes()) {
            break;
        }
        repl.expect_text("? [y/N] ");
        repl.type_line("n");
    }
    let written = std::fs::read_to_string(files.join("a.txt")).unwrap_or_default();
    assert_eq!(written, "hello");
    repl.exit();
}
