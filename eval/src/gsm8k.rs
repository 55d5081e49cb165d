//! GSM8K: grade-school maths problems ([`load`]) and the checker ([`check`]): the final
//! number must equal the data's `#### N` exactly.

use std::path::Path;

use serde::Deserialize;

use crate::error::EvalError;
use crate::rational::Rational;
use crate::verdict::Verdict;

/// The one category: `test` (openai/grade-school-math `test.jsonl`).
pub const CATEGORIES: [&str; 1] = ["test"];

/// One problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// `gsm8k_LINE` (0-based line).
    pub id: String,
    /// The question.
    pub question: String,
    /// The reference answer, from `#### N`.
    pub answer: Rational,
}

#[derive(Deserialize)]
struct Row {
    question: String,
    answer: String,
}

/// The final number of a reference solution: what follows its last `####`.
///
/// # Errors
/// No `####`, or no number after it.
pub fn reference_answer(solution: &str) -> Result<Rational, String> {
    let (_, tail) = solution
        .rsplit_once("####")
        .ok_or("the answer has no `#### N` line")?;
    let tail = tail.trim();
    Rational::parse_decimal(tail).ok_or_else(|| format!("`#### {tail}` is not a number"))
}

/// Reads `DIR/gsm8k/test.jsonl` (`{"question", "answer"}`, the answer ending in `#### N`).
///
/// # Errors
/// The file cannot be read, a line is not such an object, or its answer has no number.
pub fn load(data_dir: &Path, category: &str) -> Result<Vec<Problem>, EvalError> {
    if category != "test" {
        return Err(EvalError::Unknown {
            what: "gsm8k category",
            name: category.to_owned(),
            expected: CATEGORIES.join(", "),
        });
    }
    let path = data_dir.join("gsm8k").join("test.jsonl");
    let text = crate::data_file::read_text(&path, "GSM8K problems", crate::MAX_DATA_FILE_BYTES)?;
    let mut problems = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let row: Row = serde_json::from_str(line)
            .map_err(|e| EvalError::data(&path, index + 1, e.to_string()))?;
        let answer =
            reference_answer(&row.answer).map_err(|m| EvalError::data(&path, index + 1, m))?;
        problems.push(Problem {
            id: format!("gsm8k_{index}"),
            question: row.question,
            answer,
        });
    }
    Ok(problems)
}

/// The last number in a free-text reply (`$1,234.50` → 1234.5), for the plain
/// configuration; `None` when the reply has no number.
pub fn last_number(reply: &str) -> Option<Rational> {
    let mut last = None;
    let chars: Vec<char> = reply.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let starts = chars[i].is_ascii_digit()
            || (chars[i] == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit));
        if !starts {
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        while i < chars.len()
            && (chars[i].is_ascii_digit()
                || ((chars[i] == ',' || chars[i] == '.')
                    && chars.get(i + 1).is_some_and(char::is_ascii_digit)))
        {
            i += 1;
        }
        let text: String = chars[start..i].iter().collect();
        if let Some(value) = Rational::parse_decimal(&text) {
            last = Some(value);
        }
    }
    last
}

/// Checks a predicted number against the reference: equal exactly (`18`, `18.0` and
/// `"18"` all equal 18).
pub fn check(reference: Rational, predicted: Option<Rational>) -> Verdict {
    match predicted {
        None => Verdict::wrong("no number in the answer"),
        Some(p) if p == reference => Verdict::right(format!("{p} = {reference}")),
        Some(p) => Verdict::wrong(format!("answered {p}, the reference is {reference}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_is_the_number_after_the_marks() {
        let solution = "Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 eggs.\n#### 18";
        assert_eq!(reference_answer(solution), Ok(Rational::integer(18)));
        assert_eq!(reference_answer("#### 1,234"), Ok(Rational::integer(1234)));
        assert!(reference_answer("the answer is 18").is_err());
        assert!(reference_answer("#### eighteen").is_err());
    }

    #[test]
    fn the_final_number_must_be_exact() {
        let reference = Rational::integer(18);
        assert!(check(reference, Some(Rational::integer(18))).correct);
        assert!(check(reference, Rational::parse_decimal("18.0")).correct);
        assert!(!check(reference, Some(Rational::integer(17))).correct);
        // Close is not equal.
        assert!(!check(reference, Rational::parse_decimal("18.01")).correct);
        assert!(!check(reference, None).correct);
    }

    #[test]
    fn the_last_number_of_a_reply_is_its_answer() {
        assert_eq!(
            last_number("She makes 9 * 2 = 18 dollars. The answer is $1,018."),
            Some(Rational::integer(1018))
        );
        assert_eq!(last_number("It is -3.5 degrees"), Rational::new(-7, 2));
        assert_eq!(last_number("no idea"), None);
    }
}
