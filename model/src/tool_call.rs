//! Tool calls in a chat template's own format: which format a template speaks
//! ([`ToolCallSyntax::detect`]), the tool definitions it renders (its `tools` variable),
//! the JSON Schema of one call, and reading the calls back out of a reply
//! ([`ToolCallSyntax::parse`]).
//!
//! Instruct models are trained on their template's tool format: Qwen2.5 and Hermes write
//! `<tool_call>{"name": .., "arguments": {..}}</tool_call>`, Llama 3.1-3.3 a bare
//! `{"name": .., "parameters": {..}}`, Mistral `[TOOL_CALLS][{"name": .., "arguments":
//! {..}}]`. Decoding in that format keeps free text free (an answer needs no wrapper) and
//! constrains only the call, from its opener on ([`Constraint::ToolCalls`](crate::Constraint::ToolCalls)).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// A chat template's way of writing tool calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolCallSyntax {
    /// `<tool_call>\n{"name": .., "arguments": {..}}\n</tool_call>`, one block per call,
    /// several blocks in one reply (Qwen2.5, Qwen3, Hermes 2/3).
    Hermes,
    /// `{"name": .., "parameters": {..}}` as the whole reply, one call (Llama 3.1-3.3 JSON
    /// tool calling).
    Llama3Json,
    /// `[TOOL_CALLS][{"name": .., "arguments": {..}}, ..]` (Mistral v3 and later).
    Mistral,
}

/// What a reply in a tool-call format says: its free text and its calls.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParsedReply {
    /// The text outside the calls, trimmed (the answer when there are no calls, else the
    /// model's thought before them).
    pub text: String,
    /// `(tool name, arguments)` of each call, in the order written.
    pub calls: Vec<(String, Value)>,
}

/// Why a reply's tool calls could not be read; the message is shown to the model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ToolCallError {
    /// A call was opened and never closed (usually: cut at the token limit).
    #[error("a tool call was opened with `{opener}` but not closed")]
    Unclosed {
        /// The opener.
        opener: &'static str,
    },
    /// A call's body is not a JSON object with a name and arguments.
    #[error("a tool call must be {{\"name\": TOOL, \"{arguments}\": {{..}}}}, not {found}")]
    Malformed {
        /// The key the format uses for the arguments.
        arguments: &'static str,
        /// The body, shortened.
        found: String,
    },
}

/// Bodies longer than this are shortened in error messages.
const SHOWN_CHARS: usize = 120;

impl ToolCallSyntax {
    /// The format a chat template's source speaks, when it renders tools at all: a
    /// template that never reads `tools` has none.
    pub fn detect(template: &str) -> Option<Self> {
        if !template.contains("tools") {
            return None;
        }
        if template.contains("<tool_call>") {
            Some(Self::Hermes)
        } else if template.contains("[TOOL_CALLS]") {
            Some(Self::Mistral)
        } else if template.contains("<|python_tag|>")
            || (template.contains("ipython") && template.contains("\"parameters\""))
        {
            Some(Self::Llama3Json)
        } else {
            None
        }
    }

    /// The text that opens a call; from it on, decoding follows the call's schema.
    pub fn opener(self) -> &'static str {
        match self {
            Self::Hermes => "<tool_call>",
            Self::Llama3Json => "{\"name\"",
            Self::Mistral => "[TOOL_CALLS]",
        }
    }

    /// The key under which a call carries its arguments.
    pub fn arguments_key(self) -> &'static str {
        match self {
            Self::Llama3Json => "parameters",
            Self::Hermes | Self::Mistral => "arguments",
        }
    }

    /// Most calls one reply can make in this format.
    pub fn max_calls(self) -> usize {
        match self {
            Self::Llama3Json => 1,
            Self::Hermes | Self::Mistral => usize::MAX,
        }
    }

    /// The JSON Schema of one call to one of `tools`, each given as
    /// `(name, parameters schema)`: `{"name": {"const": NAME}, KEY: PARAMETERS}` per
    /// tool, `anyOf` when there are several. The parameter schemas should be
    /// self-contained (no `$ref` to outside definitions).
    pub fn call_schema<'a>(self, tools: impl IntoIterator<Item = (&'a str, &'a Value)>) -> Value {
        let key = self.arguments_key();
        let mut branches: Vec<Value> = tools
            .into_iter()
            .map(|(name, parameters)| {
                let mut properties = Map::new();
                properties.insert("name".into(), json!({"const": name}));
                properties.insert(key.into(), parameters.clone());
                json!({
                    "type": "object",
                    "properties": properties,
                    "required": ["name", key],
                    "additionalProperties": false,
                })
            })
            .collect();
        if branches.len() == 1 {
            branches.remove(0)
        } else {
            json!({ "anyOf": branches })
        }
    }

    /// Reads the free text and the calls of a reply in this format. Never panics. A Hermes
    /// reply that is exactly one call without its tags is read as that call.
    ///
    /// # Errors
    /// A call opened but not closed, or one whose body is not a call.
    pub fn parse(self, reply: &str) -> Result<ParsedReply, ToolCallError> {
        match self {
            Self::Hermes => parse_hermes(reply),
            Self::Llama3Json => parse_llama3(reply),
            Self::Mistral => parse_mistral(reply),
        }
    }

    /// A reply making `calls` in this format, as the model would write it (for examples
    /// and tests).
    pub fn write(self, text: &str, calls: &[(String, Value)]) -> String {
        let key = self.arguments_key();
        let call = |(name, args): &(String, Value)| {
            let mut object = Map::new();
            object.insert("name".into(), json!(name));
            object.insert(key.into(), args.clone());
            Value::Object(object).to_string()
        };
        match self {
            Self::Hermes => {
                let blocks: Vec<String> = calls
                    .iter()
                    .map(|c| format!("<tool_call>\n{}\n</tool_call>", call(c)))
                    .collect();
                join_nonempty(text, &blocks.join("\n"))
            }
            Self::Llama3Json => match calls.first() {
                Some(first) => call(first),
                None => text.to_owned(),
            },
            Self::Mistral => {
                if calls.is_empty() {
                    return text.to_owned();
                }
                let list: Vec<String> = calls.iter().map(call).collect();
                join_nonempty(text, &format!("[TOOL_CALLS][{}]", list.join(", ")))
            }
        }
    }
}

/// The tool definitions a chat template's `tools` variable takes (OpenAI's function
/// format): `{"type": "function", "function": {"name", "description", "parameters"}}`.
pub fn tool_definition(name: &str, description: &str, parameters: &Value) -> Value {
    json!({
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": parameters,
        }
    })
}

fn join_nonempty(text: &str, calls: &str) -> String {
    if text.trim().is_empty() {
        calls.to_owned()
    } else {
        format!("{}\n{calls}", text.trim())
    }
}

fn parse_hermes(reply: &str) -> Result<ParsedReply, ToolCallError> {
    const OPEN: &str = "<tool_call>";
    const CLOSE: &str = "</tool_call>";
    let mut text = String::new();
    let mut calls = Vec::new();
    let mut rest = reply;
    while let Some(at) = rest.find(OPEN) {
        text.push_str(&rest[..at]);
        let after = &rest[at + OPEN.len()..];
        let Some(end) = after.find(CLOSE) else {
            return Err(ToolCallError::Unclosed { opener: OPEN });
        };
        calls.push(read_call(&after[..end], "arguments")?);
        rest = &after[end + CLOSE.len()..];
    }
    text.push_str(rest);
    if calls.is_empty() {
        if let Some(bare) = bare_calls(text.trim()) {
            return Ok(ParsedReply {
                text: String::new(),
                calls: bare,
            });
        }
        if let Some((before, bare)) = calls_after_text(&text) {
            return Ok(ParsedReply {
                text: before.trim().to_owned(),
                calls: bare,
            });
        }
    }
    Ok(ParsedReply {
        text: text.trim().to_owned(),
        calls,
    })
}

/// A reply that is nothing but calls written without their `<tool_call>` tags, each
/// exactly `{"name": TOOL, "arguments": {..}}` (small models often drop the tags).
/// Code models put the calls in Markdown fences (one or one each), in a JSON list, or
/// one per line, and some double each call's opening brace: all of these are read.
/// Anything else in the reply makes it text.
fn bare_calls(text: &str) -> Option<Vec<(String, Value)>> {
    let mut calls = Vec::new();
    let mut rest = skip_call_separators(text);
    while !rest.is_empty() {
        let (call, after) = one_bare_call(rest)?;
        calls.push(call);
        rest = skip_call_separators(after);
    }
    (!calls.is_empty()).then_some(calls)
}

/// Untagged calls that end a reply after some text, starting on a line of their own:
/// "I will read it.\n```json\n{"name": ..}\n```" (small models often explain a call
/// before writing it, or put a line of their own before it). The text before them and
/// the calls; `None` unless everything from that line on is calls.
fn calls_after_text(text: &str) -> Option<(&str, Vec<(String, Value)>)> {
    text.match_indices('\n').find_map(|(at, _)| {
        let line = &text[at + 1..];
        let body = skip_call_separators(line).strip_prefix('{')?;
        let body = body.strip_prefix('{').unwrap_or(body);
        if !body.trim_start().starts_with("\"name\"") {
            return None;
        }
        bare_calls(line.trim()).map(|calls| (&text[..at], calls))
    })
}

/// The tool names a call schema made by [`ToolCallSyntax::call_schema`] allows, in order.
pub fn call_names(call_schema: &Value) -> Vec<&str> {
    fn name(branch: &Value) -> Option<&str> {
        branch
            .pointer("/properties/name/const")
            .and_then(Value::as_str)
    }
    match call_schema.get("anyOf").and_then(Value::as_array) {
        Some(branches) => branches.iter().filter_map(name).collect(),
        None => name(call_schema).into_iter().collect(),
    }
}

/// `text` past whitespace, commas, list brackets, Markdown fences and a stray `<` (the
/// start of a tag the model did not finish: `<{{"name": ..}}`).
fn skip_call_separators(mut text: &str) -> &str {
    loop {
        let trimmed = text.trim_start();
        let next = ["```json", "```", ",", "[", "]", "<"]
            .iter()
            .find_map(|mark| trimmed.strip_prefix(mark));
        match next {
            Some(after) => text = after,
            None => return trimmed,
        }
    }
}

/// The call at the start of `text` and the text after it.
fn one_bare_call(text: &str) -> Option<((String, Value), &str)> {
    // `{{..}}`, or `{{..}` when the call's grammar stopped the extra brace.
    let doubled = text.starts_with("{{");
    let body = if doubled { &text[1..] } else { text };
    let mut values = serde_json::Deserializer::from_str(body).into_iter::<Value>();
    let value = values.next()?.ok()?;
    let mut after = &body[values.byte_offset()..];
    if doubled {
        // The doubled brace's partner, and any more the model added (`{{..}}}}`).
        let closed = after.trim_start();
        if closed.starts_with('}') {
            after = closed.trim_start_matches('}');
        }
    }
    let object = value.as_object()?;
    let keys_are_a_call =
        object.len() == 2 && object.contains_key("name") && object.contains_key("arguments");
    let call = keys_are_a_call
        .then(|| call_from_value(&value, "arguments").ok())
        .flatten()?;
    Some((call, after))
}

fn parse_llama3(reply: &str) -> Result<ParsedReply, ToolCallError> {
    let body = reply.trim();
    let body = body.strip_prefix("<|python_tag|>").unwrap_or(body).trim();
    if !body.starts_with("{\"name\"") {
        return Ok(ParsedReply {
            text: reply.trim().to_owned(),
            calls: Vec::new(),
        });
    }
    let call = read_call(body, "parameters")?;
    Ok(ParsedReply {
        text: String::new(),
        calls: vec![call],
    })
}

fn parse_mistral(reply: &str) -> Result<ParsedReply, ToolCallError> {
    const OPEN: &str = "[TOOL_CALLS]";
    let Some(at) = reply.find(OPEN) else {
        return Ok(ParsedReply {
            text: reply.trim().to_owned(),
            calls: Vec::new(),
        });
    };
    let body = reply[at + OPEN.len()..].trim();
    let list: Vec<Value> = match serde_json::from_str::<Value>(body) {
        Ok(Value::Array(items)) => items,
        Ok(object @ Value::Object(_)) => vec![object],
        Ok(_) | Err(_) => {
            return Err(
                if body.is_empty() || body.starts_with('[') && !body.ends_with(']') {
                    ToolCallError::Unclosed { opener: OPEN }
                } else {
                    malformed(body, "arguments")
                },
            );
        }
    };
    let calls = list
        .iter()
        .map(|item| call_from_value(item, "arguments"))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ParsedReply {
        text: reply[..at].trim().to_owned(),
        calls,
    })
}

/// One call from its JSON body.
fn read_call(body: &str, key: &'static str) -> Result<(String, Value), ToolCallError> {
    let value: Value =
        serde_json::from_str(body.trim()).map_err(|_| malformed(body.trim(), key))?;
    call_from_value(&value, key)
}

/// `(name, arguments)` of a call object; the arguments may be under `arguments` or
/// `parameters` whatever the format, may be a JSON string holding the object (some
/// models write them so), and are `{}` when missing.
fn call_from_value(value: &Value, key: &'static str) -> Result<(String, Value), ToolCallError> {
    let bad = || malformed(&value.to_string(), key);
    let object = value.as_object().ok_or_else(bad)?;
    let name = object.get("name").and_then(Value::as_str).ok_or_else(bad)?;
    let args = match object.get("arguments").or_else(|| object.get("parameters")) {
        None => json!({}),
        Some(Value::String(text)) => match serde_json::from_str::<Value>(text) {
            Ok(parsed @ Value::Object(_)) => parsed,
            _ => return Err(bad()),
        },
        Some(args) => args.clone(),
    };
    Ok((name.to_owned(), args))
}

fn malformed(body: &str, key: &'static str) -> ToolCallError {
    let found = match body.char_indices().nth(SHOWN_CHARS) {
        Some((cut, _)) => format!("{}…", &body[..cut]),
        None => body.to_owned(),
    };
    ToolCallError::Malformed {
        arguments: key,
        found,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_detected_from_the_template_source() {
        let qwen =
            "{%- if tools %}...<tools>{{ tool | tojson }}</tools>... <tool_call>\\n{\"name\": ...";
        assert_eq!(ToolCallSyntax::detect(qwen), Some(ToolCallSyntax::Hermes));
        let mistral = "{% if tools %}[AVAILABLE_TOOLS]{% endif %}[TOOL_CALLS]";
        assert_eq!(
            ToolCallSyntax::detect(mistral),
            Some(ToolCallSyntax::Mistral)
        );
        let llama = "{%- if tools %}Respond in the format {\"name\": function name, \"parameters\": ...}{{- '<|start_header_id|>ipython' }}";
        assert_eq!(
            ToolCallSyntax::detect(llama),
            Some(ToolCallSyntax::Llama3Json)
        );
        let chatml = "{% for message in messages %}<|im_start|>{{ message.role }}{% endfor %}";
        assert_eq!(ToolCallSyntax::detect(chatml), None);
        // A template that writes the opener but never reads `tools` cannot be given them.
        assert_eq!(ToolCallSyntax::detect("<tool_call>"), None);
    }

    #[test]
    fn hermes_replies_give_text_and_every_call() {
        let reply = "Let me look.\n<tool_call>\n{\"name\": \"clock\", \"arguments\": {\"tz\": \"UTC\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"calculator\", \"arguments\": \"{\\\"expression\\\": \\\"1+1\\\"}\"}\n</tool_call>";
        let parsed = ToolCallSyntax::Hermes.parse(reply).unwrap();
        assert_eq!(parsed.text, "Let me look.");
        assert_eq!(
            parsed.calls,
            vec![
                ("clock".to_owned(), json!({"tz": "UTC"})),
                ("calculator".to_owned(), json!({"expression": "1+1"})),
            ]
        );
        let bare = ToolCallSyntax::Hermes
            .parse("{\"name\": \"clock\", \"arguments\": {}}")
            .unwrap();
        assert_eq!(bare.calls, vec![("clock".to_owned(), json!({}))]);
        let fenced = ToolCallSyntax::Hermes
            .parse("```json\n{\n  \"name\": \"clock\",\n  \"arguments\": {}\n}\n```")
            .unwrap();
        assert_eq!(fenced.calls, vec![("clock".to_owned(), json!({}))]);
        for quirk in [
            "{\"name\": \"clock\", \"arguments\": {}}\n```",
            "{{\"name\": \"clock\", \"arguments\": {}}",
            "{{\"name\": \"clock\", \"arguments\": {}}}",
            "{{\"name\": \"clock\", \"arguments\": {}}}}}",
            "<{{\"name\": \"clock\", \"arguments\": {}}}}}",
            "<{\"name\": \"clock\", \"arguments\": {}}",
        ] {
            let parsed = ToolCallSyntax::Hermes.parse(quirk).unwrap();
            assert_eq!(
                parsed.calls,
                vec![("clock".to_owned(), json!({}))],
                "{quirk}"
            );
        }
        // Several calls without tags: fenced each, in one fence, in a list, doubled.
        let two = vec![
            ("clock".to_owned(), json!({"tz": "UTC"})),
            ("clock".to_owned(), json!({"tz": "CET"})),
        ];
        for several in [
            "```json\n{\"name\": \"clock\", \"arguments\": {\"tz\": \"UTC\"}}\n```\n\n```json\n{\"name\": \"clock\", \"arguments\": {\"tz\": \"CET\"}}\n```",
            "```json\n{\"name\": \"clock\", \"arguments\": {\"tz\": \"UTC\"}}\n{\"name\": \"clock\", \"arguments\": {\"tz\": \"CET\"}}\n```",
            "[{\"name\": \"clock\", \"arguments\": {\"tz\": \"UTC\"}}, {\"name\": \"clock\", \"arguments\": {\"tz\": \"CET\"}}]",
            "{{\"name\": \"clock\", \"arguments\": {\"tz\": \"UTC\"}}}\n{{\"name\": \"clock\", \"arguments\": {\"tz\": \"CET\"}}",
        ] {
            let parsed = ToolCallSyntax::Hermes.parse(several).unwrap();
            assert_eq!(parsed.calls, two, "{several}");
            assert_eq!(parsed.text, "", "{several}");
        }
        // A call on its own lines after some text is a call; the text is its thought.
        let want = vec![("clock".to_owned(), json!({"tz": "UTC"}))];
        for explained in [
            "I will use the clock.\n\n```json\n{\n  \"name\": \"clock\",\n  \"arguments\": {\"tz\": \"UTC\"}\n}\n```",
            "I will use the clock:\n{\"name\": \"clock\", \"arguments\": {\"tz\": \"UTC\"}}",
            "<DATA-1234>\n{\"name\": \"clock\", \"arguments\": {\"tz\": \"UTC\"}}",
        ] {
            let parsed = ToolCallSyntax::Hermes.parse(explained).unwrap();
            assert_eq!(parsed.calls, want, "{explained}");
            assert!(
                !parsed.text.is_empty() && !parsed.text.contains("clock\","),
                "{explained}"
            );
        }
        // ... but not when prose follows it, or the object is no call.
        for prose in [
            "I will use the clock.\n```json\n{\"name\": \"clock\", \"arguments\": {}}\n```\nIt returns the time.",
            "Here is Ada:\n{\"name\": \"Ada\", \"age\": 36}",
            "I would write {\"name\": \"clock\", \"arguments\": {}} here.",
        ] {
            let parsed = ToolCallSyntax::Hermes.parse(prose).unwrap();
            assert!(parsed.calls.is_empty(), "{prose}");
            assert_eq!(parsed.text, prose, "{prose}");
        }
        // A call followed by prose is prose: the whole reply is the answer.
        let prose = ToolCallSyntax::Hermes
            .parse("{\"name\": \"clock\", \"arguments\": {}}\nThat is the call I would make.")
            .unwrap();
        assert!(prose.calls.is_empty());
        // A JSON answer that merely has a `name` is no call.
        let person = ToolCallSyntax::Hermes
            .parse("{\"name\": \"Ada\", \"age\": 36}")
            .unwrap();
        assert!(person.calls.is_empty());
        let answer = ToolCallSyntax::Hermes.parse("  Paris.  ").unwrap();
        assert_eq!(answer.text, "Paris.");
        assert!(answer.calls.is_empty());
    }

    #[test]
    fn bad_calls_say_what_is_wrong() {
        assert_eq!(
            ToolCallSyntax::Hermes.parse("<tool_call>\n{\"name\": \"clo"),
            Err(ToolCallError::Unclosed {
                opener: "<tool_call>"
            })
        );
        let err = ToolCallSyntax::Hermes
            .parse("<tool_call>[1, 2]</tool_call>")
            .unwrap_err();
        assert!(matches!(err, ToolCallError::Malformed { .. }), "{err}");
        assert!(err.to_string().contains("[1,2]"), "{err}");
        assert!(
            ToolCallSyntax::Mistral
                .parse("[TOOL_CALLS][{\"name\"")
                .is_err()
        );
        assert!(ToolCallSyntax::Llama3Json.parse("{\"name\": 3}").is_err());
    }

    #[test]
    fn llama3_and_mistral_replies_are_read() {
        let llama = ToolCallSyntax::Llama3Json
            .parse("<|python_tag|>{\"name\": \"clock\", \"parameters\": {}}")
            .unwrap();
        assert_eq!(llama.calls, vec![("clock".to_owned(), json!({}))]);
        let text = ToolCallSyntax::Llama3Json.parse("It is noon.").unwrap();
        assert_eq!((text.text.as_str(), text.calls.len()), ("It is noon.", 0));
        let mistral = ToolCallSyntax::Mistral
            .parse("[TOOL_CALLS][{\"name\": \"a\", \"arguments\": {\"x\": 1}}, {\"name\": \"b\", \"arguments\": {}}]")
            .unwrap();
        assert_eq!(mistral.calls.len(), 2);
        assert_eq!(mistral.calls[0], ("a".to_owned(), json!({"x": 1})));
    }

    #[test]
    fn written_replies_parse_back() {
        let calls = vec![
            ("clock".to_owned(), json!({"tz": "UTC"})),
            ("calculator".to_owned(), json!({"expression": "2*3"})),
        ];
        for syntax in [ToolCallSyntax::Hermes, ToolCallSyntax::Mistral] {
            let parsed = syntax.parse(&syntax.write("", &calls)).unwrap();
            assert_eq!(parsed.calls, calls, "{syntax:?}");
        }
        let one = &calls[..1];
        let llama = ToolCallSyntax::Llama3Json;
        assert_eq!(llama.parse(&llama.write("", one)).unwrap().calls, one);
    }

    #[test]
    fn the_call_schema_has_one_branch_per_tool() {
        let params = json!({"type": "object", "properties": {"tz": {"type": "string"}}});
        let one = ToolCallSyntax::Llama3Json.call_schema([("clock", &params)]);
        assert_eq!(one["properties"]["name"]["const"], "clock");
        assert_eq!(one["properties"]["parameters"], params);
        assert_eq!(one["required"], json!(["name", "parameters"]));
        assert_eq!(call_names(&one), ["clock"]);
        let two = ToolCallSyntax::Hermes.call_schema([("clock", &params), ("noop", &json!({}))]);
        assert_eq!(call_names(&two), ["clock", "noop"]);
        assert_eq!(two["anyOf"][1]["properties"]["name"]["const"], "noop");
        assert!(two["anyOf"][1]["properties"]["arguments"].is_object());
    }
}
