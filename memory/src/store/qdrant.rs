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

use super::{
    CollectionSpec, DENSE_VECTOR, FieldKind, Payload, Point, PointId, Query, RRF_K, Record,
    SPARSE_VECTOR, ScoredPoint, ScrollPage, SearchRequest, Selector, VectorStore,
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
}

impl std::fmt::Debug for QdrantStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QdrantStore")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl QdrantStore {
    /// Connects and checks the server answers. A server whose version
    /// differs from the client's by more than one minor version is logged as
    /// a warning (it usually works).
    pub async fn connect(config: QdrantConfig) -> Result<Self> {
        let url = config.url.clone();
        let client = Qdrant::from_url(&config.url)
            .api_key(config.api_key.clone())
            .timeout(config.timeout)
            .connect_timeout(Duration::from_secs(5))
            .skip_compatibility_check()
            .build()
            .map_err(|e| MemoryError::Qdrant {
                url: url.clone(),
                operation: "connect".into(),
                reason: e.to_string(),
            })?;
        let store = Self { client, url };
        let reply = store
            .client
            .health_check()
            .await
            .map_err(|e| store.err("health check", e))?;
        warn_on_version_gap(&store.url, &reply.version);
        Ok(store)
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

fn warn_on_version_gap(url: &str, server: &str) {
    let minor = |v: &str| -> Option<(u64, u64)> {
        let mut parts = v.trim_start_matches('v').split('.');
        Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
    };
    let client = (1u64, 20u64);
    if let Some((major, min)) = minor(server)
        && (major != client.0 || min.abs_diff(client.1) > 1)
    {
        tracing::warn!(
            %url,
            server_version = server,
            client_version = "1.20",
            "Qdrant server and client differ by more than one minor version; \
             most calls still work, upgrade one of them if something fails"
        );
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
            let size = info
                .result
                .and_then(|r| r.config)
                .and_then(|c| c.params)
                .and_then(|p| p.vectors_config)
                .and_then(|v| v.config)
                .and_then(|c| match c {
                    q::vectors_config::Config::ParamsMap(m) => {
                        m.map.get(DENSE_VECTOR).map(|p| p.size)
                    }
                    q::vectors_config::Config::Params(_) => None,
                });
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
                let wide = (limit * 4).max(40);
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
        let limit = u32::try_from(limit.max(1)).unwrap_or(u32::MAX);
        let mut builder = ScrollPointsBuilder::new(collection)
            .limit(limit)
            .with_payload(true);
        if let Some(f) = f {
            builder = builder.filter(filter(&f));
        }
        if let Some(o) = offset {
            builder = builder.offset(id_in(&o));
        }
        let response = self
            .client
            .scroll(builder)
            .await
            .map_err(|e| self.err(format!("scroll {collection}"), e))?;
        let records = response
            .result
            .into_iter()
            .map(|p| {
                Ok(Record {
                    id: self.convert_point(collection, p.id)?,
                    payload: payload_out(p.payload),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let next = match response.next_page_offset {
            Some(id) => Some(self.convert_point(collection, Some(id))?),
            None => None,
        };
        Ok(ScrollPage { records, next })
    }

    async fn optimize(&self, _collection: &str) -> Result<()> {
        Ok(())
    }

    async fn flush(&self) -> Result<()> {
        Ok(())
    }
}
