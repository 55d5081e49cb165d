//! A prompt built from sections, and its rendering into chat messages.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::builtin::names;
use crate::guard::{Guard, Signal, Untrusted, scan};
use crate::{ChatMessage, PromptError, Templates};

/// A few-shot example: an input and the output wanted for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Example {
    /// The example input (becomes a user turn).
    pub input: String,
    /// The wanted output (becomes an assistant turn).
    pub output: String,
}

/// A prompt made of sections, kept in this order: role, instructions, context
/// (trusted), untrusted content (fenced by the guard), examples, input, output
/// format. Build it with the chained methods and render it with
/// [`Prompt::render`].
///
/// Rendering maps the sections onto chat messages so that the order holds in
/// the message list:
///
/// 1. one **system** message (template `prompt_system`): role, instructions,
///    context, then the guard notice and the fenced untrusted blocks;
/// 2. for each example a **user** turn (its input) and an **assistant** turn
///    (its output);
/// 3. one last **user** message (template `prompt_user`): the input, then the
///    output format, so the format is the last thing the model reads.
///
/// A message whose content renders empty is left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Prompt {
    /// Who the model is, e.g. "You are a careful research assistant."
    pub role: String,
    /// What to do, one item per instruction.
    pub instructions: Vec<String>,
    /// Trusted background, one item per paragraph.
    pub context: Vec<String>,
    /// Text from outside the trust boundary, fenced when rendered.
    pub untrusted: Vec<Untrusted>,
    /// Few-shot examples.
    pub examples: Vec<Example>,
    /// The task input.
    pub input: String,
    /// How the output must look.
    pub output_format: String,
}

impl Prompt {
    /// An empty prompt.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the role.
    pub fn role(mut self, role: impl Into<String>) -> Self {
        self.role = role.into();
        self
    }

    /// Appends instructions.
    pub fn instructions<I, S>(mut self, items: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.instructions.extend(items.into_iter().map(Into::into));
        self
    }

    /// Appends one instruction.
    pub fn instruction(mut self, item: impl Into<String>) -> Self {
        self.instructions.push(item.into());
        self
    }

    /// Appends a paragraph of trusted context.
    pub fn context(mut self, text: impl Into<String>) -> Self {
        self.context.push(text.into());
        self
    }

    /// Appends untrusted `text` from `source` (fenced by the guard when
    /// rendered).
    pub fn untrusted(mut self, source: impl Into<String>, text: impl Into<String>) -> Self {
        self.untrusted.push(Untrusted::new(source, text));
        self
    }

    /// Appends a few-shot example.
    pub fn example(mut self, input: impl Into<String>, output: impl Into<String>) -> Self {
        self.examples.push(Example {
            input: input.into(),
            output: output.into(),
        });
        self
    }

    /// Sets the task input.
    pub fn input(mut self, input: impl Into<String>) -> Self {
        self.input = input.into();
        self
    }

    /// Sets the output format.
    pub fn output_format(mut self, format: impl Into<String>) -> Self {
        self.output_format = format.into();
        self
    }

    /// Renders the prompt with `templates`, fencing untrusted content with a
    /// fresh [`Guard`] (so the markers differ on every call), and scans the
    /// untrusted content for injection signals.
    pub fn render(&self, templates: &Templates) -> Result<RenderedPrompt, PromptError> {
        let guard = Guard::for_texts(self.untrusted.iter().map(|u| u.text.as_str()))?;
        let fenced: Vec<String> = self.untrusted.iter().map(|u| guard.fence(u)).collect();
        let guard_notice = if fenced.is_empty() {
            String::new()
        } else {
            templates.render(names::GUARD_NOTICE, json!({ "marker": guard.marker() }))?
        };
        let system = templates.render(
            names::PROMPT_SYSTEM,
            json!({
                "role": self.role,
                "instructions": self.instructions,
                "context": self.context,
                "guard_notice": guard_notice,
                "untrusted": fenced,
            }),
        )?;
        let user = templates.render(
            names::PROMPT_USER,
            json!({ "input": self.input, "output_format": self.output_format }),
        )?;

        let mut messages = Vec::with_capacity(2 + 2 * self.examples.len());
        push_non_empty(&mut messages, ChatMessage::system(system));
        for example in &self.examples {
            push_non_empty(&mut messages, ChatMessage::user(example.input.as_str()));
            push_non_empty(
                &mut messages,
                ChatMessage::assistant(example.output.as_str()),
            );
        }
        push_non_empty(&mut messages, ChatMessage::user(user));

        let signals = self
            .untrusted
            .iter()
            .flat_map(|u| {
                scan(&u.text).into_iter().map(|signal| UntrustedSignal {
                    source: u.source.clone(),
                    signal,
                })
            })
            .collect();
        Ok(RenderedPrompt {
            messages,
            marker: (!self.untrusted.is_empty()).then(|| guard.marker().to_string()),
            signals,
        })
    }
}

fn push_non_empty(messages: &mut Vec<ChatMessage>, mut message: ChatMessage) {
    let trimmed = message.content.trim();
    if !trimmed.is_empty() {
        if trimmed.len() != message.content.len() {
            message.content = trimmed.to_string();
        }
        messages.push(message);
    }
}

/// A prompt rendered into chat messages, with what the guard saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RenderedPrompt {
    /// The messages, in order (see [`Prompt`] for the mapping).
    pub messages: Vec<ChatMessage>,
    /// The guard's fence marker for this render, when there was untrusted
    /// content (useful in traces).
    pub marker: Option<String>,
    /// Injection signals found in the untrusted content.
    pub signals: Vec<UntrustedSignal>,
}

/// An injection signal in one piece of untrusted content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UntrustedSignal {
    /// The `source` of the untrusted content.
    pub source: String,
    /// The signal; its span is relative to that content's text.
    pub signal: Signal,
}
