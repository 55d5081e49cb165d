//! Language models as the agent sees them: the `agentry-model` contract (the
//! [`LanguageModel`] trait and its requests, constraints, completions and errors), re-exported,
//! with classification and number prediction on top ([`LanguageModelExt`]).

pub use agentry_model::*;

pub use crate::classify::{Classification, LabelProbability, LanguageModelExt};
