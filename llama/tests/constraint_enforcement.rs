//! Constraints never fail open (#17 item 4): the sequence sampler, on the real
//! SmolLM2-135M-Instruct vocabulary, ends with an error when the llguidance matcher is in
//! an error state or the GBNF grammar admits no token, and masks the token a logit vector
//! favours when the constraint forbids it.

mod support;

use agentry_core::model::{ModelError, Sampling};
use agentry_llama::sampler::{GrammarMode, SequenceSampler, TokenConstraint, gbnf_sampler};
use llama_cpp_2::model::LlamaModel as RawModel;
use llama_cpp_2::model::params::LlamaModelParams;

async fn raw_model() -> RawModel {
    let path = support::smollm2_path().await;
    let backend = agentry_llama::backend().expect("backend");
    let params = LlamaModelParams::default().with_n_gpu_layers(support::gpu_layers());
    RawModel::load_from_file(backend, path, &params).expect("load SmolLM2")
}

/// Logits over the vocabulary that put everything on `token`.
fn favouring(model: &RawModel, token: i32) -> Vec<f32> {
    let mut logits = vec![0.0; model.n_vocab() as usize];
    logits[token as usize] = 100.0;
    logits
}

fn first_token(model: &RawModel, text: &str) -> i32 {
    model.vocab().tokenize(text.as_bytes(), false, false)[0].0
}

fn piece(model: &RawModel, token: i32) -> String {
    let bytes = model
        .vocab()
        .token_to_piece(llama_cpp_2::token::LlamaToken(token), false, None);
    String::from_utf8_lossy(&bytes).into_owned()
}

fn sampler(model: &RawModel, constraint: TokenConstraint, mode: GrammarMode) -> SequenceSampler {
    SequenceSampler::new(model, &Sampling::default(), 0, Some(constraint), mode)
}

#[tokio::test]
async fn a_gbnf_grammar_masks_the_favoured_token_and_fails_when_nothing_fits() {
    let model = raw_model().await;
    let hello = first_token(&model, "hello");
    for mode in [GrammarMode::Lazy, GrammarMode::Eager] {
        let grammar = gbnf_sampler(&model, r#"root ::= "{" [a-z]* "}""#).expect("grammar");
        let mut s = sampler(&model, TokenConstraint::Grammar(grammar), mode);
        let token = s.sample_logits(&favouring(&model, hello)).expect("a token");
        assert!(
            piece(&model, token.0).starts_with('{'),
            "{mode:?}: {:?}",
            piece(&model, token.0)
        );
    }
    // Logits that are all minus infinity leave no token: an error, not a free token.
    let grammar = gbnf_sampler(&model, r#"root ::= "{" "}""#).expect("grammar");
    let mut s = sampler(
        &model,
        TokenConstraint::Grammar(grammar),
        GrammarMode::Eager,
    );
    let logits = vec![f32::NEG_INFINITY; model.n_vocab() as usize];
    let result = s.sample_logits(&logits);
    assert!(
        matches!(result, Err(ModelError::InvalidConstraint { .. })),
        "{result:?}"
    );
}

#[cfg(feature = "llguidance")]
#[tokio::test]
async fn a_matcher_error_ends_the_generation_with_an_error() {
    use agentry_llama::guidance::Guidance;
    let model = raw_model().await;
    let guidance = Guidance::new(&model).expect("guidance");
    let schema = serde_json::json!({"type": "object", "properties": {"a": {"type": "integer"}}});
    let hello = first_token(&model, "hello");
    for mode in [GrammarMode::Lazy, GrammarMode::Eager] {
        // A healthy matcher masks `hello` away: the token chosen starts the object.
        let mut matchers = guidance.matchers(&schema, 2).expect("matchers");
        let healthy = matchers.pop().expect("one");
        let mut s = sampler(&model, TokenConstraint::Guidance(Box::new(healthy)), mode);
        let token = s.sample_logits(&favouring(&model, hello)).expect("a token");
        assert!(
            piece(&model, token.0).starts_with('{'),
            "{mode:?}: {:?}",
            piece(&model, token.0)
        );

        // A matcher in an error state must not let `hello` through (llama-cpp-2's
        // llguidance sampler skipped the mask and the lazy check then took any token).
        let mut failing = matchers.pop().expect("two");
        let _ = failing.test_trigger_lexer_error();
        assert!(failing.is_error(), "the matcher is in an error state");
        let mut s = sampler(&model, TokenConstraint::Guidance(Box::new(failing)), mode);
        let result = s.sample_logits(&favouring(&model, hello));
        match result {
            Err(ModelError::InvalidConstraint { detail, .. }) => {
                assert!(detail.contains("cannot be enforced"), "{detail}")
            }
            other => panic!("{mode:?}: expected an error, got {other:?}"),
        }
    }
}
