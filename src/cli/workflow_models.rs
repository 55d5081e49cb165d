//! The models of a workflow, `model:` and `models:`, opened the same way by every command
//! that runs one (`run`, `serve`, `mcp serve`, `chat --agent`): specs rendered against the
//! inputs, each model's own settings under the command's flags, and one model per
//! distinct spec and settings (a name of `models:` equal to `model:` is the same model).

use std::path::Path;
use std::sync::Arc;

use agentry_core::model::LanguageModel;
use agentry_llama::LlamaConfig;
use agentry_workflow::{AgentSpec, ModelChoice, Workflow};
use serde_json::{Map, Value};

/// The command's flags over the workflow's model settings.
#[derive(Debug, Clone, Default)]
pub(crate) struct ModelFlags {
    /// `--model`: replaces `model:` (the models of `models:` stay).
    pub model: Option<String>,
    /// `--ctx`, for every model.
    pub ctx: Option<u32>,
    /// `--gpu-layers`, for every model.
    pub gpu_layers: Option<u32>,
    /// `--threads`, for every model.
    pub threads: Option<i32>,
}

/// How a local model of `choice` loads: its own settings, the flags over them.
pub(crate) fn llama_config(
    flow: &Workflow,
    choice: &ModelChoice,
    flags: &ModelFlags,
) -> LlamaConfig {
    let mut config = LlamaConfig {
        n_ctx: flags.ctx.or(choice.ctx).unwrap_or(4096),
        gpu_layers: flags.gpu_layers.or(choice.gpu_layers).unwrap_or(0),
        ..LlamaConfig::default()
    };
    if let Some(threads) = choice.threads {
        config.threads = i32::try_from(threads).unwrap_or(i32::MAX);
    }
    if let Some(threads) = flags.threads {
        config.threads = threads;
    }
    if let Some(lora) = &choice.lora {
        let base = flow.source.name();
        let base = Path::new(base).parent().unwrap_or(Path::new("."));
        config.lora = vec![(base.join(lora), 1.0)];
    }
    config
}

/// The specs of a workflow's models, their templates rendered against a run's inputs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ModelSpecs {
    /// The workflow's `model:` (or `--model`).
    pub main: String,
    /// Those of `models:`, by name.
    pub named: Vec<(String, String)>,
}

impl ModelSpecs {
    /// The specs of `flow`'s models for a run with `inputs` (`--model` in `flags` in
    /// place of `model:`).
    ///
    /// # Errors
    /// A spec that does not render, naming where it is written.
    pub fn render(
        flow: &Workflow,
        flags: &ModelFlags,
        inputs: &Map<String, Value>,
    ) -> Result<Self, String> {
        let main = match &flags.model {
            Some(spec) => spec.clone(),
            None => flow
                .model
                .render(inputs)
                .map_err(|e| format!("`model:` of the workflow `{}`: {e}", flow.name))?,
        };
        let mut named = Vec::new();
        for (name, choice) in &flow.models {
            let spec = choice
                .render(inputs)
                .map_err(|e| format!("`models.{name}` of the workflow `{}`: {e}", flow.name))?;
            named.push((name.clone(), spec));
        }
        Ok(Self { main, named })
    }

    /// The specs of `flow`'s models where no run gives inputs (a server offering its
    /// agents): rendered against the inputs' defaults.
    ///
    /// # Errors
    /// A spec that reads an input without a default, or does not render.
    pub fn render_with_defaults(flow: &Workflow, flags: &ModelFlags) -> Result<Self, String> {
        Self::render(flow, flags, &input_defaults(flow))
    }
}

/// The inputs of `flow` that have a default, as the inputs of a run that gives none.
pub(crate) fn input_defaults(flow: &Workflow) -> Map<String, Value> {
    flow.inputs
        .iter()
        .filter_map(|i| i.default.clone().map(|d| (i.name.clone(), d)))
        .collect()
}

/// A workflow's models, loaded.
pub(crate) struct LoadedModels {
    /// The model of the agents that name no other.
    pub main: Arc<dyn LanguageModel>,
    /// The models of `models:`, by name.
    pub named: Vec<(String, Arc<dyn LanguageModel>)>,
}

impl LoadedModels {
    /// The model `agent` runs on: its named model, else the main one.
    pub fn for_agent(&self, agent: &AgentSpec) -> Option<Arc<dyn LanguageModel>> {
        match &agent.model {
            None => Some(self.main.clone()),
            Some(name) => self
                .named
                .iter()
                .find(|(n, _)| *n == name.name)
                .map(|(_, m)| m.clone()),
        }
    }
}

/// The models opened so far, by spec and settings: asking again for one is that model,
/// not a second copy. Kept by a server across the runs it serves.
#[derive(Default)]
pub(crate) struct ModelCache {
    loaded: Vec<((String, LlamaConfig), Arc<dyn LanguageModel>)>,
}

impl ModelCache {
    /// The model of `spec` under `config`: the one opened before, else opened now.
    /// `origin` says where the spec is written, for errors.
    ///
    /// # Errors
    /// A `lora` on a remote model; a model that cannot be opened.
    pub async fn open(
        &mut self,
        spec: &str,
        config: LlamaConfig,
        api_key_env: Option<&str>,
        origin: &str,
    ) -> anyhow::Result<Arc<dyn LanguageModel>> {
        if !config.lora.is_empty() && agentry_openai::is_remote_spec(spec) {
            anyhow::bail!("{origin}: `lora` applies to a local model, not to `{spec}`");
        }
        let key = (spec.to_owned(), config);
        if let Some((_, model)) = self.loaded.iter().find(|(k, _)| *k == key) {
            return Ok(model.clone());
        }
        let model = super::open_model::open_model(spec, key.1.clone(), api_key_env, origin).await?;
        self.loaded.push((key, model.clone()));
        Ok(model)
    }

    /// The main model of `flow` (`model:`, or `--model`, which takes the workflow's
    /// settings but not its API key variable).
    ///
    /// # Errors
    /// As [`ModelCache::open`].
    pub async fn open_main(
        &mut self,
        flow: &Workflow,
        flags: &ModelFlags,
        specs: &ModelSpecs,
    ) -> anyhow::Result<Arc<dyn LanguageModel>> {
        let (origin, api_key_env) = match flags.model {
            Some(_) => ("--model".to_owned(), None),
            None => (
                format!("`model:` of the workflow `{}`", flow.name),
                flow.model.api_key_env.as_deref(),
            ),
        };
        let mut config = llama_config(flow, &flow.model, flags);
        if flags.model.is_some() && agentry_openai::is_remote_spec(&specs.main) {
            // A remote `--model` has no adapter to take: the workflow's is not an error.
            config.lora.clear();
        }
        self.open(&specs.main, config, api_key_env, &origin).await
    }

    /// The models of `flow`'s `models:` (specs from `specs`), each under its own settings.
    ///
    /// # Errors
    /// As [`ModelCache::open`].
    pub async fn open_named(
        &mut self,
        flow: &Workflow,
        flags: &ModelFlags,
        specs: &ModelSpecs,
    ) -> anyhow::Result<Vec<(String, Arc<dyn LanguageModel>)>> {
        let mut out = Vec::new();
        for (name, spec) in &specs.named {
            let Some(choice) = flow.models.get(name) else {
                continue;
            };
            let origin = format!("`models.{name}` of the workflow `{}`", flow.name);
            let config = llama_config(flow, choice, flags);
            let model = self
                .open(spec, config, choice.api_key_env.as_deref(), &origin)
                .await?;
            out.push((name.clone(), model));
        }
        Ok(out)
    }

    /// Every model of `flow`: `model:` (or `--model`) and those of `models:`.
    ///
    /// # Errors
    /// As [`ModelCache::open`].
    pub async fn open_all(
        &mut self,
        flow: &Workflow,
        flags: &ModelFlags,
        specs: &ModelSpecs,
    ) -> anyhow::Result<LoadedModels> {
        let main = self.open_main(flow, flags, specs).await?;
        let named = self.open_named(flow, flags, specs).await?;
        Ok(LoadedModels { main, named })
    }
}
