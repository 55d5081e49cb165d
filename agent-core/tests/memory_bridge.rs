//! The model's side of short-term memory, on the real SmolLM2: counting
//! tokens with the model's own tokenizer, and summarising turns with it.

use std::sync::Arc;

use agentry_core::model::{LanguageModel, LlamaConfig, LlamaModel, ModelTokenizer};
use agentry_core::summarize::ModelSummarizer;
use agentry_memory::{Summarizer, TokenCounter, Turn};

mod support;

use support::smollm2_path as smollm2;

#[tokio::test]
async fn the_vocab_only_tokenizer_counts_like_the_model() {
    let path = smollm2().await;
    let tokenizer = ModelTokenizer::load(&path).unwrap();
    let config = LlamaConfig {
        n_ctx: 512,
        threads: 2,
        ..LlamaConfig::default()
    };
    let model = LlamaModel::open(path.clone(), config).await.unwrap();
    for text in [
        "",
        "Hello",
        "The quick brown fox jumps over the lazy dog.",
        "naïve café — 東京 🚀 <|im_start|>",
    ] {
        let counted: &dyn TokenCounter = &tokenizer;
        assert_eq!(
            counted.count_tokens(text),
            model.count_tokens(text).await.unwrap(),
            "{text:?}"
        );
    }
    assert!(tokenizer.count_tokens("one two three four five six") >= 6);

    let err = ModelTokenizer::load(std::path::Path::new("/no/such/model.gguf")).unwrap_err();
    assert!(err.to_string().contains("/no/such/model.gguf"), "{err}");
}

#[tokio::test]
async fn the_model_summarises_turns_into_a_bounded_note() {
    let path = smollm2().await;
    let config = LlamaConfig {
        n_ctx: 2048,
        threads: 2,
        ..LlamaConfig::default()
    };
    let model: Arc<dyn LanguageModel> =
        Arc::new(LlamaModel::open(path.clone(), config).await.unwrap());
    let summarizer = ModelSummarizer::new(model).with_max_words(30);
    let turns = vec![
        Turn::new(
            "user",
            "My name is Ada and I am planning a trip to Lisbon in May.",
        ),
        Turn::new(
            "assistant",
            "Lisbon in May is lovely. How many days will you stay?",
        ),
        Turn::new("user", "Five days, on a budget of 900 euros."),
    ];
    let note = summarizer.summarize(None, &turns).await.unwrap();
    assert!(!note.trim().is_empty());
    // At most 2 tokens per allowed word are generated.
    let tokenizer = ModelTokenizer::load(&path).unwrap();
    assert!(tokenizer.count_tokens(&note) <= 60, "{note}");
    // A second round folds the previous note in and still answers.
    let again = summarizer
        .summarize(
            Some(&note),
            &[Turn::new("user", "I prefer trains to buses.")],
        )
        .await
        .unwrap();
    assert!(!again.trim().is_empty());
}
