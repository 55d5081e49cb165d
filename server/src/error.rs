//! [`ApiError`]: every refusal of the server, turned into an OpenAI-style error body
//! (`{"error": {"message", "type", "param", "code"}}`) in one place.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use agentry_model::ModelError;

/// Why a request was refused or failed; the response's status and error body follow.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed or asks for something impossible (400).
    #[error("{message}")]
    BadRequest {
        /// What is wrong and where.
        message: String,
        /// The field at fault, as a path (`messages[0].role`), when known.
        param: Option<String>,
        /// A machine-readable code.
        code: &'static str,
    },
    /// No or a wrong API key (401).
    #[error("{0}")]
    Unauthorized(String),
    /// No such model or route (404).
    #[error("{0}")]
    NotFound(String),
    /// The body is over the size limit (413).
    #[error("{0}")]
    TooLarge(String),
    /// The queue is full (503); the client should retry later.
    #[error("{0}")]
    Overloaded(String),
    /// The model or an agent failed while serving the request (500).
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// A 400 about the field `param`.
    pub fn bad(param: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            message: message.into(),
            param: Some(param.into()),
            code: "invalid_value",
        }
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Overloaded(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The OpenAI-style error object (the value of the body's `error` key).
    pub fn body(&self) -> serde_json::Value {
        let (kind, param, code) = match self {
            ApiError::BadRequest { param, code, .. } => {
                ("invalid_request_error", param.clone(), *code)
            }
            ApiError::Unauthorized(_) => ("authentication_error", None, "invalid_api_key"),
            ApiError::NotFound(_) => ("invalid_request_error", None, "not_found"),
            ApiError::TooLarge(_) => ("invalid_request_error", None, "request_too_large"),
            ApiError::Overloaded(_) => ("server_error", None, "server_busy"),
            ApiError::Internal(_) => ("server_error", None, "internal_error"),
        };
        json!({"message": self.to_string(), "type": kind, "param": param, "code": code})
    }
}

impl From<ModelError> for ApiError {
    fn from(error: ModelError) -> Self {
        let code = match &error {
            ModelError::InvalidConstraint { .. } => "invalid_constraint",
            ModelError::ContextOverflow { .. } => "context_length_exceeded",
            ModelError::InvalidRequest(_) | ModelError::NoChatTemplate { .. } => "invalid_value",
            ModelError::Unsupported(_) => "unsupported",
            _ => return ApiError::Internal(format!("the model failed: {error}")),
        };
        ApiError::BadRequest {
            message: error.to_string(),
            param: None,
            code,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!("{status}: {self}");
        }
        let mut response = (status, Json(json!({ "error": self.body() }))).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert("retry-after", axum::http::HeaderValue::from_static("1"));
        }
        response
    }
}
