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

/// The sampler of one sequence.
pub struct SequenceSampler {
    chain: LlamaSampler,
    grammar: Option<LlamaSampler>,
    mode: GrammarMode,
}

impl SequenceSampler {
    /// A sampler for `sampling` with `seed`, constrained by `grammar` (a grammar sampler:
    /// [`gbnf_sampler`] or llguidance's) if given.
    pub fn new(
        model: &LlamaModel,
        sampling: &Sampling,
        seed: u32,
        grammar: Option<LlamaSampler>,
        mode: GrammarMode,
    ) -> Self {
        let mut stages = Vec::new();
        if (sampling.repeat_penalty - 1.0).abs() > f32::EPSILON {
            stages.push(LlamaSampler::penalties(
                model.n_vocab(),
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
            grammar,
            mode,
        }
    }

    /// Samples (and accepts) the next token from output `idx` of the last decode.
    pub fn sample(&mut self, ctx: &LlamaContext<'_>, idx: i32) -> Result<LlamaToken, ModelError> {
        let Some(grammar) = self.grammar.as_mut() else {
            return Ok(self.chain.sample(ctx, idx));
        };
        let logits = ctx.get_logits_ith(idx);
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
        if self.mode == GrammarMode::Lazy {
            let mut candidates = full();
            candidates.apply_sampler(&mut self.chain);
            if let Some(t) = candidates.selected_token() {
                let mut single =
                    LlamaTokenDataArray::new(vec![LlamaTokenData::new(t, 0.0, 0.0)], false);
                single.apply_sampler(grammar);
                if single.data.first().is_some_and(|d| d.logit().is_finite()) {
                    token = Some(t);
                }
            }
        }
        let token = match token {
            Some(t) => t,
            None => {
                let mut candidates = full();
                candidates.apply_sampler(grammar);
                candidates.apply_sampler(&mut self.chain);
                let t =
                    candidates
                        .selected_token()
                        .ok_or_else(|| ModelError::InvalidConstraint {
                            kind: "grammar",
                            detail: "no token satisfies the grammar".into(),
                        })?;
                let allowed = candidates
                    .data
                    .iter()
                    .find(|d| d.id() == t)
                    .is_some_and(|d| d.logit().is_finite());
                if !allowed {
                    return Err(ModelError::InvalidConstraint {
                        kind: "grammar",
                        detail: "no token satisfies the grammar".into(),
                    });
                }
                t
            }
        };
        grammar
            .try_accept(token)
            .map_err(|e| ModelError::InvalidConstraint {
                kind: "grammar",
                detail: format!("the grammar rejected an accepted token: {e}"),
            })?;
        self.chain.accept(token);
        Ok(token)
    }
}
