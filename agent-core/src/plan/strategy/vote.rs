//! Majority voting over answers in normalised form.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// The form in which two answers are compared: strings trimmed, lower-cased, inner whitespace
/// collapsed and trailing punctuation removed; numbers as `f64` rounded to 9 decimals (so `4`,
/// `4.0` and `"4"` agree); object keys sorted; arrays element-wise.
pub fn normalize(value: &Value) -> Value {
    match value {
        Value::String(s) => {
            let cleaned = s
                .trim()
                .trim_end_matches(['.', '!', ';', ','])
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase();
            match cleaned.replace(',', "").parse::<f64>() {
                Ok(n) if n.is_finite() && cleaned.bytes().any(|b| b.is_ascii_digit()) => number(n),
                _ => Value::String(cleaned),
            }
        }
        Value::Number(n) => n.as_f64().map(number).unwrap_or_else(|| value.clone()),
        Value::Array(items) => Value::Array(items.iter().map(normalize).collect()),
        Value::Object(map) => {
            let sorted: BTreeMap<&String, Value> =
                map.iter().map(|(k, v)| (k, normalize(v))).collect();
            Value::Object(
                sorted
                    .into_iter()
                    .map(|(k, v)| (k.clone(), v))
                    .collect::<Map<String, Value>>(),
            )
        }
        other => other.clone(),
    }
}

fn number(n: f64) -> Value {
    let rounded = (n * 1e9).round() / 1e9;
    serde_json::Number::from_f64(rounded)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// The winner of a vote over normalised answers (`None` entries are samples that did not
/// parse): `(index of the first sample with the winning answer, votes)`. Ties go to the answer
/// seen first.
pub fn majority(keys: &[Option<String>]) -> Option<(usize, usize)> {
    let mut counts: Vec<(usize, &String, usize)> = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let Some(key) = key else { continue };
        match counts.iter_mut().find(|(_, k, _)| *k == key) {
            Some(entry) => entry.2 += 1,
            None => counts.push((i, key, 1)),
        }
    }
    counts.into_iter().fold(
        None,
        |best: Option<(usize, usize)>, (first, _, votes)| match best {
            Some((_, best_votes)) if best_votes >= votes => best,
            _ => Some((first, votes)),
        },
    )
}

/// The canonical text of a normalised answer, used as the vote key.
pub fn vote_key(value: &Value) -> String {
    normalize(value).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn equal_answers_in_different_forms_share_a_key() {
        assert_eq!(vote_key(&json!(4)), vote_key(&json!(4.0)));
        assert_eq!(vote_key(&json!(" 4 ")), vote_key(&json!(4)));
        assert_eq!(vote_key(&json!("Paris.")), vote_key(&json!("paris")));
        assert_eq!(
            vote_key(&json!({"b": 1, "a": "X  y"})),
            vote_key(&json!({"a": "x y", "b": 1.0}))
        );
        assert_ne!(vote_key(&json!("4")), vote_key(&json!("5")));
    }

    #[test]
    fn majority_counts_and_breaks_ties_by_first_seen() {
        let k = |s: &str| Some(s.to_owned());
        assert_eq!(majority(&[k("a"), k("b"), k("b"), None]), Some((1, 2)));
        assert_eq!(majority(&[k("a"), k("b")]), Some((0, 1)));
        assert_eq!(majority(&[None, None]), None);
    }
}
