//! [`FastEmbedder`]: all-MiniLM-L6-v2 (384-d, L2-normalised) on ONNX Runtime
//! through `fastembed`, entirely from local files (the `fastembed` feature).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use fastembed::{
    InitOptionsUserDefined, Pooling, QuantizationMode, TextEmbedding, TokenizerFiles,
    UserDefinedEmbeddingModel,
};

use super::{Embedder, MINILM_DIMENSION, MINILM_SPEC, ONNXRUNTIME_SPEC};
use crate::error::{MemoryError, Result};

const BATCH_SIZE: usize = 32;

/// all-MiniLM-L6-v2 on ONNX Runtime (loaded dynamically from a path, never
/// from `ORT_DYLIB_PATH`). Runs on tokio's blocking pool; never touches the
/// network.
#[derive(Clone)]
pub struct FastEmbedder {
    model: Arc<Mutex<TextEmbedding>>,
    model_dir: PathBuf,
    tokenizer_json: Arc<Vec<u8>>,
    /// The counting tokenizer ([`FastEmbedder::tokenizer`]), built on first use.
    counter: Arc<OnceLock<tokenizers::Tokenizer>>,
}

impl std::fmt::Debug for FastEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FastEmbedder")
            .field("model_dir", &self.model_dir)
            .finish_non_exhaustive()
    }
}

static ORT_INIT: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();

/// Loads ONNX Runtime from `library` once per process. A second call with
/// another path keeps the first library.
pub fn init_onnxruntime(library: &Path) -> Result<()> {
    let result = ORT_INIT.get_or_init(|| {
        ort::init_from(library)
            .map(|_builder| library.to_path_buf())
            .map_err(|e| e.to_string())
    });
    match result {
        Ok(_) => Ok(()),
        Err(reason) => Err(MemoryError::OnnxRuntime {
            path: library.to_path_buf(),
            reason: reason.clone(),
        }),
    }
}

fn read(path: PathBuf) -> Result<Vec<u8>> {
    std::fs::read(&path).map_err(|source| MemoryError::Io {
        action: "read",
        path,
        source,
    })
}

impl FastEmbedder {
    /// Pulls the model and ONNX Runtime from the model store (downloading
    /// them once) and loads them.
    pub async fn from_store(store: &agentry_model_store::ModelStore) -> Result<Self> {
        let ort = store
            .pull(ONNXRUNTIME_SPEC)
            .await
            .map_err(|e| MemoryError::Store {
                spec: ONNXRUNTIME_SPEC.into(),
                reason: e.to_string(),
            })?;
        let model = store
            .pull(MINILM_SPEC)
            .await
            .map_err(|e| MemoryError::Store {
                spec: MINILM_SPEC.into(),
                reason: e.to_string(),
            })?;
        Self::from_files(model, ort).await
    }

    /// Like [`FastEmbedder::from_store`] with the store of
    /// `agentry_model_store::ModelStore::from_env()`.
    pub async fn from_env_store() -> Result<Self> {
        let store =
            agentry_model_store::ModelStore::from_env().map_err(|e| MemoryError::Store {
                spec: "model store".into(),
                reason: e.to_string(),
            })?;
        Self::from_store(&store).await
    }

    /// Loads the model from `model_dir` (`model.onnx`, `tokenizer.json`,
    /// `config.json`, `special_tokens_map.json`, `tokenizer_config.json`)
    /// with ONNX Runtime from the shared library `onnxruntime`.
    pub async fn from_files(
        model_dir: impl Into<PathBuf>,
        onnxruntime: impl Into<PathBuf>,
    ) -> Result<Self> {
        let model_dir = model_dir.into();
        let onnxruntime = onnxruntime.into();
        let dir = model_dir.clone();
        tokio::task::spawn_blocking(move || Self::load(dir, &onnxruntime))
            .await
            .map_err(|e| {
                MemoryError::Task(
                    format!("load embedding model from {}", model_dir.display()),
                    e.to_string(),
                )
            })?
    }

    fn load(model_dir: PathBuf, onnxruntime: &Path) -> Result<Self> {
        init_onnxruntime(onnxruntime)?;
        let onnx = read(model_dir.join("model.onnx"))?;
        let tokenizer_json = read(model_dir.join("tokenizer.json"))?;
        let files = TokenizerFiles {
            tokenizer_file: tokenizer_json.clone(),
            config_file: read(model_dir.join("config.json"))?,
            special_tokens_map_file: read(model_dir.join("special_tokens_map.json"))?,
            tokenizer_config_file: read(model_dir.join("tokenizer_config.json"))?,
        };
        let model = UserDefinedEmbeddingModel::new(onnx, files)
            .with_pooling(Pooling::Mean)
            .with_quantization(QuantizationMode::None);
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let options = InitOptionsUserDefined::new()
            .with_intra_threads(threads)
            .with_session_config("session.intra_op.allow_spinning", "0");
        let embedding = TextEmbedding::try_new_from_user_defined(model, options).map_err(|e| {
            MemoryError::Embedding {
                model: model_dir.join("model.onnx").display().to_string(),
                reason: e.to_string(),
            }
        })?;
        Ok(Self {
            model: Arc::new(Mutex::new(embedding)),
            model_dir,
            tokenizer_json: Arc::new(tokenizer_json),
            counter: Arc::new(OnceLock::new()),
        })
    }

    /// The model's tokenizer, without the padding and truncation of the
    /// model's input, for token counting and chunking.
    pub fn tokenizer(&self) -> Result<tokenizers::Tokenizer> {
        let err = |e: &dyn std::fmt::Display| MemoryError::Embedding {
            model: self.model_dir.join("tokenizer.json").display().to_string(),
            reason: e.to_string(),
        };
        let mut tokenizer = tokenizers::Tokenizer::from_bytes(self.tokenizer_json.as_slice())
            .map_err(|e| err(&e))?;
        // The file pads and truncates to the model's input size; counting must not.
        tokenizer.with_padding(None);
        tokenizer.with_truncation(None).map_err(|e| err(&e))?;
        Ok(tokenizer)
    }

    /// The directory the model was loaded from.
    pub fn model_dir(&self) -> &Path {
        &self.model_dir
    }
}

#[async_trait]
impl Embedder for FastEmbedder {
    fn dimension(&self) -> usize {
        MINILM_DIMENSION
    }

    /// Counted by the model's `tokenizer.json`, `[CLS]` and `[SEP]` included, without
    /// truncation (a text longer than the model's input is counted whole).
    fn count_tokens(&self, texts: &[String]) -> Result<Option<usize>> {
        let tokenizer = match self.counter.get() {
            Some(tokenizer) => tokenizer,
            None => {
                let built = self.tokenizer()?;
                self.counter.get_or_init(|| built)
            }
        };
        let mut total = 0;
        for text in texts {
            let encoding =
                tokenizer
                    .encode(text.as_str(), true)
                    .map_err(|e| MemoryError::Embedding {
                        model: self.model_dir.display().to_string(),
                        reason: format!("counting tokens: {e}"),
                    })?;
            total += encoding.len();
        }
        Ok(Some(total))
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let model = Arc::clone(&self.model);
        let texts = texts.to_vec();
        let name = self.model_dir.display().to_string();
        let task_name = name.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = model.lock().unwrap_or_else(|p| p.into_inner());
            guard
                .embed(&texts, Some(BATCH_SIZE))
                .map_err(|e| MemoryError::Embedding {
                    model: name,
                    reason: e.to_string(),
                })
        })
        .await
        .map_err(|e| MemoryError::Task(format!("embed with {task_name}"), e.to_string()))?
    }
}
