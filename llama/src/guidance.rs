//! JSON Schema constraints through llguidance (the `llguidance` feature): the schema is
//! compiled by llguidance's own JSON-Schema compiler and enforced by its token-mask
//! sampler, instead of llama.cpp's schema-to-GBNF converter and grammar sampler.

use llama_cpp_2::model::LlamaModel as RawModel;
use llama_cpp_2::sampling::LlamaSampler;
use llguidance::api::TopLevelGrammar;
use llguidance::{Matcher, ParserFactory};
use serde_json::{Value, json};

use agentry_model::ModelError;

/// llguidance's parser factory over one model's vocabulary. Building it walks the whole
/// vocabulary once, so a worker builds it on the first llguidance request and keeps it.
pub struct Guidance {
    factory: ParserFactory,
}

impl Guidance {
    /// The factory for `model`'s vocabulary.
    pub fn new(model: &RawModel) -> Result<Self, ModelError> {
        let env = LlamaSampler::llguidance_tok_env(model);
        let factory =
            ParserFactory::new_simple(&env).map_err(|e| ModelError::InvalidConstraint {
                kind: "json schema",
                detail: format!("llguidance cannot index the vocabulary: {e}"),
            })?;
        Ok(Self { factory })
    }

    /// `n` matchers (one per sample) that hold decoding to `schema`, for
    /// [`TokenConstraint::Guidance`](crate::sampler::TokenConstraint::Guidance).
    ///
    /// # Errors
    /// [`ModelError::InvalidConstraint`] when llguidance cannot compile the schema.
    pub fn matchers(&self, schema: &Value, n: usize) -> Result<Vec<Matcher>, ModelError> {
        let invalid = |detail: String| ModelError::InvalidConstraint {
            kind: "json schema",
            detail: format!("llguidance cannot compile the schema: {detail}"),
        };
        if !(schema.is_object() || schema.is_boolean()) {
            return Err(ModelError::InvalidConstraint {
                kind: "json schema",
                detail: format!("a schema is an object or a boolean, not {schema}"),
            });
        }
        let parser = self
            .factory
            .create_parser(TopLevelGrammar::from_json_schema(strict(schema)))
            .map_err(|e| invalid(e.to_string()))?;
        let matcher = Matcher::new(Ok(parser));
        if let Some(error) = matcher.get_error() {
            return Err(invalid(error));
        }
        Ok((0..n).map(|_| matcher.deep_clone()).collect())
    }
}

/// Whitespace allowed between two JSON tokens: one space, or one or two newlines and an
/// indent of up to 20 spaces or tabs (the same as llama.cpp's schema grammars).
const WHITESPACE: &str = r"\x20|\x0A{1,2}[\x20\x09]{0,20}";

/// The keywords whose value is one subschema.
const SUBSCHEMA: [&str; 8] = [
    "items",
    "additionalProperties",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
];
/// The keywords whose value is a list of subschemas.
const SUBSCHEMA_LISTS: [&str; 4] = ["anyOf", "oneOf", "allOf", "prefixItems"];
/// The keywords whose value maps names to subschemas.
const SUBSCHEMA_MAPS: [&str; 4] = ["properties", "$defs", "definitions", "patternProperties"];

/// `schema` as llguidance should enforce it for a model to fill: as llama.cpp's converter
/// does, an object schema that does not say whether other properties are allowed allows
/// none (output that still validates, without the invented keys a small model adds), and
/// whitespace between tokens is bounded (llguidance otherwise allows any run of it, which
/// a small model can fill until its token limit).
pub fn strict(schema: &Value) -> Value {
    let mut out = schema.clone();
    close_objects(&mut out);
    if let Value::Object(root) = &mut out {
        root.entry("x-guidance")
            .or_insert_with(|| json!({"whitespace_pattern": WHITESPACE}));
    }
    out
}

/// Adds `additionalProperties: false` to every object schema with `properties` that does
/// not say, following subschemas only (never a property that happens to be named like a
/// keyword).
fn close_objects(schema: &mut Value) {
    let Value::Object(map) = schema else {
        return;
    };
    if map.contains_key("properties") && !map.contains_key("additionalProperties") {
        map.insert("additionalProperties".into(), Value::Bool(false));
    }
    for key in SUBSCHEMA {
        if let Some(sub) = map.get_mut(key) {
            close_objects(sub);
        }
    }
    for key in SUBSCHEMA_LISTS {
        if let Some(Value::Array(subs)) = map.get_mut(key) {
            subs.iter_mut().for_each(close_objects);
        }
    }
    for key in SUBSCHEMA_MAPS {
        if let Some(Value::Object(subs)) = map.get_mut(key) {
            subs.values_mut().for_each(close_objects);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_objects_are_closed_and_keyword_named_properties_stay_properties() {
        let schema = json!({
            "type": "object",
            "properties": {
                "properties": {"type": "object", "properties": {"a": {"type": "string"}}},
                "items": {"type": "array", "items": {"type": "object", "properties": {"b": {}}}},
                "open": {"type": "object", "properties": {}, "additionalProperties": true}
            },
            "$defs": {"Node": {"anyOf": [{"type": "object", "properties": {"c": {}}}, {"type": "null"}]}}
        });
        let strict = strict(&schema);
        assert_eq!(strict["additionalProperties"], false);
        let props = &strict["properties"];
        assert!(props.get("additionalProperties").is_none(), "{props}");
        assert_eq!(props["properties"]["additionalProperties"], false);
        assert_eq!(props["items"]["items"]["additionalProperties"], false);
        assert_eq!(props["open"]["additionalProperties"], true);
        assert_eq!(
            strict["$defs"]["Node"]["anyOf"][0]["additionalProperties"],
            false
        );
        assert_eq!(strict["x-guidance"]["whitespace_pattern"], WHITESPACE);
        // A schema that is not an object is left as it is.
        assert_eq!(super::strict(&json!(true)), json!(true));
    }
}
