//! Inputs of a run: checked against their declared types, defaults filled in.

use serde_json::{Map, Value};

use super::WorkflowRunError;
use crate::spec::{InputType, Workflow};

/// `given` checked against the workflow's inputs, with defaults for the missing ones.
pub(super) fn resolve(
    workflow: &Workflow,
    given: Map<String, Value>,
) -> Result<Map<String, Value>, WorkflowRunError> {
    for name in given.keys() {
        if workflow.input(name).is_none() {
            let declared: Vec<&str> = workflow.inputs.iter().map(|i| i.name.as_str()).collect();
            return Err(WorkflowRunError::Input {
                name: name.clone(),
                message: if declared.is_empty() {
                    "this workflow takes no inputs".into()
                } else {
                    format!(
                        "unknown input; this workflow takes: {}",
                        declared.join(", ")
                    )
                },
            });
        }
    }
    let mut out = Map::new();
    for spec in &workflow.inputs {
        let value = match given.get(&spec.name) {
            Some(value) => {
                coerce(spec.kind, value.clone()).ok_or_else(|| WorkflowRunError::Input {
                    name: spec.name.clone(),
                    message: format!("expected {}, got {}", spec.kind.name(), short(value)),
                })?
            }
            None => spec
                .default
                .clone()
                .ok_or_else(|| WorkflowRunError::Input {
                    name: spec.name.clone(),
                    message: format!(
                        "missing (a {}; give it with --input {}=VALUE)",
                        spec.kind.name(),
                        spec.name
                    ),
                })?,
        };
        out.insert(spec.name.clone(), value);
    }
    Ok(out)
}

/// `value` as `kind`: text is read as JSON for non-text types (`--input n=3`).
fn coerce(kind: InputType, value: Value) -> Option<Value> {
    if kind.accepts(&value) {
        return Some(value);
    }
    match (kind, &value) {
        (InputType::String, Value::Number(_) | Value::Bool(_)) => {
            Some(Value::String(value.to_string()))
        }
        (_, Value::String(text)) => serde_json::from_str::<Value>(text.trim())
            .ok()
            .filter(|parsed| kind.accepts(parsed)),
        _ => None,
    }
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(60).collect::<String>())
    } else {
        text
    }
}
