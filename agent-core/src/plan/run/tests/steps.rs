//! A run step by step: tool calls, prompts, limits, unusable replies.

use super::*;

#[test]
fn a_tool_using_run_calls_the_tool_and_answers() {
    let mut run = new_run(config());
    let session = run.session();
    let first = expect_generate(&run);
    assert_eq!(first.session, Some(session.clone()));
    assert_eq!(first.n, 1);
    assert_eq!(
        first.constraint,
        Constraint::JsonSchema(run.step_schema().clone())
    );
    let roles: Vec<Role> = messages_of(&first).iter().map(|m| m.role).collect();
    assert_eq!(roles, [Role::System, Role::User]);
    let system = &messages_of(&first)[0].content;
    assert!(
        system.starts_with("You are a careful assistant."),
        "{system}"
    );
    assert!(system.contains("- calculator: Evaluates"), "{system}");
    assert!(
        system.contains(&format!("<</{}>>", run.marker())),
        "{system}"
    );
    assert_eq!(last_user(&first), TASK);

    scripted_step(
        &mut run,
        &scripted_call("calculator", json!({"expression": "3*3600"})),
    );
    let action = run.next_action();
    let json = serde_json::to_string(&action).unwrap_or_default();
    assert!(
        json.starts_with(r#"{"call_tools":{"calls":[{"id":"call-1-1""#),
        "{json}"
    );
    assert_eq!(serde_json::from_str::<Action>(&json).ok(), Some(action));
    let calls = expect_calls(&run);
    assert_eq!(
        calls,
        [ToolCall::new(
            "call-1-1",
            "calculator",
            json!({"expression": "3*3600"})
        )]
    );
    feed(
        &mut run,
        Input::ToolResults(vec![ok_result(&calls[0], json!({"value": 10800}))]),
    );

    let second = expect_generate(&run);
    assert_eq!(second.session, Some(session));
    let observation = last_user(&second);
    assert!(
        observation.starts_with("Observation from tool `calculator`:"),
        "{observation}"
    );
    assert!(
        observation.contains(&format!(
            "<<{} source=\"tool:calculator\">>\n{{\"value\":10800}}\n<</{}>>",
            run.marker(),
            run.marker()
        )),
        "{observation}"
    );

    scripted_step(&mut run, &scripted_answer(json!(10800)));
    let outcome = expect_done(&run);
    assert_eq!(outcome.answer, Some(json!(10800)));
    assert_eq!(outcome.stop, StopReason::Answered);
    assert_eq!((outcome.steps, outcome.tool_calls), (2, 1));
    assert_eq!(outcome.tools_used, ["calculator"]);
    assert_eq!(outcome.usage.completion_tokens, 40);
    assert_eq!(outcome.usage.cached_tokens, 120);
    assert_eq!(run.outcome(), Some(&outcome));

    let events = run.drain_events();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| match e {
            AgentEvent::Thought { .. } => "thought",
            AgentEvent::ToolCall { .. } => "tool_call",
            AgentEvent::ToolResult { .. } => "tool_result",
            AgentEvent::Answer { .. } => "answer",
            AgentEvent::Stopped { .. } => "stopped",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "thought",
            "tool_call",
            "tool_result",
            "thought",
            "answer",
            "stopped"
        ]
    );
    assert!(run.drain_events().is_empty());
    assert!(matches!(
        run.feed(Input::Generated(scripted_completion("{}"))),
        Err(RunError::Finished {
            stop: StopReason::Answered
        })
    ));
}

#[test]
fn each_prompt_extends_the_previous_one() {
    let mut run = new_run(config().with_recall(2).with_parallel_calls(2));
    let mut previous: Vec<ChatMessage> = Vec::new();
    let mut check = |run: &AgentRun| {
        let messages = messages_of(&expect_generate(run));
        assert!(
            messages.starts_with(&previous),
            "the prompt rewrote earlier messages"
        );
        assert!(messages.len() > previous.len());
        let roles: Vec<Role> = messages.iter().map(|m| m.role).collect();
        let alternating = roles.iter().skip(1).enumerate().all(|(i, role)| {
            *role
                == if i % 2 == 0 {
                    Role::User
                } else {
                    Role::Assistant
                }
        });
        assert!(alternating && roles[0] == Role::System, "{roles:?}");
        previous = messages;
    };
    feed(
        &mut run,
        Input::Recalled(vec![Recollection::new("3 h = 180 min", "notes", 0.9)]),
    );
    check(&run);
    let parallel = json!({"thought": "both", "actions": [
        {"tool": "calculator", "args": {"expression": "3*3600"}},
        {"tool": "clock", "args": {"tz": "UTC"}}
    ]})
    .to_string();
    scripted_step(&mut run, &parallel);
    let calls = expect_calls(&run);
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1].id, "call-1-2");
    let results = vec![
        ok_result(&calls[1], json!("12:00")),
        ok_result(&calls[0], json!(10800)),
    ];
    feed(&mut run, Input::ToolResults(results));
    feed(&mut run, Input::Recalled(Vec::new()));
    check(&run);
    feed(
        &mut run,
        Input::Generated(scripted_completion("not json at all")),
    );
    feed(&mut run, Input::Recalled(Vec::new()));
    check(&run);
    let request = expect_generate(&run);
    assert_eq!(request.session, Some(run.session()));
    scripted_step(&mut run, &scripted_answer(json!(10800)));
    assert_eq!(expect_done(&run).answer, Some(json!(10800)));
}

#[test]
fn a_tool_error_is_fed_back_and_the_run_goes_on() {
    let mut run = new_run(config());
    scripted_step(
        &mut run,
        &scripted_call("calculator", json!({"expression": "3*"})),
    );
    let calls = expect_calls(&run);
    let failure = ToolResult {
        call_id: calls[0].id.clone(),
        name: "calculator".into(),
        outcome: Err(ToolFailure::Failed {
            name: "calculator".into(),
            message: "unexpected end of expression".into(),
        }),
    };
    feed(&mut run, Input::ToolResults(vec![failure.clone()]));
    let observation = last_user(&expect_generate(&run));
    assert!(
        observation.contains("error: tool `calculator` failed: unexpected end of expression"),
        "{observation}"
    );
    assert!(observation.contains(&format!("<</{}>>", run.marker())));
    assert!(run.drain_events().contains(&AgentEvent::ToolResult {
        step: 1,
        result: failure
    }));
    scripted_step(
        &mut run,
        &scripted_call("calculator", json!({"expression": "3*3600"})),
    );
    assert_eq!(expect_calls(&run)[0].id, "call-2-1");
}

#[test]
fn max_steps_stops_the_run_without_an_answer() {
    let limits = Limits {
        max_steps: 2,
        ..Limits::default()
    };
    let mut run = new_run(config().with_limits(limits));
    scripted_step(&mut run, &scripted_call("clock", json!({"tz": "UTC"})));
    let calls = expect_calls(&run);
    feed(
        &mut run,
        Input::ToolResults(vec![ok_result(&calls[0], json!("12:00"))]),
    );
    // The last step must answer; a reply that is no answer leaves the run without one.
    expect_generate(&run);
    feed(
        &mut run,
        Input::Generated(scripted_completion("The time is noon.")),
    );
    let outcome = expect_done(&run);
    assert_eq!(outcome.answer, None);
    assert_eq!(outcome.stop, StopReason::MaxSteps { limit: 2 });
    assert_eq!(outcome.steps, 2);
    assert_eq!(
        run.drain_events().last(),
        Some(&AgentEvent::Stopped {
            reason: StopReason::MaxSteps { limit: 2 }
        })
    );
    assert_eq!(
        outcome.stop.to_string(),
        "no answer within the limit of 2 steps"
    );
}

#[test]
fn max_tool_calls_stops_before_the_call_that_would_pass_it() {
    let limits = Limits {
        max_tool_calls: Some(1),
        ..Limits::default()
    };
    let mut run = new_run(config().with_limits(limits));
    scripted_step(&mut run, &scripted_call("clock", json!({"tz": "UTC"})));
    let calls = expect_calls(&run);
    feed(
        &mut run,
        Input::ToolResults(vec![ok_result(&calls[0], json!("12:00"))]),
    );
    scripted_step(&mut run, &scripted_call("clock", json!({"tz": "CET"})));
    let outcome = expect_done(&run);
    assert_eq!(outcome.stop, StopReason::MaxToolCalls { limit: 1 });
    assert_eq!((outcome.steps, outcome.tool_calls), (2, 1));

    // Two parallel calls against a limit of one: none is made.
    let mut parallel = new_run(config().with_limits(limits).with_parallel_calls(3));
    let two = json!({"thought": "t", "actions": [
        {"tool": "clock", "args": {"tz": "UTC"}},
        {"tool": "clock", "args": {"tz": "CET"}}
    ]});
    scripted_step(&mut parallel, &two.to_string());
    assert_eq!(
        expect_done(&parallel).stop,
        StopReason::MaxToolCalls { limit: 1 }
    );
}

#[test]
fn max_tokens_caps_each_step_and_stops_the_run() {
    let limits = Limits {
        max_tokens: Some(50),
        ..Limits::default()
    };
    let mut run = new_run(config().with_limits(limits));
    for left in [50, 30, 10] {
        assert_eq!(expect_generate(&run).sampling.max_tokens, left);
        feed(
            &mut run,
            Input::Generated(scripted_completion("{\"thought\": \"hmm\"}")),
        );
    }
    let outcome = expect_done(&run);
    assert_eq!(outcome.stop, StopReason::MaxTokens { limit: 50 });
    assert_eq!(outcome.usage.completion_tokens, 60);
}

#[test]
fn the_deadline_counts_reported_time_and_survives_a_checkpoint() {
    let limits = Limits {
        deadline: Some(Duration::from_secs(10)),
        ..Limits::default()
    };
    let mut run = new_run(config().with_limits(limits));
    scripted_step(&mut run, &scripted_call("clock", json!({"tz": "UTC"})));
    feed(&mut run, Input::Elapsed(Duration::from_secs(6)));
    assert_eq!(run.time_left(), Some(Duration::from_secs(4)));
    let mut run =
        AgentRun::from_json(&run.to_json().unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(run.elapsed(), Duration::from_secs(6));
    feed(&mut run, Input::Elapsed(Duration::from_secs(4)));
    let outcome = expect_done(&run);
    assert_eq!(
        outcome.stop,
        StopReason::Deadline {
            limit: Duration::from_secs(10)
        }
    );
    assert_eq!(outcome.elapsed, Duration::from_secs(10));
    assert_eq!(outcome.answer, None);
    // Time is still accepted after the end, and changes nothing but the total.
    feed(&mut run, Input::Elapsed(Duration::from_secs(1)));
    assert_eq!(expect_done(&run), outcome);

    // A deadline that passes while the episode is stored keeps the answer.
    let mut answered = new_run(config().with_limits(limits).with_episode());
    scripted_step(&mut answered, &scripted_answer(json!(10800)));
    feed(&mut answered, Input::Elapsed(Duration::from_secs(30)));
    assert!(matches!(
        answered.next_action(),
        Action::StoreEpisode { .. }
    ));

    let zero = Limits {
        deadline: Some(Duration::ZERO),
        ..Limits::default()
    };
    assert_eq!(
        expect_done(&new_run(config().with_limits(zero))).stop,
        StopReason::Deadline {
            limit: Duration::ZERO
        }
    );
}

#[test]
fn an_unusable_step_becomes_an_observation_and_counts() {
    let mut run = new_run(config());
    let mut cut = scripted_completion("{\"thought\": \"Let me think about the hours and");
    cut.finish_reason = FinishReason::Length;
    feed(&mut run, Input::Generated(cut));
    assert_eq!(run.step(), 1);
    let request = expect_generate(&run);
    let messages = messages_of(&request);
    assert_eq!(
        messages[2],
        ChatMessage::assistant("{\"thought\": \"Let me think about the hours and")
    );
    let observation = last_user(&request);
    assert!(
        observation.starts_with("Your last reply could not be used: no JSON object"),
        "{observation}"
    );
    assert!(
        observation.contains("cut off at the token limit"),
        "{observation}"
    );
    // The step after a cut-off one breaks the loop: sampled, with a repetition penalty.
    assert!(
        request.sampling.repeat_penalty >= 1.3,
        "{:?}",
        request.sampling
    );
    assert!(request.sampling.temperature > 0.0);
    let events = run.drain_events();
    assert!(
        matches!(events.as_slice(), [AgentEvent::Error { message }] if message.starts_with("step 1:")),
        "{events:?}"
    );

    // An answer that breaks the answer schema is sent back too.
    scripted_step(&mut run, &scripted_answer(json!(10800)));
    assert!(run.is_done());
    let mut wrong = new_run(config());
    feed(
        &mut wrong,
        Input::Generated(scripted_completion(&scripted_answer(json!("three hours")))),
    );
    let observation = last_user(&expect_generate(&wrong));
    assert!(
        observation.contains("\"final_answer\" does not match the answer schema"),
        "{observation}"
    );
}

#[test]
fn a_blank_free_text_answer_is_sent_back_and_a_real_one_ends_the_run() {
    let mut run = new_run(config().with_answer_schema(json!({"type": "string"})));
    let request = expect_generate(&run);
    let Constraint::JsonSchema(schema) = &request.constraint else {
        panic!("steps are schema-constrained: {:?}", request.constraint);
    };
    assert_eq!(
        schema["anyOf"][1]["properties"]["final_answer"]["minLength"],
        1
    );
    feed(
        &mut run,
        Input::Generated(scripted_completion(&scripted_answer(json!("  \n ")))),
    );
    assert!(!run.is_done(), "a blank answer does not end the run");
    let observation = last_user(&expect_generate(&run));
    assert!(
        observation.contains("\"final_answer\" is blank"),
        "{observation}"
    );
    scripted_step(&mut run, &scripted_answer(json!("Three hours.")));
    assert!(run.is_done());
}

#[test]
fn a_memory_already_shown_is_not_shown_again() {
    let mut run = new_run(config().with_recall(2));
    let memory = || Recollection::new("An hour has 3600 seconds.", "notes", 0.9);
    feed(&mut run, Input::Recalled(vec![memory()]));
    let first = last_user(&expect_generate(&run));
    assert!(first.contains("3600 seconds"), "{first}");
    scripted_step(
        &mut run,
        &scripted_call("calculator", json!({"expression": "3*3600"})),
    );
    let [call] = expect_calls(&run).try_into().expect("one call");
    feed(
        &mut run,
        Input::ToolResults(vec![ok_result(&call, json!(10800))]),
    );
    feed(
        &mut run,
        Input::Recalled(vec![
            memory(),
            Recollection::new("A day has 24 hours.", "notes", 0.5),
        ]),
    );
    let second = last_user(&expect_generate(&run));
    assert!(second.contains("24 hours"), "{second}");
    assert!(!second.contains("3600 seconds"), "shown twice: {second}");
    // The recall event still lists what the store gave.
    assert!(run.events().iter().any(|event| matches!(
        event,
        AgentEvent::Recall { step: 2, items } if items.len() == 2
    )));
}
