//! The planner: reasoning strategies that turn a task into a typed answer.
//!
//! - [`strategy`]: `Direct`, `ChainOfThought`, `SelfConsistency`, `TreeOfThought`.

pub mod strategy;
