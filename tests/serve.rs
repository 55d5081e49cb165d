//! `agentry serve` on the real SmolLM2-135M, spoken to over HTTP: health, models, chat
//! (whole, streamed, n=2, json_schema, a follow-up turn served from the KV cache),
//! embeddings, and the refusals (400, 401, 404, 413, 503) in OpenAI's error shape; and an
//! agent of a workflow offered as a model on qwen2.5-coder-0.5b (its workflow's `models:`),
//! its calculator run at the server.

mod serve_support;

use serde_json::{Value, json};
use serve_support::Served;

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn post(base: &str, path: &str, body: &Value) -> (u16, Value) {
    let response = client()
        .post(format!("{base}{path}"))
        .json(body)
        .send()
        .await
        .expect("send");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}

/// `GET {base}{path}`'s JSON body.
async fn get_json(base: &str, path: &str) -> Value {
    client()
        .get(format!("{base}{path}"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("a JSON body")
}

fn assert_error_shape(body: &Value, kind: &str) {
    let error = &body["error"];
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert_eq!(error["type"], kind, "{body}");
    assert!(
        error.get("param").is_some() && error.get("code").is_some(),
        "{body}"
    );
}

/// The data lines of an SSE body.
fn sse_data(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("data: ").or_else(|| l.strip_prefix("data:")))
        .map(|l| l.trim().to_owned())
        .collect()
}

/// A workflow whose agent has the calculator and runs on the model `coder` of its
/// `models:`; its step is not run by `serve`, which offers the agent itself.
const CALCULATOR_WORKFLOW: &str = r#"
name: served-maths
model: smollm2-135m
models:
  coder: qwen2.5-coder-0.5b
agents:
  maths:
    model: coder
    role: You are a precise assistant with a calculator.
    instructions:
      - Use the calculator for arithmetic instead of computing in your head.
    tools: [calculator]
    max_steps: 4
steps:
  - id: solve
    agent: maths
    task: "What is 2 + 2?"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_offered_as_a_model_runs_its_tool_server_side_and_answers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("served-maths.yaml");
    std::fs::write(&file, CALCULATOR_WORKFLOW).expect("write the workflow");
    let server = Served::start_on(
        "smollm2-135m",
        &["--workflow", file.to_str().unwrap(), "--no-embeddings"],
        &[],
    );
    let base = server.base.clone();
    let models: Value = get_json(&base, "/v1/models").await;
    assert!(
        models["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == "maths"),
        "{models}"
    );
    // Too large for a 0.5B model to multiply in its head: the right product means the
    // calculator ran, at the server, called by the agent's own model (`coder`, loaded from
    // the workflow's `models:`; the served SmolLM2-135M does not call tools this well).
    let (status, body) = post(
        &base,
        "/v1/chat/completions",
        &json!({
            "model": "maths",
            "messages": [{"role": "user", "content": "What is 4817 * 2963? Use the calculator."}],
        }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["model"], "maths", "{body}");
    let answer = body["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_default()
        .replace([',', ' '], "");
    assert!(answer.contains("14272771"), "{body}");
    assert!(server.stop(), "the server exits cleanly");
}

/// A workflow whose `model:` is a remote model behind an API key: its URL is a template
/// over an input's default and its key is in `api_key_env`.
fn relay_workflow(port: &str) -> String {
    format!(
        r#"
name: relay
inputs:
  backend_port:
    type: string
    default: "{port}"
model:
  url: "http://127.0.0.1:{{{{ inputs.backend_port }}}}/v1"
  name: smollm2-135m
  api_key_env: RELAY_TEST_KEY
agents:
  helper:
    role: You are a helpful assistant.
steps:
  - id: answer
    agent: helper
    task: Say hello.
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_model_of_a_workflow_is_rendered_and_takes_its_api_key() {
    // The back server wants a key; the front one, given no --model, serves the
    // workflow's `model:`, which reaches the back one only with its URL rendered and the
    // key of its `api_key_env` sent.
    let back = Served::start(
        &["--api-key-env", "BACK_TEST_KEY", "--no-embeddings"],
        &[("BACK_TEST_KEY", "sk-relay-7")],
    );
    let port = back.base.rsplit(':').next().unwrap().to_owned();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("relay.yaml");
    std::fs::write(&file, relay_workflow(&port)).expect("write the workflow");
    let front = Served::start_with(
        &[
            "--workflow",
            file.to_str().unwrap(),
            "--model-name",
            "relayed",
            "--no-embeddings",
        ],
        &[("RELAY_TEST_KEY", "sk-relay-7")],
    );
    let models = get_json(&front.base, "/v1/models").await;
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert_eq!(ids, ["relayed", "helper"], "{models}");
    let (status, body) = post(
        &front.base,
        "/v1/chat/completions",
        &json!({
            "model": "relayed",
            "max_tokens": 8,
            "temperature": 0,
            "messages": [{"role": "user", "content": "Say hello."}],
        }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["choices"][0]["message"]["content"]
            .as_str()
            .is_some_and(|t| !t.trim().is_empty()),
        "{body}"
    );
    assert!(
        body["usage"]["completion_tokens"].as_u64().unwrap_or(0) > 0,
        "{body}"
    );
    assert!(front.stop(), "the front server exits cleanly");
    assert!(back.stop(), "the back server exits cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_chat_streams_samples_schemas_and_embeddings_on_smollm2() {
    let server = Served::start(&[], &[]);
    let base = server.base.clone();

    let health: Value = get_json(&base, "/health").await;
    assert_eq!(health["status"], "ok");
    let models: Value = get_json(&base, "/v1/models").await;
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["smollm2-135m", "all-minilm-l6-v2"], "{models}");

    // Whole reply.
    let question = json!([
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "What is the capital of France?"},
    ]);
    let (status, reply) = post(
        &base,
        "/v1/chat/completions",
        &json!({"model": "smollm2-135m", "messages": question, "max_tokens": 24, "temperature": 0}),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["object"], "chat.completion");
    let answer = reply["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(!answer.trim().is_empty(), "{reply}");
    assert!(
        ["stop", "length"].contains(&reply["choices"][0]["finish_reason"].as_str().unwrap()),
        "{reply}"
    );
    let usage = &reply["usage"];
    assert!(usage["prompt_tokens"].as_u64().unwrap() > 10, "{reply}");
    let generated = usage["completion_tokens"].as_u64().unwrap();
    assert!((1..=24).contains(&generated), "{reply}");
    assert_eq!(
        usage["total_tokens"].as_u64().unwrap(),
        usage["prompt_tokens"].as_u64().unwrap() + generated
    );

    // The follow-up turn of the same conversation finds the first turn in the KV cache.
    let mut follow_up = question.as_array().unwrap().clone();
    follow_up.push(json!({"role": "assistant", "content": answer}));
    follow_up.push(json!({"role": "user", "content": "And of Italy?"}));
    let (status, second) = post(
        &base,
        "/v1/chat/completions",
        &json!({"model": "smollm2-135m", "messages": follow_up, "max_tokens": 16, "temperature": 0}),
    )
    .await;
    assert_eq!(status, 200, "{second}");
    let cached = second["usage"]["prompt_tokens_details"]["cached_tokens"]
        .as_u64()
        .unwrap();
    assert!(
        cached >= usage["prompt_tokens"].as_u64().unwrap() - 1,
        "the follow-up evaluated its whole prompt again: {second}"
    );

    // Two samples.
    let (status, two) = post(
        &base,
        "/v1/chat/completions",
        &json!({"model": "smollm2-135m", "messages": question, "max_tokens": 16, "n": 2, "temperature": 1.0, "seed": 7}),
    )
    .await;
    assert_eq!(status, 200, "{two}");
    let choices = two["choices"].as_array().unwrap();
    assert_eq!(choices.len(), 2, "{two}");
    assert_eq!(choices[0]["index"], 0);
    assert_eq!(choices[1]["index"], 1);

    // Streamed, with usage.
    let response = client()
        .post(format!("{base}/v1/chat/completions"))
        .json(
            &json!({"model": "smollm2-135m", "messages": question, "max_tokens": 16,
            "temperature": 0, "stream": true, "stream_options": {"include_usage": true}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let data = sse_data(&response.text().await.unwrap());
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"), "{data:?}");
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert!(
        chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk")
    );
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert!(!text.trim().is_empty(), "{data:?}");
    assert!(
        chunks
            .iter()
            .any(|c| c["choices"][0]["finish_reason"].is_string()),
        "{data:?}"
    );
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"], json!([]), "{last}");
    assert!(
        last["usage"]["completion_tokens"].as_u64().unwrap() >= 1,
        "{last}"
    );

    // JSON Schema: the reply parses and validates.
    let schema = json!({
        "type": "object",
        "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["city", "population"],
        "additionalProperties": false,
    });
    let (status, structured) = post(
        &base,
        "/v1/chat/completions",
        &json!({"model": "smollm2-135m", "max_tokens": 128, "temperature": 0,
            "messages": [{"role": "user", "content": "Give the largest city of Japan and its population as JSON."}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "city", "schema": schema, "strict": true}}}),
    )
    .await;
    assert_eq!(status, 200, "{structured}");
    assert_eq!(
        structured["choices"][0]["finish_reason"], "stop",
        "{structured}"
    );
    let content = structured["choices"][0]["message"]["content"]
        .as_str()
        .unwrap();
    let value: Value = serde_json::from_str(content).expect("the reply is JSON");
    assert!(
        jsonschema::validator_for(&schema).unwrap().is_valid(&value),
        "{value} does not validate"
    );

    // Embeddings: 384 dimensions, similar texts closer.
    let (status, embedded) = post(
        &base,
        "/v1/embeddings",
        &json!({"model": "all-minilm-l6-v2", "input": [
            "The cat sits on the mat", "A cat is sitting on a rug", "Quarterly revenue grew 5%"]}),
    )
    .await;
    assert_eq!(status, 200, "{embedded}");
    let vectors: Vec<Vec<f64>> = embedded["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            d["embedding"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(vectors.len(), 3);
    assert!(vectors.iter().all(|v| v.len() == 384));
    let cos = |a: &[f64], b: &[f64]| -> f64 {
        let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
        dot / (norm(a) * norm(b))
    };
    let near = cos(&vectors[0], &vectors[1]);
    let far = cos(&vectors[0], &vectors[2]);
    assert!(near > far + 0.3, "near {near}, far {far}");
    // Usage counts the embedding model's own tokens ([CLS] and [SEP] included), not words.
    let texts = [
        "The cat sits on the mat",
        "A cat is sitting on a rug",
        "Quarterly revenue grew 5%",
    ];
    let tokenizer = agentry_memory::FastEmbedder::from_env_store()
        .await
        .expect("the embedding model")
        .tokenizer()
        .expect("its tokenizer");
    let expected: usize = texts
        .iter()
        .map(|t| tokenizer.encode(*t, true).expect("encode").len())
        .sum();
    let words: usize = texts.iter().map(|t| t.split_whitespace().count()).sum();
    assert!(expected > words, "{expected} tokens, {words} words");
    assert_eq!(embedded["usage"]["prompt_tokens"], expected, "{embedded}");
    assert_eq!(embedded["usage"]["total_tokens"], expected, "{embedded}");

    assert!(server.stop(), "the server did not stop cleanly on SIGTERM");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_refuses_in_openai_error_shape() {
    let server = Served::start(
        &[
            "--api-key-env",
            "SERVE_TEST_KEY",
            "--queue",
            "1",
            "--max-body-bytes",
            "65536",
            "--max-n",
            "2",
            "--no-embeddings",
        ],
        &[("SERVE_TEST_KEY", "sk-test-123")],
    );
    let base = server.base.clone();
    let authed = |r: reqwest::RequestBuilder| r.bearer_auth("sk-test-123");
    let chat = format!("{base}/v1/chat/completions");
    let hello = json!([{"role": "user", "content": "Hello"}]);

    // 401 without or with a wrong key; /health stays open.
    let open = client().get(format!("{base}/health")).send().await.unwrap();
    assert_eq!(open.status().as_u16(), 200);
    let response = client()
        .get(format!("{base}/v1/models"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    assert_error_shape(&response.json().await.unwrap(), "authentication_error");
    let response = client()
        .get(format!("{base}/v1/models"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let response = authed(client().get(format!("{base}/v1/models")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);

    // 400: bad JSON says where; a wrong type names the field; limits; an unhonourable schema.
    let response = authed(client().post(&chat))
        .header("content-type", "application/json")
        .body("{\"model\": \"smollm2-135m\",\n \"messages\": [")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().await.unwrap();
    assert_error_shape(&body, "invalid_request_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("line 2"),
        "{body}"
    );
    let cases = [
        (
            json!({"model": "smollm2-135m", "messages": [{"role": 5, "content": "x"}]}),
            "messages[0].role",
        ),
        (
            json!({"model": "smollm2-135m", "messages": hello, "n": 3}),
            "n",
        ),
        (
            json!({"model": "smollm2-135m", "messages": hello, "max_tokens": 100000}),
            "max_tokens",
        ),
        (json!({"model": "smollm2-135m", "messages": []}), "messages"),
    ];
    for (body, param) in cases {
        let response = authed(client().post(&chat))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 400, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_error_shape(&error, "invalid_request_error");
        assert_eq!(error["error"]["param"], param, "{error}");
    }
    let remote = json!({"model": "smollm2-135m", "messages": hello, "max_tokens": 8,
        "response_format": {"type": "json_schema", "json_schema": {"name": "x",
            "schema": {"$ref": "https://example.com/schema.json"}}}});
    let response = authed(client().post(&chat))
        .json(&remote)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "invalid_constraint", "{error}");
    // 404: an unknown model.
    let response = authed(client().post(&chat))
        .json(&json!({"model": "gpt-9", "messages": hello}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
    let error: Value = response.json().await.unwrap();
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("smollm2-135m"),
        "{error}"
    );

    // 413: a body over the limit.
    let big = "x".repeat(100_000);
    let response = authed(client().post(&chat))
        .json(&json!({"model": "smollm2-135m", "messages": [{"role": "user", "content": big}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);
    assert_error_shape(&response.json().await.unwrap(), "invalid_request_error");

    // 503: with a queue of one, a second request while a stream is open.
    let streaming = authed(client().post(&chat))
        .json(
            &json!({"model": "smollm2-135m", "messages": hello, "max_tokens": 400,
            "temperature": 1.0, "stream": true}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(streaming.status().as_u16(), 200);
    let response = authed(client().post(&chat))
        .json(&json!({"model": "smollm2-135m", "messages": hello, "max_tokens": 4}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 503);
    assert_error_shape(&response.json().await.unwrap(), "server_error");
    drop(streaming);
    // The place frees once the stream is gone.
    let mut freed = false;
    for _ in 0..50 {
        let response = authed(client().post(&chat))
            .json(&json!({"model": "smollm2-135m", "messages": hello, "max_tokens": 4}))
            .send()
            .await
            .unwrap();
        if response.status().as_u16() == 200 {
            freed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(
        freed,
        "the queue place was not freed after the stream was dropped"
    );
    assert!(server.stop());
}
