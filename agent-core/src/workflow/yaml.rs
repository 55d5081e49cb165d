//! Reading YAML nodes (with their positions) into workflow parts, collecting every
//! problem instead of stopping at the first.

use marked_yaml::types::{MarkedMappingNode, MarkedScalarNode, MarkedSequenceNode};
use marked_yaml::{LoadError, LoaderOptions, Node};
use serde_json::{Map, Number, Value};

use super::diagnostic::Diagnostic;
use super::source::{Source, Span};

/// Parses `source` into a YAML node tree (top level a mapping, duplicate keys refused).
pub(crate) fn load(source: &Source) -> Result<Node, Diagnostic> {
    let options = LoaderOptions::default().error_on_duplicate_keys(true);
    marked_yaml::parse_yaml_with_options(0, source.text(), options)
        .map_err(|e| load_error(source, e))
}

fn load_error(source: &Source, error: LoadError) -> Diagnostic {
    let at = |m: &marked_yaml::Marker| source.token_at(m.line(), m.column());
    match error {
        LoadError::TopLevelMustBeMapping(m) => Diagnostic::at(
            at(&m),
            "a workflow file must be a mapping (name:, model:, steps:, ...)",
            "expected `key: value` here",
        ),
        LoadError::TopLevelMustBeSequence(m) => {
            Diagnostic::at(at(&m), "expected a list at the top level", "here")
        }
        LoadError::UnexpectedAnchor(m) => Diagnostic::at(
            at(&m),
            "YAML anchors and aliases are not supported in workflow files",
            "anchor or alias",
        )
        .with_help("repeat the value, or move shared text into an agent's instructions"),
        LoadError::MappingKeyMustBeScalar(m) => {
            Diagnostic::at(at(&m), "a mapping key must be a plain name", "complex key")
        }
        LoadError::UnexpectedTag(m) => Diagnostic::at(
            at(&m),
            "YAML tags (`!tag`) are not supported in workflow files",
            "tag",
        ),
        LoadError::ScanError(m, e) => {
            let message = e.to_string();
            // yaml-rust appends " at line L column C" to its message; the caret says it.
            let message = message
                .split(" at line ")
                .next()
                .unwrap_or(&message)
                .to_string();
            Diagnostic::at(
                source.span_at(m.line(), m.column(), 1),
                format!("invalid YAML: {message}"),
                "here",
            )
        }
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
        }
    }
}

fn scalar_span(source: &Source, node: &MarkedScalarNode) -> Span {
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

/// Reads nodes of one file and collects the problems found.
pub(crate) struct Reader<'s> {
    pub(crate) source: &'s Source,
    pub(crate) problems: Vec<Diagnostic>,
}

impl<'s> Reader<'s> {
    pub(crate) fn new(source: &'s Source) -> Self {
        Self {
            source,
            problems: Vec::new(),
        }
    }

    /// Records a problem.
    pub(crate) fn error(&mut self, diagnostic: Diagnostic) {
        self.problems.push(diagnostic);
    }

    /// Where `node` starts (its first token underlined).
    pub(crate) fn span(&self, node: &Node) -> Span {
        match node.span().start() {
            Some(m) => self.source.token_at(m.line(), m.column()),
            None => Span::default(),
        }
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
            diagnostic = match closest(key.as_str(), allowed.iter().copied()) {
                Some(best) => diagnostic.with_help(format!("did you mean `{best}`?")),
                None => diagnostic.with_help(format!("expected one of: {}", allowed.join(", "))),
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

    /// A non-empty text scalar.
    pub(crate) fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match node {
            Node::Scalar(s) if is_null(s) => {
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
        let span = self.span(node);
        let value = match node {
            Node::Scalar(s) if s.may_coerce() => s.as_str().parse::<u64>().ok(),
            _ => None,
        };
        match value {
            Some(v) if (min..=max).contains(&v) => Some(v),
            Some(v) => {
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
                    format!("{what} must be a whole number, found {}", describe(node)),
                    "expected a number",
                ));
                None
            }
        }
    }

    /// A number within `min..=max`.
    pub(crate) fn number(&mut self, node: &Node, what: &str, min: f64, max: f64) -> Option<f64> {
        let span = self.span(node);
        let value = match node {
            Node::Scalar(s) if s.may_coerce() => s.as_str().parse::<f64>().ok(),
            _ => None,
        };
        match value {
            Some(v) if v.is_finite() && v >= min && v <= max => Some(v),
            Some(v) => {
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
                    format!("{what} must be a number, found {}", describe(node)),
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
            format!("`{text}`")
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
        let source = Source::new("t.yaml", "a: 3\nb: '3'\nc: true\nd: 2.5\ne:\nf: [x, 1]\n");
        let node = load(&source).expect("valid yaml");
        let json = to_json(&node);
        assert_eq!(
            json,
            serde_json::json!({"a": 3, "b": "3", "c": true, "d": 2.5, "e": null, "f": ["x", 1]})
        );
    }
}
