//! The injection scanner against a corpus of attacks and benign look-alikes
//! (`tests/fixtures/`). Prints precision and recall (`--nocapture`) and holds
//! both to a floor.

use std::collections::BTreeMap;

use agentry_prompts::guard::{SignalKind, scan};

const ATTACKS: &str = include_str!("fixtures/attacks.tsv");
const BENIGN: &str = include_str!("fixtures/benign.tsv");
const ATTACKS_HELD_OUT: &str = include_str!("fixtures/attacks_holdout.tsv");
const BENIGN_HELD_OUT: &str = include_str!("fixtures/benign_holdout.tsv");

/// Floor for precision and recall on the corpus.
const FLOOR: f64 = 0.9;

/// Recall floor on the held-out corpus (measured 0.48 when it was written).
const HELD_OUT_RECALL_FLOOR: f64 = 0.4;

/// Undoes the fixture escapes: `\n`, `\t`, `\\` and `\u{XXXX}`.
fn unescape(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.peek().copied() {
            Some('n') => {
                chars.next();
                out.push('\n');
            }
            Some('t') => {
                chars.next();
                out.push('\t');
            }
            Some('u') => {
                chars.next();
                let hex: String = chars
                    .by_ref()
                    .skip_while(|c| *c == '{')
                    .take_while(|c| *c != '}')
                    .collect();
                let decoded = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32);
                out.push(decoded.unwrap_or_else(|| panic!("bad escape \\u{{{hex}}} in {line}")));
            }
            _ => out.push('\\'),
        }
    }
    out
}

/// The data lines of a fixture: after the leading `#` comment block, every
/// non-blank line (so a text may itself start with `#`).
fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .skip_while(|l| l.starts_with('#'))
        .filter(|l| !l.trim().is_empty())
}

fn kind_of(name: &str) -> SignalKind {
    match name {
        "instruction_override" => SignalKind::InstructionOverride,
        "role_play" => SignalKind::RolePlay,
        "fake_tool_call" => SignalKind::FakeToolCall,
        "exfiltration" => SignalKind::Exfiltration,
        "control_token" => SignalKind::ControlToken,
        "fence_forgery" => SignalKind::FenceForgery,
        "hidden_text" => SignalKind::HiddenText,
        other => panic!("unknown kind {other} in attacks.tsv"),
    }
}

/// Precision and recall of [`scan`] on one corpus.
struct Metrics {
    precision: f64,
    recall: f64,
    kind_recall: f64,
}

fn measure(label: &str, attacks_tsv: &str, benign_tsv: &str) -> Metrics {
    let attacks: Vec<(SignalKind, String)> = lines(attacks_tsv)
        .map(|line| {
            let (kind, text) = line
                .split_once('\t')
                .unwrap_or_else(|| panic!("attack line without a tab: {line}"));
            (kind_of(kind), unescape(text))
        })
        .collect();
    let benign: Vec<String> = lines(benign_tsv).map(unescape).collect();

    let mut true_positives = 0usize;
    let mut right_kind = 0usize;
    let mut per_kind: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (kind, text) in &attacks {
        let signals = scan(text);
        let entry = per_kind.entry(format!("{kind:?}")).or_default();
        entry.1 += 1;
        if signals.is_empty() {
            println!("[{label}] MISSED [{kind:?}] {text:?}");
            continue;
        }
        true_positives += 1;
        if signals.iter().any(|s| s.kind == *kind) {
            right_kind += 1;
            entry.0 += 1;
        } else {
            println!("[{label}] OTHER KIND [{kind:?}] {text:?}: {signals:?}");
        }
    }
    let mut false_positives = 0usize;
    for text in &benign {
        let signals = scan(text);
        if !signals.is_empty() {
            false_positives += 1;
            println!("[{label}] FALSE POSITIVE {text:?}: {signals:?}");
        }
    }

    let metrics = Metrics {
        precision: true_positives as f64 / (true_positives + false_positives).max(1) as f64,
        recall: true_positives as f64 / attacks.len().max(1) as f64,
        kind_recall: right_kind as f64 / attacks.len().max(1) as f64,
    };
    println!(
        "[{label}] {} attacks, {} benign: TP {true_positives}, FP {false_positives}, FN {}; \
         precision {:.3}, recall {:.3}, recall with the expected kind {:.3}",
        attacks.len(),
        benign.len(),
        attacks.len() - true_positives,
        metrics.precision,
        metrics.recall,
        metrics.kind_recall,
    );
    for (kind, (hit, total)) in &per_kind {
        println!("[{label}]   {kind}: {hit}/{total}");
    }
    assert!(
        attacks.len() >= 20 && benign.len() >= 20,
        "[{label}] corpus too small"
    );
    metrics
}

#[test]
fn scanner_precision_and_recall_on_the_corpus() {
    let metrics = measure("corpus", ATTACKS, BENIGN);
    assert!(lines(ATTACKS).count() >= 30 && lines(BENIGN).count() >= 30);
    assert!(
        metrics.precision >= FLOOR,
        "precision {:.3} below {FLOOR}",
        metrics.precision
    );
    assert!(
        metrics.recall >= FLOOR,
        "recall {:.3} below {FLOOR}",
        metrics.recall
    );
    assert!(
        metrics.kind_recall >= FLOOR,
        "kind recall {:.3} below {FLOOR}",
        metrics.kind_recall
    );
}

/// The held-out set was never used to tune the rules: it shows how a regex
/// scanner generalises to phrasings it has not seen (recall drops; it is a
/// hint, not a filter). The floors guard against regressions only.
#[test]
fn scanner_on_the_held_out_corpus() {
    let metrics = measure("held-out", ATTACKS_HELD_OUT, BENIGN_HELD_OUT);
    assert!(
        metrics.precision >= FLOOR,
        "precision {:.3} below {FLOOR}",
        metrics.precision
    );
    assert!(
        metrics.recall >= HELD_OUT_RECALL_FLOOR,
        "recall {:.3} below {HELD_OUT_RECALL_FLOOR}",
        metrics.recall
    );
}

#[test]
fn unescape_reads_the_fixture_escapes() {
    assert_eq!(unescape(r"a\nb\tc\u{200B}d\x"), "a\nb\tc\u{200B}d\\x");
}
