//! The chat-template renderer on an arbitrary template and arbitrary messages: compiled
//! and rendered under the fuel budget, an error or text, never a panic or a hang.
//!
//! Input: the template text, a NUL byte, then messages separated by NUL bytes (the first
//! byte of each picks its role).
#![no_main]

use agentry_fuzz::llama::template::ChatTemplate;
use agentry_prompts::{ChatMessage, Role};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.split('\0');
    let source = parts.next().unwrap_or_default();
    let roles = [Role::System, Role::User, Role::Assistant, Role::Tool];
    let messages: Vec<ChatMessage> = parts
        .take(16)
        .map(|part| {
            let role = roles[part.len() % roles.len()].clone();
            ChatMessage::new(role, part)
        })
        .collect();
    if let Ok(template) = ChatTemplate::new(source, "<s>", "</s>") {
        let _ = template.render(&messages);
        let _ = template.render_pieces(&messages);
    }
});
