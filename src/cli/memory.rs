//! `agentry memory`: list a store's collections, export, import and drop them, and
//! migrate them between the embedded store and a Qdrant server (vectors and
//! payloads as stored: nothing is embedded again).

use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use agentry_memory::transfer::write_export_header;
use agentry_memory::{VectorStore, copy_collection, export_collection, import_collections};
use anyhow::Context;
use clap::{Args, Subcommand};

use super::memory_dir::{MemoryPlace, StoreArgs};

/// Exit code: bad arguments or input (nothing was written).
const EXIT_INVALID: u8 = 2;

#[derive(Debug, Subcommand)]
pub enum MemoryCommand {
    /// The collections of a store, with their points and shape.
    List(ListArgs),
    /// Write collections (vectors, payloads, shape) to a JSON Lines file.
    Export(ExportArgs),
    /// Read an export into a store (collections are created with their shape).
    Import(ImportArgs),
    /// Delete collections and all their points (asks for --yes).
    Drop(DropArgs),
    /// Copy collections from one store to another, e.g. the embedded store to a
    /// Qdrant server (a folder, or an http:// or https:// URL, on either side).
    Migrate(MigrateArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The file to write (`-` for stdout).
    file: PathBuf,
    /// A collection to export (repeatable; default: all of them).
    #[arg(long = "collection", value_name = "NAME")]
    collections: Vec<String>,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The export file to read (`-` for stdin).
    file: PathBuf,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct DropArgs {
    /// The collections to delete.
    #[arg(required = true, value_name = "NAME")]
    collections: Vec<String>,
    /// Yes, delete them and every point in them.
    #[arg(long)]
    yes: bool,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The store to copy from: a memory folder, or a Qdrant server's gRPC URL.
    #[arg(long, value_name = "DIR|URL")]
    from: String,
    /// The store to copy to: a memory folder, or a Qdrant server's gRPC URL.
    #[arg(long, value_name = "DIR|URL")]
    to: String,
    /// A collection to copy (repeatable; default: all of them).
    #[arg(long = "collection", value_name = "NAME")]
    collections: Vec<String>,
    /// The environment variable with the API key of the --from server.
    #[arg(long, value_name = "VAR")]
    from_api_key_env: Option<String>,
    /// The environment variable with the API key of the --to server.
    #[arg(long, value_name = "VAR")]
    to_api_key_env: Option<String>,
}

pub async fn run(command: MemoryCommand) -> anyhow::Result<ExitCode> {
    match command {
        MemoryCommand::List(args) => list(args).await,
        MemoryCommand::Export(args) => export(args).await,
        MemoryCommand::Import(args) => import(args).await,
        MemoryCommand::Drop(args) => drop_collections(args).await,
        MemoryCommand::Migrate(args) => migrate(args).await,
    }
}

async fn drop_collections(args: DropArgs) -> anyhow::Result<ExitCode> {
    let place = args.store.place();
    if !args.yes {
        errln!(
            "error: this deletes {} and every point in it from {place}; add --yes to go on",
            args.collections.join(", ")
        );
        return Ok(ExitCode::from(EXIT_INVALID));
    }
    let store = place.open_store().await?;
    let names = match chosen(store.as_ref(), &place, &args.collections).await? {
        Ok(names) => names,
        Err(message) => {
            errln!("error: {message}");
            return Ok(ExitCode::from(EXIT_INVALID));
        }
    };
    for name in &names {
        let points = store.count(name, None).await?;
        store
            .drop_collection(name)
            .await
            .with_context(|| format!("deleting {name} from {place}"))?;
        errln!("deleted {name} ({points} points) from {place}");
    }
    Ok(ExitCode::SUCCESS)
}

async fn list(args: ListArgs) -> anyhow::Result<ExitCode> {
    let place = args.store.place();
    let store = place.open_store().await?;
    let names = store.collections().await?;
    if names.is_empty() {
        outln!("no collections in {place}");
    }
    for name in names {
        let points = store.count(&name, None).await?;
        let shape = match store.describe(&name).await? {
            Some(spec) => {
                let sparse = if spec.sparse { " + sparse" } else { "" };
                format!("dense {}{sparse}", spec.dense_size)
            }
            None => "gone".into(),
        };
        outln!("{name}\t{points} points\t{shape}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The collections to move: those named (each must exist), else all.
async fn chosen(
    store: &dyn VectorStore,
    place: &MemoryPlace,
    named: &[String],
) -> anyhow::Result<Result<Vec<String>, String>> {
    let all = store.collections().await?;
    if named.is_empty() {
        return Ok(Ok(all));
    }
    for name in named {
        if !all.contains(name) {
            return Ok(Err(format!(
                "--collection {name}: no such collection in {place} (it has: {})",
                if all.is_empty() {
                    "none".to_string()
                } else {
                    all.join(", ")
                }
            )));
        }
    }
    Ok(Ok(named.to_vec()))
}

async fn export(args: ExportArgs) -> anyhow::Result<ExitCode> {
    let place = args.store.place();
    let store = place.open_store().await?;
    let names = match chosen(store.as_ref(), &place, &args.collections).await? {
        Ok(names) => names,
        Err(message) => {
            errln!("error: {message}");
            return Ok(ExitCode::from(EXIT_INVALID));
        }
    };
    let to_stdout = args.file.as_os_str() == "-";
    // A file is written beside its destination and renamed at the end: an
    // export that fails leaves no half-written file behind.
    let (mut out, temp): (Box<dyn Write>, Option<tempfile::NamedTempFile>) = if to_stdout {
        (Box::new(BufWriter::new(std::io::stdout())), None)
    } else {
        let dir = parent_dir(&args.file);
        let temp = tempfile::NamedTempFile::new_in(dir)
            .with_context(|| format!("creating a file in {}", dir.display()))?;
        let file = temp.reopen().context("opening the export file")?;
        (Box::new(BufWriter::new(file)), Some(temp))
    };
    write_export_header(out.as_mut())?;
    let mut total = 0;
    for name in &names {
        let report = export_collection(store.as_ref(), name, out.as_mut())
            .await
            .with_context(|| format!("exporting {name} from {place}"))?;
        errln!("exported {}: {} points", report.collection, report.points);
        total += report.points;
    }
    out.flush().context("writing the export")?;
    drop(out);
    if let Some(temp) = temp {
        temp.persist(&args.file)
            .with_context(|| format!("writing {}", args.file.display()))?;
    }
    errln!(
        "{} collection(s), {total} points from {place} to {}",
        names.len(),
        args.file.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn parent_dir(file: &Path) -> &Path {
    match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

async fn import(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let place = args.store.place();
    let name = args.file.display().to_string();
    let mut input: Box<dyn std::io::BufRead> = if args.file.as_os_str() == "-" {
        Box::new(BufReader::new(std::io::stdin()))
    } else {
        // A regular file only, opened non-blocking: a FIFO or device named here is refused
        // at once instead of hanging the import (lines are capped by the reader).
        match agentry_model::file::open_regular(&args.file) {
            Ok(f) => Box::new(BufReader::new(f)),
            Err(e) => {
                errln!("error: cannot read {name}: {e}");
                return Ok(ExitCode::from(EXIT_INVALID));
            }
        }
    };
    let store = place.open_store().await?;
    match import_collections(store.as_ref(), input.as_mut(), &name).await {
        Ok(reports) => {
            for r in &reports {
                errln!(
                    "imported {}: {} points into {place}",
                    r.collection,
                    r.points
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ agentry_memory::MemoryError::Invalid { .. }) => {
            errln!("error: {e}");
            errln!(
                "(the points before that line were imported; importing the fixed file \
                 again rewrites them, as ids are stable)"
            );
            Ok(ExitCode::from(EXIT_INVALID))
        }
        Err(e) => Err(e).with_context(|| format!("importing {name} into {place}")),
    }
}

fn with_key(place: MemoryPlace, key_env: Option<String>) -> Result<MemoryPlace, String> {
    match (place, key_env) {
        (MemoryPlace::Server { url, .. }, key) => Ok(MemoryPlace::Server {
            url,
            api_key_env: key,
        }),
        (MemoryPlace::Folder(path), Some(_)) => Err(format!(
            "an API key variable was given for the folder {}; keys are for servers",
            path.display()
        )),
        (folder, None) => Ok(folder),
    }
}

async fn migrate(args: MigrateArgs) -> anyhow::Result<ExitCode> {
    let places = with_key(MemoryPlace::parse(&args.from), args.from_api_key_env)
        .and_then(|from| {
            Ok((
                from,
                with_key(MemoryPlace::parse(&args.to), args.to_api_key_env)?,
            ))
        })
        .and_then(|(from, to)| {
            if from == to {
                Err(format!("--from and --to are the same store ({from})"))
            } else {
                Ok((from, to))
            }
        });
    let (from, to) = match places {
        Ok(places) => places,
        Err(message) => {
            errln!("error: {message}");
            return Ok(ExitCode::from(EXIT_INVALID));
        }
    };
    if let MemoryPlace::Folder(path) = &from
        && !path.is_dir()
    {
        errln!("error: --from {}: no such memory folder", path.display());
        return Ok(ExitCode::from(EXIT_INVALID));
    }
    let source = from.open_store().await?;
    let names = match chosen(source.as_ref(), &from, &args.collections).await? {
        Ok(names) => names,
        Err(message) => {
            errln!("error: {message}");
            return Ok(ExitCode::from(EXIT_INVALID));
        }
    };
    let target = to.open_store().await?;
    for name in &names {
        let report = copy_collection(source.as_ref(), target.as_ref(), name)
            .await
            .with_context(|| format!("copying {name} from {from} to {to}"))?;
        let there = target.count(name, None).await?;
        errln!(
            "migrated {}: {} points copied; {to} now holds {there}",
            report.collection,
            report.points
        );
    }
    errln!("{} collection(s) from {from} to {to}", names.len());
    Ok(ExitCode::SUCCESS)
}
