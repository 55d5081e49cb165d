//! The defaults every way in (the library, workflows, the chat, the CLI) shares, named once.

use crate::model::Sampling;

/// The role of an agent that is given none.
pub const ROLE: &str = "You are a careful assistant.";
/// Model steps per task of an agent declared in a workflow or started by the chat, unless it
/// sets its own.
pub const MAX_STEPS: usize = 6;
/// Memories (and document chunks) recalled before each step unless set otherwise.
pub const RECALL_TOP_K: usize = 3;
/// Longest thought of a step, in characters, unless set otherwise.
pub const THOUGHT_MAX_CHARS: usize = 800;
/// Tokens one model step may write unless the sampling says otherwise.
pub const MAX_TOKENS: usize = 512;

/// Greedy sampling with room for one step's JSON: [`MAX_TOKENS`] tokens.
pub fn sampling() -> Sampling {
    Sampling {
        max_tokens: MAX_TOKENS,
        ..Sampling::default()
    }
}
