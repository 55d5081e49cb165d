//! `POST /v1/chat/completions`: the model (whole or streamed replies, `n`, tools,
//! `response_format`) and agents offered as models.

use std::convert::Infallible;
use std::sync::Arc;

use agentry_model::{
    Completion, Constraint, FinishReason, StreamEvent, ToolCallSyntax, call_names,
};
use agentry_prompts::Role;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::{OwnedSemaphorePermit, mpsc};

use crate::error::ApiError;
use crate::prompt::{self, ReplyShape};
use crate::tool_stream::{CallSplitter, Piece};
use crate::wire::{ChatRequest, parse_body};
use crate::{ServedAgent, Shared};

/// The body's bytes; a body over the limit is a 413.
pub(crate) fn body_bytes(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(format!(
                "the request body is too large: {}",
                rejection.body_text()
            ))
        } else {
            ApiError::BadRequest {
                message: format!("cannot read the request body: {}", rejection.body_text()),
                param: None,
                code: "invalid_body",
            }
        }
    })
}

/// Seconds since the Unix epoch.
pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A fresh id with `prefix` (`chatcmpl-...`).
fn new_id(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    format!(
        "{prefix}-{:x}{:04x}",
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed) & 0xffff
    )
}

/// The wire name of a finish reason.
fn finish_name(reason: FinishReason) -> &'static str {
    match reason {
        FinishReason::Stop | FinishReason::StopString | FinishReason::Cancelled => "stop",
        FinishReason::Length | FinishReason::ContextFull => "length",
    }
}

/// The `usage` object of a set of samples of one prompt.
fn usage(completions: &[Completion]) -> Value {
    let prompt = completions.first().map_or(0, |c| c.usage.prompt_tokens);
    let cached = completions.first().map_or(0, |c| c.usage.cached_tokens);
    let generated: usize = completions.iter().map(|c| c.usage.completion_tokens).sum();
    usage_json(prompt, cached, generated)
}

fn usage_json(prompt: usize, cached: usize, generated: usize) -> Value {
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": generated,
        "total_tokens": prompt + generated,
        "prompt_tokens_details": {"cached_tokens": cached},
    })
}

/// The id of call `k` of the reply `id`.
fn call_id(id: &str, k: usize) -> String {
    format!("call_{}_{k}", id.rsplit('-').next().unwrap_or(id))
}

/// A `tool_calls` entry.
fn tool_call(id: &str, k: usize, name: &str, arguments: &Value) -> Value {
    json!({
        "id": call_id(id, k),
        "type": "function",
        "function": {"name": name, "arguments": arguments.to_string()},
    })
}

/// The assistant message of one sample and its finish reason, the text read as `shape`
/// says.
fn reply_message(id: &str, completion: &Completion, shape: &ReplyShape) -> (Value, &'static str) {
    let text = &completion.text;
    let finish = finish_name(completion.finish_reason);
    let calls: Option<(String, Vec<(String, Value)>)> = match shape {
        ReplyShape::Text => None,
        ReplyShape::Calls(syntax) => syntax
            .parse(text)
            .ok()
            .filter(|p| !p.calls.is_empty())
            .map(|p| (p.text, p.calls)),
        ReplyShape::OneCall(syntax) => one_call(text, *syntax).map(|c| (String::new(), vec![c])),
    };
    match calls {
        Some((content, calls)) => {
            let calls: Vec<Value> = calls
                .iter()
                .enumerate()
                .map(|(k, (name, args))| tool_call(id, k, name, args))
                .collect();
            let content = if content.is_empty() {
                Value::Null
            } else {
                Value::String(content)
            };
            (
                json!({"role": "assistant", "content": content, "tool_calls": calls}),
                "tool_calls",
            )
        }
        None => (json!({"role": "assistant", "content": text}), finish),
    }
}

/// A bare call object `{"name": .., KEY: {..}}`.
fn one_call(text: &str, syntax: ToolCallSyntax) -> Option<(String, Value)> {
    let value: Value = serde_json::from_str(text.trim()).ok()?;
    let name = value.get("name")?.as_str()?.to_owned();
    let args = value
        .get(syntax.arguments_key())
        .cloned()
        .unwrap_or_else(|| json!({}));
    Some((name, args))
}

/// A whole (not streamed) completion body.
fn completion_body(
    id: &str,
    model: &str,
    messages: Vec<(Value, &'static str)>,
    usage: Value,
) -> Value {
    let choices: Vec<Value> = messages
        .into_iter()
        .enumerate()
        .map(|(index, (message, finish))| {
            json!({"index": index, "message": message, "finish_reason": finish, "logprobs": null})
        })
        .collect();
    json!({
        "id": id,
        "object": "chat.completion",
        "created": now(),
        "model": model,
        "choices": choices,
        "usage": usage,
        "system_fingerprint": null,
    })
}

/// One chunk of a streamed reply.
fn chunk(id: &str, model: &str, choices: Value, usage: Option<Value>) -> Event {
    let mut body = json!({
        "id": id,
        "object": "chat.completion.chunk",
        "created": now(),
        "model": model,
        "choices": choices,
    });
    if let Some(usage) = usage {
        body["usage"] = usage;
    }
    Event::default().data(body.to_string())
}

/// Server-sent events fed by a task through `rx`.
fn sse(rx: mpsc::Receiver<Event>) -> Response {
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|event| (Ok::<_, Infallible>(event), rx))
    });
    Sse::new(stream).into_response()
}

/// `POST /v1/chat/completions`.
pub(crate) async fn completions(
    State(state): State<Arc<Shared>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body_bytes(body)?;
    let req: ChatRequest = parse_body(&body)?;
    if let Some(agent) = state.agents.get(&req.model) {
        return agent_reply(&state, agent, req).await;
    }
    if req.model != state.model_name {
        return Err(ApiError::NotFound(format!(
            "no model `{}` here; models: {}",
            req.model,
            state.model_names().join(", ")
        )));
    }
    let prepared = prompt::prepare(
        &req,
        &state.config,
        state.model.tool_call_syntax(),
        &state.model_name,
    )?;
    let permit = state.admit()?;
    let id = new_id("chatcmpl");
    let stream = req.stream.unwrap_or(false);
    let include_usage = req.stream_options.as_ref().is_some_and(|o| o.include_usage);
    if !stream {
        let completions = state.batcher.generate(prepared.request).await?;
        drop(permit);
        let messages = completions
            .iter()
            .map(|c| reply_message(&id, c, &prepared.shape))
            .collect();
        let body = completion_body(&id, &state.model_name, messages, usage(&completions));
        return Ok(Json(body).into_response());
    }
    let n = prepared.request.n;
    // With tools, each sample's text is split into content and calls as it comes.
    let tools: Vec<String> = match &prepared.request.constraint {
        Constraint::ToolCalls { call_schema, .. } | Constraint::JsonSchema(call_schema) => {
            call_names(call_schema)
                .into_iter()
                .map(str::to_owned)
                .collect()
        }
        _ => Vec::new(),
    };
    let mut splitters: Vec<CallSplitter> = match &prepared.shape {
        ReplyShape::Text => Vec::new(),
        ReplyShape::Calls(syntax) => (0..n)
            .map(|_| CallSplitter::new(*syntax, tools.clone()))
            .collect(),
        ReplyShape::OneCall(syntax) => (0..n)
            .map(|_| CallSplitter::one_call(*syntax, tools.clone()))
            .collect(),
    };
    let mut streamed = vec![String::new(); n];
    let mut events_rx = state.model.stream(prepared.request).await?;
    // The first event comes after the prompt is evaluated and the constraint compiled: an
    // error there is still an HTTP error, not a broken stream.
    let first = match events_rx.next_event().await {
        Some(Ok(event)) => event,
        Some(Err(error)) => return Err(error.into()),
        None => {
            return Err(ApiError::Internal(
                "the model ended the stream at once".into(),
            ));
        }
    };
    let (tx, rx) = mpsc::channel::<Event>(64);
    let model = state.model_name.clone();
    tokio::spawn(async move {
        let _permit = permit;
        let roles: Vec<Value> = (0..n)
            .map(|index| json!({"index": index, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}))
            .collect();
        if tx
            .send(chunk(&id, &model, Value::Array(roles), None))
            .await
            .is_err()
        {
            return;
        }
        let mut next = Some(Ok(first));
        while let Some(event) = next {
            let events = match event {
                Ok(StreamEvent::Token { index, text }) => match splitters.get_mut(index) {
                    Some(splitter) => {
                        if let Some(seen) = streamed.get_mut(index) {
                            seen.push_str(&text);
                        }
                        let pieces = splitter.push(&text);
                        piece_chunks(&id, &model, index, pieces)
                    }
                    None => vec![chunk(
                        &id,
                        &model,
                        json!([{"index": index, "delta": {"content": text}, "finish_reason": null}]),
                        None,
                    )],
                },
                Ok(StreamEvent::Done(completions)) => {
                    let mut finals = Vec::with_capacity(completions.len());
                    for (index, c) in completions.iter().enumerate() {
                        let mut finish = finish_name(c.finish_reason);
                        if let Some(splitter) = splitters.get_mut(index) {
                            // Text the tokens did not carry (none, normally) is read too.
                            let seen = streamed.get(index).map_or("", String::as_str);
                            let mut pieces = match c.text.strip_prefix(seen) {
                                Some(rest) if !rest.is_empty() => splitter.push(rest),
                                _ => Vec::new(),
                            };
                            pieces.extend(splitter.finish());
                            for event in piece_chunks(&id, &model, index, pieces) {
                                if tx.send(event).await.is_err() {
                                    return;
                                }
                            }
                            if splitter.calls() > 0 && !splitter.call_open() {
                                finish = "tool_calls";
                            }
                        }
                        finals.push(json!({"index": index, "delta": {}, "finish_reason": finish}));
                    }
                    if tx
                        .send(chunk(&id, &model, Value::Array(finals), None))
                        .await
                        .is_err()
                    {
                        return;
                    }
                    if include_usage {
                        let last = chunk(&id, &model, json!([]), Some(usage(&completions)));
                        if tx.send(last).await.is_err() {
                            return;
                        }
                    }
                    let _ = tx.send(Event::default().data("[DONE]")).await;
                    return;
                }
                Err(error) => {
                    let error = ApiError::from(error);
                    let _ = tx
                        .send(Event::default().data(json!({"error": error.body()}).to_string()))
                        .await;
                    return;
                }
            };
            // A client that went away drops the receiver: stop decoding (dropping
            // `events` cancels the generation).
            for event in events {
                if tx.send(event).await.is_err() {
                    return;
                }
            }
            next = events_rx.next_event().await;
        }
    });
    Ok(sse(rx))
}

/// The chunks of sample `index` for `pieces`: content as `delta.content`, a call's start
/// as a `tool_calls` entry with its id, type and name, each arguments fragment as
/// `function.arguments` of the entry with the call's index.
fn piece_chunks(id: &str, model: &str, index: usize, pieces: Vec<Piece>) -> Vec<Event> {
    pieces
        .into_iter()
        .map(|piece| {
            let delta = match piece {
                Piece::Content(text) => json!({"content": text}),
                Piece::CallStart { index: k, name } => json!({"tool_calls": [{
                    "index": k,
                    "id": call_id(id, k),
                    "type": "function",
                    "function": {"name": name, "arguments": ""},
                }]}),
                Piece::Arguments { index: k, fragment } => json!({"tool_calls": [{
                    "index": k,
                    "function": {"arguments": fragment},
                }]}),
            };
            chunk(
                id,
                model,
                json!([{"index": index, "delta": delta, "finish_reason": null}]),
                None,
            )
        })
        .collect()
}

/// Finished messages sent as a stream: per choice one chunk with the whole message, one
/// with its finish reason, then the usage when asked for, then `[DONE]`.
fn whole_as_stream(
    id: String,
    model: String,
    messages: Vec<(Value, &'static str)>,
    usage: Option<Value>,
    permit: OwnedSemaphorePermit,
) -> Response {
    let mut events = Vec::new();
    for (index, (mut message, finish)) in messages.into_iter().enumerate() {
        if let Some(calls) = message.get_mut("tool_calls").and_then(Value::as_array_mut) {
            for (k, call) in calls.iter_mut().enumerate() {
                call["index"] = json!(k);
            }
        }
        events.push(chunk(
            &id,
            &model,
            json!([{"index": index, "delta": message, "finish_reason": null}]),
            None,
        ));
        events.push(chunk(
            &id,
            &model,
            json!([{"index": index, "delta": {}, "finish_reason": finish}]),
            None,
        ));
    }
    if let Some(usage) = usage {
        events.push(chunk(&id, &model, json!([]), Some(usage)));
    }
    events.push(Event::default().data("[DONE]"));
    let (tx, rx) = mpsc::channel(events.len().max(1));
    for event in events {
        let _ = tx.try_send(event);
    }
    drop(permit);
    sse(rx)
}

/// A request to an agent: its last user message is the task; the agent runs (its tool
/// calls under its own policy, server-side) and its answer is the reply.
async fn agent_reply(
    state: &Shared,
    agent: &ServedAgent,
    req: ChatRequest,
) -> Result<Response, ApiError> {
    if req.n.unwrap_or(1) != 1 {
        return Err(ApiError::bad(
            "n",
            "an agent gives one answer: `n` must be 1",
        ));
    }
    if req.tools.as_ref().is_some_and(|t| !t.is_empty()) {
        return Err(ApiError::bad(
            "tools",
            "an agent calls its own tools server-side: `tools` is not accepted for an agent model",
        ));
    }
    if req.response_format.is_some() {
        return Err(ApiError::bad(
            "response_format",
            "an agent answers as its workflow defines: `response_format` is not accepted for an agent model",
        ));
    }
    let messages = prompt::messages(&req.messages, ToolCallSyntax::Hermes)?;
    let task = messages
        .iter()
        .rev()
        .find(|m| m.role == Role::User && !m.content.trim().is_empty())
        .map(|m| m.content.clone())
        .ok_or_else(|| ApiError::bad("messages", "an agent needs a user message: its task"))?;
    let permit = state.admit()?;
    let id = new_id("chatcmpl");
    let output = agent
        .agent
        .run::<Value>(task)
        .await
        .map_err(|e| ApiError::Internal(format!("the agent `{}` failed: {e}", req.model)))?;
    let answer = match output.answer {
        Value::String(text) => text,
        other => other.to_string(),
    };
    let total = output.outcome.usage;
    let usage = usage_json(
        total.prompt_tokens,
        total.cached_tokens,
        total.completion_tokens,
    );
    let message = (json!({"role": "assistant", "content": answer}), "stop");
    if req.stream.unwrap_or(false) {
        let include_usage = req.stream_options.as_ref().is_some_and(|o| o.include_usage);
        return Ok(whole_as_stream(
            id,
            req.model,
            vec![message],
            include_usage.then_some(usage),
            permit,
        ));
    }
    drop(permit);
    Ok(Json(completion_body(&id, &req.model, vec![message], usage)).into_response())
}
