//! The embedded store's recovery log at work on the real engine: log first, then apply;
//! a damaged record moved aside with every valid record after it replayed; a replay
//! failure reported, the log kept.

use serde_json::json;

use super::*;

const DIM: usize = 4;
const NAME: &str = "notes";

fn point(n: u128, dense: Vec<f32>) -> Point {
    let mut payload = Payload::new();
    payload.insert("n".into(), json!(n as u64));
    Point {
        id: uuid::Uuid::from_u128(n),
        dense,
        sparse: None,
        payload,
    }
}

fn unit(n: u128) -> Point {
    point(n, vec![1.0, n as f32, 0.5, 0.25])
}

/// A store at `root` with the collection, closed again (flushed: its log is empty).
async fn make_collection(root: &Path) {
    let store = EdgeStore::open(root).expect("open");
    store
        .ensure_collection(&CollectionSpec::new(NAME, DIM))
        .await
        .expect("ensure");
    drop(store);
}

fn log_path(root: &Path) -> PathBuf {
    root.join(NAME).join(RECOVERY_LOG)
}

/// Appends `ops` to the closed collection's log, as a process that was killed after
/// logging them (and before flushing) would have left it.
fn log_as_if_killed(root: &Path, ops: &[LogOp]) {
    let (mut log, pending) =
        RecoveryLog::open(log_path(root), Durability::Process).expect("open log");
    assert!(pending.is_empty());
    for op in ops {
        log.append(&encode(op)).expect("append");
    }
}

fn quarantined(root: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(root.join(NAME))
        .expect("list")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().contains(".damaged-"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_whose_log_append_fails_is_not_applied() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = EdgeStore::open(dir.path()).expect("open");
    store
        .ensure_collection(&CollectionSpec::new(NAME, DIM))
        .await
        .expect("ensure");
    let collection = store.inner.get(NAME).expect("collection");
    lock(&collection.log).fail_next_append = true;
    let error = store
        .upsert(NAME, vec![unit(1)])
        .await
        .expect_err("the log refused the write");
    assert!(
        error.to_string().contains("append to recovery log"),
        "{error}"
    );
    assert_eq!(
        store.count(NAME, None).await.expect("count"),
        0,
        "a write that is not in the log is not in the shard either"
    );
    store.upsert(NAME, vec![unit(2)]).await.expect("upsert");
    assert_eq!(store.count(NAME, None).await.expect("count"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_the_shard_refuses_is_cut_from_the_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = EdgeStore::open(dir.path()).expect("open");
    store
        .ensure_collection(&CollectionSpec::new(NAME, DIM))
        .await
        .expect("ensure");
    store.upsert(NAME, vec![unit(1)]).await.expect("upsert");
    let before = std::fs::metadata(log_path(dir.path())).expect("log").len();
    store
        .upsert(NAME, vec![point(2, vec![1.0, 2.0, 3.0])])
        .await
        .expect_err("a 3-d vector in a 4-d collection");
    let after = std::fs::metadata(log_path(dir.path())).expect("log").len();
    assert_eq!(after, before, "the refused write left the log as it was");
    drop(store);
    let store = EdgeStore::open(dir.path()).expect("reopen");
    assert_eq!(store.count(NAME, None).await.expect("count"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_record_is_moved_aside_and_the_records_after_it_replayed() {
    let dir = tempfile::tempdir().expect("tempdir");
    make_collection(dir.path()).await;
    log_as_if_killed(
        dir.path(),
        &[
            LogOp::Upsert(vec![unit(1)]),
            LogOp::Upsert(vec![unit(2)]),
            LogOp::Upsert(vec![unit(3)]),
        ],
    );
    // Damage the second record's body.
    let path = log_path(dir.path());
    let mut bytes = std::fs::read(&path).expect("read");
    let first = 16 + u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as usize;
    bytes[first + 16 + 3] ^= 0x55;
    std::fs::write(&path, &bytes).expect("write");

    let store = EdgeStore::open(dir.path()).expect("reopen");
    assert_eq!(store.count(NAME, None).await.expect("count"), 2);
    let ids: Vec<PointId> = store
        .retrieve(NAME, &[uuid::Uuid::from_u128(1), uuid::Uuid::from_u128(3)])
        .await
        .expect("retrieve")
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(
        ids.len(),
        2,
        "the records before and after the damage: {ids:?}"
    );
    let moved = quarantined(dir.path());
    assert_eq!(moved.len(), 1, "{moved:?}");
    assert!(
        !std::fs::read(&moved[0]).expect("read").is_empty(),
        "the quarantine file holds the damaged bytes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operation_that_fails_to_replay_is_an_error_and_the_log_is_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    make_collection(dir.path()).await;
    log_as_if_killed(
        dir.path(),
        &[
            LogOp::Upsert(vec![unit(1)]),
            LogOp::Upsert(vec![point(2, vec![1.0, 2.0, 3.0])]),
        ],
    );
    let path = log_path(dir.path());
    let logged = std::fs::read(&path).expect("read");

    let store = EdgeStore::open(dir.path()).expect("reopen");
    let error = store
        .count(NAME, None)
        .await
        .expect_err("the second operation cannot be replayed");
    let message = error.to_string();
    assert!(
        matches!(
            &error,
            MemoryError::Replay {
                operation: 2,
                operations: 2,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(message.contains(&path.display().to_string()), "{message}");
    drop(store);
    assert_eq!(
        std::fs::read(&path).expect("read"),
        logged,
        "the log is kept as it was"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn power_durability_acknowledges_logged_writes_that_a_reopen_replays() {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = EdgeStoreOptions {
        durability: Durability::Power,
        // No background flush empties the log while the test reads it.
        flush_interval: Duration::from_secs(3600),
        ..EdgeStoreOptions::default()
    };
    let store = EdgeStore::open_with(dir.path(), options.clone()).expect("open");
    store
        .ensure_collection(&CollectionSpec::new(NAME, DIM))
        .await
        .expect("ensure");
    store
        .upsert(NAME, vec![unit(1), unit(2)])
        .await
        .expect("upsert");
    // Acknowledged: the write is in the log on disk before any flush.
    let (_log, logged) =
        RecoveryLog::open(log_path(dir.path()), Durability::Power).expect("read the log");
    assert_eq!(logged, vec![LogOp::Upsert(vec![unit(1), unit(2)])]);
    drop(store);
    let store = EdgeStore::open_with(dir.path(), options).expect("reopen");
    assert_eq!(store.count(NAME, None).await.expect("count"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_collection_outside_the_store_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A collection of another store next to this one.
    make_collection(&dir.path().join("other")).await;
    let store = EdgeStore::open(dir.path().join("mine")).expect("open");
    let error = store
        .drop_collection("../other/notes")
        .await
        .expect_err("a name that leaves the store");
    assert!(error.to_string().contains("collection name"), "{error}");
    assert!(
        dir.path()
            .join("other")
            .join(NAME)
            .join(CONFIG_FILE)
            .is_file(),
        "the other store's collection is still there"
    );
}
