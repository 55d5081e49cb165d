//! The runner: loads a suite's items ([`Evaluation::load`]), runs every configuration on
//! the same items for one model at a time ([`Evaluation::run_model`]), appends each scored
//! item to the trace and skips the items the trace already holds.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use agentry_core::defaults;
use agentry_core::model::{LanguageModel, ModelInput, Sampling};
use agentry_core::plan::run::{Limits, RunConfig};
use agentry_core::plan::strategy::{SolveOptions, Strategy, TraceEvent};
use agentry_prompts::ChatMessage;
use agentry_tools::{ApprovedCall, ToolOutput, ToolResult, ToolSpec};
use async_trait::async_trait;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Value, json};

use crate::bfcl::{self, schema::ToolNames};
use crate::config::{Config, Suite};
use crate::drive::{self, Driven, World};
use crate::error::EvalError;
use crate::game24::{self, Puzzle};
use crate::gsm8k::{self, Problem};
use crate::rational::Rational;
use crate::report::Report;
use crate::tasks::{self, Task};
use crate::trace::{Record, RecordKey, TraceFile};
use crate::verdict::Verdict;

/// The environment variable that names the data folder when `data_dir` is not given.
pub const DATA_ENV: &str = "AGENTRY_EVAL_DATA";

/// What to evaluate.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// The suite.
    pub suite: Suite,
    /// The configurations, compared on the same items (empty: the suite's defaults).
    pub configs: Vec<Config>,
    /// The categories (empty: all of the suite's, `tot` for game24).
    pub categories: Vec<String>,
    /// At most this many items per category (the first ones, in the data's order).
    pub limit: Option<usize>,
    /// The sampling seed (self-consistency, tree of thought).
    pub seed: u32,
    /// The folder holding `bfcl/`, `gsm8k/` and `game24/` (not needed for `tasks`).
    pub data_dir: Option<PathBuf>,
    /// A folder of task files in place of the built-in tasks.
    pub tasks_dir: Option<PathBuf>,
    /// Most tokens of one model reply (default 512, the planner's own).
    pub max_tokens: usize,
    /// Caps every task's step limit (`tasks`; BFCL items always get one step).
    pub max_steps: Option<usize>,
    /// Show a progress bar with an ETA on stderr.
    pub progress: bool,
}

impl EvalOptions {
    /// Options for `suite` with its default configurations and categories, every item,
    /// seed 42, the data folder from `AGENTRY_EVAL_DATA`, 512 tokens, the tasks' own step
    /// limits, no progress bar.
    pub fn new(suite: Suite) -> Self {
        Self {
            suite,
            configs: Vec::new(),
            categories: Vec::new(),
            limit: None,
            seed: 42,
            data_dir: std::env::var_os(DATA_ENV).map(PathBuf::from),
            tasks_dir: None,
            max_tokens: defaults::MAX_TOKENS,
            max_steps: None,
            progress: false,
        }
    }
}

/// One item of any suite.
#[derive(Debug, Clone)]
pub enum Item {
    /// A BFCL question.
    Bfcl(bfcl::Item),
    /// A GSM8K problem.
    Gsm8k(Problem),
    /// A Game of 24 puzzle.
    Game24(Puzzle),
    /// An agent task.
    Task(Box<Task>),
}

impl Item {
    /// The item's id.
    pub fn id(&self) -> &str {
        match self {
            Item::Bfcl(i) => &i.id,
            Item::Gsm8k(p) => &p.id,
            Item::Game24(p) => &p.id,
            Item::Task(t) => &t.id,
        }
    }
}

/// Items of one suite, with the configurations to run on them.
#[derive(Debug)]
pub struct Evaluation {
    options: EvalOptions,
    configs: Vec<Config>,
    /// `(category, item)`, in order.
    items: Vec<(String, Item)>,
}

impl Evaluation {
    /// Loads the items of `options`.
    ///
    /// # Errors
    /// No data folder for a suite that needs one, an unknown category, a configuration
    /// that does not apply to the suite, or data that cannot be read.
    pub fn load(options: EvalOptions) -> Result<Self, EvalError> {
        let suite = options.suite;
        let configs = if options.configs.is_empty() {
            suite.default_configs()
        } else {
            options.configs.clone()
        };
        if let Some(bad) = configs.iter().find(|c| !c.applies_to(suite)) {
            return Err(EvalError::Config(format!(
                "configuration `{}` does not apply to suite `{suite}` (bfcl and tasks: planner, plain; gsm8k and game24: plain, direct, cot, sc, sc-N, tot)",
                bad.name()
            )));
        }
        let mut items = Vec::new();
        if suite == Suite::Tasks {
            let all = tasks::load(options.tasks_dir.as_deref())?;
            let known = tasks::categories(&all);
            let wanted = if options.categories.is_empty() {
                known.clone()
            } else {
                options.categories.clone()
            };
            for category in &wanted {
                if !known.contains(category) {
                    return Err(EvalError::Unknown {
                        what: "tasks category",
                        name: category.clone(),
                        expected: known.join(", "),
                    });
                }
                let chosen = all
                    .iter()
                    .filter(|t| &t.category == category)
                    .take(options.limit.unwrap_or(usize::MAX));
                items.extend(chosen.map(|t| (category.clone(), Item::Task(Box::new(t.clone())))));
            }
        } else {
            let data = options.data_dir.clone().ok_or(EvalError::NoDataDir)?;
            if !data.is_dir() {
                return Err(EvalError::Config(format!(
                    "the data folder {} does not exist (pass --data DIR or set {DATA_ENV})",
                    data.display()
                )));
            }
            let wanted: Vec<String> = if !options.categories.is_empty() {
                options.categories.clone()
            } else {
                match suite {
                    Suite::Bfcl => bfcl::CATEGORIES.map(String::from).to_vec(),
                    Suite::Gsm8k => vec!["test".into()],
                    _ => vec!["tot".into()],
                }
            };
            let limit = options.limit.unwrap_or(usize::MAX);
            for category in &wanted {
                let loaded: Vec<Item> = match suite {
                    Suite::Bfcl => bfcl::load(&data, category)?
                        .into_iter()
                        .take(limit)
                        .map(Item::Bfcl)
                        .collect(),
                    Suite::Gsm8k => gsm8k::load(&data, category)?
                        .into_iter()
                        .take(limit)
                        .map(Item::Gsm8k)
                        .collect(),
                    _ => game24::load(&data, category)?
                        .into_iter()
                        .take(limit)
                        .map(Item::Game24)
                        .collect(),
                };
                items.extend(loaded.into_iter().map(|i| (category.clone(), i)));
            }
        }
        Ok(Self {
            options,
            configs,
            items,
        })
    }

    /// The items, with their categories.
    pub fn items(&self) -> &[(String, Item)] {
        &self.items
    }

    /// The configurations.
    pub fn configs(&self) -> &[Config] {
        &self.configs
    }

    /// The trace key of an item under a model and configuration.
    fn key(&self, model: &str, config: &Config, category: &str, item: &Item) -> RecordKey {
        (
            self.options.suite.name().to_owned(),
            model.to_owned(),
            config.name().to_owned(),
            category.to_owned(),
            item.id().to_owned(),
        )
    }

    /// Runs every configuration on every item for `model` (named `model_name` in the
    /// report), appending each scored item to `trace`; items already in the trace are
    /// skipped. Returns how many items were scored now.
    ///
    /// # Errors
    /// The trace cannot be written, or a task cannot be set up.
    pub async fn run_model(
        &self,
        model_name: &str,
        model: Arc<dyn LanguageModel>,
        trace: &mut TraceFile,
    ) -> Result<usize, EvalError> {
        let mut todo = Vec::new();
        for config in &self.configs {
            for (category, item) in &self.items {
                if !trace.contains(&self.key(model_name, config, category, item)) {
                    todo.push((config, category, item));
                }
            }
        }
        let bar = if self.options.progress {
            ProgressBar::with_draw_target(Some(todo.len() as u64), ProgressDrawTarget::stderr())
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix} [{bar:30}] {pos}/{len} {msg} (elapsed {elapsed}, ETA {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_prefix(format!("{} {model_name}", self.options.suite));
        for (config, category, item) in &todo {
            bar.set_message(format!("{} {}", config.name(), item.id()));
            let started = Instant::now();
            let (driven, verdict) = self.run_item(&*model, config, item).await?;
            let wall_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            trace.append(Record {
                suite: self.options.suite.name().to_owned(),
                model: model_name.to_owned(),
                config: config.name().to_owned(),
                category: (*category).clone(),
                item: item.id().to_owned(),
                prompt: driven.prompt,
                raw_output: driven.raw_output,
                calls: driven.calls,
                answer: driven.answer,
                well_formed: driven.well_formed,
                verdict,
                stop: driven.stop,
                steps: driven.steps,
                completion_tokens: driven.usage.completion_tokens,
                prompt_tokens: driven.usage.prompt_tokens,
                wall_ms,
            })?;
            bar.inc(1);
        }
        bar.finish_and_clear();
        Ok(todo.len())
    }

    /// The report of this evaluation's items in `trace` (for the models named), computed
    /// from the trace's records alone.
    pub fn report(&self, trace: &TraceFile, models: &[String]) -> Report {
        let mut wanted = std::collections::HashSet::new();
        for model in models {
            for config in &self.configs {
                for (category, item) in &self.items {
                    wanted.insert(self.key(model, config, category, item));
                }
            }
        }
        Report::from_records(trace.records().iter().filter(|r| wanted.contains(&r.key())))
    }

    /// A task's step limit, capped by the options.
    fn task_steps(&self, task: &Task) -> usize {
        let own = task.max_steps();
        self.options
            .max_steps
            .map_or(own, |cap| own.min(cap.max(1)))
    }

    fn sampling(&self) -> Sampling {
        Sampling {
            max_tokens: self.options.max_tokens,
            seed: self.options.seed,
            ..defaults::sampling()
        }
    }

    async fn run_item(
        &self,
        model: &dyn LanguageModel,
        config: &Config,
        item: &Item,
    ) -> Result<(Driven, Verdict), EvalError> {
        Ok(match item {
            Item::Bfcl(item) => self.run_bfcl(model, config, item).await,
            Item::Gsm8k(problem) => {
                let task = format!("{}\nGive the final answer as a number.", problem.question);
                let (driven, number) = match config {
                    Config::Strategy { strategy, .. } => {
                        let driven = self
                            .solve(model, strategy, &task, json!({"type": "number"}))
                            .await;
                        let number = driven.answer.as_ref().and_then(Rational::from_json);
                        (driven, number)
                    }
                    _ => {
                        let prompt = format!("{task} End your reply with \"The answer is N.\"");
                        let mut driven = self.plain_text(model, prompt).await;
                        let text = driven.raw_output.last().cloned().unwrap_or_default();
                        let number = gsm8k::last_number(&text);
                        driven.well_formed = number.is_some();
                        driven.answer = number.map(|n| Value::String(n.to_string()));
                        (driven, number)
                    }
                };
                (driven, gsm8k::check(problem.answer, number))
            }
            Item::Game24(puzzle) => {
                let task = format!(
                    "Use the numbers {} and the operations + - * / (with parentheses) to make 24. Use each number exactly once. Answer with the expression only, such as (1 + 3) * (2 + 4).",
                    puzzle.numbers_text()
                );
                let (driven, expression) = match config {
                    Config::Strategy { strategy, .. } => {
                        let driven = self
                            .solve(model, strategy, &task, json!({"type": "string"}))
                            .await;
                        let expression = driven
                            .answer
                            .as_ref()
                            .and_then(Value::as_str)
                            .map(str::to_owned);
                        (driven, expression)
                    }
                    _ => {
                        let mut driven = self.plain_text(model, task).await;
                        let text = driven.raw_output.last().cloned().unwrap_or_default();
                        let expression = game24::find_expression(&text);
                        driven.well_formed = expression.is_some();
                        driven.answer = expression.clone().map(Value::String);
                        (driven, expression)
                    }
                };
                let verdict = match expression {
                    Some(e) => game24::check(&puzzle.numbers, &e),
                    None => Verdict::wrong("no expression in the answer"),
                };
                (driven, verdict)
            }
            Item::Task(task) => self.run_task(model, config, task).await?,
        })
    }

    /// One unconstrained reply to a user prompt.
    async fn plain_text(&self, model: &dyn LanguageModel, prompt: String) -> Driven {
        let world = NoTools;
        drive::plain(
            model,
            vec![ChatMessage::user(prompt)],
            &[],
            &self.sampling(),
            1,
            &world,
        )
        .await
    }

    /// A strategy's answer under `schema`, with every prompt and sample kept.
    async fn solve(
        &self,
        model: &dyn LanguageModel,
        strategy: &Strategy,
        task: &str,
        schema: Value,
    ) -> Driven {
        let events: Arc<Mutex<Vec<TraceEvent>>> = Arc::default();
        let sink = events.clone();
        let options = SolveOptions {
            sampling: self.sampling(),
            answer_schema: Some(schema),
            observer: Some(Arc::new(move |event: &TraceEvent| {
                if let Ok(mut events) = sink.lock() {
                    events.push(event.clone());
                }
            })),
            ..SolveOptions::default()
        };
        let input = ModelInput::Messages(vec![ChatMessage::user(task)]);
        let result = strategy.solve::<Value>(model, input, &options).await;
        let events = events.lock().map(|e| e.clone()).unwrap_or_default();
        let mut driven = Driven::default();
        for event in &events {
            match event {
                TraceEvent::ModelInput { prompt, .. } if driven.prompt.is_null() => {
                    driven.prompt = serde_json::to_value(prompt).unwrap_or(Value::Null);
                }
                TraceEvent::Completion {
                    index, text, usage, ..
                } => {
                    driven.raw_output.push(text.clone());
                    driven.usage.completion_tokens += usage.completion_tokens;
                    // One request per first sample (retries and batches included).
                    if *index == 0 {
                        driven.steps += 1;
                        driven.usage.prompt_tokens += usage.prompt_tokens;
                    }
                }
                _ => {}
            }
        }
        match result {
            Ok(solution) => {
                driven.well_formed = true;
                driven.answer = Some(solution.answer);
                driven.stop = "answered".into();
            }
            Err(e) => {
                driven.well_formed = false;
                driven.stop = format!("no answer: {e}");
            }
        }
        driven
    }

    async fn run_bfcl(
        &self,
        model: &dyn LanguageModel,
        config: &Config,
        item: &bfcl::Item,
    ) -> (Driven, Verdict) {
        let names = ToolNames::new(item.functions.iter().map(|f| f.name.as_str()));
        let system: Vec<&str> = item
            .messages
            .iter()
            .filter(|m| m.role == "system")
            .map(|m| m.content.as_str())
            .collect();
        let user: Vec<&str> = item
            .messages
            .iter()
            .filter(|m| m.role != "system")
            .map(|m| m.content.as_str())
            .collect();
        let role = if system.is_empty() {
            defaults::ROLE.to_owned()
        } else {
            system.join("\n")
        };
        let world = BfclWorld;
        let driven = match config {
            Config::Planner => {
                let specs: Vec<ToolSpec> = item
                    .functions
                    .iter()
                    .map(|f| {
                        ToolSpec::new(
                            names.tool(&f.name),
                            f.description.clone(),
                            bfcl::schema::to_json_schema(&f.parameters),
                        )
                    })
                    .collect();
                let parallel = if bfcl::is_parallel(&item.category) {
                    5
                } else {
                    1
                };
                let run = RunConfig::new(user.join("\n"))
                    .with_role(role)
                    .with_tools(specs)
                    .with_limits(Limits {
                        max_steps: 1,
                        ..Limits::default()
                    })
                    .with_sampling(self.sampling())
                    .with_parallel_calls(parallel);
                let mut driven = drive::planner(model, run, &world).await;
                for call in &mut driven.calls {
                    call.name = names.function(&call.name).to_owned();
                }
                driven
            }
            _ => {
                let functions: Vec<Value> = item
                    .functions
                    .iter()
                    .map(|f| {
                        json!({
                            "name": f.name,
                            "description": f.description,
                            "parameters": bfcl::schema::to_json_schema(&f.parameters),
                        })
                    })
                    .collect();
                let system = format!(
                    "{role}\nYou can call these functions:\n{}\nTo call functions, reply with only a JSON list of calls: [{{\"name\": \"function_name\", \"arguments\": {{...}}}}]. If none of the functions fits the request, reply in plain text and call nothing.",
                    serde_json::to_string_pretty(&functions).unwrap_or_default()
                );
                let known: Vec<&str> = item.functions.iter().map(|f| f.name.as_str()).collect();
                let mut messages = vec![ChatMessage::system(system)];
                messages.extend(user.iter().map(|u| ChatMessage::user(*u)));
                drive::plain(model, messages, &known, &self.sampling(), 1, &world).await
            }
        };
        let verdict = bfcl::checker::check(
            &item.category,
            &item.functions,
            &item.expected,
            &driven.calls,
        );
        (driven, verdict)
    }

    async fn run_task(
        &self,
        model: &dyn LanguageModel,
        config: &Config,
        task: &Task,
    ) -> Result<(Driven, Verdict), EvalError> {
        let setup = tasks::setup(task)?;
        let world = TaskWorld {
            setup: &setup,
            memories: &task.memories,
        };
        let specs: Vec<ToolSpec> = setup
            .registry
            .permitted(&setup.policy)
            .into_iter()
            .cloned()
            .collect();
        let answer_schema = if task.labels.is_empty() {
            json!({"type": "string"})
        } else {
            json!({"type": "string", "enum": task.labels})
        };
        let mut driven = match config {
            Config::Planner => {
                let mut run = RunConfig::new(task.task.clone())
                    .with_role(defaults::ROLE)
                    .with_tools(specs)
                    .with_answer_schema(answer_schema)
                    .with_limits(Limits {
                        max_steps: self.task_steps(task),
                        ..Limits::default()
                    })
                    .with_sampling(self.sampling());
                if !task.memories.is_empty() {
                    run = run.with_recall(defaults::RECALL_TOP_K);
                }
                drive::planner(model, run, &world).await
            }
            _ => {
                let tools: Vec<Value> = specs
                    .iter()
                    .map(|s| json!({"name": s.name, "description": s.description, "parameters": s.parameters}))
                    .collect();
                let mut system = defaults::ROLE.to_owned();
                if !tools.is_empty() {
                    system.push_str(&format!(
                        "\nYou can use these tools:\n{}\nTo use a tool, reply with only a JSON object: {{\"tool\": \"tool_name\", \"args\": {{...}}}}. When you know the answer, reply with the answer in plain text.",
                        serde_json::to_string_pretty(&tools).unwrap_or_default()
                    ));
                }
                if !task.labels.is_empty() {
                    system.push_str(&format!(
                        "\nAnswer with exactly one of: {}.",
                        task.labels.join(", ")
                    ));
                }
                let mut user = task.task.clone();
                let recalled = world.recall(&task.task, defaults::RECALL_TOP_K);
                if !recalled.is_empty() {
                    let lines: Vec<String> =
                        recalled.iter().map(|(m, _)| format!("- {m}")).collect();
                    user = format!("Things you remember:\n{}\n\n{user}", lines.join("\n"));
                }
                let known: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
                let mut driven = drive::plain(
                    model,
                    vec![ChatMessage::system(system), ChatMessage::user(user)],
                    &known,
                    &self.sampling(),
                    self.task_steps(task),
                    &world,
                )
                .await;
                if !task.labels.is_empty()
                    && let Some(Value::String(text)) = &driven.answer
                {
                    driven.answer = label_in(text, &task.labels).map(Value::String);
                }
                driven
            }
        };
        if let Some(answer) = &driven.answer
            && !answer.is_string()
        {
            driven.answer = Some(Value::String(answer.to_string()));
        }
        let answer = driven.answer.as_ref().and_then(Value::as_str);
        let verdict = tasks::check(task, &driven.calls, answer, setup.root());
        Ok((driven, verdict))
    }
}

/// The label a free-text reply gives: the reply itself when it is one, else the label
/// mentioned first.
fn label_in(text: &str, labels: &[String]) -> Option<String> {
    let lower = text.to_lowercase();
    let trimmed = lower
        .trim()
        .trim_matches(|c: char| c.is_ascii_punctuation());
    if let Some(label) = labels.iter().find(|l| l.to_lowercase() == trimmed) {
        return Some(label.clone());
    }
    labels
        .iter()
        .filter_map(|l| {
            lower
                .match_indices(&l.to_lowercase())
                .find(|(at, m)| {
                    let before = lower[..*at].chars().next_back();
                    let after = lower[at + m.len()..].chars().next();
                    !before.is_some_and(char::is_alphanumeric)
                        && !after.is_some_and(char::is_alphanumeric)
                })
                .map(|(at, _)| (at, l))
        })
        .min_by_key(|(at, _)| *at)
        .map(|(_, l)| l.clone())
}

/// No tools, no memories.
struct NoTools;

#[async_trait]
impl World for NoTools {
    async fn call(&self, calls: &[ApprovedCall]) -> Vec<ToolResult> {
        BfclWorld.call(calls).await
    }

    fn recall(&self, _query: &str, _top_k: usize) -> Vec<(String, f32)> {
        Vec::new()
    }
}

/// BFCL's functions run nowhere: every call answers `done` (only the calls are scored).
struct BfclWorld;

#[async_trait]
impl World for BfclWorld {
    async fn call(&self, calls: &[ApprovedCall]) -> Vec<ToolResult> {
        calls
            .iter()
            .map(|c| ToolResult {
                call_id: c.id.clone(),
                name: c.name.clone(),
                outcome: Ok(ToolOutput::text("done")),
            })
            .collect()
    }

    fn recall(&self, _query: &str, _top_k: usize) -> Vec<(String, f32)> {
        Vec::new()
    }
}

/// A task's tools and memories.
struct TaskWorld<'a> {
    setup: &'a tasks::TaskSetup,
    memories: &'a [String],
}

#[async_trait]
impl World for TaskWorld<'_> {
    async fn call(&self, calls: &[ApprovedCall]) -> Vec<ToolResult> {
        self.setup
            .registry
            .call_all_approved(calls, &self.setup.policy, 1)
            .await
    }

    fn recall(&self, query: &str, top_k: usize) -> Vec<(String, f32)> {
        tasks::recall(self.memories, query, top_k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_found_in_free_text() {
        let labels = vec!["spam".to_owned(), "ham".to_owned()];
        assert_eq!(label_in("Spam.", &labels).as_deref(), Some("spam"));
        assert_eq!(
            label_in("This one is ham, not spam", &labels).as_deref(),
            Some("ham")
        );
        assert_eq!(label_in("hamster", &labels), None);
    }
}
