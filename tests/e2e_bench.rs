//! `agentry bench e2e` on the real SmolLM2-135M-Instruct: the ten-step task run by
//! agentry in-process and by LangGraph (its prebuilt ReAct agent, `langchain-openai`)
//! driving llama.cpp's `llama-server`, both on the same GGUF and threads. The model is
//! too small to finish the task, so this checks the machinery: both sides run the same
//! task, each is judged by the steps its tool actually saw, and the token counts are the
//! servers' and the model's own. Skipped, with the reason printed, when the llama-server
//! binary or the LangGraph venv is not there (`scripts/build-llama-server.sh`,
//! `scripts/install-langgraph.sh`).

#[allow(dead_code)]
mod support;

use agentry::bench::e2e::task::{self, Verdict};
use agentry::bench::e2e::{E2eBenchOptions, default_python, run_e2e_bench};
use agentry::bench::serve::default_llama_server;
use support::smollm2_path;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_sides_run_the_same_task_and_are_judged_by_their_tool_calls() {
    let Some(llama_server) = default_llama_server().filter(|p| p.is_file()) else {
        eprintln!(
            "SKIPPED: no llama-server binary (set LLAMA_SERVER or run scripts/build-llama-server.sh)"
        );
        return;
    };
    let Some(python) = default_python().filter(|p| p.is_file()) else {
        eprintln!(
            "SKIPPED: no LangGraph venv (set AGENTRY_LANGGRAPH_PYTHON or run scripts/install-langgraph.sh)"
        );
        return;
    };
    let opts = E2eBenchOptions {
        model: "smollm2-135m".into(),
        gguf: smollm2_path().await,
        llama_server,
        python,
        threads: 2,
        n_ctx: 2048,
        max_tokens: 48,
        max_steps: 4,
        rounds: 1,
    };
    let report = run_e2e_bench(opts).await.expect("bench");
    for (side, run) in [
        ("LangGraph", &report.langgraph),
        ("agentry", &report.agentry),
    ] {
        // The verdict is the tool's own record judged by the one rule.
        assert_eq!(
            run.verdict,
            Verdict::judge(run.verdict.called.clone(), run.verdict.answer.clone()),
            "{side}"
        );
        assert!(
            (1..=4).contains(&run.model_steps),
            "{side}: {} steps",
            run.model_steps
        );
        assert!(
            run.verdict.called.len() <= run.model_steps,
            "{side}: {run:?}"
        );
        // The first request alone holds the system prompt, the tool and the task.
        assert!(run.prompt_tokens > 50, "{side}: {run:?}");
        assert!(
            run.evaluated_tokens > 0 && run.evaluated_tokens <= run.prompt_tokens,
            "{side}: {run:?}"
        );
        assert!(run.completion_tokens > 0, "{side}: {run:?}");
        assert!(
            run.task_wall <= run.total_wall && run.ready < run.total_wall,
            "{side}"
        );
    }
    assert_eq!(report.task_steps, task::STEPS as usize);
    let table = report.to_markdown();
    eprintln!("{table}");
    let correct = |v: &Verdict| if v.correct { "yes" } else { "no" };
    let row = format!(
        "| task completed correctly | {} | {} |",
        correct(&report.langgraph.verdict),
        correct(&report.agentry.verdict)
    );
    assert!(table.contains(&row), "{row}: {table}");
    for line in [
        "| task wall time, s",
        "| prompt tokens evaluated",
        "LangGraph + llama-server: called steps",
        "agentry in-process: called steps",
    ] {
        assert!(table.contains(line), "{line}: {table}");
    }
}
