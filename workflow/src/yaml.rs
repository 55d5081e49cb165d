//! Reading YAML nodes (with their positions) into workflow parts, collecting every
//! problem instead of stopping at the first.

use marked_yaml::types::{MarkedMappingNode, MarkedScalarNode, MarkedSequenceNode};
use std::collections::{BTreeMap, BTreeSet};

use marked_yaml::{LoadError, LoaderOptions, Node};
use serde_json::{Map, Number, Value};

use super::diagnostic::Diagnostic;
use super::source::{SourceText, Span};
use super::syntax;

/// Parses `source` into a YAML node tree (top level a mapping, duplicate keys refused,
/// quoted scalars kept as text: `'3'` and `"null"` are not a number and nothing).
pub(crate) fn load(source: &SourceText) -> Result<Node, Diagnostic> {
    let options = LoaderOptions::default()
        .error_on_duplicate_keys(true)
        .prevent_coercion(true);
    marked_yaml::parse_yaml_with_options(0, source.text(), options)
        .map_err(|e| load_error(source, e))
}

fn load_error(source: &SourceText, error: LoadError) -> Diagnostic {
    let at = |m: &marked_yaml::Marker| source.token_at(m.line(), m.column());
    match error {
        LoadError::TopLevelMustBeMapping(m) => Diagnostic::at(
            at(&m),
            "a workflow file must be a mapping (name:, model:, steps:, ...)",
            "expected `key: value` here",
        )
        .with_help(
            "a workflow starts with `name:`, `model:` and `steps:`; a list of steps goes \
             under `steps:`",
        ),
        LoadError::TopLevelMustBeSequence(m) => {
            Diagnostic::at(at(&m), "expected a list at the top level", "here")
        }
        LoadError::UnexpectedAnchor(m) => Diagnostic::at(
            syntax::marker_before(source, m.line(), m.column(), &['&', '*'])
                .unwrap_or_else(|| at(&m)),
            "YAML anchors and aliases are not supported in workflow files",
            "anchor or alias",
        )
        .with_help("repeat the value, or move shared text into an agent's instructions"),
        LoadError::MappingKeyMustBeScalar(m) => {
            Diagnostic::at(at(&m), "a mapping key must be a plain name", "complex key")
        }
        LoadError::UnexpectedTag(m) => Diagnostic::at(
            syntax::marker_before(source, m.line(), m.column(), &['!']).unwrap_or_else(|| at(&m)),
            "YAML tags (`!tag`) are not supported in workflow files",
            "tag",
        )
        .with_help("remove the tag; quote the value if it must stay text (`\"yes\"`)"),
        LoadError::ScanError(m, e) => syntax::scan_error(source, m.line(), m.column(), e.info()),
        LoadError::DuplicateKey(inner) => {
            let key = &inner.key;
            let span = scalar_span(source, key);
            let first = inner
                .prev_key
                .span()
                .start()
                .map(|m| format!(" (first defined at line {})", m.line()))
                .unwrap_or_default();
            Diagnostic::at(
                span,
                format!("duplicate key `{}`{first}", key.as_str()),
                "defined again here",
            )
            .with_help("a key may appear once in a mapping: remove one, or merge them")
        }
    }
}

fn scalar_span(source: &SourceText, node: &MarkedScalarNode) -> Span {
    match node.span().start() {
        Some(m) => source.token_at(m.line(), m.column()),
        None => Span::default(),
    }
}

/// The kind of a node, for "expected X, found Y" messages.
pub(crate) fn kind_of(node: &Node) -> &'static str {
    match node {
        Node::Scalar(s) if is_null(s) => "nothing",
        Node::Scalar(_) => "a scalar",
        Node::Mapping(_) => "a mapping",
        Node::Sequence(_) => "a list",
    }
}

fn is_null(s: &MarkedScalarNode) -> bool {
    s.may_coerce() && matches!(s.as_str(), "" | "~" | "null" | "Null" | "NULL")
}

/// What reading found out besides the workflow itself, for the checks that follow: the
/// parts declared but refused (so that uses of them are not reported again as unknown) and
/// where the texts of tool arguments are.
#[derive(Debug, Default)]
pub(crate) struct Notes {
    /// Ids of steps that have a problem of their own and were left out.
    pub(crate) steps: BTreeSet<String>,
    /// Agents declared but left out.
    pub(crate) agents: BTreeSet<String>,
    /// Inputs declared but left out.
    pub(crate) inputs: BTreeSet<String>,
    /// `agents` could not be read at all.
    pub(crate) all_agents: bool,
    /// `inputs` could not be read at all.
    pub(crate) all_inputs: bool,
    /// Where each text in a tool step's `args` is written, by step id and text.
    pub(crate) args: BTreeMap<(String, String), Span>,
}

/// Reads nodes of one file and collects the problems found.
pub(crate) struct Reader<'s> {
    pub(crate) source: &'s SourceText,
    pub(crate) problems: Vec<Diagnostic>,
    pub(crate) notes: Notes,
}

impl<'s> Reader<'s> {
    pub(crate) fn new(source: &'s SourceText) -> Self {
        Self {
            source,
            problems: Vec::new(),
            notes: Notes::default(),
        }
    }

    /// Records a problem.
    pub(crate) fn error(&mut self, diagnostic: Diagnostic) {
        self.problems.push(diagnostic);
    }

    /// Where `node` is: a scalar's token, a mapping's first key (or its `{...}`), a list's
    /// `[...]` or first `-`; for a value left empty, the key before it.
    pub(crate) fn span(&self, node: &Node) -> Span {
        let Some(m) = node.span().start() else {
            return Span::default();
        };
        let text = self.source.text();
        let at = self.source.offset(m.line(), m.column());
        match node {
            Node::Mapping(map) => {
                let Some(first) = map.keys().next() else {
                    return self
                        .flow_span(at)
                        .unwrap_or_else(|| self.source.span_at(m.line(), m.column(), 1));
                };
                let key = self.key_span(first);
                let before = text[..key.start].trim_end_matches([' ', '\t']);
                match before.strip_suffix('{') {
                    Some(open) => self.flow_span(open.len()).unwrap_or(key),
                    None => key,
                }
            }
            Node::Sequence(_) if text[at..].starts_with('[') => self
                .flow_span(at)
                .unwrap_or_else(|| self.source.span_at(m.line(), m.column(), 1)),
            Node::Sequence(_) if text[at..].starts_with('-') => {
                self.source.span_at(m.line(), m.column(), 1)
            }
            Node::Scalar(s) if s.may_coerce() && s.as_str().is_empty() => self
                .key_before(at)
                .unwrap_or_else(|| self.source.token_at(m.line(), m.column())),
            _ => self.source.token_at(m.line(), m.column()),
        }
    }

    /// The `[...]` or `{...}` opening at byte `open`, when it closes on the same line.
    fn flow_span(&self, open: usize) -> Option<Span> {
        let text = self.source.text();
        let opening = text[open..]
            .chars()
            .next()
            .filter(|c| matches!(c, '[' | '{'))?;
        let closing = if opening == '[' { ']' } else { '}' };
        let mut depth = 0usize;
        let mut quote = None;
        for (i, c) in text[open..].char_indices() {
            match (quote, c) {
                (_, '\n') => return None,
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') => quote = Some(c),
                (None, c) if c == opening => depth += 1,
                (None, c) if c == closing => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(self.source.span_of_bytes(open, open + i + 1));
                    }
                }
                _ => {}
            }
        }
        None
    }

    /// The key whose value is missing at byte `at` (the last `key:` before it, past blank
    /// and comment lines).
    fn key_before(&self, at: usize) -> Option<Span> {
        let text = self.source.text();
        let mut end = at;
        for _ in 0..64 {
            let start = text[..end].rfind('\n').map_or(0, |i| i + 1);
            let line = &text[start..end];
            let content = match line.find(" #") {
                Some(i) => &line[..i],
                None if line.trim_start().starts_with('#') => "",
                None => line,
            }
            .trim_end();
            if let Some(before) = content.strip_suffix(':') {
                let key_start = before
                    .rfind([' ', '\t', '{', ',', '-'])
                    .map_or(0, |i| i + 1);
                if key_start < before.len() {
                    return Some(
                        self.source
                            .span_of_bytes(start + key_start, start + before.len()),
                    );
                }
                return Some(
                    self.source
                        .span_of_bytes(start + before.len(), start + content.len()),
                );
            }
            if !content.trim().is_empty() || start == 0 {
                return None;
            }
            end = start - 1;
        }
        None
    }

    /// Where a mapping key is.
    pub(crate) fn key_span(&self, key: &MarkedScalarNode) -> Span {
        scalar_span(self.source, key)
    }

    /// `node` as a mapping, else a problem naming `what` it should be.
    pub(crate) fn mapping<'n>(
        &mut self,
        node: &'n Node,
        what: &str,
    ) -> Option<&'n MarkedMappingNode> {
        match node {
            Node::Mapping(m) => Some(m),
            other => {
                let span = self.span(other);
                self.error(Diagnostic::at(
                    span,
                    format!("{what} must be a mapping, found {}", kind_of(other)),
                    "expected `key: value` pairs",
                ));
                None
            }
        }
    }

    /// `node` as a list, else a problem.
    pub(crate) fn sequence<'n>(
        &mut self,
        node: &'n Node,
        what: &str,
    ) -> Option<&'n MarkedSequenceNode> {
        match node {
            Node::Sequence(s) => Some(s),
            other => {
                let span = self.span(other);
                self.error(Diagnostic::at(
                    span,
                    format!("{what} must be a list, found {}", kind_of(other)),
                    "expected a list (`- item` lines or `[a, b]`)",
                ));
                None
            }
        }
    }

    /// Records a problem for each key of `map` not in `allowed`, suggesting the closest.
    pub(crate) fn known_keys(&mut self, map: &MarkedMappingNode, allowed: &[&str], what: &str) {
        self.known_keys_or(map, allowed, what, |_| None);
    }

    /// As [`Reader::known_keys`], with `hint` giving the help for a key that belongs
    /// elsewhere.
    pub(crate) fn known_keys_or(
        &mut self,
        map: &MarkedMappingNode,
        allowed: &[&str],
        what: &str,
        hint: impl Fn(&str) -> Option<String>,
    ) {
        for key in map.keys() {
            if allowed.contains(&key.as_str()) {
                continue;
            }
            let span = self.key_span(key);
            let mut diagnostic = Diagnostic::at(
                span,
                format!("unknown key `{}` in {what}", key.as_str()),
                "unknown key",
            );
            diagnostic = match (
                hint(key.as_str()),
                closest(key.as_str(), allowed.iter().copied()),
            ) {
                (Some(help), _) => diagnostic.with_help(help),
                (None, Some(best)) => diagnostic.with_help(format!("did you mean `{best}`?")),
                (None, None) => {
                    diagnostic.with_help(format!("expected one of: {}", allowed.join(", ")))
                }
            };
            self.error(diagnostic);
        }
    }

    /// The value of `key`, or a problem at the mapping saying it is missing.
    pub(crate) fn required<'n>(
        &mut self,
        map: &'n MarkedMappingNode,
        owner_span: Span,
        key: &str,
        what: &str,
    ) -> Option<&'n Node> {
        let node = map.get_node(key);
        if node.is_none() {
            self.error(Diagnostic::at(
                owner_span,
                format!("{what} is missing `{key}`"),
                format!("`{key}` expected in this mapping"),
            ));
        }
        node
    }

    /// As [`Reader::required`], with a hint on what to add.
    pub(crate) fn required_or<'n>(
        &mut self,
        map: &'n MarkedMappingNode,
        owner_span: Span,
        key: &str,
        what: &str,
        help: &str,
    ) -> Option<&'n Node> {
        let node = self.required(map, owner_span, key, what);
        if node.is_none()
            && let Some(last) = self.problems.last_mut()
        {
            last.help = Some(help.to_string());
        }
        node
    }

    /// A non-empty text scalar.
    pub(crate) fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match node {
            Node::Scalar(s) if is_null(s) || s.as_str().trim().is_empty() => {
                let span = self.span(node);
                self.error(Diagnostic::at(
                    span,
                    format!("{what} is empty"),
                    "a value is needed here",
                ));
                None
            }
            Node::Scalar(s) => Some(s.as_str().to_string()),
            other => {
                let span = self.span(other);
                self.error(Diagnostic::at(
                    span,
                    format!("{what} must be text, found {}", kind_of(other)),
                    "expected text",
                ));
                None
            }
        }
    }

    /// A list of texts; a single text is read as a list of one.
    pub(crate) fn strings(&mut self, node: &Node, what: &str) -> Vec<(String, Span)> {
        match node {
            Node::Scalar(_) => self
                .string(node, what)
                .map(|s| vec![(s, self.span(node))])
                .unwrap_or_default(),
            Node::Sequence(items) => items
                .iter()
                .filter_map(|item| {
                    let span = self.span(item);
                    self.string(item, &format!("each of {what}"))
                        .map(|s| (s, span))
                })
                .collect(),
            Node::Mapping(_) => {
                let span = self.span(node);
                self.error(Diagnostic::at(
                    span,
                    format!("{what} must be a list of texts, found a mapping"),
                    "expected a list",
                ));
                Vec::new()
            }
        }
    }

    /// A whole number within `min..=max`.
    pub(crate) fn integer(&mut self, node: &Node, what: &str, min: u64, max: u64) -> Option<u64> {
        // Negative numbers are whole numbers too, only out of range; a quoted number is
        // still the number.
        let range = i128::from(min)..=i128::from(max);
        self.bounded(
            node,
            what,
            (&min, &max),
            "a whole number",
            |s| s.parse::<i128>().ok(),
            |v| range.contains(&v),
        )
        .and_then(|v| u64::try_from(v).ok())
    }

    /// A number within `min..=max`.
    pub(crate) fn number(&mut self, node: &Node, what: &str, min: f64, max: f64) -> Option<f64> {
        self.bounded(
            node,
            what,
            (&min, &max),
            "a number",
            |s| s.parse::<f64>().ok(),
            |v| v.is_finite() && v >= min && v <= max,
        )
    }

    /// A scalar read by `parse` and accepted by `in_range`; otherwise an error saying
    /// that `what` must be `expected` or lie within `bounds`.
    fn bounded<V: Copy + std::fmt::Display>(
        &mut self,
        node: &Node,
        what: &str,
        bounds: (&dyn std::fmt::Display, &dyn std::fmt::Display),
        expected: &str,
        parse: impl FnOnce(&str) -> Option<V>,
        in_range: impl FnOnce(V) -> bool,
    ) -> Option<V> {
        let span = self.span(node);
        let value = match node {
            Node::Scalar(s) => parse(s.as_str().trim()),
            _ => None,
        };
        match value {
            Some(v) if in_range(v) => Some(v),
            Some(v) => {
                let (min, max) = bounds;
                self.error(Diagnostic::at(
                    span,
                    format!("{what} must be between {min} and {max}, found {v}"),
                    "out of range",
                ));
                None
            }
            None => {
                self.error(Diagnostic::at(
                    span,
                    format!("{what} must be {expected}, found {}", describe(node)),
                    "expected a number",
                ));
                None
            }
        }
    }
}

/// A short description of a node's value for messages.
pub(crate) fn describe(node: &Node) -> String {
    match node {
        Node::Scalar(s) if is_null(s) => "nothing".into(),
        Node::Scalar(s) => {
            let text: String = s.as_str().chars().take(40).collect();
            // Quoted in the file: text, whatever it looks like.
            if s.may_coerce() {
                format!("`{text}`")
            } else {
                format!("`\"{text}\"`")
            }
        }
        other => kind_of(other).into(),
    }
}

/// The allowed name closest to `name`, when it is close enough to be a typo.
pub(crate) fn closest<'a>(name: &str, allowed: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    allowed
        .map(|candidate| (strsim::damerau_levenshtein(name, candidate), candidate))
        .filter(|(distance, candidate)| *distance <= (candidate.len().max(name.len()) / 3).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// YAML to JSON: plain scalars become null, booleans and numbers where they read as
/// such; quoted scalars stay text.
pub(crate) fn to_json(node: &Node) -> Value {
    match node {
        Node::Scalar(s) => scalar_json(s),
        Node::Sequence(items) => Value::Array(items.iter().map(to_json).collect()),
        Node::Mapping(map) => {
            let mut out = Map::new();
            for (key, value) in map.iter() {
                out.insert(key.as_str().to_string(), to_json(value));
            }
            Value::Object(out)
        }
    }
}

fn scalar_json(s: &MarkedScalarNode) -> Value {
    if !s.may_coerce() {
        return Value::String(s.as_str().to_string());
    }
    if is_null(s) {
        return Value::Null;
    }
    if let Some(b) = s.as_bool() {
        return Value::Bool(b);
    }
    let text = s.as_str();
    if let Ok(i) = text.parse::<i64>() {
        return Value::Number(i.into());
    }
    if let Ok(f) = text.parse::<f64>()
        && let Some(n) = Number::from_f64(f)
        && text.chars().any(|c| c.is_ascii_digit())
    {
        return Value::Number(n);
    }
    Value::String(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_find_their_key() {
        let keys = ["task", "agent", "output", "steps"];
        assert_eq!(closest("tsak", keys.iter().copied()), Some("task"));
        assert_eq!(closest("agnet", keys.iter().copied()), Some("agent"));
        assert_eq!(closest("zzzzzz", keys.iter().copied()), None);
    }

    #[test]
    fn scalars_become_typed_json() {
        let source = SourceText::new("t.yaml", "a: 3\nb: '3'\nc: true\nd: 2.5\ne:\nf: [x, 1]\n");
        let node = load(&source).expect("valid yaml");
        let json = to_json(&node);
        assert_eq!(
            json,
            serde_json::json!({"a": 3, "b": "3", "c": true, "d": 2.5, "e": null, "f": ["x", 1]})
        );
    }
}

#[cfg(test)]
mod span_tests {
    use super::*;

    fn place(text: &str, path: &[&str]) -> String {
        let source = SourceText::new("t.yaml", text);
        let mut node = load(&source).expect("valid yaml");
        for key in path {
            node = node
                .as_mapping()
                .and_then(|m| m.get_node(key))
                .expect("key")
                .clone();
        }
        let reader = Reader::new(&source);
        let span = reader.span(&node);
        format!("{}:{} {}", span.line, span.column, &text[span.range()])
    }

    #[test]
    fn nodes_are_placed_where_a_reader_looks() {
        // A block mapping: its first key (the loader marks the `:`).
        assert_eq!(place("a:\n  b: 1\n  c: 2\n", &["a"]), "2:3 b");
        // Flow collections: the whole brackets.
        assert_eq!(place("a: { b: 1 }\n", &["a"]), "1:4 { b: 1 }");
        assert_eq!(place("a: [x, y]\n", &["a"]), "1:4 [x, y]");
        // A value left empty: its key (the loader marks the next token).
        assert_eq!(
            place("a:\n  b:   # none yet\n  c: 1\n", &["a", "b"]),
            "2:3 b"
        );
    }

    #[test]
    fn negative_whole_numbers_are_out_of_range() {
        let source = SourceText::new("t.yaml", "n: -3\n");
        let node = load(&source).expect("valid yaml");
        let mut reader = Reader::new(&source);
        let value = node.as_mapping().and_then(|m| m.get_node("n")).expect("n");
        assert_eq!(reader.integer(value, "`n`", 1, 10), None);
        assert_eq!(
            reader.problems[0].message,
            "`n` must be between 1 and 10, found -3"
        );
    }
}
