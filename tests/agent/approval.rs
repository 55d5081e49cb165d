//! Calls that need approval: the run pauses, and obeys the decision.

use super::*;

/// An agent over `model` whose only tool, `delete_file`, needs approval.
fn deleting_agent(
    model: Arc<Recorder>,
    tools: Arc<ToolRegistry>,
    policy: Policy,
    seed: u32,
) -> Agent {
    Agent::builder()
        .model(model)
        .instructions(["Use the delete_file tool to delete files."])
        .tools(tools)
        .policy(policy)
        .limits(limits(2))
        .sampling(Sampling {
            temperature: 0.5,
            seed,
            ..sampling(100)
        })
        .thought_max_chars(Some(SHORT_THOUGHT_CHARS))
        .build()
        .unwrap()
}

/// A run of `task` paused on a call the model made in its first step (so the run has a
/// step left after the decision). Whether the small model calls the tool at once depends
/// on its sampling, so up to eight seeds are tried.
async fn paused_on_call(
    model: &Arc<Recorder>,
    tools: &Arc<ToolRegistry>,
    task: &str,
) -> (Agent, AgentRun, ToolCall) {
    for seed in 0..8 {
        let agent = deleting_agent(model.clone(), tools.clone(), Policy::default(), seed);
        let mut run = agent.start::<Report>(task).unwrap();
        let requests_before = model.requests().len();
        match agent.advance(&mut run).await.unwrap() {
            Pause::Approval { call, .. } if model.requests().len() == requests_before + 1 => {
                return (agent, run, call);
            }
            Pause::Approval { .. } => {}
            Pause::Done(outcome) => assert_eq!(outcome.tool_calls, 0, "{outcome:?}"),
            Pause::Stepped { .. } => panic!("advance never stops after a step"),
        }
    }
    panic!("the model called no tool in its first step with any of eight seeds");
}

#[tokio::test]
async fn calls_that_need_approval_pause_and_obey_the_decision() {
    let model = Recorder::new().await;
    let deleted = Arc::new(AtomicUsize::new(0));
    let counted = deleted.clone();
    let mut tools = ToolRegistry::new();
    tools
        .register(
            FnTool::new("delete_file", "Deletes a file.", move |args: DeleteArgs| {
                let counted = counted.clone();
                async move {
                    counted.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, ToolError>(format!("deleted {}", args.path))
                }
            })
            .needs_approval(true),
        )
        .unwrap();
    let tools = Arc::new(tools);
    let task = "Delete the file notes.txt.";

    // Denied: the tool does not run and the model is told why.
    let (agent, mut run, call) = paused_on_call(&model, &tools, task).await;
    assert_eq!(call.name, "delete_file");
    let before = model.requests().len();
    run.feed(Input::Approval(ApprovalDecision::Deny {
        reason: "the user keeps this file".into(),
    }))
    .unwrap();
    let pause = agent.advance(&mut run).await.unwrap();
    assert!(
        matches!(pause, Pause::Done(_) | Pause::Approval { .. }),
        "{pause:?}"
    );
    assert_eq!(deleted.load(Ordering::SeqCst), 0);
    let next = model.requests()[before].clone();
    assert!(
        prompt_text(&next).contains("the user keeps this file"),
        "{}",
        prompt_text(&next)
    );

    // Without an approver, `finish` hands back the run paused on the call.
    let (agent, run, _) = paused_on_call(&model, &tools, task).await;
    let PendingApproval { call, mut run, .. } = match agent.finish::<Report>(run).await {
        Err(AgentError::ApprovalNeeded(pending)) => *pending,
        other => panic!("expected ApprovalNeeded, got {other:?}"),
    };
    assert_eq!(call.name, "delete_file");
    assert!(!run.is_done());

    // Approved by hand: the tool runs once, and the registry does not ask the policy's
    // approver about that call again. Later calls go to the approver.
    run.feed(Input::Approval(ApprovalDecision::Approve))
        .unwrap();
    let approver = Arc::new(CountingApprover::default());
    let approving = deleting_agent(
        model.clone(),
        tools.clone(),
        Policy::default().with_approver(approver.clone()),
        0,
    );
    let mut events = approving.events();
    let result = approving.finish::<Report>(run).await;
    assert!(
        matches!(result, Err(AgentError::Stopped { .. })),
        "{result:?}"
    );
    let asked = approver.asked.lock().unwrap().clone();
    assert!(
        !asked.contains(&call.id),
        "asked again about {}: {asked:?}",
        call.id
    );
    assert_eq!(deleted.load(Ordering::SeqCst), 1 + asked.len());
    let result = drain(&mut events)
        .into_iter()
        .find_map(|e| match e {
            AgentEvent::ToolResult { result, .. } if result.call_id == call.id => Some(result),
            _ => None,
        })
        .expect("the approved call's result");
    assert!(!result.is_error(), "{result:?}");
    assert!(result.observation().starts_with("deleted "), "{result:?}");
}

/// Approves every call and records the ids it was asked about.
#[derive(Default)]
struct CountingApprover {
    asked: Mutex<Vec<String>>,
}

#[async_trait]
impl Approver for CountingApprover {
    async fn approve(&self, call: &ToolCall, _spec: &ToolSpec, _reason: &HoldReason) -> Approval {
        self.asked.lock().unwrap().push(call.id.clone());
        Approval::Approve
    }
}
