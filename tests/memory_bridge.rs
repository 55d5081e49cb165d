//! The model's side of short-term memory, on the real SmolLM2: counting
//! tokens with the model's own tokenizer, and summarising turns with it.

use std::sync::Arc;

use agentry_core::agent::ModelTokenCounter;
use agentry_core::model::LanguageModel;
use agentry_core::summarize::ModelSummarizer;
use agentry_llama::{LlamaConfig, LlamaModel, ModelTokenizer};
use agentry_memory::{Summarizer, TokenCounter, Turn};

mod support;

use support::smollm2_path as smollm2;

#[tokio::test]
async fn the_vocab_only_tokenizer_counts_like_the_model() {
    let path = smollm2().await;
    let tokenizer = ModelTokenCounter(Arc::new(ModelTokenizer::load(&path).unwrap()));
    let config = LlamaConfig {
        n_ctx: 512,
        threads: 2,
        gpu_layers: support::gpu_layers(),
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

/// SmolLM2 at `path` with a 2048-token context on 2 threads.
async fn open_model(path: &std::path::Path) -> Arc<dyn LanguageModel> {
    let config = LlamaConfig {
        n_ctx: 2048,
        threads: 2,
        gpu_layers: support::gpu_layers(),
        ..LlamaConfig::default()
    };
    Arc::new(LlamaModel::open(path.to_path_buf(), config).await.unwrap())
}

#[tokio::test]
async fn the_model_summarises_turns_into_a_bounded_note() {
    let path = smollm2().await;
    let model = open_model(&path).await;
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
    assert!(tokenizer.count(&note) <= 60, "{note}");
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

/// The whole short-term memory on real parts: SmolLM2 counts and summarises, the ONNX
/// embedder and Qdrant Edge keep every turn. Overflowing the budget folds the oldest turns
/// into a note, the window stays within budget, old turns stay recallable, and a reopened
/// session (a restart) has the same note and window.
#[tokio::test]
async fn an_overflowing_conversation_is_summarised_by_the_model_and_survives_a_restart() {
    use agentry_memory::{
        EdgeStore, FastEmbedder, LongTermMemory, ShortTermConfig, ShortTermMemory, VectorStore,
    };

    let path = smollm2().await;
    let model = open_model(&path).await;
    let counter: Arc<dyn TokenCounter> = Arc::new(ModelTokenCounter(Arc::new(
        ModelTokenizer::load(&path).unwrap(),
    )));
    let dir = tempfile::tempdir().unwrap();
    let open_memory = || async {
        let store: Arc<dyn VectorStore> = Arc::new(EdgeStore::open(dir.path()).unwrap());
        let embedder = Arc::new(
            FastEmbedder::from_env_store()
                .await
                .expect("the model store must provide the embedder and ONNX Runtime"),
        );
        LongTermMemory::open(store, embedder).await.unwrap()
    };
    let budget = 150;
    let short_term_config = || {
        let summarizer = ModelSummarizer::new(model.clone()).with_max_words(25);
        ShortTermConfig::new(budget).summarize_with(Arc::new(summarizer))
    };
    let turns = [
        (
            "user",
            "My name is Ada and I am planning a trip to Lisbon in May.",
        ),
        (
            "assistant",
            "Lisbon in May is lovely. How many days will you stay there?",
        ),
        (
            "user",
            "Five days, on a budget of nine hundred euros, travelling by train.",
        ),
        (
            "assistant",
            "Trains from Madrid take about ten hours; night trains save a hotel night.",
        ),
        (
            "user",
            "I would like to visit the tile museum and eat pastel de nata every day.",
        ),
        (
            "assistant",
            "The National Tile Museum is in Xabregas; the best custard tarts are in Belém.",
        ),
        (
            "user",
            "Which neighbourhood should I stay in to walk everywhere?",
        ),
        (
            "assistant",
            "Baixa or Chiado are central, flat enough, and close to the river.",
        ),
    ];

    let mut memory = ShortTermMemory::open(
        "trip",
        open_memory().await,
        counter.clone(),
        short_term_config(),
    )
    .await
    .unwrap();
    memory
        .set_system("You are a helpful travel assistant.")
        .await
        .unwrap();
    for (role, text) in turns {
        memory.push(Turn::new(role, text)).await.unwrap();
        assert!(
            memory.token_count() <= budget,
            "{} tokens in the window, budget {budget}",
            memory.token_count()
        );
    }
    let note = memory
        .summary()
        .expect("the oldest turns were summarised into a note")
        .to_owned();
    assert!(!note.trim().is_empty());
    let window = memory.window();
    assert!(
        !window.is_empty() && window.len() < turns.len(),
        "{window:?}"
    );
    assert_eq!(window.last().unwrap().content, turns[7].1);
    let messages = memory.messages();
    assert_eq!(messages[0].role, "system");
    assert_eq!(messages[0].content, "You are a helpful travel assistant.");
    assert!(messages[1].content.contains(&note), "{messages:?}");

    // The first turn left the window but not memory.
    let recalled = memory.recall("trip to Lisbon in May", 3).await.unwrap();
    assert!(
        recalled.iter().any(|r| r.item.text == turns[0].1),
        "{recalled:?}"
    );

    // A restart: the same session reopens with the same note and window.
    drop(memory);
    let reopened = ShortTermMemory::open("trip", open_memory().await, counter, short_term_config())
        .await
        .unwrap();
    assert_eq!(reopened.summary(), Some(note.as_str()));
    assert_eq!(reopened.window(), window);
    assert_eq!(
        reopened.system(),
        Some("You are a helpful travel assistant.")
    );
}
