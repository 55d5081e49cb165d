//! The hardware self-check: can this machine hold this model?
//!
//! Reads a GGUF file's header (no weights are loaded), estimates the memory
//! each use of the model needs, looks at this machine's RAM and GPUs, and
//! says whether the model fits and how many layers to offload.
//!
//! The arithmetic follows the reference: a model's size is S = N × B (N
//! parameters, B bytes per parameter); inference needs 1.2–5 × S, LoRA
//! fine-tuning 1.2–2 × S, full fine-tuning 8–15 × S, training 12–20 × S. The
//! precise inference estimate is weights + KV cache + compute buffer, where
//! the KV cache is 2 × layers × ctx × kv_heads × head_dim × bytes per element.

mod machine;
mod render;

use serde::Serialize;

pub use machine::{Gpu, Machine};

use crate::gguf::{GgufInfo, file_type_name, ggml_type_layout, ggml_type_name};

/// What to estimate for.
#[derive(Debug, Clone, Copy)]
pub struct DoctorOptions {
    /// Context length to size the KV cache for; default: the training
    /// context, capped at 8192.
    pub ctx: Option<u64>,
    /// Layers the user plans to offload to the GPU; default: the recommendation.
    pub gpu_layers: Option<u64>,
    /// Micro-batch size (llama.cpp's `n_ubatch`), which sizes the compute buffer.
    pub ubatch: u64,
    /// Bytes per KV-cache element (2 for the default F16 cache).
    pub kv_bytes_per_element: u64,
}

impl Default for DoctorOptions {
    fn default() -> Self {
        Self {
            ctx: None,
            gpu_layers: None,
            ubatch: 512,
            kv_bytes_per_element: 2,
        }
    }
}

/// The model's facts, as read from its header.
#[derive(Debug, Clone, Serialize)]
pub struct ModelFacts {
    /// The file.
    pub path: String,
    /// `general.name`.
    pub name: Option<String>,
    /// Architecture.
    pub architecture: String,
    /// N: parameters.
    pub parameters: u64,
    /// Quantization name.
    pub quantization: String,
    /// B: bytes per parameter, averaged over the file's tensors.
    pub bytes_per_parameter: f64,
    /// Bits per weight (8 × B).
    pub bits_per_weight: f64,
    /// File size in bytes.
    pub file_size: u64,
    /// Layers.
    pub layers: Option<u64>,
    /// Embedding size.
    pub embedding_size: Option<u64>,
    /// Attention heads.
    pub heads: Option<u64>,
    /// KV heads.
    pub kv_heads: Option<u64>,
    /// Per-head key dimension.
    pub head_dim: Option<u64>,
    /// Training context.
    pub context_length: Option<u64>,
    /// Vocabulary size.
    pub vocab_size: Option<u64>,
    /// Whether a chat template is embedded.
    pub has_chat_template: bool,
    /// The reference's size class.
    pub size_class: &'static str,
}

/// Memory needed for one use of the model, as a range of multiples of S.
#[derive(Debug, Clone, Serialize)]
pub struct UseEstimate {
    /// The use (`inference`, `LoRA fine-tuning`, ...).
    pub task: &'static str,
    /// Low multiplier of S.
    pub low_factor: f64,
    /// High multiplier of S.
    pub high_factor: f64,
    /// Low estimate in bytes.
    pub low_bytes: u64,
    /// High estimate in bytes.
    pub high_bytes: u64,
    /// Whether the high estimate fits in available RAM plus free GPU memory.
    pub fits: bool,
}

/// The precise inference estimate.
#[derive(Debug, Clone, Serialize)]
pub struct InferenceEstimate {
    /// Context length sized for.
    pub ctx: u64,
    /// Weights in memory (the tensor data).
    pub weights_bytes: u64,
    /// KV cache for `ctx` tokens.
    pub kv_cache_bytes: u64,
    /// Compute buffer (activations, logits, attention scratch).
    pub compute_buffer_bytes: u64,
    /// The sum.
    pub total_bytes: u64,
    /// Total as a multiple of S.
    pub factor_of_s: f64,
}

/// Whether it fits, and how to run it.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// The inference estimate fits in available RAM (with the chosen GPU
    /// offload taken off the RAM side).
    pub fits: bool,
    /// GPU layers recommended (`--gpu-layers`); 0 without a GPU.
    pub recommended_gpu_layers: u64,
    /// GPU layers the estimate was computed with.
    pub gpu_layers: u64,
    /// Bytes that stay in RAM.
    pub ram_bytes: u64,
    /// Bytes that go to the GPU.
    pub gpu_bytes: u64,
    /// One-paragraph advice.
    pub advice: String,
}

/// One row of the precision table.
#[derive(Debug, Clone, Serialize)]
pub struct PrecisionRow {
    /// Format name.
    pub format: &'static str,
    /// Bytes per parameter.
    pub bytes_per_parameter: f64,
    /// What it is used for.
    pub use_for: &'static str,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct DoctorReport {
    /// The model.
    pub model: ModelFacts,
    /// S = N × B, in bytes.
    pub size_bytes: u64,
    /// Memory per use, from the reference's multipliers.
    pub uses: Vec<UseEstimate>,
    /// The precise inference estimate.
    pub inference: InferenceEstimate,
    /// This machine.
    pub machine: Machine,
    /// The verdict.
    pub verdict: Verdict,
    /// Bytes per parameter of common formats.
    pub precisions: Vec<PrecisionRow>,
}

impl DoctorReport {
    /// Builds the report for a model on a machine.
    pub fn new(info: &GgufInfo, machine: Machine, options: DoctorOptions) -> Self {
        let model = model_facts(info);
        let size_bytes = (info.parameters as f64 * info.bytes_per_parameter()).round() as u64;
        let inference = inference_estimate(info, &options);
        let gpu_free: u64 = machine.gpus.iter().map(|g| g.free_bytes).sum();
        let capacity = machine.available_ram_bytes.saturating_add(gpu_free);
        let uses = [
            ("inference", 1.2, 5.0),
            ("LoRA fine-tuning", 1.2, 2.0),
            ("full fine-tuning", 8.0, 15.0),
            ("training", 12.0, 20.0),
        ]
        .into_iter()
        .map(|(task, low, high)| {
            let high_bytes = (size_bytes as f64 * high) as u64;
            UseEstimate {
                task,
                low_factor: low,
                high_factor: high,
                low_bytes: (size_bytes as f64 * low) as u64,
                high_bytes,
                fits: high_bytes <= capacity,
            }
        })
        .collect();
        let verdict = verdict(info, &inference, &machine, &options);
        Self {
            model,
            size_bytes,
            uses,
            inference,
            machine,
            verdict,
            precisions: precision_table(),
        }
    }

    /// The report as a readable text table.
    pub fn to_table(&self) -> String {
        render::table(self)
    }
}

fn model_facts(info: &GgufInfo) -> ModelFacts {
    let b = info.bytes_per_parameter();
    let billions = info.parameters as f64 / 1e9;
    let size_class = if billions < 1.0 {
        "under 1B: runs anywhere, CPU included"
    } else if billions <= 7.5 {
        "1-7B: fits a personal computer"
    } else if billions <= 34.0 {
        "14-32B class: needs a strong GPU"
    } else if billions < 65.0 {
        "between 32B and 70B: a large GPU or several"
    } else {
        "70B+: needs a server"
    };
    ModelFacts {
        path: info.path.display().to_string(),
        name: info.name.clone(),
        architecture: info.architecture.clone(),
        parameters: info.parameters,
        quantization: info.quantization(),
        bytes_per_parameter: b,
        bits_per_weight: b * 8.0,
        file_size: info.file_size,
        layers: info.layers,
        embedding_size: info.embedding_size,
        heads: info.heads,
        kv_heads: info.kv_heads,
        head_dim: info.head_dims().map(|(k, _)| k),
        context_length: info.context_length,
        vocab_size: info.vocab_size,
        has_chat_template: info.has_chat_template,
        size_class,
    }
}

/// KV cache bytes for `ctx` tokens over `layers` layers.
pub fn kv_cache_bytes(info: &GgufInfo, ctx: u64, layers: u64, bytes_per_element: u64) -> u64 {
    let kv_heads = info.kv_heads.unwrap_or(0);
    let (k, v) = info.head_dims().unwrap_or((0, 0));
    // K and V: the reference's 2 × layers × ctx × kv_heads × head_dim × bytes,
    // with K and V head sizes taken separately where they differ. Header
    // fields are untrusted: the product saturates at u64::MAX (which fits
    // nowhere) rather than wrapping to a small number.
    [
        layers,
        ctx,
        kv_heads,
        k.saturating_add(v),
        bytes_per_element,
    ]
    .into_iter()
    .fold(1u64, u64::saturating_mul)
}

fn inference_estimate(info: &GgufInfo, options: &DoctorOptions) -> InferenceEstimate {
    let ctx = options
        .ctx
        .unwrap_or_else(|| info.context_length.unwrap_or(4096).min(8192))
        .max(1);
    let layers = info.layers.unwrap_or(0);
    let kv = kv_cache_bytes(info, ctx, layers, options.kv_bytes_per_element);
    let compute = compute_buffer_bytes(info, ctx, options.ubatch);
    let weights = info.tensor_bytes;
    let total = weights.saturating_add(kv).saturating_add(compute);
    let s = (info.parameters as f64 * info.bytes_per_parameter()).max(1.0);
    InferenceEstimate {
        ctx,
        weights_bytes: weights,
        kv_cache_bytes: kv,
        compute_buffer_bytes: compute,
        total_bytes: total,
        factor_of_s: total as f64 / s,
    }
}

/// llama.cpp's compute buffer, estimated: F32 logits for one micro-batch,
/// the attention scores of one layer (heads × ctx × ubatch, without flash
/// attention), and a few hidden-state-sized activations (feed-forward ≈ 4 ×
/// hidden).
fn compute_buffer_bytes(info: &GgufInfo, ctx: u64, ubatch: u64) -> u64 {
    let vocab = info.vocab_size.unwrap_or(32_000);
    let embd = info.embedding_size.unwrap_or(4096);
    let heads = info.heads.unwrap_or(32);
    let f32_bytes = 4;
    let product = |factors: &[u64]| factors.iter().fold(1u64, |a, b| a.saturating_mul(*b));
    let logits = product(&[vocab, ubatch, f32_bytes]);
    let attention = product(&[heads, ctx, ubatch, f32_bytes]);
    let activations = product(&[8, embd, ubatch, f32_bytes]);
    logits.saturating_add(attention).saturating_add(activations)
}

fn verdict(
    info: &GgufInfo,
    inference: &InferenceEstimate,
    machine: &Machine,
    options: &DoctorOptions,
) -> Verdict {
    let layers = info.layers.unwrap_or(0);
    // llama.cpp counts the output layer as one more offloadable layer.
    let offloadable = layers.saturating_add(1);
    let per_layer = (inference
        .weights_bytes
        .saturating_add(inference.kv_cache_bytes))
    .checked_div(offloadable)
    .unwrap_or(0);
    let gpu_free = machine.gpus.iter().map(|g| g.free_bytes).max().unwrap_or(0);
    // Keep room on the GPU for its compute buffer and the CUDA context.
    let reserve = inference
        .compute_buffer_bytes
        .saturating_add(512 * 1024 * 1024);
    let recommended = if gpu_free > reserve && per_layer > 0 {
        ((gpu_free - reserve) / per_layer).min(offloadable)
    } else {
        0
    };
    let gpu_layers = options.gpu_layers.unwrap_or(recommended).min(offloadable);
    let gpu_bytes = if gpu_layers > 0 {
        per_layer
            .saturating_mul(gpu_layers)
            .saturating_add(inference.compute_buffer_bytes)
    } else {
        0
    };
    let ram_bytes = inference.total_bytes.saturating_sub(gpu_bytes);
    let ram_fits = ram_bytes <= machine.available_ram_bytes;
    let gpu_fits = gpu_bytes <= gpu_free || gpu_layers == 0;
    let fits = ram_fits && gpu_fits;
    let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
    let mut advice = if fits {
        format!(
            "Fits: inference at ctx {} needs about {:.2} GiB of RAM ({:.2} GiB available)",
            inference.ctx,
            gib(ram_bytes),
            gib(machine.available_ram_bytes)
        )
    } else if !gpu_fits {
        format!(
            "Does not fit: {gpu_layers} GPU layers need about {:.2} GiB of GPU memory, {:.2} GiB is free",
            gib(gpu_bytes),
            gib(gpu_free)
        )
    } else {
        format!(
            "Does not fit: inference at ctx {} needs about {:.2} GiB of RAM, {:.2} GiB is available; try a smaller --ctx, a smaller quantization, or GPU offload",
            inference.ctx,
            gib(ram_bytes),
            gib(machine.available_ram_bytes)
        )
    };
    if gpu_layers > 0 {
        advice.push_str(&format!(
            " and {:.2} GiB of GPU memory ({gpu_layers} of {offloadable} layers offloaded)",
            gib(gpu_bytes)
        ));
    }
    advice.push('.');
    if machine.gpus.is_empty() {
        advice.push_str(" No GPU found: run on the CPU (--gpu-layers 0).");
    } else {
        advice.push_str(&format!(
            " Recommended: --gpu-layers {recommended} (of {offloadable})."
        ));
    }
    Verdict {
        fits,
        recommended_gpu_layers: recommended,
        gpu_layers,
        ram_bytes,
        gpu_bytes,
        advice,
    }
}

fn precision_table() -> Vec<PrecisionRow> {
    let mut rows = vec![
        PrecisionRow {
            format: "FP32",
            bytes_per_parameter: 4.0,
            use_for: "training; highest precision",
        },
        PrecisionRow {
            format: "FP16",
            bytes_per_parameter: 2.0,
            use_for: "inference; the usual balance",
        },
        PrecisionRow {
            format: "BF16",
            bytes_per_parameter: 2.0,
            use_for: "training; made for AI (FP32's range)",
        },
        PrecisionRow {
            format: "FP8 / INT8",
            bytes_per_parameter: 1.0,
            use_for: "edge devices; strongest common compression",
        },
    ];
    // GGUF block quantizations: bits per weight follow from the block layout.
    for ty in [8u32, 7, 6, 3, 2, 14, 13, 12, 11, 10, 23] {
        if let (Some(name), Some((block, bytes))) = (ggml_type_name(ty), ggml_type_layout(ty)) {
            rows.push(PrecisionRow {
                format: name,
                bytes_per_parameter: bytes as f64 / block as f64,
                use_for: "GGUF block quantization (llama.cpp)",
            });
        }
    }
    // Mixes: most tensors at one type, some at a higher one.
    for (ftype, bpw) in [(15u64, 4.8), (17, 5.7)] {
        if let Some(name) = file_type_name(ftype) {
            rows.push(PrecisionRow {
                format: name,
                bytes_per_parameter: bpw / 8.0,
                use_for: "GGUF mix (typical average)",
            });
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::TensorInfo;
    use std::collections::BTreeMap;

    fn info(params_b: f64, bpp: f64, layers: u64) -> GgufInfo {
        let parameters = (params_b * 1e9) as u64;
        GgufInfo {
            path: "m.gguf".into(),
            file_size: (parameters as f64 * bpp) as u64,
            version: 3,
            architecture: "llama".into(),
            name: None,
            parameters,
            tensor_bytes: (parameters as f64 * bpp) as u64,
            file_type: Some(15),
            layers: Some(layers),
            embedding_size: Some(4096),
            heads: Some(32),
            kv_heads: Some(8),
            key_length: None,
            value_length: None,
            context_length: Some(8192),
            vocab_size: Some(128_000),
            has_chat_template: true,
            tensors: Vec::<TensorInfo>::new(),
            metadata: BTreeMap::new(),
        }
    }

    fn machine(ram_gib: u64, gpu_gib: Option<u64>) -> Machine {
        Machine {
            cpu_cores: 8,
            total_ram_bytes: ram_gib << 30,
            available_ram_bytes: ram_gib << 30,
            gpus: gpu_gib
                .map(|g| Gpu {
                    name: "test gpu".into(),
                    total_bytes: g << 30,
                    free_bytes: g << 30,
                })
                .into_iter()
                .collect(),
            gpu_probe: "test".into(),
            cpu_features: vec![],
        }
    }

    #[test]
    fn kv_cache_uses_kv_heads_not_query_heads() {
        let i = info(8.0, 0.6, 32);
        // 2 × 32 layers × 8192 ctx × 8 kv heads × 128 head dim × 2 bytes = 1 GiB
        assert_eq!(kv_cache_bytes(&i, 8192, 32, 2), 1 << 30);
    }

    #[test]
    fn huge_header_fields_saturate_and_never_fit() {
        // Header fields of 2^40 once wrapped the KV cache to "0 B".
        let mut i = info(8.0, 0.6, 1 << 40);
        i.kv_heads = Some(1 << 40);
        i.embedding_size = Some(1 << 40);
        i.heads = Some(1);
        assert_eq!(kv_cache_bytes(&i, 1 << 40, 1 << 40, 2), u64::MAX);
        let r = DoctorReport::new(
            &i,
            machine(1 << 20, Some(1 << 20)),
            DoctorOptions::default(),
        );
        assert_eq!(r.inference.kv_cache_bytes, u64::MAX);
        assert_eq!(r.inference.total_bytes, u64::MAX);
        assert!(!r.verdict.fits, "{}", r.verdict.advice);
        assert!(r.to_table().contains("DOES NOT FIT"));
    }

    #[test]
    fn the_largest_ctx_does_not_fit() {
        // `doctor --ctx 18446744073709551615` once said FITS.
        let i = info(8.0, 0.6, 32);
        let opts = DoctorOptions {
            ctx: Some(u64::MAX),
            ..Default::default()
        };
        let r = DoctorReport::new(&i, machine(1 << 20, None), opts);
        assert_eq!(r.inference.kv_cache_bytes, u64::MAX);
        assert!(!r.verdict.fits, "{}", r.verdict.advice);
    }

    #[test]
    fn an_8b_model_fits_24_gib_but_not_4() {
        let i = info(8.0, 0.6, 32);
        let opts = DoctorOptions {
            ctx: Some(4096),
            ..Default::default()
        };
        assert!(DoctorReport::new(&i, machine(24, None), opts).verdict.fits);
        let small = DoctorReport::new(&i, machine(4, None), opts);
        assert!(!small.verdict.fits);
        assert!(small.verdict.advice.contains("Does not fit"));
        assert_eq!(small.verdict.recommended_gpu_layers, 0);
    }

    #[test]
    fn gpu_layers_recommendation_scales_with_gpu_memory() {
        let i = info(8.0, 0.6, 32);
        let opts = DoctorOptions {
            ctx: Some(4096),
            ..Default::default()
        };
        let big = DoctorReport::new(&i, machine(8, Some(80)), opts);
        assert_eq!(big.verdict.recommended_gpu_layers, 33);
        let mid = DoctorReport::new(&i, machine(8, Some(4)), opts);
        assert!(mid.verdict.recommended_gpu_layers > 0);
        assert!(mid.verdict.recommended_gpu_layers < 33);
        assert!(mid.verdict.gpu_bytes <= 4 << 30);
    }

    #[test]
    fn multipliers_follow_the_reference() {
        let i = info(1.0, 2.0, 16);
        let r = DoctorReport::new(&i, machine(16, None), DoctorOptions::default());
        let training = r.uses.iter().find(|u| u.task == "training").unwrap();
        assert_eq!(training.low_factor, 12.0);
        assert_eq!(training.high_factor, 20.0);
        assert_eq!(training.high_bytes, r.size_bytes * 20);
        assert!(!training.fits);
        assert!(r.uses.iter().find(|u| u.task == "inference").unwrap().fits);
        let q41 = r.precisions.iter().find(|p| p.format == "Q4_1").unwrap();
        assert_eq!(q41.bytes_per_parameter * 8.0, 5.0);
    }
}
