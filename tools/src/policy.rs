//! Per-agent policy: which tools, which capabilities, and who approves risky calls.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::call::ToolCall;
use crate::hold::{Approvals, HoldReason, ToolSet, hold};
use crate::spec::{Capabilities, ToolSpec};

/// An approver's decision on one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Approval {
    /// The call may run.
    Approve,
    /// The call must not run, for the given reason (shown to the model).
    Deny(String),
}

/// Decides whether a call that must wait (see [`crate::hold()`]) may run: a person at a
/// prompt, a rule engine, ...
#[async_trait]
pub trait Approver: Send + Sync {
    /// Approves or denies `call` to the tool described by `spec`, held for `reason`.
    async fn approve(&self, call: &ToolCall, spec: &ToolSpec, reason: &HoldReason) -> Approval;
}

/// What one agent may do with the registry's tools.
///
/// The default policy allows every tool by name but grants no capability, pre-approves
/// nothing and has no approver: pure tools (calculator, clock) run, tools needing network
/// or files are refused until their capability is granted, and calls with side effects
/// are not made until an approver approves them or the policy pre-approves them.
#[derive(Clone, Default)]
pub struct Policy {
    /// Names of the tools the agent may call; `None` allows every registered tool.
    pub allow: Option<BTreeSet<String>>,
    /// The capabilities granted.
    pub capabilities: Capabilities,
    /// Which calls with side effects run without asking (see [`crate::hold()`]).
    pub approvals: Approvals,
    /// Who decides on held calls; `None` refuses them (non-interactive).
    pub approver: Option<Arc<dyn Approver>>,
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("allow", &self.allow)
            .field("capabilities", &self.capabilities)
            .field("approvals", &self.approvals)
            .field("approver", &self.approver.as_ref().map(|_| "<approver>"))
            .finish()
    }
}

impl Policy {
    /// Every tool and every capability; calls with side effects still wait for an
    /// approver unless pre-approved ([`Policy::approve`]).
    pub fn allow_all() -> Self {
        Self {
            allow: None,
            capabilities: Capabilities::ALL,
            approvals: Approvals::none(),
            approver: None,
        }
    }

    /// Pre-approves the calls of `tools` (they run without asking while no untrusted
    /// text is in the run).
    pub fn approve(mut self, tools: &ToolSet) -> Self {
        self.approvals = self.approvals.approve(tools);
        self
    }

    /// Lets the pre-approved `tools` run without asking even after untrusted text entered
    /// the run.
    pub fn act_on_untrusted(mut self, tools: &ToolSet) -> Self {
        self.approvals = self.approvals.act_on_untrusted(tools);
        self
    }

    /// Why a call to the tool of `spec` must wait for a decision, with `untrusted_sources`
    /// naming where untrusted text in the run came from; `None`: it may run.
    pub fn hold(&self, spec: &ToolSpec, untrusted_sources: &[String]) -> Option<HoldReason> {
        hold(spec, &self.approvals, untrusted_sources)
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
