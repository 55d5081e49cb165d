//! How to reach an MCP server ([`McpServerConfig`]) and the limits its client keeps
//! ([`McpLimits`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::spec::Capabilities;

/// The limits an MCP client keeps against a slow or hostile server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct McpLimits {
    /// Time to start the process and complete the `initialize` handshake (default 30 s).
    pub connect: Duration,
    /// Time for each `tools/list` page (default 30 s).
    pub list: Duration,
    /// Time for each `tools/call` (default 60 s).
    pub call: Duration,
    /// Most `tools/list` pages read (default 100); a server that keeps sending a
    /// cursor past that is refused.
    pub max_pages: usize,
    /// Most JSON values in one tool's argument schema once its `$ref`s are inlined
    /// (default 20 000); a larger tool is refused at load.
    pub max_schema_values: usize,
}

impl Default for McpLimits {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(30),
            list: Duration::from_secs(30),
            call: Duration::from_secs(60),
            max_pages: 100,
            max_schema_values: 20_000,
        }
    }
}

/// How to reach an MCP server (a child process over stdio, or a URL over streamable
/// HTTP), and how far to trust it.
///
/// A child process gets only [`McpServerConfig::env`] plus a minimal base taken from
/// this process ([`BASE_ENV`](super::BASE_ENV): `PATH`, `HOME`, `LANG`, ...), never
/// the rest of the parent's environment (API keys and tokens stay here). A server at a
/// [`McpServerConfig::url`] gets only [`McpServerConfig::headers`] and, when
/// [`McpServerConfig::bearer_token_env`] names a variable, its value as a bearer token;
/// its certificate is checked against the system's roots and
/// [`McpServerConfig::ca_cert`].
#[derive(Debug, Clone, PartialEq)]
pub struct McpServerConfig {
    /// The server's name, the prefix of its tools' names (`<name>__<tool>`).
    pub name: String,
    /// The program to start (empty for a server at a [`McpServerConfig::url`]).
    pub command: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Environment variables set for it, on top of the minimal base.
    pub env: BTreeMap<String, String>,
    /// Its working directory (default: this process's).
    pub cwd: Option<PathBuf>,
    /// The server's streamable HTTP endpoint (`http://` or `https://`); when set, no
    /// process is started.
    pub url: Option<String>,
    /// HTTP headers sent with every request to [`McpServerConfig::url`].
    pub headers: BTreeMap<String, String>,
    /// The environment variable holding a bearer token for [`McpServerConfig::url`]
    /// (sent as `Authorization: Bearer ...`), read when connecting.
    pub bearer_token_env: Option<String>,
    /// A PEM file of CA certificates trusted for [`McpServerConfig::url`] in addition to
    /// the system's roots (a server behind a private CA), read when connecting.
    pub ca_cert: Option<PathBuf>,
    /// What its tools may do (default: everything, so every call waits for approval
    /// unless pre-approved).
    pub capabilities: Capabilities,
    /// Whether a tool the server annotates `readOnlyHint: true` is taken at its word and
    /// runs without capabilities (default: no, a server's annotations are its own claim).
    pub trust_read_only_hints: bool,
    /// The client's limits.
    pub limits: McpLimits,
}

impl McpServerConfig {
    /// A server `name` started as `command` with no arguments, default trust and limits.
    pub fn new(name: impl Into<String>, command: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            command: command.into(),
            args: Vec::new(),
            env: BTreeMap::new(),
            cwd: None,
            url: None,
            headers: BTreeMap::new(),
            bearer_token_env: None,
            ca_cert: None,
            capabilities: Capabilities::ALL,
            trust_read_only_hints: false,
            limits: McpLimits::default(),
        }
    }

    /// A server `name` reached over streamable HTTP at `url`, default trust and limits.
    pub fn http(name: impl Into<String>, url: impl Into<String>) -> Self {
        let mut config = Self::new(name, "");
        config.url = Some(url.into());
        config
    }

    /// With the HTTP header `name: value` on every request (a server at a URL).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name.into(), value.into());
        self
    }

    /// With the bearer token read from the environment variable `var` when connecting
    /// (a server at a URL).
    pub fn bearer_token_env(mut self, var: impl Into<String>) -> Self {
        self.bearer_token_env = Some(var.into());
        self
    }

    /// Trusting the CA certificates of the PEM file at `path` as well as the system's
    /// roots (a server at an `https://` URL behind a private CA).
    pub fn ca_cert(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_cert = Some(path.into());
        self
    }

    /// Reads the [`McpServerConfig::ca_cert`] file, when one is set, as connecting does:
    /// for a caller that wants a bad file refused before anything starts.
    ///
    /// # Errors
    /// [`McpError::CaCert`](super::McpError::CaCert) when the file is missing, unreadable,
    /// too large or holds no valid certificate; [`McpError::InvalidConfig`](super::McpError::InvalidConfig)
    /// when rustls refuses the TLS configuration.
    pub fn check_ca_cert(&self) -> Result<(), super::McpError> {
        super::tls::client_config(self).map(|_| ())
    }

    /// Where the server is, for people: its URL, or its command line.
    pub fn describe(&self) -> String {
        match &self.url {
            Some(url) => url.clone(),
            None if self.args.is_empty() => self.command.clone(),
            None => format!("{} {}", self.command, self.args.join(" ")),
        }
    }

    /// With these arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args = args.into_iter().map(Into::into).collect();
        self
    }

    /// With `key=value` in the child's environment.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(key.into(), value.into());
        self
    }

    /// With these limits.
    pub fn limits(mut self, limits: McpLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Declares every tool of the server read-only: no capability, so calls run without
    /// approval (their output is still untrusted text).
    pub fn read_only(mut self) -> Self {
        self.capabilities = Capabilities::NONE;
        self
    }

    /// Takes the server's `readOnlyHint` annotations at their word.
    pub fn trust_read_only_hints(mut self) -> Self {
        self.trust_read_only_hints = true;
        self
    }

    /// Parses `NAME=COMMAND ARG...` (the CLI's `--mcp`): the command line is split on
    /// whitespace; no quoting. `NAME=http://...` or `NAME=https://...` is a server
    /// reached over streamable HTTP.
    ///
    /// # Errors
    /// A message naming what is missing.
    pub fn parse_cli(spec: &str) -> Result<Self, String> {
        let Some((name, command_line)) = spec.split_once('=') else {
            return Err(format!(
                "`{spec}` is not NAME=COMMAND (e.g. time=uvx mcp-server-time)"
            ));
        };
        let target = command_line.trim();
        if target.starts_with("http://") || target.starts_with("https://") {
            if target.contains(char::is_whitespace) {
                return Err(format!("`{spec}`: a URL takes no arguments"));
            }
            return Ok(Self::http(name.trim(), target));
        }
        let mut words = command_line.split_whitespace();
        let Some(command) = words.next() else {
            return Err(format!("`{spec}` names no command after `=`"));
        };
        Ok(Self::new(name.trim(), command).args(words))
    }
}
