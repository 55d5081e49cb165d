//! BFCL's function documents as tools: its types become JSON Schema ([`to_json_schema`])
//! and names that are not valid tool names (`math.factorial`) are mapped to valid ones and
//! back ([`ToolNames`]).

use std::collections::HashMap;

use agentry_tools::is_valid_tool_name;
use serde_json::{Map, Value, json};

/// BFCL's parameter schema as JSON Schema: `dict` → `object`, `float` → `number`,
/// `tuple` → `array`, `any` → no type; `properties`, `items` and `additionalProperties`
/// are converted recursively; `description`, `enum` and `required` are kept; other keys
/// (`default`, `format`, `optional`) are dropped.
pub fn to_json_schema(bfcl: &Value) -> Value {
    let Value::Object(source) = bfcl else {
        return json!({});
    };
    let mut out = Map::new();
    if let Some(kind) = source.get("type").and_then(Value::as_str) {
        let kind = match kind {
            "dict" | "object" => Some("object"),
            "float" | "number" => Some("number"),
            "tuple" | "array" | "list" => Some("array"),
            "integer" => Some("integer"),
            "boolean" => Some("boolean"),
            "string" => Some("string"),
            _ => None, // `any`, and anything unknown: no constraint on the type
        };
        if let Some(kind) = kind {
            out.insert("type".into(), json!(kind));
        }
    }
    if let Some(text) = source.get("description").and_then(Value::as_str) {
        out.insert("description".into(), json!(text));
    }
    if let Some(values) = source.get("enum").and_then(Value::as_array) {
        out.insert("enum".into(), Value::Array(values.clone()));
    }
    if let Some(Value::Object(properties)) = source.get("properties") {
        let converted: Map<String, Value> = properties
            .iter()
            .map(|(name, schema)| (name.clone(), to_json_schema(schema)))
            .collect();
        out.insert("properties".into(), Value::Object(converted));
        let required: Vec<Value> = source
            .get("required")
            .and_then(Value::as_array)
            .map(|r| {
                r.iter()
                    .filter(|name| name.as_str().is_some_and(|n| properties.contains_key(n)))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        out.insert("required".into(), Value::Array(required));
    }
    if let Some(items) = source.get("items") {
        out.insert("items".into(), to_json_schema(items));
    }
    if let Some(extra @ Value::Object(_)) = source.get("additionalProperties") {
        out.insert("additionalProperties".into(), to_json_schema(extra));
    }
    Value::Object(out)
}

/// A two-way map between BFCL function names and valid tool names
/// (`^[a-zA-Z0-9_-]{1,64}$`): every other character becomes `_`, long names are cut, and
/// a clash gets a numbered suffix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolNames {
    to_tool: HashMap<String, String>,
    to_function: HashMap<String, String>,
}

impl ToolNames {
    /// The map for these function names.
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let mut map = Self::default();
        for name in names {
            if map.to_tool.contains_key(name) {
                continue;
            }
            let base: String = name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                        c
                    } else {
                        '_'
                    }
                })
                .take(60)
                .collect();
            let base = if base.is_empty() {
                "f".to_owned()
            } else {
                base
            };
            let mut tool = base.clone();
            let mut n = 2;
            while map.to_function.contains_key(&tool) {
                tool = format!("{base}_{n}");
                n += 1;
            }
            debug_assert!(is_valid_tool_name(&tool));
            map.to_tool.insert(name.to_owned(), tool.clone());
            map.to_function.insert(tool, name.to_owned());
        }
        map
    }

    /// The tool name of a function (the name itself when it is unknown).
    pub fn tool<'a>(&'a self, function: &'a str) -> &'a str {
        self.to_tool.get(function).map_or(function, String::as_str)
    }

    /// The function name of a tool (the name itself when it is unknown).
    pub fn function<'a>(&'a self, tool: &'a str) -> &'a str {
        self.to_function.get(tool).map_or(tool, String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bfcl_types_become_json_schema() {
        let bfcl = json!({
            "type": "dict",
            "properties": {
                "ratio": {"type": "float", "description": "a ratio", "default": 0.5},
                "point": {"type": "tuple", "items": {"type": "float"}},
                "anything": {"type": "any"},
                "options": {"type": "dict", "properties": {"deep": {"type": "boolean"}}, "required": ["deep"]},
                "mode": {"type": "string", "enum": ["a", "b"], "format": "date"}
            },
            "required": ["ratio", "ghost"]
        });
        let schema = to_json_schema(&bfcl);
        assert_eq!(schema["type"], "object");
        assert_eq!(
            schema["properties"]["ratio"],
            json!({"type": "number", "description": "a ratio"})
        );
        assert_eq!(
            schema["properties"]["point"],
            json!({"type": "array", "items": {"type": "number"}})
        );
        assert_eq!(schema["properties"]["anything"], json!({}));
        assert_eq!(schema["properties"]["options"]["type"], "object");
        assert_eq!(
            schema["properties"]["options"]["properties"]["deep"]["type"],
            "boolean"
        );
        assert_eq!(schema["properties"]["options"]["required"], json!(["deep"]));
        assert_eq!(
            schema["properties"]["mode"],
            json!({"type": "string", "enum": ["a", "b"]})
        );
        // A required name that is no property is dropped (the schema would be unsatisfiable).
        assert_eq!(schema["required"], json!(["ratio"]));
    }

    #[test]
    fn dotted_names_map_to_valid_tool_names_and_back() {
        let names = ToolNames::new(["math.factorial", "math_factorial", "plain", "a b/c"]);
        let tool = names.tool("math.factorial");
        assert!(is_valid_tool_name(tool), "{tool}");
        assert_eq!(names.function(tool), "math.factorial");
        // The clash with an existing name gets its own tool name.
        let other = names.tool("math_factorial");
        assert_ne!(tool, other);
        assert_eq!(names.function(other), "math_factorial");
        assert_eq!(names.tool("plain"), "plain");
        assert!(is_valid_tool_name(names.tool("a b/c")));
        assert_eq!(names.function(names.tool("a b/c")), "a b/c");
        let long = "x.".repeat(50);
        let names = ToolNames::new([long.as_str()]);
        assert!(is_valid_tool_name(names.tool(&long)));
        assert_eq!(names.function(names.tool(&long)), long);
    }
}
