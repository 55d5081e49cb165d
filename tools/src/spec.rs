//! What a tool declares about itself: [`ToolSpec`] and [`Capabilities`].

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The kinds of access a tool needs; a [`crate::Policy`] grants a set of them.
///
/// A tool may run only if every capability it declares is granted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Capabilities {
    /// Sends traffic over the network.
    pub network: bool,
    /// Reads files.
    pub read_files: bool,
    /// Creates or changes files.
    pub write_files: bool,
    /// Starts processes.
    pub run_processes: bool,
}

impl Capabilities {
    /// No capability at all (pure computation).
    pub const NONE: Self = Self {
        network: false,
        read_files: false,
        write_files: false,
        run_processes: false,
    };
    /// Every capability.
    pub const ALL: Self = Self {
        network: true,
        read_files: true,
        write_files: true,
        run_processes: true,
    };

    /// This set plus network access.
    pub const fn with_network(mut self) -> Self {
        self.network = true;
        self
    }

    /// This set plus reading files.
    pub const fn with_read_files(mut self) -> Self {
        self.read_files = true;
        self
    }

    /// This set plus writing files.
    pub const fn with_write_files(mut self) -> Self {
        self.write_files = true;
        self
    }

    /// This set plus running processes.
    pub const fn with_run_processes(mut self) -> Self {
        self.run_processes = true;
        self
    }

    /// The names of the capabilities in `self` that `granted` lacks (empty when all are granted).
    pub fn missing_from(&self, granted: &Capabilities) -> Vec<&'static str> {
        [
            (self.network, granted.network, "network"),
            (self.read_files, granted.read_files, "read_files"),
            (self.write_files, granted.write_files, "write_files"),
            (self.run_processes, granted.run_processes, "run_processes"),
        ]
        .into_iter()
        .filter(|(needed, has, _)| *needed && !*has)
        .map(|(_, _, name)| name)
        .collect()
    }
}

/// Everything the registry and the model need to know about a tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    /// Unique name; must match `^[a-zA-Z0-9_-]{1,64}$` (OpenAI's rule for tool names).
    pub name: String,
    /// What the tool does, written for the model.
    pub description: String,
    /// JSON Schema (2020-12) of the arguments object.
    pub parameters: Value,
    /// The access the tool needs.
    pub capabilities: Capabilities,
    /// Whether each call must be approved by the policy's [`crate::Approver`].
    pub needs_approval: bool,
    /// Time limit of one call; `None` uses the registry's default.
    pub timeout: Option<Duration>,
    /// Whether a second call with the same arguments gives the same result (the default).
    /// An agent run answers a repeated call to an idempotent tool with the earlier result
    /// instead of running it again; a tool whose result changes between calls with the
    /// same arguments (a clock) says `false`.
    #[serde(default = "idempotent_by_default")]
    pub idempotent: bool,
    /// Whether the tool's output is untrusted text although the tool declares no
    /// capability that reads from outside (a tool that returns text from a store it holds
    /// in memory, say). See [`ToolSpec::output_is_untrusted`].
    #[serde(default)]
    pub untrusted_output: bool,
    /// Whether the description was written outside the project (an MCP server's): a
    /// prompt shows it fenced as untrusted text, as data about the tool and never as
    /// instructions.
    #[serde(default)]
    pub untrusted_description: bool,
}

fn idempotent_by_default() -> bool {
    true
}

impl ToolSpec {
    /// A spec with no capabilities, no approval and the default timeout.
    pub fn new(name: impl Into<String>, description: impl Into<String>, parameters: Value) -> Self {
        Self {
            name: name.into(),
            description: description.into(),
            parameters,
            capabilities: Capabilities::NONE,
            needs_approval: false,
            timeout: None,
            idempotent: true,
            untrusted_output: false,
            untrusted_description: false,
        }
    }

    /// What the tool does outside the run, from its capabilities: "writes files", "uses
    /// the network", "starts processes" (empty for a tool without side effects). A call
    /// to a tool with side effects waits for approval unless the policy pre-approves it
    /// (see [`crate::hold()`]).
    pub fn side_effects(&self) -> Vec<&'static str> {
        let caps = &self.capabilities;
        [
            (caps.write_files, "writes files"),
            (caps.network, "uses the network"),
            (caps.run_processes, "starts processes"),
        ]
        .into_iter()
        .filter(|(has, _)| *has)
        .map(|(_, effect)| effect)
        .collect()
    }

    /// Whether the tool's output is text from outside the run, which can carry
    /// instructions no one gave: the tool reads files, uses the network or starts
    /// processes, or says so ([`ToolSpec::untrusted_output`]). Once such output is in a
    /// run, calls with side effects wait for approval (see [`crate::hold()`]).
    pub fn output_is_untrusted(&self) -> bool {
        let caps = &self.capabilities;
        self.untrusted_output || caps.read_files || caps.network || caps.run_processes
    }
}

/// Whether `name` is a valid tool name: 1 to 64 of `[a-zA-Z0-9_-]`.
pub fn is_valid_tool_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_capabilities_are_named() {
        let needed = Capabilities::NONE.with_network().with_write_files();
        let granted = Capabilities::NONE.with_network();
        assert_eq!(needed.missing_from(&granted), vec!["write_files"]);
        assert!(needed.missing_from(&Capabilities::ALL).is_empty());
    }

    #[test]
    fn side_effects_and_untrusted_output_follow_the_capabilities() {
        let mut spec = ToolSpec::new("t", "", serde_json::json!({"type": "object"}));
        assert!(spec.side_effects().is_empty());
        assert!(!spec.output_is_untrusted());
        spec.capabilities = Capabilities::NONE.with_read_files();
        assert!(spec.side_effects().is_empty(), "reading is no side effect");
        assert!(spec.output_is_untrusted());
        spec.capabilities = Capabilities::ALL;
        assert_eq!(
            spec.side_effects(),
            vec!["writes files", "uses the network", "starts processes"]
        );
        spec.capabilities = Capabilities::NONE.with_write_files();
        assert!(
            !spec.output_is_untrusted(),
            "a confirmation of a write is ours"
        );
        spec.untrusted_output = true;
        assert!(spec.output_is_untrusted());
    }

    #[test]
    fn tool_names_follow_openai_rule() {
        assert!(is_valid_tool_name("srv__add-1"));
        assert!(!is_valid_tool_name("srv.add"));
        assert!(!is_valid_tool_name(""));
        assert!(!is_valid_tool_name(&"a".repeat(65)));
    }
}
