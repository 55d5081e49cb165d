//! The header reader on hand-made GGUF files.

use super::*;
use std::io::Write;

/// Builds a tiny, valid GGUF v3 file: two F32 tensors.
pub(crate) fn tiny_gguf() -> Vec<u8> {
    fn s(out: &mut Vec<u8>, v: &str) {
        out.extend((v.len() as u64).to_le_bytes());
        out.extend(v.as_bytes());
    }
    let mut b = Vec::new();
    b.extend(b"GGUF");
    b.extend(3u32.to_le_bytes());
    b.extend(2u64.to_le_bytes()); // tensors
    b.extend(4u64.to_le_bytes()); // kv
    s(&mut b, "general.architecture");
    b.extend(8u32.to_le_bytes());
    s(&mut b, "llama");
    s(&mut b, "llama.block_count");
    b.extend(4u32.to_le_bytes());
    b.extend(2u32.to_le_bytes());
    s(&mut b, "llama.attention.head_count");
    b.extend(4u32.to_le_bytes());
    b.extend(4u32.to_le_bytes());
    s(&mut b, "tokenizer.ggml.tokens");
    b.extend(9u32.to_le_bytes());
    b.extend(8u32.to_le_bytes());
    b.extend(3u64.to_le_bytes());
    for t in ["a", "b", "c"] {
        s(&mut b, t);
    }
    for (name, off) in [("w1", 0u64), ("w2", 32)] {
        s(&mut b, name);
        b.extend(2u32.to_le_bytes());
        b.extend(2u64.to_le_bytes());
        b.extend(4u64.to_le_bytes());
        b.extend(0u32.to_le_bytes());
        b.extend(off.to_le_bytes());
    }
    while b.len() % 32 != 0 {
        b.push(0);
    }
    b.extend([0u8; 64]);
    b
}

fn write(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(bytes).unwrap();
    f
}

#[test]
fn reads_a_small_file() {
    let f = write(&tiny_gguf());
    let info = GgufInfo::read(f.path()).unwrap();
    assert_eq!(info.parameters, 16);
    assert_eq!(info.tensor_bytes, 64);
    assert_eq!(info.layers, Some(2));
    assert_eq!(info.kv_heads, Some(4));
    assert_eq!(info.vocab_size, Some(3));
    assert_eq!(info.quantization(), "F32");
    assert_eq!(info.bytes_per_parameter(), 4.0);
}

#[test]
fn every_truncation_is_a_clear_error() {
    let full = tiny_gguf();
    for cut in 0..full.len() {
        let f = write(&full[..cut]);
        let err = GgufInfo::read(f.path()).unwrap_err();
        assert!(
            matches!(err, GgufError::Truncated { .. } | GgufError::NotGguf { .. }),
            "cut at {cut}: {err}"
        );
    }
}

#[test]
fn rejects_non_gguf_and_garbage() {
    let f = write(b"PK\x03\x04 this is a zip, not a model");
    assert!(matches!(
        GgufInfo::read(f.path()),
        Err(GgufError::NotGguf { .. })
    ));
    // A header claiming absurd counts must not allocate or panic.
    let mut b = b"GGUF".to_vec();
    b.extend(3u32.to_le_bytes());
    b.extend(u64::MAX.to_le_bytes());
    b.extend(u64::MAX.to_le_bytes());
    let f = write(&b);
    assert!(matches!(
        GgufInfo::read(f.path()),
        Err(GgufError::Malformed { .. })
    ));
    let mut b = b"GGUF".to_vec();
    b.extend(1u32.to_le_bytes());
    let f = write(&b);
    assert!(matches!(
        GgufInfo::read(f.path()),
        Err(GgufError::UnsupportedVersion { version: 1, .. })
    ));
}

#[test]
fn random_mutations_never_panic() {
    let full = tiny_gguf();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..300 {
        let mut b = full.clone();
        for _ in 0..4 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let i = (state as usize) % b.len();
            b[i] = (state >> 32) as u8;
        }
        let f = write(&b);
        let _ = GgufInfo::read(f.path());
    }
}

/// A hand-made GGUF v3 file: metadata entries given as (key, type, raw
/// value bytes) and tensors as (name, dims, ggml type, offset), followed by
/// `data` bytes of tensor data.
fn custom_gguf(
    kv: &[(&[u8], u32, Vec<u8>)],
    tensors: &[(&str, &[u64], u32, u64)],
    data: usize,
) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend(b"GGUF");
    b.extend(3u32.to_le_bytes());
    b.extend((tensors.len() as u64).to_le_bytes());
    b.extend((kv.len() as u64).to_le_bytes());
    for (key, ty, value) in kv {
        b.extend((key.len() as u64).to_le_bytes());
        b.extend(*key);
        b.extend(ty.to_le_bytes());
        b.extend(value);
    }
    for (name, dims, ty, offset) in tensors {
        b.extend((name.len() as u64).to_le_bytes());
        b.extend(name.as_bytes());
        b.extend((dims.len() as u32).to_le_bytes());
        for d in *dims {
            b.extend(d.to_le_bytes());
        }
        b.extend(ty.to_le_bytes());
        b.extend(offset.to_le_bytes());
    }
    while b.len() % 32 != 0 {
        b.push(0);
    }
    b.extend(vec![0u8; data]);
    b
}

/// An array value: element type, length, then the raw elements.
fn array(elem_ty: u32, len: u64, elements: &[u8]) -> Vec<u8> {
    let mut v = elem_ty.to_le_bytes().to_vec();
    v.extend(len.to_le_bytes());
    v.extend(elements);
    v
}

/// Reads `bytes` as GGUF on another thread, failing the test if it has not
/// finished after `limit` (a generous bound: the point is that it ends).
fn read_within(bytes: Vec<u8>, limit: std::time::Duration) -> Result<GgufInfo, GgufError> {
    let f = write(&bytes);
    let (tx, rx) = std::sync::mpsc::channel();
    let path = f.path().to_path_buf();
    std::thread::spawn(move || {
        let _ = tx.send(GgufInfo::read(&path));
    });
    rx.recv_timeout(limit)
        .expect("reading the GGUF header did not finish")
}

#[test]
fn a_long_key_on_a_long_array_reads_in_one_pass() {
    // The finding: a 4 MiB key and an array of 3M u8 (a 7 MB file) kept
    // `doctor` busy for minutes, the key being formatted once per element.
    let key = vec![b'k'; 4 << 20];
    let n = 3_000_000u64;
    let bytes = custom_gguf(&[(&key, 9, array(0, n, &vec![7u8; n as usize]))], &[], 0);
    let info = read_within(bytes, std::time::Duration::from_secs(120)).unwrap();
    let key = String::from_utf8(key).unwrap();
    assert_eq!(
        info.metadata.get(&key),
        Some(&MetaValue::Array {
            len: n,
            elements: vec![]
        })
    );
    // The same with an array of (empty) strings, which cannot be skipped in
    // one step.
    let key = vec![b's'; 4 << 20];
    let n = 500_000u64;
    let bytes = custom_gguf(
        &[(&key, 9, array(8, n, &vec![0u8; 8 * n as usize]))],
        &[],
        0,
    );
    let info = read_within(bytes, std::time::Duration::from_secs(120)).unwrap();
    assert_eq!(info.metadata.len(), 1);
}

#[test]
fn an_array_longer_than_the_file_is_truncation_naming_the_key() {
    let bytes = custom_gguf(&[(b"big.array", 9, array(10, 1 << 40, &[]))], &[], 0);
    let err = read_within(bytes, std::time::Duration::from_secs(120)).unwrap_err();
    assert!(matches!(err, GgufError::Truncated { .. }), "{err}");
    assert!(err.to_string().contains("big.array"), "{err}");
}

#[test]
fn a_tensor_whose_byte_size_overflows_is_malformed() {
    // dims [2^62] of F32 is 2^64 bytes: it once wrapped to 0 and passed the
    // truncation check with 4.6e18 parameters.
    let bytes = custom_gguf(&[], &[("huge", &[1 << 62], 0, 0)], 0);
    let err = GgufInfo::read(write(&bytes).path()).unwrap_err();
    assert!(matches!(err, GgufError::Malformed { .. }), "{err}");
    assert!(err.to_string().contains("huge"), "{err}");
    // A product of dimensions past u64::MAX, and an offset that overflows.
    let bytes = custom_gguf(&[], &[("wide", &[1 << 40, 1 << 40], 0, 0)], 0);
    let err = GgufInfo::read(write(&bytes).path()).unwrap_err();
    assert!(matches!(err, GgufError::Malformed { .. }), "{err}");
    let bytes = custom_gguf(&[], &[("far", &[4], 0, u64::MAX - 8)], 64);
    let err = GgufInfo::read(write(&bytes).path()).unwrap_err();
    assert!(
        matches!(
            err,
            GgufError::Malformed { .. } | GgufError::Truncated { .. }
        ),
        "{err}"
    );
    // The public helpers say "unknown" instead of wrapping.
    let t = TensorInfo {
        name: "t".into(),
        dims: vec![1 << 62],
        ggml_type: 0,
        offset: 0,
    };
    assert_eq!(t.elements(), Some(1 << 62));
    assert_eq!(t.bytes(), None);
}

#[test]
fn an_impossible_alignment_is_malformed() {
    let bytes = custom_gguf(
        &[(b"general.alignment", 10, u64::MAX.to_le_bytes().to_vec())],
        &[("w", &[4], 0, 0)],
        64,
    );
    let err = GgufInfo::read(write(&bytes).path()).unwrap_err();
    assert!(matches!(err, GgufError::Malformed { .. }), "{err}");
    assert!(err.to_string().contains("alignment"), "{err}");
}
