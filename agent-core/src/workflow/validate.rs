//! Checks across the parts of a workflow: references to agents, tools, inputs and steps,
//! templates that compile, output schemas, and steps that would use what has not run.

use std::collections::{BTreeMap, BTreeSet};

use minijinja::Environment;
use serde_json::Value;

use super::diagnostic::Diagnostic;
use super::source::Span;
use super::spec::{Step, StepKind, Template, Workflow};
use super::template::{self, Mode};
use super::yaml::closest;

/// Every problem in `workflow`'s references; `tools` names the tools a run can provide.
pub(crate) fn check(workflow: &Workflow, tools: &[&str]) -> Vec<Diagnostic> {
    let mut checker = Checker {
        workflow,
        tools,
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
                self.problems.push(Diagnostic::at(
                    step.span,
                    format!(
                        "duplicate step id `{}` (first used at line {})",
                        step.id, first.line
                    ),
                    "used again here",
                ));
            } else {
                self.ids.insert(step.id.clone(), step.span);
            }
            if let Some(group) = group {
                self.groups.insert(step.id.clone(), group.to_string());
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
        }
    }

    fn tool(&mut self, name: &str, span: Span) {
        if self.tools.contains(&name) {
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
            StepKind::Agent {
                agent,
                task,
                output,
                ..
            } => {
                if self.workflow.agent(&agent.name).is_none() {
                    let names = self.workflow.agents.iter().map(|a| a.name.as_str());
                    let mut d = Diagnostic::at(
                        agent.span,
                        format!("unknown agent `{}`", agent.name),
                        "not defined under `agents`",
                    );
                    if let Some(best) = closest(&agent.name, names) {
                        d = d.with_help(format!("did you mean `{best}`?"));
                    }
                    self.problems.push(d);
                }
                self.template(task, Mode::Text, scope, here, "task");
                if let Some(schema) = output {
                    self.schema(step, schema);
                }
            }
            StepKind::Tool { tool, args } => {
                self.tool(&tool.name, tool.span);
                let mut texts = Vec::new();
                strings_in(args, &mut texts);
                for text in texts {
                    let t = Template {
                        text: text.to_string(),
                        span: step.span,
                    };
                    self.owned_template(&t, scope, here);
                }
            }
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
                self.template(items, Mode::Expression, scope, here, "list");
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

    fn schema(&mut self, step: &Step, schema: &Value) {
        if let Err(error) = jsonschema::validator_for(schema) {
            self.problems.push(Diagnostic::at(
                step.span,
                format!(
                    "the `output` schema of step `{}` is not a valid JSON Schema: {error}",
                    step.id
                ),
                "this step's output schema",
            ));
        }
    }

    fn owned_template(&mut self, template: &Template, scope: &Scope, here: Option<&str>) {
        let env = template::environment();
        match template::variables(&env, &template.text, Mode::Text) {
            Ok(vars) => self.references(template, &vars, scope, here),
            Err(message) => self.problems.push(Diagnostic::at(
                template.span,
                format!("a tool argument template does not compile: {message}"),
                "in the arguments of this step",
            )),
        }
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
            Err(message) => self.problems.push(Diagnostic::at(
                template.span,
                format!("the {what} template does not compile: {message}"),
                "in this template",
            )),
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
                    if self.workflow.input(name).is_none() {
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
                    let mut d = Diagnostic::at(
                        span,
                        format!("unknown variable `{name}`"),
                        "not defined here",
                    );
                    d = match closest(name, candidates.iter().copied()) {
                        Some(best) => d.with_help(format!("did you mean `{best}`?")),
                        None => d.with_help(
                            "templates read `inputs.NAME`, `steps.ID.output` and loop variables",
                        ),
                    };
                    self.problems.push(d);
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
            self.problems.push(Diagnostic::at(
                span,
                format!("step `{id}` uses its own output (a cycle)"),
                "refers to itself",
            ));
            return;
        }
        if !self.ids.contains_key(id) {
            let mut d = Diagnostic::at(span, format!("unknown step `{id}`"), "no step has this id");
            if let Some(best) = closest(id, self.ids.keys().map(String::as_str)) {
                d = d.with_help(format!("did you mean `steps.{best}`?"));
            }
            self.problems.push(d);
            return;
        }
        let user = here.unwrap_or("the outputs");
        if let Some(here) = here
            && let Some(path) = self.path(id, here)
        {
            self.problems.push(Diagnostic::at(
                span,
                format!("cycle between steps: {here} → {}", path.join(" → ")),
                "each waits for the other",
            ));
            return;
        }
        let parallel = here.is_some_and(|h| {
            self.groups
                .get(h)
                .is_some_and(|g| self.groups.get(id) == Some(g))
        });
        let why = if parallel {
            format!("step `{id}` runs in parallel with `{user}`")
        } else {
            format!("step `{id}` runs after `{user}`")
        };
        self.problems.push(Diagnostic::at(
            span,
            format!("`steps.{id}` is not available here: {why}"),
            "not run yet",
        ));
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
        StepKind::Tool { .. } | StepKind::Parallel { .. } => {}
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
