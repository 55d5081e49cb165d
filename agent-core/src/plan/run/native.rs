//! Steps in the model's own tool-call format ([`StepFormat::Native`]): the request (the
//! tools rendered by the chat template, only the calls constrained) and the reading of
//! a reply (free text is the answer, calls are made).

use agentry_prompts::Guard;
use agentry_tools::ToolSpec;
use serde_json::Value;

use super::step::{self, Step, is_free_text, self_contained};
use super::{AgentRun, prompt};
use crate::model::{
    Constraint, FinishReason, GenerateRequest, ModelInput, Sampling, ToolCallSyntax,
    tool_definition,
};

/// What native steps send about the tools, made once per configuration: each tool's
/// parameters self-contained (`$ref`s inlined once, not at every step) and the JSON
/// Schema of one call.
#[derive(Debug)]
pub(super) struct NativeTools {
    parameters: Vec<Value>,
    call_schema: Value,
}

impl NativeTools {
    /// The parameters and call schema of `tools` in `syntax`.
    pub(super) fn of(syntax: ToolCallSyntax, tools: &[ToolSpec]) -> Self {
        let parameters: Vec<Value> = tools
            .iter()
            .map(|spec| self_contained(&spec.parameters))
            .collect();
        let call_schema = syntax.call_schema(
            tools
                .iter()
                .zip(&parameters)
                .map(|(spec, schema)| (spec.name.as_str(), schema)),
        );
        Self {
            parameters,
            call_schema,
        }
    }

    /// The tool definitions the chat template renders (`tools`) for `tools` (those this
    /// was made from), untrusted descriptions fenced by the run's `guard` (left out
    /// without one).
    fn definitions(&self, tools: &[ToolSpec], guard: Option<&Guard>) -> Vec<Value> {
        tools
            .iter()
            .zip(&self.parameters)
            .map(|(spec, schema)| {
                tool_definition(&spec.name, &prompt::description(guard, spec), schema)
            })
            .collect()
    }
}

/// GBNF of a reply that cannot open a call in `syntax`: the first character can start no
/// opener (`<` for Hermes' `<tool_call>` and Llama's `<|python_tag|>`, `{` for Llama's
/// bare JSON call, `[` for Mistral's `[TOOL_CALLS]`); Hermes' calls can open anywhere, so
/// its answer holds no `<` at all, and it cannot start like an untagged call (`{`, a list
/// or a Markdown fence) or with a quoting mark before one (`>`, `|`, `\`): small models
/// asked to answer write their call again as text (qwen2.5-coder-0.5b wrote `>{"name"..`).
pub(super) fn answer_only_grammar(syntax: ToolCallSyntax) -> &'static str {
    match syntax {
        ToolCallSyntax::Hermes => r#"root ::= [ \t\n]* [^<>{[`|\\ \t\n] [^<]*"#,
        ToolCallSyntax::Llama3Json => r#"root ::= [^{<] [^\x00]*"#,
        ToolCallSyntax::Mistral => r#"root ::= [^\[] [^\x00]*"#,
    }
}

/// Whether a JSON answer of `schema` can open with a `name` key, like a bare call: an
/// object with a `name` property, or one that allows any property.
fn answer_can_start_with_name(schema: &Value) -> bool {
    if is_free_text(schema) {
        return false;
    }
    let object_like = schema.get("type").and_then(Value::as_str) == Some("object")
        || schema.get("properties").is_some()
        || schema.get("type").is_none();
    object_like
        && (schema.pointer("/properties/name").is_some()
            || schema.get("additionalProperties") != Some(&Value::Bool(false)))
}

impl AgentRun {
    /// The request of a native step, sampled with `sampling`.
    pub(super) fn native_request(
        &self,
        syntax: ToolCallSyntax,
        sampling: Sampling,
    ) -> GenerateRequest {
        let tools = &self.config.tools;
        let built;
        let native = match &self.native_tools {
            Some(prepared) => prepared.as_ref(),
            None => {
                built = NativeTools::of(syntax, tools);
                &built
            }
        };
        let callable: Vec<ToolSpec> = tools
            .iter()
            .filter(|spec| !self.withheld.contains(&spec.name))
            .cloned()
            .collect();
        let mut sampling = sampling;
        let constraint = if self.must_answer() || callable.is_empty() {
            self.native_answer_constraint(syntax)
        } else if self.must_call() {
            // One call, nothing else: the step after a reply that wrote the prompt's
            // markup instead of its call.
            Constraint::JsonSchema(NativeTools::of(syntax, &callable).call_schema)
        } else {
            sampling.stop.extend(FORGED_MARKUP.map(str::to_owned));
            let call_schema = if callable.len() == tools.len() {
                native.call_schema.clone()
            } else {
                // A withheld tool is left out of this step's call grammar (and of the
                // triggers that name tools).
                NativeTools::of(syntax, &callable).call_schema
            };
            Constraint::ToolCalls {
                syntax,
                call_schema,
                max_calls: self.max_calls(),
                bare_calls: !answer_can_start_with_name(&self.config.answer_schema),
            }
        };
        let prompt = if tools.is_empty() {
            ModelInput::Messages(self.messages.clone())
        } else {
            ModelInput::WithTools {
                messages: self.messages.clone(),
                tools: native.definitions(tools, self.guard().ok().as_ref()),
            }
        };
        GenerateRequest::new(prompt)
            .with_sampling(sampling)
            .with_constraint(constraint)
            .with_session(self.session())
    }

    /// The constraint of a step that must answer: text that opens no call for a
    /// free-text answer (none without tools), else the answer's schema.
    fn native_answer_constraint(&self, syntax: ToolCallSyntax) -> Constraint {
        let schema = &self.config.answer_schema;
        if !is_free_text(schema) {
            Constraint::JsonSchema(self_contained(schema))
        } else if self.config.tools.is_empty() {
            Constraint::None
        } else {
            Constraint::Grammar(answer_only_grammar(syntax).to_owned())
        }
    }

    /// The problem of a native reply cut at the prompt's own markup
    /// ([`FORGED_MARKUP`], a stop string of steps that may call) with no call before it,
    /// when the run has no result yet (after results, the text before the markup is the
    /// answer) and a step is left: the next step must make the call (`call_next`).
    /// `None` for any other reply, and when the run's own sampling has stop strings (the
    /// one that stopped it is then unknown).
    pub(super) fn forged_markup_problem(
        &self,
        parsed: &Result<Option<Step>, String>,
        finish: FinishReason,
    ) -> Option<String> {
        if finish != FinishReason::StopString
            || !matches!(self.config.step_format, super::StepFormat::Native(_))
            || !self.config.sampling.stop.is_empty()
            || self.must_answer()
            || self.must_call()
            || self.last_step()
        {
            return None;
        }
        match parsed {
            Ok(Some(Step::Act { .. })) => None,
            Ok(Some(Step::Answer { .. })) if !self.observations.is_empty() => None,
            _ => Some(
                "it writes the prompt's own markup (the tool list, a tool result or a data \
                 fence) instead of a call; results come only from calls you make. Make the \
                 call now"
                    .to_owned(),
            ),
        }
    }

    /// Reads a native reply as a step. `answer_only`: the step could only answer (its
    /// constraint opened no call), so the whole reply is the answer. Returns the step, or
    /// the problem to show the model; `Ok(None)` for a free-text reply when the answer
    /// must be JSON: the next step is then asked for the answer under its schema.
    pub(super) fn read_native(
        &self,
        syntax: ToolCallSyntax,
        text: &str,
        finish: FinishReason,
        answer_only: bool,
    ) -> Result<Option<Step>, String> {
        let cut = matches!(finish, FinishReason::Length | FinishReason::ContextFull);
        let typed = !is_free_text(&self.config.answer_schema);
        if answer_only {
            if cut {
                return Err(super::unusable("the answer is incomplete", finish));
            }
            return answer_from_text(text, typed).map(Some);
        }
        let parsed = syntax
            .parse(text)
            .map_err(|error| super::unusable(&error.to_string(), finish))?;
        if !parsed.calls.is_empty() {
            if parsed.calls.len() > self.max_calls() {
                return Err(format!(
                    "it makes {} tool calls; one step may make at most {}",
                    parsed.calls.len(),
                    self.max_calls()
                ));
            }
            return Ok(Some(Step::Act {
                thought: parsed.text,
                calls: parsed.calls,
            }));
        }
        if cut {
            return Err(super::unusable("the answer is incomplete", finish));
        }
        if typed {
            // A JSON answer written as such is taken; prose is turned into one by the
            // next step, under the answer's schema.
            return Ok(answer_from_text(&parsed.text, true).ok());
        }
        answer_from_text(&parsed.text, false).map(Some)
    }
}

/// The prompt's own markup, which small models write instead of a call: the tools block
/// copied (`<tools>`), a made-up tool result (`<tool_response>`), a data fence. A native
/// step that may call stops there ([`AgentRun::forged_markup_problem`]).
pub(super) const FORGED_MARKUP: [&str; 4] = ["<tools>", "<tool_response>", "<DATA-", "</DATA-"];

/// Reads the reply of a step that had to make one call (its constraint was one call's
/// JSON Schema) as that call.
pub(super) fn read_forced_call(
    syntax: ToolCallSyntax,
    text: &str,
    finish: FinishReason,
) -> Result<Option<Step>, String> {
    let call: Value = serde_json::from_str(text.trim())
        .map_err(|error| super::unusable(&format!("the call is not JSON: {error}"), finish))?;
    let name = call
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| "the call has no \"name\"".to_owned())?;
    let args = call
        .get(syntax.arguments_key())
        .cloned()
        .unwrap_or_else(|| Value::Object(Default::default()));
    Ok(Some(Step::Act {
        thought: String::new(),
        calls: vec![(name.to_owned(), args)],
    }))
}

/// The answer a reply's text gives: the text itself (not blank) for a free-text answer,
/// else the JSON value it holds.
fn answer_from_text(text: &str, typed: bool) -> Result<Step, String> {
    let text = text.trim();
    let answer = if typed {
        match serde_json::from_str::<Value>(text) {
            Ok(value) => value,
            Err(_) => match step::extract_object(text) {
                Some(object) => Value::Object(object),
                None => return Err("the final answer must be JSON matching its schema".into()),
            },
        }
    } else if text.is_empty() {
        return Err("the answer is blank: write the answer itself".into());
    } else {
        Value::String(text.to_owned())
    };
    Ok(Step::Answer {
        thought: String::new(),
        answer,
    })
}

/// What is wrong with a free-text answer that announces a call instead of making it:
/// it names one of the tools `names` as code (`` `read_file` ``) or as "NAME tool" /
/// "NAME function" (names with `_`, `-` or `.` only: "calculator tool" is plain English),
/// or it writes a tool result, tool markup or a data fence itself (`<tool_response>`,
/// `<function`, `<tools>`, `<<DATA-`), as small models do when they describe a call ("To
/// read it, I will use the `read_file` function.") and stop. `None` for any other answer.
pub(super) fn unmade_call<'a>(
    text: &str,
    names: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    const MARKUP: [&str; 6] = [
        "<tool_response>",
        "<tool_call",
        "<function",
        "<tools>",
        "<<DATA-",
        "<</DATA-",
    ];
    if let Some(markup) = MARKUP.iter().find(|markup| text.contains(*markup)) {
        return Some(format!(
            "it writes `{markup}` itself instead of calling a tool; tool results come only \
             from calls you make"
        ));
    }
    let lower = text.to_lowercase();
    names.into_iter().find_map(|name| {
        // "tool `read_file` failed" is a tool error quoted, not a call announced.
        let lower = lower.replace(&format!("tool `{}` failed", name.to_lowercase()), " ");
        let named = lower.contains(&format!("`{}`", name.to_lowercase()))
            || [" tool", " function"].iter().any(|kind| {
                lower.contains(&format!("{}{kind}", name.to_lowercase()))
                    && name.contains(['_', '-', '.'])
            });
        named.then(|| {
            format!(
                "it names the tool `{name}` but makes no call. To use it, write the call now; \
                 if you need no tool, answer the user without naming tools"
            )
        })
    })
}
