//! The process of a stdio MCP server, watched so that a failed handshake can say why:
//! it starts with a cleared environment; its stdout is read as it comes (also when the
//! transport has stopped reading) and passed on to the transport, the first line that
//! is not a JSON-RPC message noted; its stderr is passed through to
//! this process's while its last lines are kept; its exit status is recorded. The
//! process ends with the session: when the session's token is cancelled (the client is
//! closed or dropped) a process that does not exit once its stdin closes is killed.

use std::collections::VecDeque;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::process::{ChildStdin, ChildStdout};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{McpServerConfig, env};

/// How long a process whose session ended may take to exit before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(3);
/// How long a failed handshake waits for the exit status of a process that closed its
/// stdout, and for the rest of its stderr.
const SETTLE: Duration = Duration::from_secs(2);
/// How many of the last stderr lines are kept.
const TAIL_LINES: usize = 10;
/// Most characters kept of one stderr or stdout line.
const LINE_CHARS: usize = 300;
/// Most bytes of a stdout line parsed to see whether it is JSON-RPC (a longer line only
/// has to start with `{`).
const INSPECT_BYTES: usize = 64 * 1024;

/// How many bytes of stdout wait for the transport to read them.
const PIPE_BYTES: usize = 64 * 1024;

/// A started server: the transport's ends of its stdio, and the watch over it.
pub(super) struct Spawned {
    /// Its stdout (as passed on) and stdin, for the transport.
    pub transport: (DuplexStream, ChildStdin),
    /// What became of it.
    pub watch: Watch,
}

/// What is known of a process whose handshake failed.
#[derive(Debug, Default)]
pub(super) struct Report {
    /// Its exit status; `None` while it runs (or when it could not be read).
    pub status: Option<ExitStatus>,
    /// The last lines it wrote on stderr, oldest first.
    pub stderr: Vec<String>,
    /// The first line it wrote on stdout that is not a JSON-RPC message.
    pub stray: Option<String>,
}

/// The tasks watching a process and what they saw.
pub(super) struct Watch {
    exit: JoinHandle<Option<ExitStatus>>,
    stdout: JoinHandle<()>,
    stderr: JoinHandle<()>,
    tail: Arc<Mutex<VecDeque<String>>>,
    stray: Arc<Mutex<Option<String>>>,
}

impl Watch {
    /// What is known now, without waiting (a process that did not answer in time).
    pub fn report_now(&self) -> Report {
        Report {
            status: None,
            stderr: lock(&self.tail).iter().cloned().collect(),
            stray: lock(&self.stray).clone(),
        }
    }

    /// What is known once the process had a moment to exit and finish its stderr (a
    /// handshake that failed because its output ended or was not MCP).
    pub async fn report(self) -> Report {
        let status = tokio::time::timeout(SETTLE, self.exit)
            .await
            .ok()
            .and_then(Result::ok)
            .flatten();
        if status.is_some() {
            let _ = tokio::time::timeout(SETTLE, self.stdout).await;
            let _ = tokio::time::timeout(SETTLE, self.stderr).await;
        }
        Report {
            status,
            stderr: lock(&self.tail).iter().cloned().collect(),
            stray: lock(&self.stray).clone(),
        }
    }
}

/// Starts the server `config` describes, its environment cleared but for
/// [`BASE_ENV`](super::BASE_ENV) and its own; it is ended when `session` is cancelled.
pub(super) fn spawn(
    config: &McpServerConfig,
    session: CancellationToken,
) -> std::io::Result<Spawned> {
    let mut command = tokio::process::Command::new(&config.command);
    command
        .args(&config.args)
        .env_clear()
        .envs(env::child_env(&config.env))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(cwd) = &config.cwd {
        command.current_dir(cwd);
    }
    let mut child = command.spawn()?;
    let (Some(stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(std::io::Error::other("the child's stdio was not piped"));
    };
    let tail = Arc::new(Mutex::new(VecDeque::new()));
    let stray = Arc::new(Mutex::new(None));
    let exit = tokio::spawn(async move {
        tokio::select! {
            status = child.wait() => status.ok(),
            () = session.cancelled() => {
                // The transport closes the child's stdin; one that stays is killed.
                match tokio::time::timeout(EXIT_GRACE, child.wait()).await {
                    Ok(status) => status.ok(),
                    Err(_) => {
                        let _ = child.kill().await;
                        None
                    }
                }
            }
        }
    });
    let stderr = tokio::spawn(pass_stderr(stderr, tail.clone()));
    let (transport_end, pump_end) = tokio::io::duplex(PIPE_BYTES);
    let stdout = tokio::spawn(pass_stdout(stdout, pump_end, Scanner::new(stray.clone())));
    Ok(Spawned {
        transport: (transport_end, stdin),
        watch: Watch {
            exit,
            stdout,
            stderr,
            tail,
            stray,
        },
    })
}

/// Copies the child's stderr to this process's, keeping its last [`TAIL_LINES`] lines.
async fn pass_stderr(stderr: tokio::process::ChildStderr, tail: Arc<Mutex<VecDeque<String>>>) {
    let mut reader = tokio::io::BufReader::new(stderr);
    let mut out = tokio::io::stderr();
    let mut line = Vec::new();
    loop {
        line.clear();
        // A line longer than the cap is kept in pieces.
        match (&mut reader)
            .take(INSPECT_BYTES as u64)
            .read_until(b'\n', &mut line)
            .await
        {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let _ = out.write_all(&line).await;
        let text = shorten(&line);
        if text.is_empty() {
            continue;
        }
        let mut kept = lock(&tail);
        if kept.len() == TAIL_LINES {
            kept.pop_front();
        }
        kept.push_back(text);
    }
}

/// Passes the child's stdout on to the transport, scanning it; once the transport is
/// gone it goes on reading (and scanning) until the output ends.
async fn pass_stdout(mut stdout: ChildStdout, mut transport: DuplexStream, mut scanner: Scanner) {
    let mut buf = vec![0u8; 16 * 1024];
    let mut forwarding = true;
    loop {
        let n = match stdout.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let read = &buf[..n];
        scanner.scan(read);
        if forwarding && transport.write_all(read).await.is_err() {
            forwarding = false;
        }
        if !forwarding && scanner.done {
            return;
        }
    }
    // End of output: a last line without a newline counts too.
    scanner.end_line();
}

/// Notes the first line of the child's stdout that is not a JSON-RPC message (a banner,
/// a usage text, a log line).
struct Scanner {
    line: Vec<u8>,
    long: bool,
    stray: Arc<Mutex<Option<String>>>,
    done: bool,
}

impl Scanner {
    fn new(stray: Arc<Mutex<Option<String>>>) -> Self {
        Self {
            line: Vec::new(),
            long: false,
            stray,
            done: false,
        }
    }

    fn scan(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            if self.done {
                return;
            }
            if byte == b'\n' {
                self.end_line();
            } else if self.line.len() < INSPECT_BYTES {
                self.line.push(byte);
            } else {
                self.long = true;
            }
        }
    }

    fn end_line(&mut self) {
        if !self.done && !is_json_rpc(&self.line, self.long) {
            *lock(&self.stray) = Some(shorten(&self.line));
            self.done = true;
        }
        self.line.clear();
        self.long = false;
    }
}

/// Whether `line` (without its newline) is blank or a JSON-RPC message; a line longer
/// than what is parsed only has to start like a JSON object.
fn is_json_rpc(line: &[u8], long: bool) -> bool {
    let text = line.trim_ascii();
    if text.is_empty() {
        return true;
    }
    if long {
        return text.starts_with(b"{");
    }
    let text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
    matches!(
        serde_json::from_slice::<serde_json::Value>(text),
        Ok(serde_json::Value::Object(map)) if map.get("jsonrpc").and_then(|v| v.as_str()) == Some("2.0")
    )
}

/// `bytes` as text for a message: lossy UTF-8, trimmed, at most [`LINE_CHARS`]
/// characters.
fn shorten(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    match text.char_indices().nth(LINE_CHARS) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text.to_owned(),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_rpc_lines_pass_and_anything_else_is_noted() {
        assert!(is_json_rpc(
            br#"{"jsonrpc":"2.0","id":0,"result":{}}"#,
            false
        ));
        assert!(is_json_rpc(b"   ", false));
        assert!(!is_json_rpc(b"Usage: server [--port N]", false));
        assert!(!is_json_rpc(br#"{"hello":"world"}"#, false));
        assert!(!is_json_rpc(b"[1, 2]", false));
        assert!(is_json_rpc(b"{ a very long line", true));
        assert!(!is_json_rpc(b"a very long line", true));
    }

    #[test]
    fn the_first_stray_line_is_kept_even_without_a_newline() {
        let stray = Arc::new(Mutex::new(None));
        let mut observed = Scanner::new(stray.clone());
        observed.scan(b"{\"jsonrpc\":\"2.0\",\"method\":\"x\"}\nhello th");
        observed.scan(b"ere");
        assert_eq!(*lock(&stray), None);
        observed.end_line();
        assert_eq!(lock(&stray).as_deref(), Some("hello there"));
        observed.scan(b"\nsecond\n");
        assert_eq!(lock(&stray).as_deref(), Some("hello there"));
    }

    #[test]
    fn long_lines_are_shortened() {
        let long = "x".repeat(LINE_CHARS + 10);
        let short = shorten(long.as_bytes());
        assert_eq!(short.len(), LINE_CHARS + 3);
        assert!(short.ends_with("..."));
    }
}
