//! A small run of `agentry bench serve` on the real SmolLM2-135M-Instruct: both servers
//! (`agentry serve` and llama.cpp's `llama-server`) start, every measure is taken and
//! lands in the table (the full run is `agentry bench serve`). Skipped, with the reason
//! printed, only when the llama-server binary is not built.

#[allow(dead_code)]
mod support;

use std::time::Duration;

use agentry::bench::serve::{ServeBenchOptions, default_llama_server, run_serve_bench};
use support::smollm2_path;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_serve_benchmark_measures_every_row() {
    let Some(llama_server) = default_llama_server().filter(|p| p.is_file()) else {
        eprintln!(
            "SKIPPED: no llama-server binary (set LLAMA_SERVER or run scripts/build-llama-server.sh)"
        );
        return;
    };
    let opts = ServeBenchOptions {
        agentry: env!("CARGO_BIN_EXE_agentry").into(),
        llama_server,
        model: "smollm2-135m".into(),
        gguf: smollm2_path().await,
        threads: 2,
        n_ctx: 1024,
        clients: 2,
        decode_tokens: 12,
        overhead_requests: 3,
        rounds: 1,
    };
    let report = run_serve_bench(opts).await.expect("bench");
    for (what, speed) in [
        ("llama-server", report.llama_server),
        ("agentry", report.agentry),
    ] {
        assert!(speed.one_client_tps > 0.0, "{what}: {speed:?}");
        assert!(speed.many_clients_tps > 0.0, "{what}: {speed:?}");
        for ttft in [speed.followup_ttft, speed.cold_ttft] {
            assert!(
                ttft > Duration::ZERO && ttft < Duration::from_secs(120),
                "{what}: {speed:?}"
            );
        }
    }
    assert!(report.raw_request > Duration::ZERO && report.client_request > Duration::ZERO);
    let table = report.to_markdown();
    for row in [
        "decode tok/s, 1 streaming client",
        "aggregate decode tok/s, 2 streaming clients",
        "follow-up turn, time to first token",
        "raw HTTP vs `OpenAiModel`",
    ] {
        assert!(table.contains(row), "{row}: {table}");
    }
}
