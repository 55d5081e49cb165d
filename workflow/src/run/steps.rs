//! Performing steps: conditions, agents, tools, `parallel`, `for_each` and `until`, with
//! a checkpoint record after each.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use futures_util::{StreamExt, TryStreamExt, stream};
use minijinja::Environment;
use serde_json::{Map, Value, json};
use tokio::sync::Mutex;

use super::state::{AgentRecord, RunState, StepRecord};
use super::{WorkflowEvent, WorkflowRunError, WorkflowRunner};
use crate::spec::{Step, StepKind, Template};
use crate::template::{self, Mode, truthy};

/// Most items one `for_each` runs: a list from a step's output or a
/// template is outside text, and each item is a run of the inner steps.
pub(crate) const MAX_FOR_EACH_ITEMS: usize = 10_000;

/// A step's future: `Send`, so a whole run can be spawned on any task. Tool calls own what
/// they use (see `tool_step`), since a future borrowing the registry would be `Send` for one
/// lifetime only.
type StepFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, WorkflowRunError>> + Send + 'a>>;

/// What a performed step leaves: its output, the nested outputs it makes visible, and the
/// agent run of an agent step.
pub(crate) struct Performed {
    /// The step's output.
    pub(crate) output: Value,
    /// Outputs of nested steps visible after it, by id.
    pub(crate) inner: Map<String, Value>,
    /// How the agent run of an agent step went.
    pub(crate) agent: Option<AgentRecord>,
}

impl Performed {
    fn new(output: Value, inner: Map<String, Value>) -> Self {
        Self {
            output,
            inner,
            agent: None,
        }
    }
}

/// What templates see at one point of a run: outputs of the steps done, loop variables.
#[derive(Debug, Clone, Default)]
pub(crate) struct Frame {
    /// Path prefix of the steps run in this frame (`loop.ITERATION`), empty at the top.
    prefix: String,
    /// `id → {output, status}`.
    steps: Map<String, Value>,
    /// Loop variables (`item`, `loop`).
    vars: Map<String, Value>,
    /// Loop variables whose values came from untrusted text, with where it came from.
    untrusted_vars: BTreeMap<String, Vec<String>>,
}

impl Frame {
    fn path(&self, id: &str) -> String {
        if self.prefix.is_empty() {
            id.to_string()
        } else {
            format!("{}.{id}", self.prefix)
        }
    }

    fn set(&mut self, id: &str, output: Value, status: &str) {
        self.steps.insert(
            id.to_string(),
            json!({ "output": output, "status": status }),
        );
    }

    /// The output of the last of `steps` (a loop body's result).
    fn last_output(&self, steps: &[Step]) -> Value {
        steps
            .last()
            .and_then(|s| self.steps.get(&s.id))
            .and_then(|v| v.get("output"))
            .cloned()
            .unwrap_or(Value::Null)
    }

    /// Takes in the step outputs `other` has and this frame has not (or has others).
    fn absorb(&mut self, other: &Frame) -> Map<String, Value> {
        let mut changed = Map::new();
        for (id, value) in &other.steps {
            if self.steps.get(id) != Some(value) {
                self.steps.insert(id.clone(), value.clone());
                changed.insert(id.clone(), value.clone());
            }
        }
        changed
    }
}

/// One execution of a workflow's steps.
pub(crate) struct Exec<'r> {
    pub(crate) runner: &'r WorkflowRunner,
    pub(crate) env: Environment<'static>,
    pub(crate) inputs: Value,
    /// The run's state: shared with the checkpoint sinks of running agent steps.
    pub(crate) state: Arc<Mutex<RunState>>,
    pub(crate) ran: AtomicUsize,
    pub(crate) restored: AtomicUsize,
}

impl<'r> Exec<'r> {
    /// The template context of `frame`.
    pub(crate) fn context(&self, frame: &Frame) -> Value {
        let mut context = Map::new();
        context.insert("inputs".into(), self.inputs.clone());
        context.insert("steps".into(), Value::Object(frame.steps.clone()));
        for (name, value) in &frame.vars {
            context.insert(name.clone(), value.clone());
        }
        Value::Object(context)
    }

    pub(super) fn emit(&self, event: WorkflowEvent) {
        // Nobody listening is fine.
        let _ = self.runner.events.send(event);
    }

    /// Runs `steps` in order in `frame`.
    pub(crate) fn run_steps<'a>(
        &'a self,
        steps: &'a [Step],
        frame: &'a mut Frame,
    ) -> StepFuture<'a, ()> {
        Box::pin(async move {
            for step in steps {
                self.run_step(step, frame).await?;
            }
            Ok(())
        })
    }

    /// Runs `steps` in a frame of their own; the frame they leave.
    fn run_in<'a>(&'a self, steps: &'a [Step], mut frame: Frame) -> StepFuture<'a, Frame> {
        Box::pin(async move {
            self.run_steps(steps, &mut frame).await?;
            Ok(frame)
        })
    }

    fn run_step<'a>(&'a self, step: &'a Step, frame: &'a mut Frame) -> StepFuture<'a, ()> {
        Box::pin(async move {
            let path = frame.path(&step.id);
            let restored = self.state.lock().await.steps.get(&path).cloned();
            if let Some(record) = restored {
                frame.set(&step.id, record.output, &record.status);
                for (id, value) in record.inner {
                    frame.steps.insert(id, value);
                }
                self.restored.fetch_add(1, Ordering::Relaxed);
                self.emit(WorkflowEvent::StepSkipped {
                    path,
                    why: "checkpoint",
                });
                return Ok(());
            }
            let started = Instant::now();
            if let Some(condition) = &step.condition {
                let value = self.evaluate(condition, Mode::Expression, frame, &path, "if")?;
                if !truthy(&value) {
                    self.emit(WorkflowEvent::StepSkipped {
                        path: path.clone(),
                        why: "condition",
                    });
                    let mut branch = frame.clone();
                    self.run_steps(&step.otherwise, &mut branch).await?;
                    let inner = frame.absorb(&branch);
                    frame.set(&step.id, Value::Null, "skipped");
                    return self
                        .record(path, Performed::new(Value::Null, inner), "skipped", started)
                        .await;
                }
            }
            self.emit(WorkflowEvent::StepStarted {
                path: path.clone(),
                kind: step.kind_name(),
            });
            let performed = self.perform(step, &path, frame).await?;
            frame.set(&step.id, performed.output.clone(), "done");
            self.ran.fetch_add(1, Ordering::Relaxed);
            self.record(path, performed, "done", started).await
        })
    }

    /// Does what `step` says; its output and the nested outputs it leaves visible.
    fn perform<'a>(
        &'a self,
        step: &'a Step,
        path: &'a str,
        frame: &'a mut Frame,
    ) -> StepFuture<'a, Performed> {
        Box::pin(async move {
            match &step.kind {
                StepKind::Agent {
                    agent,
                    task,
                    output,
                    strategy,
                } => {
                    let untrusted = self.untrusted_sources([task.text.as_str()], Mode::Text, frame);
                    let task = if untrusted.is_empty() {
                        as_text(self.evaluate(task, Mode::Text, frame, path, "task")?)
                    } else {
                        self.fenced_task(task, &untrusted, frame, path)?
                    };
                    let (value, agent) = self
                        .agent_step(
                            path,
                            &agent.name,
                            task,
                            &untrusted,
                            output.as_ref(),
                            strategy.as_ref(),
                        )
                        .await?;
                    Ok(Performed {
                        output: value,
                        inner: Map::new(),
                        agent,
                    })
                }
                StepKind::Tool { tool, args } => {
                    let context = self.context(frame);
                    let untrusted = self.untrusted_sources(arg_texts(args), Mode::Text, frame);
                    let args = render_args(&self.env, args, &context).map_err(|message| {
                        WorkflowRunError::Step {
                            path: path.to_string(),
                            message: format!("arguments: {message}"),
                        }
                    })?;
                    let output = self.tool_step(path, &tool.name, args, untrusted).await?;
                    Ok(Performed::new(output, Map::new()))
                }
                StepKind::Value { value } => {
                    let context = self.context(frame);
                    let value = render_args(&self.env, value, &context).map_err(|message| {
                        WorkflowRunError::Step {
                            path: path.to_string(),
                            message: format!("value: {message}"),
                        }
                    })?;
                    Ok(Performed::new(value, Map::new()))
                }
                StepKind::Parallel { steps } => {
                    let branches: Vec<StepFuture<'_, Frame>> = steps
                        .iter()
                        .map(|inner| self.run_in(std::slice::from_ref(inner), frame.clone()))
                        .collect();
                    let branches = futures_util::future::try_join_all(branches).await?;
                    let mut inner = Map::new();
                    for branch in &branches {
                        inner.extend(frame.absorb(branch));
                    }
                    let mut output = Map::new();
                    for s in steps {
                        let value = frame
                            .steps
                            .get(&s.id)
                            .and_then(|v| v.get("output"))
                            .cloned()
                            .unwrap_or(Value::Null);
                        output.insert(s.id.clone(), value);
                    }
                    Ok(Performed::new(Value::Object(output), inner))
                }
                StepKind::ForEach {
                    items,
                    var,
                    concurrency,
                    steps,
                } => {
                    let from =
                        self.untrusted_sources([items.text.as_str()], Mode::Expression, frame);
                    let list =
                        match self.evaluate(items, Mode::Expression, frame, path, "for_each")? {
                            Value::Array(list) => list,
                            other => {
                                return Err(WorkflowRunError::Step {
                                    path: path.to_string(),
                                    message: format!(
                                        "`for_each` must give a list, it gave {}",
                                        short(&other)
                                    ),
                                });
                            }
                        };
                    let n = list.len();
                    if n > MAX_FOR_EACH_ITEMS {
                        return Err(WorkflowRunError::Step {
                            path: path.to_string(),
                            message: format!(
                                "`for_each` gave {n} items; at most {MAX_FOR_EACH_ITEMS} are run (split the list, or filter it first)"
                            ),
                        });
                    }
                    let iterations: Vec<StepFuture<'_, Frame>> = list.into_iter().enumerate().map(|(i, item)| {
                    let mut child = frame.clone();
                    child.prefix = format!("{path}.{i}");
                    child.vars.insert(var.clone(), item);
                    if from.is_empty() {
                        child.untrusted_vars.remove(var);
                    } else {
                        child.untrusted_vars.insert(var.clone(), from.clone());
                    }
                    child.vars.insert(
                        "loop".into(),
                        json!({ "index": i + 1, "index0": i, "first": i == 0, "last": i + 1 == n, "length": n }),
                    );
                    self.run_in(steps, child)
                }).collect();
                    let frames: Vec<Frame> = stream::iter(iterations)
                        .buffered((*concurrency).max(1))
                        .try_collect()
                        .await?;
                    let outputs = frames.iter().map(|f| f.last_output(steps)).collect();
                    let inner = match frames.last() {
                        Some(last) => {
                            let mut visible = last.clone();
                            visible.vars.clear();
                            frame.absorb(&visible)
                        }
                        None => Map::new(),
                    };
                    Ok(Performed::new(Value::Array(outputs), inner))
                }
                StepKind::Until {
                    condition,
                    max_iterations,
                    steps,
                } => {
                    let mut child = frame.clone();
                    let mut last = Value::Null;
                    for i in 0..*max_iterations {
                        child.prefix = format!("{path}.{i}");
                        child.vars.insert(
                        "loop".into(),
                        json!({ "index": i + 1, "index0": i, "first": i == 0, "last": i + 1 == *max_iterations }),
                    );
                        self.run_steps(steps, &mut child).await?;
                        last = child.last_output(steps);
                        let done =
                            self.evaluate(condition, Mode::Expression, &child, path, "until")?;
                        if truthy(&done) {
                            break;
                        }
                    }
                    child.vars.clear();
                    let inner = frame.absorb(&child);
                    Ok(Performed::new(last, inner))
                }
            }
        })
    }

    fn evaluate(
        &self,
        template: &Template,
        mode: Mode,
        frame: &Frame,
        path: &str,
        what: &str,
    ) -> Result<Value, WorkflowRunError> {
        let context = self.context(frame);
        template::evaluate(&self.env, &template.text, mode, &context).map_err(|message| {
            WorkflowRunError::Step {
                path: path.to_string(),
                message: format!("`{what}` (line {}): {message}", template.span.line),
            }
        })
    }

    /// An agent's task that reads untrusted text, rendered with that text fenced: each
    /// placeholder that reads a step's output (or a loop variable bound to one) becomes
    /// a fence naming its source, so the model sees where the workflow's words end and
    /// the data begins. A task with `{% %}` blocks is fenced whole.
    fn fenced_task(
        &self,
        task: &Template,
        untrusted: &[String],
        frame: &Frame,
        path: &str,
    ) -> Result<String, WorkflowRunError> {
        let error = |message: String| WorkflowRunError::Step {
            path: path.to_string(),
            message: format!("`task` (line {}): {message}", task.span.line),
        };
        let context = self.context(frame);
        let mut pieces: Vec<(Option<String>, String)> = Vec::new();
        match template::placeholders(&task.text) {
            Some(parts) => {
                for (is_placeholder, part) in parts {
                    if !is_placeholder {
                        pieces.push((None, part.to_string()));
                        continue;
                    }
                    let sources = self.untrusted_sources([part], Mode::Text, frame);
                    let value =
                        template::evaluate(&self.env, part, Mode::Text, &context).map_err(error)?;
                    let source = (!sources.is_empty()).then(|| sources.join(", "));
                    pieces.push((source, as_text(value)));
                }
            }
            None => {
                let value = template::evaluate(&self.env, &task.text, Mode::Text, &context)
                    .map_err(error)?;
                pieces.push((Some(untrusted.join(", ")), as_text(value)));
            }
        }
        let guard = agentry_prompts::Guard::for_texts(pieces.iter().map(|(_, t)| t.as_str()))
            .map_err(|e| error(e.to_string()))?;
        Ok(pieces
            .into_iter()
            .map(|(source, text)| match source {
                Some(source) => guard.fence(&agentry_prompts::untrusted(source, text)),
                None => text,
            })
            .collect())
    }

    /// Where the untrusted text that `texts` (templates) read comes from: the outputs of
    /// steps (anything a step gives may carry text from outside), and loop variables
    /// bound to such text. Inputs, given by whoever started the run, are trusted.
    fn untrusted_sources<'t>(
        &self,
        texts: impl IntoIterator<Item = &'t str>,
        mode: Mode,
        frame: &Frame,
    ) -> Vec<String> {
        let mut sources = Vec::new();
        let mut add = |source: String| {
            if !sources.contains(&source) {
                sources.push(source);
            }
        };
        for text in texts {
            let Ok(variables) = template::variables(&self.env, text, mode) else {
                // A template that does not compile fails when it is evaluated.
                continue;
            };
            for variable in variables {
                let mut parts = variable.split('.');
                match (parts.next(), parts.next()) {
                    (Some("steps"), Some(step)) => add(format!("the output of step `{step}`")),
                    (Some("steps"), None) => add("the outputs of the steps".to_string()),
                    (Some(root), _) => {
                        for source in frame.untrusted_vars.get(root).into_iter().flatten() {
                            add(source.clone());
                        }
                    }
                    (None, _) => {}
                }
            }
        }
        sources
    }

    /// Records the step at `path` as `status` (`done` or `skipped`) and writes the
    /// checkpoint; an agent step's running state goes in the same write.
    async fn record(
        &self,
        path: String,
        performed: Performed,
        status: &str,
        started: Instant,
    ) -> Result<(), WorkflowRunError> {
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let Performed {
            output,
            inner,
            agent,
        } = performed;
        let mut state = self.state.lock().await;
        state.running.remove(&path);
        state.steps.insert(
            path.clone(),
            StepRecord {
                output: output.clone(),
                status: status.to_string(),
                inner,
                elapsed_ms,
                agent,
            },
        );
        self.runner.checkpoints.save(&state)?;
        drop(state);
        if status == "done" {
            self.emit(WorkflowEvent::StepFinished {
                path,
                output,
                elapsed_ms,
            });
        }
        Ok(())
    }
}

/// Every text in tool arguments (each is a template).
fn arg_texts(args: &Value) -> Vec<&str> {
    match args {
        Value::String(text) => vec![text.as_str()],
        Value::Array(items) => items.iter().flat_map(arg_texts).collect(),
        Value::Object(map) => map.values().flat_map(arg_texts).collect(),
        _ => Vec::new(),
    }
}

/// Tool arguments with every text rendered as a template (a lone `{{ x }}` keeps `x`'s
/// type).
fn render_args(env: &Environment<'_>, args: &Value, context: &Value) -> Result<Value, String> {
    Ok(match args {
        Value::String(text) => template::evaluate(env, text, Mode::Text, context)?,
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| render_args(env, v, context))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                out.insert(k.clone(), render_args(env, v, context)?);
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}

/// A value shortened for messages.
pub(crate) fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 80 {
        format!("{}…", text.chars().take(80).collect::<String>())
    } else {
        text
    }
}

/// A task's value as text: a string as it is, anything else as JSON.
fn as_text(value: Value) -> String {
    match value {
        Value::String(text) => text,
        other => other.to_string(),
    }
}
