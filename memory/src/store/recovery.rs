//! The embedded store's recovery log.
//!
//! Qdrant Edge 0.7.2 writes a WAL but never replays it on load (and never
//! trims it), so points written since the last flush would be lost by a
//! crash. Each collection therefore keeps its own log of the operations
//! applied since its last flush: an operation is appended before it is
//! applied to the shard, and acknowledged once both are done (with
//! [`Durability::Power`] the append is fsynced first; with
//! [`Durability::Process`] it is one `write` call, which survives a killed
//! process but not a power cut). An operation the shard then refuses is cut
//! from the log again. `flush` persists the shard and empties the log; a load
//! replays whatever the log holds, and an operation that fails to replay is an
//! error (the log is kept). Replaying an operation that is already in the
//! segments is harmless: the log holds upserts and deletes in their original
//! order.
//!
//! Frame: `magic "\xA6RL2" | len: u32 LE | sha256(body)[..8] | body`. The
//! magic lets a reader find the next record after a damaged one: bytes that
//! are not a valid frame (a torn write at the end, or damage in the middle) are
//! moved to a quarantine file next to the log (`agentry-recovery.log.damaged-
//! NANOS`), a warning names it, and every valid record after them is kept.
//! Logs written before the magic (`len | hash | body` frames) still read.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{FieldKind, Payload, Point, PointId, SparseVector};
use crate::error::{MemoryError, Result};

/// When a write to the embedded store is acknowledged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Durability {
    /// Once the operation is in the recovery log (one `write` call, no fsync): it
    /// survives a killed process, not a power cut or an OS crash. The default.
    #[default]
    Process,
    /// Once the operation is in the recovery log and the log is fsynced: it survives a
    /// power cut too. Every write pays an fsync (see `agentry bench memory`).
    Power,
}

impl Durability {
    /// The setting's name: `process` or `power`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Process => "process",
            Self::Power => "power",
        }
    }
}

impl std::fmt::Display for Durability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Durability {
    type Err = MemoryError;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim() {
            "process" => Ok(Self::Process),
            "power" => Ok(Self::Power),
            other => Err(MemoryError::Invalid {
                what: "durability",
                reason: format!("{other:?}; expected `process` or `power`"),
            }),
        }
    }
}

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

/// First bytes of every record.
const MAGIC: [u8; 4] = [0xA6, b'R', b'L', b'2'];
/// Magic, length and checksum.
const HEADER: usize = 16;
/// Length and checksum of a record written before the magic.
const LEGACY_HEADER: usize = 12;

pub(crate) struct RecoveryLog {
    path: PathBuf,
    file: File,
    /// Bytes in the log.
    len: u64,
    durability: Durability,
    /// Test hook: the next append fails.
    #[cfg(test)]
    pub(crate) fail_next_append: bool,
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> MemoryError + 'a {
    move |source| MemoryError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

impl RecoveryLog {
    /// Opens the log at `path`, returning the operations it holds. Damaged bytes are
    /// moved to a quarantine file next to it (a warning names it) and the log is
    /// rewritten with the valid records only.
    pub(crate) fn open(path: PathBuf, durability: Durability) -> Result<(Self, Vec<LogOp>)> {
        let mut file = open_append(&path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(io("read recovery log", &path))?;
        let decoded = decode_log(&bytes);
        let mut quarantined = None;
        if decoded.legacy || !decoded.damaged.is_empty() {
            let kept: Vec<u8> = decoded
                .ops
                .iter()
                .flat_map(|(op, _)| frame(&encode(op)).unwrap_or_default())
                .collect();
            if !decoded.damaged.is_empty() {
                quarantined = Some(quarantine(&path, &bytes, &decoded.damaged)?);
            }
            rewrite(&path, &kept)?;
            file = open_append(&path)?;
            bytes = kept;
        }
        if let Some(quarantine) = quarantined {
            tracing::warn!(
                log = %path.display(),
                quarantine = %quarantine.display(),
                damaged_bytes = decoded.damaged.iter().map(|r| r.len()).sum::<usize>(),
                kept_records = decoded.ops.len(),
                "the recovery log held damaged records (a torn write or corruption); moved them to {} and kept every valid record",
                quarantine.display()
            );
        }
        let ops = decoded.ops.into_iter().map(|(op, _)| op).collect();
        let log = Self {
            path,
            file,
            len: bytes.len() as u64,
            durability,
            #[cfg(test)]
            fail_next_append: false,
        };
        Ok((log, ops))
    }

    /// The log's file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes in the log (a mark for [`RecoveryLog::truncate`]).
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Appends one encoded operation with a single write, fsynced with
    /// [`Durability::Power`].
    pub(crate) fn append(&mut self, body: &[u8]) -> Result<()> {
        let frame = frame(body)?;
        #[cfg(test)]
        if std::mem::take(&mut self.fail_next_append) {
            return Err(io("append to recovery log", &self.path)(
                std::io::Error::other("test: append refused"),
            ));
        }
        self.file
            .write_all(&frame)
            .map_err(io("append to recovery log", &self.path))?;
        self.len += frame.len() as u64;
        self.sync()
    }

    /// Cuts the log back to `len` bytes (an operation the shard refused).
    pub(crate) fn truncate(&mut self, len: u64) -> Result<()> {
        self.file
            .set_len(len)
            .map_err(io("truncate recovery log", &self.path))?;
        self.len = len;
        self.sync()
    }

    /// Empties the log (after the shard was flushed).
    pub(crate) fn clear(&mut self) -> Result<()> {
        self.truncate(0)
    }

    fn sync(&self) -> Result<()> {
        match self.durability {
            Durability::Process => Ok(()),
            Durability::Power => self
                .file
                .sync_data()
                .map_err(io("fsync recovery log", &self.path)),
        }
    }
}

fn open_append(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .append(true)
        .open(path)
        .map_err(io("open recovery log", path))
}

/// `body` framed for the log.
fn frame(body: &[u8]) -> Result<Vec<u8>> {
    let len = u32::try_from(body.len()).map_err(|_| MemoryError::Invalid {
        what: "operation",
        reason: format!("{} bytes is too large for one write", body.len()),
    })?;
    let mut frame = Vec::with_capacity(body.len() + HEADER);
    frame.extend_from_slice(&MAGIC);
    frame.extend_from_slice(&len.to_le_bytes());
    frame.extend_from_slice(&Sha256::digest(body)[..8]);
    frame.extend_from_slice(body);
    Ok(frame)
}

/// Writes the damaged spans of `bytes` to a new quarantine file next to `log`, fsynced.
fn quarantine(log: &Path, bytes: &[u8], damaged: &[Range<usize>]) -> Result<PathBuf> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let name = format!(
        "{}.damaged-{nanos}",
        log.file_name().map_or_else(
            || "recovery.log".into(),
            |n| n.to_string_lossy().into_owned()
        )
    );
    let path = log.with_file_name(name);
    let mut file = File::create_new(&path).map_err(io("create quarantine file", &path))?;
    for span in damaged {
        file.write_all(&bytes[span.clone()])
            .map_err(io("write quarantine file", &path))?;
    }
    file.sync_all()
        .map_err(io("fsync quarantine file", &path))?;
    Ok(path)
}

/// Replaces the log with `bytes`: temporary file, fsync, rename, fsync of the folder.
fn rewrite(log: &Path, bytes: &[u8]) -> Result<()> {
    let temporary = log.with_extension("rewrite.tmp");
    let mut file = File::create(&temporary).map_err(io("create", &temporary))?;
    file.write_all(bytes).map_err(io("write", &temporary))?;
    file.sync_all().map_err(io("fsync", &temporary))?;
    drop(file);
    std::fs::rename(&temporary, log).map_err(io("replace recovery log", log))?;
    if let Some(folder) = log.parent().filter(|p| !p.as_os_str().is_empty()) {
        #[cfg(unix)]
        File::open(folder)
            .and_then(|f| f.sync_all())
            .map_err(io("fsync", folder))?;
    }
    Ok(())
}

/// What a log's bytes hold: the valid operations (with their byte ranges) and the spans
/// that are not valid records.
struct Decoded {
    ops: Vec<(LogOp, Range<usize>)>,
    damaged: Vec<Range<usize>>,
    /// Whether the records are in the format written before the magic.
    legacy: bool,
}

/// Decodes a log, in the legacy format when it is one.
fn decode_log(bytes: &[u8]) -> Decoded {
    if !bytes.is_empty() && !bytes.starts_with(&MAGIC) {
        let legacy = decode_legacy(bytes);
        if !legacy.ops.is_empty() {
            return legacy;
        }
    }
    decode_frames(bytes)
}

/// The record at `at`, if one starts there.
fn record_at(bytes: &[u8], at: usize) -> Option<(LogOp, usize)> {
    let header = bytes.get(at..at.checked_add(HEADER)?)?;
    if header[..4] != MAGIC {
        return None;
    }
    let len = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
    let end = at.checked_add(HEADER)?.checked_add(len)?;
    let body = bytes.get(at + HEADER..end)?;
    if Sha256::digest(body)[..8] != header[8..16] {
        return None;
    }
    decode(body).map(|op| (op, end))
}

/// Every valid record of `bytes`; after an invalid one, decoding resumes at the next
/// position where a valid record starts.
fn decode_frames(bytes: &[u8]) -> Decoded {
    let mut ops = Vec::new();
    let mut damaged = Vec::new();
    let mut at = 0usize;
    while at < bytes.len() {
        if let Some((op, end)) = record_at(bytes, at) {
            ops.push((op, at..end));
            at = end;
            continue;
        }
        let next = (at + 1..bytes.len())
            .filter(|&i| bytes[i..].starts_with(&MAGIC))
            .find(|&i| record_at(bytes, i).is_some())
            .unwrap_or(bytes.len());
        damaged.push(at..next);
        at = next;
    }
    Decoded {
        ops,
        damaged,
        legacy: false,
    }
}

/// Records written before the magic: `len | sha256(body)[..8] | body`, read up to the
/// first invalid one.
fn decode_legacy(bytes: &[u8]) -> Decoded {
    let mut ops = Vec::new();
    let mut at = 0usize;
    while bytes.len() - at >= LEGACY_HEADER {
        let len =
            u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize;
        let Some(body) = bytes.get(at + LEGACY_HEADER..at + LEGACY_HEADER + len) else {
            break;
        };
        if Sha256::digest(body)[..8] != bytes[at + 4..at + LEGACY_HEADER] {
            break;
        }
        match decode(body) {
            Some(op) => ops.push((op, at..at + LEGACY_HEADER + len)),
            None => break,
        }
        at += LEGACY_HEADER + len;
    }
    let mut damaged = Vec::new();
    if at < bytes.len() {
        damaged.push(at..bytes.len());
    }
    Decoded {
        ops,
        damaged,
        legacy: true,
    }
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

    /// The files of `dir` whose name starts with `prefix`.
    fn files_starting(dir: &Path, prefix: &str) -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
            .expect("list")
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
            })
            .collect();
        found.sort();
        found
    }

    fn write_sample(path: &Path) {
        let (mut log, ops) =
            RecoveryLog::open(path.to_path_buf(), Durability::Process).expect("open");
        assert!(ops.is_empty());
        for op in sample() {
            log.append(&encode(&op)).expect("append");
        }
    }

    #[test]
    fn operations_round_trip_and_a_torn_tail_is_moved_aside() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("log");
        write_sample(&path);
        // Simulate a write cut short: half a frame at the end.
        let extra = encode(&LogOp::DeleteIds(vec![uuid::Uuid::from_u128(1)]));
        let mut bytes = std::fs::read(&path).expect("read");
        let full = bytes.len();
        bytes.extend_from_slice(&MAGIC);
        bytes.extend_from_slice(&(extra.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&[0u8; 5]);
        std::fs::write(&path, &bytes).expect("write");
        let (mut log, ops) = RecoveryLog::open(path.clone(), Durability::Power).expect("reopen");
        assert_eq!(ops, sample());
        assert_eq!(
            std::fs::metadata(&path).expect("meta").len() as usize,
            full,
            "torn tail removed"
        );
        let moved = files_starting(dir.path(), "log.damaged-");
        assert_eq!(moved.len(), 1, "one quarantine file: {moved:?}");
        assert_eq!(std::fs::read(&moved[0]).expect("read"), bytes[full..]);
        log.clear().expect("clear");
        let (_log, ops) = RecoveryLog::open(path, Durability::Power).expect("reopen empty");
        assert!(ops.is_empty());
    }

    #[test]
    fn a_damaged_record_is_quarantined_and_every_valid_record_after_it_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("log");
        write_sample(&path);
        let mut bytes = std::fs::read(&path).expect("read");
        let first_len = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as usize;
        let second = HEADER + first_len;
        let second_len = u32::from_le_bytes([
            bytes[second + 4],
            bytes[second + 5],
            bytes[second + 6],
            bytes[second + 7],
        ]) as usize;
        // Flip a byte inside the second record's body.
        bytes[second + HEADER + 2] ^= 0xff;
        std::fs::write(&path, &bytes).expect("write");

        let (_log, ops) = RecoveryLog::open(path.clone(), Durability::Process).expect("reopen");
        let mut expected = sample();
        expected.remove(1);
        assert_eq!(
            ops, expected,
            "the records before and after the damaged one"
        );
        let moved = files_starting(dir.path(), "log.damaged-");
        assert_eq!(moved.len(), 1, "one quarantine file: {moved:?}");
        assert_eq!(
            std::fs::read(&moved[0]).expect("read"),
            bytes[second..second + HEADER + second_len],
            "the quarantine file holds the damaged record"
        );
        // The log now holds the valid records only: reading it again finds no damage.
        let (_log, again) = RecoveryLog::open(path, Durability::Process).expect("reopen");
        assert_eq!(again, expected);
        assert_eq!(files_starting(dir.path(), "log.damaged-").len(), 1);
    }

    #[test]
    fn a_damaged_length_does_not_hide_the_records_after_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("log");
        write_sample(&path);
        let mut bytes = std::fs::read(&path).expect("read");
        // The first record claims to run to the end of the file (and beyond).
        bytes[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        std::fs::write(&path, &bytes).expect("write");
        let (_log, ops) = RecoveryLog::open(path, Durability::Process).expect("reopen");
        assert_eq!(ops, sample()[1..].to_vec());
    }

    #[test]
    fn a_log_written_before_the_magic_still_reads_and_is_rewritten() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("log");
        let mut bytes = Vec::new();
        for op in sample() {
            let body = encode(&op);
            bytes.extend_from_slice(&(body.len() as u32).to_le_bytes());
            bytes.extend_from_slice(&Sha256::digest(&body)[..8]);
            bytes.extend_from_slice(&body);
        }
        std::fs::write(&path, &bytes).expect("write");
        let (mut log, ops) = RecoveryLog::open(path.clone(), Durability::Process).expect("open");
        assert_eq!(ops, sample());
        let extra = LogOp::DeleteIds(vec![uuid::Uuid::from_u128(9)]);
        log.append(&encode(&extra)).expect("append");
        drop(log);
        let (_log, ops) = RecoveryLog::open(path, Durability::Process).expect("reopen");
        let mut expected = sample();
        expected.push(extra);
        assert_eq!(ops, expected);
        assert!(files_starting(dir.path(), "log.damaged-").is_empty());
    }

    #[test]
    fn durability_reads_and_names_its_settings() {
        assert_eq!("power".parse::<Durability>().ok(), Some(Durability::Power));
        assert_eq!(
            "process".parse::<Durability>().ok(),
            Some(Durability::Process)
        );
        let error = "disk".parse::<Durability>().expect_err("unknown");
        assert!(error.to_string().contains("\"disk\""), "{error}");
        assert_eq!(Durability::default().to_string(), "process");
    }
}
