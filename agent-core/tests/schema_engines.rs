//! The JSON Schema engines on the real SmolLM2-135M-Instruct. llama.cpp's grammar is always
//! built; llguidance is tested when the `llguidance` feature is on
//! (`cargo test --release -p agentry-core --features llguidance --test schema_engines`), and
//! asking for it without the feature is a clear load error.

mod support;

use agentry_core::model::{LlamaConfig, LlamaModel, ModelError, SchemaEngine};
use support::smollm2_path;

fn config(engine: SchemaEngine) -> LlamaConfig {
    LlamaConfig {
        n_ctx: 2048,
        threads: 2,
        n_seq_max: 8,
        schema_engine: engine,
        ..LlamaConfig::default()
    }
}

#[cfg(not(feature = "llguidance"))]
#[tokio::test]
async fn llguidance_without_the_feature_is_a_clear_error() {
    assert!(SchemaEngine::LlamaGrammar.is_available());
    assert!(!SchemaEngine::Llguidance.is_available());
    let err = LlamaModel::open(smollm2_path().await, config(SchemaEngine::Llguidance))
        .await
        .expect_err("llguidance is not in this build");
    assert!(matches!(err, ModelError::InvalidRequest(_)), "{err}");
    assert!(err.to_string().contains("`llguidance` feature"), "{err}");
}

#[cfg(feature = "llguidance")]
mod llguidance {
    use super::*;
    use agentry_core::model::{
        Constraint, FinishReason, GenerateRequest, GrammarMode, LanguageModel, Sampling,
    };
    use agentry_prompts::{ChatMessage, Role};

    fn person_request(seed: u32, schema: &serde_json::Value) -> GenerateRequest {
        GenerateRequest::chat(vec![ChatMessage::new(
            Role::User,
            "Describe a person as JSON with name and age.",
        )])
        .with_sampling(Sampling {
            temperature: 1.0,
            seed,
            max_tokens: 96,
            ..Sampling::default()
        })
        .with_constraint(Constraint::JsonSchema(schema.clone()))
        .with_n(5)
    }

    #[tokio::test]
    async fn llguidance_holds_the_schema_for_20_seeds_in_both_grammar_modes() {
        let schema = serde_json::json!({
            "type": "object",
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 20},
                "age": {"type": "integer", "minimum": 0, "maximum": 150}
            },
            "required": ["name", "age"],
            "additionalProperties": false
        });
        let validator = jsonschema::validator_for(&schema).unwrap();
        for mode in [GrammarMode::Lazy, GrammarMode::Eager] {
            let model = LlamaModel::open(
                smollm2_path().await,
                LlamaConfig {
                    grammar_mode: mode,
                    ..config(SchemaEngine::Llguidance)
                },
            )
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
                assert_eq!(
                    c.finish_reason,
                    FinishReason::Stop,
                    "{mode:?}: {:?}",
                    c.text
                );
                let value: serde_json::Value = serde_json::from_str(c.text.trim())
                    .unwrap_or_else(|e| panic!("{mode:?}: {e}: {:?}", c.text));
                assert!(
                    validator.is_valid(&value),
                    "{mode:?}: {value} does not validate"
                );
            }
        }
    }

    #[tokio::test]
    async fn a_schema_llguidance_cannot_compile_is_an_error() {
        let model = LlamaModel::open(smollm2_path().await, config(SchemaEngine::Llguidance))
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
                "{schema}: {err}"
            );
        }
    }
}
