//! Memory in a run and in a chat: memories recalled before the first step, episodes
//! stored, a conversation kept, restored and reset.

use super::*;

#[tokio::test]
async fn memories_are_recalled_before_the_first_step_and_the_episode_is_stored() {
    let model = Recorder::new().await;
    let dir = tempfile::tempdir().unwrap();
    let memory = memory_in(dir.path()).await;
    let fact = "The office wifi password is tulip-42.";
    memory
        .remember(fact, MemoryKind::Semantic, serde_json::json!({}), 0.9)
        .await
        .unwrap();
    let agent = Agent::builder()
        .model(model.clone())
        .role("You are a helpful office assistant.")
        .memory(memory.clone())
        .limits(limits(2))
        .sampling(sampling(160))
        .thought_max_chars(Some(SHORT_THOUGHT_CHARS))
        .build()
        .unwrap();
    let mut events = agent.events();
    let output = agent
        .run::<String>("What is the office wifi password?")
        .await
        .unwrap_or_else(|e| panic!("the run failed: {e}"));
    assert_eq!(output.outcome.stop, StopReason::Answered);

    let events = drain(&mut events);
    let recall = events
        .iter()
        .position(|e| matches!(e, AgentEvent::Recall { step: 1, .. }))
        .expect("a Recall event for step 1");
    let first_token = events
        .iter()
        .position(|e| matches!(e, AgentEvent::Token { .. }))
        .expect("tokens");
    assert!(recall < first_token);
    match &events[recall] {
        AgentEvent::Recall { items, .. } => {
            assert!(items.iter().any(|item| item.text == fact), "{items:?}")
        }
        _ => unreachable!(),
    }
    // The memory reached the model, fenced in the user turn.
    let first = prompt_text(&model.requests()[0]);
    assert!(first.contains(fact), "{first}");

    let episodes = memory
        .count(Some(MemoryKind::Episodic.filter()))
        .await
        .unwrap();
    assert_eq!(episodes, 1);
    let hits = memory
        .recall(
            "wifi password task",
            5,
            Some(MemoryKind::Episodic.filter()),
            None,
        )
        .await
        .unwrap();
    assert!(
        hits[0]
            .item
            .text
            .starts_with("Task: What is the office wifi password?")
    );
}

#[tokio::test]
async fn chat_keeps_the_conversation_and_a_later_agent_recalls_what_it_was_told() {
    let llama = open_model().await;
    let model = Recorder::over(llama.clone());
    let dir = tempfile::tempdir().unwrap();
    let memory = memory_in(dir.path()).await;
    let build = |model: Arc<Recorder>| {
        Agent::builder()
            .model(model)
            .role("You are a friendly assistant.")
            .memory(memory.clone())
            .sampling(sampling(48))
            .thought_max_chars(Some(THOUGHT_CHARS))
            .build()
            .unwrap()
    };
    let agent = build(model.clone());
    let told = "My favourite colour is teal.";
    let first = agent.chat(told).await.unwrap();
    assert!(!first.is_empty());
    let second = agent.chat("What is my favourite colour?").await.unwrap();
    assert!(!second.is_empty());

    // The second prompt carries the first exchange, in order, in the same session.
    let requests = model.requests();
    assert_eq!(requests.len(), 2);
    let sent = messages(&requests[1]);
    let user_at = sent
        .iter()
        .position(|m| m.role == Role::User && m.content == told)
        .expect("the first user turn");
    assert_eq!(sent[user_at + 1], ChatMessage::assistant(first.clone()));
    assert_eq!(requests[0].session, requests[1].session);
    assert!(requests[0].session.is_some());
    let window = agent.conversation().await;
    assert_eq!(window.last(), Some(&ChatMessage::assistant(second)));

    // A fresh agent on the same memory recalls what the first was told.
    let fresh_model = Recorder::over(llama);
    let fresh = build(fresh_model.clone());
    let mut events = fresh.events();
    fresh.chat("What is my favourite colour?").await.unwrap();
    let recalled: Vec<String> = drain(&mut events)
        .into_iter()
        .filter_map(|e| match e {
            AgentEvent::Recall { items, .. } => Some(items),
            _ => None,
        })
        .flatten()
        .map(|item| item.text)
        .collect();
    assert!(recalled.iter().any(|text| text == told), "{recalled:?}");
    let prompt = prompt_text(&fresh_model.requests()[0]);
    assert!(prompt.contains(told), "{prompt}");
    assert_ne!(fresh_model.requests()[0].session, requests[0].session);
}

#[tokio::test]
async fn a_restored_conversation_is_sent_with_the_next_message_and_a_reset_forgets_it() {
    let model = Recorder::new().await;
    let dir = tempfile::tempdir().unwrap();
    let memory = memory_in(dir.path()).await;
    let agent = Agent::builder()
        .model(model.clone())
        .role("You are a friendly assistant.")
        .memory(memory)
        .sampling(sampling(16))
        .build()
        .unwrap();
    let saved = vec![
        ChatMessage::system("You were someone else."),
        ChatMessage::user("My name is Ada."),
        ChatMessage::assistant("Nice to meet you, Ada."),
    ];
    assert_eq!(agent.restore_conversation(saved.clone()).await.unwrap(), 2);
    let window = agent.conversation().await;
    assert_eq!(window[0].role, Role::System);
    assert!(window[0].content.contains("You are a friendly assistant."));
    assert_eq!(window[1..], saved[1..]);

    agent.chat("What is my name?").await.unwrap();
    let sent = messages(&model.requests()[0]);
    assert!(
        sent.contains(&saved[1]) && sent.contains(&saved[2]),
        "{sent:?}"
    );
    assert!(
        !sent.contains(&saved[0]),
        "the saved system prompt is replaced"
    );

    agent.reset_conversation().await;
    assert!(agent.conversation().await.is_empty());
    agent.chat("Hello.").await.unwrap();
    let requests = model.requests();
    let sent = messages(&requests[1]);
    assert!(!sent.contains(&saved[1]), "{sent:?}");
    assert_ne!(requests[0].session, requests[1].session);
}
