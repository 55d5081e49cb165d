//! A small server-sent-events reader: bytes in, the `data` of each event out, with a cap
//! on the size of one event so a server that never ends a line cannot grow memory
//! without bound.

/// Splits a byte stream into SSE events' `data` fields.
#[derive(Debug)]
pub(crate) struct SseReader {
    /// Bytes of the line being read.
    line: Vec<u8>,
    /// `data` lines of the event being read, joined with `\n`.
    data: String,
    /// Whether the event being read has a `data` field.
    has_data: bool,
    max_event: usize,
}

/// An event or a line exceeded the reader's cap.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct TooLong(pub usize);

impl SseReader {
    /// A reader refusing events longer than `max_event` bytes.
    pub fn new(max_event: usize) -> Self {
        Self {
            line: Vec::new(),
            data: String::new(),
            has_data: false,
            max_event,
        }
    }

    /// Feeds `bytes`; returns the data of the events they complete, in order.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<String>, TooLong> {
        let mut events = Vec::new();
        for &byte in bytes {
            if byte == b'\n' {
                let mut line = std::mem::take(&mut self.line);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if let Some(event) = self.end_line(&line) {
                    events.push(event);
                }
            } else {
                self.line.push(byte);
                if self.line.len() + self.data.len() > self.max_event {
                    return Err(TooLong(self.max_event));
                }
            }
        }
        Ok(events)
    }

    /// The data of a last event the stream ended without a blank line after.
    pub fn finish(&mut self) -> Option<String> {
        let line = std::mem::take(&mut self.line);
        if !line.is_empty() {
            self.end_line(&line);
        }
        self.end_line(b"")
    }

    fn end_line(&mut self, line: &[u8]) -> Option<String> {
        if line.is_empty() {
            if !self.has_data {
                return None;
            }
            self.has_data = false;
            return Some(std::mem::take(&mut self.data));
        }
        let line = String::from_utf8_lossy(line);
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line.as_ref(), ""),
        };
        if field == "data" {
            if self.has_data {
                self.data.push('\n');
            }
            self.data.push_str(value);
            self.has_data = true;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_across_chunks_and_lines_are_joined() {
        let mut reader = SseReader::new(1024);
        assert!(
            reader
                .feed(b": comment\r\ndata: {\"a\"")
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            reader.feed(b": 1}\r\n\r\ndata:x\ndata: y\n\n").unwrap(),
            vec!["{\"a\": 1}".to_owned(), "x\ny".to_owned()]
        );
        assert_eq!(
            reader.feed(b"event: e\n\ndata: [DONE]").unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(reader.finish(), Some("[DONE]".into()));
        assert_eq!(reader.finish(), None);
    }

    #[test]
    fn an_endless_line_is_refused() {
        let mut reader = SseReader::new(16);
        assert_eq!(reader.feed(&[b'a'; 17]), Err(TooLong(16)));
        let mut reader = SseReader::new(16);
        assert_eq!(
            reader.feed(b"data: 0123456789\ndata: 0123"),
            Err(TooLong(16))
        );
    }
}
