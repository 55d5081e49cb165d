//! [`Verdict`]: whether an answer is right, and why.

use serde::{Deserialize, Serialize};

/// A checker's decision on one answer, with the reason in words (kept in the trace so
/// every failure can be read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// Whether the answer is right.
    pub correct: bool,
    /// Why: what matched, or the first rule that failed.
    pub why: String,
}

impl Verdict {
    /// A right answer.
    pub fn right(why: impl Into<String>) -> Self {
        Self {
            correct: true,
            why: why.into(),
        }
    }

    /// A wrong answer.
    pub fn wrong(why: impl Into<String>) -> Self {
        Self {
            correct: false,
            why: why.into(),
        }
    }
}
