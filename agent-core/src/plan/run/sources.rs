//! The sources a task names (a file such as `agenda.txt` or `config/server.toml`, a page
//! such as `https://docs.example/setup`) that no call of the run has used yet. What such
//! a source holds is unknown until a tool reads it, and small models answer from what
//! they imagine it holds: an answer given while a named source is still unused, or,
//! before the run has read anything, calls of tools that read nothing (the calculator on
//! a guessed price), are sent back, naming it, once per source.

use std::sync::LazyLock;

use agentry_tools::ToolSpec;
use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::AgentRun;
use super::step::Step;

/// Most sources taken from one task.
const MAX_SOURCES: usize = 8;
/// Longest source taken, in bytes.
const MAX_SOURCE_LEN: usize = 256;

/// File extensions that make a bare word (`todo.txt`) a file name. A word with a folder
/// (`notes/plan.v2`) needs only a short alphabetic extension.
const FILE_EXTENSIONS: &[&str] = &[
    "txt",
    "md",
    "markdown",
    "rst",
    "csv",
    "tsv",
    "json",
    "jsonl",
    "ndjson",
    "yaml",
    "yml",
    "toml",
    "ini",
    "cfg",
    "conf",
    "env",
    "xml",
    "html",
    "htm",
    "log",
    "sql",
    "py",
    "rs",
    "js",
    "ts",
    "tsx",
    "jsx",
    "go",
    "java",
    "c",
    "h",
    "cpp",
    "hpp",
    "cs",
    "rb",
    "php",
    "sh",
    "bash",
    "zsh",
    "ps1",
    "bat",
    "pdf",
    "doc",
    "docx",
    "xls",
    "xlsx",
    "ppt",
    "pptx",
    "odt",
    "rtf",
    "tex",
    "ipynb",
    "lock",
    "properties",
    "gradle",
    "kt",
    "swift",
    "lua",
    "pl",
    "r",
    "scala",
    "dart",
    "vue",
    "svelte",
    "css",
    "scss",
    "sass",
    "less",
    "svg",
    "dat",
    "bak",
    "out",
    "diff",
    "patch",
];

/// A page address in running text.
static URL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"https?://[^\s<>"'`()\[\]{}]+"#).expect("valid regex"));
/// A relative path made of plain characters that ends in an extension: a whole word, its
/// quotes and punctuation trimmed.
static FILE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:[A-Za-z0-9_-][A-Za-z0-9_.-]*/)*[A-Za-z0-9_-][A-Za-z0-9_.-]*\.([A-Za-z][A-Za-z0-9]{0,9})$")
        .expect("valid regex")
});

/// A source a task names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub(super) enum Source {
    /// A file, by the relative path the task gives.
    File(String),
    /// A page, by its address.
    Page(String),
}

impl Source {
    /// How the task names it.
    fn name(&self) -> &str {
        match self {
            Self::File(path) => path,
            Self::Page(url) => url,
        }
    }

    /// What it is, and what a tool does to get what it holds.
    fn kind(&self) -> (&'static str, &'static str) {
        match self {
            Self::File(_) => ("file", "read"),
            Self::Page(_) => ("page", "fetch"),
        }
    }

    /// Whether a call's `args` use this source: for a file, one of their strings is its
    /// path (`./` before it or a folder before it allowed) or its file name alone
    /// (`server.toml` for `config/server.toml`), not merely a text that mentions it (a
    /// write whose content quotes the task); for a page, one of them holds its address.
    fn used_by(&self, args: &Value) -> bool {
        match self {
            Self::File(path) => {
                let name = path.rsplit('/').next().unwrap_or(path);
                any_string(args, &|text| {
                    let text = text.trim();
                    [path.as_str(), name]
                        .iter()
                        .any(|wanted| text == *wanted || text.ends_with(&format!("/{wanted}")))
                })
            }
            Self::Page(url) => {
                let url = url.trim_end_matches('/');
                any_string(args, &|text| text.contains(url))
            }
        }
    }

    /// Whether one of `tools` could use it: for a file, a tool that reads files; for a
    /// page, one that goes on the network.
    fn reachable(&self, tools: &[ToolSpec]) -> bool {
        tools.iter().any(|tool| match self {
            Self::File(_) => tool.capabilities.read_files,
            Self::Page(_) => tool.capabilities.network,
        })
    }
}

/// The sources `task` names that one of `tools` could use: page addresses, and relative
/// file paths with a known extension (or a folder) and no `.` or `..` part; at most
/// [`MAX_SOURCES`], each once. Absolute paths are left out: they are outside any
/// working folder a tool would read.
pub(super) fn named(task: &str, tools: &[ToolSpec]) -> Vec<Source> {
    let mut sources = Vec::new();
    let mut push = |source: Source| {
        if source.name().len() <= MAX_SOURCE_LEN
            && !sources.contains(&source)
            && source.reachable(tools)
        {
            sources.push(source);
        }
    };
    for url in URL.find_iter(task) {
        push(Source::Page(
            url.as_str()
                .trim_end_matches(['.', ',', ';', ':', '!', '?'])
                .to_owned(),
        ));
    }
    let without_urls = URL.replace_all(task, " ");
    for word in without_urls.split_whitespace() {
        let path = word
            .trim_start_matches(['`', '\'', '"', '(', '[', '{', '<'])
            .trim_end_matches([
                '`', '\'', '"', ')', ']', '}', '>', ',', ';', ':', '!', '?', '.',
            ]);
        let Some(found) = FILE.captures(path) else {
            continue;
        };
        let extension = found[1].to_ascii_lowercase();
        let known = FILE_EXTENSIONS.contains(&extension.as_str());
        let in_folder = path.contains('/') && extension.len() <= 5;
        if known || in_folder {
            push(Source::File(path.to_owned()));
        }
    }
    sources.truncate(MAX_SOURCES);
    sources
}

/// Removes from `unused` the sources `args` use.
pub(super) fn mark_used(unused: &mut Vec<Source>, args: &Value) {
    unused.retain(|source| !source.used_by(args));
}

/// Whether any string in `value` (keys aside) satisfies `test`.
fn any_string(value: &Value, test: &dyn Fn(&str) -> bool) -> bool {
    match value {
        Value::String(text) => test(text),
        Value::Array(items) => items.iter().any(|item| any_string(item, test)),
        Value::Object(fields) => fields.values().any(|item| any_string(item, test)),
        _ => false,
    }
}

/// The problem of a reply given while `unused` sources remain: an answer, or, while no
/// call of the run has read anything (`read_before`: a tool that reads files or the
/// network was called), calls that read nothing while a source they do not use remains
/// (writing the copy before reading the original). `None` when the reply may stand.
/// After a read, calls are free: a named file may be one to write.
pub(super) fn unused_problem(
    unused: &[Source],
    calls: Option<&[(String, Value)]>,
    read_before: bool,
    tools: &[ToolSpec],
) -> Option<(String, Source)> {
    let Some(calls) = calls else {
        let first = unused.first()?;
        let (what, verb) = first.kind();
        return Some(format!(
            "the request names the {what} `{name}`, and no call has used it in this run: \
             what it holds is unknown until a tool {verb}s it. If the request needs what it \
             holds, {verb} it now; if it asks you to write it, write it now; if it turns out \
             missing, say so. Do not guess what it holds",
            name = first.name()
        ))
        .map(|problem| (problem, first.clone()));
    };
    if read_before || calls.iter().any(|(name, _)| reads(name, tools)) {
        return None;
    }
    let left = unused
        .iter()
        .find(|source| !calls.iter().any(|(_, args)| source.used_by(args)))?;
    let (what, verb) = left.kind();
    let problem = format!(
        "the request names the {what} `{name}`, and no tool has {verb} anything in this run \
         yet: what it holds is unknown until a tool {verb}s it. {verb_cap} it first, then use \
         what it holds",
        name = left.name(),
        verb_cap = if verb == "read" { "Read" } else { "Fetch" },
    );
    Some((problem, left.clone()))
}

/// Whether `name` is one of `tools` that reads files or the network.
pub(super) fn reads(name: &str, tools: &[ToolSpec]) -> bool {
    tools.iter().any(|tool| {
        tool.name == name && (tool.capabilities.read_files || tool.capabilities.network)
    })
}

impl AgentRun {
    /// The problem of a reply given while a source the task names is unused (see
    /// [`unused_problem`]), once per source and when a step is left to use it.
    pub(super) fn unused_source_problem(&mut self, step: &Step) -> Option<String> {
        if self.must_answer() || self.last_step() {
            return None;
        }
        let unasked: Vec<Source> = self
            .unused_sources
            .iter()
            .filter(|source| !self.sources_asked.contains(source))
            .cloned()
            .collect();
        let calls = match step {
            Step::Act { calls, .. } => Some(calls.as_slice()),
            Step::Answer { .. } => None,
        };
        let tools = &self.config.tools;
        let read_before = self.tools_used.iter().any(|name| reads(name, tools));
        let (problem, source) = unused_problem(&unasked, calls, read_before, tools)?;
        self.sources_asked.push(source);
        Some(problem)
    }
}

#[cfg(test)]
mod tests {
    use agentry_tools::{Capabilities, ToolSpec};
    use serde_json::json;

    use super::*;

    fn tool(name: &str, capabilities: Capabilities) -> ToolSpec {
        let mut spec = ToolSpec::new(name, "a tool", json!({"type": "object"}));
        spec.capabilities = capabilities;
        spec
    }

    fn reader_and_fetcher() -> Vec<ToolSpec> {
        vec![
            tool(
                "read_file",
                Capabilities {
                    read_files: true,
                    ..Capabilities::NONE
                },
            ),
            tool("fetch_page", Capabilities::NONE.with_network()),
            tool("calculator", Capabilities::NONE),
        ]
    }

    fn files(task: &str) -> Vec<String> {
        named(task, &reader_and_fetcher())
            .into_iter()
            .map(|source| source.name().to_owned())
            .collect()
    }

    #[test]
    fn files_and_pages_are_found_in_running_text() {
        assert_eq!(files("What is the first item in todo.txt?"), ["todo.txt"]);
        assert_eq!(
            files("What port does config/server.toml set?"),
            ["config/server.toml"]
        );
        assert_eq!(
            files("a.txt and b.txt each hold a number."),
            ["a.txt", "b.txt"]
        );
        assert_eq!(
            files("Read `notes.md`, then (data.csv)."),
            ["notes.md", "data.csv"]
        );
        assert_eq!(
            files("Fetch https://shop.example/price. Then read it.txt."),
            ["https://shop.example/price", "it.txt"]
        );
    }

    #[test]
    fn words_that_only_look_like_files_are_not_sources() {
        for task in [
            "What is 3.5 times 2?",
            "Is example.com up?",
            "Say hello, e.g. in French.",
            "Read ../secret.txt and tell me.",
            "Show me /etc/passwd.",
            "Open work/../../keys.txt for me.",
            "What do .toml files hold?",
        ] {
            assert!(files(task).is_empty(), "{task}: {:?}", files(task));
        }
    }

    #[test]
    fn a_source_no_tool_can_use_is_left_out() {
        let calculator_only = [tool("calculator", Capabilities::NONE)];
        assert!(named("Read todo.txt and https://a.example/x", &calculator_only).is_empty());
    }

    #[test]
    fn a_call_that_names_the_file_or_its_name_uses_it() {
        let mut unused = vec![
            Source::File("config/server.toml".into()),
            Source::Page("https://docs.example/setup".into()),
        ];
        mark_used(&mut unused, &json!({"path": "./server.toml"}));
        assert_eq!(unused, [Source::Page("https://docs.example/setup".into())]);
        mark_used(&mut unused, &json!({"url": "https://docs.example/setup/"}));
        assert!(unused.is_empty());
        // A text that only mentions the file does not use it.
        let mut unused = vec![Source::File("source.txt".into())];
        mark_used(
            &mut unused,
            &json!({"path": "target.txt", "content": "Copy a line of source.txt."}),
        );
        assert_eq!(unused.len(), 1);
        mark_used(&mut unused, &json!({"path": "work/source.txt"}));
        assert!(unused.is_empty());
    }

    #[test]
    fn an_answer_or_a_call_that_reads_nothing_is_sent_back_while_a_source_is_unused() {
        let tools = reader_and_fetcher();
        let unused = [Source::File("prices.txt".into())];
        let (answer, _) = unused_problem(&unused, None, true, &tools).expect("sent back");
        assert!(answer.contains("`prices.txt`"), "{answer}");
        let guess = [("calculator".to_owned(), json!({"expression": "7 * 1"}))];
        assert!(unused_problem(&unused, Some(&guess), false, &tools).is_some());
        // After a read the named file may be one to write: calls are free.
        assert_eq!(unused_problem(&unused, Some(&guess), true, &tools), None);
        let read = [("read_file".to_owned(), json!({"path": "other.txt"}))];
        assert_eq!(unused_problem(&unused, Some(&read), false, &tools), None);
        // Writing the copy before reading the original: the original is named.
        let copy = [
            Source::File("source.txt".into()),
            Source::File("target.txt".into()),
        ];
        let write = [("write_file".to_owned(), json!({"path": "target.txt"}))];
        let (problem, named) =
            unused_problem(&copy, Some(&write), false, &tools).expect("sent back");
        assert!(problem.contains("`source.txt`"), "{problem}");
        assert_eq!(named, copy[0]);
        assert_eq!(
            unused_problem(&copy[1..], Some(&write), false, &tools),
            None
        );
        assert_eq!(unused_problem(&[], None, false, &tools), None);
    }
}
