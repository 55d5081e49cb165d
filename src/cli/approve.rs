//! Approval of calls with side effects in `agentry run`: the `--approve`,
//! `--approve-all` and `--act-on-untrusted` flags, and who decides on a held call (the
//! person at the terminal, or, in a run nobody watches, a refusal that names the flag).

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;

use agentry_tools::{Approval, Approver, HoldReason, Policy, ToolCall, ToolSet, ToolSpec};
use async_trait::async_trait;
use clap::Args;
use indicatif::ProgressBar;
use tokio::sync::Mutex;

use super::chat::approval::{decision, question};

/// Which calls with side effects run without asking.
#[derive(Debug, Args, Default)]
pub struct ApprovalArgs {
    /// Let calls to TOOL run without asking (repeatable, or comma-separated). Calls
    /// made after untrusted text (a file, a page, a step's output) entered the run
    /// still ask, unless `--act-on-untrusted TOOL`.
    #[arg(long = "approve", value_name = "TOOL", value_delimiter = ',')]
    approve: Vec<String>,
    /// Let every tool's calls run without asking (untrusted text still holds them).
    #[arg(long)]
    approve_all: bool,
    /// Let the pre-approved TOOL run without asking even after untrusted text entered
    /// the run (repeatable, or comma-separated). Only for tools that text from outside
    /// cannot turn against you.
    #[arg(long = "act-on-untrusted", value_name = "TOOL", value_delimiter = ',')]
    act_on_untrusted: Vec<String>,
}

impl ApprovalArgs {
    /// `policy` with these pre-approvals added.
    ///
    /// # Errors
    /// A named tool that is not among `tools`.
    pub fn apply(&self, policy: Policy, tools: &[&str]) -> Result<Policy, String> {
        for (flag, names) in [
            ("--approve", &self.approve),
            ("--act-on-untrusted", &self.act_on_untrusted),
        ] {
            if let Some(unknown) = names.iter().find(|name| !tools.contains(&name.as_str())) {
                return Err(format!(
                    "{flag} {unknown}: no such tool; tools: {}",
                    tools.join(", ")
                ));
            }
        }
        let approved = if self.approve_all {
            ToolSet::All
        } else {
            ToolSet::named(self.approve.iter().cloned())
        };
        Ok(policy
            .approve(&approved)
            .act_on_untrusted(&ToolSet::named(self.act_on_untrusted.iter().cloned())))
    }
}

/// Who decides on held calls: the person at the terminal when stdin and stderr are
/// one, else nobody (each held call is refused with the flag that would allow it).
pub fn approver(bar: &ProgressBar) -> Arc<dyn Approver> {
    if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
        Arc::new(PromptApprover {
            bar: bar.clone(),
            asking: Mutex::new(()),
        })
    } else {
        Arc::new(Unattended { bar: bar.clone() })
    }
}

/// Asks at the terminal: the reason, then `Allow TOOL(args)? [y/N]`.
struct PromptApprover {
    bar: ProgressBar,
    /// One question at a time (parallel steps may hold calls at once).
    asking: Mutex<()>,
}

#[async_trait]
impl Approver for PromptApprover {
    async fn approve(&self, call: &ToolCall, _spec: &ToolSpec, reason: &HoldReason) -> Approval {
        let _one_at_a_time = self.asking.lock().await;
        let bar = self.bar.clone();
        let (reason, question) = (reason.to_string(), question(call));
        let answer = tokio::task::spawn_blocking(move || {
            bar.suspend(|| {
                let mut stderr = std::io::stderr();
                let _ = write!(stderr, "held: {reason}\n{question}");
                let _ = stderr.flush();
                let mut line = String::new();
                match std::io::stdin().lock().read_line(&mut line) {
                    Ok(0) | Err(_) => None,
                    Ok(_) => Some(line),
                }
            })
        })
        .await
        .ok()
        .flatten();
        decision(answer.as_deref())
    }
}

/// Refuses every held call: nobody is there to ask. Says so on stderr, with the flag.
struct Unattended {
    bar: ProgressBar,
}

#[async_trait]
impl Approver for Unattended {
    async fn approve(&self, call: &ToolCall, _spec: &ToolSpec, reason: &HoldReason) -> Approval {
        let why = unattended_refusal(reason);
        let line = format!("refused {}: {why}", call.name);
        if self.bar.is_hidden() {
            errln!("{line}");
        } else {
            self.bar.println(line);
        }
        Approval::Deny(why)
    }
}

/// Why an unattended run refuses a call held for `reason`, and how to allow it.
pub fn unattended_refusal(reason: &HoldReason) -> String {
    format!(
        "{reason}, and this run is not interactive, so no one could approve it; {}",
        reason.remedy()
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const TOOLS: &[&str] = &["calculator", "write_file", "http_get"];

    fn args(approve: &[&str], all: bool, untrusted: &[&str]) -> ApprovalArgs {
        ApprovalArgs {
            approve: approve.iter().map(|s| s.to_string()).collect(),
            approve_all: all,
            act_on_untrusted: untrusted.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn flags_become_pre_approvals() {
        let policy = args(&["write_file"], false, &["http_get"])
            .apply(Policy::allow_all(), TOOLS)
            .expect("known tools");
        assert!(policy.approvals.approved.contains("write_file"));
        assert!(!policy.approvals.approved.contains("http_get"));
        assert!(policy.approvals.act_on_untrusted.contains("http_get"));
        let all = args(&[], true, &[])
            .apply(Policy::allow_all(), TOOLS)
            .expect("all");
        assert_eq!(all.approvals.approved, ToolSet::All);
        assert!(all.approvals.act_on_untrusted.is_empty());
    }

    #[test]
    fn an_unknown_tool_is_refused_with_the_list() {
        let err = args(&["write_fle"], false, &[])
            .apply(Policy::allow_all(), TOOLS)
            .expect_err("unknown");
        assert_eq!(
            err,
            "--approve write_fle: no such tool; tools: calculator, write_file, http_get"
        );
        let err = args(&[], false, &["nope"])
            .apply(Policy::allow_all(), TOOLS)
            .expect_err("unknown");
        assert!(err.starts_with("--act-on-untrusted nope"), "{err}");
    }

    #[tokio::test]
    async fn an_unattended_run_refuses_and_names_the_flag() {
        let approver = Unattended {
            bar: ProgressBar::hidden(),
        };
        let call = ToolCall::new("c1", "write_file", json!({"path": "a.txt"}));
        let spec = ToolSpec::new("write_file", "", json!({"type": "object"}));
        let reason = HoldReason {
            tool: "write_file".into(),
            effects: vec!["writes files".into()],
            pre_approved: false,
            untrusted_sources: Vec::new(),
        };
        let Approval::Deny(why) = approver.approve(&call, &spec, &reason).await else {
            panic!("an unattended run approved a call");
        };
        assert_eq!(
            why,
            "`write_file` writes files and is not pre-approved, and this run is not \
             interactive, so no one could approve it; approve it beforehand with \
             `--approve write_file` (workflow: `policy: {approve: [write_file]}`)"
        );
    }
}
