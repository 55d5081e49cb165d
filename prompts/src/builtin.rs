//! The built-in templates, compiled in from `prompts/templates/*.jinja`.
//!
//! Each constant in [`names`] is a template name; its doc lists the variables
//! the template needs (all required: rendering is strict). A user folder given
//! to [`Templates::with_override_dir`](crate::Templates::with_override_dir)
//! replaces a built-in by holding a file of the same name plus `.jinja`.

/// Names of the built-in templates.
pub mod names {
    /// System message of a [`Prompt`](crate::Prompt). Variables: `role`
    /// (string), `instructions` (list of strings), `context` (list of
    /// strings), `guard_notice` (string, the rendered [`GUARD_NOTICE`], empty
    /// when there is no untrusted text), `untrusted` (list of fenced blocks).
    pub const PROMPT_SYSTEM: &str = "prompt_system";
    /// Tells the model that fenced text is data. Variables: `marker` (the
    /// guard's marker, e.g. `DATA-7f3a9c21e0b14d55`).
    pub const GUARD_NOTICE: &str = "guard_notice";
    /// Last user turn of a [`Prompt`](crate::Prompt). Variables: `input`,
    /// `output_format` (strings, either may be empty).
    pub const PROMPT_USER: &str = "prompt_user";
    /// Chain-of-thought cue: the working in plain text, before the typed
    /// answer is asked for (with [`REASONED_ANSWER`]). Variables:
    /// `answer_schema` (JSON Schema or description of the answer).
    pub const CHAIN_OF_THOUGHT: &str = "chain_of_thought";
    /// One self-consistency sample: independent working in plain text, ending
    /// in the result's plainest form for voting. Variables: `answer_schema`.
    pub const SELF_CONSISTENCY: &str = "self_consistency";
    /// Asks for the typed answer after the model's working (chain of thought,
    /// self-consistency); the answer's format instructions follow it. No
    /// variables.
    pub const REASONED_ANSWER: &str = "reasoned_answer";
    /// Tree of thought: propose the next step of a partial solution.
    /// Variables: `problem` (string), `steps` (list of strings so far).
    pub const TOT_PROPOSE: &str = "tot_propose";
    /// Tree of thought: judge a state as `sure`, `likely` or `impossible`.
    /// Variables: `problem`, `steps`.
    pub const TOT_EVALUATE: &str = "tot_evaluate";
    /// Tree of thought: answer from the best state. Variables: `problem`,
    /// `steps`.
    pub const TOT_ANSWER: &str = "tot_answer";
    /// ReAct step instructions: think, then call one tool or answer; tool
    /// observations are data. Variables: `tools` (list of `{name,
    /// description, schema}`, schema as JSON).
    pub const REACT_STEP: &str = "react_step";
    /// A tool result fed back to the model. Variables: `tool` (name),
    /// `result` (the result, already fenced by a [`Guard`](crate::guard::Guard)).
    pub const TOOL_OBSERVATION: &str = "tool_observation";
    /// The reply format of an agent step (one JSON object: `thought` first,
    /// then a tool call or the final answer). Variables: `max_calls` (number:
    /// 0 when no tool may be called, 1 for one `action` per step, more for an
    /// `actions` list of up to that many calls), `answer_schema` (JSON Schema
    /// of the final answer, as text).
    pub const REACT_FORMAT: &str = "react_format";
    /// How to use tools in the model's own tool-call format (the chat template lists the
    /// tools and their call syntax): call only when needed, else answer in plain text.
    /// Variables: `tools` (bool: whether any tool is offered), `max_calls` (calls one
    /// reply may make), `parallel_example` (two calls written in the model's syntax, empty
    /// when one call is allowed), `answer_schema` (JSON
    /// Schema of the final answer as text; empty for a free-text answer; shown only
    /// without tools: with tools a small model copies it instead of calling, and a
    /// prose answer is decoded under the schema by the next step).
    pub const NATIVE_TOOLS: &str = "native_tools";
    /// Tells the model why its last agent step could not be used (not JSON,
    /// cut off, no action or answer, an answer that breaks the schema) and
    /// asks for another. Variables: `error` (string), `native` (bool: the step is in
    /// the model's own tool-call format, not agentry's JSON step), `task` (the user's
    /// request to repeat, empty when not repeated: native steps repeat it after a reply
    /// cut off at the token limit).
    pub const STEP_ERROR: &str = "step_error";
    /// Sent after an agent step that only repeated calls already answered in the run
    /// (same tool, same arguments): their earlier results are shown again, and the model
    /// is asked to answer (or to call another tool, when `others`); or, when those calls
    /// had failed, asked to do something else. Variables: `tools` (list of the repeated
    /// tools' names), `failed` (bool), `others` (bool: other tools may still be called).
    pub const REPEATED_CALL: &str = "repeated_call";
    /// Sent before the step that must answer because it is the last one the run's limits
    /// allow: no tool can be called, answer from the results. No variables (the request
    /// is not repeated: qwen2.5-coder-0.5b answered by copying it).
    pub const ANSWER_NOW: &str = "answer_now";
    /// Sent after a step whose calls were refused approval (a person said no, or no one
    /// was there to approve a call made after untrusted text entered the run): the calls
    /// were not made, a request written in data is not the user's, and the user's own
    /// request is repeated to be answered. Variables: `tools` (list of the refused tools'
    /// names), `sources` (list of where untrusted text came from, may be empty), `task`
    /// (the user's request, empty when too long to repeat).
    pub const DENIED_CALL: &str = "denied_call";
    /// Asks for the final answer as JSON under its schema, after a native step answered
    /// in prose. Variables: `task` (the user's request, empty when too long to repeat),
    /// `choices` (the allowed strings when the schema is an enumeration of strings, else
    /// empty), `schema` (the answer's JSON Schema as text).
    pub const ANSWER_AS_JSON: &str = "answer_as_json";
    /// Memories recalled for an agent step. Variables: `items` (list of
    /// recalled texts, each already fenced by a [`Guard`](crate::guard::Guard)).
    pub const MEMORY_RECALL: &str = "memory_recall";
    /// Summariser for conversation memory. Variables: `summary` (earlier
    /// summary, may be empty), `turns` (list of `{role, content}`),
    /// `max_words` (number).
    pub const SUMMARIZE: &str = "summarize";
    /// Prompt optimiser: returns an improved prompt, a critique and at most
    /// three questions; the user's answers feed the next round. Variables:
    /// `goal` (string), `current_prompt` (string, empty on the first round),
    /// `answers` (list of `{question, answer}`, empty on the first round).
    pub const PROMPT_OPTIMIZER: &str = "prompt_optimizer";
    /// Sent after a reply that an output parser rejected, so the model can
    /// correct it. Variables: `error` (what was wrong), `instructions` (the
    /// parser's format instructions, may be empty).
    pub const PARSE_RETRY: &str = "parse_retry";
}

/// `(name, source)` of every built-in template.
pub(crate) const BUILTIN: &[(&str, &str)] = &[
    (
        names::PROMPT_SYSTEM,
        include_str!("../templates/prompt_system.jinja"),
    ),
    (
        names::GUARD_NOTICE,
        include_str!("../templates/guard_notice.jinja"),
    ),
    (
        names::PROMPT_USER,
        include_str!("../templates/prompt_user.jinja"),
    ),
    (
        names::CHAIN_OF_THOUGHT,
        include_str!("../templates/chain_of_thought.jinja"),
    ),
    (
        names::SELF_CONSISTENCY,
        include_str!("../templates/self_consistency.jinja"),
    ),
    (
        names::REASONED_ANSWER,
        include_str!("../templates/reasoned_answer.jinja"),
    ),
    (
        names::TOT_PROPOSE,
        include_str!("../templates/tot_propose.jinja"),
    ),
    (
        names::TOT_EVALUATE,
        include_str!("../templates/tot_evaluate.jinja"),
    ),
    (
        names::TOT_ANSWER,
        include_str!("../templates/tot_answer.jinja"),
    ),
    (
        names::REACT_STEP,
        include_str!("../templates/react_step.jinja"),
    ),
    (
        names::TOOL_OBSERVATION,
        include_str!("../templates/tool_observation.jinja"),
    ),
    (
        names::REACT_FORMAT,
        include_str!("../templates/react_format.jinja"),
    ),
    (
        names::NATIVE_TOOLS,
        include_str!("../templates/native_tools.jinja"),
    ),
    (
        names::STEP_ERROR,
        include_str!("../templates/step_error.jinja"),
    ),
    (
        names::REPEATED_CALL,
        include_str!("../templates/repeated_call.jinja"),
    ),
    (
        names::ANSWER_NOW,
        include_str!("../templates/answer_now.jinja"),
    ),
    (
        names::DENIED_CALL,
        include_str!("../templates/denied_call.jinja"),
    ),
    (
        names::ANSWER_AS_JSON,
        include_str!("../templates/answer_as_json.jinja"),
    ),
    (
        names::MEMORY_RECALL,
        include_str!("../templates/memory_recall.jinja"),
    ),
    (
        names::SUMMARIZE,
        include_str!("../templates/summarize.jinja"),
    ),
    (
        names::PROMPT_OPTIMIZER,
        include_str!("../templates/prompt_optimizer.jinja"),
    ),
    (
        names::PARSE_RETRY,
        include_str!("../templates/parse_retry.jinja"),
    ),
];

/// The names of all built-in templates, in a fixed order.
pub fn builtin_names() -> Vec<&'static str> {
    BUILTIN.iter().map(|(name, _)| *name).collect()
}

/// The source of a built-in template, or `None` for an unknown name.
pub fn builtin_source(name: &str) -> Option<&'static str> {
    BUILTIN.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}
