//! The embedded store and a Qdrant server side by side (the server from
//! `QDRANT_URL`, which `make test` sets): the same documents rank the same under
//! hybrid search on both, and a collection moves up to the server and back
//! without re-embedding.

mod common;

use std::sync::Arc;

use agentry_memory::{Documents, DocumentsConfig, RetrievalMode, VectorStore, copy_collection};

const HANDBOOK: &[(&str, &str)] = &[
    (
        "deploys.md",
        "Production deploys happen on Tuesdays and Thursdays after the 10:00 stand-up. \
         Every deploy needs a green CI run and a second reviewer.",
    ),
    (
        "rollback.md",
        "To roll back a release run `ship rollback` with the previous tag; the on-call \
         engineer announces it in #ops.",
    ),
    (
        "oncall.md",
        "The on-call rotation changes every Monday at 09:00. Pages go to the primary, \
         then after 15 minutes to the secondary.",
    ),
    (
        "keys.md",
        "The deploy key lives in vault under prod/deploy-key; rotate it every 90 days.",
    ),
    (
        "expenses.md",
        "Expenses under 50 euros need no receipt; travel is booked through the portal.",
    ),
    (
        "errors.md",
        "Error E4021 means the artifact checksum did not match; rebuild and upload again.",
    ),
    (
        "holidays.md",
        "No deploys during the last two weeks of December (the change freeze).",
    ),
    (
        "lunch.md",
        "Lunch is served at noon on the third floor; vegetarian on Wednesdays.",
    ),
];

const QUERIES: &[&str] = &[
    "when can I deploy to production?",
    "how do I roll back a bad release",
    "where is the deploy key stored",
    "E4021",
    "who gets paged at night",
    "is there a change freeze in winter",
];

async fn documents(store: Arc<dyn VectorStore>, collection: &str) -> Documents {
    let e = common::embedder().await;
    let tokenizer = e.tokenizer().expect("tokenizer");
    let config = DocumentsConfig {
        collection: collection.to_string(),
        ..DocumentsConfig::default()
    };
    Documents::open(store, Arc::new(e), tokenizer, config)
        .await
        .expect("open documents")
}

/// (source, score) of the top hits, scores rounded so that float noise between
/// the engines does not count, ties listed in source order.
async fn ranking(docs: &Documents, query: &str, mode: RetrievalMode) -> Vec<(String, i64)> {
    let mut hits: Vec<(String, i64)> = docs
        .search(query, 5, mode, None)
        .await
        .expect("search")
        .into_iter()
        .map(|c| (c.source, (c.score * 10_000.0).round() as i64))
        .collect();
    hits.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    hits
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hybrid_search_ranks_the_same_on_the_embedded_store_and_the_server() {
    let Some(server) = common::qdrant_server("both_stores::hybrid").await else {
        return;
    };
    let server: Arc<dyn VectorStore> = Arc::new(server);
    let (_dir, edge) = common::edge_store();
    let name = common::unique_name("agentry_both_hybrid");
    let on_edge = documents(edge, &name).await;
    let on_server = documents(Arc::clone(&server), &name).await;
    for (source, text) in HANDBOOK {
        on_edge
            .ingest_text(source, text, false)
            .await
            .expect("ingest edge");
        on_server
            .ingest_text(source, text, false)
            .await
            .expect("ingest server");
    }
    let result = async move {
        for query in QUERIES {
            for mode in [RetrievalMode::Hybrid, RetrievalMode::Dense] {
                let a = ranking(&on_edge, query, mode).await;
                let b = ranking(&on_server, query, mode).await;
                assert_eq!(a, b, "{mode:?} ranking of {query:?}: embedded vs server");
                assert!(!a.is_empty(), "{query:?} found something");
            }
        }
        // And the ranking is right where the answer is plain.
        let top = ranking(&on_server, "E4021", RetrievalMode::Hybrid).await;
        assert_eq!(top[0].0, "errors.md", "{top:?}");
        let top = ranking(
            &on_edge,
            "where is the deploy key stored",
            RetrievalMode::Hybrid,
        )
        .await;
        assert_eq!(top[0].0, "keys.md", "{top:?}");
    };
    let outcome = tokio::spawn(result).await;
    let _ = server.drop_collection(&name).await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
    common::announce(&format!(
        "both_stores: {} queries ranked the same on the embedded store and the server",
        QUERIES.len()
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collection_moves_up_to_the_server_and_back_without_reembedding() {
    let Some(server) = common::qdrant_server("both_stores::copy").await else {
        return;
    };
    let server: Arc<dyn VectorStore> = Arc::new(server);
    let (_dir, edge) = common::edge_store();
    let (_back_dir, back) = common::edge_store();
    let name = common::unique_name("agentry_both_copy");
    let on_edge = documents(Arc::clone(&edge), &name).await;
    for (source, text) in HANDBOOK {
        on_edge
            .ingest_text(source, text, false)
            .await
            .expect("ingest");
    }
    let outcome = tokio::spawn({
        let server = Arc::clone(&server);
        let name = name.clone();
        async move {
            let up = copy_collection(edge.as_ref(), server.as_ref(), &name)
                .await
                .expect("copy up");
            let stored = edge.count(&name, None).await.expect("count");
            assert_eq!(up.points, stored);
            assert_eq!(server.count(&name, None).await.expect("count"), stored);
            assert_eq!(
                server.describe(&name).await.expect("describe"),
                edge.describe(&name).await.expect("describe"),
                "the same shape on the server"
            );
            let down = copy_collection(server.as_ref(), back.as_ref(), &name)
                .await
                .expect("copy down");
            assert_eq!(down.points, stored);
            // Documents over the copies answer like the original (the vectors
            // came across; nothing was embedded again to store them).
            let on_server = documents(Arc::clone(&server), &name).await;
            let on_back = documents(Arc::clone(&back), &name).await;
            for query in QUERIES {
                let want = ranking(&on_edge, query, RetrievalMode::Hybrid).await;
                assert_eq!(
                    ranking(&on_server, query, RetrievalMode::Hybrid).await,
                    want
                );
                assert_eq!(ranking(&on_back, query, RetrievalMode::Hybrid).await, want);
            }
        }
    })
    .await;
    let _ = server.drop_collection(&name).await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}
