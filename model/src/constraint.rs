//! Grammars every backend that takes GBNF understands.

/// GBNF of a JSON number (integer or decimal, optional exponent).
pub const NUMBER_GRAMMAR: &str =
    r#"root ::= "-"? ([0-9] | [1-9] [0-9]{0,15}) ("." [0-9]{1,10})? ([eE] [-+]? [0-9]{1,3})?"#;
