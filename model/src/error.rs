//! The one error type of the model layer.

use std::path::PathBuf;

/// Why a model could not be loaded or a request could not be served.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The model file is missing, unreadable or not GGUF.
    #[error("cannot load model {}: {source}", path.display())]
    InvalidModelFile {
        /// The file.
        path: PathBuf,
        /// What the backend's file reader found (for llama.cpp: the GGUF header reader).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The backend (llama.cpp) refused to load the model or create its context.
    #[error("llama.cpp could not load {}: {detail}", path.display())]
    Load {
        /// The file.
        path: PathBuf,
        /// What llama.cpp reported.
        detail: String,
    },
    /// A LoRA adapter could not be loaded or applied.
    #[error("LoRA adapter {}: {detail}", path.display())]
    Lora {
        /// The adapter file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// A chat request was made but the model has no chat template and none was configured.
    #[error(
        "model {model} has no chat template (no `tokenizer.chat_template` in the GGUF): set `LlamaConfig::chat_template` or send a raw prompt"
    )]
    NoChatTemplate {
        /// The model's name and file.
        model: String,
    },
    /// The chat template failed to compile or render.
    #[error("chat template error: {0}")]
    Template(String),
    /// The prompt does not fit the context window.
    #[error(
        "the prompt has {prompt_tokens} tokens but the context holds {n_ctx}: shorten the prompt or raise the context size"
    )]
    ContextOverflow {
        /// Tokens in the prompt (plus at least one to generate).
        prompt_tokens: usize,
        /// The context size.
        n_ctx: usize,
    },
    /// A constraint (JSON Schema, grammar or choice) could not be compiled or applied.
    #[error("invalid constraint ({kind}): {detail}")]
    InvalidConstraint {
        /// Which kind of constraint.
        kind: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// A constrained reply was cut by a limit before its constraint was complete
    /// (see [`Completion::require_complete`](crate::Completion::require_complete)).
    #[error("the reply was cut before the {constraint} constraint was complete: {detail}")]
    Incomplete {
        /// Which kind of constraint.
        constraint: &'static str,
        /// What cut it.
        reason: crate::FinishReason,
        /// Which limit cut it and how to raise it.
        detail: String,
    },
    /// A request field has an impossible value.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The backend cannot serve this kind of request (e.g. scoring on a remote API that
    /// returns no log-probabilities); callers may fall back to another method.
    #[error("not supported by this backend: {0}")]
    Unsupported(String),
    /// The backend (llama.cpp) failed while evaluating tokens.
    #[error("decode failed: {0}")]
    Decode(String),
    /// The model's worker thread is gone (it panicked or was shut down).
    #[error("the model worker has stopped")]
    WorkerGone,
    /// A remote model server could not be reached, refused the request, or replied with
    /// something that is not a valid answer to it.
    #[error("model server {server}: {detail}")]
    Remote {
        /// The server's URL (and the model asked for).
        server: String,
        /// The HTTP status, when the server answered.
        status: Option<u16>,
        /// What went wrong, quoting what the server said (shortened).
        detail: String,
    },
    /// The output of a constrained generation could not be parsed.
    #[error("cannot parse model output {text:?}: {detail}")]
    Parse {
        /// The text the model produced.
        text: String,
        /// What was wrong.
        detail: String,
    },
}
