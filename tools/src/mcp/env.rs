//! The environment an MCP server's process starts with: what its configuration sets, on
//! top of a minimal base copied from this process. Nothing else of the parent's
//! environment (API keys, tokens) reaches the child.

use std::collections::BTreeMap;

/// The variables copied from this process into every MCP server's environment: what a
/// program needs to find other programs, its home, locale and temporary directory.
pub const BASE_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TERM",
    "TMPDIR",
    "SYSTEMROOT",
];

/// The child's whole environment: [`BASE_ENV`] from this process, then `extra`.
pub(crate) fn child_env(extra: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = BASE_ENV
        .iter()
        .filter_map(|key| std::env::var(key).ok().map(|v| ((*key).to_owned(), v)))
        .collect();
    env.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
    env
}
