//! Policy: allow-list, capabilities and approval.

use std::sync::Arc;

use agentry_tools::{
    Approval, ApprovedCall, Approver, Capabilities, FnTool, HoldReason, Policy, ToolCall,
    ToolError, ToolFailure, ToolRegistry, ToolSet, ToolSpec,
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
    reasons: Mutex<Vec<HoldReason>>,
}

impl RecordingApprover {
    fn new(decision: Approval) -> Arc<Self> {
        Arc::new(Self {
            decision,
            seen: Mutex::default(),
            reasons: Mutex::default(),
        })
    }
}

#[async_trait]
impl Approver for RecordingApprover {
    async fn approve(&self, call: &ToolCall, spec: &ToolSpec, reason: &HoldReason) -> Approval {
        self.seen
            .lock()
            .await
            .push((call.id.clone(), spec.name.clone()));
        self.reasons.lock().await.push(reason.clone());
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
    let granted = Policy::default()
        .with_capabilities(Capabilities::NONE.with_network())
        .approve(&ToolSet::named(["online"]));
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
    assert_eq!(
        result.observation(),
        "error: the call to `risky` was not made: `risky` asks approval for every call and is \
         not pre-approved, and no one can approve it in this run (non-interactive); approve it \
         beforehand with `--approve risky` (workflow: `policy: {approve: [risky]}`)"
    );
}

#[tokio::test]
async fn side_effects_are_not_made_unless_pre_approved() {
    // Granting the capability lets the tool be offered; it does not approve its calls.
    let granted = Policy::allow_all();
    let held = registry().call(&call("online"), &granted).await;
    let observation = held.observation();
    assert!(
        matches!(held.outcome, Err(ToolFailure::NoApprover { .. })),
        "{held:?}"
    );
    assert!(
        observation.contains("`online` uses the network"),
        "{observation}"
    );
    assert!(observation.contains("--approve online"), "{observation}");
    let approved = granted.approve(&ToolSet::named(["online"]));
    assert_eq!(
        registry()
            .call(&call("online"), &approved)
            .await
            .observation(),
        "online ran"
    );
}

#[tokio::test]
async fn untrusted_input_holds_a_pre_approved_call_for_the_approver() {
    let sources = ["http_get".to_owned()];
    let approved = Policy::allow_all().approve(&ToolSet::All);
    let held = registry()
        .call_untrusted(&call("online"), &approved, &sources)
        .await;
    assert!(
        held.observation()
            .contains("untrusted text entered this run (from http_get)"),
        "{held:?}"
    );
    assert!(held.observation().contains("--act-on-untrusted online"));

    // With an approver, the approver decides and learns why it was asked.
    let approver = RecordingApprover::new(Approval::Approve);
    let asked = approved.clone().with_approver(approver.clone());
    let result = registry()
        .call_untrusted(&call("online"), &asked, &sources)
        .await;
    assert_eq!(result.observation(), "online ran");
    let reasons = approver.reasons.lock().await;
    assert_eq!(reasons.len(), 1);
    assert!(reasons[0].pre_approved);
    assert_eq!(reasons[0].untrusted_sources, sources);

    // The policy can let a tool act on untrusted input; tools without side effects
    // never wait.
    let trusting = approved.act_on_untrusted(&ToolSet::named(["online"]));
    let ran = registry()
        .call_untrusted(&call("online"), &trusting, &sources)
        .await;
    assert_eq!(ran.observation(), "online ran");
    let plain = registry()
        .call_untrusted(&call("plain"), &Policy::default(), &sources)
        .await;
    assert_eq!(plain.observation(), "plain ran");
}

#[tokio::test]
async fn an_approver_can_approve() {
    let approver = RecordingApprover::new(Approval::Approve);
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
    let approver = RecordingApprover::new(Approval::Deny("the user said no".into()));
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
    let approver = RecordingApprover::new(Approval::Deny("asked twice".into()));
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
