//! BFCL items: the planner with the item's functions as tools (names mapped to valid tool
//! names and back), or the functions described in the prompt and the reply read leniently.

use agentry_core::defaults;
use agentry_core::model::LanguageModel;
use agentry_core::plan::run::{Limits, RunConfig};
use agentry_prompts::ChatMessage;
use agentry_tools::{ApprovedCall, ToolOutput, ToolResult, ToolSpec};
use async_trait::async_trait;
use serde_json::{Value, json};

use super::Evaluation;
use crate::bfcl::{self, schema::ToolNames};
use crate::config::Config;
use crate::drive::{self, Driven, World};
use crate::verdict::Verdict;

impl Evaluation {
    /// One BFCL item: the planner with the functions as tools (its first calls or its
    /// answer), or the plain way.
    pub(super) async fn run_bfcl(
        &self,
        model: &dyn LanguageModel,
        config: &Config,
        item: &bfcl::Item,
    ) -> (Driven, Verdict) {
        let names = ToolNames::new(item.functions.iter().map(|f| f.name.as_str()));
        let system: Vec<&str> = item
            .messages
            .iter()
            .filter(|m| m.role == "system")
            .map(|m| m.content.as_str())
            .collect();
        let user: Vec<&str> = item
            .messages
            .iter()
            .filter(|m| m.role != "system")
            .map(|m| m.content.as_str())
            .collect();
        let role = if system.is_empty() {
            defaults::ROLE.to_owned()
        } else {
            system.join("\n")
        };
        let world = BfclWorld;
        let driven = match config {
            Config::Planner | Config::Native => {
                let specs: Vec<ToolSpec> = item
                    .functions
                    .iter()
                    .map(|f| {
                        ToolSpec::new(
                            names.tool(&f.name),
                            f.description.clone(),
                            bfcl::schema::to_json_schema(&f.parameters),
                        )
                    })
                    .collect();
                let parallel = if bfcl::is_parallel(&item.category) {
                    5
                } else {
                    1
                };
                let run = RunConfig::new(user.join("\n"))
                    .with_role(role)
                    .with_tools(specs)
                    .with_limits(Limits {
                        max_steps: BFCL_STEPS,
                        ..Limits::default()
                    })
                    .with_sampling(self.sampling())
                    .with_parallel_calls(parallel)
                    .with_step_format(Self::step_format(config, model));
                let mut driven = drive::planner(model, run, &world, true).await;
                for call in &mut driven.calls {
                    call.name = names.function(&call.name).to_owned();
                }
                driven
            }
            _ => {
                let functions: Vec<Value> = item
                    .functions
                    .iter()
                    .map(|f| {
                        json!({
                            "name": f.name,
                            "description": f.description,
                            "parameters": bfcl::schema::to_json_schema(&f.parameters),
                        })
                    })
                    .collect();
                let system = format!(
                    "{role}\nYou can call these functions:\n{}\nTo call functions, reply with only a JSON list of calls: [{{\"name\": \"function_name\", \"arguments\": {{...}}}}]. If none of the functions fits the request, reply in plain text and call nothing.",
                    serde_json::to_string_pretty(&functions).unwrap_or_default()
                );
                let known: Vec<&str> = item.functions.iter().map(|f| f.name.as_str()).collect();
                let mut messages = vec![ChatMessage::system(system)];
                messages.extend(user.iter().map(|u| ChatMessage::user(*u)));
                drive::plain(model, messages, &known, &self.sampling(), 1, &world).await
            }
        };
        let verdict = bfcl::checker::check(
            &item.category,
            &item.functions,
            &item.expected,
            &driven.calls,
        );
        (driven, verdict)
    }
}

/// Model replies a BFCL item may take before its first calls: one, and one more when the
/// run sends the first back (a reply it could not read, or an answer that announces a call
/// it does not make).
const BFCL_STEPS: usize = 2;

/// BFCL's functions run nowhere: every call answers `done` (only the calls are scored).
pub(super) struct BfclWorld;

#[async_trait]
impl World for BfclWorld {
    async fn call(&self, calls: &[ApprovedCall]) -> Vec<ToolResult> {
        calls
            .iter()
            .map(|c| ToolResult {
                call_id: c.id.clone(),
                name: c.name.clone(),
                outcome: Ok(ToolOutput::text("done")),
            })
            .collect()
    }

    fn recall(&self, _query: &str, _top_k: usize) -> Vec<(String, f32)> {
        Vec::new()
    }
}
