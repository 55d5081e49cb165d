//! Tool calls in the model's own format on the real qwen2.5-coder-0.5b: its chat
//! template renders the tools and the calls it writes are held to the call's schema from
//! their opener on (a lazy grammar), while text that opens no call stays free.

mod support;

use agentry_core::model::{
    Constraint, GenerateRequest, LanguageModel, ModelInput, Sampling, ToolCallSyntax,
    tool_definition,
};
use agentry_llama::{LlamaConfig, LlamaModel};
use agentry_prompts::ChatMessage;
use serde_json::{Value, json};

async fn qwen() -> LlamaModel {
    let path = support::model_path("qwen2.5-coder-0.5b").await;
    let config = LlamaConfig {
        n_ctx: 2048,
        threads: 2,
        gpu_layers: support::gpu_layers(),
        ..LlamaConfig::default()
    };
    LlamaModel::open(path, config).await.expect("load qwen")
}

fn weather_parameters() -> Value {
    json!({
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}
        },
        "required": ["city", "unit"],
        "additionalProperties": false
    })
}

fn request(model: &LlamaModel, question: &str) -> GenerateRequest {
    let syntax = model
        .tool_call_syntax()
        .expect("qwen's template has a tool format");
    let parameters = weather_parameters();
    GenerateRequest::new(ModelInput::WithTools {
        messages: vec![ChatMessage::user(question)],
        tools: vec![tool_definition(
            "get_weather",
            "The current weather in a city.",
            &parameters,
        )],
    })
    .with_sampling(Sampling {
        max_tokens: 96,
        ..Sampling::default()
    })
    .with_constraint(Constraint::ToolCalls {
        syntax,
        call_schema: syntax.call_schema([("get_weather", &parameters)]),
        max_calls: 1,
        bare_calls: true,
    })
}

#[tokio::test]
async fn qwens_template_renders_the_tools_and_its_call_is_held_to_the_schema() {
    let model = qwen().await;
    assert_eq!(model.tool_call_syntax(), Some(ToolCallSyntax::Hermes));
    let req = request(&model, "What is the weather in Paris, in celsius?");
    let prompt = model.render_prompt(&req.prompt).await.expect("render");
    assert!(prompt.contains("<tools>"), "{prompt}");
    assert!(prompt.contains(r#""name": "get_weather""#), "{prompt}");

    let reply = model.generate(req).await.expect("generate").remove(0);
    let parsed = ToolCallSyntax::Hermes
        .parse(&reply.text)
        .unwrap_or_else(|e| panic!("{e}: {:?}", reply.text));
    assert_eq!(parsed.calls.len(), 1, "{:?}", reply.text);
    let (name, args) = &parsed.calls[0];
    assert_eq!(name, "get_weather");
    let validator = jsonschema::validator_for(&weather_parameters()).expect("schema");
    assert!(validator.is_valid(args), "{args}");
    assert!(
        args["city"].as_str().is_some_and(|c| c.contains("Paris")),
        "{args}"
    );
}

#[tokio::test]
async fn text_that_opens_no_call_stays_free() {
    let model = qwen().await;
    let req = request(&model, "Reply with the word hello and nothing else.");
    let reply = model.generate(req).await.expect("generate").remove(0);
    let parsed = ToolCallSyntax::Hermes.parse(&reply.text).expect("parse");
    assert!(parsed.calls.is_empty(), "{:?}", reply.text);
    assert!(
        parsed.text.to_lowercase().contains("hello"),
        "{:?}",
        reply.text
    );
}
