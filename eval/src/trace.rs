//! The per-item trace: one JSON line per scored item ([`Record`]) in a file
//! ([`TraceFile`]) that is appended to as items are scored, so a re-run with the same file
//! skips what is already there.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::call::Call;
use crate::error::EvalError;
use crate::verdict::Verdict;

/// One scored item: what was asked, what came back, and the verdict with its reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The suite (`bfcl`, `gsm8k`, `game24`, `tasks`).
    pub suite: String,
    /// The model as named on the command line.
    pub model: String,
    /// The configuration (`planner`, `plain`, `direct`, `cot`, `sc`, `tot`).
    pub config: String,
    /// The category within the suite.
    pub category: String,
    /// The item's id in its data.
    pub item: String,
    /// The first prompt sent to the model (chat messages or raw text, as JSON).
    pub prompt: Value,
    /// The last prompt when the item took several steps: the whole conversation the
    /// model saw last, tool results and the run's notes included.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub last_prompt: Value,
    /// Every text the model produced, in order.
    pub raw_output: Vec<String>,
    /// The calls read from the replies (in the suite's naming) that ran.
    pub calls: Vec<Call>,
    /// The calls held for approval and refused (the run is unattended), each with why
    /// it was held.
    #[serde(default)]
    pub held: Vec<HeldCall>,
    /// The final answer, when there was one.
    pub answer: Option<Value>,
    /// Whether every reply could be read as a call or an answer.
    pub well_formed: bool,
    /// Right or wrong, and why.
    pub verdict: Verdict,
    /// How the run ended (`Answered`, `MaxSteps { .. }`, a model failure, ..).
    #[serde(default)]
    pub stop: String,
    /// Model steps (requests) made.
    pub steps: usize,
    /// Tokens generated.
    pub completion_tokens: usize,
    /// Prompt tokens of the requests (cached or evaluated).
    pub prompt_tokens: usize,
    /// Wall time of the item, in milliseconds.
    pub wall_ms: u64,
}

/// A call held for approval and refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeldCall {
    /// The call.
    pub call: Call,
    /// Why it was held.
    pub reason: String,
}

/// What identifies a scored item across runs.
pub type RecordKey = (String, String, String, String, String);

impl Record {
    /// `(suite, model, config, category, item)`.
    pub fn key(&self) -> RecordKey {
        (
            self.suite.clone(),
            self.model.clone(),
            self.config.clone(),
            self.category.clone(),
            self.item.clone(),
        )
    }
}

/// A trace file: the records already in it, and an appending writer.
#[derive(Debug)]
pub struct TraceFile {
    path: PathBuf,
    out: File,
    records: Vec<Record>,
    keys: HashSet<RecordKey>,
}

impl TraceFile {
    /// Opens (or creates) `path` and reads the records already in it. A last line cut
    /// short by an interruption is dropped (and rewritten when its item is scored again).
    ///
    /// # Errors
    /// The file cannot be read or created, or a line other than the last is no record.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, EvalError> {
        let path = path.as_ref().to_path_buf();
        let records = if path.exists() {
            read_records(&path)?
        } else {
            Vec::new()
        };
        // Rewrite the file when its last line was cut, so appends start on a fresh line.
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if !text.is_empty() && !text.ends_with('\n') {
            let mut fixed = String::new();
            for record in &records {
                fixed.push_str(&to_line(record, &path)?);
            }
            std::fs::write(&path, fixed).map_err(|e| EvalError::io("write", "trace", &path, e))?;
        }
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| EvalError::io("open", "trace", &path, e))?;
        let keys = records.iter().map(Record::key).collect();
        Ok(Self {
            path,
            out,
            records,
            keys,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether an item is already scored.
    pub fn contains(&self, key: &RecordKey) -> bool {
        self.keys.contains(key)
    }

    /// Every record, oldest first.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// Appends a record (one line, flushed at once).
    ///
    /// # Errors
    /// The line cannot be written.
    pub fn append(&mut self, record: Record) -> Result<(), EvalError> {
        let line = to_line(&record, &self.path)?;
        self.out
            .write_all(line.as_bytes())
            .and_then(|()| self.out.flush())
            .map_err(|e| EvalError::io("write", "trace", &self.path, e))?;
        self.keys.insert(record.key());
        self.records.push(record);
        Ok(())
    }
}

fn to_line(record: &Record, path: &Path) -> Result<String, EvalError> {
    let mut line = serde_json::to_string(record).map_err(|e| EvalError::Trace {
        path: path.to_path_buf(),
        line: 0,
        message: e.to_string(),
    })?;
    line.push('\n');
    Ok(line)
}

/// Reads every record of a trace file (a cut last line is dropped).
///
/// # Errors
/// The file cannot be read, or a line other than a cut last one is no record.
pub fn read_records(path: &Path) -> Result<Vec<Record>, EvalError> {
    let file = File::open(path).map_err(|e| EvalError::io("read", "trace", path, e))?;
    let lines: Vec<String> = BufReader::new(file)
        .lines()
        .collect::<Result<_, _>>()
        .map_err(|e| EvalError::io("read", "trace", path, e))?;
    let text_ends_cleanly = std::fs::read(path)
        .map(|bytes| bytes.last().is_none_or(|b| *b == b'\n'))
        .unwrap_or(true);
    let mut records = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Record>(line) {
            Ok(record) => records.push(record),
            Err(_) if index + 1 == lines.len() && !text_ends_cleanly => {}
            Err(e) => {
                return Err(EvalError::Trace {
                    path: path.to_path_buf(),
                    line: index + 1,
                    message: format!("not a trace record: {e}"),
                });
            }
        }
    }
    Ok(records)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn record(item: &str, correct: bool) -> Record {
        Record {
            suite: "gsm8k".into(),
            model: "m".into(),
            config: "cot".into(),
            category: "test".into(),
            item: item.into(),
            prompt: Value::String("q".into()),
            last_prompt: Value::Null,
            raw_output: vec!["42".into()],
            calls: Vec::new(),
            held: Vec::new(),
            answer: Some(Value::from(42)),
            well_formed: true,
            verdict: if correct {
                Verdict::right("ok")
            } else {
                Verdict::wrong("no")
            },
            stop: "answered".into(),
            steps: 1,
            completion_tokens: 10,
            prompt_tokens: 20,
            wall_ms: 5,
        }
    }

    #[test]
    fn records_survive_a_reopen_and_a_cut_last_line() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("trace.jsonl");
        let mut trace = TraceFile::open(&path).unwrap_or_else(|e| panic!("{e}"));
        trace
            .append(record("a", true))
            .unwrap_or_else(|e| panic!("{e}"));
        trace
            .append(record("b", false))
            .unwrap_or_else(|e| panic!("{e}"));
        drop(trace);
        // An interruption in the middle of a line.
        let mut text = std::fs::read_to_string(&path).unwrap_or_default();
        text.push_str("{\"suite\": \"gsm");
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        let mut trace = TraceFile::open(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(trace.records().len(), 2);
        assert!(trace.contains(&record("a", true).key()));
        assert!(!trace.contains(&record("c", true).key()));
        trace
            .append(record("c", true))
            .unwrap_or_else(|e| panic!("{e}"));
        let read = read_records(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read.len(), 3);
        assert_eq!(read[2], record("c", true));
    }

    #[test]
    fn a_broken_line_in_the_middle_is_named() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("trace.jsonl");
        let good = serde_json::to_string(&record("a", true)).unwrap_or_default();
        std::fs::write(&path, format!("{good}\nnot json\n{good}\n"))
            .unwrap_or_else(|e| panic!("{e}"));
        match read_records(&path) {
            Err(EvalError::Trace { line, .. }) => assert_eq!(line, 2),
            other => panic!("expected a trace error, got {other:?}"),
        }
    }
}
