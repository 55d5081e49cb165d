//! From a Chat Completions request to a [`GenerateRequest`]: messages, sampling,
//! `response_format` and tools (in the model's own tool-call format when its chat template
//! renders tools, else in Hermes' `<tool_call>` format described in a system message),
//! and back from the model's text to `tool_calls`.

use std::hash::{Hash, Hasher};

use agentry_model::{
    Constraint, GenerateRequest, ModelInput, Sampling, SessionId, ToolCallSyntax, tool_definition,
};
use agentry_prompts::{ChatMessage, Role};
use serde_json::{Value, json};

use crate::ServerConfig;
use crate::error::ApiError;
use crate::wire::{ChatRequest, Content, Stop, WireMessage};

/// Most stop strings (OpenAI's limit).
const MAX_STOP: usize = 4;
/// Most calls one reply may make when parallel calls are allowed.
const MAX_PARALLEL_CALLS: usize = 8;

/// How the reply is read back.
#[derive(Debug, Clone)]
pub enum ReplyShape {
    /// Text (free or constrained by `response_format`).
    Text,
    /// Text or calls in `syntax` (`tool_choice: auto`).
    Calls(ToolCallSyntax),
    /// Exactly one call, written as a bare JSON object with `name` and the syntax's
    /// arguments key (`tool_choice: required` or a named function).
    OneCall(ToolCallSyntax),
}

/// A request ready for the model, and how to read its reply.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The model request.
    pub request: GenerateRequest,
    /// How the reply is read.
    pub shape: ReplyShape,
}

/// The text of a message's content; only text parts are accepted.
fn content_text(content: &Option<Content>, at: usize) -> Result<String, ApiError> {
    match content {
        None => Ok(String::new()),
        Some(Content::Text(text)) => Ok(text.clone()),
        Some(Content::Parts(parts)) => {
            let mut text = String::new();
            for (k, part) in parts.iter().enumerate() {
                if part.kind != "text" {
                    return Err(ApiError::bad(
                        format!("messages[{at}].content[{k}].type"),
                        format!(
                            "content parts of type `{}` are not supported (text only)",
                            part.kind
                        ),
                    ));
                }
                text.push_str(part.text.as_deref().unwrap_or_default());
            }
            Ok(text)
        }
    }
}

/// The conversation as chat messages; an assistant message's `tool_calls` are written
/// in `syntax`, as the model itself would have written them.
pub fn messages(
    wire: &[WireMessage],
    syntax: ToolCallSyntax,
) -> Result<Vec<ChatMessage>, ApiError> {
    if wire.is_empty() {
        return Err(ApiError::bad("messages", "`messages` must not be empty"));
    }
    let mut out = Vec::with_capacity(wire.len());
    for (at, message) in wire.iter().enumerate() {
        let text = content_text(&message.content, at)?;
        let role = match message.role.as_str() {
            "system" | "developer" => Role::System,
            "user" => Role::User,
            "assistant" => Role::Assistant,
            "tool" | "function" => Role::Tool,
            other => {
                return Err(ApiError::bad(
                    format!("messages[{at}].role"),
                    format!("unknown role `{other}` (system, developer, user, assistant or tool)"),
                ));
            }
        };
        let content = match (&message.tool_calls, role) {
            (Some(calls), Role::Assistant) if !calls.is_empty() => {
                let mut parsed = Vec::with_capacity(calls.len());
                for (k, call) in calls.iter().enumerate() {
                    let args = if call.function.arguments.trim().is_empty() {
                        json!({})
                    } else {
                        serde_json::from_str(&call.function.arguments).map_err(|e| {
                            ApiError::bad(
                                format!("messages[{at}].tool_calls[{k}].function.arguments"),
                                format!("the arguments are not JSON: {e}"),
                            )
                        })?
                    };
                    parsed.push((call.function.name.clone(), args));
                }
                syntax.write(&text, &parsed)
            }
            _ => text,
        };
        out.push(ChatMessage::new(role, content));
    }
    Ok(out)
}

/// A session id for the conversation: the same system and first user message give the
/// same id, so a follow-up turn finds its earlier turns in the KV cache (the backend keeps
/// the longest common prefix and evaluates only the rest).
pub fn conversation_session(model: &str, messages: &[ChatMessage]) -> SessionId {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    model.hash(&mut hasher);
    for message in messages.iter().take(2) {
        message.hash(&mut hasher);
    }
    SessionId::new(format!("serve-{:016x}", hasher.finish()))
}

/// The sampling of the request, checked against the server's limits.
pub fn sampling(req: &ChatRequest, config: &ServerConfig) -> Result<Sampling, ApiError> {
    let mut sampling = Sampling {
        temperature: 1.0,
        max_tokens: config.default_max_tokens,
        ..Sampling::default()
    };
    if let Some(t) = req.temperature {
        if !(0.0..=2.0).contains(&t) {
            return Err(ApiError::bad(
                "temperature",
                "`temperature` must be in [0, 2]",
            ));
        }
        sampling.temperature = t;
    }
    if let Some(p) = req.top_p {
        if p <= 0.0 || p > 1.0 {
            return Err(ApiError::bad("top_p", "`top_p` must be in (0, 1]"));
        }
        sampling.top_p = p;
    }
    let (field, max) = match (req.max_completion_tokens, req.max_tokens) {
        (Some(m), _) => ("max_completion_tokens", Some(m)),
        (None, Some(m)) => ("max_tokens", Some(m)),
        (None, None) => ("max_tokens", None),
    };
    if let Some(max) = max {
        if max == 0 || max > config.max_tokens as u64 {
            return Err(ApiError::bad(
                field,
                format!(
                    "`{field}` must be between 1 and {} (this server's limit)",
                    config.max_tokens
                ),
            ));
        }
        sampling.max_tokens = max as usize;
    }
    sampling.seed = match req.seed {
        Some(seed) => seed.rem_euclid(1 << 32) as u32,
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() ^ d.as_secs() as u32)
            .unwrap_or(0),
    };
    sampling.stop = match &req.stop {
        None => Vec::new(),
        Some(Stop::One(s)) => vec![s.clone()],
        Some(Stop::Many(list)) => list.clone(),
    };
    if sampling.stop.len() > MAX_STOP || sampling.stop.iter().any(String::is_empty) {
        return Err(ApiError::bad(
            "stop",
            format!("`stop` takes at most {MAX_STOP} non-empty strings"),
        ));
    }
    Ok(sampling)
}

/// The constraint `response_format` asks for.
fn response_constraint(format: &Option<Value>) -> Result<Constraint, ApiError> {
    let Some(format) = format else {
        return Ok(Constraint::None);
    };
    let kind = format.get("type").and_then(Value::as_str).ok_or_else(|| {
        ApiError::bad(
            "response_format.type",
            "`response_format` needs a `type`: text, json_object or json_schema",
        )
    })?;
    match kind {
        "text" => Ok(Constraint::None),
        "json_object" => Ok(Constraint::JsonSchema(json!({"type": "object"}))),
        "json_schema" => {
            let schema = format
                .pointer("/json_schema/schema")
                .filter(|s| s.is_object())
                .ok_or_else(|| {
                    ApiError::bad(
                        "response_format.json_schema.schema",
                        "`response_format` of type json_schema needs `json_schema.schema`, a JSON Schema object",
                    )
                })?;
            Ok(Constraint::JsonSchema(schema.clone()))
        }
        other => Err(ApiError::bad(
            "response_format.type",
            format!("unknown response_format type `{other}` (text, json_object or json_schema)"),
        )),
    }
}

/// What `tool_choice` asks for.
enum Choice {
    None,
    Auto,
    Required,
    Named(String),
}

fn tool_choice(value: &Option<Value>) -> Result<Choice, ApiError> {
    match value {
        None => Ok(Choice::Auto),
        Some(Value::String(s)) => match s.as_str() {
            "none" => Ok(Choice::None),
            "auto" => Ok(Choice::Auto),
            "required" => Ok(Choice::Required),
            other => Err(ApiError::bad(
                "tool_choice",
                format!("unknown tool_choice `{other}` (none, auto, required or a function)"),
            )),
        },
        Some(object) => object
            .pointer("/function/name")
            .and_then(Value::as_str)
            .map(|name| Choice::Named(name.to_owned()))
            .ok_or_else(|| {
                ApiError::bad(
                    "tool_choice",
                    "tool_choice must be none, auto, required or {\"type\": \"function\", \"function\": {\"name\": ..}}",
                )
            }),
    }
}

/// The model request for a chat request. `native` is the model's own tool-call format,
/// when its chat template renders tools.
pub fn prepare(
    req: &ChatRequest,
    config: &ServerConfig,
    native: Option<ToolCallSyntax>,
    model_name: &str,
) -> Result<Prepared, ApiError> {
    let n = req.n.unwrap_or(1);
    if n == 0 || n > config.max_n as u64 {
        return Err(ApiError::bad(
            "n",
            format!(
                "`n` must be between 1 and {} (this server's limit)",
                config.max_n
            ),
        ));
    }
    let sampling = sampling(req, config)?;
    let syntax = native.unwrap_or(ToolCallSyntax::Hermes);
    let mut chat = messages(&req.messages, syntax)?;
    let session = Some(conversation_session(model_name, &chat));
    let tools = req.tools.as_deref().unwrap_or_default();
    let choice = tool_choice(&req.tool_choice)?;
    let format = response_constraint(&req.response_format)?;
    let use_tools = !tools.is_empty() && !matches!(choice, Choice::None);
    if !use_tools {
        if matches!(choice, Choice::Required | Choice::Named(_)) {
            return Err(ApiError::bad(
                "tool_choice",
                "tool_choice asks for a call but `tools` is empty",
            ));
        }
        let request = GenerateRequest {
            prompt: ModelInput::Messages(chat),
            sampling,
            constraint: format,
            session,
            n: n as usize,
        };
        return Ok(Prepared {
            request,
            shape: ReplyShape::Text,
        });
    }
    if !matches!(format, Constraint::None) {
        return Err(ApiError::bad(
            "response_format",
            "`response_format` together with `tools` is not supported: send one or the other",
        ));
    }
    let mut definitions = Vec::with_capacity(tools.len());
    let mut schemas = Vec::with_capacity(tools.len());
    for (k, tool) in tools.iter().enumerate() {
        if tool.kind != "function" {
            return Err(ApiError::bad(
                format!("tools[{k}].type"),
                format!(
                    "tools of type `{}` are not supported (function only)",
                    tool.kind
                ),
            ));
        }
        let parameters = tool
            .function
            .parameters
            .clone()
            .unwrap_or_else(|| json!({"type": "object", "properties": {}}));
        if !parameters.is_object() {
            return Err(ApiError::bad(
                format!("tools[{k}].function.parameters"),
                "`parameters` must be a JSON Schema object",
            ));
        }
        let description = tool.function.description.clone().unwrap_or_default();
        definitions.push(tool_definition(
            &tool.function.name,
            &description,
            &parameters,
        ));
        schemas.push((tool.function.name.clone(), parameters));
    }
    let (constraint, shape) = match &choice {
        Choice::Named(name) => {
            let one: Vec<(&str, &Value)> = schemas
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(n, p)| (n.as_str(), p))
                .collect();
            if one.is_empty() {
                return Err(ApiError::bad(
                    "tool_choice",
                    format!("tool_choice names `{name}`, which is not among `tools`"),
                ));
            }
            (
                Constraint::JsonSchema(syntax.call_schema(one)),
                ReplyShape::OneCall(syntax),
            )
        }
        Choice::Required => (
            Constraint::JsonSchema(
                syntax.call_schema(schemas.iter().map(|(n, p)| (n.as_str(), p))),
            ),
            ReplyShape::OneCall(syntax),
        ),
        Choice::Auto | Choice::None => {
            let max_calls = if req.parallel_tool_calls == Some(false) {
                1
            } else {
                syntax.max_calls().min(MAX_PARALLEL_CALLS)
            };
            (
                Constraint::ToolCalls {
                    syntax,
                    call_schema: syntax.call_schema(schemas.iter().map(|(n, p)| (n.as_str(), p))),
                    max_calls,
                    bare_calls: false,
                },
                ReplyShape::Calls(syntax),
            )
        }
    };
    let prompt = if native.is_some() {
        ModelInput::WithTools {
            messages: chat,
            tools: definitions,
        }
    } else {
        let note = tools_note(&definitions);
        match chat.first_mut() {
            Some(first) if first.role == Role::System => {
                first.content = format!("{}\n\n{note}", first.content);
            }
            _ => chat.insert(0, ChatMessage::system(note)),
        }
        ModelInput::Messages(chat)
    };
    Ok(Prepared {
        request: GenerateRequest {
            prompt,
            sampling,
            constraint,
            session,
            n: n as usize,
        },
        shape,
    })
}

/// The system note that offers tools to a model whose chat template renders none, in
/// Hermes' format (the one most small instruct models were tuned on).
fn tools_note(definitions: &[Value]) -> String {
    let listed: Vec<String> = definitions.iter().map(Value::to_string).collect();
    format!(
        "You may call functions. Their signatures are inside <tools></tools>:\n<tools>\n{}\n</tools>\nTo call one, reply with a JSON object inside <tool_call></tool_call> tags:\n<tool_call>\n{{\"name\": <function-name>, \"arguments\": <args-json-object>}}\n</tool_call>",
        listed.join("\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::parse_body;

    fn prepare_json(body: Value, native: Option<ToolCallSyntax>) -> Result<Prepared, ApiError> {
        let req: ChatRequest = parse_body(body.to_string().as_bytes())?;
        prepare(&req, &ServerConfig::default(), native, "m")
    }

    #[test]
    fn assistant_tool_calls_are_written_in_the_models_format() {
        let body = json!({"model": "m", "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "2+2?"}]},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
                "function": {"name": "calc", "arguments": "{\"x\": \"2+2\"}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "4"},
        ]});
        let prepared = prepare_json(body, None).unwrap();
        let messages = prepared.request.prompt.messages().unwrap().to_vec();
        assert_eq!(messages[1].content, "2+2?");
        let calls = ToolCallSyntax::Hermes
            .parse(&messages[2].content)
            .unwrap()
            .calls;
        assert_eq!(calls, vec![("calc".to_owned(), json!({"x": "2+2"}))]);
        assert_eq!(messages[3].role, Role::Tool);
        assert!(matches!(prepared.shape, ReplyShape::Text));
    }

    #[test]
    fn tools_become_a_call_constraint_and_a_note_when_the_template_has_none() {
        let tools = json!([{"type": "function", "function": {"name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]);
        let body =
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "tools": tools});
        let prepared = prepare_json(body.clone(), None).unwrap();
        assert!(matches!(
            prepared.request.constraint,
            Constraint::ToolCalls { .. }
        ));
        let first = &prepared.request.prompt.messages().unwrap()[0];
        assert!(first.role == Role::System && first.content.contains("get_weather"));
        let native = prepare_json(body.clone(), Some(ToolCallSyntax::Hermes)).unwrap();
        assert!(matches!(
            native.request.prompt,
            ModelInput::WithTools { .. }
        ));
        let mut required = body.clone();
        required["tool_choice"] = json!("required");
        let prepared = prepare_json(required, None).unwrap();
        assert!(matches!(
            prepared.request.constraint,
            Constraint::JsonSchema(_)
        ));
        let mut unknown = body;
        unknown["tool_choice"] = json!({"type": "function", "function": {"name": "nope"}});
        let error = prepare_json(unknown, None).unwrap_err();
        assert!(error.to_string().contains("nope"), "{error}");
    }

    #[test]
    fn limits_and_formats_are_checked_with_the_field_named() {
        let base = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
        for (field, value) in [
            ("n", json!(0)),
            ("n", json!(1000)),
            ("max_tokens", json!(1_000_000)),
            ("temperature", json!(3.0)),
            ("response_format", json!({"type": "json_schema"})),
        ] {
            let mut body = base.clone();
            body[field] = value;
            let error = prepare_json(body, None).unwrap_err();
            let param = error.body()["param"].as_str().unwrap().to_owned();
            assert!(param.starts_with(field), "{field}: {param}");
        }
        let mut body = base;
        body["response_format"] = json!({"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}});
        let prepared = prepare_json(body, None).unwrap();
        assert_eq!(
            prepared.request.constraint,
            Constraint::JsonSchema(json!({"type": "object"}))
        );
    }
}
