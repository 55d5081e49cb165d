//! One agent step: the JSON Schema the model's reply is constrained to, and the tolerant
//! parsing of that reply.
//!
//! A step is one JSON object, `thought` first, then either a tool call or the final answer:
//!
//! ```json
//! {"thought": "I need the time in Paris.", "action": {"tool": "clock", "args": {"tz": "Europe/Paris"}}}
//! {"thought": "It is noon.", "final_answer": "12:00"}
//! ```
//!
//! With parallel calls allowed the call is `"actions": [{"tool": .., "args": ..}, ..]`.

use agentry_tools::ToolSpec;
use agentry_tools::schema::inline_refs;
use serde_json::{Map, Value, json};

/// The keys under which an embedded schema keeps definitions that could not be inlined.
const DEF_KEYS: [&str; 2] = ["$defs", "definitions"];

/// At most this many `{` positions are tried when looking for a JSON object inside text.
const MAX_CANDIDATES: usize = 32;

/// The JSON Schema of one step.
///
/// `{"anyOf": [ACT, ANSWER]}` where ANSWER is
/// `{"thought": string, "final_answer": answer_schema}` and ACT is
/// `{"thought": string, "action": CALL}` (`max_calls` = 1) or
/// `{"thought": string, "actions": [CALL, ..]}` with 1 to `max_calls` items (`max_calls` > 1).
/// CALL has one branch per tool, as in
/// [`ToolRegistry::step_schema`](agentry_tools::ToolRegistry::step_schema):
/// `{"tool": {"const": NAME}, "args": ARGS}`. Every object lists its properties in that
/// order, requires them all and allows no others. With no tools, or `max_calls` = 0, the
/// schema is ANSWER alone. `thought_max_chars` caps the thought (`maxLength`). A free-text
/// answer schema (`{"type": "string"}`) gets `minLength: 1`: an empty final answer is never
/// an answer.
///
/// Each embedded schema is made self-contained (local `$ref`s inlined, `$schema` dropped);
/// definitions that must stay (recursive types) move to the root, where their `$ref`s point.
pub fn step_schema(
    tools: &[ToolSpec],
    answer_schema: &Value,
    max_calls: usize,
    thought_max_chars: Option<usize>,
) -> Value {
    let mut defs = Map::new();
    let mut thought = json!({"type": "string"});
    if let (Some(max), Value::Object(map)) = (thought_max_chars, &mut thought) {
        map.insert("maxLength".into(), json!(max));
    }
    let mut answer = embeddable(answer_schema, &mut defs);
    if let (true, Value::Object(map)) = (is_free_text(answer_schema), &mut answer) {
        map.insert("minLength".into(), json!(1));
    }
    let answer = object_schema(&thought, "final_answer", answer);
    let mut branches: Vec<Value> = tools
        .iter()
        .map(|spec| {
            json!({
                "type": "object",
                "properties": {
                    "tool": {"const": spec.name},
                    "args": embeddable(&spec.parameters, &mut defs),
                },
                "required": ["tool", "args"],
                "additionalProperties": false,
            })
        })
        .collect();
    let mut schema = if branches.is_empty() || max_calls == 0 {
        answer
    } else {
        let call = if branches.len() == 1 {
            branches.remove(0)
        } else {
            json!({ "anyOf": branches })
        };
        let act = if max_calls == 1 {
            object_schema(&thought, "action", call)
        } else {
            let list =
                json!({"type": "array", "items": call, "minItems": 1, "maxItems": max_calls});
            object_schema(&thought, "actions", list)
        };
        json!({ "anyOf": [act, answer] })
    };
    if let Value::Object(root) = &mut schema {
        for (key, value) in defs {
            root.insert(key, value);
        }
    }
    schema
}

/// Whether `schema` is a plain string with no rule on its content (`{"type": "string"}`, as
/// `String` gives): such a final answer must not be empty, so the step schema requires
/// at least one character and the run refuses a blank one.
pub(crate) fn is_free_text(schema: &Value) -> bool {
    const CONTENT_RULES: [&str; 6] = [
        "minLength",
        "maxLength",
        "pattern",
        "enum",
        "const",
        "format",
    ];
    schema.get("type").and_then(Value::as_str) == Some("string")
        && CONTENT_RULES.iter().all(|rule| schema.get(rule).is_none())
}

/// `{"thought": thought, key: value}`, both required, nothing else allowed.
fn object_schema(thought: &Value, key: &str, value: Value) -> Value {
    let mut properties = Map::new();
    properties.insert("thought".into(), thought.clone());
    properties.insert(key.into(), value);
    json!({
        "type": "object",
        "properties": properties,
        "required": ["thought", key],
        "additionalProperties": false,
    })
}

/// `schema` with local `$ref`s inlined and without `$schema`.
pub(crate) fn self_contained(schema: &Value) -> Value {
    let mut out = inline_refs(schema);
    if let Value::Object(map) = &mut out {
        map.remove("$schema");
    }
    out
}

/// `schema` ready to embed in a larger one: [`self_contained`], with the definitions that
/// remain moved into `defs` (first definition of a name wins).
fn embeddable(schema: &Value, defs: &mut Map<String, Value>) -> Value {
    let mut out = self_contained(schema);
    if let Value::Object(map) = &mut out {
        for key in DEF_KEYS {
            if let Some(Value::Object(found)) = map.remove(key) {
                let target = defs.entry(key).or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(target) = target {
                    for (name, def) in found {
                        target.entry(name).or_insert(def);
                    }
                }
            }
        }
    }
    out
}

/// A step as the model wrote it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Step {
    /// Call tools: `(name, args)` in the order written.
    Act {
        /// The thought (empty when missing).
        thought: String,
        /// The calls.
        calls: Vec<(String, Value)>,
    },
    /// The final answer.
    Answer {
        /// The thought (empty when missing).
        thought: String,
        /// The answer, not yet checked against the answer schema.
        answer: Value,
    },
}

/// Why a reply is not a usable step; the message is shown to the model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum StepError {
    /// No JSON object could be read.
    #[error("no JSON object could be read from it")]
    NoJson,
    /// Neither a call nor an answer.
    #[error("it has neither \"action\" nor \"final_answer\"")]
    Neither,
    /// Both a call and an answer.
    #[error("it has both a tool call and \"final_answer\"; give one of them")]
    Both,
    /// Both `action` and `actions`.
    #[error("it has both \"action\" and \"actions\"; give one of them")]
    ActionAndActions,
    /// A call that is not `{"tool": NAME, "args": {..}}`.
    #[error("a tool call must be an object {{\"tool\": NAME, \"args\": {{..}}}}, not {found}")]
    BadCall {
        /// The offending value, shortened.
        found: String,
    },
    /// `actions` is not a non-empty list.
    #[error("\"actions\" must be a list of 1 or more tool calls")]
    BadActions,
    /// More calls than one step may make.
    #[error("it makes {got} tool calls; one step may make at most {max}")]
    TooManyCalls {
        /// Calls asked for.
        got: usize,
        /// Calls allowed per step.
        max: usize,
    },
    /// A call when no tool may be called.
    #[error("no tools are available; give \"final_answer\"")]
    NoTools,
}

/// Reads a step from the model's text: the whole text as JSON, else the first balanced
/// JSON object found in it. Never panics.
pub(crate) fn parse_step(text: &str, max_calls: usize) -> Result<Step, StepError> {
    let object = extract_object(text).ok_or(StepError::NoJson)?;
    let thought = match object.get("thought") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    };
    let calls = match (object.get("action"), object.get("actions")) {
        (None, None) => None,
        (Some(_), Some(_)) => return Err(StepError::ActionAndActions),
        (Some(call), None) => Some(vec![parse_call(call)?]),
        (None, Some(Value::Array(items))) if !items.is_empty() => Some(
            items
                .iter()
                .map(parse_call)
                .collect::<Result<Vec<_>, _>>()?,
        ),
        (None, Some(_)) => return Err(StepError::BadActions),
    };
    match (calls, object.get("final_answer")) {
        (Some(_), Some(_)) => Err(StepError::Both),
        (None, None) => Err(StepError::Neither),
        (None, Some(answer)) => Ok(Step::Answer {
            thought,
            answer: answer.clone(),
        }),
        (Some(_), None) if max_calls == 0 => Err(StepError::NoTools),
        (Some(calls), None) if calls.len() > max_calls => Err(StepError::TooManyCalls {
            got: calls.len(),
            max: max_calls,
        }),
        (Some(calls), None) => Ok(Step::Act { thought, calls }),
    }
}

/// `(name, args)` of one call; `name`/`arguments` are accepted for `tool`/`args`, and
/// missing arguments are `{}` (the registry validates them).
fn parse_call(value: &Value) -> Result<(String, Value), StepError> {
    let bad = || StepError::BadCall {
        found: shorten(&value.to_string(), 80),
    };
    let object = value.as_object().ok_or_else(bad)?;
    let name = object
        .get("tool")
        .or_else(|| object.get("name"))
        .and_then(Value::as_str)
        .ok_or_else(bad)?;
    let args = object
        .get("args")
        .or_else(|| object.get("arguments"))
        .cloned()
        .unwrap_or_else(|| json!({}));
    Ok((name.to_owned(), args))
}

/// The text as one JSON object, else the first balanced `{...}` in it that parses as one.
pub(crate) fn extract_object(text: &str) -> Option<Map<String, Value>> {
    if let Ok(Value::Object(map)) = serde_json::from_str(text.trim()) {
        return Some(map);
    }
    text.char_indices()
        .filter(|(_, c)| *c == '{')
        .take(MAX_CANDIDATES)
        .find_map(|(start, _)| {
            let rest = text.get(start..)?;
            let candidate = rest.get(..balanced_len(rest)?)?;
            match serde_json::from_str(candidate) {
                Ok(Value::Object(map)) => Some(map),
                _ => None,
            }
        })
}

/// Byte length of the bracket-balanced prefix of `text` (which starts with `{`), skipping
/// brackets inside JSON strings; `None` when it never balances.
fn balanced_len(text: &str) -> Option<usize> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, c) in text.char_indices() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '{' | '[' => depth += 1,
            '}' | ']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + c.len_utf8());
                }
            }
            _ => {}
        }
    }
    None
}

/// At most `max` characters of `text`, with `…` when cut.
pub(crate) fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tools() -> Vec<ToolSpec> {
        vec![
            ToolSpec::new(
                "calculator",
                "Evaluates an expression.",
                json!({"type": "object", "properties": {"expression": {"type": "string"}}, "required": ["expression"]}),
            ),
            ToolSpec::new(
                "clock",
                "Tells the time.",
                json!({"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "properties": {"tz": {"$ref": "#/$defs/Tz"}}, "$defs": {"Tz": {"type": "string"}}}),
            ),
        ]
    }

    #[test]
    fn schema_puts_thought_first_and_inlines_tool_refs() {
        let schema = step_schema(&tools(), &json!({"type": "string"}), 1, Some(400));
        let act = &schema["anyOf"][0];
        let keys: Vec<&String> = act["properties"]
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        assert_eq!(keys, ["thought", "action"]);
        assert_eq!(act["additionalProperties"], false);
        let clock = &act["properties"]["action"]["anyOf"][1]["properties"];
        assert_eq!(clock["tool"]["const"], "clock");
        assert_eq!(clock["args"]["properties"]["tz"], json!({"type": "string"}));
        assert!(clock["args"].get("$schema").is_none());
        let answer = &schema["anyOf"][1];
        assert_eq!(answer["required"], json!(["thought", "final_answer"]));
        assert_eq!(answer["properties"]["thought"]["maxLength"], 400);
    }

    #[test]
    fn a_free_text_answer_must_not_be_empty_but_other_strings_keep_their_rules() {
        let answer_of = |answer: Value| {
            step_schema(&[], &answer, 1, None)["properties"]["final_answer"].clone()
        };
        assert_eq!(
            answer_of(json!({"type": "string"})),
            json!({"type": "string", "minLength": 1})
        );
        let short = json!({"type": "string", "maxLength": 3});
        assert_eq!(answer_of(short.clone()), short);
        let labels = json!({"type": "string", "enum": ["a", "b"]});
        assert_eq!(answer_of(labels.clone()), labels);
        assert_eq!(
            answer_of(json!({"type": "integer"})),
            json!({"type": "integer"})
        );
    }

    #[test]
    fn recursive_answer_definitions_move_to_the_root() {
        let answer = json!({
            "$ref": "#/$defs/Node",
            "$defs": {"Node": {"type": "object", "properties": {
                "name": {"type": "string"},
                "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}
            }, "required": ["name"]}}
        });
        let schema = step_schema(&[], &answer, 1, None);
        assert!(schema["$defs"]["Node"].is_object(), "{schema}");
        assert!(schema["properties"]["final_answer"].get("$defs").is_none());
        let validator = jsonschema::validator_for(&schema)
            .unwrap_or_else(|e| panic!("step schema does not compile: {e}"));
        assert!(validator.is_valid(
            &json!({"thought": "t", "final_answer": {"name": "a", "children": [{"name": "b"}]}})
        ));
        assert!(!validator.is_valid(&json!({"thought": "t", "final_answer": {"children": []}})));
    }

    #[test]
    fn steps_are_read_from_json_or_from_text_around_it() {
        let act = parse_step(
            r#"{"thought": "add", "action": {"tool": "calculator", "args": {"expression": "1+1"}}}"#,
            1,
        );
        assert_eq!(
            act,
            Ok(Step::Act {
                thought: "add".into(),
                calls: vec![("calculator".into(), json!({"expression": "1+1"}))],
            })
        );
        let wrapped =
            "Sure! ```json\n{\"thought\": \"a } in a string\", \"final_answer\": 2}\n``` done {";
        assert_eq!(
            parse_step(wrapped, 1),
            Ok(Step::Answer {
                thought: "a } in a string".into(),
                answer: json!(2),
            })
        );
        let no_thought = parse_step(r#"{"final_answer": null}"#, 0);
        assert_eq!(
            no_thought,
            Ok(Step::Answer {
                thought: String::new(),
                answer: Value::Null
            })
        );
    }

    #[test]
    fn bad_steps_say_what_is_wrong() {
        let cases = [
            (r#"{"thought": "cut off at the tok"#, StepError::NoJson),
            ("", StepError::NoJson),
            (r#"{"thought": "x"}"#, StepError::Neither),
            (
                r#"{"thought": "x", "action": {"tool": "a", "args": {}}, "final_answer": 1}"#,
                StepError::Both,
            ),
            (r#"{"action": 3}"#, StepError::BadCall { found: "3".into() }),
            (r#"{"actions": []}"#, StepError::BadActions),
            (
                r#"{"actions": [{"tool": "a"}, {"tool": "b"}]}"#,
                StepError::TooManyCalls { got: 2, max: 1 },
            ),
            (
                r#"{"action": {"tool": "a"}, "actions": [{"tool": "a"}]}"#,
                StepError::ActionAndActions,
            ),
        ];
        for (text, error) in cases {
            assert_eq!(parse_step(text, 1), Err(error), "{text}");
        }
        assert_eq!(
            parse_step(r#"{"action": {"tool": "a"}}"#, 0),
            Err(StepError::NoTools)
        );
    }

    #[test]
    fn shorten_cuts_on_characters() {
        assert_eq!(shorten("héllo", 2), "hé…");
        assert_eq!(shorten("hi", 2), "hi");
    }
}
