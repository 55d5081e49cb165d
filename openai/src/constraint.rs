//! Constraints sent the way the server takes them, and every reply checked against its
//! constraint again on arrival: a server that ignored a field must not pass
//! unconstrained text off as constrained.
//!
//! | constraint | llama.cpp | other servers | checked on arrival |
//! |---|---|---|---|
//! | JSON Schema | `json_schema` + `response_format` | `response_format` `json_schema` (strict) | parsed and validated |
//! | grammar | `grammar` (GBNF) | refused | no (llama.cpp enforces it) |
//! | choice | `grammar` of the alternatives | `response_format` `{"choice": enum}`, unwrapped | one of the choices |
//! | tool calls | `tools` + `tool_choice: auto` | the same | each call against the call schema, at most `max_calls` |

use agentry_model::{Constraint, ModelError, ToolCallSyntax};
use serde_json::{Map, Value, json};

use crate::config::ServerFlavor;

/// A constraint compiled for one request: the body fields to send and how to check and
/// shape the reply.
pub(crate) struct Plan {
    /// Fields merged into the request body.
    pub(crate) fields: Map<String, Value>,
    check: Check,
}

enum Check {
    None,
    Schema(Box<jsonschema::Validator>),
    /// Enforced by the server only (GBNF has no checker here).
    Grammar,
    /// The reply is one of these; `wrapped`: it comes as `{"choice": ..}`.
    Choice {
        choices: Vec<String>,
        wrapped: bool,
    },
    ToolCalls {
        syntax: ToolCallSyntax,
        validator: Box<jsonschema::Validator>,
        max_calls: usize,
    },
}

fn invalid(kind: &'static str, detail: impl Into<String>) -> ModelError {
    ModelError::InvalidConstraint {
        kind,
        detail: detail.into(),
    }
}

fn validator(kind: &'static str, schema: &Value) -> Result<jsonschema::Validator, ModelError> {
    jsonschema::validator_for(schema).map_err(|e| invalid(kind, format!("bad JSON Schema: {e}")))
}

/// The JSON string literal of `text` in GBNF (GBNF's escapes are JSON's).
fn gbnf_literal(text: &str) -> String {
    Value::String(text.to_owned()).to_string()
}

impl Plan {
    /// Compiles `constraint` for a server of `flavor`; `has_tools`: the request carries
    /// tool definitions.
    ///
    /// # Errors
    /// [`ModelError::InvalidConstraint`] for a bad schema or empty choice list;
    /// [`ModelError::Unsupported`] for a constraint this server cannot honour (a grammar
    /// on a server other than llama.cpp) and for tool calls without tools.
    pub(crate) fn new(
        constraint: &Constraint,
        flavor: ServerFlavor,
        has_tools: bool,
        server: &str,
    ) -> Result<Self, ModelError> {
        let mut fields = Map::new();
        let check = match constraint {
            Constraint::None => Check::None,
            Constraint::JsonSchema(schema) => {
                let checker = validator("JSON Schema", schema)?;
                fields.insert("response_format".into(), response_format(schema));
                if flavor == ServerFlavor::LlamaCpp {
                    fields.insert("json_schema".into(), schema.clone());
                }
                Check::Schema(Box::new(checker))
            }
            Constraint::Grammar(grammar) => {
                if flavor != ServerFlavor::LlamaCpp {
                    return Err(ModelError::Unsupported(format!(
                        "a GBNF grammar constraint: {server} is not llama.cpp's server, and OpenAI's API takes no grammar (use a JSON Schema)"
                    )));
                }
                fields.insert("grammar".into(), Value::String(grammar.clone()));
                Check::Grammar
            }
            Constraint::Choice(choices) => {
                if choices.is_empty() {
                    return Err(invalid("choice", "no choices"));
                }
                let wrapped = flavor != ServerFlavor::LlamaCpp;
                if wrapped {
                    let schema = json!({
                        "type": "object",
                        "properties": {"choice": {"type": "string", "enum": choices}},
                        "required": ["choice"],
                        "additionalProperties": false,
                    });
                    fields.insert("response_format".into(), response_format(&schema));
                } else {
                    let alternatives: Vec<String> =
                        choices.iter().map(|c| gbnf_literal(c)).collect();
                    fields.insert(
                        "grammar".into(),
                        Value::String(format!("root ::= {}", alternatives.join(" | "))),
                    );
                }
                Check::Choice {
                    choices: choices.clone(),
                    wrapped,
                }
            }
            Constraint::ToolCalls {
                syntax,
                call_schema,
                max_calls,
                ..
            } => {
                if !has_tools {
                    return Err(ModelError::InvalidRequest(
                        "a tool-call constraint needs tools (ModelInput::WithTools)".into(),
                    ));
                }
                if *max_calls == 0 {
                    return Err(invalid("tool calls", "max_calls is 0"));
                }
                let validator = validator("tool calls", call_schema)?;
                fields.insert("tool_choice".into(), json!("auto"));
                fields.insert("parallel_tool_calls".into(), json!(*max_calls > 1));
                Check::ToolCalls {
                    syntax: *syntax,
                    validator: Box::new(validator),
                    max_calls: *max_calls,
                }
            }
        };
        // Tools shown with another constraint (an agent step that must answer): the
        // template still renders them, but the reply may not call one, and llama.cpp
        // refuses a grammar beside callable tools.
        if has_tools && !matches!(constraint, Constraint::None | Constraint::ToolCalls { .. }) {
            fields.insert("tool_choice".into(), json!("none"));
        }
        Ok(Self { fields, check })
    }

    /// The reply's text as the caller sees it (a wrapped choice unwrapped), after checking
    /// it against the constraint.
    ///
    /// # Errors
    /// [`ModelError::Parse`] for a reply that does not satisfy the constraint.
    pub(crate) fn check(&self, text: String) -> Result<String, ModelError> {
        let fail = |text: &str, detail: String| ModelError::Parse {
            text: shorten(text, 400),
            detail,
        };
        match &self.check {
            Check::None | Check::Grammar => Ok(text),
            Check::Schema(validator) => {
                let value: Value = serde_json::from_str(text.trim()).map_err(|e| {
                    fail(
                        &text,
                        format!("the server's reply to a JSON Schema constraint is not JSON: {e}"),
                    )
                })?;
                if let Some(error) = validator.iter_errors(&value).next() {
                    return Err(fail(
                        &text,
                        format!(
                            "the server's reply does not match the JSON Schema at {}: {error}",
                            error.instance_path()
                        ),
                    ));
                }
                Ok(text)
            }
            Check::Choice { choices, wrapped } => {
                let choice = if *wrapped {
                    serde_json::from_str::<Value>(text.trim())
                        .ok()
                        .and_then(|v| v.get("choice").and_then(Value::as_str).map(str::to_owned))
                        .ok_or_else(|| {
                            fail(&text, "expected {\"choice\": ..} from the server".into())
                        })?
                } else {
                    text.clone()
                };
                if choices.contains(&choice) {
                    Ok(choice)
                } else {
                    Err(fail(
                        &text,
                        format!("the server's reply is none of the choices {choices:?}"),
                    ))
                }
            }
            Check::ToolCalls {
                syntax,
                validator,
                max_calls,
            } => {
                let parsed = syntax
                    .parse(&text)
                    .map_err(|e| fail(&text, format!("unreadable tool calls: {e}")))?;
                if parsed.calls.len() > *max_calls {
                    return Err(fail(
                        &text,
                        format!(
                            "{} tool calls where at most {max_calls} were allowed",
                            parsed.calls.len()
                        ),
                    ));
                }
                let key = syntax.arguments_key();
                for (name, arguments) in &parsed.calls {
                    let mut call = Map::new();
                    call.insert("name".into(), Value::String(name.clone()));
                    call.insert(key.into(), arguments.clone());
                    let call = Value::Object(call);
                    if let Some(error) = validator.iter_errors(&call).next() {
                        return Err(fail(
                            &text,
                            format!(
                                "the tool call {call} does not match its schema at {}: {error}",
                                error.instance_path()
                            ),
                        ));
                    }
                }
                Ok(text)
            }
        }
    }
}

fn response_format(schema: &Value) -> Value {
    json!({
        "type": "json_schema",
        "json_schema": {"name": "reply", "schema": schema, "strict": true},
    })
}

/// `text` cut to at most `max` characters (on a character boundary), marked when cut.
pub(crate) fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_owned(),
        Some((at, _)) => format!("{}… ({} bytes in all)", &text[..at], text.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grammar_is_refused_by_a_server_that_takes_none() {
        let grammar = Constraint::Grammar("root ::= \"a\"".into());
        let error = Plan::new(&grammar, ServerFlavor::Generic, false, "http://h/v1")
            .err()
            .unwrap();
        assert!(matches!(error, ModelError::Unsupported(_)), "{error}");
        assert!(error.to_string().contains("http://h/v1"), "{error}");
        let plan = Plan::new(&grammar, ServerFlavor::LlamaCpp, false, "s").unwrap();
        assert_eq!(plan.fields["grammar"], json!("root ::= \"a\""));
    }

    #[test]
    fn replies_are_checked_against_the_schema() {
        let schema =
            json!({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]});
        let plan = Plan::new(
            &Constraint::JsonSchema(schema),
            ServerFlavor::Generic,
            false,
            "s",
        )
        .unwrap();
        assert_eq!(plan.fields["response_format"]["type"], "json_schema");
        assert!(plan.check("{\"n\": 3}".into()).is_ok());
        for bad in ["{\"n\": \"three\"}", "{}", "n is 3", "{\"n\": 3"] {
            let error = plan.check(bad.into()).unwrap_err();
            assert!(matches!(error, ModelError::Parse { .. }), "{bad}: {error}");
        }
    }

    #[test]
    fn choices_are_sent_as_grammar_or_wrapped_schema_and_checked() {
        let choice = Constraint::Choice(vec!["yes".into(), "no \"way\"".into()]);
        let llama = Plan::new(&choice, ServerFlavor::LlamaCpp, false, "s").unwrap();
        assert_eq!(
            llama.fields["grammar"],
            json!(r#"root ::= "yes" | "no \"way\"""#)
        );
        assert_eq!(llama.check("yes".into()).unwrap(), "yes");
        assert!(llama.check("maybe".into()).is_err());
        let generic = Plan::new(&choice, ServerFlavor::Generic, false, "s").unwrap();
        assert_eq!(
            generic
                .check("{\"choice\": \"no \\\"way\\\"\"}".into())
                .unwrap(),
            "no \"way\""
        );
        assert!(generic.check("{\"choice\": \"maybe\"}".into()).is_err());
        assert!(
            Plan::new(
                &Constraint::Choice(vec![]),
                ServerFlavor::Generic,
                false,
                "s"
            )
            .is_err()
        );
    }

    #[test]
    fn tool_calls_are_checked_against_the_call_schema() {
        let syntax = ToolCallSyntax::Hermes;
        let params = json!({"type": "object", "properties": {"expression": {"type": "string"}}, "required": ["expression"]});
        let constraint = Constraint::ToolCalls {
            syntax,
            call_schema: syntax.call_schema([("calculator", &params)]),
            max_calls: 1,
            bare_calls: true,
        };
        assert!(Plan::new(&constraint, ServerFlavor::LlamaCpp, false, "s").is_err());
        let plan = Plan::new(&constraint, ServerFlavor::LlamaCpp, true, "s").unwrap();
        let good = syntax.write("", &[("calculator".into(), json!({"expression": "1+1"}))]);
        assert!(plan.check(good).is_ok());
        assert!(plan.check("The answer is 2.".into()).is_ok());
        let wrong_tool = syntax.write("", &[("shell".into(), json!({"expression": "1"}))]);
        assert!(plan.check(wrong_tool).is_err());
        let two = syntax.write(
            "",
            &[
                ("calculator".into(), json!({"expression": "1"})),
                ("calculator".into(), json!({"expression": "2"})),
            ],
        );
        assert!(
            plan.check(two)
                .unwrap_err()
                .to_string()
                .contains("at most 1")
        );
    }

    #[test]
    fn shorten_cuts_on_a_char_boundary() {
        assert_eq!(shorten("abc", 5), "abc");
        assert!(shorten("ééééé", 2).starts_with("éé…"));
    }
}
