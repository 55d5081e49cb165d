//! `POST /v1/embeddings`: the memory embedder behind the Embeddings API.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use serde_json::{Value, json};

use crate::Shared;
use crate::chat::body_bytes;
use crate::error::ApiError;
use crate::wire::{EmbeddingInput, EmbeddingsRequest, parse_body};

/// `POST /v1/embeddings`.
pub(crate) async fn embeddings(
    State(state): State<Arc<Shared>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let body = body_bytes(body)?;
    let req: EmbeddingsRequest = parse_body(&body)?;
    let Some((name, embedder)) = &state.embedder else {
        return Err(ApiError::NotFound(
            "this server has no embedding model (it was started without one)".into(),
        ));
    };
    if req.model != *name {
        return Err(ApiError::NotFound(format!(
            "no embedding model `{}` here; the embedding model is `{name}`",
            req.model
        )));
    }
    let texts = match req.input {
        EmbeddingInput::One(text) => vec![text],
        EmbeddingInput::Many(texts) => texts,
        EmbeddingInput::Other(_) => {
            return Err(ApiError::bad(
                "input",
                "`input` must be a string or a list of strings (token ids are not supported)",
            ));
        }
    };
    let limit = state.config.max_embedding_inputs;
    if texts.is_empty() || texts.len() > limit {
        return Err(ApiError::bad(
            "input",
            format!("`input` must hold between 1 and {limit} texts"),
        ));
    }
    if let Some(k) = texts.iter().position(|t| t.is_empty()) {
        return Err(ApiError::bad(
            format!("input[{k}]"),
            "`input` texts must not be empty",
        ));
    }
    if let Some(dimensions) = req.dimensions
        && dimensions as usize != embedder.dimension()
    {
        return Err(ApiError::bad(
            "dimensions",
            format!(
                "`{name}` embeds in {} dimensions only",
                embedder.dimension()
            ),
        ));
    }
    let base64 = match req.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(ApiError::bad(
                "encoding_format",
                format!("unknown encoding_format `{other}` (float or base64)"),
            ));
        }
    };
    let _permit = state.admit()?;
    let vectors = embedder
        .embed(&texts)
        .await
        .map_err(|e| ApiError::Internal(format!("the embedder failed: {e}")))?;
    // The embedder's own tokenizer counts; one without a tokenizer reports words.
    let tokens = match embedder.count_tokens(&texts) {
        Ok(Some(tokens)) => tokens,
        Ok(None) => texts.iter().map(|t| t.split_whitespace().count()).sum(),
        Err(e) => return Err(ApiError::Internal(format!("counting tokens: {e}"))),
    };
    let data: Vec<Value> = vectors
        .iter()
        .enumerate()
        .map(|(index, vector)| {
            let embedding = if base64 {
                Value::String(encode_base64(
                    &vector
                        .iter()
                        .flat_map(|x| x.to_le_bytes())
                        .collect::<Vec<u8>>(),
                ))
            } else {
                json!(vector)
            };
            json!({"object": "embedding", "index": index, "embedding": embedding})
        })
        .collect();
    Ok(Json(json!({
        "object": "list",
        "data": data,
        "model": name,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    })))
}

/// Standard base64 with padding (what OpenAI's `encoding_format: base64` returns: the
/// vector's little-endian `f32`s).
fn encode_base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let b = [
            group[0],
            group.get(1).copied().unwrap_or(0),
            group.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= group.len() {
                out.push(ALPHABET[((n >> (18 - 6 * k)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::encode_base64;

    #[test]
    fn base64_matches_the_standard_alphabet_with_padding() {
        assert_eq!(encode_base64(b""), "");
        assert_eq!(encode_base64(b"f"), "Zg==");
        assert_eq!(encode_base64(b"fo"), "Zm8=");
        assert_eq!(encode_base64(b"foo"), "Zm9v");
        assert_eq!(encode_base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(encode_base64(&1.0f32.to_le_bytes()), "AACAPw==");
    }
}
