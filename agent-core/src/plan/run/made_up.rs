//! Call arguments nothing gave: a number in a call's arguments that appears nowhere in
//! the request, the role, the instructions, a tool result, a recalled memory or the
//! called tool's own description and schema. A small model fills a tool that does not
//! fit the request with invented values: asked for a triangle's area with only a
//! body-mass-index tool, qwen2.5-coder-1.5b called it with `{"weight": 70, "height":
//! 1.75}`; asked for the latest films with a velocity tool, `{"initial_velocity": 0,
//! "acceleration": 9.81, "time": 1}` (BFCL irrelevance). Such a call is sent back once,
//! and its tool sits out the next step: sent back alone, the model made the same call
//! again in 3 of 3 items.
//!
//! Only numbers written as JSON numbers count (a string such as a calculator's
//! expression is the model's own wording), and `0` and `1`, which stand for "none" and
//! "one" as often as for a value, never do. A number counts as given when the text
//! writes it in digits (`1,200`, `3.5`, `2 million`), in words (`three`, `a dozen`), as a
//! unit word that holds it (`a decade` is 10 years, `a week` 7 days, `monthly` 12 times a
//! year), or as the percentage of a fraction (`5%` and `0.05`); the tool's own text
//! counts only in digits (`default is 9.8`).

use std::sync::LazyLock;

use agentry_tools::ToolSpec;
use regex::Regex;
use serde_json::Value;

use super::AgentRun;
use super::sources::same_number;
use super::step::Step;

/// A number written in digits, with thousands separators and a scale word or letter when
/// it has them: `12`, `1,200`, `3.5`, `2 million`, `$1.2M`, `5k`.
static WRITTEN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?:\s*(thousand|million|billion|k|m|bn|b)\b)?")
        .expect("valid regex")
});

/// A word of letters.
static WORD: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[A-Za-z]+").expect("valid regex"));

/// Words that state a number, and the numbers they state (a unit word states how many
/// of the next smaller unit it holds; a word may state more than one). A plural is
/// looked up without its `s`.
const NUMBER_WORDS: &[(&str, f64)] = &[
    ("two", 2.0),
    ("three", 3.0),
    ("four", 4.0),
    ("five", 5.0),
    ("six", 6.0),
    ("seven", 7.0),
    ("eight", 8.0),
    ("nine", 9.0),
    ("ten", 10.0),
    ("eleven", 11.0),
    ("twelve", 12.0),
    ("thirteen", 13.0),
    ("fourteen", 14.0),
    ("fifteen", 15.0),
    ("sixteen", 16.0),
    ("seventeen", 17.0),
    ("eighteen", 18.0),
    ("nineteen", 19.0),
    ("twenty", 20.0),
    ("thirty", 30.0),
    ("forty", 40.0),
    ("fifty", 50.0),
    ("sixty", 60.0),
    ("seventy", 70.0),
    ("eighty", 80.0),
    ("ninety", 90.0),
    ("hundred", 100.0),
    ("thousand", 1000.0),
    ("million", 1e6),
    ("billion", 1e9),
    ("half", 0.5),
    ("quarter", 0.25),
    ("twice", 2.0),
    ("double", 2.0),
    ("triple", 3.0),
    ("pair", 2.0),
    ("couple", 2.0),
    ("dozen", 12.0),
    ("second", 2.0),
    ("third", 3.0),
    ("fourth", 4.0),
    ("fifth", 5.0),
    ("percent", 100.0),
    ("minute", 60.0),
    ("hour", 60.0),
    ("day", 24.0),
    ("week", 7.0),
    ("fortnight", 14.0),
    ("month", 30.0),
    ("year", 12.0),
    ("year", 365.0),
    ("daily", 365.0),
    ("weekly", 52.0),
    ("monthly", 12.0),
    ("quarterly", 4.0),
    ("semiannually", 2.0),
    ("decade", 10.0),
    ("century", 100.0),
];

/// The numbers `text` states, in digits or in words (see the module's documentation).
pub(super) fn stated_numbers(text: &str) -> Vec<f64> {
    let mut numbers = written_numbers(text);
    for word in WORD.find_iter(text) {
        numbers.extend(word_numbers(word.as_str()));
    }
    numbers
}

/// The numbers `text` writes in digits, and the scaled number too where a scale follows
/// (`2 million` states 2 and 2,000,000: `5m` may be metres).
fn written_numbers(text: &str) -> Vec<f64> {
    let mut numbers = Vec::new();
    for found in WRITTEN.captures_iter(text) {
        let whole = found[1].replace(',', "");
        let fraction = found.get(2).map_or("", |m| m.as_str());
        let Ok(number) = format!("{whole}{fraction}").parse::<f64>() else {
            continue;
        };
        numbers.push(number);
        let scale = match found.get(3).map(|m| m.as_str().to_ascii_lowercase()) {
            Some(word) if word == "k" || word == "thousand" => 1e3,
            Some(word) if word == "m" || word == "million" => 1e6,
            Some(word) if word == "b" || word == "bn" || word == "billion" => 1e9,
            _ => 1.0,
        };
        if scale != 1.0 {
            numbers.push(number * scale);
        }
    }
    numbers
}

/// The numbers `word` states (see [`NUMBER_WORDS`]).
fn word_numbers(word: &str) -> impl Iterator<Item = f64> {
    let word = word.to_ascii_lowercase();
    let singular = word.strip_suffix('s').unwrap_or(&word).to_owned();
    NUMBER_WORDS
        .iter()
        .filter(move |(name, _)| *name == word || *name == singular)
        .map(|(_, number)| *number)
}

/// The JSON numbers in `value` (keys and strings aside), as magnitudes.
fn json_numbers(value: &Value, numbers: &mut Vec<f64>) {
    match value {
        Value::Number(number) => numbers.extend(number.as_f64().map(f64::abs)),
        Value::Array(items) => items.iter().for_each(|item| json_numbers(item, numbers)),
        Value::Object(fields) => fields.values().for_each(|item| json_numbers(item, numbers)),
        _ => {}
    }
}

/// The first of `calls` whose arguments hold numbers that neither `grounds` state nor
/// the called tool's description and schema write in digits (a default, an example:
/// its words describe, as "compounded per year" does, and give no value), with those numbers (each once, in the
/// order written; `0` and `1` never count). `None` when every call's numbers are given.
pub(super) fn made_up_arguments<'a>(
    calls: &'a [(String, Value)],
    grounds: &[&str],
    tools: &[ToolSpec],
) -> Option<(&'a str, Vec<f64>)> {
    let known: Vec<f64> = grounds
        .iter()
        .flat_map(|text| stated_numbers(text))
        .collect();
    calls.iter().find_map(|(name, args)| {
        let own: Vec<f64> = tools
            .iter()
            .find(|tool| tool.name == *name)
            .map(|tool| written_numbers(&format!("{} {}", tool.description, tool.parameters)))
            .unwrap_or_default();
        let mut used = Vec::new();
        json_numbers(args, &mut used);
        let mut made_up: Vec<f64> = Vec::new();
        for number in used {
            let given = number == 0.0
                || number == 1.0
                || known
                    .iter()
                    .chain(&own)
                    .any(|known| same_number(*known, number));
            if !given && !made_up.contains(&number) {
                made_up.push(number);
            }
        }
        (!made_up.is_empty()).then_some((name.as_str(), made_up))
    })
}

/// `numbers` as a reader writes them: `70`, `70 and 1.75`, `0.05, 12 and 3`.
fn listed(numbers: &[f64]) -> String {
    let written: Vec<String> = numbers.iter().map(f64::to_string).collect();
    match written.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => written.concat(),
    }
}

impl AgentRun {
    /// The problem of a step whose call holds numbers nothing gave (see
    /// [`made_up_arguments`]): once per run, and when a later step is left. The called
    /// tool sits out the next step; the run's only tool, and the next step must answer.
    pub(super) fn made_up_argument_problem(&mut self, step: &Step) -> Option<String> {
        let Step::Act { calls, .. } = step else {
            return None;
        };
        if self.made_up_argument_asked || self.must_answer() || self.last_step() {
            return None;
        }
        let grounds = self.grounds();
        let (name, numbers) = made_up_arguments(calls, &grounds, &self.config.tools)?;
        self.made_up_argument_asked = true;
        self.sit_out_next = Some(name.to_owned());
        let (it, them) = if numbers.len() == 1 {
            ("it", "is")
        } else {
            ("them", "are")
        };
        Some(format!(
            "the call to `{name}` uses {}, which {them} in neither the request nor anything \
             you have read: a tool fits only when the request gives what it needs, so do \
             not make {it} up. `{name}` cannot be called in the next step: answer the user \
             yourself, or call another tool whose arguments the request gives",
            listed(&numbers)
        ))
    }

    /// The texts a call's values may come from: the request, the role, the instructions,
    /// every result and every recalled memory shown.
    pub(super) fn grounds(&self) -> Vec<&str> {
        std::iter::once(self.config.task.as_str())
            .chain(std::iter::once(self.config.role.as_str()))
            .chain(self.config.instructions.iter().map(String::as_str))
            .chain(self.observations.iter().map(|(_, text)| text.as_str()))
            .chain(self.shown_memories.iter().map(String::as_str))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn tool(name: &str, description: &str, parameters: Value) -> ToolSpec {
        ToolSpec::new(name, description, parameters)
    }

    #[test]
    fn numbers_are_read_in_digits_words_and_units() {
        let stated =
            stated_numbers("Revenue of $1,200,000 in 2019, 2 million later, $1.5M, 3k; A(3,4).");
        for number in [1_200_000.0, 2019.0, 2.0, 2e6, 1.5e6, 3e3, 3.0, 4.0] {
            assert!(stated.contains(&number), "{number} in {stated:?}");
        }
        assert!(!stated.contains(&34.0), "{stated:?}");
        let words = stated_numbers("Three apples over the past decade, twice a week, for years.");
        for number in [3.0, 10.0, 2.0, 7.0, 12.0, 365.0] {
            assert!(words.contains(&number), "{number} in {words:?}");
        }
    }

    #[test]
    fn a_call_with_a_value_no_text_gives_is_found_with_all_such_values() {
        let bmi = tool(
            "determine_body_mass_index",
            "Calculate body mass index given weight and height.",
            json!({"type": "object", "properties": {"weight": {"type": "number"}, "height": {"type": "number"}}}),
        );
        let calls = vec![(
            "determine_body_mass_index".to_owned(),
            json!({"weight": 70, "height": 1.75}),
        )];
        let task =
            "Calculate the area of a triangle given the base is 10 meters and height is 5 meters.";
        let (name, numbers) = made_up_arguments(&calls, &[task], &[bmi]).expect("made up");
        assert_eq!(name, "determine_body_mass_index");
        assert_eq!(numbers, vec![70.0, 1.75]);
        assert_eq!(listed(&numbers), "70 and 1.75");
    }

    #[test]
    fn values_the_request_the_schema_or_a_result_gives_stand() {
        let area = tool(
            "calculate_area",
            "Area of a triangle; unit defaults to 'cm'. Precision up to 4 digits.",
            json!({"type": "object", "properties": {"base": {"type": "integer"}, "height": {"type": "integer"}, "precision": {"type": "integer", "default": 2}}}),
        );
        let calls = vec![(
            "calculate_area".to_owned(),
            json!({"base": 6, "height": 10, "precision": 2, "rounding": 4, "unit": "cm", "flag": 1, "start": 0, "rate": 0.05}),
        )];
        let grounds = [
            "A triangle with a base of 6cm and a height of ten centimetres.",
            "The rate is 5%.",
        ];
        assert_eq!(made_up_arguments(&calls, &grounds, &[area]), None);
    }

    #[test]
    fn the_tools_own_words_give_no_value() {
        let interest = tool(
            "compound_interest",
            "Interest compounded a number of times per year; a rate of 5% is 0.05.",
            json!({"type": "object", "properties": {"periods_per_year": {"type": "integer"}, "rate": {"type": "number"}}}),
        );
        let calls = vec![(
            "compound_interest".to_owned(),
            json!({"periods_per_year": 12, "rate": 0.05}),
        )];
        let found = made_up_arguments(
            &calls,
            &["Prime factors of 100?"],
            std::slice::from_ref(&interest),
        );
        assert_eq!(found, Some(("compound_interest", vec![12.0])));
        let monthly = ["Interest on 100 compounded monthly?"];
        assert_eq!(made_up_arguments(&calls, &monthly, &[interest]), None);
    }

    #[test]
    fn numbers_inside_strings_do_not_count() {
        let calls = vec![(
            "calculator".to_owned(),
            json!({"expression": "17 * 23 + 4"}),
        )];
        assert_eq!(made_up_arguments(&calls, &["What is 17 * 23?"], &[]), None);
    }
}
