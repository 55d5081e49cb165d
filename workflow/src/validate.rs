//! Checks across the parts of a workflow: references to agents, tools, inputs and steps,
//! templates that compile, output schemas, and steps that would use what has not run.

use std::collections::{BTreeMap, BTreeSet};

use minijinja::Environment;
use serde_json::Value;

use super::diagnostic::Diagnostic;
use super::parse::{is_identifier, plain_name};
use super::source::Span;
use super::spec::{Step, StepKind, Template, ToolNames, Workflow};
use super::template::{self, Mode, TemplateError};
use super::yaml::{Notes, closest};

/// Every problem in `workflow`'s references; `tools` names the tools a run can provide;
/// `notes` says what reading the file left out (uses of those are not reported again).
pub(crate) fn check(workflow: &Workflow, tools: &[&str], notes: &Notes) -> Vec<Diagnostic> {
    let mut checker = Checker {
        workflow,
        tools,
        notes,
        loop_vars: BTreeMap::new(),
        env: template::environment(),
        problems: Vec::new(),
        ids: BTreeMap::new(),
        refs: BTreeMap::new(),
        groups: BTreeMap::new(),
    };
    checker.collect_ids(&workflow.steps, None);
    checker.collect_refs(&workflow.steps);
    checker.agents();
    let mut scope = Scope::default();
    checker.steps(&workflow.steps, &mut scope);
    for output in &workflow.outputs {
        checker.template(&output.template, Mode::Text, &scope, None, "output");
    }
    checker.problems
}

/// What a template may read at one point of the run.
#[derive(Debug, Clone, Default)]
struct Scope {
    /// Steps that have run by then.
    done: BTreeSet<String>,
    /// Loop variables (and `loop`).
    vars: Vec<String>,
}

struct Checker<'w> {
    workflow: &'w Workflow,
    tools: &'w [&'w str],
    notes: &'w Notes,
    /// Each `for_each` loop variable and the step that defines it.
    loop_vars: BTreeMap<String, String>,
    env: Environment<'w>,
    problems: Vec<Diagnostic>,
    /// Every step id and where it is.
    ids: BTreeMap<String, Span>,
    /// The steps each step's templates refer to (its nested steps' included).
    refs: BTreeMap<String, BTreeSet<String>>,
    /// For steps inside `parallel`, the id of the parallel step.
    groups: BTreeMap<String, String>,
}

impl<'w> Checker<'w> {
    fn collect_ids(&mut self, steps: &'w [Step], group: Option<&str>) {
        for step in steps {
            if let Some(first) = self.ids.get(&step.id) {
                self.problems.push(
                    Diagnostic::at(
                        step.span,
                        format!(
                            "duplicate step id `{}` (first used at line {})",
                            step.id, first.line
                        ),
                        "used again here",
                    )
                    .with_help(
                        "step ids are unique in the whole workflow, nested steps included: \
                         rename one",
                    ),
                );
            } else {
                self.ids.insert(step.id.clone(), step.span);
            }
            if let Some(group) = group {
                self.groups.insert(step.id.clone(), group.to_string());
            }
            if let StepKind::ForEach { var, .. } = &step.kind {
                self.loop_vars
                    .entry(var.clone())
                    .or_insert_with(|| step.id.clone());
            }
            let inner_group =
                matches!(step.kind, StepKind::Parallel { .. }).then_some(step.id.as_str());
            let children: Vec<&'w Step> = step.children().collect();
            for child in children {
                self.collect_ids(std::slice::from_ref(child), inner_group);
            }
        }
    }

    fn collect_refs(&mut self, steps: &'w [Step]) {
        for step in steps {
            let mut found = BTreeSet::new();
            for (template, mode) in templates_of(step, true) {
                if let Ok(vars) = template::variables(&self.env, &template.text, mode) {
                    found.extend(vars.iter().filter_map(|v| step_of(v)));
                }
            }
            found.remove(&step.id);
            self.refs.insert(step.id.clone(), found);
            let children: Vec<&'w Step> = step.children().collect();
            for child in children {
                self.collect_refs(std::slice::from_ref(child));
            }
        }
    }

    fn agents(&mut self) {
        for agent in &self.workflow.agents {
            for tool in &agent.tools {
                self.tool(&tool.name, tool.span);
            }
            if let Some(model) = &agent.model
                && !self.workflow.models.contains_key(&model.name)
            {
                let names = self.workflow.models.keys().map(String::as_str);
                let mut d = Diagnostic::at(
                    model.span,
                    format!("unknown model `{}`", model.name),
                    "not defined under `models`",
                );
                d = match closest(&model.name, names) {
                    Some(best) => d.with_help(format!("did you mean `{best}`?")),
                    None => d.with_help(format!(
                        "declare it under `models:` (e.g. `models: {{ {}: smollm2-135m }}`), \
                         or drop `model:` to use the workflow's `model`",
                        model.name
                    )),
                };
                self.problems.push(d);
            }
        }
        // A model spec may read the inputs (`{{ inputs.teacher }}`), nothing else.
        let choices = std::iter::once(&self.workflow.model).chain(self.workflow.models.values());
        for choice in choices {
            if !choice.spec.contains("{{") && !choice.spec.contains("{%") {
                continue;
            }
            let t = Template {
                text: choice.spec.clone(),
                span: choice.span,
            };
            match template::variables(&self.env, &t.text, Mode::Text) {
                Ok(vars) => {
                    if let Some(other) = vars.iter().find(|v| v.split('.').next() != Some("inputs"))
                    {
                        self.problems.push(
                            Diagnostic::at(
                                t.span,
                                format!("a model spec reads `{other}`"),
                                "only inputs are known before the models load",
                            )
                            .with_help("a model spec may read `inputs.NAME` only"),
                        );
                    } else {
                        self.references(&t, &vars, &Scope::default(), None);
                    }
                }
                Err(error) => self.template_error(&t, &error, "the model spec"),
            }
        }
        let policy = &self.workflow.policy;
        for names in [&policy.approve, &policy.act_on_untrusted] {
            if let ToolNames::Named(names) = names {
                for name in names {
                    self.tool(&name.name, name.span);
                }
            }
        }
    }

    fn tool(&mut self, name: &str, span: Span) {
        if self.tools.contains(&name) {
            return;
        }
        // A server's tools are known once it runs; the run checks that this one exists.
        if let Some((server, tool)) = name.split_once("__") {
            if self.workflow.mcp.iter().any(|s| s.name == server) && !tool.is_empty() {
                return;
            }
            let declared: Vec<&str> = self.workflow.mcp.iter().map(|s| s.name.as_str()).collect();
            let help = if declared.is_empty() {
                format!(
                    "declare the server under `mcp:` (e.g. `mcp: {{ {server}: {{ command: ... }} }}`)"
                )
            } else {
                format!("MCP servers declared under `mcp:`: {}", declared.join(", "))
            };
            self.problems.push(
                Diagnostic::at(
                    span,
                    format!("unknown tool `{name}`: no MCP server `{server}`"),
                    "no such server",
                )
                .with_help(help),
            );
            return;
        }
        let mut d = Diagnostic::at(span, format!("unknown tool `{name}`"), "no such tool");
        d = match closest(name, self.tools.iter().copied()) {
            Some(best) => d.with_help(format!("did you mean `{best}`?")),
            None => d.with_help(format!("tools: {}", self.tools.join(", "))),
        };
        self.problems.push(d);
    }

    fn steps(&mut self, steps: &'w [Step], scope: &mut Scope) {
        for step in steps {
            self.step(step, scope);
        }
    }

    fn step(&mut self, step: &'w Step, scope: &mut Scope) {
        let here = Some(step.id.as_str());
        if let Some(condition) = &step.condition {
            self.template(condition, Mode::Expression, scope, here, "condition");
        }
        match &step.kind {
            StepKind::Agent { agent, task, .. } => {
                let left_out = self.notes.all_agents || self.notes.agents.contains(&agent.name);
                if self.workflow.agent(&agent.name).is_none() && !left_out {
                    let names = self.workflow.agents.iter().map(|a| a.name.as_str());
                    let mut d = Diagnostic::at(
                        agent.span,
                        format!("unknown agent `{}`", agent.name),
                        "not defined under `agents`",
                    );
                    if let Some(best) = closest(&agent.name, names) {
                        d = d.with_help(format!("did you mean `{best}`?"));
                    } else if self.workflow.agents.is_empty() {
                        d = d.with_help(format!(
                            "this workflow defines no agents: add `{}` under `agents:`",
                            agent.name
                        ));
                    }
                    self.problems.push(d);
                }
                self.template(task, Mode::Text, scope, here, "task");
            }
            StepKind::Tool { tool, args } => {
                self.tool(&tool.name, tool.span);
                self.value_templates(step, args, scope, here);
            }
            StepKind::Value { value } => self.value_templates(step, value, scope, here),
            StepKind::Parallel { steps } => {
                let before = scope.clone();
                for inner in steps {
                    let mut own = before.clone();
                    self.step(inner, &mut own);
                    scope
                        .done
                        .extend(own.done.difference(&before.done).cloned());
                }
            }
            StepKind::ForEach {
                items, var, steps, ..
            } => {
                self.template(items, Mode::Expression, scope, here, "`for_each` list");
                let mut inner = scope.clone();
                inner.vars.push(var.clone());
                inner.vars.push("loop".into());
                self.steps(steps, &mut inner);
                scope
                    .done
                    .extend(inner.done.difference(&scope.done.clone()).cloned());
            }
            StepKind::Until {
                condition, steps, ..
            } => {
                let mut inner = scope.clone();
                inner.vars.push("loop".into());
                // A body step may read any body step: from the previous iteration when
                // it comes later (undefined in the first: use `is defined` or `default`).
                inner.done.extend(steps.iter().map(|s| s.id.clone()));
                self.steps(steps, &mut inner);
                self.template(condition, Mode::Expression, &inner, here, "condition");
                scope
                    .done
                    .extend(inner.done.difference(&scope.done.clone()).cloned());
            }
        }
        if !step.otherwise.is_empty() {
            let mut branch = scope.clone();
            self.steps(&step.otherwise, &mut branch);
            scope.done.extend(branch.done);
        }
        scope.done.insert(step.id.clone());
    }

    /// The texts of a tool step's `args` or a value step's `value`, each a template.
    fn value_templates(&mut self, step: &Step, value: &Value, scope: &Scope, here: Option<&str>) {
        let mut texts = Vec::new();
        strings_in(value, &mut texts);
        for text in texts {
            let key = (step.id.clone(), text.to_string());
            let t = Template {
                text: text.to_string(),
                span: self.notes.args.get(&key).copied().unwrap_or(step.span),
            };
            self.owned_template(&t, scope, here);
        }
    }

    fn owned_template(&mut self, template: &Template, scope: &Scope, here: Option<&str>) {
        let env = template::environment();
        match template::variables(&env, &template.text, Mode::Text) {
            Ok(vars) => self.references(template, &vars, scope, here),
            Err(error) => self.template_error(template, &error, "the tool argument"),
        }
    }

    /// A template that cannot be used, placed at the mistake when it can be found.
    fn template_error(&mut self, template: &Template, error: &TemplateError, what: &str) {
        let span = error
            .range
            .as_ref()
            .and_then(|range| self.place(template, range.clone()))
            .unwrap_or(template.span);
        let mut d = Diagnostic::at(span, format!("{what} template {}", error.message), "here");
        if let Some(help) = &error.help {
            d = d.with_help(help.clone());
        }
        self.problems.push(d);
    }

    /// Where bytes `range` of `template`'s text are in the file, when the text is written
    /// there as it is (plain or quoted on one line, without escapes).
    fn place(&self, template: &Template, range: std::ops::Range<usize>) -> Option<Span> {
        let text = self.workflow.source.text();
        let at = template.span.start.min(text.len());
        let written = &text[at..];
        let start = if written.starts_with(&template.text) {
            at
        } else if written.starts_with(['"', '\'']) && written[1..].starts_with(&template.text) {
            at + 1
        } else {
            return None;
        };
        // At the very end: the last character, so that a caret shows.
        let (from, to) = if range.start >= template.text.len() {
            let last = template.text.len().saturating_sub(1);
            (last, template.text.len())
        } else {
            (range.start, range.end.max(range.start + 1))
        };
        Some(
            self.workflow
                .source
                .span_of_bytes(start + from, start + to.min(template.text.len())),
        )
    }

    fn template(
        &mut self,
        template: &'w Template,
        mode: Mode,
        scope: &Scope,
        here: Option<&str>,
        what: &str,
    ) {
        match template::variables(&self.env, &template.text, mode) {
            Ok(vars) => self.references(template, &vars, scope, here),
            Err(error) => self.template_error(template, &error, &format!("the {what}")),
        }
    }

    fn references(
        &mut self,
        template: &Template,
        vars: &BTreeSet<String>,
        scope: &Scope,
        here: Option<&str>,
    ) {
        // Dotted paths come with their prefixes (`steps`, `steps.a`, `steps.a.output`):
        // check each name once, at its longest path.
        for var in vars {
            if vars
                .iter()
                .any(|other| other.starts_with(&format!("{var}.")))
            {
                continue;
            }
            let parts: Vec<&str> = var.split('.').collect();
            let span = self.locate(template, var);
            match parts[0] {
                "inputs" => {
                    let Some(name) = parts.get(1) else { continue };
                    let left_out = self.notes.all_inputs || self.notes.inputs.contains(*name);
                    if self.workflow.input(name).is_none() && !left_out {
                        let mut d = Diagnostic::at(
                            span,
                            format!("unknown input `{name}`"),
                            "not declared under `inputs`",
                        );
                        let names = self.workflow.inputs.iter().map(|i| i.name.as_str());
                        if let Some(best) = closest(name, names) {
                            d = d.with_help(format!("did you mean `inputs.{best}`?"));
                        }
                        self.problems.push(d);
                    }
                }
                "steps" => {
                    let Some(id) = parts.get(1) else { continue };
                    self.step_reference(id, parts.get(2).copied(), span, scope, here);
                }
                name if scope.vars.iter().any(|v| v == name) => {}
                name if template::GLOBALS.contains(&name) => {}
                name => {
                    let mut candidates: Vec<&str> = vec!["inputs", "steps"];
                    candidates.extend(scope.vars.iter().map(String::as_str));
                    let d = Diagnostic::at(
                        span,
                        format!("unknown variable `{name}`"),
                        "not defined here",
                    );
                    let help = if self.workflow.input(name).is_some() {
                        format!("inputs are read as `inputs.{name}`")
                    } else if self.ids.contains_key(name) {
                        format!("a step's result is read as `steps.{name}.output`")
                    } else if let Some(owner) = self.loop_vars.get(name) {
                        format!(
                            "`{name}` is the loop variable of step `{owner}`: it exists only \
                             in that step's `steps`"
                        )
                    } else if let Some(best) = closest(name, candidates.iter().copied()) {
                        format!("did you mean `{best}`?")
                    } else {
                        "templates read `inputs.NAME`, `steps.ID.output` and loop variables".into()
                    };
                    self.problems.push(d.with_help(help));
                }
            }
        }
    }

    fn step_reference(
        &mut self,
        id: &str,
        field: Option<&str>,
        span: Span,
        scope: &Scope,
        here: Option<&str>,
    ) {
        if let Some(field) = field
            && !matches!(field, "output" | "status")
        {
            self.problems.push(
                Diagnostic::at(span, format!("a step has no `{field}`"), "unknown field")
                    .with_help(format!("use `steps.{id}.output` (or `.status`)")),
            );
            return;
        }
        if scope.done.contains(id) {
            return;
        }
        if here == Some(id) {
            self.problems.push(
                Diagnostic::at(
                    span,
                    format!("step `{id}` uses its own output (a cycle)"),
                    "refers to itself",
                )
                .with_help(
                    "a step cannot read its own output (only a step inside an `until` loop can: \
                     the previous round's)",
                ),
            );
            return;
        }
        if !self.ids.contains_key(id) {
            if self.notes.steps.contains(id) {
                // The step has problems of its own, reported where it is.
                return;
            }
            let mut d = Diagnostic::at(span, format!("unknown step `{id}`"), "no step has this id");
            if let Some(best) = closest(id, self.ids.keys().map(String::as_str)) {
                d = d.with_help(if is_identifier(best) {
                    format!("did you mean `steps.{best}`?")
                } else {
                    format!(
                        "did you mean step `{best}`? Its id cannot be written in a template: \
                         rename it `{}`",
                        plain_name(best)
                    )
                });
            }
            self.problems.push(d);
            return;
        }
        let user = here.unwrap_or("the outputs");
        if let Some(here) = here
            && let Some(path) = self.path(id, here)
        {
            self.problems.push(
                Diagnostic::at(
                    span,
                    format!("cycle between steps: {here} → {}", path.join(" → ")),
                    "each waits for the other",
                )
                .with_help(
                    "a step reads only steps that finish before it starts: one of these \
                     references has to go",
                ),
            );
            return;
        }
        let parallel = here.is_some_and(|h| {
            self.groups
                .get(h)
                .is_some_and(|g| self.groups.get(id) == Some(g))
        });
        let (why, help) = if parallel {
            let group = self.groups.get(id).map_or("parallel", String::as_str);
            (
                format!("step `{id}` runs in parallel with `{user}`"),
                format!(
                    "steps in one `parallel` group cannot read each other: move `{id}` into a \
                     step before `{group}`"
                ),
            )
        } else {
            (
                format!("step `{id}` runs after `{user}`"),
                format!("move step `{id}` above `{user}`"),
            )
        };
        self.problems.push(
            Diagnostic::at(
                span,
                format!("`steps.{id}` is not available here: {why}"),
                "not run yet",
            )
            .with_help(help),
        );
    }

    /// A chain of references from `from` back to `to`, if there is one.
    fn path(&self, from: &str, to: &str) -> Option<Vec<String>> {
        let mut stack = vec![(from.to_string(), vec![from.to_string()])];
        let mut seen = BTreeSet::new();
        while let Some((node, path)) = stack.pop() {
            if !seen.insert(node.clone()) {
                continue;
            }
            for next in self.refs.get(&node).into_iter().flatten() {
                let mut longer = path.clone();
                longer.push(next.clone());
                if next == to {
                    return Some(longer);
                }
                stack.push((next.clone(), longer));
            }
        }
        None
    }

    /// The place of `needle` inside a one-line template, else the template's start.
    fn locate(&self, template: &Template, needle: &str) -> Span {
        let source = &self.workflow.source;
        let text = source.text();
        let start = template.span.start.min(text.len());
        let window_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        let line = &text[start..window_end];
        // Only the first segments are written verbatim (`steps.a` in `steps.a.output`).
        let mut probe = needle;
        loop {
            if let Some(at) = line.find(probe) {
                return source.span_of_bytes(start + at, start + at + probe.len());
            }
            match probe.rfind('.') {
                Some(i) => probe = &probe[..i],
                None => return template.span,
            }
        }
    }
}

/// The step id a variable path reads (`steps.ID...`).
fn step_of(var: &str) -> Option<String> {
    let mut parts = var.split('.');
    (parts.next() == Some("steps"))
        .then(|| parts.next().map(str::to_string))
        .flatten()
}

/// The templates of `step` with how they are read; nested steps' too when `deep`.
fn templates_of(step: &Step, deep: bool) -> Vec<(&Template, Mode)> {
    let mut out = Vec::new();
    if let Some(c) = &step.condition {
        out.push((c, Mode::Expression));
    }
    match &step.kind {
        StepKind::Agent { task, .. } => out.push((task, Mode::Text)),
        StepKind::ForEach { items, .. } => out.push((items, Mode::Expression)),
        StepKind::Until { condition, .. } => out.push((condition, Mode::Expression)),
        StepKind::Tool { .. } | StepKind::Value { .. } | StepKind::Parallel { .. } => {}
    }
    if deep {
        for child in step.children() {
            out.extend(templates_of(child, true));
        }
    }
    out
}

/// Every text inside a JSON value.
fn strings_in<'v>(value: &'v Value, out: &mut Vec<&'v str>) {
    match value {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|v| strings_in(v, out)),
        Value::Object(map) => map.values().for_each(|v| strings_in(v, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use crate::{Diagnostic, parse};

    const TOOLS: &[&str] = &["calculator", "write_file"];

    /// The problems in `text`, each as (line, column, underlined text, message).
    fn problems(text: &str) -> Vec<(usize, usize, String, String)> {
        let diagnostics = parse("w.yaml", text, TOOLS).expect_err("refused");
        diagnostics
            .items()
            .iter()
            .map(|d: &Diagnostic| {
                let span = d.span.expect("a place");
                let under = text[span.range()].to_string();
                (span.line, span.column, under, d.message.clone())
            })
            .collect()
    }

    const HEAD: &str = "name: t\nmodel: m\nagents:\n  w: { role: r }\n";

    #[test]
    fn an_agent_on_an_undeclared_model_and_a_spec_reading_a_step_are_refused() {
        let text = "name: t\nmodel: m\nmodels:\n  teacher: \"{{ steps.a.output }}\"\n  judge: m2\nagents:\n  w: { role: r, model: teachr }\nsteps:\n  - id: a\n    agent: w\n    task: hi\n";
        let found = problems(text);
        assert!(
            found.iter().any(|(line, _, under, m)| *line == 7
                && under == "teachr"
                && m == "unknown model `teachr`"),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|(line, _, _, m)| *line == 4
                    && m.contains("a model spec reads `steps.a.output`")),
            "{found:?}"
        );
    }

    #[test]
    fn models_value_steps_and_input_specs_are_accepted() {
        let text = "name: t\nmodel: m\nmodels:\n  teacher: \"{{ inputs.url }}\"\n  student: { spec: s, lora: a.gguf }\ninputs:\n  url: { type: string }\nagents:\n  w: { role: r, model: teacher }\nsteps:\n  - id: a\n    agent: w\n    task: hi\n  - id: b\n    value: { said: \"{{ steps.a.output }}\", n: 1 }\n";
        let flow = parse("w.yaml", text, TOOLS).expect("accepted");
        assert_eq!(
            flow.models["student"].lora.as_deref(),
            Some(std::path::Path::new("a.gguf"))
        );
        let mut inputs = serde_json::Map::new();
        inputs.insert("url".into(), "openai:http://h:1/v1#q".into());
        assert_eq!(
            flow.models["teacher"].render(&inputs).unwrap(),
            "openai:http://h:1/v1#q"
        );
        assert_eq!(
            flow.model_of(&flow.agents[0]).map(|m| m.spec.as_str()),
            Some("{{ inputs.url }}")
        );
        // A value step reading a step that does not exist is refused like a tool's args.
        let bad = text.replace("steps.a.output", "steps.zz.output");
        let found = problems(&bad);
        assert!(
            found.iter().any(|(_, _, _, m)| m.contains("zz")),
            "{found:?}"
        );
    }

    #[test]
    fn a_step_left_out_is_not_reported_again_where_it_is_used() {
        let text = format!(
            "{HEAD}steps:\n  - id: a\n    agent: w\n    tool: clock\n  - id: b\n    agent: w\n    task: \"{{{{ steps.a.output }}}}\"\n"
        );
        let found = problems(&text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].3.contains("has both `agent` and `tool`"),
            "{found:?}"
        );
    }

    #[test]
    fn inputs_and_agents_left_out_are_not_unknown() {
        let text = "name: t\nmodel: m\ninputs:\n  n: { type: integr }\nagents:\n  w: [r]\nsteps:\n  - id: a\n    agent: w\n    task: \"{{ inputs.n }}\"\n";
        let found = problems(text);
        let messages: Vec<&str> = found.iter().map(|p| p.3.as_str()).collect();
        assert_eq!(found.len(), 2, "{messages:?}");
        assert!(
            messages[0].contains("unknown type `integr`"),
            "{messages:?}"
        );
        assert!(
            messages[1].contains("agent `w` must be a mapping"),
            "{messages:?}"
        );
    }

    #[test]
    fn template_errors_point_into_the_template() {
        let text =
            format!("{HEAD}steps:\n  - id: a\n    agent: w\n    task: \"About {{{{ x for y.\"\n");
        let found = problems(&text);
        assert_eq!((found[0].0, found[0].2.as_str()), (8, "for"), "{found:?}");
        let text = format!(
            "{HEAD}steps:\n  - id: a\n    agent: w\n    task: \"Hi {{% if true %}} there\"\n"
        );
        let found = problems(&text);
        assert_eq!(found[0].2, "{% if true %}", "{found:?}");
        assert!(
            found[0].3.contains("`{% if %}` is never closed"),
            "{found:?}"
        );
    }

    #[test]
    fn a_condition_in_two_parts_gets_the_one_expression_to_write() {
        let text = format!(
            "{HEAD}steps:\n  - id: a\n    agent: w\n    task: t\n  - id: b\n    if: \"{{{{ steps.a.output | length }}}} > 3\"\n    agent: w\n    task: t\n"
        );
        let diagnostics = parse("w.yaml", &text, TOOLS).expect_err("refused");
        let d = &diagnostics.items()[0];
        assert_eq!(d.message, "the condition template must be one expression");
        assert_eq!(
            d.help.as_deref(),
            Some("write it as one expression: `{{ steps.a.output | length > 3 }}`")
        );
    }

    #[test]
    fn tool_arguments_and_output_schemas_are_placed_at_the_value() {
        let text = format!(
            "{HEAD}steps:\n  - id: a\n    tool: write_file\n    args:\n      path: x.md\n      content: \"{{{{ steps.nope.output }}}}\"\n  - id: b\n    agent: w\n    task: t\n    output:\n      type: array\n      items:\n        type: strin\n"
        );
        let found = problems(&text);
        assert_eq!((found[0].0, found[0].2.as_str()), (10, "steps.nope.output"));
        assert_eq!(
            (found[1].0, found[1].2.as_str()),
            (17, "strin"),
            "{found:?}"
        );
        assert!(found[1].3.contains("unknown type `strin`"), "{found:?}");
    }

    #[test]
    fn a_bare_input_name_is_pointed_to_inputs() {
        let text = "name: t\nmodel: m\ninputs:\n  topic: string\nagents:\n  w: { role: r }\nsteps:\n  - id: a\n    agent: w\n    task: \"{{ topic }}\"\n";
        let diagnostics = parse("w.yaml", text, TOOLS).expect_err("refused");
        let d = &diagnostics.items()[0];
        assert_eq!(d.help.as_deref(), Some("inputs are read as `inputs.topic`"));
    }
}
