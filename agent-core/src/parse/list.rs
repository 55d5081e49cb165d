//! [`List`]: a list of strings.

use serde_json::{Value, json};

use super::json_text::json_candidates;
use super::{OutputParser, ParseError};
use crate::model::Constraint;

/// A list of strings. Decoding is constrained to a JSON array of strings; parsing also accepts
/// bulleted or numbered lines and a single comma-separated line.
#[derive(Debug, Clone, Default)]
pub struct List {
    min_items: Option<usize>,
    max_items: Option<usize>,
}

impl List {
    /// Any number of items.
    pub fn new() -> Self {
        Self::default()
    }

    /// At least `min` items.
    pub fn min_items(mut self, min: usize) -> Self {
        self.min_items = Some(min);
        self
    }

    /// At most `max` items.
    pub fn max_items(mut self, max: usize) -> Self {
        self.max_items = Some(max);
        self
    }

    fn schema(&self) -> Value {
        let mut schema = json!({"type": "array", "items": {"type": "string"}});
        if let Some(min) = self.min_items {
            schema["minItems"] = json!(min);
        }
        if let Some(max) = self.max_items {
            schema["maxItems"] = json!(max);
        }
        schema
    }

    fn check_count(&self, items: Vec<String>) -> Result<Vec<String>, ParseError> {
        let n = items.len();
        if let Some(min) = self.min_items
            && n < min
        {
            return Err(ParseError::new(
                format!("at least {min} items"),
                format!("found {n}"),
            ));
        }
        if let Some(max) = self.max_items
            && n > max
        {
            return Err(ParseError::new(
                format!("at most {max} items"),
                format!("found {n}"),
            ));
        }
        Ok(items)
    }
}

/// The items of a JSON array in `text`, scalars rendered as text; `None` if there is no array.
pub(crate) fn json_array_items(text: &str) -> Option<Vec<String>> {
    json_candidates(text).into_iter().find_map(|candidate| {
        match serde_json::from_str::<Value>(candidate).ok()? {
            Value::Array(items) => Some(
                items
                    .into_iter()
                    .map(|item| match item {
                        Value::String(s) => s.trim().to_owned(),
                        other => other.to_string(),
                    })
                    .filter(|s| !s.is_empty())
                    .collect(),
            ),
            _ => None,
        }
    })
}

/// Items written as lines (bullets and numbering removed) or, on a single line, separated by
/// commas or semicolons.
pub(crate) fn plain_items(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let pieces: Vec<&str> = if lines.len() == 1 {
        lines[0].split([',', ';']).collect()
    } else {
        lines
    };
    pieces
        .into_iter()
        .map(strip_marker)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Removes a leading bullet (`-`, `*`, `•`) or number (`1.`, `2)`) and surrounding quotes.
fn strip_marker(item: &str) -> &str {
    let item = item.trim();
    let item = match item.strip_prefix(['-', '*', '•']) {
        Some(rest) if rest.starts_with(char::is_whitespace) => rest.trim_start(),
        _ => item,
    };
    let digits = item.bytes().take_while(u8::is_ascii_digit).count();
    let numbered = digits > 0
        && matches!(item.as_bytes().get(digits), Some(b'.') | Some(b')'))
        && item[digits + 1..].starts_with(char::is_whitespace);
    let item = if numbered {
        item[digits + 1..].trim_start()
    } else {
        item
    };
    item.trim_matches(|c| c == '"' || c == '\'').trim()
}

impl OutputParser for List {
    type Output = Vec<String>;

    fn instructions(&self) -> String {
        "Reply with a JSON array of strings, one item per element.".into()
    }

    fn constraint(&self) -> Constraint {
        Constraint::JsonSchema(self.schema())
    }

    fn parse(&self, text: &str) -> Result<Vec<String>, ParseError> {
        let items = json_array_items(text).unwrap_or_else(|| plain_items(text));
        if items.is_empty() && self.min_items.unwrap_or(1) > 0 {
            return Err(ParseError::new("a list of items", "no items found"));
        }
        self.check_count(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_json_bullets_numbers_and_commas() {
        let list = List::new();
        assert_eq!(list.parse(r#"["a", "b"]"#).unwrap(), ["a", "b"]);
        assert_eq!(
            list.parse("- apples\n* pears\n• figs").unwrap(),
            ["apples", "pears", "figs"]
        );
        assert_eq!(list.parse("1. one\n2) two").unwrap(), ["one", "two"]);
        assert_eq!(
            list.parse("red, green; blue").unwrap(),
            ["red", "green", "blue"]
        );
        assert_eq!(list.parse("Items: [1, 2]").unwrap(), ["1", "2"]);
        assert_eq!(list.parse("-5\n1.5").unwrap(), ["-5", "1.5"]);
    }

    #[test]
    fn counts_are_checked() {
        let list = List::new().min_items(2).max_items(3);
        assert!(
            list.parse("[\"a\"]")
                .unwrap_err()
                .expected
                .contains("at least 2")
        );
        assert!(
            list.parse("a,b,c,d")
                .unwrap_err()
                .expected
                .contains("at most 3")
        );
        assert!(List::new().parse("").is_err());
        assert_eq!(
            List::new().min_items(0).parse("[]").unwrap(),
            Vec::<String>::new()
        );
        let Constraint::JsonSchema(schema) = list.constraint() else {
            panic!("not a schema");
        };
        assert_eq!(schema["maxItems"], 3);
    }
}
