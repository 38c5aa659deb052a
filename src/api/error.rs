//! API errors: one JSON shape (`{"error": {"code", "message", "details"?}}`), with the
//! status and code derived from the failure's [`ErrorClass`].

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::catalog::report::Diagnostic;
use crate::error::{Classify, ErrorClass};
use crate::manager::PortalError;

#[derive(Debug)]
pub struct ApiError {
    pub class: ErrorClass,
    pub message: String,
    pub details: Vec<String>,
    /// An invalid input's diagnostics with their severity, for the remote CLI to print
    /// exactly as a local run does.
    pub diagnostics: Vec<Diagnostic>,
    /// Seconds a rate-limited caller should wait (`Retry-After`).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(class: ErrorClass, message: impl Into<String>) -> Self {
        Self {
            class,
            message: message.into(),
            details: Vec::new(),
            diagnostics: Vec::new(),
            retry_after: None,
        }
    }

    /// Too many requests: 429, with how long to wait.
    pub fn rate_limited(message: impl Into<String>, retry_after: u64) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(ErrorClass::RateLimited, message)
        }
    }

    pub fn unauthorized() -> Self {
        Self::new(
            ErrorClass::Unauthorized,
            "a valid bearer token is required (Authorization: Bearer mcpp_...)",
        )
    }

    pub fn forbidden(why: &str) -> Self {
        Self::new(ErrorClass::Forbidden, why)
    }

    /// A bad path, query or body: the caller's usage error.
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ErrorClass::Usage, message)
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.class.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl From<PortalError> for ApiError {
    fn from(e: PortalError) -> Self {
        let diagnostics: Vec<Diagnostic> = match e.primary() {
            PortalError::Invalid(i) => i.diagnostics.iter().cloned().collect(),
            _ => Vec::new(),
        };
        Self {
            class: e.class(),
            message: e.to_string(),
            details: diagnostics.iter().map(ToString::to_string).collect(),
            diagnostics,
            retry_after: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body =
            json!({ "error": { "code": self.class.api_code(), "message": self.message } });
        if !self.details.is_empty() {
            body["error"]["details"] = json!(self.details);
        }
        if !self.diagnostics.is_empty() {
            body["error"]["diagnostics"] = json!(self.diagnostics);
        }
        let mut response = (self.status(), Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(secs),
            );
        }
        if self.class == ErrorClass::Unauthorized {
            // RFC 6750: a 401 names the scheme it wants, which MCP clients look for.
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"mcp-portal\""),
            );
        }
        response
    }
}
