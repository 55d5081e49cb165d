//! Both JSON Schema engines on the real SmolLM2-135M-Instruct, each in both grammar modes:
//! llama.cpp's grammar (always built) and llguidance (the `llguidance` feature, on by
//! default). Asking for llguidance in a build without it is a clear load error.

mod support;

use agentry_core::model::{
    Constraint, FinishReason, GenerateRequest, LanguageModel, ModelError, Sampling,
};
use agentry_llama::{GrammarMode, LlamaConfig, LlamaModel, SchemaEngine};
use agentry_prompts::{ChatMessage, Role};
use support::smollm2_path;

/// One model at a time: each test loads its own, and two decoding at once on 2 cores slow
/// each other down many times over.
static ONE_MODEL_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn config(engine: SchemaEngine, mode: GrammarMode) -> LlamaConfig {
    LlamaConfig {
        n_ctx: 2048,
        threads: 2,
        n_seq_max: 8,
        schema_engine: engine,
        grammar_mode: mode,
        gpu_layers: support::gpu_layers(),
        ..LlamaConfig::default()
    }
}

fn person_request(seed: u32, schema: &serde_json::Value) -> GenerateRequest {
    GenerateRequest::chat(vec![ChatMessage::new(
        Role::User,
        "Describe a person as JSON with name, age and hobbies.",
    )])
    .with_sampling(Sampling {
        temperature: 1.0,
        seed,
        max_tokens: 128,
        ..Sampling::default()
    })
    .with_constraint(Constraint::JsonSchema(schema.clone()))
    .with_n(5)
}

/// 20 samples at temperature 1 (4 batches of 5) all parse and validate, for both modes.
async fn holds_the_schema_for_20_seeds(engine: SchemaEngine) {
    let _turn = ONE_MODEL_AT_A_TIME.lock().await;
    let schema = serde_json::json!({
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 20},
            "age": {"type": "integer", "minimum": 0, "maximum": 150},
            "hobbies": {"type": "array", "items": {"enum": ["chess", "running", "music"]}, "maxItems": 3}
        },
        "required": ["name", "age", "hobbies"],
        "additionalProperties": false
    });
    let validator = jsonschema::validator_for(&schema).unwrap();
    for mode in [GrammarMode::Lazy, GrammarMode::Eager] {
        let model = LlamaModel::open(smollm2_path().await, config(engine, mode))
            .await
            .unwrap();
        let mut outputs = Vec::new();
        for batch in 0..4u32 {
            outputs.extend(
                model
                    .generate(person_request(batch * 5, &schema))
                    .await
                    .unwrap(),
            );
        }
        assert_eq!(outputs.len(), 20);
        for c in &outputs {
            let what = format!("{engine:?} {mode:?}: {:?}", c.text);
            assert_eq!(c.finish_reason, FinishReason::Stop, "{what}");
            let value: serde_json::Value =
                serde_json::from_str(c.text.trim()).unwrap_or_else(|e| panic!("{e}: {what}"));
            assert!(validator.is_valid(&value), "does not validate: {what}");
        }
    }
}

/// A schema neither engine can compile is an error, never free text.
async fn refuses_broken_schemas(engine: SchemaEngine) {
    let _turn = ONE_MODEL_AT_A_TIME.lock().await;
    let model = LlamaModel::open(smollm2_path().await, config(engine, GrammarMode::Lazy))
        .await
        .unwrap();
    for schema in [
        serde_json::json!({"$ref": "#/definitions/missing"}),
        serde_json::json!(3),
    ] {
        let err = model
            .generate(person_request(0, &schema))
            .await
            .expect_err("a broken schema");
        assert!(
            matches!(err, ModelError::InvalidConstraint { .. }),
            "{engine:?} {schema}: {err}"
        );
    }
}

#[tokio::test]
async fn llama_grammar_holds_the_schema_for_20_seeds_in_both_modes() {
    holds_the_schema_for_20_seeds(SchemaEngine::LlamaGrammar).await;
}

#[tokio::test]
async fn llama_grammar_refuses_a_broken_schema() {
    refuses_broken_schemas(SchemaEngine::LlamaGrammar).await;
}

#[cfg(feature = "llguidance")]
#[tokio::test]
async fn llguidance_holds_the_schema_for_20_seeds_in_both_modes() {
    assert_eq!(SchemaEngine::default(), SchemaEngine::Llguidance);
    holds_the_schema_for_20_seeds(SchemaEngine::Llguidance).await;
}

#[cfg(feature = "llguidance")]
#[tokio::test]
async fn llguidance_refuses_a_broken_schema() {
    refuses_broken_schemas(SchemaEngine::Llguidance).await;
}

#[cfg(not(feature = "llguidance"))]
#[tokio::test]
async fn llguidance_without_the_feature_is_a_clear_error() {
    assert_eq!(SchemaEngine::default(), SchemaEngine::LlamaGrammar);
    assert!(!SchemaEngine::Llguidance.is_available());
    let err = LlamaModel::open(
        smollm2_path().await,
        config(SchemaEngine::Llguidance, GrammarMode::Lazy),
    )
    .await
    .expect_err("llguidance is not in this build");
    assert!(matches!(err, ModelError::InvalidRequest(_)), "{err}");
    assert!(err.to_string().contains("`llguidance` feature"), "{err}");
}
