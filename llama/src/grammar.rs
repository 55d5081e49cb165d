//! Turns a [`Constraint`] into a GBNF grammar for llama.cpp's grammar sampler.

use agentry_model::{Constraint, ModelError};

/// The GBNF grammar of a constraint, or `None` for free text.
///
/// JSON Schema goes through llama.cpp's own schema-to-grammar converter; a choice becomes an
/// alternation of escaped string literals. The grammar text is parsed later, when the sampler is
/// built; a grammar that does not parse is an error there.
pub fn to_grammar(constraint: &Constraint) -> Result<Option<String>, ModelError> {
    match constraint {
        Constraint::None => Ok(None),
        Constraint::Grammar(g) => {
            if g.trim().is_empty() {
                return Err(ModelError::InvalidConstraint {
                    kind: "grammar",
                    detail: "the grammar is empty".into(),
                });
            }
            Ok(Some(g.clone()))
        }
        Constraint::Choice(options) => choice_grammar(options).map(Some),
        Constraint::JsonSchema(schema) => {
            if !(schema.is_object() || schema.is_boolean()) {
                return Err(ModelError::InvalidConstraint {
                    kind: "json schema",
                    detail: format!("a schema is an object or a boolean, not {schema}"),
                });
            }
            llama_cpp_2::json_schema_to_grammar(&schema.to_string())
                .map(Some)
                .map_err(|e| ModelError::InvalidConstraint {
                    kind: "json schema",
                    detail: format!("llama.cpp cannot convert the schema to a grammar: {e}"),
                })
        }
    }
}

/// A grammar whose only sentences are `options`.
pub fn choice_grammar(options: &[String]) -> Result<String, ModelError> {
    if options.is_empty() {
        return Err(ModelError::InvalidConstraint {
            kind: "choice",
            detail: "no options to choose from".into(),
        });
    }
    if let Some(empty) = options.iter().position(String::is_empty) {
        return Err(ModelError::InvalidConstraint {
            kind: "choice",
            detail: format!("option {empty} is empty"),
        });
    }
    let alternatives: Vec<String> = options.iter().map(|o| gbnf_literal(o)).collect();
    Ok(format!("root ::= {}", alternatives.join(" | ")))
}

/// A GBNF string literal matching `text` exactly.
fn gbnf_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\x{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choice_escapes_quotes_and_newlines() {
        let g = choice_grammar(&["a\"b".into(), "c\\d\n".into()]).unwrap();
        assert_eq!(g, r#"root ::= "a\"b" | "c\\d\n""#);
    }

    #[test]
    fn empty_choice_is_an_error() {
        assert!(choice_grammar(&[]).is_err());
        assert!(choice_grammar(&["".into()]).is_err());
    }

    #[test]
    fn json_schema_becomes_a_grammar() {
        let schema = serde_json::json!({"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]});
        let g = to_grammar(&Constraint::JsonSchema(schema))
            .unwrap()
            .unwrap();
        assert!(g.contains("root ::="), "{g}");
    }

    #[test]
    fn a_non_object_schema_is_an_error() {
        assert!(to_grammar(&Constraint::JsonSchema(serde_json::json!(3))).is_err());
    }
}
