//! `agentry bench memory`: insert throughput, recall latency and recall@k
//! at several collection sizes (embedding excluded: synthetic 384-d
//! vectors, see [`vectors`]), and embedding throughput, on the embedded
//! store (once per durability setting: what an fsync per write costs shows
//! in insert/s) and, when one is given, on a Qdrant server in the same run
//! (the same vectors and queries on all).

pub mod vectors;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

pub use vectors::{SyntheticVectors, VectorKind};

/// Searches run (untimed) after an optimize before latency is measured.
pub const WARM_UP_QUERIES: usize = 500;

use agentry_memory::embed::{Embedder, FastEmbedder, MINILM_DIMENSION};
use agentry_memory::store::{
    CollectionSpec, Durability, EdgeStore, EdgeStoreOptions, FieldKind, Point, QdrantConfig,
    QdrantStore, Query, SearchRequest, VectorStore,
};
use agentry_memory::{Condition, Filter};
use agentry_memory::{MemoryError, Result};

/// What to measure.
#[derive(Clone)]
pub struct MemoryBenchOptions {
    /// Collection sizes to measure recall latency at.
    pub sizes: Vec<usize>,
    /// Search queries per size (after optimize).
    pub queries: usize,
    /// Search queries per size before optimize (full scan); 0 to skip.
    pub queries_before_optimize: usize,
    /// Queries per size whose results are compared with an exact search
    /// (recall@k); 0 to skip.
    pub recall_queries: usize,
    /// Results per query.
    pub k: usize,
    /// How the stored and query vectors are spread.
    pub vectors: VectorKind,
    /// Points per upsert.
    pub batch: usize,
    /// Sentences to embed for the embedding throughput; 0 to skip.
    pub embed_sentences: usize,
    /// Embedder to measure; `None` loads [`FastEmbedder`] from the model store.
    pub embedder: Option<Arc<dyn Embedder>>,
    /// Where to put the store; `None` uses a fresh directory under the
    /// system temp dir, removed afterwards.
    pub dir: Option<PathBuf>,
    /// A Qdrant server to measure beside the embedded store (its collections
    /// are uniquely named and dropped afterwards); `None`: the embedded store only.
    pub server: Option<QdrantConfig>,
    /// The embedded store is measured once per durability setting given (see
    /// [`EdgeStoreOptions::durability`]): a row each.
    pub durability: Vec<Durability>,
    /// Random seed.
    pub seed: u64,
}

impl Default for MemoryBenchOptions {
    fn default() -> Self {
        Self {
            sizes: vec![10_000, 100_000],
            queries: 1000,
            queries_before_optimize: 100,
            recall_queries: 200,
            k: 10,
            vectors: VectorKind::Structured,
            batch: 512,
            embed_sentences: 512,
            embedder: None,
            dir: None,
            server: None,
            durability: vec![Durability::Process, Durability::Power],
            seed: 42,
        }
    }
}

impl std::fmt::Debug for MemoryBenchOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryBenchOptions")
            .field("sizes", &self.sizes)
            .field("queries", &self.queries)
            .field("vectors", &self.vectors)
            .field("embed_sentences", &self.embed_sentences)
            .field("server", &self.server)
            .field("durability", &self.durability)
            .finish_non_exhaustive()
    }
}

/// Latency percentiles of one set of queries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    /// Number of queries.
    pub queries: usize,
    /// Median.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
}

/// Measurements at one collection size.
#[derive(Debug, Clone, PartialEq)]
pub struct SizeReport {
    /// Points in the collection.
    pub items: usize,
    /// Points inserted per second (upserts acknowledged, WAL written).
    pub insert_per_sec: f64,
    /// Seconds `optimize()` took.
    pub optimize_secs: f64,
    /// Dense top-k search before optimize (full scan), if measured.
    pub before_optimize: Option<Latency>,
    /// Dense top-k search after optimize (HNSW).
    pub after_optimize: Latency,
    /// Dense top-k search with a keyword filter, after optimize.
    pub filtered_after_optimize: Latency,
    /// Share of the exact top-k that the index search after optimize
    /// returned, over the recall queries (`None` if none were run).
    pub recall_at_k: Option<f64>,
}

/// Embedding throughput.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EmbedReport {
    /// Sentences embedded.
    pub sentences: usize,
    /// Sentences per second.
    pub per_sec: f64,
}

/// The measurements on one store.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreReport {
    /// Which store: `embedded (Qdrant Edge, durability=process|power)` or
    /// `server (Qdrant VERSION)`.
    pub store: String,
    /// One entry per size.
    pub sizes: Vec<SizeReport>,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryBenchReport {
    /// One entry per store measured: the embedded store first (one entry per
    /// durability setting).
    pub stores: Vec<StoreReport>,
    /// How the vectors were spread.
    pub vectors: VectorKind,
    /// Results per query.
    pub k: usize,
    /// Embedding throughput, if measured.
    pub embedding: Option<EmbedReport>,
    /// Worker threads available.
    pub threads: usize,
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

impl MemoryBenchReport {
    /// The report as a Markdown table.
    pub fn to_markdown(&self) -> String {
        let mut s = String::from("## Memory benchmark\n\n");
        s.push_str(&format!("{} {MINILM_DIMENSION}-d vectors, cosine, top-{}; {} CPU threads; latency measured through the async `VectorStore` API (the server over gRPC on this machine); \"index\" is HNSW, built by `optimize()` (on the server: the time until it reports the collection indexed); recall@{} = share of the exact top-{} the index search returns.\n\n", self.vectors, self.k, self.threads, self.k, self.k));
        s.push_str("| store | items | insert/s | index s | p50 ms (scan) | p99 ms (scan) | p50 ms (index) | p99 ms (index) | p50 ms (index+filter) | p99 ms (index+filter) | recall@k (index) |\n");
        s.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for store in &self.stores {
            for r in &store.sizes {
                let (b50, b99) = r
                    .before_optimize
                    .map(|l| (ms(l.p50), ms(l.p99)))
                    .unwrap_or(("-".into(), "-".into()));
                let recall = r
                    .recall_at_k
                    .map(|x| format!("{x:.3}"))
                    .unwrap_or_else(|| "-".into());
                s.push_str(&format!(
                    "| {} | {} | {:.0} | {:.2} | {} | {} | {} | {} | {} | {} | {} |\n",
                    store.store,
                    r.items,
                    r.insert_per_sec,
                    r.optimize_secs,
                    b50,
                    b99,
                    ms(r.after_optimize.p50),
                    ms(r.after_optimize.p99),
                    ms(r.filtered_after_optimize.p50),
                    ms(r.filtered_after_optimize.p99),
                    recall,
                ));
            }
        }
        if let Some(e) = &self.embedding {
            s.push_str(&format!("\nEmbedding (all-MiniLM-L6-v2 int8, batch 32): {:.0} sentences/s over {} sentences.\n", e.per_sec, e.sentences));
        }
        s
    }
}

fn percentiles(mut samples: Vec<Duration>) -> Latency {
    samples.sort();
    let at = |p: f64| -> Duration {
        if samples.is_empty() {
            return Duration::ZERO;
        }
        let idx = ((samples.len() as f64 - 1.0) * p).round() as usize;
        samples[idx.min(samples.len() - 1)]
    };
    Latency {
        queries: samples.len(),
        p50: at(0.50),
        p99: at(0.99),
    }
}

async fn time_queries(
    store: &dyn VectorStore,
    collection: &str,
    vectors: &mut SyntheticVectors,
    n: usize,
    k: usize,
    filter: Option<&Filter>,
) -> Result<Latency> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let mut request = SearchRequest::new(Query::Dense(vectors.next_vector()), k);
        request.filter = filter.cloned();
        let start = Instant::now();
        let hits = store.search(collection, request).await?;
        samples.push(start.elapsed());
        if hits.is_empty() {
            return Err(MemoryError::Invalid {
                what: "benchmark",
                reason: format!("search in {collection} returned nothing"),
            });
        }
    }
    Ok(percentiles(samples))
}

/// Share of the exact top-k that the index search returns, averaged over
/// `n` queries.
async fn measure_recall(
    store: &dyn VectorStore,
    collection: &str,
    vectors: &mut SyntheticVectors,
    n: usize,
    k: usize,
) -> Result<f64> {
    let mut found = 0usize;
    let mut expected = 0usize;
    for _ in 0..n {
        let query = Query::Dense(vectors.next_vector());
        let exact = store
            .search(collection, SearchRequest::new(query.clone(), k).exact())
            .await?;
        let approximate = store
            .search(collection, SearchRequest::new(query, k))
            .await?;
        expected += exact.len();
        found += approximate
            .iter()
            .filter(|hit| exact.iter().any(|e| e.id == hit.id))
            .count();
    }
    Ok(if expected == 0 {
        0.0
    } else {
        found as f64 / expected as f64
    })
}

/// Runs the benchmark.
pub async fn run_memory_bench(opts: MemoryBenchOptions) -> Result<MemoryBenchReport> {
    let (dir, remove_after) = match &opts.dir {
        Some(d) => (d.clone(), false),
        None => {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            (
                std::env::temp_dir().join(format!(
                    "agentry-memory-bench-{}-{nanos}",
                    std::process::id()
                )),
                true,
            )
        }
    };
    let result = run_in(&opts, &dir).await;
    if remove_after {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

async fn run_in(opts: &MemoryBenchOptions, dir: &std::path::Path) -> Result<MemoryBenchReport> {
    let mut stores = Vec::new();
    for &durability in &opts.durability {
        let store_opts = EdgeStoreOptions {
            optimize_after: usize::MAX,
            durability,
            ..EdgeStoreOptions::default()
        };
        let edge = EdgeStore::open_with(dir.join(durability.as_str()), store_opts)?;
        stores.push(StoreReport {
            store: format!("embedded (Qdrant Edge, durability={durability})"),
            sizes: measure_store(&edge, opts, "bench").await?,
        });
    }
    if let Some(config) = &opts.server {
        let server = QdrantStore::connect(config.clone()).await?;
        let prefix = format!("agentry_bench_{}", uuid_suffix());
        let measured = measure_store(&server, opts, &prefix).await;
        // A run that failed half-way leaves nothing behind on the server.
        for (i, items) in opts.sizes.iter().enumerate() {
            let _ = server
                .drop_collection(&format!("{prefix}_{i}_{items}"))
                .await;
        }
        stores.push(StoreReport {
            store: format!("server (Qdrant {})", server.server_version()),
            sizes: measured?,
        });
    }
    let embedding = if opts.embed_sentences > 0 {
        let embedder: Arc<dyn Embedder> = match &opts.embedder {
            Some(e) => Arc::clone(e),
            None => Arc::new(FastEmbedder::from_env_store().await?),
        };
        Some(measure_embedding(embedder.as_ref(), opts.embed_sentences).await?)
    } else {
        None
    };
    Ok(MemoryBenchReport {
        stores,
        vectors: opts.vectors,
        k: opts.k,
        embedding,
        threads: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
    })
}

/// Insert, search and recall at every size on one store; the vectors and
/// queries come from the same seed for every store.
async fn measure_store(
    store: &dyn VectorStore,
    opts: &MemoryBenchOptions,
    prefix: &str,
) -> Result<Vec<SizeReport>> {
    let mut vectors = SyntheticVectors::new(opts.vectors, MINILM_DIMENSION, opts.seed);
    let mut sizes = Vec::new();
    let batch = opts.batch.max(1);
    for (i, &items) in opts.sizes.iter().enumerate() {
        let collection = format!("{prefix}_{i}_{items}");
        let spec = CollectionSpec::new(&collection, MINILM_DIMENSION)
            .with_index("group", FieldKind::Keyword);
        store.ensure_collection(&spec).await?;
        let mut inserted = 0usize;
        let mut insert_time = Duration::ZERO;
        while inserted < items {
            let n = batch.min(items - inserted);
            let points: Vec<Point> = (0..n)
                .map(|j| {
                    let idx = inserted + j;
                    let mut payload = agentry_memory::Payload::new();
                    payload.insert("group".into(), json!(format!("g{}", idx % 10)));
                    payload.insert("n".into(), json!(idx));
                    Point {
                        id: agentry_memory::content_id(&format!("bench\u{0}{idx}")),
                        dense: vectors.next_vector(),
                        sparse: None,
                        payload,
                    }
                })
                .collect();
            let start = Instant::now();
            store.upsert(&collection, points).await?;
            insert_time += start.elapsed();
            inserted += n;
        }
        let before = if opts.queries_before_optimize > 0 {
            Some(
                time_queries(
                    store,
                    &collection,
                    &mut vectors,
                    opts.queries_before_optimize,
                    opts.k,
                    None,
                )
                .await?,
            )
        } else {
            None
        };
        let start = Instant::now();
        store.optimize(&collection).await?;
        let optimize_secs = start.elapsed().as_secs_f64();
        // Steady state: the first few hundred searches after an optimize
        // fault the new segment's pages in and run up to twice as slow.
        time_queries(
            store,
            &collection,
            &mut vectors,
            WARM_UP_QUERIES,
            opts.k,
            None,
        )
        .await?;
        let after =
            time_queries(store, &collection, &mut vectors, opts.queries, opts.k, None).await?;
        let filter = Filter::must(Condition::keyword("group", "g3"));
        let filtered = time_queries(
            store,
            &collection,
            &mut vectors,
            opts.queries,
            opts.k,
            Some(&filter),
        )
        .await?;
        let recall_at_k = if opts.recall_queries > 0 {
            Some(
                measure_recall(
                    store,
                    &collection,
                    &mut vectors,
                    opts.recall_queries,
                    opts.k,
                )
                .await?,
            )
        } else {
            None
        };
        sizes.push(SizeReport {
            items,
            insert_per_sec: items as f64 / insert_time.as_secs_f64().max(1e-9),
            optimize_secs,
            before_optimize: before,
            after_optimize: after,
            filtered_after_optimize: filtered,
            recall_at_k,
        });
        store.drop_collection(&collection).await?;
    }
    Ok(sizes)
}

/// A suffix no other run uses, for collections on a shared server.
fn uuid_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{}_{nanos}", std::process::id())
}

async fn measure_embedding(embedder: &dyn Embedder, n: usize) -> Result<EmbedReport> {
    const SUBJECTS: [&str; 8] = [
        "The agent",
        "A user",
        "The scheduler",
        "Our build",
        "The database",
        "A reviewer",
        "The model",
        "This test",
    ];
    const VERBS: [&str; 8] = [
        "reads",
        "writes",
        "summarises",
        "checks",
        "rejects",
        "stores",
        "retries",
        "reports",
    ];
    const OBJECTS: [&str; 8] = [
        "the quarterly revenue report",
        "a failing integration test",
        "the deployment manifest for production",
        "three new customer tickets",
        "the error code E4021 in the logs",
        "a paragraph about vector databases",
        "the latest commit on the main branch",
        "notes from yesterday's planning meeting",
    ];
    let sentences: Vec<String> = (0..n)
        .map(|i| {
            format!(
                "{} {} {} ({i}).",
                SUBJECTS[i % 8],
                VERBS[(i / 8) % 8],
                OBJECTS[(i / 64) % 8]
            )
        })
        .collect();
    embedder
        .embed(&sentences[..sentences.len().min(32)])
        .await?;
    let start = Instant::now();
    let vectors = embedder.embed(&sentences).await?;
    let secs = start.elapsed().as_secs_f64().max(1e-9);
    if vectors.len() != n {
        return Err(MemoryError::Invalid {
            what: "benchmark",
            reason: format!("embedded {} of {n} sentences", vectors.len()),
        });
    }
    Ok(EmbedReport {
        sentences: n,
        per_sec: n as f64 / secs,
    })
}
