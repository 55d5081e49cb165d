//! The planner's step schema as llama.cpp's grammar converter sees it: every shape the
//! planner builds (one tool, several, parallel calls, no tool, a tool that needs approval,
//! tool schemas with `$ref`s, recursive answers) converts, with the thought first.

use agentry_core::model::Constraint;
use agentry_core::plan::run::step_schema;
use agentry_llama::grammar::to_grammar;
use agentry_tools::ToolSpec;
use serde_json::{Value, json};

fn calculator() -> ToolSpec {
    ToolSpec::new(
        "calculator",
        "Evaluates an arithmetic expression.",
        json!({"type": "object", "properties": {"expression": {"type": "string"}}, "required": ["expression"], "additionalProperties": false}),
    )
}

/// A tool whose schema uses `$ref`s and `$schema`, as schemars writes them.
fn clock() -> ToolSpec {
    ToolSpec::new(
        "clock",
        "Tells the time.",
        json!({"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "properties": {"tz": {"$ref": "#/$defs/Tz"}}, "$defs": {"Tz": {"type": "string"}}}),
    )
}

fn delete_file() -> ToolSpec {
    let mut spec = ToolSpec::new(
        "delete_file",
        "Deletes a file.",
        json!({"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}),
    );
    spec.needs_approval = true;
    spec
}

fn grammar(schema: &Value) -> String {
    to_grammar(&Constraint::JsonSchema(schema.clone()))
        .unwrap_or_else(|e| panic!("llama.cpp refused the schema: {e}\n{schema}"))
        .unwrap_or_default()
}

#[test]
fn every_shape_of_step_schema_converts_with_the_thought_first() {
    let answer = json!({"type": "object", "properties": {"city": {"type": "string"}, "population": {"type": "integer"}}, "required": ["city", "population"]});
    for (tools, max_calls) in [
        (vec![calculator(), clock()], 1),
        (vec![calculator(), clock()], 3),
        (vec![calculator()], 1),
        (vec![delete_file()], 1),
        (vec![], 1),
    ] {
        let schema = step_schema(&tools, &answer, max_calls, Some(800));
        let g = grammar(&schema);
        assert!(g.contains("root ::="), "{g}");
        // Properties keep their order in the grammar: the thought comes first.
        let thought_then = |key: &str| {
            regex::Regex::new(&format!(
                r#""\{{" space [a-z0-9-]*thought-kv "," space [a-z0-9-]*{key}-kv"#
            ))
            .is_ok_and(|re| re.is_match(&g))
        };
        assert!(thought_then("final-answer"), "{g}");
        let call_key = if max_calls > 1 { "actions" } else { "action" };
        assert_eq!(thought_then(call_key), !tools.is_empty(), "{g}");
    }
}

#[test]
fn free_text_and_recursive_answers_convert() {
    assert!(!grammar(&step_schema(&[], &json!({"type": "string"}), 1, None)).is_empty());
    let tree = json!({
        "$ref": "#/$defs/Node",
        "$defs": {"Node": {"type": "object", "properties": {
            "name": {"type": "string"},
            "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}
        }, "required": ["name"]}}
    });
    assert!(!grammar(&step_schema(&[], &tree, 1, None)).is_empty());
}
