//! Hostile input to the `agentry` binary: a closed stdout or stderr, numbers
//! past their bounds, GGUF files built to overflow or to take for ever, and
//! a `for_each` list past its bound. Each case must end, with a clear error
//! or quietly, and never with a panic.

#![cfg(unix)]

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// A generous bound for commands that once never ended: the point is that
/// they end, not how fast.
const PATIENCE: Duration = Duration::from_secs(180);

fn agentry() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_agentry"));
    cmd.env_remove("RUST_LOG");
    cmd
}

/// Waits for `child` up to [`PATIENCE`]; kills it and fails past that.
fn finish(mut child: Child, what: &str) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if start.elapsed() > PATIENCE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `cmd` with its output captured, failing if it does not end.
fn output_within(mut cmd: Command, what: &str) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn agentry");
    // Drain both pipes on threads so a chatty child never blocks on them.
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let status = finish(child, what);
    Output {
        status,
        stdout: out.join().expect("stdout thread"),
        stderr: err.join().expect("stderr thread"),
    }
}

/// A pipe whose reading end is already closed, as after `| head -1`.
fn closed_pipe() -> std::io::PipeWriter {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    writer
}

/// Whether `status` is how a program ends on a closed pipe: killed by
/// SIGPIPE, or a plain exit with the command's own code.
fn ended_quietly(status: ExitStatus, own_code: i32) -> bool {
    use std::os::unix::process::ExitStatusExt;
    status.signal() == Some(13) || status.code() == Some(own_code)
}

fn repo(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

#[test]
fn a_closed_stdout_and_stderr_end_validate_quietly() {
    // `agentry validate bad.yaml 2>&1 | head -1` exited 101 with a panic.
    let bad = repo("tests/fixtures/workflows/invalid/01-yaml-bad-indentation.yaml");
    let pipe = closed_pipe();
    let mut cmd = agentry();
    cmd.arg("validate")
        .arg(&bad)
        .stdout(pipe.try_clone().expect("clone"))
        .stderr(pipe);
    let child = cmd.spawn().expect("spawn agentry");
    let status = finish(child, "validate with a closed pipe");
    assert!(ended_quietly(status, 2), "{status:?}");
}

#[test]
fn a_closed_stdout_ends_the_program_without_a_panic_message() {
    let good = repo("examples/workflows/triage.yaml");
    for args in [
        vec!["validate".to_string(), good.display().to_string()],
        vec!["--help".to_string()],
        vec!["models".to_string(), "list".to_string()],
    ] {
        let mut cmd = agentry();
        cmd.args(&args).stdout(closed_pipe()).stderr(Stdio::piped());
        let child = cmd.spawn().expect("spawn agentry");
        let out = child.wait_with_output().expect("agentry ends");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(
            ended_quietly(out.status, 0),
            "{args:?}: {:?} {stderr}",
            out.status
        );
    }
}

/// `agentry ARGS` must be refused by the parser: exit 2, naming the flag.
fn refused(args: &[&str], flag: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = agentry();
    cmd.args(args).current_dir(dir.path());
    let out = output_within(cmd, &format!("agentry {args:?}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(stderr.contains(flag), "{args:?}: {stderr}");
    assert!(stderr.contains("not in"), "{args:?}: {stderr}");
}

#[test]
fn counts_contexts_and_sizes_are_bounded() {
    let huge = "18446744073709551615";
    refused(&["recall", "-k", huge, "anything"], "-k");
    refused(&["recall", "-k", "0", "anything"], "-k");
    refused(
        &["doctor", "--model", "smollm2-135m", "--ctx", huge],
        "--ctx",
    );
    refused(
        &["doctor", "--model", "smollm2-135m", "--gpu-layers", huge],
        "--gpu-layers",
    );
    refused(&["generate", "--ctx", "0", "hi"], "--ctx");
    refused(&["generate", "--max-tokens", huge, "hi"], "--max-tokens");
    refused(&["chat", "--ctx", "4294967295"], "--ctx");
    refused(&["chat", "--threads", "0"], "--threads");
    refused(&["eval", "gsm8k", "--limit", huge], "--limit");
    refused(&["run", "flow.yaml", "--ctx", "99999999999"], "--ctx");
    refused(
        &["bench", "memory", "--sizes", &format!("10,{huge}")],
        "--sizes",
    );
}

/// A GGUF v3 file with the given metadata and one tensor.
fn gguf(kv: &[(&[u8], u32, Vec<u8>)], tensor: (&str, &[u64], u32)) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend(b"GGUF");
    b.extend(3u32.to_le_bytes());
    b.extend(1u64.to_le_bytes());
    b.extend((kv.len() as u64).to_le_bytes());
    for (key, ty, value) in kv {
        b.extend((key.len() as u64).to_le_bytes());
        b.extend(*key);
        b.extend(ty.to_le_bytes());
        b.extend(value);
    }
    let (name, dims, ty) = tensor;
    b.extend((name.len() as u64).to_le_bytes());
    b.extend(name.as_bytes());
    b.extend((dims.len() as u32).to_le_bytes());
    for d in dims {
        b.extend(d.to_le_bytes());
    }
    b.extend(ty.to_le_bytes());
    b.extend(0u64.to_le_bytes());
    while b.len() % 32 != 0 {
        b.push(0);
    }
    b.extend([0u8; 64]);
    b
}

fn string_value(s: &str) -> Vec<u8> {
    let mut v = (s.len() as u64).to_le_bytes().to_vec();
    v.extend(s.as_bytes());
    v
}

fn doctor(file: &Path) -> Output {
    let home = tempfile::tempdir().expect("tempdir");
    let mut cmd = agentry();
    cmd.args(["doctor", "--model"])
        .arg(file)
        .env("AGENTRY_HOME", home.path());
    output_within(cmd, "doctor")
}

#[test]
fn doctor_refuses_a_tensor_whose_size_overflows() {
    // dims [2^62] of F32: 2^64 bytes wrapped to 0, and doctor said it fits.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("huge.gguf");
    let arch = string_value("llama");
    std::fs::write(
        &file,
        gguf(
            &[(b"general.architecture", 8, arch)],
            ("huge", &[1 << 62], 0),
        ),
    )
    .unwrap();
    let out = doctor(&file);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("malformed header"), "{stderr}");
    assert!(stderr.contains("huge"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn doctor_never_says_a_huge_header_fits() {
    // Header fields of 2^40 gave a KV cache of "0 B".
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("wide.gguf");
    let big = (1u64 << 40).to_le_bytes().to_vec();
    std::fs::write(
        &file,
        gguf(
            &[
                (b"general.architecture", 8, string_value("llama")),
                (b"llama.block_count", 10, big.clone()),
                (b"llama.attention.head_count", 10, big.clone()),
                (b"llama.attention.head_count_kv", 10, big.clone()),
                (b"llama.embedding_length", 10, big.clone()),
                (b"llama.context_length", 10, big),
            ],
            ("w", &[4], 0),
        ),
    )
    .unwrap();
    let out = doctor(&file);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("DOES NOT FIT"), "{stdout}");
    assert!(!stdout.contains("KV cache (F16)           0 B"), "{stdout}");
}

#[test]
fn doctor_reads_a_long_key_on_a_long_array() {
    // A 7 MB file (a 4 MiB key, an array of 3M u8) kept doctor busy for
    // minutes at 100% CPU.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("slow.gguf");
    let key = vec![b'k'; 4 << 20];
    let n = 3_000_000u64;
    let mut array = 0u32.to_le_bytes().to_vec();
    array.extend(n.to_le_bytes());
    array.extend(vec![1u8; n as usize]);
    std::fs::write(
        &file,
        gguf(
            &[
                (b"general.architecture", 8, string_value("llama")),
                (&key, 9, array),
            ],
            ("w", &[4], 0),
        ),
    )
    .unwrap();
    let out = doctor(&file);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_for_each_list_past_its_bound_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flow = dir.path().join("many.yaml");
    std::fs::write(
        &flow,
        r#"name: many
model: smollm2-135m
steps:
  - id: each
    for_each: "{{ range(20000) }}"
    as: n
    steps:
      - id: double
        tool: calculator
        args: { expression: "{{ n }} * 2" }
"#,
    )
    .unwrap();
    let mut cmd = agentry();
    cmd.arg("run").arg(&flow).current_dir(dir.path());
    let out = output_within(cmd, "run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("`for_each` gave 20000 items"), "{stderr}");
    assert!(stderr.contains("at most 10000"), "{stderr}");
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.to_str().expect("utf-8")).expect("path");
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

/// A FIFO (or a device) named as a workflow, a model or an `--input @FILE` is refused at
/// once with a clear error; reading it once blocked for ever. A workflow over its size
/// cap is refused too (#17 item 9).
#[test]
fn files_that_block_or_lie_about_their_size_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("flow.yaml");
    mkfifo(&fifo);
    let mut cmd = agentry();
    cmd.arg("validate").arg(&fifo);
    let out = output_within(cmd, "validate on a FIFO");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("a FIFO, not a regular file"), "{stderr}");

    let model = dir.path().join("model.gguf");
    mkfifo(&model);
    let out = doctor(&model);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("FIFO") || stderr.contains("not"),
        "{stderr}"
    );

    let flow = dir.path().join("echo.yaml");
    std::fs::write(
        &flow,
        r#"name: echo
model: smollm2-135m
inputs:
  text: { type: string }
steps:
  - id: sum
    tool: calculator
    args: { expression: "1 + 1" }
outputs:
  text: "{{ inputs.text }}"
"#,
    )
    .unwrap();
    let input = dir.path().join("input.txt");
    mkfifo(&input);
    let mut cmd = agentry();
    cmd.arg("run")
        .arg(&flow)
        .arg("--input")
        .arg(format!("text=@{}", input.display()))
        .current_dir(dir.path());
    let out = output_within(cmd, "run with a FIFO input");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("a FIFO, not a regular file"), "{stderr}");

    let mut cmd = agentry();
    cmd.arg("validate").arg("/dev/zero");
    let out = output_within(cmd, "validate on /dev/zero");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("character device"), "{stderr}");

    let big = dir.path().join("big.yaml");
    let mut text = String::from("name: big\nmodel: smollm2-135m\n");
    text.push_str(&"# padding\n".repeat(500_000));
    std::fs::write(&big, text).unwrap();
    let mut cmd = agentry();
    cmd.arg("validate").arg(&big);
    let out = output_within(cmd, "validate on a big file");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("larger than the limit"), "{stderr}");
}

/// `agentry memory import` of a FIFO (or a device) is refused at once with exit 2 and an
/// error naming the file and its kind; opening a FIFO with no writer once blocked for
/// ever (#17 item 5); `/dev/zero` is refused as a device before a line is read. (A line
/// past the line cap is refused naming the line: `memory/tests/transfer.rs`.)
#[test]
fn memory_import_refuses_a_fifo_and_a_device_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("backup.jsonl");
    mkfifo(&fifo);
    let mut cmd = agentry();
    cmd.args(["memory", "import"])
        .arg(&fifo)
        .args(["--memory", "m"])
        .current_dir(dir.path());
    let out = output_within(cmd, "memory import of a FIFO");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("a FIFO, not a regular file"), "{stderr}");
    assert!(stderr.contains(&fifo.display().to_string()), "{stderr}");

    let mut cmd = agentry();
    cmd.args(["memory", "import", "/dev/zero", "--memory", "m"])
        .current_dir(dir.path());
    let out = output_within(cmd, "memory import of /dev/zero");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("character device"), "{stderr}");
    assert!(!dir.path().join("m").exists(), "nothing is written");
}
