//! [`Regex`]: text matching a regular expression, with its capture groups.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::label::excerpt;
use super::{OutputParser, ParseError};
use crate::model::Constraint;

/// A regular-expression match: the matched text and its groups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegexMatch {
    /// The whole match.
    pub text: String,
    /// Capture groups by index (group 1 first); `None` for a group that did not take part.
    pub groups: Vec<Option<String>>,
    /// Named capture groups that took part.
    pub named: BTreeMap<String, String>,
}

/// Text matching a regular expression (Rust `regex` syntax).
///
/// Decoding is constrained to the pattern (a JSON string whose content matches the whole
/// pattern) unless it uses syntax that schema-to-grammar converters do not translate
/// faithfully (group flags and names, lookaround, word boundaries, Unicode classes); a
/// backend that still cannot compile the pattern decodes freely. Either way parsing enforces
/// the pattern ([`Regex::is_constrained`] says whether the backend is asked to).
#[derive(Debug, Clone)]
pub struct Regex {
    regex: regex::Regex,
    constraint: Constraint,
}

impl Regex {
    /// A parser for `pattern`; an invalid pattern is an error that says why.
    pub fn new(pattern: &str) -> Result<Self, ParseError> {
        let regex = regex::Regex::new(pattern)
            .map_err(|e| ParseError::new("a valid regular expression", e.to_string()))?;
        let anchored = format!(
            "^{}$",
            if pattern.starts_with('^') && pattern.ends_with('$') {
                pattern[1..pattern.len() - 1].to_owned()
            } else {
                format!("({pattern})")
            }
        );
        let schema = Constraint::JsonSchema(json!({"type": "string", "pattern": anchored}));
        let constraint = if uses_unsupported_syntax(pattern) {
            Constraint::None
        } else {
            schema
        };
        Ok(Self { regex, constraint })
    }

    /// Whether decoding is constrained to the pattern.
    pub fn is_constrained(&self) -> bool {
        self.constraint != Constraint::None
    }
}

/// Syntax that llama.cpp's converter does not translate faithfully: group flags and names,
/// lookaround, word boundaries, Unicode classes and anchors other than `^`/`$`.
fn uses_unsupported_syntax(pattern: &str) -> bool {
    ["(?", "\\b", "\\B", "\\p", "\\P", "\\A", "\\z"]
        .iter()
        .any(|s| pattern.contains(s))
}

impl OutputParser for Regex {
    type Output = RegexMatch;

    fn instructions(&self) -> String {
        format!(
            "Reply with text matching this regular expression: {}",
            self.regex.as_str()
        )
    }

    fn constraint(&self) -> Constraint {
        self.constraint.clone()
    }

    fn constraint_is_a_hint(&self) -> bool {
        true
    }

    fn parse(&self, text: &str) -> Result<RegexMatch, ParseError> {
        // A constrained reply is a JSON string; its content is what must match.
        let decoded = serde_json::from_str::<String>(text.trim()).ok();
        let subject = decoded.as_deref().unwrap_or(text);
        let captures = self.regex.captures(subject).ok_or_else(|| {
            ParseError::new(
                format!("text matching /{}/", self.regex.as_str()),
                format!("{:?} does not match", excerpt(subject)),
            )
        })?;
        let groups = captures
            .iter()
            .skip(1)
            .map(|g| g.map(|m| m.as_str().to_owned()))
            .collect();
        let named = self
            .regex
            .capture_names()
            .flatten()
            .filter_map(|name| Some((name.to_owned(), captures.name(name)?.as_str().to_owned())))
            .collect();
        Ok(RegexMatch {
            text: captures
                .get(0)
                .map(|m| m.as_str().to_owned())
                .unwrap_or_default(),
            groups,
            named,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_groups_from_plain_and_json_string_replies() {
        let parser = Regex::new(r"(?P<h>\d{2}):(\d{2})").unwrap();
        let m = parser.parse("at 09:45 sharp").unwrap();
        assert_eq!(m.text, "09:45");
        assert_eq!(m.groups, [Some("09".to_owned()), Some("45".to_owned())]);
        assert_eq!(m.named["h"], "09");
        assert_eq!(parser.parse("\"10:30\"").unwrap().text, "10:30");
        assert!(
            parser
                .parse("noon")
                .unwrap_err()
                .detail
                .contains("does not match")
        );
    }

    #[test]
    fn simple_patterns_constrain_and_bad_patterns_are_errors() {
        assert!(Regex::new(r"[A-Z]{3}-[0-9]+").unwrap().is_constrained());
        assert!(!Regex::new(r"(?P<h>[0-9]+)").unwrap().is_constrained());
        assert!(!Regex::new(r"\bword\b").unwrap().is_constrained());
        let e = Regex::new("(unclosed").unwrap_err();
        assert!(e.expected.contains("regular expression"));
    }
}
