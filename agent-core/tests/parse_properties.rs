//! Property tests of the output parsers: no input makes them panic, and values written in any
//! of the tolerated forms read back equal. Bounded (256 cases per property) so `make test`
//! stays quick.

use agentry_core::parse::{Json, Label, Labels, List, Number, OutputParser, Regex, Text};
use agentry_core::plan::strategy::Reasoned;
use proptest::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
enum Shape {
    Circle,
    Square,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
struct Item {
    name: String,
    count: u32,
    shape: Shape,
    tags: Vec<String>,
}

fn item() -> impl Strategy<Value = Item> {
    (
        ".{0,20}",
        any::<u32>(),
        prop_oneof![Just(Shape::Circle), Just(Shape::Square)],
        prop::collection::vec("[a-z]{1,8}", 0..4),
    )
        .prop_map(|(name, count, shape, tags)| Item {
            name,
            count,
            shape,
            tags,
        })
}

/// Text that looks like model output: prose, fences, brackets, quotes, escapes, unicode.
fn messy_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("{".to_owned()),
            Just("}".to_owned()),
            Just("[".to_owned()),
            Just("]".to_owned()),
            Just("\"".to_owned()),
            Just("\\".to_owned()),
            Just("```json\n".to_owned()),
            Just("```".to_owned()),
            Just(",".to_owned()),
            Just(":".to_owned()),
            Just("\n- ".to_owned()),
            Just("1. ".to_owned()),
            Just("é€😀".to_owned()),
            "[a-z0-9 .]{0,6}",
            any::<String>(),
        ],
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

fn no_panic_on(text: &str) {
    let _ = Json::<Item>::new().parse(text);
    let _ = Json::<serde_json::Value>::new().parse(text);
    let _ = Text.parse(text);
    let _ = List::new().min_items(1).max_items(3).parse(text);
    let _ = Label::new(["yes", "no", "not sure"]).parse(text);
    let _ = Labels::new(["a", "b"]).parse(text);
    let _ = Number.parse(text);
    let _ = Reasoned::<Item>::new(String::new(), None).parse(text);
    if let Ok(regex) = Regex::new(r"(\d+)-(?P<w>\w+)") {
        let _ = regex.parse(text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn parsers_never_panic_on_messy_text(text in messy_text()) {
        no_panic_on(&text);
    }

    #[test]
    fn parsers_never_panic_on_arbitrary_strings(text in any::<String>()) {
        no_panic_on(&text);
    }

    #[test]
    fn json_reads_back_from_plain_fenced_and_prose_forms(value in item(), prose in "[a-zA-Z .,:]{0,30}") {
        let json = serde_json::to_string(&value).unwrap();
        let pretty = serde_json::to_string_pretty(&value).unwrap();
        let parser = Json::<Item>::new();
        prop_assert_eq!(parser.parse(&json).unwrap(), value.clone());
        prop_assert_eq!(parser.parse(&format!("{prose}\n```json\n{pretty}\n```\n{prose}")).unwrap(), value.clone());
        prop_assert_eq!(parser.parse(&format!("{prose} {json} {prose}")).unwrap(), value);
    }

    #[test]
    fn numbers_read_back(n in -1.0e12f64..1.0e12, prose in "[a-zA-Z ]{0,20}") {
        let parsed = Number.parse(&format!("{prose} {n} {prose}")).unwrap();
        prop_assert!((parsed - n).abs() <= n.abs() * 1e-12 + 1e-12);
    }

    #[test]
    fn labels_are_always_one_of_the_set(text in messy_text()) {
        let labels = ["yes", "no", "not sure"];
        if let Ok(label) = Label::new(labels).parse(&text) {
            prop_assert!(labels.contains(&label.as_str()));
        }
        if let Ok(chosen) = Labels::new(labels).parse(&text) {
            prop_assert!(chosen.iter().all(|l| labels.contains(&l.as_str())));
        }
    }

    #[test]
    fn lists_read_back_as_json_and_bullets(items in prop::collection::vec("[a-z][a-z ]{0,10}[a-z]", 1..6)) {
        let list = List::new();
        prop_assert_eq!(list.parse(&serde_json::to_string(&items).unwrap()).unwrap(), items.clone());
        let bullets: String = items.iter().map(|i| format!("- {i}\n")).collect();
        if items.len() > 1 {
            prop_assert_eq!(list.parse(&bullets).unwrap(), items);
        }
    }
}
