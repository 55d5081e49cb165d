//! Exact rational numbers ([`Rational`]) for the checkers: Game of 24 values and GSM8K
//! answers are compared exactly, never as floating point.

use std::cmp::Ordering;
use std::fmt;

/// A fraction `num / den` in lowest terms with `den > 0`. Arithmetic is checked: an
/// overflow or a division by zero gives `None`, never a wrong value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rational {
    num: i128,
    den: i128,
}

fn gcd(mut a: i128, mut b: i128) -> i128 {
    a = a.abs();
    b = b.abs();
    while b != 0 {
        let r = a % b;
        a = b;
        b = r;
    }
    a
}

impl Rational {
    /// `num / den` reduced; `None` when `den` is 0.
    pub fn new(num: i128, den: i128) -> Option<Self> {
        if den == 0 {
            return None;
        }
        let g = gcd(num, den).max(1);
        let (mut num, mut den) = (num / g, den / g);
        if den < 0 {
            num = num.checked_neg()?;
            den = den.checked_neg()?;
        }
        Some(Self { num, den })
    }

    /// The integer `n`.
    pub fn integer(n: i128) -> Self {
        Self { num: n, den: 1 }
    }

    /// The numerator (lowest terms, carries the sign).
    pub fn numerator(&self) -> i128 {
        self.num
    }

    /// The denominator (lowest terms, positive).
    pub fn denominator(&self) -> i128 {
        self.den
    }

    /// `self + other`, or `None` on overflow.
    pub fn checked_add(self, other: Self) -> Option<Self> {
        let num = self
            .num
            .checked_mul(other.den)?
            .checked_add(other.num.checked_mul(self.den)?)?;
        Self::new(num, self.den.checked_mul(other.den)?)
    }

    /// `self - other`, or `None` on overflow.
    pub fn checked_sub(self, other: Self) -> Option<Self> {
        self.checked_add(Self {
            num: other.num.checked_neg()?,
            den: other.den,
        })
    }

    /// `self * other`, or `None` on overflow.
    pub fn checked_mul(self, other: Self) -> Option<Self> {
        Self::new(
            self.num.checked_mul(other.num)?,
            self.den.checked_mul(other.den)?,
        )
    }

    /// `self / other`, or `None` on overflow or when `other` is 0.
    pub fn checked_div(self, other: Self) -> Option<Self> {
        Self::new(
            self.num.checked_mul(other.den)?,
            self.den.checked_mul(other.num)?,
        )
    }

    /// Reads a decimal number as written in text: an optional sign, digits (thousands
    /// separators `,` allowed between digits), an optional fraction, and an optional
    /// exponent (`1e3`), e.g. `-1,234.50`. Anything else is `None`.
    pub fn parse_decimal(text: &str) -> Option<Self> {
        let text = text.trim();
        let (negative, rest) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let (mantissa, exponent) = match rest.find(['e', 'E']) {
            Some(at) => (&rest[..at], rest[at + 1..].parse::<i32>().ok()?),
            None => (rest, 0),
        };
        let (whole, fraction) = match mantissa.split_once('.') {
            Some((w, f)) => (w, f),
            None => (mantissa, ""),
        };
        if whole.is_empty() && fraction.is_empty() {
            return None;
        }
        if whole.starts_with(',') || whole.ends_with(',') || whole.contains(",,") {
            return None;
        }
        let whole: String = whole.chars().filter(|c| *c != ',').collect();
        if !whole.chars().all(|c| c.is_ascii_digit())
            || !fraction.chars().all(|c| c.is_ascii_digit())
        {
            return None;
        }
        let digits = format!("{whole}{fraction}");
        let mut num: i128 = if digits.is_empty() {
            0
        } else {
            digits.parse().ok()?
        };
        if negative {
            num = -num;
        }
        let scale = i32::try_from(fraction.len()).ok()?.checked_sub(exponent)?;
        let ten_pow = |p: i32| 10i128.checked_pow(u32::try_from(p).ok()?);
        if scale >= 0 {
            Self::new(num, ten_pow(scale)?)
        } else {
            Self::new(num.checked_mul(ten_pow(-scale)?)?, 1)
        }
    }

    /// Reads a JSON number exactly (through its decimal text, so `0.1` is one tenth).
    pub fn from_json(value: &serde_json::Value) -> Option<Self> {
        match value {
            serde_json::Value::Number(n) => Self::parse_decimal(&n.to_string()),
            serde_json::Value::String(s) => Self::parse_decimal(s),
            _ => None,
        }
    }
}

impl PartialOrd for Rational {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Rational {
    fn cmp(&self, other: &Self) -> Ordering {
        // Denominators are positive, so cross-multiplying keeps the order; i128 holds
        // every product of the small values the checkers see, and saturates otherwise.
        let left = self.num.saturating_mul(other.den);
        let right = other.num.saturating_mul(self.den);
        left.cmp(&right)
    }
}

impl fmt::Display for Rational {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.den == 1 {
            write!(f, "{}", self.num)
        } else {
            write!(f, "{}/{}", self.num, self.den)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(n: i128, d: i128) -> Rational {
        Rational::new(n, d).unwrap_or_else(|| panic!("{n}/{d} is not a fraction"))
    }

    #[test]
    fn fractions_are_reduced_with_a_positive_denominator() {
        assert_eq!(r(6, -4), r(-3, 2));
        assert_eq!(r(6, -4).denominator(), 2);
        assert!(Rational::new(1, 0).is_none());
    }

    #[test]
    fn arithmetic_is_exact() {
        // 8 / (3 - 8/3) = 24 exactly; in floating point it is 23.999999999999993.
        let eight_thirds = r(8, 3);
        let value = Rational::integer(8).checked_div(
            Rational::integer(3)
                .checked_sub(eight_thirds)
                .unwrap_or(r(0, 1)),
        );
        assert_eq!(value, Some(Rational::integer(24)));
        assert_eq!(Rational::integer(1).checked_div(Rational::integer(0)), None);
        assert_eq!(r(1, 3).checked_add(r(1, 6)), Some(r(1, 2)));
        assert_eq!(r(1, 3).checked_mul(r(3, 1)), Some(Rational::integer(1)));
    }

    #[test]
    fn decimals_are_read_exactly() {
        assert_eq!(
            Rational::parse_decimal("1,234"),
            Some(Rational::integer(1234))
        );
        assert_eq!(Rational::parse_decimal("-2.50"), Some(r(-5, 2)));
        assert_eq!(Rational::parse_decimal("18.0"), Some(Rational::integer(18)));
        assert_eq!(
            Rational::parse_decimal("1e3"),
            Some(Rational::integer(1000))
        );
        assert_eq!(Rational::parse_decimal(".5"), Some(r(1, 2)));
        assert_eq!(Rational::parse_decimal("12a"), None);
        assert_eq!(Rational::parse_decimal(",12"), None);
        assert_eq!(Rational::parse_decimal(""), None);
        assert_eq!(Rational::from_json(&serde_json::json!(0.1)), Some(r(1, 10)));
    }

    #[test]
    fn order_follows_value() {
        assert!(r(1, 3) < r(1, 2));
        assert!(r(-1, 2) < r(1, 3));
    }
}
