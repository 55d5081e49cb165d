//! The last step the limits allow, on a scripted model (logic only): once the run holds a
//! result it may only answer, and the model is told so (`answer_now`) without the request
//! repeated; a step with steps left gets no such note.

use super::*;

fn answer_only(request: &GenerateRequest) -> bool {
    match &request.constraint {
        Constraint::JsonSchema(schema) => {
            schema.get("anyOf").is_none() && schema["properties"].get("final_answer").is_some()
        }
        _ => false,
    }
}

/// A run of the test config allowed `max_steps` steps.
fn run_of_steps(max_steps: usize) -> AgentRun {
    new_run(config().with_limits(Limits {
        max_steps,
        ..Limits::default()
    }))
}

#[test]
fn the_last_step_is_told_to_answer_from_the_results() {
    let mut run = run_of_steps(2);
    let first = last_user(&expect_generate(&run));
    assert!(!first.contains("No more tools"), "{first}");
    calculator_step(&mut run);
    let last = expect_generate(&run);
    assert!(answer_only(&last));
    let note = last_user(&last);
    assert!(note.contains("No more tools can be called"), "{note}");
    assert!(!note.contains(TASK), "the request is not repeated: {note}");
}

#[test]
fn a_step_with_steps_left_gets_no_last_step_note() {
    let mut run = run_of_steps(3);
    calculator_step(&mut run);
    let next = last_user(&expect_generate(&run));
    assert!(!next.contains("No more tools"), "{next}");
}
