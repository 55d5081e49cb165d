//! How an agent step is written: agentry's own JSON step, or the tool-call format the
//! model's chat template was trained on.

use serde::{Deserialize, Serialize};

use crate::model::{LanguageModel, ToolCallSyntax};

/// The format a run's steps are written in (decided before the run, see
/// [`ToolFormat::resolve`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepFormat {
    /// agentry's JSON step: every reply is one JSON object, `{"thought", "action"}` or
    /// `{"thought", "final_answer"}`, constrained by the step schema; results come back
    /// as user turns. Works with any model.
    #[default]
    Json,
    /// The model's own tool-call format: the chat template renders the tools, the reply
    /// is free text (the answer) or calls in `ToolCallSyntax`, and only the calls are
    /// constrained, from their opener on; results come back as `tool` messages.
    Native(ToolCallSyntax),
}

/// Which step format an agent asks for (builder `tool_format`, workflow `tool_format:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolFormat {
    /// The model's own format when its chat template has one, else JSON.
    #[default]
    Auto,
    /// agentry's JSON step, whatever the model.
    Json,
    /// The model's own format; an error for a model whose template has none.
    Native,
}

impl ToolFormat {
    /// The step format for `model`.
    ///
    /// # Errors
    /// [`ToolFormat::Native`] for a model whose chat template renders no tools: the
    /// message names the model.
    pub fn resolve(self, model: &dyn LanguageModel) -> Result<StepFormat, String> {
        match (self, model.tool_call_syntax()) {
            (ToolFormat::Json, _) | (ToolFormat::Auto, None) => Ok(StepFormat::Json),
            (ToolFormat::Auto | ToolFormat::Native, Some(syntax)) => Ok(StepFormat::Native(syntax)),
            (ToolFormat::Native, None) => Err(format!(
                "tool_format native: the chat template of `{}` renders no tools; use `auto` or `json`",
                model.info().name
            )),
        }
    }

    /// The name used in YAML and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            ToolFormat::Auto => "auto",
            ToolFormat::Json => "json",
            ToolFormat::Native => "native",
        }
    }
}

impl std::str::FromStr for ToolFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "auto" => Ok(ToolFormat::Auto),
            "json" => Ok(ToolFormat::Json),
            "native" => Ok(ToolFormat::Native),
            other => Err(format!(
                "unknown tool format `{other}`: expected auto, json or native"
            )),
        }
    }
}
