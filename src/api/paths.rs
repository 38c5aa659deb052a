//! Error answers never say where the data folder is: a path inside it is shown relative
//! to it, the way a caller's own records are named (`users/u1/user.json`). Applied to
//! every route's error body, so no handler can forget it.

use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::extract::State;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::response::Response;

use super::BODY_LIMIT;

/// The data folder as it appears inside a JSON string, with its trailing `/`.
#[derive(Debug, Clone)]
pub(super) struct DataRoot(Arc<str>);

impl DataRoot {
    pub fn new(root: &std::path::Path) -> Self {
        let quoted = serde_json::to_string(&format!("{}/", root.display())).unwrap_or_default();
        // A JSON string of a string starts and ends with a quote.
        let inner = quoted.get(1..quoted.len().saturating_sub(1)).unwrap_or("");
        Self(inner.into())
    }
}

pub(super) async fn relative_paths(State(root): State<DataRoot>, response: Response) -> Response {
    let failed = response.status().is_client_error() || response.status().is_server_error();
    let json = response
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !failed || !json || root.0.is_empty() {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // Error bodies are small JSON documents the API made itself.
    let Ok(bytes) = to_bytes(body, BODY_LIMIT).await else {
        parts.headers.remove(CONTENT_LENGTH);
        return Response::from_parts(parts, Body::empty());
    };
    let text = String::from_utf8_lossy(&bytes);
    if !text.contains(&*root.0) {
        return Response::from_parts(parts, Body::from(bytes));
    }
    parts.headers.remove(CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(text.replace(&*root.0, "")))
}
