//! API errors: one JSON shape (`{"error": {"code", "message", "details"?}}`) and the
//! status that fits each kind of failure.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::manager::PortalError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Vec<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: Vec::new(),
        }
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid bearer token is required (Authorization: Bearer mcpp_...)",
        )
    }

    pub fn forbidden(why: &str) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", why)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
}

impl From<PortalError> for ApiError {
    fn from(e: PortalError) -> Self {
        let message = e.to_string();
        let (status, code) = match e.primary() {
            PortalError::Invalid(_) | PortalError::Plan(_) | PortalError::Usage(_) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid")
            }
            PortalError::NotFound { .. } => (StatusCode::NOT_FOUND, "not_found"),
            PortalError::Exists { .. } => (StatusCode::CONFLICT, "exists"),
            PortalError::Refused(_) | PortalError::Alloc(_) => (StatusCode::CONFLICT, "refused"),
            PortalError::Engine(_) => (StatusCode::BAD_GATEWAY, "engine"),
            PortalError::Store(_) | PortalError::Cleanup { .. } => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        };
        let details = match e.primary() {
            PortalError::Invalid(i) => i.diagnostics.iter().map(ToString::to_string).collect(),
            _ => Vec::new(),
        };
        Self {
            status,
            code,
            message,
            details,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": { "code": self.code, "message": self.message } });
        if !self.details.is_empty() {
            body["error"]["details"] = json!(self.details);
        }
        (self.status, Json(body)).into_response()
    }
}
