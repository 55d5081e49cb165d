//! Which calls must wait for a decision before they run, and why: [`Approvals`] (what the
//! policy pre-approves), [`HoldReason`] and [`hold`], the one rule every caller applies.
//!
//! The rule, safe by default:
//! - A tool **with side effects** (it writes files, uses the network or starts processes,
//!   see [`ToolSpec::side_effects`]) or one that asks for every call
//!   ([`ToolSpec::needs_approval`]) is held unless the policy pre-approves it.
//! - Once **untrusted text** has entered the run (the output of a tool that reads from
//!   outside, see [`ToolSpec::output_is_untrusted`], a fetched page, a recalled document,
//!   a task templated from another step's output), such a tool is held even when
//!   pre-approved, unless the policy lets it act on untrusted input. Text can steer a
//!   model; it cannot approve a call.
//!
//! A held call goes to the policy's [`Approver`](crate::Approver); without one it does not
//! run.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::spec::ToolSpec;

/// A set of tool names, or every tool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolSet {
    /// The tools named.
    Named(BTreeSet<String>),
    /// Every tool.
    All,
}

impl Default for ToolSet {
    /// No tool.
    fn default() -> Self {
        Self::Named(BTreeSet::new())
    }
}

impl ToolSet {
    /// The tools named in `names`.
    pub fn named<I, S>(names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::Named(names.into_iter().map(Into::into).collect())
    }

    /// Whether the set holds the tool named `name`.
    pub fn contains(&self, name: &str) -> bool {
        match self {
            Self::Named(names) => names.contains(name),
            Self::All => true,
        }
    }

    /// Whether the set holds no tool.
    pub fn is_empty(&self) -> bool {
        match self {
            Self::Named(names) => names.is_empty(),
            Self::All => false,
        }
    }

    /// This set with the tools in `other` added.
    pub fn union(&self, other: &ToolSet) -> ToolSet {
        match (self, other) {
            (Self::All, _) | (_, Self::All) => Self::All,
            (Self::Named(a), Self::Named(b)) => Self::Named(a.union(b).cloned().collect()),
        }
    }
}

/// What a policy decides in advance about calls with side effects.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approvals {
    /// Tools whose calls run without asking while no untrusted text is in the run
    /// (none by default).
    #[serde(default)]
    pub approved: ToolSet,
    /// Pre-approved tools that may run without asking even after untrusted text entered
    /// the run (none by default).
    #[serde(default)]
    pub act_on_untrusted: ToolSet,
}

impl Approvals {
    /// Nothing pre-approved: every call with side effects asks.
    pub fn none() -> Self {
        Self::default()
    }

    /// These rules with every tool in `tools` pre-approved as well.
    pub fn approve(mut self, tools: &ToolSet) -> Self {
        self.approved = self.approved.union(tools);
        self
    }

    /// These rules with every tool in `tools` allowed to act on untrusted input as well
    /// (they must be pre-approved too to run without asking).
    pub fn act_on_untrusted(mut self, tools: &ToolSet) -> Self {
        self.act_on_untrusted = self.act_on_untrusted.union(tools);
        self
    }
}

/// Why a call waits for a decision; shown to the person asked and kept in the run's
/// events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldReason {
    /// The tool.
    pub tool: String,
    /// What the tool does that needs a decision ("writes files", "uses the network",
    /// "starts processes"); empty for a tool that asks approval for every call.
    pub effects: Vec<String>,
    /// Whether the policy pre-approves the tool (it is then held only because untrusted
    /// text is in the run).
    pub pre_approved: bool,
    /// Where the untrusted text in the run came from (a tool's name, "recalled
    /// documents", ...); empty when there is none.
    pub untrusted_sources: Vec<String>,
}

impl HoldReason {
    /// How the call could run without asking next time: the policy setting to change,
    /// as `agentry run` flags and a workflow's `policy` section.
    pub fn remedy(&self) -> String {
        let tool = &self.tool;
        if self.pre_approved {
            format!(
                "let it act on untrusted input with `--act-on-untrusted {tool}` (workflow: `policy: {{act_on_untrusted: [{tool}]}}`) only if that text cannot do harm through it"
            )
        } else {
            format!(
                "approve it beforehand with `--approve {tool}` (workflow: `policy: {{approve: [{tool}]}}`)"
            )
        }
    }
}

impl fmt::Display for HoldReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tool = &self.tool;
        if self.effects.is_empty() {
            write!(f, "`{tool}` asks approval for every call")?;
        } else {
            write!(f, "`{tool}` {}", join_and(&self.effects))?;
        }
        if !self.pre_approved {
            write!(f, " and is not pre-approved")?;
        }
        if !self.untrusted_sources.is_empty() {
            let joiner = if self.pre_approved {
                ", but"
            } else {
                "; also,"
            };
            write!(
                f,
                "{joiner} untrusted text entered this run (from {})",
                self.untrusted_sources.join(", ")
            )?;
        }
        Ok(())
    }
}

fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// Whether a call to the tool of `spec` must wait for a decision under `approvals`, with
/// `untrusted_sources` naming where untrusted text in the run came from (empty: none).
/// `None`: it may run.
pub fn hold(
    spec: &ToolSpec,
    approvals: &Approvals,
    untrusted_sources: &[String],
) -> Option<HoldReason> {
    let effects = spec.side_effects();
    if effects.is_empty() && !spec.needs_approval {
        return None;
    }
    let pre_approved = approvals.approved.contains(&spec.name);
    let acts_on_untrusted = approvals.act_on_untrusted.contains(&spec.name);
    let tainted = !untrusted_sources.is_empty();
    if pre_approved && (!tainted || acts_on_untrusted) {
        return None;
    }
    Some(HoldReason {
        tool: spec.name.clone(),
        effects: effects.into_iter().map(str::to_owned).collect(),
        pre_approved,
        untrusted_sources: untrusted_sources.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::spec::Capabilities;

    fn spec(name: &str, capabilities: Capabilities) -> ToolSpec {
        let mut spec = ToolSpec::new(name, "", json!({"type": "object"}));
        spec.capabilities = capabilities;
        spec
    }

    fn writer() -> ToolSpec {
        spec("write_file", Capabilities::NONE.with_write_files())
    }

    #[test]
    fn tools_without_side_effects_never_wait() {
        let reader = spec("read_file", Capabilities::NONE.with_read_files());
        let sources = ["http_get".to_owned()];
        assert_eq!(hold(&reader, &Approvals::none(), &sources), None);
        assert_eq!(
            hold(&spec("calc", Capabilities::NONE), &Approvals::none(), &[]),
            None
        );
    }

    #[test]
    fn side_effects_wait_unless_pre_approved() {
        let held = hold(&writer(), &Approvals::none(), &[]).expect("held");
        assert!(!held.pre_approved);
        assert_eq!(held.effects, vec!["writes files"]);
        assert!(held.to_string().contains("not pre-approved"), "{held}");
        assert!(
            held.remedy().contains("--approve write_file"),
            "{}",
            held.remedy()
        );
        let approvals = Approvals::none().approve(&ToolSet::named(["write_file"]));
        assert_eq!(hold(&writer(), &approvals, &[]), None);
        assert_eq!(
            hold(&writer(), &Approvals::none().approve(&ToolSet::All), &[]),
            None
        );
    }

    #[test]
    fn untrusted_text_holds_even_pre_approved_calls() {
        let approvals = Approvals::none().approve(&ToolSet::All);
        let sources = ["read_file".to_owned()];
        let held = hold(&writer(), &approvals, &sources).expect("held");
        assert!(held.pre_approved);
        assert_eq!(held.untrusted_sources, sources);
        assert!(held.to_string().contains("from read_file"), "{held}");
        assert!(held.remedy().contains("--act-on-untrusted write_file"));
        let trusting = approvals.act_on_untrusted(&ToolSet::named(["write_file"]));
        assert_eq!(hold(&writer(), &trusting, &sources), None);
    }

    #[test]
    fn acting_on_untrusted_input_does_not_pre_approve() {
        let approvals = Approvals::none().act_on_untrusted(&ToolSet::All);
        assert!(hold(&writer(), &approvals, &["read_file".to_owned()]).is_some());
    }

    #[test]
    fn a_tool_that_always_asks_waits_without_side_effects() {
        let mut asks = spec("deploy", Capabilities::NONE);
        asks.needs_approval = true;
        let held = hold(&asks, &Approvals::none(), &[]).expect("held");
        assert_eq!(
            held.to_string(),
            "`deploy` asks approval for every call and is not pre-approved"
        );
        let approvals = Approvals::none().approve(&ToolSet::named(["deploy"]));
        assert_eq!(hold(&asks, &approvals, &[]), None);
    }

    #[test]
    fn tool_sets_serialise_as_names_or_all() {
        let approvals = Approvals::none()
            .approve(&ToolSet::named(["write_file"]))
            .act_on_untrusted(&ToolSet::All);
        let text = serde_json::to_string(&approvals).expect("json");
        assert_eq!(
            text,
            r#"{"approved":{"named":["write_file"]},"act_on_untrusted":"all"}"#
        );
        assert_eq!(
            serde_json::from_str::<Approvals>(&text).expect("back"),
            approvals
        );
        assert_eq!(
            serde_json::from_str::<Approvals>("{}").expect("empty"),
            Approvals::none()
        );
    }
}
