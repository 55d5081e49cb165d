//! Turns a [`Constraint`] into a GBNF grammar for llama.cpp's grammar sampler.

use agentry_model::{Constraint, ModelError, ToolCallSyntax};

/// The root rule of a tool-call grammar ([`tool_calls_grammar`]).
pub const TOOL_CALLS_ROOT: &str = "agentry-tool-calls";

/// Most calls one reply may make under a tool-call grammar, whatever was asked.
const MAX_CALLS: usize = 16;

/// A grammar that holds only from a trigger on: free text until one of `triggers`
/// matches the text so far, then the grammar from the trigger's first capture group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LazyGrammar {
    /// The GBNF text.
    pub grammar: String,
    /// Its start rule.
    pub root: &'static str,
    /// Regular expressions (ECMAScript, as llama.cpp's `std::regex` reads them) that
    /// switch the grammar on: searched anywhere in the text so far, or matched against
    /// all of it when written `^...$`.
    pub triggers: Vec<String>,
    /// Texts that are one token in some vocabularies (`<tool_call>`); the sampler also
    /// gives them as trigger tokens.
    pub trigger_texts: Vec<String>,
}

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
        Constraint::ToolCalls { .. } => Err(ModelError::InvalidConstraint {
            kind: "tool calls",
            detail: "tool calls hold only from their opener on: use `tool_calls_grammar`".into(),
        }),
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

/// The lazy grammar of [`Constraint::ToolCalls`]: from the format's opener on, 1 to
/// `max_calls` calls (at most 16), each one JSON value under `call_schema`, and nothing
/// after the last call but whitespace (then only the end of the reply). With
/// `bare_calls`, a reply starting `{"name"` (maybe fenced, in a list, or with a doubled
/// brace) is held to the same number of untagged calls (Hermes).
///
/// # Errors
/// `max_calls` of 0, or a call schema llama.cpp cannot convert.
pub fn tool_calls_grammar(
    syntax: ToolCallSyntax,
    call_schema: &serde_json::Value,
    max_calls: usize,
    bare_calls: bool,
) -> Result<LazyGrammar, ModelError> {
    if max_calls == 0 {
        return Err(ModelError::InvalidConstraint {
            kind: "tool calls",
            detail: "max_calls is 0: a reply could make no call".into(),
        });
    }
    let Some(call) = to_grammar(&Constraint::JsonSchema(call_schema.clone()))? else {
        return Err(ModelError::InvalidConstraint {
            kind: "tool calls",
            detail: "the call schema gives no grammar".into(),
        });
    };
    // The schema's grammar names its start rule `root`: each call is `root`.
    let more = max_calls.min(MAX_CALLS).min(syntax.max_calls()) - 1;
    let repeat = |item: &str| {
        if more == 0 {
            String::new()
        } else {
            format!(" ({item}){{0,{more}}}")
        }
    };
    // A call written bare at the start of the reply (`{"name": ..}`), as small models
    // often write it, switches the grammar on too when asked for.
    // It may sit in a Markdown code fence, as code models write JSON.
    // (Some double the opening brace: the grammar then starts at the second.)
    // Several calls follow it the same way: fenced each, in one fence, or in a list.
    let bare = r#"^\s*(?:```(?:json)?\s*)?\[?\s*\{?(\{\s*"name")[\s\S]*$"#.to_owned();
    let bare_rule = if bare_calls {
        format!(
            " | root{} agentry-ws \"]\"? agentry-ws (\"```\" agentry-ws)?\n\
             agentry-bare-sep ::= agentry-ws (\",\" agentry-ws)? (\"```\" agentry-ws \"```\" \"json\"? agentry-ws)? \"{{\"?",
            repeat("agentry-bare-sep root")
        )
    } else {
        String::new()
    };
    let rules = match syntax {
        ToolCallSyntax::Hermes => format!(
            "{TOOL_CALLS_ROOT} ::= agentry-call{} agentry-ws{bare_rule}\n\
             agentry-call ::= \"<tool_call>\" agentry-ws root agentry-ws \"</tool_call>\"\n",
            repeat("agentry-ws agentry-call")
        ),
        ToolCallSyntax::Llama3Json => format!("{TOOL_CALLS_ROOT} ::= root agentry-ws\n"),
        ToolCallSyntax::Mistral => format!(
            "{TOOL_CALLS_ROOT} ::= \"[TOOL_CALLS]\" agentry-ws \"[\" agentry-ws root{} agentry-ws \"]\" agentry-ws\n",
            repeat("agentry-ws \",\" agentry-ws root")
        ),
    };
    Ok(LazyGrammar {
        grammar: format!("{call}\n{rules}agentry-ws ::= [ \\t\\n]{{0,4}}\n"),
        root: TOOL_CALLS_ROOT,
        triggers: match syntax {
            ToolCallSyntax::Hermes if bare_calls => {
                let mut triggers = vec!["(<tool_call>)".to_owned(), bare];
                triggers.extend(calls_after_text_trigger(call_schema));
                triggers
            }
            ToolCallSyntax::Hermes => vec!["(<tool_call>)".into()],
            ToolCallSyntax::Llama3Json => vec![bare],
            ToolCallSyntax::Mistral => vec![r"(\[TOOL_CALLS\])".into()],
        },
        trigger_texts: match syntax {
            ToolCallSyntax::Llama3Json => Vec::new(),
            ToolCallSyntax::Hermes | ToolCallSyntax::Mistral => vec![syntax.opener().to_owned()],
        },
    })
}

/// The trigger of untagged calls after some text (searched anywhere): a line that opens
/// a call to one of the call schema's tools by name, maybe fenced, in a list, or with a
/// doubled brace, as in "I will read it.\n```json\n{"name": "read_file", ..". Naming the
/// tools keeps an answer that merely holds a JSON object with a `name` free. `None`
/// when the schema names no tool.
fn calls_after_text_trigger(call_schema: &serde_json::Value) -> Option<String> {
    let names = agentry_model::call_names(call_schema);
    if names.is_empty() {
        return None;
    }
    let names: Vec<String> = names.iter().map(|name| regex_escape(name)).collect();
    Some(format!(
        r#"\n[ \t]*(?:```(?:json)?\s*)?\[?\s*\{{?(\{{\s*"name"\s*:\s*"(?:{})")"#,
        names.join("|")
    ))
}

/// `text` with the characters special in an ECMAScript regular expression escaped.
fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if r"\^$.|?*+()[]{}".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
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
    fn tool_call_grammars_wrap_the_call_schema_after_the_opener() {
        let schema = serde_json::json!({"type": "object", "properties": {"name": {"const": "clock"}, "arguments": {"type": "object"}}, "required": ["name", "arguments"]});
        let hermes = tool_calls_grammar(ToolCallSyntax::Hermes, &schema, 3, true).unwrap();
        assert_eq!(hermes.root, TOOL_CALLS_ROOT);
        assert_eq!(hermes.trigger_texts, ["<tool_call>"]);
        assert_eq!(
            hermes.triggers,
            [
                "(<tool_call>)",
                r#"^\s*(?:```(?:json)?\s*)?\[?\s*\{?(\{\s*"name")[\s\S]*$"#,
                r#"\n[ \t]*(?:```(?:json)?\s*)?\[?\s*\{?(\{\s*"name"\s*:\s*"(?:clock)")"#
            ]
        );
        assert!(
            hermes
                .grammar
                .contains("agentry-tool-calls ::= agentry-call (agentry-ws agentry-call){0,2} agentry-ws | root (agentry-bare-sep root){0,2} agentry-ws \"]\"? agentry-ws (\"```\" agentry-ws)?\n"),
            "{}",
            hermes.grammar
        );
        assert!(hermes.grammar.contains("root ::="), "{}", hermes.grammar);
        let two_tools = serde_json::json!({"anyOf": [schema.clone(), {"properties": {"name": {"const": "read.file"}}}]});
        let after_text = tool_calls_grammar(ToolCallSyntax::Hermes, &two_tools, 1, true).unwrap();
        assert_eq!(
            after_text.triggers[2],
            r#"\n[ \t]*(?:```(?:json)?\s*)?\[?\s*\{?(\{\s*"name"\s*:\s*"(?:clock|read\.file)")"#
        );
        let tagged_only = tool_calls_grammar(ToolCallSyntax::Hermes, &schema, 1, false).unwrap();
        assert_eq!(tagged_only.triggers, ["(<tool_call>)"]);
        assert!(
            !tagged_only.grammar.contains("| root"),
            "{}",
            tagged_only.grammar
        );
        let llama = tool_calls_grammar(ToolCallSyntax::Llama3Json, &schema, 3, false).unwrap();
        assert!(
            llama
                .grammar
                .contains("agentry-tool-calls ::= root agentry-ws\n")
        );
        assert!(llama.trigger_texts.is_empty());
        let one = tool_calls_grammar(ToolCallSyntax::Mistral, &schema, 1, true).unwrap();
        assert!(
            one.grammar.contains(
                "agentry-tool-calls ::= \"[TOOL_CALLS]\" agentry-ws \"[\" agentry-ws root agentry-ws \"]\" agentry-ws\n"
            ),
            "{}",
            one.grammar
        );
        assert!(tool_calls_grammar(ToolCallSyntax::Hermes, &schema, 0, true).is_err());
        let constraint = Constraint::ToolCalls {
            syntax: ToolCallSyntax::Hermes,
            call_schema: schema,
            max_calls: 1,
            bare_calls: true,
        };
        assert!(to_grammar(&constraint).is_err());
    }

    #[test]
    fn a_non_object_schema_is_an_error() {
        assert!(to_grammar(&Constraint::JsonSchema(serde_json::json!(3))).is_err());
    }
}
