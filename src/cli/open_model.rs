//! The one place the command line turns a model spec into a model: a remote one
//! (`openai:URL#MODEL`, an OpenAI-compatible server) is connected to, anything else is
//! pulled from the model store and loaded with llama.cpp.

use std::sync::Arc;

use agentry_core::model::LanguageModel;
use agentry_llama::{LlamaConfig, LlamaModel};
use agentry_model_store::ModelStore;
use agentry_openai::{OpenAiConfig, OpenAiModel, is_remote_spec};
use anyhow::Context;

/// How a local model loads from the usual flags: `--ctx`, `--gpu-layers` and, when given,
/// `--threads` (else every core).
pub(crate) fn llama_config(ctx: u32, gpu_layers: u32, threads: Option<i32>) -> LlamaConfig {
    let mut config = LlamaConfig {
        n_ctx: ctx,
        gpu_layers,
        ..LlamaConfig::default()
    };
    if let Some(threads) = threads {
        config.threads = threads;
    }
    config
}

/// Opens the model `spec` names. `config` applies to a local model; `api_key_env` names
/// a remote model's API key variable (`OPENAI_API_KEY` when `None`). `origin` says where
/// the spec came from (`--model`, `model:` in FILE) for errors.
pub(crate) async fn open_model(
    spec: &str,
    config: LlamaConfig,
    api_key_env: Option<&str>,
    origin: &str,
) -> anyhow::Result<Arc<dyn LanguageModel>> {
    if is_remote_spec(spec) {
        let mut remote = OpenAiConfig::from_spec(spec).with_context(|| origin.to_owned())?;
        if let Some(var) = api_key_env {
            remote = remote.with_api_key_env(var);
        }
        let model = OpenAiModel::connect(remote)
            .await
            .with_context(|| format!("connecting to the model `{spec}` ({origin})"))?;
        return Ok(Arc::new(model));
    }
    let store = ModelStore::from_env().context("opening the model store")?;
    let path = store
        .pull(spec)
        .await
        .with_context(|| format!("the model `{spec}` ({origin})"))?;
    let model = LlamaModel::open(&path, config)
        .await
        .with_context(|| format!("loading the model {} ({origin})", path.display()))?;
    Ok(Arc::new(model))
}
