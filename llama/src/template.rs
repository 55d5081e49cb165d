//! Chat templates: the GGUF's Jinja `tokenizer.chat_template`, rendered with minijinja.

use std::borrow::Cow;

use agentry_prompts::ChatMessage;
use minijinja::{Environment, Error, ErrorKind, context};

use agentry_model::ModelError;

mod pieces;
mod tojson;

pub use pieces::PromptPiece;

const NAME: &str = "chat";

/// A compiled chat template with the special tokens it may reference.
#[derive(Debug)]
pub struct ChatTemplate {
    env: Environment<'static>,
    bos_token: String,
    eos_token: String,
}

impl ChatTemplate {
    /// Compiles a Hugging Face style Jinja chat template.
    pub fn new(source: &str, bos_token: &str, eos_token: &str) -> Result<Self, ModelError> {
        let mut env = Environment::new();
        agentry_prompts::budget::limit(&mut env);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", |msg: String| -> Result<String, Error> {
            Err(Error::new(ErrorKind::InvalidOperation, msg))
        });
        env.add_filter("tojson", tojson::tojson);
        env.add_template_owned(NAME, source.to_owned())
            .map_err(|e| ModelError::Template(format!("cannot compile: {e:#}")))?;
        Ok(Self {
            env,
            bos_token: bos_token.to_owned(),
            eos_token: eos_token.to_owned(),
        })
    }

    /// Renders `messages` followed by the assistant generation prompt.
    pub fn render(&self, messages: &[ChatMessage]) -> Result<String, ModelError> {
        self.render_with_tools(messages, &[])
    }

    /// Renders `messages` followed by the assistant generation prompt, with `tools` (tool
    /// definitions, see [`agentry_model::tool_definition`]) as the template's `tools`
    /// variable; none leaves it undefined, as a template expects when there are none.
    pub fn render_with_tools(
        &self,
        messages: &[ChatMessage],
        tools: &[serde_json::Value],
    ) -> Result<String, ModelError> {
        self.render_turns(
            messages
                .iter()
                .map(|m| (m.role.as_str(), Cow::Borrowed(m.content.as_str()))),
            tools,
        )
    }

    /// Renders turns of `(role, text)` followed by the assistant generation prompt.
    fn render_turns<'m>(
        &self,
        turns: impl Iterator<Item = (&'m str, Cow<'m, str>)>,
        tools: &[serde_json::Value],
    ) -> Result<String, ModelError> {
        let messages: Vec<_> = turns
            .map(|(role, content)| context! { role => role, content => content.as_ref() })
            .collect();
        let template = self
            .env
            .get_template(NAME)
            .map_err(|e| ModelError::Template(format!("{e:#}")))?;
        // The GGUF's template is the file's text: its output is capped like its fuel.
        agentry_prompts::budget::render_capped(
            &template,
            context! {
                messages => messages,
                tools => (!tools.is_empty()).then_some(tools),
                add_generation_prompt => true,
                bos_token => self.bos_token.as_str(),
                eos_token => self.eos_token.as_str(),
            },
        )
        .map_err(|e| {
            ModelError::Template(format!(
                "cannot render: {}",
                agentry_prompts::budget::describe(&e)
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentry_prompts::Role;

    const CHATML: &str = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] | trim + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

    #[test]
    fn renders_chatml_with_generation_prompt() {
        let t = ChatTemplate::new(CHATML, "<s>", "</s>").unwrap();
        let out = t.render(&[ChatMessage::new(Role::User, " hi ")]).unwrap();
        assert_eq!(
            out,
            "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn an_endless_chat_template_is_a_clear_error() {
        // A GGUF's chat template is the file's text: it must not render for ever.
        let t = ChatTemplate::new(
            "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}",
            "",
            "",
        )
        .unwrap();
        let err = t
            .render(&[ChatMessage::new(Role::User, "hi")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("budget"), "{err}");
    }

    #[test]
    fn a_chat_template_that_writes_too_much_is_a_clear_error() {
        // Few steps, each writing a lot: the fuel lasts, the output cap stops it.
        let t = ChatTemplate::new(
            "{% for a in range(20000) %}{{ 'x' * 1000 }}{% endfor %}",
            "",
            "",
        )
        .unwrap();
        let err = t
            .render(&[ChatMessage::new(Role::User, "hi")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("output passed its limit"), "{err}");
    }

    #[test]
    fn pycompat_methods_and_raise_exception() {
        let t = ChatTemplate::new(
            "{% if messages[0].role != 'user' %}{{ raise_exception('user first') }}{% endif %}{{ messages[0].content.strip() }}",
            "",
            "",
        )
        .unwrap();
        assert_eq!(
            t.render(&[ChatMessage::new(Role::User, " x ")]).unwrap(),
            "x"
        );
        let err = t
            .render(&[ChatMessage::new(Role::System, "x")])
            .unwrap_err();
        assert!(err.to_string().contains("user first"), "{err}");
    }

    #[test]
    fn a_broken_template_is_an_error() {
        assert!(matches!(
            ChatTemplate::new("{% for %}", "", ""),
            Err(ModelError::Template(_))
        ));
    }
}
