//! The workflow loader and validator on arbitrary YAML text: a workflow or diagnostics
//! (rendered, as `agentry validate` prints them), never a panic or a hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

const TOOLS: &[&str] = &["read_file", "write_file", "http_get", "calculator"];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match agentry_workflow::parse("fuzz.yaml", text, TOOLS) {
        Ok(workflow) => {
            let _ = format!("{workflow:?}");
        }
        Err(diagnostics) => {
            let _ = diagnostics.render();
            let _ = diagnostics.short();
        }
    }
});
