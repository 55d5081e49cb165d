//! Text assembly while decoding: incremental UTF-8 and stop strings.

/// Collects token bytes and releases only complete UTF-8 characters.
#[derive(Debug, Default)]
pub struct Utf8Decoder {
    pending: Vec<u8>,
}

impl Utf8Decoder {
    /// Adds bytes; returns the text that is now complete.
    pub fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let mut out = String::new();
        loop {
            match std::str::from_utf8(&self.pending) {
                Ok(s) => {
                    out.push_str(s);
                    self.pending.clear();
                    return out;
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    out.push_str(&String::from_utf8_lossy(&self.pending[..valid]));
                    match e.error_len() {
                        // An incomplete character at the end: wait for more bytes.
                        None => {
                            self.pending.drain(..valid);
                            return out;
                        }
                        Some(bad) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            self.pending.drain(..valid + bad);
                        }
                    }
                }
            }
        }
    }

    /// Releases whatever is left (an incomplete character becomes U+FFFD).
    pub fn finish(&mut self) -> String {
        let out = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        out
    }
}

/// The byte offset of the first stop string in `text`, if any.
pub fn find_stop(text: &str, stops: &[String]) -> Option<usize> {
    stops
        .iter()
        .filter(|s| !s.is_empty())
        .filter_map(|s| text.find(s.as_str()))
        .min()
}

/// How many bytes at the start of `text` can be released: the rest could be the start of a
/// stop string.
pub fn releasable(text: &str, stops: &[String]) -> usize {
    let mut keep_from = text.len();
    for stop in stops.iter().filter(|s| !s.is_empty()) {
        for (i, _) in text.char_indices().rev().take(stop.chars().count()) {
            if stop.starts_with(&text[i..]) {
                keep_from = keep_from.min(i);
            }
        }
    }
    keep_from
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_multibyte_character_waits_for_its_end() {
        let mut d = Utf8Decoder::default();
        let bytes = "é!".as_bytes();
        assert_eq!(d.push(&bytes[..1]), "");
        assert_eq!(d.push(&bytes[1..]), "é!");
    }

    #[test]
    fn invalid_bytes_become_replacement_characters() {
        let mut d = Utf8Decoder::default();
        assert_eq!(d.push(&[b'a', 0xFF, b'b']), "a\u{FFFD}b");
        assert_eq!(d.push(&[0xE2, 0x82]), "");
        assert_eq!(d.finish(), "\u{FFFD}");
    }

    #[test]
    fn stop_strings_are_found_and_held_back() {
        let stops = vec!["END".to_string(), "\n\n".to_string()];
        assert_eq!(find_stop("abc END x", &stops), Some(4));
        assert_eq!(find_stop("abc", &stops), None);
        assert_eq!(releasable("abc EN", &stops), 4);
        assert_eq!(releasable("abc\n", &stops), 3);
        assert_eq!(releasable("abc", &stops), 3);
    }
}
