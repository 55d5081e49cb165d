//! Game of 24: the puzzles ([`load`]) and the checker ([`check`]). An answer is right
//! when its expression uses each of the four numbers exactly once (with `+ - * /` and
//! parentheses) and equals 24 in exact rational arithmetic.

use std::path::Path;

use crate::error::EvalError;
use crate::rational::Rational;
use crate::verdict::Verdict;

/// Rows of the Tree-of-Thoughts paper's test set (0-based data rows, end excluded).
pub const TOT_ROWS: std::ops::Range<usize> = 900..1000;

/// The categories: `tot` (rows 900–999, the paper's test set) and `all`.
pub const CATEGORIES: [&str; 2] = ["tot", "all"];

/// One puzzle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Puzzle {
    /// `game24_ROW` (0-based data row).
    pub id: String,
    /// The data row (0-based, header excluded).
    pub row: usize,
    /// The four numbers.
    pub numbers: Vec<i64>,
}

impl Puzzle {
    /// The numbers as the data writes them: `1 1 4 6`.
    pub fn numbers_text(&self) -> String {
        self.numbers
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Reads `DIR/game24/24.csv` (`Rank,Puzzles,...`, numbers separated by spaces) and keeps
/// the rows of `category`.
///
/// # Errors
/// The file cannot be read, a row has no four numbers, or the category is unknown.
pub fn load(data_dir: &Path, category: &str) -> Result<Vec<Puzzle>, EvalError> {
    let rows = match category {
        "tot" => TOT_ROWS,
        "all" => 0..usize::MAX,
        other => {
            return Err(EvalError::Unknown {
                what: "game24 category",
                name: other.to_owned(),
                expected: CATEGORIES.join(", "),
            });
        }
    };
    let path = data_dir.join("game24").join("24.csv");
    let text =
        crate::data_file::read_text(&path, "Game of 24 puzzles", crate::MAX_DATA_FILE_BYTES)?;
    let mut puzzles = Vec::new();
    for (index, line) in text.lines().enumerate().skip(1) {
        let row = index - 1;
        if line.trim().is_empty() || !rows.contains(&row) {
            continue;
        }
        let field = line.split(',').nth(1).ok_or_else(|| {
            EvalError::data(
                &path,
                index + 1,
                "expected `Rank,Puzzles,...`: no second field",
            )
        })?;
        let numbers: Vec<i64> = field
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<_, _>>()
            .map_err(|e| EvalError::data(&path, index + 1, format!("puzzle `{field}`: {e}")))?;
        if numbers.len() != 4 {
            return Err(EvalError::data(
                &path,
                index + 1,
                format!("puzzle `{field}` has {} numbers, not 4", numbers.len()),
            ));
        }
        puzzles.push(Puzzle {
            id: format!("game24_{row}"),
            row,
            numbers,
        });
    }
    Ok(puzzles)
}

/// A parsed expression: its value and the numbers it uses, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluated {
    /// The exact value.
    pub value: Rational,
    /// The numbers written in the expression.
    pub numbers: Vec<Rational>,
}

/// Parses and evaluates an arithmetic expression of numbers, `+ - * /` (also `×`, `÷`)
/// and parentheses, exactly. No unary minus: the game combines the given numbers.
///
/// # Errors
/// Why the text is no such expression (with the character position), or a division by zero.
pub fn evaluate(text: &str) -> Result<Evaluated, String> {
    let mut parser = Parser {
        chars: text.chars().collect(),
        at: 0,
        numbers: Vec::new(),
    };
    let value = parser.expr()?;
    parser.skip_space();
    if parser.at < parser.chars.len() {
        return Err(format!(
            "unexpected `{}` at character {}",
            parser.chars[parser.at],
            parser.at + 1
        ));
    }
    Ok(Evaluated {
        value,
        numbers: parser.numbers,
    })
}

struct Parser {
    chars: Vec<char>,
    at: usize,
    numbers: Vec<Rational>,
}

impl Parser {
    fn skip_space(&mut self) {
        while self.chars.get(self.at).is_some_and(|c| c.is_whitespace()) {
            self.at += 1;
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.skip_space();
        self.chars.get(self.at).copied()
    }

    fn expr(&mut self) -> Result<Rational, String> {
        let mut value = self.term()?;
        while let Some(op @ ('+' | '-' | '−')) = self.peek() {
            self.at += 1;
            let right = self.term()?;
            value = if op == '+' {
                value.checked_add(right)
            } else {
                value.checked_sub(right)
            }
            .ok_or("the value overflows")?;
        }
        Ok(value)
    }

    fn term(&mut self) -> Result<Rational, String> {
        let mut value = self.factor()?;
        while let Some(op @ ('*' | '/' | '×' | '÷' | '·')) = self.peek() {
            self.at += 1;
            let right = self.factor()?;
            value = if op == '/' || op == '÷' {
                value
                    .checked_div(right)
                    .ok_or("division by zero (or overflow)")?
            } else {
                value.checked_mul(right).ok_or("the value overflows")?
            };
        }
        Ok(value)
    }

    fn factor(&mut self) -> Result<Rational, String> {
        match self.peek() {
            Some('(') => {
                self.at += 1;
                let value = self.expr()?;
                if self.peek() != Some(')') {
                    return Err(format!("missing `)` at character {}", self.at + 1));
                }
                self.at += 1;
                Ok(value)
            }
            Some(c) if c.is_ascii_digit() || c == '.' => {
                let start = self.at;
                while self
                    .chars
                    .get(self.at)
                    .is_some_and(|c| c.is_ascii_digit() || *c == '.')
                {
                    self.at += 1;
                }
                let text: String = self.chars[start..self.at].iter().collect();
                let value = Rational::parse_decimal(&text)
                    .ok_or_else(|| format!("`{text}` is not a number"))?;
                self.numbers.push(value);
                Ok(value)
            }
            Some(c) => Err(format!("unexpected `{c}` at character {}", self.at + 1)),
            None => Err("the expression ends too early".to_owned()),
        }
    }
}

/// The expression in an answer: the text after an `Answer:` label, before any `=`, with
/// surrounding backticks and spaces removed (`(4 + 8) * (6 - 4) = 24` → `(4 + 8) * (6 - 4)`).
pub fn expression_of(answer: &str) -> &str {
    let mut text = answer.trim();
    if let Some(at) = text.to_ascii_lowercase().rfind("answer:") {
        text = &text[at + "answer:".len()..];
    }
    let text = text.split('=').next().unwrap_or(text);
    text.trim().trim_matches('`').trim()
}

/// The last line of a free-text reply that holds a parsable expression using four
/// numbers (for the plain configuration).
pub fn find_expression(reply: &str) -> Option<String> {
    reply.lines().rev().find_map(|line| {
        let candidate = expression_of(line);
        match evaluate(candidate) {
            Ok(e) if e.numbers.len() == 4 => Some(candidate.to_owned()),
            _ => None,
        }
    })
}

/// Checks `answer` for `puzzle`: the expression (see [`expression_of`]) must use each of
/// the puzzle's numbers exactly once and equal 24 exactly.
pub fn check(puzzle: &[i64], answer: &str) -> Verdict {
    let expression = expression_of(answer);
    let evaluated = match evaluate(expression) {
        Ok(e) => e,
        Err(why) => return Verdict::wrong(format!("`{expression}` does not parse: {why}")),
    };
    let mut used = evaluated.numbers.clone();
    used.sort();
    let mut given: Vec<Rational> = puzzle
        .iter()
        .map(|n| Rational::integer(i128::from(*n)))
        .collect();
    given.sort();
    if used != given {
        let show = |v: &[Rational]| {
            v.iter()
                .map(Rational::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        };
        return Verdict::wrong(format!(
            "uses the numbers [{}], the puzzle gives [{}] (each exactly once)",
            show(&used),
            show(&given)
        ));
    }
    if evaluated.value != Rational::integer(24) {
        return Verdict::wrong(format!("`{expression}` = {}, not 24", evaluated.value));
    }
    Verdict::right(format!("`{expression}` = 24 with each number once"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_right_answer_passes() {
        let v = check(&[4, 4, 6, 8], "(4 + 8) * (6 - 4)");
        assert!(v.correct, "{}", v.why);
        let v = check(&[4, 4, 6, 8], "Answer: (4 + 8) * (6 - 4) = 24");
        assert!(v.correct, "{}", v.why);
        let v = check(&[1, 2, 3, 4], "1×2×3×4");
        assert!(v.correct, "{}", v.why);
    }

    #[test]
    fn exact_rationals_accept_fractional_steps() {
        // 8 / (3 - 8/3) is 24 exactly, though not in floating point.
        let v = check(&[3, 3, 8, 8], "8 / (3 - 8 / 3)");
        assert!(v.correct, "{}", v.why);
    }

    #[test]
    fn each_number_exactly_once() {
        // A number used twice.
        let v = check(&[4, 4, 6, 8], "(4 + 8) * (6 - 4) * 1");
        assert!(!v.correct);
        assert!(v.why.contains("each exactly once"), "{}", v.why);
        let v = check(&[1, 1, 4, 6], "4 * 6 * 1 * 1 * 1");
        assert!(!v.correct);
        // A number left out.
        let v = check(&[1, 1, 4, 6], "4 * 6 * 1");
        assert!(!v.correct);
        // A number that is not in the puzzle.
        let v = check(&[1, 1, 4, 6], "(4 + 6 + 2) * 2");
        assert!(!v.correct);
    }

    #[test]
    fn must_equal_24_exactly() {
        let v = check(&[4, 4, 6, 8], "4 + 4 + 6 + 8");
        assert!(!v.correct);
        assert!(v.why.contains("= 22, not 24"), "{}", v.why);
        // 23.99.. in floating point would round to 24 at two decimals; rationals do not.
        let v = check(&[1, 3, 8, 9], "8 * 3 - 1 / 9");
        assert!(!v.correct, "{}", v.why);
    }

    #[test]
    fn malformed_expressions_fail_with_a_reason() {
        for bad in [
            "(4 + 8 * (6 - 4)",
            "4 + + 8 6 4",
            "",
            "four times six",
            "-4 + 8 * 4 - 4",
            "8 / (4 - 4) + 6",
        ] {
            let v = check(&[4, 4, 6, 8], bad);
            assert!(!v.correct, "{bad}: {}", v.why);
        }
        assert!(
            check(&[4, 4, 6, 8], "8 / (4 - 4) + 6")
                .why
                .contains("division by zero")
        );
    }

    #[test]
    fn expressions_are_found_in_free_text() {
        let reply =
            "Let me think.\n4 * 6 = 24 but I need all numbers.\nAnswer: (4 + 8) * (6 - 4) = 24";
        assert_eq!(find_expression(reply).as_deref(), Some("(4 + 8) * (6 - 4)"));
        assert_eq!(find_expression("no idea"), None);
    }
}
