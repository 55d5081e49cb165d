//! The GGUF reader and the doctor on the real SmolLM2-135M-Instruct file,
//! cross-checked against llama.cpp's own view of the same file.

use agentry_llama::doctor::{DoctorOptions, DoctorReport, Machine};
use agentry_llama::gguf::GgufInfo;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::model::params::LlamaModelParams;

mod support;

use support::smollm2_path as smollm2;

#[tokio::test]
async fn reads_the_real_smollm2_header() {
    let info = GgufInfo::read(&smollm2().await).unwrap();
    assert_eq!(info.parameters, 134_515_008);
    assert_eq!(info.quantization(), "Q4_1");
    assert_eq!(info.architecture, "llama");
    assert_eq!(info.layers, Some(30));
    assert_eq!(info.embedding_size, Some(576));
    assert_eq!(info.heads, Some(9));
    assert_eq!(info.kv_heads, Some(3));
    assert_eq!(info.head_dims(), Some((64, 64)));
    assert_eq!(info.context_length, Some(8192));
    assert_eq!(info.vocab_size, Some(49_152));
    assert!(info.has_chat_template);
    // Q4_1 is 5 bits per weight; some tensors are kept at higher precision.
    let bpw = info.bytes_per_parameter() * 8.0;
    assert!((5.0..6.5).contains(&bpw), "bits per weight {bpw}");
}

#[tokio::test]
async fn llama_cpp_agrees_with_the_header_reader() {
    let path = smollm2().await;
    let info = GgufInfo::read(&path).unwrap();
    let backend = LlamaBackend::init().unwrap();
    // GPU layers from AGENTRY_TEST_GPU_LAYERS, as everywhere else: llama.cpp's own default
    // (-1) would offload every layer on a `cuda` build.
    let params = LlamaModelParams::default().with_n_gpu_layers(support::gpu_layers());
    let model = LlamaModel::load_from_file(&backend, &path, &params).unwrap();
    assert_eq!(model.n_params(), info.parameters);
    assert_eq!(u64::from(model.n_layer()), info.layers.unwrap());
    assert_eq!(model.n_embd() as u64, info.embedding_size.unwrap());
    assert_eq!(model.n_vocab() as u64, info.vocab_size.unwrap());
    assert_eq!(u64::from(model.n_ctx_train()), info.context_length.unwrap());
    assert_eq!(model.size(), info.tensor_bytes);
}

#[tokio::test]
async fn doctor_report_on_the_real_model() {
    let info = GgufInfo::read(&smollm2().await).unwrap();
    let options = DoctorOptions {
        ctx: Some(2048),
        ..DoctorOptions::default()
    };
    let report = DoctorReport::new(&info, Machine::detect(), options);
    // KV: 2 x 30 layers x 2048 ctx x 3 kv heads x 64 dims x 2 bytes = 45 MiB
    assert_eq!(report.inference.kv_cache_bytes, 2 * 30 * 2048 * 3 * 64 * 2);
    assert_eq!(report.inference.weights_bytes, info.tensor_bytes);
    assert!(report.verdict.fits, "{}", report.verdict.advice);
    let table = report.to_table();
    assert!(table.contains("134,515,008"), "{table}");
    assert!(table.contains("Q4_1"), "{table}");
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["model"]["parameters"], 134_515_008u64);
}
