//! The end-to-end benchmark behind `agentry bench e2e`: one multi-step tool-using task
//! (see [`task`]: ten `next_step` calls, then the answer) run by agentry in-process
//! ([`agentry_side`]) and by what a user would pick instead, LangGraph's prebuilt ReAct
//! agent with `langchain-openai` driving llama.cpp's `llama-server`
//! ([`langgraph_side`]), with the same GGUF, threads, context, system prompt, tool,
//! greedy sampling and max tokens per step, measured one after the other in one run.
//!
//! Each side reports its wall time (the task alone, and in all with the model load or
//! the server start and Python's imports), its model steps, whether it completed the
//! task correctly, and the prompt tokens it sent and evaluated (agentry's own counters;
//! llama-server's `/metrics`, cached tokens excluded).

pub mod agentry_side;
pub mod langgraph_side;
pub mod task;

use std::path::PathBuf;
use std::time::Duration;

use super::serve::ratio;
use serde::Serialize;

pub use task::Verdict;

/// Why the benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum E2eBenchError {
    /// agentry's side failed (the model did not load, the agent could not be built).
    #[error("agentry: {0}")]
    Agentry(String),
    /// LangGraph's side failed (llama-server did not start, the script failed).
    #[error("LangGraph + llama-server: {0}")]
    LangGraph(String),
}

/// What the benchmark runs.
#[derive(Debug, Clone, PartialEq)]
pub struct E2eBenchOptions {
    /// The model spec (for the report).
    pub model: String,
    /// The GGUF file both sides load.
    pub gguf: PathBuf,
    /// The `llama-server` binary.
    pub llama_server: PathBuf,
    /// The Python of the LangGraph venv (`scripts/install-langgraph.sh`).
    pub python: PathBuf,
    /// CPU threads of each side.
    pub threads: i32,
    /// Context size of each side.
    pub n_ctx: u32,
    /// Most tokens per model step.
    pub max_tokens: usize,
    /// Most model steps (LangGraph: a recursion limit of twice this, plus one).
    pub max_steps: usize,
    /// Alternating rounds; each side's quickest counts.
    pub rounds: usize,
}

/// One side's run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SideReport {
    /// The steps called, the answer, and whether the task was done correctly.
    pub verdict: Verdict,
    /// How the run ended, in words.
    pub ended: String,
    /// Model steps (requests to the model).
    pub model_steps: usize,
    /// Prompt tokens over all steps, as sent.
    pub prompt_tokens: u64,
    /// Prompt tokens the model evaluated (those reused from a KV cache excluded).
    pub evaluated_tokens: u64,
    /// Tokens generated over all steps.
    pub completion_tokens: u64,
    /// From the start to a loaded model (agentry) or a healthy server (llama-server).
    pub ready: Duration,
    /// The task alone: from the task given to the answer.
    pub task_wall: Duration,
    /// Everything: load or server start, Python's imports, the task.
    pub total_wall: Duration,
}

/// The benchmark's results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct E2eBenchReport {
    /// The model spec.
    pub model: String,
    /// Threads of each side.
    pub threads: i32,
    /// Max tokens per step.
    pub max_tokens: usize,
    /// Rounds run.
    pub rounds: usize,
    /// Tool calls a correct run makes.
    pub task_steps: usize,
    /// agentry in-process.
    pub agentry: SideReport,
    /// LangGraph + llama-server.
    pub langgraph: SideReport,
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

impl E2eBenchReport {
    /// Both sides completed the task correctly.
    pub fn both_correct(&self) -> bool {
        self.agentry.verdict.correct && self.langgraph.verdict.correct
    }

    /// The report as a markdown table.
    pub fn to_markdown(&self) -> String {
        let (a, l) = (&self.agentry, &self.langgraph);
        let mut s = format!(
            "Model `{}`, {} threads on each side, greedy, at most {} tokens per step; a task of {} tool calls and an answer; the quicker of {} alternating rounds per side. Peer: LangGraph's prebuilt ReAct agent (`langchain-openai` ChatOpenAI) driving llama.cpp's `llama-server --jinja` on the same GGUF.\n\n",
            self.model, self.threads, self.max_tokens, self.task_steps, self.rounds
        );
        s.push_str("| measure | LangGraph + llama-server | agentry in-process | ratio | target |\n|---|---|---|---|---|\n");
        let yes = |v: &Verdict| if v.correct { "yes" } else { "no" };
        s.push_str(&format!(
            "| task completed correctly | {} | {} | | both |\n",
            yes(&l.verdict),
            yes(&a.verdict)
        ));
        s.push_str(&format!(
            "| tool calls / model steps | {} / {} | {} / {} | | |\n",
            l.verdict.called.len(),
            l.model_steps,
            a.verdict.called.len(),
            a.model_steps
        ));
        s.push_str(&format!(
            "| task wall time, s (model loaded, server up) | {:.2} | {:.2} | {:.3} | ≤ 0.5 |\n",
            secs(l.task_wall),
            secs(a.task_wall),
            ratio(secs(a.task_wall), secs(l.task_wall))
        ));
        s.push_str(&format!(
            "| end-to-end wall time, s (with model load / server start and imports) | {:.2} | {:.2} | {:.3} | |\n",
            secs(l.total_wall),
            secs(a.total_wall),
            ratio(secs(a.total_wall), secs(l.total_wall))
        ));
        s.push_str(&format!(
            "| prompt tokens sent, all steps | {} | {} | {:.3} | |\n",
            l.prompt_tokens,
            a.prompt_tokens,
            ratio(a.prompt_tokens as f64, l.prompt_tokens as f64)
        ));
        s.push_str(&format!(
            "| prompt tokens evaluated (KV-cached excluded) | {} | {} | {:.3} | |\n",
            l.evaluated_tokens,
            a.evaluated_tokens,
            ratio(a.evaluated_tokens as f64, l.evaluated_tokens as f64)
        ));
        s.push_str(&format!(
            "| tokens generated | {} | {} | {:.3} | |\n",
            l.completion_tokens,
            a.completion_tokens,
            ratio(a.completion_tokens as f64, l.completion_tokens as f64)
        ));
        for (side, r) in [("LangGraph + llama-server", l), ("agentry in-process", a)] {
            s.push_str(&format!(
                "\n{side}: called steps {:?}; answered {:?}; {}.",
                r.verdict.called, r.verdict.answer, r.ended
            ));
        }
        if !self.both_correct() {
            s.push_str("\n\nA side did not complete the task, so the wall-time and token ratios compare runs of different lengths, not the same work.");
        }
        s.push('\n');
        s
    }
}

/// The quicker of two runs of one side (by task wall time).
fn quicker(best: SideReport, next: SideReport) -> SideReport {
    if best.task_wall <= next.task_wall {
        best
    } else {
        next
    }
}

/// Runs the benchmark (see the [module docs](self)).
///
/// # Errors
/// A side that cannot run at all (model load, server start, the script). A side that
/// runs but misses the task is reported, not an error.
pub async fn run_e2e_bench(opts: E2eBenchOptions) -> Result<E2eBenchReport, E2eBenchError> {
    let mut langgraph = langgraph_side::run(&opts).await?;
    let mut agentry = agentry_side::run(&opts).await?;
    for _ in 1..opts.rounds.max(1) {
        langgraph = quicker(langgraph, langgraph_side::run(&opts).await?);
        agentry = quicker(agentry, agentry_side::run(&opts).await?);
    }
    Ok(E2eBenchReport {
        model: opts.model.clone(),
        threads: opts.threads,
        max_tokens: opts.max_tokens,
        rounds: opts.rounds.max(1),
        task_steps: task::STEPS as usize,
        agentry,
        langgraph,
    })
}

/// The LangGraph venv's Python: `$AGENTRY_LANGGRAPH_PYTHON`, else the one
/// `scripts/install-langgraph.sh` makes under `~/.cache/agentry/langgraph/venv` (or
/// `$AGENTRY_LANGGRAPH_VENV`, or `$AGENTRY_CACHE/langgraph/venv`).
pub fn default_python() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("AGENTRY_LANGGRAPH_PYTHON") {
        return Some(PathBuf::from(path));
    }
    if let Some(venv) = std::env::var_os("AGENTRY_LANGGRAPH_VENV") {
        return Some(PathBuf::from(venv).join("bin/python"));
    }
    let cache = std::env::var_os("AGENTRY_CACHE")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/agentry"))
        })?;
    Some(cache.join("langgraph/venv/bin/python"))
}
