//! The model keeps its llama.cpp CPU threads for its whole life (as llama.cpp's own tools
//! do) rather than making them again for every decoded token, which stalled decoding for
//! seconds on a busy machine. Seen from outside: the threads of the worker (they inherit
//! its name) are the same ones before and after generating. Linux only: it reads
//! `/proc/self/task`. Its own test binary, so no other model's threads are counted.

#![cfg(target_os = "linux")]

mod support;

use std::collections::BTreeSet;

use agentry_llama::{LlamaConfig, LlamaModel};
use agentry_model::{GenerateRequest, LanguageModel, Sampling};
use agentry_prompts::{ChatMessage, Role};

/// The ids of this process's threads named like the model's worker thread.
fn worker_threads() -> BTreeSet<u64> {
    std::fs::read_dir("/proc/self/task")
        .expect("read /proc/self/task")
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let comm = std::fs::read_to_string(entry.path().join("comm")).ok()?;
            (comm.trim() == "agentry-llama")
                .then(|| entry.file_name().to_string_lossy().parse().ok())?
        })
        .collect()
}

async fn open(threads: i32) -> LlamaModel {
    let config = LlamaConfig {
        n_ctx: 1024,
        threads,
        n_seq_max: 2,
        gpu_layers: support::gpu_layers(),
        ..LlamaConfig::default()
    };
    LlamaModel::open(support::smollm2_path().await, config)
        .await
        .expect("load smollm2")
}

async fn generate(model: &LlamaModel) -> String {
    let req = GenerateRequest {
        sampling: Sampling {
            temperature: 0.0,
            max_tokens: 12,
            ..Sampling::default()
        },
        ..GenerateRequest::chat(vec![ChatMessage::new(Role::User, "Count to five.")])
    };
    model.generate(req).await.expect("generate").remove(0).text
}

#[tokio::test]
async fn the_cpu_threads_outlive_each_decode() {
    // One thread: the worker decodes alone, no pool.
    let single = open(1).await;
    assert_eq!(worker_threads().len(), 1, "threads: 1 needs no helper");
    assert!(!generate(&single).await.trim().is_empty());
    drop(single);
    assert!(
        worker_threads().is_empty(),
        "the worker ended with its model"
    );

    // Two threads: the worker and one helper, made once when the model is loaded.
    let model = open(2).await;
    let loaded = worker_threads();
    assert_eq!(
        loaded.len(),
        2,
        "the worker and its helper thread exist before any decode: {loaded:?}"
    );
    let first = generate(&model).await;
    assert!(!first.trim().is_empty());
    assert_eq!(
        worker_threads(),
        loaded,
        "the same threads after a generation (none made per token)"
    );
    assert_eq!(generate(&model).await, first, "greedy output unchanged");
    assert_eq!(worker_threads(), loaded);
    drop(model);
    assert!(
        worker_threads().is_empty(),
        "the helper is freed with the model"
    );
}
