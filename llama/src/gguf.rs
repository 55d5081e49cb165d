//! Reading a GGUF file's header — metadata and tensor table — without
//! loading its weights.
//!
//! ```no_run
//! let info = agentry_llama::gguf::GgufInfo::read("model.gguf".as_ref())?;
//! println!("{} parameters, {}", info.parameters, info.quantization());
//! # Ok::<(), agentry_llama::gguf::GgufError>(())
//! ```

use std::collections::BTreeMap;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use serde::Serialize;

/// Why a file could not be read as GGUF.
#[derive(Debug, thiserror::Error)]
pub enum GgufError {
    /// The file could not be opened or read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The file does not start with the GGUF magic.
    #[error("{} is not a GGUF file (it starts with {found:?}, a GGUF file starts with \"GGUF\")", path.display())]
    NotGguf {
        /// The file.
        path: PathBuf,
        /// Its first bytes, lossily decoded.
        found: String,
    },
    /// The GGUF version is not supported.
    #[error("{} is GGUF version {version}; agentry reads versions 2 and 3", path.display())]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The version found.
        version: u32,
    },
    /// The file ends before its header, or before its tensor data, is complete.
    #[error("{} is truncated: {detail}", path.display())]
    Truncated {
        /// The file.
        path: PathBuf,
        /// What was being read when the file ended.
        detail: String,
    },
    /// A header field holds an impossible value.
    #[error("{} has a malformed header: {detail}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
}

/// A metadata value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum MetaValue {
    /// Any unsigned integer.
    Uint(u64),
    /// Any signed integer.
    Int(i64),
    /// Any float.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A string.
    String(String),
    /// An array; long arrays keep only their length (`elements` is then
    /// empty) to keep memory small.
    Array {
        /// Number of elements.
        len: u64,
        /// The elements, when the array is short.
        elements: Vec<MetaValue>,
    },
}

impl MetaValue {
    /// The value as an unsigned integer, if it is a non-negative integer.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            MetaValue::Uint(v) => Some(*v),
            MetaValue::Int(v) => u64::try_from(*v).ok(),
            _ => None,
        }
    }

    /// The value as a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            MetaValue::String(s) => Some(s),
            _ => None,
        }
    }
}

/// One tensor of the table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TensorInfo {
    /// Tensor name.
    pub name: String,
    /// Dimensions.
    pub dims: Vec<u64>,
    /// ggml type id.
    pub ggml_type: u32,
    /// Offset within the data section.
    pub offset: u64,
}

impl TensorInfo {
    /// Number of elements; `None` when the product of the dimensions
    /// overflows a `u64`.
    pub fn elements(&self) -> Option<u64> {
        self.dims
            .iter()
            .try_fold(1u64, |acc, d| acc.checked_mul(*d))
    }

    /// Size in bytes; `None` when the type is unknown or the size overflows
    /// a `u64`.
    pub fn bytes(&self) -> Option<u64> {
        let (block, bytes) = ggml_type_layout(self.ggml_type)?;
        self.elements()?.div_ceil(block).checked_mul(bytes)
    }
}

/// What `agentry doctor` needs to know about a GGUF model.
#[derive(Debug, Clone, Serialize)]
pub struct GgufInfo {
    /// The file.
    pub path: PathBuf,
    /// File size in bytes.
    pub file_size: u64,
    /// GGUF version.
    pub version: u32,
    /// `general.architecture` (`llama`, `qwen2`, `gemma3`, ...).
    pub architecture: String,
    /// `general.name`, when present.
    pub name: Option<String>,
    /// Total parameters: the sum of every tensor's element count.
    pub parameters: u64,
    /// Bytes of tensor data.
    pub tensor_bytes: u64,
    /// `general.file_type` (llama.cpp's `LLAMA_FTYPE`), when present.
    pub file_type: Option<u64>,
    /// Transformer blocks (layers).
    pub layers: Option<u64>,
    /// Embedding (hidden) size.
    pub embedding_size: Option<u64>,
    /// Attention (query) heads.
    pub heads: Option<u64>,
    /// Key/value heads (grouped-query attention); equals `heads` without GQA.
    pub kv_heads: Option<u64>,
    /// Per-head key size, when the file states it.
    pub key_length: Option<u64>,
    /// Per-head value size, when the file states it.
    pub value_length: Option<u64>,
    /// Context length the model was trained with.
    pub context_length: Option<u64>,
    /// Vocabulary size.
    pub vocab_size: Option<u64>,
    /// Whether the file carries a chat template.
    pub has_chat_template: bool,
    /// The tensor table.
    #[serde(skip)]
    pub tensors: Vec<TensorInfo>,
    /// All metadata (long arrays summarised by length).
    #[serde(skip)]
    pub metadata: BTreeMap<String, MetaValue>,
}

impl GgufInfo {
    /// Reads the header of the GGUF file at `path` and checks that the file
    /// is long enough to hold every tensor it declares.
    pub fn read(path: &Path) -> Result<Self, GgufError> {
        // Non-blocking and regular only: a FIFO or device named as a model cannot hang
        // the reader; the header is then read against the opened file's length.
        let file = agentry_model::file::open_regular(path).map_err(|source| GgufError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let file_size = file
            .metadata()
            .map_err(|source| GgufError::Io {
                path: path.to_path_buf(),
                source,
            })?
            .len();
        Self::parse(BufReader::with_capacity(1 << 16, file), file_size, path)
    }

    /// Reads a GGUF header from `bytes` held in memory, with the same checks as
    /// [`GgufInfo::read`] (the fuzz target and tests use it); errors name the path
    /// `<memory>`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, GgufError> {
        Self::parse(bytes, bytes.len() as u64, Path::new("<memory>"))
    }

    /// Reads the header from `inner`, a source of `file_size` bytes named `path`.
    fn parse(inner: impl Read, file_size: u64, path: &Path) -> Result<Self, GgufError> {
        let mut r = Reader {
            inner,
            pos: 0,
            path: path.to_path_buf(),
            file_size,
        };
        let magic = r
            .bytes(4, || "the magic number".into())
            .map_err(|e| match e {
                GgufError::Truncated { .. } => GgufError::NotGguf {
                    path: path.to_path_buf(),
                    found: "a file shorter than 4 bytes".to_string(),
                },
                other => other,
            })?;
        if magic != b"GGUF" {
            return Err(GgufError::NotGguf {
                path: path.to_path_buf(),
                found: String::from_utf8_lossy(&magic).into_owned(),
            });
        }
        let version = r.u32(|| "the version".into())?;
        if !(2..=3).contains(&version) {
            return Err(GgufError::UnsupportedVersion {
                path: path.to_path_buf(),
                version,
            });
        }
        let tensor_count = r.u64(|| "the tensor count".into())?;
        let kv_count = r.u64(|| "the metadata count".into())?;
        // Every entry takes at least 8 bytes: an absurd count is corruption,
        // one that merely outruns the file is truncation.
        for (what, n) in [("tensor count", tensor_count), ("metadata count", kv_count)] {
            if n > 1 << 40 {
                return Err(r.malformed(format!("{what} is {n}")));
            }
            if n.saturating_mul(8) > file_size - r.pos {
                return Err(GgufError::Truncated {
                    path: path.to_path_buf(),
                    detail: format!(
                        "its {what} is {n} but only {} bytes follow the header",
                        file_size - r.pos
                    ),
                });
            }
        }
        let mut metadata = BTreeMap::new();
        for i in 0..kv_count {
            let key = r.string(|| format!("metadata key #{i}"))?;
            let ty = r.u32(|| format!("the type of `{}`", short(&key)))?;
            let value = r.value(ty, &key, 0)?;
            metadata.insert(key, value);
        }
        let mut tensors = Vec::with_capacity(tensor_count.min(1 << 16) as usize);
        for i in 0..tensor_count {
            let name = r.string(|| format!("tensor #{i}'s name"))?;
            let n_dims = r.u32(|| format!("tensor `{}`'s rank", short(&name)))?;
            if n_dims > 8 {
                return Err(
                    r.malformed(format!("tensor `{}` has {n_dims} dimensions", short(&name)))
                );
            }
            let mut dims = Vec::with_capacity(n_dims as usize);
            for _ in 0..n_dims {
                dims.push(r.u64(|| format!("tensor `{}`'s shape", short(&name)))?);
            }
            let ggml_type = r.u32(|| format!("tensor `{}`'s type", short(&name)))?;
            let offset = r.u64(|| format!("tensor `{}`'s offset", short(&name)))?;
            tensors.push(TensorInfo {
                name,
                dims,
                ggml_type,
                offset,
            });
        }
        let alignment = match metadata.get("general.alignment") {
            None => 32,
            Some(value) => value
                .as_u64()
                .filter(|a| a.is_power_of_two())
                .ok_or_else(|| {
                    r.malformed(format!(
                        "general.alignment is {value:?}, not a power of two"
                    ))
                })?,
        };
        let data_start = r
            .pos
            .div_ceil(alignment)
            .checked_mul(alignment)
            .ok_or_else(|| r.malformed(format!("general.alignment {alignment} is impossible")))?;
        let mut parameters: u64 = 0;
        let mut tensor_bytes: u64 = 0;
        let mut data_end = data_start;
        for t in &tensors {
            let name = short(&t.name);
            let elements = t.elements().ok_or_else(|| {
                r.malformed(format!(
                    "tensor `{name}` has shape {:?}, more elements than a u64 holds",
                    t.dims
                ))
            })?;
            if ggml_type_layout(t.ggml_type).is_none() {
                return Err(r.malformed(format!(
                    "tensor `{name}` has unknown ggml type {}",
                    t.ggml_type
                )));
            }
            let bytes = t.bytes().ok_or_else(|| {
                r.malformed(format!(
                    "tensor `{name}` has shape {:?}, more bytes than a u64 holds",
                    t.dims
                ))
            })?;
            // Checked, not saturated: a sum past u64::MAX cannot fit any file.
            let end = data_start
                .checked_add(t.offset)
                .and_then(|start| start.checked_add(bytes))
                .ok_or_else(|| {
                    r.malformed(format!(
                        "tensor `{name}` ends past byte {} (offset {}, {bytes} bytes)",
                        u64::MAX,
                        t.offset
                    ))
                })?;
            parameters = parameters.saturating_add(elements);
            tensor_bytes = tensor_bytes.saturating_add(bytes);
            data_end = data_end.max(end);
        }
        if data_end > file_size {
            return Err(GgufError::Truncated {
                path: path.to_path_buf(),
                detail: format!(
                    "its tensors end at byte {data_end} but the file has {file_size} bytes"
                ),
            });
        }
        let architecture = metadata
            .get("general.architecture")
            .and_then(MetaValue::as_str)
            .unwrap_or("unknown")
            .to_string();
        let arch_u64 = |key: &str| {
            metadata
                .get(&format!("{architecture}.{key}"))
                .and_then(MetaValue::as_u64)
        };
        let heads = arch_u64("attention.head_count");
        Ok(Self {
            path: path.to_path_buf(),
            file_size,
            version,
            name: metadata
                .get("general.name")
                .and_then(MetaValue::as_str)
                .map(str::to_string),
            parameters,
            tensor_bytes,
            file_type: metadata
                .get("general.file_type")
                .and_then(MetaValue::as_u64),
            layers: arch_u64("block_count"),
            embedding_size: arch_u64("embedding_length"),
            heads,
            kv_heads: arch_u64("attention.head_count_kv").or(heads),
            key_length: arch_u64("attention.key_length"),
            value_length: arch_u64("attention.value_length"),
            context_length: arch_u64("context_length"),
            vocab_size: match metadata.get("tokenizer.ggml.tokens") {
                Some(MetaValue::Array { len, .. }) => Some(*len),
                _ => arch_u64("vocab_size"),
            },
            has_chat_template: metadata.contains_key("tokenizer.chat_template"),
            architecture,
            tensors,
            metadata,
        })
    }

    /// The quantization name (`Q4_1`, `Q4_K_M`, `F16`, ...), from
    /// `general.file_type`, or else the most common tensor type by bytes.
    pub fn quantization(&self) -> String {
        if let Some(name) = self.file_type.and_then(file_type_name) {
            return name.to_string();
        }
        let mut by_type: BTreeMap<u32, u64> = BTreeMap::new();
        for t in &self.tensors {
            let entry = by_type.entry(t.ggml_type).or_default();
            *entry = entry.saturating_add(t.bytes().unwrap_or(0));
        }
        by_type
            .into_iter()
            .max_by_key(|(_, bytes)| *bytes)
            .and_then(|(ty, _)| ggml_type_name(ty))
            .unwrap_or("unknown")
            .to_string()
    }

    /// Average bytes per parameter over the whole file's tensors (B).
    pub fn bytes_per_parameter(&self) -> f64 {
        if self.parameters == 0 {
            0.0
        } else {
            self.tensor_bytes as f64 / self.parameters as f64
        }
    }

    /// Per-head key and value sizes: stated in the file, or hidden size / heads.
    pub fn head_dims(&self) -> Option<(u64, u64)> {
        let fallback = match (self.embedding_size, self.heads) {
            (Some(e), Some(h)) if h > 0 => Some(e / h),
            _ => None,
        };
        let k = self.key_length.or(fallback)?;
        let v = self.value_length.or(fallback)?;
        Some((k, v))
    }
}

struct Reader<R> {
    inner: R,
    pos: u64,
    path: PathBuf,
    file_size: u64,
}

const MAX_STRING: u64 = 64 << 20;
const KEEP_ARRAY: u64 = 64;
/// Most characters of a key or name quoted in an error message.
const QUOTE_CHARS: usize = 80;

/// `text`, cut to [`QUOTE_CHARS`] characters for an error message.
fn short(text: &str) -> String {
    match text.char_indices().nth(QUOTE_CHARS) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}

/// Bytes one value of a fixed-width metadata type takes; `None` for
/// strings and arrays.
fn fixed_width(ty: u32) -> Option<u64> {
    match ty {
        0 | 1 | 7 => Some(1),
        2 | 3 => Some(2),
        4..=6 => Some(4),
        10..=12 => Some(8),
        _ => None,
    }
}

/// The fewest bytes one value of metadata type `ty` can take.
fn min_width(ty: u32) -> u64 {
    match ty {
        8 => 8,
        9 => 12,
        other => fixed_width(other).unwrap_or(1),
    }
}

// Every description of what is being read is built lazily (a closure), only
// when an error needs it: building it eagerly for each element of a long
// array made reading quadratic in the key length times the array length.
impl<R: Read> Reader<R> {
    fn malformed(&self, detail: String) -> GgufError {
        GgufError::Malformed {
            path: self.path.clone(),
            detail,
        }
    }

    fn remaining(&self) -> u64 {
        self.file_size.saturating_sub(self.pos)
    }

    /// Checks that `n` more bytes exist before reading them.
    fn ensure(&self, n: u64, what: impl FnOnce() -> String) -> Result<(), GgufError> {
        if n > self.remaining() {
            return Err(GgufError::Truncated {
                path: self.path.clone(),
                detail: format!(
                    "the file ends at byte {} while reading {} at byte {}",
                    self.file_size,
                    what(),
                    self.pos
                ),
            });
        }
        Ok(())
    }

    fn io(&self, source: std::io::Error) -> GgufError {
        GgufError::Io {
            path: self.path.clone(),
            source,
        }
    }

    fn bytes(&mut self, n: u64, what: impl FnOnce() -> String) -> Result<Vec<u8>, GgufError> {
        self.ensure(n, what)?;
        let len = usize::try_from(n).map_err(|_| self.malformed(format!("{n} bytes")))?;
        let mut buf = vec![0u8; len];
        self.inner.read_exact(&mut buf).map_err(|e| self.io(e))?;
        self.pos += n;
        Ok(buf)
    }

    /// Skips `n` bytes, which must exist.
    fn skip(&mut self, n: u64, what: impl FnOnce() -> String) -> Result<(), GgufError> {
        self.ensure(n, what)?;
        let copied = std::io::copy(&mut (&mut self.inner).take(n), &mut std::io::sink())
            .map_err(|e| self.io(e))?;
        if copied != n {
            return Err(self.io(std::io::ErrorKind::UnexpectedEof.into()));
        }
        self.pos += n;
        Ok(())
    }

    fn array<const N: usize>(
        &mut self,
        what: impl FnOnce() -> String,
    ) -> Result<[u8; N], GgufError> {
        self.ensure(N as u64, what)?;
        let mut out = [0u8; N];
        self.inner.read_exact(&mut out).map_err(|e| self.io(e))?;
        self.pos += N as u64;
        Ok(out)
    }

    fn u32(&mut self, what: impl FnOnce() -> String) -> Result<u32, GgufError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: impl FnOnce() -> String) -> Result<u64, GgufError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    fn string(&mut self, what: impl Fn() -> String) -> Result<String, GgufError> {
        let len = self.u64(&what)?;
        if len > MAX_STRING {
            return Err(self.malformed(format!("{} claims a string of {len} bytes", what())));
        }
        let bytes = self.bytes(len, what)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    fn value(&mut self, ty: u32, key: &str, depth: u32) -> Result<MetaValue, GgufError> {
        let what = || format!("the value of `{}`", short(key));
        Ok(match ty {
            0 => MetaValue::Uint(u64::from(self.array::<1>(what)?[0])),
            1 => MetaValue::Int(i64::from(self.array::<1>(what)?[0] as i8)),
            2 => MetaValue::Uint(u64::from(u16::from_le_bytes(self.array(what)?))),
            3 => MetaValue::Int(i64::from(i16::from_le_bytes(self.array(what)?))),
            4 => MetaValue::Uint(u64::from(self.u32(what)?)),
            5 => MetaValue::Int(i64::from(i32::from_le_bytes(self.array(what)?))),
            6 => MetaValue::Float(f64::from(f32::from_le_bytes(self.array(what)?))),
            7 => MetaValue::Bool(self.array::<1>(what)?[0] != 0),
            8 => MetaValue::String(self.string(what)?),
            9 => {
                if depth > 2 {
                    return Err(self.malformed(format!("`{}` nests arrays too deeply", short(key))));
                }
                let elem_ty = self.u32(what)?;
                let len = self.u64(what)?;
                if elem_ty > 12 {
                    return Err(self.malformed(format!(
                        "`{}` has unknown element type {elem_ty}",
                        short(key)
                    )));
                }
                // Each element takes at least `min_width` bytes: a length
                // the rest of the file cannot hold is truncation.
                let least = len.saturating_mul(min_width(elem_ty));
                if least > self.remaining() {
                    return Err(GgufError::Truncated {
                        path: self.path.clone(),
                        detail: format!(
                            "`{}` claims {len} elements but only {} bytes follow",
                            short(key),
                            self.remaining()
                        ),
                    });
                }
                if len > KEEP_ARRAY {
                    // Only the length is kept: skip the elements, in one
                    // step where they have a fixed width.
                    match fixed_width(elem_ty) {
                        Some(_) => self.skip(least, what)?,
                        None => {
                            for _ in 0..len {
                                self.value(elem_ty, key, depth + 1)?;
                            }
                        }
                    }
                    MetaValue::Array {
                        len,
                        elements: Vec::new(),
                    }
                } else {
                    let mut elements = Vec::with_capacity(len as usize);
                    for _ in 0..len {
                        elements.push(self.value(elem_ty, key, depth + 1)?);
                    }
                    MetaValue::Array { len, elements }
                }
            }
            10 => MetaValue::Uint(self.u64(what)?),
            11 => MetaValue::Int(i64::from_le_bytes(self.array(what)?)),
            12 => MetaValue::Float(f64::from_le_bytes(self.array(what)?)),
            other => {
                return Err(
                    self.malformed(format!("`{}` has unknown value type {other}", short(key)))
                );
            }
        })
    }
}

/// Elements per block and bytes per block of a ggml tensor type.
pub fn ggml_type_layout(ty: u32) -> Option<(u64, u64)> {
    Some(match ty {
        0 => (1, 4),      // F32
        1 => (1, 2),      // F16
        2 => (32, 18),    // Q4_0
        3 => (32, 20),    // Q4_1
        6 => (32, 22),    // Q5_0
        7 => (32, 24),    // Q5_1
        8 => (32, 34),    // Q8_0
        9 => (32, 36),    // Q8_1
        10 => (256, 84),  // Q2_K
        11 => (256, 110), // Q3_K
        12 => (256, 144), // Q4_K
        13 => (256, 176), // Q5_K
        14 => (256, 210), // Q6_K
        15 => (256, 292), // Q8_K
        16 => (256, 66),  // IQ2_XXS
        17 => (256, 74),  // IQ2_XS
        18 => (256, 98),  // IQ3_XXS
        19 => (256, 50),  // IQ1_S
        20 => (32, 18),   // IQ4_NL
        21 => (256, 110), // IQ3_S
        22 => (256, 82),  // IQ2_S
        23 => (256, 136), // IQ4_XS
        24 => (1, 1),     // I8
        25 => (1, 2),     // I16
        26 => (1, 4),     // I32
        27 => (1, 8),     // I64
        28 => (1, 8),     // F64
        29 => (256, 56),  // IQ1_M
        30 => (1, 2),     // BF16
        34 => (256, 54),  // TQ1_0
        35 => (256, 66),  // TQ2_0
        39 => (32, 17),   // MXFP4
        _ => return None,
    })
}

/// The name of a ggml tensor type.
pub fn ggml_type_name(ty: u32) -> Option<&'static str> {
    Some(match ty {
        0 => "F32",
        1 => "F16",
        2 => "Q4_0",
        3 => "Q4_1",
        6 => "Q5_0",
        7 => "Q5_1",
        8 => "Q8_0",
        9 => "Q8_1",
        10 => "Q2_K",
        11 => "Q3_K",
        12 => "Q4_K",
        13 => "Q5_K",
        14 => "Q6_K",
        15 => "Q8_K",
        16 => "IQ2_XXS",
        17 => "IQ2_XS",
        18 => "IQ3_XXS",
        19 => "IQ1_S",
        20 => "IQ4_NL",
        21 => "IQ3_S",
        22 => "IQ2_S",
        23 => "IQ4_XS",
        24 => "I8",
        25 => "I16",
        26 => "I32",
        27 => "I64",
        28 => "F64",
        29 => "IQ1_M",
        30 => "BF16",
        34 => "TQ1_0",
        35 => "TQ2_0",
        39 => "MXFP4",
        _ => return None,
    })
}

/// The name of a llama.cpp file type (`general.file_type`).
pub fn file_type_name(ftype: u64) -> Option<&'static str> {
    Some(match ftype {
        0 => "F32",
        1 => "F16",
        2 => "Q4_0",
        3 => "Q4_1",
        7 => "Q8_0",
        8 => "Q5_0",
        9 => "Q5_1",
        10 => "Q2_K",
        11 => "Q3_K_S",
        12 => "Q3_K_M",
        13 => "Q3_K_L",
        14 => "Q4_K_S",
        15 => "Q4_K_M",
        16 => "Q5_K_S",
        17 => "Q5_K_M",
        18 => "Q6_K",
        19 => "IQ2_XXS",
        20 => "IQ2_XS",
        21 => "Q2_K_S",
        22 => "IQ3_XS",
        23 => "IQ3_XXS",
        24 => "IQ1_S",
        25 => "IQ4_NL",
        26 => "IQ3_S",
        27 => "IQ3_M",
        28 => "IQ2_S",
        29 => "IQ2_M",
        30 => "IQ4_XS",
        31 => "IQ1_M",
        32 => "BF16",
        36 => "TQ1_0",
        37 => "TQ2_0",
        38 => "MXFP4_MOE",
        _ => return None,
    })
}

#[cfg(test)]
mod tests;
