//! The guard against prompt attacks: fence untrusted text, neutralise
//! control tokens, and scan for injection signals.
//!
//! * [`Guard`] fences [`Untrusted`] text between random per-render markers;
//!   the `guard_notice` template tells the model that fenced text is data,
//!   never instructions.
//! * [`neutralize`] breaks chat-template control tokens (`<|im_start|>`,
//!   `<start_of_turn>`, `[INST]`, ...) so fenced text cannot forge a turn.
//! * [`scan`] reports injection [`Signal`]s: instruction overrides, role
//!   play, fake tool calls, exfiltration, control tokens, forged fences,
//!   hidden characters.

mod fence;
mod scan;
mod tokens;

pub use fence::{Guard, Untrusted, untrusted};
pub use scan::{Signal, SignalKind, scan};
pub use tokens::{BREAK, has_control_tokens, neutralize};
