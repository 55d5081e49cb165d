//! The memory commands on both stores: `ingest` and `recall` with `--memory-url`,
//! `agentry memory list / export / import / migrate`, and a workflow whose memory
//! is put on the server with `run --memory-url`. The server comes from
//! `QDRANT_URL` (set by `make test`); without it the server halves are skipped,
//! saying so, unless `AGENTRY_REQUIRE_QDRANT` asks for them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn agentry(cwd: &Path, args: &[&str]) -> (Output, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_agentry"))
        .args(args)
        .current_dir(cwd)
        .env_remove("RUST_LOG")
        .output()
        .expect("run agentry");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stdout, stderr)
}

/// Runs `agentry args` in `cwd` and returns stdout; fails the test on a non-zero exit.
fn ok(cwd: &Path, args: &[&str]) -> String {
    let (out, stdout, stderr) = agentry(cwd, args);
    assert!(out.status.success(), "agentry {args:?} failed:\n{stderr}");
    stdout
}

/// The server URL, or `None` (announced) when none is set and none is required.
fn server_url(test: &str) -> Option<String> {
    let url = std::env::var("QDRANT_URL").ok().filter(|u| !u.is_empty());
    let required = std::env::var("AGENTRY_REQUIRE_QDRANT").is_ok_and(|v| v.trim() == "1");
    if url.is_none() {
        assert!(
            !required,
            "AGENTRY_REQUIRE_QDRANT=1 but QDRANT_URL is not set: {test}"
        );
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "{test}: QDRANT_URL is not set: the server half was NOT run"
        );
    }
    url
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{prefix}_{}_{nanos}", std::process::id())
}

fn handbook(dir: &Path) -> PathBuf {
    let docs = dir.join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::write(
        docs.join("deploy.md"),
        "# Deploys\n\nThe deploy key lives in vault/prod/deploy and rotates every month.\n",
    )
    .unwrap();
    std::fs::write(
        docs.join("holidays.md"),
        "# Holidays\n\nThe office closes on the first Monday of August.\n",
    )
    .unwrap();
    std::fs::write(
        docs.join("lunch.md"),
        "# Lunch\n\nLunch is served at noon on the third floor.\n",
    )
    .unwrap();
    docs
}

/// The source of the top document `recall` finds for `query` in `store_args`.
fn top_source(cwd: &Path, query: &str, store_args: &[&str]) -> String {
    let mut args = vec!["recall", query, "-k", "1", "--json"];
    args.extend_from_slice(store_args);
    let stdout = ok(cwd, &args);
    let hits: serde_json::Value = serde_json::from_str(&stdout).expect(&stdout);
    hits["documents"][0]["source"]
        .as_str()
        .unwrap_or_else(|| panic!("no document found: {stdout}"))
        .to_string()
}

#[test]
fn export_and_import_move_a_memory_folder_and_list_shows_it() {
    let dir = tempfile::tempdir().unwrap();
    let docs = handbook(dir.path());
    ok(
        dir.path(),
        &[
            "ingest",
            docs.to_str().unwrap(),
            "--memory",
            "a",
            "--collection",
            "handbook",
        ],
    );
    let listed = ok(dir.path(), &["memory", "list", "--memory", "a"]);
    assert!(
        listed.contains("handbook\t3 points\tdense 384 + sparse"),
        "{listed}"
    );

    ok(
        dir.path(),
        &["memory", "export", "backup.jsonl", "--memory", "a"],
    );
    let export = std::fs::read_to_string(dir.path().join("backup.jsonl")).unwrap();
    assert!(export.starts_with(r#"{"format":"agentry-memory-export","version":1}"#));
    ok(
        dir.path(),
        &["memory", "import", "backup.jsonl", "--memory", "b"],
    );
    let listed = ok(dir.path(), &["memory", "list", "--memory", "b"]);
    assert!(listed.contains("handbook\t3 points"), "{listed}");
    for (query, source) in [
        ("where is the deploy key kept?", "deploy.md"),
        ("when does the office close", "holidays.md"),
    ] {
        let there = top_source(
            dir.path(),
            query,
            &["--memory", "b", "--collection", "handbook"],
        );
        assert!(there.ends_with(source), "{query}: {there}");
    }
}

#[test]
fn bad_memory_arguments_and_files_exit_2_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &["memory", "import", "missing.jsonl", "--memory", "m"],
            "cannot read missing.jsonl",
        ),
        (
            &["memory", "import", "bad.jsonl", "--memory", "m"],
            "bad.jsonl, line 1",
        ),
        (
            &["memory", "migrate", "--from", "m", "--to", "m"],
            "the same store",
        ),
        (
            &["memory", "migrate", "--from", "nowhere", "--to", "n"],
            "no such memory folder",
        ),
        (
            &[
                "memory",
                "export",
                "out.jsonl",
                "--memory",
                "m",
                "--collection",
                "nope",
            ],
            "--collection nope: no such collection",
        ),
        (
            &[
                "memory",
                "migrate",
                "--from",
                "m",
                "--to",
                "n",
                "--to-api-key-env",
                "K",
            ],
            "keys are for servers",
        ),
        (&["memory", "drop", "notes", "--memory", "m"], "--yes"),
    ];
    std::fs::write(dir.path().join("bad.jsonl"), "hello\n").unwrap();
    std::fs::create_dir_all(dir.path().join("m")).unwrap();
    for (args, expected) in cases {
        let (out, _, stderr) = agentry(dir.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(expected),
            "{args:?}: expected {expected:?} in {stderr}"
        );
    }
    assert!(!dir.path().join("out.jsonl").exists());
    assert!(
        !dir.path().join("n").exists(),
        "nothing was created at --to"
    );
    // A key variable that is named must be set.
    let (out, _, stderr) = agentry(
        dir.path(),
        &[
            "memory",
            "list",
            "--memory-url",
            "http://127.0.0.1:9",
            "--memory-api-key-env",
            "AGENTRY_TEST_UNSET_KEY",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("AGENTRY_TEST_UNSET_KEY is not set"),
        "{stderr}"
    );
    // A workflow run is refused before its model loads.
    let brief =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/workflows/research-brief.yaml");
    let (out, _, stderr) = agentry(
        dir.path(),
        &[
            "run",
            brief.to_str().unwrap(),
            "--memory-url",
            "http://127.0.0.1:9",
            "--memory-api-key-env",
            "AGENTRY_TEST_UNSET_KEY",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("AGENTRY_TEST_UNSET_KEY is not set"),
        "{stderr}"
    );
    // --memory and --memory-url are one or the other.
    let (out, _, stderr) = agentry(
        dir.path(),
        &[
            "recall",
            "x",
            "--memory",
            "m",
            "--memory-url",
            "http://127.0.0.1:9",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cannot be used with"), "{stderr}");
}

#[test]
fn ingest_recall_and_migrate_work_the_same_on_the_server() {
    let Some(url) = server_url("cli_memory::server") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let docs = handbook(dir.path());
    let direct = unique("agentry_cli_direct");
    let moved = unique("agentry_cli_moved");
    // Ingest straight into the server; recall from it.
    ok(
        dir.path(),
        &[
            "ingest",
            docs.to_str().unwrap(),
            "--memory-url",
            &url,
            "--collection",
            &direct,
        ],
    );
    let server = [
        "--memory-url",
        url.as_str(),
        "--collection",
        direct.as_str(),
    ];
    assert!(
        top_source(dir.path(), "where is the deploy key kept?", &server).ends_with("deploy.md")
    );
    // The embedded store, then migrated up: the server answers like the folder.
    ok(
        dir.path(),
        &[
            "ingest",
            docs.to_str().unwrap(),
            "--memory",
            "local",
            "--collection",
            &moved,
        ],
    );
    ok(
        dir.path(),
        &[
            "memory",
            "migrate",
            "--from",
            "local",
            "--to",
            &url,
            "--collection",
            &moved,
        ],
    );
    let listed = ok(dir.path(), &["memory", "list", "--memory-url", &url]);
    assert!(listed.contains(&format!("{moved}\t3 points")), "{listed}");
    for query in [
        "where is the deploy key kept?",
        "when does the office close",
        "lunch",
    ] {
        let local = top_source(
            dir.path(),
            query,
            &["--memory", "local", "--collection", &moved],
        );
        let up = top_source(
            dir.path(),
            query,
            &["--memory-url", &url, "--collection", &moved],
        );
        assert_eq!(local, up, "{query}");
    }
    // And back down to a new folder.
    ok(
        dir.path(),
        &[
            "memory",
            "migrate",
            "--from",
            &url,
            "--to",
            "down",
            "--collection",
            &moved,
        ],
    );
    let listed = ok(dir.path(), &["memory", "list", "--memory", "down"]);
    assert!(listed.contains(&format!("{moved}\t3 points")), "{listed}");
    drop_collections(dir.path(), &url, &[&direct, &moved]);
}

/// Drops the test's collections from the server.
fn drop_collections(cwd: &Path, url: &str, names: &[&str]) {
    let mut args = vec!["memory", "drop", "--memory-url", url, "--yes"];
    args.extend_from_slice(names);
    ok(cwd, &args);
    let listed = ok(cwd, &["memory", "list", "--memory-url", url]);
    for name in names {
        assert!(!listed.contains(name), "{name} was dropped: {listed}");
    }
}

#[test]
fn a_workflow_keeps_its_memory_on_the_server_with_run_memory_url() {
    let Some(url) = server_url("cli_memory::workflow") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let file = repo.join("examples/workflows/research-brief.yaml");
    let stdout = ok(
        dir.path(),
        &[
            "run",
            file.to_str().unwrap(),
            "--input",
            "topic=production deploys",
            "--memory-url",
            &url,
            "--json",
        ],
    );
    let result: serde_json::Value = serde_json::from_str(&stdout).expect(&stdout);
    assert!(
        result["outputs"]["facts"]
            .as_array()
            .is_some_and(|f| !f.is_empty()),
        "{result}"
    );
    // The documents went to the server, not to a folder.
    assert!(!dir.path().join(".agentry/memory").exists());
    let listed = ok(dir.path(), &["memory", "list", "--memory-url", &url]);
    assert!(listed.contains("handbook\t"), "{listed}");
    drop_collections(dir.path(), &url, &["handbook"]);
    // A workflow without a `memory` section cannot be put on a server.
    let plain = repo.join("examples/workflows/triage.yaml");
    let (out, _, stderr) = agentry(
        dir.path(),
        &["run", plain.to_str().unwrap(), "--memory-url", &url],
    );
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("has no `memory` section"), "{stderr}");
}

/// `AGENTRY_MEMORY_DURABILITY` sets the embedded store's durability for every command
/// that opens the folder; a value that is not a setting is an error naming the variable.
#[test]
fn the_memory_durability_comes_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let run = |value: &str| {
        Command::new(env!("CARGO_BIN_EXE_agentry"))
            .args(["memory", "list", "--memory", "m"])
            .current_dir(dir.path())
            .env_remove("RUST_LOG")
            .env("AGENTRY_MEMORY_DURABILITY", value)
            .output()
            .expect("run agentry")
    };
    let power = run("power");
    assert!(
        power.status.success(),
        "{}",
        String::from_utf8_lossy(&power.stderr)
    );
    let bad = run("disk");
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success());
    assert!(stderr.contains("AGENTRY_MEMORY_DURABILITY"), "{stderr}");
    assert!(stderr.contains("`process` or `power`"), "{stderr}");
}
