//! The request bodies the server reads (Chat Completions and Embeddings, as OpenAI's API
//! defines them) and the parsing that says what is wrong and where.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ApiError;

/// A `POST /v1/chat/completions` body. Fields the server does not use (`user`,
/// `frequency_penalty`, `logit_bias`, ...) are accepted and ignored.
#[derive(Debug, Deserialize)]
pub struct ChatRequest {
    /// The model or agent name.
    pub model: String,
    /// The conversation.
    pub messages: Vec<WireMessage>,
    /// Sampling temperature (0-2; default 1).
    pub temperature: Option<f32>,
    /// Nucleus threshold (0-1].
    pub top_p: Option<f32>,
    /// Most tokens to generate (legacy name).
    pub max_tokens: Option<u64>,
    /// Most tokens to generate.
    pub max_completion_tokens: Option<u64>,
    /// Seed of the sampler.
    pub seed: Option<i64>,
    /// Stop strings.
    pub stop: Option<Stop>,
    /// Number of choices.
    pub n: Option<u64>,
    /// Stream the reply as server-sent events.
    #[serde(default)]
    pub stream: Option<bool>,
    /// Streaming options.
    pub stream_options: Option<StreamOptions>,
    /// Tools the model may call.
    pub tools: Option<Vec<WireTool>>,
    /// `none`, `auto`, `required` or `{"type": "function", "function": {"name": ..}}`.
    pub tool_choice: Option<Value>,
    /// Whether several calls may be made in one reply (default true).
    pub parallel_tool_calls: Option<bool>,
    /// `{"type": "text" | "json_object" | "json_schema", ..}`.
    pub response_format: Option<Value>,
}

/// `stop`: one string or a list.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Stop {
    /// One stop string.
    One(String),
    /// Several.
    Many(Vec<String>),
}

/// `stream_options`.
#[derive(Debug, Deserialize, Default)]
pub struct StreamOptions {
    /// Send a last chunk with the usage.
    #[serde(default)]
    pub include_usage: bool,
}

/// One message of the conversation.
#[derive(Debug, Deserialize)]
pub struct WireMessage {
    /// `system`, `developer`, `user`, `assistant` or `tool`.
    pub role: String,
    /// Text, or a list of parts (only text parts are read).
    #[serde(default)]
    pub content: Option<Content>,
    /// The calls an assistant message made.
    #[serde(default)]
    pub tool_calls: Option<Vec<WireToolCall>>,
    /// The call a tool message answers.
    #[serde(default)]
    pub tool_call_id: Option<String>,
}

/// A message's content.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Content {
    /// Plain text.
    Text(String),
    /// Content parts.
    Parts(Vec<ContentPart>),
}

/// One content part.
#[derive(Debug, Deserialize)]
pub struct ContentPart {
    /// `text` (others are refused).
    #[serde(rename = "type")]
    pub kind: String,
    /// The text of a text part.
    pub text: Option<String>,
}

/// A call in an assistant message.
#[derive(Debug, Deserialize)]
pub struct WireToolCall {
    /// Its id.
    #[serde(default)]
    pub id: Option<String>,
    /// The function called.
    pub function: WireFunctionCall,
}

/// The function of a call.
#[derive(Debug, Deserialize)]
pub struct WireFunctionCall {
    /// Its name.
    pub name: String,
    /// Its arguments, a JSON text.
    #[serde(default)]
    pub arguments: String,
}

/// A tool offered to the model.
#[derive(Debug, Deserialize)]
pub struct WireTool {
    /// Must be `function`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The function.
    pub function: WireFunction,
}

/// A function a tool offers.
#[derive(Debug, Deserialize)]
pub struct WireFunction {
    /// Its name.
    pub name: String,
    /// What it does.
    #[serde(default)]
    pub description: Option<String>,
    /// The JSON Schema of its arguments.
    #[serde(default)]
    pub parameters: Option<Value>,
}

/// A `POST /v1/embeddings` body.
#[derive(Debug, Deserialize)]
pub struct EmbeddingsRequest {
    /// The embedding model's name.
    pub model: String,
    /// One text or a list of texts.
    pub input: EmbeddingInput,
    /// `float` (default) or `base64`.
    #[serde(default)]
    pub encoding_format: Option<String>,
    /// Not supported (the model's dimension is fixed); must be absent or equal to it.
    #[serde(default)]
    pub dimensions: Option<u64>,
}

/// The texts to embed.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum EmbeddingInput {
    /// One text.
    One(String),
    /// Several texts.
    Many(Vec<String>),
    /// Token ids or anything else (refused with a clear message).
    Other(Value),
}

/// Reads a JSON body into `T`; a syntax error says where (line and column), a type error
/// names the field's path (`messages[2].role`).
///
/// # Errors
/// [`ApiError::BadRequest`] as above.
pub fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        let param = (path != ".").then_some(path);
        let message = match (&param, inner.classify()) {
            (_, serde_json::error::Category::Syntax | serde_json::error::Category::Eof) => {
                format!("the body is not valid JSON: {inner}")
            }
            (Some(path), _) => format!("invalid request body at `{path}`: {inner}"),
            (None, _) => format!("invalid request body: {inner}"),
        };
        ApiError::BadRequest {
            message,
            param,
            code: "invalid_json",
        }
    })?;
    deserializer.end().map_err(|inner| ApiError::BadRequest {
        message: format!("the body is not valid JSON: {inner}"),
        param: None,
        code: "invalid_json",
    })?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_type_error_names_the_field_and_a_syntax_error_the_place() {
        let error =
            parse_body::<ChatRequest>(br#"{"model": "m", "messages": [{"role": 3}]}"#).unwrap_err();
        let body = error.body();
        assert_eq!(body["param"], "messages[0].role", "{body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("messages[0].role"),
            "{body}"
        );
        let error =
            parse_body::<ChatRequest>(b"{\"model\": \"m\",\n \"messages\": [}").unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("not valid JSON") && message.contains("line 2"),
            "{message}"
        );
        let error = parse_body::<ChatRequest>(br#"{"messages": []}"#).unwrap_err();
        assert!(
            error.to_string().contains("missing field `model`"),
            "{error}"
        );
    }
}
