//! Short-term memory: budget, pinned system prompt, summarisation, recall.
//! Uses the real embedder and the real MiniLM tokenizer as token counter;
//! the summariser is a recording test double (a model would summarise in
//! agent-core).

mod common;

use std::sync::{Arc, Mutex};

use agentry_memory::{
    LongTermMemory, ShortTermConfig, ShortTermMemory, SummarizeError, Summarizer, TokenCounter,
    TokenizerCounter, Turn,
};
use async_trait::async_trait;

/// Test double: records every call and returns a short note.
#[derive(Default)]
struct RecordingSummarizer {
    calls: Mutex<Vec<(Option<String>, Vec<Turn>)>>,
}

#[async_trait]
impl Summarizer for RecordingSummarizer {
    async fn summarize(
        &self,
        previous: Option<&str>,
        turns: &[Turn],
    ) -> Result<String, SummarizeError> {
        let mut calls = self.calls.lock().map_err(|e| e.to_string())?;
        calls.push((previous.map(str::to_string), turns.to_vec()));
        let total: usize = calls.iter().map(|(_, t)| t.len()).sum();
        Ok(format!("{total} earlier turns about pets and plans."))
    }
}

fn turn_text(i: usize) -> String {
    match i {
        0 => "My cat is named Biscuit and she loves tuna.".to_string(),
        _ => format!("Message {i}: let us talk about the plan for week {i} and its tasks."),
    }
}

async fn session(
    budget: usize,
    summarizer: Option<Arc<RecordingSummarizer>>,
) -> (tempfile::TempDir, ShortTermMemory, Arc<dyn TokenCounter>) {
    let (dir, store) = common::edge_store();
    let e = common::embedder().await;
    let counter: Arc<dyn TokenCounter> =
        Arc::new(TokenizerCounter(e.tokenizer().expect("tokenizer")));
    let ltm = LongTermMemory::open(store, Arc::new(e)).await.expect("ltm");
    let mut config = ShortTermConfig::new(budget);
    if let Some(s) = summarizer {
        config = config.summarize_with(s);
    }
    let stm = ShortTermMemory::open("s1", ltm, counter.clone(), config)
        .await
        .expect("open session");
    (dir, stm, counter)
}

#[tokio::test]
async fn stays_within_budget_keeps_the_system_prompt_and_summarises_the_oldest_turns() {
    let summarizer = Arc::new(RecordingSummarizer::default());
    let (_dir, mut stm, counter) = session(120, Some(summarizer.clone())).await;
    stm.set_system("You are a helpful assistant.")
        .await
        .expect("system");
    for i in 0..12 {
        stm.push(Turn::user(turn_text(i))).await.expect("push");
        let tokens: usize = stm
            .messages()
            .iter()
            .map(|m| counter.count_tokens(&m.content) + 4)
            .sum();
        assert_eq!(tokens, stm.token_count());
        assert!(tokens <= 120, "over budget after turn {i}: {tokens}");
        assert_eq!(
            stm.messages()[0],
            Turn::new("system", "You are a helpful assistant.")
        );
    }
    let calls = summarizer.calls.lock().expect("lock").clone();
    assert!(!calls.is_empty(), "overflow summarised");
    // The first call gets the oldest turns, in order, starting at turn 0.
    assert_eq!(calls[0].0, None);
    assert_eq!(calls[0].1[0].content, turn_text(0));
    // Calls together cover consecutive turns 0..n, each once, oldest first.
    let summarised: Vec<String> = calls
        .iter()
        .flat_map(|(_, t)| t.iter().map(|t| t.content.clone()))
        .collect();
    let expected: Vec<String> = (0..summarised.len()).map(turn_text).collect();
    assert_eq!(summarised, expected);
    // Later calls see the previous note.
    if calls.len() > 1 {
        assert!(calls[1].0.is_some());
    }
    // The note is in the window, right after the system prompt, and the
    // window holds the newest turns.
    let messages = stm.messages();
    assert!(
        messages[1]
            .content
            .starts_with(agentry_memory::short_term::SUMMARY_PREFIX)
    );
    assert_eq!(
        messages.last().map(|m| m.content.clone()),
        Some(turn_text(11))
    );
    let window = stm.window();
    let first_in_window = summarised.len();
    assert_eq!(window[0].content, turn_text(first_in_window));
}

#[tokio::test]
async fn drop_mode_leaves_no_note_and_old_turns_stay_recallable() {
    let (_dir, mut stm, _counter) = session(80, None).await;
    for i in 0..10 {
        stm.push(Turn::user(turn_text(i))).await.expect("push");
        assert!(stm.token_count() <= 80);
    }
    assert!(stm.summary().is_none());
    assert!(
        stm.window().iter().all(|t| t.content != turn_text(0)),
        "turn 0 left the window"
    );
    let hits = stm
        .recall("what is the name of my cat?", 1)
        .await
        .expect("recall");
    assert_eq!(hits[0].item.text, turn_text(0));
}

#[tokio::test]
async fn a_system_prompt_over_budget_is_refused() {
    let (_dir, mut stm, _counter) = session(10, None).await;
    let long = "word ".repeat(50);
    assert!(stm.set_system(&long).await.is_err());
    assert!(stm.system().is_none());
}
