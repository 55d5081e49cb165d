//! Whether a constrained reply is complete: a reply cut by a limit before its constraint
//! was satisfied is an error for every caller that asked for a constraint.

use crate::error::ModelError;
use crate::types::{Completion, Constraint, FinishReason};

impl Completion {
    /// `Ok` when the reply ended on its own ([`FinishReason::Stop`]) or was not
    /// constrained; otherwise [`ModelError::Incomplete`], which names the limit that cut it
    /// and how to raise it. A reply cut by `max_tokens`, the context, a stop string or a
    /// cancellation may be a prefix of valid output (a truncated number still parses), so
    /// it is never an answer to a constrained request.
    ///
    /// # Errors
    /// [`ModelError::Incomplete`] as above.
    pub fn require_complete(&self, constraint: &Constraint) -> Result<(), ModelError> {
        let kind = match constraint {
            Constraint::None => return Ok(()),
            Constraint::JsonSchema(_) => "JSON Schema",
            Constraint::Grammar(_) => "grammar",
            Constraint::Choice(_) => "choice",
            Constraint::ToolCalls { .. } => "tool calls",
        };
        let cut = match self.finish_reason {
            FinishReason::Stop => return Ok(()),
            FinishReason::Length => format!(
                "the token limit was reached after {} tokens: raise max_tokens (`--max-tokens N` on the command line, `max_tokens:` in a workflow)",
                self.usage.completion_tokens
            ),
            FinishReason::ContextFull => "the context window filled up: raise the context size (`--ctx N`, `n_ctx`) or shorten the prompt".to_owned(),
            FinishReason::StopString => "a stop string ended it: remove stop strings that can occur inside the constrained output".to_owned(),
            FinishReason::Cancelled => "the request was cancelled".to_owned(),
        };
        Err(ModelError::Incomplete {
            constraint: kind,
            reason: self.finish_reason,
            detail: cut,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Usage;

    fn completion(finish_reason: FinishReason) -> Completion {
        Completion {
            text: "{\"a\": 1".into(),
            finish_reason,
            usage: Usage {
                completion_tokens: 7,
                ..Usage::default()
            },
            timings: Default::default(),
        }
    }

    #[test]
    fn a_cut_constrained_reply_is_an_error_naming_the_limit() {
        let schema = Constraint::JsonSchema(serde_json::json!({"type": "object"}));
        assert!(
            completion(FinishReason::Stop)
                .require_complete(&schema)
                .is_ok()
        );
        assert!(
            completion(FinishReason::Length)
                .require_complete(&Constraint::None)
                .is_ok(),
            "free text may be cut"
        );
        let cases = [
            (FinishReason::Length, "max_tokens"),
            (FinishReason::ContextFull, "context"),
            (FinishReason::StopString, "stop string"),
            (FinishReason::Cancelled, "cancelled"),
        ];
        for (reason, says) in cases {
            let error = completion(reason).require_complete(&schema).unwrap_err();
            let text = error.to_string();
            assert!(
                matches!(error, ModelError::Incomplete { reason: r, .. } if r == reason),
                "{text}"
            );
            assert!(
                text.contains(says) && text.contains("JSON Schema"),
                "{text}"
            );
        }
        let grammar = Constraint::Grammar("root ::= \"a\"".into());
        let text = completion(FinishReason::Length)
            .require_complete(&grammar)
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("after 7 tokens") && text.contains("--max-tokens"),
            "{text}"
        );
    }
}
