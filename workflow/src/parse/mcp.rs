//! The `mcp:` section: MCP servers whose tools the agents may use, each named (the
//! prefix of its tools, `NAME__TOOL`) and started as a command over stdio or reached at
//! a `url` over streamable HTTP (an `https://` one may name the PEM file of a private CA,
//! `ca_cert`).

use std::collections::BTreeMap;

use marked_yaml::Node;

use crate::diagnostic::Diagnostic;
use crate::spec::McpServerSpec;
use crate::yaml::Reader;

const SERVER_KEYS: &[&str] = &[
    "command",
    "args",
    "env",
    "read_only",
    "trust_read_only_hints",
    "url",
    "headers",
    "bearer_token_env",
    "ca_cert",
];

/// The servers of an `mcp:` mapping, in file order.
pub(crate) fn mcp(reader: &mut Reader<'_>, node: &Node) -> Vec<McpServerSpec> {
    let Some(map) = reader.mapping(node, "`mcp`") else {
        return Vec::new();
    };
    let mut servers = Vec::new();
    for (key, value) in map.iter() {
        let name = key.as_str().to_string();
        let span = reader.key_span(key);
        let what = format!("MCP server `{name}`");
        if !is_server_name(&name) {
            reader.error(
                Diagnostic::at(
                    span,
                    format!("`{name}` is not a valid MCP server name"),
                    "1 to 32 of a-z, A-Z, 0-9, `_` and `-`, without `__`",
                )
                .with_help("its tools are named `NAME__TOOL`, e.g. `time__get_current_time`"),
            );
        }
        let Some(m) = reader.mapping(value, &what) else {
            continue;
        };
        reader.known_keys(m, SERVER_KEYS, &what);
        let server_span = reader.span(value);
        let url = m.get_node("url").and_then(|n| http_url(reader, n, &what));
        let command = if url.is_some() || m.get_node("url").is_some() {
            for key in ["command", "args", "env"] {
                if let Some(node) = m.get_node(key) {
                    let span = reader.span(node);
                    reader.error(Diagnostic::at(
                        span,
                        format!("{what} has a `url`, so `{key}` has no use"),
                        "a server is either a `command` (stdio) or a `url` (HTTP)",
                    ));
                }
            }
            url.clone()
        } else {
            for key in ["headers", "bearer_token_env", "ca_cert"] {
                if let Some(node) = m.get_node(key) {
                    let span = reader.span(node);
                    reader.error(Diagnostic::at(
                        span,
                        format!("`{key}` of {what} is for a server at a `url`"),
                        "add `url: http://...`, or remove it",
                    ));
                }
            }
            reader
                .required_or(
                    m,
                    server_span,
                    "command",
                    &what,
                    "add e.g. `command: uvx` and `args: [mcp-server-time]`, or `url: http://...`",
                )
                .and_then(|n| reader.string(n, &format!("the command of {what}")))
        };
        let headers = m
            .get_node("headers")
            .map(|n| env(reader, n, &what))
            .unwrap_or_default();
        let bearer_token_env = m
            .get_node("bearer_token_env")
            .and_then(|n| reader.string(n, &format!("the bearer_token_env of {what}")));
        let ca_cert = m
            .get_node("ca_cert")
            .and_then(|n| reader.string(n, &format!("the ca_cert of {what}")))
            .map(std::path::PathBuf::from);
        let args = m
            .get_node("args")
            .map(|n| reader.strings(n, &format!("the args of {what}")))
            .unwrap_or_default()
            .into_iter()
            .map(|(arg, _)| arg)
            .collect();
        let env = m
            .get_node("env")
            .map(|n| env(reader, n, &what))
            .unwrap_or_default();
        let read_only = flag(reader, m.get_node("read_only"), &what, "read_only");
        let trust_read_only_hints = flag(
            reader,
            m.get_node("trust_read_only_hints"),
            &what,
            "trust_read_only_hints",
        );
        if let Some(command) = command {
            let (command, url) = match url {
                Some(url) => (String::new(), Some(url)),
                None => (command, None),
            };
            servers.push(McpServerSpec {
                name,
                command,
                url,
                headers,
                bearer_token_env,
                ca_cert,
                args,
                env,
                read_only,
                trust_read_only_hints,
                span,
            });
        }
    }
    servers
}

/// Whether `name` can prefix tool names: 1 to 32 of `[a-zA-Z0-9_-]`, no `__` (the
/// separator) and no trailing `_`.
pub(crate) fn is_server_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && !name.contains("__")
        && !name.ends_with('_')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `env:`, a mapping of variable names to text.
fn env(reader: &mut Reader<'_>, node: &Node, what: &str) -> BTreeMap<String, String> {
    let Some(map) = reader.mapping(node, &format!("the env of {what}")) else {
        return BTreeMap::new();
    };
    let mut out = BTreeMap::new();
    for (key, value) in map.iter() {
        let name = key.as_str().to_string();
        if name.is_empty() || name.contains('=') || name.contains('\0') {
            let span = reader.key_span(key);
            reader.error(Diagnostic::at(
                span,
                format!("`{name}` is not an environment variable name"),
                "no `=` or NUL, not empty",
            ));
            continue;
        }
        let text = match value {
            Node::Scalar(s) => Some(s.as_str().to_string()),
            _ => reader.string(value, &format!("`{name}` in the env of {what}")),
        };
        if let Some(text) = text {
            out.insert(name, text);
        }
    }
    out
}

/// `url:`, an `http://` or `https://` URL.
fn http_url(reader: &mut Reader<'_>, node: &Node, what: &str) -> Option<String> {
    let text = reader.string(node, &format!("the url of {what}"))?;
    if text.starts_with("http://") || text.starts_with("https://") {
        return Some(text);
    }
    let span = reader.span(node);
    reader.error(Diagnostic::at(
        span,
        format!("the url of {what} must start with http:// or https://"),
        "e.g. `url: http://127.0.0.1:8765/mcp`",
    ));
    None
}

/// A `true`/`false` setting (absent: false).
fn flag(reader: &mut Reader<'_>, node: Option<&Node>, what: &str, key: &str) -> bool {
    let Some(node) = node else { return false };
    if let Node::Scalar(s) = node
        && let Some(value) = s.as_bool()
    {
        return value;
    }
    let span = reader.span(node);
    reader.error(Diagnostic::at(
        span,
        format!("`{key}` of {what} must be `true` or `false`"),
        "expected true or false",
    ));
    false
}

#[cfg(test)]
mod tests {
    use agentry_tools::Capabilities;

    const FLOW: &str = "name: f\nmodel: m\nmcp:\n  time:\n    command: mcp-server-time\n    \
        args: [--local-timezone, Etc/UTC]\n    env: { TZ: Etc/UTC, N: 3 }\n    \
        trust_read_only_hints: true\n  disk:\n    command: /bin/disk-server\n    read_only: true\n\
        agents:\n  a: { tools: [time__get_current_time, disk__read] }\n\
        steps:\n  - id: s\n    agent: a\n    task: t\n";

    /// The problems `yaml` is refused with (its steps may use `clock`).
    fn refusal(yaml: &str) -> String {
        crate::parse("f.yaml", yaml, &["clock"])
            .expect_err("invalid")
            .to_string()
    }

    #[test]
    fn servers_become_client_configurations() {
        let flow = crate::parse("f.yaml", FLOW, &[]).expect("valid");
        let names: Vec<&str> = flow.mcp.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["time", "disk"]);
        let time = flow.mcp[0].config();
        assert_eq!(time.command, "mcp-server-time");
        assert_eq!(time.args, ["--local-timezone", "Etc/UTC"]);
        assert_eq!(time.env.get("TZ").map(String::as_str), Some("Etc/UTC"));
        assert_eq!(time.env.get("N").map(String::as_str), Some("3"));
        assert!(time.trust_read_only_hints);
        assert_eq!(time.capabilities, Capabilities::ALL);
        let disk = flow.mcp[1].config();
        assert_eq!(disk.capabilities, Capabilities::NONE);
        assert!(!disk.trust_read_only_hints);
    }

    #[test]
    fn a_server_at_a_url_is_reached_over_http() {
        let flow = "name: f\nmodel: m\nmcp:\n  web:\n    url: http://127.0.0.1:8765/mcp\n    \
            headers: { X-Team: blue }\n    bearer_token_env: WEB_TOKEN\n\
            agents:\n  a: { tools: [web__echo] }\nsteps:\n  - id: s\n    agent: a\n    task: t\n";
        let flow = crate::parse("f.yaml", flow, &[]).expect("valid");
        let web = flow.mcp[0].config();
        assert_eq!(web.url.as_deref(), Some("http://127.0.0.1:8765/mcp"));
        assert_eq!(web.command, "");
        assert_eq!(web.headers.get("X-Team").map(String::as_str), Some("blue"));
        assert_eq!(web.bearer_token_env.as_deref(), Some("WEB_TOKEN"));
        assert_eq!(web.ca_cert, None);
    }

    #[test]
    fn a_ca_cert_is_read_from_the_workflow_files_folder() {
        let text = "name: f\nmodel: m\nmcp:\n  web:\n    url: https://127.0.0.1:8765/mcp\n    \
            ca_cert: certs/ca.pem\n  abs:\n    url: https://h/mcp\n    ca_cert: /etc/ca.pem\n\
            agents:\n  a: { tools: [web__echo, abs__echo] }\nsteps:\n  - id: s\n    agent: a\n    task: t\n";
        let flow = crate::parse("flows/f.yaml", text, &[]).expect("valid");
        assert_eq!(
            flow.mcp[0].ca_cert.as_deref(),
            Some(std::path::Path::new("certs/ca.pem"))
        );
        let configs = flow.mcp_configs();
        assert_eq!(
            configs[0].ca_cert.as_deref(),
            Some(std::path::Path::new("flows/certs/ca.pem"))
        );
        assert_eq!(
            configs[1].ca_cert.as_deref(),
            Some(std::path::Path::new("/etc/ca.pem"))
        );

        let stray = "name: f\nmodel: m\nmcp:\n  t:\n    command: x\n    ca_cert: ca.pem\n\
            steps:\n  - id: s\n    tool: clock\n";
        let problems = refusal(stray);
        assert!(
            problems.contains("`ca_cert` of MCP server `t` is for a server at a `url`"),
            "{problems}"
        );
    }

    #[test]
    fn a_url_server_with_a_command_or_a_bad_url_is_refused() {
        let both = "name: f\nmodel: m\nmcp:\n  web:\n    url: http://h/mcp\n    command: x\n\
            steps:\n  - id: s\n    tool: clock\n";
        let problems = refusal(both);
        assert!(
            problems.contains("has a `url`, so `command` has no use"),
            "{problems}"
        );
        let ftp = "name: f\nmodel: m\nmcp:\n  web:\n    url: ftp://h/mcp\n\
            steps:\n  - id: s\n    tool: clock\n";
        let problems = refusal(ftp);
        assert!(
            problems.contains("must start with http:// or https://"),
            "{problems}"
        );
        let stray = "name: f\nmodel: m\nmcp:\n  t:\n    command: x\n    bearer_token_env: T\n\
            steps:\n  - id: s\n    tool: clock\n";
        let problems = refusal(stray);
        assert!(
            problems.contains("is for a server at a `url`"),
            "{problems}"
        );
    }

    #[test]
    fn server_names_must_prefix_tool_names() {
        assert!(super::is_server_name("time"));
        assert!(super::is_server_name("my-server_2"));
        assert!(!super::is_server_name("a__b"));
        assert!(!super::is_server_name("trailing_"));
        assert!(!super::is_server_name("has.dot"));
        assert!(!super::is_server_name(&"x".repeat(33)));
    }
}
