//! [`Json<T>`]: any deserialisable type with a JSON Schema.

use std::marker::PhantomData;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::json_text::json_candidates;
use super::{OutputParser, ParseError};
use crate::model::Constraint;

/// The self-contained JSON Schema of `T` (references inlined, no `$schema`), as used for
/// decoding constraints.
pub fn schema_of<T: JsonSchema>() -> Value {
    agentry_tools::schema::schema_for::<T>()
}

/// Parses a `T` from JSON; `T`'s schema constrains decoding.
///
/// Tolerant: besides plain JSON it reads the first fenced code block or balanced JSON span
/// that deserialises into `T`, so it also works with backends that cannot constrain.
pub struct Json<T> {
    schema: Value,
    name: String,
    _type: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned + JsonSchema> Json<T> {
    /// A parser for `T`.
    pub fn new() -> Self {
        Self {
            schema: schema_of::<T>(),
            name: T::schema_name().into_owned(),
            _type: PhantomData,
        }
    }

    /// A parser whose answers must match `schema` instead of `T`'s own schema (use with
    /// `T = serde_json::Value` for shapes known only at run time).
    pub fn with_schema(schema: Value) -> Self {
        Self {
            schema,
            name: T::schema_name().into_owned(),
            _type: PhantomData,
        }
    }
}

impl<T: DeserializeOwned + JsonSchema> Default for Json<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Json<T> {
    /// The schema the output must match.
    pub fn schema(&self) -> &Value {
        &self.schema
    }
}

impl<T: DeserializeOwned + JsonSchema + Send> OutputParser for Json<T> {
    type Output = T;

    fn instructions(&self) -> String {
        format!(
            "Reply with JSON only, matching this JSON Schema: {}",
            self.schema
        )
    }

    fn constraint(&self) -> Constraint {
        Constraint::JsonSchema(self.schema.clone())
    }

    fn parse(&self, text: &str) -> Result<T, ParseError> {
        parse_json(text, &self.name)
    }
}

/// Reads a `T` from the first JSON candidate in `text` that deserialises. The error prefers a
/// candidate that is valid JSON but the wrong shape ("missing field `x`"), as that tells the
/// model most.
pub(crate) fn parse_json<T: DeserializeOwned>(
    text: &str,
    type_name: &str,
) -> Result<T, ParseError> {
    let expected = || format!("a JSON value of type `{type_name}`");
    let mut shape_error = None;
    let mut syntax_error = None;
    for candidate in json_candidates(text) {
        match serde_json::from_str::<Value>(candidate) {
            Ok(value) => match serde_json::from_value::<T>(value) {
                Ok(parsed) => return Ok(parsed),
                Err(e) => {
                    shape_error.get_or_insert_with(|| e.to_string());
                }
            },
            Err(e) => {
                syntax_error.get_or_insert_with(|| format!("invalid JSON: {e}"));
            }
        }
    }
    let detail = shape_error
        .or(syntax_error)
        .unwrap_or_else(|| "the reply is empty".to_owned());
    Err(ParseError::new(expected(), detail))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Deserialize, JsonSchema)]
    struct Point {
        x: i32,
        y: i32,
    }

    #[test]
    fn reads_plain_fenced_and_wrapped_json() {
        let parser = Json::<Point>::new();
        let want = Point { x: 1, y: -2 };
        assert_eq!(parser.parse(r#"{"x":1,"y":-2}"#).unwrap(), want);
        assert_eq!(
            parser
                .parse("Here:\n```json\n{\"x\": 1, \"y\": -2}\n```")
                .unwrap(),
            want
        );
        assert_eq!(
            parser
                .parse(r#"I think {"note": "no"} then {"x": 1, "y": -2}."#)
                .unwrap(),
            want
        );
    }

    #[test]
    fn errors_name_the_problem() {
        let parser = Json::<Point>::new();
        let e = parser.parse(r#"{"x": 1}"#).unwrap_err();
        assert!(e.detail.contains("missing field `y`"), "{e}");
        assert!(e.expected.contains("Point"));
        let e = parser.parse("no json here").unwrap_err();
        assert!(e.detail.contains("invalid JSON"), "{e}");
        let e = parser.parse("   ").unwrap_err();
        assert_eq!(e.detail, "the reply is empty");
    }

    #[test]
    fn schema_is_the_constraint() {
        let parser = Json::<Point>::new();
        let Constraint::JsonSchema(schema) = parser.constraint() else {
            panic!("not a schema constraint");
        };
        assert_eq!(schema["required"], serde_json::json!(["x", "y"]));
        assert!(schema.get("$schema").is_none());
    }
}
