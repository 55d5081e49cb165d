//! Long-term memory on the embedded store with the real embedder.

mod common;

use std::sync::Arc;
use std::time::Duration;

use agentry_memory::{
    Condition, EdgeStore, Filter, LongTermMemory, MemoryKind, Recency, VectorStore,
};
use serde_json::json;

async fn memory() -> (tempfile::TempDir, LongTermMemory) {
    let (dir, store) = common::edge_store();
    let ltm = LongTermMemory::open(store, Arc::new(common::embedder().await))
        .await
        .expect("open");
    (dir, ltm)
}

#[tokio::test]
async fn the_same_text_is_stored_once() {
    let (_dir, ltm) = memory().await;
    let a = ltm
        .remember(
            "Paris is the capital of France",
            MemoryKind::Semantic,
            json!({}),
            0.5,
        )
        .await
        .expect("remember");
    let b = ltm
        .remember(
            "Paris is the capital of France",
            MemoryKind::Semantic,
            json!({"source": "atlas"}),
            0.9,
        )
        .await
        .expect("again");
    assert_eq!(a, b);
    assert_eq!(ltm.count(None).await.expect("count"), 1);
    let item = ltm.get(a).await.expect("get").expect("stored");
    assert_eq!(item.payload.get("source"), Some(&json!("atlas")));
    assert!((item.importance - 0.9).abs() < 1e-6);
}

#[tokio::test]
async fn recall_ranks_by_meaning_and_honours_filter_and_min_score() {
    let (_dir, ltm) = memory().await;
    let facts = [
        (
            "The staging database password rotates every Monday",
            MemoryKind::Semantic,
        ),
        ("Bananas are rich in potassium", MemoryKind::Semantic),
        (
            "Yesterday the deploy failed because the disk was full",
            MemoryKind::Episodic,
        ),
        (
            "The office plants are watered on Fridays",
            MemoryKind::Semantic,
        ),
    ];
    for (text, kind) in facts {
        ltm.remember(text, kind, json!({"team": "ops"}), 0.5)
            .await
            .expect("remember");
    }
    let hits = ltm
        .recall("why did the deployment break?", 2, None, None)
        .await
        .expect("recall");
    assert_eq!(hits[0].item.text, facts[2].0);
    assert_eq!(hits[0].item.kind, MemoryKind::Episodic);

    let semantic = ltm
        .recall(
            "why did the deployment break?",
            4,
            Some(MemoryKind::Semantic.filter()),
            None,
        )
        .await
        .expect("recall semantic");
    assert_eq!(semantic.len(), 3);
    assert!(semantic.iter().all(|h| h.item.kind == MemoryKind::Semantic));

    let strict = ltm
        .recall("potassium in bananas", 4, None, Some(0.5))
        .await
        .expect("recall strict");
    assert_eq!(
        strict.len(),
        1,
        "only the banana fact is that similar: {strict:?}"
    );
    assert!(strict[0].similarity >= 0.5);

    let by_meta = Filter::must(Condition::keyword("team", "ops"));
    assert_eq!(
        ltm.count(Some(by_meta)).await.expect("count by metadata"),
        4
    );
}

#[tokio::test]
async fn forget_removes_a_memory() {
    let (_dir, ltm) = memory().await;
    let id = ltm
        .remember("Temporary note", MemoryKind::Episodic, json!(null), 0.1)
        .await
        .expect("remember");
    ltm.forget(id).await.expect("forget");
    assert!(ltm.get(id).await.expect("get").is_none());
    assert_eq!(ltm.count(None).await.expect("count"), 0);
    assert!(
        ltm.recall("temporary", 3, None, None)
            .await
            .expect("recall")
            .is_empty()
    );
}

#[tokio::test]
async fn metadata_must_be_an_object() {
    let (_dir, ltm) = memory().await;
    assert!(
        ltm.remember("x", MemoryKind::Semantic, json!([1, 2]), 0.5)
            .await
            .is_err()
    );
    assert!(
        ltm.remember("x", MemoryKind::Semantic, json!({}), f32::NAN)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn recency_weighting_prefers_the_newer_of_two_similar_memories() {
    let (_dir, ltm) = memory().await;
    let old_ts = agentry_now_ms() - 30 * 24 * 3600 * 1000;
    // The older one is the exact text of the query; without recency it wins.
    ltm.remember(
        "The team meeting is on Tuesday",
        MemoryKind::Episodic,
        json!({"created_at": old_ts}),
        0.5,
    )
    .await
    .expect("old");
    ltm.remember(
        "The team meeting moved to Tuesday afternoon",
        MemoryKind::Episodic,
        json!({}),
        0.5,
    )
    .await
    .expect("new");
    let plain = ltm
        .recall("The team meeting is on Tuesday", 2, None, None)
        .await
        .expect("recall");
    assert_eq!(plain[0].item.text, "The team meeting is on Tuesday");
    let recent = ltm
        .clone()
        .with_recency(Recency {
            half_life: Duration::from_secs(24 * 3600),
            weight: 0.5,
        })
        .recall("The team meeting is on Tuesday", 2, None, None)
        .await
        .expect("recall with recency");
    assert_eq!(
        recent[0].item.text,
        "The team meeting moved to Tuesday afternoon"
    );
    assert!(recent[0].score <= recent[0].similarity);
}

fn agentry_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[tokio::test]
async fn memories_survive_close_and_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let embedder = Arc::new(common::embedder().await);
    let id = {
        let store: Arc<dyn VectorStore> = Arc::new(EdgeStore::open(dir.path()).expect("open"));
        let ltm = LongTermMemory::open(store, embedder.clone())
            .await
            .expect("ltm");
        ltm.remember(
            "The backup runs at 02:00 UTC",
            MemoryKind::Semantic,
            json!({}),
            0.7,
        )
        .await
        .expect("remember")
    };
    let store: Arc<dyn VectorStore> = Arc::new(EdgeStore::open(dir.path()).expect("reopen"));
    let ltm = LongTermMemory::open(store, embedder).await.expect("ltm");
    let hits = ltm
        .recall("when does the backup run?", 1, None, None)
        .await
        .expect("recall");
    assert_eq!(hits[0].item.id, id);
}
