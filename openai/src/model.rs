//! [`OpenAiModel`]: the [`LanguageModel`] trait over HTTP.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use agentry_model::{
    CandidateScore, Completion, CompletionStream, FinishReason, GenerateRequest, LanguageModel,
    ModelError, ModelInfo, ModelInput, ScoreRequest, StreamEvent, Timings, ToolCallSyntax, Usage,
};
use async_trait::async_trait;
use futures_util::future::try_join_all;
use reqwest::{Response, StatusCode};
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use crate::config::{OpenAiConfig, ServerFlavor};
use crate::constraint::{Plan, shorten};
use crate::sse::SseReader;
use crate::wire::{self, CallParts, Endpoint};

/// Most bytes of a whole (non-streamed) reply read from the server.
pub const MAX_BODY_BYTES: usize = 16 << 20;
/// Most bytes of one server-sent event of a streamed reply.
pub const MAX_EVENT_BYTES: usize = 1 << 20;
/// Most characters of what a server said quoted in an error.
const QUOTED_CHARS: usize = 400;
/// Most tool calls read from one reply.
const MAX_CALLS_READ: usize = 64;
/// The context size assumed when the server does not say.
const DEFAULT_N_CTX: usize = 4096;
/// The format agentry writes a reply's tool calls in (they arrive structured).
const SYNTAX: ToolCallSyntax = ToolCallSyntax::Hermes;

/// A model on an OpenAI-compatible Chat Completions server (llama.cpp's `llama-server`,
/// vLLM, Ollama, a hosted API), usable wherever a local model is.
///
/// - Chat messages go to `/chat/completions`, raw text to `/completions`.
/// - `n` samples are `n` requests with seeds `seed`, `seed + 1`, …, sent together (the
///   trait's contract; many servers ignore or refuse OpenAI's own `n`), each with its
///   own usage.
/// - Constraints are sent the way the server takes them (see
///   [`constraint`](crate::constraint)); one the server cannot honour is an error before
///   anything is sent, and every reply is checked against its constraint again.
/// - Tools ([`ModelInput::WithTools`]) are sent as `tools`; the reply's `tool_calls` come
///   back written in Hermes' `<tool_call>` format ([`LanguageModel::tool_call_syntax`]),
///   so agents read them like a local model's.
/// - Sessions are not sent: llama.cpp reuses a cached prefix by itself (`cache_prompt`).
/// - Scoring is unsupported (the trait's [`ModelError::Unsupported`]); token counting
///   uses llama.cpp's `/tokenize`, and is unsupported elsewhere.
///
/// Cheap to clone (the HTTP client and settings are shared).
#[derive(Clone)]
pub struct OpenAiModel {
    inner: Arc<Inner>,
}

struct Inner {
    config: OpenAiConfig,
    client: reqwest::Client,
    api_key: Option<String>,
    flavor: ServerFlavor,
    info: ModelInfo,
    server: String,
}

impl std::fmt::Debug for OpenAiModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiModel")
            .field("server", &self.inner.server)
            .field("flavor", &self.inner.flavor)
            .finish_non_exhaustive()
    }
}

impl OpenAiModel {
    /// Connects to the server: asks its `/models` whether it serves the model (an error
    /// listing what it does serve when not), detects llama.cpp there unless the flavor is
    /// set, and reads the context size from llama.cpp's `/props`.
    ///
    /// # Errors
    /// [`ModelError::Remote`] naming the server when it cannot be reached, refuses the
    /// key, or does not serve the model; [`ModelError::InvalidRequest`] when the named
    /// API key variable is unset.
    pub async fn connect(config: OpenAiConfig) -> Result<Self, ModelError> {
        let server = config.server_name();
        let api_key = config
            .api_key()
            .map_err(|e| ModelError::InvalidRequest(format!("{server}: {e}")))?;
        let client = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .read_timeout(config.timeout)
            .user_agent(concat!("agentry/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ModelError::Remote {
                server: server.clone(),
                status: None,
                detail: format!("cannot build the HTTP client: {e}"),
            })?;
        let mut inner = Inner {
            info: ModelInfo {
                name: config.model.clone(),
                path: PathBuf::from(config.base_url.as_str()),
                n_ctx: config.n_ctx.unwrap_or(DEFAULT_N_CTX),
                n_ctx_train: config.n_ctx.unwrap_or(DEFAULT_N_CTX),
                n_vocab: 0,
                parameters: 0,
                has_chat_template: true,
            },
            flavor: config.flavor.unwrap_or(ServerFlavor::Generic),
            config,
            client,
            api_key,
            server,
        };
        inner.discover().await?;
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// The server's kind (detected or configured).
    pub fn flavor(&self) -> ServerFlavor {
        self.inner.flavor
    }

    /// The configuration it was connected with.
    pub fn config(&self) -> &OpenAiConfig {
        &self.inner.config
    }
}

impl Inner {
    /// `/models` (the model is served; llama.cpp or not) and llama.cpp's `/props`.
    async fn discover(&mut self) -> Result<(), ModelError> {
        let url = self.config.endpoint("models");
        let response = self.send(|client| client.get(&url)).await?;
        let status = response.status();
        if status == StatusCode::NOT_FOUND || status == StatusCode::METHOD_NOT_ALLOWED {
            // No model list here: nothing to check; the first request will tell.
            return Ok(());
        }
        let listing = self.read_json(response).await?;
        let models = listing
            .get("data")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        fn served(m: &Value) -> Option<&str> {
            m.get("id").and_then(Value::as_str)
        }
        if self.config.flavor.is_none()
            && models
                .iter()
                .any(|m| m.get("owned_by").and_then(Value::as_str) == Some("llamacpp"))
        {
            self.flavor = ServerFlavor::LlamaCpp;
        }
        let Some(entry) = models
            .iter()
            .find(|m| served(m) == Some(self.config.model.as_str()))
        else {
            let names: Vec<&str> = models.iter().filter_map(served).take(20).collect();
            return Err(self.remote(
                None,
                format!(
                    "the server does not serve a model named `{}`; it lists: {}",
                    self.config.model,
                    if names.is_empty() {
                        "none".to_owned()
                    } else {
                        names.join(", ")
                    }
                ),
            ));
        };
        let meta = |key: &str| {
            entry
                .pointer(&format!("/meta/{key}"))
                .and_then(Value::as_u64)
        };
        if let Some(n) = meta("n_ctx_train") {
            self.info.n_ctx_train = n as usize;
        }
        if let Some(n) = meta("n_vocab") {
            self.info.n_vocab = n as usize;
        }
        if let Some(n) = meta("n_params") {
            self.info.parameters = n;
        }
        if let Some(n) = meta("n_ctx").filter(|_| self.config.n_ctx.is_none()) {
            self.info.n_ctx = n as usize;
        }
        if self.flavor == ServerFlavor::LlamaCpp && self.config.n_ctx.is_none() {
            let url = self.config.root_endpoint("props");
            let response = self.send(|client| client.get(&url)).await?;
            if response.status().is_success() {
                let props = self.read_json(response).await?;
                let n_ctx = props
                    .pointer("/default_generation_settings/n_ctx")
                    .or_else(|| props.get("n_ctx"))
                    .and_then(Value::as_u64);
                if let Some(n_ctx) = n_ctx {
                    self.info.n_ctx = n_ctx as usize;
                }
            }
        }
        Ok(())
    }

    fn remote(&self, status: Option<u16>, detail: String) -> ModelError {
        ModelError::Remote {
            server: self.server.clone(),
            status,
            detail,
        }
    }

    /// Sends the request `build` makes, retrying on 429, 5xx and failed connections
    /// (bounded, with backoff). Returns the first response that is not retried, whatever
    /// its status; an error when the server could not be reached at all.
    async fn send(
        &self,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<Response, ModelError> {
        let mut attempt = 0u32;
        loop {
            let mut request = build(&self.client);
            if let Some(key) = &self.api_key {
                request = request.bearer_auth(key);
            }
            let retries_left = attempt < self.config.max_retries;
            let wait = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    let retryable =
                        status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
                    if !(retryable && retries_left) {
                        return Ok(response);
                    }
                    retry_after(&response)
                }
                Err(error) => {
                    if !((error.is_connect() || error.is_request()) && retries_left) {
                        return Err(self.remote(None, describe(&error)));
                    }
                    None
                }
            };
            let backoff = Duration::from_millis(250u64 << attempt.min(5));
            let wait = wait.unwrap_or(backoff).min(Duration::from_secs(30));
            tracing::debug!(server = %self.server, attempt, ?wait, "retrying");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// The body of a successful response as JSON (at most [`MAX_BODY_BYTES`]), or the
    /// error the status and body say.
    async fn read_json(&self, response: Response) -> Result<Value, ModelError> {
        let status = response.status();
        let body = self.read_capped(response).await?;
        if !status.is_success() {
            return Err(self.status_error(status, &body));
        }
        serde_json::from_slice(&body).map_err(|e| {
            self.remote(
                Some(status.as_u16()),
                format!(
                    "the reply is not JSON ({e}): {}",
                    shorten(&String::from_utf8_lossy(&body), QUOTED_CHARS)
                ),
            )
        })
    }

    async fn read_capped(&self, mut response: Response) -> Result<Vec<u8>, ModelError> {
        let status = response.status().as_u16();
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > MAX_BODY_BYTES {
                        return Err(self.remote(
                            Some(status),
                            format!("the reply is longer than {MAX_BODY_BYTES} bytes"),
                        ));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(body),
                Err(error) => return Err(self.remote(Some(status), describe(&error))),
            }
        }
    }

    /// The error of a response with a failure status, quoting the server's message.
    fn status_error(&self, status: StatusCode, body: &[u8]) -> ModelError {
        let said = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| {
                v.pointer("/error/message")
                    .or_else(|| v.get("error"))
                    .or_else(|| v.get("message"))
                    .map(|m| m.as_str().map_or_else(|| m.to_string(), str::to_owned))
            })
            .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
        let said = said.trim();
        let hint = match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                " (check the API key: OPENAI_API_KEY or the spec's api_key_env)"
            }
            _ => "",
        };
        self.remote(
            Some(status.as_u16()),
            format!(
                "HTTP {status}{hint}: {}",
                if said.is_empty() {
                    "(no message)".to_owned()
                } else {
                    shorten(said, QUOTED_CHARS)
                }
            ),
        )
    }

    /// Posts one sample's request.
    async fn post(
        &self,
        endpoint: Endpoint,
        body: &Map<String, Value>,
    ) -> Result<Response, ModelError> {
        let url = self.config.endpoint(endpoint.path());
        let timeout = self.config.timeout;
        let streamed = body.get("stream") == Some(&Value::Bool(true));
        let response = self
            .send(|client| {
                let request = client.post(&url).json(body);
                // A stream's whole length is unbounded; its reads time out instead.
                if streamed {
                    request
                } else {
                    request.timeout(timeout)
                }
            })
            .await?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body = self.read_capped(response).await.unwrap_or_default();
        Err(self.status_error(status, &body))
    }

    /// The request bodies of `req`'s samples and the constraint's plan.
    fn prepare(&self, req: &GenerateRequest, stream: bool) -> Result<Prepared, ModelError> {
        let has_tools =
            matches!(&req.prompt, ModelInput::WithTools { tools, .. } if !tools.is_empty());
        if matches!(req.prompt, ModelInput::WithTools { .. }) && !self.config.native_tools {
            return Err(ModelError::InvalidRequest(format!(
                "{}: native tools are off for this model (its tool_call_syntax is None)",
                self.server
            )));
        }
        let plan = Plan::new(&req.constraint, self.flavor, has_tools, &self.server)?;
        let mut endpoint = Endpoint::Chat;
        let bodies = (0..req.n.max(1))
            .map(|index| {
                let (e, mut body) = wire::body(
                    &self.config.model,
                    req,
                    self.flavor,
                    Some(SYNTAX),
                    index,
                    stream,
                )?;
                endpoint = e;
                body.extend(plan.fields.clone());
                Ok(body)
            })
            .collect::<Result<Vec<_>, ModelError>>()?;
        if endpoint == Endpoint::Completions
            && plan.fields.contains_key("response_format")
            && self.flavor != ServerFlavor::LlamaCpp
        {
            return Err(ModelError::Unsupported(format!(
                "a constrained raw-text request: {} is not llama.cpp's server, and OpenAI's /completions takes no response_format",
                self.server
            )));
        }
        Ok((endpoint, bodies, plan))
    }

    /// One whole reply as a completion.
    async fn complete_one(
        &self,
        endpoint: Endpoint,
        body: &Map<String, Value>,
        plan: &Plan,
    ) -> Result<Completion, ModelError> {
        let started = Instant::now();
        let response = self.post(endpoint, body).await?;
        let reply = self.read_json(response).await?;
        let elapsed = started.elapsed();
        let choice = reply
            .pointer("/choices/0")
            .ok_or_else(|| self.unreadable("no choices", &reply))?;
        let mut content = String::new();
        let mut calls = Vec::new();
        match endpoint {
            Endpoint::Chat => {
                let message = choice.get("message").unwrap_or(&Value::Null);
                if let Some(text) = message.get("content").and_then(Value::as_str) {
                    content.push_str(text);
                }
                if let Some(list) = message.get("tool_calls") {
                    wire::add_tool_calls(&mut calls, list, MAX_CALLS_READ)
                        .map_err(|e| self.unreadable(&e, &reply))?;
                }
            }
            Endpoint::Completions => {
                if let Some(text) = choice.get("text").and_then(Value::as_str) {
                    content.push_str(text);
                }
            }
        }
        let finish = self.finish_reason(choice.get("finish_reason"))?;
        let usage = usage(&reply);
        let timings = timings(&reply).unwrap_or(Timings {
            prompt: Duration::ZERO,
            decode: elapsed,
        });
        self.finish(content, &calls, finish, usage, timings, plan)
    }

    /// Checks and shapes a finished reply.
    fn finish(
        &self,
        content: String,
        calls: &[CallParts],
        finish_reason: FinishReason,
        usage: Usage,
        timings: Timings,
        plan: &Plan,
    ) -> Result<Completion, ModelError> {
        let text = wire::reply_text(&content, calls, SYNTAX)
            .map_err(|e| self.remote(None, format!("unreadable tool calls: {e}")))?;
        // A reply cut by a limit is returned as such: callers of a constrained request
        // turn it into an error with `Completion::require_complete`.
        let text = if finish_reason == FinishReason::Stop {
            plan.check(text)?
        } else {
            text
        };
        Ok(Completion {
            text,
            finish_reason,
            usage,
            timings,
        })
    }

    fn unreadable(&self, what: &str, reply: &Value) -> ModelError {
        self.remote(
            None,
            format!(
                "unreadable reply ({what}): {}",
                shorten(&reply.to_string(), QUOTED_CHARS)
            ),
        )
    }

    fn finish_reason(&self, value: Option<&Value>) -> Result<FinishReason, ModelError> {
        match value.and_then(Value::as_str) {
            None | Some("stop" | "tool_calls" | "function_call" | "eos") => Ok(FinishReason::Stop),
            Some("length") => Ok(FinishReason::Length),
            Some(other) => Err(self.remote(
                None,
                format!("the reply ended with finish_reason `{other}`"),
            )),
        }
    }

    /// Reads one streamed sample, sending its text to `tx` as it comes.
    async fn stream_one(
        &self,
        index: usize,
        endpoint: Endpoint,
        response: Response,
        plan: &Plan,
        tx: &mpsc::UnboundedSender<Result<StreamEvent, ModelError>>,
    ) -> Result<Completion, ModelError> {
        let started = Instant::now();
        let mut first: Option<Duration> = None;
        let mut reader = SseReader::new(MAX_EVENT_BYTES);
        let mut response = response;
        let mut content = String::new();
        let mut calls = Vec::new();
        let mut finish = None;
        let mut usage_seen = Usage::default();
        let mut done = false;
        let mut received = 0usize;
        while !done {
            let chunk = match response.chunk().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                Err(error) => {
                    return Err(
                        self.remote(None, format!("the stream broke: {}", describe(&error)))
                    );
                }
            };
            received += chunk.len();
            if received > MAX_BODY_BYTES {
                return Err(self.remote(
                    None,
                    format!("the stream is longer than {MAX_BODY_BYTES} bytes"),
                ));
            }
            let events = reader.feed(&chunk).map_err(|e| {
                self.remote(
                    None,
                    format!("a server-sent event is longer than {} bytes", e.0),
                )
            })?;
            for data in events {
                if data.trim() == "[DONE]" {
                    done = true;
                    break;
                }
                let event: Value = serde_json::from_str(&data).map_err(|e| {
                    self.remote(
                        None,
                        format!(
                            "a streamed event is not JSON ({e}): {}",
                            shorten(&data, QUOTED_CHARS)
                        ),
                    )
                })?;
                if let Some(error) = event.get("error") {
                    let said = error
                        .get("message")
                        .and_then(Value::as_str)
                        .map_or_else(|| error.to_string(), str::to_owned);
                    return Err(self.remote(
                        None,
                        format!("the stream failed: {}", shorten(&said, QUOTED_CHARS)),
                    ));
                }
                if event.get("usage").is_some_and(Value::is_object) {
                    usage_seen = usage(&event);
                }
                let Some(choice) = event.pointer("/choices/0") else {
                    continue;
                };
                let piece = match endpoint {
                    Endpoint::Chat => {
                        let delta = choice.get("delta").unwrap_or(&Value::Null);
                        if let Some(list) = delta.get("tool_calls") {
                            wire::add_tool_calls(&mut calls, list, MAX_CALLS_READ)
                                .map_err(|e| self.unreadable(&e, &event))?;
                        }
                        delta.get("content").and_then(Value::as_str)
                    }
                    Endpoint::Completions => choice.get("text").and_then(Value::as_str),
                };
                if let Some(piece) = piece.filter(|p| !p.is_empty()) {
                    first.get_or_insert_with(|| started.elapsed());
                    content.push_str(piece);
                    let token = StreamEvent::Token {
                        index,
                        text: piece.to_owned(),
                    };
                    if tx.send(Ok(token)).is_err() {
                        return Err(ModelError::WorkerGone);
                    }
                }
                if let Some(reason) = choice.get("finish_reason").filter(|r| !r.is_null()) {
                    finish = Some(self.finish_reason(Some(reason))?);
                }
            }
        }
        if let Some(data) = reader.finish().filter(|d| d.trim() != "[DONE]") {
            tracing::debug!(server = %self.server, data = %shorten(&data, 80), "an unterminated last event was dropped");
        }
        let Some(finish) = finish else {
            return Err(self.remote(
                None,
                "the stream ended before the reply was finished".into(),
            ));
        };
        let text_before = content.clone();
        let first = first.unwrap_or_else(|| started.elapsed());
        let timings = Timings {
            prompt: first,
            decode: started.elapsed().saturating_sub(first),
        };
        let completion = self.finish(content, &calls, finish, usage_seen, timings, plan)?;
        // The calls arrived structured; their written form is the rest of the text.
        if let Some(rest) = completion
            .text
            .strip_prefix(text_before.as_str())
            .filter(|r| !r.is_empty())
        {
            let token = StreamEvent::Token {
                index,
                text: rest.to_owned(),
            };
            if tx.send(Ok(token)).is_err() {
                return Err(ModelError::WorkerGone);
            }
        }
        Ok(completion)
    }
}

/// The endpoint, the body of each sample's request, and the constraint's plan.
type Prepared = (Endpoint, Vec<Map<String, Value>>, Plan);

/// `Retry-After` in seconds, when the server sent one.
fn retry_after(response: &Response) -> Option<Duration> {
    response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// A transport error with its causes (reqwest's own message omits them).
fn describe(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        format!("timed out: {error}")
    } else if error.is_connect() {
        format!("cannot connect: {error}")
    } else {
        error.to_string()
    };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let said = cause.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        source = cause.source();
    }
    text
}

/// The usage of a reply; evaluated = prompt − cached.
fn usage(reply: &Value) -> Usage {
    let count = |pointer: &str| {
        reply
            .pointer(pointer)
            .and_then(Value::as_u64)
            .map(|n| n as usize)
    };
    let prompt_tokens = count("/usage/prompt_tokens").unwrap_or(0);
    let cached_tokens = count("/usage/prompt_tokens_details/cached_tokens")
        .or_else(|| count("/timings/cache_n"))
        .unwrap_or(0)
        .min(prompt_tokens);
    Usage {
        prompt_tokens,
        cached_tokens,
        evaluated_tokens: prompt_tokens - cached_tokens,
        completion_tokens: count("/usage/completion_tokens").unwrap_or(0),
    }
}

/// llama.cpp's own `timings` of a reply.
fn timings(reply: &Value) -> Option<Timings> {
    let ms = |key: &str| {
        reply
            .pointer(&format!("/timings/{key}"))
            .and_then(Value::as_f64)
            .filter(|ms| ms.is_finite() && *ms >= 0.0)
            .map(|ms| Duration::from_secs_f64(ms / 1000.0))
    };
    Some(Timings {
        prompt: ms("prompt_ms")?,
        decode: ms("predicted_ms")?,
    })
}

#[async_trait]
impl LanguageModel for OpenAiModel {
    fn info(&self) -> &ModelInfo {
        &self.inner.info
    }

    async fn generate(&self, req: GenerateRequest) -> Result<Vec<Completion>, ModelError> {
        let inner = &self.inner;
        let (endpoint, bodies, plan) = inner.prepare(&req, false)?;
        try_join_all(
            bodies
                .iter()
                .map(|body| inner.complete_one(endpoint, body, &plan)),
        )
        .await
    }

    async fn generate_batch(
        &self,
        reqs: Vec<GenerateRequest>,
    ) -> Result<Vec<Vec<Completion>>, ModelError> {
        try_join_all(reqs.into_iter().map(|req| self.generate(req))).await
    }

    async fn stream(&self, req: GenerateRequest) -> Result<CompletionStream, ModelError> {
        let inner = Arc::clone(&self.inner);
        let (endpoint, bodies, plan) = inner.prepare(&req, true)?;
        // Connect every sample first, so a refused request is this call's error.
        let responses = try_join_all(bodies.iter().map(|body| inner.post(endpoint, body))).await?;
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let samples = responses
                .into_iter()
                .enumerate()
                .map(|(index, response)| inner.stream_one(index, endpoint, response, &plan, &tx));
            let event = match try_join_all(samples).await {
                Ok(completions) => Ok(StreamEvent::Done(completions)),
                // The caller dropped the stream: nobody to tell.
                Err(_) if tx.is_closed() => return,
                Err(error) => Err(error),
            };
            let _ = tx.send(event);
        });
        Ok(CompletionStream::new(rx))
    }

    async fn score(&self, _req: ScoreRequest) -> Result<Vec<CandidateScore>, ModelError> {
        Err(ModelError::Unsupported(format!(
            "scoring candidates on {} (the Chat Completions API returns no log-probabilities of given text)",
            self.inner.server
        )))
    }

    async fn count_tokens(&self, text: &str) -> Result<usize, ModelError> {
        let inner = &self.inner;
        if inner.flavor != ServerFlavor::LlamaCpp {
            return Err(ModelError::Unsupported(format!(
                "counting tokens on {} (only llama.cpp's server has /tokenize)",
                inner.server
            )));
        }
        let url = inner.config.root_endpoint("tokenize");
        let body = json!({"content": text, "add_special": false});
        let timeout = inner.config.timeout;
        let response = inner
            .send(|client| client.post(&url).json(&body).timeout(timeout))
            .await?;
        let reply = inner.read_json(response).await?;
        reply
            .get("tokens")
            .and_then(Value::as_array)
            .map(Vec::len)
            .ok_or_else(|| inner.unreadable("no tokens", &reply))
    }

    fn tool_call_syntax(&self) -> Option<ToolCallSyntax> {
        self.inner.config.native_tools.then_some(SYNTAX)
    }
}
