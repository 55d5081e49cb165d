//! agentry's YAML workflows: agents and steps in a file, checked before anything runs (every
//! problem at once, with file:line:col), run on any `agentry-model` backend with a checkpoint
//! after every step, resumable.
//!
//! ```no_run
//! # async fn demo(model: std::sync::Arc<dyn agentry_core::model::LanguageModel>) -> Result<(), Box<dyn std::error::Error>> {
//! use agentry_workflow::{self as workflow, WorkflowRunner};
//!
//! let text = r#"
//! name: hello
//! model: smollm2-135m
//! inputs:
//!   topic: { type: string }
//! agents:
//!   writer: { role: You write one clear sentence. }
//! steps:
//!   - id: line
//!     agent: writer
//!     task: "One sentence about {{ inputs.topic }}."
//! outputs:
//!   line: "{{ steps.line.output }}"
//! "#;
//! // Every problem at once, each with file:line:col and a caret.
//! let flow = workflow::parse("hello.yaml", text, &[]).map_err(|d| d.render())?;
//! let runner = WorkflowRunner::new(flow, model);
//! let mut inputs = serde_json::Map::new();
//! inputs.insert("topic".into(), "tides".into());
//! // A run is `Send + 'static` once it owns its runner: spawn it like any task.
//! let outcome = tokio::spawn(async move { runner.run(inputs).await }).await??;
//! println!("{}", outcome.outputs["line"]);
//! # Ok(()) }
//! ```
//!
//! The format: `name`, `model` (a registry name or GGUF path, or `{spec, ctx, threads,
//! gpu_layers}`), `memory` (`{path, collection, documents}`), typed `inputs`, `agents`
//! (role, instructions, tools, strategy, sampling, max_steps), `steps` and `outputs`.
//! A step has an `id` and one of: `agent` + `task` (+ `output` JSON Schema, `strategy`),
//! `tool` + `args`, `parallel: [steps]`, `for_each` + `steps` (+ `as`, `concurrency`),
//! `until` + `max_iterations` + `steps`; any step may have `if` (and `else: [steps]`).
//! Templates are minijinja: `{{ inputs.x }}`, `{{ steps.id.output }}`, loop variables.
//!
//! Checkpoints: `RUNS_DIR/RUN_ID/state.json` ([`RunState`]) is written after every step,
//! and, for an agent step, after each of its model steps too: the agent run is kept there
//! ([`AgentCheckpoint`]) until the step finishes. [`WorkflowRunner::resume`] skips the
//! finished steps and continues an agent step that was stopped in the middle from its last
//! model step, as the same agent run ([`WorkflowEvent::AgentResumed`]); the finished
//! step's [`StepRecord`] then says so ([`AgentRecord::resumed_at`]). The agents' events
//! come as [`WorkflowEvent::Agent`] (and [`WorkflowEvent::Token`]) naming their step.

#![warn(missing_docs)]

pub mod diagnostic;
mod parse;
pub mod run;
pub mod source;
pub mod spec;
mod syntax;
mod template;
mod validate;
mod yaml;

use std::path::{Path, PathBuf};

pub use diagnostic::{Diagnostic, Diagnostics};
pub use parse::STRATEGY_NAMES;
pub use run::{
    AgentCheckpoint, AgentRecord, Checkpoints, RunLock, RunState, RunStatus, StepRecord,
    WorkflowEvent, WorkflowOutcome, WorkflowRunError, WorkflowRunner, is_valid_run_id,
    resolve_inputs,
};
pub use source::{SourceText, Span};
pub use spec::{
    AgentSpec, InputSpec, InputType, McpServerSpec, MemoryLocation, MemorySpec, ModelChoice, Name,
    OutputSpec, PolicySpec, SamplingSpec, Step, StepKind, Template, ToolNames, Workflow,
};

/// A workflow file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    /// The file cannot be read.
    #[error("cannot read workflow {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file has problems (all of them, each with its place).
    #[error("{0}")]
    Invalid(Diagnostics),
}

/// Reads and checks the workflow `text` (named `name` in messages, usually its path).
/// `tools` names the tools a run can provide.
///
/// # Errors
/// Every problem found, each with line, column and a caret snippet.
pub fn parse(name: &str, text: &str, tools: &[&str]) -> Result<Workflow, Diagnostics> {
    let source = SourceText::new(name, text);
    let root = match yaml::load(&source) {
        Ok(root) => root,
        Err(problem) => return Err(Diagnostics::new(source, vec![problem])),
    };
    let mut reader = yaml::Reader::new(&source);
    let workflow = parse::workflow(&mut reader, &root, &source);
    let mut problems = reader.problems;
    if let Some(workflow) = &workflow {
        problems.extend(validate::check(workflow, tools, &reader.notes));
    }
    match workflow {
        Some(workflow) if problems.is_empty() => Ok(workflow),
        _ => Err(Diagnostics::new(source, problems)),
    }
}

/// Most bytes of a workflow file (far more than any real workflow).
pub const MAX_WORKFLOW_BYTES: u64 = 4 << 20;

/// Reads and checks the workflow file at `path` (see [`parse`]): a regular file of at
/// most [`MAX_WORKFLOW_BYTES`] (a FIFO or device is refused, never waited on).
///
/// # Errors
/// [`WorkflowError::Read`] when the file cannot be read (or is not UTF-8);
/// [`WorkflowError::Invalid`] with every problem found.
pub fn load(path: &Path, tools: &[&str]) -> Result<Workflow, WorkflowError> {
    let text =
        agentry_model::file::read_capped_text(path, MAX_WORKFLOW_BYTES).map_err(|source| {
            WorkflowError::Read {
                path: path.to_path_buf(),
                source,
            }
        })?;
    parse(&path.display().to_string(), &text, tools).map_err(WorkflowError::Invalid)
}
