//! The serving benchmark behind `agentry bench serve`: `agentry serve` against llama.cpp's
//! own `llama-server -np N` on the same GGUF model and threads, both started as child
//! processes and measured one after the other in one run (the best of `rounds`
//! alternating rounds counts), and `OpenAiModel`'s cost per request over raw HTTP.
//!
//! Measures: aggregate decode tokens/s of 1 and of `clients` concurrent streaming
//! clients (streamed content chunks over the time from the first client's first chunk
//! to the last client's last), the time to first token of a follow-up turn whose prefix
//! the server has cached (and of the same turn cold, for scale), and the median wall time
//! of a one-token request made by `OpenAiModel::generate` and by a bare `reqwest` POST.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use agentry_model::{GenerateRequest, LanguageModel, Sampling};
use agentry_openai::{OpenAiConfig, OpenAiModel};
use agentry_prompts::ChatMessage;
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Why the benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeBenchError {
    /// A server did not start.
    #[error("{server} did not start: {detail}")]
    Start {
        /// Which server.
        server: String,
        /// Why.
        detail: String,
    },
    /// A request failed.
    #[error("{server}: {detail}")]
    Request {
        /// Which server.
        server: String,
        /// What went wrong.
        detail: String,
    },
}

/// What the benchmark runs.
#[derive(Debug, Clone, PartialEq)]
pub struct ServeBenchOptions {
    /// The `agentry` binary (`agentry serve`).
    pub agentry: PathBuf,
    /// The `llama-server` binary.
    pub llama_server: PathBuf,
    /// The model spec given to `agentry serve` (a registry name or a GGUF path).
    pub model: String,
    /// The GGUF file of that model, given to `llama-server`.
    pub gguf: PathBuf,
    /// CPU threads of each server.
    pub threads: i32,
    /// Context per conversation (llama-server gets `clients` times this, split in slots).
    pub n_ctx: u32,
    /// Concurrent clients of the many-client measure (`llama-server -np` this).
    pub clients: usize,
    /// Tokens each streaming client asks for.
    pub decode_tokens: usize,
    /// Requests of each kind in the client-overhead measure.
    pub overhead_requests: usize,
    /// Rounds (the best counts).
    pub rounds: usize,
}

/// One server's measures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct ServerSpeed {
    /// Decode tokens/s of one streaming client.
    pub one_client_tps: f64,
    /// Aggregate decode tokens/s of `clients` concurrent streaming clients.
    pub many_clients_tps: f64,
    /// Time to first token of a follow-up turn, its prefix cached.
    pub followup_ttft: Duration,
    /// Time to first token of the same turn with nothing cached.
    pub cold_ttft: Duration,
}

impl ServerSpeed {
    fn best(self, other: ServerSpeed) -> ServerSpeed {
        ServerSpeed {
            one_client_tps: self.one_client_tps.max(other.one_client_tps),
            many_clients_tps: self.many_clients_tps.max(other.many_clients_tps),
            followup_ttft: self.followup_ttft.min(other.followup_ttft),
            cold_ttft: self.cold_ttft.min(other.cold_ttft),
        }
    }

    fn worst() -> ServerSpeed {
        ServerSpeed {
            followup_ttft: Duration::MAX,
            cold_ttft: Duration::MAX,
            ..ServerSpeed::default()
        }
    }
}

/// The benchmark's results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServeBenchReport {
    /// The model spec.
    pub model: String,
    /// Threads of each server.
    pub threads: i32,
    /// Concurrent clients.
    pub clients: usize,
    /// Rounds run.
    pub rounds: usize,
    /// `llama-server -np clients`.
    pub llama_server: ServerSpeed,
    /// `agentry serve`.
    pub agentry: ServerSpeed,
    /// Median wall time of a one-token request by a bare HTTP POST (to llama-server).
    pub raw_request: Duration,
    /// Median wall time of the same request by `OpenAiModel::generate`.
    pub client_request: Duration,
}

/// `a / b`, NaN when `b` is not positive (a ratio a report prints as "—" or NaN).
pub(super) fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { f64::NAN }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl ServeBenchReport {
    /// The report as a markdown table.
    pub fn to_markdown(&self) -> String {
        let (l, a) = (&self.llama_server, &self.agentry);
        let mut s = format!(
            "Model `{}`, {} threads per server, {} concurrent clients, best of {} alternating rounds. Baseline: llama.cpp's `llama-server -np {}` (same GGUF, same threads).\n\n",
            self.model, self.threads, self.clients, self.rounds, self.clients
        );
        s.push_str(
            "| measure | llama-server | agentry serve | ratio | target |\n|---|---|---|---|---|\n",
        );
        s.push_str(&format!(
            "| decode tok/s, 1 streaming client | {:.1} | {:.1} | {:.3} | |\n",
            l.one_client_tps,
            a.one_client_tps,
            ratio(a.one_client_tps, l.one_client_tps)
        ));
        s.push_str(&format!(
            "| aggregate decode tok/s, {} streaming clients | {:.1} | {:.1} | {:.3} | ≥ 1.0 |\n",
            self.clients,
            l.many_clients_tps,
            a.many_clients_tps,
            ratio(a.many_clients_tps, l.many_clients_tps)
        ));
        s.push_str(&format!(
            "| follow-up turn, time to first token (prefix cached), ms | {:.1} | {:.1} | {:.3} | ≤ 1.0 |\n",
            ms(l.followup_ttft),
            ms(a.followup_ttft),
            ratio(ms(a.followup_ttft), ms(l.followup_ttft))
        ));
        s.push_str(&format!(
            "| the same turn cold (nothing cached), ms | {:.1} | {:.1} | {:.3} | |\n",
            ms(l.cold_ttft),
            ms(a.cold_ttft),
            ratio(ms(a.cold_ttft), ms(l.cold_ttft))
        ));
        s.push_str(&format!(
            "| one-token request to llama-server, median ms: raw HTTP vs `OpenAiModel` | {:.2} | {:.2} | {:+.2} ms | < 1 ms |\n",
            ms(self.raw_request),
            ms(self.client_request),
            ms(self.client_request) - ms(self.raw_request)
        ));
        s
    }
}

/// A server started for the benchmark, killed on drop.
struct Running {
    child: Child,
    /// `http://127.0.0.1:PORT/v1`.
    base: String,
    /// The model name it serves.
    name: String,
    label: &'static str,
}

impl Running {
    async fn stop(mut self) {
        let _ = self.child.kill().await;
    }

    fn error(&self, detail: impl std::fmt::Display) -> ServeBenchError {
        ServeBenchError::Request {
            server: self.label.to_owned(),
            detail: detail.to_string(),
        }
    }
}

pub(super) fn free_port() -> Result<u16, ServeBenchError> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| ServeBenchError::Start {
            server: "a server".into(),
            detail: format!("no free port: {e}"),
        })
}

/// Waits until `GET {root}/health` answers 200, or the child exits, or 180 s pass.
pub(super) async fn healthy(
    child: &mut Child,
    root: &str,
    label: &str,
) -> Result<(), ServeBenchError> {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(180);
    let failed = |detail: String| ServeBenchError::Start {
        server: label.to_owned(),
        detail,
    };
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(failed(format!("it exited with {status}")));
        }
        if let Ok(response) = client.get(format!("{root}/health")).send().await
            && response.status().is_success()
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(failed("not healthy after 180 s".into()));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Starts `command` (a server labelled `label`) with no stdin, stderr dropped and
/// `stdout` as given; it is killed when dropped.
pub(super) fn spawn(
    command: &mut Command,
    stdout: Stdio,
    label: &str,
) -> Result<Child, ServeBenchError> {
    command
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| ServeBenchError::Start {
            server: label.into(),
            detail: format!("{}: {e}", command.as_std().get_program().to_string_lossy()),
        })
}

async fn start_llama_server(opts: &ServeBenchOptions) -> Result<Running, ServeBenchError> {
    let port = free_port()?;
    let label = "llama-server";
    let mut command = Command::new(&opts.llama_server);
    command
        .arg("-m")
        .arg(&opts.gguf)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--alias", "bench", "-t", &opts.threads.to_string()])
        .args(["-np", &opts.clients.to_string()])
        .args(["-c", &(opts.n_ctx as usize * opts.clients).to_string()])
        .arg("--jinja");
    let mut child = spawn(&mut command, Stdio::null(), label)?;
    let root = format!("http://127.0.0.1:{port}");
    healthy(&mut child, &root, label).await?;
    Ok(Running {
        child,
        base: format!("{root}/v1"),
        name: "bench".into(),
        label,
    })
}

async fn start_agentry_serve(opts: &ServeBenchOptions) -> Result<Running, ServeBenchError> {
    let label = "agentry serve";
    let mut command = Command::new(&opts.agentry);
    command
        .args(["serve", "--model", &opts.model, "--bind", "127.0.0.1:0"])
        .args(["--threads", &opts.threads.to_string()])
        .args(["--ctx", &opts.n_ctx.to_string(), "--no-embeddings"]);
    let mut child = spawn(&mut command, Stdio::piped(), label)?;
    let failed = |detail: String| ServeBenchError::Start {
        server: label.into(),
        detail,
    };
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| failed("no stdout".into()))?;
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .await
        .map_err(|e| failed(e.to_string()))?;
    let address = line
        .split("listening on http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .map(|a| a.trim().to_owned())
        .ok_or_else(|| failed(format!("it printed {line:?}")))?;
    let root = format!("http://{address}");
    healthy(&mut child, &root, label).await?;
    let name = served_model(&format!("{root}/v1"), label).await?;
    Ok(Running {
        child,
        base: format!("{root}/v1"),
        name,
        label,
    })
}

/// The first model `GET /v1/models` lists.
async fn served_model(base: &str, label: &str) -> Result<String, ServeBenchError> {
    let failed = |detail: String| ServeBenchError::Request {
        server: label.to_owned(),
        detail,
    };
    let models: Value = reqwest::get(format!("{base}/models"))
        .await
        .map_err(|e| failed(e.to_string()))?
        .json()
        .await
        .map_err(|e| failed(e.to_string()))?;
    models["data"][0]["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| failed(format!("no model in {models}")))
}

/// When the content chunks of one streamed reply came: (count, first, last).
struct Streamed {
    tokens: usize,
    first: Option<Instant>,
    last: Option<Instant>,
}

/// Streams one chat completion; stops reading after `stop_after` content chunks when set.
async fn stream(
    server: &Running,
    client: &reqwest::Client,
    messages: &Value,
    max_tokens: usize,
    stop_after: Option<usize>,
) -> Result<Streamed, ServeBenchError> {
    let body = json!({
        "model": server.name,
        "messages": messages,
        "max_tokens": max_tokens,
        "temperature": 0,
        "stream": true,
    });
    let response = client
        .post(format!("{}/chat/completions", server.base))
        .json(&body)
        .send()
        .await
        .map_err(|e| server.error(e))?;
    if !response.status().is_success() {
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        return Err(server.error(format!("{status}: {text}")));
    }
    let mut out = Streamed {
        tokens: 0,
        first: None,
        last: None,
    };
    let mut bytes = response.bytes_stream();
    let mut pending = String::new();
    while let Some(chunk) = bytes.next().await {
        let chunk = chunk.map_err(|e| server.error(e))?;
        pending.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = pending.find('\n') {
            let line: String = pending.drain(..=end).collect();
            let Some(data) = line.trim().strip_prefix("data:") else {
                continue;
            };
            let Ok(event) = serde_json::from_str::<Value>(data.trim()) else {
                continue;
            };
            let content = event["choices"][0]["delta"]["content"].as_str();
            if content.is_some_and(|c| !c.is_empty()) {
                let now = Instant::now();
                out.first.get_or_insert(now);
                out.last = Some(now);
                out.tokens += 1;
                if stop_after.is_some_and(|n| out.tokens >= n) {
                    return Ok(out);
                }
            }
        }
    }
    Ok(out)
}

/// One chat completion, not streamed: the server's JSON reply.
async fn complete(
    server: &Running,
    client: &reqwest::Client,
    body: &Value,
) -> Result<Value, ServeBenchError> {
    client
        .post(format!("{}/chat/completions", server.base))
        .json(body)
        .send()
        .await
        .map_err(|e| server.error(e))?
        .json()
        .await
        .map_err(|e| server.error(e))
}

/// Aggregate decode tokens/s of `clients` concurrent streams.
async fn decode_speed(
    server: &Running,
    clients: usize,
    tokens: usize,
) -> Result<f64, ServeBenchError> {
    let client = reqwest::Client::new();
    let requests = (0..clients).map(|i| {
        let messages = json!([{"role": "user", "content": format!(
            "Write a long story about robot number {i} who learns to paint. Use many details."
        )}]);
        let client = client.clone();
        async move { stream(server, &client, &messages, tokens, None).await }
    });
    let results = futures_util::future::try_join_all(requests).await?;
    let total: usize = results.iter().map(|r| r.tokens.saturating_sub(1)).sum();
    let first = results.iter().filter_map(|r| r.first).min();
    let last = results.iter().filter_map(|r| r.last).max();
    match (first, last) {
        (Some(first), Some(last)) if last > first => {
            Ok(total as f64 / (last - first).as_secs_f64())
        }
        _ => Err(server.error("the streams gave no tokens to time")),
    }
}

/// A long system message (the cached prefix of the follow-up), different per `variant`.
fn system_prompt(variant: usize) -> String {
    let mut text = format!("Session {variant}. You are a patient assistant for a small bakery. ");
    for i in 0..12 {
        text.push_str(&format!(
            "Rule {i}: answer politely, mention opening hours (8 to 18) only when asked, \
             never invent prices, and keep every answer under three sentences. "
        ));
    }
    text
}

/// (follow-up TTFT with its prefix cached, the same turn cold).
async fn followup_ttft(
    server: &Running,
    variant: usize,
) -> Result<(Duration, Duration), ServeBenchError> {
    let client = reqwest::Client::new();
    let turn = |system: String, reply: &str| {
        json!([
            {"role": "system", "content": system},
            {"role": "user", "content": "Do you sell bread on Sundays?"},
            {"role": "assistant", "content": reply},
            {"role": "user", "content": "And what time do you open?"},
        ])
    };
    // The first turn, answered in full: the server keeps its prefix.
    let first = json!([
        {"role": "system", "content": system_prompt(variant)},
        {"role": "user", "content": "Do you sell bread on Sundays?"},
    ]);
    let body = json!({"model": server.name, "messages": first, "max_tokens": 16, "temperature": 0});
    let reply = complete(server, &client, &body).await?;
    let reply = reply["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or("Yes.")
        .to_owned();
    let timed = |messages: Value| {
        let client = client.clone();
        async move {
            let started = Instant::now();
            let streamed = stream(server, &client, &messages, 4, Some(1)).await?;
            streamed
                .first
                .map(|t| t - started)
                .ok_or_else(|| server.error("the follow-up gave no token"))
        }
    };
    let cached = timed(turn(system_prompt(variant), &reply)).await?;
    // The same turn under a system message no request has used: nothing to reuse.
    let cold = timed(turn(system_prompt(variant + 1000), &reply)).await?;
    Ok((cached, cold))
}

async fn measure(
    server: &Running,
    opts: &ServeBenchOptions,
    round: usize,
) -> Result<ServerSpeed, ServeBenchError> {
    // Warm-up: the first request pays for lazy initialisation.
    decode_speed(server, 1, 8).await?;
    let one_client_tps = decode_speed(server, 1, opts.decode_tokens).await?;
    let many_clients_tps = decode_speed(server, opts.clients, opts.decode_tokens).await?;
    let (followup_ttft, cold_ttft) = followup_ttft(server, round).await?;
    Ok(ServerSpeed {
        one_client_tps,
        many_clients_tps,
        followup_ttft,
        cold_ttft,
    })
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort_unstable();
    times.get(times.len() / 2).copied().unwrap_or_default()
}

/// Median wall times of one-token requests: (bare POST, `OpenAiModel::generate`),
/// interleaved so both see the same load.
async fn client_overhead(
    server: &Running,
    requests: usize,
) -> Result<(Duration, Duration), ServeBenchError> {
    let config = OpenAiConfig::new(&server.base, &server.name).map_err(|e| server.error(e))?;
    let model = OpenAiModel::connect(config)
        .await
        .map_err(|e| server.error(e))?;
    let client = reqwest::Client::new();
    let text = "Say yes.";
    let body = json!({
        "model": server.name,
        "messages": [{"role": "user", "content": text}],
        "max_tokens": 1,
        "temperature": 0,
    });
    let (mut raw, mut ours) = (Vec::new(), Vec::new());
    for _ in 0..requests.max(1) {
        let started = Instant::now();
        let reply = complete(server, &client, &body).await?;
        if reply["choices"][0]["message"].is_null() {
            return Err(server.error(format!("no message in {reply}")));
        }
        raw.push(started.elapsed());
        let mut request = GenerateRequest::chat(vec![ChatMessage::user(text)]);
        request.sampling = Sampling {
            temperature: 0.0,
            max_tokens: 1,
            ..Sampling::default()
        };
        let started = Instant::now();
        model.generate(request).await.map_err(|e| server.error(e))?;
        ours.push(started.elapsed());
    }
    Ok((median(raw), median(ours)))
}

/// Runs the benchmark (see the [module docs](self)).
///
/// # Errors
/// A server that does not start, a request that fails.
pub async fn run_serve_bench(opts: ServeBenchOptions) -> Result<ServeBenchReport, ServeBenchError> {
    let mut llama = ServerSpeed::worst();
    let mut agentry = ServerSpeed::worst();
    let mut overhead = (Duration::MAX, Duration::MAX);
    for round in 0..opts.rounds.max(1) {
        let server = start_llama_server(&opts).await?;
        let speed = measure(&server, &opts, round).await;
        let costs = match &speed {
            Ok(_) => client_overhead(&server, opts.overhead_requests).await,
            Err(_) => Ok(overhead),
        };
        server.stop().await;
        llama = llama.best(speed?);
        let costs = costs?;
        // The round with the quicker raw request is the quieter one: its pair counts.
        if costs.0 < overhead.0 {
            overhead = costs;
        }
        let server = start_agentry_serve(&opts).await?;
        let speed = measure(&server, &opts, round).await;
        server.stop().await;
        agentry = agentry.best(speed?);
    }
    Ok(ServeBenchReport {
        model: opts.model.clone(),
        threads: opts.threads,
        clients: opts.clients,
        rounds: opts.rounds.max(1),
        llama_server: llama,
        agentry,
        raw_request: overhead.0,
        client_request: overhead.1,
    })
}

/// The llama-server binary: `$LLAMA_SERVER`, else the one
/// `scripts/build-llama-server.sh` caches under `~/.cache/agentry/llama-server/bin`.
pub fn default_llama_server() -> Option<PathBuf> {
    super::llama_cpp_tool("LLAMA_SERVER", "llama-server")
}
