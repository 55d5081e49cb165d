//! Finding JSON inside model text: the whole text, fenced code blocks, or balanced `{...}` /
//! `[...]` spans in prose. Linear time, no panics.

/// Most candidates returned by [`json_candidates`].
const MAX_CANDIDATES: usize = 32;

/// Pieces of `text` that may be JSON, most likely first: the trimmed text itself, the bodies of
/// fenced code blocks (```` ```json ... ``` ````), then each top-level balanced object or array.
pub fn json_candidates(text: &str) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    let pieces = std::iter::once(text)
        .chain(fenced_blocks(text))
        .chain(balanced_spans(text));
    for candidate in pieces {
        let candidate = candidate.trim();
        if out.len() == MAX_CANDIDATES {
            break;
        }
        if !candidate.is_empty() && !out.contains(&candidate) {
            out.push(candidate);
        }
    }
    out
}

/// Bodies of Markdown code fences; the info string (e.g. `json`) is dropped. An unclosed fence
/// runs to the end of the text.
pub fn fenced_blocks(text: &str) -> Vec<&str> {
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("```") {
        let after = &rest[start + 3..];
        let body_start = after.find('\n').map(|i| i + 1).unwrap_or(after.len());
        let body = &after[body_start..];
        match body.find("```") {
            Some(end) => {
                blocks.push(&body[..end]);
                rest = &body[end + 3..];
            }
            None => {
                blocks.push(body);
                break;
            }
        }
    }
    blocks
}

/// Top-level spans that open with `{` or `[` and close with the matching bracket, skipping
/// brackets inside JSON strings. A mismatched closer abandons the span.
pub fn balanced_spans(text: &str) -> Vec<&str> {
    let mut spans = Vec::new();
    let mut stack: Vec<u8> = Vec::new();
    let mut start = 0;
    let mut in_string = false;
    let mut escaped = false;
    for (i, byte) in text.bytes().enumerate() {
        if stack.is_empty() {
            if byte == b'{' || byte == b'[' {
                start = i;
                stack.push(closer(byte));
                in_string = false;
                escaped = false;
            }
            continue;
        }
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => stack.push(closer(byte)),
            b'}' | b']' => {
                if stack.pop() != Some(byte) {
                    stack.clear();
                } else if stack.is_empty() {
                    spans.push(&text[start..=i]);
                }
            }
            _ => {}
        }
    }
    spans
}

fn closer(open: u8) -> u8 {
    if open == b'{' { b'}' } else { b']' }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_json_in_fences_and_prose() {
        let text = "Sure! Here it is:\n```json\n{\"a\": 1}\n```\nDone.";
        assert_eq!(json_candidates(text)[1], "{\"a\": 1}");
        let prose = "The answer is {\"a\": \"}\"} and also [1, [2]] ok";
        assert_eq!(balanced_spans(prose), vec!["{\"a\": \"}\"}", "[1, [2]]"]);
    }

    #[test]
    fn mismatched_and_unclosed_spans_are_skipped() {
        assert_eq!(balanced_spans("{ ] {\"b\":2}"), vec!["{\"b\":2}"]);
        assert!(balanced_spans("{\"a\": [1, 2").is_empty());
        assert_eq!(fenced_blocks("```\nabc"), vec!["abc"]);
    }
}
