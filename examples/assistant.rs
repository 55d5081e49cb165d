//! A tool-using assistant: a calculator, a clock, and read access to the files of one folder.
//!
//! ```sh
//! cargo run --release --example assistant -- "What is 12 * 37?"
//! cargo run --release --example assistant -- --files ./notes "What does todo.txt say?"
//! ```
//!
//! Thoughts, tool calls and results go to stderr as they happen; the answer to stdout.

mod support;

use std::path::PathBuf;

use agentry::core::agent::{Agent, AgentError};
use agentry::core::plan::run::Limits;
use agentry::tools::builtin::{Calculator, Clock, FsRoot, ListDir, ReadFile};
use agentry::tools::{Capabilities, Policy, ToolRegistry};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let files = match args.iter().position(|a| a == "--files") {
        Some(i) if i + 1 < args.len() => {
            let dir = PathBuf::from(args.remove(i + 1));
            args.remove(i);
            dir
        }
        _ => std::env::current_dir()?,
    };
    let task = if args.is_empty() {
        "What is 12 * 37? Use the calculator.".to_owned()
    } else {
        args.join(" ")
    };

    let root = FsRoot::new(&files)?;
    let mut tools = ToolRegistry::new();
    tools.register(Calculator)?;
    tools.register(Clock)?;
    tools.register(ReadFile::new(root.clone()))?;
    tools.register(ListDir::new(root))?;
    let policy = Policy::default().with_capabilities(Capabilities {
        read_files: true,
        ..Capabilities::NONE
    });

    let agent = Agent::builder()
        .model(support::load_model().await?)
        .role("You are a precise assistant with a calculator, a clock and a folder of files.")
        .instructions([
            "Use the calculator for arithmetic instead of computing in your head",
            "Read files before you say what they contain",
            "Answer in one or two sentences",
        ])
        .tools(tools)
        .policy(policy)
        .limits(Limits {
            max_steps: 4,
            ..Limits::default()
        })
        // Small models ramble: a short thought leaves room for the tool call.
        .thought_max_chars(Some(120))
        .build()?;
    let printer = support::print_events(agent.events());
    let result = agent.run::<String>(task).await;
    drop(agent);
    let _ = printer.await;
    match result {
        Ok(output) => {
            if output.answer.trim().is_empty() {
                // A schema-valid but empty final answer: say so rather than print nothing.
                println!("No answer: the model's final answer was empty");
            } else {
                println!("{}", output.answer);
            }
            eprintln!(
                "({} steps, {} tool calls, {} tokens generated)",
                output.outcome.steps,
                output.outcome.tool_calls,
                output.outcome.usage.completion_tokens
            );
        }
        Err(AgentError::Stopped { reason, .. }) => println!("No answer: {reason}"),
        Err(e) => return Err(e.into()),
    }
    Ok(())
}
