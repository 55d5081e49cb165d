//! # agentry-eval
//!
//! Measures how often agents get it right. One job: run a model under several
//! configurations on the same items of a suite, score every answer with an exact checker,
//! and report accuracy with a 95% Wilson interval, the well-formed call rate, mean steps,
//! tokens and wall time, with a per-item trace that says why each answer was scored so.
//!
//! - Suites: [`bfcl`] (the Berkeley Function Calling Leaderboard, BFCL's AST rules),
//!   [`gsm8k`] (the final number, exact), [`game24`] (each number once, 24 in exact
//!   rational arithmetic) and [`tasks`] (the project's own agent tasks, in YAML).
//! - Configurations ([`Config`]): `planner` (agentry's planner as it is), `plain` (the same
//!   model, tools described in the prompt, the reply read leniently, [`plain`]), and for
//!   `gsm8k` and `game24` the reasoning strategies `direct`, `cot`, `sc` (`sc-N`), `tot`.
//! - [`Evaluation`] loads the items and runs one model at a time; [`TraceFile`] holds one
//!   JSON line per scored item (a re-run with the same file skips them); [`Report`] is
//!   computed from trace records alone.
//!
//! Only the public API of the other crates is used: the model contract, the planner's
//! sans-IO run, the strategies and the tool registry with its built-in tools.
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use agentry_core::model::LanguageModel;
//! use agentry_eval::{EvalOptions, Evaluation, Suite, TraceFile};
//!
//! # async fn demo(model: Arc<dyn LanguageModel>) -> Result<(), agentry_eval::EvalError> {
//! let mut options = EvalOptions::new(Suite::Bfcl);
//! options.categories = vec!["simple_python".into(), "irrelevance".into()];
//! options.configs = vec!["planner".parse()?, "plain".parse()?];
//! options.limit = Some(20);
//! options.data_dir = Some("../shared/data".into());
//! let evaluation = Evaluation::load(options)?;
//! let mut trace = TraceFile::open("bfcl-trace.jsonl")?;
//! evaluation.run_model("qwen2.5-coder-0.5b", model, &mut trace).await?;
//! let report = evaluation.report(&trace, &["qwen2.5-coder-0.5b".to_owned()]);
//! print!("{}", report.to_markdown());
//! # Ok(()) }
//! ```
//!
//! Checkers work without a model:
//!
//! ```
//! assert!(agentry_eval::game24::check(&[4, 4, 6, 8], "(4 + 8) * (6 - 4)").correct);
//! assert!(!agentry_eval::game24::check(&[4, 4, 6, 8], "4 * 6").correct);
//! ```

#![warn(missing_docs)]

pub mod bfcl;
mod call;
mod config;
mod data_file;
pub mod drive;
mod error;
pub mod game24;
pub mod gsm8k;
pub mod plain;
mod rational;
mod report;
mod runner;
pub mod tasks;
mod trace;
mod verdict;

pub use call::Call;
pub use config::{CONFIG_NAMES, Config, Suite};
pub use data_file::{MAX_CHECKED_FILE_BYTES, MAX_DATA_FILE_BYTES, MAX_TASK_FILE_BYTES};
pub use error::EvalError;
pub use rational::Rational;
pub use report::{Report, Row, wilson_interval};
pub use runner::{DATA_ENV, EvalOptions, Evaluation, Item};
pub use trace::{Record, RecordKey, TraceFile, read_records};
pub use verdict::Verdict;
