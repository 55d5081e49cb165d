//! [`QdrantStore`]: the [`VectorStore`] contract over a Qdrant server or
//! cluster, through `qdrant-client` (gRPC).

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use qdrant_client::Qdrant;
use qdrant_client::qdrant::{
    self as q, CountPointsBuilder, CreateCollectionBuilder, CreateFieldIndexCollectionBuilder,
    DeletePointsBuilder, FieldType, GetPointsBuilder, Modifier, PointsIdsList,
    PrefetchQueryBuilder, QueryPointsBuilder, ScrollPointsBuilder, SearchParamsBuilder,
    SparseVectorParamsBuilder, SparseVectorsConfigBuilder, UpsertPointsBuilder,
    VectorParamsBuilder,
};

mod points;

use super::{
    CollectionSpec, DENSE_VECTOR, FieldKind, Payload, Point, PointId, PointPage, Query, RRF_K,
    Record, SPARSE_VECTOR, ScoredPoint, ScrollPage, SearchRequest, Selector, VectorStore,
};
use crate::error::{MemoryError, Result};
use crate::filter::{Condition, Filter};

/// Where the Qdrant server is.
#[derive(Clone, PartialEq, Eq)]
pub struct QdrantConfig {
    /// gRPC URL, e.g. `http://127.0.0.1:6334`.
    pub url: String,
    /// API key, if the server needs one.
    pub api_key: Option<String>,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl std::fmt::Debug for QdrantConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QdrantConfig")
            .field("url", &self.url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl QdrantConfig {
    /// A config for `url` with no API key and a 30 s timeout.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            api_key: None,
            timeout: Duration::from_secs(30),
        }
    }

    /// Reads `QDRANT_URL` and `QDRANT_API_KEY`; `None` when `QDRANT_URL` is
    /// not set.
    pub fn from_env() -> Option<Self> {
        let url = std::env::var("QDRANT_URL")
            .ok()
            .filter(|u| !u.trim().is_empty())?;
        let api_key = std::env::var("QDRANT_API_KEY")
            .ok()
            .filter(|k| !k.is_empty());
        Some(Self {
            api_key,
            ..Self::new(url)
        })
    }
}

/// A Qdrant server or cluster as a [`VectorStore`].
pub struct QdrantStore {
    client: Qdrant,
    url: String,
    server_version: String,
}

impl std::fmt::Debug for QdrantStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QdrantStore")
            .field("url", &self.url)
            .field("server_version", &self.server_version)
            .finish_non_exhaustive()
    }
}

impl QdrantStore {
    /// Connects and checks the server answers. A server whose version
    /// differs from the client's by more than one minor version is reported
    /// by one `tracing` warning naming both versions, once per process and
    /// server version (most calls still work across such a gap).
    pub async fn connect(config: QdrantConfig) -> Result<Self> {
        let url = config.url.clone();
        let client = Qdrant::from_url(&config.url)
            .api_key(config.api_key.clone())
            .timeout(config.timeout)
            .connect_timeout(Duration::from_secs(5))
            // qdrant-client's own check prints to stdout on every client
            // built; ours below warns once, through `tracing`.
            .skip_compatibility_check()
            .build()
            .map_err(|e| MemoryError::Qdrant {
                url: url.clone(),
                operation: "connect".into(),
                reason: e.to_string(),
            })?;
        let reply = client
            .health_check()
            .await
            .map_err(|e| MemoryError::Qdrant {
                url: url.clone(),
                operation: "health check".into(),
                reason: e.to_string(),
            })?;
        warn_once_on_version_gap(&url, &reply.version);
        Ok(Self {
            client,
            url,
            server_version: reply.version,
        })
    }

    /// The version the server reported when this store connected.
    pub fn server_version(&self) -> &str {
        &self.server_version
    }

    /// One page of a scroll in id order from `offset` (vectors only when asked) and
    /// the offset of the next page.
    async fn scroll_page(
        &self,
        collection: &str,
        f: Option<&Filter>,
        offset: Option<PointId>,
        limit: usize,
        with_vectors: bool,
    ) -> Result<(Vec<q::RetrievedPoint>, Option<PointId>)> {
        let limit = u32::try_from(limit.max(1)).unwrap_or(u32::MAX);
        let mut builder = ScrollPointsBuilder::new(collection)
            .limit(limit)
            .with_payload(true)
            .with_vectors(with_vectors);
        if let Some(f) = f {
            builder = builder.filter(filter(f));
        }
        if let Some(o) = offset {
            builder = builder.offset(id_in(&o));
        }
        let response = self
            .client
            .scroll(builder)
            .await
            .map_err(|e| self.err(format!("scroll {collection}"), e))?;
        let next = match response.next_page_offset {
            Some(id) => Some(self.convert_point(collection, Some(id))?),
            None => None,
        };
        Ok((response.result, next))
    }

    fn err(&self, operation: impl Into<String>, e: impl std::fmt::Display) -> MemoryError {
        MemoryError::Qdrant {
            url: self.url.clone(),
            operation: operation.into(),
            reason: e.to_string(),
        }
    }

    fn convert_point(&self, collection: &str, id: Option<q::PointId>) -> Result<PointId> {
        let bad = |reason: String| MemoryError::Payload {
            collection: collection.to_string(),
            id: format!("{id:?}"),
            reason,
        };
        match id.as_ref().and_then(|i| i.point_id_options.as_ref()) {
            Some(q::point_id::PointIdOptions::Uuid(s)) => {
                s.parse().map_err(|e| bad(format!("not a UUID: {e}")))
            }
            Some(q::point_id::PointIdOptions::Num(_)) => {
                Err(bad("numeric point id; this store only writes UUIDs".into()))
            }
            None => Err(bad("point without id".into())),
        }
    }
}

/// The version of `qdrant-client` this crate is built with (checked against
/// `Cargo.lock` by a test).
const CLIENT_VERSION: &str = "1.20.0";

/// `(major, minor)` of a version such as `1.18.3` or `v1.18.3-dev`.
fn major_minor(version: &str) -> Option<(u64, u64)> {
    let mut parts = version.trim().trim_start_matches('v').split('.');
    let major = parts.next()?.parse().ok()?;
    let minor: String = parts
        .next()?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    Some((major, minor.parse().ok()?))
}

/// The warning for a client and server this far apart, or `None` when they
/// are within one minor version of each other (Qdrant's compatibility rule).
fn version_gap_warning(client: &str, server: &str) -> Option<String> {
    let Some(server_mm) = major_minor(server) else {
        return Some(format!(
            "Qdrant server reports version {server:?}, which is not a version number; \
             qdrant-client is {client}: compatibility unknown"
        ));
    };
    let client_mm = major_minor(client)?;
    if server_mm.0 == client_mm.0 && server_mm.1.abs_diff(client_mm.1) <= 1 {
        return None;
    }
    Some(format!(
        "Qdrant server {server} and qdrant-client {client} differ by more than one \
         minor version; most calls still work, upgrade one of them if something fails"
    ))
}

/// True the first time this process sees `server` (a server version), false
/// after: a program that connects many times hears about a gap once.
fn first_sight_of(server: &str) -> bool {
    use std::collections::HashSet;
    use std::sync::{Mutex, OnceLock};
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    SEEN.get_or_init(|| Mutex::new(HashSet::new()))
        .lock()
        .map(|mut seen| seen.insert(server.to_string()))
        // A poisoned set only means another thread panicked mid-insert.
        .unwrap_or_else(|poisoned| poisoned.into_inner().insert(server.to_string()))
}

/// One warning per process and server version when client and server are
/// more than one minor version apart.
fn warn_once_on_version_gap(url: &str, server: &str) {
    if let Some(message) = version_gap_warning(CLIENT_VERSION, server)
        && first_sight_of(server)
    {
        tracing::warn!(%url, "{message}");
    }
}

fn payload_out(p: HashMap<String, q::Value>) -> Payload {
    serde_json::Map::from(qdrant_client::Payload::from(p))
}

fn condition(c: &Condition) -> q::Condition {
    match c {
        Condition::Keyword { key, value } => q::Condition::matches(key.clone(), value.clone()),
        Condition::AnyKeyword { key, values } => q::Condition::matches(key.clone(), values.clone()),
        Condition::Integer { key, value } => q::Condition::matches(key.clone(), *value),
        Condition::Range { key, range } => q::Condition::range(
            key.clone(),
            q::Range {
                gt: range.gt,
                gte: range.gte,
                lt: range.lt,
                lte: range.lte,
            },
        ),
        Condition::Text { key, text } => q::Condition::matches_text(key.clone(), text.clone()),
        Condition::Nested(f) => q::Condition::from(filter(f)),
    }
}

fn filter(f: &Filter) -> q::Filter {
    q::Filter {
        must: f.must.iter().map(condition).collect(),
        should: f.should.iter().map(condition).collect(),
        must_not: f.must_not.iter().map(condition).collect(),
        min_should: None,
    }
}

fn id_in(id: &PointId) -> q::PointId {
    q::PointId::from(id.to_string())
}

fn sparse_pairs(s: &super::SparseVector) -> Vec<(u32, f32)> {
    s.indices
        .iter()
        .copied()
        .zip(s.values.iter().copied())
        .collect()
}

#[async_trait]
impl VectorStore for QdrantStore {
    async fn ensure_collection(&self, spec: &CollectionSpec) -> Result<()> {
        spec.validate()?;
        let name = &spec.name;
        let exists = self
            .client
            .collection_exists(name.as_str())
            .await
            .map_err(|e| self.err(format!("check collection {name}"), e))?;
        if exists {
            let info = self
                .client
                .collection_info(name.as_str())
                .await
                .map_err(|e| self.err(format!("read collection {name}"), e))?;
            let size = info.result.as_ref().and_then(Self::dense_size);
            if size != Some(spec.dense_size as u64) {
                return Err(MemoryError::CollectionMismatch {
                    collection: name.clone(),
                    reason: format!(
                        "dense vector size is {size:?} on the server, {} requested",
                        spec.dense_size
                    ),
                });
            }
        } else {
            let mut vectors = HashMap::new();
            vectors.insert(
                DENSE_VECTOR.to_string(),
                VectorParamsBuilder::new(spec.dense_size as u64, q::Distance::Cosine).build(),
            );
            let mut builder =
                CreateCollectionBuilder::new(name.as_str()).vectors_config(q::VectorsConfig {
                    config: Some(q::vectors_config::Config::ParamsMap(q::VectorParamsMap {
                        map: vectors,
                    })),
                });
            if spec.sparse {
                let mut sparse = SparseVectorsConfigBuilder::default();
                sparse.add_named_vector_params(
                    SPARSE_VECTOR,
                    SparseVectorParamsBuilder::default().modifier(Modifier::Idf),
                );
                builder = builder.sparse_vectors_config(sparse);
            }
            if let Err(e) = self.client.create_collection(builder).await {
                // Another client may have created it in the meantime.
                let now = self
                    .client
                    .collection_exists(name.as_str())
                    .await
                    .unwrap_or(false);
                if !now {
                    return Err(self.err(format!("create collection {name}"), e));
                }
            }
        }
        for (field, kind) in &spec.indexes {
            let ty = match kind {
                FieldKind::Keyword => FieldType::Keyword,
                FieldKind::Integer => FieldType::Integer,
                FieldKind::Float => FieldType::Float,
                FieldKind::Text => FieldType::Text,
            };
            self.client
                .create_field_index(
                    CreateFieldIndexCollectionBuilder::new(name.as_str(), field.as_str(), ty)
                        .wait(true),
                )
                .await
                .map_err(|e| self.err(format!("create index on {name}.{field}"), e))?;
        }
        Ok(())
    }

    async fn drop_collection(&self, collection: &str) -> Result<()> {
        let exists = self
            .client
            .collection_exists(collection)
            .await
            .map_err(|e| self.err(format!("check collection {collection}"), e))?;
        if exists {
            self.client
                .delete_collection(collection)
                .await
                .map_err(|e| self.err(format!("drop collection {collection}"), e))?;
        }
        Ok(())
    }

    async fn upsert(&self, collection: &str, points: Vec<Point>) -> Result<()> {
        let points: Vec<q::PointStruct> = points
            .into_iter()
            .map(|p| {
                let mut vectors: HashMap<String, q::Vector> = HashMap::new();
                vectors.insert(DENSE_VECTOR.to_string(), q::Vector::from(p.dense));
                if let Some(s) = &p.sparse {
                    vectors.insert(SPARSE_VECTOR.to_string(), q::Vector::from(sparse_pairs(s)));
                }
                q::PointStruct::new(
                    id_in(&p.id),
                    vectors,
                    qdrant_client::Payload::from(p.payload),
                )
            })
            .collect();
        self.client
            .upsert_points(UpsertPointsBuilder::new(collection, points).wait(true))
            .await
            .map_err(|e| self.err(format!("upsert into {collection}"), e))?;
        Ok(())
    }

    async fn search(&self, collection: &str, request: SearchRequest) -> Result<Vec<ScoredPoint>> {
        let limit = request.limit as u64;
        let mut builder = QueryPointsBuilder::new(collection)
            .limit(limit)
            .with_payload(true);
        let f = request.filter.as_ref().map(filter);
        let params = SearchParamsBuilder::default().exact(request.exact);
        builder = match request.query {
            Query::Dense(v) => builder.query(q::Query::from(v)).using(DENSE_VECTOR),
            Query::Sparse(s) => builder
                .query(q::Query::from(sparse_pairs(&s)))
                .using(SPARSE_VECTOR),
            Query::Hybrid { dense, sparse } => {
                let wide = limit.saturating_mul(4).max(40);
                let mut dense_pf = PrefetchQueryBuilder::default()
                    .query(q::Query::from(dense))
                    .using(DENSE_VECTOR)
                    .params(params.clone())
                    .limit(wide);
                let mut sparse_pf = PrefetchQueryBuilder::default()
                    .query(q::Query::from(sparse_pairs(&sparse)))
                    .using(SPARSE_VECTOR)
                    .limit(wide);
                if let Some(f) = &f {
                    dense_pf = dense_pf.filter(f.clone());
                    sparse_pf = sparse_pf.filter(f.clone());
                }
                builder
                    .add_prefetch(dense_pf)
                    .add_prefetch(sparse_pf)
                    .query(q::Query {
                        variant: Some(q::query::Variant::Rrf(q::Rrf {
                            k: Some(RRF_K as u32),
                            weights: Vec::new(),
                        })),
                    })
            }
        };
        builder = builder.params(params);
        if let Some(f) = f {
            builder = builder.filter(f);
        }
        if let Some(t) = request.score_threshold {
            builder = builder.score_threshold(t);
        }
        let response = self
            .client
            .query(builder)
            .await
            .map_err(|e| self.err(format!("search {collection}"), e))?;
        response
            .result
            .into_iter()
            .map(|p| {
                Ok(ScoredPoint {
                    id: self.convert_point(collection, p.id)?,
                    score: p.score,
                    payload: payload_out(p.payload),
                })
            })
            .collect()
    }

    async fn retrieve(&self, collection: &str, ids: &[PointId]) -> Result<Vec<Record>> {
        let ids: Vec<q::PointId> = ids.iter().map(id_in).collect();
        let response = self
            .client
            .get_points(GetPointsBuilder::new(collection, ids).with_payload(true))
            .await
            .map_err(|e| self.err(format!("retrieve from {collection}"), e))?;
        response
            .result
            .into_iter()
            .map(|p| {
                Ok(Record {
                    id: self.convert_point(collection, p.id)?,
                    payload: payload_out(p.payload),
                })
            })
            .collect()
    }

    async fn delete(&self, collection: &str, selector: Selector) -> Result<()> {
        let builder = DeletePointsBuilder::new(collection).wait(true);
        let builder = match selector {
            Selector::Ids(ids) => builder.points(PointsIdsList {
                ids: ids.iter().map(id_in).collect(),
            }),
            Selector::Filter(f) => builder.points(filter(&f)),
        };
        self.client
            .delete_points(builder)
            .await
            .map_err(|e| self.err(format!("delete from {collection}"), e))?;
        Ok(())
    }

    async fn count(&self, collection: &str, f: Option<Filter>) -> Result<u64> {
        let mut builder = CountPointsBuilder::new(collection).exact(true);
        if let Some(f) = f {
            builder = builder.filter(filter(&f));
        }
        let response = self
            .client
            .count(builder)
            .await
            .map_err(|e| self.err(format!("count {collection}"), e))?;
        Ok(response.result.map(|r| r.count).unwrap_or(0))
    }

    async fn scroll(
        &self,
        collection: &str,
        f: Option<Filter>,
        offset: Option<PointId>,
        limit: usize,
    ) -> Result<ScrollPage> {
        let (points, next) = self
            .scroll_page(collection, f.as_ref(), offset, limit, false)
            .await?;
        let records = points
            .into_iter()
            .map(|p| {
                Ok(Record {
                    id: self.convert_point(collection, p.id)?,
                    payload: payload_out(p.payload),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(ScrollPage { records, next })
    }

    async fn scroll_points(
        &self,
        collection: &str,
        offset: Option<PointId>,
        limit: usize,
    ) -> Result<PointPage> {
        self.read_points(collection, offset, limit).await
    }

    async fn collections(&self) -> Result<Vec<String>> {
        self.collection_names().await
    }

    async fn describe(&self, collection: &str) -> Result<Option<CollectionSpec>> {
        self.describe_collection(collection).await
    }

    async fn optimize(&self, collection: &str) -> Result<()> {
        self.wait_until_indexed(collection).await
    }

    async fn flush(&self) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_within_one_minor_are_quiet() {
        assert_eq!(version_gap_warning("1.20.0", "1.20.3"), None);
        assert_eq!(version_gap_warning("1.20.0", "1.19.0"), None);
        assert_eq!(version_gap_warning("1.20.0", "v1.21.0-dev"), None);
    }

    #[test]
    fn a_wider_gap_names_both_versions() {
        let w = version_gap_warning("1.20.0", "1.18.3").expect("a warning");
        assert!(w.contains("1.18.3") && w.contains("1.20.0"), "{w}");
        let w = version_gap_warning("1.20.0", "2.0.0").expect("a warning");
        assert!(w.contains("2.0.0") && w.contains("1.20.0"), "{w}");
    }

    #[test]
    fn a_server_version_that_is_not_a_number_is_reported_not_a_panic() {
        let w = version_gap_warning("1.20.0", "banana").expect("a warning");
        assert!(w.contains("banana") && w.contains("1.20.0"), "{w}");
        assert!(version_gap_warning("1.20.0", "").is_some());
    }

    #[test]
    fn each_server_version_is_warned_about_once() {
        let version = "0.0.0-first-sight-test";
        assert!(first_sight_of(version));
        assert!(!first_sight_of(version));
        assert!(!first_sight_of(version));
        assert!(first_sight_of("0.0.1-first-sight-test"));
    }

    #[test]
    fn the_client_version_matches_the_lock_file() {
        let lock = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
        let text = std::fs::read_to_string(&lock).expect("Cargo.lock");
        let locked = text
            .split("[[package]]")
            .find(|p| p.contains("name = \"qdrant-client\""))
            .and_then(|p| p.lines().find(|l| l.starts_with("version = ")))
            .map(|l| {
                l.trim_start_matches("version = ")
                    .trim_matches('"')
                    .to_string()
            })
            .expect("qdrant-client in Cargo.lock");
        assert_eq!(locked, CLIENT_VERSION);
    }
}
