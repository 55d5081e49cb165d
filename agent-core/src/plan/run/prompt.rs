//! The text of a run's messages: the system message, and the observations, recalled
//! memories and step errors that make up later user turns. Rendered through the
//! templates; text from outside (tool results, memories) is fenced by the run's guard.

use agentry_prompts::{
    ChatMessage, Guard, Prompt as Sections, PromptError, RenderedPrompt, Templates, names,
    untrusted,
};
use agentry_tools::ToolSpec;
use serde::Serialize;
use serde_json::{Value, json};

use super::RunConfig;
use super::action::Recollection;
use super::format::StepFormat;
use super::step::{self, self_contained};
use crate::model::{ModelInput, ToolCallSyntax};

/// The fixed part of the system message: role and instructions (`prompt_system`), the
/// tools and how to work (`react_step`) and the reply format (`react_format`). The same
/// for every run of one configuration; [`with_guard_notice`] completes it for a run.
pub(crate) fn system_head(
    templates: &Templates,
    config: &RunConfig,
    max_calls: usize,
) -> Result<String, PromptError> {
    let head = templates.render(
        names::PROMPT_SYSTEM,
        json!({
            "role": config.role,
            "instructions": config.instructions,
            "context": [],
            "guard_notice": "",
            "untrusted": [],
        }),
    )?;
    let head_guard = Guard::from_marker(HEAD_MARKER)?;
    let tools: Vec<Value> = config
        .tools
        .iter()
        .map(|spec| {
            json!({
                "name": spec.name,
                "description": description(Some(&head_guard), spec),
                "schema": self_contained(&spec.parameters),
            })
        })
        .collect();
    if let StepFormat::Native(syntax) = config.step_format {
        // The chat template lists the tools and their call syntax itself.
        let answer_schema = if step::is_free_text(&config.answer_schema) {
            String::new()
        } else {
            self_contained(&config.answer_schema).to_string()
        };
        let native = templates.render(
            names::NATIVE_TOOLS,
            json!({
                "tools": !config.tools.is_empty(),
                "answer_schema": answer_schema,
                "max_calls": max_calls,
                "parallel_example": parallel_example(syntax, max_calls),
            }),
        )?;
        return Ok(join(&[head, native]));
    }
    let react = templates.render(names::REACT_STEP, json!({ "tools": tools }))?;
    let format = templates.render(
        names::REACT_FORMAT,
        json!({
            "max_calls": max_calls,
            "answer_schema": self_contained(&config.answer_schema).to_string(),
        }),
    )?;
    Ok(join(&[head, react, format]))
}

/// Two calls in one reply, written in `syntax`, as an example for a step that may make
/// `max_calls` > 1 calls (small models otherwise stop after the first); empty when only one
/// call is allowed or the syntax writes one call per reply.
fn parallel_example(syntax: ToolCallSyntax, max_calls: usize) -> String {
    if max_calls < 2 || syntax == ToolCallSyntax::Llama3Json {
        return String::new();
    }
    let call = |city: &str| ("get_weather".to_owned(), json!({ "city": city }));
    syntax.write("", &[call("Paris"), call("Rome")])
}

/// The system message of one run: `head` (from [`system_head`]), then, when tool results
/// or memories can appear (`guarded`), the guard notice naming the run's marker. Fixed
/// for the whole run.
pub(crate) fn with_guard_notice(
    templates: &Templates,
    head: &str,
    guarded: bool,
    guard: &Guard,
) -> Result<String, PromptError> {
    // Untrusted tool descriptions in the head were fenced with a placeholder marker; the
    // run's own takes its place (fenced text cannot hold these tags: the guard breaks
    // every `<<DATA-` in it).
    let head = head
        .replace(
            &format!("<<{HEAD_MARKER} "),
            &format!("<<{} ", guard.marker()),
        )
        .replace(&format!("<</{HEAD_MARKER}>>"), &guard.close_tag());
    if !guarded {
        return Ok(head);
    }
    let notice = templates.render(
        names::GUARD_NOTICE,
        MarkerContext {
            marker: guard.marker(),
        },
    )?;
    Ok(join(&[head.as_str(), notice.as_str()]))
}

/// The marker of the fences in a system head, replaced by each run's own in
/// [`with_guard_notice`].
const HEAD_MARKER: &str = "DATA-0000000000000000";

/// A tool's description as a prompt shows it: as written when it is the project's own,
/// fenced by `guard` as untrusted text when it came from outside (an MCP server's), and
/// left out when there is no guard to fence it.
pub(crate) fn description(guard: Option<&Guard>, spec: &ToolSpec) -> String {
    match (spec.untrusted_description, guard) {
        (false, _) => spec.description.clone(),
        (true, Some(guard)) => guard.fence(&untrusted(
            format!("description of tool {}", spec.name),
            spec.description.as_str(),
        )),
        (true, None) => String::new(),
    }
}

/// The context of `guard_notice`.
#[derive(Serialize)]
struct MarkerContext<'a> {
    marker: &'a str,
}

/// The context of `tool_observation`.
#[derive(Serialize)]
struct ObservationContext<'a> {
    tool: &'a str,
    result: &'a str,
}

/// One `tool_observation` per `(tool name, observation)`, in order, each observation
/// fenced as `tool:NAME`.
pub(crate) fn observations<'a>(
    templates: &Templates,
    guard: &Guard,
    observations: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<String, PromptError> {
    let rendered = observations
        .into_iter()
        .map(|(tool, observation)| {
            let fenced = guard.fence(&untrusted(format!("tool:{tool}"), observation));
            templates.render(
                names::TOOL_OBSERVATION,
                ObservationContext {
                    tool,
                    result: &fenced,
                },
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(join(&rendered))
}

/// The content of the `tool` message carrying one result (native tool-call format): the
/// observation fenced as `tool:NAME`.
pub(crate) fn tool_message(guard: &Guard, tool: &str, observation: &str) -> String {
    guard.fence(&untrusted(format!("tool:{tool}"), observation))
}

/// The recalled memories (`memory_recall`), each fenced as `memory:SOURCE`; `None` when
/// there are none.
pub(crate) fn recalled(
    templates: &Templates,
    guard: &Guard,
    items: &[Recollection],
) -> Result<Option<String>, PromptError> {
    if items.is_empty() {
        return Ok(None);
    }
    let fenced: Vec<String> = items
        .iter()
        .map(|item| {
            guard.fence(&untrusted(
                format!("memory:{}", item.source),
                item.text.as_str(),
            ))
        })
        .collect();
    let text = templates.render(names::MEMORY_RECALL, json!({ "items": fenced }))?;
    Ok(Some(text.trim().to_owned()))
}

/// The note after a step that only repeated answered calls (`repeated_call`); `tools` are
/// the repeated tools' names, `failed` whether those calls had failed, `others` whether
/// the next step may call other tools.
pub(crate) fn repeated_call(
    templates: &Templates,
    tools: &[&str],
    failed: bool,
    others: bool,
) -> Result<String, PromptError> {
    Ok(templates
        .render(
            names::REPEATED_CALL,
            json!({ "tools": tools, "failed": failed, "others": others }),
        )?
        .trim()
        .to_owned())
}

/// The note before the last step, which must answer (`answer_now`).
pub(crate) fn answer_now(templates: &Templates) -> Result<String, PromptError> {
    Ok(templates
        .render(names::ANSWER_NOW, json!({}))?
        .trim()
        .to_owned())
}

/// Longest request repeated in a note (after a refused call, a reply cut off, a request
/// for the typed answer); a longer one is referred to.
const MAX_REPEATED_TASK: usize = 300;

/// `task` trimmed when it is short enough to repeat, else empty.
fn repeatable(task: &str) -> &str {
    if task.chars().count() <= MAX_REPEATED_TASK {
        task.trim()
    } else {
        ""
    }
}

/// The note after a step whose calls of `tools` were refused approval (`denied_call`):
/// `sources` are where the run's untrusted text came from, `task` the user's request
/// (repeated when short).
pub(crate) fn denied_call(
    templates: &Templates,
    tools: &[&str],
    sources: &[String],
    task: &str,
) -> Result<String, PromptError> {
    Ok(templates
        .render(
            names::DENIED_CALL,
            json!({ "tools": tools, "sources": sources, "task": repeatable(task) }),
        )?
        .trim()
        .to_owned())
}

/// Why the last reply could not be used (`step_error`); `task`, the user's request, is
/// repeated last when given and short (native steps: a small model cut off at the token
/// limit lost the request, and one sent back answered with the note's last line).
pub(crate) fn step_error(
    templates: &Templates,
    error: &str,
    native: bool,
    task: Option<&str>,
) -> Result<String, PromptError> {
    Ok(templates
        .render(
            names::STEP_ERROR,
            json!({ "error": error, "native": native, "task": task.map(repeatable).unwrap_or("") }),
        )?
        .trim()
        .to_owned())
}

/// The request for the final answer under its `schema` after a prose answer
/// (`answer_as_json`): the user's `task` (repeated when short), and the schema, or its
/// choices when it is an enumeration of strings.
pub(crate) fn answer_as_json(
    templates: &Templates,
    schema: &Value,
    task: &str,
) -> Result<String, PromptError> {
    let choices: Vec<&str> = schema
        .get("enum")
        .and_then(Value::as_array)
        .map(|values| values.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let all_strings = schema
        .get("enum")
        .and_then(Value::as_array)
        .is_some_and(|values| values.len() == choices.len());
    let choices = if all_strings { choices } else { Vec::new() };
    Ok(templates
        .render(
            names::ANSWER_AS_JSON,
            json!({
                "schema": self_contained(schema).to_string(),
                "choices": choices,
                "task": repeatable(task),
            }),
        )?
        .trim()
        .to_owned())
}

/// The non-empty parts, trimmed, separated by blank lines.
/// The prompt a reasoning strategy solves: role, instructions, the untrusted
/// `(source, text)` items fenced by a fresh guard, and the task.
pub(crate) fn solve_prompt(
    templates: &Templates,
    config: &RunConfig,
    untrusted: &[(String, String)],
) -> Result<ModelInput, PromptError> {
    let mut sections = Sections::new()
        .role(config.role.clone())
        .instructions(config.instructions.iter().cloned())
        .input(config.task.clone());
    for (source, text) in untrusted {
        sections = sections.untrusted(source.clone(), text.clone());
    }
    Ok(ModelInput::Messages(checked_messages(
        sections.render(templates)?,
    )))
}

/// The messages of a rendered prompt; every injection signal the guard found in its
/// untrusted content (recalled memories, documents, tool output) is logged as a warning
/// naming its source, so a poisoned text shows up in the log of the run that read it.
pub(crate) fn checked_messages(rendered: RenderedPrompt) -> Vec<ChatMessage> {
    for found in &rendered.signals {
        tracing::warn!(
            source = %found.source,
            kind = ?found.signal.kind,
            "possible prompt injection in untrusted content: {:?}",
            found.signal.matched
        );
    }
    rendered.messages
}

fn join<S: AsRef<str>>(parts: &[S]) -> String {
    parts
        .iter()
        .map(|part| part.as_ref().trim())
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}
