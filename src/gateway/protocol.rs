//! The two generations of MCP's Streamable HTTP the gateway speaks, told apart by what the
//! client sends (pure):
//! - the handshake generation (2025-03-26, 2025-06-18, 2025-11-25): `initialize`, a session,
//!   `MCP-Protocol-Version` on every later request;
//! - the stateless 2026-07-28: no handshake, the version and capabilities in each request's
//!   `_meta`, `Mcp-Method`/`Mcp-Name` headers that must match the body, and results that
//!   carry `resultType` (and `ttlMs`/`cacheScope` when they can be cached).

use serde_json::{json, Map, Value};

use super::rpc::RpcError;

/// Handshake versions the gateway negotiates, oldest first.
pub const HANDSHAKE_VERSIONS: [&str; 3] = ["2025-03-26", "2025-06-18", "2025-11-25"];
/// The stateless versions.
pub const STATELESS_VERSIONS: [&str; 1] = ["2026-07-28"];

pub const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
pub const META_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
pub const META_CLIENT_INFO: &str = "io.modelcontextprotocol/clientInfo";
pub const META_SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";

/// A stateless request's headers do not match its body.
pub const HEADER_MISMATCH: i64 = -32020;
/// The protocol version asked for is not served.
pub const UNSUPPORTED_VERSION: i64 = -32022;

/// Which generation a request belongs to, from its `MCP-Protocol-Version` header: absent
/// or a handshake version is the handshake generation (whose `initialize` carries no
/// header); anything else is stateless, and checked as such.
pub fn is_stateless(version_header: Option<&str>) -> bool {
    version_header.is_some_and(|v| !HANDSHAKE_VERSIONS.contains(&v) && v != "2024-11-05")
}

/// The version answered to an `initialize` asking for `asked`: the same when served, else
/// the newest handshake version (the client then decides whether it can go on).
pub fn negotiate(asked: Option<&str>) -> &'static str {
    HANDSHAKE_VERSIONS
        .iter()
        .find(|v| Some(**v) == asked)
        .copied()
        .unwrap_or(HANDSHAKE_VERSIONS[HANDSHAKE_VERSIONS.len() - 1])
}

/// The client's name and version, from a handshake's `clientInfo` or a stateless `_meta`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    pub name: String,
    pub version: String,
}

impl ClientInfo {
    pub fn from_value(v: Option<&Value>) -> Self {
        let text = |k: &str| {
            v.and_then(|v| v.get(k))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .chars()
                .take(100)
                .collect()
        };
        Self {
            name: text("name"),
            version: text("version"),
        }
    }

    /// `name/version`, or `unknown` for a client that did not say.
    pub fn label(&self) -> String {
        match (self.name.is_empty(), self.version.is_empty()) {
            (true, _) => "unknown".into(),
            (false, true) => self.name.clone(),
            (false, false) => format!("{}/{}", self.name, self.version),
        }
    }
}

/// The headers a stateless request came with.
#[derive(Debug, Clone, Copy, Default)]
pub struct RoutingHeaders<'a> {
    pub version: Option<&'a str>,
    pub method: Option<&'a str>,
    pub name: Option<&'a str>,
}

/// The parameter a method's `Mcp-Name` header repeats.
fn name_param(method: &str) -> Option<&'static str> {
    match method {
        "tools/call" | "prompts/get" => Some("name"),
        "resources/read" => Some("uri"),
        _ => None,
    }
}

/// `=?base64?...?=` wraps a value that is not plain printable ASCII.
fn decode_header_value(v: &str) -> Option<String> {
    use base64::Engine as _;
    match v
        .strip_prefix("=?base64?")
        .and_then(|r| r.strip_suffix("?="))
    {
        Some(b64) => base64::engine::general_purpose::STANDARD
            .decode(b64)
            .ok()
            .and_then(|b| String::from_utf8(b).ok()),
        None => Some(v.to_string()),
    }
}

/// Checks a stateless request as the specification orders it: the envelope in `_meta`,
/// headers that agree with the body, then a version the gateway serves. Returns the
/// client as `_meta` names it.
pub fn check_stateless(
    method: &str,
    params: &Value,
    headers: RoutingHeaders<'_>,
) -> Result<ClientInfo, RpcError> {
    let meta = params
        .get("_meta")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            RpcError::invalid_params(format!(
                "params._meta must be an object carrying {META_VERSION} and {META_CAPABILITIES}"
            ))
        })?;
    let missing: Vec<&str> = [META_VERSION, META_CAPABILITIES]
        .into_iter()
        .filter(|k| !meta.contains_key(*k))
        .collect();
    if !missing.is_empty() {
        return Err(RpcError::invalid_params(format!(
            "params._meta is missing {}",
            missing.join(", ")
        )));
    }
    let version = meta.get(META_VERSION).and_then(Value::as_str);
    if headers.version != version {
        return Err(RpcError::new(
            HEADER_MISMATCH,
            "the MCP-Protocol-Version header does not match params._meta's protocol version",
        ));
    }
    if headers.method != Some(method) {
        return Err(RpcError::new(
            HEADER_MISMATCH,
            "the Mcp-Method header does not match the request's method",
        ));
    }
    if let Some(key) = name_param(method) {
        if let Some(body) = params.get(key).and_then(Value::as_str) {
            let given = headers.name.and_then(decode_header_value);
            if given.as_deref() != Some(body) {
                return Err(RpcError::new(
                    HEADER_MISMATCH,
                    format!("the Mcp-Name header does not match the request's {key:?}"),
                ));
            }
        }
    }
    let version = version.unwrap_or_default();
    if !STATELESS_VERSIONS.contains(&version) {
        return Err(unsupported(version));
    }
    Ok(ClientInfo::from_value(meta.get(META_CLIENT_INFO)))
}

/// The refusal of a version the gateway does not serve, listing those it does.
pub fn unsupported(requested: &str) -> RpcError {
    let supported: Vec<&str> = STATELESS_VERSIONS
        .iter()
        .chain(HANDSHAKE_VERSIONS.iter().rev())
        .copied()
        .collect();
    RpcError::new(UNSUPPORTED_VERSION, "unsupported protocol version")
        .with_data(json!({"supported": supported, "requested": requested}))
}

/// Results a stateless client may cache carry how long and for whom.
fn is_cacheable(method: &str) -> bool {
    matches!(
        method,
        "tools/list"
            | "prompts/list"
            | "resources/list"
            | "resources/templates/list"
            | "resources/read"
            | "server/discover"
    )
}

/// A result as a stateless client expects it: `resultType`, cache hints (never cached:
/// what a user's servers offer changes when they enable one), and who answered.
pub fn stateless_result(method: &str, mut result: Value, server_info: &Value) -> Value {
    if !result.is_object() {
        result = Value::Object(Map::new());
    }
    if let Some(o) = result.as_object_mut() {
        o.entry("resultType").or_insert_with(|| json!("complete"));
        if is_cacheable(method) {
            o.entry("ttlMs").or_insert_with(|| json!(0));
            o.entry("cacheScope").or_insert_with(|| json!("private"));
        }
        let meta = o.entry("_meta").or_insert_with(|| json!({}));
        if let Some(m) = meta.as_object_mut() {
            m.insert(META_SERVER_INFO.into(), server_info.clone());
        }
    }
    result
}

/// What a handshake-generation client is not meant to see of a result: the stateless
/// generation's fields, which a server behind the gateway may send whatever it was asked.
pub fn handshake_result(mut result: Value) -> Value {
    if let Some(o) = result.as_object_mut() {
        for k in ["resultType", "ttlMs", "cacheScope"] {
            o.remove(k);
        }
    }
    result
}

/// Removes the stateless envelope from params before they go to a server that speaks the
/// handshake generation (the gateway's own connection), keeping `progressToken`.
pub fn strip_envelope(params: &mut Value) {
    if let Some(meta) = params.get_mut("_meta").and_then(Value::as_object_mut) {
        meta.retain(|k, _| !k.starts_with("io.modelcontextprotocol/"));
        if meta.is_empty() {
            if let Some(p) = params.as_object_mut() {
                p.remove("_meta");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> Value {
        json!({META_VERSION: "2026-07-28", META_CAPABILITIES: {}, META_CLIENT_INFO: {"name": "ide", "version": "1.2"}})
    }

    fn headers<'a>(method: &'a str, name: Option<&'a str>) -> RoutingHeaders<'a> {
        RoutingHeaders {
            version: Some("2026-07-28"),
            method: Some(method),
            name,
        }
    }

    #[test]
    fn the_generation_comes_from_the_version_header() {
        assert!(!is_stateless(None));
        assert!(!is_stateless(Some("2025-06-18")));
        assert!(is_stateless(Some("2026-07-28")));
        assert!(is_stateless(Some("2099-01-01")), "checked, then refused");
        assert_eq!(negotiate(Some("2025-03-26")), "2025-03-26");
        assert_eq!(negotiate(Some("2024-11-05")), "2025-11-25");
        assert_eq!(negotiate(None), "2025-11-25");
    }

    #[test]
    fn a_stateless_request_whose_headers_match_names_its_client() {
        let params = json!({"name": "echo", "_meta": meta()});
        let client = check_stateless("tools/call", &params, headers("tools/call", Some("echo")));
        assert_eq!(client.unwrap().label(), "ide/1.2");
        let wrapped = headers("tools/call", Some("=?base64?ZWNobw==?="));
        assert!(check_stateless("tools/call", &params, wrapped).is_ok());
    }

    #[test]
    fn mismatched_or_missing_headers_and_envelopes_are_refused_with_their_codes() {
        let params = json!({"name": "echo", "_meta": meta()});
        let code = |p: &Value, h| check_stateless("tools/call", p, h).unwrap_err().code;
        assert_eq!(
            code(&params, headers("tools/call", Some("other"))),
            HEADER_MISMATCH
        );
        assert_eq!(code(&params, headers("tools/call", None)), HEADER_MISMATCH);
        assert_eq!(
            code(&params, headers("tools/list", Some("echo"))),
            HEADER_MISMATCH
        );
        let old = RoutingHeaders {
            version: Some("2025-06-18"),
            ..headers("tools/call", Some("echo"))
        };
        assert_eq!(code(&params, old), HEADER_MISMATCH);
        assert_eq!(
            code(
                &json!({"name": "echo"}),
                headers("tools/call", Some("echo"))
            ),
            super::super::rpc::INVALID_PARAMS
        );
        let future = json!({"_meta": {META_VERSION: "2099-01-01", META_CAPABILITIES: {}}});
        let h = RoutingHeaders {
            version: Some("2099-01-01"),
            method: Some("tools/list"),
            name: None,
        };
        let e = check_stateless("tools/list", &future, h).unwrap_err();
        assert_eq!(e.code, UNSUPPORTED_VERSION);
        assert_eq!(
            e.data.unwrap()["supported"],
            json!(["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"])
        );
    }

    #[test]
    fn stateless_results_carry_their_type_cache_hints_and_server() {
        let info = json!({"name": "mcp-portal", "version": "0"});
        let r = stateless_result("tools/list", json!({"tools": []}), &info);
        assert_eq!(r["resultType"], "complete");
        assert_eq!(r["ttlMs"], 0);
        assert_eq!(r["cacheScope"], "private");
        assert_eq!(r["_meta"][META_SERVER_INFO], info);
        let call = stateless_result("tools/call", json!({"content": []}), &info);
        assert!(call.get("ttlMs").is_none());
        assert_eq!(handshake_result(r.clone()).get("resultType"), None);
        let mut p = json!({"name": "x", "_meta": meta()});
        strip_envelope(&mut p);
        assert_eq!(p, json!({"name": "x"}));
        let mut p = json!({"_meta": {"progressToken": 7, META_VERSION: "2026-07-28"}});
        strip_envelope(&mut p);
        assert_eq!(p, json!({"_meta": {"progressToken": 7}}));
    }
}
