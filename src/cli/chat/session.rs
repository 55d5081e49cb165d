//! [`Session`]: the agent of a REPL and what the slash commands do to it.
//!
//! The agent comes from an [`AgentFactory`]: a closure that makes an [`AgentBuilder`]
//! (model, role, tools, policy, memory, ...) from the approver the session supplies. The
//! session adds the strategy and sampling it keeps ([`Settings`]) and builds; when a
//! setting changes it builds a new agent and carries the conversation over. `agentry chat`
//! makes its own factory; another front end (e.g. an agent of a workflow file) can hand
//! in its own.

use std::path::Path;
use std::sync::Arc;

use agentry_core::agent::{Agent, AgentBuilder};
use agentry_core::model::Sampling;
use agentry_core::plan::strategy::Strategy;
use agentry_memory::{Filter, LongTermMemory, MemoryKind, PointId};
use agentry_prompts::ChatMessage;
use agentry_tools::Approver;
use anyhow::Context;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::commands::Setting;

/// Makes the builder of the session's agent, given the approver to put in its policy.
/// The session sets the strategy and sampling on top.
pub type AgentFactory = Box<dyn Fn(Arc<dyn Approver>) -> AgentBuilder + Send + Sync>;

/// Importance of what the user stores with `/remember`.
const REMEMBERED_IMPORTANCE: f32 = 0.8;
/// Memories shown by `/memory QUERY`.
const MEMORY_HITS: usize = 5;
/// The `format` field of a saved conversation.
const SAVED_FORMAT: &str = "agentry-chat/1";
/// Largest conversation file `/load` reads, in bytes (16 MiB): far above any context
/// window, and a bound on what a wrong path can make the REPL read.
pub const MAX_SAVED_CONVERSATION_BYTES: u64 = 16 << 20;

/// What the session sets on every agent it builds.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The reasoning strategy (of `/run`'s answers).
    pub strategy: Strategy,
    /// Sampling of chat replies and run steps.
    pub sampling: Sampling,
}

impl Settings {
    /// These settings with `setting` applied.
    pub fn with(&self, setting: Setting) -> Self {
        let mut next = self.clone();
        match setting {
            Setting::Temperature(t) => next.sampling.temperature = t,
            Setting::TopP(p) => next.sampling.top_p = p,
            Setting::MaxTokens(n) => next.sampling.max_tokens = n,
            Setting::Seed(seed) => next.sampling.seed = seed,
        }
        next
    }

    /// One line: `temperature=0 top_p=0.95 max_tokens=512 seed=0 strategy=direct`.
    pub fn describe(&self) -> String {
        let s = &self.sampling;
        format!(
            "temperature={} top_p={} max_tokens={} seed={} strategy={}",
            s.temperature,
            s.top_p,
            s.max_tokens,
            s.seed,
            self.strategy.name()
        )
    }
}

/// A conversation as `/save` writes it and `/load` reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedConversation {
    /// Always `agentry-chat/1`.
    pub format: String,
    /// The model it was held with.
    pub model: String,
    /// The messages: the system prompt, a summary note if any, then the turns.
    pub messages: Vec<ChatMessage>,
}

/// A memory found by `/memory QUERY`.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryHit {
    /// Its id, for `/forget`.
    pub id: PointId,
    /// Its kind.
    pub kind: MemoryKind,
    /// How close it is to the query.
    pub score: f32,
    /// The text.
    pub text: String,
}

/// The agent of a REPL, its settings and its memory.
pub struct Session {
    factory: AgentFactory,
    approver: Arc<dyn Approver>,
    settings: Settings,
    agent: Agent,
    memory: Option<Arc<LongTermMemory>>,
}

impl Session {
    /// A session whose agent comes from `factory` with `settings`; `memory` (the agent's
    /// long-term memory, if it has one) serves `/memory`, `/remember` and `/forget`.
    ///
    /// # Errors
    /// When the agent cannot be built.
    pub fn new(
        factory: AgentFactory,
        approver: Arc<dyn Approver>,
        settings: Settings,
        memory: Option<Arc<LongTermMemory>>,
    ) -> anyhow::Result<Self> {
        let agent = build(&factory, &approver, &settings)?;
        Ok(Self {
            factory,
            approver,
            settings,
            agent,
            memory,
        })
    }

    /// The agent.
    pub fn agent(&self) -> &Agent {
        &self.agent
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Applies `setting` (a new agent, same conversation).
    ///
    /// # Errors
    /// When the new agent cannot be built or take the conversation; nothing changes then.
    pub async fn apply(&mut self, setting: Setting) -> anyhow::Result<()> {
        self.rebuild(self.settings.with(setting)).await
    }

    /// Switches the strategy (a new agent, same conversation).
    ///
    /// # Errors
    /// As [`Session::apply`].
    pub async fn set_strategy(&mut self, strategy: Strategy) -> anyhow::Result<()> {
        let settings = Settings {
            strategy,
            ..self.settings.clone()
        };
        self.rebuild(settings).await
    }

    async fn rebuild(&mut self, settings: Settings) -> anyhow::Result<()> {
        let agent = build(&self.factory, &self.approver, &settings)?;
        let conversation = self.agent.conversation().await;
        agent
            .restore_conversation(conversation)
            .await
            .context("carrying the conversation over to the new settings")?;
        self.agent = agent;
        self.settings = settings;
        Ok(())
    }

    /// Forgets the conversation (memories stay).
    pub async fn reset(&self) {
        self.agent.reset_conversation().await;
    }

    /// Writes the conversation to `path` as JSON and returns how many messages it has.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub async fn save(&self, path: &Path) -> anyhow::Result<usize> {
        let saved = SavedConversation {
            format: SAVED_FORMAT.to_owned(),
            model: self.agent.model().info().name.clone(),
            messages: self.agent.conversation().await,
        };
        let text = serde_json::to_string_pretty(&saved)?;
        tokio::fs::write(path, text + "\n")
            .await
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(saved.messages.len())
    }

    /// Replaces the conversation with the one saved in `path` and returns how many turns
    /// it holds now (its system prompt is this agent's own).
    ///
    /// # Errors
    /// When the file cannot be read or is not a saved conversation; the conversation is
    /// then unchanged.
    pub async fn load(&self, path: &Path) -> anyhow::Result<usize> {
        let owned = path.to_path_buf();
        let saved = tokio::task::spawn_blocking(move || read_saved(&owned))
            .await
            .with_context(|| format!("reading {}", path.display()))??;
        Ok(self.agent.restore_conversation(saved.messages).await?)
    }

    /// The long-term memory, or an error saying the agent has none.
    fn memory(&self) -> anyhow::Result<&LongTermMemory> {
        self.memory
            .as_deref()
            .context("this agent has no long-term memory")
    }

    /// How many memories of each kind are stored.
    ///
    /// # Errors
    /// Without memory, or when the store fails.
    pub async fn memory_counts(&self) -> anyhow::Result<Vec<(MemoryKind, u64)>> {
        let memory = self.memory()?;
        let mut counts = Vec::new();
        for kind in [
            MemoryKind::Semantic,
            MemoryKind::Episodic,
            MemoryKind::Document,
            MemoryKind::Conversation,
        ] {
            counts.push((kind, memory.count(Some(kind.filter())).await?));
        }
        Ok(counts)
    }

    /// The memories (conversation turns excluded) most like `query`.
    ///
    /// # Errors
    /// Without memory, or when the store or embedder fails.
    pub async fn search_memory(&self, query: &str) -> anyhow::Result<Vec<MemoryHit>> {
        let filter = Filter {
            must_not: MemoryKind::Conversation.filter().must,
            ..Filter::default()
        };
        let hits = self
            .memory()?
            .recall(query, MEMORY_HITS, Some(filter), None)
            .await?;
        Ok(hits
            .into_iter()
            .map(|hit| MemoryHit {
                id: hit.item.id,
                kind: hit.item.kind,
                score: hit.score,
                text: hit.item.text,
            })
            .collect())
    }

    /// Stores `text` as a semantic memory from the user; returns its id.
    ///
    /// # Errors
    /// Without memory, or when the store or embedder fails.
    pub async fn remember(&self, text: &str) -> anyhow::Result<PointId> {
        Ok(self
            .memory()?
            .remember(
                text,
                MemoryKind::Semantic,
                json!({"source": "user"}),
                REMEMBERED_IMPORTANCE,
            )
            .await?)
    }

    /// Deletes the memory `id`; returns its text, or `None` when there is none.
    ///
    /// # Errors
    /// Without memory, or when the store fails.
    pub async fn forget(&self, id: PointId) -> anyhow::Result<Option<String>> {
        let memory = self.memory()?;
        let Some(item) = memory.get(id).await? else {
            return Ok(None);
        };
        memory.forget(id).await?;
        Ok(Some(item.text))
    }
}

fn build(
    factory: &AgentFactory,
    approver: &Arc<dyn Approver>,
    settings: &Settings,
) -> anyhow::Result<Agent> {
    factory(approver.clone())
        .strategy(settings.strategy.clone())
        .sampling(settings.sampling.clone())
        .build()
        .context("building the agent")
}

/// The conversation saved in `path`: a regular file (a FIFO or device is refused at once,
/// never waited on) of at most [`MAX_SAVED_CONVERSATION_BYTES`], written by `/save`.
///
/// # Errors
/// The file cannot be read, is not a regular file, is over the cap (the error names the
/// path and the limit), or is not a saved conversation of this format.
fn read_saved(path: &Path) -> anyhow::Result<SavedConversation> {
    let text = agentry_model::file::read_capped_text(path, MAX_SAVED_CONVERSATION_BYTES)
        .with_context(|| format!("reading the saved conversation {}", path.display()))?;
    let saved: SavedConversation = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a conversation saved by /save (expected {{\"format\", \"model\", \"messages\": [{{\"role\", \"content\"}}]}})",
            path.display()
        )
    })?;
    if saved.format != SAVED_FORMAT {
        anyhow::bail!(
            "{}: format `{}` is not `{SAVED_FORMAT}`",
            path.display(),
            saved.format
        );
    }
    Ok(saved)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `/load` of a FIFO (no writer) is refused at once, where reading it once hung the
    /// REPL; a file over [`MAX_SAVED_CONVERSATION_BYTES`] is refused naming the limit; a
    /// saved conversation still loads (#17 item 5).
    #[cfg(unix)]
    #[test]
    fn loading_a_fifo_or_an_oversized_file_is_refused_at_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("chat.json");
        let c = std::ffi::CString::new(fifo.to_str().expect("utf-8")).expect("path");
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
        let (tx, rx) = std::sync::mpsc::channel();
        let owned = fifo.clone();
        std::thread::spawn(move || {
            let _ = tx.send(read_saved(&owned).map(|_| ()).map_err(|e| format!("{e:#}")));
        });
        let error = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("reading a FIFO ends")
            .expect_err("a FIFO is refused");
        assert!(error.contains("a FIFO, not a regular file"), "{error}");
        assert!(error.contains(&fifo.display().to_string()), "{error}");

        let big = dir.path().join("big.json");
        let file = std::fs::File::create(&big).expect("create");
        file.set_len(MAX_SAVED_CONVERSATION_BYTES + 1)
            .expect("grow");
        let error = format!("{:#}", read_saved(&big).map(|_| ()).expect_err("too big"));
        assert!(
            error.contains(&format!("limit of {MAX_SAVED_CONVERSATION_BYTES} bytes")),
            "{error}"
        );

        let good = dir.path().join("good.json");
        std::fs::write(
            &good,
            format!(r#"{{"format": "{SAVED_FORMAT}", "model": "m", "messages": []}}"#),
        )
        .expect("write");
        assert!(read_saved(&good).expect("loads").messages.is_empty());
    }

    #[test]
    fn settings_apply_one_value_each() {
        let base = Settings {
            strategy: Strategy::Direct,
            sampling: Sampling::default(),
        };
        let hot = base.with(Setting::Temperature(0.9));
        assert_eq!(hot.sampling.temperature, 0.9);
        assert_eq!(hot.sampling.top_p, base.sampling.top_p);
        assert_eq!(base.with(Setting::TopP(0.5)).sampling.top_p, 0.5);
        assert_eq!(base.with(Setting::MaxTokens(7)).sampling.max_tokens, 7);
        assert_eq!(base.with(Setting::Seed(3)).sampling.seed, 3);
        assert_eq!(
            base.with(Setting::Seed(3)).describe(),
            "temperature=0 top_p=0.95 max_tokens=256 seed=3 strategy=direct"
        );
    }

    #[test]
    fn a_saved_conversation_reads_back() {
        let saved = SavedConversation {
            format: SAVED_FORMAT.into(),
            model: "m".into(),
            messages: vec![ChatMessage::system("s"), ChatMessage::user("hi")],
        };
        let text = serde_json::to_string(&saved).unwrap_or_default();
        assert!(text.contains("\"role\":\"user\""), "{text}");
        let back: Result<SavedConversation, _> = serde_json::from_str(&text);
        assert_eq!(back.ok(), Some(saved));
    }
}
