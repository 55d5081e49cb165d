//! The planner's step schema, as llama.cpp's grammar converter sees it: every shape the
//! planner builds (one tool, parallel calls, no tool, a tool that needs approval) converts.

use agentry_core::model::Constraint;
use agentry_core::plan::run::step_schema;
use agentry_llama::grammar::to_grammar;
use agentry_tools::ToolSpec;
use serde_json::json;

fn calculator() -> ToolSpec {
    ToolSpec::new(
        "calculator",
        "Evaluates an arithmetic expression.",
        json!({"type": "object", "properties": {"expression": {"type": "string"}}, "required": ["expression"], "additionalProperties": false}),
    )
}

fn clock() -> ToolSpec {
    ToolSpec::new(
        "clock",
        "Tells the current time.",
        json!({"type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]}),
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

#[test]
fn the_step_schema_converts_to_a_llama_grammar() {
    let answer = json!({"type": "integer"});
    for (tools, max_calls) in [
        (vec![calculator(), clock()], 1),
        (vec![calculator(), clock()], 4),
        (vec![], 1),
        (vec![delete_file()], 1),
    ] {
        let schema = step_schema(&tools, &answer, max_calls, Some(800));
        let grammar = to_grammar(&Constraint::JsonSchema(schema.clone()))
            .unwrap_or_else(|e| panic!("llama.cpp refused {schema}: {e}"));
        assert!(grammar.is_some_and(|g| g.contains("root ::=")));
    }
}
