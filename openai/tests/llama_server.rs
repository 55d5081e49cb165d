//! `OpenAiModel` against a real llama.cpp `llama-server` (built by
//! `scripts/build-llama-server.sh`) serving real models: SmolLM2-135M-Instruct where any
//! fluent text will do, Qwen2.5-Coder-0.5B-Instruct where the answer must be right.
//!
//! Each test starts its own server on a free port and stops it when done. Tests that need
//! the server skip, with the reason printed, only when its binary is absent
//! (`$LLAMA_SERVER`, else `~/.cache/agentry/llama-server/bin/llama-server`).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use agentry_core::agent::Agent;
use agentry_model::{
    Constraint, FinishReason, GenerateRequest, LanguageModel, ModelError, ModelInput, Sampling,
    StreamEvent, ToolCallSyntax, tool_definition,
};
use agentry_model_store::ModelStore;
use agentry_openai::{OpenAiConfig, OpenAiModel, ServerFlavor};
use agentry_prompts::ChatMessage;
use agentry_tools::ToolRegistry;
use agentry_tools::builtin::Calculator;
use serde_json::{Value, json};

/// The llama-server binary, when it is built.
fn server_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("LLAMA_SERVER") {
        return Some(PathBuf::from(path)).filter(|p| p.is_file());
    }
    let cache = std::env::var_os("AGENTRY_CACHE")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/agentry"))
        })?;
    Some(cache.join("llama-server/bin/llama-server")).filter(|p| p.is_file())
}

/// One server at a time: two models decoding at once on a small machine (llama.cpp's
/// threads spin while they wait) make both crawl.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A running llama-server, stopped on drop.
struct Server {
    child: Child,
    _turn: tokio::sync::MutexGuard<'static, ()>,
    base_url: String,
    alias: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts llama-server on `model` (a store alias) under the name `alias`, with a
    /// 2048-token context; `None` (after printing why) when the binary is not built.
    async fn start(model: &str, alias: &str) -> Option<Server> {
        Self::start_with(model, alias, &[]).await
    }

    /// As [`Server::start`], with more command-line arguments.
    async fn start_with(model: &str, alias: &str, extra: &[&str]) -> Option<Server> {
        let Some(binary) = server_binary() else {
            eprintln!(
                "SKIPPED: no llama-server binary (set LLAMA_SERVER or run scripts/build-llama-server.sh)"
            );
            return None;
        };
        let path = ModelStore::from_env()
            .expect("open the model store")
            .pull(model)
            .await
            .unwrap_or_else(|e| panic!("pull {model}: {e}"));
        let turn = ONE_AT_A_TIME.lock().await;
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = tempfile::NamedTempFile::new().unwrap();
        let (log_file, log_path) = log.keep().unwrap();
        let child = Command::new(&binary)
            .args(["-m", path.to_str().unwrap()])
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args([
                "--alias",
                alias,
                "-c",
                "2048",
                "-t",
                &threads(),
                "-np",
                "1",
                "--jinja",
            ])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
        let mut server = Server {
            child,
            _turn: turn,
            base_url: format!("http://127.0.0.1:{port}/v1"),
            alias: alias.to_owned(),
        };
        let health = format!("http://127.0.0.1:{port}/health");
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            if let Some(status) = server.child.try_wait().unwrap() {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                panic!("llama-server exited with {status}:\n{log}");
            }
            if let Ok(response) = client.get(&health).send().await
                && response.status().is_success()
            {
                return Some(server);
            }
            assert!(
                Instant::now() < deadline,
                "llama-server did not become healthy in 180 s:\n{}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn config(&self) -> OpenAiConfig {
        OpenAiConfig::new(&self.base_url, &self.alias).unwrap()
    }

    async fn model(&self) -> OpenAiModel {
        OpenAiModel::connect(self.config()).await.unwrap()
    }
}

/// Threads of each server: `AGENTRY_TEST_SERVER_THREADS`, else 1 (on a busy machine
/// more threads wait on each other).
fn threads() -> String {
    std::env::var("AGENTRY_TEST_SERVER_THREADS").unwrap_or_else(|_| "1".to_owned())
}

fn greedy(max_tokens: usize) -> Sampling {
    Sampling {
        max_tokens,
        ..Sampling::default()
    }
}

const SMOL: &str = "smollm2-135m";
const QWEN: &str = "qwen2.5-coder-0.5b";

#[tokio::test]
async fn plain_chat_answers_right_with_usage() {
    let Some(server) = Server::start(QWEN, "qwen").await else {
        return;
    };
    let model = server.model().await;
    assert_eq!(
        model.flavor(),
        ServerFlavor::LlamaCpp,
        "detected from /models"
    );
    assert_eq!(model.info().n_ctx, 2048, "read from /props");
    assert_eq!(model.info().name, "qwen");
    let request = GenerateRequest::chat(vec![ChatMessage::user(
        "What is the capital of France? Answer with the city name only.",
    )])
    .with_sampling(greedy(16));
    let reply = model.generate(request).await.unwrap();
    assert_eq!(reply.len(), 1);
    assert!(reply[0].text.contains("Paris"), "{:?}", reply[0].text);
    assert_eq!(reply[0].finish_reason, FinishReason::Stop);
    let usage = reply[0].usage;
    assert!(usage.prompt_tokens > 10, "{usage:?}");
    assert!(
        usage.completion_tokens >= 1 && usage.completion_tokens <= 16,
        "{usage:?}"
    );
    // Raw text goes to /completions, without the chat template.
    let raw = model
        .generate(GenerateRequest::raw("The capital city of France is").with_sampling(greedy(4)))
        .await
        .unwrap();
    assert!(raw[0].text.contains("Paris"), "{:?}", raw[0].text);
    assert!(
        raw[0].usage.prompt_tokens >= 5 && raw[0].usage.prompt_tokens < 12,
        "{:?}",
        raw[0].usage
    );
    let tokens = model.count_tokens("Hello world").await.unwrap();
    assert!((1..=4).contains(&tokens), "{tokens}");
}

#[tokio::test]
async fn streaming_gives_the_same_text_as_a_whole_reply() {
    let Some(server) = Server::start(SMOL, "smol").await else {
        return;
    };
    let model = server.model().await;
    let request = GenerateRequest::chat(vec![ChatMessage::user("Tell me about the sea.")])
        .with_sampling(greedy(48));
    let whole = model.generate(request.clone()).await.unwrap();
    let mut stream = model.stream(request).await.unwrap();
    let mut pieces = Vec::new();
    let done = loop {
        match stream
            .next_event()
            .await
            .expect("the stream ends with Done")
            .unwrap()
        {
            StreamEvent::Token { index, text } => {
                assert_eq!(index, 0);
                pieces.push(text);
            }
            StreamEvent::Done(done) => break done,
        }
    };
    assert!(pieces.len() > 5, "tokens arrive one by one: {pieces:?}");
    let streamed = pieces.concat();
    assert!(!streamed.trim().is_empty());
    assert_eq!(streamed, done[0].text);
    assert_eq!(done[0].text, whole[0].text);
    assert_eq!(done[0].finish_reason, whole[0].finish_reason);
    assert_eq!(
        done[0].usage.completion_tokens,
        whole[0].usage.completion_tokens
    );
}

#[tokio::test]
async fn constrained_replies_validate_and_a_grammar_is_refused_where_unsupported() {
    let Some(server) = Server::start(SMOL, "smol").await else {
        return;
    };
    let model = server.model().await;
    let schema = json!({
        "type": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 20},
            "age": {"type": "integer", "minimum": 0, "maximum": 150}
        },
        "required": ["name", "age"],
        "additionalProperties": false
    });
    let ask = |constraint: Constraint| {
        GenerateRequest::chat(vec![ChatMessage::user(
            "Describe a person called Ada who is 36 years old.",
        )])
        .with_sampling(greedy(64))
        .with_constraint(constraint)
    };
    let reply = model
        .generate(ask(Constraint::JsonSchema(schema.clone())))
        .await
        .unwrap();
    reply[0]
        .require_complete(&Constraint::JsonSchema(schema.clone()))
        .unwrap();
    let value: Value = serde_json::from_str(&reply[0].text).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    assert!(validator.is_valid(&value), "{value}");

    let choices = vec!["red".to_owned(), "green".to_owned(), "blue".to_owned()];
    let reply = model
        .generate(ask(Constraint::Choice(choices.clone())))
        .await
        .unwrap();
    assert!(choices.contains(&reply[0].text), "{:?}", reply[0].text);

    let number = Constraint::Grammar(agentry_model::constraint::NUMBER_GRAMMAR.to_owned());
    let reply = model.generate(ask(number.clone())).await.unwrap();
    reply[0].text.trim().parse::<f64>().expect("a number");

    // The same server taken as a plain OpenAI API: JSON Schema through
    // `response_format` alone, and no grammar at all.
    let generic = OpenAiModel::connect(server.config().with_flavor(ServerFlavor::Generic))
        .await
        .unwrap();
    let reply = generic
        .generate(ask(Constraint::JsonSchema(schema.clone())))
        .await
        .unwrap();
    let value: Value = serde_json::from_str(&reply[0].text).unwrap();
    assert!(validator.is_valid(&value), "{value}");
    let reply = generic
        .generate(ask(Constraint::Choice(choices.clone())))
        .await
        .unwrap();
    assert!(choices.contains(&reply[0].text), "{:?}", reply[0].text);
    let error = generic.generate(ask(number)).await.unwrap_err();
    assert!(matches!(error, ModelError::Unsupported(_)), "{error}");
    assert!(error.to_string().contains(&server.base_url), "{error}");
}

#[tokio::test]
async fn a_tool_call_comes_back_parsed() {
    let Some(server) = Server::start(QWEN, "qwen").await else {
        return;
    };
    let model = server.model().await;
    let syntax = model.tool_call_syntax().expect("native tools");
    let parameters = json!({
        "type": "object",
        "properties": {"expression": {"type": "string", "description": "an arithmetic expression"}},
        "required": ["expression"]
    });
    let request = GenerateRequest::new(ModelInput::WithTools {
        messages: vec![
            ChatMessage::system("You are a helpful assistant. Use the calculator for arithmetic."),
            ChatMessage::user("What is 17*23+4?"),
        ],
        tools: vec![tool_definition(
            "calculator",
            "Evaluates an arithmetic expression",
            &parameters,
        )],
    })
    .with_sampling(greedy(128))
    .with_constraint(Constraint::ToolCalls {
        syntax,
        call_schema: syntax.call_schema([("calculator", &parameters)]),
        max_calls: 4,
        bare_calls: true,
    });
    for streamed in [false, true] {
        let reply = if streamed {
            model
                .stream(request.clone())
                .await
                .unwrap()
                .finish()
                .await
                .unwrap()
        } else {
            model.generate(request.clone()).await.unwrap()
        };
        let parsed = ToolCallSyntax::Hermes.parse(&reply[0].text).unwrap();
        assert_eq!(
            parsed.calls.len(),
            1,
            "streamed {streamed}: {:?}",
            reply[0].text
        );
        let (name, arguments) = &parsed.calls[0];
        assert_eq!(name, "calculator");
        let expression = arguments["expression"].as_str().unwrap().replace(' ', "");
        assert!(expression.contains("17*23"), "{expression}");
    }
}

#[tokio::test]
async fn n_samples_each_have_their_seed_and_usage() {
    let Some(server) = Server::start(SMOL, "smol").await else {
        return;
    };
    let model = server.model().await;
    let request = GenerateRequest::chat(vec![ChatMessage::user("Write a short poem about cats.")])
        .with_sampling(Sampling {
            temperature: 1.0,
            top_k: 0,
            top_p: 1.0,
            min_p: 0.0,
            seed: 7,
            max_tokens: 24,
            ..Sampling::default()
        })
        .with_n(3);
    let replies = model.generate(request.clone()).await.unwrap();
    assert_eq!(replies.len(), 3);
    for reply in &replies {
        assert!(!reply.text.trim().is_empty());
        assert!(reply.usage.completion_tokens > 0 && reply.usage.prompt_tokens > 0);
    }
    assert!(
        replies[0].text != replies[1].text || replies[1].text != replies[2].text,
        "three seeds gave one text: {:?}",
        replies[0].text
    );
    // The same seeds give the same samples, streamed or not.
    let mut stream = model.stream(request).await.unwrap();
    let mut texts = vec![String::new(); 3];
    let done = loop {
        match stream.next_event().await.unwrap().unwrap() {
            StreamEvent::Token { index, text } => texts[index].push_str(&text),
            StreamEvent::Done(done) => break done,
        }
    };
    for i in 0..3 {
        assert_eq!(texts[i], done[i].text);
        assert_eq!(done[i].text, replies[i].text, "sample {i}");
    }
}

#[tokio::test]
async fn a_model_the_server_does_not_serve_is_a_clear_error() {
    let Some(server) = Server::start(SMOL, "smol").await else {
        return;
    };
    let config = OpenAiConfig::new(&server.base_url, "gpt-17").unwrap();
    let error = OpenAiModel::connect(config).await.unwrap_err().to_string();
    assert!(error.contains(&server.base_url), "{error}");
    assert!(
        error.contains("`gpt-17`") && error.contains("smol"),
        "{error}"
    );
}

#[tokio::test]
async fn an_unreachable_server_is_a_clear_error() {
    // A port nothing listens on: bound, then closed.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/v1");
    let config = OpenAiConfig::new(&url, "m").unwrap().with_max_retries(1);
    let error = OpenAiModel::connect(config).await.unwrap_err();
    assert!(
        matches!(error, ModelError::Remote { status: None, .. }),
        "{error}"
    );
    let text = error.to_string();
    assert!(
        text.contains(&url) && text.contains("cannot connect"),
        "{text}"
    );
}

#[tokio::test]
async fn an_agent_on_the_remote_model_uses_the_calculator() {
    let Some(server) = Server::start(QWEN, "qwen").await else {
        return;
    };
    let model = std::sync::Arc::new(server.model().await);
    let mut tools = ToolRegistry::new();
    tools.register(Calculator).unwrap();
    let agent = Agent::builder()
        .model(model)
        .role("You are a careful assistant.")
        .instructions(["Use the calculator for arithmetic."])
        .tools(tools)
        .sampling(greedy(256))
        .build()
        .unwrap();
    let output = agent.run::<f64>("What is 17*23+4?").await.unwrap();
    eprintln!(
        "agent on llama-server: answer {} in {} steps, {} tool calls, {:?}",
        output.answer, output.outcome.steps, output.outcome.tool_calls, output.outcome.usage
    );
    assert_eq!(output.answer, 395.0);
    assert!(output.outcome.tool_calls >= 1, "the calculator was used");
}

#[tokio::test]
async fn a_server_with_a_key_refuses_a_wrong_one_clearly_and_takes_the_right_one() {
    let Some(server) = Server::start_with(SMOL, "smol", &["--api-key", "test-key-1"]).await else {
        return;
    };
    let request =
        GenerateRequest::chat(vec![ChatMessage::user("Say hello.")]).with_sampling(greedy(8));
    let wrong = OpenAiModel::connect(server.config().with_api_key("not-the-key")).await;
    let error = match wrong {
        // llama-server lists its models without a key; the request itself is refused.
        Ok(model) => model.generate(request.clone()).await.unwrap_err(),
        Err(error) => error,
    };
    assert!(
        matches!(
            error,
            ModelError::Remote {
                status: Some(401),
                ..
            }
        ),
        "{error}"
    );
    let text = error.to_string();
    assert!(
        text.contains(&server.base_url) && text.contains("API key"),
        "{text}"
    );

    let model = OpenAiModel::connect(server.config().with_api_key("test-key-1"))
        .await
        .unwrap();
    let reply = model.generate(request).await.unwrap();
    assert!(!reply[0].text.trim().is_empty());
}
