//! Output parsers: turn model text into typed Rust values.
//!
//! An [`OutputParser`] says how to ask for its format ([`OutputParser::instructions`]), how to
//! force it while decoding ([`OutputParser::constraint`]), and how to read it back
//! ([`OutputParser::parse`]). Parsing is tolerant — it accepts what a backend that cannot
//! constrain produces (JSON in a fenced block or wrapped in prose, bullets instead of JSON
//! arrays, a label with trailing punctuation) — and never panics on any input.
//!
//! - [`Json<T>`]: any `T: DeserializeOwned + JsonSchema`; the schema from `schemars` becomes the
//!   decoding constraint.
//! - [`Text`], [`List`], [`Number`], [`Regex`].
//! - [`Label`] / [`Labels`]: one or several of a fixed set of labels; [`extract_with`] reads them
//!   through the model's scores ([`LanguageModelExt::classify`](crate::model::LanguageModelExt))
//!   where the backend can score.
//!
//! [`extract`] runs the whole loop: constrained generation, parse, and a bounded retry that shows
//! the model its parse error.
//!
//! ```no_run
//! use agentry_core::model::{LanguageModel, ModelInput};
//! use agentry_core::parse::extract;
//! use agentry_prompts::ChatMessage;
//!
//! #[derive(serde::Deserialize, schemars::JsonSchema)]
//! struct City { name: String, country: String, population_millions: f64 }
//!
//! # async fn demo(model: &dyn LanguageModel) -> Result<(), Box<dyn std::error::Error>> {
//! let city: City = extract(model, vec![ChatMessage::user("Describe Paris.")]).await?;
//! println!("{} is in {}", city.name, city.country);
//! # Ok(()) }
//! ```

mod error;
mod extract;
mod json;
pub mod json_text;
mod label;
mod list;
mod number;
mod regex;
mod text;

pub use error::{ExtractError, ParseError};
pub use extract::{Attempt, ExtractOptions, Extraction, extract, extract_with, with_instructions};
pub use json::{Json, schema_of};
pub use label::{Label, Labels};
pub use list::List;
pub use number::Number;
pub use regex::{Regex, RegexMatch};
pub use text::Text;

use crate::model::Constraint;

/// How a parser's answer can be read from the model's scores instead of generated text.
#[derive(Debug, Clone, PartialEq)]
pub enum Scoring {
    /// Exactly one of these labels: the most probable one (softmax over the labels).
    Single(Vec<String>),
    /// Every label whose own probability reaches the threshold.
    Multi {
        /// The labels.
        labels: Vec<String>,
        /// The probability a label needs to be selected.
        threshold: f64,
    },
}

/// Turns model text into a typed value.
pub trait OutputParser: Send + Sync {
    /// The value parsed.
    type Output: Send;

    /// Format instructions for the prompt (may be empty).
    fn instructions(&self) -> String;

    /// The decoding constraint that makes the model's text parse.
    fn constraint(&self) -> Constraint;

    /// Whether the constraint is only a help: when the backend cannot compile it
    /// ([`ModelError::InvalidConstraint`](crate::model::ModelError::InvalidConstraint)),
    /// decoding goes on unconstrained and parsing alone enforces the format. `false` by
    /// default: a constraint that cannot be compiled is an error.
    fn constraint_is_a_hint(&self) -> bool {
        false
    }

    /// Reads the value from model text. Never panics.
    fn parse(&self, text: &str) -> Result<Self::Output, ParseError>;

    /// How to read the answer from scores instead, if the parser picks from fixed labels.
    /// [`extract_with`] uses it when the backend can score; the chosen label(s) are then
    /// given to [`OutputParser::parse`] as a label or a JSON array of labels.
    fn scoring(&self) -> Option<Scoring> {
        None
    }
}
