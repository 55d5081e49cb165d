//! YAML syntax errors explained: the parser reports where it gave up, which is often
//! lines after the mistake and worded in parser terms. This finds the mistake itself (the
//! bracket or quote never closed, the key out of line, the tab) and says how to fix it.

use super::diagnostic::Diagnostic;
use super::source::{SourceText, Span};

const ANCHOR_HELP: &str = "repeat the value, or move shared text into an agent's instructions";

/// A YAML scanner error (`info`) reported at 1-based `line`/`column`, explained.
pub(crate) fn scan_error(
    source: &SourceText,
    line: usize,
    column: usize,
    info: &str,
) -> Diagnostic {
    let text = source.text();
    let at = source.offset(line, column);
    let here = source.span_at(line, column, 1);
    if info.contains("quoted scalar") {
        return unclosed_quote(source, at, info);
    }
    if info.contains("tab")
        || (info.contains("cannot start any token") && text[at..].starts_with('\t'))
    {
        let span = tab_in_line(source, at).unwrap_or(here);
        return Diagnostic::at(span, "invalid YAML: a tab is used for indentation", "tab")
            .with_help("indent with spaces: YAML does not allow tabs in indentation");
    }
    if info.contains("unknown anchor") {
        return Diagnostic::at(
            source.token_at(line, column),
            "YAML anchors and aliases are not supported in workflow files",
            "alias",
        )
        .with_help(ANCHOR_HELP);
    }
    if let Some(open) = unclosed_flow(text, at) {
        let open_span = source.span_of_bytes(open, open + 1);
        if open_span.line < line {
            let (bracket, close) = if text[open..].starts_with('[') {
                ("[", "]")
            } else {
                ("{", "}")
            };
            return Diagnostic::at(
                open_span,
                format!("invalid YAML: `{bracket}` is never closed"),
                format!("this `{bracket}` has no matching `{close}`"),
            )
            .with_help(format!(
                "close it with `{close}` (the YAML parser stopped at line {line}: {info})"
            ));
        }
    }
    let block = info.contains("did not find expected key")
        || info.contains("did not find expected '-' indicator")
        || info.contains("mapping values are not allowed");
    if block && let Some(diagnostic) = misplaced_key(source, at, info) {
        return diagnostic;
    }
    let mut diagnostic = Diagnostic::at(here, format!("invalid YAML: {info}"), "here");
    if info.contains("trailing content") {
        diagnostic = diagnostic
            .with_help("a quoted value ends at its closing quote: put the whole value in quotes");
    } else if info.contains("flow") {
        diagnostic = diagnostic.with_help(
            "check the brackets: each `[` needs a `]` and each `{` a `}`, items separated by `,`",
        );
    }
    diagnostic
}

/// A quoted text that does not end where it should; `at` is its opening quote.
fn unclosed_quote(source: &SourceText, at: usize, info: &str) -> Diagnostic {
    let text = source.text();
    let quote = text[at..]
        .chars()
        .next()
        .filter(|c| matches!(c, '"' | '\''));
    let Some(quote) = quote else {
        let span = source.span_of_bytes(at, at + 1);
        return Diagnostic::at(span, format!("invalid YAML: {info}"), "here");
    };
    let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    let span = source.span_of_bytes(at, at + text[at..line_end].trim_end().len());
    let (message, help) = if info.contains("end of stream") {
        (
            "invalid YAML: the quoted text starting here is never closed".to_string(),
            format!("end it with `{quote}`"),
        )
    } else {
        (
            "invalid YAML: the quoted text starting here is not closed on its line".to_string(),
            format!(
                "end it with `{quote}`; a quoted text that goes on over several lines must \
                 indent those lines more than its key"
            ),
        )
    };
    Diagnostic::at(span, message, format!("no closing `{quote}`")).with_help(help)
}

/// The first tab in the indentation of the line holding `at`.
fn tab_in_line(source: &SourceText, at: usize) -> Option<Span> {
    let text = source.text();
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line = &text[start..];
    let indent = &line[..line.len() - line.trim_start_matches([' ', '\t']).len()];
    let tab = indent.find('\t')?;
    Some(source.span_of_bytes(start + tab, start + tab + 1))
}

/// A block-structure error at `at`: a key out of line with its neighbours, or `: ` inside
/// a plain text. `None` when the error is elsewhere in the line.
fn misplaced_key(source: &SourceText, at: usize, info: &str) -> Option<Diagnostic> {
    let text = source.text();
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line = text[start..].split('\n').next().unwrap_or("");
    // The line's first key: after the indentation and any `- `.
    let mut key_start = line.len() - line.trim_start().len();
    while line[key_start..].starts_with("- ") {
        key_start += 2;
        key_start += line[key_start..].len() - line[key_start..].trim_start().len();
    }
    let colon = line[key_start..]
        .find(": ")
        .map(|i| key_start + i)
        .or_else(|| {
            line.trim_end()
                .ends_with(':')
                .then(|| line.trim_end().len() - 1)
        })?;
    let key = &line[key_start..colon];
    if key.is_empty() || key.contains([' ', '"', '\'', '{', '[']) {
        return None;
    }
    let offset = at - start;
    if offset <= colon {
        let span = source.span_of_bytes(start + key_start, start + colon);
        return Some(
            Diagnostic::at(
                span,
                format!("invalid YAML: `{key}:` does not line up with the keys around it"),
                "wrong indentation",
            )
            .with_help(
                "the keys of one mapping start in the same column (in a list item, the column \
                 after `- `); indent with spaces",
            ),
        );
    }
    if !info.contains("mapping values are not allowed") {
        return None;
    }
    // `key: some text: more` — the second `: ` is read as a key.
    let value = line[colon + 1..].trim();
    let span = source.span_of_bytes(at, at + 1);
    let quoted = if value.contains('"') {
        format!("'{}'", value.replace('\'', "''"))
    } else {
        format!("\"{value}\"")
    };
    let help = if value.chars().count() <= 60 {
        format!("put the whole value in quotes: `{key}: {quoted}`")
    } else {
        "put the whole value in quotes".to_string()
    };
    Some(
        Diagnostic::at(
            span,
            format!("invalid YAML: `: ` inside the plain text of `{key}`"),
            "read as the start of a key",
        )
        .with_help(help),
    )
}

/// The byte offset of the innermost `[` or `{` opened before `end` and not closed by
/// then (quoted texts and comments skipped).
fn unclosed_flow(text: &str, end: usize) -> Option<usize> {
    let mut stack: Vec<usize> = Vec::new();
    let mut quote: Option<char> = None;
    let mut previous: Option<char> = None;
    let mut chars = text[..end].char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if let Some(q) = quote {
            match c {
                '\\' if q == '"' => {
                    chars.next();
                }
                '\'' if q == '\'' && chars.peek().is_some_and(|(_, n)| *n == '\'') => {
                    chars.next();
                }
                c if c == q => {
                    quote = None;
                    previous = Some(c);
                }
                _ => {}
            }
            continue;
        }
        if c == '\n' {
            previous = None;
            continue;
        }
        if c == ' ' || c == '\t' {
            if chars.peek().is_some_and(|(_, n)| *n == '#') {
                // A comment: skip to the end of the line.
                while chars.peek().is_some_and(|(_, n)| *n != '\n') {
                    chars.next();
                }
            }
            continue;
        }
        let value_start = matches!(previous, None | Some(':' | '-' | '[' | '{' | ',' | '?'));
        match c {
            '#' if previous.is_none() => {
                while chars.peek().is_some_and(|(_, n)| *n != '\n') {
                    chars.next();
                }
                continue;
            }
            '"' | '\'' if value_start => quote = Some(c),
            '[' | '{' if value_start => stack.push(i),
            ']' | '}' if !stack.is_empty() => {
                stack.pop();
            }
            _ => {}
        }
        previous = Some(c);
    }
    stack.pop()
}

/// The anchor (`&name`), alias (`*name`) or tag (`!tag`) nearest before 1-based
/// `line`/`column`, where the YAML loader reports the node that carries it.
pub(crate) fn marker_before(
    source: &SourceText,
    line: usize,
    column: usize,
    sigils: &[char],
) -> Option<Span> {
    let text = source.text();
    let at = source.offset(line, column);
    let mut best = None;
    let mut previous: Option<char> = None;
    for (i, c) in text[..at].char_indices() {
        let boundary = matches!(previous, None | Some(' ' | '\t' | '\n' | '[' | '{' | ','));
        let next = text[i + c.len_utf8()..].chars().next();
        let named = c == '!' || next.is_some_and(|n| !n.is_whitespace() && !",[]{}".contains(n));
        if boundary && sigils.contains(&c) && named {
            best = Some(i);
        }
        previous = Some(c);
    }
    let start = best?;
    let len = text[start..]
        .find(|c: char| c.is_whitespace() || ",[]{}".contains(c))
        .unwrap_or(text.len() - start);
    Some(source.span_of_bytes(start, start + len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn explain(text: &str) -> (Diagnostic, String) {
        let source = SourceText::new("w.yaml", text);
        let error = super::super::yaml::load(&source).expect_err("invalid YAML");
        let span = error.span.expect("a place");
        let covered = text[span.range()].to_string();
        (error, covered)
    }

    #[test]
    fn an_unclosed_bracket_is_shown_where_it_opens() {
        let (d, covered) = explain("a:\n  tools: [x, y\nsteps:\n  - id: z\n");
        assert_eq!(d.message, "invalid YAML: `[` is never closed");
        assert_eq!(covered, "[");
        assert_eq!(d.span.map(|s| (s.line, s.column)), Some((2, 10)));
    }

    #[test]
    fn a_key_out_of_line_is_underlined() {
        let (d, covered) = explain("steps:\n  - id: x\n    agent: w\n   task: t\n");
        assert!(
            d.message.contains("`task:` does not line up"),
            "{}",
            d.message
        );
        assert_eq!(covered, "task");
    }

    #[test]
    fn a_colon_in_plain_text_asks_for_quotes() {
        let (d, covered) = explain("steps:\n  - id: x\n    task: Answer: now\n");
        assert!(
            d.message.contains("`: ` inside the plain text"),
            "{}",
            d.message
        );
        assert_eq!(covered, ":");
        assert_eq!(
            d.help.as_deref(),
            Some("put the whole value in quotes: `task: \"Answer: now\"`")
        );
    }

    #[test]
    fn tabs_and_quotes_are_found() {
        let (d, covered) = explain("a:\n\tb: c\n");
        assert_eq!(d.message, "invalid YAML: a tab is used for indentation");
        assert_eq!(covered, "\t");
        let (d, covered) = explain("a:\n  b: \"c\n");
        assert!(d.message.contains("never closed"), "{}", d.message);
        assert_eq!(covered, "\"c");
    }

    #[test]
    fn anchors_and_tags_are_underlined_themselves() {
        let (d, covered) = explain("a: &x\n  b: c\nd: *x\n");
        assert!(d.message.contains("anchors"), "{}", d.message);
        assert_eq!(covered, "&x");
        let (_, covered) = explain("a: 12 * 7\nb: !!str c\n");
        assert_eq!(covered, "!!str");
    }
}
