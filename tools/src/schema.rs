//! JSON Schema helpers: generate a self-contained schema from a Rust type, and inline
//! `$ref`s into `$defs` so that each schema can be embedded in a larger one.
//!
//! Why inline: the planner embeds each tool's schema as one branch of a larger schema,
//! where a `$ref` to `#/$defs/...` would point at the wrong root, and llama.cpp's
//! schema-to-grammar converter handles plain nested schemas best. Recursive types cannot
//! be inlined; their `$ref`s stay, and the branch keeps the `$defs` they need.

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value};

/// The JSON Schema (2020-12) of `T` with every non-recursive subschema inlined and
/// without the `$schema` keyword.
pub fn schema_for<T: JsonSchema>() -> Value {
    let generator = SchemaSettings::draft2020_12()
        .with(|s| s.inline_subschemas = true)
        .into_generator();
    let schema = generator.into_root_schema_for::<T>();
    let mut value = inline_refs(&schema.to_value());
    if let Value::Object(map) = &mut value {
        map.remove("$schema");
    }
    value
}

/// Replaces each local `$ref` (`#/$defs/NAME` or `#/definitions/NAME`) by the definition
/// it names, and drops `$defs`/`definitions` when nothing refers to them any more.
/// References that would recurse are kept, with their definitions.
pub fn inline_refs(schema: &Value) -> Value {
    let defs = collect_defs(schema);
    let mut stack = Vec::new();
    let mut kept_recursive = false;
    let mut out = inline_value(schema, &defs, &mut stack, &mut kept_recursive, true);
    if !kept_recursive && let Value::Object(map) = &mut out {
        map.remove("$defs");
        map.remove("definitions");
    }
    out
}

fn collect_defs(schema: &Value) -> Map<String, Value> {
    let mut defs = Map::new();
    for key in ["definitions", "$defs"] {
        if let Some(Value::Object(map)) = schema.get(key) {
            for (name, def) in map {
                defs.insert(format!("#/{key}/{name}"), def.clone());
            }
        }
    }
    defs
}

fn inline_value(
    value: &Value,
    defs: &Map<String, Value>,
    stack: &mut Vec<String>,
    kept_recursive: &mut bool,
    is_root: bool,
) -> Value {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref")
                && let Some(def) = defs.get(reference)
            {
                if stack.contains(reference) {
                    *kept_recursive = true;
                    return value.clone();
                }
                stack.push(reference.clone());
                let mut inlined = inline_value(def, defs, stack, kept_recursive, false);
                stack.pop();
                // Sibling keywords of `$ref` (e.g. a description) apply too.
                if let Value::Object(target) = &mut inlined {
                    for (key, sibling) in map {
                        if is_root && (key == "$defs" || key == "definitions") {
                            target.insert(key.clone(), sibling.clone());
                        } else if key != "$ref" {
                            target.insert(
                                key.clone(),
                                inline_value(sibling, defs, stack, kept_recursive, false),
                            );
                        }
                    }
                }
                return inlined;
            }
            let mut out = Map::new();
            for (key, child) in map {
                if is_root && (key == "$defs" || key == "definitions") {
                    out.insert(key.clone(), child.clone());
                } else {
                    out.insert(
                        key.clone(),
                        inline_value(child, defs, stack, kept_recursive, false),
                    );
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| inline_value(item, defs, stack, kept_recursive, false))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn refs_are_inlined_and_defs_dropped() {
        let schema = json!({
            "type": "object",
            "properties": {"p": {"$ref": "#/$defs/Point", "description": "where"}},
            "$defs": {"Point": {"type": "object", "properties": {"x": {"type": "number"}}}}
        });
        let out = inline_refs(&schema);
        assert_eq!(
            out,
            json!({
                "type": "object",
                "properties": {"p": {
                    "type": "object",
                    "properties": {"x": {"type": "number"}},
                    "description": "where"
                }}
            })
        );
    }

    #[test]
    fn recursive_refs_are_kept_with_their_defs() {
        let schema = json!({
            "$ref": "#/$defs/Node",
            "$defs": {"Node": {"type": "object", "properties": {
                "next": {"anyOf": [{"$ref": "#/$defs/Node"}, {"type": "null"}]}
            }}}
        });
        let out = inline_refs(&schema);
        assert_eq!(out["type"], "object");
        assert_eq!(
            out["properties"]["next"]["anyOf"][0]["$ref"],
            "#/$defs/Node"
        );
        assert!(out.get("$defs").is_some());
    }
}
