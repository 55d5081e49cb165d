//! LangGraph's side of the end-to-end benchmark: llama.cpp's `llama-server` started on
//! the same GGUF, threads and context (`--jinja` for tool calls, `--metrics` for its
//! prompt counters), and `langgraph_agent.py` (LangGraph's prebuilt ReAct agent with
//! `langchain-openai`'s ChatOpenAI) run by the LangGraph venv's Python against it.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use super::task::{self, Verdict};
use super::{E2eBenchError, E2eBenchOptions, SideReport};
use crate::bench::serve::{free_port, healthy, spawn};

/// The script, written to a temporary file for each run.
const SCRIPT: &str = include_str!("langgraph_agent.py");

/// The model name llama-server answers to.
const ALIAS: &str = "bench";

fn failed(detail: impl std::fmt::Display) -> E2eBenchError {
    E2eBenchError::LangGraph(detail.to_string())
}

/// What the script prints.
#[derive(Debug, Deserialize)]
struct ScriptReport {
    answer: String,
    ended: String,
    called: Vec<u64>,
    model_steps: usize,
    prompt_tokens: u64,
    completion_tokens: u64,
    task_seconds: f64,
}

/// llama-server's prompt counters: (evaluated, reused from its cache).
async fn prompt_counters(
    client: &reqwest::Client,
    root: &str,
) -> Result<(u64, u64), E2eBenchError> {
    let text = client
        .get(format!("{root}/metrics"))
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| failed(format!("llama-server /metrics: {e}")))?
        .text()
        .await
        .map_err(failed)?;
    let counter = |name: &str| {
        text.lines()
            .find_map(|line| {
                line.strip_prefix(name)?
                    .strip_prefix(' ')?
                    .trim()
                    .parse::<f64>()
                    .ok()
            })
            .map(|v| v as u64)
            .ok_or_else(|| failed(format!("llama-server /metrics has no {name}")))
    };
    Ok((
        counter("llamacpp:prompt_tokens_total")?,
        counter("llamacpp:prompt_tokens_cached_total")?,
    ))
}

/// Starts llama-server, runs the task once through LangGraph and stops the server.
pub async fn run(opts: &E2eBenchOptions) -> Result<SideReport, E2eBenchError> {
    let started = Instant::now();
    let port = free_port().map_err(failed)?;
    let mut command = Command::new(&opts.llama_server);
    command
        .arg("-m")
        .arg(&opts.gguf)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--alias", ALIAS, "-t", &opts.threads.to_string()])
        .args(["-np", "1", "-c", &opts.n_ctx.to_string()])
        .args(["--jinja", "--metrics"]);
    let mut server = spawn(&mut command, Stdio::null(), "llama-server").map_err(failed)?;
    let root = format!("http://127.0.0.1:{port}");
    healthy(&mut server, &root, "llama-server")
        .await
        .map_err(failed)?;
    let ready = started.elapsed();
    let client = reqwest::Client::new();
    let before = prompt_counters(&client, &root).await?;
    let result = run_script(opts, &root).await;
    let after = prompt_counters(&client, &root).await;
    let total_wall = started.elapsed();
    let _ = server.kill().await;
    let report = result?;
    let after = after?;
    Ok(SideReport {
        verdict: Verdict::judge(report.called, report.answer),
        ended: report.ended,
        model_steps: report.model_steps,
        prompt_tokens: report.prompt_tokens,
        evaluated_tokens: after.0.saturating_sub(before.0),
        completion_tokens: report.completion_tokens,
        ready,
        task_wall: Duration::from_secs_f64(report.task_seconds.max(0.0)),
        total_wall,
    })
}

/// Runs the script with the task's settings on stdin and reads its report.
async fn run_script(opts: &E2eBenchOptions, root: &str) -> Result<ScriptReport, E2eBenchError> {
    let dir = tempfile::tempdir().map_err(failed)?;
    let script = dir.path().join("langgraph_agent.py");
    std::fs::write(&script, SCRIPT).map_err(failed)?;
    let settings = json!({
        "base_url": format!("{root}/v1"),
        "model": ALIAS,
        "system": task::SYSTEM_PROMPT,
        "task": task::task(),
        "tool": {
            "name": task::TOOL,
            "description": task::TOOL_DESCRIPTION,
            "parameters": task::parameters(),
        },
        "replies": task::replies(),
        "max_tokens": opts.max_tokens,
        "max_steps": opts.max_steps,
    });
    let mut child = Command::new(&opts.python)
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| failed(format!("{}: {e}", opts.python.display())))?;
    let mut stdin = child.stdin.take().ok_or_else(|| failed("no stdin"))?;
    stdin
        .write_all(settings.to_string().as_bytes())
        .await
        .map_err(failed)?;
    drop(stdin);
    let output = child.wait_with_output().await.map_err(failed)?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(failed(format!(
            "the script exited with {}: {}",
            output.status,
            stderr.trim()
        )));
    }
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).map_err(|e| {
        failed(format!(
            "the script printed {line:?} ({e}); stderr: {}",
            stderr.trim()
        ))
    })
}
