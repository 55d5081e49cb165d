//! Document ingestion and hybrid retrieval with the real embedder.

mod common;

use std::sync::Arc;

use agentry_memory::{Documents, DocumentsConfig, RetrievalMode};

async fn documents(store: Arc<dyn agentry_memory::VectorStore>) -> Documents {
    let e = common::embedder().await;
    let tokenizer = e.tokenizer().expect("tokenizer");
    let config = DocumentsConfig {
        chunk_tokens: 64,
        overlap_tokens: 8,
        ..DocumentsConfig::default()
    };
    Documents::open(store, Arc::new(e), tokenizer, config)
        .await
        .expect("open documents")
}

#[tokio::test]
async fn hybrid_finds_a_rare_token_that_dense_alone_ranks_low() {
    let (_dir, store) = common::edge_store();
    let docs = documents(store).await;
    // Distractors talk about error codes (dense search likes them for an
    // error-code query); only one chunk has the exact code E4021, in an
    // otherwise unrelated text.
    let distractors = [
        "Error E4012 means the upstream service timed out; retry the request with backoff.",
        "Error code E2041 is raised when the login token has expired; sign in again.",
        "When you see error E4201 the payment gateway rejected the card.",
        "Error E1024 indicates the disk quota is exceeded for the project.",
        "The error code E4102 appears when the configuration file cannot be parsed.",
        "Error E0421 signals a missing permission on the storage bucket.",
        "Error codes starting with E4 come from the network layer of the client.",
        "Troubleshooting guide: look up the error code in the table of known failures.",
        "Your purchase could not be completed: the card issuer declined the payment.",
        "The order failed at the final payment step because the session expired.",
        "Payment errors during the purchase flow are logged with their code.",
    ];
    for (i, d) in distractors.iter().enumerate() {
        docs.ingest_text(&format!("faq-{i}"), d, false)
            .await
            .expect("ingest distractor");
    }
    docs.ingest_text(
        "warehouse-notes",
        "The forklift in aisle seven was serviced on Thursday; its inventory tag reads E4021 and the battery was replaced.",
        false,
    )
    .await
    .expect("ingest target");

    let rank = |chunks: &[agentry_memory::Chunk]| {
        chunks.iter().position(|c| c.source == "warehouse-notes")
    };

    // A question around the code: only the target shares a term with it.
    let query = "What went wrong: E4021 on checkout?";
    let dense = docs
        .search(query, 12, RetrievalMode::Dense, None)
        .await
        .expect("dense");
    let hybrid = docs.retrieve(query, 3).await.expect("hybrid");
    assert_eq!(
        rank(&hybrid),
        Some(0),
        "hybrid puts the exact token first: {hybrid:?}"
    );
    let dense_rank = rank(&dense);
    assert!(
        dense_rank.is_none_or(|r| r >= 3),
        "dense alone ranks it low, got {dense_rank:?}"
    );
    let sparse = docs
        .search(query, 12, RetrievalMode::Sparse, None)
        .await
        .expect("sparse");
    assert_eq!(rank(&sparse), Some(0));
}

#[tokio::test]
async fn reingesting_replaces_chunks_and_never_doubles_them() {
    let (dir, store) = common::edge_store();
    let docs = documents(store).await;
    let path = dir.path().join("guide.md");
    let section = |title: &str, word: &str| {
        format!(
            "## {title}\n\n{}\n\n",
            (0..40)
                .map(|i| format!("{word} sentence {i} about {title}."))
                .collect::<Vec<_>>()
                .join(" ")
        )
    };
    let v1 = format!(
        "# Guide\n\n{}{}",
        section("Install", "alpha"),
        section("Usage", "beta")
    );
    std::fs::write(&path, &v1).expect("write v1");
    let first = docs.ingest_file(&path).await.expect("ingest v1");
    assert!(first.chunks >= 4, "long sections are split: {first:?}");
    assert!(!first.unchanged);
    let source = path.display().to_string();
    assert_eq!(
        docs.count(Some(&source)).await.expect("count"),
        first.chunks as u64
    );

    let again = docs.ingest_file(&path).await.expect("ingest v1 again");
    assert!(again.unchanged);
    assert_eq!(
        docs.count(Some(&source)).await.expect("count"),
        first.chunks as u64
    );

    let v2 = format!("# Guide\n\n{}", section("Upgrade", "gamma"));
    std::fs::write(&path, &v2).expect("write v2");
    let second = docs.ingest_file(&path).await.expect("ingest v2");
    assert!(!second.unchanged);
    assert_eq!(
        docs.count(Some(&source)).await.expect("count"),
        second.chunks as u64
    );
    assert_eq!(
        docs.count(None).await.expect("count all"),
        second.chunks as u64
    );

    let hits = docs
        .retrieve("gamma sentence about Upgrade", 3)
        .await
        .expect("retrieve");
    assert!(
        hits.iter().all(|c| c.text.contains("gamma")),
        "old chunks are gone: {hits:?}"
    );
    assert_eq!(hits[0].heading.as_deref(), Some("Upgrade"));
    assert_eq!(hits[0].source, source);
    let stale = docs
        .retrieve("alpha sentence about Install", 5)
        .await
        .expect("retrieve stale");
    assert!(stale.iter().all(|c| !c.text.contains("alpha")));
}

#[tokio::test]
async fn chunks_respect_the_token_budget_and_carry_metadata() {
    let (_dir, store) = common::edge_store();
    let docs = documents(store).await;
    let e = common::embedder().await;
    let tokenizer = e.tokenizer().expect("tokenizer");
    let text = (0..200)
        .map(|i| format!("Word{i} is here."))
        .collect::<Vec<_>>()
        .join(" ");
    let report = docs
        .ingest_text("plain", &text, false)
        .await
        .expect("ingest");
    assert!(report.chunks > 3);
    let hits = docs
        .search("Word150", 50, RetrievalMode::Sparse, None)
        .await
        .expect("search");
    assert!(!hits.is_empty());
    let mut indexes: Vec<u64> = Vec::new();
    for c in docs
        .search("is here", 100, RetrievalMode::Dense, None)
        .await
        .expect("all")
    {
        let tokens = tokenizer
            .encode(c.text.as_str(), false)
            .expect("encode")
            .len();
        assert!(tokens <= 64, "chunk of {tokens} tokens");
        assert_eq!(c.source, "plain");
        assert!(c.heading.is_none());
        indexes.push(c.chunk_index);
    }
    indexes.sort();
    assert_eq!(indexes, (0..report.chunks as u64).collect::<Vec<_>>());
}

#[cfg(unix)]
#[tokio::test]
async fn a_fifo_or_device_is_refused_and_a_huge_document_too() {
    let (dir, store) = common::edge_store();
    let docs = documents(store).await;
    // A FIFO named like a text file: reading it once waited for a writer
    // for ever.
    let fifo = dir.path().join("notes.md");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(status.success());
    for path in [fifo.as_path(), std::path::Path::new("/dev/zero")] {
        let err = tokio::time::timeout(std::time::Duration::from_secs(120), docs.ingest_file(path))
            .await
            .expect("ingesting ends")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a regular file"), "{err}");
    }
    // Text past the bound is refused before it is split or embedded.
    let huge = "a".repeat(agentry_memory::MAX_DOCUMENT_BYTES + 1);
    let err = docs.ingest_text("huge", &huge, false).await.unwrap_err();
    assert!(err.to_string().contains("at most"), "{err}");
}
