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
