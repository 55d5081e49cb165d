//! `agentry ingest`: chunk, embed and index documents into the project's memory.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;

use super::memory_dir::MemoryArgs;

/// File extensions ingested when a folder is given.
const TEXT_EXTENSIONS: &[&str] = &["md", "markdown", "txt", "rst", "text"];

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Files or folders (folders are searched for .md, .markdown, .txt, .rst files).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    memory: MemoryArgs,
}

pub async fn run(args: IngestArgs) -> anyhow::Result<ExitCode> {
    let mut files = Vec::new();
    for path in &args.paths {
        collect(path, &mut files)?;
    }
    if files.is_empty() {
        bail!(
            "no text files (.{}) found under {}",
            TEXT_EXTENSIONS.join(", ."),
            args.paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let memory = args.memory.open().await?;
    let (mut chunks, mut unchanged) = (0, 0);
    for file in &files {
        let report = memory
            .documents
            .ingest_file(file)
            .await
            .with_context(|| format!("ingesting {}", file.display()))?;
        if report.unchanged {
            unchanged += 1;
            outln!("{}: unchanged", report.source);
        } else {
            chunks += report.chunks;
            outln!("{}: {} chunks", report.source, report.chunks);
        }
    }
    outln!(
        "{} file(s), {} new chunk(s), {} unchanged, collection `{}` in {}",
        files.len(),
        chunks,
        unchanged,
        args.memory.collection,
        args.memory.place()
    );
    Ok(ExitCode::SUCCESS)
}

/// Adds `path` (a file) or the text files under it (a folder, recursively, hidden entries and
/// symlinked folders skipped, sorted) to `files`.
pub(super) fn collect(path: &Path, files: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if meta.is_file() {
        files.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("cannot list {}", path.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            !p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'))
        })
        .collect();
    entries.sort();
    for entry in entries {
        // Symlinked folders are not followed (a link loop would never end).
        let link = std::fs::symlink_metadata(&entry).is_ok_and(|m| m.file_type().is_symlink());
        if entry.is_dir() {
            if !link {
                collect(&entry, files)?;
            }
        } else if entry
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| TEXT_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        {
            files.push(entry);
        }
    }
    Ok(())
}
