//! Policy: allow-list, capabilities and approval.

use std::sync::Arc;

use agentry_tools::{
    Approval, ApprovedCall, Approver, Capabilities, FnTool, Policy, ToolCall, ToolError,
    ToolFailure, ToolRegistry, ToolSpec,
};
use async_trait::async_trait;
use serde_json::{Value, json};
use tokio::sync::Mutex;

fn registry() -> ToolRegistry {
    let mut registry = ToolRegistry::new();
    let plain = FnTool::new("plain", "Harmless.", |_: Value| async move {
        Ok::<_, ToolError>("plain ran")
    });
    let risky = FnTool::new("risky", "Needs approval.", |_: Value| async move {
        Ok::<_, ToolError>("risky ran")
    })
    .needs_approval(true);
    let online = FnTool::new("online", "Needs the network.", |_: Value| async move {
        Ok::<_, ToolError>("online ran")
    })
    .capabilities(Capabilities::NONE.with_network());
    for result in [
        registry.register(plain),
        registry.register(risky),
        registry.register(online),
    ] {
        assert!(result.is_ok(), "{result:?}");
    }
    registry
}

fn call(name: &str) -> ToolCall {
    ToolCall::new("c1", name, json!({}))
}

/// Records what it was asked and answers with a fixed decision.
struct RecordingApprover {
    decision: Approval,
    seen: Mutex<Vec<(String, String)>>,
}

#[async_trait]
impl Approver for RecordingApprover {
    async fn approve(&self, call: &ToolCall, spec: &ToolSpec) -> Approval {
        self.seen
            .lock()
            .await
            .push((call.id.clone(), spec.name.clone()));
        self.decision.clone()
    }
}

#[tokio::test]
async fn a_tool_outside_the_allow_list_is_denied() {
    let policy = Policy::default().allow_tools(["plain"]);
    let result = registry().call(&call("risky"), &policy).await;
    assert_eq!(
        result.observation(),
        "error: tool `risky` is not allowed for this agent; allowed tools: plain"
    );
    let ok = registry().call(&call("plain"), &policy).await;
    assert_eq!(ok.observation(), "plain ran");
}

#[tokio::test]
async fn unknown_tool_lists_only_permitted_tools() {
    let policy = Policy::default().allow_tools(["plain", "online"]);
    let result = registry().call(&call("nope"), &policy).await;
    // `online` needs the network, which this policy does not grant.
    assert_eq!(
        result.observation(),
        "error: unknown tool `nope`; available tools: plain"
    );
}

#[tokio::test]
async fn a_tool_needing_an_ungranted_capability_is_denied() {
    let result = registry().call(&call("online"), &Policy::default()).await;
    assert_eq!(
        result.observation(),
        "error: tool `online` needs capabilities this agent is not granted: network"
    );
    let granted = Policy::default().with_capabilities(Capabilities::NONE.with_network());
    assert_eq!(
        registry()
            .call(&call("online"), &granted)
            .await
            .observation(),
        "online ran"
    );
}

#[tokio::test]
async fn approval_needed_without_approver_is_denied() {
    let result = registry().call(&call("risky"), &Policy::allow_all()).await;
    assert!(matches!(
        result.outcome,
        Err(ToolFailure::NoApprover { .. })
    ));
    assert!(
        result
            .observation()
            .contains("needs approval, and no approver is available")
    );
}

#[tokio::test]
async fn an_approver_can_approve() {
    let approver = Arc::new(RecordingApprover {
        decision: Approval::Approve,
        seen: Mutex::default(),
    });
    let policy = Policy::default().with_approver(approver.clone());
    let result = registry().call(&call("risky"), &policy).await;
    assert_eq!(result.observation(), "risky ran");
    assert_eq!(
        *approver.seen.lock().await,
        [("c1".to_owned(), "risky".to_owned())]
    );
    // Tools that need no approval do not ask.
    assert_eq!(
        registry().call(&call("plain"), &policy).await.observation(),
        "plain ran"
    );
    assert_eq!(approver.seen.lock().await.len(), 1);
}

#[tokio::test]
async fn an_approver_can_deny_with_a_reason() {
    let approver = Arc::new(RecordingApprover {
        decision: Approval::Deny("the user said no".into()),
        seen: Mutex::default(),
    });
    let policy = Policy::default().with_approver(approver);
    let result = registry().call(&call("risky"), &policy).await;
    assert_eq!(
        result.observation(),
        "error: the call to `risky` was denied: the user said no"
    );
}

#[test]
fn only_permitted_tools_are_offered() {
    let registry = registry();
    let names: Vec<&str> = registry
        .permitted(&Policy::default().allow_tools(["plain", "online"]))
        .iter()
        .map(|spec| spec.name.as_str())
        .collect();
    assert_eq!(names, ["plain"]);
    let none = registry.permitted(&Policy::default().allow_tools(["nothing"]));
    assert!(none.is_empty());
}

#[tokio::test]
async fn an_approved_call_runs_without_asking_again_but_is_still_checked() {
    let approver = Arc::new(RecordingApprover {
        decision: Approval::Deny("asked twice".into()),
        seen: Mutex::new(Vec::new()),
    });
    let policy = Policy {
        approver: Some(approver.clone()),
        ..Policy::default()
    };
    let registry = registry();
    let approved = ApprovedCall::new(call("risky"));
    let result = registry.call_approved(&approved, &policy).await;
    assert_eq!(result.observation(), "risky ran");
    assert!(
        approver.seen.lock().await.is_empty(),
        "the approver was asked again"
    );

    // Without the approved type the approver decides (and here says no).
    let asked = registry.call(&call("risky"), &policy).await;
    assert!(
        matches!(asked.outcome, Err(ToolFailure::ApprovalDenied { .. })),
        "{asked:?}"
    );

    // Approval is not permission: the allow-list and capabilities still hold.
    let outside = registry
        .call_approved(&approved, &Policy::default().allow_tools(["plain"]))
        .await;
    assert!(
        matches!(outside.outcome, Err(ToolFailure::NotAllowed { .. })),
        "{outside:?}"
    );
    let offline = registry
        .call_approved(&ApprovedCall::new(call("online")), &Policy::default())
        .await;
    assert!(
        matches!(offline.outcome, Err(ToolFailure::CapabilityDenied { .. })),
        "{offline:?}"
    );
    let all = registry
        .call_all_approved(
            &[approved.clone(), ApprovedCall::new(call("plain"))],
            &policy,
            2,
        )
        .await;
    let observations: Vec<String> = all.iter().map(|r| r.observation()).collect();
    assert_eq!(observations, ["risky ran", "plain ran"]);
}
