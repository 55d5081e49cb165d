//! [`Reasoned<T>`]: the `{reasoning, answer: T}` output of chain of thought and
//! self-consistency.

use std::marker::PhantomData;

use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::model::Constraint;
use crate::parse::json_text::json_candidates;
use crate::parse::{OutputParser, ParseError, schema_of};

/// The schema of `{"reasoning": string, "answer": <answer_schema>}`, reasoning first (so the
/// model reasons before it answers), both required. Definitions of a recursive answer schema
/// move to the root, where its `$ref`s point.
pub fn reasoned_schema(answer_schema: &Value, max_reasoning_chars: Option<usize>) -> Value {
    let mut reasoning = json!({"type": "string"});
    if let Some(max) = max_reasoning_chars {
        reasoning["maxLength"] = json!(max);
    }
    answer_object(Some(("reasoning", reasoning)), answer_schema)
}

/// `{"type": "object", "properties": {[first], "answer": answer_schema}}`, every
/// property required, no others; the answer schema's definitions move to the root,
/// where its `$ref`s point.
pub(super) fn answer_object(first: Option<(&str, Value)>, answer_schema: &Value) -> Value {
    let mut answer = answer_schema.clone();
    let mut defs = Map::new();
    if let Value::Object(map) = &mut answer {
        for key in ["$defs", "definitions"] {
            if let Some(Value::Object(d)) = map.remove(key) {
                defs.extend(d);
            }
        }
        map.remove("$schema");
    }
    let mut properties = Map::new();
    let mut required = Vec::new();
    if let Some((name, schema)) = first {
        properties.insert(name.to_string(), schema);
        required.push(json!(name));
    }
    properties.insert("answer".into(), answer);
    required.push(json!("answer"));
    let mut schema = json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    });
    if !defs.is_empty() {
        schema["$defs"] = Value::Object(defs);
    }
    schema
}

/// Parses `{reasoning, answer}` where the answer must deserialise into `T`.
pub struct Reasoned<T> {
    schema: Value,
    instructions: String,
    name: String,
    _type: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned + JsonSchema> Reasoned<T> {
    /// A parser whose prompt instructions are `instructions` (the rendered strategy cue).
    pub fn new(instructions: String, max_reasoning_chars: Option<usize>) -> Self {
        Self {
            schema: reasoned_schema(&schema_of::<T>(), max_reasoning_chars),
            instructions,
            name: T::schema_name().into_owned(),
            _type: PhantomData,
        }
    }

    /// As [`Reasoned::new`], with `answer_schema` in place of `T`'s schema (for
    /// `T = serde_json::Value` answers whose shape is known at run time).
    pub fn with_schema(
        instructions: String,
        max_reasoning_chars: Option<usize>,
        answer_schema: &Value,
    ) -> Self {
        Self {
            schema: reasoned_schema(answer_schema, max_reasoning_chars),
            instructions,
            name: T::schema_name().into_owned(),
            _type: PhantomData,
        }
    }
}

/// A parsed `{reasoning, answer}`: the answer both typed and as JSON (for voting).
#[derive(Debug, Clone)]
pub struct ReasonedAnswer<T> {
    /// The reasoning text.
    pub reasoning: String,
    /// The answer.
    pub answer: T,
    /// The answer as JSON, as written.
    pub answer_json: Value,
}

#[derive(Deserialize)]
struct Raw {
    #[serde(default)]
    reasoning: Value,
    answer: Value,
}

impl<T: DeserializeOwned + JsonSchema + Send> OutputParser for Reasoned<T> {
    type Output = ReasonedAnswer<T>;

    fn instructions(&self) -> String {
        self.instructions.clone()
    }

    fn constraint(&self) -> Constraint {
        Constraint::JsonSchema(self.schema.clone())
    }

    fn parse(&self, text: &str) -> Result<ReasonedAnswer<T>, ParseError> {
        let expected = || {
            format!(
                "a JSON object {{\"reasoning\": ..., \"answer\": ...}} whose answer is a `{}`",
                self.name
            )
        };
        let mut first_error = None;
        for candidate in json_candidates(text) {
            let raw = match serde_json::from_str::<Raw>(candidate) {
                Ok(raw) => raw,
                Err(e) => {
                    first_error.get_or_insert_with(|| e.to_string());
                    continue;
                }
            };
            match serde_json::from_value::<T>(raw.answer.clone()) {
                Ok(answer) => {
                    let reasoning = match raw.reasoning {
                        Value::String(s) => s,
                        Value::Null => String::new(),
                        other => other.to_string(),
                    };
                    return Ok(ReasonedAnswer {
                        reasoning,
                        answer,
                        answer_json: raw.answer,
                    });
                }
                Err(e) => {
                    first_error.get_or_insert_with(|| format!("answer: {e}"));
                }
            }
        }
        Err(ParseError::new(
            expected(),
            first_error.unwrap_or_else(|| "the reply is empty".into()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasoning_comes_first_and_defs_move_to_the_root() {
        let schema = reasoned_schema(
            &json!({"$ref": "#/$defs/N", "$defs": {"N": {"type": "integer"}}}),
            Some(300),
        );
        let keys: Vec<&String> = schema["properties"].as_object().unwrap().keys().collect();
        assert_eq!(keys[0], "reasoning");
        assert_eq!(schema["$defs"]["N"]["type"], "integer");
        assert_eq!(schema["properties"]["reasoning"]["maxLength"], 300);
        assert!(schema["properties"]["answer"].get("$defs").is_none());
    }

    #[test]
    fn parses_and_types_the_answer() {
        let parser = Reasoned::<u32>::new(String::new(), None);
        let ok = parser
            .parse(r#"{"reasoning": "2+2", "answer": 4}"#)
            .unwrap();
        assert_eq!((ok.reasoning.as_str(), ok.answer), ("2+2", 4));
        let e = parser
            .parse(r#"{"reasoning": "r", "answer": "four"}"#)
            .unwrap_err();
        assert!(e.detail.starts_with("answer:"), "{e}");
        assert!(parser.parse("nothing").is_err());
    }
}
