//! [`Label`] and [`Labels`]: answers from a fixed set of labels.

use serde_json::json;

use super::list::{json_array_items, plain_items};
use super::{OutputParser, ParseError, Scoring};
use crate::model::Constraint;

/// Lower case, trimmed of whitespace, quotes and trailing punctuation, inner whitespace
/// collapsed: how a reply and a label are compared.
fn normalize(text: &str) -> String {
    let trimmed = text.trim().trim_matches(|c: char| {
        c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '.' | ',' | ';' | ':' | '!' | '*')
    });
    trimmed
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The label `text` names: an exact match after normalising, else the label mentioned first
/// as a whole word (longest label wins at the same position).
fn find_label(labels: &[String], text: &str) -> Option<String> {
    let reply = normalize(text);
    if let Some(label) = labels.iter().find(|l| normalize(l) == reply) {
        return Some(label.clone());
    }
    let mut best: Option<(usize, usize, &String)> = None;
    for label in labels {
        let needle = normalize(label);
        if needle.is_empty() {
            continue;
        }
        if let Some(position) = whole_word_position(&reply, &needle) {
            let better = match best {
                None => true,
                Some((p, len, _)) => position < p || (position == p && needle.len() > len),
            };
            if better {
                best = Some((position, needle.len(), label));
            }
        }
    }
    best.map(|(_, _, label)| label.clone())
}

fn whole_word_position(haystack: &str, needle: &str) -> Option<usize> {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    haystack.match_indices(needle).map(|(i, _)| i).find(|&i| {
        let before = haystack[..i].chars().next_back();
        let after = haystack[i + needle.len()..].chars().next();
        !before.is_some_and(is_word) && !after.is_some_and(is_word)
    })
}

fn label_list(labels: &[String]) -> String {
    labels.join(", ")
}

/// Exactly one label of a fixed set. Decoding is constrained to the labels; where the backend
/// can score, [`extract_with`](super::extract_with) picks the most probable label by score.
#[derive(Debug, Clone)]
pub struct Label {
    labels: Vec<String>,
}

impl Label {
    /// A parser for one of `labels`.
    pub fn new<I, S>(labels: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            labels: labels.into_iter().map(Into::into).collect(),
        }
    }

    /// The labels.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }
}

impl OutputParser for Label {
    type Output = String;

    fn instructions(&self) -> String {
        format!(
            "Reply with exactly one of these labels and nothing else: {}",
            label_list(&self.labels)
        )
    }

    fn constraint(&self) -> Constraint {
        Constraint::Choice(self.labels.clone())
    }

    fn parse(&self, text: &str) -> Result<String, ParseError> {
        find_label(&self.labels, text).ok_or_else(|| {
            ParseError::new(
                format!("one of the labels {}", label_list(&self.labels)),
                format!("{:?} names none of them", excerpt(text)),
            )
        })
    }

    fn scoring(&self) -> Option<Scoring> {
        Some(Scoring::Single(self.labels.clone()))
    }
}

/// Any number of labels of a fixed set (multi-label). Decoding is constrained to a JSON array
/// of the labels; where the backend can score, each label is kept when its own probability
/// reaches the threshold (default 0.5).
#[derive(Debug, Clone)]
pub struct Labels {
    labels: Vec<String>,
    threshold: f64,
}

impl Labels {
    /// A parser for a subset of `labels`.
    pub fn new<I, S>(labels: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            labels: labels.into_iter().map(Into::into).collect(),
            threshold: 0.5,
        }
    }

    /// The probability a label needs when labels are read from scores.
    pub fn threshold(mut self, threshold: f64) -> Self {
        self.threshold = threshold;
        self
    }
}

impl OutputParser for Labels {
    type Output = Vec<String>;

    fn instructions(&self) -> String {
        format!(
            "Reply with a JSON array of every label that applies (possibly none), chosen from: {}",
            label_list(&self.labels)
        )
    }

    fn constraint(&self) -> Constraint {
        Constraint::JsonSchema(json!({
            "type": "array",
            "items": {"type": "string", "enum": self.labels},
            "maxItems": self.labels.len(),
        }))
    }

    fn parse(&self, text: &str) -> Result<Vec<String>, ParseError> {
        let items = json_array_items(text).unwrap_or_else(|| {
            if matches!(normalize(text).as_str(), "none" | "") {
                Vec::new()
            } else {
                plain_items(text)
            }
        });
        let mut chosen: Vec<String> = Vec::new();
        for item in items {
            let label = find_label(&self.labels, &item).ok_or_else(|| {
                ParseError::new(
                    format!("labels from {}", label_list(&self.labels)),
                    format!("{:?} is not one of them", excerpt(&item)),
                )
            })?;
            if !chosen.contains(&label) {
                chosen.push(label);
            }
        }
        Ok(chosen)
    }

    fn scoring(&self) -> Option<Scoring> {
        Some(Scoring::Multi {
            labels: self.labels.clone(),
            threshold: self.threshold,
        })
    }
}

/// At most 80 characters of `text`, for error messages.
pub(crate) fn excerpt(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(80) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_matches_exact_then_first_mentioned() {
        let label = Label::new(["positive", "negative", "very negative"]);
        assert_eq!(label.parse(" Positive. ").unwrap(), "positive");
        assert_eq!(
            label.parse("I'd say very negative, not positive").unwrap(),
            "very negative"
        );
        assert_eq!(label.parse("**negative**").unwrap(), "negative");
        let e = label.parse("neutral").unwrap_err();
        assert!(e.expected.contains("positive, negative"), "{e}");
        assert!(label.parse("positively").is_err(), "whole words only");
    }

    #[test]
    fn labels_read_arrays_lists_and_none() {
        let labels = Labels::new(["bug", "feature", "docs"]);
        assert_eq!(
            labels.parse(r#"["bug","docs","bug"]"#).unwrap(),
            ["bug", "docs"]
        );
        assert_eq!(labels.parse("Feature, Docs").unwrap(), ["feature", "docs"]);
        assert!(labels.parse("none").unwrap().is_empty());
        assert!(labels.parse("[]").unwrap().is_empty());
        assert!(
            labels
                .parse("bug, security")
                .unwrap_err()
                .detail
                .contains("security")
        );
    }
}
