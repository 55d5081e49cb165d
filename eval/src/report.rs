//! The report: per model × configuration × category, the items, accuracy with a 95%
//! Wilson interval, well-formed rate, mean steps, tokens and wall time ([`Report`]),
//! computed from trace records alone, as a Markdown table or JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::trace::Record;

/// The 95% Wilson score interval of `successes` out of `n`, as `(low, high)` in 0..=1;
/// `(0, 1)` when `n` is 0 (nothing is known).
pub fn wilson_interval(successes: usize, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    const Z: f64 = 1.959_963_984_540_054;
    let n = n as f64;
    let p = successes as f64 / n;
    let z2 = Z * Z;
    let denominator = 1.0 + z2 / n;
    let center = (p + z2 / (2.0 * n)) / denominator;
    let half = Z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denominator;
    // At 0 or n successes the interval touches the end exactly; rounding must not move it.
    let low = if successes == 0 {
        0.0
    } else {
        (center - half).max(0.0)
    };
    let high = if successes as f64 >= n {
        1.0
    } else {
        (center + half).min(1.0)
    };
    (low, high)
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// The suite.
    pub suite: String,
    /// The model.
    pub model: String,
    /// The configuration.
    pub config: String,
    /// The category.
    pub category: String,
    /// Items scored.
    pub items: usize,
    /// Items right.
    pub correct: usize,
    /// `correct / items`.
    pub accuracy: f64,
    /// Lower end of the 95% Wilson interval.
    pub ci_low: f64,
    /// Upper end of the 95% Wilson interval.
    pub ci_high: f64,
    /// Share of items whose every reply could be read as a call or an answer.
    pub well_formed_rate: f64,
    /// Mean model steps per item.
    pub mean_steps: f64,
    /// Mean tokens generated per item.
    pub mean_completion_tokens: f64,
    /// Mean prompt tokens per item.
    pub mean_prompt_tokens: f64,
    /// Wall time of all items, in seconds.
    pub wall_s: f64,
}

/// The report of an evaluation: one [`Row`] per suite × model × configuration × category,
/// sorted by those names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The rows.
    pub rows: Vec<Row>,
}

#[derive(Default)]
struct Tally {
    items: usize,
    correct: usize,
    well_formed: usize,
    steps: usize,
    completion_tokens: usize,
    prompt_tokens: usize,
    wall_ms: u64,
}

impl Report {
    /// The report of these records. Only counts are summed, so the same records give the
    /// same report whatever their order.
    pub fn from_records<'a>(records: impl IntoIterator<Item = &'a Record>) -> Self {
        let mut groups: BTreeMap<(String, String, String, String), Tally> = BTreeMap::new();
        for r in records {
            let key = (
                r.suite.clone(),
                r.model.clone(),
                r.config.clone(),
                r.category.clone(),
            );
            let t = groups.entry(key).or_default();
            t.items += 1;
            t.correct += usize::from(r.verdict.correct);
            t.well_formed += usize::from(r.well_formed);
            t.steps += r.steps;
            t.completion_tokens += r.completion_tokens;
            t.prompt_tokens += r.prompt_tokens;
            t.wall_ms += r.wall_ms;
        }
        let rows = groups
            .into_iter()
            .map(|((suite, model, config, category), t)| {
                let n = t.items as f64;
                let (ci_low, ci_high) = wilson_interval(t.correct, t.items);
                Row {
                    suite,
                    model,
                    config,
                    category,
                    items: t.items,
                    correct: t.correct,
                    accuracy: t.correct as f64 / n,
                    ci_low,
                    ci_high,
                    well_formed_rate: t.well_formed as f64 / n,
                    mean_steps: t.steps as f64 / n,
                    mean_completion_tokens: t.completion_tokens as f64 / n,
                    mean_prompt_tokens: t.prompt_tokens as f64 / n,
                    wall_s: t.wall_ms as f64 / 1000.0,
                }
            })
            .collect();
        Self { rows }
    }

    /// The report as a Markdown table.
    pub fn to_markdown(&self) -> String {
        let mut out = String::from(
            "| suite | model | config | category | items | accuracy (95% CI) | well-formed | mean steps | tokens/item (gen / prompt) | wall s |\n|---|---|---|---|---|---|---|---|---|---|\n",
        );
        for r in &self.rows {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {:.1}% ({:.1}–{:.1}) | {:.0}% | {:.2} | {:.0} / {:.0} | {:.1} |",
                r.suite,
                r.model,
                r.config,
                r.category,
                r.items,
                100.0 * r.accuracy,
                100.0 * r.ci_low,
                100.0 * r.ci_high,
                100.0 * r.well_formed_rate,
                r.mean_steps,
                r.mean_completion_tokens,
                r.mean_prompt_tokens,
                r.wall_s,
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::tests::record;

    #[test]
    fn wilson_matches_known_values() {
        let (low, high) = wilson_interval(8, 10);
        assert!(
            (low - 0.4902).abs() < 1e-3 && (high - 0.9433).abs() < 1e-3,
            "{low} {high}"
        );
        let (low, high) = wilson_interval(0, 20);
        assert!(low == 0.0 && (high - 0.1611).abs() < 1e-3, "{low} {high}");
        let (low, high) = wilson_interval(20, 20);
        assert!((low - 0.8389).abs() < 1e-3 && high == 1.0, "{low} {high}");
        assert_eq!(wilson_interval(0, 0), (0.0, 1.0));
    }

    #[test]
    fn rows_are_grouped_and_order_free() {
        let mut records = vec![record("a", true), record("b", false), record("c", true)];
        records[2].config = "sc".into();
        records[1].well_formed = false;
        let report = Report::from_records(&records);
        assert_eq!(report.rows.len(), 2);
        let cot = &report.rows[0];
        assert_eq!((cot.config.as_str(), cot.items, cot.correct), ("cot", 2, 1));
        assert_eq!(cot.well_formed_rate, 0.5);
        assert_eq!(cot.mean_completion_tokens, 10.0);
        records.reverse();
        assert_eq!(Report::from_records(&records), report);
        let table = report.to_markdown();
        assert!(
            table.contains("| gsm8k | m | cot | test | 2 | 50.0% (9.5–90.5) |"),
            "{table}"
        );
    }
}
