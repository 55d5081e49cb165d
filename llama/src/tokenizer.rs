//! [`ModelTokenizer`]: a GGUF model's own tokenizer, loaded without its
//! weights, for counting tokens synchronously from any thread (e.g. the
//! conversation window of an agent's chat).

use std::path::Path;

use llama_cpp_2::model::LlamaModel as RawModel;
use llama_cpp_2::model::params::LlamaModelParams;

use crate::gguf::GgufInfo;
use crate::model::backend;
use agentry_model::ModelError;

/// The vocabulary of a GGUF model (llama.cpp's `vocab_only` load: no weights,
/// a few MB). Cheap to call from any thread; it never waits for the model's
/// worker, so counting tokens does not queue behind a generation.
pub struct ModelTokenizer {
    vocab: RawModel,
}

impl std::fmt::Debug for ModelTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelTokenizer").finish_non_exhaustive()
    }
}

impl ModelTokenizer {
    /// Loads only the vocabulary of the GGUF file at `path`.
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        // Validate the header first: llama.cpp may abort on a malformed file.
        GgufInfo::read(path).map_err(|source| ModelError::InvalidModelFile {
            path: path.to_path_buf(),
            source: Box::new(source),
        })?;
        let params = LlamaModelParams::default().with_vocab_only(true);
        let vocab =
            RawModel::load_from_file(backend()?, path, &params).map_err(|e| ModelError::Load {
                path: path.to_path_buf(),
                detail: e.to_string(),
            })?;
        Ok(Self { vocab })
    }

    /// Tokens of `text`, counted as [`LanguageModel::count_tokens`]
    /// counts them: no special tokens added, none parsed.
    ///
    /// [`LanguageModel::count_tokens`]: agentry_model::LanguageModel::count_tokens
    pub fn count(&self, text: &str) -> usize {
        self.vocab
            .vocab()
            .tokenize(text.as_bytes(), false, false)
            .len()
    }
}

impl agentry_model::TokenCount for ModelTokenizer {
    fn count(&self, text: &str) -> usize {
        ModelTokenizer::count(self, text)
    }
}
