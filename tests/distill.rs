//! `examples/workflows/distill.yaml` end to end on real models: the teacher is
//! qwen2.5-coder-1.5b behind `agentry serve` (an OpenAI-compatible endpoint, started as a
//! child process), the judge qwen2.5-coder-0.5b in process, the student SmolLM2-135M.
//! The run must write chat-format JSONL holding exactly the rows the judge scored at or
//! above the threshold, split into train and held-back files, and report the student's
//! mean score on the held-back rows. And a teacher's code keeps its lines, in process and
//! through `agentry serve`, into the JSONL row.

#[allow(dead_code)]
mod serve_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use serve_support::Served;

const TEACHER: &str = "qwen2.5-coder-1.5b";

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The rows of a JSONL file (none when it does not exist); every line must be JSON.
fn jsonl(path: &Path) -> Vec<Value> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    assert!(
        text.ends_with('\n'),
        "{}: the last row ends its line",
        path.display()
    );
    text.lines()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {line}", path.display()))
        })
        .collect()
}

/// The chat row a kept `row` of the workflow's output must be written as.
fn chat_row(row: &Value) -> Value {
    json!({"messages": [
        {"role": "user", "content": row["instruction"]},
        {"role": "assistant", "content": row["answer"]},
    ]})
}

#[test]
fn distill_validates() {
    let out = Command::new(env!("CARGO_BIN_EXE_agentry"))
        .args(["validate"])
        .arg(repo("examples/workflows/distill.yaml"))
        .output()
        .expect("run agentry validate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn distill_writes_the_judged_rows_as_chat_jsonl_and_scores_the_student() {
    let server = Served::start_on(TEACHER, &["--no-embeddings"], &[]);
    let dir = tempfile::tempdir().expect("temp dir");
    let instructions = json!([
        "Write a Python function that returns the square of a number.",
        "Write a Python function that reverses a string.",
        "Explain in one sentence what a Python list comprehension is.",
    ]);
    let started = std::time::Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_agentry"))
        .current_dir(dir.path())
        .arg("run")
        .arg(repo("examples/workflows/distill.yaml"))
        .args(["--json", "--input"])
        .arg(format!("teacher=openai:{}/v1#{TEACHER}", server.base))
        .args(["--input", "dataset=out/data", "--input", "held_back=1"])
        .arg("--input")
        .arg(format!("instructions={instructions}"))
        .output()
        .expect("run agentry run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "agentry run failed:\n{stderr}");
    eprintln!("distill ran in {:.0?}", started.elapsed());
    let result: Value = serde_json::from_slice(&out.stdout).expect("--json output");
    let outputs = &result["outputs"];
    eprintln!("outputs: {outputs:#}");

    // One row per instruction, in order, each scored within the rubric's range.
    let rows = outputs["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 3, "{outputs}");
    let threshold = 3;
    for (row, instruction) in rows.iter().zip(instructions.as_array().unwrap()) {
        assert_eq!(&row["instruction"], instruction, "{row}");
        assert!(
            row["answer"].as_str().is_some_and(|a| !a.trim().is_empty()),
            "the teacher answered: {row}"
        );
        let score = row["score"].as_i64().expect("an integer score");
        assert!((1..=5).contains(&score), "score out of range: {row}");
        assert_eq!(row["kept"], json!(score >= threshold), "{row}");
    }
    assert_eq!(
        rows.iter()
            .map(|r| r["held_back"].as_bool().unwrap())
            .collect::<Vec<_>>(),
        [false, false, true],
        "the last instruction is held back"
    );

    // Code keeps its lines: the function the teacher wrote is not squeezed onto one.
    let code = rows[0]["answer"].as_str().unwrap_or_default();
    assert!(
        code.contains("def ") && code.trim().contains('\n'),
        "the teacher's code comes in lines: {code:?}"
    );

    // The files hold exactly the kept rows, in chat format: train the first two, held
    // back the last.
    let data = dir.path().join("out/data");
    let kept = |held: bool| -> Vec<Value> {
        rows.iter()
            .filter(|r| r["kept"] == json!(true) && r["held_back"] == json!(held))
            .map(chat_row)
            .collect()
    };
    assert_eq!(jsonl(&data.join("train.jsonl")), kept(false), "train.jsonl");
    assert_eq!(
        jsonl(&data.join("heldout.jsonl")),
        kept(true),
        "heldout.jsonl"
    );
    let total_kept = kept(false).len() + kept(true).len();
    assert_eq!(outputs["kept"], json!(total_kept), "{outputs}");
    assert_eq!(outputs["train_rows"], json!(kept(false).len()), "{outputs}");

    // The student answered the held-back instruction; its score is in range and its
    // mean is reported next to the teacher's on the same row.
    let student = outputs["student_scores"]
        .as_array()
        .expect("student scores");
    assert_eq!(student.len(), 1, "{outputs}");
    let score = student[0].as_i64().expect("an integer score");
    assert!((1..=5).contains(&score), "{outputs}");
    assert_eq!(
        outputs["student_mean"].as_f64(),
        Some(score as f64),
        "{outputs}"
    );
    assert_eq!(
        outputs["teacher_mean"].as_f64(),
        rows[2]["score"].as_f64(),
        "{outputs}"
    );
    assert!(server.stop(), "the teacher's server exits cleanly");
}

/// A workflow whose one tool-less agent writes code, on the model `{{ inputs.teacher }}`.
const TEACH: &str = r#"
name: teach
model: "{{ inputs.teacher }}"
inputs:
  teacher: { type: string }
policy:
  approve: [write_jsonl]
  act_on_untrusted: [write_jsonl]
agents:
  teacher:
    role: You are an expert Python programmer and a concise teacher.
    instructions:
      - When code is asked for, the answer is the full Python code.
    sampling: { temperature: 0, max_tokens: 200 }
steps:
  - id: answer
    agent: teacher
    task: Write a Python function that reverses a string.
  - id: keep
    tool: write_jsonl
    args:
      path: rows.jsonl
      row: { answer: "{{ steps.answer.output }}" }
outputs:
  answer: "{{ steps.answer.output }}"
"#;

#[test]
fn a_teachers_code_keeps_its_newlines_in_process_and_through_agentry_serve() {
    let model = "qwen2.5-coder-0.5b";
    let server = Served::start_on(model, &["--no-embeddings"], &[]);
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("teach.yaml"), TEACH).expect("write the workflow");
    let remote = format!("openai:{}/v1#{model}", server.base);
    for teacher in [model, remote.as_str()] {
        let _ = std::fs::remove_file(dir.path().join("rows.jsonl"));
        let out = Command::new(env!("CARGO_BIN_EXE_agentry"))
            .current_dir(dir.path())
            .args(["run", "teach.yaml", "--json", "--input"])
            .arg(format!("teacher={teacher}"))
            .output()
            .expect("run agentry run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "{teacher}: agentry run failed:\n{stderr}"
        );
        let result: Value = serde_json::from_slice(&out.stdout).expect("--json output");
        let answer = result["outputs"]["answer"].as_str().unwrap_or_default();
        assert!(
            answer.contains("def ") && answer.trim().contains('\n'),
            "{teacher}: the code comes in lines, as the model wrote it: {answer:?}"
        );
        // And the row written keeps them.
        let rows = jsonl(&dir.path().join("rows.jsonl"));
        assert_eq!(rows, vec![json!({"answer": answer})], "{teacher}");
    }
    assert!(server.stop(), "the teacher's server exits cleanly");
}
