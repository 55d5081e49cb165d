//! `steps:` and the steps inside `parallel`, `for_each`, `until` and `else`.

use super::*;

pub(super) fn steps(reader: &mut Reader<'_>, node: &Node, what: &str) -> Vec<Step> {
    let Some(items) = reader.sequence(node, what) else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| {
            let step = step(reader, item);
            if step.is_none()
                && let Node::Mapping(m) = item
                && let Some(id) = m.get_scalar("id")
            {
                // Its problems are reported; uses of it are not unknown steps.
                reader.notes.steps.insert(id.as_str().to_string());
            }
            step
        })
        .collect()
}

fn step(reader: &mut Reader<'_>, node: &Node) -> Option<Step> {
    let span = reader.span(node);
    let Some(map) = reader.mapping(node, "a step") else {
        if let Some(last) = reader.problems.last_mut() {
            last.help = Some(
                "a step is a mapping: `- id: NAME` then e.g. `agent:` and `task:` on the lines below"
                    .into(),
            );
        }
        return None;
    };
    let id_node = reader.required_or(
        map,
        span,
        "id",
        "a step",
        "give every step an `id:`; later steps read its result as `steps.ID.output`",
    );
    let id = id_node.and_then(|n| reader.string(n, "a step `id`"));
    let id_span = id_node.map_or(span, |n| reader.span(n));
    if let Some(id) = &id {
        check_identifier(reader, id, id_span, "step id");
    }
    let label = id
        .as_deref()
        .map_or("a step".to_string(), |id| format!("step `{id}`"));
    let present: Vec<&str> = STEP_KINDS
        .iter()
        .copied()
        .filter(|k| map.get_node(k).is_some())
        .collect();
    let kind_name = match present.as_slice() {
        [one] => *one,
        [] => {
            reader.error(
                Diagnostic::at(
                    id_span,
                    format!("{label} does not say what to do"),
                    "no `agent`, `tool`, `value`, `parallel`, `for_each` or `until`",
                )
                .with_help("give it `agent:` and `task:`, `tool:` and `args:`, `value:`, `parallel:`, `for_each:` or `until:`"),
            );
            return None;
        }
        [first, second, ..] => {
            let at = map
                .keys()
                .find(|k| k.as_str() == *second)
                .map_or(id_span, |k| reader.key_span(k));
            reader.error(
                Diagnostic::at(
                    at,
                    format!("{label} has both `{first}` and `{second}`: a step does one thing"),
                    "second kind here",
                )
                .with_help("split it into two steps, each with its own `id`"),
            );
            return None;
        }
    };
    let kind_keys: &[&str] = match kind_name {
        "agent" => &["agent", "task", "output", "strategy"],
        "tool" => &["tool", "args"],
        "value" => &["value"],
        "parallel" => &["parallel"],
        "for_each" => &["for_each", "as", "concurrency", "steps"],
        _ => &["until", "max_iterations", "steps"],
    };
    let allowed: Vec<&str> = COMMON_STEP_KEYS.iter().chain(kind_keys).copied().collect();
    reader.known_keys_or(
        map,
        &allowed,
        &format!("{label} ({kind_name} step)"),
        |key| {
            AGENT_KEYS.contains(&key).then(|| {
                format!("`{key}` belongs to the agent: set it under `agents:`, not in a step")
            })
        },
    );
    if kind_name == "agent"
        && let Some(schema @ Node::Mapping(_)) = map.get_node("output")
    {
        output_schema(reader, schema, &label);
    }
    if kind_name == "tool"
        && let (Some(id), Some(args)) = (&id, map.get_node("args"))
    {
        note_args(reader, id, args);
    }
    if kind_name == "value"
        && let (Some(id), Some(value)) = (&id, map.get_node("value"))
    {
        note_args(reader, id, value);
    }
    let condition = map.get_node("if").and_then(|n| template(reader, n, "`if`"));
    let otherwise = match map.get_node("else") {
        Some(n) => {
            if condition.is_none() && map.get_node("if").is_none() {
                let at = map
                    .keys()
                    .find(|k| k.as_str() == "else")
                    .map_or(id_span, |k| reader.key_span(k));
                reader.error(
                    Diagnostic::at(
                        at,
                        format!("{label} has `else` without `if`"),
                        "`else` needs an `if`",
                    )
                    .with_help("add an `if:` condition to this step, or remove `else`"),
                );
            }
            steps(reader, n, "`else`")
        }
        None => Vec::new(),
    };
    let kind = match kind_name {
        "agent" => {
            let agent = map.get_node("agent").and_then(|n| {
                let span = reader.span(n);
                reader.string(n, "`agent`").map(|name| Name { name, span })
            });
            let task = reader
                .required(map, id_span, "task", &label)
                .and_then(|n| template(reader, n, "`task`"));
            let output = map.get_node("output").and_then(|n| {
                if let Node::Mapping(_) = n {
                    Some(to_json(n))
                } else {
                    let at = reader.span(n);
                    reader.error(Diagnostic::at(
                        at,
                        format!(
                            "`output` of {label} must be a JSON Schema mapping, found {}",
                            describe(n)
                        ),
                        "expected e.g. `{ type: string }`",
                    ));
                    None
                }
            });
            let strategy = map.get_node("strategy").and_then(|n| strategy(reader, n));
            // A missing task is already a problem; the step is kept so that its other
            // parts (its agent) are still checked.
            StepKind::Agent {
                agent: agent?,
                task: task.unwrap_or(Template {
                    text: String::new(),
                    span: id_span,
                }),
                output,
                strategy,
            }
        }
        "tool" => {
            let tool = map.get_node("tool").and_then(|n| {
                let span = reader.span(n);
                reader.string(n, "`tool`").map(|name| Name { name, span })
            });
            let args = match map.get_node("args") {
                Some(n @ Node::Mapping(_)) => to_json(n),
                Some(n) => {
                    let at = reader.span(n);
                    reader.error(
                        Diagnostic::at(
                            at,
                            format!("`args` of {label} must be a mapping, found {}", describe(n)),
                            "expected `name: value` pairs",
                        )
                        .with_help("name each argument, e.g. `args: { expression: \"2 + 2\" }`"),
                    );
                    Value::Object(Default::default())
                }
                None => Value::Object(Default::default()),
            };
            StepKind::Tool { tool: tool?, args }
        }
        "value" => StepKind::Value {
            value: to_json(map.get_node("value")?),
        },
        "parallel" => {
            let node = map.get_node("parallel")?;
            let inner = steps(reader, node, "`parallel`");
            if inner.len() < 2 && matches!(node, Node::Sequence(_)) {
                let at = reader.span(node);
                reader.error(
                    Diagnostic::at(
                        at,
                        format!("`parallel` of {label} needs at least two steps"),
                        "fewer than two steps",
                    )
                    .with_help(
                        "add a step to run alongside it, or write the step without `parallel`",
                    ),
                );
            }
            StepKind::Parallel { steps: inner }
        }
        "for_each" => {
            let items = map
                .get_node("for_each")
                .and_then(|n| template(reader, n, "`for_each`"));
            let var = match map.get_node("as") {
                Some(n) => {
                    let at = reader.span(n);
                    let var = reader.string(n, "`as`");
                    if let Some(v) = &var {
                        check_identifier(reader, v, at, "loop variable name");
                        if matches!(v.as_str(), "inputs" | "steps" | "loop") {
                            reader.error(
                                Diagnostic::at(
                                    at,
                                    format!("the loop variable cannot be named `{v}`"),
                                    "reserved name",
                                )
                                .with_help(
                                    "`inputs`, `steps` and `loop` are taken: pick another name, e.g. `as: item`",
                                ),
                            );
                        }
                    }
                    var
                }
                None => Some("item".to_string()),
            };
            let concurrency = map
                .get_node("concurrency")
                .and_then(|n| reader.integer(n, "`concurrency`", 1, 64))
                .unwrap_or(1) as usize;
            let body = body(reader, map, id_span, &label);
            StepKind::ForEach {
                items: items?,
                var: var?,
                concurrency,
                steps: body,
            }
        }
        _ => {
            let condition = map
                .get_node("until")
                .and_then(|n| template(reader, n, "`until`"));
            let max_iterations = reader
                .required_or(
                    map,
                    id_span,
                    "max_iterations",
                    &label,
                    "an `until` loop needs a limit: add e.g. `max_iterations: 5`",
                )
                .and_then(|n| reader.integer(n, "`max_iterations`", 1, 100));
            let body = body(reader, map, id_span, &label);
            StepKind::Until {
                condition: condition?,
                max_iterations: max_iterations? as usize,
                steps: body,
            }
        }
    };
    Some(Step {
        id: id?,
        condition,
        otherwise,
        kind,
        span: id_span,
    })
}

fn body(reader: &mut Reader<'_>, map: &MarkedMappingNode, at: Span, label: &str) -> Vec<Step> {
    match reader.required_or(
        map,
        at,
        "steps",
        label,
        "the steps to repeat go under `steps:`, each with its own `id`",
    ) {
        Some(n) => {
            let body = steps(reader, n, "`steps`");
            if body.is_empty() && matches!(n, Node::Sequence(s) if s.is_empty()) {
                let span = reader.span(n);
                reader.error(Diagnostic::at(
                    span,
                    format!("the body of {label} is empty"),
                    "no steps",
                ));
            }
            body
        }
        None => Vec::new(),
    }
}
