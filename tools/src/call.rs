//! A call the model asked for ([`ToolCall`]), and one whose approval was already decided
//! ([`ApprovedCall`]).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A call the model asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// Id of the call, echoed in its [`ToolResult`](crate::ToolResult).
    pub id: String,
    /// Name of the tool.
    pub name: String,
    /// Arguments (a JSON object).
    pub args: Value,
}

impl ToolCall {
    /// A call with the given id, tool name and arguments.
    pub fn new(id: impl Into<String>, name: impl Into<String>, args: Value) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            args,
        }
    }
}

/// A call whose approval has been decided already: an agent run put it to its approver (or
/// its tool needs none) before handing it on. The registry runs it without asking again
/// ([`ToolRegistry::call_approved`](crate::ToolRegistry::call_approved)); the allow-list,
/// capabilities, argument schema, timeout and output budget still apply.
///
/// Approval is decided once, and the type says so: only code that decided it makes one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ApprovedCall(ToolCall);

impl ApprovedCall {
    /// `call`, approved by the caller (who asked the policy's approver, or knows that the
    /// tool needs no approval).
    pub fn new(call: ToolCall) -> Self {
        Self(call)
    }

    /// The call.
    pub fn call(&self) -> &ToolCall {
        &self.0
    }

    /// The call, unwrapped.
    pub fn into_call(self) -> ToolCall {
        self.0
    }
}

impl std::ops::Deref for ApprovedCall {
    type Target = ToolCall;

    fn deref(&self) -> &ToolCall {
        &self.0
    }
}
