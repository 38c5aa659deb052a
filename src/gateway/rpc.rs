//! JSON-RPC 2.0 over `serde_json::Value`, as MCP uses it: classifying an incoming
//! message, building requests, notifications and answers, and the error object.
//!
//! Pure: no I/O. MCP's framing (one message per line on stdio, one per POST over HTTP)
//! belongs to the transports.

use serde_json::{json, Map, Value};

/// The version every message carries.
pub const VERSION: &str = "2.0";

/// The message was not JSON.
pub const PARSE_ERROR: i64 = -32700;
/// JSON, but not a JSON-RPC message.
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;
pub const INTERNAL_ERROR: i64 = -32603;
/// The gateway's own code: the MCP server behind it is not running or stopped mid-call.
/// JSON-RPC leaves -32000..-32099 to implementations; MCP itself takes -32002 (resource
/// not found) and -32042 (URL elicitation required), so the gateway keeps clear of both.
pub const SERVER_UNAVAILABLE: i64 = -32050;

/// A JSON-RPC error object: an error a server answered with, or one the gateway makes.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message} (json-rpc error {code})")]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
        }
    }

    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }

    pub fn parse_error(detail: impl std::fmt::Display) -> Self {
        Self::new(
            PARSE_ERROR,
            format!("the message is not JSON ({detail}); send one JSON-RPC 2.0 object"),
        )
    }

    pub fn invalid_request(detail: impl std::fmt::Display) -> Self {
        Self::new(
            INVALID_REQUEST,
            format!("not a JSON-RPC 2.0 message: {detail}"),
        )
    }

    pub fn method_not_found(method: &str) -> Self {
        Self::new(METHOD_NOT_FOUND, format!("method {method:?} not found"))
    }

    pub fn invalid_params(detail: impl std::fmt::Display) -> Self {
        Self::new(INVALID_PARAMS, format!("invalid params: {detail}"))
    }

    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Self::new(INTERNAL_ERROR, format!("internal error: {detail}"))
    }

    /// The server behind the gateway cannot answer; `message` names it and says what to do.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(SERVER_UNAVAILABLE, message)
    }

    /// The error object as it goes on the wire.
    pub fn to_value(&self) -> Value {
        let mut error = json!({"code": self.code, "message": self.message});
        if let (Some(data), Some(object)) = (&self.data, error.as_object_mut()) {
            object.insert("data".into(), data.clone());
        }
        error
    }

    /// Reads an error object; one without an integer code or a string message is refused.
    pub fn from_value(error: &Value) -> Result<Self, RpcError> {
        let code = error
            .get("code")
            .and_then(Value::as_i64)
            .ok_or_else(|| Self::invalid_request("the error has no integer code"))?;
        let message = error
            .get("message")
            .and_then(Value::as_str)
            .ok_or_else(|| Self::invalid_request("the error has no message"))?;
        Ok(Self {
            code,
            message: message.to_string(),
            data: error.get("data").cloned(),
        })
    }
}

/// What a message is. `params` is `Value::Null` when the message has none.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    Request {
        id: Value,
        method: String,
        params: Value,
    },
    Notification {
        method: String,
        params: Value,
    },
    Response {
        /// `Value::Null` only in an error answer to a message whose id could not be read.
        id: Value,
        result: Result<Value, RpcError>,
    },
}

impl Incoming {
    /// Classifies one message (not a batch: MCP dropped batches in 2025-06-18). The error
    /// is an `INVALID_REQUEST` saying what is wrong.
    pub fn parse(message: &Value) -> Result<Self, RpcError> {
        let object = message
            .as_object()
            .ok_or_else(|| RpcError::invalid_request("the message is not an object"))?;
        if object.get("jsonrpc").and_then(Value::as_str) != Some(VERSION) {
            return Err(RpcError::invalid_request("\"jsonrpc\" must be \"2.0\""));
        }
        match object.get("method") {
            Some(Value::String(method)) => parse_call(object, method),
            Some(_) => Err(RpcError::invalid_request("\"method\" must be a string")),
            None => parse_response(object),
        }
    }
}

fn parse_call(object: &Map<String, Value>, method: &str) -> Result<Incoming, RpcError> {
    let params = object.get("params").cloned().unwrap_or(Value::Null);
    if !(params.is_object() || params.is_array() || params.is_null()) {
        return Err(RpcError::invalid_request(
            "\"params\" must be an object or an array",
        ));
    }
    let method = method.to_string();
    match object.get("id") {
        None => Ok(Incoming::Notification { method, params }),
        Some(id) if is_id(id) => Ok(Incoming::Request {
            id: id.clone(),
            method,
            params,
        }),
        // MCP forbids null ids on requests, and JSON-RPC any other kind.
        Some(_) => Err(RpcError::invalid_request(
            "a request's \"id\" must be a string or an integer",
        )),
    }
}

fn parse_response(object: &Map<String, Value>) -> Result<Incoming, RpcError> {
    let id = object
        .get("id")
        .ok_or_else(|| RpcError::invalid_request("the message has neither method nor id"))?;
    if !(is_id(id) || id.is_null()) {
        return Err(RpcError::invalid_request(
            "a response's \"id\" must be a string, an integer or null",
        ));
    }
    let result = match (object.get("result"), object.get("error")) {
        (Some(result), None) => Ok(result.clone()),
        (None, Some(error)) => Err(RpcError::from_value(error)?),
        _ => {
            return Err(RpcError::invalid_request(
                "a response holds exactly one of \"result\" and \"error\"",
            ))
        }
    };
    Ok(Incoming::Response {
        id: id.clone(),
        result,
    })
}

fn is_id(id: &Value) -> bool {
    id.is_string() || id.is_i64() || id.is_u64()
}

fn with_params(mut message: Value, params: Value) -> Value {
    if let (false, Some(object)) = (params.is_null(), message.as_object_mut()) {
        object.insert("params".into(), params);
    }
    message
}

/// A request; `Value::Null` params are left out.
pub fn request(id: &Value, method: &str, params: Value) -> Value {
    with_params(
        json!({"jsonrpc": VERSION, "id": id, "method": method}),
        params,
    )
}

/// A notification; `Value::Null` params are left out.
pub fn notification(method: &str, params: Value) -> Value {
    with_params(json!({"jsonrpc": VERSION, "method": method}), params)
}

/// A successful answer.
pub fn response(id: &Value, result: Value) -> Value {
    json!({"jsonrpc": VERSION, "id": id, "result": result})
}

/// An error answer.
pub fn error_response(id: &Value, error: &RpcError) -> Value {
    json!({"jsonrpc": VERSION, "id": id, "error": error.to_value()})
}

/// The answer to a request, whichever way it went.
pub fn reply(id: &Value, result: Result<Value, RpcError>) -> Value {
    match result {
        Ok(result) => response(id, result),
        Err(error) => error_response(id, &error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Incoming, RpcError> {
        Incoming::parse(&serde_json::from_str(text).unwrap())
    }

    #[test]
    fn requests_notifications_and_responses_are_told_apart() {
        assert_eq!(
            parse(r#"{"jsonrpc":"2.0","id":7,"method":"tools/list"}"#).unwrap(),
            Incoming::Request {
                id: json!(7),
                method: "tools/list".into(),
                params: Value::Null
            }
        );
        assert_eq!(
            parse(r#"{"jsonrpc":"2.0","method":"notifications/initialized","params":{}}"#).unwrap(),
            Incoming::Notification {
                method: "notifications/initialized".into(),
                params: json!({})
            }
        );
        assert_eq!(
            parse(r#"{"jsonrpc":"2.0","id":"a","result":{"tools":[]}}"#).unwrap(),
            Incoming::Response {
                id: json!("a"),
                result: Ok(json!({"tools": []}))
            }
        );
        assert_eq!(
            parse(
                r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"bad","data":1}}"#
            )
            .unwrap(),
            Incoming::Response {
                id: Value::Null,
                result: Err(RpcError::new(PARSE_ERROR, "bad").with_data(json!(1)))
            }
        );
    }

    #[test]
    fn malformed_messages_are_invalid_requests_saying_why() {
        for (text, why) in [
            (r#"[1]"#, "not an object"),
            (r#"{"id":1,"method":"x"}"#, "\"jsonrpc\" must be \"2.0\""),
            (
                r#"{"jsonrpc":"1.0","id":1,"method":"x"}"#,
                "must be \"2.0\"",
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"method":3}"#,
                "\"method\" must be a string",
            ),
            (
                r#"{"jsonrpc":"2.0","id":null,"method":"x"}"#,
                "string or an integer",
            ),
            (
                r#"{"jsonrpc":"2.0","id":1.5,"method":"x"}"#,
                "string or an integer",
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"method":"x","params":3}"#,
                "object or an array",
            ),
            (r#"{"jsonrpc":"2.0"}"#, "neither method nor id"),
            (r#"{"jsonrpc":"2.0","id":1}"#, "exactly one of"),
            (
                r#"{"jsonrpc":"2.0","id":1,"result":1,"error":{}}"#,
                "exactly one of",
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"error":{"message":"m"}}"#,
                "no integer code",
            ),
            (
                r#"{"jsonrpc":"2.0","id":{},"result":1}"#,
                "string, an integer or null",
            ),
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.code, INVALID_REQUEST, "{text}");
            assert!(e.message.contains(why), "{text}: {}", e.message);
        }
    }

    #[test]
    fn built_messages_parse_back_to_what_was_built() {
        let id = json!("gw-1");
        let built = request(&id, "tools/call", json!({"name": "echo"}));
        assert_eq!(
            Incoming::parse(&built).unwrap(),
            Incoming::Request {
                id: id.clone(),
                method: "tools/call".into(),
                params: json!({"name": "echo"})
            }
        );
        assert_eq!(
            notification("notifications/initialized", Value::Null),
            json!({"jsonrpc": "2.0", "method": "notifications/initialized"})
        );
        let error = RpcError::method_not_found("sampling/createMessage");
        assert_eq!(
            Incoming::parse(&reply(&id, Err(error.clone()))).unwrap(),
            Incoming::Response {
                id: id.clone(),
                result: Err(error)
            }
        );
        assert_eq!(
            reply(&id, Ok(json!({}))),
            json!({"jsonrpc": "2.0", "id": "gw-1", "result": {}})
        );
    }

    #[test]
    fn an_error_displays_its_message_and_code() {
        let e = RpcError::unavailable("server cli is not running");
        assert_eq!(
            e.to_string(),
            "server cli is not running (json-rpc error -32050)"
        );
        assert_eq!(
            e.to_value(),
            json!({"code": -32050, "message": "server cli is not running"})
        );
    }
}
