//! The agent driver on the real SmolLM2-135M-Instruct, real tools (calculator, plain
//! function tools) and, where memory is involved, the real embedder over an embedded
//! Qdrant Edge store in a temp dir.
//!
//! `Recorder` wraps the real model and only records the requests it is sent and the
//! completions it returns, to check prompts, step texts and KV-cache reuse. Every test
//! opens its own model, so KV-cache sessions of parallel tests never evict each other.
//!
//! Runs are kept short (at most 4 steps of at most 200 tokens). Where a test must see
//! more than one step, the answer type is a `Report` whose text must be at least 600
//! characters long: no step can finish that answer within its token limit, so the run
//! cannot end early by answering and the step counts do not depend on the model's
//! choices.
//!
//! Where a test needs the model to call a tool (or to answer) at a given step, which the
//! 135M model does for some sampling seeds and not others, it tries a few seeds at
//! temperature 0.5 and checks the first run that does; it fails when none does.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

#[path = "../support/mod.rs"]
mod support;

mod approval;
mod injection;
mod memory;
mod native;
mod repeats;
mod strategies;

use agentry_core::agent::{Agent, AgentError, Pause, PendingApproval};
use agentry_core::model::{
    CandidateScore, Completion, CompletionStream, FinishReason, GenerateRequest, LanguageModel,
    ModelError, ModelInfo, ModelInput, Sampling, ScoreRequest, StreamEvent, ToolCallSyntax,
};
use agentry_core::plan::run::{
    AgentEvent, AgentRun, ApprovalDecision, Input, Limits, StopReason, read_transcript,
};
use agentry_core::plan::strategy::Strategy;
use agentry_llama::{LlamaConfig, LlamaModel};
use agentry_memory::{EdgeStore, FastEmbedder, LongTermMemory, MemoryKind, VectorStore};
use agentry_model_store::ModelStore;
use agentry_prompts::{ChatMessage, Role};
use agentry_tools::builtin::Calculator;
use agentry_tools::{
    Approval, Approver, FnTool, HoldReason, Policy, ToolCall, ToolError, ToolRegistry, ToolSpec,
};
use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use support::smollm2_path;
use tokio::sync::broadcast;

/// An answer no step can finish within 200 tokens (see the module docs).
#[derive(Debug, Deserialize, JsonSchema)]
#[allow(dead_code)]
struct Report {
    /// The full report.
    #[schemars(length(min = 600))]
    text: String,
}

/// Longest thought of a step: short, so that the small model, which tends to repeat
/// itself in a long thought, gets to its action or answer within the step's tokens.
const THOUGHT_CHARS: usize = 120;
/// A shorter cap still, where the model otherwise talks itself out of acting.
const SHORT_THOUGHT_CHARS: usize = 60;

async fn open_model() -> Arc<LlamaModel> {
    let config = LlamaConfig {
        n_ctx: 4096,
        // One thread: the tests run in parallel on a small shared machine, where llama.cpp
        // threads waiting on each other at every barrier make decoding many times slower.
        threads: 1,
        n_seq_max: 4,
        gpu_layers: support::gpu_layers(),
        ..LlamaConfig::default()
    };
    Arc::new(
        LlamaModel::open(smollm2_path().await, config)
            .await
            .expect("load smollm2"),
    )
}

/// The real model; records requests and completions.
struct Recorder {
    inner: Arc<LlamaModel>,
    requests: Mutex<Vec<GenerateRequest>>,
    completions: Arc<Mutex<Vec<Completion>>>,
}

impl Recorder {
    async fn new() -> Arc<Self> {
        Self::over(open_model().await)
    }

    fn over(inner: Arc<LlamaModel>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            requests: Mutex::new(Vec::new()),
            completions: Arc::new(Mutex::new(Vec::new())),
        })
    }

    fn requests(&self) -> Vec<GenerateRequest> {
        self.requests.lock().unwrap().clone()
    }

    fn completions(&self) -> Vec<Completion> {
        self.completions.lock().unwrap().clone()
    }
}

#[async_trait]
impl LanguageModel for Recorder {
    fn info(&self) -> &ModelInfo {
        self.inner.info()
    }

    async fn generate(&self, req: GenerateRequest) -> Result<Vec<Completion>, ModelError> {
        self.requests.lock().unwrap().push(req.clone());
        let out = self.inner.generate(req).await?;
        self.completions.lock().unwrap().extend(out.iter().cloned());
        Ok(out)
    }

    async fn stream(&self, req: GenerateRequest) -> Result<CompletionStream, ModelError> {
        self.requests.lock().unwrap().push(req.clone());
        let mut inner = self.inner.stream(req).await?;
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let completions = self.completions.clone();
        tokio::spawn(async move {
            while let Some(event) = inner.next_event().await {
                if let Ok(StreamEvent::Done(done)) = &event {
                    completions.lock().unwrap().extend(done.iter().cloned());
                }
                if tx.send(event).is_err() {
                    break;
                }
            }
        });
        Ok(CompletionStream::new(rx))
    }

    async fn score(&self, req: ScoreRequest) -> Result<Vec<CandidateScore>, ModelError> {
        self.inner.score(req).await
    }

    async fn count_tokens(&self, text: &str) -> Result<usize, ModelError> {
        self.inner.count_tokens(text).await
    }

    fn tool_call_syntax(&self) -> Option<ToolCallSyntax> {
        self.inner.tool_call_syntax()
    }
}

/// qwen2.5-coder-0.5b from the model store, for tests whose answer must be right.
async fn qwen_0_5b() -> Arc<LlamaModel> {
    registry_model("qwen2.5-coder-0.5b").await
}

/// The model of the registry named `name`, one thread, 4096 tokens of context.
async fn registry_model(name: &str) -> Arc<LlamaModel> {
    let path = ModelStore::from_env()
        .expect("open the model store")
        .pull(name)
        .await
        .unwrap_or_else(|e| panic!("pull {name}: {e}"));
    let config = LlamaConfig {
        n_ctx: 4096,
        threads: 1,
        gpu_layers: support::gpu_layers(),
        ..LlamaConfig::default()
    };
    Arc::new(
        LlamaModel::open(path, config)
            .await
            .unwrap_or_else(|e| panic!("load {name}: {e}")),
    )
}

fn sampling(max_tokens: usize) -> Sampling {
    Sampling {
        max_tokens,
        ..Sampling::default()
    }
}

fn limits(max_steps: usize) -> Limits {
    Limits {
        max_steps,
        ..Limits::default()
    }
}

fn calculator() -> ToolRegistry {
    let mut tools = ToolRegistry::new();
    tools.register(Calculator).unwrap();
    tools
}

fn messages(request: &GenerateRequest) -> Vec<ChatMessage> {
    match &request.prompt {
        ModelInput::Messages(messages) | ModelInput::WithTools { messages, .. } => messages.clone(),
        ModelInput::Raw(text) => panic!("expected chat messages, got raw text {text:?}"),
    }
}

fn prompt_text(request: &GenerateRequest) -> String {
    messages(request)
        .iter()
        .map(|m| format!("[{}] {}", m.role.as_str(), m.content))
        .collect::<Vec<_>>()
        .join("\n")
}

fn drain(events: &mut broadcast::Receiver<AgentEvent>) -> Vec<AgentEvent> {
    let mut out = Vec::new();
    while let Ok(event) = events.try_recv() {
        out.push(event);
    }
    out
}

/// Real memory: the ONNX embedder over an embedded store in `dir`.
async fn memory_in(dir: &Path) -> Arc<LongTermMemory> {
    let store: Arc<dyn VectorStore> = Arc::new(EdgeStore::open(dir.join("memory")).unwrap());
    let embedder = Arc::new(
        FastEmbedder::from_env_store()
            .await
            .expect("the model store must provide the embedder and ONNX Runtime"),
    );
    Arc::new(LongTermMemory::open(store, embedder).await.unwrap())
}

#[tokio::test]
async fn a_tool_using_run_streams_valid_steps_and_ends_within_its_limits() {
    let model = Recorder::new().await;
    let dir = tempfile::tempdir().unwrap();
    let transcript = dir.path().join("run.jsonl");
    let agent = Agent::builder()
        .model(model.clone())
        .role("You are a careful assistant.")
        .instructions(["Use the calculator for arithmetic."])
        .tools(calculator())
        .limits(limits(3))
        .sampling(sampling(200))
        .thought_max_chars(Some(SHORT_THOUGHT_CHARS))
        .transcript(&transcript)
        .checkpoint_dir(dir.path().join("checkpoints"))
        .build()
        .unwrap();
    let mut events = agent.events();
    let run = agent.start::<f64>("What is 17 * 23?").unwrap();
    let schema = run.step_schema().clone();
    let checkpoint = agent.checkpoint_path(&run).unwrap();
    let run_id = run.id();

    let outcome = match agent.finish::<f64>(run).await {
        Ok(output) => {
            assert_eq!(output.outcome.stop, StopReason::Answered);
            assert_eq!(output.run_id, run_id);
            let recorded = output.outcome.answer.as_ref().and_then(|v| v.as_f64());
            assert_eq!(recorded, Some(output.answer));
            assert_eq!(output.step_usage.len(), output.outcome.steps);
            output.outcome
        }
        Err(AgentError::Stopped { reason, outcome }) => {
            assert!(
                matches!(reason, StopReason::MaxSteps { limit: 3 }),
                "unexpected stop: {reason}"
            );
            *outcome
        }
        Err(other) => panic!("the run failed: {other}"),
    };
    let counted = outcome.steps - outcome.uncounted_steps;
    assert!((1..=3).contains(&counted), "{outcome:?}");

    // One streamed completion per step; each finished text is a valid step.
    let completions = model.completions();
    assert_eq!(completions.len(), outcome.steps);
    let validator = jsonschema::validator_for(&schema).unwrap();
    let mut finished = 0;
    for completion in &completions {
        if completion.finish_reason == FinishReason::Stop {
            let value: serde_json::Value = serde_json::from_str(&completion.text)
                .unwrap_or_else(|e| panic!("step text is not JSON ({e}): {}", completion.text));
            assert!(
                validator.is_valid(&value),
                "invalid step: {}",
                completion.text
            );
            finished += 1;
        }
    }
    assert!(finished >= 1, "no step finished: {completions:?}");

    // The tokens streamed are exactly the texts of the steps.
    let events = drain(&mut events);
    let streamed: String = events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::Token { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    let texts: String = completions.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(streamed, texts);
    assert!(matches!(events.last(), Some(AgentEvent::Stopped { .. })));

    // The transcript has the run's events (not the tokens), ending with Stopped.
    let lines = read_transcript(std::io::BufReader::new(
        std::fs::File::open(&transcript).unwrap(),
    ))
    .unwrap();
    assert!(!lines.is_empty());
    assert!(
        lines
            .iter()
            .all(|l| !matches!(l.event, AgentEvent::Token { .. }))
    );
    assert!(matches!(
        lines.last().map(|l| &l.event),
        Some(AgentEvent::Stopped { .. })
    ));
    // The last checkpoint is the ended run.
    let saved = agent
        .resume(&std::fs::read_to_string(&checkpoint).unwrap())
        .unwrap();
    assert_eq!(saved.id(), run_id);
    assert!(saved.is_done());
    assert_eq!(saved.step(), outcome.steps);
}

#[tokio::test]
async fn a_failing_tool_is_reported_to_the_model_and_the_run_goes_on() {
    let llama = open_model().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let mut tools = ToolRegistry::new();
    tools
        .register(FnTool::new(
            "delete_file",
            "Deletes a file.",
            move |_args: DeleteArgs| {
                let counted = counted.clone();
                async move {
                    counted.fetch_add(1, Ordering::SeqCst);
                    Err::<String, _>(ToolError::failed("the disk is read-only"))
                }
            },
        ))
        .unwrap();
    let tools = Arc::new(tools);
    let task = "Delete the file notes.txt.";
    // Whether the small model calls the tool in its first step depends on its sampling,
    // so up to eight seeds are tried; the first run that calls it is checked.
    for seed in 0..8 {
        let model = Recorder::over(llama.clone());
        let agent = Agent::builder()
            .model(model.clone())
            .instructions(["Use the delete_file tool to delete files."])
            .tools(tools.clone())
            .limits(limits(3))
            .sampling(Sampling {
                temperature: 0.5,
                seed,
                ..sampling(100)
            })
            .thought_max_chars(Some(SHORT_THOUGHT_CHARS))
            .build()
            .unwrap();
        let mut events = agent.events();
        let mut run = agent.start::<Report>(task).unwrap();
        assert!(matches!(
            agent.step(&mut run).await.unwrap(),
            Pause::Stepped { step: 1, .. }
        ));
        let called = drain(&mut events)
            .iter()
            .any(|e| matches!(e, AgentEvent::ToolCall { call, .. } if call.name == "delete_file"));
        if !called {
            continue;
        }
        // The call fails, the failure is an observation, and the run makes step 2.
        match agent.step(&mut run).await.unwrap() {
            Pause::Stepped { step: 2, .. } => {}
            other => panic!("expected step 2 after the failure, got {other:?}"),
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let result = drain(&mut events)
            .into_iter()
            .find_map(|e| match e {
                AgentEvent::ToolResult { step: 1, result } => Some(result),
                _ => None,
            })
            .expect("the failed call's result");
        assert!(result.is_error());
        assert!(result.observation().contains("the disk is read-only"));
        let second = prompt_text(&model.requests()[1]);
        assert!(second.contains("the disk is read-only"), "{second}");
        assert!(!run.is_done());
        return;
    }
    panic!("the model never called the failing tool with any of eight seeds");
}

#[tokio::test]
async fn max_steps_one_stops_after_one_step() {
    let model = Recorder::new().await;
    let agent = Agent::builder()
        .model(model.clone())
        .instructions(["Use the calculator for arithmetic."])
        .tools(calculator())
        .limits(limits(1))
        .sampling(sampling(120))
        .thought_max_chars(Some(THOUGHT_CHARS))
        .build()
        .unwrap();
    match agent
        .run::<f64>("Compute 123456 * 789 with the calculator.")
        .await
    {
        Ok(output) => {
            assert_eq!(output.outcome.stop, StopReason::Answered);
            assert!(output.outcome.steps <= 1);
        }
        Err(AgentError::Stopped { reason, outcome }) => {
            assert_eq!(reason, StopReason::MaxSteps { limit: 1 });
            assert_eq!(reason.to_string(), "no answer within the limit of 1 steps");
            assert_eq!(outcome.steps, 1);
            assert!(outcome.answer.is_none());
        }
        Err(other) => panic!("the run failed: {other}"),
    }
    assert_eq!(model.requests().len(), 1);
}

#[tokio::test]
async fn a_checkpoint_after_step_two_resumes_at_step_three_in_a_fresh_agent() {
    let llama = open_model().await;
    let model = Recorder::over(llama.clone());
    let dir = tempfile::tempdir().unwrap();
    let build = |model: Arc<Recorder>| {
        Agent::builder()
            .model(model)
            .instructions(["Use the calculator for arithmetic."])
            .tools(calculator())
            .limits(limits(4))
            .sampling(sampling(80))
            .thought_max_chars(Some(THOUGHT_CHARS))
            .checkpoint_dir(dir.path())
            .build()
            .unwrap()
    };
    let first = build(model.clone());
    let mut run = first
        .start::<Report>("Compute 12 * 12 and 7 * 8, then write a report.")
        .unwrap();
    let mut usages = Vec::new();
    for expected in 1..=2 {
        match first.step(&mut run).await.unwrap() {
            Pause::Stepped { step, usage } => {
                assert_eq!(step, expected);
                usages.push(usage);
            }
            other => panic!("expected step {expected}, got {other:?}"),
        }
    }
    let path = first.checkpoint_path(&run).unwrap();
    let checkpoint = std::fs::read_to_string(&path).unwrap();
    let saved_messages = run.messages().to_vec();
    drop(first);

    let fresh_model = Recorder::over(llama);
    let second = build(fresh_model.clone());
    let mut resumed = second.resume(&checkpoint).unwrap();
    assert_eq!(resumed.id(), run.id());
    assert_eq!(resumed.step(), 2);
    match second.step(&mut resumed).await.unwrap() {
        Pause::Stepped { step, usage } => {
            assert_eq!(step, 3);
            usages.push(usage);
        }
        other => panic!("expected step 3, got {other:?}"),
    }
    assert_eq!(resumed.step(), 3);
    // The resumed request extends the saved conversation.
    let request = &fresh_model.requests()[0];
    assert!(messages(request).starts_with(&saved_messages));
    match second.finish::<Report>(resumed).await {
        Err(AgentError::Stopped { reason, outcome }) => {
            assert_eq!(reason, StopReason::MaxSteps { limit: 4 });
            // Steps that only repeated an answered call do not count toward the limit.
            assert_eq!(outcome.steps - outcome.uncounted_steps, 4, "{outcome:?}");
        }
        other => panic!("expected the step limit, got {other:?}"),
    }
    // KV cache reuse: each later step finds the whole previous prompt in the cache.
    for pair in usages.windows(2) {
        assert!(
            pair[1].cached_tokens >= pair[0].prompt_tokens,
            "cached {} < previous prompt {}: {usages:?}",
            pair[1].cached_tokens,
            pair[0].prompt_tokens
        );
    }
}

/// The arguments of the test tools that delete a file.
#[derive(Debug, Deserialize, JsonSchema)]
struct DeleteArgs {
    /// The file to delete.
    path: String,
}
