//! The sources a task names (a file such as `agenda.txt` or `config/server.toml`, a page
//! such as `https://docs.example/setup`) that no call of the run has used yet, and the
//! files a listing showed that no call has read. What such a source holds is unknown
//! until a tool reads it, and small models answer from what they imagine it holds:
//!
//! - an answer given while a named source is still unused is sent back, naming it;
//! - before the run has read anything, calls of tools that read nothing (the calculator
//!   on a guessed price) are sent back while a source they do not use remains; after a
//!   read, such a call is sent back only when it holds a number found neither in the
//!   task nor in any result (`12 * 3` with only `a.txt` = 12 read, `b.txt` not);
//! - an answer that names a listed file no call has read (`trip.md`, seen in a folder's
//!   listing, with the city it names made up) is sent back, naming it.
//!
//! Each source is asked for once.

use std::sync::LazyLock;

use agentry_tools::{Capabilities, ToolSpec};
use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::step::Step;
use super::{AgentRun, StepFormat};

/// Most sources taken from one task.
const MAX_SOURCES: usize = 8;
/// Longest source taken, in bytes.
const MAX_SOURCE_LEN: usize = 256;
/// Most listed files kept for a run.
pub(super) const MAX_LISTED: usize = 64;
/// Most calls of reading tools whose arguments are kept (to tell a listed file already
/// read).
pub(super) const MAX_READ_ARGS: usize = 64;

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

/// A number as written in running text or a call (`12`, `3.5`).
static NUMBER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\d+(?:\.\d+)?").expect("valid regex"));

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
        tools.iter().any(|tool| self.usable_by(tool, false))
    }

    /// Whether `tool` could use it: for a file, a tool that reads files (or, with
    /// `writes`, one that writes them); for a page, one that goes on the network.
    fn usable_by(&self, tool: &ToolSpec, writes: bool) -> bool {
        match self {
            Self::File(_) => {
                tool.capabilities.read_files || (writes && tool.capabilities.write_files)
            }
            Self::Page(_) => tool.capabilities.network,
        }
    }

    /// The names of the `tools` that could not use it (see [`Source::usable_by`]): those
    /// withheld from a step that must use it.
    pub(super) fn withheld_from_use(&self, tools: &[ToolSpec], writes: bool) -> Vec<String> {
        tools
            .iter()
            .filter(|tool| !self.usable_by(tool, writes))
            .map(|tool| tool.name.clone())
            .collect()
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
        if is_file_path(path) {
            push(Source::File(path.to_owned()));
        }
    }
    sources.truncate(MAX_SOURCES);
    sources
}

/// Whether `path` is a relative file path: plain characters, no `.` or `..` part, and a
/// known extension (or a folder and a short alphabetic one).
fn is_file_path(path: &str) -> bool {
    let Some(found) = FILE.captures(path) else {
        return false;
    };
    let extension = found[1].to_ascii_lowercase();
    let known = FILE_EXTENSIONS.contains(&extension.as_str());
    let in_folder = path.contains('/') && extension.len() <= 5;
    path.len() <= MAX_SOURCE_LEN && (known || in_folder)
}

/// The files a result of `tool` shows (a folder's listing: each string of the JSON
/// result that is a file path), when `tool` reads files and another of `tools` does too
/// (one that could read what the listing shows); at most [`MAX_LISTED`].
pub(super) fn listed(tool: &str, result: &str, tools: &[ToolSpec]) -> Vec<Source> {
    let readers = tools.iter().filter(|spec| spec.capabilities.read_files);
    let from_reader = tools
        .iter()
        .any(|spec| spec.name == tool && spec.capabilities.read_files);
    if !from_reader || readers.count() < 2 {
        return Vec::new();
    }
    let Ok(value) = serde_json::from_str::<Value>(result) else {
        return Vec::new();
    };
    let mut files = Vec::new();
    collect_files(&value, &mut files);
    files
}

/// Pushes onto `files` each string in `value` (keys aside) that is a file path, each
/// once, up to [`MAX_LISTED`].
fn collect_files(value: &Value, files: &mut Vec<Source>) {
    match value {
        Value::String(text) if is_file_path(text) => {
            let source = Source::File(text.clone());
            if files.len() < MAX_LISTED && !files.contains(&source) {
                files.push(source);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_files(item, files)),
        Value::Object(fields) => fields.values().for_each(|item| collect_files(item, files)),
        _ => {}
    }
}

/// Whether `text` names `source` as a word of its own (`trip.md` in "The file `trip.md`
/// names Paris.", not in `old-trip.md`).
fn named_in(source: &Source, text: &str) -> bool {
    let name = source.name();
    let part_of_name = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '/' | '.');
    text.match_indices(name).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + name.len()..].chars().next();
        !before.is_some_and(part_of_name)
            && !after.is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '/'))
    })
}

/// The numbers written in `value`'s strings and numbers (keys aside).
fn numbers_in(value: &Value, numbers: &mut Vec<f64>) {
    match value {
        Value::String(text) => numbers.extend(numbers_in_text(text)),
        Value::Number(number) => numbers.extend(number.as_f64().map(f64::abs)),
        Value::Array(items) => items.iter().for_each(|item| numbers_in(item, numbers)),
        Value::Object(fields) => fields.values().for_each(|item| numbers_in(item, numbers)),
        _ => {}
    }
}

/// The numbers written in `text`.
fn numbers_in_text(text: &str) -> impl Iterator<Item = f64> + '_ {
    NUMBER
        .find_iter(text)
        .filter_map(|found| found.as_str().parse::<f64>().ok())
}

/// The first number in `calls`' arguments that appears in none of `grounds` (the task,
/// the results), as the call writes it.
fn made_up_number<'a>(
    calls: &[(String, Value)],
    grounds: impl IntoIterator<Item = &'a str>,
) -> Option<f64> {
    let known: Vec<f64> = grounds.into_iter().flat_map(numbers_in_text).collect();
    let mut written = Vec::new();
    for (_, args) in calls {
        numbers_in(args, &mut written);
    }
    written
        .into_iter()
        .find(|number| !known.iter().any(|known| (known - number).abs() < 1e-9))
}

/// The problem of `calls` that write a file with a number taken from neither `grounds`
/// (the request, the results, recalled memories, the instructions) nor the writing
/// tool's own description and schema: a sum worked out in the model's head
/// (qwen2.5-coder-0.5b wrote 32 for 17 + 25, asked to add them with the calculator). Only
/// numbers of two digits or more, or with a fraction, count (a list's "1." is no result),
/// and a percentage matches its fraction (`5` and `0.05`). The tools that compute without
/// touching anything are named. `None` when no call writes one.
///
/// The JSON numbers of every call, writing or not, are also checked by
/// [`made_up_arguments`](super::made_up::made_up_arguments), which withholds the tool for a
/// step.
pub(super) fn made_up_write_problem(
    calls: &[(String, Value)],
    grounds: &[&str],
    tools: &[ToolSpec],
) -> Option<String> {
    let known: Vec<f64> = grounds
        .iter()
        .flat_map(|text| numbers_in_text(text))
        .collect();
    calls.iter().find_map(|(name, args)| {
        let tool = tools
            .iter()
            .find(|tool| tool.name == *name && tool.capabilities.write_files)?;
        let spec = format!("{} {}", tool.description, tool.parameters);
        let own: Vec<f64> = numbers_in_text(&spec).collect();
        let mut used = Vec::new();
        numbers_in(args, &mut used);
        let number = used.into_iter().find(|number| {
            (*number >= 10.0 || number.fract() != 0.0)
                && !known
                    .iter()
                    .chain(&own)
                    .any(|known| same_number(*known, *number))
        })?;
        let pure: Vec<String> = tools
            .iter()
            .filter(|tool| tool.capabilities == Capabilities::NONE)
            .map(|tool| format!("`{}`", tool.name))
            .collect();
        let how = if pure.is_empty() {
            "Work it out from the results above".to_owned()
        } else {
            format!(
                "Work it out with a tool first ({}), then write what it gives",
                pure.join(", ")
            )
        };
        Some(format!(
            "the call to `{name}` writes {number}, which is in neither the request nor a \
             tool result. {how}"
        ))
    })
}

/// Whether `known` and `used` are one number, or a percentage and its fraction.
pub(super) fn same_number(known: f64, used: f64) -> bool {
    let close = |a: f64, b: f64| (a - b).abs() < 1e-9 * a.abs().max(1.0);
    close(known, used) || close(known, used * 100.0) || close(known * 100.0, used)
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

/// What the run has read so far, for [`unused_problem`].
pub(super) struct Reads<'a> {
    /// Whether a call of a tool that reads files or the network was made.
    pub(super) any: bool,
    /// The texts a value may come from: the task and every result.
    pub(super) grounds: Vec<&'a str>,
}

/// The problem of a reply given while `unused` sources remain: an answer; while no call
/// of the run has read anything, calls that read nothing while a source they do not use
/// remains (writing the copy before reading the original); after a read, such calls
/// when they hold a number found in none of the `reads`' grounds (the number of a file
/// not read yet, made up). `None` when the reply may stand: after a read, a named file
/// may be one to write.
pub(super) fn unused_problem(
    unused: &[Source],
    calls: Option<&[(String, Value)]>,
    reads_so_far: &Reads<'_>,
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
    if calls.iter().any(|(name, _)| reads(name, tools)) {
        return None;
    }
    let left = unused
        .iter()
        .find(|source| !calls.iter().any(|(_, args)| source.used_by(args)))?;
    let (what, verb) = left.kind();
    let verb_cap = if verb == "read" { "Read" } else { "Fetch" };
    let name = left.name();
    let problem = if !reads_so_far.any {
        // Every such source of the same kind is named (`a.txt` and `b.txt` for their
        // product); only the first counts as asked for, so a later made-up number can
        // still name the others.
        let others: Vec<String> = unused
            .iter()
            .filter(|source| {
                *source != left
                    && source.kind() == left.kind()
                    && !calls.iter().any(|(_, args)| source.used_by(args))
            })
            .map(|source| format!("`{}`", source.name()))
            .collect();
        if others.is_empty() {
            format!(
                "the request names the {what} `{name}`, and no tool has {verb} anything in \
                 this run yet: what it holds is unknown until a tool {verb}s it. {verb_cap} \
                 it first, then use what it holds"
            )
        } else {
            format!(
                "the request names the {what}s `{name}` and {others}, and no tool has {verb} \
                 anything in this run yet: what they hold is unknown until a tool {verb}s \
                 them. {verb_cap} each of them first, then use what they hold",
                others = others.join(" and ")
            )
        }
    } else {
        let number = made_up_number(calls, reads_so_far.grounds.iter().copied())?;
        format!(
            "the call uses {number}, which is neither in the request nor in a tool result, \
             and the request names the {what} `{name}`, which no call has {verb} in this \
             run. {verb_cap} `{name}` first, then use what it holds"
        )
    };
    Some((problem, left.clone()))
}

/// The problem of an answer that names one of the `listed` files (shown by a listing,
/// read by no call): what it holds is unknown. `read_now`: the next step must read a file
/// (it is told to); else it may read it or answer again. `None` when it names none.
pub(super) fn listed_problem(
    listed: &[Source],
    answer: &str,
    read_now: bool,
) -> Option<(String, Source)> {
    let source = listed.iter().find(|source| named_in(source, answer))?;
    let next = if read_now {
        "Read it now"
    } else {
        "If your answer depends on what it holds, read it now; otherwise give your answer again"
    };
    Some((
        format!(
            "it names the file `{name}`, which no call has read in this run: what it holds \
             is unknown until a tool reads it. {next}",
            name = source.name()
        ),
        source.clone(),
    ))
}

/// Whether `name` is one of `tools` that reads files or the network.
pub(super) fn reads(name: &str, tools: &[ToolSpec]) -> bool {
    tools.iter().any(|tool| {
        tool.name == name && (tool.capabilities.read_files || tool.capabilities.network)
    })
}

impl AgentRun {
    /// The problem of a reply given while a source the task names is unused (see
    /// [`unused_problem`]), or of an answer naming a listed file no call has read (see
    /// [`listed_problem`]); once per source and when a step is left to use it.
    pub(super) fn unused_source_problem(&mut self, step: &Step) -> Option<String> {
        if self.must_answer() || self.last_step() {
            return None;
        }
        let unasked = |sources: &[Source]| -> Vec<Source> {
            sources
                .iter()
                .filter(|source| !self.sources_asked.contains(source))
                .cloned()
                .collect()
        };
        let tools = &self.config.tools;
        let native = matches!(self.config.step_format, StepFormat::Native(_));
        // `writes`: whether a tool that writes files could use it (a file the request
        // names may be one to write).
        let (found, writes) = match step {
            Step::Act { calls, .. } => {
                let reads_so_far = Reads {
                    any: self.tools_used.iter().any(|name| reads(name, tools)),
                    grounds: std::iter::once(self.config.task.as_str())
                        .chain(self.observations.iter().map(|(_, text)| text.as_str()))
                        .collect(),
                };
                let unasked = unasked(&self.unused_sources);
                // Told to read it first.
                (
                    unused_problem(&unasked, Some(calls), &reads_so_far, tools),
                    false,
                )
            }
            Step::Answer { answer, .. } => {
                let no_reads = Reads {
                    any: false,
                    grounds: Vec::new(),
                };
                let text = match answer {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                match unused_problem(&unasked(&self.unused_sources), None, &no_reads, tools) {
                    Some(found) => (Some(found), true),
                    None => {
                        let listed = unasked(&self.listed_sources);
                        (listed_problem(&listed, &text, native), false)
                    }
                }
            }
        };
        let (problem, source) = found?;
        // A native step can be made to use it: the next step must call a tool that could
        // (small models asked to read it planned the listing again in prose, answered by
        // copying the note, or wrote the copy again before reading the original).
        if native {
            self.use_next = Some(source.withheld_from_use(tools, writes));
        }
        self.sources_asked.push(source);
        Some(problem)
    }

    /// The problem of a step whose call writes a number that no result, the request, a
    /// recalled memory or the instructions gave (see [`made_up_write_problem`]): once per
    /// run, and when a step is left to work it out.
    pub(super) fn made_up_write_problem(&mut self, step: &Step) -> Option<String> {
        let Step::Act { calls, .. } = step else {
            return None;
        };
        if self.made_up_write_asked || self.must_answer() || self.last_step() {
            return None;
        }
        let grounds = self.grounds();
        let problem = made_up_write_problem(calls, &grounds, &self.config.tools)?;
        self.made_up_write_asked = true;
        Some(problem)
    }

    /// The note after `results` when one of them is a failure while a source the task
    /// names is still unused and not yet asked for: the failed call may have wanted what
    /// it holds (qwen2.5-coder-1.5b read `a.txt`, then called the calculator on `a * b`
    /// until the step limit). The source then counts as asked for. `None` otherwise, and
    /// when the next step must answer.
    pub(super) fn failed_call_note(&mut self, results: &[(String, String)]) -> Option<String> {
        let failed = results
            .iter()
            .any(|(_, text)| text.trim_start().starts_with("error:"));
        if !failed || self.must_answer() || self.last_step() {
            return None;
        }
        let source = self
            .unused_sources
            .iter()
            .find(|source| !self.sources_asked.contains(source))?
            .clone();
        let (what, verb) = source.kind();
        let note = format!(
            "The request also names the {what} `{name}`, which no call has {verb} in this run: \
             if the request needs what it holds, {verb} it.",
            name = source.name()
        );
        self.sources_asked.push(source);
        Some(note)
    }

    /// Notes the files a step's `results` list (see [`listed`]) that no call has read.
    pub(super) fn note_listed(&mut self, results: &[(String, String)]) {
        for (tool, text) in results {
            for source in listed(tool, text, &self.config.tools) {
                let read = self.read_args.iter().any(|args| source.used_by(args));
                if !read
                    && !self.listed_sources.contains(&source)
                    && self.listed_sources.len() < MAX_LISTED
                {
                    self.listed_sources.push(source);
                }
            }
        }
    }

    /// Notes the arguments of `calls` of tools that read files, and marks the sources
    /// they use as used.
    pub(super) fn note_used(&mut self, calls: &[(String, Value)]) {
        for (name, args) in calls {
            mark_used(&mut self.unused_sources, args);
            mark_used(&mut self.listed_sources, args);
            if reads(name, &self.config.tools) && self.read_args.len() < MAX_READ_ARGS {
                self.read_args.push(args.clone());
            }
        }
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

    fn none_read() -> Reads<'static> {
        Reads {
            any: false,
            grounds: Vec::new(),
        }
    }

    fn read(grounds: &[&'static str]) -> Reads<'static> {
        Reads {
            any: true,
            grounds: grounds.to_vec(),
        }
    }

    #[test]
    fn an_answer_or_a_call_that_reads_nothing_is_sent_back_while_a_source_is_unused() {
        let tools = reader_and_fetcher();
        let unused = [Source::File("prices.txt".into())];
        let (answer, _) = unused_problem(&unused, None, &read(&[]), &tools).expect("sent back");
        assert!(answer.contains("`prices.txt`"), "{answer}");
        let guess = [("calculator".to_owned(), json!({"expression": "7 * 1"}))];
        assert!(unused_problem(&unused, Some(&guess), &none_read(), &tools).is_some());
        let read_call = [("read_file".to_owned(), json!({"path": "other.txt"}))];
        assert_eq!(
            unused_problem(&unused, Some(&read_call), &none_read(), &tools),
            None
        );
        // Writing the copy before reading the original: the original is named.
        let copy = [
            Source::File("source.txt".into()),
            Source::File("target.txt".into()),
        ];
        let write = [("write_file".to_owned(), json!({"path": "target.txt"}))];
        let (problem, named) =
            unused_problem(&copy, Some(&write), &none_read(), &tools).expect("sent back");
        assert!(problem.contains("`source.txt`"), "{problem}");
        assert_eq!(named, copy[0]);
        assert_eq!(
            unused_problem(&copy[1..], Some(&write), &none_read(), &tools),
            None
        );
        assert_eq!(unused_problem(&[], None, &none_read(), &tools), None);
    }

    #[test]
    fn a_call_before_any_read_names_every_unread_file_and_counts_the_first() {
        let tools = reader_and_fetcher();
        let unused = [
            Source::File("a.txt".into()),
            Source::File("b.txt".into()),
            Source::Page("https://x.example/p".into()),
        ];
        let guess = [("calculator".to_owned(), json!({"expression": "a * b"}))];
        let (problem, named) =
            unused_problem(&unused, Some(&guess), &none_read(), &tools).expect("sent back");
        assert!(
            problem.contains("the files `a.txt` and `b.txt`"),
            "{problem}"
        );
        assert!(!problem.contains("x.example"), "{problem}");
        assert_eq!(named, unused[0]);
    }

    #[test]
    fn after_a_read_only_a_call_with_a_made_up_number_is_sent_back() {
        let tools = reader_and_fetcher();
        let unused = [Source::File("b.txt".into())];
        let task = "a.txt and b.txt each hold a number. What is their product?";
        let after_a = read(&[task, r#"{"path":"a.txt","content":"12\n"}"#]);
        // 3 is in neither the request nor a result: b.txt's number, made up.
        let guess = [("calculator".to_owned(), json!({"expression": "12 * 3"}))];
        let (problem, named) =
            unused_problem(&unused, Some(&guess), &after_a, &tools).expect("sent back");
        assert!(problem.contains("uses 3,"), "{problem}");
        assert!(problem.contains("`b.txt`"), "{problem}");
        assert_eq!(named, unused[0]);
        // Numbers from the results (or none at all) may stand: the named file may be one
        // to write.
        for expression in ["12 * 12", "a * b", "12.0 * 12"] {
            let call = [("calculator".to_owned(), json!({ "expression": expression }))];
            assert_eq!(
                unused_problem(&unused, Some(&call), &after_a, &tools),
                None,
                "{expression}"
            );
        }
        // A number argument counts too, and 123 is not 12.
        let numbers = [("calculator".to_owned(), json!({"a": 12, "b": 123}))];
        assert!(unused_problem(&unused, Some(&numbers), &after_a, &tools).is_some());
    }

    #[test]
    fn a_listing_shows_files_when_another_tool_could_read_them() {
        let mut tools = reader_and_fetcher();
        let mut list_dir = tool(
            "list_dir",
            Capabilities {
                read_files: true,
                ..Capabilities::NONE
            },
        );
        list_dir.name = "list_dir".into();
        tools.push(list_dir.clone());
        let listing = r#"{"path":".","entries":[{"name":"trip.md","kind":"file","size":26},{"name":"notes","kind":"dir"},{"name":"3.5","kind":"file"}],"truncated":false}"#;
        assert_eq!(
            listed("list_dir", listing, &tools),
            [Source::File("trip.md".into())]
        );
        // Only a reading tool's result lists, and only when another tool could read.
        assert!(listed("calculator", listing, &tools).is_empty());
        assert!(listed("list_dir", listing, &[list_dir]).is_empty());
        assert!(listed("list_dir", "not json trip.md", &tools).is_empty());
    }

    #[test]
    fn an_answer_naming_a_listed_file_is_sent_back_naming_it() {
        let listed_files = [Source::File("trip.md".into())];
        let (problem, named) = listed_problem(
            &listed_files,
            "The file `trip.md` is in the folder. It names the city Paris.",
            true,
        )
        .expect("sent back");
        assert!(problem.contains("`trip.md`"), "{problem}");
        assert!(problem.ends_with("Read it now"), "{problem}");
        assert_eq!(named, listed_files[0]);
        let (problem, _) =
            listed_problem(&listed_files, "It is trip.md.", false).expect("sent back");
        assert!(
            problem.contains("otherwise give your answer again"),
            "{problem}"
        );
        for answer in [
            "The city is Lisbon.",
            "See old-trip.md",
            "trip.mdx",
            "a/trip.md",
        ] {
            assert_eq!(
                listed_problem(&listed_files, answer, true),
                None,
                "{answer}"
            );
        }
    }
}
