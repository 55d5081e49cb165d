//! [`Agent::chat`]: a conversation with a token-bounded window, recall from long-term
//! memory, and what the user says remembered for later agents.

use std::collections::VecDeque;
use std::sync::Arc;

use agentry_memory::{MemoryKind, ShortTermConfig, ShortTermMemory, TokenCounter, Turn};
use agentry_prompts::{ChatMessage, Prompt as Sections, Role};
use serde_json::json;
use uuid::Uuid;

use super::{Agent, AgentError};
use crate::model::{GenerateRequest, SessionId, TokenCount};
use crate::plan::run::AgentEvent;
use crate::summarize::ModelSummarizer;

/// Tokens counted per message on top of its content (role and template).
const PER_MESSAGE_OVERHEAD: usize = 4;
/// Importance of what the user said in a chat, as a long-term memory.
const CHAT_IMPORTANCE: f32 = 0.6;

/// The conversation of one agent: its model session and its window.
pub(super) struct Conversation {
    session: SessionId,
    window: Window,
    turns: usize,
}

/// Where the turns are kept.
enum Window {
    /// In a [`ShortTermMemory`] over the agent's long-term memory: summarised when over
    /// budget, and every turn stored.
    Persistent(Box<ShortTermMemory>),
    /// In this process only (an agent without memory): the oldest turns leave the window
    /// when it is over budget.
    Local {
        system: Option<String>,
        turns: VecDeque<Turn>,
        counter: Arc<dyn TokenCounter>,
        budget: usize,
    },
}

impl Window {
    fn messages(&self) -> Vec<Turn> {
        match self {
            Window::Persistent(memory) => memory.messages(),
            Window::Local { system, turns, .. } => system
                .iter()
                .map(|s| Turn::new("system", s.clone()))
                .chain(turns.iter().cloned())
                .collect(),
        }
    }

    async fn push(&mut self, turn: Turn) -> Result<(), AgentError> {
        match self {
            Window::Persistent(memory) => Ok(memory.push(turn).await?),
            Window::Local {
                system,
                turns,
                counter,
                budget,
            } => {
                turns.push_back(turn);
                let size = |text: &str| counter.count_tokens(text) + PER_MESSAGE_OVERHEAD;
                let fixed = system.as_deref().map_or(0, size);
                while turns.len() > 1
                    && fixed + turns.iter().map(|t| size(&t.content)).sum::<usize>() > *budget
                {
                    turns.pop_front();
                }
                Ok(())
            }
        }
    }
}

/// Counts about four characters per token, for models whose tokenizer cannot be loaded
/// (e.g. a model behind an HTTP API).
struct ApproxCounter;

impl TokenCounter for ApproxCounter {
    fn count_tokens(&self, text: &str) -> usize {
        text.chars().count().div_ceil(4)
    }
}

fn chat_message(turn: Turn) -> ChatMessage {
    let role = match turn.role.as_str() {
        "system" => Role::System,
        "assistant" => Role::Assistant,
        _ => Role::User,
    };
    ChatMessage::new(role, turn.content)
}

impl Agent {
    /// Answers `message` in the agent's conversation and returns the reply.
    ///
    /// The conversation (one per agent, one model KV session) keeps the turns within the
    /// chat budget ([`AgentBuilder::chat_budget_tokens`](super::AgentBuilder::chat_budget_tokens)),
    /// counted with the model's own tokenizer when its GGUF file can be read. With memory,
    /// the window is a [`ShortTermMemory`] (turns leaving it are summarised by the model),
    /// memories (conversation turns excluded) and document chunks are recalled for the
    /// message and shown fenced as untrusted, and the message itself is remembered as a
    /// [`MemoryKind::Semantic`] memory (`source: "chat"`), so a later agent on the same
    /// memory can recall it. The reply is free text, streamed as
    /// [`AgentEvent::Token`]s and announced as an [`AgentEvent::Answer`].
    ///
    /// # Errors
    /// An empty message, a model, memory or template failure.
    pub async fn chat(&self, message: impl Into<String>) -> Result<String, AgentError> {
        let message = message.into();
        if message.trim().is_empty() {
            return Err(AgentError::InvalidConfig {
                reason: "the chat message is empty".into(),
            });
        }
        let mut slot = self.chat.lock().await;
        let conversation = match &mut *slot {
            Some(conversation) => conversation,
            None => slot.insert(self.open_conversation().await?),
        };
        let recalled = match self.settings.recall_top_k {
            Some(top_k) => self.recall(&message, top_k).await?,
            None => Vec::new(),
        };
        let mut messages: Vec<ChatMessage> = conversation
            .window
            .messages()
            .into_iter()
            .map(chat_message)
            .collect();
        if !recalled.is_empty() {
            self.emit(&[AgentEvent::Recall {
                step: conversation.turns + 1,
                items: recalled.clone(),
            }])?;
            let mut sections = Sections::new();
            for item in &recalled {
                sections = sections.untrusted(format!("memory:{}", item.source), item.text.clone());
            }
            messages.extend(crate::plan::run::prompt::checked_messages(
                sections.render(&self.templates)?,
            ));
        }
        messages.push(ChatMessage::user(message.clone()));
        let request = GenerateRequest::chat(messages)
            .with_sampling(self.settings.sampling.clone())
            .with_session(conversation.session.clone());
        let reply = self.generate(request).await?.text.trim().to_owned();

        conversation
            .window
            .push(Turn::user(message.clone()))
            .await?;
        conversation
            .window
            .push(Turn::assistant(reply.clone()))
            .await?;
        conversation.turns += 1;
        if let Some(memory) = &self.memory {
            let metadata = json!({
                "source": "chat",
                "role": "user",
                "chat_session": conversation.session.0,
            });
            memory
                .remember(&message, MemoryKind::Semantic, metadata, CHAT_IMPORTANCE)
                .await?;
        }
        self.emit(&[AgentEvent::Answer {
            value: json!(reply),
        }])?;
        Ok(reply)
    }

    /// The messages the next chat request starts with: the system prompt, the summary
    /// note (if any) and the turns in the window. Empty before the first turn.
    pub async fn conversation(&self) -> Vec<ChatMessage> {
        match &*self.chat.lock().await {
            Some(conversation) => conversation
                .window
                .messages()
                .into_iter()
                .map(chat_message)
                .collect(),
            None => Vec::new(),
        }
    }

    /// Ends the conversation: the next [`Agent::chat`] starts a fresh one (a new model
    /// session and an empty window). Turns already stored in long-term memory stay there.
    pub async fn reset_conversation(&self) {
        *self.chat.lock().await = None;
    }

    /// Replaces the conversation with a fresh one holding `messages` (e.g. from
    /// [`Agent::conversation`] of this or another agent, or a saved file) and returns how
    /// many turns it now holds.
    ///
    /// A leading system message is dropped: this agent's role and instructions make the
    /// system prompt. The other messages become turns, in order (a later system message,
    /// such as a summary note, stays a system turn; tool messages become user turns).
    /// They enter the window as [`Agent::chat`]'s turns do: with memory they are stored
    /// and summarised when over the chat budget, without it the oldest leave the window.
    ///
    /// # Errors
    /// A memory, model (summarising) or template failure; the previous conversation is
    /// then kept.
    pub async fn restore_conversation(
        &self,
        messages: impl IntoIterator<Item = ChatMessage>,
    ) -> Result<usize, AgentError> {
        let mut conversation = self.open_conversation().await?;
        let mut messages = messages.into_iter().peekable();
        if messages.next_if(|m| m.role == Role::System).is_some() {
            tracing::debug!("restoring a conversation: its system prompt is replaced");
        }
        let mut restored = 0;
        for message in messages {
            if message.role == Role::User {
                conversation.turns += 1;
            }
            let role = match message.role {
                Role::Tool => Role::User,
                role => role,
            };
            conversation
                .window
                .push(Turn::new(role.as_str(), message.content))
                .await?;
            restored += 1;
        }
        *self.chat.lock().await = Some(conversation);
        Ok(restored)
    }

    /// Starts the conversation: a fresh session, the system prompt from role and
    /// instructions, and the window.
    async fn open_conversation(&self) -> Result<Conversation, AgentError> {
        let session = SessionId::new(format!("chat-{}", Uuid::new_v4()));
        let system = Sections::new()
            .role(self.settings.role.clone())
            .instructions(self.settings.instructions.iter().cloned())
            .render(&self.templates)?
            .messages
            .into_iter()
            .find(|m| m.role == Role::System)
            .map(|m| m.content);
        let counter = self.token_counter().await;
        let window = match &self.memory {
            Some(memory) => {
                let summarizer = ModelSummarizer::new(self.model.clone())
                    .with_templates((*self.templates).clone());
                let config =
                    ShortTermConfig::new(self.chat_budget).summarize_with(Arc::new(summarizer));
                let mut window =
                    ShortTermMemory::open(&session.0, (**memory).clone(), counter, config).await?;
                if let Some(system) = &system {
                    window.set_system(system).await?;
                }
                Window::Persistent(Box::new(window))
            }
            None => Window::Local {
                system,
                turns: VecDeque::new(),
                counter,
                budget: self.chat_budget,
            },
        };
        Ok(Conversation {
            session,
            window,
            turns: 0,
        })
    }

    /// The model's own token counter when its backend has one, else about four characters
    /// per token.
    async fn token_counter(&self) -> Arc<dyn TokenCounter> {
        match self.model.token_counter().await {
            Some(counter) => Arc::new(ModelTokenCounter(counter)),
            None => Arc::new(ApproxCounter),
        }
    }
}

/// A model's own token counter ([`LanguageModel::token_counter`](crate::model::LanguageModel::token_counter))
/// as a [`TokenCounter`] of memory, e.g. for a [`ShortTermMemory`] window.
pub struct ModelTokenCounter(pub Arc<dyn TokenCount>);

impl TokenCounter for ModelTokenCounter {
    fn count_tokens(&self, text: &str) -> usize {
        self.0.count(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_local_window_drops_the_oldest_turns_over_budget() {
        let counter: Arc<dyn TokenCounter> = Arc::new(ApproxCounter);
        // 40 characters = 10 tokens + 4 overhead = 14 per turn; the system prompt 8.
        let mut window = Window::Local {
            system: Some("be kind".into()),
            turns: VecDeque::new(),
            counter,
            budget: 40,
        };
        for i in 0..4 {
            let text = format!("{i}{}", "x".repeat(39));
            if let Err(e) = window.push(Turn::user(text)).await {
                panic!("{e}");
            }
        }
        let messages = window.messages();
        assert_eq!(messages[0], Turn::new("system", "be kind"));
        let kept: Vec<char> = messages[1..]
            .iter()
            .filter_map(|t| t.content.chars().next())
            .collect();
        assert_eq!(kept, vec!['2', '3']);
        assert_eq!(ApproxCounter.count_tokens("abcde"), 2);
    }
}
