//! `calculator`: evaluates arithmetic expressions with the `evalexpr` crate.

use std::sync::LazyLock;

use async_trait::async_trait;
use evalexpr::{
    ContextWithMutableFunctions, ContextWithMutableVariables, DefaultNumericTypes, EvalexprError,
    Function, HashMapContext, Value,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::ToolError;
use crate::tool::{ToolContext, TypedTool};

/// Longest expression accepted, in bytes.
const MAX_EXPRESSION_BYTES: usize = 1024;

/// Arguments of [`Calculator`].
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct CalculatorArgs {
    /// The arithmetic expression to evaluate, written with the numbers of the question.
    /// Operators: `+ - * / % ^` (`%` right after a number, with no operand after it, is a
    /// percent; between two operands it is the remainder); functions: sqrt, cbrt, abs,
    /// exp, ln, log10, log2, sin, cos, tan, asin, acos, atan, floor, ceil, round,
    /// min(a, b), max(a, b), pow(a, b); constants: pi, e.
    // No worked example here, not even of one operator: small models paste an example's
    // numbers into their calls (qwen2.5-coder-0.5b wrote `(24 + 17) * 4^2 / sqrt(16)` for
    // 24 eggs times 17 boxes, and `15% * 260` after reading the clock).
    pub expression: String,
}

/// Output of [`Calculator`].
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
pub struct CalculatorOutput {
    /// The expression evaluated.
    pub expression: String,
    /// Its value. Serialized as a JSON integer when it is a whole number that `f64` holds
    /// exactly (|v| ≤ 2^53), so `12 * 37` reads `444`, not `444.0`.
    #[serde(serialize_with = "whole_numbers_as_integers")]
    pub value: f64,
}

/// Largest magnitude below which every whole `f64` is exact (2^53).
const EXACT_INTEGER_LIMIT: f64 = 9_007_199_254_740_992.0;

/// Writes `value` as an integer when it is whole and exact, else as a float.
fn whole_numbers_as_integers<S: serde::Serializer>(value: &f64, s: S) -> Result<S::Ok, S::Error> {
    if value.fract() == 0.0 && value.abs() <= EXACT_INTEGER_LIMIT {
        // Exact by the check above; `-0.0` becomes 0.
        s.serialize_i64(*value as i64)
    } else {
        s.serialize_f64(*value)
    }
}

/// Evaluates an arithmetic expression in floating point (so `7/2` is 3.5).
///
/// Errors (syntax, unknown names, non-finite results) come back as messages, never panics.
#[derive(Debug, Clone, Copy, Default)]
pub struct Calculator;

#[async_trait]
impl TypedTool for Calculator {
    const NAME: &'static str = "calculator";
    type Args = CalculatorArgs;
    type Output = CalculatorOutput;

    fn description(&self) -> String {
        "Evaluates an arithmetic expression: + - * / % ^, parentheses, sqrt, abs, exp, ln, \
         log10, log2, sin, cos, tan, asin, acos, atan, floor, ceil, round, min, max, pow, pi, e."
            .to_owned()
    }

    async fn run(
        &self,
        args: CalculatorArgs,
        _ctx: &ToolContext,
    ) -> Result<CalculatorOutput, ToolError> {
        let value = evaluate(&args.expression)?;
        Ok(CalculatorOutput {
            expression: args.expression,
            value,
        })
    }
}

/// Evaluates `expression` (see [`CalculatorArgs::expression`]) to a finite number.
///
/// # Errors
/// A message naming what is wrong with the expression.
pub fn evaluate(expression: &str) -> Result<f64, ToolError> {
    if expression.len() > MAX_EXPRESSION_BYTES {
        return Err(ToolError::failed(format!(
            "expression is {} bytes long; the limit is {MAX_EXPRESSION_BYTES}",
            expression.len()
        )));
    }
    let context = MATH
        .as_ref()
        .map_err(|message| ToolError::failed(message.clone()))?;
    let source = integers_as_floats(&percents_as_fractions(expression));
    let value = evalexpr::eval_number_with_context(&source, context).map_err(|e| {
        let hint = match &e {
            EvalexprError::VariableIdentifierNotFound(name) => format!(
                "`{name}` is not a number the calculator knows; write the numbers themselves \
                 (when they are in a file or on a page, read it first)"
            ),
            other => other.to_string(),
        };
        ToolError::failed(format!("cannot evaluate `{expression}`: {hint}"))
    })?;
    if value.is_finite() {
        Ok(value)
    } else {
        Err(ToolError::failed(format!(
            "`{expression}` has no finite value (division by zero or overflow?)"
        )))
    }
}

/// Rewrites a number followed by `%` that nothing follows as an operand (`15% * 260`,
/// `20%`, `15% of 260`) as that fraction (`(15/100) * 260`): people and models write
/// percentages so. `%` between two operands (`10 % 4`) stays the remainder.
fn percents_as_fractions(expression: &str) -> String {
    let mut out = String::with_capacity(expression.len() + 16);
    let mut rest = expression;
    while let Some(at) = rest.find('%') {
        let (before, after) = (&rest[..at], &rest[at + 1..]);
        let number_len = before
            .trim_end()
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .count();
        let number_start = before.trim_end().len() - number_len;
        let preceded_by_word = before[..number_start]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_');
        let next = after.trim_start();
        let of = next
            .strip_prefix("of")
            .filter(|tail| !tail.starts_with(|c: char| c.is_alphanumeric() || c == '_'));
        let postfix = next.is_empty()
            || next.starts_with([')', '+', '-', '*', '/', '^', ','])
            || of.is_some();
        if number_len == 0 || preceded_by_word || !postfix {
            out.push_str(&rest[..=at]);
            rest = after;
            continue;
        }
        out.push_str(&before[..number_start]);
        out.push_str(&format!("({}/100)", &before.trim_end()[number_start..]));
        match of {
            Some(tail) => {
                out.push_str(" * ");
                rest = tail.trim_start();
            }
            None => rest = after,
        }
    }
    out.push_str(rest);
    out
}

/// Rewrites integer literals as float literals (`7` → `7.0`), so that `/` divides
/// exactly instead of truncating, and large results do not overflow `i64`.
fn integers_as_floats(expression: &str) -> String {
    let chars: Vec<char> = expression.chars().collect();
    let mut out = String::with_capacity(expression.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let starts_word =
            i == 0 || !(chars[i - 1].is_alphanumeric() || matches!(chars[i - 1], '_' | '.' | ':'));
        if c.is_ascii_digit() && starts_word {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            out.extend(&chars[start..i]);
            let continues =
                i < chars.len() && (chars[i].is_alphanumeric() || matches!(chars[i], '.' | '_'));
            if !continues {
                out.push_str(".0");
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

type Ctx = HashMapContext<DefaultNumericTypes>;

/// The functions and constants of every evaluation, built once (an evaluation only reads
/// them); the error, should building fail, is returned by every evaluation.
static MATH: LazyLock<Result<Ctx, String>> =
    LazyLock::new(|| math_context().map_err(|error| error.to_string()));
type Unary = fn(f64) -> f64;
type Binary = fn(f64, f64) -> f64;

fn unary(
    context: &mut Ctx,
    name: &str,
    f: fn(f64) -> f64,
) -> Result<(), EvalexprError<DefaultNumericTypes>> {
    context.set_function(
        name.to_owned(),
        Function::new(move |argument: &Value<DefaultNumericTypes>| {
            Ok(Value::Float(f(argument.as_number()?)))
        }),
    )
}

fn binary(
    context: &mut Ctx,
    name: &str,
    f: fn(f64, f64) -> f64,
) -> Result<(), EvalexprError<DefaultNumericTypes>> {
    context.set_function(
        name.to_owned(),
        Function::new(move |argument: &Value<DefaultNumericTypes>| {
            let pair = argument.as_fixed_len_tuple(2)?;
            Ok(Value::Float(f(pair[0].as_number()?, pair[1].as_number()?)))
        }),
    )
}

fn math_context() -> Result<Ctx, EvalexprError<DefaultNumericTypes>> {
    let mut context = Ctx::new();
    let unaries: [(&str, Unary); 17] = [
        ("sqrt", f64::sqrt),
        ("cbrt", f64::cbrt),
        ("abs", f64::abs),
        ("exp", f64::exp),
        ("ln", f64::ln),
        ("log10", f64::log10),
        ("log2", f64::log2),
        ("sin", f64::sin),
        ("cos", f64::cos),
        ("tan", f64::tan),
        ("asin", f64::asin),
        ("acos", f64::acos),
        ("atan", f64::atan),
        ("floor", f64::floor),
        ("ceil", f64::ceil),
        ("round", f64::round),
        ("trunc", f64::trunc),
    ];
    for (name, f) in unaries {
        unary(&mut context, name, f)?;
    }
    let binaries: [(&str, Binary); 4] = [
        ("min", f64::min),
        ("max", f64::max),
        ("pow", f64::powf),
        ("atan2", f64::atan2),
    ];
    for (name, f) in binaries {
        binary(&mut context, name, f)?;
    }
    context.set_value("pi".to_owned(), Value::Float(std::f64::consts::PI))?;
    context.set_value("e".to_owned(), Value::Float(std::f64::consts::E))?;
    Ok(context)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_model_reads_holds_no_numbers_to_copy() {
        // The parameters as the model reads them (not the `$schema` URL).
        let schema = schemars::schema_for!(CalculatorArgs);
        let schema = serde_json::to_string(&schema.as_value()["properties"]).unwrap_or_default();
        let description = Calculator.description();
        for text in [schema.as_str(), description.as_str()] {
            // `log10` and `log2` are names, not examples.
            let cleaned = text.replace("log10", "").replace("log2", "");
            assert!(
                !cleaned.chars().any(|c| c.is_ascii_digit()),
                "a number the model could paste into its calls: {text}"
            );
        }
    }

    #[test]
    fn arithmetic_powers_and_parentheses() {
        assert_eq!(evaluate("(2 + 3) * 4^2 / sqrt(16)").ok(), Some(20.0));
        assert_eq!(evaluate("7 / 2").ok(), Some(3.5));
        assert_eq!(evaluate("2^10 - 1e3").ok(), Some(24.0));
        assert_eq!(evaluate("10 % 4").ok(), Some(2.0));
        assert_eq!(evaluate("10%4").ok(), Some(2.0));
        assert_eq!(evaluate("(10) % 4").ok(), Some(2.0));
        assert_eq!(evaluate("max(1, 2.5) + min(3, -1)").ok(), Some(1.5));
    }

    #[test]
    fn a_percent_that_no_operand_follows_is_a_fraction() {
        for (expression, value) in [
            ("15% * 260", 39.0),
            ("260 * 15%", 39.0),
            ("15 % of 260", 39.0),
            ("12.5%", 0.125),
            ("100 - 20%*100", 80.0),
            ("(50%)", 0.5),
        ] {
            assert_eq!(evaluate(expression).ok(), Some(value), "{expression}");
        }
        assert_eq!(percents_as_fractions("15% of 260"), "(15/100) * 260");
        assert_eq!(percents_as_fractions("x2% + 1"), "x2% + 1");
        assert!(evaluate("15% often").is_err());
    }

    #[test]
    fn functions_and_constants() {
        let value = evaluate("sin(pi / 2) + ln(e) + log10(1000) + abs(-2)").unwrap_or(f64::NAN);
        assert!((value - 7.0).abs() < 1e-12, "{value}");
    }

    #[test]
    fn errors_are_messages_not_panics() {
        for bad in [
            "2 +",
            "1 / 0",
            "foo(3)",
            "(1",
            "\"text\"",
            "x = 3",
            "",
            "9999999999999999999999^99999",
        ] {
            let result = evaluate(bad);
            assert!(result.is_err(), "`{bad}` gave {result:?}");
        }
        let message = evaluate("1 / 0")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(message.contains("no finite value"), "{message}");
        let unknown = evaluate("a * b")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            unknown.contains("`a` is not a number") && unknown.contains("read it first"),
            "{unknown}"
        );
    }

    #[test]
    fn whole_values_serialize_as_integers() {
        let json = |value: f64| {
            serde_json::to_string(&CalculatorOutput {
                expression: String::new(),
                value,
            })
            .unwrap_or_default()
        };
        assert_eq!(json(444.0), r#"{"expression":"","value":444}"#);
        assert_eq!(json(-3.0), r#"{"expression":"","value":-3}"#);
        assert_eq!(json(3.5), r#"{"expression":"","value":3.5}"#);
        // Beyond 2^53 a whole f64 is not exact: it stays a float, as serde_json writes one.
        for big in [1e300, 2f64.powi(60), -2f64.powi(54)] {
            let float = serde_json::to_string(&big).unwrap_or_default();
            assert!(float.contains('e') || float.contains('.'), "{float}");
            assert_eq!(json(big), format!(r#"{{"expression":"","value":{float}}}"#));
        }
        assert_eq!(
            json(2f64.powi(53)),
            r#"{"expression":"","value":9007199254740992}"#
        );
    }

    #[test]
    fn literals_are_rewritten_only_when_integer() {
        assert_eq!(
            integers_as_floats("7/2 + 1.5 + log10(10)"),
            "7.0/2.0 + 1.5 + log10(10.0)"
        );
        assert_eq!(integers_as_floats("1e3"), "1e3");
    }
}
