//! Replies that answer from what the model imagines, on a scripted model (logic only):
//! a reply cut at the prompt's own markup (the tool list copied, a tool result made up)
//! is followed by a step that must make one call; a reply given before any call used a
//! file or page the task names is sent back once, naming it, and a native step after it must
//! call a tool that could use it; an answer copying a note, or a write of a number no result
//! gave, is sent back once; a call holding values nothing gave is sent back once and its
//! tool sits out the next step.

use super::*;
use crate::model::{Sampling, ToolCallSyntax};

const HERMES: StepFormat = StepFormat::Native(ToolCallSyntax::Hermes);

fn read_file() -> ToolSpec {
    let mut spec = ToolSpec::new(
        "read_file",
        "Reads a text file.",
        json!({"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}),
    );
    spec.capabilities = Capabilities {
        read_files: true,
        ..Capabilities::NONE
    };
    spec
}

fn write_file() -> ToolSpec {
    let mut spec = ToolSpec::new(
        "write_file",
        "Writes a text file.",
        json!({"type": "object", "properties": {"path": {"type": "string"}, "content": {"type": "string"}}}),
    );
    spec.capabilities = Capabilities {
        write_files: true,
        ..Capabilities::NONE
    };
    spec
}

/// A native run of `task` with a calculator and `read_file`, free-text answers.
fn native_run(task: &str) -> AgentRun {
    new_run(
        RunConfig::new(task)
            .with_tools(vec![calculator(), read_file()])
            .with_answer_schema(json!({"type": "string"}))
            .with_step_format(HERMES),
    )
}

fn reply(run: &mut AgentRun, text: &str) {
    feed(run, Input::Generated(scripted_completion(text)));
}

/// A reply making one call, and that call's `result`.
fn call_with_result(run: &mut AgentRun, text: &str, result: Value) {
    reply(run, text);
    let calls = expect_calls(run);
    feed(run, Input::ToolResults(vec![ok_result(&calls[0], result)]));
}

/// A reply the model ended at one of the request's stop strings.
fn reply_cut_at_markup(run: &mut AgentRun, text_before: &str) {
    feed(
        run,
        Input::Generated(Completion {
            finish_reason: FinishReason::StopString,
            ..scripted_completion(text_before)
        }),
    );
}

/// Replies `answer` and checks that the run ends with it, nothing sent back.
fn answer_stands(run: &mut AgentRun, answer: &str) {
    reply(run, answer);
    assert_eq!(expect_done(run).answer, Some(json!(answer)));
}

fn sent_back(run: &mut AgentRun) -> Vec<String> {
    run.drain_events()
        .into_iter()
        .filter_map(|event| match event {
            AgentEvent::SentBack { problem, .. } => Some(problem),
            _ => None,
        })
        .collect()
}

#[test]
fn a_step_that_may_call_stops_at_the_prompts_own_markup() {
    let run = native_run("What is 2 + 2?");
    let request = expect_generate(&run);
    for markup in ["<tools>", "<tool_response>", "<DATA-", "</DATA-"] {
        assert!(
            request.sampling.stop.iter().any(|stop| stop == markup),
            "{markup}: {:?}",
            request.sampling.stop
        );
    }
}

#[test]
fn a_reply_cut_at_markup_before_any_result_is_followed_by_one_forced_call() {
    let mut run = native_run("What does the report say?");
    reply_cut_at_markup(&mut run, "I need to read the report first.\n\n");
    assert_eq!(sent_back(&mut run).len(), 1);
    let forced = expect_generate(&run);
    let Constraint::JsonSchema(schema) = &forced.constraint else {
        panic!("the next step must call: {:?}", forced.constraint);
    };
    assert_eq!(
        schema["anyOf"][1]["properties"]["name"]["const"],
        "read_file"
    );
    assert!(
        forced.sampling.stop.is_empty(),
        "{:?}",
        forced.sampling.stop
    );
    // The markup is not in the conversation: the reply goes back cut.
    let messages = messages_of(&forced);
    assert_eq!(
        messages[messages.len() - 2].content,
        "I need to read the report first.\n\n"
    );

    reply(
        &mut run,
        r#"{"name": "read_file", "arguments": {"path": "report.txt"}}"#,
    );
    let calls = expect_calls(&run);
    assert_eq!(
        (calls[0].name.as_str(), &calls[0].args),
        ("read_file", &json!({"path": "report.txt"}))
    );
    feed(
        &mut run,
        Input::ToolResults(vec![failed_result(&calls[0], "no such file")]),
    );
    // Back to a step that may answer.
    let after = expect_generate(&run);
    assert!(
        matches!(after.constraint, Constraint::ToolCalls { .. }),
        "{:?}",
        after.constraint
    );
    answer_stands(&mut run, "There is no such file.");
}

#[test]
fn a_reply_cut_at_markup_after_results_is_the_answer_before_it() {
    let mut run = native_run("What is 6 * 7?");
    call_with_result(
        &mut run,
        r#"<tool_call>{"name": "calculator", "arguments": {"expression": "6 * 7"}}</tool_call>"#,
        json!(42),
    );
    reply_cut_at_markup(&mut run, "It is 42.\n");
    assert_eq!(expect_done(&run).answer, Some(json!("It is 42.")));
}

#[test]
fn with_stop_strings_of_its_own_a_run_takes_a_stopped_reply_as_it_is() {
    let sampling = Sampling {
        stop: vec!["END".into()],
        ..Sampling::default()
    };
    let mut run = new_run(
        RunConfig::new("Say hello.")
            .with_tools(vec![calculator()])
            .with_answer_schema(json!({"type": "string"}))
            .with_step_format(HERMES)
            .with_sampling(sampling),
    );
    reply_cut_at_markup(&mut run, "Hello!");
    assert_eq!(expect_done(&run).answer, Some(json!("Hello!")));
}

#[test]
fn an_answer_before_the_named_file_was_read_is_sent_back_once_naming_it() {
    let mut run = native_run("What time is the meeting in agenda.txt?");
    reply(&mut run, "The meeting is at 10:00 AM.");
    let problems = sent_back(&mut run);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("`agenda.txt`"), "{problems:?}");
    assert!(
        last_user(&expect_generate(&run)).contains("`agenda.txt`"),
        "the model is told which file"
    );
    // The next step must make one call, of a tool that could use the file.
    assert_eq!(offered_calls(&run), vec!["read_file".to_owned()]);
    call_with_result(
        &mut run,
        r#"{"name": "read_file", "arguments": {"path": "agenda.txt"}}"#,
        json!("Meeting at 10:30."),
    );
    answer_stands(&mut run, "The meeting is at 10:30.");
}

/// The tools the next step must call one of: the names its one-call schema allows.
fn offered_calls(run: &AgentRun) -> Vec<String> {
    let request = expect_generate(run);
    let Constraint::JsonSchema(schema) = &request.constraint else {
        panic!("expected one call's schema, got {:?}", request.constraint);
    };
    // One tool: its call's schema; several: one schema each, under `anyOf`.
    let calls = match schema["anyOf"].as_array() {
        Some(calls) => calls.clone(),
        None => vec![schema.clone()],
    };
    let mut names: Vec<String> = calls
        .iter()
        .filter_map(|call| call["properties"]["name"]["const"].as_str())
        .map(str::to_owned)
        .collect();
    names.sort();
    names
}

#[test]
fn an_answer_before_a_named_file_was_written_is_followed_by_a_call_that_may_write_it() {
    let mut run = new_run(
        RunConfig::new("Write hello to greeting.txt.")
            .with_tools(vec![calculator(), read_file(), write_file()])
            .with_answer_schema(json!({"type": "string"}))
            .with_step_format(HERMES),
    );
    reply(&mut run, "Done: greeting.txt says hello.");
    assert_eq!(sent_back(&mut run).len(), 1);
    assert_eq!(
        offered_calls(&run),
        vec!["read_file".to_owned(), "write_file".to_owned()],
        "the calculator cannot use a file"
    );
}

#[test]
fn a_call_that_reads_nothing_before_the_named_file_was_read_is_sent_back() {
    let mut run = native_run("prices.txt lists a ticket's price. What do 7 tickets cost?");
    reply(
        &mut run,
        r#"<tool_call>{"name": "calculator", "arguments": {"expression": "7 * 1"}}</tool_call>"#,
    );
    assert!(sent_back(&mut run)[0].contains("`prices.txt`"));
    // The next step must read.
    assert_eq!(offered_calls(&run), vec!["read_file".to_owned()]);
    call_with_result(
        &mut run,
        r#"{"name": "read_file", "arguments": {"path": "prices.txt"}}"#,
        json!("12"),
    );
    reply(
        &mut run,
        r#"<tool_call>{"name": "calculator", "arguments": {"expression": "7 * 12"}}</tool_call>"#,
    );
    let calls = expect_calls(&run);
    assert_eq!(calls[0].args, json!({"expression": "7 * 12"}));
    assert!(sent_back(&mut run).is_empty());
}

#[test]
fn after_a_read_a_call_may_come_before_a_named_file_is_used() {
    // sum.txt is to be written: the calculator comes first, after the read.
    let mut run = native_run(
        "Read numbers.txt, add the two numbers with the calculator, and write the sum to sum.txt.",
    );
    call_with_result(
        &mut run,
        r#"<tool_call>{"name": "read_file", "arguments": {"path": "numbers.txt"}}</tool_call>"#,
        json!("17\n25"),
    );
    reply(
        &mut run,
        r#"<tool_call>{"name": "calculator", "arguments": {"expression": "17 + 25"}}</tool_call>"#,
    );
    assert_eq!(expect_calls(&run)[0].args, json!({"expression": "17 + 25"}));
    assert!(sent_back(&mut run).is_empty());
}

#[test]
fn each_named_file_is_asked_for_once() {
    let mut run = native_run("a.txt and b.txt each hold a number. What is their product?");
    reply(
        &mut run,
        r#"<tool_call>{"name": "calculator", "arguments": {"expression": "a * b"}}</tool_call>"#,
    );
    assert!(sent_back(&mut run)[0].contains("`a.txt`"));
    call_with_result(
        &mut run,
        r#"{"name": "read_file", "arguments": {"path": "a.txt"}}"#,
        json!("12"),
    );
    // b.txt was never read: the answer goes back, naming it.
    reply(&mut run, "The product is 144.");
    let problems = sent_back(&mut run);
    assert!(problems[0].contains("`b.txt`"), "{problems:?}");
    // The forced call reads another file; b.txt was asked for once: the answer stands.
    call_with_result(
        &mut run,
        r#"{"name": "read_file", "arguments": {"path": "notes.txt"}}"#,
        json!("nothing"),
    );
    answer_stands(&mut run, "The product is 144.");
}

#[test]
fn a_reply_that_uses_or_reads_the_named_file_stands() {
    // Writing the named file uses it; after that the answer stands.
    let mut run = new_run(
        RunConfig::new("Write hello to greeting.txt.")
            .with_tools(vec![read_file(), write_file()])
            .with_answer_schema(json!({"type": "string"}))
            .with_step_format(HERMES),
    );
    reply(
        &mut run,
        r#"<tool_call>{"name": "write_file", "arguments": {"path": "greeting.txt", "content": "hello"}}</tool_call>"#,
    );
    assert!(sent_back(&mut run).is_empty());
    feed(&mut run, Input::Approval(ApprovalDecision::Approve));
    let calls = expect_calls(&run);
    feed(
        &mut run,
        Input::ToolResults(vec![ok_result(&calls[0], json!("written"))]),
    );
    answer_stands(&mut run, "Done.");
    // Reading something else may be how the model finds it (a folder, say).
    let mut run = native_run("What does config/server.toml set?");
    reply(
        &mut run,
        r#"<tool_call>{"name": "read_file", "arguments": {"path": "config"}}</tool_call>"#,
    );
    expect_calls(&run);
    assert!(sent_back(&mut run).is_empty());
}

#[test]
fn a_task_that_names_no_source_is_answered_at_once() {
    let mut run = native_run("Say hello in French.");
    answer_stands(&mut run, "Bonjour !");
}

#[test]
fn on_the_last_step_nothing_is_sent_back() {
    let mut run = new_run(
        RunConfig::new("What time is the meeting in agenda.txt?")
            .with_tools(vec![read_file()])
            .with_answer_schema(json!({"type": "string"}))
            .with_step_format(HERMES)
            .with_limits(Limits {
                max_steps: 1,
                ..Limits::default()
            }),
    );
    answer_stands(&mut run, "I cannot tell.");
}

#[test]
fn after_a_read_a_call_with_a_number_from_nowhere_is_sent_back_naming_the_unread_file() {
    let mut run = native_run("a.txt and b.txt each hold a number. What is their product?");
    call_with_result(
        &mut run,
        r#"<tool_call>{"name": "read_file", "arguments": {"path": "a.txt"}}</tool_call>"#,
        json!({"path": "a.txt", "content": "12\n"}),
    );
    // 3 is b.txt's number, made up: b.txt was never read.
    reply(
        &mut run,
        r#"<tool_call>{"name": "calculator", "arguments": {"expression": "12 * 3"}}</tool_call>"#,
    );
    let problems = sent_back(&mut run);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("`b.txt`"), "{problems:?}");
    assert!(last_user(&expect_generate(&run)).contains("uses 3,"));
    assert_eq!(offered_calls(&run), vec!["read_file".to_owned()]);
    call_with_result(
        &mut run,
        r#"{"name": "read_file", "arguments": {"path": "b.txt"}}"#,
        json!({"path": "b.txt", "content": "7\n"}),
    );
    reply(
        &mut run,
        r#"<tool_call>{"name": "calculator", "arguments": {"expression": "12 * 7"}}</tool_call>"#,
    );
    assert_eq!(expect_calls(&run)[0].args, json!({"expression": "12 * 7"}));
    assert!(sent_back(&mut run).is_empty());
}

/// A native run with `list_dir` and `read_file`, free-text answers.
fn listing_run(task: &str) -> AgentRun {
    let mut list_dir = ToolSpec::new(
        "list_dir",
        "Lists a folder.",
        json!({"type": "object", "properties": {"path": {"type": "string"}}}),
    );
    list_dir.capabilities = Capabilities {
        read_files: true,
        ..Capabilities::NONE
    };
    new_run(
        RunConfig::new(task)
            .with_tools(vec![list_dir, read_file()])
            .with_answer_schema(json!({"type": "string"}))
            .with_step_format(HERMES),
    )
}

#[test]
fn an_answer_naming_a_listed_file_no_call_read_is_followed_by_a_forced_read() {
    let mut run =
        listing_run("There is one file in the folder. Find it and tell me the city it names.");
    call_with_result(
        &mut run,
        r#"<tool_call>{"name": "list_dir", "arguments": {"path": "."}}</tool_call>"#,
        json!({"path": ".", "entries": [{"name": "trip.md", "kind": "file"}]}),
    );
    reply(&mut run, "The file `trip.md` names the city Paris.");
    let problems = sent_back(&mut run);
    assert!(problems[0].contains("`trip.md`"), "{problems:?}");
    // The next step must make one call, of a tool that reads files.
    let request = expect_generate(&run);
    let Constraint::JsonSchema(schema) = &request.constraint else {
        panic!("expected one call's schema, got {:?}", request.constraint);
    };
    let offered = schema.to_string();
    assert!(offered.contains("read_file"), "{offered}");
    call_with_result(
        &mut run,
        r#"{"name": "read_file", "arguments": {"path": "trip.md"}}"#,
        json!({"path": "trip.md", "content": "Next stop: Lisbon."}),
    );
    answer_stands(&mut run, "trip.md names Lisbon.");
}

#[test]
fn a_listed_file_is_asked_for_once() {
    let mut run = listing_run("Which files are in the folder, and what city does the trip name?");
    call_with_result(
        &mut run,
        r#"<tool_call>{"name": "list_dir", "arguments": {}}</tool_call>"#,
        json!({"entries": [{"name": "trip.md", "kind": "file"}, {"name": "notes.md", "kind": "file"}]}),
    );
    reply(&mut run, "trip.md, about Paris.");
    assert_eq!(sent_back(&mut run).len(), 1);
    // The model reads another file; the answer naming trip.md then stands.
    call_with_result(
        &mut run,
        r#"{"name": "read_file", "arguments": {"path": "notes.md"}}"#,
        json!({"path": "notes.md", "content": "nothing"}),
    );
    reply(&mut run, "trip.md, about Paris.");
    assert!(sent_back(&mut run).is_empty());
    assert_eq!(
        expect_done(&run).answer,
        Some(json!("trip.md, about Paris."))
    );
}

#[test]
fn a_listed_file_read_before_the_listing_is_not_asked_for() {
    let mut run = listing_run("Tell me what trip.md says and what else is in the folder.");
    call_with_result(
        &mut run,
        r#"<tool_call>{"name": "read_file", "arguments": {"path": "trip.md"}}</tool_call>"#,
        json!({"path": "trip.md", "content": "Next stop: Lisbon."}),
    );
    call_with_result(
        &mut run,
        r#"<tool_call>{"name": "list_dir", "arguments": {"path": "."}}</tool_call>"#,
        json!({"entries": [{"name": "trip.md", "kind": "file"}]}),
    );
    reply(&mut run, "trip.md says Lisbon; it is the only file.");
    assert!(sent_back(&mut run).is_empty());
    assert_eq!(
        expect_done(&run).answer,
        Some(json!("trip.md says Lisbon; it is the only file."))
    );
}

#[test]
fn a_prose_answer_to_a_labelled_request_is_asked_again_with_the_labels_and_the_request() {
    let mut run = new_run(
        RunConfig::new("Read ticket.txt and route it.")
            .with_tools(vec![read_file()])
            .with_answer_schema(
                json!({"type": "string", "enum": ["billing", "technical", "account"]}),
            )
            .with_step_format(HERMES),
    );
    call_with_result(
        &mut run,
        r#"<tool_call>{"name": "read_file", "arguments": {"path": "ticket.txt"}}</tool_call>"#,
        json!({"path": "ticket.txt", "content": "The app crashes."}),
    );
    reply(&mut run, "The app crashes.");
    let ask = last_user(&expect_generate(&run));
    assert!(
        ask.contains(r#"one of: "billing", "technical", "account"."#),
        "{ask}"
    );
    assert!(ask.contains("Read ticket.txt and route it."), "{ask}");
    reply(&mut run, r#""technical""#);
    assert_eq!(expect_done(&run).answer, Some(json!("technical")));
}

#[test]
fn a_native_reply_sent_back_ends_with_the_request_again() {
    let mut run = native_run("What is the capital of Italy?");
    feed(
        &mut run,
        Input::Generated(Completion {
            finish_reason: FinishReason::Length,
            ..scripted_completion(
                "I'll use the calculator:\n```json\n{\"name\": \"calculator\", \"arguments\": {\"expression\": \"abs(3456789012345",
            )
        }),
    );
    let retry = last_user(&expect_generate(&run));
    assert!(retry.contains("cut off at the token limit"), "{retry}");
    assert!(
        retry.ends_with(r#"The user asked: "What is the capital of Italy?""#),
        "{retry}"
    );
    // Any other unusable reply too: a small model answered with the retry's last line.
    let mut run = native_run("What is the capital of Italy?");
    reply(&mut run, "");
    let retry = last_user(&expect_generate(&run));
    assert!(
        retry.ends_with(r#"The user asked: "What is the capital of Italy?""#),
        "{retry}"
    );
}

#[test]
fn an_answer_copying_a_note_is_sent_back_once() {
    let mut run = native_run("What is the capital of Italy?");
    reply(&mut run, "");
    assert!(
        last_user(&expect_generate(&run))
            .contains("Reply again: call a tool in the format given, or answer the user.")
    );
    reply(
        &mut run,
        "call a tool in the format given, or answer the user.",
    );
    let problems = sent_back(&mut run);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("repeats the instructions"),
        "{problems:?}"
    );
    // Once: a second copy is taken as the answer, and an answer in the model's own
    // words stands.
    answer_stands(
        &mut run,
        "Call a tool in the format given, or answer the user.",
    );
    let mut run = native_run("What is the capital of Italy?");
    reply(&mut run, "");
    answer_stands(&mut run, "The capital of Italy is Rome.");
}

#[test]
fn a_tool_named_in_a_copied_note_is_no_announced_call() {
    let mut run = native_run("What is 2 + 2?");
    reply(&mut run, "");
    // The copy is sent back once; the next copy names no call of its own.
    reply(
        &mut run,
        "call a tool in the format given, or answer the user.",
    );
    assert_eq!(sent_back(&mut run).len(), 1);
    answer_stands(
        &mut run,
        "Reply again: call a tool in the format given, or answer the user. `calculator`",
    );
}

#[test]
fn a_failed_call_while_a_named_file_is_unread_is_followed_by_a_note_naming_it() {
    let mut run = native_run("a.txt and b.txt each hold a number. What is their product?");
    call_with_result(
        &mut run,
        r#"<tool_call>{"name": "read_file", "arguments": {"path": "a.txt"}}</tool_call>"#,
        json!({"path": "a.txt", "content": "12\n"}),
    );
    reply(
        &mut run,
        r#"<tool_call>{"name": "calculator", "arguments": {"expression": "a * b"}}</tool_call>"#,
    );
    let calls = expect_calls(&run);
    feed(
        &mut run,
        Input::ToolResults(vec![failed_result(&calls[0], "`a` is not a number")]),
    );
    let note = last_user(&expect_generate(&run));
    assert!(note.contains("also names the file `b.txt`"), "{note}");
    // Asked for once: an answer that still leaves b.txt unread stands.
    answer_stands(&mut run, "The product is 144.");
}

#[test]
fn an_answer_quoting_a_tool_error_is_not_an_announced_call() {
    let mut run = native_run("What does report.txt say? If there is no such file, say so.");
    reply(
        &mut run,
        r#"<tool_call>{"name": "read_file", "arguments": {"path": "report.txt"}}</tool_call>"#,
    );
    let calls = expect_calls(&run);
    feed(
        &mut run,
        Input::ToolResults(vec![failed_result(
            &calls[0],
            "`report.txt` does not exist",
        )]),
    );
    let quoted = "error: tool `read_file` failed: `report.txt` does not exist";
    reply(&mut run, quoted);
    assert!(sent_back(&mut run).is_empty());
    assert_eq!(expect_done(&run).answer, Some(json!(quoted)));
}

#[test]
fn a_write_of_a_number_no_result_gave_is_sent_back_once_naming_the_calculator() {
    let mut run = new_run(
        RunConfig::new(
            "Read numbers.txt, add the two numbers with the calculator, and write the sum to sum.txt.",
        )
        .with_tools(vec![calculator(), read_file(), write_file()])
        .with_answer_schema(json!({"type": "string"}))
        .with_step_format(HERMES),
    );
    call_with_result(
        &mut run,
        r#"<tool_call>{"name": "read_file", "arguments": {"path": "numbers.txt"}}</tool_call>"#,
        json!({"path": "numbers.txt", "content": "17\n25\n"}),
    );
    let write_32 = r#"<tool_call>{"name": "write_file", "arguments": {"path": "sum.txt", "content": "32"}}</tool_call>"#;
    reply(&mut run, write_32);
    let problems = sent_back(&mut run);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("writes 32"), "{problems:?}");
    assert!(problems[0].contains("`calculator`"), "{problems:?}");
    // The calculator's 42 may be written.
    call_with_result(
        &mut run,
        r#"<tool_call>{"name": "calculator", "arguments": {"expression": "17 + 25"}}</tool_call>"#,
        json!(42),
    );
    reply(
        &mut run,
        r#"<tool_call>{"name": "write_file", "arguments": {"path": "sum.txt", "content": "42"}}</tool_call>"#,
    );
    assert!(sent_back(&mut run).is_empty());
    assert_eq!(expect_calls_or_approval(&run), "write_file");
}

#[test]
fn a_made_up_number_is_sent_back_once_and_small_numbers_stand() {
    let run_with = || {
        new_run(
            RunConfig::new("Write a short list of chores to chores.txt.")
                .with_tools(vec![calculator(), write_file()])
                .with_answer_schema(json!({"type": "string"}))
                .with_step_format(HERMES),
        )
    };
    // "1." and "2." are a list's numbers, not results.
    let mut run = run_with();
    reply(
        &mut run,
        r#"<tool_call>{"name": "write_file", "arguments": {"path": "chores.txt", "content": "1. dishes\n2. floors"}}</tool_call>"#,
    );
    assert!(sent_back(&mut run).is_empty());
    // A made-up 30 goes back once; the same call then stands.
    let mut run = run_with();
    let write_30 = r#"<tool_call>{"name": "write_file", "arguments": {"path": "chores.txt", "content": "dishes: 30 minutes"}}</tool_call>"#;
    reply(&mut run, write_30);
    assert_eq!(sent_back(&mut run).len(), 1);
    reply(&mut run, write_30);
    assert!(sent_back(&mut run).is_empty());
    assert_eq!(expect_calls_or_approval(&run), "write_file");
}

/// The tool of the call the run asks to run or to approve next.
fn expect_calls_or_approval(run: &AgentRun) -> String {
    match run.next_action() {
        Action::CallTools { calls } => calls[0].call().name.clone(),
        Action::AwaitApproval { call, .. } => call.name.clone(),
        other => panic!("expected a call, got {other:?}"),
    }
}

/// A native run of `task` with one pure tool taking two numbers, free-text answers.
fn two_number_run(task: &str, tool: &str, first: &str, second: &str) -> AgentRun {
    let spec = ToolSpec::new(
        tool,
        "Computes from two numbers.",
        json!({"type": "object", "properties": {first: {"type": "number"}, second: {"type": "number"}}}),
    );
    new_run(
        RunConfig::new(task)
            .with_tools(vec![spec, calculator()])
            .with_answer_schema(json!({"type": "string"}))
            .with_step_format(HERMES),
    )
}

#[test]
fn numbers_from_the_request_percentages_and_expression_constants_stand() {
    // Written to a file, the request's 5% may be 0.05 and its 200 stays 200.
    let mut run = new_run(
        RunConfig::new("Write 5% of 200 as a fraction to rate.txt.")
            .with_tools(vec![calculator(), write_file()])
            .with_answer_schema(json!({"type": "string"}))
            .with_step_format(HERMES),
    );
    reply(
        &mut run,
        r#"<tool_call>{"name": "write_file", "arguments": {"path": "rate.txt", "content": "0.05 of 200"}}</tool_call>"#,
    );
    assert!(sent_back(&mut run).is_empty());
    assert_eq!(expect_calls_or_approval(&run), "write_file");
    let mut run = two_number_run(
        "What is 5% yearly interest on 200 dollars?",
        "interest",
        "rate",
        "principal",
    );
    reply(
        &mut run,
        r#"<tool_call>{"name": "interest", "arguments": {"rate": 0.05, "principal": 200}}</tool_call>"#,
    );
    assert!(sent_back(&mut run).is_empty());
    assert_eq!(expect_calls_or_approval(&run), "interest");
    // Numbers inside an expression string (3600 seconds an hour) are the model's working.
    let mut run = two_number_run(
        "How many seconds are in 3 hours?",
        "interest",
        "rate",
        "principal",
    );
    reply(
        &mut run,
        r#"<tool_call>{"name": "calculator", "arguments": {"expression": "3 * 3600"}}</tool_call>"#,
    );
    assert!(sent_back(&mut run).is_empty());
    assert_eq!(expect_calls_or_approval(&run), "calculator");
}

fn body_mass_index() -> ToolSpec {
    ToolSpec::new(
        "determine_body_mass_index",
        "Calculate body mass index given weight and height.",
        json!({"type": "object", "properties": {"weight": {"type": "number"}, "height": {"type": "number"}}, "required": ["weight", "height"]}),
    )
}

const MADE_UP_BMI: &str = r#"<tool_call>{"name": "determine_body_mass_index", "arguments": {"weight": 70, "height": 1.75}}</tool_call>"#;

#[test]
fn a_call_with_made_up_values_is_sent_back_and_the_only_tool_sits_out_the_next_step() {
    let mut run = new_run(
        RunConfig::new("Calculate the area of a triangle with base 10 and height 5.")
            .with_tools(vec![body_mass_index()])
            .with_answer_schema(json!({"type": "string"}))
            .with_step_format(HERMES),
    );
    reply(&mut run, MADE_UP_BMI);
    let problems = sent_back(&mut run);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("uses 70 and 1.75"), "{problems:?}");
    // The next step may only answer: its constraint opens no call.
    let next = expect_generate(&run);
    assert!(
        !matches!(next.constraint, Constraint::ToolCalls { .. }),
        "{:?}",
        next.constraint
    );
    answer_stands(&mut run, "The area is 25.");
}

#[test]
fn with_another_tool_the_made_up_call_sits_out_one_step_and_is_sent_back_once() {
    let mut run = new_run(
        RunConfig::new("What is my body mass index?")
            .with_tools(vec![body_mass_index(), calculator()])
            .with_answer_schema(json!({"type": "string"}))
            .with_step_format(HERMES),
    );
    reply(&mut run, MADE_UP_BMI);
    assert_eq!(sent_back(&mut run).len(), 1);
    let Constraint::ToolCalls { call_schema, .. } = &expect_generate(&run).constraint else {
        panic!("the next step may call another tool");
    };
    let offered = call_schema.to_string();
    assert!(offered.contains("calculator"), "{offered}");
    assert!(!offered.contains("determine_body_mass_index"), "{offered}");
    // Once the tool is back, the same call stands: it is sent back once per run.
    call_with_result(
        &mut run,
        r#"<tool_call>{"name": "calculator", "arguments": {"expression": "2 + 2"}}</tool_call>"#,
        json!(4),
    );
    reply(&mut run, MADE_UP_BMI);
    assert!(sent_back(&mut run).is_empty());
    assert_eq!(expect_calls(&run)[0].name, "determine_body_mass_index");
}

#[test]
fn a_call_whose_values_the_request_gives_runs_at_once() {
    let mut run = new_run(
        RunConfig::new("I weigh seventy kilograms and I am 1.75 m tall: my body mass index?")
            .with_tools(vec![body_mass_index()])
            .with_answer_schema(json!({"type": "string"}))
            .with_step_format(HERMES),
    );
    reply(&mut run, MADE_UP_BMI);
    assert!(sent_back(&mut run).is_empty());
    assert_eq!(expect_calls(&run)[0].name, "determine_body_mass_index");
}

#[test]
fn in_the_json_step_a_made_up_call_of_the_only_tool_leaves_an_answer_step() {
    let mut run = new_run(
        RunConfig::new("Calculate the area of a triangle with base 10 and height 5.")
            .with_tools(vec![body_mass_index()])
            .with_answer_schema(json!({"type": "string"})),
    );
    scripted_step(
        &mut run,
        &scripted_call(
            "determine_body_mass_index",
            json!({"weight": 70, "height": 1.75}),
        ),
    );
    assert_eq!(sent_back(&mut run).len(), 1);
    let Constraint::JsonSchema(schema) = expect_generate(&run).constraint else {
        panic!("a JSON step");
    };
    assert!(!schema.to_string().contains("\"action"), "{schema}");
}
