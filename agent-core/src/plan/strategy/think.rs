//! Reasoning as free text, then the typed answer: what chain of thought and
//! self-consistency share. The model first writes its working unconstrained,
//! under a token budget (a budget that runs out ends the working at its last
//! finished sentence); then, with that working in the conversation, the answer
//! is decoded under its JSON Schema. The reasoning is never a capped JSON string
//! cut mid-word, and the answer is never forced out of an unfinished thought.

use std::marker::PhantomData;

use agentry_prompts::{ChatMessage, names};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::reasoned::answer_object;
use super::{Purpose, SolveOptions, StrategyError, Trace, generate_traced};
use crate::model::{
    Completion, Constraint, FinishReason, GenerateRequest, LanguageModel, ModelInput, Sampling,
};
use crate::parse::json_text::json_candidates;
use crate::parse::{OutputParser, ParseError, with_instructions};

/// One piece of working: the text the answer is asked after.
#[derive(Debug, Clone, PartialEq, Default)]
pub(super) struct Working {
    /// The reasoning, ended at a finished sentence when the budget ran out.
    pub text: String,
}

/// The reasoning prompt: the task with the cue `cue_template` (rendered with the
/// answer's schema) appended to its last user message.
pub(super) fn reasoning_prompt(
    task: &ModelInput,
    options: &SolveOptions,
    cue_template: &str,
    answer_schema: &Value,
) -> Result<ModelInput, StrategyError> {
    let cue = options.templates.render(
        cue_template,
        serde_json::json!({ "answer_schema": answer_schema.to_string() }),
    )?;
    Ok(with_instructions(task.clone(), &cue))
}

/// Asks for `n` pieces of working in one request (free text, no constraint, at
/// most [`SolveOptions::max_reasoning_tokens`] tokens each).
pub(super) async fn reason(
    model: &dyn LanguageModel,
    prompt: ModelInput,
    options: &SolveOptions,
    sampling: Sampling,
    n: usize,
    purpose: Purpose,
    trace: &mut Trace,
) -> Result<Vec<Working>, StrategyError> {
    let request = GenerateRequest {
        prompt,
        sampling: Sampling {
            max_tokens: options.max_reasoning_tokens.max(1),
            ..sampling
        },
        constraint: Constraint::None,
        session: if n == 1 {
            options.session.clone()
        } else {
            None
        },
        n,
    };
    let completions = generate_traced(model, request, purpose, trace).await?;
    Ok(completions.iter().map(working).collect())
}

fn working(c: &Completion) -> Working {
    let text = if c.finish_reason == FinishReason::Length {
        finished_sentences(&c.text)
    } else {
        c.text.trim().to_string()
    };
    Working { text }
}

/// `text` up to the end of its last finished sentence (a `.`, `!` or `?` before
/// white space, or a line break); all of it when no sentence ended.
pub(super) fn finished_sentences(text: &str) -> String {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut end = None;
    for (i, &(at, c)) in chars.iter().enumerate() {
        let next = chars.get(i + 1).map(|&(_, n)| n);
        let closes = matches!(c, '.' | '!' | '?') && next.is_none_or(char::is_whitespace);
        if closes {
            end = Some(at + c.len_utf8());
        } else if c == '\n' && at > 0 {
            end = Some(at);
        }
    }
    let kept = match end {
        Some(end) => &text[..end],
        None => text,
    };
    kept.trim().to_string()
}

/// The answer prompt: the reasoning prompt, the working as the model's reply,
/// then the `reasoned_answer` request (the answer parser's instructions are
/// appended to it by the caller).
pub(super) fn answer_prompt(
    reasoning_prompt: &ModelInput,
    working: &Working,
    options: &SolveOptions,
) -> Result<ModelInput, StrategyError> {
    let ask = options
        .templates
        .render(names::REASONED_ANSWER, serde_json::json!({}))?;
    if let ModelInput::Raw(text) = reasoning_prompt {
        return Ok(ModelInput::Raw(format!(
            "{text}{}\n\n{ask}\n",
            working.text
        )));
    }
    let mut prompt = reasoning_prompt.clone();
    if let Some(messages) = prompt.messages_mut() {
        messages.push(ChatMessage::assistant(working.text.clone()));
        messages.push(ChatMessage::user(ask));
    }
    Ok(prompt)
}

/// The typed answer after a piece of working, asked for as `{"answer": ...}`:
/// small models open a JSON reply with `{`, and a bare number or string under
/// its constraint makes them pick an odd first token (a `-`, say) instead.
pub(super) struct AfterWorking<T> {
    schema: Value,
    name: String,
    _type: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned + JsonSchema> AfterWorking<T> {
    /// A parser for answers matching `answer_schema`.
    pub fn new(answer_schema: &Value) -> Self {
        Self {
            schema: answer_object(None, answer_schema),
            name: T::schema_name().into_owned(),
            _type: PhantomData,
        }
    }

    /// The typed answer and the JSON it was read from (the vote key).
    pub fn parse_with_json(&self, text: &str) -> Result<(T, Value), ParseError> {
        let mut first_error = None;
        for candidate in json_candidates(text) {
            let value = match serde_json::from_str::<Value>(candidate) {
                Ok(Value::Object(mut map)) => match map.remove("answer") {
                    Some(answer) => answer,
                    None => {
                        first_error.get_or_insert_with(|| "no `answer` field".to_string());
                        continue;
                    }
                },
                Ok(_) => {
                    first_error.get_or_insert_with(|| "not a JSON object".to_string());
                    continue;
                }
                Err(e) => {
                    first_error.get_or_insert_with(|| e.to_string());
                    continue;
                }
            };
            match serde_json::from_value::<T>(value.clone()) {
                Ok(answer) => return Ok((answer, value)),
                Err(e) => {
                    first_error.get_or_insert_with(|| format!("answer: {e}"));
                }
            }
        }
        Err(ParseError::new(
            format!(
                "a JSON object {{\"answer\": ...}} whose answer is a `{}`",
                self.name
            ),
            first_error.unwrap_or_else(|| "the reply is empty".into()),
        ))
    }
}

impl<T: DeserializeOwned + JsonSchema + Send> OutputParser for AfterWorking<T> {
    type Output = T;

    fn instructions(&self) -> String {
        format!(
            "Reply with JSON only, matching this JSON Schema: {}",
            self.schema
        )
    }

    fn constraint(&self) -> Constraint {
        Constraint::JsonSchema(self.schema.clone())
    }

    fn parse(&self, text: &str) -> Result<T, ParseError> {
        self.parse_with_json(text).map(|(answer, _)| answer)
    }
}

/// The request for the typed answer after one piece of working (greedy, under
/// the answer's schema).
pub(super) fn answer_request<T: DeserializeOwned + JsonSchema + Send>(
    prompt: ModelInput,
    parser: &AfterWorking<T>,
    options: &SolveOptions,
) -> GenerateRequest {
    GenerateRequest {
        prompt: with_instructions(prompt, &parser.instructions()),
        sampling: options.sampling.clone(),
        constraint: parser.constraint(),
        session: None,
        n: 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_answer_after_the_working_is_read_from_its_answer_field() {
        let parser = AfterWorking::<u32>::new(&json!({"type": "integer", "$defs": {"X": {}}}));
        let Constraint::JsonSchema(schema) = parser.constraint() else {
            panic!("a JSON Schema constraint");
        };
        assert_eq!(schema["properties"]["answer"]["type"], "integer");
        assert!(
            schema["$defs"]["X"].is_object(),
            "definitions move to the root"
        );
        assert_eq!(
            parser.parse_with_json(r#"{"answer": 18}"#).unwrap(),
            (18, json!(18))
        );
        assert!(
            parser.parse("18").is_err(),
            "a bare number is not the format"
        );
        let e = parser.parse(r#"{"answer": "x"}"#).unwrap_err();
        assert!(e.detail.starts_with("answer:"), "{e}");
    }

    #[test]
    fn a_cut_working_ends_at_its_last_finished_sentence() {
        assert_eq!(
            finished_sentences("First, 3 * 4 = 12. Then 12 + 2.5 = 14.5. Then the total of un"),
            "First, 3 * 4 = 12. Then 12 + 2.5 = 14.5."
        );
        assert_eq!(
            finished_sentences("Step 1: add\nStep 2: multi"),
            "Step 1: add"
        );
        assert_eq!(
            finished_sentences("no sentence ends here"),
            "no sentence ends here"
        );
        assert_eq!(finished_sentences("Is it 4? Yes"), "Is it 4?");
        assert_eq!(finished_sentences("π ≈ 3.14 so é…"), "π ≈ 3.14 so é…");
    }
}
