//! Workflow files checked without a model: every malformed file in
//! `tests/fixtures/workflows/invalid/` is refused with the right messages at the right
//! places (insta snapshots of the rendered diagnostics under `tests/snapshots/`); every
//! example in `examples/workflows/` and `tests/fixtures/workflows/valid/` is accepted;
//! damaged copies of all of them never make the parser panic.
//!
//! New or changed snapshots: `INSTA_UPDATE=always cargo test --release --workspace --test
//! workflow_fixtures`, then read every changed `.snap` file before committing. With
//! `CI=true` insta writes nothing and a changed output fails the test.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use agentry::core::workflow;
use agentry::tools::builtin::STANDARD_TOOLS as TOOLS;

/// The `.yaml` files in `dir` (relative to the crate root), sorted by name.
fn yaml_files(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .expect("a file name")
        .to_string_lossy()
        .into_owned()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

#[test]
fn malformed_workflows_are_refused_with_their_place() {
    let files = yaml_files("tests/fixtures/workflows/invalid");
    assert!(
        files.len() >= 40,
        "the corpus has {} files, expected at least 40",
        files.len()
    );
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    for path in &files {
        let name = file_name(path);
        let text = read(path);
        // Messages name the file as `agentry validate` would be given it.
        let shown = format!("invalid/{name}");
        let outcome = catch_unwind(AssertUnwindSafe(|| workflow::parse(&shown, &text, TOOLS)));
        let Ok(result) = outcome else {
            panic!("{name}: the parser panicked");
        };
        let diagnostics = match result {
            Ok(_) => panic!("{name}: accepted, but it has a deliberate problem"),
            Err(d) => d,
        };
        assert!(
            !diagnostics.items().is_empty(),
            "{name}: refused with no problem"
        );
        for item in diagnostics.items() {
            assert!(
                item.span.is_some(),
                "{name}: `{}` has no place",
                item.message
            );
        }
        let snapshot = name.trim_end_matches(".yaml").to_string();
        settings.set_input_file(path);
        settings.bind(|| {
            insta::assert_snapshot!(snapshot, diagnostics.render());
        });
    }
}

#[test]
fn example_workflows_are_accepted() {
    let mut files = yaml_files("examples/workflows");
    assert!(!files.is_empty(), "no example workflows");
    files.extend(yaml_files("tests/fixtures/workflows/valid"));
    for path in &files {
        let name = path.display().to_string();
        if let Err(d) = workflow::parse(&name, &read(path), TOOLS) {
            panic!("{name} is refused:\n{}", d.render());
        }
    }
}

/// Damaged copies of `text`: cut short every 37 bytes; each line deleted, doubled,
/// indented and outdented; YAML and template punctuation inserted every 53 bytes.
fn mutations(text: &str) -> Vec<(String, String)> {
    let boundary = |mut at: usize| {
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        at
    };
    let mut out = Vec::new();
    for cut in (0..text.len()).step_by(37) {
        let at = boundary(cut);
        out.push((format!("cut at byte {at}"), text[..at].to_string()));
    }
    for place in (0..text.len()).step_by(53) {
        let at = boundary(place);
        for insert in [
            "[", "{", "\"", "'", ": ", "&a ", "*a", "!t ", "\t", "- ", "{{", "{%", "}}",
        ] {
            let damaged = format!("{}{insert}{}", &text[..at], &text[at..]);
            out.push((format!("{insert:?} inserted at byte {at}"), damaged));
        }
    }
    let lines: Vec<&str> = text.lines().collect();
    let join = |lines: &[String]| lines.join("\n") + "\n";
    let owned: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    for i in 0..lines.len() {
        let mut fewer = owned.clone();
        fewer.remove(i);
        out.push((format!("line {} deleted", i + 1), join(&fewer)));
        let mut more = owned.clone();
        more.insert(i, owned[i].clone());
        out.push((format!("line {} doubled", i + 1), join(&more)));
        let mut indented = owned.clone();
        indented[i] = format!("  {}", lines[i]);
        out.push((format!("line {} indented", i + 1), join(&indented)));
        if let Some(rest) = lines[i].strip_prefix("  ") {
            let mut outdented = owned.clone();
            outdented[i] = rest.to_string();
            out.push((format!("line {} outdented", i + 1), join(&outdented)));
        }
    }
    out
}

#[test]
fn damaged_workflows_never_panic() {
    let mut files = yaml_files("examples/workflows");
    files.extend(yaml_files("tests/fixtures/workflows/valid"));
    files.extend(yaml_files("tests/fixtures/workflows/invalid"));
    let mut checked = 0;
    let mut refused = 0;
    for path in files {
        let name = file_name(&path);
        for (how, text) in mutations(&read(&path)) {
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                let result = workflow::parse(&name, &text, TOOLS);
                // Rendering must not panic either.
                if let Err(d) = &result {
                    let _ = d.render();
                    let _ = d.short();
                }
                result.is_ok()
            }));
            match outcome {
                Ok(ok) => refused += usize::from(!ok),
                Err(_) => panic!("{name}, {how}: the parser panicked on:\n{text}"),
            }
            checked += 1;
        }
    }
    assert!(checked > 1000, "only {checked} damaged copies");
    assert!(refused > checked / 2, "only {refused} of {checked} refused");
}
