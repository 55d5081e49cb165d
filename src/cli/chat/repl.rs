//! The read-eval-print loop: read an input, run a command or a turn, print.
//!
//! A turn polls, in one `select!`, the agent's future, its events (streamed to the
//! terminal), approval requests (asked at the terminal) and Ctrl-C. Ctrl-C drops the
//! agent's future, which drops the model stream and so stops decoding; the conversation
//! is left as it was before the turn.

use std::io::Stdout;

use agentry_core::agent::AgentError;
use agentry_core::plan::run::AgentEvent;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

use super::approval::{self, ApprovalRequest};
use super::commands::{self, Command, HELP, Input};
use super::input::{Composer, LineReader, Read};
use super::render::{Printer, TurnKind, one_line, shorten};
use super::session::Session;
use crate::cli::terminal_text::sanitize;

/// The REPL: a session, the terminal, and the approval requests of the session's agent.
pub struct Repl {
    session: Session,
    reader: LineReader,
    printer: Printer<Stdout>,
    approvals: mpsc::Receiver<ApprovalRequest>,
    memory_place: Option<String>,
    mcp: Vec<agentry_tools::McpServer>,
}

impl Repl {
    /// A REPL over `session`; `approvals` must be the receiver of the approver the
    /// session's agent uses. `memory_place` (a folder or a server URL) is only shown
    /// in the greeting.
    pub fn new(
        session: Session,
        reader: LineReader,
        printer: Printer<Stdout>,
        approvals: mpsc::Receiver<ApprovalRequest>,
        memory_place: Option<String>,
    ) -> Self {
        Self {
            session,
            reader,
            printer,
            approvals,
            memory_place,
            mcp: Vec::new(),
        }
    }

    /// With the MCP servers of `--mcp` (for `/mcp`); their tools are already the agent's.
    pub fn with_mcp(mut self, servers: Vec<agentry_tools::McpServer>) -> Self {
        self.mcp = servers;
        self
    }

    /// Runs until `/exit`, Ctrl-D or the end of input.
    ///
    /// # Errors
    /// Only when the terminal fails; a failed command or turn is reported and the loop
    /// goes on.
    pub async fn run(mut self) -> anyhow::Result<()> {
        self.greet()?;
        let mut composer = Composer::default();
        loop {
            let line = match self.reader.read(composer.prompt())? {
                Read::Line(line) => line,
                Read::Interrupted => {
                    composer.clear();
                    continue;
                }
                Read::Eof => break,
            };
            let Some(input) = composer.push(&line) else {
                continue;
            };
            self.reader.remember(&input);
            let outcome = match commands::parse(&input) {
                Ok(Input::Empty) => Ok(()),
                Ok(Input::Message(message)) => self.turn(TurnKind::Chat, message).await,
                Ok(Input::Command(Command::Exit)) => break,
                Ok(Input::Command(command)) => self.command(command).await,
                Err(error) => Err(error.into()),
            };
            if let Err(error) = outcome {
                if crate::output::is_closed_chain(&error) {
                    crate::output::exit_closed();
                }
                self.printer.end_turn()?;
                errln!("error: {}", one_line(&format!("{error:#}")));
            }
        }
        self.printer.end_turn()?;
        Ok(())
    }

    fn greet(&mut self) -> anyhow::Result<()> {
        let info = self.session.agent().model().info();
        let mut about = format!("agentry chat · {} · ctx {}", info.name, info.n_ctx);
        if let Some(place) = &self.memory_place {
            about.push_str(&format!(" · memory {place}"));
        }
        if let Some(path) = self.reader.history_path() {
            about.push_str(&format!(" · history {}", path.display()));
        }
        self.printer.note(&about)?;
        self.printer
            .line("Type a message, or /help for commands. Ctrl-C stops a reply, Ctrl-D leaves.")?;
        Ok(())
    }

    /// Runs one slash command (not `/exit`).
    async fn command(&mut self, command: Command) -> anyhow::Result<()> {
        let printer = &mut self.printer;
        match command {
            Command::Help => {
                printer.line("Commands:")?;
                let width = HELP.iter().map(|(usage, _)| usage.len()).max().unwrap_or(0);
                for (usage, what) in HELP {
                    printer.line(&format!("  {usage:width$}  {what}"))?;
                }
                printer.line("Keys: a line ending in \\ continues on the next; \"\"\" starts and ends a block of lines;")?;
                printer.line("      Ctrl-C stops a reply or clears the line; Ctrl-D leaves; Up/Down walk the history.")?;
                printer.line("A line starting with // is sent as a message starting with /.")?;
            }
            Command::Tools => {
                let specs = self.session.agent().tool_specs();
                if specs.is_empty() {
                    printer.line("This agent has no tools.")?;
                }
                for spec in specs {
                    let mut flags = spec.capabilities.missing_from(&Default::default());
                    if spec.needs_approval {
                        flags.push("asks approval");
                    }
                    let flags = if flags.is_empty() {
                        String::new()
                    } else {
                        format!(" [{}]", flags.join(", "))
                    };
                    // An MCP server writes its own descriptions: no terminal escapes from them.
                    let about = sanitize(spec.description.lines().next().unwrap_or_default());
                    printer.line(&format!("  {}{flags}  {about}", spec.name))?;
                }
            }
            Command::Memory(None) => {
                let counts = self.session.memory_counts().await?;
                let counts: Vec<String> = counts
                    .iter()
                    .map(|(kind, n)| format!("{n} {}", kind.as_str()))
                    .collect();
                printer.line(&format!("Memories: {}.", counts.join(", ")))?;
                printer.line("Search them with /memory QUERY.")?;
            }
            Command::Memory(Some(query)) => {
                let hits = self.session.search_memory(&query).await?;
                if hits.is_empty() {
                    printer.line(&format!("No memory matches {query:?}."))?;
                }
                for hit in hits {
                    printer.line(&format!(
                        "  {}  {} ({:.2})  {}",
                        hit.id,
                        hit.kind.as_str(),
                        hit.score,
                        shorten(&one_line(&hit.text))
                    ))?;
                }
            }
            Command::Remember(text) => {
                let id = self.session.remember(&text).await?;
                printer.line(&format!("Remembered ({id})."))?;
            }
            Command::Forget(id) => match self.session.forget(id).await? {
                Some(text) => {
                    printer.line(&format!("Forgot {id}: {}", shorten(&one_line(&text))))?
                }
                None => anyhow::bail!("no memory has the id {id}"),
            },
            Command::Strategy(None) => printer.line(&format!(
                "Strategy: {} (used by /run).",
                self.session.settings().strategy.name()
            ))?,
            Command::Strategy(Some(strategy)) => {
                self.session.set_strategy(strategy).await?;
                self.printer.line(&format!(
                    "Strategy set to {}.",
                    self.session.settings().strategy.name()
                ))?;
            }
            Command::Set(None) => printer.line(&self.session.settings().describe())?,
            Command::Set(Some(setting)) => {
                self.session.apply(setting).await?;
                self.printer
                    .line(&format!("Set: {}", self.session.settings().describe()))?;
            }
            Command::Reset => {
                self.session.reset().await;
                printer.line("The conversation is reset (memories stay).")?;
            }
            Command::Save(path) => {
                let n = self.session.save(&path).await?;
                printer.line(&format!("Saved {n} messages to {}.", path.display()))?;
            }
            Command::Load(path) => {
                let n = self.session.load(&path).await?;
                printer.line(&format!("Loaded {n} turns from {}.", path.display()))?;
            }
            Command::Model => {
                let info = self.session.agent().model().info();
                printer.line(&format!("Model: {}", info.name))?;
                printer.line(&format!("  file: {}", info.path.display()))?;
                printer.line(&format!(
                    "  parameters: {}  vocabulary: {}  chat template: {}",
                    info.parameters,
                    info.n_vocab,
                    if info.has_chat_template { "yes" } else { "no" }
                ))?;
                printer.line(&format!(
                    "  context: {} tokens (trained on {})",
                    info.n_ctx, info.n_ctx_train
                ))?;
                printer.line(&format!(
                    "  settings: {}",
                    self.session.settings().describe()
                ))?;
            }
            Command::Run(task) => self.turn(TurnKind::Run, task).await?,
            Command::Mcp => {
                let printer = &mut self.printer;
                if self.mcp.is_empty() {
                    printer.line(
                        "No MCP servers: start the chat with --mcp NAME=COMMAND (or NAME=URL).",
                    )?;
                }
                for server in &self.mcp {
                    let config = server.config();
                    let state = if server.is_running() {
                        "running".to_owned()
                    } else {
                        format!("not running: /mcp reconnect {}", server.name())
                    };
                    let command = sanitize(&config.describe()).into_owned();
                    printer.line(&format!(
                        "{} ({}): {state}",
                        server.name(),
                        command.trim_end()
                    ))?;
                    for tool in server.tools() {
                        let spec = tool.spec();
                        let about = sanitize(spec.description.lines().next().unwrap_or_default());
                        printer.line(&format!("  {}  {}", spec.name, shorten(&about)))?;
                    }
                }
            }
            Command::McpReconnect(name) => match self.mcp.iter().find(|s| s.name() == name) {
                None => {
                    let names: Vec<&str> = self.mcp.iter().map(|s| s.name()).collect();
                    self.printer.line(&format!(
                        "No MCP server `{}` (servers: {}).",
                        sanitize(&name),
                        names.join(", ")
                    ))?;
                }
                Some(server) => match server.reconnect().await {
                    Ok(()) => self.printer.line(&format!("{name}: running again."))?,
                    Err(e) => self.printer.line(&sanitize(&format!("{name}: {e}")))?,
                },
            },
            Command::Exit => {}
        }
        Ok(())
    }

    /// One chat reply or tool-using run, streamed; Ctrl-C cancels it.
    async fn turn(&mut self, kind: TurnKind, text: String) -> anyhow::Result<()> {
        let Self {
            session,
            reader,
            printer,
            approvals,
            ..
        } = self;
        let agent = session.agent();
        let mut events = agent.events();
        let mut work = Box::pin(async {
            match kind {
                TurnKind::Chat => agent.chat(text).await,
                TurnKind::Run => agent.run::<String>(text).await.map(|output| output.answer),
            }
        });
        let interrupt = tokio::signal::ctrl_c();
        tokio::pin!(interrupt);
        let result = loop {
            tokio::select! {
                biased;
                _ = &mut interrupt => break None,
                Some(request) = approvals.recv() => {
                    if request.reply.is_closed() {
                        // Asked by a run that was cancelled since.
                        continue;
                    }
                    while let Ok(event) = events.try_recv() {
                        printer.event(&event, kind)?;
                    }
                    printer.end_turn()?;
                    printer.note(&format!("held: {}", request.reason))?;
                    let answer = match reader.read(&approval::question(&request.call))? {
                        Read::Line(line) => Some(line),
                        Read::Interrupted | Read::Eof => None,
                    };
                    // The run may be gone (cancelled); then nobody waits for the answer.
                    let _ = request.reply.send(approval::decision(answer.as_deref()));
                }
                event = events.recv() => match event {
                    Ok(event) => printer.event(&event, kind)?,
                    Err(RecvError::Lagged(n)) => printer.note(&format!("({n} events not shown)"))?,
                    Err(RecvError::Closed) => {}
                },
                result = &mut work => break Some(result),
            }
        };
        // On Ctrl-C this drops the model stream, which stops decoding at the next token.
        drop(work);
        while let Ok(event) = events.try_recv() {
            if !matches!(event, AgentEvent::Token { .. }) || result.is_some() {
                printer.event(&event, kind)?;
            }
        }
        match result {
            None => {
                printer.note("(stopped)")?;
            }
            Some(Ok(reply)) => {
                if kind == TurnKind::Run || !printer.wrote_tokens() {
                    printer.line(&reply)?;
                }
            }
            Some(Err(AgentError::Stopped { reason, .. })) => {
                printer.note(&format!("no answer: {reason}"))?;
            }
            Some(Err(error)) => {
                printer.end_turn()?;
                return Err(error.into());
            }
        }
        printer.end_turn()?;
        Ok(())
    }
}
