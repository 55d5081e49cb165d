//! Output parsers, `extract` and the reasoning strategies on the real SmolLM2-135M-Instruct.
//!
//! `CountingModel` wraps the real model and only counts and records requests, to check how
//! many model calls a strategy makes and what the retry prompts say.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

mod support;

use agentry_core::model::{
    CandidateScore, Completion, CompletionStream, Constraint, GenerateRequest, LanguageModel,
    ModelError, ModelInfo, ModelInput, ScoreRequest,
};
use agentry_core::parse::{
    ExtractError, ExtractOptions, Label, Labels, List, Number, OutputParser, Regex, extract,
    extract_with,
};
use agentry_core::plan::strategy::vote::normalize;
use agentry_core::plan::strategy::{Evaluator, SolveOptions, Strategy, TraceEvent};
use agentry_llama::{LlamaConfig, LlamaModel};
use agentry_prompts::{ChatMessage, Role};
use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use support::smollm2_path;
use tokio::sync::OnceCell;

static MODEL: OnceCell<Arc<LlamaModel>> = OnceCell::const_new();

async fn model() -> Arc<LlamaModel> {
    MODEL
        .get_or_init(|| async {
            let config = LlamaConfig {
                n_ctx: 4096,
                threads: 2,
                n_seq_max: 8,
                gpu_layers: support::gpu_layers(),
                ..LlamaConfig::default()
            };
            Arc::new(
                LlamaModel::open(smollm2_path().await, config)
                    .await
                    .expect("load smollm2"),
            )
        })
        .await
        .clone()
}

/// The real model, with every `generate` request recorded and `score` calls counted.
struct CountingModel {
    inner: Arc<LlamaModel>,
    requests: Mutex<Vec<GenerateRequest>>,
    scores: AtomicUsize,
    batches: Mutex<Vec<usize>>,
    score_prompts: Mutex<Vec<ModelInput>>,
}

impl CountingModel {
    async fn new() -> Self {
        Self {
            inner: model().await,
            requests: Mutex::new(Vec::new()),
            scores: AtomicUsize::new(0),
            batches: Mutex::new(Vec::new()),
            score_prompts: Mutex::new(Vec::new()),
        }
    }

    fn requests(&self) -> Vec<GenerateRequest> {
        self.requests.lock().unwrap().clone()
    }
}

#[async_trait]
impl LanguageModel for CountingModel {
    fn info(&self) -> &ModelInfo {
        self.inner.info()
    }

    async fn generate(&self, req: GenerateRequest) -> Result<Vec<Completion>, ModelError> {
        self.requests.lock().unwrap().push(req.clone());
        self.inner.generate(req).await
    }

    async fn stream(&self, req: GenerateRequest) -> Result<CompletionStream, ModelError> {
        self.requests.lock().unwrap().push(req.clone());
        self.inner.stream(req).await
    }

    async fn generate_batch(
        &self,
        reqs: Vec<GenerateRequest>,
    ) -> Result<Vec<Vec<Completion>>, ModelError> {
        self.batches.lock().unwrap().push(reqs.len());
        self.requests.lock().unwrap().extend(reqs.iter().cloned());
        self.inner.generate_batch(reqs).await
    }

    async fn score(&self, req: ScoreRequest) -> Result<Vec<CandidateScore>, ModelError> {
        self.scores.fetch_add(1, Ordering::SeqCst);
        self.score_prompts.lock().unwrap().push(req.prompt.clone());
        self.inner.score(req).await
    }

    async fn count_tokens(&self, text: &str) -> Result<usize, ModelError> {
        self.inner.count_tokens(text).await
    }
}

fn user(text: &str) -> ModelInput {
    ModelInput::Messages(vec![ChatMessage::new(Role::User, text)])
}

#[derive(Debug, Deserialize, JsonSchema, PartialEq)]
enum Priority {
    Low,
    Medium,
    High,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Contact {
    Email { address: String },
    Phone { number: String },
}

#[derive(Debug, Deserialize, JsonSchema)]
struct Address {
    city: String,
    country: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct Customer {
    name: String,
    address: Address,
    contact: Contact,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct Ticket {
    title: String,
    priority: Priority,
    customer: Customer,
    tags: Vec<String>,
}

#[tokio::test]
async fn extract_returns_a_nested_struct_with_enums() {
    let m = CountingModel::new().await;
    let prompt = user(
        "Make a support ticket: Alice Martin from Lyon, France (email alice@example.com) \
         says the printer is on fire. This is urgent.",
    );
    let ticket: Ticket = extract(&m, prompt.clone()).await.expect("a valid ticket");
    assert!(!ticket.customer.name.is_empty());
    assert!(!ticket.customer.address.city.is_empty());
    assert!(!ticket.customer.address.country.is_empty());
    assert!(matches!(
        ticket.priority,
        Priority::Low | Priority::Medium | Priority::High
    ));
    let contact = match &ticket.customer.contact {
        Contact::Email { address } => address,
        Contact::Phone { number } => number,
    };
    assert!(!contact.is_empty());
    let _ = (&ticket.title, &ticket.tags);
    let requests = m.requests();
    let ModelInput::Messages(messages) = &requests[0].prompt else {
        panic!("chat prompt expected");
    };
    assert!(
        messages[0].content.contains("JSON Schema"),
        "format instructions are appended to the task"
    );

    let first_requests = requests.len();
    // Under the schema constraint a reply can only fail by running out of tokens; such a
    // retry samples with a repetition penalty instead of repeating the greedy loop.
    let extraction = extract_with(
        &m,
        &agentry_core::parse::Json::<Ticket>::new(),
        prompt,
        &ExtractOptions::default(),
    )
    .await
    .expect("a valid ticket");
    let (accepted, rejected) = extraction.attempts.split_last().unwrap();
    assert!(accepted.error.is_none());
    for attempt in rejected {
        assert_eq!(
            attempt.finish_reason,
            Some(agentry_core::model::FinishReason::Length),
            "{attempt:?}"
        );
    }
    let requests = m.requests();
    let retries = &requests[first_requests..];
    assert_eq!(retries.len(), extraction.attempts.len());
    assert_eq!(
        retries[0].sampling.repeat_penalty, 1.0,
        "the first attempt is greedy"
    );
    for retry in &retries[1..] {
        assert!(retry.sampling.repeat_penalty >= 1.3 && retry.sampling.temperature > 0.0);
    }
    let _ = extraction.value;
}

#[tokio::test]
async fn a_rejected_reply_is_retried_with_its_parse_error_shown() {
    let m = CountingModel::new().await;
    // A named group keeps decoding unconstrained, and the model will not write this code.
    let parser = Regex::new(r"(?P<code>ZQX-\d{9}-QXZ)").unwrap();
    assert!(!parser.is_constrained());
    let options = ExtractOptions {
        max_retries: 2,
        sampling: agentry_core::model::Sampling {
            max_tokens: 16,
            ..Default::default()
        },
        ..ExtractOptions::default()
    };
    let error = extract_with(&m, &parser, user("Say hello."), &options)
        .await
        .expect_err("the model cannot produce the code");
    let ExtractError::Unparseable { attempts, last } = error else {
        panic!("expected Unparseable, got {error}");
    };
    assert_eq!(attempts.len(), 3, "one attempt plus two retries");
    assert!(last.detail.contains("does not match"));
    let requests = m.requests();
    assert_eq!(requests.len(), 3);
    let ModelInput::Messages(second) = &requests[1].prompt else {
        panic!("chat prompt expected");
    };
    assert_eq!(second.len(), 3, "task, rejected reply, retry message");
    assert_eq!(second[1].role, Role::Assistant);
    assert_eq!(second[1].content, attempts[0].text);
    assert_eq!(second[2].role, Role::User);
    assert!(
        second[2]
            .content
            .contains(attempts[0].error.as_deref().unwrap()),
        "the retry quotes the parse error: {}",
        second[2].content
    );
    let ModelInput::Messages(third) = &requests[2].prompt else {
        panic!("chat prompt expected");
    };
    assert_eq!(third.len(), 5);
}

#[tokio::test]
async fn labels_come_from_scores_or_from_constrained_generation() {
    let m = CountingModel::new().await;
    let prompt =
        user("Review: 'I loved this film, wonderful acting.' Is the review positive or negative?");
    let label = Label::new(["positive", "negative"]);
    let by_score = extract_with(&m, &label, prompt.clone(), &ExtractOptions::default())
        .await
        .unwrap();
    assert!(["positive", "negative"].contains(&by_score.value.as_str()));
    assert_eq!(by_score.attempts[0].finish_reason, None, "read from scores");
    assert_eq!(m.scores.load(Ordering::SeqCst), 1);
    assert!(m.requests().is_empty());
    // The scored prompt names the labels: without them the model guesses what they mean.
    let scored = m.score_prompts.lock().unwrap()[0].clone();
    let ModelInput::Messages(scored) = scored else {
        panic!("chat prompt expected");
    };
    let last = scored.last().map(|m| m.content.as_str()).unwrap_or("");
    assert!(
        last.contains("Review:") && last.contains(&label.instructions()),
        "the label list follows the task: {last}"
    );

    let generated = extract_with(
        &m,
        &label,
        prompt.clone(),
        &ExtractOptions {
            use_scores: false,
            ..ExtractOptions::default()
        },
    )
    .await
    .unwrap();
    assert!(["positive", "negative"].contains(&generated.value.as_str()));
    assert!(generated.attempts[0].finish_reason.is_some());
    assert_eq!(m.requests().len(), 1);

    let tags = Labels::new(["film", "food", "acting"]).threshold(0.5);
    let multi = extract_with(&m, &tags, prompt, &ExtractOptions::default())
        .await
        .unwrap();
    assert!(
        multi
            .value
            .iter()
            .all(|t| ["film", "food", "acting"].contains(&t.as_str()))
    );
    assert_eq!(
        m.scores.load(Ordering::SeqCst),
        1 + 3,
        "one score call per label"
    );
}

#[tokio::test]
async fn number_list_and_regex_parsers_hold_under_their_constraints() {
    let m = model().await;
    let options = ExtractOptions::default();
    let n = extract_with(
        &*m,
        &Number,
        user("How many legs does a spider have?"),
        &options,
    )
    .await
    .unwrap();
    assert!(n.value.is_finite());
    assert_eq!(n.attempts.len(), 1);

    let list = extract_with(
        &*m,
        &List::new().min_items(2).max_items(4),
        user("Name some fruits."),
        &options,
    )
    .await
    .unwrap();
    assert!((2..=4).contains(&list.value.len()), "{:?}", list.value);

    let code = Regex::new(r"[A-Z]{3}-[0-9]{4}").unwrap();
    assert!(code.is_constrained());
    let Some(constraint_text) = serde_json::to_string(&code.constraint()).ok() else {
        panic!("constraint serialises");
    };
    assert!(constraint_text.contains("pattern"));
    let found = extract_with(&*m, &code, user("Invent a flight code."), &options)
        .await
        .unwrap();
    assert_eq!(found.attempts.len(), 1);
    assert_eq!(found.value.text.len(), 8, "{:?}", found.value);
}

#[derive(Debug, Deserialize, JsonSchema)]
struct City {
    name: String,
    country: String,
}

#[tokio::test]
async fn direct_and_chain_of_thought_return_typed_answers() {
    let m = CountingModel::new().await;
    // A short working budget: SmolLM2 writes until the budget runs out.
    let options = SolveOptions {
        max_reasoning_tokens: 96,
        ..SolveOptions::default()
    };
    let direct = Strategy::Direct
        .solve::<City>(&m, user("What is the capital of France?"), &options)
        .await
        .unwrap();
    assert!(!direct.answer.name.is_empty() && !direct.answer.country.is_empty());
    assert_eq!(direct.trace.model_calls, 1);

    let cot = Strategy::ChainOfThought
        .solve::<u32>(
            &m,
            user("Tom has 3 boxes of 4 apples. How many apples?"),
            &options,
        )
        .await
        .unwrap();
    let reasoning = cot.reasoning.expect("reasoning");
    assert!(!reasoning.trim().is_empty());
    // Two requests: the working as free text under the token budget, then the answer
    // under its schema, with the working in the conversation.
    assert_eq!(cot.trace.model_calls, 2);
    let requests = m.requests();
    let (think, ask) = (&requests[requests.len() - 2], &requests[requests.len() - 1]);
    assert!(
        matches!(think.constraint, Constraint::None),
        "the working is free"
    );
    assert_eq!(think.sampling.max_tokens, options.max_reasoning_tokens);
    let ModelInput::Messages(thinking) = &think.prompt else {
        panic!("chat prompt expected");
    };
    assert!(
        thinking
            .last()
            .unwrap()
            .content
            .contains("plain text (not JSON)"),
        "the CoT cue"
    );
    assert!(matches!(ask.constraint, Constraint::JsonSchema(_)));
    let ModelInput::Messages(asking) = &ask.prompt else {
        panic!("chat prompt expected");
    };
    let working = &asking[asking.len() - 2];
    assert_eq!(working.role, Role::Assistant);
    assert_eq!(
        working.content, reasoning,
        "the answer is asked after the working"
    );
    assert!(asking.last().unwrap().content.contains("working above"));
    let _ = cot.answer;
}

#[tokio::test]
async fn self_consistency_draws_five_samples_in_one_call_and_votes() {
    let m = CountingModel::new().await;
    let strategy = Strategy::SelfConsistency {
        samples: 5,
        temperature: 0.9,
    };
    let solution = strategy
        .solve::<u32>(
            &m,
            user("A farmer has 2 pens with 5 sheep each. How many sheep?"),
            &SolveOptions {
                max_reasoning_tokens: 96,
                ..SolveOptions::default()
            },
        )
        .await
        .unwrap();
    let requests = m.requests();
    // The five pieces of working come from one generate call (n = 5), free; their five
    // answers from one batch, each under the schema after its own working.
    assert_eq!(requests.len(), 1 + 5);
    assert_eq!(requests[0].n, 5);
    assert!(matches!(requests[0].constraint, Constraint::None));
    assert_eq!(*m.batches.lock().unwrap(), vec![5]);
    assert!(
        requests[1..]
            .iter()
            .all(|r| r.n == 1 && matches!(r.constraint, Constraint::JsonSchema(_)))
    );
    assert_eq!(solution.samples.len(), 5);
    assert_eq!(solution.trace.model_calls, 2);
    for (sample, request) in solution.samples.iter().zip(&requests[1..]) {
        let ModelInput::Messages(messages) = &request.prompt else {
            panic!("chat prompt expected");
        };
        assert_eq!(
            Some(messages[messages.len() - 2].content.as_str()),
            sample.reasoning.as_deref()
        );
    }
    let winner = normalize(&serde_json::json!(solution.answer));
    let votes = solution
        .samples
        .iter()
        .filter(|s| s.normalized.as_ref() == Some(&winner))
        .count();
    assert!(votes >= 1);
    let agreement = solution.agreement.unwrap();
    assert!((agreement - votes as f64 / 5.0).abs() < 1e-9);
    for sample in &solution.samples {
        if let Some(normalized) = &sample.normalized {
            let count = solution
                .samples
                .iter()
                .filter(|s| s.normalized.as_ref() == Some(normalized))
                .count();
            assert!(count <= votes, "the winner has the most votes");
        }
    }
    assert!(
        solution
            .trace
            .events
            .iter()
            .any(|e| matches!(e, TraceEvent::Vote { total: 5, .. }))
    );
}

#[tokio::test]
async fn tree_of_thought_expands_exactly_the_configured_states() {
    let m = CountingModel::new().await;
    let strategy = Strategy::TreeOfThought {
        breadth: 2,
        depth: 2,
        proposals: 2,
        evaluator: Evaluator::Score,
    };
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    let options = SolveOptions {
        observer: Some(Arc::new(move |e: &TraceEvent| {
            if matches!(e, TraceEvent::State { .. }) {
                counter.fetch_add(1, Ordering::SeqCst);
            }
        })),
        ..SolveOptions::default()
    };
    let solution = strategy
        .solve::<String>(
            &m,
            user("Plan a picnic for four people in two steps."),
            &options,
        )
        .await
        .unwrap();
    let states: Vec<(usize, usize, usize, usize)> = solution
        .trace
        .states()
        .filter_map(|e| match e {
            TraceEvent::State {
                id,
                parent,
                depth,
                steps,
                ..
            } => Some((*id, *parent, *depth, steps.len())),
            _ => None,
        })
        .collect();
    // 2 proposals from the root, then 2 from each of the 2 kept states.
    assert_eq!(states.len(), 6, "{states:?}");
    assert_eq!(
        seen.load(Ordering::SeqCst),
        6,
        "the observer saw every state"
    );
    assert_eq!(states.iter().filter(|s| s.2 == 1).count(), 2);
    assert_eq!(states.iter().filter(|s| s.2 == 2).count(), 4);
    assert!(states.iter().all(|s| s.2 == s.3), "depth = steps");
    let kept: Vec<Vec<usize>> = solution
        .trace
        .events
        .iter()
        .filter_map(|e| match e {
            TraceEvent::Kept { ids, .. } => Some(ids.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(kept.len(), 2);
    assert!(kept.iter().all(|k| k.len() == 2));
    for state in states.iter().filter(|s| s.2 == 2) {
        assert!(
            kept[0].contains(&state.1),
            "depth-2 states grow from kept ones"
        );
    }
    // One proposal batch per depth, covering every frontier state (1, then 2); one score per
    // state.
    assert_eq!(*m.batches.lock().unwrap(), vec![1, 2]);
    let proposals = m.requests().iter().filter(|r| r.n == 2).count();
    assert_eq!(proposals, 3);
    assert_eq!(m.scores.load(Ordering::SeqCst), 6);
    assert!(!solution.answer.is_empty());
    assert_eq!(
        solution.reasoning.unwrap().lines().count(),
        2,
        "the best state's two steps"
    );
}

#[tokio::test]
async fn tree_of_thought_values_states_by_vote() {
    let m = CountingModel::new().await;
    let strategy = Strategy::TreeOfThought {
        breadth: 1,
        depth: 1,
        proposals: 3,
        evaluator: Evaluator::Vote { samples: 3 },
    };
    let solution = strategy
        .solve::<String>(
            &m,
            user("Name a good name for a cat."),
            &SolveOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(solution.trace.states().count(), 3);
    let votes = m.requests().into_iter().filter(|r| r.n == 3).count();
    // one proposal request (n = 3) plus one vote request (n = 3) per distinct state
    assert!((2..=4).contains(&votes), "{votes}");
    assert_eq!(m.scores.load(Ordering::SeqCst), 0);
    for event in solution.trace.states() {
        if let TraceEvent::State { value, .. } = event {
            assert!((0.0..=20.0).contains(value));
        }
    }
}

#[tokio::test]
async fn invalid_strategies_are_errors_not_panics() {
    let m = model().await;
    let zero = Strategy::SelfConsistency {
        samples: 0,
        temperature: 0.5,
    };
    let error = zero
        .solve::<u32>(&*m, user("1+1?"), &SolveOptions::default())
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("self_consistency.samples"),
        "{error}"
    );
}

/// Scripted (no model): every reply is `text`, cut by `reason`.
struct CutReplies {
    info: ModelInfo,
    text: &'static str,
    reason: agentry_core::model::FinishReason,
}

impl CutReplies {
    fn new(text: &'static str, reason: agentry_core::model::FinishReason) -> Self {
        Self {
            info: ModelInfo {
                name: "scripted".into(),
                path: Default::default(),
                n_ctx: 4096,
                n_ctx_train: 4096,
                n_vocab: 1,
                parameters: 0,
                has_chat_template: true,
            },
            text,
            reason,
        }
    }
}

#[async_trait]
impl LanguageModel for CutReplies {
    fn info(&self) -> &ModelInfo {
        &self.info
    }
    async fn generate(&self, req: GenerateRequest) -> Result<Vec<Completion>, ModelError> {
        let one = Completion {
            text: self.text.into(),
            finish_reason: self.reason,
            usage: agentry_core::model::Usage {
                completion_tokens: req.sampling.max_tokens,
                ..Default::default()
            },
            timings: Default::default(),
        };
        Ok(vec![one; req.n.max(1)])
    }
    async fn stream(&self, _req: GenerateRequest) -> Result<CompletionStream, ModelError> {
        Err(ModelError::Unsupported("streaming".into()))
    }
    async fn score(&self, _req: ScoreRequest) -> Result<Vec<CandidateScore>, ModelError> {
        Err(ModelError::Unsupported("scoring".into()))
    }
    async fn count_tokens(&self, text: &str) -> Result<usize, ModelError> {
        Ok(text.len().div_ceil(4))
    }
}

/// Real model: a JSON Schema reply cut by a tiny `max_tokens` is an error that names the
/// limit, from `extract` and from a plain `generate` checked with `require_complete`.
#[tokio::test]
async fn a_constrained_reply_cut_by_the_token_limit_is_an_error() {
    let m = model().await;
    let prompt = user("Make a support ticket: the printer is on fire.");
    let options = ExtractOptions {
        max_retries: 1,
        sampling: agentry_core::model::Sampling {
            max_tokens: 4,
            ..Default::default()
        },
        ..ExtractOptions::default()
    };
    let parser = agentry_core::parse::Json::<Ticket>::new();
    let error = extract_with(m.as_ref(), &parser, prompt.clone(), &options)
        .await
        .expect_err("four tokens cannot hold a ticket");
    let text = error.to_string();
    assert!(
        matches!(
            error,
            ExtractError::Model(ModelError::Incomplete {
                reason: agentry_core::model::FinishReason::Length,
                ..
            })
        ),
        "{text}"
    );
    assert!(text.contains("max_tokens"), "{text}");

    let request = GenerateRequest {
        prompt,
        sampling: options.sampling.clone(),
        constraint: parser.constraint(),
        session: None,
        n: 1,
    };
    let constraint = request.constraint.clone();
    let completion = m.generate(request).await.expect("generate").remove(0);
    assert_eq!(
        completion.finish_reason,
        agentry_core::model::FinishReason::Length
    );
    assert!(completion.require_complete(&constraint).is_err());
}

/// Scripted: a reply cut before the constraint completed is never an answer, even when it
/// parses (a number cut short; JSON that happens to close).
#[tokio::test]
async fn cut_constrained_replies_are_errors_for_every_caller() {
    use agentry_core::classify::LanguageModelExt;
    use agentry_core::model::FinishReason;
    // `extract`: a cut that parses is still an error; a full context is not retried.
    let cut = CutReplies::new("12", FinishReason::Length);
    let error = extract_with(&cut, &Number, user("How many?"), &ExtractOptions::default())
        .await
        .expect_err("a cut number is no answer");
    assert!(
        matches!(error, ExtractError::Model(ModelError::Incomplete { .. })),
        "{error}"
    );
    let full = CutReplies::new("12", FinishReason::ContextFull);
    let error = extract_with(
        &full,
        &Number,
        user("How many?"),
        &ExtractOptions::default(),
    )
    .await
    .expect_err("a full context is no answer");
    assert!(error.to_string().contains("context"), "{error}");
    let stopped = CutReplies::new("12", FinishReason::StopString);
    let error = extract_with(
        &stopped,
        &Number,
        user("How many?"),
        &ExtractOptions::default(),
    )
    .await
    .expect_err("a stop string cut it");
    assert!(error.to_string().contains("stop string"), "{error}");

    // `predict_number` (classify).
    let error = cut
        .predict_number(user("How many?"))
        .await
        .expect_err("a cut number is no prediction");
    assert!(matches!(error, ModelError::Incomplete { .. }), "{error}");

    // A reasoning strategy's typed answers: every sample cut, none valid.
    let json = CutReplies::new(r#"{"answer": 12}"#, FinishReason::Length);
    let strategy = Strategy::SelfConsistency {
        samples: 3,
        temperature: 0.9,
    };
    let error = strategy
        .solve::<u32>(&json, user("How many?"), &SolveOptions::default())
        .await
        .expect_err("no sample completed");
    let text = format!("{error:?}");
    assert!(text.contains("cut before"), "{text}");
    // The direct strategy goes through `extract`.
    let error = Strategy::Direct
        .solve::<u32>(&json, user("How many?"), &SolveOptions::default())
        .await
        .expect_err("the answer was cut");
    assert!(error.to_string().contains("cut before"), "{error}");
}
