//! The text of a run's messages: the system message, and the observations, recalled
//! memories and step errors that make up later user turns. Rendered through the
//! templates; text from outside (tool results, memories) is fenced by the run's guard.

use agentry_prompts::{Guard, PromptError, Templates, names, untrusted};
use agentry_tools::ToolResult;
use serde_json::{Value, json};

use super::RunConfig;
use super::action::Recollection;
use super::step::self_contained;

/// The system message: role and instructions (`prompt_system`), the tools and how to work
/// (`react_step`), the reply format (`react_format`), and, when tool results or memories
/// can appear, the guard notice naming the run's marker. Fixed for the whole run.
pub(crate) fn system_message(
    templates: &Templates,
    config: &RunConfig,
    guard: &Guard,
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
    let tools: Vec<Value> = config
        .tools
        .iter()
        .map(|spec| {
            json!({
                "name": spec.name,
                "description": spec.description,
                "schema": self_contained(&spec.parameters),
            })
        })
        .collect();
    let react = templates.render(names::REACT_STEP, json!({ "tools": tools }))?;
    let format = templates.render(
        names::REACT_FORMAT,
        json!({
            "max_calls": max_calls,
            "answer_schema": self_contained(&config.answer_schema).to_string(),
        }),
    )?;
    let mut parts = vec![head, react, format];
    if !config.tools.is_empty() || config.recall_top_k.is_some() {
        parts.push(templates.render(names::GUARD_NOTICE, json!({ "marker": guard.marker() }))?);
    }
    Ok(join(parts))
}

/// One `tool_observation` per result, in order, each result fenced as `tool:NAME`.
pub(crate) fn observations(
    templates: &Templates,
    guard: &Guard,
    results: &[ToolResult],
) -> Result<String, PromptError> {
    let rendered = results
        .iter()
        .map(|result| {
            let fenced = guard.fence(&untrusted(
                format!("tool:{}", result.name),
                result.observation(),
            ));
            templates.render(
                names::TOOL_OBSERVATION,
                json!({ "tool": result.name, "result": fenced }),
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(join(rendered))
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

/// Why the last reply could not be used (`step_error`).
pub(crate) fn step_error(templates: &Templates, error: &str) -> Result<String, PromptError> {
    Ok(templates
        .render(names::STEP_ERROR, json!({ "error": error }))?
        .trim()
        .to_owned())
}

/// The non-empty parts, trimmed, separated by blank lines.
fn join(parts: Vec<String>) -> String {
    parts
        .iter()
        .map(|part| part.trim())
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}
