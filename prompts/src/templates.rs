//! The template set: built-ins compiled in, overridable from a user folder,
//! rendered with strict undefined.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior, Value};
use serde::Serialize;

use crate::PromptError;
use crate::builtin::BUILTIN;

/// File extension of template files in an override folder.
pub const TEMPLATE_EXTENSION: &str = "jinja";

/// Largest template file read from an override folder, in bytes (1 MiB; the
/// built-ins are a few KiB): a larger one is an error naming the file and the limit.
pub const MAX_TEMPLATE_BYTES: u64 = 1 << 20;

/// Where a template in a [`Templates`] set came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateOrigin {
    /// Compiled into this crate from `prompts/templates/`.
    Builtin,
    /// Read from a file of an override folder.
    File(PathBuf),
    /// Added from a string with [`Templates::add`].
    Added,
}

/// A set of minijinja templates: the built-ins, replaced or extended by the
/// `*.jinja` files of a user folder. Rendering is strict: a variable the
/// context does not give is an error that names it.
///
/// Templates render with `trim_blocks` and `lstrip_blocks` on, no
/// auto-escaping, and the `tojson` filter available.
#[derive(Debug, Clone)]
pub struct Templates {
    env: Environment<'static>,
    origins: BTreeMap<String, TemplateOrigin>,
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

impl Templates {
    /// The built-in templates.
    pub fn new() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_keep_trailing_newline(false);
        env.set_auto_escape_callback(|_| AutoEscape::None);
        crate::budget::limit(&mut env);
        let mut templates = Self {
            env,
            origins: BTreeMap::new(),
        };
        for (name, source) in BUILTIN {
            // Built-ins are checked to compile by this crate's tests; one that
            // did not would surface as an error when it is rendered.
            if templates.env.add_template(name, source).is_ok() {
                templates
                    .origins
                    .insert((*name).to_string(), TemplateOrigin::Builtin);
            }
        }
        templates
    }

    /// Adds every `*.jinja` file of `dir` (not recursive); a file named like a
    /// built-in (`chain_of_thought.jinja`) replaces it, any other adds a new
    /// template named by its file stem. A file that does not compile, is over
    /// [`MAX_TEMPLATE_BYTES`] or turns out not to be a regular file when opened
    /// is an error naming the file.
    pub fn with_override_dir(mut self, dir: impl AsRef<Path>) -> Result<Self, PromptError> {
        let dir = dir.as_ref();
        let io_error = |path: &Path, source| PromptError::OverrideDir {
            path: path.to_path_buf(),
            source,
        };
        let entries = std::fs::read_dir(dir).map_err(|e| io_error(dir, e))?;
        let mut files = Vec::new();
        for entry in entries {
            let path = entry.map_err(|e| io_error(dir, e))?.path();
            if path.is_file() && path.extension().is_some_and(|e| e == TEMPLATE_EXTENSION) {
                files.push(path);
            }
        }
        files.sort();
        for path in files {
            let name = path
                .file_stem()
                .and_then(|s| s.to_str())
                .ok_or_else(|| PromptError::OverrideName { path: path.clone() })?
                .to_string();
            let source = crate::file::read_capped_text(&path, MAX_TEMPLATE_BYTES)
                .map_err(|e| io_error(&path, e))?;
            self.env
                .add_template_owned(name.clone(), source)
                .map_err(|e| PromptError::Template {
                    template: format!("{name} ({})", path.display()),
                    message: e.to_string(),
                })?;
            self.origins.insert(name, TemplateOrigin::File(path));
        }
        Ok(self)
    }

    /// Adds (or replaces) template `name` from a string.
    pub fn add(
        &mut self,
        name: impl Into<String>,
        source: impl Into<String>,
    ) -> Result<(), PromptError> {
        let name = name.into();
        self.env
            .add_template_owned(name.clone(), source.into())
            .map_err(|e| PromptError::Template {
                template: name.clone(),
                message: e.to_string(),
            })?;
        self.origins.insert(name, TemplateOrigin::Added);
        Ok(())
    }

    /// The names of all templates in the set, sorted.
    pub fn names(&self) -> Vec<&str> {
        self.origins.keys().map(String::as_str).collect()
    }

    /// Where template `name` came from.
    pub fn origin(&self, name: &str) -> Option<&TemplateOrigin> {
        self.origins.get(name)
    }

    /// The source text of template `name`.
    pub fn source(&self, name: &str) -> Result<String, PromptError> {
        Ok(self.template(name)?.source().to_string())
    }

    /// The top-level variables template `name` reads from its context, i.e.
    /// what a render must give (loop variables and `set` names excluded).
    pub fn required_variables(&self, name: &str) -> Result<BTreeSet<String>, PromptError> {
        Ok(self
            .template(name)?
            .undeclared_variables(false)
            .into_iter()
            .collect())
    }

    /// Renders template `name` with `context` (any serialisable map, e.g. a
    /// struct or `serde_json::json!({...})`). A variable the context lacks is
    /// [`PromptError::MissingVariable`] naming it and the template.
    pub fn render<S: Serialize>(&self, name: &str, context: S) -> Result<String, PromptError> {
        let template = self.template(name)?;
        let context = Value::from_serialize(&context);
        crate::budget::render_capped(&template, &context)
            .map_err(|error| self.render_error(name, &context, &error))
    }

    /// Renders `prompt` into chat messages; the same as
    /// [`Prompt::render`](crate::Prompt::render) with this set.
    pub fn render_prompt(
        &self,
        prompt: &crate::Prompt,
    ) -> Result<crate::RenderedPrompt, PromptError> {
        prompt.render(self)
    }

    fn template(&self, name: &str) -> Result<minijinja::Template<'_, '_>, PromptError> {
        self.env
            .get_template(name)
            .map_err(|_| PromptError::UnknownTemplate {
                name: name.to_string(),
                known: self.names().join(", "),
            })
    }

    fn render_error(&self, name: &str, context: &Value, error: &minijinja::Error) -> PromptError {
        let failed_in = error.name().unwrap_or(name).to_string();
        let line = error.line().unwrap_or(0);
        if error.kind() == ErrorKind::UndefinedError
            && let Some(variable) = self.missing_variable(&failed_in, context, error)
        {
            return PromptError::MissingVariable {
                template: failed_in,
                variable,
                line,
            };
        }
        if error.kind() == ErrorKind::BadSerialization {
            return PromptError::Context {
                template: failed_in,
                message: error.to_string(),
            };
        }
        PromptError::Template {
            template: failed_in,
            message: crate::budget::describe(error),
        }
    }

    /// Names the undefined variable: a top-level variable the context lacks,
    /// or else the expression at the error's span (e.g. `state.steps`).
    fn missing_variable(
        &self,
        name: &str,
        context: &Value,
        error: &minijinja::Error,
    ) -> Option<String> {
        let template = self.env.get_template(name).ok()?;
        let mut absent: Vec<String> = template
            .undeclared_variables(false)
            .into_iter()
            .filter(|var| context.get_attr(var).map_or(true, |v| v.is_undefined()))
            .collect();
        absent.sort();
        let spanned = error
            .range()
            .and_then(|range| template.source().get(range))
            .map(|text| text.trim().to_string())
            .filter(|text| !text.is_empty());
        match (absent.is_empty(), spanned) {
            (false, Some(text)) => Some(
                absent
                    .iter()
                    .find(|var| text.starts_with(var.as_str()))
                    .cloned()
                    .unwrap_or_else(|| absent.join(", ")),
            ),
            (false, None) => Some(absent.join(", ")),
            (true, spanned) => spanned,
        }
    }
}
