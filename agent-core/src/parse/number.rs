//! [`Number`]: a number.

use std::sync::LazyLock;

use super::label::excerpt;
use super::{OutputParser, ParseError};
use crate::model::Constraint;
use crate::model::constraint::NUMBER_GRAMMAR;

/// A number in text: optional sign, digits with optional thousands separators, optional
/// fraction and exponent.
static NUMBER: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?(?:[eE][-+]?\d+)?")
        .unwrap_or_else(|e| unreachable!("the number pattern is valid: {e}"))
});

/// A number (`f64`). Decoding is constrained to a number; parsing reads the first number in
/// the text ("about 1,234.5 km" → 1234.5).
#[derive(Debug, Clone, Copy, Default)]
pub struct Number;

impl OutputParser for Number {
    type Output = f64;

    fn instructions(&self) -> String {
        "Reply with the number only.".into()
    }

    fn constraint(&self) -> Constraint {
        Constraint::Grammar(NUMBER_GRAMMAR.into())
    }

    fn parse(&self, text: &str) -> Result<f64, ParseError> {
        NUMBER
            .find_iter(text)
            .filter(|m| m.as_str().bytes().any(|b| b.is_ascii_digit()))
            .find_map(|m| m.as_str().replace(',', "").parse::<f64>().ok())
            .filter(|n| n.is_finite())
            .ok_or_else(|| {
                ParseError::new("a number", format!("{:?} contains none", excerpt(text)))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_first_number() {
        assert_eq!(Number.parse("42").unwrap(), 42.0);
        assert_eq!(Number.parse("about 1,234.5 km").unwrap(), 1234.5);
        assert_eq!(Number.parse("it is -3e2.").unwrap(), -300.0);
        assert_eq!(Number.parse("x = .5").unwrap(), 0.5);
        assert!(Number.parse("no digits").is_err());
        assert!(Number.parse("1e999").is_err());
    }
}
