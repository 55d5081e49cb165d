//! The agent run: a sans-IO state machine that decides what an agent does next.
//!
//! [`AgentRun`] performs no I/O. It says what to do ([`AgentRun::next_action`]: recall,
//! generate, ask for approval, call tools, let a reasoning strategy solve, store an episode,
//! or done); the driver does it
//! and feeds the result back ([`AgentRun::feed`]). The run is plain data: serialise it
//! for a checkpoint, pause it while a person approves a call, test it without a model.
//!
//! Each model step is ReAct by JSON Schema: the reply is constrained to
//! `{"thought", "action"}` or `{"thought", "final_answer"}` ([`step_schema`]). Tool
//! results and recalled memories come back as user turns, fenced by the run's guard. The
//! message list only grows (the system message is fixed, each step appends the model's
//! raw reply and one user turn), so every request extends the previous one and the
//! model's KV cache, kept under the run's session id, is reused.
//!
//! A driver loop (the model here is a scripted stand-in; a real driver awaits
//! `LanguageModel::generate`, `ToolRegistry::call_all` and the memory):
//!
//! ```
//! use std::time::Instant;
//! use agentry_core::model::{Completion, FinishReason, GenerateRequest, Timings, Usage};
//! use agentry_core::plan::run::{Action, AgentRun, ApprovalDecision, Input, RunConfig};
//!
//! fn scripted_model(_request: GenerateRequest) -> Completion {
//!     let text = r#"{"thought": "Two and two make four.", "final_answer": 4}"#;
//!     Completion { text: text.into(), finish_reason: FinishReason::Stop, usage: Usage::default(), timings: Timings::default() }
//! }
//!
//! let config = RunConfig::new("What is 2 + 2?").with_answer_schema(serde_json::json!({"type": "integer"}));
//! let mut run = AgentRun::new(config)?;
//! let outcome = loop {
//!     let started = Instant::now();
//!     let input = match run.next_action() {
//!         Action::Recall { .. } => Input::Recalled(Vec::new()),
//!         Action::Generate(request) => Input::Generated(scripted_model(request)),
//!         Action::AwaitApproval { .. } => Input::Approval(ApprovalDecision::Approve),
//!         Action::CallTools { .. } => Input::ToolResults(Vec::new()),
//!         Action::StoreEpisode { .. } => Input::EpisodeStored,
//!         Action::Solve(_) => unreachable!("only a reasoning strategy asks to solve"),
//!         Action::Done(outcome) => break outcome,
//!     };
//!     run.feed(input)?;
//!     run.feed(Input::Elapsed(started.elapsed()))?;
//!     for event in run.drain_events() {
//!         println!("{}", serde_json::to_string(&event)?);
//!     }
//! };
//! assert_eq!(outcome.answer, Some(serde_json::json!(4)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod action;
mod answer;
mod calls;
mod config;
mod copied;
mod error;
mod events;
mod format;
mod limits;
mod made_up;
mod native;
pub(crate) mod prompt;
mod rebind;
mod sources;
mod step;
mod view;

use std::sync::Arc;
use std::time::Duration;

use agentry_prompts::{ChatMessage, Guard, Templates};
use agentry_tools::{ApprovedCall, HoldReason, ToolCall, ToolResult};
use jsonschema::Validator;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

pub use action::{Action, ApprovalDecision, Input, Recollection, RunOutcome, SolveRequest, Solved};
pub(crate) use config::Prepared;
pub use config::RunConfig;
pub use error::RunError;
pub use events::{AgentEvent, TranscriptError, TranscriptLine, TranscriptWriter, read_transcript};
pub use format::{StepFormat, ToolFormat};
pub use limits::{Limits, StopReason};
#[cfg(test)]
pub(crate) use rebind::RESUMED_FROM;
pub use step::step_schema;

use crate::model::{Constraint, FinishReason, GenerateRequest, Usage};
use calls::AnsweredCall;
use step::Step;

/// At most this many characters of the last observation go into a recall query.
const RECALL_OBSERVATION_CHARS: usize = 500;
/// At most this many schema errors are shown to the model for a wrong answer.
const MAX_ANSWER_ERRORS: usize = 4;

/// Where the run stands: what it waits for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Phase {
    /// Waits for [`Input::Recalled`].
    Recall,
    /// Waits for [`Input::Generated`].
    Generate,
    /// Waits for the decision on `waiting`, held for `reason`; `rest` are the step's
    /// calls after it.
    Approve {
        waiting: ToolCall,
        #[serde(default)]
        reason: HoldReason,
        rest: Vec<ToolCall>,
        approved: Vec<ToolCall>,
        denied: Vec<ToolResult>,
    },
    /// Waits for the results of `calls`; `denied` are the step's denied calls.
    CallTools {
        calls: Vec<ToolCall>,
        denied: Vec<ToolResult>,
    },
    /// Waits for [`Input::Solved`]; `fallback` is the ReAct answer, if any, kept when the
    /// run is stopped before the strategy answers.
    Solve {
        request: SolveRequest,
        fallback: Option<Value>,
    },
    /// Answered; waits for [`Input::EpisodeStored`].
    StoreEpisode {
        outcome: RunOutcome,
        text: String,
        metadata: Value,
    },
    /// Over.
    Done { outcome: RunOutcome },
}

impl Phase {
    fn expects(&self) -> &'static str {
        match self {
            Phase::Recall => "recalled memories",
            Phase::Generate => "a model completion",
            Phase::Approve { .. } => "an approval decision",
            Phase::CallTools { .. } => "tool results",
            Phase::Solve { .. } => "a strategy's answer",
            Phase::StoreEpisode { .. } => "episode stored",
            Phase::Done { .. } => "nothing",
        }
    }
}

/// One agent run as a sans-IO state machine; see the [module docs](self) for the driver
/// loop.
///
/// The run is its own checkpoint: [`AgentRun::to_json`] at any point, and
/// [`AgentRun::from_json`] (or [`AgentRun::resume`] with custom templates) continues
/// exactly where it stopped: same id and session, same fence marker, same messages,
/// counters, elapsed time and pending action. The templates are not part of the
/// checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentRun {
    id: Uuid,
    config: RunConfig,
    #[serde(with = "shared_value")]
    step_schema: Arc<Value>,
    marker: String,
    messages: Vec<ChatMessage>,
    /// Parts of the next user turn, sent with the next generation.
    pending: Vec<String>,
    phase: Phase,
    steps: usize,
    tool_calls: usize,
    usage: Usage,
    elapsed: Duration,
    tools_used: Vec<String>,
    last_observation: Option<String>,
    /// Whether the last step ran into the token limit (almost always a repetition loop).
    #[serde(default)]
    last_cut_off: bool,
    /// `(tool, observation)` of every result so far, for a strategy that derives the
    /// answer again from them.
    #[serde(default)]
    observations: Vec<(String, String)>,
    /// The strategy's reasoning, once it has answered.
    #[serde(default)]
    reasoning: Option<String>,
    /// Every call of an idempotent tool that succeeded, with its result: a later identical
    /// call (same tool, same arguments) is answered from here instead of run again.
    #[serde(default)]
    answered_calls: Vec<AnsweredCall>,
    /// How many steps only repeated answered calls (nothing ran); up to
    /// [`MAX_UNCOUNTED_REPEATS`] of them do not count toward the step limit.
    #[serde(default)]
    repeat_steps: usize,
    /// Whether the next step must answer (its schema offers no call): set after a step
    /// that only repeated answered calls of every tool the run has.
    #[serde(default)]
    answer_next: bool,
    /// Tools the next step may not call: after a step that only repeated answered calls
    /// (the failed ones, if any failed; else all), those tools are left out of its call
    /// grammar (native steps) and a call of one is sent back, until a step is accepted.
    #[serde(default)]
    withheld: Vec<String>,
    /// Whether a native answer that announced a call it did not make was sent back once
    /// ([`native::unmade_call`]); a second such answer is taken as the answer.
    #[serde(default)]
    unmade_call_sent_back: bool,
    /// Whether an answer that copied the run's own notes was sent back once
    /// ([`copied::copied_sentence`]); a second one is taken as the answer.
    #[serde(default)]
    copied_note_sent_back: bool,
    /// Whether the next step must make one call (its constraint is one call's schema):
    /// set after a reply that wrote the prompt's own markup instead of a call
    /// ([`native::FORGED_MARKUP`]).
    #[serde(default)]
    call_next: bool,
    /// The texts of the memories shown to the model so far: a later recall shows only
    /// the others.
    #[serde(default)]
    shown_memories: Vec<String>,
    /// The sources the task names (files, pages) that no call has used yet
    /// ([`sources::named`]).
    #[serde(default)]
    unused_sources: Vec<sources::Source>,
    /// The named sources a reply was already sent back for: each is asked for once; a
    /// later reply that leaves it unused stands.
    #[serde(default)]
    sources_asked: Vec<sources::Source>,
    /// Whether a call writing a number no result nor the request gave was sent back once
    /// ([`sources::made_up_write_problem`]).
    #[serde(default)]
    made_up_write_asked: bool,
    /// Whether a call holding numbers nothing gave was sent back once
    /// ([`made_up::made_up_arguments`]).
    #[serde(default)]
    made_up_argument_asked: bool,
    /// The tool that sits out the next step: set when its call was sent back for
    /// made-up arguments.
    #[serde(default)]
    sit_out_next: Option<String>,
    /// The files a listing showed that no call has read yet ([`sources::listed`]).
    #[serde(default)]
    listed_sources: Vec<sources::Source>,
    /// The arguments of the run's calls of tools that read files or the network (at
    /// most [`sources::MAX_READ_ARGS`]), to tell a listed file already read.
    #[serde(default)]
    read_args: Vec<Value>,
    /// When the next native step must make one call: the tools withheld from it (set
    /// after a reply sent back for a file or page no call had used: only the tools that
    /// could use it are offered).
    #[serde(default)]
    use_next: Option<Vec<String>>,
    /// Where the untrusted text in the run came from (tools whose output is untrusted,
    /// recalled memories, a templated task), each once; while it is not empty, calls with
    /// side effects wait for approval even when pre-approved.
    #[serde(default)]
    untrusted: Vec<String>,
    events: Vec<AgentEvent>,
    #[serde(skip)]
    templates: Arc<Templates>,
    /// The compiled answer schema; compiled again when needed after a resume.
    #[serde(skip)]
    answer_validator: Option<Arc<Validator>>,
    /// The tools as native steps send them, prepared once; made at each step after a
    /// resume that was not rebound to a live agent.
    #[serde(skip)]
    native_tools: Option<Arc<native::NativeTools>>,
}

impl AgentRun {
    /// A run of `config` with the built-in templates.
    ///
    /// # Errors
    /// An invalid configuration (empty task, bad or duplicate tool names, an answer schema
    /// that does not compile, no calls per step), or a template that fails to render.
    pub fn new(config: RunConfig) -> Result<Self, RunError> {
        Self::with_templates(config, Arc::new(Templates::new()))
    }

    /// A run of `config` rendering its prompts with `templates` (built-ins overridden
    /// from a user folder, say).
    ///
    /// # Errors
    /// As [`AgentRun::new`].
    pub fn with_templates(config: RunConfig, templates: Arc<Templates>) -> Result<Self, RunError> {
        let prepared = Prepared::new(&config, &templates)?;
        Self::prepared(config, templates, &prepared)
    }

    /// A run of `config` started from `prepared`, which must [fit](Prepared::fits) it and
    /// have been made with `templates`.
    ///
    /// # Errors
    /// An empty task, or a template that fails to render.
    pub(crate) fn prepared(
        config: RunConfig,
        templates: Arc<Templates>,
        prepared: &Prepared,
    ) -> Result<Self, RunError> {
        config.check_task()?;
        let guard = Guard::for_texts([config.task.as_str()])?;
        let unused_sources = if config.solves_alone() {
            Vec::new()
        } else {
            sources::named(&config.task, &config.tools)
        };
        let system = prompt::with_guard_notice(
            &templates,
            &prepared.system_head,
            prepared.guarded(),
            &guard,
        )?;
        let mut run = Self {
            id: Uuid::new_v4(),
            step_schema: prepared.step_schema.clone(),
            marker: guard.marker().to_owned(),
            messages: vec![ChatMessage::system(system)],
            pending: vec![config.task.clone()],
            phase: Phase::Generate,
            steps: 0,
            tool_calls: 0,
            usage: Usage::default(),
            elapsed: Duration::ZERO,
            tools_used: Vec::new(),
            last_observation: None,
            last_cut_off: false,
            observations: Vec::new(),
            reasoning: None,
            answered_calls: Vec::new(),
            repeat_steps: 0,
            answer_next: false,
            withheld: Vec::new(),
            unmade_call_sent_back: false,
            copied_note_sent_back: false,
            call_next: false,
            shown_memories: Vec::new(),
            unused_sources,
            sources_asked: Vec::new(),
            made_up_write_asked: false,
            made_up_argument_asked: false,
            sit_out_next: None,
            listed_sources: Vec::new(),
            read_args: Vec::new(),
            use_next: None,
            untrusted: Vec::new(),
            events: Vec::new(),
            templates,
            answer_validator: Some(prepared.answer_validator.clone()),
            native_tools: prepared.native_tools.clone(),
            config,
        };
        if !run.config.solves_alone() {
            run.next_step();
        } else if run.config.recall_top_k.is_some() {
            run.phase = Phase::Recall;
        } else {
            run.solve(&[], None)?;
        }
        Ok(run)
    }

    /// Marks the run as holding untrusted text from `source` (say, a task templated from a
    /// fetched page: "the task (from step `fetch`)"). From then on, calls with side
    /// effects wait for approval even when pre-approved (see [`agentry_tools::hold()`]).
    /// The run notes tool output and recalled memories itself.
    pub fn note_untrusted(&mut self, source: impl Into<String>) {
        self.note_source(source.into());
    }

    /// Where the untrusted text in the run came from, in the order it came (empty: none).
    pub fn untrusted_sources(&self) -> &[String] {
        &self.untrusted
    }

    /// What the driver must do next. Calling it again without feeding gives the same
    /// action.
    pub fn next_action(&self) -> Action {
        match &self.phase {
            Phase::Recall => Action::Recall {
                query: self.recall_query(),
                top_k: self.config.recall_top_k.unwrap_or(0),
            },
            Phase::Generate => Action::Generate(self.request()),
            Phase::Approve {
                waiting, reason, ..
            } => Action::AwaitApproval {
                call: waiting.clone(),
                reason: reason.clone(),
            },
            Phase::CallTools { calls, .. } => Action::CallTools {
                calls: calls.iter().cloned().map(ApprovedCall::new).collect(),
            },
            Phase::Solve { request, .. } => Action::Solve(request.clone()),
            Phase::StoreEpisode { text, metadata, .. } => Action::StoreEpisode {
                text: text.clone(),
                metadata: metadata.clone(),
            },
            Phase::Done { outcome } => Action::Done(outcome.clone()),
        }
    }

    /// Takes the result of the pending action (or an [`Input::Elapsed`] report, at any
    /// time) and moves the run on.
    ///
    /// # Errors
    /// An input that does not answer the pending action, results that are not one per
    /// pending call, input after the end, or a template that fails to render. On error
    /// the run is unchanged.
    pub fn feed(&mut self, input: Input) -> Result<(), RunError> {
        match input {
            Input::Elapsed(spent) => {
                self.add_elapsed(spent);
                Ok(())
            }
            Input::Recalled(items) if self.phase == Phase::Recall => self.on_recalled(items),
            Input::Generated(completion) if self.phase == Phase::Generate => {
                self.on_generated(completion.text, completion.finish_reason, completion.usage)
            }
            Input::Approval(decision) if matches!(self.phase, Phase::Approve { .. }) => {
                self.on_approval(decision)
            }
            Input::ToolResults(results) if matches!(self.phase, Phase::CallTools { .. }) => {
                self.on_results(results)
            }
            Input::Solved(solved) if matches!(self.phase, Phase::Solve { .. }) => {
                self.on_solved(solved)
            }
            Input::EpisodeStored => match &self.phase {
                Phase::StoreEpisode { outcome, .. } => {
                    let outcome = outcome.clone();
                    self.end(outcome);
                    Ok(())
                }
                _ => Err(self.mismatch(&Input::EpisodeStored)),
            },
            other => Err(self.mismatch(&other)),
        }
    }

    /// The error for `input` fed in the current phase.
    fn mismatch(&self, input: &Input) -> RunError {
        match &self.phase {
            Phase::Done { outcome } => RunError::Finished {
                stop: outcome.stop.clone(),
            },
            phase => RunError::UnexpectedInput {
                expected: phase.expects(),
                got: input.kind(),
            },
        }
    }

    /// Ends the run now with [`StopReason::Cancelled`], or with its answer when it has
    /// one (the episode is then not stored). Does nothing after the end.
    pub fn cancel(&mut self) {
        self.stop_now(StopReason::Cancelled);
    }

    /// Ends the run because the driver could not perform the pending action (the model
    /// or a store failed): records an [`AgentEvent::Error`] and stops with
    /// [`StopReason::Failed`], or with its answer when it has one. Does nothing after the
    /// end.
    pub fn fail(&mut self, message: impl Into<String>) {
        if self.is_done() {
            return;
        }
        let message = message.into();
        self.events.push(AgentEvent::Error {
            message: message.clone(),
        });
        self.stop_now(StopReason::Failed { message });
    }

    /// The events recorded since the last drain, oldest first.
    pub fn drain_events(&mut self) -> Vec<AgentEvent> {
        std::mem::take(&mut self.events)
    }

    // ---- transitions ----

    fn on_recalled(&mut self, items: Vec<Recollection>) -> Result<(), RunError> {
        if self.config.solves_alone() {
            return self.recalled_for_solving(items);
        }
        // A memory already shown in the run is in the conversation: shown again at every
        // step, it buried the question (qwen2.5-coder-1.5b answered by repeating it).
        let fresh: Vec<Recollection> = items
            .iter()
            .filter(|item| !self.shown_memories.contains(&item.text))
            .cloned()
            .collect();
        let block = prompt::recalled(&self.templates, &self.guard()?, &fresh)?;
        self.events.push(AgentEvent::Recall {
            step: self.steps + 1,
            items,
        });
        self.note_recalled(&fresh);
        self.shown_memories
            .extend(fresh.into_iter().map(|item| item.text));
        // Before the task or the new observations: a small model answers from what it
        // reads last, so the question comes after the notes that answer it.
        if let Some(block) = block {
            self.pending.insert(0, block);
        }
        self.start_generation();
        Ok(())
    }

    fn on_generated(
        &mut self,
        text: String,
        finish: FinishReason,
        usage: Usage,
    ) -> Result<(), RunError> {
        let step = self.steps + 1;
        let parsed = match self.config.step_format {
            StepFormat::Json => step::parse_step(&text, self.max_calls())
                .map(Some)
                .map_err(|error| unusable(&error.to_string(), finish)),
            StepFormat::Native(syntax) if self.must_call() => {
                native::read_forced_call(syntax, &text, finish)
            }
            StepFormat::Native(syntax) => {
                self.read_native(syntax, &text, finish, self.must_answer())
            }
        };
        let forged = self.forged_markup_problem(&parsed, finish);
        let thought = match &parsed {
            Ok(Some(Step::Act { thought, .. } | Step::Answer { thought, .. })) => thought.clone(),
            Ok(None) | Err(_) => String::new(),
        };
        // `None`: a prose reply where the answer must be JSON; the next step gives it.
        let verdict = match parsed {
            _ if let Some(problem) = &forged => Err(Rejection::SentBack(problem.clone())),
            Err(problem) => Err(Rejection::Unreadable(problem)),
            Ok(None) => Ok(None),
            Ok(Some(step)) => match self.answer_problem(&step) {
                Some(problem) => Err(Rejection::Unreadable(problem)),
                None => match self
                    .withheld_problem(&step)
                    .or_else(|| self.copied_note_problem(&step))
                    .or_else(|| self.unmade_call_problem(&step))
                    .or_else(|| self.unused_source_problem(&step))
                    .or_else(|| self.made_up_write_problem(&step))
                    .or_else(|| self.made_up_argument_problem(&step))
                {
                    Some(problem) => Err(Rejection::SentBack(problem)),
                    None => Ok(Some(step)),
                },
            },
        };
        let retry = match &verdict {
            Err(rejection) => {
                let native = self.config.step_format != StepFormat::Json;
                // The request is repeated last in every native retry: cut off at the
                // token limit, a small model no longer knew what was asked (it apologised
                // for the cut), and sent back, it answered with the note's last line.
                let task = native.then_some(self.config.task.as_str());
                Some(prompt::step_error(
                    &self.templates,
                    rejection.problem(),
                    native,
                    task,
                )?)
            }
            // A prose answer where the answer must be JSON: asked for under its schema.
            Ok(None) => Some(prompt::answer_as_json(
                &self.templates,
                &self.config.answer_schema,
                &self.config.task,
            )?),
            Ok(Some(_)) => None,
        };

        self.steps = step;
        self.answer_next = false;
        self.call_next = forged.is_some();
        if verdict.is_ok() {
            self.withheld.clear();
        }
        if let Some(withheld) = self.use_next.take() {
            // The unused file or page is used next: only the tools that could use it are
            // offered.
            self.call_next = true;
            self.withheld = withheld;
        }
        if let Some(tool) = self.sit_out_next.take() {
            // A tool called with made-up values sits out the next step (and any reply
            // sent back before one is accepted); with no other tool, the next step answers.
            self.answer_next = self.config.tools.iter().all(|spec| spec.name == tool);
            self.withheld = vec![tool];
        }
        self.last_cut_off = finish == FinishReason::Length;
        self.add_usage(usage);
        // A native call goes into the conversation as the template writes calls (tags
        // included, however the model wrote it), so the model reads back a call made.
        let written = match (&self.config.step_format, &verdict) {
            (StepFormat::Native(syntax), Ok(Some(Step::Act { thought, calls }))) => {
                syntax.write(thought, calls)
            }
            _ => text,
        };
        self.messages.push(ChatMessage::assistant(written));
        if !thought.is_empty() {
            self.events.push(AgentEvent::Thought {
                step,
                text: thought,
            });
        }
        match verdict {
            Err(rejection) => {
                self.events.push(match rejection {
                    Rejection::Unreadable(problem) => AgentEvent::Error {
                        message: format!("step {step}: the reply could not be used: {problem}"),
                    },
                    Rejection::SentBack(problem) => AgentEvent::SentBack { step, problem },
                });
                self.pending.extend(retry);
                self.next_step();
            }
            Ok(None) => {
                self.pending.extend(retry);
                self.next_step();
                self.answer_next = true;
            }
            Ok(Some(Step::Answer { answer, .. })) => self.answered(answer)?,
            Ok(Some(Step::Act { calls, .. })) => self.request_calls(step, calls),
        }
        Ok(())
    }

    /// Puts a step's results, `(tool, observation)` each, before the model and starts the
    /// next step. The JSON step gets them as one user turn (with `note` after them); the
    /// native format as one `tool` message per result, each fenced, then `note` as a user
    /// turn.
    fn observe(
        &mut self,
        results: Vec<(String, String)>,
        note: Option<String>,
    ) -> Result<(), RunError> {
        let guard = self.guard()?;
        let note = match (note, self.failed_call_note(&results)) {
            (Some(note), Some(source)) => Some(format!("{note}\n\n{source}")),
            (note, source) => note.or(source),
        };
        let named = results
            .iter()
            .map(|(tool, observation)| (tool.as_str(), observation.as_str()));
        match self.config.step_format {
            StepFormat::Json => {
                let mut text = prompt::observations(&self.templates, &guard, named)?;
                if let Some(note) = note {
                    text = format!("{text}\n\n{note}");
                }
                self.pending.push(text);
            }
            StepFormat::Native(_) => {
                for (tool, observation) in named {
                    let fenced = prompt::tool_message(&guard, tool, observation);
                    self.messages.push(ChatMessage::tool(fenced));
                }
                self.pending.extend(note);
            }
        }
        self.note_listed(&results);
        let texts: Vec<&str> = results.iter().map(|(_, text)| text.as_str()).collect();
        self.last_observation = Some(texts.join("\n"));
        self.observations.extend(results);
        self.next_step();
        Ok(())
    }

    /// Starts the next step, or ends the run when a limit is reached. Before the last step
    /// the limits allow, when it must answer from the results in hand, the model is told
    /// so (`answer_now`).
    fn next_step(&mut self) {
        if let Some(stop) = self.limit_reached() {
            self.finish(stop);
            return;
        }
        if self.must_answer() && !self.answer_next && !self.config.tools.is_empty() {
            match prompt::answer_now(&self.templates) {
                Ok(note) => self.pending.push(note),
                Err(error) => self.events.push(AgentEvent::Error {
                    message: format!("the last-step note could not be written: {error}"),
                }),
            }
        }
        if self.config.recall_top_k.is_some() {
            self.phase = Phase::Recall;
        } else {
            self.start_generation();
        }
    }

    /// Sends the queued parts as one user turn and waits for the model.
    fn start_generation(&mut self) {
        if !self.pending.is_empty() {
            let turn = std::mem::take(&mut self.pending).join("\n\n");
            self.messages.push(ChatMessage::user(turn));
        }
        self.phase = Phase::Generate;
    }

    fn add_elapsed(&mut self, spent: Duration) {
        self.elapsed = self.elapsed.saturating_add(spent);
        let running = matches!(
            self.phase,
            Phase::Recall
                | Phase::Generate
                | Phase::Approve { .. }
                | Phase::CallTools { .. }
                | Phase::Solve { .. }
        );
        if let Some(limit) = self.deadline_passed()
            && running
        {
            self.finish(StopReason::Deadline { limit });
        }
    }

    fn stop_now(&mut self, reason: StopReason) {
        match &self.phase {
            Phase::Done { .. } => {}
            Phase::StoreEpisode { outcome, .. } => {
                let outcome = outcome.clone();
                self.end(outcome);
            }
            Phase::Solve {
                fallback: Some(answer),
                ..
            } => {
                let outcome = self.outcome_with(Some(answer.clone()), StopReason::Answered);
                self.end(outcome);
            }
            _ => self.finish(reason),
        }
    }

    /// Ends the run without an answer.
    fn finish(&mut self, stop: StopReason) {
        let outcome = self.outcome_with(None, stop);
        self.end(outcome);
    }

    fn end(&mut self, outcome: RunOutcome) {
        self.events.push(AgentEvent::Stopped {
            reason: outcome.stop.clone(),
        });
        self.phase = Phase::Done { outcome };
    }

    // ---- helpers ----

    fn guard(&self) -> Result<Guard, RunError> {
        Ok(Guard::from_marker(&self.marker)?)
    }

    fn max_calls(&self) -> usize {
        self.config.max_calls()
    }

    /// Why `call` must wait for a decision before it runs; `None`: it may run.
    fn hold(&self, call: &ToolCall) -> Option<HoldReason> {
        let spec = self
            .config
            .tools
            .iter()
            .find(|spec| spec.name == call.name)?;
        agentry_tools::hold(spec, &self.config.approvals, &self.untrusted)
    }

    /// Notes that untrusted text from `source` entered the run (once per source).
    fn note_source(&mut self, source: String) {
        if !self.untrusted.contains(&source) {
            self.untrusted.push(source);
        }
    }

    /// Notes the recalled items as untrusted text in the run, and reports the injection
    /// signals in them.
    fn note_recalled(&mut self, items: &[Recollection]) {
        if !items.is_empty() {
            self.note_source("recalled memories".to_owned());
        }
        for item in items {
            self.report_signals("recalled memories", &item.text);
        }
    }

    /// An [`AgentEvent::InjectionSignals`] for `text` from `source`, when the scanner
    /// finds any.
    fn report_signals(&mut self, source: &str, text: &str) {
        let signals: Vec<String> = agentry_prompts::scan(text)
            .into_iter()
            .map(|signal| {
                let kind = serde_json::to_value(signal.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                let matched: String = signal.matched.chars().take(80).collect();
                format!("{kind}: {matched:?} ({})", signal.explanation)
            })
            .collect();
        if !signals.is_empty() {
            self.events.push(AgentEvent::InjectionSignals {
                step: self.steps + 1,
                source: source.to_owned(),
                signals,
            });
        }
    }

    /// Whether the next step may only answer: it follows a step that only repeated answered
    /// calls, or it is the last step the limits allow and the run already holds results
    /// (so a run that has the facts never ends with no answer).
    fn must_answer(&self) -> bool {
        self.answer_next || (self.last_step() && !self.observations.is_empty())
    }

    /// Whether the next step must make one call (see `call_next`); never when it must
    /// answer or every tool is withheld from it.
    fn must_call(&self) -> bool {
        self.call_next
            && !self.must_answer()
            && self
                .config
                .tools
                .iter()
                .any(|tool| !self.withheld.contains(&tool.name))
    }

    /// Whether the next step is the last one the step limit allows: a reply sent back
    /// there would end the run with no answer.
    fn last_step(&self) -> bool {
        self.counted_steps() + 1 >= self.config.limits.max_steps
    }

    /// The steps that count toward the step limit: all but the first
    /// [`MAX_UNCOUNTED_REPEATS`] that only repeated answered calls (qwen2.5-coder-0.5b
    /// repeats each call once after its result, which spent half its steps).
    fn counted_steps(&self) -> usize {
        self.steps
            .saturating_sub(self.repeat_steps.min(MAX_UNCOUNTED_REPEATS))
    }

    fn limit_reached(&self) -> Option<StopReason> {
        let limits = &self.config.limits;
        if self.counted_steps() >= limits.max_steps {
            return Some(StopReason::MaxSteps {
                limit: limits.max_steps,
            });
        }
        if let Some(limit) = limits.max_tokens
            && self.usage.completion_tokens >= limit
        {
            return Some(StopReason::MaxTokens { limit });
        }
        self.deadline_passed()
            .map(|limit| StopReason::Deadline { limit })
    }

    fn deadline_passed(&self) -> Option<Duration> {
        self.config
            .limits
            .deadline
            .filter(|deadline| self.elapsed >= *deadline)
    }

    fn add_usage(&mut self, usage: Usage) {
        self.usage += usage;
    }

    fn request(&self) -> GenerateRequest {
        let mut sampling = self.config.sampling.clone();
        if self.last_cut_off {
            // A step cut at the token limit is almost always a repetition loop, which greedy
            // decoding would repeat exactly: sample the next one with a repetition penalty.
            sampling.repeat_penalty = sampling.repeat_penalty.max(LOOP_BREAK_PENALTY);
            sampling.temperature = sampling.temperature.max(LOOP_BREAK_TEMPERATURE);
            sampling.seed = sampling.seed.wrapping_add(self.steps as u32);
        }
        if let Some(limit) = self.config.limits.max_tokens {
            let left = limit.saturating_sub(self.usage.completion_tokens);
            sampling.max_tokens = sampling.max_tokens.min(left);
        }
        if let StepFormat::Native(syntax) = self.config.step_format {
            return self.native_request(syntax, sampling);
        }
        let schema = if self.must_answer() {
            step_schema(
                &[],
                &self.config.answer_schema,
                0,
                self.config.thought_max_chars,
            )
        } else {
            self.step_schema.as_ref().clone()
        };
        GenerateRequest::chat(self.messages.clone())
            .with_sampling(sampling)
            .with_constraint(Constraint::JsonSchema(schema))
            .with_session(self.session())
    }

    fn recall_query(&self) -> String {
        match &self.last_observation {
            Some(observation) => format!(
                "{}\n{}",
                self.config.task,
                step::shorten(observation, RECALL_OBSERVATION_CHARS)
            ),
            None => self.config.task.clone(),
        }
    }

    /// Why the answer of `step` does not match the answer schema; `None` when it does or
    /// when `step` is no answer.
    fn answer_problem(&mut self, step: &Step) -> Option<String> {
        let Step::Answer { answer, .. } = step else {
            return None;
        };
        if step::is_free_text(&self.config.answer_schema)
            && answer.as_str().is_some_and(|text| text.trim().is_empty())
        {
            return Some("\"final_answer\" is blank: write the answer itself".to_owned());
        }
        self.schema_problem(answer)
            .map(|errors| format!("\"final_answer\" does not match the answer schema: {errors}"))
    }

    /// The problem of a step that calls a tool withheld from it (see `withheld`).
    fn withheld_problem(&self, step: &Step) -> Option<String> {
        let Step::Act { calls, .. } = step else {
            return None;
        };
        let (name, _) = calls
            .iter()
            .find(|(name, _)| self.withheld.contains(name))?;
        Some(format!(
            "`{name}` cannot be called in this step: its last call was repeated or sent back, \
             and what you have read above stands. Use another tool, or answer the user"
        ))
    }

    /// The problem of a native free-text answer that announces a call it does not make
    /// ("I will use the `read_file` function.", or a made-up tool result), the first time
    /// in the run and when the step could call (tools offered, no answer forced): the
    /// model is asked again.
    fn unmade_call_problem(&mut self, step: &Step) -> Option<String> {
        let Step::Answer { answer, .. } = step else {
            return None;
        };
        if self.unmade_call_sent_back
            || self.must_answer()
            || self.last_step()
            || self.config.tools.is_empty()
            || !matches!(self.config.step_format, StepFormat::Native(_))
        {
            return None;
        }
        // A tool named in text copied from a note is the note's word, not the model's.
        if self.copied_note(answer.as_str()?).is_some() {
            return None;
        }
        let names = self.config.tools.iter().map(|tool| tool.name.as_str());
        // Text copied from a result is the model quoting it, not announcing a call:
        // qwen2.5-coder-1.5b answered with the error "tool `read_file` failed: `report.txt`
        // does not exist", which names the tool.
        let mut own_words = answer.as_str()?.to_owned();
        for (_, observation) in &self.observations {
            if !observation.trim().is_empty() {
                own_words = own_words.replace(observation.trim(), " ");
            }
        }
        let problem = native::unmade_call(&own_words, names)?;
        self.unmade_call_sent_back = true;
        Some(problem)
    }

    /// The problem of a free-text answer that copies a sentence of the run's own notes
    /// (see [`copied`]) instead of answering, the first time in the run and when a step
    /// is left: the model is asked again, the request repeated last.
    fn copied_note_problem(&mut self, step: &Step) -> Option<String> {
        let Step::Answer { answer, .. } = step else {
            return None;
        };
        if self.copied_note_sent_back || self.last_step() {
            return None;
        }
        self.copied_note(answer.as_str()?)?;
        self.copied_note_sent_back = true;
        Some(
            "it repeats the instructions sent to you instead of answering. Answer the \
             user's request itself, in your own words"
                .to_owned(),
        )
    }

    /// The sentence of the run's own notes that `answer` copies, if any: not one found
    /// in the request or a tool result, which an answer may quote.
    fn copied_note(&self, answer: &str) -> Option<String> {
        let quoted: Vec<&str> = std::iter::once(self.config.task.as_str())
            .chain(self.observations.iter().map(|(_, text)| text.as_str()))
            .chain(self.shown_memories.iter().map(String::as_str))
            .collect();
        let sentences = copied::note_sentences(&self.messages, &quoted);
        copied::copied_sentence(answer, &sentences).map(str::to_owned)
    }

    /// What is wrong with `answer` against the answer schema; `None` when it matches.
    fn schema_problem(&mut self, answer: &Value) -> Option<String> {
        let validator = match &self.answer_validator {
            Some(validator) => validator.clone(),
            None => {
                let validator =
                    Arc::new(jsonschema::validator_for(&self.config.answer_schema).ok()?);
                self.answer_validator = Some(validator.clone());
                validator
            }
        };
        let errors: Vec<String> = validator
            .iter_errors(answer)
            .take(MAX_ANSWER_ERRORS)
            .map(|error| error.to_string())
            .collect();
        (!errors.is_empty()).then(|| errors.join("; "))
    }
}

/// Why a reply was not taken: the model is asked again either way.
enum Rejection {
    /// It could not be read as a step, or its answer breaks the answer schema.
    Unreadable(String),
    /// It was read, but is not taken as it is: a call of a withheld tool, or an answer
    /// that announces a call it does not make.
    SentBack(String),
}

impl Rejection {
    /// What is wrong, for the model.
    fn problem(&self) -> &str {
        match self {
            Self::Unreadable(problem) | Self::SentBack(problem) => problem,
        }
    }
}

/// How many steps that only repeated answered calls a run may take beyond its step
/// limit: such a step runs nothing, and the next one may not call the repeated tool.
const MAX_UNCOUNTED_REPEATS: usize = 2;

/// Repetition penalty of a step after one that ran into the token limit.
const LOOP_BREAK_PENALTY: f32 = 1.3;
/// Temperature of such a step.
const LOOP_BREAK_TEMPERATURE: f32 = 0.7;

/// Why a reply could not be read, with the hint that it was cut off when it was.
///
/// Deliberately not `Completion::require_complete`: a step cut before its schema was
/// complete is never run as a call; it becomes this observation and the step is retried
/// (within `max_steps`), where every other constrained caller returns the error.
fn unusable(error: &str, finish: FinishReason) -> String {
    match finish {
        FinishReason::Length => {
            format!(
                "{error} (the reply was cut off at the token limit: keep the thought and the arguments short and do not repeat yourself)"
            )
        }
        FinishReason::ContextFull => format!("{error} (the context is full)"),
        _ => error.to_owned(),
    }
}

/// Serde for an `Arc<Value>` field as the plain value.
mod shared_value {
    use std::sync::Arc;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use serde_json::Value;

    pub(super) fn serialize<S: Serializer>(
        value: &Arc<Value>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        value.as_ref().serialize(serializer)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Arc<Value>, D::Error> {
        Value::deserialize(deserializer).map(Arc::new)
    }
}

#[cfg(test)]
mod tests;
