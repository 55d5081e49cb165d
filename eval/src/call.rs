//! [`Call`]: a function call as the model made it, read from any configuration's reply.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One call the model made: the function (in the suite's own naming) and its arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Call {
    /// The function or tool name.
    pub name: String,
    /// The arguments (a JSON object when well formed).
    pub args: Value,
}

impl Call {
    /// A call of `name` with `args`.
    pub fn new(name: impl Into<String>, args: Value) -> Self {
        Self {
            name: name.into(),
            args,
        }
    }
}
