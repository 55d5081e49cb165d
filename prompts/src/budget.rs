//! The evaluation budget every template renders with.
//!
//! Templates come from outside: a GGUF file's chat template, a workflow
//! file, a user's prompt folder. Without a budget a template such as
//! `{% for a in range(100000) %}{% for b in range(100000) %}` renders for
//! ever; with one, rendering stops with an error that says why.
//!
//! Fuel counts evaluation steps, not the work inside one step: a single `replace` or
//! `join` can build a string many times its input. So the filters that can multiply
//! the size of their input (`replace`, `join`, `indent`, `center`) are replaced by ones
//! that refuse a result over [`MAX_VALUE_BYTES`], and [`render_capped`] stops a render
//! whose output passes [`MAX_OUTPUT_BYTES`]. minijinja itself caps `*` string
//! repetition at 100 MB; string concatenation with `~` or `+` is not hookable.

use std::fmt::Write as _;

use minijinja::value::{Kwargs, Rest, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind};

/// Most evaluation steps (minijinja "fuel") one render may take: far more
/// than any real chat, workflow or prompt template needs.
pub const TEMPLATE_FUEL: u64 = 5_000_000;

/// Most bytes one size-multiplying filter (`replace`, `join`, `indent`, `center`) may
/// produce.
pub const MAX_VALUE_BYTES: usize = 4 << 20;

/// Most bytes one render through [`render_capped`] may produce.
pub const MAX_OUTPUT_BYTES: usize = 16 << 20;

/// Gives `env` the [`TEMPLATE_FUEL`] budget for each render and the size-capped
/// `replace`, `join`, `indent` and `center` filters.
pub fn limit(env: &mut Environment<'_>) {
    env.set_fuel(Some(TEMPLATE_FUEL));
    env.add_filter("replace", replace);
    env.add_filter("join", join);
    env.add_filter("indent", indent);
    env.add_filter("center", center);
}

fn too_large(what: &str, bytes: usize) -> Error {
    Error::new(
        ErrorKind::InvalidOperation,
        format!(
            "`{what}` would build a string of {bytes} bytes, more than the template limit of {MAX_VALUE_BYTES}"
        ),
    )
}

fn check(what: &str, bytes: usize) -> Result<(), Error> {
    if bytes > MAX_VALUE_BYTES {
        Err(too_large(what, bytes))
    } else {
        Ok(())
    }
}

/// `replace(s, old, new, count=None)`, refusing a result over [`MAX_VALUE_BYTES`].
fn replace(s: &str, old: &str, new: &str, count: Option<i64>) -> Result<String, Error> {
    let limit = match count {
        Some(n) if n >= 0 => usize::try_from(n).unwrap_or(usize::MAX),
        _ => usize::MAX,
    };
    // An empty `old` matches between every character (and at both ends).
    let found = if old.is_empty() {
        s.chars().count().saturating_add(1)
    } else {
        s.matches(old).count()
    }
    .min(limit);
    let bytes = s
        .len()
        .saturating_add(found.saturating_mul(new.len()))
        .saturating_sub(found.saturating_mul(old.len()));
    check("replace", bytes)?;
    Ok(if limit == usize::MAX {
        s.replace(old, new)
    } else {
        s.replacen(old, new, limit)
    })
}

/// `join(iterable, d="", attribute=None)`, refusing a result over [`MAX_VALUE_BYTES`].
fn join(value: &Value, rest: Rest<Value>, kwargs: Kwargs) -> Result<String, Error> {
    let mut separator: Option<Value> = rest.first().cloned();
    if let Some(d) = kwargs.get::<Option<Value>>("d")? {
        separator = Some(d);
    }
    let attribute: Option<Value> = rest
        .get(1)
        .cloned()
        .or(kwargs.get::<Option<Value>>("attribute")?);
    kwargs.assert_all_used()?;
    let separator = match separator {
        None => String::new(),
        Some(v) if v.is_undefined() || v.is_none() => String::new(),
        Some(v) => v.to_string(),
    };
    if value.is_undefined() || value.is_none() {
        return Ok(String::new());
    }
    let mut out = String::new();
    let items: Box<dyn Iterator<Item = Value>> = if value.kind() == ValueKind::String {
        let text = value.as_str().unwrap_or_default().to_owned();
        Box::new(
            text.chars()
                .map(|c| Value::from(c.to_string()))
                .collect::<Vec<_>>()
                .into_iter(),
        )
    } else {
        Box::new(value.try_iter()?)
    };
    for (i, item) in items.enumerate() {
        if i > 0 {
            check("join", out.len().saturating_add(separator.len()))?;
            out.push_str(&separator);
        }
        let item = match &attribute {
            Some(attr) => match attr.as_str() {
                Some(path) => path.split('.').try_fold(item, |v, part| v.get_attr(part))?,
                None => item.get_item(attr)?,
            },
            None => item,
        };
        let piece = item.to_string();
        check("join", out.len().saturating_add(piece.len()))?;
        let _ = write!(out, "{piece}");
    }
    Ok(out)
}

/// `indent(s, width, first=false, blank=false)` (width a number or a string), refusing a
/// result over [`MAX_VALUE_BYTES`].
fn indent(
    s: &str,
    width: Value,
    first: Option<bool>,
    blank: Option<bool>,
) -> Result<String, Error> {
    let prefix = match width.as_str() {
        Some(text) => text.to_owned(),
        None => {
            let n = usize::try_from(width.clone()).map_err(|_| {
                Error::new(
                    ErrorKind::InvalidOperation,
                    format!("indent width {width} is not a size"),
                )
            })?;
            check("indent", n)?;
            " ".repeat(n)
        }
    };
    let lines = s.lines().count().saturating_add(1);
    check(
        "indent",
        s.len().saturating_add(lines.saturating_mul(prefix.len())),
    )?;
    let (first, blank) = (first.unwrap_or(false), blank.unwrap_or(false));
    let mut out = String::with_capacity(s.len());
    for (i, line) in s.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let indented = (i > 0 || first) && (blank || !line.trim().is_empty());
        if indented {
            out.push_str(&prefix);
        }
        out.push_str(line);
    }
    Ok(out)
}

/// `center(s, width=80)`, refusing a width over [`MAX_VALUE_BYTES`].
fn center(s: &str, width: Option<usize>) -> Result<String, Error> {
    let width = width.unwrap_or(80);
    check("center", width)?;
    let len = s.chars().count();
    if len >= width {
        return Ok(s.to_owned());
    }
    let pad = width - len;
    let left = pad / 2;
    Ok(format!("{}{s}{}", " ".repeat(left), " ".repeat(pad - left)))
}

/// A writer that fails once more than [`MAX_OUTPUT_BYTES`] have been written.
struct Capped {
    out: Vec<u8>,
    overflowed: bool,
}

impl std::io::Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.out.len().saturating_add(buf.len()) > MAX_OUTPUT_BYTES {
            self.overflowed = true;
            return Err(std::io::Error::other("template output limit"));
        }
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Renders `template` with `context`, stopping with an error once the output passes
/// [`MAX_OUTPUT_BYTES`].
///
/// # Errors
/// The template's own error, or one that names the output limit.
pub fn render_capped(
    template: &minijinja::Template<'_, '_>,
    context: impl serde::Serialize,
) -> Result<String, Error> {
    let mut out = Capped {
        out: Vec::new(),
        overflowed: false,
    };
    match template.render_captured_to(context, &mut out) {
        Ok(_) => Ok(String::from_utf8_lossy(&out.out).into_owned()),
        Err(_) if out.overflowed => Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("the template's output passed its limit of {MAX_OUTPUT_BYTES} bytes"),
        )),
        Err(e) => Err(e),
    }
}

/// Whether `error` (or an error it wraps) is a render that ran out of budget.
pub fn out_of_fuel(error: &minijinja::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        if e.downcast_ref::<minijinja::Error>()
            .is_some_and(|e| e.kind() == ErrorKind::OutOfFuel)
        {
            return true;
        }
        cause = e.source();
    }
    false
}

/// `error` described for a person: the budget is named when it ran out.
pub fn describe(error: &minijinja::Error) -> String {
    if out_of_fuel(error) {
        format!(
            "the template ran past its budget of {TEMPLATE_FUEL} evaluation steps (a loop that never ends or is far too long?): {error:#}"
        )
    } else {
        format!("{error:#}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(source: &str) -> Result<String, Error> {
        let mut env = Environment::new();
        limit(&mut env);
        let template = env.template_from_str(source)?;
        render_capped(&template, ())
    }

    #[test]
    fn size_multiplying_filters_are_capped() {
        for source in [
            r#"{{ ("a" * 1000000) | replace("a", "a" * 100) }}"#,
            r#"{{ ("ab" * 100000) | replace("", "x" * 100) }}"#,
            r#"{{ ([("a" * 1000000)] * 10) | join("") }}"#,
            r#"{{ range(100000) | join("x" * 100) }}"#,
            r#"{{ ("a\n" * 100000) | indent(100) }}"#,
            r#"{{ "a" | center(100000000) }}"#,
        ] {
            let error = render(source).expect_err(source);
            assert!(
                error.to_string().contains("template limit"),
                "{source}: {error}"
            );
        }
    }

    #[test]
    fn capped_filters_behave_as_the_builtins() {
        assert_eq!(
            render(r#"{{ "a-b-c" | replace("-", "+") }}"#).unwrap(),
            "a+b+c"
        );
        assert_eq!(
            render(r#"{{ "a-b-c" | replace("-", "+", 1) }}"#).unwrap(),
            "a+b-c"
        );
        assert_eq!(
            render(r#"{{ [1, 2, 3] | join(", ") }}"#).unwrap(),
            "1, 2, 3"
        );
        assert_eq!(render(r#"{{ "abc" | join("-") }}"#).unwrap(), "a-b-c");
        assert_eq!(
            render(r#"{{ [{"n": "x"}, {"n": "y"}] | join("/", attribute="n") }}"#).unwrap(),
            "x/y"
        );
        assert_eq!(
            render(r#"{{ "a\nb\n\nc" | indent(2) }}"#).unwrap(),
            "a\n  b\n\n  c"
        );
        assert_eq!(
            render(r#"{{ "a\nb" | indent(2, true) }}"#).unwrap(),
            "  a\n  b"
        );
        assert_eq!(render(r#"{{ "ab" | center(6) }}"#).unwrap(), "  ab  ");
    }

    #[test]
    fn output_past_the_limit_stops_the_render() {
        let source = r#"{% for i in range(200) %}{{ "a" * 100000 }}{% endfor %}"#;
        let error = render(source).expect_err("20 MB of output");
        assert!(
            error.to_string().contains("output passed its limit"),
            "{error}"
        );
        assert_eq!(render("{{ 'a' * 10 }}").unwrap(), "aaaaaaaaaa");
    }
}
