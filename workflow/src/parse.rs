//! From the YAML tree to a [`Workflow`]: structure, keys and value types. References
//! between parts are checked afterwards, in [`super::validate`].

use std::path::PathBuf;

use marked_yaml::Node;
use marked_yaml::types::MarkedMappingNode;
use serde_json::Value;

use super::diagnostic::Diagnostic;
use super::source::{SourceText, Span};
use super::spec::{
    AgentSpec, InputSpec, InputType, MemoryLocation, MemorySpec, ModelChoice, Name, OutputSpec,
    PolicySpec, SamplingSpec, Step, StepKind, Template, ToolNames, Workflow,
};
use super::yaml::{Reader, closest, describe, to_json};
use agentry_core::plan::run::ToolFormat;
use agentry_core::plan::strategy::{DEFAULT_VOTES, Evaluator, Strategy};

const TOP_KEYS: &[&str] = &[
    "name",
    "description",
    "model",
    "models",
    "memory",
    "policy",
    "mcp",
    "inputs",
    "agents",
    "steps",
    "outputs",
];
const MODEL_KEYS: &[&str] = &[
    "spec",
    "ctx",
    "threads",
    "gpu_layers",
    "url",
    "name",
    "api_key_env",
    "lora",
];
const MEMORY_KEYS: &[&str] = &[
    "store",
    "path",
    "url",
    "api_key_env",
    "collection",
    "documents",
];
const POLICY_KEYS: &[&str] = &["approve", "act_on_untrusted"];
const INPUT_KEYS: &[&str] = &["type", "default", "description"];
const AGENT_KEYS: &[&str] = &[
    "role",
    "instructions",
    "tools",
    "model",
    "strategy",
    "sampling",
    "max_steps",
    "tool_format",
];
const SAMPLING_KEYS: &[&str] = &[
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "repeat_penalty",
    "max_tokens",
    "seed",
];
const STEP_KINDS: &[&str] = &["agent", "tool", "value", "parallel", "for_each", "until"];
const COMMON_STEP_KEYS: &[&str] = &["id", "if", "else"];
/// The strategy names accepted in YAML ([`Strategy::NAMES`]; the short aliases `cot`, `sc`
/// and `tot` are accepted too).
pub const STRATEGY_NAMES: &[&str] = Strategy::NAMES;

/// Reads the whole file; the problems found are in `reader.problems`.
mod mcp;
mod steps;
mod strategy;

use steps::steps;
pub(crate) use strategy::strategy;

pub(crate) fn workflow(
    reader: &mut Reader<'_>,
    root: &Node,
    source: &SourceText,
) -> Option<Workflow> {
    let map = reader.mapping(root, "a workflow file")?;
    let top = reader.span(root);
    if map.is_empty() {
        let start = source.span_at(1, 1, 1);
        reader.error(
            Diagnostic::at(start, "the workflow file is empty", "nothing here").with_help(
                "a workflow needs at least `name:`, `model:` and `steps:` \
                     (see examples/workflows/)",
            ),
        );
        return None;
    }
    reader.known_keys(map, TOP_KEYS, "the workflow");
    let name = reader
        .required_or(
            map,
            top,
            "name",
            "the workflow",
            "add e.g. `name: weekly-report`",
        )
        .and_then(|n| reader.string(n, "`name`"));
    let description = map
        .get_node("description")
        .and_then(|n| reader.string(n, "`description`"));
    let model = reader
        .required_or(
            map,
            top,
            "model",
            "the workflow",
            "add e.g. `model: smollm2-135m` (a registry name or a GGUF path)",
        )
        .and_then(|n| model(reader, n));
    let models = map
        .get_node("models")
        .map(|n| models(reader, n))
        .unwrap_or_default();
    let memory = map.get_node("memory").and_then(|n| memory(reader, n));
    let policy = map
        .get_node("policy")
        .and_then(|n| policy(reader, n))
        .unwrap_or_default();
    let mcp = map
        .get_node("mcp")
        .map(|n| mcp::mcp(reader, n))
        .unwrap_or_default();
    let inputs = map
        .get_node("inputs")
        .map(|n| inputs(reader, n))
        .unwrap_or_default();
    let agents = map
        .get_node("agents")
        .map(|n| agents(reader, n))
        .unwrap_or_default();
    let steps = match reader.required_or(
        map,
        top,
        "steps",
        "the workflow",
        "add `steps:` with at least one step (`- id: NAME` and what it does)",
    ) {
        Some(node) => {
            let steps = steps(reader, node, "`steps`");
            if steps.is_empty() && matches!(node, Node::Sequence(s) if s.is_empty()) {
                let span = reader.span(node);
                reader.error(Diagnostic::at(
                    span,
                    "`steps` is empty: a workflow needs at least one step",
                    "no steps",
                ));
            }
            steps
        }
        None => Vec::new(),
    };
    let outputs = map
        .get_node("outputs")
        .map(|n| outputs(reader, n))
        .unwrap_or_default();
    Some(Workflow {
        name: name.unwrap_or_default(),
        description,
        model: model.unwrap_or(ModelChoice {
            spec: String::new(),
            api_key_env: None,
            ctx: None,
            threads: None,
            gpu_layers: None,
            lora: None,
            span: top,
        }),
        models,
        memory,
        policy,
        mcp,
        inputs,
        agents,
        steps,
        outputs,
        source: source.clone(),
    })
}

/// `models:`: more models by name, each written like `model:`.
fn models(reader: &mut Reader<'_>, node: &Node) -> std::collections::BTreeMap<String, ModelChoice> {
    let mut out = std::collections::BTreeMap::new();
    let Some(map) = reader.mapping(node, "`models`") else {
        return out;
    };
    for (key, value) in map.iter() {
        let name = key.as_str().to_string();
        check_identifier(reader, &name, reader.key_span(key), "model name");
        if let Some(choice) = model(reader, value) {
            out.insert(name, choice);
        }
    }
    out
}

fn model(reader: &mut Reader<'_>, node: &Node) -> Option<ModelChoice> {
    let span = reader.span(node);
    if let Node::Scalar(_) = node {
        let spec = reader.string(node, "`model`")?;
        return Some(ModelChoice {
            spec,
            api_key_env: None,
            ctx: None,
            threads: None,
            gpu_layers: None,
            lora: None,
            span,
        });
    }
    let map = reader.mapping(node, "`model`")?;
    reader.known_keys_or(map, MODEL_KEYS, "`model`", |key| {
        matches!(key, "path" | "model" | "file")
            .then(|| "the model's registry name or GGUF path goes under `spec:`".to_string())
    });
    let spec = match (map.get_node("url"), map.get_node("spec")) {
        // A model on an OpenAI-compatible server: `url:` and `name:`.
        (Some(url), None) => {
            let url = reader.string(url, "`model.url`");
            let name = reader
                .required_or(
                    map,
                    span,
                    "name",
                    "`model` with `url`",
                    "name the model the server serves, e.g. `name: qwen2.5-coder`",
                )
                .and_then(|n| reader.string(n, "`model.name`"));
            format!("openai:{}#{}", url?, name?)
        }
        (Some(url), Some(_)) => {
            reader.error(Diagnostic::at(
                reader.span(url),
                "`model` has both `url` and `spec`".to_string(),
                "a remote model is `url:` + `name:`; a local one is `spec:`".to_string(),
            ));
            return None;
        }
        (None, _) => {
            if let Some(name) = map.get_node("name") {
                let mut problem = Diagnostic::at(
                    reader.span(name),
                    "`model.name` without `url`".to_string(),
                    "names a model on a server, but no `url:`".to_string(),
                );
                problem.help = Some(
                    "a local model's registry name or GGUF path goes under `spec:`; `name:` goes with `url:` for a model on an OpenAI-compatible server".to_string(),
                );
                reader.error(problem);
                return None;
            }
            reader
                .required(map, span, "spec", "`model`")
                .and_then(|n| reader.string(n, "`model.spec`"))?
        }
    };
    let api_key_env = map
        .get_node("api_key_env")
        .and_then(|n| reader.string(n, "`model.api_key_env`"));
    let ctx = map
        .get_node("ctx")
        .and_then(|n| reader.integer(n, "`model.ctx`", 256, 1 << 20))
        .map(|v| v as u32);
    let threads = map
        .get_node("threads")
        .and_then(|n| reader.integer(n, "`model.threads`", 1, 1024))
        .map(|v| v as usize);
    let gpu_layers = map
        .get_node("gpu_layers")
        .and_then(|n| reader.integer(n, "`model.gpu_layers`", 0, 10_000))
        .map(|v| v as u32);
    let lora = map
        .get_node("lora")
        .and_then(|n| reader.string(n, "`model.lora`"))
        .map(PathBuf::from);
    Some(ModelChoice {
        spec,
        api_key_env,
        ctx,
        threads,
        gpu_layers,
        lora,
        span,
    })
}

fn policy(reader: &mut Reader<'_>, node: &Node) -> Option<PolicySpec> {
    let map = reader.mapping(node, "`policy`")?;
    reader.known_keys(map, POLICY_KEYS, "`policy`");
    let names = |reader: &mut Reader<'_>, key: &str| {
        map.get_node(key)
            .map(|n| tool_names(reader, n, &format!("`policy.{key}`")))
            .unwrap_or_default()
    };
    let approve = names(reader, "approve");
    let act_on_untrusted = names(reader, "act_on_untrusted");
    Some(PolicySpec {
        approve,
        act_on_untrusted,
    })
}

/// A list of tool names, or `all`.
fn tool_names(reader: &mut Reader<'_>, node: &Node, what: &str) -> ToolNames {
    if let Node::Scalar(scalar) = node
        && scalar.as_str() == "all"
    {
        return ToolNames::All;
    }
    if let Node::Scalar(_) = node {
        let span = reader.span(node);
        reader.error(
            Diagnostic::at(
                span,
                format!("{what} must be a list of tool names or `all`"),
                "here",
            )
            .with_help("e.g. `[write_file, http_get]`, or `all`"),
        );
        return ToolNames::default();
    }
    ToolNames::Named(
        reader
            .strings(node, what)
            .into_iter()
            .map(|(name, span)| Name { name, span })
            .collect(),
    )
}

fn memory(reader: &mut Reader<'_>, node: &Node) -> Option<MemorySpec> {
    let span = reader.span(node);
    let map = reader.mapping(node, "`memory`")?;
    reader.known_keys(map, MEMORY_KEYS, "`memory`");
    let location = memory_location(reader, map);
    let collection = map
        .get_node("collection")
        .and_then(|n| reader.string(n, "`memory.collection`"));
    let documents = map
        .get_node("documents")
        .map(|n| reader.strings(n, "`memory.documents`"))
        .unwrap_or_default()
        .into_iter()
        .map(|(p, _)| PathBuf::from(p))
        .collect();
    Some(MemorySpec {
        location,
        collection,
        documents,
        span,
    })
}

/// `store`, `path`, `url` and `api_key_env` of a `memory` section: a folder
/// (`store: embedded`, the default) or a Qdrant server (`url:`, `store: qdrant`).
fn memory_location(reader: &mut Reader<'_>, map: &MarkedMappingNode) -> MemoryLocation {
    let text = |reader: &mut Reader<'_>, key: &str| {
        map.get_node(key).and_then(|n| {
            reader
                .string(n, &format!("`memory.{key}`"))
                .map(|s| (s, reader.span(n)))
        })
    };
    let store = text(reader, "store");
    let path = text(reader, "path");
    let url = text(reader, "url");
    let api_key_env = text(reader, "api_key_env");
    if let Some((kind, at)) = &store
        && kind != "embedded"
        && kind != "qdrant"
    {
        reader.error(
            Diagnostic::at(
                *at,
                format!("unknown memory store `{kind}`"),
                "unknown store",
            )
            .with_help(
                "`store: embedded` (a folder, `path:`) or `store: qdrant` (a server, `url:`)",
            ),
        );
    }
    let wants_server = url.is_some() || store.as_ref().is_some_and(|(k, _)| k == "qdrant");
    if let (Some((_, at)), Some(_)) = (&path, &url) {
        reader.error(
            Diagnostic::at(*at, "`memory` has both `path` and `url`", "a folder here")
                .with_help("a folder (`path:`) or a Qdrant server (`url:`), not both"),
        );
    }
    if let Some((kind, at)) = &store {
        if kind == "embedded" && url.is_some() {
            reader.error(
                Diagnostic::at(*at, "`store: embedded` with a `url`", "embedded store")
                    .with_help("a server is `store: qdrant` (or leave `store` out)"),
            );
        }
        if kind == "qdrant" && url.is_none() {
            reader.error(
                Diagnostic::at(*at, "`store: qdrant` needs a `url`", "no url")
                    .with_help("e.g. `url: http://127.0.0.1:6334` (the server's gRPC port)"),
            );
        }
    }
    if let Some((u, at)) = &url
        && !(u.starts_with("http://") || u.starts_with("https://"))
    {
        reader.error(
            Diagnostic::at(
                *at,
                format!("memory url `{u}` is not an http:// or https:// URL"),
                "not a URL",
            )
            .with_help("e.g. `url: http://127.0.0.1:6334` (the server's gRPC port)"),
        );
    }
    if let Some((var, at)) = &api_key_env {
        let valid = var
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            reader.error(Diagnostic::at(
                *at,
                format!("`{var}` is not an environment variable name"),
                "letters, digits and `_`",
            ));
        }
        if !wants_server {
            reader.error(
                Diagnostic::at(*at, "`api_key_env` without a `url`", "for a server only")
                    .with_help("the embedded store needs no key"),
            );
        }
    }
    match url {
        Some((url, _)) => MemoryLocation::Server {
            url,
            api_key_env: api_key_env.map(|(v, _)| v),
        },
        None => MemoryLocation::Folder(path.map_or_else(
            || PathBuf::from(".agentry/memory"),
            |(p, _)| PathBuf::from(p),
        )),
    }
}

fn inputs(reader: &mut Reader<'_>, node: &Node) -> Vec<InputSpec> {
    let Some(map) = reader.mapping(node, "`inputs`") else {
        reader.notes.all_inputs = true;
        return Vec::new();
    };
    let mut out = Vec::new();
    for (key, value) in map.iter() {
        let name = key.as_str().to_string();
        let span = reader.key_span(key);
        check_identifier(reader, &name, span, "input name");
        let what = format!("input `{name}`");
        let (type_node, spec_map) = match value {
            Node::Scalar(_) => (Some(value), None),
            Node::Mapping(m) => {
                reader.known_keys(m, INPUT_KEYS, &what);
                (reader.required(m, span, "type", &what), Some(m))
            }
            Node::Sequence(_) => {
                let at = reader.span(value);
                reader.error(Diagnostic::at(
                    at,
                    format!("{what} must be a type name or a mapping with `type`, found a list"),
                    "expected `{ type: string }`",
                ));
                reader.notes.inputs.insert(name);
                continue;
            }
        };
        let type_name = type_node.and_then(|n| reader.string(n, &format!("the type of {what}")));
        let (Some(type_node), Some(type_name)) = (type_node, type_name) else {
            reader.notes.inputs.insert(name);
            continue;
        };
        let Some(kind) = InputType::from_name(&type_name) else {
            let at = reader.span(type_node);
            let mut d = Diagnostic::at(
                at,
                format!("unknown type `{type_name}` for {what}"),
                "unknown type",
            );
            d = match closest(&type_name, InputType::NAMES.iter().copied()) {
                Some(best) => d.with_help(format!("did you mean `{best}`?")),
                None => d.with_help(format!("types: {}", InputType::NAMES.join(", "))),
            };
            reader.error(d);
            reader.notes.inputs.insert(name);
            continue;
        };
        let mut default = None;
        let mut description = None;
        if let Some(m) = spec_map {
            if let Some(d) = m.get_node("default") {
                let value = to_json(d);
                let value = coerce_input(kind, value);
                if kind.accepts(&value) {
                    default = Some(value);
                } else {
                    let at = reader.span(d);
                    let mut problem = Diagnostic::at(
                        at,
                        format!(
                            "the default of {what} must be of type {}, found {}",
                            kind.name(),
                            describe(d)
                        ),
                        format!("not {}", a_type(kind)),
                    );
                    // `"50"` for an integer: right but for the quotes.
                    if let Node::Scalar(s) = d
                        && !s.may_coerce()
                    {
                        let mut plain = s.clone();
                        plain.set_coerce(true);
                        if kind.accepts(&to_json(&Node::Scalar(plain))) {
                            problem = problem
                                .with_help("quoted values are text: write it without quotes");
                        }
                    }
                    reader.error(problem);
                }
            }
            description = m
                .get_node("description")
                .and_then(|n| reader.string(n, "`description`"));
        }
        out.push(InputSpec {
            name,
            kind,
            default,
            description,
            span,
        });
    }
    out
}

/// A number written where a text is expected is that text.
fn coerce_input(kind: InputType, value: Value) -> Value {
    match (kind, &value) {
        (InputType::String, Value::Number(n)) => Value::String(n.to_string()),
        (InputType::String, Value::Bool(b)) => Value::String(b.to_string()),
        _ => value,
    }
}

fn agents(reader: &mut Reader<'_>, node: &Node) -> Vec<AgentSpec> {
    let Some(map) = reader.mapping(node, "`agents`") else {
        reader.notes.all_agents = true;
        return Vec::new();
    };
    let mut out = Vec::new();
    for (key, value) in map.iter() {
        let name = key.as_str().to_string();
        let span = reader.key_span(key);
        check_identifier(reader, &name, span, "agent name");
        let what = format!("agent `{name}`");
        let Some(m) = reader.mapping(value, &what) else {
            reader.notes.agents.insert(name);
            continue;
        };
        reader.known_keys_or(m, AGENT_KEYS, &what, |key| {
            SAMPLING_KEYS.contains(&key).then(|| {
                format!("`{key}` is a sampling setting: put it under `sampling:` (e.g. `sampling: {{ {key}: ... }}`)")
            })
        });
        let role = m
            .get_node("role")
            .and_then(|n| reader.string(n, &format!("the role of {what}")));
        let instructions = m
            .get_node("instructions")
            .map(|n| reader.strings(n, &format!("the instructions of {what}")))
            .unwrap_or_default()
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        let tools = m
            .get_node("tools")
            .map(|n| reader.strings(n, &format!("the tools of {what}")))
            .unwrap_or_default()
            .into_iter()
            .map(|(name, span)| Name { name, span })
            .collect();
        let model = m.get_node("model").and_then(|n| {
            let span = reader.span(n);
            reader
                .string(n, &format!("the model of {what}"))
                .map(|name| Name { name, span })
        });
        let strategy = m
            .get_node("strategy")
            .and_then(|n| strategy(reader, n))
            .unwrap_or_default();
        let sampling = m
            .get_node("sampling")
            .map(|n| sampling(reader, n, &what))
            .unwrap_or_default();
        let max_steps = m
            .get_node("max_steps")
            .and_then(|n| reader.integer(n, "`max_steps`", 1, 1000))
            .map(|v| v as usize);
        let tool_format = m
            .get_node("tool_format")
            .and_then(|n| tool_format(reader, n))
            .unwrap_or_default();
        out.push(AgentSpec {
            name,
            role,
            instructions,
            tools,
            model,
            strategy,
            sampling,
            max_steps,
            tool_format,
            span,
        });
    }
    out
}

/// `tool_format:` of an agent: `auto`, `json` or `native`.
fn tool_format(reader: &mut Reader<'_>, node: &Node) -> Option<ToolFormat> {
    let text = reader.string(node, "`tool_format`")?;
    match text.parse::<ToolFormat>() {
        Ok(format) => Some(format),
        Err(message) => {
            let span = reader.span(node);
            reader.error(Diagnostic::at(
                span,
                message,
                "expected auto, json or native",
            ));
            None
        }
    }
}

fn sampling(reader: &mut Reader<'_>, node: &Node, owner: &str) -> SamplingSpec {
    let what = format!("the sampling of {owner}");
    let Some(m) = reader.mapping(node, &what) else {
        return SamplingSpec::default();
    };
    reader.known_keys(m, SAMPLING_KEYS, &what);
    let f = |reader: &mut Reader<'_>, key: &str, min: f64, max: f64| {
        m.get_node(key)
            .and_then(|n| reader.number(n, &format!("`{key}`"), min, max))
            .map(|v| v as f32)
    };
    SamplingSpec {
        temperature: f(reader, "temperature", 0.0, 5.0),
        top_p: f(reader, "top_p", 0.0, 1.0),
        min_p: f(reader, "min_p", 0.0, 1.0),
        repeat_penalty: f(reader, "repeat_penalty", 0.0, 5.0),
        top_k: m
            .get_node("top_k")
            .and_then(|n| reader.integer(n, "`top_k`", 0, 100_000))
            .map(|v| v as i32),
        max_tokens: m
            .get_node("max_tokens")
            .and_then(|n| reader.integer(n, "`max_tokens`", 1, 1 << 20))
            .map(|v| v as usize),
        seed: m
            .get_node("seed")
            .and_then(|n| reader.integer(n, "`seed`", 0, u64::from(u32::MAX)))
            .map(|v| v as u32),
    }
}

fn template(reader: &mut Reader<'_>, node: &Node, what: &str) -> Option<Template> {
    let span = reader.span(node);
    reader
        .string(node, what)
        .map(|text| Template { text, span })
}

fn outputs(reader: &mut Reader<'_>, node: &Node) -> Vec<OutputSpec> {
    let Some(map) = reader.mapping(node, "`outputs`") else {
        return Vec::new();
    };
    map.iter()
        .filter_map(|(key, value)| {
            let name = key.as_str().to_string();
            let what = format!("output `{name}`");
            template(reader, value, &what).map(|template| OutputSpec { name, template })
        })
        .collect()
}

/// Names used in templates must be plain identifiers (`steps.NAME.output`).
fn check_identifier(reader: &mut Reader<'_>, name: &str, span: Span, what: &str) {
    if !is_identifier(name) {
        let fixed = plain_name(name);
        let used = match what {
            "step id" => format!("`steps.{fixed}.output`"),
            "input name" => format!("`inputs.{fixed}`"),
            "agent name" => format!("`agent: {fixed}`"),
            _ => format!("`{{{{ {fixed} }}}}`"),
        };
        reader.error(
            Diagnostic::at(
                span,
                format!("`{name}` is not a valid {what}"),
                "letters, digits and `_` only, not starting with a digit",
            )
            .with_help(format!("rename it e.g. `{fixed}`; it is used as {used}")),
        );
    }
}

/// `name` made a valid identifier (other characters become `_`).
pub(crate) fn plain_name(name: &str) -> String {
    let mut fixed: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if !fixed.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        fixed.insert(0, '_');
    }
    fixed
}

/// Whether `name` can be written in a template (`steps.NAME.output`).
pub(crate) fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// "a string", "an integer", ...
fn a_type(kind: InputType) -> String {
    let name = kind.name();
    let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {name}")
}

/// Records where each text in a tool step's `args` is written (texts are templates,
/// checked later).
fn note_args(reader: &mut Reader<'_>, id: &str, node: &Node) {
    match node {
        Node::Scalar(s) => {
            let span = reader.span(node);
            reader
                .notes
                .args
                .entry((id.to_string(), s.as_str().to_string()))
                .or_insert(span);
        }
        Node::Sequence(items) => items.iter().for_each(|n| note_args(reader, id, n)),
        Node::Mapping(map) => map.values().for_each(|n| note_args(reader, id, n)),
    }
}

const JSON_TYPES: &[&str] = &[
    "string", "number", "integer", "boolean", "array", "object", "null",
];

/// Checks an `output` JSON Schema, pointing at the part that is wrong.
fn output_schema(reader: &mut Reader<'_>, node: &Node, label: &str) {
    let schema = to_json(node);
    let Err(error) = jsonschema::validator_for(&schema) else {
        return;
    };
    // The error's place in the schema, as a JSON pointer.
    let mut target = node;
    let mut last = None;
    for segment in error.instance_path().as_str().split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        let next = match target {
            Node::Mapping(m) => m.get_node(segment.as_str()),
            Node::Sequence(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
            Node::Scalar(_) => None,
        };
        let Some(next) = next else { break };
        target = next;
        last = Some(segment);
    }
    let span = reader.span(target);
    let wrong_type = match (last.as_deref(), target) {
        (Some("type"), Node::Scalar(s)) if !JSON_TYPES.contains(&s.as_str()) => Some(s.as_str()),
        _ => None,
    };
    let diagnostic = match wrong_type {
        Some(name) => {
            let d = Diagnostic::at(
                span,
                format!("the `output` schema of {label} has an unknown type `{name}`"),
                "not a JSON Schema type",
            );
            let prefix = JSON_TYPES.iter().copied().find(|t| t.starts_with(name));
            match prefix.or_else(|| closest(name, JSON_TYPES.iter().copied())) {
                Some(best) => d.with_help(format!("did you mean `{best}`?")),
                None => d.with_help(format!("JSON Schema types: {}", JSON_TYPES.join(", "))),
            }
        }
        None => Diagnostic::at(
            span,
            format!("the `output` schema of {label} is not a valid JSON Schema: {error}"),
            "here",
        )
        .with_help("`output` is a JSON Schema, e.g. `{ type: object, properties: { name: { type: string } } }`"),
    };
    reader.error(diagnostic);
}

#[cfg(test)]
mod remote_model_tests {
    fn flow(model: &str) -> String {
        format!(
            "name: remote\n{model}\nagents:\n  a:\n    role: helper\nsteps:\n  - id: s\n    agent: a\n    task: hi\n"
        )
    }

    #[test]
    fn a_model_on_a_server_is_url_and_name() {
        let text =
            flow("model:\n  url: http://127.0.0.1:8080/v1\n  name: qwen\n  api_key_env: MY_KEY");
        let parsed = crate::parse("remote.yaml", &text, &[]).unwrap();
        assert_eq!(parsed.model.spec, "openai:http://127.0.0.1:8080/v1#qwen");
        assert_eq!(parsed.model.api_key_env.as_deref(), Some("MY_KEY"));

        let spec =
            crate::parse("remote.yaml", &flow("model: openai:http://h:1/v1#m"), &[]).unwrap();
        assert_eq!(spec.model.spec, "openai:http://h:1/v1#m");
        assert_eq!(spec.model.api_key_env, None);
    }

    #[test]
    fn a_half_remote_model_is_refused_with_what_is_missing() {
        let cases = [
            ("model:\n  url: http://h/v1", "is missing `name`"),
            ("model:\n  name: qwen", "`model.name` without `url`"),
            (
                "model:\n  url: http://h/v1\n  name: q\n  spec: smollm2-135m",
                "both `url` and `spec`",
            ),
        ];
        for (model, says) in cases {
            let problems = crate::parse("remote.yaml", &flow(model), &[]).unwrap_err();
            let text = format!("{problems:?}");
            assert!(text.contains(says), "{model}: {text}");
        }
    }
}
