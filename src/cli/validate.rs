//! `agentry validate`: check workflow files without running anything.

use std::path::PathBuf;
use std::process::ExitCode;

use agentry_workflow::{self as workflow, WorkflowError};
use clap::Args;

use super::toolbox::BUILTIN_TOOLS;

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Workflow files.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// One line per problem (`file:line:col: message`) instead of snippets.
    #[arg(long)]
    short: bool,
}

/// Exit 0 when every file is valid, 2 when one is not (every problem is printed).
pub async fn run(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    for file in &args.files {
        match workflow::load(file, BUILTIN_TOOLS) {
            Ok(flow) => outln!(
                "{}: ok (workflow `{}`, {} agent(s), {} step(s))",
                file.display(),
                flow.name,
                flow.agents.len(),
                flow.steps.len()
            ),
            Err(WorkflowError::Invalid(problems)) => {
                failed = true;
                if args.short {
                    err!("{}", problems.short());
                } else {
                    err!("{}", problems.render());
                }
            }
            Err(error) => {
                failed = true;
                errln!("error: {error}");
            }
        }
    }
    Ok(if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
