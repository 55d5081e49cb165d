//! agentry's OpenAI-compatible HTTP server: a [`LanguageModel`] (and, beside it, agents
//! and an embedder) behind the Chat Completions and Embeddings APIs, so programs that
//! speak OpenAI's API (its official clients, LangChain, curl) can use local models and
//! agents.
//!
//! - `GET /health`: `{"status": "ok"}` (no API key needed).
//! - `GET /v1/models`: the model, every agent, and the embedding model.
//! - `POST /v1/chat/completions`: messages, sampling, `n`, `stop`, streaming (SSE),
//!   `tools` / `tool_choice` with `tool_calls` in the reply (in the model's own tool-call
//!   format, decoded under the call's schema; streamed, a call's name and then its
//!   arguments come in fragments as they are generated), `response_format` (`json_object`,
//!   `json_schema`) as constrained decoding, usage and finish reasons. A model name that
//!   is an agent's runs that agent on the last user message.
//! - `POST /v1/embeddings`: the embedder, `float` or `base64` vectors.
//!
//! Admission is bounded ([`ServerConfig::queue_capacity`] requests in the server at
//! once, 503 beyond); bodies are capped (413); an API key, when set, is required as
//! `Authorization: Bearer KEY` (401). Errors have OpenAI's shape:
//! `{"error": {"message", "type", "param", "code"}}`.
//!
//! ```no_run
//! use std::sync::Arc;
//! use agentry_server::{Server, ServerConfig};
//! # async fn demo(model: Arc<dyn agentry_model::LanguageModel>) -> std::io::Result<()> {
//! let router = Server::new(model, "smollm2-135m").config(ServerConfig::default()).router();
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! agentry_server::serve(listener, router, async {
//!     let _ = tokio::signal::ctrl_c().await;
//! })
//! .await
//! # }
//! ```

#![warn(missing_docs)]

mod batch;
mod chat;
mod embeddings;
pub mod error;
pub mod prompt;
mod tool_stream;
pub mod wire;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use agentry_core::agent::Agent;
use agentry_memory::Embedder;
use agentry_model::LanguageModel;
use axum::Json;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub use error::ApiError;

/// Limits and access of a server.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// Largest request body in bytes (413 beyond).
    pub max_body_bytes: usize,
    /// Largest `n`.
    pub max_n: usize,
    /// Largest `max_tokens` / `max_completion_tokens`.
    pub max_tokens: usize,
    /// `max_tokens` when a request sets none.
    pub default_max_tokens: usize,
    /// Requests (chat, agents, embeddings) admitted at once, running or waiting for the
    /// model; one more is refused with 503.
    pub queue_capacity: usize,
    /// Most texts in one embeddings request.
    pub max_embedding_inputs: usize,
    /// The API key clients must send as `Authorization: Bearer KEY`; `None`: no key.
    pub api_key: Option<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 4 * 1024 * 1024,
            max_n: 8,
            max_tokens: 4096,
            default_max_tokens: 512,
            queue_capacity: 64,
            max_embedding_inputs: 256,
            api_key: None,
        }
    }
}

/// An agent offered as a model name.
#[derive(Clone)]
pub struct ServedAgent {
    /// What it does (listed by `/v1/models`).
    pub description: String,
    /// The agent; its tools, policy and approver are its own.
    pub agent: Arc<Agent>,
}

/// What a server serves: build it, then take its [`Server::router`].
pub struct Server {
    model: Arc<dyn LanguageModel>,
    model_name: String,
    agents: BTreeMap<String, ServedAgent>,
    embedder: Option<(String, Arc<dyn Embedder>)>,
    config: ServerConfig,
}

impl Server {
    /// A server of `model`, offered under `name`.
    pub fn new(model: Arc<dyn LanguageModel>, name: impl Into<String>) -> Self {
        Self {
            model,
            model_name: name.into(),
            agents: BTreeMap::new(),
            embedder: None,
            config: ServerConfig::default(),
        }
    }

    /// Offers `agent` under the model name `name` (a later agent of the same name
    /// replaces it).
    pub fn agent(mut self, name: impl Into<String>, agent: ServedAgent) -> Self {
        self.agents.insert(name.into(), agent);
        self
    }

    /// Serves `/v1/embeddings` with `embedder` under the model name `name`.
    pub fn embedder(mut self, name: impl Into<String>, embedder: Arc<dyn Embedder>) -> Self {
        self.embedder = Some((name.into(), embedder));
        self
    }

    /// Sets the limits and the API key.
    pub fn config(mut self, config: ServerConfig) -> Self {
        self.config = config;
        self
    }

    /// The names clients can ask for: the model, then the agents.
    pub fn model_names(&self) -> Vec<String> {
        std::iter::once(self.model_name.clone())
            .chain(self.agents.keys().cloned())
            .collect()
    }

    /// The routes. Call it inside a tokio runtime: it starts the task that batches
    /// requests for the model.
    pub fn router(self) -> axum::Router {
        let max_body = self.config.max_body_bytes;
        let shared = Arc::new(Shared {
            batcher: batch::Batcher::start(self.model.clone()),
            permits: Arc::new(Semaphore::new(self.config.queue_capacity)),
            model: self.model,
            model_name: self.model_name,
            agents: self.agents,
            embedder: self.embedder,
            config: self.config,
        });
        axum::Router::new()
            .route("/health", get(health))
            .route("/v1/models", get(models))
            .route("/v1/chat/completions", post(chat::completions))
            .route("/v1/embeddings", post(embeddings::embeddings))
            .fallback(not_found)
            .layer(axum::middleware::from_fn_with_state(
                shared.clone(),
                authorize,
            ))
            .layer(DefaultBodyLimit::max(max_body))
            .with_state(shared)
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then lets requests in
/// flight finish (streams included) and returns.
///
/// # Errors
/// When accepting connections fails.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

/// The state every handler shares.
pub(crate) struct Shared {
    model: Arc<dyn LanguageModel>,
    model_name: String,
    agents: BTreeMap<String, ServedAgent>,
    embedder: Option<(String, Arc<dyn Embedder>)>,
    config: ServerConfig,
    permits: Arc<Semaphore>,
    batcher: batch::Batcher,
}

impl Shared {
    /// A place in the queue, or 503 when it is full.
    fn admit(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        self.permits.clone().try_acquire_owned().map_err(|_| {
            ApiError::Overloaded(format!(
                "the server is busy ({} requests in flight, its limit): retry later",
                self.config.queue_capacity
            ))
        })
    }

    fn model_names(&self) -> Vec<String> {
        std::iter::once(self.model_name.clone())
            .chain(self.agents.keys().cloned())
            .collect()
    }
}

async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn models(State(state): State<Arc<Shared>>) -> Json<Value> {
    let created = chat::now();
    let info = state.model.info();
    let mut data = vec![json!({
        "id": state.model_name,
        "object": "model",
        "created": created,
        "owned_by": "agentry",
        "meta": {"kind": "model", "n_ctx": info.n_ctx, "parameters": info.parameters},
    })];
    for (name, agent) in &state.agents {
        data.push(json!({
            "id": name,
            "object": "model",
            "created": created,
            "owned_by": "agentry",
            "meta": {"kind": "agent", "description": agent.description},
        }));
    }
    if let Some((name, embedder)) = &state.embedder {
        data.push(json!({
            "id": name,
            "object": "model",
            "created": created,
            "owned_by": "agentry",
            "meta": {"kind": "embedding", "dimension": embedder.dimension()},
        }));
    }
    Json(json!({"object": "list", "data": data}))
}

async fn not_found(request: Request) -> ApiError {
    ApiError::NotFound(format!(
        "no route {} {}: this server offers GET /health, GET /v1/models, POST /v1/chat/completions, POST /v1/embeddings",
        request.method(),
        request.uri().path()
    ))
}

/// Requires `Authorization: Bearer KEY` when the server has a key (`/health` is open).
async fn authorize(State(state): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let Some(key) = &state.config.api_key else {
        return next.run(request).await;
    };
    if request.uri().path() == "/health" {
        return next.run(request).await;
    }
    let given = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(given) if same(given.trim().as_bytes(), key.as_bytes()) => next.run(request).await,
        Some(_) => ApiError::Unauthorized("the API key is not valid".into()).into_response(),
        None => ApiError::Unauthorized(
            "this server needs an API key: send `Authorization: Bearer KEY`".into(),
        )
        .into_response(),
    }
}

/// Equality that takes the same time wherever the first difference is.
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
