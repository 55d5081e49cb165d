//! [`ModelSummarizer`]: the [`agentry_memory::Summarizer`] that condenses
//! conversation turns leaving the short-term window, with a language model
//! and the `summarize` prompt template.

use std::sync::Arc;

use agentry_memory::{SummarizeError, Summarizer, Turn};
use agentry_prompts::{ChatMessage, Templates, names};
use async_trait::async_trait;

use crate::model::{GenerateRequest, LanguageModel, Sampling};

/// Summarises turns with a model (greedy, bounded length), through the
/// `summarize` template — which a user folder can override.
pub struct ModelSummarizer {
    model: Arc<dyn LanguageModel>,
    templates: Templates,
    max_words: usize,
    max_tokens: usize,
}

impl ModelSummarizer {
    /// A summariser on `model` with the built-in templates, notes of at most
    /// 120 words.
    pub fn new(model: Arc<dyn LanguageModel>) -> Self {
        Self {
            model,
            templates: Templates::new(),
            max_words: 120,
            max_tokens: 256,
        }
    }

    /// Uses these templates (e.g. with a user override folder).
    pub fn with_templates(mut self, templates: Templates) -> Self {
        self.templates = templates;
        self
    }

    /// Caps the note's length in words (and generated tokens at 2 per word).
    pub fn with_max_words(mut self, max_words: usize) -> Self {
        self.max_words = max_words.max(1);
        self.max_tokens = (self.max_words * 2).max(32);
        self
    }
}

#[derive(serde::Serialize)]
struct TurnView<'a> {
    role: &'a str,
    content: &'a str,
}

#[async_trait]
impl Summarizer for ModelSummarizer {
    async fn summarize(
        &self,
        previous: Option<&str>,
        turns: &[Turn],
    ) -> Result<String, SummarizeError> {
        let turns: Vec<TurnView<'_>> = turns
            .iter()
            .map(|t| TurnView {
                role: &t.role,
                content: &t.content,
            })
            .collect();
        let instruction = self.templates.render(
            names::SUMMARIZE,
            serde_json::json!({
                "max_words": self.max_words,
                "summary": previous.unwrap_or(""),
                "turns": turns,
            }),
        )?;
        let request =
            GenerateRequest::chat(vec![ChatMessage::user(instruction)]).with_sampling(Sampling {
                temperature: 0.0,
                max_tokens: self.max_tokens,
                ..Sampling::default()
            });
        let completion = self
            .model
            .generate(request)
            .await?
            .into_iter()
            .next()
            .ok_or("the model returned no completion")?;
        let note = completion.text.trim().to_string();
        if note.is_empty() {
            return Err("the model returned an empty summary".into());
        }
        Ok(note)
    }
}
