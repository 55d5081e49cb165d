//! Model files beyond a plain chat GGUF, on the real SmolLM2-135M-Instruct: LoRA adapters
//! (written here as GGUF adapter files for SmolLM2's shapes) and a model whose GGUF has no
//! chat template.

use std::path::{Path, PathBuf};

mod support;

use agentry_core::model::{
    GenerateRequest, LanguageModel, ModelError, ModelInput, Sampling, ScoreRequest,
};
use agentry_llama::{LlamaConfig, LlamaModel};
use agentry_prompts::{ChatMessage, Role};
use support::smollm2_path;

/// SmolLM2-135M's hidden size and layer count (the shape of `blk.N.attn_q.weight`).
const HIDDEN: u64 = 576;
const LAYERS: usize = 30;

fn config(lora: Vec<(PathBuf, f32)>) -> LlamaConfig {
    LlamaConfig {
        n_ctx: 512,
        threads: 2,
        lora,
        gpu_layers: support::gpu_layers(),
        ..LlamaConfig::default()
    }
}

/// Log-probability of " Paris" after "The capital of France is".
async fn paris_logprob(model: &LlamaModel) -> f64 {
    let scores = model
        .score(ScoreRequest {
            prompt: ModelInput::Raw("The capital of France is".into()),
            candidates: vec![" Paris".into()],
        })
        .await
        .expect("score");
    scores[0].logprob
}

/// [`paris_logprob`] of SmolLM2 loaded with the adapters `lora` (the model is dropped after).
async fn paris_logprob_with(base_path: &Path, lora: Vec<(PathBuf, f32)>) -> f64 {
    let model = LlamaModel::open(base_path.to_path_buf(), config(lora))
        .await
        .expect("a well-formed adapter loads");
    paris_logprob(&model).await
}

/// A minimal GGUF (version 3) writer: string and f32 metadata, f32 tensors.
struct GgufWriter {
    metadata: Vec<(String, MetaValue)>,
    tensors: Vec<(String, Vec<u64>, Vec<f32>)>,
}

enum MetaValue {
    Text(String),
    Float(f32),
}

const ALIGNMENT: usize = 32;

impl GgufWriter {
    fn new() -> Self {
        Self {
            metadata: Vec::new(),
            tensors: Vec::new(),
        }
    }

    fn text(mut self, key: &str, value: &str) -> Self {
        self.metadata
            .push((key.into(), MetaValue::Text(value.into())));
        self
    }

    fn float(mut self, key: &str, value: f32) -> Self {
        self.metadata.push((key.into(), MetaValue::Float(value)));
        self
    }

    /// A tensor with ggml dimensions `dims` (fastest-varying first).
    fn tensor(mut self, name: &str, dims: &[u64], data: Vec<f32>) -> Self {
        assert_eq!(dims.iter().product::<u64>() as usize, data.len());
        self.tensors.push((name.into(), dims.to_vec(), data));
        self
    }

    fn write(&self, path: &Path) {
        fn string(out: &mut Vec<u8>, s: &str) {
            out.extend((s.len() as u64).to_le_bytes());
            out.extend(s.as_bytes());
        }
        fn pad(out: &mut Vec<u8>) {
            while !out.len().is_multiple_of(ALIGNMENT) {
                out.push(0);
            }
        }
        const TYPE_F32_VALUE: u32 = 6;
        const TYPE_STRING_VALUE: u32 = 8;
        const GGML_TYPE_F32: u32 = 0;

        let mut out = Vec::new();
        out.extend(b"GGUF");
        out.extend(3u32.to_le_bytes());
        out.extend((self.tensors.len() as u64).to_le_bytes());
        out.extend((self.metadata.len() as u64).to_le_bytes());
        for (key, value) in &self.metadata {
            string(&mut out, key);
            match value {
                MetaValue::Text(text) => {
                    out.extend(TYPE_STRING_VALUE.to_le_bytes());
                    string(&mut out, text);
                }
                MetaValue::Float(x) => {
                    out.extend(TYPE_F32_VALUE.to_le_bytes());
                    out.extend(x.to_le_bytes());
                }
            }
        }
        let mut offset = 0usize;
        for (name, dims, data) in &self.tensors {
            string(&mut out, name);
            out.extend((dims.len() as u32).to_le_bytes());
            for d in dims {
                out.extend(d.to_le_bytes());
            }
            out.extend(GGML_TYPE_F32.to_le_bytes());
            out.extend((offset as u64).to_le_bytes());
            offset += (data.len() * 4).div_ceil(ALIGNMENT) * ALIGNMENT;
        }
        pad(&mut out);
        for (_, _, data) in &self.tensors {
            for x in data {
                out.extend(x.to_le_bytes());
            }
            pad(&mut out);
        }
        std::fs::write(path, out).expect("write the GGUF");
    }
}

/// Deterministic values in `-amplitude..amplitude` (a small LCG; no test randomness).
fn values(n: usize, seed: u64, amplitude: f32) -> Vec<f32> {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let unit = (state >> 40) as f32 / (1u64 << 24) as f32;
            (unit * 2.0 - 1.0) * amplitude
        })
        .collect()
}

/// A rank-`rank` LoRA adapter on every layer's query projection; `b_amplitude` 0 makes
/// the update zero.
fn lora_adapter(path: &Path, architecture: &str, rank: u64, b_amplitude: f32) {
    let mut gguf = GgufWriter::new()
        .text("general.architecture", architecture)
        .text("general.type", "adapter")
        .text("adapter.type", "lora")
        .float("adapter.lora.alpha", rank as f32);
    for layer in 0..LAYERS {
        let base = format!("blk.{layer}.attn_q.weight");
        let a = values((HIDDEN * rank) as usize, layer as u64, 0.5);
        let b = values((rank * HIDDEN) as usize, 1000 + layer as u64, b_amplitude);
        gguf = gguf
            .tensor(&format!("{base}.lora_a"), &[HIDDEN, rank], a)
            .tensor(&format!("{base}.lora_b"), &[rank, HIDDEN], b);
    }
    gguf.write(path);
}

#[tokio::test]
async fn a_lora_adapter_changes_the_model_by_its_weights_and_scale() {
    let base_path = smollm2_path().await;
    let dir = tempfile::tempdir().unwrap();
    let zero = dir.path().join("zero.gguf");
    let active = dir.path().join("active.gguf");
    lora_adapter(&zero, "llama", 4, 0.0);
    lora_adapter(&active, "llama", 4, 0.5);

    let base_logprob = paris_logprob_with(&base_path, Vec::new()).await;
    let zero_logprob = paris_logprob_with(&base_path, vec![(zero, 1.0)]).await;
    assert!(
        (zero_logprob - base_logprob).abs() < 1e-3,
        "a zero update leaves the model as it was: {zero_logprob} vs {base_logprob}"
    );

    let active_logprob = paris_logprob_with(&base_path, vec![(active.clone(), 1.0)]).await;
    assert!(
        (active_logprob - base_logprob).abs() > 0.01,
        "the adapter's update reaches the output: {active_logprob} vs {base_logprob}"
    );

    let off_logprob = paris_logprob_with(&base_path, vec![(active, 0.0)]).await;
    assert!(
        (off_logprob - base_logprob).abs() < 1e-3,
        "scale 0 turns the adapter off: {off_logprob} vs {base_logprob}"
    );
}

#[tokio::test]
async fn a_lora_adapter_that_does_not_fit_the_model_is_a_clear_error() {
    let base_path = smollm2_path().await;
    let dir = tempfile::tempdir().unwrap();

    let other_arch = dir.path().join("gemma.gguf");
    lora_adapter(&other_arch, "gemma3", 4, 0.5);
    let err = LlamaModel::open(base_path.clone(), config(vec![(other_arch.clone(), 1.0)]))
        .await
        .expect_err("an adapter for another architecture");
    assert!(
        matches!(&err, ModelError::Lora { path, .. } if path == &other_arch),
        "{err}"
    );

    let missing = dir.path().join("missing.gguf");
    let err = LlamaModel::open(base_path.clone(), config(vec![(missing.clone(), 1.0)]))
        .await
        .expect_err("a missing adapter");
    assert!(err.to_string().contains("missing.gguf"), "{err}");

    let two = vec![(other_arch.clone(), 1.0), (other_arch, 1.0)];
    let err = LlamaModel::open(base_path, config(two))
        .await
        .expect_err("two adapters");
    assert!(err.to_string().contains("one LoRA adapter"), "{err}");
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

    let model = LlamaModel::open(bare.clone(), config(Vec::new()))
        .await
        .unwrap();
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
            ..config(Vec::new())
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
