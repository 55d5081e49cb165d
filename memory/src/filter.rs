//! Our own payload filter, mapped to each backend by the stores.
//!
//! A [`Filter`] is three lists of [`Condition`]s: all of `must` hold, at least
//! one of `should` holds (when it is not empty), none of `must_not` holds.

use serde_json::{Value, json};

/// A boolean combination of payload conditions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// Every one of these must hold.
    pub must: Vec<Condition>,
    /// At least one of these must hold, when the list is not empty.
    pub should: Vec<Condition>,
    /// None of these may hold.
    pub must_not: Vec<Condition>,
}

/// One condition on a payload field.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// The keyword field equals the value.
    Keyword {
        /// Payload key.
        key: String,
        /// Exact value.
        value: String,
    },
    /// The keyword field equals one of the values.
    AnyKeyword {
        /// Payload key.
        key: String,
        /// Accepted values.
        values: Vec<String>,
    },
    /// The integer field equals the value.
    Integer {
        /// Payload key.
        key: String,
        /// Exact value.
        value: i64,
    },
    /// The numeric field lies in the range.
    Range {
        /// Payload key.
        key: String,
        /// The bounds.
        range: Range,
    },
    /// The full-text field contains every word of the text.
    Text {
        /// Payload key.
        key: String,
        /// Words that must all occur.
        text: String,
    },
    /// A nested filter.
    Nested(Box<Filter>),
}

/// Numeric bounds; `None` means unbounded on that side.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Range {
    /// Greater than.
    pub gt: Option<f64>,
    /// Greater than or equal.
    pub gte: Option<f64>,
    /// Less than.
    pub lt: Option<f64>,
    /// Less than or equal.
    pub lte: Option<f64>,
}

impl Filter {
    /// A filter that only holds when `condition` holds.
    pub fn must(condition: Condition) -> Self {
        Self::default().and(condition)
    }

    /// Adds a `must` condition.
    pub fn and(mut self, condition: Condition) -> Self {
        self.must.push(condition);
        self
    }

    /// Adds a `should` condition.
    pub fn or(mut self, condition: Condition) -> Self {
        self.should.push(condition);
        self
    }

    /// Adds a `must_not` condition.
    pub fn and_not(mut self, condition: Condition) -> Self {
        self.must_not.push(condition);
        self
    }

    /// Merges another filter's conditions into this one (all must hold).
    pub fn merge(mut self, other: Filter) -> Self {
        if other.should.is_empty() {
            self.must.extend(other.must);
            self.must_not.extend(other.must_not);
        } else {
            self.must.push(Condition::Nested(Box::new(other)));
        }
        self
    }

    /// The filter in Qdrant's REST/JSON filter form, which Qdrant Edge's
    /// `Filter` deserialises from.
    pub fn to_qdrant_json(&self) -> Value {
        let list = |conds: &[Condition]| {
            Value::Array(conds.iter().map(Condition::to_qdrant_json).collect())
        };
        let mut obj = serde_json::Map::new();
        if !self.must.is_empty() {
            obj.insert("must".into(), list(&self.must));
        }
        if !self.should.is_empty() {
            obj.insert("should".into(), list(&self.should));
        }
        if !self.must_not.is_empty() {
            obj.insert("must_not".into(), list(&self.must_not));
        }
        Value::Object(obj)
    }
}

impl Condition {
    /// `key == value` on a keyword field.
    pub fn keyword(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self::Keyword {
            key: key.into(),
            value: value.into(),
        }
    }

    /// `key` is one of `values`.
    pub fn any_keyword<I, S>(key: impl Into<String>, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::AnyKeyword {
            key: key.into(),
            values: values.into_iter().map(Into::into).collect(),
        }
    }

    /// `key == value` on an integer field.
    pub fn integer(key: impl Into<String>, value: i64) -> Self {
        Self::Integer {
            key: key.into(),
            value,
        }
    }

    /// `key` lies within `range`.
    pub fn range(key: impl Into<String>, range: Range) -> Self {
        Self::Range {
            key: key.into(),
            range,
        }
    }

    /// The text field `key` contains every word of `text`.
    pub fn text(key: impl Into<String>, text: impl Into<String>) -> Self {
        Self::Text {
            key: key.into(),
            text: text.into(),
        }
    }

    fn to_qdrant_json(&self) -> Value {
        match self {
            Self::Keyword { key, value } => json!({ "key": key, "match": { "value": value } }),
            Self::AnyKeyword { key, values } => json!({ "key": key, "match": { "any": values } }),
            Self::Integer { key, value } => json!({ "key": key, "match": { "value": value } }),
            Self::Range { key, range } => {
                let mut r = serde_json::Map::new();
                for (name, bound) in [
                    ("gt", range.gt),
                    ("gte", range.gte),
                    ("lt", range.lt),
                    ("lte", range.lte),
                ] {
                    if let Some(b) = bound {
                        r.insert(name.into(), json!(b));
                    }
                }
                json!({ "key": key, "range": Value::Object(r) })
            }
            Self::Text { key, text } => json!({ "key": key, "match": { "text": text } }),
            Self::Nested(filter) => filter.to_qdrant_json(),
        }
    }
}

impl Range {
    /// `>= value`.
    pub fn gte(value: f64) -> Self {
        Self {
            gte: Some(value),
            ..Self::default()
        }
    }

    /// `<= value`.
    pub fn lte(value: f64) -> Self {
        Self {
            lte: Some(value),
            ..Self::default()
        }
    }

    /// `low <= x <= high`.
    pub fn between(low: f64, high: f64) -> Self {
        Self {
            gte: Some(low),
            lte: Some(high),
            ..Self::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_maps_to_qdrant_json() {
        let f = Filter::must(Condition::keyword("kind", "semantic"))
            .and(Condition::range("ts", Range::gte(3.0)))
            .and_not(Condition::text("text", "secret"));
        assert_eq!(
            f.to_qdrant_json(),
            json!({
                "must": [
                    {"key": "kind", "match": {"value": "semantic"}},
                    {"key": "ts", "range": {"gte": 3.0}}
                ],
                "must_not": [{"key": "text", "match": {"text": "secret"}}]
            })
        );
    }
}
