//! The planner: the sans-IO agent run ([`run::AgentRun`]) that decides each next action.

pub mod run;
