//! `read_file`, `list_dir` and `write_file`, confined to one root directory.
//!
//! Every path is resolved to a canonical path (symlinks followed) and must lie inside
//! the canonical root: `..` components are refused outright, absolute paths must point
//! inside the root, and a symlink whose target lies outside is refused. Writing needs
//! the `write_files` capability (declared in the spec, and checked again in the call).
//! A symlink swapped in between the check and the open is not defended against.
//!
//! Only regular files are read or written (see [`super::regular_file`]): a
//! FIFO, socket or device, or a symlink to one, is refused without blocking,
//! and reads stop at a byte limit whatever size the file states.

use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::io::Write;

use super::regular_file::{RegularFileError, open_regular, read_bounded};
use crate::error::ToolError;
use crate::spec::Capabilities;
use crate::tool::{Tool, ToolContext, TypedTool};

/// Most bytes `read_file` returns.
const MAX_READ_BYTES: u64 = 256 * 1024;
/// Most entries `list_dir` returns.
const MAX_DIR_ENTRIES: usize = 1000;
/// Most entries named when a path does not exist.
const MAX_HINT_ENTRIES: usize = 20;

/// Up to `limit` entry names of `dir`, sorted, folders marked with a trailing `/`, then
/// `…` when there were more; empty when it cannot be read.
async fn entry_names(dir: &Path, limit: usize) -> Vec<String> {
    let Ok(mut reader) = tokio::fs::read_dir(dir).await else {
        return Vec::new();
    };
    let mut names = Vec::new();
    let mut more = false;
    while let Ok(Some(entry)) = reader.next_entry().await {
        if names.len() == MAX_DIR_ENTRIES {
            more = true;
            break;
        }
        let mut name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type().await.is_ok_and(|t| t.is_dir()) {
            name.push('/');
        }
        names.push(name);
    }
    names.sort();
    if names.len() > limit {
        names.truncate(limit);
        more = true;
    }
    if more {
        names.push("…".to_owned());
    }
    names
}

/// A directory that file tools are confined to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsRoot {
    root: PathBuf,
}

impl FsRoot {
    /// Confines file tools to `root`, which must be an existing directory.
    ///
    /// # Errors
    /// `root` does not exist or is not a directory.
    pub fn new(root: impl AsRef<Path>) -> Result<Self, ToolError> {
        let root = root.as_ref();
        let canonical = std::fs::canonicalize(root).map_err(|source| ToolError::Io {
            op: "open root",
            path: root.to_path_buf(),
            source,
        })?;
        if !canonical.is_dir() {
            return Err(ToolError::failed(format!(
                "root `{}` is not a directory",
                root.display()
            )));
        }
        Ok(Self { root: canonical })
    }

    /// The canonical root directory.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// The three file tools sharing this root: `read_file`, `list_dir`, `write_file`.
    pub fn tools(&self) -> Vec<Arc<dyn Tool>> {
        let root = Arc::new(self.clone());
        vec![
            Arc::new(ReadFile { root: root.clone() }),
            Arc::new(ListDir { root: root.clone() }),
            Arc::new(WriteFile { root }),
        ]
    }

    /// The joined path of `path` before canonicalisation; refuses `..`.
    fn candidate(&self, path: &str) -> Result<PathBuf, ToolError> {
        let p = Path::new(path);
        if p.components().any(|c| matches!(c, Component::ParentDir)) {
            return Err(ToolError::Refused(format!(
                "`{path}` contains `..`; paths must stay inside the root"
            )));
        }
        Ok(if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.root.join(p)
        })
    }

    fn inside(&self, canonical: PathBuf, path: &str) -> Result<PathBuf, ToolError> {
        if canonical.starts_with(&self.root) {
            Ok(canonical)
        } else {
            Err(ToolError::Refused(format!(
                "`{path}` leads outside the root `{}`",
                self.root.display()
            )))
        }
    }

    /// The canonical path of the existing `path`, if it lies inside the root.
    ///
    /// # Errors
    /// Refused (outside the root, `..`) or not found.
    pub async fn resolve_existing(&self, path: &str) -> Result<PathBuf, ToolError> {
        let candidate = self.candidate(path)?;
        let canonical = match tokio::fs::canonicalize(&candidate).await {
            Ok(canonical) => canonical,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(ToolError::failed(self.not_found(&candidate, path).await));
            }
            Err(source) => {
                return Err(ToolError::Io {
                    op: "resolve",
                    path: PathBuf::from(path),
                    source,
                });
            }
        };
        self.inside(canonical, path)
    }

    /// Why `path` (joined as `candidate`) cannot be used, and what is there instead: the
    /// entries of its nearest existing folder inside the root, so a model that guessed a
    /// name can pick the right one. Nothing outside the root is listed.
    async fn not_found(&self, candidate: &Path, path: &str) -> String {
        let mut ancestor = candidate.parent();
        while let Some(dir) = ancestor {
            if let Ok(canonical) = tokio::fs::canonicalize(dir).await {
                if !canonical.starts_with(&self.root) {
                    break;
                }
                let names = entry_names(&canonical, MAX_HINT_ENTRIES).await;
                let folder = self.display(&canonical);
                return if names.is_empty() {
                    format!("`{path}` does not exist; the folder `{folder}` is empty")
                } else {
                    format!(
                        "`{path}` does not exist; the folder `{folder}` holds: {}",
                        names.join(", ")
                    )
                };
            }
            ancestor = dir.parent();
        }
        format!("`{path}` does not exist")
    }

    /// The canonical path to write `path` at, creating missing parent directories
    /// inside the root.
    ///
    /// # Errors
    /// Refused (outside the root, `..`, a dangling symlink) or an I/O error.
    pub async fn resolve_for_write(&self, path: &str) -> Result<PathBuf, ToolError> {
        let candidate = self.candidate(path)?;
        if let Ok(meta) = tokio::fs::symlink_metadata(&candidate).await {
            return match tokio::fs::canonicalize(&candidate).await {
                Ok(canonical) => self.inside(canonical, path),
                Err(_) if meta.file_type().is_symlink() => Err(ToolError::Refused(format!(
                    "`{path}` is a symlink to a missing target"
                ))),
                Err(source) => Err(ToolError::Io {
                    op: "resolve",
                    path: PathBuf::from(path),
                    source,
                }),
            };
        }
        let Some(name) = candidate.file_name().map(ToOwned::to_owned) else {
            return Err(ToolError::failed(format!("`{path}` does not name a file")));
        };
        // Walk up to the nearest existing ancestor; canonicalise and check it, then
        // recreate the missing components (all plain names) below it.
        let mut missing = Vec::new();
        let mut ancestor = candidate.parent().map(Path::to_path_buf);
        let existing = loop {
            let Some(dir) = ancestor else {
                return Err(ToolError::failed(format!(
                    "`{path}` has no existing parent"
                )));
            };
            match tokio::fs::canonicalize(&dir).await {
                Ok(canonical) => break canonical,
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    if let Some(component) = dir.file_name() {
                        missing.push(component.to_owned());
                    }
                    ancestor = dir.parent().map(Path::to_path_buf);
                }
                Err(source) => {
                    return Err(ToolError::Io {
                        op: "resolve",
                        path: dir,
                        source,
                    });
                }
            }
        };
        let mut parent = self.inside(existing, path)?;
        for component in missing.into_iter().rev() {
            parent.push(component);
        }
        tokio::fs::create_dir_all(&parent)
            .await
            .map_err(|source| ToolError::Io {
                op: "create directory",
                path: parent.clone(),
                source,
            })?;
        let parent = tokio::fs::canonicalize(&parent)
            .await
            .map_err(|source| ToolError::Io {
                op: "resolve",
                path: parent.clone(),
                source,
            })?;
        Ok(self.inside(parent, path)?.join(name))
    }

    /// `canonical` relative to the root, for display (`.` for the root itself).
    pub(super) fn display(&self, canonical: &Path) -> String {
        match canonical.strip_prefix(&self.root) {
            Ok(rel) if rel.as_os_str().is_empty() => ".".to_owned(),
            Ok(rel) => rel.display().to_string(),
            Err(_) => canonical.display().to_string(),
        }
    }
}

/// A [`RegularFileError`] as a tool error: a refusal for what is not a
/// regular file, an I/O error naming `op` and `path` otherwise.
pub(super) fn file_error(error: RegularFileError, op: &'static str, path: &str) -> ToolError {
    match error {
        RegularFileError::NotRegular { .. } => ToolError::Refused(error.to_string()),
        RegularFileError::Io(source) => ToolError::Io {
            op,
            path: PathBuf::from(path),
            source,
        },
    }
}

/// Arguments of [`ReadFile`].
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct ReadFileArgs {
    /// Path of the file, relative to the root.
    pub path: String,
}

/// Output of [`ReadFile`].
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
pub struct ReadFileOutput {
    /// Path relative to the root.
    pub path: String,
    /// The content (invalid UTF-8 replaced by U+FFFD).
    pub content: String,
    /// Whether the file was longer than the read limit.
    pub truncated: bool,
}

/// Reads a text file inside the root.
#[derive(Debug, Clone)]
pub struct ReadFile {
    root: Arc<FsRoot>,
}

impl ReadFile {
    /// `read_file` confined to `root`.
    pub fn new(root: FsRoot) -> Self {
        Self {
            root: Arc::new(root),
        }
    }
}

#[async_trait]
impl TypedTool for ReadFile {
    const NAME: &'static str = "read_file";
    type Args = ReadFileArgs;
    type Output = ReadFileOutput;

    fn description(&self) -> String {
        "Reads a text file inside the working directory.".to_owned()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::NONE.with_read_files()
    }

    async fn run(
        &self,
        args: ReadFileArgs,
        _ctx: &ToolContext,
    ) -> Result<ReadFileOutput, ToolError> {
        let path = self.root.resolve_existing(&args.path).await?;
        let (blocking_path, shown) = (path.clone(), args.path.clone());
        let (bytes, truncated) = tokio::task::spawn_blocking(move || {
            read_bounded(&blocking_path, &shown, MAX_READ_BYTES)
        })
        .await
        .map_err(|e| ToolError::failed(format!("reading `{}` failed: {e}", args.path)))?
        .map_err(|e| file_error(e, "read", &args.path))?;
        Ok(ReadFileOutput {
            path: self.root.display(&path),
            content: String::from_utf8_lossy(&bytes).into_owned(),
            truncated,
        })
    }
}

/// Arguments of [`ListDir`].
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct ListDirArgs {
    /// Path of the directory, relative to the root; default `.` (the root).
    #[serde(default)]
    pub path: Option<String>,
}

/// One entry of a [`ListDir`] listing.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
pub struct DirEntry {
    /// File name.
    pub name: String,
    /// `file`, `dir`, `symlink` or `other`.
    pub kind: String,
    /// Size in bytes (of the link itself for symlinks).
    pub size: u64,
}

/// Output of [`ListDir`].
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
pub struct ListDirOutput {
    /// Path relative to the root.
    pub path: String,
    /// Entries sorted by name.
    pub entries: Vec<DirEntry>,
    /// Whether more entries existed than were listed.
    pub truncated: bool,
}

/// Lists a directory inside the root.
#[derive(Debug, Clone)]
pub struct ListDir {
    root: Arc<FsRoot>,
}

impl ListDir {
    /// `list_dir` confined to `root`.
    pub fn new(root: FsRoot) -> Self {
        Self {
            root: Arc::new(root),
        }
    }
}

#[async_trait]
impl TypedTool for ListDir {
    const NAME: &'static str = "list_dir";
    type Args = ListDirArgs;
    type Output = ListDirOutput;

    fn description(&self) -> String {
        "Lists the entries of a directory inside the working directory.".to_owned()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::NONE.with_read_files()
    }

    async fn run(&self, args: ListDirArgs, _ctx: &ToolContext) -> Result<ListDirOutput, ToolError> {
        let shown = args.path.unwrap_or_else(|| ".".to_owned());
        let path = self.root.resolve_existing(&shown).await?;
        let io = |source| ToolError::Io {
            op: "list",
            path: PathBuf::from(&shown),
            source,
        };
        let mut reader = tokio::fs::read_dir(&path).await.map_err(io)?;
        let mut entries = Vec::new();
        let mut truncated = false;
        while let Some(entry) = reader.next_entry().await.map_err(io)? {
            if entries.len() == MAX_DIR_ENTRIES {
                truncated = true;
                break;
            }
            let meta = entry.metadata().await.map_err(io)?;
            let kind = if meta.is_symlink() {
                "symlink"
            } else if meta.is_dir() {
                "dir"
            } else if meta.is_file() {
                "file"
            } else {
                "other"
            };
            entries.push(DirEntry {
                name: entry.file_name().to_string_lossy().into_owned(),
                kind: kind.to_owned(),
                size: meta.len(),
            });
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(ListDirOutput {
            path: self.root.display(&path),
            entries,
            truncated,
        })
    }
}

/// Arguments of [`WriteFile`].
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct WriteFileArgs {
    /// Path of the file, relative to the root; missing directories are created.
    pub path: String,
    /// The text to write.
    pub content: String,
    /// Append instead of replacing the file.
    #[serde(default)]
    pub append: bool,
}

/// Output of [`WriteFile`].
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
pub struct WriteFileOutput {
    /// Path relative to the root.
    pub path: String,
    /// Bytes written.
    pub bytes_written: usize,
}

/// Writes a text file inside the root.
#[derive(Debug, Clone)]
pub struct WriteFile {
    root: Arc<FsRoot>,
}

impl WriteFile {
    /// `write_file` confined to `root`.
    pub fn new(root: FsRoot) -> Self {
        Self {
            root: Arc::new(root),
        }
    }
}

#[async_trait]
impl TypedTool for WriteFile {
    const NAME: &'static str = "write_file";
    type Args = WriteFileArgs;
    type Output = WriteFileOutput;

    fn description(&self) -> String {
        "Writes (or appends to) a text file inside the working directory.".to_owned()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::NONE.with_write_files()
    }

    async fn run(
        &self,
        args: WriteFileArgs,
        ctx: &ToolContext,
    ) -> Result<WriteFileOutput, ToolError> {
        if !ctx.granted.write_files {
            return Err(ToolError::Refused(
                "writing files needs the `write_files` capability".to_owned(),
            ));
        }
        let path = self.root.resolve_for_write(&args.path).await?;
        let (blocking_path, shown) = (path.clone(), args.path.clone());
        let (content, append) = (args.content.clone(), args.append);
        tokio::task::spawn_blocking(move || {
            let mut file = open_regular(
                &blocking_path,
                &shown,
                std::fs::OpenOptions::new()
                    .create(true)
                    .write(true)
                    .append(append)
                    .truncate(!append),
            )?;
            file.write_all(content.as_bytes())?;
            file.flush()?;
            Ok::<_, RegularFileError>(())
        })
        .await
        .map_err(|e| ToolError::failed(format!("writing `{}` failed: {e}", args.path)))?
        .map_err(|e| file_error(e, "write", &args.path))?;
        Ok(WriteFileOutput {
            path: self.root.display(&path),
            bytes_written: args.content.len(),
        })
    }
}
