//! A small run of `agentry bench model` on the real SmolLM2-135M-Instruct: every measure
//! is taken and lands in the report (the full run is `agentry bench model`).

mod support;

use agentry::bench::model::{ModelBenchOptions, run_model_bench};
use support::smollm2_path;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_model_benchmark_measures_every_row() {
    let path = smollm2_path().await;
    let opts = ModelBenchOptions {
        n_ctx: 1024,
        prompt_tokens: 32,
        decode_tokens: 8,
        conversation_steps: 2,
        samples: 3,
        rounds: 1,
        gpu_layers: support::gpu_layers(),
        ..ModelBenchOptions::default()
    };
    let report = run_model_bench(&path, opts).await.expect("bench");
    for (what, value) in [
        ("bare prompt", report.bare.prompt_tps),
        ("bare decode", report.bare.decode_tps),
        ("bare batched decode", report.bare.batched_decode_tps),
        ("agentry prompt", report.agentry.prompt_tps),
        ("agentry decode", report.agentry.decode_tps),
        ("unconstrained", report.unconstrained_tps),
    ] {
        assert!(value.is_finite() && value > 0.0, "{what}: {value}");
    }
    assert_eq!(report.samples, 3);
    assert!(report.batched_tokens > 0 && report.sequential_tokens > 0);
    // Session reuse evaluates fewer prompt tokens than starting over each step.
    assert!(
        report.with_reuse.evaluated_tokens < report.without_reuse.evaluated_tokens,
        "{} with reuse vs {} without",
        report.with_reuse.evaluated_tokens,
        report.without_reuse.evaluated_tokens
    );
    assert!(!report.constrained.is_empty());
    assert!(report.constrained.iter().all(|c| c.tps > 0.0));
    let md = report.to_markdown();
    for row in [
        "| decode tok/s |",
        "| n=3 wall s (tokens) |",
        "| n=3 decode time per token",
        "JSON-Schema decode tok/s, llama.cpp grammar, lazy",
    ] {
        assert!(md.contains(row), "missing {row:?} in\n{md}");
    }
}
