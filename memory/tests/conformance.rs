//! One conformance suite for every `VectorStore`: it runs against
//! `EdgeStore` always, and against `QdrantStore` when `QDRANT_URL` (and
//! optionally `QDRANT_API_KEY`) is set; there it creates and drops its own
//! uniquely named collections. With `AGENTRY_REQUIRE_QDRANT=1` (set by
//! `scripts/with-qdrant.sh`, which `make test` uses) the server half must run:
//! a missing `QDRANT_URL` or a server that does not answer fails it.

use std::collections::HashSet;
use std::sync::Arc;

use agentry_memory::{
    CollectionSpec, Condition, EdgeStore, FieldKind, Filter, MemoryError, Point, PointId,
    QdrantConfig, QdrantStore, Query, Range, SearchRequest, Selector, SparseVector, VectorStore,
    content_id,
};
use serde_json::json;

const DIM: usize = 8;

fn basis(i: usize) -> Vec<f32> {
    // Point i leans on axis i % DIM, with a little of axis (i + 1) % DIM.
    let mut v = vec![0.0; DIM];
    v[i % DIM] = 1.0;
    v[(i + 1) % DIM] = 0.1 * (i / DIM + 1) as f32;
    v
}

fn point(i: usize) -> Point {
    let colour = ["red", "green", "blue"][i % 3];
    let mut payload = agentry_memory::Payload::new();
    payload.insert("colour".into(), json!(colour));
    payload.insert("n".into(), json!(i));
    payload.insert("weight".into(), json!(i as f64 / 2.0));
    payload.insert(
        "text".into(),
        json!(format!("item number {i} is {colour} and word{i}")),
    );
    Point {
        id: content_id(&format!("conformance-{i}")),
        dense: basis(i),
        sparse: Some(SparseVector {
            indices: vec![1000 + i as u32, 7],
            values: vec![1.0, 0.5],
        }),
        payload,
    }
}

fn ids(points: &[agentry_memory::ScoredPoint]) -> Vec<PointId> {
    points.iter().map(|p| p.id).collect()
}

/// The suite. `name` must be unique per run (it is the collection name).
async fn conformance(store: Arc<dyn VectorStore>, name: &str) {
    let spec = CollectionSpec::new(name, DIM)
        .with_sparse()
        .with_index("colour", FieldKind::Keyword)
        .with_index("n", FieldKind::Integer)
        .with_index("weight", FieldKind::Float)
        .with_index("text", FieldKind::Text);
    store
        .ensure_collection(&spec)
        .await
        .expect("create collection");
    store
        .ensure_collection(&spec)
        .await
        .expect("ensure is idempotent");
    let wrong = CollectionSpec::new(name, DIM + 1);
    match store.ensure_collection(&wrong).await {
        Err(MemoryError::CollectionMismatch { collection, .. }) => assert_eq!(collection, name),
        other => panic!("a different dense size must be refused, got {other:?}"),
    }

    let points: Vec<Point> = (0..12).map(point).collect();
    store.upsert(name, points.clone()).await.expect("upsert");
    assert_eq!(store.count(name, None).await.expect("count"), 12);

    // Keyword, range, text, must_not and should filters.
    let red = Filter::must(Condition::keyword("colour", "red"));
    assert_eq!(
        store
            .count(name, Some(red.clone()))
            .await
            .expect("count red"),
        4
    );
    let heavy = Filter::must(Condition::range("weight", Range::gte(3.0)));
    assert_eq!(
        store.count(name, Some(heavy)).await.expect("count range"),
        6
    );
    let between = Filter::must(Condition::range("n", Range::between(2.0, 4.0)));
    assert_eq!(
        store
            .count(name, Some(between))
            .await
            .expect("count int range"),
        3
    );
    let text = Filter::must(Condition::text("text", "word5"));
    assert_eq!(store.count(name, Some(text)).await.expect("count text"), 1);
    let not_red = Filter::default().and_not(Condition::keyword("colour", "red"));
    assert_eq!(
        store
            .count(name, Some(not_red))
            .await
            .expect("count must_not"),
        8
    );
    let red_or_blue = Filter::default()
        .or(Condition::keyword("colour", "red"))
        .or(Condition::keyword("colour", "blue"));
    assert_eq!(
        store
            .count(name, Some(red_or_blue))
            .await
            .expect("count should"),
        8
    );
    let any = Filter::must(Condition::any_keyword("colour", ["green", "blue"]));
    assert_eq!(store.count(name, Some(any)).await.expect("count any"), 8);
    let int_eq = Filter::must(Condition::integer("n", 7));
    assert_eq!(store.count(name, Some(int_eq)).await.expect("count int"), 1);
    let nested = Filter::must(Condition::Nested(Box::new(
        Filter::default()
            .or(Condition::integer("n", 1))
            .or(Condition::integer("n", 2)),
    )))
    .and_not(Condition::keyword("colour", "green"));
    assert_eq!(
        store.count(name, Some(nested)).await.expect("count nested"),
        1
    );

    // Dense search: a point's own vector finds it first, with cosine ~1.
    let hits = store
        .search(name, SearchRequest::new(Query::Dense(basis(3)), 3))
        .await
        .expect("dense search");
    assert_eq!(hits.len(), 3);
    assert_eq!(hits[0].id, points[3].id);
    assert!(
        (hits[0].score - 1.0).abs() < 1e-3,
        "cosine of a vector with itself, got {}",
        hits[0].score
    );
    assert_eq!(hits[0].payload.get("n"), Some(&json!(3)));
    assert!(
        hits.windows(2).all(|w| w[0].score >= w[1].score),
        "sorted by score"
    );

    // Filtered search returns only matching points.
    let hits = store
        .search(
            name,
            SearchRequest::new(Query::Dense(basis(3)), 12).filter(red.clone()),
        )
        .await
        .expect("filtered search");
    assert_eq!(hits.len(), 4);
    assert!(
        hits.iter()
            .all(|h| h.payload.get("colour") == Some(&json!("red")))
    );

    // Score threshold drops weak matches.
    let hits = store
        .search(
            name,
            SearchRequest::new(Query::Dense(basis(3)), 12).score_threshold(0.9),
        )
        .await
        .expect("threshold search");
    assert!(!hits.is_empty() && hits.iter().all(|h| h.score >= 0.9));
    assert!(hits.len() < 12);

    // Sparse search finds the one point carrying the token.
    let sparse = SparseVector {
        indices: vec![1005],
        values: vec![1.0],
    };
    let hits = store
        .search(name, SearchRequest::new(Query::Sparse(sparse.clone()), 3))
        .await
        .expect("sparse search");
    assert_eq!(ids(&hits).first(), Some(&points[5].id));

    // Hybrid: the point first in both lists wins the fusion.
    let hits = store
        .search(
            name,
            SearchRequest::new(
                Query::Hybrid {
                    dense: basis(5),
                    sparse: sparse.clone(),
                },
                5,
            ),
        )
        .await
        .expect("hybrid search");
    assert_eq!(hits.first().map(|h| h.id), Some(points[5].id));
    // Hybrid with a filter that excludes the sparse match.
    let hits = store
        .search(
            name,
            SearchRequest::new(
                Query::Hybrid {
                    dense: basis(5),
                    sparse,
                },
                5,
            )
            .filter(Filter::default().and_not(Condition::integer("n", 5))),
        )
        .await
        .expect("filtered hybrid search");
    assert!(!hits.is_empty() && hits.iter().all(|h| h.id != points[5].id));

    // Retrieve skips missing ids.
    let missing = content_id("not stored");
    let got = store
        .retrieve(name, &[points[1].id, missing, points[2].id])
        .await
        .expect("retrieve");
    let got_ids: HashSet<PointId> = got.iter().map(|r| r.id).collect();
    assert_eq!(got_ids, HashSet::from([points[1].id, points[2].id]));

    // Upsert with the same id replaces.
    let mut replaced = point(1);
    replaced.payload.insert("colour".into(), json!("red"));
    store.upsert(name, vec![replaced]).await.expect("replace");
    assert_eq!(
        store.count(name, None).await.expect("count after replace"),
        12
    );
    assert_eq!(
        store
            .count(name, Some(red.clone()))
            .await
            .expect("count red after replace"),
        5
    );

    // Scroll in pages covers every point exactly once.
    let mut seen = Vec::new();
    let mut offset = None;
    loop {
        let page = store.scroll(name, None, offset, 5).await.expect("scroll");
        assert!(page.records.len() <= 5);
        seen.extend(page.records.iter().map(|r| r.id));
        match page.next {
            Some(next) => offset = Some(next),
            None => break,
        }
    }
    assert_eq!(seen.len(), 12);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 12);
    let red_page = store
        .scroll(name, Some(red.clone()), None, 100)
        .await
        .expect("filtered scroll");
    assert_eq!(red_page.records.len(), 5);
    assert!(red_page.next.is_none());

    // Delete by ids, then by filter.
    store
        .delete(name, Selector::Ids(vec![points[0].id, points[2].id]))
        .await
        .expect("delete ids");
    assert_eq!(store.count(name, None).await.expect("count"), 10);
    assert!(
        store
            .retrieve(name, &[points[0].id])
            .await
            .expect("retrieve deleted")
            .is_empty()
    );
    store
        .delete(name, Selector::Filter(red))
        .await
        .expect("delete by filter");
    // 12 - 2 deleted (0 red, 2 blue) - remaining reds (3, 6, 9, 1 replaced) = 6
    assert_eq!(store.count(name, None).await.expect("count"), 6);
    let hits = store
        .search(name, SearchRequest::new(Query::Dense(basis(3)), 12))
        .await
        .expect("search after delete");
    assert!(
        hits.iter().all(|h| h.id != points[3].id),
        "deleted points are not found"
    );

    store.optimize(name).await.expect("optimize");
    store.flush().await.expect("flush");
    assert_eq!(
        store.count(name, None).await.expect("count after optimize"),
        6
    );

    // Exact search ranks the remaining points by cosine, as brute force does.
    let left: HashSet<PointId> = store
        .scroll(name, None, None, 100)
        .await
        .expect("scroll")
        .records
        .into_iter()
        .map(|r| r.id)
        .collect();
    let query = vec![0.3, 1.0, 0.2, 0.0, 0.5, 0.0, 0.1, 0.4];
    let cosine = |v: &[f32]| {
        let dot: f32 = v.iter().zip(&query).map(|(a, b)| a * b).sum();
        let norm = |x: &[f32]| x.iter().map(|a| a * a).sum::<f32>().sqrt();
        dot / (norm(v) * norm(&query))
    };
    let mut brute: Vec<(f32, PointId)> = points
        .iter()
        .filter(|p| left.contains(&p.id))
        .map(|p| (cosine(&p.dense), p.id))
        .collect();
    brute.sort_by(|a, b| b.0.total_cmp(&a.0));
    let exact = store
        .search(
            name,
            SearchRequest::new(Query::Dense(query.clone()), 4).exact(),
        )
        .await
        .expect("exact search");
    assert_eq!(
        ids(&exact),
        brute.iter().take(4).map(|(_, id)| *id).collect::<Vec<_>>(),
        "exact search ranks by cosine"
    );
    for (hit, (score, _)) in exact.iter().zip(&brute) {
        assert!((hit.score - score).abs() < 1e-4, "{} vs {score}", hit.score);
    }

    store.drop_collection(name).await.expect("drop");
    match store.count(name, None).await {
        Err(_) => {}
        Ok(n) => panic!("a dropped collection must not be usable, counted {n}"),
    }
    store
        .drop_collection(name)
        .await
        .expect("dropping twice is fine");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_store_passes_conformance() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn VectorStore> = Arc::new(EdgeStore::open(dir.path()).expect("open"));
    conformance(store, "conformance").await;
}

/// Set (to `1`) by `scripts/with-qdrant.sh`, which `make test` runs: the
/// server half of the suite must run, so a missing `QDRANT_URL` fails it.
const REQUIRE_ENV: &str = "AGENTRY_REQUIRE_QDRANT";

/// Writes a line straight to the process's stderr, past the test harness's
/// output capture, so that the CI log says which stores the suite ran on.
fn announce(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn server_required() -> bool {
    std::env::var(REQUIRE_ENV)
        .map(|v| !v.trim().is_empty() && v.trim() != "0")
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qdrant_server_passes_conformance() {
    let Some(config) = QdrantConfig::from_env() else {
        assert!(
            !server_required(),
            "{REQUIRE_ENV} is set but QDRANT_URL is not: the QdrantStore conformance \
             run was asked for and has no server to run against"
        );
        announce(
            "conformance: QDRANT_URL is not set: the QdrantStore (server) half of the \
             conformance suite was NOT run; only the embedded store was checked \
             (`make test` starts ../shared/bin/qdrant when it exists)",
        );
        return;
    };
    let url = config.url.clone();
    // A server that was asked for and does not answer fails the suite.
    let store = QdrantStore::connect(config)
        .await
        .unwrap_or_else(|e| panic!("QDRANT_URL={url}: no Qdrant server answered: {e}"));
    announce(&format!(
        "conformance: running the QdrantStore suite against Qdrant {} at {url}",
        store.server_version()
    ));
    let store: Arc<dyn VectorStore> = Arc::new(store);
    let name = format!("agentry_conformance_{}", uuid_suffix());
    let result = tokio::spawn({
        let store = Arc::clone(&store);
        let name = name.clone();
        async move { conformance(store, &name).await }
    })
    .await;
    // Clean up even when the suite failed.
    let _ = store.drop_collection(&name).await;
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
    announce(&format!(
        "conformance: the QdrantStore suite passed against {url} (collection {name}, dropped)"
    ));
}

fn uuid_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{}_{nanos}", std::process::id())
}

#[tokio::test]
async fn qdrant_store_reports_an_unreachable_server_by_url() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let url = format!("http://127.0.0.1:{port}");
    let err = QdrantStore::connect(QdrantConfig::new(url.clone()))
        .await
        .expect_err("nothing listens there");
    let text = err.to_string();
    assert!(text.contains(&url), "error names the URL: {text}");
    assert!(matches!(err, MemoryError::Qdrant { .. }));
}

#[tokio::test]
async fn edge_store_data_survives_close_and_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = CollectionSpec::new("persist", DIM).with_index("colour", FieldKind::Keyword);
    {
        let store = EdgeStore::open(dir.path()).expect("open");
        store.ensure_collection(&spec).await.expect("create");
        let dense_only = (0..7)
            .map(|i| Point {
                sparse: None,
                ..point(i)
            })
            .collect();
        store.upsert("persist", dense_only).await.expect("upsert");
        store
            .delete("persist", Selector::Ids(vec![point(6).id]))
            .await
            .expect("delete");
    }
    let store = EdgeStore::open(dir.path()).expect("reopen");
    // Usable without ensure_collection: it is loaded from disk.
    assert_eq!(store.count("persist", None).await.expect("count"), 6);
    let red = Filter::must(Condition::keyword("colour", "red"));
    assert_eq!(
        store.count("persist", Some(red)).await.expect("count red"),
        2
    );
    let hits = store
        .search("persist", SearchRequest::new(Query::Dense(basis(4)), 1))
        .await
        .expect("search");
    assert_eq!(hits[0].id, point(4).id);
}

#[tokio::test]
async fn edge_store_refuses_a_second_open_naming_the_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let _first = EdgeStore::open(dir.path()).expect("open");
    match EdgeStore::open(dir.path()) {
        Err(e @ MemoryError::StoreLocked { .. }) => {
            assert!(
                e.to_string().contains(&dir.path().display().to_string()),
                "names the path: {e}"
            );
        }
        other => panic!("expected StoreLocked, got {other:?}"),
    }
}

#[tokio::test]
async fn edge_store_rejects_bad_names_and_unknown_collections() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = EdgeStore::open(dir.path()).expect("open");
    let bad = CollectionSpec::new("../escape", DIM);
    assert!(matches!(
        store.ensure_collection(&bad).await,
        Err(MemoryError::Invalid { .. })
    ));
    assert!(matches!(
        store.count("nothing-here", None).await,
        Err(MemoryError::NoSuchCollection(_))
    ));
    assert!(matches!(
        store.count("../x", None).await,
        Err(MemoryError::NoSuchCollection(_))
    ));
}

fn closed_wal_segments(collection_dir: &std::path::Path) -> usize {
    std::fs::read_dir(collection_dir.join("wal"))
        .expect("wal dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("closed-"))
        .count()
}

#[tokio::test]
async fn edge_store_trims_its_wal_on_reopen_and_later_updates_still_apply() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = agentry_memory::EdgeStoreOptions {
        wal_segment_bytes: 64 * 1024,
        ..Default::default()
    };
    let spec = CollectionSpec::new("trim", DIM).with_index("colour", FieldKind::Keyword);
    let n = 2000;
    {
        let store = EdgeStore::open_with(dir.path(), opts.clone()).expect("open");
        store.ensure_collection(&spec).await.expect("create");
        for start in (0..n).step_by(50) {
            let batch = (start..start + 50)
                .map(|i| Point {
                    sparse: None,
                    ..point(i)
                })
                .collect();
            store.upsert("trim", batch).await.expect("upsert");
        }
    }
    let collection_dir = dir.path().join("trim");
    assert!(
        closed_wal_segments(&collection_dir) > 1,
        "the test wrote several WAL segments"
    );
    {
        let store = EdgeStore::open_with(dir.path(), opts.clone()).expect("reopen");
        assert_eq!(store.count("trim", None).await.expect("count"), n as u64);
        assert!(
            closed_wal_segments(&collection_dir) <= 1,
            "old WAL segments removed on load"
        );
        // Operation numbers keep increasing: a replacement and a delete take effect.
        let mut purple = Point {
            sparse: None,
            ..point(0)
        };
        purple.payload.insert("colour".into(), json!("purple"));
        store.upsert("trim", vec![purple]).await.expect("replace");
        store
            .delete("trim", Selector::Ids(vec![point(1).id]))
            .await
            .expect("delete");
        let got = store
            .retrieve("trim", &[point(0).id])
            .await
            .expect("retrieve");
        assert_eq!(got[0].payload.get("colour"), Some(&json!("purple")));
    }
    let store = EdgeStore::open_with(dir.path(), opts).expect("reopen again");
    let got = store
        .retrieve("trim", &[point(0).id, point(1).id])
        .await
        .expect("retrieve");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].payload.get("colour"), Some(&json!("purple")));
    assert_eq!(
        store.count("trim", None).await.expect("count"),
        n as u64 - 1
    );
}

#[tokio::test]
async fn edge_store_breaks_fused_ties_by_id() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = EdgeStore::open(dir.path()).expect("open");
    store
        .ensure_collection(&CollectionSpec::new("ties", DIM).with_sparse())
        .await
        .expect("create");
    // Pairs whose ranks swap between the two lists: the first of a pair is nearer in
    // dense space, the second has the larger sparse weight, so both fuse to
    // 1/(k + r) + 1/(k + r + 1). Five pairs, so that an order left to chance is caught.
    let mut points = Vec::new();
    for pair in 0..5 {
        let near = 1.0 - 0.1 * pair as f32;
        let weight = 0.5 - 0.05 * pair as f32;
        for (dense_cos, sparse_weight) in [(near, weight), (near - 0.05, weight + 0.02)] {
            let mut dense = vec![0.0; DIM];
            dense[0] = dense_cos;
            dense[1] = (1.0 - dense_cos * dense_cos).max(0.0).sqrt();
            points.push(Point {
                id: content_id(&format!("tie-{pair}-{}", points.len())),
                dense,
                sparse: Some(SparseVector {
                    indices: vec![7],
                    values: vec![sparse_weight],
                }),
                payload: agentry_memory::Payload::new(),
            });
        }
    }
    store.upsert("ties", points).await.expect("upsert");
    let query = Query::Hybrid {
        dense: basis(0),
        sparse: SparseVector {
            indices: vec![7],
            values: vec![1.0],
        },
    };
    let hits = store
        .search("ties", SearchRequest::new(query, 10))
        .await
        .expect("hybrid search");
    assert_eq!(hits.len(), 10);
    let tied_pairs = hits
        .chunks(2)
        .filter(|pair| pair[0].score == pair[1].score)
        .count();
    assert_eq!(tied_pairs, 5, "every pair ties: {hits:?}");
    for pair in hits.chunks(2) {
        assert!(pair[0].id < pair[1].id, "a tie is broken by id: {hits:?}");
    }
}
