//! A tiny run of the memory benchmark (the real one is `agentry bench memory`), on the real
//! all-MiniLM-L6-v2 embedder from the model store.

use std::sync::Arc;

use agentry::bench::memory::{MemoryBenchOptions, run_memory_bench};
use agentry_memory::FastEmbedder;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_benchmark_runs_and_reports_every_measure() {
    let opts = MemoryBenchOptions {
        sizes: vec![1000],
        queries: 30,
        queries_before_optimize: 10,
        embed_sentences: 40,
        embedder: Some(Arc::new(FastEmbedder::from_env_store().await.expect(
            "the model store provides the embedding model and ONNX Runtime",
        ))),
        ..MemoryBenchOptions::default()
    };
    let report = run_memory_bench(opts).await.expect("bench");
    let names: Vec<&str> = report.stores.iter().map(|s| s.store.as_str()).collect();
    assert_eq!(
        names,
        [
            "embedded (Qdrant Edge, durability=process)",
            "embedded (Qdrant Edge, durability=power)"
        ],
        "a row per durability setting, no server asked for"
    );
    assert!(
        report.stores[1].sizes[0].insert_per_sec > 0.0,
        "power measured"
    );
    assert_eq!(report.stores[0].sizes.len(), 1);
    let size = &report.stores[0].sizes[0];
    assert_eq!(size.items, 1000);
    assert!(size.insert_per_sec > 0.0);
    assert_eq!(size.after_optimize.queries, 30);
    assert!(size.after_optimize.p50 <= size.after_optimize.p99);
    // 1000 points are under Qdrant's full-scan threshold: exact results.
    let recall = size.recall_at_k.expect("recall measured");
    assert!(recall > 0.99, "recall@10 {recall}");
    assert_eq!(size.before_optimize.map(|l| l.queries), Some(10));
    let embedding = report.embedding.expect("embedding measured");
    assert_eq!(embedding.sentences, 40);
    assert!(embedding.per_sec > 0.0);
    let md = report.to_markdown();
    assert!(md.contains("| 1000 |"), "{md}");
    assert!(md.contains("sentences/s"), "{md}");
    assert!(md.contains("structured 384-d vectors"), "{md}");
    assert!(md.contains("recall@10"), "{md}");
}

/// With `--url`: the same measures on the server, beside the embedded store, in one
/// report (the server from `QDRANT_URL`, which `make test` sets).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_benchmark_measures_the_server_beside_the_embedded_store() {
    let required = std::env::var("AGENTRY_REQUIRE_QDRANT").is_ok_and(|v| v.trim() == "1");
    let Some(server) = agentry_memory::QdrantConfig::from_env() else {
        assert!(
            !required,
            "AGENTRY_REQUIRE_QDRANT=1 but QDRANT_URL is not set"
        );
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "memory_bench: QDRANT_URL is not set: the server half was NOT run"
        );
        return;
    };
    let opts = MemoryBenchOptions {
        sizes: vec![1000],
        queries: 30,
        queries_before_optimize: 10,
        recall_queries: 50,
        embed_sentences: 0,
        server: Some(server),
        ..MemoryBenchOptions::default()
    };
    let report = run_memory_bench(opts).await.expect("bench");
    let names: Vec<&str> = report.stores.iter().map(|s| s.store.as_str()).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(names[2].starts_with("server (Qdrant 1."), "{names:?}");
    for store in &report.stores {
        let size = &store.sizes[0];
        assert_eq!(size.items, 1000, "{}", store.store);
        assert!(size.insert_per_sec > 0.0, "{}", store.store);
        assert_eq!(size.after_optimize.queries, 30, "{}", store.store);
        // The same vectors and queries on both: the exact neighbours are found.
        let recall = size.recall_at_k.expect("recall measured");
        assert!(recall > 0.99, "{}: recall@10 {recall}", store.store);
    }
    let md = report.to_markdown();
    assert!(
        md.contains("| embedded (Qdrant Edge, durability=process) | 1000 |"),
        "{md}"
    );
    assert!(
        md.contains("| embedded (Qdrant Edge, durability=power) | 1000 |"),
        "{md}"
    );
    assert!(md.contains("| server (Qdrant 1."), "{md}");
}
