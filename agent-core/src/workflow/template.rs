//! Templates in workflow files: minijinja with strict undefined. A template that is one
//! `{{ expression }}` yields the expression's JSON value (a list stays a list); any other
//! template yields text. Conditions and `for_each` lists may also be written as bare
//! expressions, without braces.

use std::collections::BTreeSet;

use minijinja::{Environment, UndefinedBehavior};
use serde_json::Value;

/// How a template's text is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Text with `{{ }}` placeholders (a lone placeholder keeps its value's type).
    Text,
    /// A condition or list: a lone placeholder, or a bare expression.
    Expression,
}

/// The environment workflows render with.
pub(crate) fn environment<'s>() -> Environment<'s> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    minijinja_contrib::add_to_environment(&mut env);
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.add_function("prompt", render_shipped);
    env
}

/// Global names templates may use besides `inputs`, `steps` and loop variables.
pub(crate) const GLOBALS: &[&str] = &["prompt", "range", "dict", "namespace", "debug"];

/// `prompt(NAME, {vars})`: one of the prompt templates shipped with agentry, rendered,
/// e.g. `prompt('prompt_optimizer', {'goal': inputs.goal})`.
fn render_shipped(
    name: String,
    vars: Option<minijinja::Value>,
) -> Result<String, minijinja::Error> {
    let context = match vars {
        Some(vars) => serde_json::to_value(&vars).map_err(|e| {
            minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string())
        })?,
        None => Value::Object(Default::default()),
    };
    agentry_prompts::Templates::new()
        .render(&name, context)
        .map_err(|e| minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string()))
}

/// The expression of a template that is exactly one placeholder (or, in expression mode,
/// has no template syntax at all).
fn lone_expression(text: &str, mode: Mode) -> Option<&str> {
    let trimmed = text.trim();
    if let Some(inner) = trimmed
        .strip_prefix("{{")
        .and_then(|rest| rest.strip_suffix("}}"))
        && !inner.contains("{{")
        && !inner.contains("}}")
    {
        return Some(inner.trim());
    }
    let has_syntax = ["{{", "{%", "{#"].iter().any(|s| trimmed.contains(s));
    (mode == Mode::Expression && !has_syntax).then_some(trimmed)
}

/// Compiles `text`; the variables it reads (dotted paths such as `steps.facts.output`).
pub(crate) fn variables<'s>(
    env: &Environment<'s>,
    text: &'s str,
    mode: Mode,
) -> Result<BTreeSet<String>, String> {
    match lone_expression(text, mode) {
        Some(expr) => env
            .compile_expression(expr)
            .map(|e| e.undeclared_variables(true).into_iter().collect())
            .map_err(|e| describe(&e)),
        None => {
            if mode == Mode::Expression {
                return Err(
                    "a condition or list must be one expression, e.g. `{{ steps.a.output | length > 2 }}`"
                        .into(),
                );
            }
            env.template_from_str(text)
                .map(|t| t.undeclared_variables(true).into_iter().collect())
                .map_err(|e| describe(&e))
        }
    }
}

/// Evaluates `text` against `context`.
pub(crate) fn evaluate(
    env: &Environment<'_>,
    text: &str,
    mode: Mode,
    context: &Value,
) -> Result<Value, String> {
    match lone_expression(text, mode) {
        Some(expr) => {
            let compiled = env
                .compile_expression_owned(expr.to_string())
                .map_err(|e| describe(&e))?;
            let value = compiled.eval(context).map_err(|e| describe(&e))?;
            if value.is_undefined() {
                return Err(format!("`{expr}` is undefined"));
            }
            serde_json::to_value(&value).map_err(|e| e.to_string())
        }
        None => env
            .render_str(text, context)
            .map(Value::String)
            .map_err(|e| describe(&e)),
    }
}

/// Whether a value counts as true (as in Jinja: empty, zero, false and none do not; the
/// texts `false`, `no` and `0` do not either).
pub(crate) fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !matches!(
            s.trim().to_ascii_lowercase().as_str(),
            "" | "false" | "no" | "0" | "none"
        ),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// A minijinja error in one line, with the detail that says what is wrong.
fn describe(error: &minijinja::Error) -> String {
    let mut text = error.kind().to_string();
    if let Some(detail) = error.detail() {
        text = format!("{text}: {detail}");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_lone_placeholder_keeps_its_type() {
        let env = environment();
        let ctx = json!({"steps": {"facts": {"output": ["a", "b"]}}});
        let list = evaluate(&env, "{{ steps.facts.output }}", Mode::Text, &ctx).expect("eval");
        assert_eq!(list, json!(["a", "b"]));
        let text = evaluate(
            &env,
            "n={{ steps.facts.output | length }}",
            Mode::Text,
            &ctx,
        )
        .expect("eval");
        assert_eq!(text, json!("n=2"));
        let cond = evaluate(
            &env,
            "steps.facts.output | length < 3",
            Mode::Expression,
            &ctx,
        )
        .expect("eval");
        assert_eq!(cond, json!(true));
    }

    #[test]
    fn variables_are_dotted_paths_and_errors_say_why() {
        let env = environment();
        let vars = variables(
            &env,
            "{{ inputs.topic }} and {{ steps.a.output }}",
            Mode::Text,
        )
        .expect("compiles");
        assert!(vars.contains("inputs.topic"), "{vars:?}");
        assert!(vars.contains("steps.a.output"), "{vars:?}");
        let error = variables(&env, "{{ inputs.topic ", Mode::Text).expect_err("unclosed");
        assert!(error.contains("syntax error"), "{error}");
        let missing = evaluate(
            &env,
            "{{ inputs.nope }}",
            Mode::Text,
            &json!({"inputs": {}}),
        )
        .expect_err("strict");
        assert!(missing.contains("undefined"), "{missing}");
    }
}
