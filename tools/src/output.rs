//! The output budget: cut long text at a char boundary and say how much was cut.

/// Cuts `text` to at most `budget` bytes of content (at a char boundary) and appends a
/// visible marker `…[truncated N bytes]` naming how many bytes were cut. Text within the
/// budget is returned unchanged.
pub fn truncate_to_budget(text: &str, budget: usize) -> String {
    if text.len() <= budget {
        return text.to_owned();
    }
    let mut end = budget;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…[truncated {} bytes]", &text[..end], text.len() - end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_unchanged() {
        assert_eq!(truncate_to_budget("hello", 5), "hello");
    }

    #[test]
    fn long_text_is_cut_with_marker() {
        assert_eq!(
            truncate_to_budget("hello world", 5),
            "hello…[truncated 6 bytes]"
        );
    }

    #[test]
    fn cut_lands_on_char_boundary() {
        // "é" is two bytes; a budget of 2 would split it after "a".
        let out = truncate_to_budget("aéb", 2);
        assert_eq!(out, "a…[truncated 3 bytes]");
    }
}
