//! Export and import between embedded stores: every point comes back with its
//! vectors and payload, the collection with its shape; a bad file is refused
//! with the line that is wrong.

mod common;

use std::collections::BTreeMap;
use std::io::Cursor;
use std::sync::Arc;

use agentry_memory::transfer::{MAX_LINE_BYTES, write_export_header};
use agentry_memory::{
    CollectionSpec, FieldKind, Point, PointId, Query, SearchRequest, SparseVector, VectorStore,
    content_id, export_collection, import_collections,
};
use serde_json::json;

const DIM: usize = 8;

/// A pseudo-random unit vector, a different one per seed (stores normalise for
/// cosine, so a unit vector comes back as it went in).
fn unit_vector(seed: usize) -> Vec<f32> {
    let mut state = (seed as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let raw: Vec<f32> = (0..DIM)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % 10_000) as f32 / 5_000.0 - 1.0
        })
        .collect();
    let norm = raw.iter().map(|v| v * v).sum::<f32>().sqrt();
    raw.iter().map(|v| v / norm).collect()
}

fn sample_points(n: usize) -> Vec<Point> {
    (0..n)
        .map(|i| {
            let mut payload = serde_json::Map::new();
            payload.insert("text".into(), json!(format!("point number {i}")));
            payload.insert("team".into(), json!(["red", "blue", "green"][i % 3]));
            payload.insert(
                "nested".into(),
                json!({"n": i, "tags": ["a", i.to_string()]}),
            );
            Point {
                id: content_id(&format!("point {i}")),
                dense: unit_vector(i),
                sparse: Some(SparseVector {
                    indices: vec![i as u32, 1000 + (i % 5) as u32],
                    values: vec![1.0, 0.5 + i as f32 / 10.0],
                }),
                payload,
            }
        })
        .collect()
}

fn spec(name: &str) -> CollectionSpec {
    CollectionSpec::new(name, DIM)
        .with_sparse()
        .with_index("team", FieldKind::Keyword)
}

async fn all_points(store: &dyn VectorStore, collection: &str) -> BTreeMap<PointId, Point> {
    let mut out = BTreeMap::new();
    let mut offset = None;
    loop {
        let page = store
            .scroll_points(collection, offset, 100)
            .await
            .expect("scroll points");
        out.extend(page.points.into_iter().map(|p| (p.id, p)));
        match page.next {
            Some(n) => offset = Some(n),
            None => return out,
        }
    }
}

fn assert_same_points(a: &BTreeMap<PointId, Point>, b: &BTreeMap<PointId, Point>) {
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "the same ids"
    );
    for (id, p) in a {
        let q = &b[id];
        assert_eq!(p.payload, q.payload, "payload of {id}");
        assert_eq!(p.sparse, q.sparse, "sparse vector of {id}");
        for (x, y) in p.dense.iter().zip(&q.dense) {
            assert!((x - y).abs() < 1e-6, "dense vector of {id}: {x} vs {y}");
        }
    }
}

async fn export_bytes(store: &dyn VectorStore, collections: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    write_export_header(&mut out).expect("header");
    for c in collections {
        export_collection(store, c, &mut out).await.expect("export");
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_then_import_brings_back_every_point_and_the_shape() {
    let (_a_dir, a) = common::edge_store();
    let (_b_dir, b) = common::edge_store();
    // 600 points: more than one page of the export and one batch of the import.
    a.ensure_collection(&spec("docs")).await.expect("create");
    a.upsert("docs", sample_points(600)).await.expect("upsert");
    a.ensure_collection(&CollectionSpec::new("plain", DIM))
        .await
        .expect("create plain");
    let mut plain = sample_points(3);
    for p in &mut plain {
        p.sparse = None;
    }
    a.upsert("plain", plain).await.expect("upsert plain");

    let file = export_bytes(a.as_ref(), &["docs", "plain"]).await;
    let reports = import_collections(b.as_ref(), &mut Cursor::new(file), "export.jsonl")
        .await
        .expect("import");
    let moved: Vec<(String, u64)> = reports
        .into_iter()
        .map(|r| (r.collection, r.points))
        .collect();
    assert_eq!(moved, [("docs".into(), 600), ("plain".into(), 3)]);

    assert_eq!(b.collections().await.expect("list"), ["docs", "plain"]);
    assert_eq!(
        b.describe("docs").await.expect("describe"),
        a.describe("docs").await.expect("describe")
    );
    assert_eq!(
        b.describe("docs").await.expect("describe"),
        Some(spec("docs"))
    );
    assert_same_points(
        &all_points(a.as_ref(), "docs").await,
        &all_points(b.as_ref(), "docs").await,
    );
    assert_same_points(
        &all_points(a.as_ref(), "plain").await,
        &all_points(b.as_ref(), "plain").await,
    );
    // Searches agree: the same neighbours with the same scores.
    let query = SearchRequest::new(Query::Dense(unit_vector(7)), 5).exact();
    let ids = |hits: Vec<agentry_memory::ScoredPoint>| -> Vec<PointId> {
        hits.into_iter().map(|h| h.id).collect()
    };
    assert_eq!(
        ids(a.search("docs", query.clone()).await.expect("search a")),
        ids(b.search("docs", query).await.expect("search b"))
    );
    // Importing the same file again changes nothing (same ids).
    let again = export_bytes(a.as_ref(), &["docs"]).await;
    import_collections(b.as_ref(), &mut Cursor::new(again), "again")
        .await
        .expect("import again");
    assert_eq!(b.count("docs", None).await.expect("count"), 600);
}

#[tokio::test]
async fn describe_and_export_of_a_missing_collection_say_so() {
    let (_dir, store) = common::edge_store();
    assert_eq!(store.describe("nowhere").await.expect("describe"), None);
    let mut out = Vec::new();
    let err = export_collection(store.as_ref(), "nowhere", &mut out)
        .await
        .expect_err("no such collection");
    assert!(err.to_string().contains("nowhere"), "{err}");
}

#[tokio::test]
async fn a_bad_export_is_refused_with_the_line_that_is_wrong() {
    let header = r#"{"format":"agentry-memory-export","version":1}"#;
    let shape = r#"{"collection":{"name":"docs","dense_size":2,"sparse":false,"indexes":[]}}"#;
    let id = content_id("x");
    let good = format!(r#"{{"id":"{id}","dense":[0.6,0.8],"payload":{{"a":1}}}}"#);
    let cases: Vec<(String, &str)> = vec![
        (String::new(), "line 1: empty file"),
        ("hello\n".into(), "line 1: not an agentry memory export"),
        (
            r#"{"format":"agentry-memory-export","version":9}"#.into(),
            "line 1: format",
        ),
        (
            format!("{header}\n{good}\n"),
            "line 2: a point before any collection line",
        ),
        (
            format!("{header}\n{shape}\n{{\"id\":\"{id}\",\"dense\":[1.0]}}\n"),
            "line 3: point",
        ),
        (
            format!("{header}\n{shape}\n{good}\nnot json\n"),
            "line 4: not JSON",
        ),
        (
            format!(
                "{header}\n{shape}\n{{\"id\":\"{id}\",\"dense\":[0.6,0.8],\"sparse\":{{\"indices\":[1],\"values\":[1.0]}}}}\n"
            ),
            "line 3: point",
        ),
        (
            format!(
                "{header}\n{{\"collection\":{{\"name\":\"docs\",\"dense_size\":2,\"sparse\":false,\"indexes\":[[\"team\",\"geo\"]]}}}}\n"
            ),
            "line 2: index on \"team\": unknown kind",
        ),
        (
            format!(
                "{header}\n{{\"collection\":{{\"name\":\"bad name!\",\"dense_size\":2,\"sparse\":false}}}}\n"
            ),
            "line 2: invalid collection name",
        ),
        (
            format!("{header}\n{shape}\n{{\"id\":\"not-a-uuid\",\"dense\":[0.6,0.8]}}\n"),
            "line 3: point",
        ),
        (
            format!("{header}\n{shape}\n{}\n", "x".repeat(MAX_LINE_BYTES + 10)),
            "line 3: longer than",
        ),
    ];
    for (text, expected) in cases {
        let (_dir, store) = common::edge_store();
        let err = import_collections(store.as_ref(), &mut Cursor::new(text), "bad.jsonl")
            .await
            .expect_err(expected);
        let message = err.to_string();
        assert!(
            message.contains("bad.jsonl") && message.contains(expected),
            "expected {expected:?} in: {message}"
        );
    }
    // The dense-size error says both sizes.
    let (_dir, store) = common::edge_store();
    let text = format!("{header}\n{shape}\n{{\"id\":\"{id}\",\"dense\":[1.0,0.0,0.0]}}\n");
    let err = import_collections(store.as_ref(), &mut Cursor::new(text), "bad.jsonl")
        .await
        .expect_err("wrong size");
    assert!(err.to_string().contains("3 values"), "{err}");
    // A good file imports after all that.
    let text = format!("{header}\n{shape}\n{good}\n");
    let store: Arc<dyn VectorStore> = store;
    import_collections(store.as_ref(), &mut Cursor::new(text), "good.jsonl")
        .await
        .expect("good import");
    assert_eq!(store.count("docs", None).await.expect("count"), 1);
}
