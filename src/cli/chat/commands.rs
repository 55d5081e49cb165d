//! What one complete input of the REPL means: a message for the agent or a slash command.
//! [`parse`] is a pure function, so every command and every mistake is unit-tested.

use std::path::PathBuf;

use agentry_core::plan::strategy::Strategy;
use agentry_memory::PointId;

/// One complete input: a message for the agent, a slash command, or nothing.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// Only whitespace: nothing to do.
    Empty,
    /// A message for the agent (a line starting with `//` is a message starting with `/`).
    Message(String),
    /// A slash command.
    Command(Command),
}

/// A slash command.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `/help`: the commands and keys.
    Help,
    /// `/tools`: the tools the agent may call.
    Tools,
    /// `/memory [QUERY]`: memory counts, or the memories most like QUERY.
    Memory(Option<String>),
    /// `/remember TEXT`: store a fact in long-term memory.
    Remember(String),
    /// `/forget ID`: delete a memory.
    Forget(PointId),
    /// `/strategy [NAME]`: show, or switch the reasoning strategy.
    Strategy(Option<Strategy>),
    /// `/set [KEY=VALUE]`: show the sampling settings, or change one.
    Set(Option<Setting>),
    /// `/reset`: start a fresh conversation.
    Reset,
    /// `/save FILE`: write the conversation as JSON.
    Save(PathBuf),
    /// `/load FILE`: replace the conversation with one saved by `/save`.
    Load(PathBuf),
    /// `/model`: what the model is.
    Model,
    /// `/run TASK`: a tool-using run (thoughts, tool calls and approvals shown).
    Run(String),
    /// `/mcp`: the MCP servers, whether each runs, and their tools.
    Mcp,
    /// `/mcp reconnect NAME`: start the MCP server NAME again.
    McpReconnect(String),
    /// `/exit`: leave.
    Exit,
}

/// One sampling setting of `/set`, already checked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Setting {
    /// Sampling temperature, 0 (greedy) to 2.
    Temperature(f32),
    /// Nucleus threshold, above 0 up to 1.
    TopP(f32),
    /// Most tokens per reply, at least 1.
    MaxTokens(usize),
    /// Seed of the sampler.
    Seed(u32),
}

/// Why an input is not a valid command; the message is one line for the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// No such command.
    #[error("unknown command /{0} (type /help for the list)")]
    Unknown(String),
    /// The command needs an argument, or takes none.
    #[error("usage: {0}")]
    Usage(&'static str),
    /// `/set` with an unknown key.
    #[error("unknown setting `{0}` (one of: temperature, top_p, max_tokens, seed)")]
    UnknownSetting(String),
    /// `/set` with a value out of range or not a number.
    #[error("invalid value `{value}` for {key}: {expected}")]
    BadValue {
        /// The setting.
        key: &'static str,
        /// What was given.
        value: String,
        /// What is accepted.
        expected: &'static str,
    },
    /// `/strategy` with an unknown name.
    #[error(
        "unknown strategy `{0}` (one of: direct, chain_of_thought, self_consistency, tree_of_thought)"
    )]
    UnknownStrategy(String),
    /// `/forget` with something that is not a memory id.
    #[error("`{0}` is not a memory id (ids are UUIDs, as /memory QUERY shows them)")]
    BadId(String),
}

/// Every command with its usage and what it does, for `/help`.
pub const HELP: &[(&str, &str)] = &[
    ("/help", "this list"),
    ("/tools", "the tools the agent may call"),
    (
        "/memory [QUERY]",
        "memory counts, or the memories most like QUERY (with their ids)",
    ),
    ("/remember TEXT", "store TEXT in long-term memory"),
    ("/forget ID", "delete the memory with this id"),
    (
        "/strategy [NAME]",
        "show or set the strategy of /run: direct, chain_of_thought, self_consistency, tree_of_thought",
    ),
    (
        "/set [KEY=VALUE]",
        "show or set sampling: temperature, top_p, max_tokens, seed",
    ),
    ("/reset", "start a fresh conversation"),
    ("/save FILE", "write the conversation to FILE (JSON)"),
    ("/load FILE", "replace the conversation with one from /save"),
    ("/model", "what the model is, and the current settings"),
    (
        "/run TASK",
        "a run with tools: thoughts and tool calls shown, risky calls need your approval",
    ),
    (
        "/mcp",
        "the MCP servers (--mcp), whether each runs, and their tools",
    ),
    ("/mcp reconnect NAME", "start the MCP server NAME again"),
    ("/exit", "leave (also Ctrl-D)"),
];

/// What a complete input (lines already joined) means.
///
/// # Errors
/// A [`CommandError`] for an unknown command, a missing or extra argument, or a bad value.
pub fn parse(input: &str) -> Result<Input, CommandError> {
    let text = input.trim();
    if text.is_empty() {
        return Ok(Input::Empty);
    }
    if let Some(escaped) = text.strip_prefix("//") {
        return Ok(Input::Message(format!("/{escaped}")));
    }
    let Some(command) = text.strip_prefix('/') else {
        return Ok(Input::Message(text.to_owned()));
    };
    let (name, rest) = match command.split_once(char::is_whitespace) {
        Some((name, rest)) => (name, rest.trim()),
        None => (command, ""),
    };
    let arg = (!rest.is_empty()).then(|| rest.to_owned());
    let none = |command: Command, usage: &'static str| match &arg {
        None => Ok(command),
        Some(_) => Err(CommandError::Usage(usage)),
    };
    let command = match name.to_ascii_lowercase().as_str() {
        "help" | "?" => none(Command::Help, "/help")?,
        "tools" => none(Command::Tools, "/tools")?,
        "memory" => Command::Memory(arg),
        "remember" => Command::Remember(arg.ok_or(CommandError::Usage("/remember TEXT"))?),
        "forget" => {
            let id = arg.ok_or(CommandError::Usage("/forget ID"))?;
            Command::Forget(PointId::parse_str(&id).map_err(|_| CommandError::BadId(id))?)
        }
        "strategy" => Command::Strategy(arg.as_deref().map(parse_strategy).transpose()?),
        "set" => Command::Set(arg.as_deref().map(parse_setting).transpose()?),
        "reset" => none(Command::Reset, "/reset")?,
        "save" => Command::Save(arg.ok_or(CommandError::Usage("/save FILE"))?.into()),
        "load" => Command::Load(arg.ok_or(CommandError::Usage("/load FILE"))?.into()),
        "model" => none(Command::Model, "/model")?,
        "run" => Command::Run(arg.ok_or(CommandError::Usage("/run TASK"))?),
        "mcp" => match arg
            .as_deref()
            .map(str::split_whitespace)
            .map(Iterator::collect::<Vec<_>>)
        {
            None => Command::Mcp,
            Some(words) => match words.as_slice() {
                ["reconnect", name] => Command::McpReconnect((*name).to_owned()),
                _ => return Err(CommandError::Usage("/mcp [reconnect NAME]")),
            },
        },
        "exit" | "quit" => none(Command::Exit, "/exit")?,
        _ => return Err(CommandError::Unknown(name.to_owned())),
    };
    Ok(Input::Command(command))
}

/// A strategy by name ([`Strategy::from_str`](std::str::FromStr), the parser workflows use),
/// with the shared default parameters.
///
/// # Errors
/// [`CommandError::UnknownStrategy`].
pub fn parse_strategy(name: &str) -> Result<Strategy, CommandError> {
    name.parse()
        .map_err(|_| CommandError::UnknownStrategy(name.trim().to_owned()))
}

/// A `KEY=VALUE` (or `KEY VALUE`) sampling setting, range-checked.
///
/// # Errors
/// [`CommandError::Usage`] without a value, [`CommandError::UnknownSetting`],
/// [`CommandError::BadValue`].
pub fn parse_setting(text: &str) -> Result<Setting, CommandError> {
    let (key, value) = text
        .split_once('=')
        .or_else(|| text.split_once(char::is_whitespace))
        .ok_or(CommandError::Usage("/set KEY=VALUE"))?;
    let (key, value) = (key.trim().to_ascii_lowercase(), value.trim());
    if value.is_empty() {
        return Err(CommandError::Usage("/set KEY=VALUE"));
    }
    let bad = |key: &'static str, expected: &'static str| CommandError::BadValue {
        key,
        value: value.to_owned(),
        expected,
    };
    Ok(match key.replace('-', "_").as_str() {
        "temperature" | "temp" => {
            const EXPECTED: &str = "a number from 0 (greedy) to 2";
            match value.parse::<f32>() {
                Ok(t) if (0.0..=2.0).contains(&t) => Setting::Temperature(t),
                _ => return Err(bad("temperature", EXPECTED)),
            }
        }
        "top_p" => {
            const EXPECTED: &str = "a number above 0 and at most 1";
            match value.parse::<f32>() {
                Ok(p) if p > 0.0 && p <= 1.0 => Setting::TopP(p),
                _ => return Err(bad("top_p", EXPECTED)),
            }
        }
        "max_tokens" => match value.parse::<u64>() {
            Ok(n @ 1..=crate::cli::bounds::MAX_TOKENS) => Setting::MaxTokens(n as usize),
            _ => return Err(bad("max_tokens", crate::cli::bounds::MAX_TOKENS_EXPECTED)),
        },
        "seed" => match value.parse::<u32>() {
            Ok(seed) => Setting::Seed(seed),
            Err(_) => return Err(bad("seed", "a whole number from 0 to 4294967295")),
        },
        _ => return Err(CommandError::UnknownSetting(key)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(text: &str) -> Command {
        match parse(text) {
            Ok(Input::Command(command)) => command,
            other => panic!("{text:?} should be a command, got {other:?}"),
        }
    }

    fn error(text: &str) -> CommandError {
        match parse(text) {
            Err(error) => error,
            Ok(other) => panic!("{text:?} should be an error, got {other:?}"),
        }
    }

    #[test]
    fn text_is_a_message_and_blank_is_nothing() {
        assert_eq!(
            parse("  What is 2+2?  "),
            Ok(Input::Message("What is 2+2?".into()))
        );
        assert_eq!(parse("   \n "), Ok(Input::Empty));
        assert_eq!(
            parse("//etc/hosts is a file"),
            Ok(Input::Message("/etc/hosts is a file".into()))
        );
        assert_eq!(
            parse("line one\nline two"),
            Ok(Input::Message("line one\nline two".into()))
        );
    }

    #[test]
    fn commands_without_arguments() {
        assert_eq!(command("/help"), Command::Help);
        assert_eq!(command("/?"), Command::Help);
        assert_eq!(command("/tools"), Command::Tools);
        assert_eq!(command("/mcp"), Command::Mcp);
        assert_eq!(
            command("/mcp reconnect time"),
            Command::McpReconnect("time".into())
        );
        assert_eq!(
            error("/mcp restart time"),
            CommandError::Usage("/mcp [reconnect NAME]")
        );
        assert_eq!(
            error("/mcp reconnect"),
            CommandError::Usage("/mcp [reconnect NAME]")
        );
        assert_eq!(command("/reset"), Command::Reset);
        assert_eq!(command("/model"), Command::Model);
        assert_eq!(command("/exit"), Command::Exit);
        assert_eq!(command("/quit"), Command::Exit);
        assert_eq!(command("/EXIT"), Command::Exit);
        assert_eq!(error("/exit now"), CommandError::Usage("/exit"));
        assert_eq!(error("/tools all"), CommandError::Usage("/tools"));
    }

    #[test]
    fn commands_with_text() {
        assert_eq!(command("/memory"), Command::Memory(None));
        assert_eq!(
            command("/memory  wifi password "),
            Command::Memory(Some("wifi password".into()))
        );
        assert_eq!(
            command("/remember The deploy key is in vault 7."),
            Command::Remember("The deploy key is in vault 7.".into())
        );
        assert_eq!(error("/remember"), CommandError::Usage("/remember TEXT"));
        assert_eq!(
            command("/run What is 12 * 37?"),
            Command::Run("What is 12 * 37?".into())
        );
        assert_eq!(error("/run  "), CommandError::Usage("/run TASK"));
        assert_eq!(
            command("/save chats/today.json"),
            Command::Save("chats/today.json".into())
        );
        assert_eq!(command("/load a.json"), Command::Load("a.json".into()));
        assert_eq!(error("/save"), CommandError::Usage("/save FILE"));
        assert_eq!(error("/load"), CommandError::Usage("/load FILE"));
    }

    #[test]
    fn forget_takes_a_memory_id() {
        let id = "67e55044-10b1-426f-9247-bb680e5fe0c8";
        match command(&format!("/forget {id}")) {
            Command::Forget(parsed) => assert_eq!(parsed.to_string(), id),
            other => panic!("{other:?}"),
        }
        assert_eq!(error("/forget"), CommandError::Usage("/forget ID"));
        assert_eq!(error("/forget 42"), CommandError::BadId("42".into()));
    }

    #[test]
    fn strategies_by_name() {
        assert_eq!(command("/strategy"), Command::Strategy(None));
        assert_eq!(
            command("/strategy direct"),
            Command::Strategy(Some(Strategy::Direct))
        );
        assert_eq!(
            command("/strategy chain_of_thought"),
            Command::Strategy(Some(Strategy::ChainOfThought))
        );
        assert_eq!(
            command("/strategy chain-of-thought"),
            Command::Strategy(Some(Strategy::ChainOfThought))
        );
        assert!(matches!(
            command("/strategy self_consistency"),
            Command::Strategy(Some(Strategy::SelfConsistency { samples: 5, .. }))
        ));
        assert!(matches!(
            command("/strategy tot"),
            Command::Strategy(Some(Strategy::TreeOfThought { breadth: 2, .. }))
        ));
        assert_eq!(
            error("/strategy magic"),
            CommandError::UnknownStrategy("magic".into())
        );
        for name in ["direct", "cot", "sc", "tot"] {
            match parse_strategy(name) {
                Ok(strategy) => assert!(strategy.validate().is_ok(), "{name}"),
                Err(e) => panic!("{name}: {e}"),
            }
        }
    }

    #[test]
    fn settings_are_parsed_and_checked() {
        assert_eq!(command("/set"), Command::Set(None));
        assert_eq!(
            command("/set temperature=0"),
            Command::Set(Some(Setting::Temperature(0.0)))
        );
        assert_eq!(
            command("/set temperature 0.7"),
            Command::Set(Some(Setting::Temperature(0.7)))
        );
        assert_eq!(
            command("/set top_p = 0.9"),
            Command::Set(Some(Setting::TopP(0.9)))
        );
        assert_eq!(
            command("/set max_tokens=64"),
            Command::Set(Some(Setting::MaxTokens(64)))
        );
        assert_eq!(command("/set seed=7"), Command::Set(Some(Setting::Seed(7))));
        assert!(matches!(
            error("/set temperature=hot"),
            CommandError::BadValue {
                key: "temperature",
                ..
            }
        ));
        assert!(matches!(
            error("/set temperature=-1"),
            CommandError::BadValue {
                key: "temperature",
                ..
            }
        ));
        assert!(matches!(
            error("/set temperature=NaN"),
            CommandError::BadValue {
                key: "temperature",
                ..
            }
        ));
        assert!(matches!(
            error("/set top_p=0"),
            CommandError::BadValue { key: "top_p", .. }
        ));
        assert!(matches!(
            error("/set max_tokens=0"),
            CommandError::BadValue {
                key: "max_tokens",
                ..
            }
        ));
        assert!(matches!(
            error("/set max_tokens=18446744073709551615"),
            CommandError::BadValue {
                key: "max_tokens",
                ..
            }
        ));
        assert!(matches!(
            error("/set seed=-3"),
            CommandError::BadValue { key: "seed", .. }
        ));
        assert_eq!(
            error("/set colour=blue"),
            CommandError::UnknownSetting("colour".into())
        );
        assert_eq!(
            error("/set temperature="),
            CommandError::Usage("/set KEY=VALUE")
        );
        assert_eq!(error("/set verbose"), CommandError::Usage("/set KEY=VALUE"));
    }

    #[test]
    fn unknown_commands_name_themselves() {
        let e = error("/fly me to the moon");
        assert_eq!(e, CommandError::Unknown("fly".into()));
        assert_eq!(
            e.to_string(),
            "unknown command /fly (type /help for the list)"
        );
        assert_eq!(error("/"), CommandError::Unknown(String::new()));
    }

    #[test]
    fn every_command_is_in_the_help() {
        for name in [
            "help", "tools", "memory", "remember", "forget", "strategy", "set", "reset", "save",
            "mcp", "load", "model", "run", "exit",
        ] {
            assert!(
                HELP.iter()
                    .any(|(usage, _)| usage.split(' ').next() == Some(&format!("/{name}"))),
                "{name}"
            );
        }
    }
}
