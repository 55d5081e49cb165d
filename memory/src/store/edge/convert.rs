//! Conversions between the store's own types and Qdrant Edge's, and the
//! engine settings every collection gets (int8 quantization, search params).

use super::*;

fn sparse_vector(collection: &str, s: &SparseVector) -> Result<Vector> {
    let mut pairs: Vec<(u32, f32)> = s
        .indices
        .iter()
        .copied()
        .zip(s.values.iter().copied())
        .collect();
    if pairs.len() != s.indices.len() || s.indices.len() != s.values.len() {
        return Err(MemoryError::Invalid {
            what: "sparse vector",
            reason: format!(
                "collection {collection}: {} indices but {} values",
                s.indices.len(),
                s.values.len()
            ),
        });
    }
    pairs.sort_by_key(|(i, _)| *i);
    pairs.dedup_by_key(|(i, _)| *i);
    Vector::try_from(pairs).map_err(|e| MemoryError::Invalid {
        what: "sparse vector",
        reason: format!("collection {collection}: {e}"),
    })
}

pub(super) fn to_edge_point(collection: &str, p: Point) -> Result<PointStruct> {
    let mut named: Vec<(String, Vector)> =
        vec![(DENSE_VECTOR.to_string(), Vector::new_dense(p.dense))];
    if let Some(s) = &p.sparse {
        named.push((SPARSE_VECTOR.to_string(), sparse_vector(collection, s)?));
    }
    Ok(PointStruct::new(
        qdrant_edge::PointId::Uuid(p.id),
        Vectors::new_named(named),
        serde_json::Value::Object(p.payload),
    ))
}

pub(super) fn point_id(collection: &str, id: qdrant_edge::PointId) -> Result<PointId> {
    match id {
        qdrant_edge::PointId::Uuid(u) => Ok(u),
        qdrant_edge::PointId::NumId(n) => Err(MemoryError::Payload {
            collection: collection.to_string(),
            id: n.to_string(),
            reason: "numeric point id; this store only writes UUIDs".into(),
        }),
    }
}

pub(super) fn payload(p: Option<qdrant_edge::Payload>) -> Payload {
    p.map(|p| p.0.into_iter().collect()).unwrap_or_default()
}

/// Int8 scalar quantization kept in RAM; the 0.99 quantile clips outliers
/// so the 256 levels cover where the values are.
pub(super) fn int8_quantization() -> QuantizationConfig {
    QuantizationConfig::from(ScalarQuantizationConfig {
        r#type: ScalarType::Int8,
        quantile: Some(0.99),
        always_ram: Some(true),
    })
}

/// How a search walks the index: exact (every vector compared) or HNSW with
/// the store's beam width, rescoring quantized candidates with the original
/// vectors.
pub(super) fn search_params(options: &EdgeStoreOptions, exact: bool) -> SearchParams {
    SearchParams {
        hnsw_ef: Some(options.search_ef.max(1)),
        exact,
        quantization: Some(QuantizationSearchParams {
            ignore: exact,
            rescore: Some(true),
            oversampling: Some(QUANTIZED_OVERSAMPLING),
        }),
        ..SearchParams::default()
    }
}

pub(super) fn dense_query(v: Vec<f32>) -> ScoringQuery {
    ScoringQuery::Vector(QueryEnum::Nearest(NamedQuery::new(
        VectorInternal::Dense(v),
        DENSE_VECTOR,
    )))
}

pub(super) fn sparse_query(collection: &str, s: &SparseVector) -> Result<ScoringQuery> {
    let v = sparse_vector(collection, s)?;
    Ok(ScoringQuery::Vector(QueryEnum::Nearest(NamedQuery::new(
        v.0,
        SPARSE_VECTOR,
    ))))
}
