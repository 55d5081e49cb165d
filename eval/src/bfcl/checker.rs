//! BFCL's AST matching rules ([`check`]).
//!
//! A call is right when: the function name is the expected one; every required parameter
//! is given; each given value is among the allowed ones (strings compared after
//! normalisation: lowercase, spaces and punctuation removed; an integer is accepted where
//! a float is expected, not the other way round; lists element by element; nested dicts
//! recursively); a parameter is left out only where `""` is allowed; and no parameter is
//! given that the function lacks or the answer does not list. Several calls are matched
//! to the expected ones in any order. For `irrelevance` the answer is right when no
//! function is called.

use serde_json::{Map, Value};

use super::{ExpectedCall, FunctionDoc};
use crate::call::Call;
use crate::verdict::Verdict;

/// The schema of a parameter the documents do not describe: any value.
static NULL: Value = Value::Null;

/// Checks `calls` against the item's possible answer.
pub fn check(
    category: &str,
    functions: &[FunctionDoc],
    expected: &[ExpectedCall],
    calls: &[Call],
) -> Verdict {
    if category == "irrelevance" {
        return match calls.first() {
            None => Verdict::right("no function called"),
            Some(call) => Verdict::wrong(format!(
                "called `{}`, but no function fits the question",
                call.name
            )),
        };
    }
    if calls.len() != expected.len() {
        return Verdict::wrong(format!(
            "{} call(s) made, {} expected",
            calls.len(),
            expected.len()
        ));
    }
    if expected.len() == 1 {
        return match check_call(functions, &expected[0], &calls[0]) {
            Ok(()) => Verdict::right(format!("`{}` with allowed arguments", calls[0].name)),
            Err(why) => Verdict::wrong(why),
        };
    }
    // Order-free: find a one-to-one matching of expected calls to calls.
    let mut used = vec![false; calls.len()];
    let mut first_error = None;
    if match_from(0, functions, expected, calls, &mut used, &mut first_error) {
        Verdict::right(format!("{} calls matched in some order", calls.len()))
    } else {
        Verdict::wrong(format!(
            "the calls do not match the expected ones in any order; e.g. {}",
            first_error.map(|(_, why)| why).unwrap_or_default()
        ))
    }
}

fn match_from(
    index: usize,
    functions: &[FunctionDoc],
    expected: &[ExpectedCall],
    calls: &[Call],
    used: &mut [bool],
    first_error: &mut Option<(bool, String)>,
) -> bool {
    let Some(want) = expected.get(index) else {
        return true;
    };
    for (i, call) in calls.iter().enumerate() {
        if used[i] {
            continue;
        }
        match check_call(functions, want, call) {
            Ok(()) => {
                used[i] = true;
                if match_from(index + 1, functions, expected, calls, used, first_error) {
                    return true;
                }
                used[i] = false;
            }
            Err(why) => {
                // The most telling failure: one of a call to the right function.
                let same_name = call.name == want.name;
                if first_error
                    .as_ref()
                    .is_none_or(|(named, _)| same_name && !named)
                {
                    *first_error = Some((same_name, why));
                }
            }
        }
    }
    false
}

/// One call against one expected call.
///
/// # Errors
/// The first rule the call breaks, in words.
pub fn check_call(
    functions: &[FunctionDoc],
    expected: &ExpectedCall,
    call: &Call,
) -> Result<(), String> {
    if call.name != expected.name {
        return Err(format!(
            "called `{}`, expected `{}`",
            call.name, expected.name
        ));
    }
    let doc = functions.iter().find(|f| f.name == call.name);
    let Some(args) = call.args.as_object() else {
        return Err(format!(
            "the arguments of `{}` are not an object",
            call.name
        ));
    };
    if let Some(doc) = doc {
        for name in doc.required() {
            if !args.contains_key(name) {
                return Err(format!("required parameter `{name}` is missing"));
            }
        }
    }
    for (name, value) in args {
        let schema = match doc {
            Some(doc) => doc
                .param_schema(name)
                .ok_or_else(|| format!("`{}` has no parameter `{name}`", call.name))?,
            None => &NULL,
        };
        let allowed = expected
            .args
            .get(name)
            .ok_or_else(|| format!("parameter `{name}` is not in the possible answer"))?;
        value_allowed(schema, allowed, value).map_err(|why| format!("`{name}`: {why}"))?;
    }
    for (name, allowed) in &expected.args {
        if !args.contains_key(name) && !omission_allowed(allowed) {
            return Err(format!(
                "parameter `{name}` is left out, but the answer does not allow leaving it out"
            ));
        }
    }
    Ok(())
}

/// Whether the allowed values include `""` (the parameter may be left out).
fn omission_allowed(allowed: &Value) -> bool {
    allowed
        .as_array()
        .is_some_and(|values| values.iter().any(|v| v.as_str() == Some("")))
}

/// Whether `value` is among `allowed` (a list of allowed values) for a parameter of BFCL
/// type `schema`.
fn value_allowed(schema: &Value, allowed: &Value, value: &Value) -> Result<(), String> {
    let options: &[Value] = match allowed {
        Value::Array(options) => options,
        single => std::slice::from_ref(single),
    };
    let mut reason = None;
    for option in options {
        match value_matches(schema, option, value) {
            Ok(()) => return Ok(()),
            Err(why) => {
                reason.get_or_insert(why);
            }
        }
    }
    Err(reason.unwrap_or_else(|| format!("{value} is not among the allowed values")))
}

fn bfcl_type(schema: &Value) -> &str {
    schema.get("type").and_then(Value::as_str).unwrap_or("any")
}

/// BFCL's string normalisation: lowercase, whitespace and punctuation removed.
pub fn normalize(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace() && !c.is_ascii_punctuation())
        .flat_map(char::to_lowercase)
        .collect()
}

/// One value against one allowed value, by type.
fn value_matches(schema: &Value, option: &Value, value: &Value) -> Result<(), String> {
    if option == value && !option.is_string() && !option.is_number() {
        // An allowed `null`, boolean, list or dict given exactly as it is.
        return Ok(());
    }
    let kind = bfcl_type(schema);
    match (kind, option, value) {
        ("string", Value::String(want), Value::String(got)) => {
            if normalize(want) == normalize(got) {
                Ok(())
            } else {
                Err(format!("\"{got}\" is not among the allowed values"))
            }
        }
        ("string", _, got) if !got.is_string() => Err(format!("{got} is not a string")),
        ("integer", _, got) if !(got.is_i64() || got.is_u64()) => {
            Err(format!("{got} is not an integer"))
        }
        ("float", _, got) if !got.is_number() => Err(format!("{got} is not a number")),
        ("integer" | "float", want, got) => {
            let (Some(w), Some(g)) = (want.as_f64(), got.as_f64()) else {
                return Err(format!("{got} is not among the allowed values"));
            };
            if w == g {
                Ok(())
            } else {
                Err(format!("{got} is not among the allowed values"))
            }
        }
        ("boolean", want, got) => {
            if !got.is_boolean() {
                Err(format!("{got} is not a boolean"))
            } else if want == got {
                Ok(())
            } else {
                Err(format!("{got} is not among the allowed values"))
            }
        }
        ("array" | "tuple", Value::Array(want), Value::Array(got)) => {
            if want.len() != got.len() {
                return Err(format!(
                    "a list of {} items, expected {}",
                    got.len(),
                    want.len()
                ));
            }
            let items = schema.get("items").unwrap_or(&NULL);
            for (i, (w, g)) in want.iter().zip(got).enumerate() {
                value_matches(items, w, g).map_err(|why| format!("item {i}: {why}"))?;
            }
            Ok(())
        }
        ("array" | "tuple", _, got) => Err(format!("{got} is not a list")),
        ("dict", Value::Object(want), Value::Object(got)) => dict_matches(schema, want, got),
        ("dict", _, got) => Err(format!("{got} is not a dict")),
        (_, want, got) => {
            // `any`, or a type BFCL does not name: equal JSON, strings normalised.
            let same = match (want, got) {
                (Value::String(w), Value::String(g)) => normalize(w) == normalize(g),
                (Value::Array(w), Value::Array(g)) => {
                    w.len() == g.len()
                        && w.iter()
                            .zip(g)
                            .all(|(w, g)| value_matches(&NULL, w, g).is_ok())
                }
                (Value::Number(_), Value::Number(_)) => want.as_f64() == got.as_f64(),
                _ => want == got,
            };
            if same {
                Ok(())
            } else {
                Err(format!("{got} is not among the allowed values"))
            }
        }
    }
}

/// A nested dict: each key of the answer's dict lists its allowed values, as a parameter
/// does (with `""` where the key may be left out); the model's dict may hold no other key.
fn dict_matches(
    schema: &Value,
    want: &Map<String, Value>,
    got: &Map<String, Value>,
) -> Result<(), String> {
    let properties = schema.get("properties");
    for (key, value) in got {
        let allowed = want
            .get(key)
            .ok_or_else(|| format!("unexpected key `{key}` in the dict"))?;
        let inner = properties.and_then(|p| p.get(key)).unwrap_or(&NULL);
        value_allowed(inner, allowed, value).map_err(|why| format!("key `{key}`: {why}"))?;
    }
    for (key, allowed) in want {
        if !got.contains_key(key) && !omission_allowed(allowed) {
            return Err(format!("key `{key}` is missing from the dict"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn doc(name: &str, parameters: Value) -> FunctionDoc {
        FunctionDoc {
            name: name.into(),
            description: String::new(),
            parameters,
        }
    }

    fn expected(name: &str, args: Value) -> ExpectedCall {
        ExpectedCall {
            name: name.into(),
            args: args.as_object().cloned().unwrap_or_default(),
        }
    }

    /// `calculate_triangle_area(base: int, height: int, unit: str = "units")`.
    fn triangle() -> (Vec<FunctionDoc>, Vec<ExpectedCall>) {
        let f = doc(
            "calculate_triangle_area",
            json!({"type": "dict", "properties": {
                "base": {"type": "integer"}, "height": {"type": "integer"},
                "unit": {"type": "string"}}, "required": ["base", "height"]}),
        );
        let e = expected(
            "calculate_triangle_area",
            json!({"base": [10], "height": [5], "unit": ["units", ""]}),
        );
        (vec![f], vec![e])
    }

    fn verdict(functions: &[FunctionDoc], expected: &[ExpectedCall], calls: &[Call]) -> Verdict {
        check("simple_python", functions, expected, calls)
    }

    #[test]
    fn a_right_call_passes() {
        let (f, e) = triangle();
        let call = Call::new("calculate_triangle_area", json!({"base": 10, "height": 5}));
        assert!(verdict(&f, &e, &[call]).correct);
        let call = Call::new(
            "calculate_triangle_area",
            json!({"base": 10, "height": 5, "unit": "Units"}),
        );
        assert!(verdict(&f, &e, &[call]).correct);
    }

    #[test]
    fn the_function_name_must_match() {
        let (f, e) = triangle();
        let call = Call::new("calculate_circle_area", json!({"base": 10, "height": 5}));
        let v = verdict(&f, &e, &[call]);
        assert!(!v.correct);
        assert!(
            v.why.contains("expected `calculate_triangle_area`"),
            "{}",
            v.why
        );
    }

    #[test]
    fn required_parameters_must_be_present() {
        let (f, mut e) = triangle();
        // Even when the answer would allow leaving it out, a required parameter must be given.
        e[0].args.insert("height".into(), json!([5, ""]));
        let call = Call::new("calculate_triangle_area", json!({"base": 10}));
        let v = verdict(&f, &e, &[call]);
        assert!(!v.correct);
        assert!(v.why.contains("required parameter `height`"), "{}", v.why);
    }

    #[test]
    fn values_must_be_allowed() {
        let (f, e) = triangle();
        let call = Call::new("calculate_triangle_area", json!({"base": 11, "height": 5}));
        assert!(!verdict(&f, &e, &[call]).correct);
        let call = Call::new(
            "calculate_triangle_area",
            json!({"base": 10, "height": 5, "unit": "meters"}),
        );
        assert!(!verdict(&f, &e, &[call]).correct);
    }

    #[test]
    fn strings_are_compared_after_normalisation() {
        let f = vec![doc(
            "f",
            json!({"type": "dict", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
        )];
        let e = vec![expected("f", json!({"city": ["New York, NY"]}))];
        let right = Call::new("f", json!({"city": "new york ny"}));
        assert!(verdict(&f, &e, &[right]).correct);
        let right = Call::new("f", json!({"city": "NEW-YORK,NY."}));
        assert!(verdict(&f, &e, &[right]).correct);
        let wrong = Call::new("f", json!({"city": "New Jersey, NJ"}));
        assert!(!verdict(&f, &e, &[wrong]).correct);
        // A number is no string, whatever its digits.
        let e = vec![expected("f", json!({"city": ["10"]}))];
        let wrong = Call::new("f", json!({"city": 10}));
        assert!(!verdict(&f, &e, &[wrong]).correct);
    }

    #[test]
    fn an_int_is_accepted_where_a_float_is_allowed_not_the_reverse() {
        let f = vec![doc(
            "f",
            json!({"type": "dict", "properties": {
            "r": {"type": "float"}, "n": {"type": "integer"}}, "required": ["r", "n"]}),
        )];
        let e = vec![expected("f", json!({"r": [5.0], "n": [3]}))];
        assert!(verdict(&f, &e, &[Call::new("f", json!({"r": 5, "n": 3}))]).correct);
        assert!(verdict(&f, &e, &[Call::new("f", json!({"r": 5.0, "n": 3}))]).correct);
        let v = verdict(&f, &e, &[Call::new("f", json!({"r": 5.0, "n": 3.0}))]);
        assert!(!v.correct);
        assert!(v.why.contains("not an integer"), "{}", v.why);
        assert!(!verdict(&f, &e, &[Call::new("f", json!({"r": "5", "n": 3}))]).correct);
    }

    #[test]
    fn lists_are_compared_element_by_element() {
        let f = vec![doc(
            "f",
            json!({"type": "dict", "properties": {
            "xs": {"type": "array", "items": {"type": "string"}},
            "point": {"type": "tuple", "items": {"type": "float"}}}, "required": ["xs"]}),
        )];
        let e = vec![expected(
            "f",
            json!({"xs": [["Paris", "Rome"]], "point": [[1.5, 2.0], ""]}),
        )];
        assert!(verdict(&f, &e, &[Call::new("f", json!({"xs": ["paris", "ROME"]}))]).correct);
        assert!(
            verdict(
                &f,
                &e,
                &[Call::new(
                    "f",
                    json!({"xs": ["Paris", "Rome"], "point": [1.5, 2]})
                )]
            )
            .correct
        );
        // Wrong order, a missing element, a wrong element.
        assert!(!verdict(&f, &e, &[Call::new("f", json!({"xs": ["Rome", "Paris"]}))]).correct);
        assert!(!verdict(&f, &e, &[Call::new("f", json!({"xs": ["Paris"]}))]).correct);
        assert!(
            !verdict(
                &f,
                &e,
                &[Call::new(
                    "f",
                    json!({"xs": ["Paris", "Rome"], "point": [1.5, 2.5]})
                )]
            )
            .correct
        );
        assert!(!verdict(&f, &e, &[Call::new("f", json!({"xs": "Paris, Rome"}))]).correct);
    }

    #[test]
    fn nested_dicts_are_compared_recursively() {
        let f = vec![doc(
            "f",
            json!({"type": "dict", "properties": {
            "user": {"type": "dict", "properties": {
                "email": {"type": "string"}, "age": {"type": "integer"}, "bio": {"type": "string"}}}},
            "required": ["user"]}),
        )];
        let e = vec![expected(
            "f",
            json!({"user": [{"email": ["john@example.com"], "age": [30], "bio": [""]}]}),
        )];
        let right = Call::new(
            "f",
            json!({"user": {"email": "John@example.com", "age": 30}}),
        );
        assert!(verdict(&f, &e, &[right]).correct);
        let wrong_value = Call::new(
            "f",
            json!({"user": {"email": "john@example.com", "age": 31}}),
        );
        let v = verdict(&f, &e, &[wrong_value]);
        assert!(!v.correct);
        assert!(v.why.contains("key `age`"), "{}", v.why);
        let missing = Call::new("f", json!({"user": {"email": "john@example.com"}}));
        assert!(!verdict(&f, &e, &[missing]).correct);
        let extra = Call::new(
            "f",
            json!({"user": {"email": "john@example.com", "age": 30, "x": 1}}),
        );
        assert!(!verdict(&f, &e, &[extra]).correct);
    }

    #[test]
    fn optional_parameters_may_be_left_out_only_where_empty_is_allowed() {
        let f = vec![doc(
            "f",
            json!({"type": "dict", "properties": {
            "a": {"type": "integer"}, "b": {"type": "string"}, "c": {"type": "string"}},
            "required": ["a"]}),
        )];
        let e = vec![expected("f", json!({"a": [1], "b": ["x", ""], "c": ["y"]}))];
        // `b` may be left out, `c` may not (no "" among its values).
        assert!(verdict(&f, &e, &[Call::new("f", json!({"a": 1, "c": "y"}))]).correct);
        let v = verdict(&f, &e, &[Call::new("f", json!({"a": 1, "b": "x"}))]);
        assert!(!v.correct);
        assert!(v.why.contains("`c` is left out"), "{}", v.why);
    }

    #[test]
    fn no_unknown_parameters() {
        let (f, e) = triangle();
        let call = Call::new(
            "calculate_triangle_area",
            json!({"base": 10, "height": 5, "colour": "red"}),
        );
        let v = verdict(&f, &e, &[call]);
        assert!(!v.correct);
        assert!(v.why.contains("no parameter `colour`"), "{}", v.why);
        // A parameter the function has but the answer does not list is unexpected too.
        let f2 = vec![doc(
            "g",
            json!({"type": "dict", "properties": {
            "a": {"type": "integer"}, "verbose": {"type": "boolean"}}, "required": ["a"]}),
        )];
        let e2 = vec![expected("g", json!({"a": [1]}))];
        assert!(
            !verdict(
                &f2,
                &e2,
                &[Call::new("g", json!({"a": 1, "verbose": true}))]
            )
            .correct
        );
        assert!(verdict(&f2, &e2, &[Call::new("g", json!({"a": 1}))]).correct);
    }

    #[test]
    fn parallel_calls_are_matched_in_any_order() {
        let f = vec![doc(
            "weather",
            json!({"type": "dict", "properties": {
            "city": {"type": "string"}}, "required": ["city"]}),
        )];
        let e = vec![
            expected("weather", json!({"city": ["Paris"]})),
            expected("weather", json!({"city": ["Rome"]})),
        ];
        let paris = Call::new("weather", json!({"city": "Paris"}));
        let rome = Call::new("weather", json!({"city": "Rome"}));
        let check_parallel = |calls: &[Call]| check("parallel", &f, &e, calls);
        assert!(check_parallel(&[rome.clone(), paris.clone()]).correct);
        assert!(check_parallel(&[paris.clone(), rome.clone()]).correct);
        // The same call twice covers only one expected call.
        assert!(!check_parallel(&[paris.clone(), paris.clone()]).correct);
        // Too few or too many calls.
        assert!(!check_parallel(std::slice::from_ref(&paris)).correct);
        assert!(!check_parallel(&[paris.clone(), rome.clone(), rome]).correct);
    }

    #[test]
    fn irrelevance_is_right_only_without_a_call() {
        let f = vec![doc(
            "bmi",
            json!({"type": "dict", "properties": {}, "required": []}),
        )];
        assert!(check("irrelevance", &f, &[], &[]).correct);
        let v = check("irrelevance", &f, &[], &[Call::new("bmi", json!({}))]);
        assert!(!v.correct);
    }

    #[test]
    fn any_typed_values_compare_as_json() {
        let f = vec![doc(
            "f",
            json!({"type": "dict", "properties": {"x": {"type": "any"}}, "required": ["x"]}),
        )];
        let e = vec![expected("f", json!({"x": ["Hi there", 3]}))];
        assert!(verdict(&f, &e, &[Call::new("f", json!({"x": "hi there"}))]).correct);
        assert!(verdict(&f, &e, &[Call::new("f", json!({"x": 3}))]).correct);
        assert!(!verdict(&f, &e, &[Call::new("f", json!({"x": "bye"}))]).correct);
    }

    #[test]
    fn an_allowed_null_is_accepted_as_given() {
        let f = vec![doc(
            "f",
            json!({"type": "dict", "properties": {
            "a": {"type": "integer"}, "filter": {"type": "string"}}, "required": ["a"]}),
        )];
        let e = vec![expected("f", json!({"a": [1], "filter": ["", null]}))];
        assert!(verdict(&f, &e, &[Call::new("f", json!({"a": 1, "filter": null}))]).correct);
        assert!(verdict(&f, &e, &[Call::new("f", json!({"a": 1}))]).correct);
        // null is not allowed where the answer does not list it.
        let e = vec![expected("f", json!({"a": [1], "filter": ["x"]}))];
        assert!(!verdict(&f, &e, &[Call::new("f", json!({"a": 1, "filter": null}))]).correct);
    }

    #[test]
    fn a_missing_call_is_wrong() {
        let (f, e) = triangle();
        assert!(!verdict(&f, &e, &[]).correct);
    }
}
