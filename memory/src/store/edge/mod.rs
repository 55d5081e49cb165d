//! [`EdgeStore`]: Qdrant Edge in-process, one shard directory per collection.
//!
//! Qdrant Edge's API is synchronous, so every call runs on tokio's blocking
//! pool. Writes are appended to the collection's recovery log first (fsynced
//! with [`Durability::Power`]), then applied, and return once both are done
//! (see the `recovery` module: Qdrant Edge 0.7.2 does not replay its own WAL);
//! a background thread flushes every shard on a cadence
//! (which also empties the recovery log), and dropping the store flushes
//! once more. HNSW indexes are built by
//! `optimize()`, which also runs in the background once a collection has
//! grown by [`EdgeStoreOptions::optimize_after`] points since the last run.

use std::collections::HashMap;
use std::fs::File;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use async_trait::async_trait;
use qdrant_edge::external::ordered_float::OrderedFloat;
use qdrant_edge::{
    CountRequest, CreateIndex, Distance, EdgeConfig, EdgeShard, EdgeSparseVectorParamsBuilder,
    EdgeVectorParamsBuilder, FieldIndexOperations, Fusion, Modifier, NamedQuery,
    PayloadFieldSchema, PayloadSchemaType, PointInsertOperations, PointOperations, PointStruct,
    Prefetch, QuantizationConfig, QuantizationSearchParams, QueryEnum, QueryRequest,
    ScalarQuantizationConfig, ScalarType, ScoringQuery, ScrollRequest, SearchParams,
    UpdateOperation, Vector, VectorInternal, Vectors, WalOptions, WithPayloadInterface, WithVector,
};

use super::recovery::{Durability, LogOp, RecoveryLog, encode};
use super::{
    CollectionSpec, DENSE_VECTOR, FieldKind, Payload, Point, PointId, PointPage, Query, RRF_K,
    Record, SPARSE_VECTOR, ScoredPoint, ScrollPage, SearchRequest, Selector, SparseVector,
    VectorStore,
};
use crate::error::{MemoryError, Result};
use crate::filter::Filter;

mod collection;
mod convert;
mod points;
#[cfg(test)]
mod tests;

use points::trim_edge_wal;

use convert::{
    dense_query, int8_quantization, payload, point_id, search_params, sparse_query, to_edge_point,
};

const LOCK_FILE: &str = ".agentry-memory.lock";
const CONFIG_FILE: &str = "edge_config.json";
const RECOVERY_LOG: &str = "agentry-recovery.log";

/// How many more candidates than asked for a quantized search rescores with
/// the original vectors (see [`EdgeStoreOptions::quantize`]).
pub const QUANTIZED_OVERSAMPLING: f64 = 2.0;

/// Tuning of an [`EdgeStore`].
#[derive(Debug, Clone, PartialEq)]
pub struct EdgeStoreOptions {
    /// How often the background thread flushes every shard.
    pub flush_interval: Duration,
    /// Build indexes in the background once a collection has received this
    /// many points since its last optimisation.
    pub optimize_after: usize,
    /// Size of one WAL segment file, in bytes.
    pub wal_segment_bytes: usize,
    /// Keep an int8 copy of every dense vector in RAM (scalar quantization)
    /// for collections this store creates. The HNSW walk then compares
    /// bytes instead of floats; the best [`QUANTIZED_OVERSAMPLING`]` × limit`
    /// candidates are rescored with the original vectors, so scores stay
    /// exact cosines. Costs a quarter more RAM per vector. A collection
    /// keeps the setting it was created with.
    pub quantize: bool,
    /// Beam width of an HNSW search (Qdrant's `hnsw_ef`): higher finds more
    /// of the true nearest neighbours and takes longer. `agentry bench
    /// memory` prints the recall and latency this gives.
    pub search_ef: usize,
    /// When a write is acknowledged: [`Durability::Process`] (the default) once it is in
    /// the collection's recovery log, which survives a killed process; or
    /// [`Durability::Power`] once the log is also fsynced, which survives a power cut.
    /// `agentry bench memory` prints what each costs.
    pub durability: Durability,
}

impl Default for EdgeStoreOptions {
    fn default() -> Self {
        Self {
            flush_interval: Duration::from_secs(5),
            optimize_after: 20_000,
            wal_segment_bytes: 8 * 1024 * 1024,
            quantize: true,
            search_ef: 100,
            durability: Durability::Process,
        }
    }
}

/// The embedded vector store: Qdrant Edge shards under one directory, one
/// sub-directory per collection. Only one process may open a directory.
pub struct EdgeStore {
    inner: Arc<Inner>,
    stop: Option<mpsc::Sender<()>>,
    flusher: Option<JoinHandle<()>>,
}

struct Inner {
    root: PathBuf,
    options: EdgeStoreOptions,
    collections: RwLock<HashMap<String, Arc<Collection>>>,
    optimizers: Mutex<Vec<JoinHandle<()>>>,
    _lock: File,
}

struct Collection {
    name: String,
    path: PathBuf,
    shard: EdgeShard,
    /// Writers and optimize hold it shared; flush holds it exclusively
    /// (Qdrant Edge's `flush` panics if the WAL or segments are busy).
    gate: RwLock<()>,
    /// Operations since the last flush; held while applying one, so the log
    /// order is the apply order.
    log: Mutex<RecoveryLog>,
    since_optimize: AtomicUsize,
    optimizing: AtomicBool,
}

impl std::fmt::Debug for EdgeStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgeStore")
            .field("root", &self.inner.root)
            .finish_non_exhaustive()
    }
}

impl EdgeStore {
    /// Opens (or creates) the store at `root` with default options.
    pub fn open(root: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(root, EdgeStoreOptions::default())
    }

    /// Opens (or creates) the store at `root`. Fails with
    /// [`MemoryError::StoreLocked`] if another process has it open.
    pub fn open_with(root: impl AsRef<Path>, options: EdgeStoreOptions) -> Result<Self> {
        let root = root.as_ref().to_path_buf();
        std::fs::create_dir_all(&root).map_err(|source| MemoryError::Io {
            action: "create directory",
            path: root.clone(),
            source,
        })?;
        let lock_path = root.join(LOCK_FILE);
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|source| MemoryError::Io {
                action: "open",
                path: lock_path.clone(),
                source,
            })?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(MemoryError::StoreLocked { path: root });
            }
            Err(std::fs::TryLockError::Error(source)) => {
                return Err(MemoryError::Io {
                    action: "lock",
                    path: lock_path,
                    source,
                });
            }
        }
        let inner = Arc::new(Inner {
            root,
            options,
            collections: RwLock::new(HashMap::new()),
            optimizers: Mutex::new(Vec::new()),
            _lock: lock,
        });
        let (stop, stopped) = mpsc::channel::<()>();
        let flusher = {
            let worker = Arc::clone(&inner);
            std::thread::Builder::new()
                .name("agentry-memory-flush".into())
                .spawn(move || {
                    let interval = worker.options.flush_interval;
                    while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(interval)
                    {
                        worker.flush_idle();
                    }
                })
                .map_err(|source| MemoryError::Io {
                    action: "start flush thread for",
                    path: inner.root.clone(),
                    source,
                })?
        };
        Ok(Self {
            inner,
            stop: Some(stop),
            flusher: Some(flusher),
        })
    }

    /// The store's directory.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    async fn blocking<T, F>(&self, what: String, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || f(&inner))
            .await
            .map_err(|e| MemoryError::Task(what, e.to_string()))?
    }
}

impl Drop for EdgeStore {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(handle) = self.flusher.take() {
            let _ = handle.join();
        }
        let handles = match self.inner.optimizers.lock() {
            Ok(mut guard) => std::mem::take(&mut *guard),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        };
        for handle in handles {
            let _ = handle.join();
        }
        self.inner.flush_all();
    }
}

impl Inner {
    fn collection_path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    fn edge_err(&self, collection: &str, err: impl std::fmt::Display) -> MemoryError {
        MemoryError::Edge {
            collection: collection.to_string(),
            path: self.collection_path(collection),
            reason: err.to_string(),
        }
    }

    /// The open collection, loading it from disk if it exists there.
    fn get(&self, name: &str) -> Result<Arc<Collection>> {
        if let Some(c) = read_lock(&self.collections).get(name) {
            return Ok(Arc::clone(c));
        }
        let path = self.collection_path(name);
        if !is_collection_name(name) || !path.join(CONFIG_FILE).is_file() {
            return Err(MemoryError::NoSuchCollection(name.to_string()));
        }
        let mut map = write_lock(&self.collections);
        if let Some(c) = map.get(name) {
            return Ok(Arc::clone(c));
        }
        trim_edge_wal(&path.join("wal"));
        let shard = EdgeShard::load(&path, None).map_err(|e| self.open_err(name, e))?;
        let (c, pending) = Collection::new(name, path, shard, self.options.durability)?;
        let c = Arc::new(c.replay(pending)?);
        map.insert(name.to_string(), Arc::clone(&c));
        Ok(c)
    }

    fn open_err(&self, name: &str, err: impl std::fmt::Display) -> MemoryError {
        let text = err.to_string();
        if text.contains("WouldBlock") || text.contains("temporarily unavailable") {
            MemoryError::StoreLocked {
                path: self.collection_path(name),
            }
        } else {
            self.edge_err(name, text)
        }
    }

    fn ensure(&self, spec: &CollectionSpec) -> Result<Arc<Collection>> {
        spec.validate()?;
        let collection = match self.get(&spec.name) {
            Ok(c) => c,
            Err(MemoryError::NoSuchCollection(_)) => self.create(spec)?,
            Err(e) => return Err(e),
        };
        {
            let config = collection.shard.config();
            let size = config.vectors.get(DENSE_VECTOR).map(|v| v.size);
            if size != Some(spec.dense_size) {
                return Err(MemoryError::CollectionMismatch {
                    collection: spec.name.clone(),
                    reason: format!(
                        "dense vector size is {size:?} on disk, {} requested",
                        spec.dense_size
                    ),
                });
            }
            if spec.sparse && !config.sparse_vectors.contains_key(SPARSE_VECTOR) {
                return Err(MemoryError::CollectionMismatch {
                    collection: spec.name.clone(),
                    reason: "sparse vector requested but the collection has none".into(),
                });
            }
        }
        for (field, kind) in &spec.indexes {
            collection.apply(LogOp::CreateIndex {
                field: field.clone(),
                kind: *kind,
            })?;
        }
        Ok(collection)
    }

    fn create(&self, spec: &CollectionSpec) -> Result<Arc<Collection>> {
        let mut map = write_lock(&self.collections);
        if let Some(c) = map.get(&spec.name) {
            return Ok(Arc::clone(c));
        }
        let path = self.collection_path(&spec.name);
        std::fs::create_dir_all(&path).map_err(|source| MemoryError::Io {
            action: "create directory",
            path: path.clone(),
            source,
        })?;
        let mut dense = EdgeVectorParamsBuilder::new(spec.dense_size, Distance::Cosine);
        if self.options.quantize {
            dense = dense.quantization_config(int8_quantization());
        }
        let mut builder = EdgeConfig::builder()
            .vector(DENSE_VECTOR, dense.build())
            .wal_options(WalOptions {
                segment_capacity: self.options.wal_segment_bytes,
                segment_queue_len: 0,
                retain_closed: NonZeroUsize::MIN,
            });
        if spec.sparse {
            builder = builder.sparse_vector(
                SPARSE_VECTOR,
                EdgeSparseVectorParamsBuilder::new()
                    .modifier(Modifier::Idf)
                    .build(),
            );
        }
        let shard =
            EdgeShard::new(&path, builder.build()).map_err(|e| self.open_err(&spec.name, e))?;
        let (c, pending) = Collection::new(&spec.name, path, shard, self.options.durability)?;
        let c = Arc::new(c.replay(pending)?);
        map.insert(spec.name.clone(), Arc::clone(&c));
        Ok(c)
    }

    fn drop_collection(&self, name: &str) -> Result<()> {
        if !is_collection_name(name) {
            return Err(MemoryError::Invalid {
                what: "collection name",
                reason: format!("{name:?}: use letters, digits, '-' and '_'"),
            });
        }
        let removed = write_lock(&self.collections).remove(name);
        if let Some(c) = removed {
            // Wait for a background optimisation to let go of the shard.
            while Arc::strong_count(&c) > 1 {
                std::thread::sleep(Duration::from_millis(10));
            }
            drop(c);
        }
        let path = self.collection_path(name);
        if path.join(CONFIG_FILE).is_file() {
            std::fs::remove_dir_all(&path).map_err(|source| MemoryError::Io {
                action: "remove collection directory",
                path,
                source,
            })?;
        }
        Ok(())
    }

    fn flush_idle(&self) {
        let collections: Vec<_> = read_lock(&self.collections).values().cloned().collect();
        for c in collections {
            // Skip a collection that is busy; the next round gets it.
            if let Ok(_guard) = c.gate.try_write() {
                c.flush_locked();
            }
        }
    }

    fn flush_all(&self) {
        let collections: Vec<_> = read_lock(&self.collections).values().cloned().collect();
        for c in collections {
            c.flush();
        }
    }

    fn maybe_optimize_in_background(&self, c: &Arc<Collection>) {
        if c.since_optimize.load(Ordering::Relaxed) < self.options.optimize_after {
            return;
        }
        if c.optimizing.swap(true, Ordering::AcqRel) {
            return;
        }
        let worker = Arc::clone(c);
        let spawned = std::thread::Builder::new()
            .name(format!("agentry-optimize-{}", c.name))
            .spawn(move || {
                if let Err(e) = worker.optimize() {
                    tracing::warn!(collection = %worker.name, error = %e, "background optimize failed");
                }
                worker.optimizing.store(false, Ordering::Release);
            });
        match spawned {
            Ok(handle) => {
                let mut handles = match self.optimizers.lock() {
                    Ok(g) => g,
                    Err(p) => p.into_inner(),
                };
                handles.retain(|h| !h.is_finished());
                handles.push(handle);
            }
            Err(e) => {
                c.optimizing.store(false, Ordering::Release);
                tracing::warn!(collection = %c.name, error = %e, "cannot start optimize thread");
            }
        }
    }
}

/// Whether `name` can name a collection's folder: letters, digits, `-` and `_` (one
/// path component).
fn is_collection_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn read_lock<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|p| p.into_inner())
}

fn write_lock<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|p| p.into_inner())
}

#[async_trait]
impl VectorStore for EdgeStore {
    async fn ensure_collection(&self, spec: &CollectionSpec) -> Result<()> {
        let spec = spec.clone();
        self.blocking(format!("ensure collection {}", spec.name), move |inner| {
            inner.ensure(&spec).map(|_| ())
        })
        .await
    }

    async fn drop_collection(&self, collection: &str) -> Result<()> {
        let name = collection.to_string();
        self.blocking(format!("drop collection {name}"), move |inner| {
            inner.drop_collection(&name)
        })
        .await
    }

    async fn upsert(&self, collection: &str, points: Vec<Point>) -> Result<()> {
        let name = collection.to_string();
        self.blocking(format!("upsert into {name}"), move |inner| {
            let c = inner.get(&name)?;
            let n = points.len();
            c.apply(LogOp::Upsert(points))?;
            c.since_optimize.fetch_add(n, Ordering::Relaxed);
            inner.maybe_optimize_in_background(&c);
            Ok(())
        })
        .await
    }

    async fn search(&self, collection: &str, request: SearchRequest) -> Result<Vec<ScoredPoint>> {
        let name = collection.to_string();
        self.blocking(format!("search {name}"), move |inner| {
            let c = inner.get(&name)?;
            let filter = c.filter(request.filter.as_ref())?;
            let limit = request.limit;
            let threshold = request.score_threshold.map(OrderedFloat);
            let params = Some(search_params(&inner.options, request.exact));
            let prefetch = |query: ScoringQuery| Prefetch {
                prefetches: Vec::new(),
                query: Some(query),
                limit: limit.saturating_mul(4).max(40),
                params,
                filter: filter.clone(),
                score_threshold: None,
            };
            let (prefetches, query) = match request.query {
                Query::Dense(v) => (Vec::new(), dense_query(v)),
                Query::Sparse(s) => (Vec::new(), sparse_query(&name, &s)?),
                Query::Hybrid { dense, sparse } => (
                    vec![
                        prefetch(dense_query(dense)),
                        prefetch(sparse_query(&name, &sparse)?),
                    ],
                    ScoringQuery::Fusion(Fusion::Rrf {
                        k: RRF_K,
                        weights: None,
                    }),
                ),
            };
            // Fused ranks tie often (a point found by one list only scores 1/(k + rank)
            // like every other point at that rank), and the engine breaks ties in no fixed
            // order. Twice the limit (plus one) is fetched so that a tie across the cut is
            // seen, and ties are broken by id: the same data and query give the same
            // ranking in every process.
            let fused = !prefetches.is_empty();
            let req = QueryRequest {
                prefetches,
                query: Some(query),
                filter: filter.clone(),
                score_threshold: threshold,
                limit: if fused {
                    limit.saturating_mul(2).saturating_add(1)
                } else {
                    limit
                },
                offset: 0,
                params,
                with_vector: WithVector::Bool(false),
                with_payload: WithPayloadInterface::Bool(true),
            };
            let hits = c.shard.query(req).map_err(|e| c.err(e))?;
            let mut points = hits
                .into_iter()
                .map(|h| {
                    Ok(ScoredPoint {
                        id: point_id(&name, h.id)?,
                        score: h.score,
                        payload: payload(h.payload),
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            if fused {
                points.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
                points.truncate(limit);
            }
            Ok(points)
        })
        .await
    }

    async fn retrieve(&self, collection: &str, ids: &[PointId]) -> Result<Vec<Record>> {
        let name = collection.to_string();
        let ids: Vec<qdrant_edge::PointId> = ids
            .iter()
            .map(|id| qdrant_edge::PointId::Uuid(*id))
            .collect();
        self.blocking(format!("retrieve from {name}"), move |inner| {
            let c = inner.get(&name)?;
            let records = c
                .shard
                .retrieve(
                    &ids,
                    Some(WithPayloadInterface::Bool(true)),
                    Some(WithVector::Bool(false)),
                )
                .map_err(|e| c.err(e))?;
            records
                .into_iter()
                .map(|r| {
                    Ok(Record {
                        id: point_id(&name, r.id)?,
                        payload: payload(r.payload),
                    })
                })
                .collect()
        })
        .await
    }

    async fn delete(&self, collection: &str, selector: Selector) -> Result<()> {
        let name = collection.to_string();
        self.blocking(format!("delete from {name}"), move |inner| {
            let c = inner.get(&name)?;
            let op = match selector {
                Selector::Ids(ids) => LogOp::DeleteIds(ids),
                Selector::Filter(f) => {
                    // Validate now, so a bad filter is refused before it is logged.
                    c.filter(Some(&f))?;
                    LogOp::DeleteFilter(f.to_qdrant_json())
                }
            };
            c.apply(op)
        })
        .await
    }

    async fn count(&self, collection: &str, filter: Option<Filter>) -> Result<u64> {
        let name = collection.to_string();
        self.blocking(format!("count {name}"), move |inner| {
            let c = inner.get(&name)?;
            let filter = c.filter(filter.as_ref())?;
            let n = c
                .shard
                .count(CountRequest {
                    filter,
                    exact: true,
                })
                .map_err(|e| c.err(e))?;
            Ok(n as u64)
        })
        .await
    }

    async fn scroll(
        &self,
        collection: &str,
        filter: Option<Filter>,
        offset: Option<PointId>,
        limit: usize,
    ) -> Result<ScrollPage> {
        let name = collection.to_string();
        self.blocking(format!("scroll {name}"), move |inner| {
            let c = inner.get(&name)?;
            let filter = c.filter(filter.as_ref())?;
            let req = ScrollRequest {
                offset: offset.map(qdrant_edge::PointId::Uuid),
                limit: Some(limit.max(1)),
                filter,
                with_payload: Some(WithPayloadInterface::Bool(true)),
                with_vector: WithVector::Bool(false),
                order_by: None,
            };
            let (records, next) = c.shard.scroll(req).map_err(|e| c.err(e))?;
            let records = records
                .into_iter()
                .map(|r| {
                    Ok(Record {
                        id: point_id(&name, r.id)?,
                        payload: payload(r.payload),
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let next = next.map(|id| point_id(&name, id)).transpose()?;
            Ok(ScrollPage { records, next })
        })
        .await
    }

    async fn scroll_points(
        &self,
        collection: &str,
        offset: Option<PointId>,
        limit: usize,
    ) -> Result<PointPage> {
        let name = collection.to_string();
        self.blocking(format!("read points of {name}"), move |inner| {
            inner.get(&name)?.scroll_points(offset, limit)
        })
        .await
    }

    async fn collections(&self) -> Result<Vec<String>> {
        self.blocking("list collections".into(), |inner| inner.collection_names())
            .await
    }

    async fn describe(&self, collection: &str) -> Result<Option<CollectionSpec>> {
        let name = collection.to_string();
        self.blocking(format!("describe {name}"), move |inner| {
            match inner.get(&name) {
                Ok(c) => Ok(Some(c.describe())),
                Err(MemoryError::NoSuchCollection(_)) => Ok(None),
                Err(e) => Err(e),
            }
        })
        .await
    }

    async fn optimize(&self, collection: &str) -> Result<()> {
        let name = collection.to_string();
        self.blocking(format!("optimize {name}"), move |inner| {
            inner.get(&name)?.optimize()
        })
        .await
    }

    async fn flush(&self) -> Result<()> {
        self.blocking("flush".into(), |inner| {
            inner.flush_all();
            Ok(())
        })
        .await
    }
}
