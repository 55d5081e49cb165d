//! The embedded store's dense index: int8 quantization with rescoring, the
//! search beam width, and exact search, on a collection large enough for
//! HNSW (over Qdrant's 10 MB full-scan threshold).

use std::collections::HashMap;

use agentry::bench::memory::{SyntheticVectors, VectorKind};
use agentry_memory::{
    CollectionSpec, EdgeStore, EdgeStoreOptions, Point, PointId, Query, SearchRequest, VectorStore,
    content_id,
};

const DIM: usize = 384;
const POINTS: usize = 8000;

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn collection_config(dir: &std::path::Path, name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join(name).join("edge_config.json"))
        .expect("collection config");
    serde_json::from_str(&text).expect("config is JSON")
}

async fn filled(store: &EdgeStore, name: &str) -> HashMap<PointId, Vec<f32>> {
    store
        .ensure_collection(&CollectionSpec::new(name, DIM))
        .await
        .expect("create");
    let mut stream = SyntheticVectors::new(VectorKind::Structured, DIM, 11);
    let mut vectors = HashMap::new();
    for start in (0..POINTS).step_by(500) {
        let batch: Vec<Point> = (start..start + 500)
            .map(|i| {
                let dense = stream.next_vector();
                let id = content_id(&format!("index-{i}"));
                vectors.insert(id, dense.clone());
                Point {
                    id,
                    dense,
                    sparse: None,
                    payload: Default::default(),
                }
            })
            .collect();
        store.upsert(name, batch).await.expect("upsert");
    }
    store.optimize(name).await.expect("optimize");
    vectors
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_collections_are_quantized_unless_turned_off() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store = EdgeStore::open(dir.path()).expect("open");
        store
            .ensure_collection(&CollectionSpec::new("quantized", DIM))
            .await
            .expect("create");
    }
    let options = EdgeStoreOptions {
        quantize: false,
        ..EdgeStoreOptions::default()
    };
    {
        let store = EdgeStore::open_with(dir.path(), options).expect("open");
        store
            .ensure_collection(&CollectionSpec::new("plain", DIM))
            .await
            .expect("create");
        store
            .ensure_collection(&CollectionSpec::new("quantized", DIM))
            .await
            .expect("an existing collection opens with any options");
    }
    let quantized = collection_config(dir.path(), "quantized");
    let plain = collection_config(dir.path(), "plain");
    let scalar = |config: &serde_json::Value| {
        config
            .pointer("/vectors/dense/quantization_config/scalar/type")
            .cloned()
    };
    assert_eq!(
        scalar(&quantized),
        Some(serde_json::json!("int8")),
        "{quantized}"
    );
    assert_eq!(scalar(&plain), None, "{plain}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quantized_index_search_finds_the_exact_neighbours_with_exact_scores() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = EdgeStore::open(dir.path()).expect("open");
    let vectors = filled(&store, "index").await;
    let mut queries = SyntheticVectors::new(VectorKind::Structured, DIM, 12);
    let (mut found, mut expected) = (0usize, 0usize);
    let mut worst_score_error = 0f32;
    for _ in 0..50 {
        let query = queries.next_vector();
        let exact = store
            .search(
                "index",
                SearchRequest::new(Query::Dense(query.clone()), 10).exact(),
            )
            .await
            .expect("exact search");
        // The exact search is the brute-force ranking.
        let mut brute: Vec<(f32, PointId)> = vectors
            .iter()
            .map(|(id, v)| (cosine(&query, v), *id))
            .collect();
        brute.sort_by(|a, b| b.0.total_cmp(&a.0));
        let brute_ids: Vec<PointId> = brute.iter().take(10).map(|(_, id)| *id).collect();
        let exact_ids: Vec<PointId> = exact.iter().map(|h| h.id).collect();
        assert_eq!(exact_ids, brute_ids, "exact search is brute force");

        let hits = store
            .search("index", SearchRequest::new(Query::Dense(query.clone()), 10))
            .await
            .expect("index search");
        assert_eq!(hits.len(), 10);
        expected += 10;
        found += hits.iter().filter(|h| exact_ids.contains(&h.id)).count();
        for hit in &hits {
            let truth = cosine(&query, &vectors[&hit.id]);
            worst_score_error = worst_score_error.max((hit.score - truth).abs());
        }
    }
    let recall = found as f64 / expected as f64;
    assert!(recall >= 0.9, "recall@10 {recall:.3}");
    // int8 scores are off by ~1e-2; rescoring with the original vectors
    // makes them cosines up to float rounding.
    assert!(
        worst_score_error < 1e-4,
        "scores are exact cosines, worst error {worst_score_error}"
    );
}

/// Recall@10 over 40 queries of the collection `beam` under `dir`, opened with
/// `search_ef`.
async fn beam_recall(dir: &std::path::Path, search_ef: usize) -> f64 {
    let options = EdgeStoreOptions {
        search_ef,
        ..EdgeStoreOptions::default()
    };
    let store = EdgeStore::open_with(dir, options).expect("open");
    let mut queries = SyntheticVectors::new(VectorKind::Structured, DIM, 13);
    let mut found = 0usize;
    for _ in 0..40 {
        let query = Query::Dense(queries.next_vector());
        let exact = store
            .search("beam", SearchRequest::new(query.clone(), 10).exact())
            .await
            .expect("exact");
        let hits = store
            .search("beam", SearchRequest::new(query, 10))
            .await
            .expect("search");
        found += hits
            .iter()
            .filter(|h| exact.iter().any(|e| e.id == h.id))
            .count();
    }
    found as f64 / 400.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_narrow_search_beam_finds_fewer_neighbours_than_a_wide_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store = EdgeStore::open(dir.path()).expect("open");
        filled(&store, "beam").await;
    }
    let narrow = beam_recall(dir.path(), 1).await;
    let wide = beam_recall(dir.path(), 256).await;
    assert!(
        wide > narrow + 0.05,
        "search_ef 256 recall {wide:.3} vs search_ef 1 recall {narrow:.3}"
    );
}
