//! `agentry eval`: bad input is refused with exit code 2 and a message naming what is
//! wrong, before any model loads.

use std::path::Path;
use std::process::{Command, Output};

fn eval(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_agentry"))
        .arg("eval")
        .args(args)
        .env_remove("AGENTRY_EVAL_DATA")
        .output()
        .unwrap_or_else(|e| panic!("run agentry eval: {e}"))
}

fn refused(output: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(needle), "expected `{needle}` in: {stderr}");
}

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data");

#[test]
fn an_unknown_suite_names_the_suites() {
    refused(
        &eval(&["mmlu"]),
        "unknown suite `mmlu`; expected one of: bfcl, gsm8k, game24, tasks",
    );
}

#[test]
fn a_missing_data_folder_says_how_to_give_one() {
    refused(
        &eval(&["gsm8k"]),
        "pass --data DIR or set AGENTRY_EVAL_DATA",
    );
    refused(
        &eval(&["gsm8k", "--data", "/nonexistent/data"]),
        "/nonexistent/data does not exist",
    );
}

#[test]
fn a_configuration_must_fit_the_suite() {
    refused(
        &eval(&["tasks", "--config", "tot"]),
        "configuration `tot` does not apply to suite `tasks`",
    );
    refused(
        &eval(&["tasks", "--config", "fast"]),
        "unknown configuration `fast`",
    );
}

#[test]
fn an_unknown_category_is_named() {
    refused(
        &eval(&["tasks", "--category", "poetry"]),
        "unknown tasks category `poetry`",
    );
    if Path::new(DATA).join("bfcl").is_dir() {
        refused(
            &eval(&["bfcl", "--data", DATA, "--category", "simple_java"]),
            "unknown bfcl category `simple_java`",
        );
    } else {
        println!("skipped the bfcl case: {DATA} is absent");
    }
}
