//! `strategy:` of an agent or a step: a name, or one name mapped to its settings.

use super::*;

/// A strategy: a name, or a mapping of one name to its settings.
pub(crate) fn strategy(reader: &mut Reader<'_>, node: &Node) -> Option<Strategy> {
    let span = reader.span(node);
    let (name, settings) = match node {
        Node::Scalar(_) => (reader.string(node, "`strategy`")?, None),
        Node::Mapping(m) if m.len() == 1 => {
            let (key, value) = m.iter().next()?;
            (
                key.as_str().to_string(),
                Some((reader.key_span(key), value)),
            )
        }
        other => {
            reader.error(Diagnostic::at(
                span,
                format!(
                    "`strategy` must be a name or a mapping of one name to its settings, found {}",
                    describe(other)
                ),
                "expected e.g. `chain_of_thought` or `{ self_consistency: { samples: 5 } }`",
            ));
            return None;
        }
    };
    let name_span = settings.as_ref().map_or(span, |(s, _)| *s);
    let settings_map = match settings {
        Some((_, Node::Scalar(s))) if s.as_str().is_empty() => None,
        Some((_, value)) => Some(reader.mapping(value, &format!("the settings of `{name}`"))?),
        None => None,
    };
    let get = |key: &str| settings_map.and_then(|m: &MarkedMappingNode| m.get_node(key));
    let mut strategy = match name.parse::<Strategy>() {
        Ok(strategy) => strategy,
        Err(unknown) => {
            let mut d = Diagnostic::at(
                name_span,
                format!("unknown strategy `{}`", unknown.name),
                "unknown strategy",
            );
            d = match closest(&unknown.name, STRATEGY_NAMES.iter().copied()) {
                Some(best) => d.with_help(format!("did you mean `{best}`?")),
                None => d.with_help(format!("strategies: {}", STRATEGY_NAMES.join(", "))),
            };
            reader.error(d);
            return None;
        }
    };
    match &mut strategy {
        Strategy::SelfConsistency {
            samples,
            temperature,
        } => {
            if let Some(m) = settings_map {
                reader.known_keys(m, &["samples", "temperature"], "`self_consistency`");
            }
            if let Some(n) = get("samples").and_then(|n| reader.integer(n, "`samples`", 1, 64)) {
                *samples = n as usize;
            }
            if let Some(t) =
                get("temperature").and_then(|n| reader.number(n, "`temperature`", 0.0, 5.0))
            {
                *temperature = t as f32;
            }
        }
        Strategy::TreeOfThought {
            breadth,
            depth,
            proposals,
            evaluator,
        } => {
            if let Some(m) = settings_map {
                reader.known_keys(
                    m,
                    &["breadth", "depth", "proposals", "evaluator"],
                    "`tree_of_thought`",
                );
            }
            if let Some(n) = get("evaluator") {
                match reader.string(n, "`evaluator`").as_deref() {
                    Some("score") | None => *evaluator = Evaluator::Score,
                    Some("vote") => {
                        *evaluator = Evaluator::Vote {
                            samples: DEFAULT_VOTES,
                        }
                    }
                    Some(other) => {
                        let at = reader.span(n);
                        reader.error(Diagnostic::at(
                            at,
                            format!("unknown evaluator `{other}`"),
                            "expected `score` or `vote`",
                        ));
                    }
                }
            }
            if let Some(n) = get("breadth").and_then(|n| reader.integer(n, "`breadth`", 1, 16)) {
                *breadth = n as usize;
            }
            if let Some(n) = get("depth").and_then(|n| reader.integer(n, "`depth`", 1, 8)) {
                *depth = n as usize;
            }
            if let Some(n) = get("proposals").and_then(|n| reader.integer(n, "`proposals`", 1, 16))
            {
                *proposals = n as usize;
            }
        }
        Strategy::Direct | Strategy::ChainOfThought => {}
    }
    if settings_map.is_some() && matches!(strategy, Strategy::Direct | Strategy::ChainOfThought) {
        reader.error(
            Diagnostic::at(
                name_span,
                format!("strategy `{name}` takes no settings"),
                "write it as a plain name",
            )
            .with_help(format!(
                "write `strategy: {name}`; `self_consistency` and `tree_of_thought` take settings"
            )),
        );
    }
    Some(strategy)
}
