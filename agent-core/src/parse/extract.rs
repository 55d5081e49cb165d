//! [`extract`] and [`extract_with`]: generate under the parser's constraint, parse, and retry
//! with the parse error shown to the model.

use agentry_prompts::{ChatMessage, Templates, names};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{ExtractError, Json, OutputParser, ParseError, Scoring};
use crate::model::{
    Constraint, FinishReason, GenerateRequest, LanguageModel, LanguageModelExt, ModelError,
    ModelInput, Sampling, SessionId, Usage,
};

/// How [`extract_with`] asks.
#[derive(Debug, Clone)]
pub struct ExtractOptions {
    /// Sampling of each attempt (greedy, 512 tokens by default).
    pub sampling: Sampling,
    /// Attempts after the first when the reply does not parse (default 2).
    pub max_retries: usize,
    /// Append the parser's format instructions to the prompt (default true).
    pub add_instructions: bool,
    /// Read label answers from scores when the backend can score (default true).
    pub use_scores: bool,
    /// The templates (for the retry message).
    pub templates: Templates,
    /// Keep the prompt's tokens in this KV-cache session.
    pub session: Option<SessionId>,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        Self {
            sampling: crate::defaults::sampling(),
            max_retries: 2,
            add_instructions: true,
            use_scores: true,
            templates: Templates::new(),
            session: None,
        }
    }
}

/// One attempt of an extraction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    /// The model's reply (or the label picked by score).
    pub text: String,
    /// Why the reply was rejected; `None` for the accepted one.
    pub error: Option<String>,
    /// Token counts of the request (zero when answered by score).
    pub usage: Usage,
    /// Why generation ended (`None` when answered by score).
    pub finish_reason: Option<FinishReason>,
}

/// A parsed value with the attempts that led to it.
#[derive(Debug, Clone)]
pub struct Extraction<T> {
    /// The value.
    pub value: T,
    /// Every attempt, the accepted one last.
    pub attempts: Vec<Attempt>,
}

/// Extracts a `T` from the model's reply to `prompt`: JSON constrained by `T`'s schema, parsed,
/// with up to two retries that show the model its parse error.
pub async fn extract<T>(
    model: &dyn LanguageModel,
    prompt: impl Into<ModelInput>,
) -> Result<T, ExtractError>
where
    T: DeserializeOwned + JsonSchema + Send,
{
    let parser = Json::<T>::new();
    Ok(
        extract_with(model, &parser, prompt.into(), &ExtractOptions::default())
            .await?
            .value,
    )
}

/// Extracts a value with any parser. Labels are read from scores when the parser offers
/// [`Scoring`] and the backend can score; otherwise the reply is generated under
/// [`OutputParser::constraint`] and parsed, and each rejected reply is followed by a message
/// that quotes the parse error, up to `options.max_retries` times.
pub async fn extract_with<P: OutputParser>(
    model: &dyn LanguageModel,
    parser: &P,
    prompt: ModelInput,
    options: &ExtractOptions,
) -> Result<Extraction<P::Output>, ExtractError> {
    // The parser's instructions (e.g. the list of labels) are part of the prompt on both
    // paths: a label scored without them is a guess at what the labels mean.
    let instructions = parser.instructions();
    let mut prompt = if options.add_instructions {
        with_instructions(prompt, &instructions)
    } else {
        prompt
    };
    if options.use_scores
        && let Some(scoring) = parser.scoring()
        && let Some(extraction) = by_score(model, parser, &prompt, scoring).await?
    {
        return Ok(extraction);
    }
    let mut attempts: Vec<Attempt> = Vec::new();
    let mut constraint = parser.constraint();
    loop {
        let request = GenerateRequest {
            prompt: prompt.clone(),
            sampling: attempt_sampling(&options.sampling, &attempts),
            constraint: constraint.clone(),
            session: options.session.clone(),
            n: 1,
        };
        let completions = match model.generate(request).await {
            Err(ModelError::InvalidConstraint { kind, detail })
                if parser.constraint_is_a_hint() && constraint != Constraint::None =>
            {
                tracing::debug!("decoding unconstrained: the backend refused the {kind}: {detail}");
                constraint = Constraint::None;
                continue;
            }
            other => other?,
        };
        let completion = completions
            .into_iter()
            .next()
            .ok_or_else(|| ModelError::Decode("the model returned no completion".into()))?;
        // A constrained reply cut by a limit may be a prefix that still parses (a number
        // cut short): it is never an answer. A cut by the token limit or a stop string is
        // tried again (the retry samples with a repetition penalty); the last one, or a
        // full context, is the error, naming the limit and how to raise it.
        if let Err(cut) = completion.require_complete(&constraint) {
            attempts.push(Attempt {
                text: completion.text.clone(),
                error: Some(cut.to_string()),
                usage: completion.usage,
                finish_reason: Some(completion.finish_reason),
            });
            let retryable = matches!(
                completion.finish_reason,
                FinishReason::Length | FinishReason::StopString
            );
            if !retryable || attempts.len() > options.max_retries {
                return Err(cut.into());
            }
            continue;
        }
        let parsed = parser.parse(&completion.text).map_err(|e| {
            if completion.finish_reason == FinishReason::Length {
                ParseError::new(
                    e.expected,
                    format!(
                        "{} (the reply was cut at {} tokens; be shorter)",
                        e.detail, options.sampling.max_tokens
                    ),
                )
            } else {
                e
            }
        });
        let mut attempt = Attempt {
            text: completion.text.clone(),
            error: None,
            usage: completion.usage,
            finish_reason: Some(completion.finish_reason),
        };
        match parsed {
            Ok(value) => {
                attempts.push(attempt);
                return Ok(Extraction { value, attempts });
            }
            Err(error) => {
                attempt.error = Some(error.to_string());
                attempts.push(attempt);
                if attempts.len() > options.max_retries {
                    return Err(ExtractError::Unparseable {
                        attempts,
                        last: error,
                    });
                }
                let retry = options.templates.render(
                    names::PARSE_RETRY,
                    serde_json::json!({
                        "error": error.to_string(),
                        "instructions": instructions,
                    }),
                )?;
                prompt = with_retry(prompt, &completion.text, &retry);
            }
        }
    }
}

/// Repetition penalty of a retry after a reply that ran to the token limit.
const LOOP_BREAK_PENALTY: f32 = 1.3;
/// Temperature of such a retry.
const LOOP_BREAK_TEMPERATURE: f32 = 0.7;

/// The sampling of the next attempt. A reply that ran into the token limit is almost always a
/// repetition loop (small models under a grammar repeat an array item or a phrase), and a
/// greedy retry would repeat it exactly; so after one, the retry samples (new seed) with a
/// repetition penalty.
fn attempt_sampling(base: &Sampling, attempts: &[Attempt]) -> Sampling {
    let looped = attempts
        .last()
        .is_some_and(|a| a.finish_reason == Some(FinishReason::Length));
    if !looped {
        return base.clone();
    }
    Sampling {
        temperature: base.temperature.max(LOOP_BREAK_TEMPERATURE),
        repeat_penalty: base.repeat_penalty.max(LOOP_BREAK_PENALTY),
        seed: base.seed.wrapping_add(attempts.len() as u32),
        ..base.clone()
    }
}

/// Answers a label parser from scores; `None` when the backend cannot score.
async fn by_score<P: OutputParser>(
    model: &dyn LanguageModel,
    parser: &P,
    prompt: &ModelInput,
    scoring: Scoring,
) -> Result<Option<Extraction<P::Output>>, ExtractError> {
    let text = match scoring {
        Scoring::Single(labels) => match model.classify(prompt.clone(), &labels).await {
            Ok(classification) => classification.label,
            Err(ModelError::Unsupported(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        },
        Scoring::Multi { labels, threshold } => {
            match model
                .classify_multi(prompt.clone(), &labels, threshold)
                .await
            {
                Ok(probabilities) => {
                    let chosen: Vec<&String> = probabilities
                        .iter()
                        .filter(|p| p.selected)
                        .map(|p| &p.label)
                        .collect();
                    serde_json::to_string(&chosen).unwrap_or_else(|_| "[]".into())
                }
                Err(ModelError::Unsupported(_)) => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
    };
    let value = parser
        .parse(&text)
        .map_err(|last| ExtractError::Unparseable {
            attempts: vec![Attempt {
                text: text.clone(),
                error: Some(last.to_string()),
                usage: Usage::default(),
                finish_reason: None,
            }],
            last,
        })?;
    Ok(Some(Extraction {
        value,
        attempts: vec![Attempt {
            text,
            error: None,
            usage: Usage::default(),
            finish_reason: None,
        }],
    }))
}

/// The prompt with `instructions` added to its last user message (or to the end of a raw
/// prompt, or as a new user message when there is none).
pub fn with_instructions(prompt: ModelInput, instructions: &str) -> ModelInput {
    if instructions.trim().is_empty() {
        return prompt;
    }
    let mut prompt = prompt;
    match prompt.messages_mut() {
        Some(messages) => {
            match messages
                .iter_mut()
                .rev()
                .find(|m| m.role == agentry_prompts::Role::User)
            {
                Some(last) => last.content = format!("{}\n\n{instructions}", last.content),
                None => messages.push(ChatMessage::user(instructions)),
            }
            prompt
        }
        None => match prompt {
            ModelInput::Raw(text) => ModelInput::Raw(format!("{text}\n{instructions}\n")),
            other => other,
        },
    }
}

/// The prompt followed by the rejected reply and the retry message.
fn with_retry(prompt: ModelInput, reply: &str, retry: &str) -> ModelInput {
    let mut prompt = prompt;
    match prompt.messages_mut() {
        Some(messages) => {
            messages.push(ChatMessage::assistant(reply));
            messages.push(ChatMessage::user(retry));
            prompt
        }
        None => match prompt {
            ModelInput::Raw(text) => ModelInput::Raw(format!("{text}{reply}\n\n{retry}\n")),
            other => other,
        },
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;

    use super::*;
    use crate::model::{
        CandidateScore, Completion, CompletionStream, ModelInfo, ScoreRequest, Timings,
    };
    use crate::parse::Regex;

    /// A scripted test double that refuses every JSON Schema constraint (as a backend
    /// without a schema compiler would) and otherwise answers `reply`, recording the
    /// constraints it was asked for.
    struct ScriptedSchemaRefuser {
        info: ModelInfo,
        reply: String,
        asked: Mutex<Vec<Constraint>>,
    }

    #[async_trait]
    impl LanguageModel for ScriptedSchemaRefuser {
        fn info(&self) -> &ModelInfo {
            &self.info
        }
        async fn generate(&self, req: GenerateRequest) -> Result<Vec<Completion>, ModelError> {
            self.asked
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(req.constraint.clone());
            if let Constraint::JsonSchema(_) = req.constraint {
                return Err(ModelError::InvalidConstraint {
                    kind: "json schema",
                    detail: "no schema compiler here".into(),
                });
            }
            Ok(vec![Completion {
                text: self.reply.clone(),
                finish_reason: FinishReason::Stop,
                usage: Usage::default(),
                timings: Timings::default(),
            }])
        }
        async fn stream(&self, _req: GenerateRequest) -> Result<CompletionStream, ModelError> {
            Err(ModelError::Unsupported("streaming".into()))
        }
        async fn score(&self, _req: ScoreRequest) -> Result<Vec<CandidateScore>, ModelError> {
            Err(ModelError::Unsupported("scoring".into()))
        }
        async fn count_tokens(&self, text: &str) -> Result<usize, ModelError> {
            Ok(text.len())
        }
    }

    fn refuser(reply: &str) -> ScriptedSchemaRefuser {
        ScriptedSchemaRefuser {
            info: ModelInfo {
                name: "scripted-schema-refuser".into(),
                path: std::path::PathBuf::new(),
                n_ctx: 2048,
                n_ctx_train: 2048,
                n_vocab: 100,
                parameters: 0,
                has_chat_template: true,
            },
            reply: reply.into(),
            asked: Mutex::new(Vec::new()),
        }
    }

    #[tokio::test]
    async fn a_hint_constraint_the_backend_refuses_falls_back_to_parsing() {
        let model = refuser("The code is AB-12.");
        let parser = Regex::new(r"[A-Z]{2}-[0-9]{2}").unwrap();
        assert!(parser.is_constrained());
        let found = extract_with(
            &model,
            &parser,
            ModelInput::Raw("Code?".into()),
            &ExtractOptions::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("no fallback: {e}"));
        assert_eq!(found.value.text, "AB-12");
        let asked = model.asked.lock().unwrap().clone();
        assert!(matches!(asked[0], Constraint::JsonSchema(_)), "{asked:?}");
        assert_eq!(asked[1], Constraint::None);
        assert_eq!(found.attempts.len(), 1, "the refusal is not an attempt");
    }

    #[tokio::test]
    async fn a_required_constraint_the_backend_refuses_is_an_error() {
        let model = refuser("{\"x\": 1}");
        let error = extract_with(
            &model,
            &crate::parse::Json::<serde_json::Value>::new(),
            ModelInput::Raw("Give JSON.".into()),
            &ExtractOptions::default(),
        )
        .await
        .unwrap_err();
        assert!(error.to_string().contains("no schema compiler"), "{error}");
    }
}
