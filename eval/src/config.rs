//! The configurations an evaluation compares on the same items ([`Config`]), and the
//! suites ([`Suite`]).

use std::fmt;
use std::str::FromStr;

use agentry_core::plan::strategy::Strategy;

use crate::error::EvalError;

/// A suite of items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Suite {
    /// The Berkeley Function Calling Leaderboard.
    Bfcl,
    /// GSM8K grade-school maths.
    Gsm8k,
    /// Game of 24.
    Game24,
    /// The project's own agent tasks.
    Tasks,
}

impl Suite {
    /// Every suite.
    pub const ALL: [Suite; 4] = [Suite::Bfcl, Suite::Gsm8k, Suite::Game24, Suite::Tasks];

    /// The suite's name.
    pub fn name(&self) -> &'static str {
        match self {
            Suite::Bfcl => "bfcl",
            Suite::Gsm8k => "gsm8k",
            Suite::Game24 => "game24",
            Suite::Tasks => "tasks",
        }
    }

    /// The configurations run when none is named.
    pub fn default_configs(&self) -> Vec<Config> {
        let names: &[&str] = match self {
            Suite::Bfcl | Suite::Tasks => &["planner", "plain"],
            Suite::Gsm8k => &["direct", "cot", "sc"],
            Suite::Game24 => &["cot", "tot"],
        };
        names.iter().filter_map(|n| n.parse().ok()).collect()
    }
}

impl fmt::Display for Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Suite {
    type Err = EvalError;

    fn from_str(name: &str) -> Result<Self, EvalError> {
        Suite::ALL
            .into_iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| EvalError::Unknown {
                what: "suite",
                name: name.to_owned(),
                expected: Suite::ALL.map(|s| s.name()).join(", "),
            })
    }
}

/// How the model is driven on an item.
#[derive(Debug, Clone, PartialEq)]
pub enum Config {
    /// agentry's planner as it is: every step constrained to the step schema built from
    /// the tools (`bfcl`, `tasks`).
    Planner,
    /// The same planner in the model's own tool-call format: the chat template renders
    /// the tools, free text is the answer, only calls are constrained (`bfcl`, `tasks`;
    /// models whose template has a tool-call format).
    Native,
    /// The same model prompted the plain way: tools described in the prompt, free text,
    /// the reply read leniently (every suite).
    Plain,
    /// A reasoning strategy (`gsm8k`, `game24`): `direct`, `cot`, `sc` (5 samples at 0.7),
    /// `sc-N` (N samples), `tot` (breadth 2, depth 2, 3 proposals, valued by score).
    Strategy {
        /// The name as given.
        name: String,
        /// The strategy.
        strategy: Strategy,
    },
}

/// The configuration names, for messages.
pub const CONFIG_NAMES: &str = "planner, native, plain, direct, cot, sc, sc-N, tot";

impl Config {
    /// The name used in reports and traces.
    pub fn name(&self) -> &str {
        match self {
            Config::Planner => "planner",
            Config::Native => "native",
            Config::Plain => "plain",
            Config::Strategy { name, .. } => name,
        }
    }

    /// Whether the configuration can run items of `suite`.
    pub fn applies_to(&self, suite: Suite) -> bool {
        match self {
            Config::Planner | Config::Native => matches!(suite, Suite::Bfcl | Suite::Tasks),
            Config::Plain => true,
            Config::Strategy { .. } => matches!(suite, Suite::Gsm8k | Suite::Game24),
        }
    }
}

impl FromStr for Config {
    type Err = EvalError;

    fn from_str(name: &str) -> Result<Self, EvalError> {
        let unknown = || EvalError::Unknown {
            what: "configuration",
            name: name.to_owned(),
            expected: CONFIG_NAMES.to_owned(),
        };
        match name {
            "planner" => Ok(Config::Planner),
            "native" => Ok(Config::Native),
            "plain" => Ok(Config::Plain),
            "direct" | "cot" | "sc" | "tot" => Ok(Config::Strategy {
                name: name.to_owned(),
                strategy: name.parse().map_err(|_| unknown())?,
            }),
            other => {
                let samples: usize = other
                    .strip_prefix("sc-")
                    .and_then(|n| n.parse().ok())
                    .filter(|n| *n > 0)
                    .ok_or_else(unknown)?;
                Ok(Config::Strategy {
                    name: other.to_owned(),
                    strategy: Strategy::SelfConsistency {
                        samples,
                        temperature: 0.7,
                    },
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_apply_to_their_suites() {
        let sc5: Config = "sc-5".parse().unwrap_or(Config::Plain);
        assert!(matches!(
            sc5,
            Config::Strategy {
                strategy: Strategy::SelfConsistency { samples: 5, .. },
                ..
            }
        ));
        assert_eq!(sc5.name(), "sc-5");
        assert!(sc5.applies_to(Suite::Gsm8k) && !sc5.applies_to(Suite::Bfcl));
        assert!(
            Config::Planner.applies_to(Suite::Tasks) && !Config::Planner.applies_to(Suite::Game24)
        );
        let e = "sc-0"
            .parse::<Config>()
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown configuration `sc-0`"), "{e}");
        assert!("react".parse::<Config>().is_err());
        assert_eq!(
            "game24".parse::<Suite>().map(|s| s.name()).unwrap_or(""),
            "game24"
        );
        let e = "mmlu".parse::<Suite>().map(|_| ()).unwrap_err().to_string();
        assert!(e.contains("bfcl, gsm8k, game24, tasks"), "{e}");
    }
}
