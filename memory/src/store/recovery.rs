//! The embedded store's recovery log.
//!
//! Qdrant Edge 0.7.2 writes a WAL but never replays it on load (and never
//! trims it), so points written since the last flush would be lost by a
//! crash. Each collection therefore keeps its own log of the operations
//! applied since its last flush: an operation is appended (one `write`
//! call, not fsynced: it survives a killed process, not a power cut) before
//! it is acknowledged; `flush` persists the shard and empties the log; a
//! load replays whatever the log holds. Replaying an operation that is
//! already in the segments is harmless: the log holds upserts and deletes
//! in their original order.
//!
//! Frame: `len: u32 LE | sha256(body)[..8] | body`. A torn or corrupt tail
//! (a write cut short by the crash, never acknowledged) ends the log.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{FieldKind, Payload, Point, PointId, SparseVector};
use crate::error::{MemoryError, Result};

/// One logged operation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum LogOp {
    Upsert(Vec<Point>),
    DeleteIds(Vec<PointId>),
    /// Filter in Qdrant JSON form.
    DeleteFilter(serde_json::Value),
    CreateIndex {
        field: String,
        kind: FieldKind,
    },
}

pub(crate) struct RecoveryLog {
    path: PathBuf,
    file: File,
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> MemoryError + 'a {
    move |source| MemoryError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

impl RecoveryLog {
    /// Opens the log at `path`, returning the operations it holds.
    pub(crate) fn open(path: PathBuf) -> Result<(Self, Vec<LogOp>)> {
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .append(true)
            .open(&path)
            .map_err(io("open recovery log", &path))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(io("read recovery log", &path))?;
        let (ops, valid_len) = decode_frames(&bytes);
        if valid_len < bytes.len() {
            tracing::warn!(path = %path.display(), dropped = bytes.len() - valid_len, "recovery log ends in a torn record (a write cut short by a crash); dropped it");
            file.set_len(valid_len as u64)
                .map_err(io("truncate recovery log", &path))?;
        }
        Ok((Self { path, file }, ops))
    }

    /// Appends one encoded operation with a single write.
    pub(crate) fn append(&mut self, body: &[u8]) -> Result<()> {
        let len = u32::try_from(body.len()).map_err(|_| MemoryError::Invalid {
            what: "operation",
            reason: format!("{} bytes is too large for one write", body.len()),
        })?;
        let mut frame = Vec::with_capacity(body.len() + 12);
        frame.extend_from_slice(&len.to_le_bytes());
        frame.extend_from_slice(&Sha256::digest(body)[..8]);
        frame.extend_from_slice(body);
        self.file
            .write_all(&frame)
            .map_err(io("append to recovery log", &self.path))
    }

    /// Empties the log (after the shard was flushed).
    pub(crate) fn clear(&mut self) -> Result<()> {
        self.file
            .set_len(0)
            .map_err(io("truncate recovery log", &self.path))
    }
}

fn decode_frames(bytes: &[u8]) -> (Vec<LogOp>, usize) {
    let mut ops = Vec::new();
    let mut at = 0usize;
    while bytes.len() - at >= 12 {
        let len =
            u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize;
        let Some(body) = bytes.get(at + 12..at + 12 + len) else {
            break;
        };
        if Sha256::digest(body)[..8] != bytes[at + 4..at + 12] {
            break;
        }
        match decode(body) {
            Some(op) => ops.push(op),
            None => break,
        }
        at += 12 + len;
    }
    (ops, at)
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_len(out: &mut Vec<u8>, n: usize) {
    put_u32(out, u32::try_from(n).unwrap_or(u32::MAX));
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_len(out, b.len());
    out.extend_from_slice(b);
}

/// Encodes an operation (binary vectors, JSON payloads).
pub(crate) fn encode(op: &LogOp) -> Vec<u8> {
    let mut out = Vec::new();
    match op {
        LogOp::Upsert(points) => {
            out.push(1);
            put_len(&mut out, points.len());
            for p in points {
                out.extend_from_slice(p.id.as_bytes());
                put_len(&mut out, p.dense.len());
                p.dense
                    .iter()
                    .for_each(|x| out.extend_from_slice(&x.to_le_bytes()));
                match &p.sparse {
                    None => put_u32(&mut out, u32::MAX),
                    Some(s) => {
                        put_len(&mut out, s.indices.len().min(s.values.len()));
                        for (i, v) in s.indices.iter().zip(&s.values) {
                            out.extend_from_slice(&i.to_le_bytes());
                            out.extend_from_slice(&v.to_le_bytes());
                        }
                    }
                }
                let payload = serde_json::to_vec(&p.payload).unwrap_or_else(|_| b"{}".to_vec());
                put_bytes(&mut out, &payload);
            }
        }
        LogOp::DeleteIds(ids) => {
            out.push(2);
            put_len(&mut out, ids.len());
            ids.iter()
                .for_each(|id| out.extend_from_slice(id.as_bytes()));
        }
        LogOp::DeleteFilter(filter) => {
            out.push(3);
            put_bytes(&mut out, filter.to_string().as_bytes());
        }
        LogOp::CreateIndex { field, kind } => {
            out.push(4);
            out.push(match kind {
                FieldKind::Keyword => 0,
                FieldKind::Integer => 1,
                FieldKind::Float => 2,
                FieldKind::Text => 3,
            });
            put_bytes(&mut out, field.as_bytes());
        }
    }
    out
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.bytes.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn f32(&mut self) -> Option<f32> {
        self.take(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn id(&mut self) -> Option<PointId> {
        self.take(16).and_then(|b| uuid::Uuid::from_slice(b).ok())
    }
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
}

fn decode(body: &[u8]) -> Option<LogOp> {
    let mut r = Reader { bytes: body, at: 0 };
    let op = match r.u8()? {
        1 => {
            let n = r.u32()? as usize;
            let mut points = Vec::with_capacity(n.min(4096));
            for _ in 0..n {
                let id = r.id()?;
                let dim = r.u32()? as usize;
                let dense = (0..dim).map(|_| r.f32()).collect::<Option<Vec<_>>>()?;
                let sparse = match r.u32()? {
                    u32::MAX => None,
                    k => {
                        let mut s = SparseVector::default();
                        for _ in 0..k {
                            s.indices.push(r.u32()?);
                            s.values.push(r.f32()?);
                        }
                        Some(s)
                    }
                };
                let payload: Payload = serde_json::from_slice(r.bytes()?).ok()?;
                points.push(Point {
                    id,
                    dense,
                    sparse,
                    payload,
                });
            }
            LogOp::Upsert(points)
        }
        2 => {
            let n = r.u32()? as usize;
            LogOp::DeleteIds((0..n).map(|_| r.id()).collect::<Option<Vec<_>>>()?)
        }
        3 => LogOp::DeleteFilter(serde_json::from_slice(r.bytes()?).ok()?),
        4 => {
            let kind = match r.u8()? {
                0 => FieldKind::Keyword,
                1 => FieldKind::Integer,
                2 => FieldKind::Float,
                3 => FieldKind::Text,
                _ => return None,
            };
            let field = String::from_utf8(r.bytes()?.to_vec()).ok()?;
            LogOp::CreateIndex { field, kind }
        }
        _ => return None,
    };
    (r.at == body.len()).then_some(op)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Vec<LogOp> {
        let mut payload = Payload::new();
        payload.insert("text".into(), json!("hello"));
        vec![
            LogOp::Upsert(vec![
                Point {
                    id: uuid::Uuid::from_u128(7),
                    dense: vec![0.5, -1.0],
                    sparse: None,
                    payload: payload.clone(),
                },
                Point {
                    id: uuid::Uuid::from_u128(8),
                    dense: vec![1.0, 2.0],
                    sparse: Some(SparseVector {
                        indices: vec![3, 9],
                        values: vec![0.25, 4.0],
                    }),
                    payload,
                },
            ]),
            LogOp::DeleteIds(vec![uuid::Uuid::from_u128(7)]),
            LogOp::DeleteFilter(json!({"must": [{"key": "kind", "match": {"value": "x"}}]})),
            LogOp::CreateIndex {
                field: "kind".into(),
                kind: FieldKind::Keyword,
            },
        ]
    }

    #[test]
    fn operations_round_trip_and_a_torn_tail_is_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("log");
        {
            let (mut log, ops) = RecoveryLog::open(path.clone()).expect("open");
            assert!(ops.is_empty());
            for op in sample() {
                log.append(&encode(&op)).expect("append");
            }
        }
        // Simulate a write cut short: half a frame at the end.
        let extra = encode(&LogOp::DeleteIds(vec![uuid::Uuid::from_u128(1)]));
        let mut bytes = std::fs::read(&path).expect("read");
        let full = bytes.len();
        bytes.extend_from_slice(&(extra.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&[0u8; 5]);
        std::fs::write(&path, &bytes).expect("write");
        let (mut log, ops) = RecoveryLog::open(path.clone()).expect("reopen");
        assert_eq!(ops, sample());
        assert_eq!(
            std::fs::metadata(&path).expect("meta").len() as usize,
            full,
            "torn tail removed"
        );
        log.clear().expect("clear");
        let (_log, ops) = RecoveryLog::open(path).expect("reopen empty");
        assert!(ops.is_empty());
    }

    #[test]
    fn a_corrupt_record_ends_the_log() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("log");
        {
            let (mut log, _) = RecoveryLog::open(path.clone()).expect("open");
            for op in sample() {
                log.append(&encode(&op)).expect("append");
            }
        }
        let mut bytes = std::fs::read(&path).expect("read");
        let first_len = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
        // Flip a byte inside the second record's body.
        bytes[12 + first_len + 12] ^= 0xff;
        std::fs::write(&path, &bytes).expect("write");
        let (_log, ops) = RecoveryLog::open(path).expect("reopen");
        assert_eq!(ops.len(), 1);
    }
}
