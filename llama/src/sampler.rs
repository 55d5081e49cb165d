//! Per-sequence token samplers: the sampling chain plus an optional grammar.

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use llama_cpp_2::token::data::LlamaTokenData;
use llama_cpp_2::token::data_array::LlamaTokenDataArray;

use agentry_model::{ModelError, Sampling};

/// How a grammar is enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub enum GrammarMode {
    /// Sample from the unconstrained chain, check only the sampled token against the grammar,
    /// and apply the grammar to every logit only when that token is rejected (as llama.cpp's
    /// common sampler does). Same guarantees, far fewer grammar checks.
    #[default]
    Lazy,
    /// Apply the grammar to every logit before the chain, at every step.
    Eager,
}

/// What compiles and enforces a [`Constraint::JsonSchema`](agentry_model::Constraint::JsonSchema).
/// GBNF grammars and choices always use llama.cpp's grammar sampler.
///
/// The default is llguidance when the build has it (the `llguidance` feature, on by
/// default): it held every schema the tests use and decoded faster under a schema
/// (`agentry bench model`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum SchemaEngine {
    /// llama.cpp's schema-to-GBNF converter and grammar sampler (always built).
    LlamaGrammar,
    /// llguidance's schema compiler and token-mask sampler (the `llguidance` feature).
    Llguidance,
}

impl Default for SchemaEngine {
    fn default() -> Self {
        if cfg!(feature = "llguidance") {
            Self::Llguidance
        } else {
            Self::LlamaGrammar
        }
    }
}

impl SchemaEngine {
    /// Whether this build can use the engine.
    pub fn is_available(self) -> bool {
        match self {
            Self::LlamaGrammar => true,
            Self::Llguidance => cfg!(feature = "llguidance"),
        }
    }
}

/// A llama.cpp grammar sampler for the GBNF `grammar` (start symbol `root`).
///
/// # Errors
/// [`ModelError::InvalidConstraint`] when llama.cpp cannot parse the grammar.
pub fn gbnf_sampler(model: &LlamaModel, grammar: &str) -> Result<LlamaSampler, ModelError> {
    LlamaSampler::grammar(model, grammar, "root").map_err(|e| ModelError::InvalidConstraint {
        kind: "grammar",
        detail: format!("llama.cpp cannot parse the GBNF grammar ({e}): {grammar}"),
    })
}

/// A llama.cpp grammar sampler that holds `lazy`'s grammar only from one of its triggers
/// on. A trigger that is one token of the vocabulary (Qwen's `<tool_call>`) is also given
/// as that token, so it switches the grammar on however it was sampled.
///
/// # Errors
/// [`ModelError::InvalidConstraint`] when llama.cpp cannot parse the grammar.
pub fn lazy_gbnf_sampler(
    model: &LlamaModel,
    lazy: &crate::grammar::LazyGrammar,
) -> Result<LlamaSampler, ModelError> {
    let trigger_tokens: Vec<LlamaToken> = lazy
        .trigger_texts
        .iter()
        .filter_map(|trigger| {
            let tokens = model.vocab().tokenize(trigger.as_bytes(), false, true);
            match tokens.as_slice() {
                [one] => Some(*one),
                _ => None,
            }
        })
        .collect();
    LlamaSampler::grammar_lazy_patterns(
        model,
        &lazy.grammar,
        lazy.root,
        &lazy.triggers,
        &trigger_tokens,
    )
    .map_err(|e| ModelError::InvalidConstraint {
        kind: "tool calls",
        detail: format!(
            "llama.cpp cannot parse the tool-call grammar ({e}): {}",
            lazy.grammar
        ),
    })
}

/// Checks the sampling parameters.
pub fn validate(s: &Sampling) -> Result<(), ModelError> {
    let bad = |what: String| Err(ModelError::InvalidRequest(what));
    if !s.temperature.is_finite() || s.temperature < 0.0 {
        return bad(format!(
            "temperature {} is not a finite number >= 0",
            s.temperature
        ));
    }
    if !(s.top_p > 0.0 && s.top_p <= 1.0) {
        return bad(format!("top_p {} is not in (0, 1]", s.top_p));
    }
    if !(0.0..=1.0).contains(&s.min_p) {
        return bad(format!("min_p {} is not in [0, 1]", s.min_p));
    }
    if !s.repeat_penalty.is_finite() || s.repeat_penalty <= 0.0 {
        return bad(format!("repeat_penalty {} is not > 0", s.repeat_penalty));
    }
    if s.top_k < 0 {
        return bad(format!("top_k {} is negative", s.top_k));
    }
    if s.max_tokens == 0 {
        return bad("max_tokens is 0".into());
    }
    Ok(())
}

/// What holds one sequence to its constraint.
///
/// Every way this can fail is an error that ends the generation: a grammar that admits no
/// token, a token the grammar rejects, or an llguidance matcher in an error state. Nothing
/// falls back to unconstrained sampling.
pub enum TokenConstraint {
    /// llama.cpp's grammar sampler (GBNF, choices, schemas converted to GBNF): it throws on
    /// a rejected token, which `try_accept` turns into an error.
    Grammar(LlamaSampler),
    /// An llguidance matcher, masked and advanced here rather than through llama-cpp-2's
    /// llguidance sampler, which leaves logits unmasked when the matcher errors and ignores
    /// errors when a token is consumed.
    #[cfg(feature = "llguidance")]
    Guidance(Box<llguidance::Matcher>),
}

impl std::fmt::Debug for TokenConstraint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Grammar(_) => f.write_str("TokenConstraint::Grammar"),
            #[cfg(feature = "llguidance")]
            Self::Guidance(_) => f.write_str("TokenConstraint::Guidance"),
        }
    }
}

/// The error of a constraint that can no longer be enforced.
fn broken(kind: &'static str, detail: impl std::fmt::Display) -> ModelError {
    ModelError::InvalidConstraint {
        kind,
        detail: format!("the constraint cannot be enforced, generation stopped: {detail}"),
    }
}

#[cfg(feature = "llguidance")]
fn matcher_error(
    matcher: &llguidance::Matcher,
    during: &str,
    error: impl std::fmt::Display,
) -> ModelError {
    let detail = matcher.get_error().unwrap_or_else(|| error.to_string());
    broken(
        "json schema",
        format!("llguidance failed while {during}: {detail}"),
    )
}

/// The sampler of one sequence.
pub struct SequenceSampler {
    chain: LlamaSampler,
    constraint: Option<TokenConstraint>,
    mode: GrammarMode,
}

impl SequenceSampler {
    /// A sampler for `sampling` with `seed`, held to `constraint` if given.
    pub fn new(
        model: &LlamaModel,
        sampling: &Sampling,
        seed: u32,
        constraint: Option<TokenConstraint>,
        mode: GrammarMode,
    ) -> Self {
        Self::with_vocab(model.n_vocab(), sampling, seed, constraint, mode)
    }

    /// As [`SequenceSampler::new`], for a vocabulary of `n_vocab` tokens.
    pub fn with_vocab(
        n_vocab: i32,
        sampling: &Sampling,
        seed: u32,
        constraint: Option<TokenConstraint>,
        mode: GrammarMode,
    ) -> Self {
        let mut stages = Vec::new();
        if (sampling.repeat_penalty - 1.0).abs() > f32::EPSILON {
            stages.push(LlamaSampler::penalties(
                n_vocab,
                64,
                sampling.repeat_penalty,
                0.0,
                0.0,
            ));
        }
        if sampling.temperature <= 0.0 {
            stages.push(LlamaSampler::greedy());
        } else {
            if sampling.top_k > 0 {
                stages.push(LlamaSampler::top_k(sampling.top_k));
            }
            if sampling.top_p < 1.0 {
                stages.push(LlamaSampler::top_p(sampling.top_p, 1));
            }
            if sampling.min_p > 0.0 {
                stages.push(LlamaSampler::min_p(sampling.min_p, 1));
            }
            stages.push(LlamaSampler::temp(sampling.temperature));
            stages.push(LlamaSampler::dist(seed));
        }
        Self {
            chain: LlamaSampler::chain_simple(stages),
            constraint,
            mode,
        }
    }

    /// Samples (and accepts) the next token from output `idx` of the last decode.
    ///
    /// # Errors
    /// [`ModelError::InvalidConstraint`] when the constraint admits no token or cannot be
    /// enforced (see [`TokenConstraint`]).
    pub fn sample(&mut self, ctx: &LlamaContext<'_>, idx: i32) -> Result<LlamaToken, ModelError> {
        if self.constraint.is_none() {
            return Ok(self.chain.sample(ctx, idx));
        }
        self.sample_logits(ctx.get_logits_ith(idx))
    }

    /// Samples (and accepts) the next token from these logits (one per vocabulary token).
    ///
    /// # Errors
    /// As [`SequenceSampler::sample`].
    pub fn sample_logits(&mut self, logits: &[f32]) -> Result<LlamaToken, ModelError> {
        let full = || {
            LlamaTokenDataArray::new(
                logits
                    .iter()
                    .enumerate()
                    .map(|(i, &l)| LlamaTokenData::new(LlamaToken(i as i32), l, 0.0))
                    .collect(),
                false,
            )
        };
        let mut token = None;
        if self.mode == GrammarMode::Lazy || self.constraint.is_none() {
            let mut candidates = full();
            candidates.apply_sampler(&mut self.chain);
            if let Some(t) = candidates.selected_token()
                && self.allows(t)?
            {
                token = Some(t);
            }
        }
        let token = match token {
            Some(t) => t,
            None => {
                let mut candidates = full();
                self.mask(&mut candidates)?;
                candidates.apply_sampler(&mut self.chain);
                let none = || broken(self.kind(), "no token satisfies the constraint");
                let t = candidates.selected_token().ok_or_else(none)?;
                let allowed = candidates
                    .data
                    .iter()
                    .find(|d| d.id() == t)
                    .is_some_and(|d| d.logit().is_finite());
                if !allowed {
                    return Err(none());
                }
                t
            }
        };
        self.advance(token)?;
        self.chain.accept(token);
        Ok(token)
    }

    fn kind(&self) -> &'static str {
        match &self.constraint {
            #[cfg(feature = "llguidance")]
            Some(TokenConstraint::Guidance(_)) => "json schema",
            _ => "grammar",
        }
    }

    /// Whether the constraint admits `token` next (always, without one).
    fn allows(&mut self, token: LlamaToken) -> Result<bool, ModelError> {
        match &mut self.constraint {
            None => Ok(true),
            Some(TokenConstraint::Grammar(grammar)) => {
                let mut single =
                    LlamaTokenDataArray::new(vec![LlamaTokenData::new(token, 0.0, 0.0)], false);
                single.apply_sampler(grammar);
                Ok(single.data.first().is_some_and(|d| d.logit().is_finite()))
            }
            #[cfg(feature = "llguidance")]
            Some(TokenConstraint::Guidance(matcher)) => {
                if matcher.is_error() {
                    return Err(matcher_error(matcher, "checking a token", "error state"));
                }
                let Ok(id) = u32::try_from(token.0) else {
                    return Ok(false);
                };
                match matcher.validate_tokens(&[id]) {
                    Ok(n) => Ok(n == 1),
                    Err(e) => Err(matcher_error(matcher, "checking a token", e)),
                }
            }
        }
    }

    /// Sets the logit of every token the constraint does not admit to minus infinity.
    fn mask(&mut self, candidates: &mut LlamaTokenDataArray) -> Result<(), ModelError> {
        match &mut self.constraint {
            None => Ok(()),
            Some(TokenConstraint::Grammar(grammar)) => {
                candidates.apply_sampler(grammar);
                Ok(())
            }
            #[cfg(feature = "llguidance")]
            Some(TokenConstraint::Guidance(matcher)) => {
                if matcher.is_error() {
                    return Err(matcher_error(matcher, "computing the mask", "error state"));
                }
                let mask = matcher
                    .compute_mask_or_eos()
                    .map_err(|e| matcher_error(matcher, "computing the mask", e))?;
                for item in candidates.data.iter_mut() {
                    let id = usize::try_from(item.id().0).unwrap_or(usize::MAX);
                    if id >= mask.len() || !mask.get(id) {
                        item.set_logit(f32::NEG_INFINITY);
                    }
                }
                Ok(())
            }
        }
    }

    /// Advances the constraint past `token`.
    fn advance(&mut self, token: LlamaToken) -> Result<(), ModelError> {
        match &mut self.constraint {
            None => Ok(()),
            Some(TokenConstraint::Grammar(grammar)) => grammar.try_accept(token).map_err(|e| {
                broken(
                    "grammar",
                    format!("the grammar rejected token {}: {e}", token.0),
                )
            }),
            #[cfg(feature = "llguidance")]
            Some(TokenConstraint::Guidance(matcher)) => {
                // The token that ends the reply is not consumed: a stopped matcher only
                // admits end-of-generation tokens, and the generation ends with one.
                if matcher.is_stopped() && !matcher.is_error() {
                    return Ok(());
                }
                let id = u32::try_from(token.0).map_err(|_| {
                    broken("json schema", format!("token id {} is negative", token.0))
                })?;
                let eos = matcher
                    .tok_env()
                    .map(|env| env.tok_trie().eos_tokens().contains(&id))
                    .map_err(|e| matcher_error(matcher, "reading the vocabulary", e))?;
                if eos {
                    return if matcher.is_accepting().unwrap_or(false) {
                        Ok(())
                    } else {
                        Err(broken(
                            "json schema",
                            "an end token was sampled before the schema was complete",
                        ))
                    };
                }
                matcher
                    .consume_token(id)
                    .map_err(|e| matcher_error(matcher, "consuming a token", e))?;
                if matcher.is_error() {
                    return Err(matcher_error(matcher, "consuming a token", "error state"));
                }
                Ok(())
            }
        }
    }
}
