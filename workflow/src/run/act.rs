//! The steps that act: an agent performing a task, a tool called directly.

use std::sync::Arc;

use agentry_prompts::Prompt as Sections;
use agentry_tools::{ToolCall, ToolRegistry};
use serde_json::{Value, json};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use super::running::{StepSink, continued_run};
use super::state::AgentRecord;
use super::steps::Exec;
use super::{WorkflowEvent, WorkflowRunError};
use crate::spec::AgentSpec;
use agentry_core::agent::{Agent, AgentError, AgentOutput};
use agentry_core::defaults;
use agentry_core::model::ModelInput;
use agentry_core::parse::{ExtractOptions, Label, extract_with};
use agentry_core::plan::run::{AgentEvent, AgentRun};
use agentry_core::plan::strategy::Strategy;

impl Exec<'_> {
    /// `agent` performs `task`; the answer matches `output` (text when none), with how
    /// the agent run went (`None` for a classifying agent, which makes no run).
    ///
    /// The agent run is kept in the workflow's checkpoint after each model step; when the
    /// checkpoint already holds this step's run (a resumed workflow), that run continues.
    /// `untrusted` says where untrusted text in the task came from (a step's output): the
    /// run then holds calls with side effects for approval from its start.
    pub(super) async fn agent_step(
        &self,
        path: &str,
        agent: &str,
        task: String,
        untrusted: &[String],
        output: Option<&Value>,
        strategy: Option<&Strategy>,
    ) -> Result<(Value, Option<AgentRecord>), WorkflowRunError> {
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
            let label = self.classify(spec, &task, labels).await.map_err(failed)?;
            return Ok((label, None));
        }
        let agent = self
            .build_agent(path, spec, output, strategy)
            .map_err(failed)?;
        let (mut run, resumed_at) = {
            let state = self.state.lock().await;
            let file = self.runner.checkpoints.path(&state.run_id);
            let saved = state.running.get(path);
            match continued_run(saved, path, &spec.name, &task, &agent, &file)? {
                Some(run) => {
                    let step = run.step();
                    (run, Some(step))
                }
                None => (
                    agent
                        .start::<Value>(task)
                        .map_err(|e| failed(e.to_string()))?,
                    None,
                ),
            }
        };
        for source in untrusted {
            run.note_untrusted(format!("the task ({source})"));
        }
        if let Some(step) = resumed_at {
            self.emit(WorkflowEvent::AgentResumed {
                path: path.to_string(),
                agent_run: run.id(),
                step,
            });
        }
        match self.drive(path, &agent, run).await {
            Ok(finished) => Ok((
                finished.answer,
                Some(AgentRecord {
                    run_id: finished.run_id,
                    steps: finished.outcome.steps,
                    resumed_at,
                }),
            )),
            Err(error) => {
                // A run paused for an approval nobody gave can go on once one is given;
                // any other failure ends the run: resuming retries the step from its start.
                if !matches!(error, AgentError::ApprovalNeeded(_)) {
                    let mut state = self.state.lock().await;
                    if state.running.remove(path).is_some() {
                        // The step's own error says more than a failure to record it.
                        let _ = self.runner.checkpoints.save(&state);
                    }
                }
                Err(failed(error.to_string()))
            }
        }
    }

    /// The agent of the step at `path`: `spec`'s settings, its tools from the runner's,
    /// the runner's policy, templates and memory, and a checkpoint sink that keeps its
    /// run in the workflow's state.
    fn build_agent(
        &self,
        path: &str,
        spec: &AgentSpec,
        output: Option<&Value>,
        strategy: Option<&Strategy>,
    ) -> Result<Agent, String> {
        let mut tools = ToolRegistry::new();
        for name in &spec.tools {
            let tool = self
                .runner
                .tools
                .get(&name.name)
                .ok_or_else(|| format!("tool `{}` is not available", name.name))?;
            tools.register_arc(tool).map_err(|e| e.to_string())?;
        }
        let sink = StepSink {
            path: path.to_string(),
            agent: spec.name.clone(),
            state: self.state.clone(),
            checkpoints: self.runner.checkpoints.clone(),
        };
        let model = self.runner.model_for(spec)?;
        let mut builder = spec
            .configure(Agent::builder().model(model).role(defaults::ROLE))
            .tools(Arc::new(tools))
            .policy(self.runner.policy.clone())
            .templates(self.runner.templates.clone())
            .checkpoint_sink(Arc::new(sink));
        if let Some(strategy) = strategy {
            builder = builder.strategy(strategy.clone());
        }
        // Without `output`, the answer is free text: written as the model writes it, not
        // as a JSON string under a grammar (where a small model squeezes code onto one
        // line). A blank answer is still refused.
        builder = builder.answer_schema(
            output
                .cloned()
                .unwrap_or_else(|| json!({ "type": "string" })),
        );
        if let Some(memory) = &self.runner.memory {
            builder = builder.memory(memory.clone());
        }
        if let Some(documents) = &self.runner.documents {
            builder = builder.documents(documents.clone());
        }
        builder.build().map_err(|e| e.to_string())
    }

    /// Drives `run` to its end on `agent`, forwarding the agent's events as workflow
    /// events of the step at `path`.
    async fn drive(
        &self,
        path: &str,
        agent: &Agent,
        run: AgentRun,
    ) -> Result<AgentOutput<Value>, AgentError> {
        let mut events = agent.events();
        let finish = agent.finish::<Value>(run);
        tokio::pin!(finish);
        let result = loop {
            tokio::select! {
                result = &mut finish => break result,
                event = events.recv() => match event {
                    Ok(event) => self.forward(path, event),
                    Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => break finish.await,
                },
            }
        };
        // The events published as the run ended (its answer, its stop).
        loop {
            match events.try_recv() {
                Ok(event) => self.forward(path, event),
                Err(TryRecvError::Lagged(_)) => {}
                Err(_) => break,
            }
        }
        result
    }

    /// `event` of the agent of the step at `path`, as a workflow event.
    fn forward(&self, path: &str, event: AgentEvent) {
        let path = path.to_string();
        self.emit(match event {
            AgentEvent::Token { text } => WorkflowEvent::Token { path, text },
            event => WorkflowEvent::Agent { path, event },
        });
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
        let model = self.runner.model_for(spec)?;
        let extraction = extract_with(
            model.as_ref(),
            &Label::new(labels),
            ModelInput::Messages(rendered.messages),
            &options,
        )
        .await
        .map_err(|e| e.to_string())?;
        Ok(Value::String(extraction.value))
    }

    /// Calls `tool` with `args`, templated from untrusted text of `untrusted` (empty:
    /// none); its output, or the failure as the step's error.
    pub(super) async fn tool_step(
        &self,
        path: &str,
        tool: &str,
        args: Value,
        untrusted: Vec<String>,
    ) -> Result<Value, WorkflowRunError> {
        let call = ToolCall::new(format!("{path}-call"), tool, args);
        // Owned here: a future borrowing the registry through `self` is `Send` for one
        // lifetime only, and the step futures must be `Send` for all.
        let (tools, policy) = (self.runner.tools.clone(), self.runner.policy.clone());
        let result = tools.call_untrusted(&call, &policy, &untrusted).await;
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
