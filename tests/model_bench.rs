//! A small run of `agentry bench model` on the real SmolLM2-135M-Instruct: every measure
//! is taken and lands in the report (the full run is `agentry bench model`); and
//! llama.cpp's real `llama-bench` run and read (skipped, with the reason printed, when its
//! binary is absent: `$LLAMA_BENCH`, else `~/.cache/agentry/llama-server/bin/llama-bench`,
//! built by `scripts/build-llama-server.sh`).

mod support;

use agentry::bench::llama_bench::{self, LlamaBenchOptions, LlamaBenchRow, default_llama_bench};
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
        llama_bench: default_llama_bench(),
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
    match &report.llama_bench {
        LlamaBenchRow::Measured(peer) => {
            assert_eq!(
                peer.prompt_tokens, report.prompt_tokens,
                "the same prompt length"
            );
            assert_eq!(peer.gen_tokens, 8, "the same generation length");
            assert!(peer.prompt_tps > 0.0 && peer.decode_tps > 0.0, "{peer:?}");
            assert!(
                report
                    .to_markdown()
                    .contains("| decode tok/s vs llama-bench (tg8) |")
            );
        }
        LlamaBenchRow::Skipped(why) => {
            eprintln!("the llama-bench row was skipped: {why}");
            assert!(why.contains("no llama-bench at"), "{why}");
            assert!(
                report
                    .to_markdown()
                    .contains("vs llama-bench: skipped (no llama-bench at")
            );
        }
    }
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn llama_bench_runs_with_our_lengths_and_its_output_is_read() {
    let Some(binary) = default_llama_bench().filter(|p| p.is_file()) else {
        eprintln!(
            "SKIPPED: no llama-bench binary (set LLAMA_BENCH or run scripts/build-llama-server.sh)"
        );
        return;
    };
    let opts = LlamaBenchOptions {
        binary,
        model: smollm2_path().await,
        threads: 2,
        gpu_layers: support::gpu_layers(),
        prompt_tokens: 24,
        gen_tokens: 6,
        repetitions: 2,
    };
    let speed = tokio::task::spawn_blocking(move || llama_bench::run(&opts))
        .await
        .expect("join")
        .expect("llama-bench runs and its JSON is read");
    assert_eq!(speed.prompt_tokens, 24);
    assert_eq!(speed.gen_tokens, 6);
    assert!(
        speed.prompt_tps.is_finite() && speed.prompt_tps > 0.0,
        "{speed:?}"
    );
    assert!(
        speed.decode_tps.is_finite() && speed.decode_tps > 0.0,
        "{speed:?}"
    );
}
