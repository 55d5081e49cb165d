//! Model files beyond a plain chat GGUF, on the real SmolLM2-135M-Instruct: a model whose
//! GGUF has no chat template. (LoRA adapters are tested in `lora.rs`.)

use std::path::Path;

mod support;

use agentry_core::model::{GenerateRequest, LanguageModel, ModelError, Sampling};
use agentry_llama::{LlamaConfig, LlamaModel};
use agentry_prompts::{ChatMessage, Role};
use support::smollm2_path;

fn config() -> LlamaConfig {
    LlamaConfig {
        n_ctx: 512,
        threads: 2,
        gpu_layers: support::gpu_layers(),
        ..LlamaConfig::default()
    }
}

/// A copy of SmolLM2 whose `tokenizer.chat_template` key is renamed (same length, so every
/// offset in the file stays valid): a GGUF without a chat template.
fn without_chat_template(source: &Path, target: &Path) {
    let mut bytes = std::fs::read(source).unwrap();
    let key = b"tokenizer.chat_template";
    let at = bytes
        .windows(key.len())
        .position(|w| w == key)
        .expect("SmolLM2 has a chat template");
    bytes[at + key.len() - 1] = b'X';
    std::fs::write(target, bytes).unwrap();
}

#[tokio::test]
async fn a_model_without_a_chat_template_needs_one_for_chat_but_not_for_raw_prompts() {
    let dir = tempfile::tempdir().unwrap();
    let bare = dir.path().join("bare.gguf");
    without_chat_template(&smollm2_path().await, &bare);
    let chat = GenerateRequest::chat(vec![ChatMessage::new(Role::User, "Say hi.")]).with_sampling(
        Sampling {
            max_tokens: 4,
            ..Sampling::default()
        },
    );

    let model = LlamaModel::open(bare.clone(), config()).await.unwrap();
    assert!(!model.info().has_chat_template);
    let err = model.generate(chat.clone()).await.unwrap_err();
    assert!(matches!(err, ModelError::NoChatTemplate { .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains("bare"), "names the model: {message}");
    assert!(
        message.contains("chat_template"),
        "says what to set: {message}"
    );
    let raw = model
        .generate(
            GenerateRequest::raw("Once upon a time").with_sampling(Sampling {
                max_tokens: 4,
                ..Sampling::default()
            }),
        )
        .await
        .expect("a raw prompt needs no template");
    assert_eq!(raw[0].usage.completion_tokens, 4);
    drop(model);

    let chatml = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
    let configured = LlamaModel::open(
        bare,
        LlamaConfig {
            chat_template: Some(chatml.into()),
            ..config()
        },
    )
    .await
    .unwrap();
    assert!(configured.info().has_chat_template);
    let reply = configured
        .generate(chat)
        .await
        .expect("the configured template renders the chat");
    assert!(reply[0].usage.prompt_tokens > 0);
}
