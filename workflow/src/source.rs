//! A workflow file's text and the positions in it.

use std::ops::Range;

/// Where something is in a workflow file: 1-based line and column, and the byte range it
/// covers (for carets under it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset one past the last byte (at least `start`).
    pub end: usize,
}

impl Span {
    /// The byte range covered.
    pub fn range(&self) -> Range<usize> {
        self.start..self.end.max(self.start)
    }
}

/// The text of a workflow file and its name (its path, for messages).
#[derive(Debug, Clone)]
pub struct SourceText {
    name: String,
    text: String,
    line_starts: Vec<usize>,
}

impl SourceText {
    /// A source named `name` (usually the file's path) holding `text`.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        let text = text.into();
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self {
            name: name.into(),
            text,
            line_starts,
        }
    }

    /// The name given to the source (its path).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The full text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The byte offset of 1-based `line` and character `column`, clamped into the text.
    pub fn offset(&self, line: usize, column: usize) -> usize {
        let Some(&line_start) = self.line_starts.get(line.saturating_sub(1)) else {
            return self.text.len();
        };
        let line_text = self.line_text_from(line_start);
        let within = line_text
            .char_indices()
            .nth(column.saturating_sub(1))
            .map_or(line_text.len(), |(i, _)| i);
        line_start + within
    }

    /// A span starting at 1-based `line`/`column` and covering `len_chars` characters on
    /// that line (at least one, so a caret shows).
    pub fn span_at(&self, line: usize, column: usize, len_chars: usize) -> Span {
        let start = self.offset(line, column);
        let rest = &self.text[start..];
        let line_rest = rest.split('\n').next().unwrap_or("");
        let end = start
            + line_rest
                .char_indices()
                .nth(len_chars.max(1))
                .map_or(line_rest.len(), |(i, _)| i);
        Span {
            line,
            column,
            start,
            end: end.max(start),
        }
    }

    /// The span of the token starting at `line`/`column`: up to the end of a quoted
    /// string, or of a plain word (stopping at `:`, `,`, `]`, `}` or a line end).
    pub fn token_at(&self, line: usize, column: usize) -> Span {
        let start = self.offset(line, column);
        let rest = self.text[start..].split('\n').next().unwrap_or("");
        let len = token_len(rest);
        self.span_at(line, column, len)
    }

    /// The span of the bytes `start..end` (clamped, moved to character boundaries).
    pub fn span_of_bytes(&self, start: usize, end: usize) -> Span {
        let mut start = start.min(self.text.len());
        while !self.text.is_char_boundary(start) {
            start -= 1;
        }
        let mut end = end.clamp(start, self.text.len());
        while !self.text.is_char_boundary(end) {
            end -= 1;
        }
        let line = self.line_starts.partition_point(|&s| s <= start);
        let line_start = self.line_starts[line - 1];
        let column = self.text[line_start..start].chars().count() + 1;
        Span {
            line,
            column,
            start,
            end: end.max(start),
        }
    }

    fn line_text_from(&self, line_start: usize) -> &str {
        self.text[line_start..].split('\n').next().unwrap_or("")
    }
}

/// Characters in the token at the start of `rest`.
fn token_len(rest: &str) -> usize {
    let mut chars = rest.chars();
    match chars.next() {
        Some(quote @ ('"' | '\'')) => {
            let mut n = 1;
            let mut escaped = false;
            for c in chars {
                n += 1;
                if quote == '"' && c == '\\' && !escaped {
                    escaped = true;
                    continue;
                }
                if c == quote && !escaped {
                    return n;
                }
                escaped = false;
            }
            n
        }
        Some(_) => {
            let trimmed = rest.trim_end();
            let mut end = trimmed.len();
            for (i, c) in trimmed.char_indices() {
                let stop = matches!(c, ',' | ']' | '}' | '#') && i > 0
                    || c == ':'
                        && (i + 1 == trimmed.len() || trimmed[i + 1..].starts_with([' ', '\t']));
                if stop {
                    end = i;
                    break;
                }
            }
            trimmed[..end].trim_end().chars().count().max(1)
        }
        None => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_count_characters_not_bytes() {
        let source = SourceText::new("w.yaml", "a: é\nbé: x\n");
        assert_eq!(source.offset(1, 4), 3);
        assert_eq!(source.offset(2, 5), "a: é\n".len() + "bé: ".len());
        assert_eq!(source.offset(9, 1), source.text().len());
    }

    #[test]
    fn flow_tokens_end_before_spaces_and_brackets() {
        let source = SourceText::new("w.yaml", "t: { type: strng }\nl: [a, bb ]\n");
        let word = source.token_at(1, 12);
        assert_eq!(&source.text()[word.range()], "strng");
        let item = source.token_at(2, 8);
        assert_eq!(&source.text()[item.range()], "bb");
    }

    #[test]
    fn tokens_stop_at_keys_and_quotes() {
        let source = SourceText::new("w.yaml", "agent: \"say: hi\" # c\nname: abc\n");
        let quoted = source.token_at(1, 8);
        assert_eq!(&source.text()[quoted.range()], "\"say: hi\"");
        let key = source.token_at(2, 1);
        assert_eq!(&source.text()[key.range()], "name");
        let value = source.token_at(2, 7);
        assert_eq!(&source.text()[value.range()], "abc");
    }
}
