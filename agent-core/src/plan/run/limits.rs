//! How far a run may go ([`Limits`]) and why it ended ([`StopReason`]).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How far a run may go. Reaching a limit ends the run without an answer, with the
/// matching [`StopReason`].
///
/// Steps, tokens and time are checked before each model step; tool calls when a step asks
/// for them; time also whenever the driver reports it (see
/// [`Input::Elapsed`](super::Input::Elapsed)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Most model steps. Every generation counts, whether its reply could be used or not,
    /// except up to two steps that only repeated calls already answered in the run (their
    /// earlier results are given again and nothing runs): at most `max_steps + 2`
    /// generations.
    pub max_steps: usize,
    /// Most tokens the model may generate over the whole run (completion tokens; prompt
    /// tokens, cached or evaluated, do not count). Each step's `max_tokens` is cut to what
    /// is left, so the run never generates more.
    pub max_tokens: Option<usize>,
    /// Most wall time, as reported by the driver through
    /// [`Input::Elapsed`](super::Input::Elapsed) and kept in the checkpoint, so a resumed
    /// run goes on counting from where it stopped.
    pub deadline: Option<Duration>,
    /// Most tool calls the model may ask for over the run, denied calls included. A step
    /// whose calls would pass the limit ends the run; none of its calls is made.
    pub max_tool_calls: Option<usize>,
}

impl Default for Limits {
    /// 10 steps; no token, time or tool-call limit.
    fn default() -> Self {
        Self {
            max_steps: 10,
            max_tokens: None,
            deadline: None,
            max_tool_calls: None,
        }
    }
}

/// Why a run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StopReason {
    /// The model gave a final answer that matches the answer schema.
    Answered,
    /// [`Limits::max_steps`] steps were taken without an answer.
    MaxSteps {
        /// The limit.
        limit: usize,
    },
    /// [`Limits::max_tokens`] tokens were generated without an answer.
    MaxTokens {
        /// The limit.
        limit: usize,
    },
    /// [`Limits::deadline`] passed without an answer.
    Deadline {
        /// The limit.
        limit: Duration,
    },
    /// The model asked for more tool calls than [`Limits::max_tool_calls`] allows.
    MaxToolCalls {
        /// The limit.
        limit: usize,
    },
    /// The driver cancelled the run.
    Cancelled,
    /// The driver could not perform an action (e.g. the model failed).
    Failed {
        /// What went wrong.
        message: String,
    },
}

impl StopReason {
    /// Whether the run ended with an answer.
    pub fn is_answered(&self) -> bool {
        matches!(self, StopReason::Answered)
    }
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::Answered => write!(f, "the model gave its final answer"),
            StopReason::MaxSteps { limit } => {
                write!(f, "no answer within the limit of {limit} steps")
            }
            StopReason::MaxTokens { limit } => {
                write!(f, "no answer within the limit of {limit} generated tokens")
            }
            StopReason::Deadline { limit } => write!(
                f,
                "no answer within the time limit of {:.1} s",
                limit.as_secs_f64()
            ),
            StopReason::MaxToolCalls { limit } => write!(
                f,
                "the model asked for more than the limit of {limit} tool calls"
            ),
            StopReason::Cancelled => write!(f, "the run was cancelled"),
            StopReason::Failed { message } => write!(f, "the run failed: {message}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_reasons_read_well_and_round_trip() {
        let reasons = [
            StopReason::Answered,
            StopReason::MaxSteps { limit: 3 },
            StopReason::MaxTokens { limit: 100 },
            StopReason::Deadline {
                limit: Duration::from_millis(1500),
            },
            StopReason::MaxToolCalls { limit: 2 },
            StopReason::Cancelled,
            StopReason::Failed {
                message: "model gone".into(),
            },
        ];
        for reason in reasons {
            let json = serde_json::to_string(&reason).unwrap_or_default();
            let back: Option<StopReason> = serde_json::from_str(&json).ok();
            assert_eq!(back.as_ref(), Some(&reason), "{json}");
        }
        assert_eq!(
            StopReason::MaxSteps { limit: 3 }.to_string(),
            "no answer within the limit of 3 steps"
        );
        assert_eq!(
            StopReason::Deadline {
                limit: Duration::from_millis(1500)
            }
            .to_string(),
            "no answer within the time limit of 1.5 s"
        );
    }
}
