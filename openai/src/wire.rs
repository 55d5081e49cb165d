//! The Chat Completions wire format: request bodies from agentry's requests, and replies
//! (whole or streamed) back into text.
//!
//! Tool calls cross in both directions. agentry writes a step's calls as text in the
//! model's [`ToolCallSyntax`] (here Hermes' `<tool_call>` blocks); the server speaks
//! structured `tool_calls`. So an assistant message holding calls is sent as
//! `tool_calls` with ids, each following `tool` message answers the next call's id, and
//! the `tool_calls` of a reply are written back as text in the syntax.

use agentry_model::{GenerateRequest, ModelError, ModelInput, ToolCallSyntax};
use agentry_prompts::{ChatMessage, Role};
use serde_json::{Map, Value, json};

use crate::config::ServerFlavor;

/// The messages of a request in the wire format. With `tools`, assistant messages are
/// read for calls written in `syntax` and tool results matched to their ids.
///
/// # Errors
/// A tool message with no call before it to answer (only when tools are given).
pub(crate) fn messages(
    messages: &[ChatMessage],
    syntax: Option<ToolCallSyntax>,
) -> Result<Vec<Value>, ModelError> {
    let mut out = Vec::with_capacity(messages.len());
    // Ids of the last assistant turn's calls not yet answered, in call order.
    let mut pending: std::collections::VecDeque<String> = Default::default();
    for (turn, message) in messages.iter().enumerate() {
        match (message.role, syntax) {
            (Role::Assistant, Some(syntax)) => {
                pending.clear();
                let parsed = syntax
                    .parse(&message.content)
                    .ok()
                    .filter(|p| !p.calls.is_empty());
                let Some(parsed) = parsed else {
                    out.push(json!({"role": "assistant", "content": message.content}));
                    continue;
                };
                let calls: Vec<Value> = parsed
                    .calls
                    .iter()
                    .enumerate()
                    .map(|(k, (name, arguments))| {
                        let id = format!("call_{turn}_{k}");
                        pending.push_back(id.clone());
                        json!({
                            "id": id,
                            "type": "function",
                            "function": {"name": name, "arguments": arguments.to_string()},
                        })
                    })
                    .collect();
                let content = if parsed.text.is_empty() {
                    Value::Null
                } else {
                    Value::String(parsed.text)
                };
                out.push(json!({"role": "assistant", "content": content, "tool_calls": calls}));
            }
            (Role::Tool, Some(_)) => {
                let Some(id) = pending.pop_front() else {
                    return Err(ModelError::InvalidRequest(format!(
                        "message {turn} is a tool result but no tool call before it is unanswered"
                    )));
                };
                out.push(json!({"role": "tool", "tool_call_id": id, "content": message.content}));
            }
            (role, _) => {
                out.push(json!({"role": role_name(role), "content": message.content}));
            }
        }
    }
    Ok(out)
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        // Without tools there are no call ids to answer: a tool result is told to the
        // model as a user turn.
        Role::Tool => "user",
    }
}

/// Which endpoint a request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// `/chat/completions`: messages.
    Chat,
    /// `/completions`: raw text.
    Completions,
}

impl Endpoint {
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Chat => "chat/completions",
            Endpoint::Completions => "completions",
        }
    }
}

/// The body of one sample's request (seed `sampling.seed + index`), without the
/// constraint's fields.
pub(crate) fn body(
    model: &str,
    req: &GenerateRequest,
    flavor: ServerFlavor,
    syntax: Option<ToolCallSyntax>,
    index: usize,
    stream: bool,
) -> Result<(Endpoint, Map<String, Value>), ModelError> {
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    let endpoint = match &req.prompt {
        ModelInput::Messages(list) => {
            body.insert("messages".into(), Value::Array(messages(list, None)?));
            Endpoint::Chat
        }
        ModelInput::WithTools {
            messages: list,
            tools,
        } => {
            body.insert("messages".into(), Value::Array(messages(list, syntax)?));
            if !tools.is_empty() {
                body.insert("tools".into(), Value::Array(tools.clone()));
            }
            Endpoint::Chat
        }
        ModelInput::Raw(text) => {
            body.insert("prompt".into(), json!(text));
            Endpoint::Completions
        }
    };
    let s = &req.sampling;
    if !s.temperature.is_finite() || s.temperature < 0.0 {
        return Err(ModelError::InvalidRequest(format!(
            "temperature {} is not a finite number >= 0",
            s.temperature
        )));
    }
    if s.max_tokens == 0 {
        return Err(ModelError::InvalidRequest("max_tokens is 0".into()));
    }
    body.insert("temperature".into(), json!(s.temperature));
    body.insert("top_p".into(), json!(s.top_p));
    body.insert("max_tokens".into(), json!(s.max_tokens));
    let seed = u64::from(s.seed).saturating_add(index as u64);
    body.insert("seed".into(), json!(seed));
    if !s.stop.is_empty() {
        body.insert("stop".into(), json!(s.stop));
    }
    if flavor == ServerFlavor::LlamaCpp {
        body.insert("top_k".into(), json!(s.top_k));
        body.insert("min_p".into(), json!(s.min_p));
        body.insert("repeat_penalty".into(), json!(s.repeat_penalty));
        body.insert("cache_prompt".into(), json!(true));
    }
    if stream {
        body.insert("stream".into(), json!(true));
        body.insert("stream_options".into(), json!({"include_usage": true}));
    }
    Ok((endpoint, body))
}

/// One tool call as it accumulates from a reply (streamed calls come in pieces).
#[derive(Debug, Default, Clone)]
pub(crate) struct CallParts {
    pub name: String,
    pub arguments: String,
}

/// Reads the `tool_calls` array of a message or delta into `calls`, appending the pieces
/// of streamed calls by their `index`.
pub(crate) fn add_tool_calls(
    calls: &mut Vec<CallParts>,
    list: &Value,
    limit: usize,
) -> Result<(), String> {
    let Some(list) = list.as_array() else {
        return Ok(());
    };
    for (position, call) in list.iter().enumerate() {
        let index = call
            .get("index")
            .and_then(Value::as_u64)
            .map_or(position, |i| i as usize);
        if index >= limit {
            return Err(format!(
                "a tool call index {index} (at most {limit} calls are read)"
            ));
        }
        if calls.len() <= index {
            calls.resize(index + 1, CallParts::default());
        }
        let function = call.get("function").unwrap_or(&Value::Null);
        if let Some(name) = function.get("name").and_then(Value::as_str) {
            calls[index].name.push_str(name);
        }
        match function.get("arguments") {
            Some(Value::String(piece)) => calls[index].arguments.push_str(piece),
            // Some servers send the arguments as an object, not a JSON string.
            Some(object @ Value::Object(_)) => calls[index].arguments.push_str(&object.to_string()),
            _ => {}
        }
    }
    Ok(())
}

/// The reply's text: its content, then its calls written in `syntax`.
pub(crate) fn reply_text(
    content: &str,
    calls: &[CallParts],
    syntax: ToolCallSyntax,
) -> Result<String, String> {
    if calls.is_empty() {
        return Ok(content.to_owned());
    }
    let mut parsed = Vec::with_capacity(calls.len());
    for call in calls {
        if call.name.is_empty() {
            return Err("a tool call without a function name".into());
        }
        let arguments = if call.arguments.trim().is_empty() {
            Value::Object(Map::new())
        } else {
            serde_json::from_str(&call.arguments).map_err(|e| {
                format!(
                    "the arguments of the call to {} are not JSON ({e}): {}",
                    call.name,
                    crate::constraint::shorten(&call.arguments, 200)
                )
            })?
        };
        parsed.push((call.name.clone(), arguments));
    }
    Ok(syntax.write(content, &parsed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_in_history_become_tool_calls_answered_by_id() {
        let syntax = ToolCallSyntax::Hermes;
        let call = syntax.write(
            "Let me compute.",
            &[
                ("calculator".into(), json!({"expression": "2+2"})),
                ("calculator".into(), json!({"expression": "3*3"})),
            ],
        );
        let history = vec![
            ChatMessage::system("s"),
            ChatMessage::user("q"),
            ChatMessage::assistant(call),
            ChatMessage::tool("4"),
            ChatMessage::tool("9"),
        ];
        let wire = messages(&history, Some(syntax)).unwrap();
        assert_eq!(wire[2]["content"], "Let me compute.");
        assert_eq!(wire[2]["tool_calls"][1]["id"], "call_2_1");
        assert_eq!(
            wire[2]["tool_calls"][0]["function"]["arguments"],
            "{\"expression\":\"2+2\"}"
        );
        assert_eq!(wire[3]["tool_call_id"], "call_2_0");
        assert_eq!(wire[4]["tool_call_id"], "call_2_1");
        let orphan = vec![ChatMessage::user("q"), ChatMessage::tool("4")];
        assert!(messages(&orphan, Some(syntax)).is_err());
        let plain = messages(&orphan, None).unwrap();
        assert_eq!(plain[1]["role"], "user");
    }

    #[test]
    fn streamed_call_pieces_join_and_are_written_in_the_syntax() {
        let mut calls = Vec::new();
        add_tool_calls(
            &mut calls,
            &json!([{"index": 0, "function": {"name": "calculator", "arguments": "{\"expr"}}]),
            8,
        )
        .unwrap();
        add_tool_calls(
            &mut calls,
            &json!([{"index": 0, "function": {"arguments": "ession\": \"1+1\"}"}}]),
            8,
        )
        .unwrap();
        let text = reply_text("", &calls, ToolCallSyntax::Hermes).unwrap();
        let parsed = ToolCallSyntax::Hermes.parse(&text).unwrap();
        assert_eq!(
            parsed.calls,
            vec![("calculator".to_owned(), json!({"expression": "1+1"}))]
        );
        assert!(add_tool_calls(&mut calls, &json!([{"index": 99}]), 8).is_err());
        calls[0].arguments = "{not json".into();
        assert!(reply_text("", &calls, ToolCallSyntax::Hermes).is_err());
    }
}
