//! [`Text`]: free text, trimmed.

use super::{OutputParser, ParseError};
use crate::model::Constraint;

/// Free text: the reply, trimmed. Fails only on an empty reply.
#[derive(Debug, Clone, Copy, Default)]
pub struct Text;

impl OutputParser for Text {
    type Output = String;

    fn instructions(&self) -> String {
        String::new()
    }

    fn constraint(&self) -> Constraint {
        Constraint::None
    }

    fn parse(&self, text: &str) -> Result<String, ParseError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(ParseError::new("some text", "the reply is empty"));
        }
        Ok(trimmed.to_owned())
    }
}
