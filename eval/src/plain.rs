//! Lenient reading of free-text replies for the `plain` configuration: tool calls written
//! as JSON (`{"name": .., "arguments": ..}`, OpenAI's `{"function": {..}}`, lists of them,
//! `{"tool": .., "args": ..}`, `{"NAME": {args}}`), or as Python calls (`f(a=1, b='x')`),
//! anywhere in the text, fenced or not.

use serde_json::{Map, Value};

use crate::call::Call;

/// What a free-text reply holds.
#[derive(Debug, Clone, PartialEq)]
pub struct PlainReply {
    /// The calls found, in order.
    pub calls: Vec<Call>,
    /// The answer: a JSON `final_answer`/`answer` field, or the reply's text when it holds
    /// no call.
    pub answer: Option<String>,
    /// Whether the reply could be read: it has calls, or an answer and no broken attempt at
    /// a call (a known function name or a `{` that did not parse).
    pub well_formed: bool,
}

/// Reads a reply; `known` are the function names offered (Python-style calls are read
/// only for them).
pub fn read_reply(text: &str, known: &[&str]) -> PlainReply {
    let values = json_values(text);
    let mut calls = Vec::new();
    let mut answer = None;
    for value in &values {
        collect_calls(value, known, &mut calls);
        if answer.is_none() {
            answer = answer_field(value);
        }
    }
    if calls.is_empty() {
        calls = python_calls(text, known);
    }
    let attempted =
        text.contains('{') || known.iter().any(|name| text.contains(&format!("{name}(")));
    if calls.is_empty() && answer.is_none() {
        let trimmed = text.trim();
        if !trimmed.is_empty() {
            answer = Some(trimmed.to_owned());
        }
        return PlainReply {
            calls,
            well_formed: !attempted && answer.is_some(),
            answer,
        };
    }
    PlainReply {
        well_formed: true,
        calls,
        answer,
    }
}

/// Every top-level JSON object or array in the text, left to right, not overlapping.
pub fn json_values(text: &str) -> Vec<Value> {
    let mut values = Vec::new();
    let mut at = 0;
    while at < text.len() {
        let Some(offset) = text[at..].find(['{', '[']) else {
            break;
        };
        let start = at + offset;
        let mut stream = serde_json::Deserializer::from_str(&text[start..]).into_iter::<Value>();
        match stream.next() {
            Some(Ok(value)) => {
                at = start + stream.byte_offset();
                values.push(value);
            }
            _ => at = start + 1,
        }
    }
    values
}

fn answer_field(value: &Value) -> Option<String> {
    let object = value.as_object()?;
    ["final_answer", "answer"].iter().find_map(|key| {
        object.get(*key).map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    })
}

fn collect_calls(value: &Value, known: &[&str], out: &mut Vec<Call>) {
    match value {
        Value::Array(items) => {
            for item in items {
                collect_calls(item, known, out);
            }
        }
        Value::Object(object) => {
            for key in ["tool_calls", "calls", "actions", "function_calls"] {
                if let Some(list @ Value::Array(_)) = object.get(key) {
                    collect_calls(list, known, out);
                    return;
                }
            }
            if let Some(action @ Value::Object(_)) = object.get("action") {
                collect_calls(action, known, out);
                return;
            }
            if let Some(call) = call_of(object, known) {
                out.push(call);
            }
        }
        _ => {}
    }
}

fn call_of(object: &Map<String, Value>, known: &[&str]) -> Option<Call> {
    // OpenAI: {"type": "function", "function": {"name": .., "arguments": ".."}}
    if let Some(Value::Object(inner)) = object.get("function") {
        return call_of(inner, known);
    }
    let name = ["name", "function", "tool", "tool_name"]
        .iter()
        .find_map(|k| object.get(*k).and_then(Value::as_str));
    if let Some(name) = name {
        let args = ["arguments", "args", "parameters", "params", "input"]
            .iter()
            .find_map(|k| object.get(*k))
            .cloned()
            .unwrap_or_else(|| Value::Object(Map::new()));
        let args = match args {
            Value::String(text) => serde_json::from_str(&text).unwrap_or(Value::String(text)),
            other => other,
        };
        return Some(Call::new(name, args));
    }
    // {"NAME": {args}} for a known function.
    if object.len() == 1 {
        let (key, args) = object.iter().next()?;
        if known.contains(&key.as_str()) && args.is_object() {
            return Some(Call::new(key.clone(), args.clone()));
        }
    }
    None
}

/// Python-style calls of the known functions: `name(key=value, ..)` with literal values
/// (numbers, strings, `True`/`False`/`None`, lists, tuples, dicts).
pub fn python_calls(text: &str, known: &[&str]) -> Vec<Call> {
    let mut found: Vec<(usize, Call)> = Vec::new();
    for name in known {
        let pattern = format!("{name}(");
        let mut from = 0;
        while let Some(offset) = text[from..].find(&pattern) {
            let start = from + offset;
            from = start + pattern.len();
            // Not the tail of a longer name.
            let before = text[..start].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
                continue;
            }
            let mut parser = Literal {
                chars: text[from..].chars().collect(),
                at: 0,
            };
            if let Some(args) = parser.keyword_args() {
                found.push((start, Call::new(*name, Value::Object(args))));
            }
        }
    }
    found.sort_by_key(|(at, _)| *at);
    found.into_iter().map(|(_, call)| call).collect()
}

/// A tiny reader of Python literals.
struct Literal {
    chars: Vec<char>,
    at: usize,
}

impl Literal {
    fn skip(&mut self) {
        while self.chars.get(self.at).is_some_and(|c| c.is_whitespace()) {
            self.at += 1;
        }
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip();
        if self.chars.get(self.at) == Some(&c) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    /// `key=value, ..)` (the opening parenthesis already read).
    fn keyword_args(&mut self) -> Option<Map<String, Value>> {
        let mut args = Map::new();
        loop {
            if self.eat(')') {
                return Some(args);
            }
            self.skip();
            let start = self.at;
            while self
                .chars
                .get(self.at)
                .is_some_and(|c| c.is_alphanumeric() || *c == '_')
            {
                self.at += 1;
            }
            if self.at == start || !self.eat('=') {
                return None;
            }
            let key: String = self.chars[start..self.at].iter().collect();
            let key = key.trim_end_matches('=').trim().to_owned();
            let value = self.value()?;
            args.insert(key, value);
            if !self.eat(',') {
                return self.eat(')').then_some(args);
            }
        }
    }

    fn value(&mut self) -> Option<Value> {
        self.skip();
        let c = *self.chars.get(self.at)?;
        match c {
            '\'' | '"' => self.string(c).map(Value::String),
            '[' | '(' => {
                self.at += 1;
                let close = if c == '[' { ']' } else { ')' };
                let mut items = Vec::new();
                loop {
                    if self.eat(close) {
                        return Some(Value::Array(items));
                    }
                    items.push(self.value()?);
                    if !self.eat(',') {
                        return self.eat(close).then_some(Value::Array(items));
                    }
                }
            }
            '{' => {
                self.at += 1;
                let mut map = Map::new();
                loop {
                    if self.eat('}') {
                        return Some(Value::Object(map));
                    }
                    let key = match self.value()? {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    if !self.eat(':') {
                        return None;
                    }
                    map.insert(key, self.value()?);
                    if !self.eat(',') {
                        return self.eat('}').then_some(Value::Object(map));
                    }
                }
            }
            _ => {
                let start = self.at;
                while self
                    .chars
                    .get(self.at)
                    .is_some_and(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '+' | '_'))
                {
                    self.at += 1;
                }
                let word: String = self.chars[start..self.at].iter().collect();
                match word.as_str() {
                    "True" | "true" => Some(Value::Bool(true)),
                    "False" | "false" => Some(Value::Bool(false)),
                    "None" | "null" => Some(Value::Null),
                    _ => serde_json::from_str::<serde_json::Number>(&word)
                        .ok()
                        .map(Value::Number),
                }
            }
        }
    }

    fn string(&mut self, quote: char) -> Option<String> {
        self.at += 1;
        let mut out = String::new();
        loop {
            let c = *self.chars.get(self.at)?;
            self.at += 1;
            match c {
                '\\' => {
                    let next = *self.chars.get(self.at)?;
                    self.at += 1;
                    out.push(match next {
                        'n' => '\n',
                        't' => '\t',
                        other => other,
                    });
                }
                c if c == quote => return Some(out),
                c => out.push(c),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn json_calls_in_many_shapes_are_read() {
        let known = ["get_weather"];
        let r = read_reply(
            r#"Sure! ```json
{"name": "get_weather", "arguments": {"city": "Paris"}}
```"#,
            &known,
        );
        assert_eq!(
            r.calls,
            vec![Call::new("get_weather", json!({"city": "Paris"}))]
        );
        assert!(r.well_formed);
        let r = read_reply(
            r#"[{"function": {"name": "get_weather", "arguments": "{\"city\": \"Rome\"}"}}]"#,
            &known,
        );
        assert_eq!(
            r.calls,
            vec![Call::new("get_weather", json!({"city": "Rome"}))]
        );
        let r = read_reply(
            r#"{"get_weather": {"city": "Oslo"}} and {"tool": "get_weather", "args": {"city": "Bergen"}}"#,
            &known,
        );
        assert_eq!(r.calls.len(), 2);
        assert_eq!(r.calls[1].args, json!({"city": "Bergen"}));
    }

    #[test]
    fn python_calls_are_read_for_known_functions() {
        let known = ["math.hypot", "hypot"];
        let r = read_reply(
            "math.hypot(x=4, y=5.5, tags=['a', \"b\"], opts={'deep': True}, z=None)",
            &known,
        );
        assert_eq!(
            r.calls,
            vec![Call::new(
                "math.hypot",
                json!({"x": 4, "y": 5.5, "tags": ["a", "b"], "opts": {"deep": true}, "z": null})
            )]
        );
        // Positional arguments are not understood: no call.
        let r = read_reply("hypot(4, 5)", &known);
        assert!(r.calls.is_empty());
        assert!(!r.well_formed);
    }

    #[test]
    fn plain_text_is_an_answer() {
        let r = read_reply("I cannot help with that: no function fits.", &["bmi"]);
        assert!(r.calls.is_empty());
        assert!(r.well_formed);
        assert_eq!(
            r.answer.as_deref(),
            Some("I cannot help with that: no function fits.")
        );
        let r = read_reply(r#"{"final_answer": "444"}"#, &[]);
        assert_eq!(r.answer.as_deref(), Some("444"));
        let r = read_reply("{broken json", &[]);
        assert!(!r.well_formed);
    }
}
