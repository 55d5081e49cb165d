//! LoRA adapters on the real SmolLM2-135M-Instruct and llama.cpp. There is no adapter to
//! download for it, so the tests write their own: GGUF adapter files in llama.cpp's format
//! (`general.type: adapter`, `adapter.type: lora`, `adapter.lora.alpha`, F32 tensors
//! `<model tensor>.lora_a` of ggml shape `[in, rank]` and `.lora_b` of `[rank, out]`),
//! with the tensor names and shapes read from the model's own GGUF header. Decoding is
//! greedy, so the same weights give the same text.

use std::path::{Path, PathBuf};

mod support;

use agentry_core::model::{
    GenerateRequest, LanguageModel, ModelError, ModelInput, Sampling, ScoreRequest,
};
use agentry_llama::gguf::GgufInfo;
use agentry_llama::{LlamaConfig, LlamaModel};
use support::smollm2_path;

const PROMPT: &str = "The capital of France is";

fn config(lora: Vec<(PathBuf, f32)>) -> LlamaConfig {
    LlamaConfig {
        n_ctx: 512,
        threads: 2,
        lora,
        gpu_layers: support::gpu_layers(),
        ..LlamaConfig::default()
    }
}

/// What SmolLM2 with the adapters `lora` does with [`PROMPT`]: its greedy continuation
/// (24 tokens) and the log-probability of " Paris" after it (the model is dropped after).
#[derive(Debug, Clone, PartialEq)]
struct Behaviour {
    text: String,
    paris: f64,
}

async fn behaviour(base: &Path, lora: Vec<(PathBuf, f32)>) -> Behaviour {
    let model = LlamaModel::open(base.to_path_buf(), config(lora))
        .await
        .expect("a well-formed adapter loads");
    let greedy = Sampling {
        temperature: 0.0,
        max_tokens: 24,
        ..Sampling::default()
    };
    let completion = model
        .generate(GenerateRequest::raw(PROMPT).with_sampling(greedy))
        .await
        .expect("generate");
    let scores = model
        .score(ScoreRequest {
            prompt: ModelInput::Raw(PROMPT.into()),
            candidates: vec![" Paris".into()],
        })
        .await
        .expect("score");
    Behaviour {
        text: completion[0].text.clone(),
        paris: scores[0].logprob,
    }
}

/// A minimal GGUF (version 3) writer: string and f32 metadata, f32 tensors, 32-byte
/// alignment (GGUF's default, as llama.cpp reads it without `general.alignment`).
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

/// The update of one model tensor: `lora_a` and `lora_b`, each with its ggml dimensions.
#[derive(Clone)]
struct Pair {
    target: String,
    a_dims: Vec<u64>,
    a: Vec<f32>,
    b_dims: Vec<u64>,
    b: Vec<f32>,
}

/// What an adapter holds: its architecture, alpha and pairs.
struct Adapter {
    architecture: String,
    alpha: f32,
    pairs: Vec<Pair>,
}

impl Adapter {
    /// A rank-`rank` update of each of the model tensors `targets` (alpha = rank, so
    /// llama.cpp's `scale * alpha / rank` is the scale): `lora_a` random in ±0.5, `lora_b`
    /// random in ±`b_amplitude` (0: the update is zero). Shapes from the model's header.
    fn for_model(model: &GgufInfo, targets: &[String], rank: u64, b_amplitude: f32) -> Self {
        let pairs = targets
            .iter()
            .enumerate()
            .map(|(i, target)| {
                let tensor = model
                    .tensors
                    .iter()
                    .find(|t| &t.name == target)
                    .unwrap_or_else(|| panic!("SmolLM2 has no tensor {target}"));
                let (n_in, n_out) = (tensor.dims[0], tensor.dims[1]);
                let a = values((n_in * rank) as usize, i as u64, 0.5);
                let b = values((rank * n_out) as usize, 1000 + i as u64, b_amplitude);
                Pair {
                    target: target.clone(),
                    a_dims: vec![n_in, rank],
                    a,
                    b_dims: vec![rank, n_out],
                    b,
                }
            })
            .collect();
        Self {
            architecture: model.architecture.clone(),
            alpha: rank as f32,
            pairs,
        }
    }

    /// The same adapter with every `lora_b` multiplied by `factor`.
    fn scaled_b(&self, factor: f32) -> Self {
        Self {
            architecture: self.architecture.clone(),
            alpha: self.alpha,
            pairs: self
                .pairs
                .iter()
                .map(|pair| Pair {
                    b: pair.b.iter().map(|x| x * factor).collect(),
                    ..pair.clone()
                })
                .collect(),
        }
    }

    fn write(&self, path: &Path) -> PathBuf {
        let mut gguf = GgufWriter::new()
            .text("general.architecture", &self.architecture)
            .text("general.type", "adapter")
            .text("adapter.type", "lora")
            .float("adapter.lora.alpha", self.alpha);
        for pair in &self.pairs {
            let name = &pair.target;
            gguf = gguf
                .tensor(&format!("{name}.lora_a"), &pair.a_dims, pair.a.clone())
                .tensor(&format!("{name}.lora_b"), &pair.b_dims, pair.b.clone());
        }
        gguf.write(path);
        path.to_path_buf()
    }
}

/// SmolLM2's header, and the FFN-down and attention-output projections of every third
/// layer (`blk.N.ffn_down.weight` is `[1536, 576]` in ggml order, so the test covers
/// tensors that are not square).
fn smollm2_targets(model: &GgufInfo) -> Vec<String> {
    let layers = model.layers.expect("SmolLM2 states its layer count");
    (0..layers)
        .step_by(3)
        .flat_map(|l| {
            [
                format!("blk.{l}.ffn_down.weight"),
                format!("blk.{l}.attn_output.weight"),
            ]
        })
        .collect()
}

#[tokio::test]
async fn an_adapter_whose_update_is_zero_loads_and_changes_nothing() {
    let base_path = smollm2_path().await;
    let model = GgufInfo::read(&base_path).expect("SmolLM2's header");
    let dir = tempfile::tempdir().unwrap();
    let zero = Adapter::for_model(&model, &smollm2_targets(&model), 4, 0.0)
        .write(&dir.path().join("zero.gguf"));

    let base = behaviour(&base_path, Vec::new()).await;
    assert!(!base.text.trim().is_empty(), "{base:?}");
    let with_zero = behaviour(&base_path, vec![(zero, 1.0)]).await;
    assert_eq!(
        with_zero.text, base.text,
        "a zero update leaves the greedy text as it was"
    );
    assert!(
        (with_zero.paris - base.paris).abs() < 1e-4,
        "a zero update leaves the scores as they were: {} vs {}",
        with_zero.paris,
        base.paris
    );
}

#[tokio::test]
async fn an_adapter_changes_the_greedy_text_and_the_scores_by_its_weights_and_scale() {
    let base_path = smollm2_path().await;
    let model = GgufInfo::read(&base_path).expect("SmolLM2's header");
    let dir = tempfile::tempdir().unwrap();
    // A strong rank-1 update of 20 projections.
    let adapter = Adapter::for_model(&model, &smollm2_targets(&model), 1, 0.5);
    let strong = adapter.write(&dir.path().join("strong.gguf"));
    let doubled = adapter
        .scaled_b(2.0)
        .write(&dir.path().join("doubled.gguf"));

    let base = behaviour(&base_path, Vec::new()).await;
    let adapted = behaviour(&base_path, vec![(strong.clone(), 1.0)]).await;
    assert_ne!(
        adapted.text, base.text,
        "the adapter's update reaches the greedy text"
    );
    assert!(
        (adapted.paris - base.paris).abs() > 0.05,
        "the adapter's update reaches `score`: {} vs {}",
        adapted.paris,
        base.paris
    );

    // The scale multiplies the update: off at 0, and twice the weights at half the scale
    // are the same model.
    let off = behaviour(&base_path, vec![(strong, 0.0)]).await;
    assert_eq!(off.text, base.text, "scale 0 turns the adapter off");
    assert!(
        (off.paris - base.paris).abs() < 1e-4,
        "scale 0 turns the adapter off: {} vs {}",
        off.paris,
        base.paris
    );
    let halved = behaviour(&base_path, vec![(doubled, 0.5)]).await;
    assert_eq!(
        halved.text, adapted.text,
        "2·B at scale 0.5 is B at scale 1"
    );
    assert!(
        (halved.paris - adapted.paris).abs() < 1e-3,
        "2·B at scale 0.5 is B at scale 1: {} vs {}",
        halved.paris,
        adapted.paris
    );
}

/// The error of opening SmolLM2 with the adapter at `path`; it must be a
/// [`ModelError::Lora`] naming that file.
async fn lora_error(base: &Path, path: &Path) -> String {
    let err = LlamaModel::open(base.to_path_buf(), config(vec![(path.to_path_buf(), 1.0)]))
        .await
        .expect_err("the adapter does not fit");
    match &err {
        ModelError::Lora { path: named, .. } => assert_eq!(named, path, "{err}"),
        other => panic!("not a LoRA error: {other}"),
    }
    let message = err.to_string();
    assert!(
        message.contains(&path.display().to_string()),
        "the message names the file: {message}"
    );
    message
}

#[tokio::test]
async fn an_adapter_that_does_not_fit_the_model_is_a_lora_error_that_says_why() {
    let base_path = smollm2_path().await;
    let model = GgufInfo::read(&base_path).expect("SmolLM2's header");
    let dir = tempfile::tempdir().unwrap();
    let targets = smollm2_targets(&model);
    let good = Adapter::for_model(&model, &targets, 2, 0.5);

    // For another architecture.
    let mut gemma = Adapter::for_model(&model, &targets, 2, 0.5);
    gemma.architecture = "gemma3".into();
    let message = lora_error(&base_path, &gemma.write(&dir.path().join("gemma.gguf"))).await;
    assert!(
        message.contains("it is for the architecture `gemma3`, the model is `llama`"),
        "{message}"
    );

    // One pair with its input and output sides swapped (as for a transposed tensor).
    let mut swapped = Adapter::for_model(&model, &targets, 2, 0.5);
    let pair = swapped.pairs.remove(0);
    let (name, n_in, n_out) = (pair.target.clone(), pair.a_dims[0], pair.b_dims[1]);
    swapped.pairs.push(Pair {
        target: pair.target,
        a_dims: vec![n_out, 2],
        a: pair.b,
        b_dims: vec![2, n_in],
        b: pair.a,
    });
    let message = lora_error(&base_path, &swapped.write(&dir.path().join("swapped.gguf"))).await;
    assert!(
        message.contains(&format!(
            "the shapes of `{name}`'s pair do not fit the model"
        )) && message.contains(&format!(
            "lora_a must be [{n_in}, r] and lora_b [r, {n_out}]"
        )),
        "{message}"
    );

    // A tensor the model does not have (a layer past its last).
    let mut deeper = Adapter::for_model(&model, &targets, 2, 0.5);
    deeper.pairs[0].target = "blk.99.ffn_down.weight".into();
    let message = lora_error(&base_path, &deeper.write(&dir.path().join("deeper.gguf"))).await;
    assert!(
        message.contains("`blk.99.ffn_down.weight` is not a tensor of the model"),
        "{message}"
    );

    // The model itself given as the adapter, and a file that is not GGUF.
    let message = lora_error(&base_path, &base_path).await;
    assert!(
        message.contains("`general.type` is `model`, not `adapter`"),
        "{message}"
    );
    let text = dir.path().join("notes.gguf");
    std::fs::write(&text, "not an adapter").unwrap();
    let message = lora_error(&base_path, &text).await;
    assert!(message.contains("is not a GGUF file"), "{message}");
    let missing = dir.path().join("missing.gguf");
    lora_error(&base_path, &missing).await;

    // Two adapters: llama-cpp-2 sets one per context.
    let good = good.write(&dir.path().join("good.gguf"));
    let err = LlamaModel::open(
        base_path.clone(),
        config(vec![(good.clone(), 1.0), (good.clone(), 1.0)]),
    )
    .await
    .expect_err("two adapters");
    assert!(
        matches!(&err, ModelError::Lora { .. }) && err.to_string().contains("one LoRA adapter"),
        "{err}"
    );

    // And the well-formed one loads, on the same model.
    behaviour(&base_path, vec![(good, 1.0)]).await;
}
