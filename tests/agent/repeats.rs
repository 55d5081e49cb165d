//! On qwen2.5-coder-0.5b, which used to call the calculator again and again with the
//! same expression until the step limit: the repeated call is not run a second time (the
//! tool counts its calls), and the run answers with the value it already has.

use agentry_tools::{Tool, ToolContext, ToolOutput};
use serde_json::Value;

use super::*;

/// The calculator, counting the calls it runs.
struct CountedCalculator {
    calls: Arc<AtomicUsize>,
}

#[async_trait]
impl Tool for CountedCalculator {
    fn spec(&self) -> ToolSpec {
        Calculator.spec()
    }

    async fn call(&self, args: Value, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Calculator.call(args, ctx).await
    }
}

#[tokio::test]
async fn a_repeated_calculator_call_runs_once_and_the_run_answers_395() {
    let calls = Arc::new(AtomicUsize::new(0));
    let mut tools = ToolRegistry::new();
    tools
        .register(CountedCalculator {
            calls: calls.clone(),
        })
        .expect("register the calculator");
    let agent = Agent::builder()
        .model(qwen_0_5b().await)
        .instructions(["Use the calculator for arithmetic: pass it the whole expression."])
        .tools(tools)
        .limits(limits(4))
        .sampling(Sampling {
            temperature: 0.0,
            ..sampling(200)
        })
        // A short thought: with room to spare, the model works the sum out in its thought
        // (17 * 23 = 401, it once wrote) and hands the calculator its own wrong step.
        .thought_max_chars(Some(THOUGHT_CHARS))
        .build()
        .expect("an agent");
    let mut events = agent.events();
    let output = agent
        .run::<f64>("What is 17 * 23 + 4? Use the calculator.")
        .await
        .unwrap_or_else(|e| panic!("no answer: {e}"));
    let events = drain(&mut events);
    assert_eq!(output.answer, 395.0, "{events:?}");
    assert_eq!(output.outcome.stop, StopReason::Answered);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the calculator ran once: {events:?}"
    );
    assert!(
        output.outcome.steps <= 3,
        "one call, at most one repeat, then the answer: {events:?}"
    );
}
