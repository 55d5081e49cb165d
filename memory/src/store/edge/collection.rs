//! One collection of the embedded store: its shard, its recovery log, and
//! the operations applied to both.

use super::*;

impl Collection {
    /// Wraps a loaded shard and returns the operations its recovery log
    /// still holds (left by a crash), for [`Collection::replay`].
    pub(super) fn new(
        name: &str,
        path: PathBuf,
        shard: EdgeShard,
        durability: Durability,
    ) -> Result<(Self, Vec<LogOp>)> {
        let (log, pending) = RecoveryLog::open(path.join(RECOVERY_LOG), durability)?;
        let c = Self {
            name: name.to_string(),
            path,
            shard,
            gate: RwLock::new(()),
            log: Mutex::new(log),
            since_optimize: AtomicUsize::new(0),
            optimizing: AtomicBool::new(false),
        };
        Ok((c, pending))
    }

    /// Re-applies the operations of the recovery log, then flushes, which
    /// empties the log.
    ///
    /// # Errors
    /// [`MemoryError::Replay`] when an operation cannot be applied: the log is
    /// kept as it is, so nothing is lost silently.
    pub(super) fn replay(self, pending: Vec<LogOp>) -> Result<Self> {
        if pending.is_empty() {
            return Ok(self);
        }
        let n = pending.len();
        for (index, op) in pending.into_iter().enumerate() {
            let applied = self
                .to_update(op)
                .and_then(|update| self.shard.update(update).map_err(|e| self.err(e)));
            if let Err(error) = applied {
                return Err(MemoryError::Replay {
                    collection: self.name.clone(),
                    log: lock(&self.log).path().to_path_buf(),
                    operation: index + 1,
                    operations: n,
                    reason: error.to_string(),
                });
            }
        }
        tracing::info!(collection = %self.name, operations = n, "replayed the recovery log after an unclean shutdown");
        self.flush();
        Ok(self)
    }

    pub(super) fn err(&self, e: impl std::fmt::Display) -> MemoryError {
        MemoryError::Edge {
            collection: self.name.clone(),
            path: self.path.clone(),
            reason: e.to_string(),
        }
    }

    pub(super) fn to_update(&self, op: LogOp) -> Result<UpdateOperation> {
        Ok(match op {
            LogOp::Upsert(points) => {
                let points = points
                    .into_iter()
                    .map(|p| to_edge_point(&self.name, p).map(|p| p.0))
                    .collect::<Result<Vec<_>>>()?;
                UpdateOperation::PointOperation(PointOperations::UpsertPoints(
                    PointInsertOperations::PointsList(points),
                ))
            }
            LogOp::DeleteIds(ids) => {
                UpdateOperation::PointOperation(PointOperations::DeletePoints {
                    ids: ids.into_iter().map(qdrant_edge::PointId::Uuid).collect(),
                })
            }
            LogOp::DeleteFilter(json) => {
                let filter = serde_json::from_value(json).map_err(|e| MemoryError::Invalid {
                    what: "filter",
                    reason: format!("collection {}: {e}", self.name),
                })?;
                UpdateOperation::PointOperation(PointOperations::DeletePointsByFilter(filter))
            }
            LogOp::CreateIndex { field, kind } => {
                let schema = match kind {
                    FieldKind::Keyword => PayloadSchemaType::Keyword,
                    FieldKind::Integer => PayloadSchemaType::Integer,
                    FieldKind::Float => PayloadSchemaType::Float,
                    FieldKind::Text => PayloadSchemaType::Text,
                };
                let field_name = field.parse().map_err(|e| MemoryError::Invalid {
                    what: "payload field name",
                    reason: format!("{field:?}: {e:?}"),
                })?;
                UpdateOperation::FieldIndexOperation(FieldIndexOperations::CreateIndex(
                    CreateIndex {
                        field_name,
                        field_schema: Some(PayloadFieldSchema::FieldType(schema)),
                    },
                ))
            }
        })
    }

    /// Appends an operation to the recovery log (fsynced with
    /// [`Durability::Power`]), then applies it; returns once both are done. An
    /// operation the shard refuses is cut from the log again.
    pub(super) fn apply(&self, op: LogOp) -> Result<()> {
        let record = encode(&op);
        let update = self.to_update(op)?;
        let _guard = read_lock(&self.gate);
        let mut log = lock(&self.log);
        let mark = log.len();
        log.append(&record)?;
        if let Err(e) = self.shard.update(update) {
            if let Err(undo) = log.truncate(mark) {
                tracing::warn!(collection = %self.name, error = %undo, "cannot cut a refused operation from the recovery log; it will fail to replay");
            }
            return Err(self.err(e));
        }
        Ok(())
    }

    pub(super) fn flush(&self) {
        let _guard = write_lock(&self.gate);
        self.flush_locked();
    }

    /// Flushes the shard and empties the recovery log; the gate must be held
    /// exclusively.
    pub(super) fn flush_locked(&self) {
        self.shard.flush();
        if let Err(e) = lock(&self.log).clear() {
            tracing::warn!(collection = %self.name, error = %e, "cannot empty the recovery log; it will be replayed");
        }
    }

    pub(super) fn optimize(&self) -> Result<()> {
        let _guard = read_lock(&self.gate);
        self.since_optimize.store(0, Ordering::Relaxed);
        self.shard.optimize().map(|_| ()).map_err(|e| self.err(e))
    }

    pub(super) fn filter(&self, filter: Option<&Filter>) -> Result<Option<qdrant_edge::Filter>> {
        filter
            .map(|f| serde_json::from_value(f.to_qdrant_json()))
            .transpose()
            .map_err(|e| MemoryError::Invalid {
                what: "filter",
                reason: format!("collection {}: {e}", self.name),
            })
    }
}
