//! Why a server's handshake failed, in words a person can act on: rmcp's
//! [`ClientInitializeError`] read together with what was seen of the process (its exit
//! status, what it wrote on stdout) or of the HTTP exchange (the status, the content
//! type), and the protocol version a server answered with checked against the versions
//! this client speaks.

use rmcp::model::ProtocolVersion;
use rmcp::service::ClientInitializeError;
use rmcp::transport::streamable_http_client::StreamableHttpError;

use super::child::Report;

/// Why the MCP handshake (`initialize`) with a server failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeFailure {
    /// The process ended (or closed its stdout) before answering `initialize`.
    #[error("exited before the MCP handshake ({status})")]
    Exited {
        /// Its exit status, as the system words it (`exit status: 3`).
        status: String,
    },
    /// The process closed its stdout without answering, and still runs.
    #[error("closed its stdout before answering `initialize`")]
    ClosedOutput,
    /// The process wrote something on stdout that is not a JSON-RPC message.
    #[error(
        "is not an MCP server (or not started as one): it wrote `{line}` on stdout, where \
         JSON-RPC messages were expected{}",
        exited.as_ref().map(|s| format!("; then it exited ({s})")).unwrap_or_default()
    )]
    NotMcp {
        /// The first line that is not JSON-RPC.
        line: String,
        /// Its exit status when it exited.
        exited: Option<String>,
    },
    /// The server answered with a protocol version this client does not speak.
    #[error(
        "answered `initialize` with MCP protocol version `{version}`, which this client \
         does not speak (it speaks {})",
        known_versions()
    )]
    ProtocolVersion {
        /// The version it named.
        version: String,
    },
    /// The server answered `initialize` with a JSON-RPC error.
    #[error("refused `initialize`: {message} (JSON-RPC error {code})")]
    Refused {
        /// The error's code.
        code: i32,
        /// The error's message.
        message: String,
    },
    /// The server answered `initialize` with something other than its result.
    #[error("answered `initialize` with something other than an `initialize` result: {0}")]
    UnexpectedAnswer(String),
    /// A server at a URL answered with an HTTP error status.
    #[error("answered `initialize` with HTTP {status}{}{}", detail_text(detail), status_hint(*status))]
    HttpStatus {
        /// The status code.
        status: u16,
        /// What the server said with it (the start of its body), when anything.
        detail: String,
    },
    /// A server at a URL answered with a body that is neither JSON nor an event stream.
    #[error(
        "answered `initialize` with content type `{content_type}`, not JSON or an event \
         stream: is the URL the server's MCP endpoint (often ending in `/mcp`)?"
    )]
    NotMcpHttp {
        /// The content type it sent.
        content_type: String,
    },
    /// The URL could not be reached (no connection).
    #[error("cannot be reached: {0}")]
    Unreachable(String),
    /// Anything else, in rmcp's words.
    #[error("did not complete the MCP handshake: {0}")]
    Other(String),
}

/// The versions this client speaks, oldest first, for a message.
fn known_versions() -> String {
    ProtocolVersion::KNOWN_VERSIONS
        .iter()
        .map(ProtocolVersion::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

fn detail_text(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(" ({detail})")
    }
}

/// What a person should check for an HTTP status.
fn status_hint(status: u16) -> &'static str {
    match status {
        401 | 403 => {
            ": the server wants credentials (a bearer token, `bearer_token_env`, or headers)"
        }
        404 | 405 => ": is the URL the server's MCP endpoint (often ending in `/mcp`)?",
        500..=599 => ": the server failed; its own logs say why",
        _ => "",
    }
}

/// The failure of a stdio server's handshake: rmcp's `error`, explained by `report`
/// (what the process did) where the error is only that its output ended.
pub(super) fn stdio(error: ClientInitializeError, report: &Report) -> HandshakeFailure {
    let exited = report.status.map(|s| s.to_string());
    if let Some(line) = &report.stray {
        return HandshakeFailure::NotMcp {
            line: line.clone(),
            exited,
        };
    }
    match error {
        ClientInitializeError::ConnectionClosed(_)
        | ClientInitializeError::TransportError { .. } => match exited {
            Some(status) => HandshakeFailure::Exited { status },
            None if matches!(error, ClientInitializeError::ConnectionClosed(_)) => {
                HandshakeFailure::ClosedOutput
            }
            None => HandshakeFailure::Other(error.to_string()),
        },
        other => answered(other),
    }
}

/// The failure of a handshake whose transport delivered an answer (or none at all):
/// a refusal, an answer of the wrong kind, or rmcp's words.
fn answered(error: ClientInitializeError) -> HandshakeFailure {
    match error {
        ClientInitializeError::JsonRpcError(data) => HandshakeFailure::Refused {
            code: data.code.0,
            message: data.message.to_string(),
        },
        ClientInitializeError::ExpectedInitResult(Some(result)) => {
            HandshakeFailure::UnexpectedAnswer(format!("{result:?}"))
        }
        ClientInitializeError::ExpectedInitResponse(Some(message)) => {
            HandshakeFailure::UnexpectedAnswer(format!("{message:?}"))
        }
        other => HandshakeFailure::Other(other.to_string()),
    }
}

/// The failure of a handshake with a server at a URL: the HTTP status, content type or
/// connection failure found in rmcp's `error`, else as [`answered`].
pub(super) fn http(error: ClientInitializeError) -> HandshakeFailure {
    if let ClientInitializeError::TransportError { error: inner, .. } = &error {
        let mut link: Option<&(dyn std::error::Error + 'static)> = Some(inner);
        while let Some(current) = link {
            if let Some(failure) = http_failure(current) {
                return failure;
            }
            link = super::tls::cause(current);
        }
    }
    answered(error)
}

/// The failure `error` stands for, when it is one a person can act on.
fn http_failure(error: &(dyn std::error::Error + 'static)) -> Option<HandshakeFailure> {
    if let Some(http) = error.downcast_ref::<StreamableHttpError<reqwest_mcp::Error>>() {
        return match http {
            StreamableHttpError::HttpStatus(status) => Some(HandshakeFailure::HttpStatus {
                status: status.status,
                detail: String::new(),
            }),
            StreamableHttpError::AuthRequired(_) => Some(HandshakeFailure::HttpStatus {
                status: 401,
                detail: String::new(),
            }),
            StreamableHttpError::InsufficientScope(_) => Some(HandshakeFailure::HttpStatus {
                status: 403,
                detail: String::new(),
            }),
            StreamableHttpError::UnexpectedServerResponse(text) => status_text(text),
            StreamableHttpError::UnexpectedContentType(content_type) => {
                Some(HandshakeFailure::NotMcpHttp {
                    content_type: content_type.clone().unwrap_or_else(|| "none".into()),
                })
            }
            _ => None,
        };
    }
    if let Some(reqwest) = error.downcast_ref::<reqwest_mcp::Error>() {
        if let Some(status) = reqwest.status() {
            return Some(HandshakeFailure::HttpStatus {
                status: status.as_u16(),
                detail: String::new(),
            });
        }
        if reqwest.is_connect() {
            let mut deepest: &(dyn std::error::Error + 'static) = reqwest;
            while let Some(next) = deepest.source() {
                deepest = next;
            }
            return Some(HandshakeFailure::Unreachable(deepest.to_string()));
        }
    }
    None
}

/// `HTTP 404 Not Found: body...` (rmcp's words for an error status) as a status and
/// the start of the body.
fn status_text(text: &str) -> Option<HandshakeFailure> {
    let rest = text.strip_prefix("HTTP ")?;
    let code: u16 = rest.get(..3)?.parse().ok()?;
    let body = rest
        .split_once(": ")
        .map(|(_, body)| body.trim())
        .unwrap_or_default();
    let detail: String = body.chars().take(200).collect();
    let detail = if detail.len() < body.len() {
        format!("{detail}...")
    } else {
        detail
    };
    Some(HandshakeFailure::HttpStatus {
        status: code,
        detail,
    })
}

/// Refuses a protocol version this client does not speak.
pub(super) fn check_version(version: &ProtocolVersion) -> Result<(), HandshakeFailure> {
    if ProtocolVersion::KNOWN_VERSIONS.contains(version) {
        Ok(())
    } else {
        Err(HandshakeFailure::ProtocolVersion {
            version: version.to_string(),
        })
    }
}

/// `stderr`'s last lines for a message: none, or each on a line of its own.
pub(super) fn stderr_tail(stderr: &[String]) -> String {
    if stderr.is_empty() {
        return String::new();
    }
    let mut text = String::from("; the last lines of its stderr:");
    for line in stderr {
        text.push_str("\n  | ");
        text.push_str(line);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_status_is_read_from_rmcps_words() {
        assert_eq!(
            status_text("HTTP 404 Not Found: no such page"),
            Some(HandshakeFailure::HttpStatus {
                status: 404,
                detail: "no such page".into()
            })
        );
        assert_eq!(status_text("something else"), None);
    }

    #[test]
    fn messages_say_what_to_check() {
        let failure = HandshakeFailure::HttpStatus {
            status: 404,
            detail: String::new(),
        };
        assert_eq!(
            failure.to_string(),
            "answered `initialize` with HTTP 404: is the URL the server's MCP endpoint \
             (often ending in `/mcp`)?"
        );
        assert!(check_version(&ProtocolVersion::V_2025_06_18).is_ok());
        assert_eq!(
            stderr_tail(&["a".into(), "b".into()]),
            "; the last lines of its stderr:\n  | a\n  | b"
        );
    }
}
