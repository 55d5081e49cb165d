//! The planner.
//!
//! - [`run`]: the sans-IO agent run ([`run::AgentRun`]) that decides each next action.
//! - [`strategy`]: reasoning strategies that turn a task into a typed answer — `Direct`,
//!   `ChainOfThought`, `SelfConsistency`, `TreeOfThought`.

pub mod run;
pub mod strategy;
