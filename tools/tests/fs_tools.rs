//! File tools confined to a root: reads, listings and writes inside it work; `..`,
//! absolute paths outside and symlinks leading out are refused.

use std::path::Path;

use agentry_tools::builtin::FsRoot;
use agentry_tools::{Capabilities, Policy, ToolCall, ToolRegistry, ToolResult, ToolSet};
use serde_json::{Value, json};
use tempfile::TempDir;

struct Fixture {
    /// Holds `root/` (the confined root) and `outside/` next to it.
    dir: TempDir,
    registry: ToolRegistry,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let root = dir.path().join("root");
    let outside = dir.path().join("outside");
    for d in [&root, &root.join("sub"), &outside] {
        assert!(std::fs::create_dir_all(d).is_ok());
    }
    assert!(std::fs::write(root.join("notes.txt"), "inside the root").is_ok());
    assert!(std::fs::write(outside.join("secret.txt"), "top secret").is_ok());
    let fs_root = FsRoot::new(&root).expect("the root exists");
    let mut registry = ToolRegistry::new();
    registry
        .register_all(fs_root.tools())
        .expect("file tools register");
    Fixture { dir, registry }
}

/// Reading and writing granted, and writes pre-approved (approval is tested elsewhere).
fn rw() -> Policy {
    Policy::default()
        .with_capabilities(Capabilities::NONE.with_read_files().with_write_files())
        .approve(&ToolSet::named(["write_file"]))
}

async fn run(f: &Fixture, tool: &str, args: Value, policy: &Policy) -> ToolResult {
    f.registry
        .call(&ToolCall::new("c", tool, args), policy)
        .await
}

fn symlink(target: &Path, link: &Path) {
    assert!(std::os::unix::fs::symlink(target, link).is_ok());
}

#[tokio::test]
async fn read_list_and_write_inside_the_root() {
    let f = fixture();
    let read = run(&f, "read_file", json!({"path": "notes.txt"}), &rw()).await;
    assert_eq!(
        read.outcome
            .as_ref()
            .ok()
            .map(|o| o.value["content"].clone()),
        Some(json!("inside the root"))
    );

    let write = run(
        &f,
        "write_file",
        json!({"path": "new/dir/out.txt", "content": "hello"}),
        &rw(),
    )
    .await;
    let observed: serde_json::Value = serde_json::from_str(&write.observation()).unwrap();
    assert_eq!(
        observed,
        json!({"bytes_written": 5, "path": "new/dir/out.txt"})
    );
    let append = run(
        &f,
        "write_file",
        json!({"path": "new/dir/out.txt", "content": "!", "append": true}),
        &rw(),
    )
    .await;
    assert!(!append.is_error(), "{append:?}");
    let on_disk =
        std::fs::read_to_string(f.dir.path().join("root/new/dir/out.txt")).unwrap_or_default();
    assert_eq!(on_disk, "hello!");

    let list = run(&f, "list_dir", json!({}), &rw()).await;
    let names: Vec<String> = list
        .outcome
        .as_ref()
        .ok()
        .and_then(|o| o.value["entries"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .map(|e| {
            format!(
                "{}:{}",
                e["name"].as_str().unwrap_or(""),
                e["kind"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(names, ["new:dir", "notes.txt:file", "sub:dir"]);

    let absolute_inside = f.dir.path().join("root/notes.txt");
    let read = run(&f, "read_file", json!({"path": absolute_inside}), &rw()).await;
    assert!(!read.is_error(), "{read:?}");
}

#[tokio::test]
async fn dot_dot_escapes_are_refused() {
    let f = fixture();
    for path in [
        "../outside/secret.txt",
        "sub/../../outside/secret.txt",
        "sub/..",
    ] {
        let result = run(&f, "read_file", json!({"path": path}), &rw()).await;
        assert!(
            result.observation().contains("contains `..`"),
            "{path}: {result:?}"
        );
    }
    let write = run(
        &f,
        "write_file",
        json!({"path": "../outside/evil.txt", "content": "x"}),
        &rw(),
    )
    .await;
    assert!(write.observation().contains("contains `..`"), "{write:?}");
    assert!(!f.dir.path().join("outside/evil.txt").exists());
    let list = run(&f, "list_dir", json!({"path": ".."}), &rw()).await;
    assert!(list.observation().contains("contains `..`"));
}

#[tokio::test]
async fn absolute_paths_outside_the_root_are_refused() {
    let f = fixture();
    let secret = f.dir.path().join("outside/secret.txt");
    let read = run(&f, "read_file", json!({"path": secret}), &rw()).await;
    assert!(
        read.observation().contains("leads outside the root"),
        "{read:?}"
    );
    let target = f.dir.path().join("outside/new.txt");
    let write = run(
        &f,
        "write_file",
        json!({"path": target, "content": "x"}),
        &rw(),
    )
    .await;
    assert!(
        write.observation().contains("leads outside the root"),
        "{write:?}"
    );
    assert!(!target.exists());
    let list = run(&f, "list_dir", json!({"path": "/"}), &rw()).await;
    assert!(
        list.observation().contains("leads outside the root"),
        "{list:?}"
    );
}

#[tokio::test]
async fn symlinks_leading_outside_are_refused() {
    let f = fixture();
    let root = f.dir.path().join("root");
    let outside = f.dir.path().join("outside");
    symlink(&outside.join("secret.txt"), &root.join("link.txt"));
    symlink(&outside, &root.join("linkdir"));
    symlink(&outside.join("missing.txt"), &root.join("dangling.txt"));
    symlink(&root.join("notes.txt"), &root.join("inner.txt"));

    let read = run(&f, "read_file", json!({"path": "link.txt"}), &rw()).await;
    assert!(
        read.observation().contains("leads outside the root"),
        "{read:?}"
    );
    assert!(!read.observation().contains("top secret"));
    let through_dir = run(
        &f,
        "read_file",
        json!({"path": "linkdir/secret.txt"}),
        &rw(),
    )
    .await;
    assert!(
        through_dir.observation().contains("leads outside the root"),
        "{through_dir:?}"
    );
    let list = run(&f, "list_dir", json!({"path": "linkdir"}), &rw()).await;
    assert!(
        list.observation().contains("leads outside the root"),
        "{list:?}"
    );

    for path in [
        "link.txt",
        "linkdir/new.txt",
        "linkdir/deeper/new.txt",
        "dangling.txt",
    ] {
        let write = run(
            &f,
            "write_file",
            json!({"path": path, "content": "overwritten"}),
            &rw(),
        )
        .await;
        assert!(write.is_error(), "{path}: {write:?}");
        assert!(write.observation().contains("refused"), "{path}: {write:?}");
    }
    assert_eq!(
        std::fs::read_to_string(outside.join("secret.txt")).unwrap_or_default(),
        "top secret"
    );
    assert!(!outside.join("new.txt").exists());
    assert!(!outside.join("deeper").exists());
    assert!(!outside.join("missing.txt").exists());

    // A symlink that stays inside the root is fine.
    let inner = run(&f, "read_file", json!({"path": "inner.txt"}), &rw()).await;
    assert!(!inner.is_error(), "{inner:?}");
}

#[tokio::test]
async fn writing_needs_the_write_capability() {
    let f = fixture();
    let read_only = Policy::default().with_capabilities(Capabilities::NONE.with_read_files());
    let write = run(
        &f,
        "write_file",
        json!({"path": "x.txt", "content": "x"}),
        &read_only,
    )
    .await;
    assert_eq!(
        write.observation(),
        "error: tool `write_file` needs capabilities this agent is not granted: write_files"
    );
    assert!(!f.dir.path().join("root/x.txt").exists());
    let read = run(&f, "read_file", json!({"path": "notes.txt"}), &read_only).await;
    assert!(!read.is_error());
}

#[tokio::test]
async fn missing_files_are_reported() {
    let f = fixture();
    let read = run(&f, "read_file", json!({"path": "nope.txt"}), &rw()).await;
    assert!(read.is_error());
    assert_eq!(
        read.observation(),
        "error: tool `read_file` failed: `nope.txt` does not exist; the folder `.` holds: notes.txt, sub/"
    );
}

#[tokio::test]
async fn a_missing_path_names_what_its_nearest_folder_holds() {
    let f = fixture();
    let root = f.dir.path().join("root");
    assert!(std::fs::write(root.join("sub/trip.md"), "Lisbon").is_ok());
    let listed = run(&f, "list_dir", json!({"path": "./folder/file.txt"}), &rw()).await;
    assert_eq!(
        listed.observation(),
        "error: tool `list_dir` failed: `./folder/file.txt` does not exist; the folder `.` holds: notes.txt, sub/"
    );
    let nested = run(&f, "read_file", json!({"path": "sub/trap.md"}), &rw()).await;
    assert_eq!(
        nested.observation(),
        "error: tool `read_file` failed: `sub/trap.md` does not exist; the folder `sub` holds: trip.md"
    );
    let empty = root.join("empty");
    assert!(std::fs::create_dir(&empty).is_ok());
    let in_empty = run(&f, "read_file", json!({"path": "empty/x"}), &rw()).await;
    assert_eq!(
        in_empty.observation(),
        "error: tool `read_file` failed: `empty/x` does not exist; the folder `empty` is empty"
    );
    // Nothing outside the root is listed, even for an absolute path that leaves it.
    let outside = f.dir.path().join("outside/none.txt");
    let escaped = run(
        &f,
        "read_file",
        json!({"path": outside.to_string_lossy()}),
        &rw(),
    )
    .await;
    assert!(escaped.is_error());
    assert!(!escaped.observation().contains("secret.txt"), "{escaped:?}");
}

#[tokio::test]
async fn a_missing_path_in_a_crowded_folder_names_twenty_entries_then_an_ellipsis() {
    let f = fixture();
    let root = f.dir.path().join("root/crowd");
    assert!(std::fs::create_dir(&root).is_ok());
    for i in 0..25 {
        assert!(std::fs::write(root.join(format!("f{i:02}.txt")), "").is_ok());
    }
    let read = run(&f, "read_file", json!({"path": "crowd/nope"}), &rw()).await;
    let observation = read.observation();
    assert!(observation.contains("f19.txt, …"), "{observation}");
    assert!(!observation.contains("f20.txt"), "{observation}");
}

/// Runs `tool` with a generous external bound: the point is that it ends
/// (the registry's own 30 s timeout is not the answer: it leaves the blocked
/// thread behind, and the process then never exits).
async fn run_bounded(f: &Fixture, tool: &str, args: Value) -> ToolResult {
    tokio::time::timeout(
        std::time::Duration::from_secs(120),
        run(f, tool, args, &rw()),
    )
    .await
    .expect("the call ended")
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success());
}

#[tokio::test]
async fn a_fifo_is_refused_not_waited_on() {
    let f = fixture();
    mkfifo(&f.dir.path().join("root/pipe"));
    symlink(
        &f.dir.path().join("root/pipe"),
        &f.dir.path().join("root/link-to-pipe"),
    );
    for path in ["pipe", "link-to-pipe"] {
        let read = run_bounded(&f, "read_file", json!({"path": path})).await;
        assert!(
            read.observation().contains("is a FIFO, not a regular file"),
            "{read:?}"
        );
        let write = run_bounded(&f, "write_file", json!({"path": path, "content": "x"})).await;
        assert!(
            write
                .observation()
                .contains("is a FIFO, not a regular file"),
            "{write:?}"
        );
    }
}

#[tokio::test]
async fn a_socket_is_refused() {
    let f = fixture();
    let _listener = std::os::unix::net::UnixListener::bind(f.dir.path().join("root/sock"))
        .expect("a unix socket");
    let read = run_bounded(&f, "read_file", json!({"path": "sock"})).await;
    assert!(
        read.observation()
            .contains("is a socket, not a regular file"),
        "{read:?}"
    );
}

#[tokio::test]
async fn a_device_is_refused() {
    // /dev/zero never ends; /dev/null swallows writes. Neither is a file.
    let root = FsRoot::new("/dev").expect("/dev exists");
    let mut registry = ToolRegistry::new();
    registry.register_all(root.tools()).unwrap();
    for (tool, args) in [
        ("read_file", json!({"path": "zero"})),
        ("write_file", json!({"path": "null", "content": "x"})),
    ] {
        let result = tokio::time::timeout(
            std::time::Duration::from_secs(120),
            registry.call(&ToolCall::new("c", tool, args), &rw()),
        )
        .await
        .expect("the call ended");
        assert!(
            result
                .observation()
                .contains("is a character device, not a regular file"),
            "{result:?}"
        );
    }
}

#[tokio::test]
async fn a_file_that_reports_size_zero_is_still_read() {
    // /proc files state size 0 but have content.
    let root = FsRoot::new("/proc/self").expect("/proc/self exists");
    let mut registry = ToolRegistry::new();
    registry.register_all(root.tools()).unwrap();
    let read = registry
        .call(
            &ToolCall::new("c", "read_file", json!({"path": "status"})),
            &rw(),
        )
        .await;
    let content = read
        .outcome
        .as_ref()
        .map(|o| o.value["content"].as_str().unwrap_or("").to_owned())
        .unwrap_or_default();
    assert!(content.contains("Name:"), "{read:?}");
}
