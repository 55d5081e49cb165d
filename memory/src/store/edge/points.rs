//! Reading a collection back whole: its points with their vectors, its shape and
//! the collections on disk (what export and migration need); and the WAL trim done
//! before a shard is loaded.

use qdrant_edge::{PayloadSchemaType, VectorStructInternal};

use super::*;

impl Inner {
    /// The collections on disk (folders holding a collection config), sorted.
    pub(super) fn collection_names(&self) -> Result<Vec<String>> {
        let entries = std::fs::read_dir(&self.root).map_err(|source| MemoryError::Io {
            action: "list",
            path: self.root.clone(),
            source,
        })?;
        let mut names: Vec<String> = entries
            .flatten()
            .filter(|e| e.path().join(CONFIG_FILE).is_file())
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .collect();
        names.sort();
        Ok(names)
    }
}

impl Collection {
    /// The collection's shape as the store created it.
    pub(super) fn describe(&self) -> CollectionSpec {
        let config = self.shard.config();
        let dense_size = config.vectors.get(DENSE_VECTOR).map_or(0, |v| v.size);
        let sparse = config.sparse_vectors.contains_key(SPARSE_VECTOR);
        drop(config);
        let mut indexes: Vec<(String, FieldKind)> = self
            .shard
            .info()
            .payload_schema
            .into_iter()
            .filter_map(|(field, info)| {
                let kind = match info.data_type {
                    PayloadSchemaType::Keyword => FieldKind::Keyword,
                    PayloadSchemaType::Integer => FieldKind::Integer,
                    PayloadSchemaType::Float => FieldKind::Float,
                    PayloadSchemaType::Text => FieldKind::Text,
                    _ => return None,
                };
                Some((field.to_string(), kind))
            })
            .collect();
        indexes.sort_by(|a, b| a.0.cmp(&b.0));
        CollectionSpec {
            name: self.name.clone(),
            dense_size,
            sparse,
            indexes,
        }
    }

    /// A page of whole points in id order from `offset`.
    pub(super) fn scroll_points(&self, offset: Option<PointId>, limit: usize) -> Result<PointPage> {
        let req = ScrollRequest {
            offset: offset.map(qdrant_edge::PointId::Uuid),
            limit: Some(limit.max(1)),
            filter: None,
            with_payload: Some(WithPayloadInterface::Bool(true)),
            with_vector: WithVector::Bool(true),
            order_by: None,
        };
        let (records, next) = self.shard.scroll(req).map_err(|e| self.err(e))?;
        let points = records
            .into_iter()
            .map(|r| {
                let id = point_id(&self.name, r.id)?;
                let (dense, sparse) = self.vectors(id, r.vector)?;
                Ok(Point {
                    id,
                    dense,
                    sparse,
                    payload: payload(r.payload),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let next = next.map(|id| point_id(&self.name, id)).transpose()?;
        Ok(PointPage { points, next })
    }

    /// The dense and sparse vectors of a stored point.
    fn vectors(
        &self,
        id: PointId,
        stored: Option<VectorStructInternal>,
    ) -> Result<(Vec<f32>, Option<SparseVector>)> {
        let bad = |reason: &str| MemoryError::Payload {
            collection: self.name.clone(),
            id: id.to_string(),
            reason: reason.to_string(),
        };
        let Some(VectorStructInternal::Named(mut named)) = stored else {
            return Err(bad("the point has no named vectors"));
        };
        let dense = match named.remove(DENSE_VECTOR) {
            Some(VectorInternal::Dense(v)) => v,
            _ => return Err(bad("the point has no dense vector")),
        };
        let sparse = match named.remove(SPARSE_VECTOR) {
            Some(VectorInternal::Sparse(s)) => Some(SparseVector {
                indices: s.indices,
                values: s.values,
            }),
            Some(_) => return Err(bad("the point's sparse vector is not sparse")),
            None => None,
        };
        Ok((dense, sparse))
    }
}

/// Deletes all but the newest closed segment of a shard's WAL, as the WAL's
/// own prefix truncation would. Qdrant Edge 0.7.2 never replays nor trims its
/// WAL (durability comes from the recovery log), so older segments are dead
/// weight; the newest one stays so that operation numbers keep increasing.
/// Runs only while the shard is closed.
pub(super) fn trim_edge_wal(wal_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(wal_dir) else {
        return;
    };
    let mut closed: Vec<(u64, PathBuf)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name();
            let start = name.to_str()?.strip_prefix("closed-")?.parse().ok()?;
            Some((start, e.path()))
        })
        .collect();
    closed.sort();
    closed.pop();
    for (_, path) in closed {
        if let Err(e) = std::fs::remove_file(&path) {
            tracing::warn!(path = %path.display(), error = %e, "cannot remove an old WAL segment");
        }
    }
}
