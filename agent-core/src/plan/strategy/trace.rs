//! [`Trace`]: what a strategy asked, what came back, and how it decided — for debugging.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::{FinishReason, ModelInput, Usage};

/// Why a prompt was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// The answer (direct, chain of thought, tree-of-thought final answer).
    Answer,
    /// Free-text working before an answer (chain of thought).
    Reason,
    /// Independent samples to vote on (self-consistency).
    Sample,
    /// Candidate next thoughts (tree of thought).
    Propose,
    /// The value of a state (tree of thought).
    Evaluate,
}

/// One thing that happened during a strategy run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum TraceEvent {
    /// A prompt sent to the model.
    ModelInput {
        /// Why.
        purpose: Purpose,
        /// The prompt.
        prompt: ModelInput,
        /// Samples asked for.
        n: usize,
    },
    /// One text the model produced.
    Completion {
        /// Why it was asked for.
        purpose: Purpose,
        /// Sample index within its request.
        index: usize,
        /// The text.
        text: String,
        /// Why generation ended.
        finish_reason: FinishReason,
        /// Token counts of the request.
        usage: Usage,
    },
    /// A text that did not parse.
    ParseError {
        /// Why it was asked for.
        purpose: Purpose,
        /// Sample index (or attempt number).
        index: usize,
        /// The parse error.
        error: String,
    },
    /// Label scores read from the model (probabilities).
    Scores {
        /// Why.
        purpose: Purpose,
        /// Each label with its probability.
        labels: Vec<(String, f64)>,
    },
    /// The result of a majority vote.
    Vote {
        /// The winning answer (normalised form).
        answer: Value,
        /// Samples that gave it.
        votes: usize,
        /// Samples that parsed.
        valid: usize,
        /// Samples in all.
        total: usize,
    },
    /// A tree-of-thought state was created and valued.
    State {
        /// Its id (0 is the empty root; children are numbered in creation order).
        id: usize,
        /// Its parent's id.
        parent: usize,
        /// Its depth (number of steps).
        depth: usize,
        /// The thoughts from the root to it.
        steps: Vec<String>,
        /// Its value (higher is better).
        value: f64,
    },
    /// The states kept at a depth of the tree search.
    Kept {
        /// The depth.
        depth: usize,
        /// Ids of the kept states, best first.
        ids: Vec<usize>,
    },
}

/// A callback that sees each [`TraceEvent`] as it happens.
pub type TraceObserver = Arc<dyn Fn(&TraceEvent) + Send + Sync>;

/// Everything a strategy run did.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct Trace {
    /// The strategy's name.
    pub strategy: String,
    /// Events in order.
    pub events: Vec<TraceEvent>,
    /// Requests sent to the model (`generate` and `score` calls).
    pub model_calls: usize,
    #[serde(skip)]
    observer: Option<TraceObserver>,
}

impl fmt::Debug for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trace")
            .field("strategy", &self.strategy)
            .field("events", &self.events)
            .field("model_calls", &self.model_calls)
            .finish()
    }
}

impl Trace {
    /// An empty trace for `strategy`, reporting to `observer` if given.
    pub fn new(strategy: impl Into<String>, observer: Option<TraceObserver>) -> Self {
        Self {
            strategy: strategy.into(),
            events: Vec::new(),
            model_calls: 0,
            observer,
        }
    }

    /// Records an event and shows it to the observer.
    pub fn push(&mut self, event: TraceEvent) {
        if let Some(observer) = &self.observer {
            observer(&event);
        }
        self.events.push(event);
    }

    /// The tree-of-thought states, in creation order.
    pub fn states(&self) -> impl Iterator<Item = &TraceEvent> {
        self.events
            .iter()
            .filter(|e| matches!(e, TraceEvent::State { .. }))
    }
}
