//! [`LlamaModel`]: the [`LanguageModel`] trait on llama.cpp (through `llama-cpp-2`).

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock, mpsc as std_mpsc};

use async_trait::async_trait;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::model::LlamaModel as RawModel;
use llama_cpp_2::model::params::LlamaModelParams;
use tokio::sync::{mpsc, oneshot};

use super::gguf::GgufInfo;
use super::sampler::{GrammarMode, SchemaEngine};
use super::template::ChatTemplate;
use super::threadpool::CpuThreadPool;
use super::worker::{Counters, Job, Worker};
use agentry_model::{
    CandidateScore, Completion, CompletionStream, GenerateRequest, LanguageModel, ModelError,
    ModelInfo, ModelInput, ScoreRequest, StreamEvent, TokenCount, ToolCallSyntax,
};

/// How a GGUF model is loaded and run.
#[derive(Debug, Clone, PartialEq)]
pub struct LlamaConfig {
    /// Context size in tokens, shared by all sequences (unified KV cache).
    pub n_ctx: u32,
    /// Largest number of tokens evaluated in one call.
    pub n_batch: u32,
    /// CPU threads for decoding and prompt evaluation.
    pub threads: i32,
    /// KV-cache sequences: sessions, samples and scoring candidates share them (at least 2).
    pub n_seq_max: u32,
    /// Layers offloaded to the GPU (needs the `cuda` feature).
    pub gpu_layers: u32,
    /// Flash attention: `None` lets llama.cpp decide.
    pub flash_attention: Option<bool>,
    /// LoRA adapters (GGUF) and their scales. llama-cpp-2 0.1.160 applies one adapter per
    /// context, so at most one is accepted. Each is checked against the model's header
    /// before llama.cpp loads it (architecture, tensor names, shapes).
    pub lora: Vec<(PathBuf, f32)>,
    /// A Jinja chat template that replaces the GGUF's own.
    pub chat_template: Option<String>,
    /// How grammars are enforced.
    pub grammar_mode: GrammarMode,
    /// What compiles and enforces JSON Schema constraints; [`SchemaEngine::Llguidance`]
    /// needs the `llguidance` feature.
    pub schema_engine: SchemaEngine,
}

impl Default for LlamaConfig {
    fn default() -> Self {
        let threads = std::thread::available_parallelism()
            .map(|n| n.get() as i32)
            .unwrap_or(2);
        Self {
            n_ctx: 4096,
            n_batch: 512,
            threads,
            n_seq_max: 16,
            gpu_layers: 0,
            flash_attention: None,
            lora: Vec::new(),
            chat_template: None,
            grammar_mode: GrammarMode::Lazy,
            schema_engine: SchemaEngine::default(),
        }
    }
}

/// The process-wide llama.cpp backend (`llama_backend_init` may run only once).
pub fn backend() -> Result<&'static LlamaBackend, ModelError> {
    static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
            LlamaBackend::init().map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| ModelError::Load {
            path: PathBuf::new(),
            detail: format!("cannot initialise the llama.cpp backend: {e}"),
        })
}

/// A GGUF model served by one worker thread; share it with `Arc` across tasks.
///
/// Requests are served one at a time in arrival order; each may decode several samples in one
/// batch. Dropping the handle stops the worker and waits until it has freed the model, so
/// no llama.cpp work is left running when the program exits.
#[derive(Debug)]
pub struct LlamaModel {
    jobs: std_mpsc::Sender<Job>,
    info: ModelInfo,
    /// The tool-call format of the chat template in use, when it renders tools.
    tool_calls: Option<ToolCallSyntax>,
    stats: Arc<Counters>,
    worker: Option<std::thread::JoinHandle<()>>,
}

impl Drop for LlamaModel {
    fn drop(&mut self) {
        // Closing the queue ends the worker's loop once its current job is done (a job
        // whose caller has gone stops at its next token); it then frees the context and
        // the model. Waiting for that keeps a process from exiting (and running
        // llama.cpp's static destructors) while a worker still frees the model.
        let (closed, _) = std_mpsc::channel();
        drop(std::mem::replace(&mut self.jobs, closed));
        if let Some(worker) = self.worker.take()
            && worker.thread().id() != std::thread::current().id()
        {
            let _ = worker.join();
        }
    }
}

/// Totals of the work a [`LlamaModel`] has done since it was loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ModelStats {
    /// Prompt tokens evaluated (cached prefixes and scoring candidates excluded).
    pub prompt_tokens_evaluated: u64,
    /// Tokens sampled, over all samples (cancelled generations included).
    pub tokens_generated: u64,
}

impl LlamaModel {
    /// Loads a GGUF file. Blocks while the model loads (use [`LlamaModel::open`] from async code).
    pub fn load(path: &Path, config: LlamaConfig) -> Result<Self, ModelError> {
        // Validate the file first: llama.cpp may abort the process on some malformed files.
        let gguf = GgufInfo::read(path).map_err(|source| ModelError::InvalidModelFile {
            path: path.to_path_buf(),
            source: Box::new(source),
        })?;
        if config.lora.len() > 1 {
            return Err(ModelError::Lora {
                path: config.lora[1].0.clone(),
                detail: "only one LoRA adapter per model is supported".into(),
            });
        }
        if !config.schema_engine.is_available() {
            return Err(ModelError::InvalidRequest(format!(
                "schema engine {:?} is not in this build: build with the `llguidance` feature",
                config.schema_engine
            )));
        }
        if config.n_seq_max < 2 {
            return Err(ModelError::InvalidRequest(format!(
                "n_seq_max {} is below 2",
                config.n_seq_max
            )));
        }
        // llama.cpp only says that an adapter failed to load: its header is checked here
        // against the model's first, so a misfit is named.
        for (lora, _) in &config.lora {
            let fail = |detail: String| ModelError::Lora {
                path: lora.clone(),
                detail,
            };
            let adapter = GgufInfo::read(lora).map_err(|e| fail(e.to_string()))?;
            super::lora::check_fit(&adapter, &gguf).map_err(fail)?;
        }
        let tool_calls = config
            .chat_template
            .as_deref()
            .or_else(|| {
                gguf.metadata
                    .get("tokenizer.chat_template")
                    .and_then(|v| v.as_str())
            })
            .and_then(ToolCallSyntax::detect);
        let backend = backend()?;
        let (jobs, rx) = std_mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = std_mpsc::channel::<Result<ModelInfo, ModelError>>();
        let path = path.to_path_buf();
        let stats = Arc::new(Counters::default());
        let worker_stats = stats.clone();
        let worker = std::thread::Builder::new()
            .name("agentry-llama".into())
            .spawn(move || run_worker(backend, &path, &gguf, &config, worker_stats, &ready_tx, &rx))
            .map_err(|e| ModelError::Load {
                path: PathBuf::new(),
                detail: format!("cannot start the worker thread: {e}"),
            })?;
        let info = ready_rx.recv().map_err(|_| ModelError::WorkerGone)??;
        Ok(Self {
            jobs,
            info,
            tool_calls,
            stats,
            worker: Some(worker),
        })
    }

    /// Loads a GGUF file on a blocking thread.
    pub async fn open(path: impl Into<PathBuf>, config: LlamaConfig) -> Result<Self, ModelError> {
        let path = path.into();
        tokio::task::spawn_blocking(move || Self::load(&path, config))
            .await
            .map_err(|_| ModelError::WorkerGone)?
    }

    /// The prompt text the model sees for `prompt` (chat template applied).
    pub async fn render_prompt(&self, prompt: &ModelInput) -> Result<String, ModelError> {
        let (reply, rx) = oneshot::channel();
        self.send(Job::Render {
            prompt: prompt.clone(),
            reply,
        })?;
        rx.await.map_err(|_| ModelError::WorkerGone)?
    }

    /// The prompt's tokens as the model sees them (chat template applied, special tokens parsed).
    pub async fn tokenize(&self, prompt: &ModelInput) -> Result<Vec<i32>, ModelError> {
        let (reply, rx) = oneshot::channel();
        self.send(Job::Tokenize {
            prompt: prompt.clone(),
            reply,
        })?;
        rx.await.map_err(|_| ModelError::WorkerGone)?
    }

    /// Totals of the work done so far.
    pub fn stats(&self) -> ModelStats {
        ModelStats {
            prompt_tokens_evaluated: self.stats.prompt_evaluated.load(Ordering::Relaxed),
            tokens_generated: self.stats.generated.load(Ordering::Relaxed),
        }
    }

    fn send(&self, job: Job) -> Result<(), ModelError> {
        self.jobs.send(job).map_err(|_| ModelError::WorkerGone)
    }

    fn start(
        &self,
        req: GenerateRequest,
        want_tokens: bool,
    ) -> Result<CompletionStream, ModelError> {
        let (events, rx) = mpsc::unbounded_channel();
        self.send(Job::Generate {
            req: Box::new(req),
            events,
            want_tokens,
        })?;
        Ok(CompletionStream::new(rx))
    }
}

fn run_worker(
    backend: &LlamaBackend,
    path: &Path,
    gguf: &GgufInfo,
    config: &LlamaConfig,
    stats: Arc<Counters>,
    ready: &std_mpsc::Sender<Result<ModelInfo, ModelError>>,
    jobs: &std_mpsc::Receiver<Job>,
) {
    let load_err = |detail: String| ModelError::Load {
        path: path.to_path_buf(),
        detail,
    };
    let params = LlamaModelParams::default()
        .with_n_gpu_layers(config.gpu_layers)
        .with_use_mmap(true);
    let mut model = match RawModel::load_from_file(backend, path, &params) {
        Ok(m) => m,
        Err(e) => {
            let _ = ready.send(Err(load_err(e.to_string())));
            return;
        }
    };
    let mut adapters = Vec::new();
    for (lora, scale) in &config.lora {
        match model.lora_adapter_init(lora) {
            Ok(a) => adapters.push((a, *scale)),
            Err(e) => {
                let _ = ready.send(Err(ModelError::Lora {
                    path: lora.clone(),
                    detail: format!("llama.cpp cannot load it ({e}; its log says why)"),
                }));
                return;
            }
        }
    }
    let flash = match config.flash_attention {
        None => llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_AUTO,
        Some(true) => llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_ENABLED,
        Some(false) => llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_DISABLED,
    };
    let ctx_params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(config.n_ctx))
        .with_n_batch(config.n_batch)
        .with_n_ubatch(config.n_batch)
        .with_n_threads(config.threads)
        .with_n_threads_batch(config.threads)
        .with_n_seq_max(config.n_seq_max)
        .with_kv_unified(true)
        .with_no_perf(true)
        .with_flash_attention_policy(flash);
    // Declared before the context (and the worker that takes it) so it is dropped after.
    let pool: Option<CpuThreadPool>;
    let mut ctx = match model.new_context(backend, ctx_params) {
        Ok(c) => c,
        Err(e) => {
            let _ = ready.send(Err(load_err(format!("cannot create a context: {e}"))));
            return;
        }
    };
    for (adapter, scale) in &mut adapters {
        if let Err(e) = ctx.lora_adapter_set(adapter, *scale) {
            let _ = ready.send(Err(ModelError::Lora {
                path: config.lora.first().map(|l| l.0.clone()).unwrap_or_default(),
                detail: e.to_string(),
            }));
            return;
        }
    }
    pool = CpuThreadPool::attach(&mut ctx, config.threads);
    tracing::debug!(
        threads = pool.as_ref().map_or(1, CpuThreadPool::threads),
        "llama.cpp CPU threads kept for the context"
    );
    let name = gguf.name.clone().unwrap_or_else(|| {
        path.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    let source = config.chat_template.clone().or_else(|| {
        gguf.metadata
            .get("tokenizer.chat_template")
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    });
    let vocab = model.vocab();
    let special = |t: llama_cpp_2::token::LlamaToken| {
        if t.0 >= 0 && t.0 < vocab.n_tokens() {
            String::from_utf8_lossy(&vocab.token_to_piece(t, true, None)).into_owned()
        } else {
            String::new()
        }
    };
    let template = match source {
        None => None,
        Some(src) => match ChatTemplate::new(&src, &special(vocab.bos()), &special(vocab.eos())) {
            Ok(t) => Some(t),
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        },
    };
    let info = ModelInfo {
        name: name.clone(),
        path: path.to_path_buf(),
        n_ctx: ctx.n_ctx() as usize,
        n_ctx_train: model.n_ctx_train() as usize,
        n_vocab: model.n_vocab().max(0) as usize,
        parameters: model.n_params(),
        has_chat_template: template.is_some(),
    };
    let mut worker = Worker::new(
        &model,
        ctx,
        template,
        format!("{name} ({})", path.display()),
        config.n_seq_max as usize,
        config.grammar_mode,
        config.schema_engine,
        stats,
    );
    if ready.send(Ok(info)).is_err() {
        return;
    }
    while let Ok(job) = jobs.recv() {
        worker.serve(job);
    }
}

#[async_trait]
impl LanguageModel for LlamaModel {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    async fn generate(&self, req: GenerateRequest) -> Result<Vec<Completion>, ModelError> {
        let mut stream = self.start(req, false)?;
        loop {
            match stream.next_event().await {
                Some(Ok(StreamEvent::Done(c))) => return Ok(c),
                Some(Ok(StreamEvent::Token { .. })) => {}
                Some(Err(e)) => return Err(e),
                None => return Err(ModelError::WorkerGone),
            }
        }
    }

    async fn stream(&self, req: GenerateRequest) -> Result<CompletionStream, ModelError> {
        self.start(req, true)
    }

    async fn generate_batch(
        &self,
        reqs: Vec<GenerateRequest>,
    ) -> Result<Vec<Vec<Completion>>, ModelError> {
        let (reply, rx) = oneshot::channel();
        self.send(Job::GenerateBatch { reqs, reply })?;
        rx.await.map_err(|_| ModelError::WorkerGone)?
    }

    async fn score(&self, req: ScoreRequest) -> Result<Vec<CandidateScore>, ModelError> {
        let (reply, rx) = oneshot::channel();
        self.send(Job::Score { req, reply })?;
        rx.await.map_err(|_| ModelError::WorkerGone)?
    }

    /// Detected from the chat template's source (see [`ToolCallSyntax::detect`]).
    fn tool_call_syntax(&self) -> Option<ToolCallSyntax> {
        self.tool_calls
    }

    async fn count_tokens(&self, text: &str) -> Result<usize, ModelError> {
        let (reply, rx) = oneshot::channel();
        self.send(Job::CountTokens {
            text: text.to_owned(),
            reply,
        })?;
        rx.await.map_err(|_| ModelError::WorkerGone)?
    }

    /// The GGUF's vocabulary alone ([`ModelTokenizer`](crate::ModelTokenizer)): counting
    /// with it never waits for the worker. `None` (with a warning) when it cannot be loaded.
    async fn token_counter(&self) -> Option<Arc<dyn TokenCount>> {
        let path = self.info.path.clone();
        match tokio::task::spawn_blocking(move || crate::ModelTokenizer::load(&path)).await {
            Ok(Ok(tokenizer)) => Some(Arc::new(tokenizer)),
            Ok(Err(error)) => {
                tracing::warn!("no tokenizer for counting: {error}");
                None
            }
            Err(error) => {
                tracing::warn!("no tokenizer for counting: {error}");
                None
            }
        }
    }
}
