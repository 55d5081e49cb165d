//! Moving collections between stores, the way up from the embedded store to a
//! server: [`copy_collection`] (store to store), [`export_collection`] and
//! [`import_collections`] (through a JSON Lines file). Vectors and payloads are
//! copied as they are stored, so nothing is re-embedded, and the target gets
//! the same shape (dense size, sparse vector, payload indexes).
//!
//! The export format, one JSON object per line:
//!
//! ```text
//! {"format":"agentry-memory-export","version":1}
//! {"collection":{"name":"documents","dense_size":384,"sparse":true,"indexes":[["source","keyword"]]}}
//! {"id":"6f1c…","dense":[0.01,…],"sparse":{"indices":[17,…],"values":[1.0,…]},"payload":{…}}
//! …more points, then the next "collection" line and its points
//! ```

use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};

use crate::error::{MemoryError, Result};
use crate::store::{CollectionSpec, FieldKind, Payload, Point, PointId, SparseVector, VectorStore};

/// The first line's `format` value.
pub const EXPORT_FORMAT: &str = "agentry-memory-export";
/// The version of the format this crate writes and reads.
pub const EXPORT_VERSION: u32 = 1;
/// The longest line an import reads (a point of a 65,536-dimension vector fits).
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;
/// Points per write while copying or importing.
const BATCH: usize = 256;

/// What one collection's transfer moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferReport {
    /// The collection.
    pub collection: String,
    /// Points written.
    pub points: u64,
}

#[derive(Serialize, Deserialize)]
struct Header {
    format: String,
    version: u32,
}

#[derive(Serialize, Deserialize)]
struct ShapeLine {
    collection: Shape,
}

#[derive(Serialize, Deserialize)]
struct Shape {
    name: String,
    dense_size: usize,
    sparse: bool,
    #[serde(default)]
    indexes: Vec<(String, String)>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PointLine {
    id: PointId,
    dense: Vec<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sparse: Option<SparseLine>,
    #[serde(default)]
    payload: Payload,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SparseLine {
    indices: Vec<u32>,
    values: Vec<f32>,
}

fn kind_name(kind: FieldKind) -> &'static str {
    match kind {
        FieldKind::Keyword => "keyword",
        FieldKind::Integer => "integer",
        FieldKind::Float => "float",
        FieldKind::Text => "text",
    }
}

fn kind_from(name: &str) -> Option<FieldKind> {
    Some(match name {
        "keyword" => FieldKind::Keyword,
        "integer" => FieldKind::Integer,
        "float" => FieldKind::Float,
        "text" => FieldKind::Text,
        _ => return None,
    })
}

/// The collection's shape, or an error naming it when `store` lacks it.
async fn shape_of(store: &dyn VectorStore, collection: &str) -> Result<CollectionSpec> {
    store
        .describe(collection)
        .await?
        .ok_or_else(|| MemoryError::NoSuchCollection(collection.to_string()))
}

/// Copies `collection` from one store to another: creates it on `to` with the
/// same shape (an existing one must match), then writes every point, vectors
/// and payload as stored. Points already on `to` with other ids stay.
///
/// # Errors
/// The collection is missing on `from`, has another shape on `to`, or a read
/// or write fails (the error names the store and the operation).
pub async fn copy_collection(
    from: &dyn VectorStore,
    to: &dyn VectorStore,
    collection: &str,
) -> Result<TransferReport> {
    let spec = shape_of(from, collection).await?;
    to.ensure_collection(&spec).await?;
    let mut offset = None;
    let mut points = 0u64;
    loop {
        let page = from.scroll_points(collection, offset, BATCH).await?;
        points += page.points.len() as u64;
        if !page.points.is_empty() {
            to.upsert(collection, page.points).await?;
        }
        match page.next {
            Some(next) => offset = Some(next),
            None => break,
        }
    }
    to.flush().await?;
    Ok(TransferReport {
        collection: collection.to_string(),
        points,
    })
}

fn write_line(out: &mut dyn Write, value: &impl Serialize) -> Result<()> {
    let io = |source| MemoryError::Io {
        action: "write",
        path: "the export".into(),
        source,
    };
    serde_json::to_writer(&mut *out, value).map_err(|e| io(e.into()))?;
    out.write_all(b"\n").map_err(io)
}

/// Writes the export format's first line; call once before
/// [`export_collection`].
///
/// # Errors
/// The writer fails.
pub fn write_export_header(out: &mut dyn Write) -> Result<()> {
    write_line(
        out,
        &Header {
            format: EXPORT_FORMAT.into(),
            version: EXPORT_VERSION,
        },
    )
}

/// Writes `collection` (its shape line, then one line per point) to `out`.
///
/// # Errors
/// The collection is missing, a read fails, or the writer fails.
pub async fn export_collection(
    from: &dyn VectorStore,
    collection: &str,
    out: &mut dyn Write,
) -> Result<TransferReport> {
    let spec = shape_of(from, collection).await?;
    let shape = Shape {
        name: spec.name.clone(),
        dense_size: spec.dense_size,
        sparse: spec.sparse,
        indexes: spec
            .indexes
            .iter()
            .map(|(field, kind)| (field.clone(), kind_name(*kind).to_string()))
            .collect(),
    };
    write_line(out, &ShapeLine { collection: shape })?;
    let mut offset = None;
    let mut points = 0u64;
    loop {
        let page = from.scroll_points(collection, offset, BATCH).await?;
        for p in page.points {
            points += 1;
            let line = PointLine {
                id: p.id,
                dense: p.dense,
                sparse: p.sparse.map(|s| SparseLine {
                    indices: s.indices,
                    values: s.values,
                }),
                payload: p.payload,
            };
            write_line(out, &line)?;
        }
        match page.next {
            Some(next) => offset = Some(next),
            None => break,
        }
    }
    Ok(TransferReport {
        collection: collection.to_string(),
        points,
    })
}

/// Reads one line of at most [`MAX_LINE_BYTES`]; `None` at the end.
fn read_line(input: &mut dyn BufRead, source: &str, number: usize) -> Result<Option<String>> {
    let mut bytes = Vec::new();
    let limit = (MAX_LINE_BYTES + 1) as u64;
    let n = std::io::Read::take(&mut *input, limit)
        .read_until(b'\n', &mut bytes)
        .map_err(|e| MemoryError::Io {
            action: "read",
            path: source.into(),
            source: e,
        })?;
    if n == 0 {
        return Ok(None);
    }
    if bytes.len() > MAX_LINE_BYTES {
        return Err(bad_line(
            source,
            number,
            format!("longer than {MAX_LINE_BYTES} bytes"),
        ));
    }
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| bad_line(source, number, "not UTF-8".into()))
}

fn bad_line(source: &str, number: usize, reason: String) -> MemoryError {
    MemoryError::Invalid {
        what: "memory export",
        reason: format!("{source}, line {number}: {reason}"),
    }
}

/// The collection being imported and the points waiting to be written.
struct Pending {
    spec: CollectionSpec,
    points: Vec<Point>,
    written: u64,
}

impl Pending {
    async fn flush(&mut self, to: &dyn VectorStore) -> Result<()> {
        if !self.points.is_empty() {
            self.written += self.points.len() as u64;
            to.upsert(&self.spec.name, std::mem::take(&mut self.points))
                .await?;
        }
        Ok(())
    }
}

/// Reads an export (see the module docs) into `to`: each collection is created
/// with its shape (an existing one must match) and its points written as they
/// are. `source` names the input in errors. Every line is checked (a point's
/// dense size, its sparse vector's lengths, the collection it belongs to); the
/// first bad line stops the import with an error naming the line, after the
/// points read before it are written.
///
/// # Errors
/// A malformed line, a collection of another shape on `to`, or a failed write.
pub async fn import_collections(
    to: &dyn VectorStore,
    input: &mut dyn BufRead,
    source: &str,
) -> Result<Vec<TransferReport>> {
    let first =
        read_line(input, source, 1)?.ok_or_else(|| bad_line(source, 1, "empty file".into()))?;
    let header: Header = serde_json::from_str(&first).map_err(|_| {
        bad_line(
            source,
            1,
            format!("not an agentry memory export (the first line must be {{\"format\":\"{EXPORT_FORMAT}\",...}})"),
        )
    })?;
    if header.format != EXPORT_FORMAT || header.version != EXPORT_VERSION {
        return Err(bad_line(
            source,
            1,
            format!(
                "format {:?} version {}; this build reads {EXPORT_FORMAT:?} version {EXPORT_VERSION}",
                header.format, header.version
            ),
        ));
    }
    let mut reports = Vec::new();
    let mut current: Option<Pending> = None;
    let outcome = read_points(to, input, source, &mut current, &mut reports).await;
    // What was read before a bad line is written too: the error names the line,
    // and importing the fixed file again rewrites the same ids.
    if let Some(mut done) = current.take() {
        done.flush(to).await?;
        reports.push(report(&done));
    }
    outcome?;
    to.flush().await?;
    Ok(reports)
}

/// The lines after the header: collection lines and their points.
async fn read_points(
    to: &dyn VectorStore,
    input: &mut dyn BufRead,
    source: &str,
    current: &mut Option<Pending>,
    reports: &mut Vec<TransferReport>,
) -> Result<()> {
    let mut number = 1;
    while let Some(line) = read_line(input, source, number + 1)? {
        number += 1;
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value = serde_json::from_str(&line)
            .map_err(|e| bad_line(source, number, format!("not JSON: {e}")))?;
        if value.get("collection").is_some() {
            if let Some(mut done) = current.take() {
                done.flush(to).await?;
                reports.push(report(&done));
            }
            let shape: ShapeLine = serde_json::from_value(value)
                .map_err(|e| bad_line(source, number, format!("collection line: {e}")))?;
            let spec =
                spec_from(shape.collection).map_err(|reason| bad_line(source, number, reason))?;
            to.ensure_collection(&spec).await?;
            *current = Some(Pending {
                spec,
                points: Vec::new(),
                written: 0,
            });
            continue;
        }
        let Some(pending) = current.as_mut() else {
            return Err(bad_line(
                source,
                number,
                "a point before any collection line".into(),
            ));
        };
        let point: PointLine = serde_json::from_value(value)
            .map_err(|e| bad_line(source, number, format!("point: {e}")))?;
        let point = checked_point(point, &pending.spec)
            .map_err(|reason| bad_line(source, number, reason))?;
        pending.points.push(point);
        if pending.points.len() >= BATCH {
            pending.flush(to).await?;
        }
    }
    Ok(())
}

fn report(p: &Pending) -> TransferReport {
    TransferReport {
        collection: p.spec.name.clone(),
        points: p.written,
    }
}

fn spec_from(shape: Shape) -> std::result::Result<CollectionSpec, String> {
    let mut spec = CollectionSpec::new(shape.name, shape.dense_size);
    spec.sparse = shape.sparse;
    for (field, kind) in shape.indexes {
        let kind = kind_from(&kind).ok_or_else(|| {
            format!("index on {field:?}: unknown kind {kind:?} (keyword, integer, float, text)")
        })?;
        spec.indexes.push((field, kind));
    }
    spec.validate().map_err(|e| e.to_string())?;
    Ok(spec)
}

fn checked_point(p: PointLine, spec: &CollectionSpec) -> std::result::Result<Point, String> {
    if p.dense.len() != spec.dense_size {
        return Err(format!(
            "point {}: dense vector of {} values, collection {} has {}",
            p.id,
            p.dense.len(),
            spec.name,
            spec.dense_size
        ));
    }
    if p.dense.iter().any(|v| !v.is_finite()) {
        return Err(format!(
            "point {}: dense vector has a non-finite value",
            p.id
        ));
    }
    let sparse = match p.sparse {
        Some(_) if !spec.sparse => {
            return Err(format!(
                "point {}: a sparse vector, but collection {} has none",
                p.id, spec.name
            ));
        }
        Some(s) if s.indices.len() != s.values.len() => {
            return Err(format!(
                "point {}: sparse vector with {} indices and {} values",
                p.id,
                s.indices.len(),
                s.values.len()
            ));
        }
        Some(s) => Some(SparseVector {
            indices: s.indices,
            values: s.values,
        }),
        None => None,
    };
    Ok(Point {
        id: p.id,
        dense: p.dense,
        sparse,
        payload: p.payload,
    })
}
