//! The runner: loads a suite's items ([`Evaluation::load`]), runs every configuration on
//! the same items for one model at a time ([`Evaluation::run_model`]), appends each scored
//! item to the trace and skips the items the trace already holds. How one item of each
//! suite is run lives beside it: `bfcl_item`, `math_item` (GSM8K, Game of 24), `task_item`.

mod bfcl_item;
mod math_item;
mod task_item;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use agentry_core::defaults;
use agentry_core::model::{LanguageModel, Sampling};
use agentry_core::plan::run::StepFormat;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::bfcl;
use crate::config::{Config, Suite};
use crate::drive::Driven;
use crate::error::EvalError;
use crate::game24::{self, Puzzle};
use crate::gsm8k::{self, Problem};
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
        if self.configs.contains(&Config::Native) && model.tool_call_syntax().is_none() {
            return Err(EvalError::Config(format!(
                "configuration native: the chat template of `{model_name}` has no tool-call format"
            )));
        }
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
                last_prompt: driven.last_prompt,
                raw_output: driven.raw_output,
                calls: driven.calls,
                held: driven.held,
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

    /// The step format of `config` on `model`: the model's own for
    /// [`Config::Native`] (checked before any item runs), else agentry's JSON step.
    fn step_format(config: &Config, model: &dyn LanguageModel) -> StepFormat {
        match (config, model.tool_call_syntax()) {
            (Config::Native, Some(syntax)) => StepFormat::Native(syntax),
            _ => StepFormat::Json,
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
            Item::Gsm8k(problem) => self.run_gsm8k(model, config, problem).await,
            Item::Game24(puzzle) => self.run_game24(model, config, puzzle).await,
            Item::Task(task) => self.run_task(model, config, task).await?,
        })
    }
}
