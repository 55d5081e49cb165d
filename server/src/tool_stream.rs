//! Tool calls split out of a reply while it is generated, for streamed replies with
//! `tools`: free text goes out as content as soon as it cannot be the start of a call,
//! and a call goes out as its name, then its JSON arguments in fragments as they are
//! written.
//!
//! A call starts at the model's opener (`<tool_call>` for Hermes and Qwen,
//! `[TOOL_CALLS]` for Mistral, `<|python_tag|>` for Llama 3) or, in the Hermes and
//! Llama 3 formats, at an untagged `{"name": TOOL, "arguments": ..}` that begins the reply
//! or a line of it (small models often drop the tags; the whole-reply parser reads those
//! as calls too). Text that may still become an opener is held back until it is known
//! not to be one. The argument fragments are written the way `serde_json` writes the
//! parsed arguments (no whitespace outside strings, its escapes and numbers), so they
//! join to the same string a whole reply's `arguments` has.

use agentry_model::ToolCallSyntax;
use serde_json::Value;

/// One piece of a streamed reply with tools.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Piece {
    /// Free text.
    Content(String),
    /// Call `index` (0, 1, ...) begins: its tool's name.
    CallStart {
        /// The call's position in the reply.
        index: usize,
        /// The tool.
        name: String,
    },
    /// The next fragment of call `index`'s arguments JSON.
    Arguments {
        /// The call's position in the reply.
        index: usize,
        /// The fragment.
        fragment: String,
    },
}

/// Marks that may stand before an untagged call: fences, a list, a stray `<`, a comma.
const SEPARATORS: [&str; 6] = ["```json", "```", "[", "]", "<", ","];

/// Where the splitter is in the reply.
#[derive(Debug)]
enum Mode {
    /// Free text; `pending` may hold the start of an opener.
    Text,
    /// Inside a block of calls, before a call's object: until `closer` (Hermes), else until
    /// something that is not a call.
    Between { closer: Option<&'static str> },
    /// `pending` starts with a call's object (maybe after separators), its name not yet
    /// read; `tagged` when an opener came before it.
    Head {
        closer: Option<&'static str>,
        tagged: bool,
    },
    /// A call's arguments value.
    Args {
        closer: Option<&'static str>,
        writer: ArgsWriter,
    },
    /// After a call's arguments: the rest of its object (and its closer).
    Tail { closer: Option<&'static str> },
    /// A tagged call whose object does not start with its name: read whole at its closer.
    Whole { closer: &'static str },
}

/// Splits one sample's reply, fed token by token, into [`Piece`]s.
#[derive(Debug)]
pub(crate) struct CallSplitter {
    syntax: ToolCallSyntax,
    /// The tools' names (an untagged object is a call only when it names one; empty: any).
    tools: Vec<String>,
    /// Text received and not yet decided.
    pending: String,
    mode: Mode,
    /// Calls started so far.
    calls: usize,
    /// Whether the last call started is still being written.
    open: bool,
    /// Whether `pending` starts at the start of a line (or of the reply).
    line_start: bool,
    /// Untagged calls are looked for in `pending` from this byte on.
    bare_from: usize,
    /// Whether any content went out (leading whitespace is dropped, as the whole reply's
    /// content is trimmed).
    content_started: bool,
    /// Whitespace after the last content, sent only when more content follows.
    held_space: String,
    out: Vec<Piece>,
}

impl CallSplitter {
    /// A splitter for a reply that is free text or calls in `syntax` (`tool_choice:
    /// auto`); `tools` are the names a call may have.
    pub(crate) fn new(syntax: ToolCallSyntax, tools: Vec<String>) -> Self {
        Self {
            syntax,
            tools,
            pending: String::new(),
            mode: Mode::Text,
            calls: 0,
            open: false,
            line_start: true,
            bare_from: 0,
            content_started: false,
            held_space: String::new(),
            out: Vec::new(),
        }
    }

    /// A splitter for a reply that is exactly one untagged call object (`tool_choice:
    /// required` or a named function).
    pub(crate) fn one_call(syntax: ToolCallSyntax, tools: Vec<String>) -> Self {
        let mut splitter = Self::new(syntax, tools);
        splitter.mode = Mode::Head {
            closer: None,
            tagged: true,
        };
        splitter
    }

    /// How many calls the reply has started.
    pub(crate) fn calls(&self) -> usize {
        self.calls
    }

    /// Whether the reply ended inside a call (cut by the token limit).
    pub(crate) fn call_open(&self) -> bool {
        self.open
    }

    /// The pieces that `text`, the next text of the reply, completes.
    pub(crate) fn push(&mut self, text: &str) -> Vec<Piece> {
        self.pending.push_str(text);
        while self.step(false) {}
        std::mem::take(&mut self.out)
    }

    /// The pieces still held when the reply is complete.
    pub(crate) fn finish(&mut self) -> Vec<Piece> {
        while self.step(true) {}
        match std::mem::replace(&mut self.mode, Mode::Text) {
            Mode::Text | Mode::Head { tagged: false, .. } => {
                let rest = std::mem::take(&mut self.pending);
                self.content(&rest);
            }
            Mode::Args { mut writer, .. } => {
                let fragment = writer.finish();
                self.arguments(fragment);
            }
            Mode::Between { .. } | Mode::Head { .. } | Mode::Tail { .. } | Mode::Whole { .. } => {}
        }
        self.pending.clear();
        std::mem::take(&mut self.out)
    }

    /// Sends free text, trimmed as the whole reply's content is.
    fn content(&mut self, text: &str) {
        let text = if self.content_started {
            text
        } else {
            text.trim_start()
        };
        let body = text.trim_end();
        if body.is_empty() {
            self.held_space.push_str(text);
            return;
        }
        let mut piece = std::mem::take(&mut self.held_space);
        piece.push_str(body);
        self.held_space.push_str(&text[body.len()..]);
        self.content_started = true;
        self.out.push(Piece::Content(piece));
    }

    fn arguments(&mut self, fragment: String) {
        if !fragment.is_empty() {
            self.out.push(Piece::Arguments {
                index: self.calls.saturating_sub(1),
                fragment,
            });
        }
    }

    fn start_call(&mut self, name: String) {
        self.out.push(Piece::CallStart {
            index: self.calls,
            name,
        });
        self.calls += 1;
        self.open = true;
    }

    /// Sends the first `n` bytes of `pending` as content.
    fn content_through(&mut self, n: usize) {
        let text: String = self.pending.drain(..n).collect();
        if !text.is_empty() {
            self.line_start = text.ends_with('\n');
        }
        self.bare_from = self.bare_from.saturating_sub(n);
        self.content(&text);
    }

    /// The tagged opener of the format and the closer of its calls.
    fn tagged(&self) -> (&'static str, Option<&'static str>) {
        match self.syntax {
            ToolCallSyntax::Hermes => ("<tool_call>", Some("</tool_call>")),
            ToolCallSyntax::Mistral => ("[TOOL_CALLS]", None),
            ToolCallSyntax::Llama3Json => ("<|python_tag|>", None),
        }
    }

    /// One step on `pending`; whether anything changed. `end`: no more text comes.
    fn step(&mut self, end: bool) -> bool {
        match std::mem::replace(&mut self.mode, Mode::Text) {
            Mode::Text => self.step_text(end),
            Mode::Between { closer } => self.step_between(closer, end),
            Mode::Head { closer, tagged } => self.step_head(closer, tagged, end),
            Mode::Args { closer, mut writer } => {
                let (fragment, used) = writer.feed(&self.pending);
                self.pending.drain(..used);
                self.arguments(fragment);
                if writer.done {
                    self.open = false;
                    self.mode = Mode::Tail { closer };
                    true
                } else {
                    self.mode = Mode::Args { closer, writer };
                    false
                }
            }
            Mode::Tail { closer } => self.step_tail(closer),
            Mode::Whole { closer } => self.step_whole(closer, end),
        }
    }

    fn step_text(&mut self, end: bool) -> bool {
        let (opener, closer) = self.tagged();
        let open_at = self.pending.find(opener);
        // The first line start from which an untagged call may begin (or may still).
        let bare = if matches!(
            self.syntax,
            ToolCallSyntax::Hermes | ToolCallSyntax::Llama3Json
        ) {
            let starts = (self.line_start && self.bare_from == 0)
                .then_some(0)
                .into_iter()
                .chain(self.pending.match_indices('\n').map(|(at, _)| at + 1))
                .filter(|&at| at >= self.bare_from);
            let mut found = None;
            for at in starts {
                if open_at.is_some_and(|open| at > open) {
                    break;
                }
                match bare_start(&self.pending[at..]) {
                    Start::No => {}
                    Start::Maybe if end => {}
                    start => {
                        found = Some((at, start));
                        break;
                    }
                }
            }
            found
        } else {
            None
        };
        // A proper prefix of the opener at the end.
        let partial = if end {
            None
        } else {
            self.pending
                .char_indices()
                .map(|(at, _)| at)
                .find(|&at| opener.starts_with(&self.pending[at..]))
        };
        let first = [open_at, bare.map(|(at, _)| at), partial]
            .into_iter()
            .flatten()
            .min();
        let Some(cut) = first else {
            let all = self.pending.len();
            if all == 0 {
                return false;
            }
            self.content_through(all);
            return false;
        };
        self.content_through(cut);
        if open_at == Some(cut) {
            self.pending.drain(..opener.len());
            self.mode = Mode::Between { closer };
            return true;
        }
        if let Some((at, Start::Yes)) = bare
            && at == cut
        {
            self.mode = Mode::Head {
                closer: None,
                tagged: false,
            };
            return true;
        }
        // An opener may still be coming: wait for more text.
        false
    }

    fn step_between(&mut self, closer: Option<&'static str>, end: bool) -> bool {
        let trimmed = match closer {
            Some(_) => self.pending.trim_start(),
            None => skip_separators(&self.pending),
        };
        let skipped = self.pending.len() - trimmed.len();
        if let Some(closer) = closer {
            if trimmed.starts_with(closer) {
                self.pending.drain(..skipped + closer.len());
                self.line_start = true;
                self.bare_from = 0;
                return true;
            }
            if trimmed.starts_with('{') {
                self.pending.drain(..skipped);
                self.mode = Mode::Head {
                    closer: Some(closer),
                    tagged: true,
                };
                return true;
            }
            if trimmed.is_empty() || (!end && closer.starts_with(trimmed)) {
                self.pending.drain(..skipped);
                self.mode = Mode::Between {
                    closer: Some(closer),
                };
                return false;
            }
            // Anything else inside the tags is no call: dropped.
            let next = trimmed.chars().next().map_or(0, char::len_utf8);
            self.pending.drain(..skipped + next);
            self.mode = Mode::Between {
                closer: Some(closer),
            };
            return true;
        }
        if trimmed.starts_with('{') {
            self.pending.drain(..skipped);
            self.mode = Mode::Head {
                closer: None,
                tagged: false,
            };
            return true;
        }
        if !end && (trimmed.is_empty() || "```json".starts_with(trimmed)) {
            self.mode = Mode::Between { closer: None };
            return false;
        }
        // Text after the calls.
        self.pending.drain(..skipped);
        self.line_start = false;
        self.bare_from = 0;
        true
    }

    fn step_head(&mut self, closer: Option<&'static str>, tagged: bool, end: bool) -> bool {
        let check = if tagged { &[][..] } else { &self.tools[..] };
        match read_head(&self.pending, check) {
            Head::Incomplete if !end => {
                self.mode = Mode::Head { closer, tagged };
                false
            }
            Head::Ok { name, used } => {
                self.pending.drain(..used);
                self.start_call(name);
                self.mode = Mode::Args {
                    closer,
                    writer: ArgsWriter::default(),
                };
                true
            }
            Head::Incomplete | Head::Fail => match closer {
                Some(closer) => {
                    self.mode = Mode::Whole { closer };
                    true
                }
                None => {
                    // No call after all: the text is content, and no untagged call is
                    // looked for again before the next line.
                    self.bare_from = 1;
                    self.mode = Mode::Text;
                    !end
                }
            },
        }
    }

    fn step_tail(&mut self, closer: Option<&'static str>) -> bool {
        match closer {
            Some(closer) => match self.pending.find(closer) {
                Some(at) => {
                    self.pending.drain(..at + closer.len());
                    self.line_start = true;
                    self.bare_from = 0;
                    true
                }
                None => {
                    self.mode = Mode::Tail {
                        closer: Some(closer),
                    };
                    false
                }
            },
            None => {
                let rest = self
                    .pending
                    .trim_start_matches(|c: char| c == '}' || c.is_whitespace());
                let used = self.pending.len() - rest.len();
                self.pending.drain(..used);
                if self.pending.is_empty() {
                    self.mode = Mode::Tail { closer: None };
                    false
                } else {
                    self.mode = Mode::Between { closer: None };
                    true
                }
            }
        }
    }

    fn step_whole(&mut self, closer: &'static str, end: bool) -> bool {
        let Some(at) = self.pending.find(closer) else {
            if !end {
                self.mode = Mode::Whole { closer };
            }
            return false;
        };
        let body = self.pending[..at].to_owned();
        self.pending.drain(..at + closer.len());
        if let Some((name, args)) = call_object(body.trim()) {
            self.start_call(name);
            self.arguments(args.to_string());
            self.open = false;
        }
        self.line_start = true;
        self.bare_from = 0;
        true
    }
}

/// Whether text at a line start begins an untagged call.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Start {
    No,
    Maybe,
    Yes,
}

/// `text` past whitespace and the marks that may stand before an untagged call.
fn skip_separators(mut text: &str) -> &str {
    loop {
        let trimmed = text.trim_start();
        if trimmed.len() > 3 && "```json".starts_with(trimmed) {
            // A ```json fence still being written (```js).
            return trimmed;
        }
        match SEPARATORS
            .iter()
            .find_map(|mark| trimmed.strip_prefix(mark))
        {
            Some(after) => text = after,
            None => return trimmed,
        }
    }
}

/// Whether `text` begins (after separators) with `{"name"` (or `{{"name"`).
fn bare_start(text: &str) -> Start {
    let rest = skip_separators(text);
    if rest.is_empty() || "```json".starts_with(rest) {
        return Start::Maybe;
    }
    let Some(body) = rest.strip_prefix('{') else {
        return Start::No;
    };
    let body = body.strip_prefix('{').unwrap_or(body).trim_start();
    const NAME: &str = "\"name\"";
    if body.starts_with(NAME) {
        Start::Yes
    } else if NAME.starts_with(body) {
        Start::Maybe
    } else {
        Start::No
    }
}

/// The start of a call object read so far.
#[derive(Debug, PartialEq)]
enum Head {
    /// More text is needed.
    Incomplete,
    /// It is not `{"name": TOOL, "arguments": ` (or `"parameters"`).
    Fail,
    /// The tool's name, and the bytes up to its arguments value.
    Ok { name: String, used: usize },
}

/// Reads `{"name": TOOL, "arguments": ` (after separators, the brace maybe doubled);
/// `tools`, when not empty, are the names allowed.
fn read_head(text: &str, tools: &[String]) -> Head {
    let mut rest = skip_separators(text);
    macro_rules! expect {
        ($lit:expr) => {{
            rest = rest.trim_start();
            if let Some(after) = rest.strip_prefix($lit) {
                rest = after;
            } else if $lit.starts_with(rest) {
                return Head::Incomplete;
            } else {
                return Head::Fail;
            }
        }};
    }
    expect!("{");
    rest = rest.strip_prefix('{').unwrap_or(rest);
    expect!("\"name\"");
    expect!(":");
    rest = rest.trim_start();
    let name = match json_string(rest) {
        Some(Ok((name, used))) => {
            rest = &rest[used..];
            name
        }
        Some(Err(())) => return Head::Fail,
        None if rest.is_empty() || rest.starts_with('"') => return Head::Incomplete,
        None => return Head::Fail,
    };
    if !tools.is_empty() && !tools.contains(&name) {
        return Head::Fail;
    }
    expect!(",");
    rest = rest.trim_start();
    match json_string(rest) {
        Some(Ok((key, used))) if key == "arguments" || key == "parameters" => {
            rest = &rest[used..];
        }
        Some(_) => return Head::Fail,
        None if rest.is_empty() || rest.starts_with('"') => return Head::Incomplete,
        None => return Head::Fail,
    }
    expect!(":");
    Head::Ok {
        name,
        used: text.len() - rest.len(),
    }
}

/// The JSON string at the start of `text` and its length in bytes: `None` when it is not
/// closed yet (or `text` starts with no string), `Err` when it is no valid string.
fn json_string(text: &str) -> Option<Result<(String, usize), ()>> {
    let bytes = text.as_bytes();
    if bytes.first() != Some(&b'"') {
        return None;
    }
    let mut at = 1;
    while at < bytes.len() {
        match bytes[at] {
            b'\\' => at += 2,
            b'"' => {
                let end = at + 1;
                return Some(
                    serde_json::from_str::<String>(&text[..end])
                        .map(|s| (s, end))
                        .map_err(|_| ()),
                );
            }
            _ => at += 1,
        }
    }
    None
}

/// `(name, arguments)` of a whole call object, as the whole-reply parser reads it.
fn call_object(body: &str) -> Option<(String, Value)> {
    let value: Value = serde_json::from_str(body).ok()?;
    let name = value.get("name")?.as_str()?.to_owned();
    let args = match value.get("arguments").or_else(|| value.get("parameters")) {
        None => Value::Object(Default::default()),
        Some(Value::String(text)) => serde_json::from_str::<Value>(text).ok()?,
        Some(args) => args.clone(),
    };
    Some((name, args))
}

/// What the arguments writer is in the middle of.
#[derive(Debug, Default)]
enum Token {
    /// Between tokens.
    #[default]
    Outside,
    /// Inside a string.
    Str,
    /// An escape inside a string, from its backslash.
    Escape(String),
    /// A number.
    Number(String),
    /// `true`, `false` or `null`.
    Literal(String),
}

/// Rewrites a JSON value, fed in pieces, as `serde_json` writes it, piece by piece.
#[derive(Debug, Default)]
struct ArgsWriter {
    token: Token,
    depth: usize,
    started: bool,
    /// The value is not an object or a list (arguments written as a JSON string): held and
    /// written whole at its end.
    held: bool,
    raw: String,
    done: bool,
}

impl ArgsWriter {
    /// The fragment `text` completes and how many of its bytes belong to the value.
    fn feed(&mut self, text: &str) -> (String, usize) {
        let mut out = String::new();
        let mut at = 0;
        while at < text.len() && !self.done {
            let Some(c) = text[at..].chars().next() else {
                break;
            };
            if !self.started {
                if c.is_whitespace() {
                    at += c.len_utf8();
                    continue;
                }
                self.started = true;
                self.held = !matches!(c, '{' | '[');
            }
            if self.take(c, &mut out) {
                at += c.len_utf8();
                if !matches!(self.token, Token::Outside) || !c.is_whitespace() {
                    self.raw.push(c);
                }
            }
            if self.depth == 0 && matches!(self.token, Token::Outside) && self.started {
                // A scalar at the top ended before `c` (not taken), or the value closed.
                let closed = self.held || matches!(c, '}' | ']' | '"');
                if closed {
                    self.done = true;
                }
            }
        }
        if self.done && self.held {
            out = held_value(&self.raw);
        } else if self.held {
            out.clear();
        }
        (out, at)
    }

    /// Takes `c`; `false` when `c` ends a number or literal and must be read again.
    fn take(&mut self, c: char, out: &mut String) -> bool {
        match &mut self.token {
            Token::Outside => {
                match c {
                    c if c.is_whitespace() => {}
                    '{' | '[' => {
                        self.depth += 1;
                        out.push(c);
                    }
                    '}' | ']' => {
                        self.depth = self.depth.saturating_sub(1);
                        out.push(c);
                    }
                    '"' => {
                        out.push(c);
                        self.token = Token::Str;
                    }
                    '-' | '0'..='9' => self.token = Token::Number(c.to_string()),
                    c if c.is_ascii_alphabetic() => self.token = Token::Literal(c.to_string()),
                    c => out.push(c),
                }
                true
            }
            Token::Str => {
                match c {
                    '\\' => self.token = Token::Escape("\\".into()),
                    '"' => {
                        out.push('"');
                        self.token = Token::Outside;
                    }
                    c => out.push_str(&escaped(&c.to_string())),
                }
                true
            }
            Token::Escape(escape) => {
                escape.push(c);
                if escape_complete(escape) {
                    match serde_json::from_str::<String>(&format!("\"{escape}\"")) {
                        Ok(text) => out.push_str(&escaped(&text)),
                        Err(_) => out.push_str(escape),
                    }
                    self.token = Token::Str;
                }
                true
            }
            Token::Number(number) => {
                if c.is_ascii_digit() || matches!(c, '+' | '-' | '.' | 'e' | 'E') {
                    number.push(c);
                    return true;
                }
                out.push_str(&canonical_number(number));
                self.token = Token::Outside;
                false
            }
            Token::Literal(word) => {
                if c.is_ascii_alphabetic() {
                    word.push(c);
                    return true;
                }
                out.push_str(word);
                self.token = Token::Outside;
                false
            }
        }
    }

    /// What is left when the reply ends inside the value.
    fn finish(&mut self) -> String {
        let mut out = String::new();
        match std::mem::take(&mut self.token) {
            Token::Number(number) => out.push_str(&canonical_number(&number)),
            Token::Literal(word) => out.push_str(&word),
            Token::Outside | Token::Str | Token::Escape(_) => {}
        }
        if self.held {
            return if self.depth == 0 && self.started {
                held_value(&self.raw)
            } else {
                String::new()
            };
        }
        out
    }
}

/// `text` as the inside of a JSON string written by `serde_json`.
fn escaped(text: &str) -> String {
    let quoted = Value::String(text.to_owned()).to_string();
    quoted[1..quoted.len() - 1].to_owned()
}

/// Whether an escape (from its backslash) is whole: `\n`, `\uXXXX`, or a surrogate pair
/// `\uD83D\uDE00`.
fn escape_complete(escape: &str) -> bool {
    let chars: Vec<char> = escape.chars().collect();
    if chars.len() < 2 {
        return false;
    }
    if chars[1] != 'u' {
        return true;
    }
    if chars.len() < 6 {
        return false;
    }
    let hex: String = chars[2..6].iter().collect();
    let high = u32::from_str_radix(&hex, 16).is_ok_and(|u| (0xD800..0xDC00).contains(&u));
    if !high {
        return true;
    }
    let tail: String = chars[6..].iter().take(2).collect();
    chars.len() >= 12 || !"\\u".starts_with(&tail)
}

/// A number as `serde_json` writes it after reading it.
fn canonical_number(number: &str) -> String {
    serde_json::from_str::<Value>(number).map_or_else(|_| number.to_owned(), |v| v.to_string())
}

/// Arguments written as a scalar: a JSON string holding the object is read as the object.
fn held_value(raw: &str) -> String {
    match serde_json::from_str::<Value>(raw.trim()) {
        Ok(Value::String(text)) => serde_json::from_str::<Value>(&text)
            .map_or(Value::String(text).to_string(), |v| v.to_string()),
        Ok(value) => value.to_string(),
        Err(_) => raw.trim().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tools() -> Vec<String> {
        vec!["get_weather".into(), "clock".into()]
    }

    /// Feeds `tokens` one by one and returns every piece.
    fn split(mut splitter: CallSplitter, tokens: &[&str]) -> Vec<Piece> {
        let mut pieces = Vec::new();
        for token in tokens {
            pieces.extend(splitter.push(token));
        }
        pieces.extend(splitter.finish());
        pieces
    }

    /// (content, [(name, arguments joined, fragment count)]).
    fn summary(pieces: &[Piece]) -> (String, Vec<(String, String, usize)>) {
        let mut content = String::new();
        let mut calls: Vec<(String, String, usize)> = Vec::new();
        for piece in pieces {
            match piece {
                Piece::Content(text) => content.push_str(text),
                Piece::CallStart { index, name } => {
                    assert_eq!(*index, calls.len());
                    calls.push((name.clone(), String::new(), 0));
                }
                Piece::Arguments { index, fragment } => {
                    let call = &mut calls[*index];
                    call.1.push_str(fragment);
                    call.2 += 1;
                }
            }
        }
        (content, calls)
    }

    /// Every way of cutting `reply` into tokens of `size` chars.
    fn tokens(reply: &str, size: usize) -> Vec<String> {
        let chars: Vec<char> = reply.chars().collect();
        chars.chunks(size).map(|c| c.iter().collect()).collect()
    }

    /// Splitting `reply` in tokens of every size gives what the whole-reply parser reads.
    fn agrees_with_parse(syntax: ToolCallSyntax, reply: &str) {
        let parsed = syntax.parse(reply).unwrap();
        for size in 1..=reply.chars().count() {
            let pieces = tokens(reply, size);
            let refs: Vec<&str> = pieces.iter().map(String::as_str).collect();
            let (content, calls) = summary(&split(CallSplitter::new(syntax, tools()), &refs));
            assert_eq!(content, parsed.text, "{reply:?} in tokens of {size}");
            let want: Vec<(String, String)> = parsed
                .calls
                .iter()
                .map(|(n, a)| (n.clone(), a.to_string()))
                .collect();
            let got: Vec<(String, String)> = calls
                .iter()
                .map(|(n, a, _)| (n.clone(), a.clone()))
                .collect();
            assert_eq!(got, want, "{reply:?} in tokens of {size}");
        }
    }

    #[test]
    fn an_opener_split_across_tokens_is_held_back_then_streamed_as_a_call() {
        let pieces = split(
            CallSplitter::new(ToolCallSyntax::Hermes, tools()),
            &[
                "Let me check.",
                "\n<",
                "tool",
                "_ca",
                "ll>\n{\"",
                "name\": \"get_",
                "weather\", ",
                "\"arguments\": {\"city\"",
                ": \"Par",
                "is\", \"days\": 1",
                "0}}\n</tool",
                "_call>",
            ],
        );
        assert_eq!(pieces[0], Piece::Content("Let me check.".into()));
        assert_eq!(
            pieces[1],
            Piece::CallStart {
                index: 0,
                name: "get_weather".into()
            }
        );
        let (content, calls) = summary(&pieces);
        assert_eq!(content, "Let me check.");
        assert!(!content.contains('<'), "{pieces:?}");
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].1, r#"{"city":"Paris","days":10}"#);
        assert!(calls[0].2 >= 3, "{pieces:?}");
        agrees_with_parse(
            ToolCallSyntax::Hermes,
            "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 10}}\n</tool_call>",
        );
    }

    #[test]
    fn text_that_looks_like_an_opener_but_is_not_is_content() {
        for reply in [
            "Use <tool> or <tool_calls are fun> as you like, x < y.",
            "A person: {\"name\": \"Ada\", \"age\": 36}",
            "{\"name\": \"Ada\", \"age\": 36}",
            "{\"name\": \"unknown_tool\", \"arguments\": {}}",
            "Here:\n```python\nprint({\"name\": 1})\n```",
            "[1, 2, 3] and {\"city\": \"Paris\"}",
            "Ends with a brace {",
        ] {
            let pieces = split(
                CallSplitter::new(ToolCallSyntax::Hermes, tools()),
                &tokens(reply, 2)
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>(),
            );
            let (content, calls) = summary(&pieces);
            assert!(calls.is_empty(), "{reply:?}: {pieces:?}");
            assert_eq!(content, reply.trim(), "{reply:?}");
        }
        // Text streams as it comes: only a possible opener's start is held back.
        let mut splitter = CallSplitter::new(ToolCallSyntax::Hermes, tools());
        assert_eq!(
            splitter.push("Hello there <tool"),
            vec![Piece::Content("Hello there".into())]
        );
        assert_eq!(
            splitter.push("box> ok"),
            vec![Piece::Content(" <toolbox> ok".into())]
        );
    }

    #[test]
    fn two_calls_get_indexes_0_and_1() {
        let reply = "<tool_call>\n{\"name\": \"clock\", \"arguments\": {\"tz\": \"UTC\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>";
        let (content, calls) = summary(&split(
            CallSplitter::new(ToolCallSyntax::Hermes, tools()),
            &tokens(reply, 3)
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        ));
        assert_eq!(content, "");
        assert_eq!(
            calls
                .iter()
                .map(|c| (c.0.as_str(), c.1.as_str()))
                .collect::<Vec<_>>(),
            [
                ("clock", r#"{"tz":"UTC"}"#),
                ("get_weather", r#"{"city":"Oslo"}"#)
            ]
        );
        agrees_with_parse(ToolCallSyntax::Hermes, reply);
        let mistral = "[TOOL_CALLS][{\"name\": \"clock\", \"arguments\": {\"tz\": \"UTC\"}}, {\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}]";
        agrees_with_parse(ToolCallSyntax::Mistral, mistral);
    }

    #[test]
    fn untagged_calls_are_calls_not_content() {
        for reply in [
            "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}",
            "```json\n{\n  \"name\": \"get_weather\",\n  \"arguments\": {\"city\": \"Paris\"}\n}\n```",
            "I will look it up.\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}",
            "{{\"name\": \"clock\", \"arguments\": {}}}",
            "[{\"name\": \"clock\", \"arguments\": {\"tz\": \"UTC\"}}, {\"name\": \"clock\", \"arguments\": {\"tz\": \"CET\"}}]",
        ] {
            agrees_with_parse(ToolCallSyntax::Hermes, reply);
        }
        agrees_with_parse(
            ToolCallSyntax::Llama3Json,
            "{\"name\": \"clock\", \"parameters\": {\"tz\": \"UTC\"}}",
        );
    }

    #[test]
    fn arguments_are_written_as_serde_json_writes_them() {
        for args in [
            r#"{"a": [1, 2.50, -3e2, true, null], "b": {"c": "x\"y\\z\n\u00e9\ud83d\ude00 é"}}"#,
            r#"  {"s": "tab\there", "n": 0}"#,
            r#""{\"x\": 1}""#,
        ] {
            let whole =
                format!("<tool_call>{{\"name\": \"clock\", \"arguments\": {args}}}</tool_call>");
            let parsed = ToolCallSyntax::Hermes.parse(&whole).unwrap();
            for size in [1, 2, 5] {
                let (_, calls) = summary(&split(
                    CallSplitter::new(ToolCallSyntax::Hermes, tools()),
                    &tokens(&whole, size)
                        .iter()
                        .map(String::as_str)
                        .collect::<Vec<_>>(),
                ));
                assert_eq!(
                    calls[0].1,
                    parsed.calls[0].1.to_string(),
                    "{args} by {size}"
                );
            }
        }
    }

    #[test]
    fn a_forced_call_and_a_cut_call_are_read_without_panicking() {
        let mut forced = CallSplitter::one_call(ToolCallSyntax::Hermes, tools());
        let mut pieces = forced.push("{\"name\": \"clock\", \"argu");
        pieces.extend(forced.push("ments\": {\"tz\": \"UTC\"}}"));
        pieces.extend(forced.finish());
        let (content, calls) = summary(&pieces);
        assert_eq!(
            (content.as_str(), calls[0].1.as_str()),
            ("", r#"{"tz":"UTC"}"#)
        );
        assert!(!forced.call_open());
        let mut cut = CallSplitter::new(ToolCallSyntax::Hermes, tools());
        cut.push("<tool_call>{\"name\": \"clock\", \"arguments\": {\"tz\": \"U");
        cut.finish();
        assert!(cut.call_open() && cut.calls() == 1);
        for junk in [
            "<tool_call>",
            "<tool_call>]]]",
            "{\"name\": \"clo",
            "\u{0}{{{\\u",
            "```json\n{",
        ] {
            for size in 1..4 {
                let pieces = tokens(junk, size);
                let refs: Vec<&str> = pieces.iter().map(String::as_str).collect();
                split(CallSplitter::new(ToolCallSyntax::Hermes, tools()), &refs);
                split(
                    CallSplitter::one_call(ToolCallSyntax::Mistral, tools()),
                    &refs,
                );
            }
        }
    }
}
