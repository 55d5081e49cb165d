//! Per-agent policy: which tools, which capabilities, and who approves risky calls.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::call::ToolCall;
use crate::spec::{Capabilities, ToolSpec};

/// An approver's decision on one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Approval {
    /// The call may run.
    Approve,
    /// The call must not run, for the given reason (shown to the model).
    Deny(String),
}

/// Decides whether a call to a tool that needs approval may run (a human at a prompt,
/// a rule engine, ...).
#[async_trait]
pub trait Approver: Send + Sync {
    /// Approves or denies `call` to the tool described by `spec`.
    async fn approve(&self, call: &ToolCall, spec: &ToolSpec) -> Approval;
}

/// What one agent may do with the registry's tools.
///
/// The default policy allows every tool by name but grants no capability, and has no
/// approver: pure tools (calculator, clock) run, tools needing network or files are
/// denied until their capability is granted, and tools needing approval are denied.
#[derive(Clone, Default)]
pub struct Policy {
    /// Names of the tools the agent may call; `None` allows every registered tool.
    pub allow: Option<BTreeSet<String>>,
    /// The capabilities granted.
    pub capabilities: Capabilities,
    /// Who approves calls to tools that need approval; `None` denies them (non-interactive).
    pub approver: Option<Arc<dyn Approver>>,
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("allow", &self.allow)
            .field("capabilities", &self.capabilities)
            .field("approver", &self.approver.as_ref().map(|_| "<approver>"))
            .finish()
    }
}

impl Policy {
    /// Every tool and every capability; approval-needing tools are still denied until
    /// an approver is set.
    pub fn allow_all() -> Self {
        Self {
            allow: None,
            capabilities: Capabilities::ALL,
            approver: None,
        }
    }

    /// Restricts the agent to the named tools.
    pub fn allow_tools<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allow = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// Grants these capabilities (replacing the previous set).
    pub fn with_capabilities(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = capabilities;
        self
    }

    /// Sets the approver.
    pub fn with_approver(mut self, approver: Arc<dyn Approver>) -> Self {
        self.approver = Some(approver);
        self
    }

    /// Whether the allow-list admits the tool named `name`.
    pub fn allows_name(&self, name: &str) -> bool {
        self.allow.as_ref().is_none_or(|allow| allow.contains(name))
    }

    /// Whether `spec` may be offered to the model: its name is allowed and its
    /// capabilities granted.
    pub fn permits(&self, spec: &ToolSpec) -> bool {
        self.allows_name(&spec.name)
            && spec
                .capabilities
                .missing_from(&self.capabilities)
                .is_empty()
    }
}
