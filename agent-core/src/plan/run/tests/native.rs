//! Steps in the model's own tool-call format, on a scripted model (logic only): the
//! request carries the tools for the chat template and constrains only the calls; a call
//! goes back into the conversation as the template writes it and its result as a `tool`
//! message; free text is the answer; prose where the answer must be JSON is followed by a
//! step under the answer's schema; a step that must answer cannot open a call.

use super::*;
use crate::model::ToolCallSyntax;

const HERMES: StepFormat = StepFormat::Native(ToolCallSyntax::Hermes);

fn native(config: RunConfig) -> AgentRun {
    new_run(config.with_step_format(HERMES))
}

fn reply(run: &mut AgentRun, text: &str) {
    feed(run, Input::Generated(scripted_completion(text)));
}

fn tools_of(request: &GenerateRequest) -> Vec<Value> {
    match &request.prompt {
        ModelInput::WithTools { tools, .. } => tools.clone(),
        other => panic!("expected a prompt with tools, got {other:?}"),
    }
}

#[test]
fn a_native_run_calls_reads_a_tool_message_and_answers_in_free_text() {
    let mut run = native(config().with_answer_schema(json!({"type": "string"})));
    let first = expect_generate(&run);
    let tools = tools_of(&first);
    assert_eq!(tools.len(), 2);
    assert_eq!(tools[0]["function"]["name"], "calculator");
    let Constraint::ToolCalls {
        syntax,
        call_schema,
        max_calls,
        bare_calls,
    } = &first.constraint
    else {
        panic!("only the calls are constrained: {:?}", first.constraint);
    };
    assert_eq!(
        (*syntax, *max_calls, *bare_calls),
        (ToolCallSyntax::Hermes, 1, true)
    );
    assert_eq!(
        call_schema["anyOf"][0]["properties"]["name"]["const"],
        "calculator"
    );
    let system = &messages_of(&first)[0].content;
    assert!(system.contains("Use a tool only when"), "{system}");
    assert!(
        !system.contains("\"final_answer\""),
        "no JSON step format: {system}"
    );

    // The model drops the tags; the call still counts and is written back with them.
    reply(
        &mut run,
        r#"{"name": "calculator", "arguments": {"expression": "3*3600"}}"#,
    );
    let calls = expect_calls(&run);
    assert_eq!(calls[0].args, json!({"expression": "3*3600"}));
    feed(
        &mut run,
        Input::ToolResults(vec![ok_result(&calls[0], json!(10800))]),
    );

    let second = expect_generate(&run);
    let messages = messages_of(&second);
    let n = messages.len();
    assert_eq!(messages[n - 2].role, Role::Assistant);
    assert_eq!(
        messages[n - 2].content,
        "<tool_call>\n{\"name\":\"calculator\",\"arguments\":{\"expression\":\"3*3600\"}}\n</tool_call>"
    );
    assert_eq!(messages[n - 1].role, Role::Tool, "{messages:?}");
    assert!(messages[n - 1].content.contains("10800"));
    assert!(
        messages[n - 1]
            .content
            .contains(&format!("<<{}", run.marker)),
        "the result is fenced: {}",
        messages[n - 1].content
    );

    reply(&mut run, "There are 10800 seconds in 3 hours.");
    let outcome = expect_done(&run);
    assert_eq!(
        outcome.answer,
        Some(json!("There are 10800 seconds in 3 hours."))
    );
    assert_eq!(outcome.stop, StopReason::Answered);
}

#[test]
fn prose_where_the_answer_is_json_is_followed_by_a_step_under_the_answer_schema() {
    let mut run = native(config());
    reply(&mut run, "It is ten thousand eight hundred.");
    let next = expect_generate(&run);
    assert_eq!(
        next.constraint,
        Constraint::JsonSchema(json!({"type": "integer"}))
    );
    assert!(last_user(&next).contains("as JSON"), "{}", last_user(&next));
    reply(&mut run, "10800");
    assert_eq!(expect_done(&run).answer, Some(json!(10800)));
}

#[test]
fn a_json_answer_in_the_reply_is_taken_at_once_and_checked() {
    let mut run = native(config());
    reply(&mut run, " 10800 ");
    assert_eq!(expect_done(&run).answer, Some(json!(10800)));
}

#[test]
fn the_last_step_may_only_answer_and_cannot_open_a_call() {
    let mut run = native(
        config()
            .with_answer_schema(json!({"type": "string"}))
            .with_limits(Limits {
                max_steps: 2,
                ..Limits::default()
            }),
    );
    reply(
        &mut run,
        "<tool_call>\n{\"name\": \"calculator\", \"arguments\": {\"expression\": \"3*3600\"}}\n</tool_call>",
    );
    let calls = expect_calls(&run);
    feed(
        &mut run,
        Input::ToolResults(vec![ok_result(&calls[0], json!(10800))]),
    );
    let last = expect_generate(&run);
    assert_eq!(
        last.constraint,
        Constraint::Grammar(r"root ::= [ \t\n]* [^<>{[`|\\ \t\n] [^<]*".into())
    );
}

#[test]
fn a_tool_whose_call_failed_twice_the_same_way_is_left_out_of_the_next_call_grammar() {
    let mut run = native(config().with_answer_schema(json!({"type": "string"})));
    let call = "<tool_call>\n{\"name\": \"calculator\", \"arguments\": {\"expression\": \"a + b\"}}\n</tool_call>";
    reply(&mut run, call);
    let calls = expect_calls(&run);
    feed(
        &mut run,
        Input::ToolResults(vec![failed_result(&calls[0], "`a` is not a number")]),
    );
    reply(&mut run, call);
    let next = expect_generate(&run);
    // The template still lists both tools (the prompt prefix is unchanged) ...
    assert_eq!(tools_of(&next).len(), 2);
    // ... but only the clock can be called.
    let Constraint::ToolCalls { call_schema, .. } = &next.constraint else {
        panic!("the step may still call: {:?}", next.constraint);
    };
    let names = crate::model::call_names(call_schema);
    assert_eq!(names, vec!["clock"]);
    // The step after an accepted one offers the calculator again.
    reply(
        &mut run,
        "<tool_call>\n{\"name\": \"clock\", \"arguments\": {\"tz\": \"UTC\"}}\n</tool_call>",
    );
    let calls = expect_calls(&run);
    feed(
        &mut run,
        Input::ToolResults(vec![ok_result(&calls[0], json!("12:00"))]),
    );
    let Constraint::ToolCalls { call_schema, .. } = &expect_generate(&run).constraint else {
        panic!("the step may call");
    };
    assert_eq!(crate::model::call_names(call_schema).len(), 2);
}

#[test]
fn when_every_tool_is_withheld_the_step_can_only_answer() {
    let mut run = native(
        config()
            .with_tools(vec![calculator()])
            .with_answer_schema(json!({"type": "string"})),
    );
    let call = "<tool_call>\n{\"name\": \"calculator\", \"arguments\": {\"expression\": \"a + b\"}}\n</tool_call>";
    reply(&mut run, call);
    let calls = expect_calls(&run);
    feed(
        &mut run,
        Input::ToolResults(vec![err_result(
            &calls[0],
            ToolFailure::InvalidArguments {
                name: "calculator".into(),
                errors: vec!["bad".into()],
            },
        )]),
    );
    reply(&mut run, call);
    assert!(matches!(
        expect_generate(&run).constraint,
        Constraint::Grammar(_)
    ));
}

#[test]
fn a_step_that_may_make_several_calls_shows_two_calls_in_the_models_syntax() {
    let several = native(config().with_parallel_calls(3));
    let system = messages_of(&expect_generate(&several))[0].content.clone();
    assert!(
        system.contains("make all those calls in this one reply"),
        "{system}"
    );
    assert_eq!(
        system.matches("<tool_call>").count(),
        2,
        "two Hermes calls in the example: {system}"
    );
    assert!(system.contains(r#"{"name":"get_weather","arguments":{"city":"Rome"}}"#));
    let one = native(config());
    let system = messages_of(&expect_generate(&one))[0].content.clone();
    assert!(!system.contains("get_weather"), "{system}");
}

#[test]
fn an_unclosed_call_is_shown_to_the_model_and_the_step_retried() {
    let mut run = native(config());
    feed(
        &mut run,
        Input::Generated(Completion {
            finish_reason: FinishReason::Length,
            ..scripted_completion("<tool_call>\n{\"name\": \"calcul")
        }),
    );
    let retry = expect_generate(&run);
    let note = last_user(&retry);
    assert!(note.contains("not closed"), "{note}");
    assert!(note.contains("cut off at the token limit"), "{note}");
    assert!(note.contains("call a tool in the format given"), "{note}");
}

#[test]
fn an_answer_that_announces_a_call_it_does_not_make_is_sent_back_once() {
    let mut run = native(config().with_answer_schema(json!({"type": "string"})));
    reply(
        &mut run,
        "To add them, I will use the `calculator` function with the numbers.",
    );
    let retry = expect_generate(&run);
    let note = last_user(&retry);
    assert!(
        note.contains("names the tool `calculator` but makes no call"),
        "{note}"
    );
    assert!(matches!(retry.constraint, Constraint::ToolCalls { .. }));
    // A reply read but not taken is sent back, not an error.
    let events = run.drain_events();
    assert!(
        events.iter().any(|e| matches!(e, AgentEvent::SentBack { step: 1, problem } if problem.contains("makes no call"))),
        "{events:?}"
    );
    assert!(
        !events.iter().any(|e| matches!(e, AgentEvent::Error { .. })),
        "{events:?}"
    );
    // The second time the answer is taken as it is.
    reply(&mut run, "I would use the `calculator` function.");
    assert_eq!(
        expect_done(&run).answer,
        Some(json!("I would use the `calculator` function."))
    );
}

#[test]
fn an_answer_that_makes_up_a_tool_result_is_sent_back() {
    let mut run = native(config().with_answer_schema(json!({"type": "string"})));
    reply(
        &mut run,
        "Reading it.\n<tool_response>\n{\"content\": \"made up\"}\n</tool_response>",
    );
    let note = last_user(&expect_generate(&run));
    assert!(note.contains("writes `<tool_response>` itself"), "{note}");
}

#[test]
fn an_answer_that_names_no_tool_is_taken_at_once() {
    for answer in [
        "Bonjour !",
        "You could work it out with a calculator, but 2 + 2 is 4.",
    ] {
        let mut run = native(config().with_answer_schema(json!({"type": "string"})));
        reply(&mut run, answer);
        assert_eq!(expect_done(&run).answer, Some(json!(answer)), "{answer}");
    }
}

#[test]
fn without_tools_an_answer_with_tool_markup_is_taken_at_once() {
    let answer = "Write `<function name=\"f\">` in the template.";
    let mut run = native(
        config()
            .with_tools(Vec::new())
            .with_answer_schema(json!({"type": "string"})),
    );
    reply(&mut run, answer);
    assert_eq!(expect_done(&run).answer, Some(json!(answer)));
}

#[test]
fn a_call_written_after_some_text_is_made() {
    let mut run = native(config().with_answer_schema(json!({"type": "string"})));
    reply(
        &mut run,
        "To get the time I will use the clock.\n\n```json\n{\"name\": \"clock\", \"arguments\": {\"tz\": \"UTC\"}}\n```",
    );
    let calls = expect_calls(&run);
    assert_eq!(calls[0].name, "clock");
}

#[test]
fn a_json_answer_that_can_start_with_name_turns_bare_calls_off() {
    let person =
        json!({"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]});
    let run = native(config().with_answer_schema(person));
    let Constraint::ToolCalls { bare_calls, .. } = expect_generate(&run).constraint else {
        panic!("expected tool calls");
    };
    assert!(!bare_calls);
}

#[test]
fn a_native_run_survives_a_checkpoint() {
    let mut run = native(config());
    reply(
        &mut run,
        "<tool_call>{\"name\": \"clock\", \"arguments\": {\"tz\": \"UTC\"}}</tool_call>",
    );
    let json = run.to_json().unwrap_or_else(|e| panic!("{e}"));
    let back = AgentRun::from_json(&json).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back.config().step_format, HERMES);
    assert_eq!(expect_calls(&back)[0].name, "clock");
}
