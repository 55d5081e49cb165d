//! The task both sides of the end-to-end benchmark run: a checklist of ten steps done
//! one at a time through the `next_step` tool. Calling it with step `n` marks that step
//! done and says which step comes next; the tenth call gives a code, which is the
//! answer. Ten tool calls and an eleventh step that answers, and none can be skipped:
//! the code is known only from the last call, and a step called out of order is
//! refused.

use std::sync::{Arc, Mutex};

use agentry_tools::{Tool, ToolContext, ToolError, ToolOutput, ToolSpec};
use async_trait::async_trait;
use serde::Serialize;
use serde_json::{Value, json};

/// Steps of the checklist (tool calls a correct run makes).
pub const STEPS: u64 = 10;

/// The code the last step gives: the answer.
pub const CODE: &str = "7351";

/// The tool's name.
pub const TOOL: &str = "next_step";

/// The tool's description.
pub const TOOL_DESCRIPTION: &str =
    "Marks the given step of the checklist as done and says what to do next.";

/// The system prompt, the same on both sides.
pub const SYSTEM_PROMPT: &str = "You work through a checklist with the next_step tool, \
one step per call, in order. After each call, do what its result says. When the last \
step is done, answer with the code it gives.";

/// The task (the user's message), the same on both sides.
pub fn task() -> String {
    format!("Work through the checklist of {STEPS} steps. Start by calling next_step with step 1.")
}

/// What calling the tool with `step` says, given the steps done so far (`done`).
pub fn next_step(step: u64, done: u64) -> String {
    if step != done + 1 || step > STEPS {
        return refusal(&step.to_string(), done);
    }
    if step < STEPS {
        format!(
            "Step {step} of {STEPS} is done. Now call next_step with step {}.",
            step + 1
        )
    } else {
        format!("Step {STEPS} of {STEPS} is done: the checklist is complete. The code is {CODE}.")
    }
}

/// What a call with a step out of order (`step`, as text) says after `done` steps.
pub fn refusal(step: &str, done: u64) -> String {
    format!(
        "Step {step} cannot be done now: call next_step with step {} first.",
        done + 1
    )
}

/// Every reply the tool can give, for the Python side's tool to answer from, so both
/// tools say the same thing: `in_order[n - 1]` for step `n` done in order, and
/// `refusals[done]` (with `{step}` standing for the step called) for any other call.
pub fn replies() -> Value {
    json!({
        "in_order": (1..=STEPS).map(|step| next_step(step, step - 1)).collect::<Vec<_>>(),
        "refusals": (0..=STEPS).map(|done| refusal("{step}", done)).collect::<Vec<_>>(),
    })
}

/// The tool's JSON Schema for its arguments.
pub fn parameters() -> Value {
    json!({
        "type": "object",
        "properties": {
            "step": {"type": "integer", "description": "The number of the step to do."}
        },
        "required": ["step"],
    })
}

/// How a run went, judged the same way for both sides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Verdict {
    /// The steps the model called the tool with, in order (repeats included).
    pub called: Vec<u64>,
    /// The final answer.
    pub answer: String,
    /// Every step was done, in order, and the answer gives the code.
    pub correct: bool,
}

impl Verdict {
    /// Judges a run from the steps it called and its answer.
    pub fn judge(called: Vec<u64>, answer: String) -> Verdict {
        let done = steps_done(&called);
        let correct = done == STEPS && answer.contains(CODE);
        Verdict {
            called,
            answer,
            correct,
        }
    }
}

/// How many steps `called` got done, in order (out-of-order calls do nothing).
fn steps_done(called: &[u64]) -> u64 {
    called
        .iter()
        .fold(0, |done, &step| if step == done + 1 { step } else { done })
}

/// The `next_step` tool on agentry's side; it records the steps called.
#[derive(Debug, Clone, Default)]
pub struct NextStep {
    called: Arc<Mutex<Vec<u64>>>,
}

impl NextStep {
    /// The steps called so far.
    pub fn called(&self) -> Vec<u64> {
        self.called.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

#[async_trait]
impl Tool for NextStep {
    fn spec(&self) -> ToolSpec {
        ToolSpec::new(TOOL, TOOL_DESCRIPTION, parameters())
    }

    async fn call(&self, args: Value, _ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let step = args["step"]
            .as_u64()
            .or_else(|| args["step"].as_str().and_then(|s| s.trim().parse().ok()))
            .ok_or_else(|| ToolError::InvalidArguments {
                tool: TOOL.into(),
                message: format!("step must be a whole number, not {}", args["step"]),
            })?;
        let mut called = self
            .called
            .lock()
            .map_err(|_| ToolError::Failed(format!("{TOOL}: the record is poisoned")))?;
        let text = next_step(step, steps_done(&called));
        called.push(step);
        Ok(ToolOutput::text(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_step_names_the_next_and_the_last_gives_the_code() {
        let mut done = 0;
        for step in 1..STEPS {
            assert!(next_step(step, done).ends_with(&format!("step {}.", step + 1)));
            done = step;
        }
        assert!(next_step(STEPS, done).contains(CODE));
        assert!(next_step(5, 2).contains("call next_step with step 3 first"));
        assert!(next_step(11, 10).contains("step 11 first"));
        let replies = replies();
        assert_eq!(replies["in_order"][9], next_step(10, 9));
        assert_eq!(
            replies["refusals"][2]
                .as_str()
                .unwrap()
                .replace("{step}", "5"),
            next_step(5, 2)
        );
    }

    #[test]
    fn a_run_is_correct_only_with_every_step_in_order_and_the_code() {
        let all: Vec<u64> = (1..=STEPS).collect();
        assert!(Verdict::judge(all.clone(), "The code is 7351.".into()).correct);
        let mut with_repeat = all.clone();
        with_repeat.insert(3, 3);
        assert!(Verdict::judge(with_repeat, "7351".into()).correct);
        assert!(!Verdict::judge(all[..9].to_vec(), "7351".into()).correct);
        assert!(!Verdict::judge(all.clone(), "1234".into()).correct);
        let mut skipped = all;
        skipped.remove(4);
        assert!(!Verdict::judge(skipped, "7351".into()).correct);
    }

    #[tokio::test]
    async fn the_tool_refuses_a_step_out_of_order_and_records_every_call() {
        let tool = NextStep::default();
        let ctx = ToolContext::default();
        let first = tool.call(json!({"step": 1}), &ctx).await.unwrap();
        assert!(first.render().contains("with step 2"));
        let early = tool.call(json!({"step": 3}), &ctx).await.unwrap();
        assert!(early.render().contains("with step 2 first"));
        let second = tool.call(json!({"step": "2"}), &ctx).await.unwrap();
        assert!(second.render().contains("with step 3"));
        assert_eq!(tool.called(), vec![1, 3, 2]);
        assert!(tool.call(json!({"step": "two"}), &ctx).await.is_err());
    }
}
