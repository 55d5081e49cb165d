//! The Berkeley Function Calling Leaderboard (v4): questions, function documents and
//! possible answers ([`load`]), BFCL's types as JSON Schema and dotted names as tool names
//! ([`schema`]), and BFCL's AST matching rules ([`checker`]).

pub mod checker;
pub mod schema;

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::EvalError;

/// The categories, as the data's file names spell them.
pub const CATEGORIES: [&str; 6] = [
    "simple_python",
    "multiple",
    "parallel",
    "parallel_multiple",
    "irrelevance",
    "live_simple",
];

/// Whether a category expects several calls in one turn.
pub fn is_parallel(category: &str) -> bool {
    category.starts_with("parallel")
}

/// One message of a question.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Message {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The text.
    pub content: String,
}

/// A function the model may call, as BFCL documents it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct FunctionDoc {
    /// The name (may contain dots: `math.factorial`).
    pub name: String,
    /// What it does.
    #[serde(default)]
    pub description: String,
    /// The parameters in BFCL's schema dialect (`"type": "dict"`, `float`, `tuple`, `any`).
    pub parameters: Value,
}

impl FunctionDoc {
    /// The BFCL type of parameter `name` (`None` when the function has no such parameter).
    pub fn param_schema(&self, name: &str) -> Option<&Value> {
        self.parameters.get("properties")?.get(name)
    }

    /// The required parameters.
    pub fn required(&self) -> Vec<&str> {
        self.parameters
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }
}

/// One call of a possible answer: the function and, per parameter, its allowed values.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectedCall {
    /// The function's name.
    pub name: String,
    /// Each parameter with its allowed values (`""` among them: it may be left out).
    pub args: Map<String, Value>,
}

/// One BFCL item.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// The data's id (`simple_python_0`).
    pub id: String,
    /// The category.
    pub category: String,
    /// The first turn's messages.
    pub messages: Vec<Message>,
    /// The functions offered.
    pub functions: Vec<FunctionDoc>,
    /// The possible answer (every call expected); empty for `irrelevance`.
    pub expected: Vec<ExpectedCall>,
}

#[derive(Deserialize)]
struct QuestionRow {
    id: String,
    question: Vec<Vec<Message>>,
    function: Vec<FunctionDoc>,
}

#[derive(Deserialize)]
struct AnswerRow {
    id: String,
    ground_truth: Vec<Map<String, Value>>,
}

fn read(path: &Path, what: &'static str) -> Result<String, EvalError> {
    crate::data_file::read_text(path, what, crate::MAX_DATA_FILE_BYTES)
}

/// Reads `DIR/bfcl/BFCL_v4_CATEGORY.json` and, except for `irrelevance`,
/// `DIR/bfcl/possible_answer/BFCL_v4_CATEGORY.json` (JSON lines, joined by `id`).
///
/// # Errors
/// An unknown category, a file that cannot be read, a line that is not a BFCL row, or a
/// question without a possible answer.
pub fn load(data_dir: &Path, category: &str) -> Result<Vec<Item>, EvalError> {
    if !CATEGORIES.contains(&category) {
        return Err(EvalError::Unknown {
            what: "bfcl category",
            name: category.to_owned(),
            expected: CATEGORIES.join(", "),
        });
    }
    let dir = data_dir.join("bfcl");
    let file = format!("BFCL_v4_{category}.json");
    let questions_path = dir.join(&file);
    let questions = read(&questions_path, "BFCL questions")?;
    let mut answers: HashMap<String, Vec<ExpectedCall>> = HashMap::new();
    let answers_path = dir.join("possible_answer").join(&file);
    if category != "irrelevance" {
        let text = read(&answers_path, "BFCL possible answers")?;
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let row: AnswerRow = serde_json::from_str(line)
                .map_err(|e| EvalError::data(&answers_path, index + 1, e.to_string()))?;
            let calls = row
                .ground_truth
                .into_iter()
                .map(|call| {
                    expected_call(call).map_err(|m| EvalError::data(&answers_path, index + 1, m))
                })
                .collect::<Result<Vec<_>, _>>()?;
            answers.insert(row.id, calls);
        }
    }
    let mut items = Vec::new();
    for (index, line) in questions.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let row: QuestionRow = serde_json::from_str(line)
            .map_err(|e| EvalError::data(&questions_path, index + 1, e.to_string()))?;
        let expected = if category == "irrelevance" {
            Vec::new()
        } else {
            answers.remove(&row.id).ok_or_else(|| {
                EvalError::data(
                    &answers_path,
                    0,
                    format!("no possible answer for `{}`", row.id),
                )
            })?
        };
        let messages = row.question.into_iter().next().unwrap_or_default();
        items.push(Item {
            id: row.id,
            category: category.to_owned(),
            messages,
            functions: row.function,
            expected,
        });
    }
    Ok(items)
}

/// `{"name": {"param": [allowed..]}}` → an [`ExpectedCall`].
fn expected_call(call: Map<String, Value>) -> Result<ExpectedCall, String> {
    let mut entries = call.into_iter();
    match (entries.next(), entries.next()) {
        (Some((name, Value::Object(args))), None) => Ok(ExpectedCall { name, args }),
        _ => Err("a ground-truth call must be `{\"function\": {\"param\": [values]}}`".into()),
    }
}
