//! The parts of a workflow file, as read and checked (see [`Workflow`]).

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::source::{SourceText, Span};
use agentry_core::agent::AgentBuilder;
use agentry_core::defaults;
use agentry_core::plan::run::Limits;
use agentry_core::plan::run::ToolFormat;
use agentry_core::plan::strategy::Strategy;

/// A checked workflow: what to run, in which order, with which agents.
#[derive(Debug, Clone)]
pub struct Workflow {
    /// The workflow's name.
    pub name: String,
    /// What it does (optional).
    pub description: Option<String>,
    /// The model of every agent that names no other (`model:`).
    pub model: ModelChoice,
    /// More models by name (`models:`), for agents that say `model: NAME`; a spec may
    /// read the inputs (`{{ inputs.teacher }}`, see [`ModelChoice::render`]).
    pub models: std::collections::BTreeMap<String, ModelChoice>,
    /// Long-term memory and documents, when the workflow uses them.
    pub memory: Option<MemorySpec>,
    /// Which calls with side effects run without asking (`policy:`; nothing by default).
    pub policy: PolicySpec,
    /// MCP servers whose tools (`NAME__TOOL`) agents may list (`mcp:`; none by default).
    pub mcp: Vec<McpServerSpec>,
    /// Typed inputs, in file order.
    pub inputs: Vec<InputSpec>,
    /// Agents, in file order.
    pub agents: Vec<AgentSpec>,
    /// Steps, run in order.
    pub steps: Vec<Step>,
    /// Named outputs, rendered when the last step is done.
    pub outputs: Vec<OutputSpec>,
    /// The file it was read from.
    pub source: SourceText,
}

impl Workflow {
    /// The client configurations of the `mcp:` servers, in file order, each `ca_cert`
    /// read from the workflow file's folder when it is relative.
    pub fn mcp_configs(&self) -> Vec<agentry_tools::McpServerConfig> {
        let folder = Path::new(self.source.name())
            .parent()
            .unwrap_or(Path::new(""));
        self.mcp
            .iter()
            .map(|server| {
                let mut config = server.config();
                config.ca_cert = config.ca_cert.map(|path| folder.join(path));
                config
            })
            .collect()
    }

    /// The agent named `name`.
    pub fn agent(&self, name: &str) -> Option<&AgentSpec> {
        self.agents.iter().find(|a| a.name == name)
    }

    /// The input named `name`.
    pub fn input(&self, name: &str) -> Option<&InputSpec> {
        self.inputs.iter().find(|i| i.name == name)
    }

    /// The model `agent` runs on: the named one of `models:` it says, else `model:`.
    /// `None` for an agent naming a model that is not declared.
    pub fn model_of(&self, agent: &AgentSpec) -> Option<&ModelChoice> {
        match &agent.model {
            Some(name) => self.models.get(&name.name),
            None => Some(&self.model),
        }
    }
}

/// One server of the `mcp:` section: started as `command args...` over stdio, with
/// `env` on top of a minimal base environment (see [`agentry_tools::mcp`]), or reached
/// at `url` over streamable HTTP with `headers`, a bearer token from `bearer_token_env`
/// and, for `https://`, the CA certificates of `ca_cert` trusted besides the system's.
#[derive(Debug, Clone, PartialEq)]
pub struct McpServerSpec {
    /// Its name, the prefix of its tools' names (`NAME__TOOL`).
    pub name: String,
    /// The program to start (empty for a server at a `url`).
    pub command: String,
    /// Its streamable HTTP endpoint (`url:`), instead of a command.
    pub url: Option<String>,
    /// HTTP headers sent to the `url` (`headers:`).
    pub headers: std::collections::BTreeMap<String, String>,
    /// The environment variable holding the bearer token for the `url`
    /// (`bearer_token_env:`).
    pub bearer_token_env: Option<String>,
    /// A PEM file of CA certificates trusted for the `url` besides the system's roots
    /// (`ca_cert:`), as written: [`Workflow::mcp_configs`] reads a relative path from
    /// the workflow file's folder.
    pub ca_cert: Option<PathBuf>,
    /// Its arguments.
    pub args: Vec<String>,
    /// Environment variables it gets (nothing else of this process's environment but
    /// `PATH`, `HOME`, the locale and a few more).
    pub env: std::collections::BTreeMap<String, String>,
    /// `read_only: true`: its tools have no side effects and run without approval.
    pub read_only: bool,
    /// `trust_read_only_hints: true`: a tool the server annotates read-only runs without
    /// approval.
    pub trust_read_only_hints: bool,
    /// Where its name is written.
    pub span: Span,
}

impl McpServerSpec {
    /// The client configuration of this server (default limits; `ca_cert` as written,
    /// see [`Workflow::mcp_configs`]).
    pub fn config(&self) -> agentry_tools::McpServerConfig {
        let mut config = match &self.url {
            Some(url) => agentry_tools::McpServerConfig::http(&self.name, url),
            None => agentry_tools::McpServerConfig::new(&self.name, &self.command)
                .args(self.args.iter().cloned()),
        };
        config.env = self.env.clone();
        config.headers = self.headers.clone();
        config.bearer_token_env = self.bearer_token_env.clone();
        config.ca_cert = self.ca_cert.clone();
        if self.read_only {
            config = config.read_only();
        }
        config.trust_read_only_hints = self.trust_read_only_hints;
        config
    }
}

/// The model: a registry name, a GGUF path or a model on an OpenAI-compatible server,
/// and how to load it.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelChoice {
    /// Registry name (`smollm2-135m`), path to a `.gguf` file, or a remote model
    /// `openai:URL#NAME` (YAML `model: {url: URL, name: NAME}` is read as that).
    pub spec: String,
    /// The environment variable of a remote model's API key (`model.api_key_env`).
    pub api_key_env: Option<String>,
    /// Context size in tokens.
    pub ctx: Option<u32>,
    /// CPU threads.
    pub threads: Option<usize>,
    /// Layers offloaded to the GPU.
    pub gpu_layers: Option<u32>,
    /// A LoRA adapter (GGUF) applied to a local model (`lora:`; a relative path is read
    /// from the workflow file's folder).
    pub lora: Option<PathBuf>,
    /// Where it is declared.
    pub span: Span,
}

impl ModelChoice {
    /// The spec with its templates rendered against `inputs` (a spec may read the run's
    /// inputs: `spec: "{{ inputs.teacher }}"`); a spec without `{{` as it is.
    ///
    /// # Errors
    /// The template does not render (an unknown input, a syntax error), or renders to
    /// an empty text.
    pub fn render(&self, inputs: &serde_json::Map<String, Value>) -> Result<String, String> {
        if !self.spec.contains("{{") && !self.spec.contains("{%") {
            return Ok(self.spec.clone());
        }
        let env = crate::template::environment();
        let context = serde_json::json!({ "inputs": inputs });
        let value =
            crate::template::evaluate(&env, &self.spec, crate::template::Mode::Text, &context)?;
        let text = match value {
            Value::String(text) => text,
            other => other.to_string(),
        };
        let text = text.trim().to_string();
        if text.is_empty() {
            return Err(format!("the model spec `{}` renders to nothing", self.spec));
        }
        Ok(text)
    }
}

/// A workflow's `policy` section: which tools' calls with side effects run without
/// asking (see [`agentry_tools::hold()`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PolicySpec {
    /// `approve:`: tools whose calls run without asking while no untrusted text is in
    /// the run.
    pub approve: ToolNames,
    /// `act_on_untrusted:`: pre-approved tools that may run without asking even after
    /// untrusted text (a tool's output, a fetched page, a step's output) entered the run.
    pub act_on_untrusted: ToolNames,
}

/// Tools named in a policy: a list, or `all`.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolNames {
    /// The tools named, where each is written.
    Named(Vec<Name>),
    /// `all`: every tool.
    All,
}

impl Default for ToolNames {
    fn default() -> Self {
        Self::Named(Vec::new())
    }
}

impl ToolNames {
    /// As a [`agentry_tools::ToolSet`].
    pub fn to_set(&self) -> agentry_tools::ToolSet {
        match self {
            Self::Named(names) => {
                agentry_tools::ToolSet::named(names.iter().map(|n| n.name.clone()))
            }
            Self::All => agentry_tools::ToolSet::All,
        }
    }
}

/// Where long-term memory lives and which documents are indexed before the run.
#[derive(Debug, Clone, PartialEq)]
pub struct MemorySpec {
    /// The store: a folder or a Qdrant server.
    pub location: MemoryLocation,
    /// The document collection.
    pub collection: Option<String>,
    /// Files or folders ingested before the first step (relative to the workflow file).
    pub documents: Vec<PathBuf>,
    /// Where it is declared.
    pub span: Span,
}

/// Where a workflow's memory lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemoryLocation {
    /// The embedded store (Qdrant Edge) in this folder, relative to the working
    /// directory (`path:`, default `.agentry/memory`).
    Folder(PathBuf),
    /// A Qdrant server or cluster (`url:`).
    Server {
        /// Its gRPC URL (`http://` or `https://`).
        url: String,
        /// The environment variable that holds its API key (`api_key_env:`).
        api_key_env: Option<String>,
    },
}

/// The type of an input value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputType {
    /// Text.
    String,
    /// Any number.
    Number,
    /// A whole number.
    Integer,
    /// `true` or `false`.
    Boolean,
    /// A JSON list.
    Array,
    /// A JSON object.
    Object,
}

impl InputType {
    /// The names accepted in YAML, in the order messages list them.
    pub const NAMES: [&'static str; 6] =
        ["string", "number", "integer", "boolean", "array", "object"];

    /// The type named `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "string" => Self::String,
            "number" => Self::Number,
            "integer" => Self::Integer,
            "boolean" => Self::Boolean,
            "array" => Self::Array,
            "object" => Self::Object,
            _ => return None,
        })
    }

    /// Its YAML name.
    pub fn name(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Number => "number",
            Self::Integer => "integer",
            Self::Boolean => "boolean",
            Self::Array => "array",
            Self::Object => "object",
        }
    }

    /// Whether `value` is of this type.
    pub fn accepts(self, value: &Value) -> bool {
        match self {
            Self::String => value.is_string(),
            Self::Number => value.is_number(),
            Self::Integer => value.is_i64() || value.is_u64(),
            Self::Boolean => value.is_boolean(),
            Self::Array => value.is_array(),
            Self::Object => value.is_object(),
        }
    }
}

/// A typed input.
#[derive(Debug, Clone, PartialEq)]
pub struct InputSpec {
    /// Its name (`{{ inputs.NAME }}`).
    pub name: String,
    /// Its type.
    pub kind: InputType,
    /// The value used when none is given.
    pub default: Option<Value>,
    /// What it is for.
    pub description: Option<String>,
    /// Where it is declared.
    pub span: Span,
}

/// Sampling settings of an agent; unset fields keep the model defaults.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SamplingSpec {
    /// Temperature (0 is greedy).
    pub temperature: Option<f32>,
    /// Nucleus sampling.
    pub top_p: Option<f32>,
    /// Top-k sampling.
    pub top_k: Option<i32>,
    /// Min-p sampling.
    pub min_p: Option<f32>,
    /// Repetition penalty.
    pub repeat_penalty: Option<f32>,
    /// Most tokens per model reply.
    pub max_tokens: Option<usize>,
    /// Seed.
    pub seed: Option<u32>,
}

impl SamplingSpec {
    /// `base` with the fields this spec sets replaced.
    pub fn apply(&self, base: agentry_core::model::Sampling) -> agentry_core::model::Sampling {
        let mut sampling = base;
        if let Some(v) = self.temperature {
            sampling.temperature = v;
        }
        if let Some(v) = self.top_p {
            sampling.top_p = v;
        }
        if let Some(v) = self.top_k {
            sampling.top_k = v;
        }
        if let Some(v) = self.min_p {
            sampling.min_p = v;
        }
        if let Some(v) = self.repeat_penalty {
            sampling.repeat_penalty = v;
        }
        if let Some(v) = self.max_tokens {
            sampling.max_tokens = v;
        }
        if let Some(v) = self.seed {
            sampling.seed = v;
        }
        sampling
    }
}

/// A name that refers to something else in the file (an agent, a tool), with its place.
#[derive(Debug, Clone, PartialEq)]
pub struct Name {
    /// The name.
    pub name: String,
    /// Where it is written.
    pub span: Span,
}

/// An agent: role, instructions, tools, strategy and sampling.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentSpec {
    /// Its name (`agent: NAME` in steps).
    pub name: String,
    /// The role sentence.
    pub role: Option<String>,
    /// Instructions, one per item.
    pub instructions: Vec<String>,
    /// Tools it may call.
    pub tools: Vec<Name>,
    /// The model it runs on, a name under the workflow's `models:` (`None`: `model:`).
    pub model: Option<Name>,
    /// How it answers.
    pub strategy: Strategy,
    /// Sampling.
    pub sampling: SamplingSpec,
    /// Most model steps per task.
    pub max_steps: Option<usize>,
    /// How its steps are written (`auto`: the model's own tool-call format when it has
    /// one).
    pub tool_format: ToolFormat,
    /// Where it is declared.
    pub span: Span,
}

impl AgentSpec {
    /// This agent's settings on `builder`, the one conversion every front end uses (workflow
    /// runs, the chat's `--agent FILE#NAME`): its role when it has one, its instructions
    /// appended, its strategy, its tool format, its sampling over [`defaults::sampling`]
    /// and its step limit
    /// ([`defaults::MAX_STEPS`] unless it sets `max_steps`). Tools are the caller's: each
    /// front end has its own registry, and `self.tools` names the ones to permit.
    pub fn configure(&self, builder: AgentBuilder) -> AgentBuilder {
        let builder = match &self.role {
            Some(role) => builder.role(role.clone()),
            None => builder,
        };
        builder
            .instructions(self.instructions.iter().cloned())
            .strategy(self.strategy.clone())
            .tool_format(self.tool_format)
            .sampling(self.sampling.apply(defaults::sampling()))
            .limits(Limits {
                max_steps: self.max_steps.unwrap_or(defaults::MAX_STEPS),
                ..Limits::default()
            })
    }
}

/// A template (minijinja) and where it is written.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// The template text.
    pub text: String,
    /// Where it is written.
    pub span: Span,
}

/// A named output of the workflow.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputSpec {
    /// Its name.
    pub name: String,
    /// Its template (a single `{{ expression }}` keeps the value's JSON type).
    pub template: Template,
}

/// One step.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Its id (`{{ steps.ID.output }}`).
    pub id: String,
    /// Run only when this condition holds (`if:`).
    pub condition: Option<Template>,
    /// Run instead when the condition does not hold (`else:`).
    pub otherwise: Vec<Step>,
    /// What the step does.
    pub kind: StepKind,
    /// Where it is declared (its `id`).
    pub span: Span,
}

/// What a step does.
#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    /// An agent performs a task.
    Agent {
        /// The agent.
        agent: Name,
        /// The task, a template.
        task: Template,
        /// JSON Schema of the answer: it constrains decoding. An `enum` of texts with a
        /// tool-less agent is answered by classification (a Label parser).
        output: Option<Value>,
        /// A strategy for this step instead of the agent's.
        strategy: Option<Strategy>,
    },
    /// A tool is called directly.
    Tool {
        /// The tool.
        tool: Name,
        /// Its arguments; texts are templates.
        args: Value,
    },
    /// A value built from templates, with no side effect (`value:`): its output is
    /// `value` with every text rendered (a lone `{{ x }}` keeps `x`'s type).
    Value {
        /// The value; texts are templates.
        value: Value,
    },
    /// Steps run concurrently; the output maps each id to its output.
    Parallel {
        /// The concurrent steps.
        steps: Vec<Step>,
    },
    /// The body runs once per item; the output lists the last body step's outputs.
    ForEach {
        /// The list, a template (a single expression yielding a list).
        items: Template,
        /// The variable holding the current item (`item` by default).
        var: String,
        /// How many items run at once (1 by default).
        concurrency: usize,
        /// The body.
        steps: Vec<Step>,
    },
    /// The body runs until the condition holds, at most `max_iterations` times; the
    /// output is the last body step's output of the last iteration.
    Until {
        /// The stop condition, checked after each iteration.
        condition: Template,
        /// The most iterations.
        max_iterations: usize,
        /// The body.
        steps: Vec<Step>,
    },
}

impl Step {
    /// Steps nested in this one (body, branches), not recursively.
    pub fn children(&self) -> impl Iterator<Item = &Step> {
        let body: &[Step] = match &self.kind {
            StepKind::Parallel { steps }
            | StepKind::ForEach { steps, .. }
            | StepKind::Until { steps, .. } => steps,
            _ => &[],
        };
        body.iter().chain(self.otherwise.iter())
    }

    /// The kind's name, for messages and progress.
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            StepKind::Agent { .. } => "agent",
            StepKind::Tool { .. } => "tool",
            StepKind::Value { .. } => "value",
            StepKind::Parallel { .. } => "parallel",
            StepKind::ForEach { .. } => "for_each",
            StepKind::Until { .. } => "until",
        }
    }
}

#[cfg(test)]
mod tests {
    use agentry_core::agent::Agent;
    use agentry_core::defaults;

    use super::*;

    fn spec(role: Option<&str>, max_steps: Option<usize>) -> AgentSpec {
        AgentSpec {
            name: "writer".into(),
            role: role.map(str::to_owned),
            instructions: vec!["Be brief.".into()],
            tools: Vec::new(),
            model: None,
            strategy: Strategy::ChainOfThought,
            sampling: SamplingSpec {
                max_tokens: Some(64),
                ..SamplingSpec::default()
            },
            max_steps,
            tool_format: ToolFormat::Auto,
            span: Span::default(),
        }
    }

    #[test]
    fn an_agent_spec_sets_what_it_declares_and_the_shared_defaults_otherwise() {
        let base = || Agent::builder().role(defaults::ROLE);
        let plain = format!("{:?}", spec(None, None).configure(base()));
        assert!(plain.contains(defaults::ROLE), "{plain}");
        assert!(plain.contains("ChainOfThought"), "{plain}");
        assert!(
            plain.contains(&format!("max_steps: {}", defaults::MAX_STEPS)),
            "{plain}"
        );
        let own = format!("{:?}", spec(Some("You write."), Some(2)).configure(base()));
        assert!(own.contains("You write."), "{own}");
        assert!(!own.contains(defaults::ROLE), "{own}");
        assert!(own.contains("max_steps: 2"), "{own}");
    }
}
