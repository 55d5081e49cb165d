//! [`ShortTermMemory`]: the conversation window within a token budget.
//!
//! The system prompt is pinned. When the window is over budget, the oldest
//! turns leave it: they are summarised into a note (through a
//! [`Summarizer`]) or simply dropped, as configured. Every turn is also
//! written to long-term memory (kind `conversation`, with its session id),
//! so a session reopened after a restart has its window back, and turns that
//! left the window stay recallable by similarity.

use std::collections::VecDeque;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Value, json};

use crate::error::{MemoryError, Result};
use crate::filter::{Condition, Filter};
use crate::long_term::{LongTermMemory, MemoryKind, Recalled, keys};
use crate::store::{Payload, Record, content_id, scroll_all};

/// Counts tokens the way the chat model does (implemented by agent-core
/// with the model's tokenizer).
pub trait TokenCounter: Send + Sync {
    /// Number of tokens in `text`.
    fn count_tokens(&self, text: &str) -> usize;
}

/// A Hugging Face tokenizer as a [`TokenCounter`]. Give it a tokenizer
/// without padding or truncation, such as [`FastEmbedder::tokenizer`](crate::FastEmbedder::tokenizer).
pub struct TokenizerCounter(pub tokenizers::Tokenizer);

impl TokenCounter for TokenizerCounter {
    fn count_tokens(&self, text: &str) -> usize {
        self.0
            .encode(text, false)
            .map(|e| e.len())
            .unwrap_or_else(|_| text.split_whitespace().count())
    }
}

/// Error type summarisers return.
pub type SummarizeError = Box<dyn std::error::Error + Send + Sync>;

/// Summarises turns into a note (implemented by agent-core with the model).
#[async_trait]
pub trait Summarizer: Send + Sync {
    /// A note that replaces `previous` (the note so far, if any) and `turns`
    /// (the oldest turns, leaving the window), in order.
    async fn summarize(
        &self,
        previous: Option<&str>,
        turns: &[Turn],
    ) -> std::result::Result<String, SummarizeError>;
}

/// One conversation turn. (The memory crate does not depend on the prompts
/// crate, so it has its own turn type.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    /// `system`, `user`, `assistant` or `tool`.
    pub role: String,
    /// The text.
    pub content: String,
}

impl Turn {
    /// A turn with this role and content.
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            role: role.into(),
            content: content.into(),
        }
    }

    /// A user turn.
    pub fn user(content: impl Into<String>) -> Self {
        Self::new("user", content)
    }

    /// An assistant turn.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new("assistant", content)
    }
}

/// What happens to turns that leave the window.
#[derive(Clone)]
pub enum Overflow {
    /// They are summarised into a note that stays in the window.
    Summarize(Arc<dyn Summarizer>),
    /// They leave the window (they stay in long-term memory).
    Drop,
}

impl std::fmt::Debug for Overflow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Summarize(_) => "Summarize",
            Self::Drop => "Drop",
        })
    }
}

/// Settings of a [`ShortTermMemory`].
#[derive(Debug, Clone)]
pub struct ShortTermConfig {
    /// Most tokens the window (system prompt, note and turns) may hold.
    pub budget_tokens: usize,
    /// Tokens counted per message on top of its content (role and template).
    pub per_turn_overhead: usize,
    /// What happens to turns that leave the window.
    pub overflow: Overflow,
}

impl ShortTermConfig {
    /// A budget of `budget_tokens`, 4 tokens overhead per message, dropping
    /// old turns.
    pub fn new(budget_tokens: usize) -> Self {
        Self {
            budget_tokens,
            per_turn_overhead: 4,
            overflow: Overflow::Drop,
        }
    }

    /// Summarise turns that leave the window with `summarizer`.
    pub fn summarize_with(mut self, summarizer: Arc<dyn Summarizer>) -> Self {
        self.overflow = Overflow::Summarize(summarizer);
        self
    }
}

/// Prefix of the summary note in [`ShortTermMemory::messages`].
pub const SUMMARY_PREFIX: &str = "Summary of the earlier conversation: ";
pub(crate) const STATE_KIND: &str = "session_state";

#[derive(Debug, Clone)]
struct WindowTurn {
    seq: i64,
    turn: Turn,
}

/// The conversation of one session within a token budget.
pub struct ShortTermMemory {
    session: String,
    memory: LongTermMemory,
    counter: Arc<dyn TokenCounter>,
    config: ShortTermConfig,
    system: Option<String>,
    summary: Option<String>,
    window: VecDeque<WindowTurn>,
    next_seq: i64,
}

impl std::fmt::Debug for ShortTermMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShortTermMemory")
            .field("session", &self.session)
            .field("turns", &self.window.len())
            .field("summary", &self.summary.is_some())
            .finish_non_exhaustive()
    }
}

impl ShortTermMemory {
    /// Opens session `session`: restores its system prompt, note and window
    /// from `memory` if it was used before, else starts empty.
    pub async fn open(
        session: &str,
        memory: LongTermMemory,
        counter: Arc<dyn TokenCounter>,
        config: ShortTermConfig,
    ) -> Result<Self> {
        if session.is_empty() {
            return Err(MemoryError::Invalid {
                what: "session id",
                reason: "empty".into(),
            });
        }
        let mut this = Self {
            session: session.to_string(),
            memory,
            counter,
            config,
            system: None,
            summary: None,
            window: VecDeque::new(),
            next_seq: 0,
        };
        this.restore().await?;
        Ok(this)
    }

    fn state_id(&self) -> crate::store::PointId {
        content_id(&format!("session-state\u{0}{}", self.session))
    }

    fn session_filter(&self) -> Filter {
        Filter::must(Condition::keyword(keys::SESSION, self.session.clone()))
    }

    async fn restore(&mut self) -> Result<()> {
        let store = self.memory.store().clone();
        let collection = self.memory.collection().to_string();
        let mut window_start = 0i64;
        if let Some(state) = store
            .retrieve(&collection, &[self.state_id()])
            .await?
            .into_iter()
            .next()
        {
            self.system = state
                .payload
                .get("system")
                .and_then(Value::as_str)
                .map(str::to_string);
            self.summary = state
                .payload
                .get("summary")
                .and_then(Value::as_str)
                .map(str::to_string);
            window_start = state
                .payload
                .get("window_start")
                .and_then(Value::as_i64)
                .unwrap_or(0);
        }
        let turns_filter = self.session_filter().and(Condition::keyword(
            keys::KIND,
            MemoryKind::Conversation.as_str(),
        ));
        let all = scroll_all(store.as_ref(), &collection, Some(turns_filter)).await?;
        let mut turns = all
            .into_iter()
            .map(|r| self.window_turn(&collection, r))
            .collect::<Result<Vec<_>>>()?;
        turns.sort_by_key(|t| t.seq);
        self.next_seq = turns.last().map(|t| t.seq + 1).unwrap_or(0);
        self.window = turns
            .into_iter()
            .filter(|t| t.seq >= window_start)
            .collect();
        Ok(())
    }

    fn window_turn(&self, collection: &str, r: Record) -> Result<WindowTurn> {
        let bad = |reason: &str| MemoryError::Payload {
            collection: collection.to_string(),
            id: r.id.to_string(),
            reason: reason.to_string(),
        };
        let seq = r
            .payload
            .get(keys::SEQ)
            .and_then(Value::as_i64)
            .ok_or_else(|| bad("turn without seq"))?;
        let role = r
            .payload
            .get(keys::ROLE)
            .and_then(Value::as_str)
            .ok_or_else(|| bad("turn without role"))?;
        let content = r
            .payload
            .get(keys::TEXT)
            .and_then(Value::as_str)
            .ok_or_else(|| bad("turn without text"))?;
        Ok(WindowTurn {
            seq,
            turn: Turn::new(role, content),
        })
    }

    /// The session id.
    pub fn session(&self) -> &str {
        &self.session
    }

    /// Pins the system prompt. Fails if it alone exceeds the budget.
    pub async fn set_system(&mut self, prompt: &str) -> Result<()> {
        let tokens = self.message_tokens(prompt);
        if tokens > self.config.budget_tokens {
            return Err(MemoryError::Invalid {
                what: "system prompt",
                reason: format!(
                    "{tokens} tokens exceed the budget of {}",
                    self.config.budget_tokens
                ),
            });
        }
        self.system = Some(prompt.to_string());
        self.fit().await?;
        self.save_state().await
    }

    /// Adds a turn: writes it to long-term memory, then brings the window
    /// back within budget.
    pub async fn push(&mut self, turn: Turn) -> Result<()> {
        let seq = self.next_seq;
        let id = content_id(&format!("turn\u{0}{}\u{0}{seq}", self.session));
        let mut payload = Payload::new();
        payload.insert(keys::SESSION.into(), json!(self.session));
        payload.insert(keys::SEQ.into(), json!(seq));
        payload.insert(keys::ROLE.into(), json!(turn.role));
        self.memory
            .put(id, &turn.content, MemoryKind::Conversation, payload)
            .await?;
        self.next_seq += 1;
        self.window.push_back(WindowTurn { seq, turn });
        if self.fit().await? {
            self.save_state().await?;
        }
        Ok(())
    }

    /// The messages to send to the model: the system prompt, the summary
    /// note (as a system message), then the turns in the window.
    pub fn messages(&self) -> Vec<Turn> {
        let mut out = Vec::with_capacity(self.window.len() + 2);
        if let Some(s) = &self.system {
            out.push(Turn::new("system", s.clone()));
        }
        if let Some(s) = &self.summary {
            out.push(Turn::new("system", format!("{SUMMARY_PREFIX}{s}")));
        }
        out.extend(self.window.iter().map(|t| t.turn.clone()));
        out
    }

    /// The turns in the window, oldest first.
    pub fn window(&self) -> Vec<Turn> {
        self.window.iter().map(|t| t.turn.clone()).collect()
    }

    /// The summary note, if turns were summarised.
    pub fn summary(&self) -> Option<&str> {
        self.summary.as_deref()
    }

    /// The system prompt, if set.
    pub fn system(&self) -> Option<&str> {
        self.system.as_deref()
    }

    /// Tokens of [`ShortTermMemory::messages`] as counted for the budget.
    pub fn token_count(&self) -> usize {
        self.messages()
            .iter()
            .map(|m| self.message_tokens(&m.content))
            .sum()
    }

    /// The budget.
    pub fn budget(&self) -> usize {
        self.config.budget_tokens
    }

    /// Turns of this session (in or out of the window) most similar to `query`.
    pub async fn recall(&self, query: &str, k: usize) -> Result<Vec<Recalled>> {
        let filter = self.session_filter().and(Condition::keyword(
            keys::KIND,
            MemoryKind::Conversation.as_str(),
        ));
        self.memory.recall(query, k, Some(filter), None).await
    }

    fn message_tokens(&self, text: &str) -> usize {
        self.counter.count_tokens(text) + self.config.per_turn_overhead
    }

    /// Evicts the oldest turns until the window fits; returns whether
    /// anything changed.
    async fn fit(&mut self) -> Result<bool> {
        let mut changed = false;
        while self.token_count() > self.config.budget_tokens {
            if self.window.is_empty() {
                // Only the note can still go.
                if self.summary.take().is_some() {
                    changed = true;
                    continue;
                }
                break;
            }
            // Evict the oldest turns until the rest would fit with the current note.
            let mut evicted = Vec::new();
            while let Some(front) = self.window.pop_front() {
                evicted.push(front);
                if self.token_count() <= self.config.budget_tokens {
                    break;
                }
            }
            changed = true;
            if let Overflow::Summarize(summarizer) = &self.config.overflow {
                let turns: Vec<Turn> = evicted.iter().map(|t| t.turn.clone()).collect();
                let note = summarizer
                    .summarize(self.summary.as_deref(), &turns)
                    .await
                    .map_err(|e| {
                        MemoryError::Summarize(format!("session {}: {e}", self.session))
                    })?;
                self.summary = Some(note);
            }
        }
        Ok(changed)
    }

    async fn save_state(&self) -> Result<()> {
        let window_start = self.window.front().map(|t| t.seq).unwrap_or(self.next_seq);
        let mut payload = Payload::new();
        payload.insert(keys::SESSION.into(), json!(self.session));
        payload.insert("window_start".into(), json!(window_start));
        if let Some(s) = &self.system {
            payload.insert("system".into(), json!(s));
        }
        if let Some(s) = &self.summary {
            payload.insert("summary".into(), json!(s));
        }
        payload.insert(
            keys::TEXT.into(),
            json!(self.summary.clone().unwrap_or_default()),
        );
        payload.insert(keys::KIND.into(), json!(STATE_KIND));
        payload.insert(keys::CREATED_AT.into(), json!(crate::long_term::now_ms()));
        let text = self
            .summary
            .as_deref()
            .or(self.system.as_deref())
            .unwrap_or("conversation state");
        let vector = self.memory.embedder().embed_one(text).await?;
        let point = crate::store::Point {
            id: self.state_id(),
            dense: vector,
            sparse: None,
            payload,
        };
        self.memory
            .store()
            .upsert(self.memory.collection(), vec![point])
            .await
    }
}
