//! The steps that act: an agent performing a task, a tool called directly.

use std::sync::Arc;

use agentry_prompts::Prompt as Sections;
use agentry_tools::{ToolCall, ToolRegistry};
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use super::steps::Exec;
use super::{WorkflowEvent, WorkflowRunError};
use crate::spec::AgentSpec;
use agentry_core::agent::Agent;
use agentry_core::defaults;
use agentry_core::model::ModelInput;
use agentry_core::parse::{ExtractOptions, Label, extract_with};
use agentry_core::plan::run::AgentEvent;
use agentry_core::plan::strategy::Strategy;

impl Exec<'_> {
    /// `agent` performs `task`; the answer matches `output` (text when none).
    pub(super) async fn agent_step(
        &self,
        path: &str,
        agent: &str,
        task: String,
        output: Option<&Value>,
        strategy: Option<&Strategy>,
    ) -> Result<Value, WorkflowRunError> {
        let failed = |message: String| WorkflowRunError::Step {
            path: path.to_string(),
            message,
        };
        let workflow = &self.runner.workflow;
        let spec = workflow
            .agent(agent)
            .ok_or_else(|| failed(format!("unknown agent `{agent}`")))?;
        if let Some(labels) = output.and_then(enum_labels)
            && spec.tools.is_empty()
        {
            return self.classify(spec, &task, labels).await.map_err(failed);
        }
        let mut tools = ToolRegistry::new();
        for name in &spec.tools {
            let tool = self
                .runner
                .tools
                .get(&name.name)
                .ok_or_else(|| failed(format!("tool `{}` is not available", name.name)))?;
            tools
                .register_arc(tool)
                .map_err(|e| failed(e.to_string()))?;
        }
        let mut builder = spec
            .configure(
                Agent::builder()
                    .model(self.runner.model.clone())
                    .role(defaults::ROLE),
            )
            .tools(Arc::new(tools))
            .policy(self.runner.policy.clone())
            .templates(self.runner.templates.clone());
        if let Some(strategy) = strategy {
            builder = builder.strategy(strategy.clone());
        }
        builder = builder.answer_schema(
            output
                .cloned()
                .unwrap_or_else(|| json!({ "type": "string", "minLength": 1 })),
        );
        if let Some(memory) = &self.runner.memory {
            builder = builder.memory(memory.clone());
        }
        if let Some(documents) = &self.runner.documents {
            builder = builder.documents(documents.clone());
        }
        let agent = builder.build().map_err(|e| failed(e.to_string()))?;
        let mut events = agent.events();
        let run = agent.run::<Value>(task);
        tokio::pin!(run);
        let result = loop {
            tokio::select! {
                result = &mut run => break result,
                event = events.recv() => match event {
                    Ok(AgentEvent::Token { text }) => {
                        let _ = self.runner.events.send(WorkflowEvent::Token {
                            path: path.to_string(),
                            text,
                        });
                    }
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => break run.await,
                },
            }
        };
        result
            .map(|output| output.answer)
            .map_err(|e| failed(e.to_string()))
    }

    /// A tool-less agent choosing one of `labels`: the Label parser, read from the
    /// model's scores.
    async fn classify(
        &self,
        spec: &AgentSpec,
        task: &str,
        labels: Vec<String>,
    ) -> Result<Value, String> {
        let rendered = Sections::new()
            .role(spec.role.as_deref().unwrap_or(defaults::ROLE))
            .instructions(spec.instructions.iter().cloned())
            .input(task)
            .render(&self.runner.templates)
            .map_err(|e| e.to_string())?;
        let options = ExtractOptions {
            sampling: spec.sampling.apply(defaults::sampling()),
            ..ExtractOptions::default()
        };
        let extraction = extract_with(
            self.runner.model.as_ref(),
            &Label::new(labels),
            ModelInput::Messages(rendered.messages),
            &options,
        )
        .await
        .map_err(|e| e.to_string())?;
        Ok(Value::String(extraction.value))
    }

    /// Calls `tool` with `args`; its output, or the failure as the step's error.
    pub(super) async fn tool_step(
        &self,
        path: &str,
        tool: &str,
        args: Value,
    ) -> Result<Value, WorkflowRunError> {
        let call = ToolCall::new(format!("{path}-call"), tool, args);
        // Owned here: a future borrowing the registry through `self` is `Send` for one
        // lifetime only, and the step futures must be `Send` for all.
        let (tools, policy) = (self.runner.tools.clone(), self.runner.policy.clone());
        let result = tools.call(&call, &policy).await;
        result
            .outcome
            .map(|output| output.value)
            .map_err(|failure| WorkflowRunError::Step {
                path: path.to_string(),
                message: failure.to_string(),
            })
    }
}

/// The labels of an output schema that is an `enum` of texts.
fn enum_labels(schema: &Value) -> Option<Vec<String>> {
    let labels = schema.get("enum")?.as_array()?;
    let labels: Option<Vec<String>> = labels
        .iter()
        .map(|v| v.as_str().map(String::from))
        .collect();
    labels.filter(|l| !l.is_empty())
}
