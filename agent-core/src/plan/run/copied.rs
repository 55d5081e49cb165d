//! Telling an answer that copies the run's own notes (a retry line, the last-step note)
//! instead of answering: qwen2.5-coder-0.5b, sent a reply back, answered "call a tool in
//! the format given, or answer the user.", the last line of the note it was sent.

use agentry_prompts::{ChatMessage, Role};

/// A note's sentence shorter than this (once normalised) is not looked for: short ones
/// ("Reply again.") are common words, not a copy.
const MIN_SENTENCE_CHARS: usize = 24;

/// At most this many sentences are kept from the run's notes (the newest ones).
const MAX_SENTENCES: usize = 64;

/// `text` lowercased, with every run of characters that are not letters or digits made
/// one space, trimmed: a copy that changed the case, the punctuation or the quotes is
/// still found.
pub(super) fn normalised(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut gap = false;
    for c in text.chars() {
        if c.is_alphanumeric() {
            if gap && !out.is_empty() {
                out.push(' ');
            }
            gap = false;
            out.extend(c.to_lowercase());
        } else {
            gap = true;
        }
    }
    out
}

/// The sentences of the run's own notes, normalised: the lines of the user turns after
/// the first (which holds the request), outside data fences, split at sentence ends and
/// colons (a copy often starts after "Reply again:"); of
/// at least [`MIN_SENTENCE_CHARS`] characters, and none found in one of `quoted` (the
/// request, tool results: quoting them is no copy of a note). The newest
/// [`MAX_SENTENCES`].
pub(super) fn note_sentences(messages: &[ChatMessage], quoted: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = quoted.iter().map(|text| normalised(text)).collect();
    let mut sentences: Vec<String> = messages
        .iter()
        .filter(|message| message.role == Role::User)
        .skip(1)
        .flat_map(|message| outside_fences(&message.content))
        .flat_map(|line| {
            line.split(['.', '!', '?', ':', ';'])
                .map(normalised)
                .collect::<Vec<_>>()
        })
        .filter(|sentence| sentence.chars().count() >= MIN_SENTENCE_CHARS)
        .filter(|sentence| !quoted.iter().any(|text| text.contains(sentence.as_str())))
        .collect();
    sentences.dedup();
    let skip = sentences.len().saturating_sub(MAX_SENTENCES);
    sentences.split_off(skip)
}

/// The lines of `content` outside data fences (a line starting `<<DATA-` opens one, a
/// line starting `<</DATA-` closes it).
fn outside_fences(content: &str) -> Vec<&str> {
    let mut inside = false;
    let mut lines = Vec::new();
    for line in content.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("<</DATA-") {
            inside = false;
        } else if trimmed.starts_with("<<DATA-") {
            inside = true;
        } else if !inside {
            lines.push(line);
        }
    }
    lines
}

/// The first of `sentences` (see [`note_sentences`]) that `answer` holds, as the note
/// had it; `None` when it holds none.
pub(super) fn copied_sentence<'a>(answer: &str, sentences: &'a [String]) -> Option<&'a str> {
    let answer = normalised(answer);
    sentences
        .iter()
        .find(|sentence| contains_words(&answer, sentence))
        .map(String::as_str)
}

/// Whether `text` holds `words` at word boundaries (both normalised).
fn contains_words(text: &str, words: &str) -> bool {
    text.match_indices(words).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + words.len()..].chars().next();
        before.is_none_or(|c| c == ' ') && after.is_none_or(|c| c == ' ')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(notes: &[&str]) -> Vec<ChatMessage> {
        let mut messages = vec![
            ChatMessage::system("You are a careful assistant."),
            ChatMessage::user("What does report.txt say? If there is no such file, say so."),
            ChatMessage::assistant("report.txt"),
        ];
        messages.extend(notes.iter().map(|note| ChatMessage::user(*note)));
        messages
    }

    #[test]
    fn an_answer_that_is_the_last_line_of_a_note_is_a_copy() {
        let messages = run(
            &["Your last reply could not be used: the request names the \
             file `report.txt`.\nReply again: call a tool in the format given, or answer the user."],
        );
        let sentences = note_sentences(&messages, &["What does report.txt say?"]);
        assert_eq!(
            copied_sentence(
                "call a tool in the format given, or answer the user.",
                &sentences
            ),
            Some("call a tool in the format given or answer the user")
        );
        assert_eq!(
            copied_sentence("Call a tool in the format given", &sentences),
            None,
            "a part of a sentence is no copy of it: {sentences:?}"
        );
    }

    #[test]
    fn a_whole_sentence_copied_inside_an_answer_is_found_at_word_boundaries() {
        let messages = run(
            &["`send_email` was not called. The user asked: \"What is my \
             manager's name?\". Answer that now, from the results above."],
        );
        let sentences = note_sentences(&messages, &["What is my manager's name?"]);
        assert_eq!(
            copied_sentence(
                "1. The user asked about the manager.\n3. Answer that now, from the results \
                 above.",
                &sentences
            ),
            Some("answer that now from the results above")
        );
        assert_eq!(
            copied_sentence("Your manager is Priya.", &sentences),
            None,
            "an answer in its own words copies nothing"
        );
        assert_eq!(
            copied_sentence(
                "Do not answer that now from the results above yet",
                &sentences
            ),
            Some("answer that now from the results above")
        );
        assert_eq!(
            copied_sentence("xanswer that now from the results above", &sentences),
            None
        );
    }

    #[test]
    fn fenced_data_the_request_and_results_are_not_notes() {
        let messages = run(&[
            "Notes recalled from memory.\n<<DATA-1 source=\"memory\">>\nThe user's manager \
             is called Priya.\n<</DATA-1>>\nWhat is my manager's name?",
            "error: tool `read_file` failed: `report.txt` does not exist, it says.",
        ]);
        let sentences = note_sentences(
            &messages,
            &[
                "What is my manager's name?",
                "error: tool `read_file` failed: `report.txt` does not exist, it says.",
            ],
        );
        assert_eq!(sentences, vec!["notes recalled from memory".to_owned()]);
        assert_eq!(
            copied_sentence("The user's manager is called Priya.", &sentences),
            None
        );
    }

    #[test]
    fn the_first_user_turn_holds_the_request_and_is_no_note() {
        let messages = run(&[]);
        assert!(note_sentences(&messages, &[]).is_empty());
    }
}
