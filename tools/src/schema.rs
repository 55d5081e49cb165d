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
///
/// The result can be exponentially larger than `schema` (a chain of definitions that each
/// refer to the next twice); for a schema from outside use [`inline_refs_bounded`].
pub fn inline_refs(schema: &Value) -> Value {
    inline_refs_bounded(schema, usize::MAX).unwrap_or_else(|_| schema.clone())
}

/// A schema whose `$ref`s, inlined, would exceed a size bound.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the schema grows past {limit} JSON values when its `$ref`s are inlined \
     (definitions that refer to each other many times?)"
)]
pub struct SchemaTooLarge {
    /// The bound that was reached: the number of JSON values (objects, arrays, strings,
    /// numbers, ...) in the inlined schema.
    pub limit: usize,
}

/// Like [`inline_refs`], but gives up as soon as the inlined schema holds more than
/// `max_values` JSON values, so that a hostile schema costs at most that much work.
///
/// # Errors
/// [`SchemaTooLarge`] when the bound is reached.
pub fn inline_refs_bounded(schema: &Value, max_values: usize) -> Result<Value, SchemaTooLarge> {
    let mut inliner = Inliner {
        defs: collect_defs(schema),
        stack: Vec::new(),
        kept_recursive: false,
        left: max_values,
    };
    let mut out = inliner.inline(schema, true);
    if inliner.left == 0 {
        return Err(SchemaTooLarge { limit: max_values });
    }
    if !inliner.kept_recursive
        && let Value::Object(map) = &mut out
    {
        map.remove("$defs");
        map.remove("definitions");
    }
    Ok(out)
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

struct Inliner {
    defs: Map<String, Value>,
    stack: Vec<String>,
    kept_recursive: bool,
    /// How many more values the output may hold; at 0 the inlining stops.
    left: usize,
}

impl Inliner {
    /// Counts one output value; false once the budget is spent.
    fn count(&mut self, n: usize) -> bool {
        self.left = self.left.saturating_sub(n);
        self.left > 0
    }

    fn inline(&mut self, value: &Value, is_root: bool) -> Value {
        if !self.count(1) {
            return Value::Null;
        }
        match value {
            Value::Object(map) => {
                if let Some(Value::String(reference)) = map.get("$ref")
                    && let Some(def) = self.defs.get(reference).cloned()
                {
                    if self.stack.contains(reference) {
                        self.kept_recursive = true;
                        return value.clone();
                    }
                    self.stack.push(reference.clone());
                    let mut inlined = self.inline(&def, false);
                    self.stack.pop();
                    // Sibling keywords of `$ref` (e.g. a description) apply too.
                    if let Value::Object(target) = &mut inlined {
                        for (key, sibling) in map {
                            if is_root && (key == "$defs" || key == "definitions") {
                                target.insert(key.clone(), sibling.clone());
                            } else if key != "$ref" {
                                let child = self.inline(sibling, false);
                                target.insert(key.clone(), child);
                            }
                        }
                    }
                    return inlined;
                }
                let mut out = Map::new();
                for (key, child) in map {
                    if self.left == 0 {
                        break;
                    }
                    if is_root && (key == "$defs" || key == "definitions") {
                        out.insert(key.clone(), child.clone());
                    } else {
                        let child = self.inline(child, false);
                        out.insert(key.clone(), child);
                    }
                }
                Value::Object(out)
            }
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len().min(self.left));
                for item in items {
                    if self.left == 0 {
                        break;
                    }
                    out.push(self.inline(item, false));
                }
                Value::Array(out)
            }
            other => other.clone(),
        }
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

    /// A chain of definitions that each refer to the next twice doubles at every link.
    fn doubling_chain(links: usize) -> Value {
        let mut defs = Map::new();
        for i in 0..links {
            let next = json!({"$ref": format!("#/$defs/d{}", i + 1)});
            defs.insert(
                format!("d{i}"),
                json!({"type": "object", "properties": {"l": next.clone(), "r": next}}),
            );
        }
        defs.insert(format!("d{links}"), json!({"type": "string"}));
        json!({"$ref": "#/$defs/d0", "$defs": defs})
    }

    #[test]
    fn an_exponential_schema_is_refused_not_expanded() {
        let error = inline_refs_bounded(&doubling_chain(40), 10_000).err();
        assert_eq!(error, Some(SchemaTooLarge { limit: 10_000 }));
        // A short chain fits and is inlined in full.
        let small = inline_refs_bounded(&doubling_chain(2), 10_000).expect("fits");
        assert_eq!(
            small["properties"]["r"]["properties"]["l"]["type"],
            "string"
        );
        assert!(small.get("$defs").is_none());
    }
}
