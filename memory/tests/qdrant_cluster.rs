//! A three-node Qdrant cluster on 127.0.0.1, from the real server binary at
//! `../shared/bin/qdrant` next to the workspace (or `QDRANT_BIN`); skipped,
//! with the reason printed, only when that binary is absent.
//!
//! A collection with 2 shards and replication factor 2 takes writes through
//! [`QdrantStore`] while all nodes are up; the node holding the most replicas
//! is killed with SIGKILL; reads and writes go on; the node is restarted on
//! its own storage and catches up; at the end every acknowledged point is on
//! the cluster (count and ids, asked of every node) and both replicas of each
//! shard hold the same number of points. The figures (points written,
//! acknowledged, lost, outage and catch-up times) are printed to stderr.
//!
//! Durability, and why these settings:
//! - every write is `wait=true` (what [`QdrantStore::upsert`] sends): the
//!   server answers only after the operation is applied on the replicas that
//!   count, not merely queued;
//! - `write_consistency_factor` stays 1: a write is acknowledged once one
//!   replica of its shard applied it, and the replicas that failed are marked
//!   dead through consensus and later rebuilt from a live one, so an
//!   acknowledged point is always on a replica that is not dead. With 2 (= the
//!   replication factor) every write to a shard whose other replica is down
//!   fails, and Qdrant 1.18 was seen marking the *live* replicas dead after
//!   such partial writes (tried by hand before writing this test): no writes
//!   during the outage at all.
//! - ordering stays weak (the default): `strong` routes each write through the
//!   shard's leader replica and fails while that replica is the dead one (seen
//!   by hand too); point ids here are written once each, so the order of
//!   concurrent writes to the same point, which `strong` would fix, never
//!   matters.
//!
//! Bounded: the whole scenario runs under a hard timeout, and a guard kills
//! every node it started (SIGKILL) when the test ends, passes or not.

use std::collections::{BTreeSet, HashMap};
use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use agentry_memory::{
    CollectionSpec, Point, PointId, QdrantConfig, QdrantStore, VectorStore, content_id,
};
use qdrant_client::Qdrant;
use qdrant_client::qdrant::{
    self as q, CreateCollectionBuilder, ReplicaState, VectorParamsBuilder,
};

const COLLECTION: &str = "agentry_cluster";
/// The name `QdrantStore` gives the dense vector (its `ensure_collection`
/// refuses the collection if this does not match).
const DENSE: &str = "dense";
const DIM: usize = 8;
const BATCH: usize = 10;
const BATCHES_BEFORE: usize = 30;
const BATCHES_DURING: usize = 20;
/// The node stays down at least this long, writes and reads going on.
const MIN_OUTAGE: Duration = Duration::from_secs(8);
const BATCHES_AFTER: usize = 10;
/// The whole scenario, start to clean-up.
const OVERALL: Duration = Duration::from_secs(240);
/// How long one write or read may be retried (across nodes) before it
/// counts as failed.
const RETRY_FOR: Duration = Duration::from_secs(20);
const READY_WITHIN: Duration = Duration::from_secs(30);
const CATCH_UP_WITHIN: Duration = Duration::from_secs(90);

/// Writes a line straight to stderr, past the test harness's capture, so the
/// figures are in the CI log.
fn report(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn qdrant_binary() -> PathBuf {
    match std::env::var_os("QDRANT_BIN") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/bin/qdrant"),
    }
}

/// A plain HTTP/1.0 GET on 127.0.0.1 (the server then neither keeps the
/// connection nor chunks the body): status and body, `None` on any failure.
async fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()?;
        let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.ok()?;
        let text = String::from_utf8_lossy(&raw);
        let (head, body) = text.split_once("\r\n\r\n")?;
        let status = head.split_whitespace().nth(1)?.parse().ok()?;
        Some((status, body.to_string()))
    };
    tokio::time::timeout(Duration::from_secs(5), exchange)
        .await
        .ok()
        .flatten()
}

/// `n` distinct ports nothing listens on now (all bound at once, then freed).
fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind a free port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("local addr").port())
        .collect()
}

struct Node {
    http: u16,
    grpc: u16,
    p2p: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl Node {
    fn grpc_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.grpc)
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("qdrant.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }
}

/// The cluster's processes and folders; dropping it kills every node.
struct Cluster {
    bin: PathBuf,
    nodes: Vec<Node>,
    _root: tempfile::TempDir,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

impl Cluster {
    fn new(bin: PathBuf, size: usize) -> Self {
        let root = tempfile::tempdir().expect("tempdir");
        let ports = free_ports(size * 3);
        let nodes = (0..size)
            .map(|i| {
                let dir = root.path().join(format!("node{i}"));
                std::fs::create_dir_all(dir.join("storage")).expect("node dir");
                Node {
                    http: ports[i * 3],
                    grpc: ports[i * 3 + 1],
                    p2p: ports[i * 3 + 2],
                    dir,
                    child: None,
                }
            })
            .collect();
        Self {
            bin,
            nodes,
            _root: root,
        }
    }

    /// Starts node `i` on its ports and storage (the first node founds the
    /// cluster, the others join it through the first one's p2p port; on a
    /// restart the node's stored cluster state takes over).
    fn spawn(&mut self, i: usize) {
        let first_p2p = self.nodes[0].p2p;
        let node = &mut self.nodes[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(node.dir.join("qdrant.log"))
            .expect("node log");
        let mut cmd = Command::new(&self.bin);
        cmd.current_dir(&node.dir)
            .env("QDRANT__SERVICE__HOST", "127.0.0.1")
            .env("QDRANT__SERVICE__HTTP_PORT", node.http.to_string())
            .env("QDRANT__SERVICE__GRPC_PORT", node.grpc.to_string())
            .env("QDRANT__CLUSTER__ENABLED", "true")
            .env("QDRANT__CLUSTER__P2P__PORT", node.p2p.to_string())
            .env("QDRANT__STORAGE__STORAGE_PATH", node.dir.join("storage"))
            .env(
                "QDRANT__STORAGE__SNAPSHOTS_PATH",
                node.dir.join("snapshots"),
            )
            .env("QDRANT__TELEMETRY_DISABLED", "true")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log);
        if i > 0 {
            cmd.arg("--bootstrap")
                .arg(format!("http://127.0.0.1:{first_p2p}"));
        }
        cmd.arg("--uri")
            .arg(format!("http://127.0.0.1:{}", node.p2p));
        node.child = Some(cmd.spawn().expect("start qdrant"));
    }

    /// SIGKILL (what `Child::kill` sends on Unix), then reap.
    fn kill(&mut self, i: usize) {
        let mut child = self.nodes[i].child.take().expect("node is running");
        child.kill().expect("SIGKILL");
        let _ = child.wait();
    }

    async fn wait_ready(&mut self, i: usize) {
        let start = Instant::now();
        loop {
            if let Some(child) = self.nodes[i].child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!(
                    "node {i} exited ({status}) before it was ready; its log:\n{}",
                    self.nodes[i].log_tail()
                );
            }
            if let Some((200, _)) = http_get(self.nodes[i].http, "/readyz").await {
                return;
            }
            assert!(
                start.elapsed() < READY_WITHIN,
                "node {i} not ready within {READY_WITHIN:?}; its log:\n{}",
                self.nodes[i].log_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until node 0 sees `n` peers.
    async fn wait_peers(&self, n: usize) {
        let start = Instant::now();
        loop {
            let peers = http_get(self.nodes[0].http, "/cluster")
                .await
                .and_then(|(_, body)| serde_json::from_str::<serde_json::Value>(&body).ok())
                .and_then(|v| v["result"]["peers"].as_object().map(|p| p.len()));
            if peers == Some(n) {
                return;
            }
            assert!(
                start.elapsed() < READY_WITHIN,
                "the cluster did not reach {n} peers within {READY_WITHIN:?} (saw {peers:?})"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// What one node says about the collection's replicas.
struct ShardView {
    /// Shards on this node: id → (points, state).
    local: HashMap<u32, (u64, i32)>,
    /// States of every replica this node knows of, its own included.
    all_states: Vec<i32>,
    transfers: usize,
}

async fn shard_view(client: &Qdrant) -> Option<ShardView> {
    let info = client.collection_cluster_info(COLLECTION).await.ok()?;
    let local: HashMap<u32, (u64, i32)> = info
        .local_shards
        .iter()
        .map(|s| (s.shard_id, (s.points_count, s.state)))
        .collect();
    let mut all_states: Vec<i32> = info.local_shards.iter().map(|s| s.state).collect();
    all_states.extend(info.remote_shards.iter().map(|s| s.state));
    Some(ShardView {
        local,
        all_states,
        transfers: info.shard_transfers.len(),
    })
}

/// Every node answers, sees 4 replicas (2 shards × 2), all active, no
/// transfer running, and the two replicas of each shard hold the same number
/// of points.
async fn all_replicas_agree(clients: &[Qdrant]) -> bool {
    let mut counts: HashMap<u32, Vec<u64>> = HashMap::new();
    for client in clients {
        let Some(view) = shard_view(client).await else {
            return false;
        };
        let active = ReplicaState::Active as i32;
        if view.all_states.len() != 4
            || view.all_states.iter().any(|s| *s != active)
            || view.transfers != 0
        {
            return false;
        }
        for (shard, (points, _)) in view.local {
            counts.entry(shard).or_default().push(points);
        }
    }
    counts.len() == 2
        && counts
            .values()
            .all(|c| c.len() == 2 && c.windows(2).all(|w| w[0] == w[1]))
}

fn point(i: usize) -> Point {
    let mut dense = vec![0.0; DIM];
    dense[i % DIM] = 1.0;
    dense[(i / DIM) % DIM] += 0.5;
    let mut payload = agentry_memory::Payload::new();
    payload.insert("n".into(), serde_json::json!(i));
    Point {
        id: content_id(&format!("cluster-point-{i}")),
        dense,
        sparse: None,
        payload,
    }
}

/// Tries each node in turn, starting at `first`, until one answers or
/// [`RETRY_FOR`] has passed. The error of the last try otherwise.
async fn on_any_node<T, F, Fut>(
    stores: &[Arc<QdrantStore>],
    first: usize,
    mut op: F,
) -> Result<T, String>
where
    F: FnMut(Arc<QdrantStore>) -> Fut,
    Fut: std::future::Future<Output = agentry_memory::Result<T>>,
{
    let start = Instant::now();
    let mut k = first;
    loop {
        let error = match op(Arc::clone(&stores[k % stores.len()])).await {
            Ok(v) => return Ok(v),
            Err(e) => e.to_string(),
        };
        k += 1;
        if start.elapsed() > RETRY_FOR {
            return Err(error);
        }
        if k % stores.len() == first % stores.len() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

#[derive(Default)]
struct Tally {
    written: usize,
    acknowledged: BTreeSet<PointId>,
    failed_batches: usize,
    next: usize,
}

impl Tally {
    /// Writes one batch of new points through any node; records it as
    /// acknowledged only when the upsert returned Ok. Returns whether it was.
    async fn write_batch(&mut self, stores: &[Arc<QdrantStore>]) -> bool {
        let points: Vec<Point> = (self.next..self.next + BATCH).map(point).collect();
        let first = self.next / BATCH;
        self.next += BATCH;
        self.written += points.len();
        let ids: Vec<PointId> = points.iter().map(|p| p.id).collect();
        let result = on_any_node(stores, first, |s| {
            let points = points.clone();
            async move { s.upsert(COLLECTION, points).await }
        })
        .await;
        match result {
            Ok(()) => {
                self.acknowledged.extend(ids);
                true
            }
            Err(e) => {
                report(&format!(
                    "qdrant_cluster: a batch was not acknowledged: {e}"
                ));
                self.failed_batches += 1;
                false
            }
        }
    }
}

/// Every id stored, read through `store` page by page.
async fn all_ids(store: &QdrantStore) -> agentry_memory::Result<BTreeSet<PointId>> {
    let mut ids = BTreeSet::new();
    let mut offset = None;
    loop {
        let page = store.scroll(COLLECTION, None, offset, 256).await?;
        ids.extend(page.records.iter().map(|r| r.id));
        match page.next {
            Some(next) => offset = Some(next),
            None => return Ok(ids),
        }
    }
}

/// Reads go on: a count of at least what was acknowledged, and a sample of
/// acknowledged ids found by id, through any node.
async fn reads_work(stores: &[Arc<QdrantStore>], tally: &Tally, first: usize) -> bool {
    let acked = tally.acknowledged.len() as u64;
    let count = on_any_node(
        stores,
        first,
        |s| async move { s.count(COLLECTION, None).await },
    )
    .await;
    let sample: Vec<PointId> = tally.acknowledged.iter().step_by(37).copied().collect();
    let found = on_any_node(stores, first + 1, |s| {
        let sample = sample.clone();
        async move { s.retrieve(COLLECTION, &sample).await }
    })
    .await;
    matches!(count, Ok(n) if n >= acked) && matches!(found, Ok(r) if r.len() == sample.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_three_node_cluster_keeps_every_acknowledged_point_through_a_sigkill() {
    let bin = qdrant_binary();
    if !bin.is_file() {
        report(&format!(
            "qdrant_cluster: SKIPPED: no Qdrant server binary at {} (set QDRANT_BIN to one)",
            bin.display()
        ));
        return;
    }
    let cluster = Cluster::new(bin, 3);
    match tokio::time::timeout(OVERALL, scenario(cluster)).await {
        Ok(()) => {}
        // The scenario's future, and with it the cluster guard, is dropped:
        // every node is killed before this panic.
        Err(_) => panic!("the cluster scenario did not finish within {OVERALL:?}"),
    }
}

async fn scenario(mut cluster: Cluster) {
    for i in 0..3 {
        cluster.spawn(i);
        cluster.wait_ready(i).await;
    }
    cluster.wait_peers(3).await;

    // The collection: QdrantStore creates single-node collections, so the
    // cluster layout is made with qdrant-client, with the vector name and
    // distance QdrantStore uses; its ensure_collection then accepts it.
    let admin: Vec<Qdrant> = cluster
        .nodes
        .iter()
        .map(|n| {
            Qdrant::from_url(&n.grpc_url())
                .timeout(Duration::from_secs(10))
                .skip_compatibility_check()
                .build()
                .expect("qdrant client")
        })
        .collect();
    let mut vectors = HashMap::new();
    vectors.insert(
        DENSE.to_string(),
        VectorParamsBuilder::new(DIM as u64, q::Distance::Cosine).build(),
    );
    admin[0]
        .create_collection(
            CreateCollectionBuilder::new(COLLECTION)
                .vectors_config(q::VectorsConfig {
                    config: Some(q::vectors_config::Config::ParamsMap(q::VectorParamsMap {
                        map: vectors,
                    })),
                })
                .shard_number(2)
                .replication_factor(2)
                // See the module comment: 1, not 2.
                .write_consistency_factor(1),
        )
        .await
        .expect("create the replicated collection");
    let start = Instant::now();
    while !all_replicas_agree(&admin).await {
        assert!(
            start.elapsed() < READY_WITHIN,
            "the collection's 4 replicas were not all active within {READY_WITHIN:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let mut stores = Vec::new();
    for node in &cluster.nodes {
        let store = QdrantStore::connect(QdrantConfig::new(node.grpc_url()))
            .await
            .expect("QdrantStore connects to a node");
        store
            .ensure_collection(&CollectionSpec::new(COLLECTION, DIM))
            .await
            .expect("QdrantStore accepts the cluster's collection");
        stores.push(Arc::new(store));
    }

    // 1. All nodes up: every write is acknowledged.
    let mut tally = Tally::default();
    for _ in 0..BATCHES_BEFORE {
        assert!(
            tally.write_batch(&stores).await,
            "a write failed with all nodes up"
        );
    }
    let acked_before = tally.acknowledged.len();

    // 2. SIGKILL the node with the most replicas (one node holds both shards).
    let mut victim = 0;
    let mut most = 0;
    for (i, client) in admin.iter().enumerate() {
        let local = shard_view(client).await.map(|v| v.local.len()).unwrap_or(0);
        if local > most {
            most = local;
            victim = i;
        }
    }
    cluster.kill(victim);
    let killed_at = Instant::now();
    report(&format!(
        "qdrant_cluster: node {victim} (holding {most} of the 4 replicas) killed with SIGKILL \
         after {acked_before} acknowledged points"
    ));
    let mut first_write_after: Option<Duration> = None;
    let mut first_read_after: Option<Duration> = None;
    let mut acked_during = 0;
    let mut reads_during = 0;
    let mut b = 0;
    while b < BATCHES_DURING || killed_at.elapsed() < MIN_OUTAGE {
        b += 1;
        // Reads first, so the first read after the kill is timed on its own.
        if reads_work(&stores, &tally, b).await {
            first_read_after.get_or_insert(killed_at.elapsed());
            reads_during += 1;
        }
        let before = tally.acknowledged.len();
        if tally.write_batch(&stores).await {
            first_write_after.get_or_insert(killed_at.elapsed());
            acked_during += tally.acknowledged.len() - before;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let write_outage = first_write_after.expect("no write was acknowledged while a node was down");
    let read_outage = first_read_after.expect("no read succeeded while a node was down");
    assert!(
        acked_during > 0,
        "writes must go on with one node of three down"
    );

    // 3. Restart it on its own storage; wait until it has caught up.
    let down_for = killed_at.elapsed();
    cluster.spawn(victim);
    let restarted_at = Instant::now();
    cluster.wait_ready(victim).await;
    let ready_after = restarted_at.elapsed();
    while !all_replicas_agree(&admin).await {
        assert!(
            restarted_at.elapsed() < CATCH_UP_WITHIN,
            "the restarted node did not catch up within {CATCH_UP_WITHIN:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let catch_up = restarted_at.elapsed();

    // 4. All up again: writes go on, through every node.
    for _ in 0..BATCHES_AFTER {
        assert!(
            tally.write_batch(&stores).await,
            "a write failed after the node came back"
        );
    }
    let start = Instant::now();
    while !all_replicas_agree(&admin).await {
        assert!(
            start.elapsed() < CATCH_UP_WITHIN,
            "the replicas did not agree after the last writes"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // 5. Every acknowledged point, asked of every node (the restarted one
    // included). The figures are reported before they are asserted on.
    let mut views = Vec::new();
    for (i, store) in stores.iter().enumerate() {
        let ids = all_ids(store)
            .await
            .unwrap_or_else(|e| panic!("scroll through node {i}: {e}"));
        let count = store
            .count(COLLECTION, None)
            .await
            .unwrap_or_else(|e| panic!("count through node {i}: {e}"));
        views.push((ids, count));
    }
    let lost = views
        .iter()
        .map(|(ids, _)| tally.acknowledged.difference(ids).count())
        .max()
        .unwrap_or(0);
    report(&format!(
        "qdrant_cluster: 3 nodes, 2 shards x 2 replicas; points written {}, acknowledged {} \
         ({acked_before} before the kill, {acked_during} while node {victim} was down, the rest \
         after), unacknowledged batches {}, lost {lost}; first write acknowledged {:.2} s and \
         first full read {:.2} s after the kill; {reads_during} of {b} read checks passed \
         while it was down; node down {:.2} s; restarted node ready \
         (/readyz) {:.2} s and caught up (every node sees all 4 replicas active, both replicas \
         of each shard with equal counts) {:.2} s after its restart",
        tally.written,
        tally.acknowledged.len(),
        tally.failed_batches,
        write_outage.as_secs_f64(),
        read_outage.as_secs_f64(),
        down_for.as_secs_f64(),
        ready_after.as_secs_f64(),
        catch_up.as_secs_f64(),
    ));
    for (i, (ids, count)) in views.iter().enumerate() {
        let missing: Vec<&PointId> = tally.acknowledged.difference(ids).collect();
        assert!(
            missing.is_empty(),
            "node {i}: {} acknowledged points are missing, e.g. {:?}",
            missing.len(),
            missing.iter().take(5).collect::<Vec<_>>()
        );
        assert_eq!(
            *count,
            ids.len() as u64,
            "node {i}: the count and the ids read disagree"
        );
        // Unacknowledged batches may or may not have been applied; nothing
        // else may be there.
        let written: BTreeSet<PointId> = (0..tally.next).map(|n| point(n).id).collect();
        assert!(
            ids.is_subset(&written),
            "node {i}: points that were never written"
        );
    }
    assert_eq!(lost, 0);
    drop(stores);
    drop(cluster);
}
