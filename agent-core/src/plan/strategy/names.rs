//! Strategies by name: the one parser behind YAML workflows, the chat's `/strategy` and the
//! command line, with one set of default parameters.

use std::str::FromStr;

use super::{Evaluator, Strategy};

/// Samples a self-consistency vote takes unless told otherwise.
pub const DEFAULT_SAMPLES: usize = 5;
/// Temperature of self-consistency samples unless told otherwise.
pub const DEFAULT_SAMPLE_TEMPERATURE: f32 = 0.7;
/// States a tree-of-thought search keeps per depth unless told otherwise.
pub const DEFAULT_BREADTH: usize = 2;
/// Thought steps of a tree-of-thought search unless told otherwise.
pub const DEFAULT_DEPTH: usize = 2;
/// Thoughts proposed per frontier state unless told otherwise.
pub const DEFAULT_PROPOSALS: usize = 3;
/// Verdicts sampled per state by [`Evaluator::Vote`] unless told otherwise.
pub const DEFAULT_VOTES: usize = 3;

impl Strategy {
    /// Every name [`Strategy::from_str`] accepts besides the short aliases (`cot`, `sc`, `tot`).
    /// `react` is the tool loop with a direct answer, i.e. [`Strategy::Direct`].
    pub const NAMES: &'static [&'static str] = &[
        "direct",
        "react",
        "chain_of_thought",
        "self_consistency",
        "tree_of_thought",
    ];

    /// Self-consistency with the default samples and temperature.
    pub fn self_consistency() -> Self {
        Strategy::SelfConsistency {
            samples: DEFAULT_SAMPLES,
            temperature: DEFAULT_SAMPLE_TEMPERATURE,
        }
    }

    /// Tree of thought with the default breadth, depth and proposals, valued by score.
    pub fn tree_of_thought() -> Self {
        Strategy::TreeOfThought {
            breadth: DEFAULT_BREADTH,
            depth: DEFAULT_DEPTH,
            proposals: DEFAULT_PROPOSALS,
            evaluator: Evaluator::Score,
        }
    }
}

/// A strategy name that [`Strategy::from_str`] does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown strategy `{name}`: expected direct, react, chain_of_thought (cot), \
     self_consistency (sc) or tree_of_thought (tot)"
)]
pub struct UnknownStrategy {
    /// The name as given.
    pub name: String,
}

impl FromStr for Strategy {
    type Err = UnknownStrategy;

    /// A strategy by name, case-insensitive, `-` read as `_`, with the default parameters.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Ok(
            match name.trim().to_ascii_lowercase().replace('-', "_").as_str() {
                "direct" | "react" => Strategy::Direct,
                "chain_of_thought" | "cot" => Strategy::ChainOfThought,
                "self_consistency" | "sc" => Strategy::self_consistency(),
                "tree_of_thought" | "tot" => Strategy::tree_of_thought(),
                _ => {
                    return Err(UnknownStrategy {
                        name: name.trim().to_owned(),
                    });
                }
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_and_alias_parses_to_its_strategy() {
        for name in Strategy::NAMES {
            let strategy: Strategy = name.parse().unwrap();
            let expected = if *name == "react" { "direct" } else { name };
            assert_eq!(strategy.name(), expected);
        }
        assert_eq!("CoT".parse::<Strategy>().unwrap(), Strategy::ChainOfThought);
        assert_eq!(
            " self-consistency ".parse::<Strategy>().unwrap(),
            Strategy::self_consistency()
        );
        assert_eq!(
            "sc".parse::<Strategy>().unwrap(),
            Strategy::self_consistency()
        );
        assert_eq!(
            "tot".parse::<Strategy>().unwrap(),
            Strategy::tree_of_thought()
        );
    }

    #[test]
    fn an_unknown_name_is_an_error_naming_it() {
        let err = "wisdom".parse::<Strategy>().unwrap_err();
        assert_eq!(err.name, "wisdom");
        assert!(err.to_string().contains("`wisdom`"), "{err}");
    }

    #[test]
    fn the_defaults_are_valid() {
        Strategy::self_consistency().validate().unwrap();
        Strategy::tree_of_thought().validate().unwrap();
    }
}
