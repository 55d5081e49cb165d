//! `--templates DIR`: the user's prompt templates over the built-in ones.

use std::path::PathBuf;

use agentry_prompts::{PromptError, Templates};
use clap::Args;

/// A folder of prompt templates that replace or add to the built-ins.
#[derive(Debug, Args)]
pub struct TemplatesArgs {
    /// A folder of `*.jinja` prompt templates: a file named like a built-in
    /// (`react_system.jinja`) replaces it, any other adds a template.
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
}

impl TemplatesArgs {
    /// The built-in templates with the folder's files over them.
    ///
    /// # Errors
    /// The folder cannot be read, or a file in it does not compile (the error names it).
    pub fn load(&self) -> Result<Templates, PromptError> {
        match &self.templates {
            Some(dir) => Templates::new().with_override_dir(dir),
            None => Ok(Templates::new()),
        }
    }
}
