//! Reading a server collection back whole: its points with their vectors, its
//! shape and the server's collections (what export and migration need); and
//! waiting for the server to finish indexing.

use std::collections::HashMap;
use std::time::Duration;

use qdrant_client::qdrant as q;

use super::{QdrantStore, payload_out};
use crate::error::{MemoryError, Result};
use crate::store::{
    CollectionSpec, DENSE_VECTOR, FieldKind, Point, PointId, PointPage, SPARSE_VECTOR, SparseVector,
};

/// How long [`QdrantStore::wait_until_indexed`] waits for the server's optimizers.
const INDEX_WAIT: Duration = Duration::from_secs(600);

impl QdrantStore {
    /// Waits until the server reports the collection green: its optimizers
    /// (HNSW indexing among them) have nothing left to do.
    pub(super) async fn wait_until_indexed(&self, collection: &str) -> Result<()> {
        let start = std::time::Instant::now();
        loop {
            let info = self
                .client
                .collection_info(collection)
                .await
                .map_err(|e| self.err(format!("read collection {collection}"), e))?;
            let status = info.result.map(|r| r.status);
            if status == Some(q::CollectionStatus::Green as i32) {
                return Ok(());
            }
            if start.elapsed() > INDEX_WAIT {
                return Err(self.err(
                    format!("optimize {collection}"),
                    format!(
                        "the server was still indexing after {} s (status {status:?})",
                        INDEX_WAIT.as_secs()
                    ),
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The server's collection names, sorted.
    pub(super) async fn collection_names(&self) -> Result<Vec<String>> {
        let response = self
            .client
            .list_collections()
            .await
            .map_err(|e| self.err("list collections", e))?;
        let mut names: Vec<String> = response.collections.into_iter().map(|c| c.name).collect();
        names.sort();
        Ok(names)
    }

    /// The size of the collection's dense vector as the server has it.
    pub(super) fn dense_size(info: &q::CollectionInfo) -> Option<u64> {
        let config = info
            .config
            .as_ref()?
            .params
            .as_ref()?
            .vectors_config
            .as_ref()?;
        match config.config.as_ref()? {
            q::vectors_config::Config::ParamsMap(m) => m.map.get(DENSE_VECTOR).map(|p| p.size),
            q::vectors_config::Config::Params(_) => None,
        }
    }

    /// The collection's shape, `None` when the server has no such collection.
    pub(super) async fn describe_collection(&self, name: &str) -> Result<Option<CollectionSpec>> {
        let exists = self
            .client
            .collection_exists(name)
            .await
            .map_err(|e| self.err(format!("check collection {name}"), e))?;
        if !exists {
            return Ok(None);
        }
        let info = self
            .client
            .collection_info(name)
            .await
            .map_err(|e| self.err(format!("read collection {name}"), e))?
            .result
            .ok_or_else(|| self.err(format!("read collection {name}"), "no collection info"))?;
        let dense_size =
            Self::dense_size(&info).ok_or_else(|| MemoryError::CollectionMismatch {
                collection: name.to_string(),
                reason: format!("it has no dense vector named {DENSE_VECTOR:?}"),
            })?;
        let sparse = info
            .config
            .as_ref()
            .and_then(|c| c.params.as_ref())
            .and_then(|p| p.sparse_vectors_config.as_ref())
            .is_some_and(|s| s.map.contains_key(SPARSE_VECTOR));
        let mut indexes: Vec<(String, FieldKind)> = info
            .payload_schema
            .iter()
            .filter_map(|(field, schema)| {
                let kind = match q::PayloadSchemaType::try_from(schema.data_type).ok()? {
                    q::PayloadSchemaType::Keyword => FieldKind::Keyword,
                    q::PayloadSchemaType::Integer => FieldKind::Integer,
                    q::PayloadSchemaType::Float => FieldKind::Float,
                    q::PayloadSchemaType::Text => FieldKind::Text,
                    _ => return None,
                };
                Some((field.clone(), kind))
            })
            .collect();
        indexes.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Some(CollectionSpec {
            name: name.to_string(),
            dense_size: usize::try_from(dense_size).unwrap_or(usize::MAX),
            sparse,
            indexes,
        }))
    }

    /// A page of whole points in id order from `offset`.
    pub(super) async fn read_points(
        &self,
        collection: &str,
        offset: Option<PointId>,
        limit: usize,
    ) -> Result<PointPage> {
        let (points, next) = self
            .scroll_page(collection, None, offset, limit, true)
            .await?;
        let points = points
            .into_iter()
            .map(|p| {
                let id = self.convert_point(collection, p.id)?;
                let (dense, sparse) = vectors(collection, id, p.vectors)?;
                Ok(Point {
                    id,
                    dense,
                    sparse,
                    payload: payload_out(p.payload),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(PointPage { points, next })
    }
}

/// The dense and sparse vectors of a point the server returned.
fn vectors(
    collection: &str,
    id: PointId,
    stored: Option<q::VectorsOutput>,
) -> Result<(Vec<f32>, Option<SparseVector>)> {
    let bad = |reason: &str| MemoryError::Payload {
        collection: collection.to_string(),
        id: id.to_string(),
        reason: reason.to_string(),
    };
    let mut named: HashMap<String, q::VectorOutput> = match stored.and_then(|v| v.vectors_options) {
        Some(q::vectors_output::VectorsOptions::Vectors(n)) => n.vectors,
        _ => return Err(bad("the point has no named vectors")),
    };
    let dense = match named.remove(DENSE_VECTOR).map(q::VectorOutput::into_vector) {
        Some(q::vector_output::Vector::Dense(d)) => d.data,
        _ => return Err(bad("the point has no dense vector")),
    };
    let sparse = match named
        .remove(SPARSE_VECTOR)
        .map(q::VectorOutput::into_vector)
    {
        Some(q::vector_output::Vector::Sparse(s)) => Some(SparseVector {
            indices: s.indices,
            values: s.values,
        }),
        Some(_) => return Err(bad("the point's sparse vector is not sparse")),
        None => None,
    };
    Ok((dense, sparse))
}
