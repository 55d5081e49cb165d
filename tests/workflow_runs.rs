//! `agentry run` and `agentry validate` end to end: the example workflows on the real
//! model, a killed run resumed from its checkpoint (between steps, and in the middle of an
//! agent step), and the exit codes.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

/// One model process at a time: two would oversubscribe the CPU.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn agentry(cwd: &Path, args: &[&str]) -> (Output, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_agentry"))
        .args(args)
        .current_dir(cwd)
        .env_remove("RUST_LOG")
        .output()
        .expect("run agentry");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stdout, stderr)
}

fn run_json(cwd: &Path, args: &[&str]) -> Value {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (out, stdout, stderr) = agentry(cwd, args);
    assert!(out.status.success(), "agentry {args:?} failed\n{stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

#[test]
fn example_workflows_validate() {
    let dir = tempfile::tempdir().expect("tempdir");
    for name in ["triage", "research-brief", "prompt-optimiser"] {
        let file = repo(&format!("examples/workflows/{name}.yaml"));
        let (out, stdout, stderr) = agentry(dir.path(), &["validate", file.to_str().unwrap()]);
        assert!(out.status.success(), "{name}: {stderr}");
        assert!(stdout.contains(": ok (workflow"), "{stdout}");
    }
}

#[test]
fn triage_labels_every_message_as_a_careful_person_would() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = repo("examples/workflows/triage.yaml");
    let result = run_json(dir.path(), &["run", file.to_str().unwrap(), "--json"]);
    let labels: Vec<(&str, &str)> = result["outputs"]["labels"]
        .as_array()
        .expect("labels list")
        .iter()
        .map(|l| {
            (
                l["team"].as_str().expect("team"),
                l["urgency"].as_str().expect("urgency"),
            )
        })
        .collect();
    // The default messages: a crash, a double charge, a how-to question, praise.
    assert_eq!(
        labels,
        [
            ("engineering", "urgent"),
            ("billing", "urgent"),
            ("support", "normal"),
            ("feedback", "normal"),
        ],
        "{result}"
    );
    // The count is an integer, not 2.0.
    assert_eq!(result["outputs"]["urgent"], Value::from(2), "{result}");
    let note = result["outputs"]["note"]
        .as_str()
        .expect("note")
        .to_lowercase();
    for needed in ["2", "engineering", "billing"] {
        assert!(note.contains(needed), "the note names {needed}: {note}");
    }
    // The checkpoint holds every step: 4 iterations × (labels + team + urgency), the
    // loop itself, the tool step and the escalation.
    let run_id = result["run_id"].as_str().expect("run id");
    let state = read_state(&dir.path().join(".agentry/runs"), run_id);
    assert_eq!(state["status"], "finished");
    assert!(state["steps"]["classify.3.labels"].is_object(), "{state}");
    assert!(state["steps"]["urgent_count"].is_object(), "{state}");
}

#[test]
fn research_brief_uses_documents_from_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = repo("examples/workflows/research-brief.yaml");
    let result = run_json(
        dir.path(),
        &[
            "run",
            file.to_str().unwrap(),
            "--input",
            "topic=production deploys",
            "--json",
        ],
    );
    let facts = result["outputs"]["facts"].as_array().expect("facts list");
    assert!((1..=3).contains(&facts.len()), "{result}");
    assert!(
        facts
            .iter()
            .all(|f| f.as_str().is_some_and(|s| !s.trim().is_empty()))
    );
    let brief = result["outputs"]["brief"].as_str().expect("brief");
    assert!(!brief.trim().is_empty(), "{result}");
    // The documents were indexed into the memory of the working directory.
    assert!(dir.path().join(".agentry/memory").is_dir());
}

#[test]
fn prompt_optimiser_returns_prompt_critique_and_questions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = repo("examples/workflows/prompt-optimiser.yaml");
    let result = run_json(
        dir.path(),
        &[
            "run",
            file.to_str().unwrap(),
            "--input",
            r#"answers=[{"question":"Who reads the summary?","answer":"the on-call engineer"}]"#,
            "--json",
        ],
    );
    let outputs = &result["outputs"];
    assert!(
        outputs["prompt"]
            .as_str()
            .is_some_and(|s| !s.trim().is_empty()),
        "{result}"
    );
    assert!(outputs["critique"].is_string(), "{result}");
    let questions = outputs["questions"].as_array().expect("questions list");
    assert!(questions.len() <= 3, "{result}");
    assert!(["ready", "revise"].contains(&outputs["verdict"].as_str().unwrap_or("")));
}

fn read_state(runs: &Path, run_id: &str) -> Value {
    let text = std::fs::read_to_string(runs.join(run_id).join("state.json")).expect("state");
    serde_json::from_str(&text).expect("state is JSON")
}

/// The one run folder under `runs` and its state, once it exists.
fn current_state(runs: &Path) -> Option<(String, Value)> {
    let entry = std::fs::read_dir(runs).ok()?.flatten().next()?;
    let id = entry.file_name().to_string_lossy().into_owned();
    let text = std::fs::read_to_string(entry.path().join("state.json")).ok()?;
    Some((id, serde_json::from_str(&text).ok()?))
}

#[test]
fn a_run_killed_after_its_second_step_resumes_and_finishes() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().expect("tempdir");
    let runs = dir.path().join("runs");
    let file = repo("tests/fixtures/workflows/valid/three-steps.yaml");
    let file = file.to_str().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_agentry"))
        .args(["run", file, "--runs-dir", runs.to_str().unwrap()])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start agentry run");
    let started = Instant::now();
    let run_id = loop {
        if let Some((id, state)) = current_state(&runs)
            && state["steps"].as_object().is_some_and(|s| s.len() >= 2)
        {
            break id;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the run ended ({status}) before its second step was checkpointed");
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "no checkpoint with two steps"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    child.kill().expect("kill the run");
    let _ = child.wait();
    let state = read_state(&runs, &run_id);
    let done: Vec<&String> = state["steps"].as_object().expect("steps").keys().collect();
    assert_eq!(
        done,
        ["length", "title"],
        "killed during the third step: {state}"
    );
    assert_eq!(state["status"], "running");

    let (out, stdout, stderr) = agentry(
        dir.path(),
        &[
            "run",
            file,
            "--runs-dir",
            runs.to_str().unwrap(),
            "--resume",
            &run_id,
            "--json",
        ],
    );
    assert!(out.status.success(), "{stderr}");
    let result: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(result["run_id"], run_id.as_str());
    assert_eq!(result["steps_resumed"], 2, "{result}");
    assert_eq!(result["steps_run"], 1, "{result}");
    assert!(
        stderr.contains("skip title (done in the checkpoint)"),
        "{stderr}"
    );
    // The title comes from the checkpoint: the same text as before the kill.
    assert_eq!(
        result["outputs"]["title"],
        state["steps"]["title"]["output"]
    );
    assert!(
        result["outputs"]["story"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
    assert_eq!(read_state(&runs, &run_id)["status"], "finished");
}

/// A child process killed when dropped, so a failed assertion never leaves a model running.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `agentry ARGS` in `cwd` with stdout and stderr written to `out` and `err`.
fn spawn_agentry(cwd: &Path, args: &[&str], out: &Path, err: &Path) -> Running {
    let file = |path: &Path| std::fs::File::create(path).expect("create an output file");
    let child = Command::new(env!("CARGO_BIN_EXE_agentry"))
        .args(args)
        .current_dir(cwd)
        .env_remove("RUST_LOG")
        .stdout(file(out))
        .stderr(file(err))
        .spawn()
        .expect("start agentry");
    Running(child)
}

/// Waits up to `limit` for `child` to end; kills it and fails when it does not.
fn wait_bounded(child: &mut Running, limit: Duration, err: &Path) -> ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.0.try_wait().expect("wait for agentry") {
            return status;
        }
        if started.elapsed() > limit {
            let _ = child.0.kill();
            let stderr = std::fs::read_to_string(err).unwrap_or_default();
            panic!("agentry did not end within {limit:?}\n{stderr}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The longest a model run of these tests may take (the 1.5B model on 2 shared cores).
const MODEL_RUN_LIMIT: Duration = Duration::from_secs(900);

#[test]
fn a_run_killed_in_the_middle_of_an_agent_step_continues_that_step() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().expect("tempdir");
    let runs = dir.path().join("runs");
    let runs_arg = runs.to_str().unwrap();
    let file = repo("tests/fixtures/workflows/valid/calculator-agent.yaml");
    let file = file.to_str().unwrap();
    let (out1, err1) = (dir.path().join("out1"), dir.path().join("err1"));
    let mut child = spawn_agentry(
        dir.path(),
        &["run", file, "--runs-dir", runs_arg],
        &out1,
        &err1,
    );
    // Killed once its agent step has a model step checkpointed and its call printed (the
    // events reach stderr through a channel, so they may trail the checkpoint), before the
    // step ends.
    let started = Instant::now();
    let run_id = loop {
        let printed = std::fs::read_to_string(&err1)
            .is_ok_and(|text| text.contains("solve step 1: call calculator("));
        if let Some((id, state)) = current_state(&runs)
            && state["running"]["solve"]["step"].as_u64() >= Some(1)
            && printed
        {
            break id;
        }
        if let Ok(Some(status)) = child.0.try_wait() {
            let stderr = std::fs::read_to_string(&err1).unwrap_or_default();
            panic!("the run ended ({status}) before a model step was checkpointed\n{stderr}");
        }
        assert!(
            started.elapsed() < MODEL_RUN_LIMIT,
            "no agent step checkpointed within {MODEL_RUN_LIMIT:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    child.0.kill().expect("kill the run");
    let _ = child.0.wait();
    let killed_after = started.elapsed();
    let state = read_state(&runs, &run_id);
    assert_eq!(state["status"], "running", "{state}");
    assert!(
        state["steps"].as_object().is_some_and(|s| s.is_empty()),
        "killed in the middle of the agent step: {state}"
    );
    let saved = &state["running"]["solve"];
    assert_eq!(saved["agent"], "maths", "{state}");
    let agent_run = saved["run_id"]
        .as_str()
        .expect("the agent run's id")
        .to_string();
    let saved_step = saved["step"].as_u64().expect("its model steps");
    // The first process called the calculator in its first model step.
    let stderr1 = std::fs::read_to_string(&err1).expect("stderr");
    assert!(
        stderr1.contains("solve step 1: call calculator("),
        "{stderr1}"
    );

    let resumed_at = Instant::now();
    let (out2, err2) = (dir.path().join("out2"), dir.path().join("err2"));
    let mut child = spawn_agentry(
        dir.path(),
        &[
            "run",
            file,
            "--runs-dir",
            runs_arg,
            "--resume",
            &run_id,
            "--json",
        ],
        &out2,
        &err2,
    );
    let status = wait_bounded(&mut child, MODEL_RUN_LIMIT, &err2);
    let stderr = std::fs::read_to_string(&err2).expect("stderr");
    let stdout = std::fs::read_to_string(&out2).expect("stdout");
    assert!(status.success(), "{stderr}");
    eprintln!(
        "killed after {:.1} s (model step {saved_step}), resumed run took {:.1} s",
        killed_after.as_secs_f64(),
        resumed_at.elapsed().as_secs_f64()
    );
    let result: Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"));
    assert_eq!(result["run_id"], run_id.as_str());
    assert_eq!(result["outputs"]["answer"], 324, "{result}\n{stderr}");
    assert_eq!(result["steps_run"], 1, "{result}");
    assert_eq!(result["steps_resumed"], 0, "{result}");
    // The same agent run went on from its checkpoint...
    assert!(
        stderr.contains(&format!(
            "resume solve: agent run {agent_run} continues after model step {saved_step}"
        )),
        "{stderr}"
    );
    // ...without asking the model for the steps it had made again.
    for step in 1..=saved_step {
        assert!(
            !stderr.contains(&format!("solve step {step}: call")),
            "model step {step} was made again: {stderr}"
        );
    }
    let state = read_state(&runs, &run_id);
    assert_eq!(state["status"], "finished", "{state}");
    assert!(state.get("running").is_none(), "{state}");
    let record = &state["steps"]["solve"];
    assert_eq!(record["output"], 324, "{state}");
    assert_eq!(record["agent"]["run_id"], agent_run.as_str(), "{state}");
    assert_eq!(record["agent"]["resumed_at"], saved_step, "{state}");
    // The step counter went on past the resume: the answer was a later model step.
    let steps = record["agent"]["steps"].as_u64().expect("model steps");
    assert!(steps > saved_step, "{state}");
}

#[test]
fn a_workflow_lora_is_read_from_its_folder_and_one_that_cannot_load_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("flows/adapters")).expect("mkdir");
    // Not a GGUF file: llama/tests/lora.rs covers adapters that load; this covers the
    // path from `lora:` to the model (relative to the workflow's folder, not to the
    // working directory) and the error that comes back.
    let adapter = dir.path().join("flows/adapters/notes.gguf");
    std::fs::write(&adapter, "not an adapter").expect("write");
    let flow = dir.path().join("flows/tuned.yaml");
    std::fs::write(
        &flow,
        "name: tuned\nmodel: { spec: smollm2-135m, lora: adapters/notes.gguf }\n\
         agents:\n  a: { role: r }\nsteps:\n  - id: one\n    agent: a\n    task: hi\n",
    )
    .expect("write");
    let (out, _, stderr) = agentry(dir.path(), &["run", flow.to_str().unwrap()]);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("LoRA adapter {}:", adapter.display()))
            && stderr.contains("is not a GGUF file"),
        "{stderr}"
    );
}

#[test]
fn invalid_files_inputs_and_runs_exit_2_and_run_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "name: bad\nmodel: smollm2-135m\nagents:\n  a: { role: r }\nsteps:\n  - id: one\n    agent: b\n    tsk: hi\n",
    )
    .expect("write");
    let (out, _, stderr) = agentry(dir.path(), &["validate", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("bad.yaml:7:12"), "{stderr}");
    assert!(stderr.contains("unknown agent `b`"), "{stderr}");
    assert!(stderr.contains("unknown key `tsk`"), "{stderr}");
    assert!(stderr.contains("did you mean `task`?"), "{stderr}");

    let (out, _, stderr) = agentry(dir.path(), &["run", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        !dir.path().join(".agentry/runs").exists(),
        "nothing may run"
    );

    let triage = repo("examples/workflows/triage.yaml");
    let (out, _, stderr) = agentry(
        dir.path(),
        &[
            "run",
            triage.to_str().unwrap(),
            "--input",
            "messages=not a list",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("input `messages`: expected array"),
        "{stderr}"
    );

    let (out, _, stderr) = agentry(
        dir.path(),
        &["run", triage.to_str().unwrap(), "--resume", "no-such-run"],
    );
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no run `no-such-run`"), "{stderr}");
}
