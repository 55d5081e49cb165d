//! The output parsers on arbitrary model text: every parser returns a value or a parse
//! error, never a panic. The first byte picks a regex pattern for the regex parser.
#![no_main]

use agentry_core::parse::json_text::{balanced_spans, fenced_blocks, json_candidates};
use agentry_core::parse::{Json, Label, Labels, List, Number, OutputParser, Regex, Text};
use libfuzzer_sys::fuzz_target;

const PATTERNS: &[&str] = &[
    r"(?P<code>[A-Z]{3}-\d+)",
    r"\d+",
    r"(?P<a>\w+)\s*=\s*(?P<b>.*)",
    r"^(yes|no)$",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let _ = json_candidates(text);
    let _ = fenced_blocks(text);
    let _ = balanced_spans(text);
    let _ = Json::<serde_json::Value>::new().parse(text);
    let _ = Json::<Vec<u32>>::new().parse(text);
    let _ = Text.parse(text);
    let _ = List::new().min_items(1).max_items(5).parse(text);
    let _ = Number.parse(text);
    let _ = Label::new(["positive", "negative", "neutral"]).parse(text);
    let _ = Labels::new(["a", "b", "c"]).parse(text);
    let pattern = PATTERNS[usize::from(pick) % PATTERNS.len()];
    if let Ok(regex) = Regex::new(pattern) {
        let _ = regex.parse(text);
    }
});
