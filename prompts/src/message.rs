//! Chat messages: the form every prompt takes on its way to a model.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Who speaks in a chat turn. Serialised in lowercase (`"system"`, `"user"`,
/// `"assistant"`, `"tool"`), as chat templates expect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Trusted set-up: role, instructions, context, guard notice.
    System,
    /// The user (or the examples' inputs).
    User,
    /// The model (or the examples' outputs).
    Assistant,
    /// The result of a tool call, fed back to the model.
    Tool,
}

impl Role {
    /// The lowercase name used in chat templates.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One turn of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Who speaks.
    pub role: Role,
    /// What is said.
    pub content: String,
}

impl ChatMessage {
    /// A message with the given role and content.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
        }
    }

    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self::new(Role::System, content)
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self::new(Role::User, content)
    }

    /// An assistant message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new(Role::Assistant, content)
    }

    /// A tool-result message.
    pub fn tool(content: impl Into<String>) -> Self {
        Self::new(Role::Tool, content)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_serialise_in_lowercase_and_round_trip() {
        let message = ChatMessage::tool("42");
        let json = serde_json::to_string(&message).unwrap_or_default();
        assert_eq!(json, r#"{"role":"tool","content":"42"}"#);
        let back: ChatMessage = serde_json::from_str(r#"{"role":"assistant","content":"hi"}"#)
            .unwrap_or_else(|e| panic!("valid message did not parse: {e}"));
        assert_eq!(back, ChatMessage::assistant("hi"));
        assert!(serde_json::from_str::<ChatMessage>(r#"{"role":"System","content":""}"#).is_err());
        assert_eq!(Role::System.to_string(), "system");
    }
}
