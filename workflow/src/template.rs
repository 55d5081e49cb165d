//! Templates in workflow files: minijinja with strict undefined. A template that is one
//! `{{ expression }}` yields the expression's JSON value (a list stays a list); any other
//! template yields text. Conditions and `for_each` lists may also be written as bare
//! expressions, without braces.

use std::collections::BTreeSet;
use std::ops::Range;

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
    agentry_prompts::budget::limit(&mut env);
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

/// Why a template cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TemplateError {
    /// What is wrong.
    pub(crate) message: String,
    /// Where in the template's text (bytes), when known.
    pub(crate) range: Option<Range<usize>>,
    /// How to fix it.
    pub(crate) help: Option<String>,
}

/// Compiles `text`; the variables it reads (dotted paths such as `steps.facts.output`).
pub(crate) fn variables<'s>(
    env: &Environment<'s>,
    text: &'s str,
    mode: Mode,
) -> Result<BTreeSet<String>, TemplateError> {
    match lone_expression(text, mode) {
        Some(expr) => {
            // `expr` is a part of `text`: errors are placed in `text`.
            let offset = expr.as_ptr() as usize - text.as_ptr() as usize;
            env.compile_expression(expr)
                .map(|e| e.undeclared_variables(true).into_iter().collect())
                .map_err(|e| syntax_error(&e, text, offset))
        }
        None => {
            if mode == Mode::Expression {
                return Err(not_one_expression(env, text));
            }
            env.template_from_str(text)
                .map(|t| t.undeclared_variables(true).into_iter().collect())
                .map_err(|e| syntax_error(&e, text, 0))
        }
    }
}

/// A condition or list written as more than one expression; the help suggests the one
/// expression when moving the text into the braces makes one (`{{ a | length }} > 2`).
fn not_one_expression(env: &Environment<'_>, text: &str) -> TemplateError {
    let trimmed = text.trim();
    let suggestion = trimmed.find("{{").and_then(|open| {
        let close = trimmed[open..].find("}}")? + open;
        let (before, inner, after) = (
            &trimmed[..open],
            &trimmed[open + 2..close],
            &trimmed[close + 2..],
        );
        if ["{{", "{%", "{#"].iter().any(|s| after.contains(s)) {
            return None;
        }
        let joined = format!("{} {} {}", before.trim(), inner.trim(), after.trim());
        let joined = joined.trim();
        env.compile_expression(joined).ok()?;
        Some(format!("write it as one expression: `{{{{ {joined} }}}}`"))
    });
    TemplateError {
        message: "must be one expression".into(),
        range: None,
        help: Some(suggestion.unwrap_or_else(|| {
            "write one `{{ ... }}` with nothing around it, e.g. `{{ steps.a.output | length > 2 }}`"
                .into()
        })),
    }
}

/// A minijinja compile error, placed in `text` (its source starts at `offset` there).
fn syntax_error(error: &minijinja::Error, text: &str, offset: usize) -> TemplateError {
    let detail = error.detail().unwrap_or_default();
    let mut range = error
        .range()
        .map(|r| (r.start + offset).min(text.len())..(r.end + offset).min(text.len()));
    let mut help = None;
    if detail.contains("end of variable block") {
        help = Some("close the `{{` with `}}`".to_string());
        // At the end of the text: show the `{{` left open.
        if detail.contains("end of input")
            && let Some(open) = text.rfind("{{")
        {
            range = Some(open..open + 2);
        }
    } else if detail.contains("end of input")
        && let Some((open, name)) = unclosed_block(text)
    {
        help = Some(format!("close it with `{{% end{name} %}}`"));
        let end = text[open..].find("%}").map_or(open + 2, |i| open + i + 2);
        range = Some(open..end);
        return TemplateError {
            message: format!("has a syntax error: `{{% {name} %}}` is never closed"),
            range,
            help,
        };
    }
    let message = if error.kind() == minijinja::ErrorKind::SyntaxError {
        format!("has a syntax error: {detail}")
    } else {
        format!("does not compile: {}", describe(error))
    };
    TemplateError {
        message,
        range,
        help,
    }
}

/// The last block tag (`{% if %}`, `{% for %}`, ...) opened in `text` and never closed:
/// its byte offset and name.
fn unclosed_block(text: &str) -> Option<(usize, String)> {
    const BLOCKS: &[&str] = &[
        "if", "for", "macro", "call", "filter", "with", "raw", "block",
    ];
    let mut open: Vec<(usize, String)> = Vec::new();
    let mut rest = 0;
    while let Some(i) = text[rest..].find("{%") {
        let at = rest + i;
        let inside = text[at + 2..].trim_start_matches(['-', '+', ' ']);
        let word: String = inside
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if BLOCKS.contains(&word.as_str()) {
            open.push((at, word));
        } else if let Some(name) = word.strip_prefix("end")
            && open.last().is_some_and(|(_, n)| n == name)
        {
            open.pop();
        }
        rest = at + 2;
    }
    open.pop()
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
        None => {
            let template = env.template_from_str(text).map_err(|e| describe(&e))?;
            agentry_prompts::budget::render_capped(&template, context)
                .map(Value::String)
                .map_err(|e| describe(&e))
        }
    }
}

/// `text` cut into literal pieces (`false`) and `{{ … }}` placeholders (`true`, with
/// their braces), in order; `None` when it has block or comment syntax or an unclosed
/// placeholder, which only a whole render can handle.
pub(crate) fn placeholders(text: &str) -> Option<Vec<(bool, &str)>> {
    if text.contains("{%") || text.contains("{#") {
        return None;
    }
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let end = rest[start..].find("}}")? + start + 2;
        if start > 0 {
            pieces.push((false, &rest[..start]));
        }
        pieces.push((true, &rest[start..end]));
        rest = &rest[end..];
    }
    if !rest.is_empty() {
        pieces.push((false, rest));
    }
    Some(pieces)
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
    if agentry_prompts::budget::out_of_fuel(error) {
        return format!(
            "ran past the template budget of {} evaluation steps (a loop that never ends or is far too long?)",
            agentry_prompts::budget::TEMPLATE_FUEL
        );
    }
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
    fn an_endless_template_runs_out_of_budget() {
        let env = environment();
        let nested =
            "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}";
        let error = evaluate(&env, nested, Mode::Text, &json!({})).unwrap_err();
        assert!(error.contains("template budget"), "{error}");
    }

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
        assert!(error.message.contains("syntax error"), "{error:?}");
        assert_eq!(error.range, Some(0..2), "the `{{` left open");
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
