//! JSON Schema constraints through llguidance (the `llguidance` feature): the schema is
//! compiled by llguidance's own JSON-Schema compiler and enforced by its token-mask
//! sampler, instead of llama.cpp's schema-to-GBNF converter and grammar sampler.

use llama_cpp_2::model::LlamaModel as RawModel;
use llama_cpp_2::sampling::LlamaSampler;
use llguidance::api::TopLevelGrammar;
use llguidance::{Matcher, ParserFactory};
use serde_json::Value;

use super::ModelError;

/// llguidance's parser factory over one model's vocabulary. Building it walks the whole
/// vocabulary once, so a worker builds it on the first llguidance request and keeps it.
pub struct Guidance {
    factory: ParserFactory,
}

impl Guidance {
    /// The factory for `model`'s vocabulary.
    pub fn new(model: &RawModel) -> Result<Self, ModelError> {
        let env = LlamaSampler::llguidance_tok_env(model);
        let factory =
            ParserFactory::new_simple(&env).map_err(|e| ModelError::InvalidConstraint {
                kind: "json schema",
                detail: format!("llguidance cannot index the vocabulary: {e}"),
            })?;
        Ok(Self { factory })
    }

    /// `n` samplers (one per sample) that hold decoding to `schema`.
    ///
    /// # Errors
    /// [`ModelError::InvalidConstraint`] when llguidance cannot compile the schema.
    pub fn samplers(&self, schema: &Value, n: usize) -> Result<Vec<LlamaSampler>, ModelError> {
        let invalid = |detail: String| ModelError::InvalidConstraint {
            kind: "json schema",
            detail: format!("llguidance cannot compile the schema: {detail}"),
        };
        if !(schema.is_object() || schema.is_boolean()) {
            return Err(ModelError::InvalidConstraint {
                kind: "json schema",
                detail: format!("a schema is an object or a boolean, not {schema}"),
            });
        }
        let parser = self
            .factory
            .create_parser(TopLevelGrammar::from_json_schema(schema.clone()))
            .map_err(|e| invalid(e.to_string()))?;
        let matcher = Matcher::new(Ok(parser));
        if let Some(error) = matcher.get_error() {
            return Err(invalid(error));
        }
        Ok((0..n)
            .map(|_| LlamaSampler::from(matcher.deep_clone()))
            .collect())
    }
}
