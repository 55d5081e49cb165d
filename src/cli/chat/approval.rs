//! Approval of risky tool calls at the terminal. The agent's [`Approver`] does not read
//! the terminal itself: it hands each call to the REPL loop ([`ApprovalRequest`]), which
//! owns the terminal, shows what the run did so far, asks "Allow TOOL(args)? [y/N]" and
//! sends the answer back.

use agentry_tools::{Approval, Approver, HoldReason, ToolCall, ToolSpec};
use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};

/// A call waiting for the user's decision.
#[derive(Debug)]
pub struct ApprovalRequest {
    /// The call.
    pub call: ToolCall,
    /// Why it was held.
    pub reason: HoldReason,
    /// Where the decision goes.
    pub reply: oneshot::Sender<Approval>,
}

/// An [`Approver`] that asks the REPL loop (see the module docs).
#[derive(Debug, Clone)]
pub struct TerminalApprover {
    requests: mpsc::Sender<ApprovalRequest>,
}

impl TerminalApprover {
    /// An approver and the receiver of its requests, for the REPL loop.
    pub fn channel() -> (Self, mpsc::Receiver<ApprovalRequest>) {
        let (requests, receiver) = mpsc::channel(4);
        (Self { requests }, receiver)
    }
}

#[async_trait]
impl Approver for TerminalApprover {
    async fn approve(&self, call: &ToolCall, _spec: &ToolSpec, reason: &HoldReason) -> Approval {
        let (reply, decision) = oneshot::channel();
        let request = ApprovalRequest {
            call: call.clone(),
            reason: reason.clone(),
            reply,
        };
        if self.requests.send(request).await.is_err() {
            return Approval::Deny("no one is at the terminal to approve the call".into());
        }
        decision
            .await
            .unwrap_or_else(|_| Approval::Deny("the approval prompt was closed".into()))
    }
}

/// The question put to the user: `Allow write_file({"path":"a.txt"})? [y/N] `.
pub fn question(call: &ToolCall) -> String {
    format!("Allow {}({})? [y/N] ", call.name, call.args)
}

/// The decision an answer means: `y` or `yes` (any case) approves; anything else denies.
pub fn decision(answer: Option<&str>) -> Approval {
    match answer.map(|a| a.trim().to_ascii_lowercase()) {
        Some(a) if a == "y" || a == "yes" => Approval::Approve,
        _ => Approval::Deny("the user denied the call".into()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_yes_approves() {
        assert_eq!(decision(Some("y")), Approval::Approve);
        assert_eq!(decision(Some(" YES ")), Approval::Approve);
        for answer in [Some(""), Some("n"), Some("sure"), None] {
            assert!(matches!(decision(answer), Approval::Deny(_)), "{answer:?}");
        }
    }

    #[test]
    fn the_question_shows_the_call() {
        let call = ToolCall::new("c1", "write_file", json!({"path": "a.txt"}));
        assert_eq!(
            question(&call),
            "Allow write_file({\"path\":\"a.txt\"})? [y/N] "
        );
    }

    #[tokio::test]
    async fn the_loop_answers_and_a_gone_loop_denies() {
        let spec = ToolSpec::new("write_file", "Writes.", json!({"type": "object"}));
        let call = ToolCall::new("c1", "write_file", json!({}));
        let (approver, mut requests) = TerminalApprover::channel();
        let answering = tokio::spawn(async move {
            if let Some(request) = requests.recv().await {
                let _ = request.reply.send(decision(Some("y")));
            }
        });
        let reason = HoldReason::default();
        assert_eq!(
            approver.approve(&call, &spec, &reason).await,
            Approval::Approve
        );
        let _ = answering.await;
        // The receiver is gone with the task.
        assert!(matches!(
            approver.approve(&call, &spec, &reason).await,
            Approval::Deny(_)
        ));
    }
}
