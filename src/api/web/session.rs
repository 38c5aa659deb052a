//! The dashboard's sessions: a signed-in browser holds an opaque random id in an
//! HttpOnly, SameSite=Strict cookie; the id maps, in this process's memory only, to the
//! API token it was exchanged for and to the session's CSRF token. Nothing secret is in
//! the cookie but the id, and a restart of `portalctl serve` ends every session.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aes_gcm::aead::rand_core::RngCore;
use aes_gcm::aead::OsRng;
use axum::http::HeaderMap;

use crate::store::TokenRecord;

/// The cookie's name.
pub(crate) const COOKIE: &str = "portal_session";
/// The form field that carries the CSRF token.
pub(crate) const CSRF_FIELD: &str = "csrf";
/// A session unused this long is forgotten (the token's own expiry ends it sooner).
const IDLE: Duration = Duration::from_secs(12 * 3600);
/// At most this many sessions are kept; the least recently used goes first.
const MAX_SESSIONS: usize = 10_000;

/// One signed-in browser.
#[derive(Clone)]
pub(crate) struct Session {
    pub id: String,
    pub token: TokenRecord,
    pub csrf: String,
    used: Instant,
    /// What the last form did, shown once on the page it redirected to.
    notice: Option<Notice>,
}

/// The outcome of a form, for the next page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Notice {
    Ok(String),
    Failed(String),
}

// The session id and CSRF token are bearer secrets of the browser: never printed.
impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("token_id", &self.token.id)
            .field("user", &self.token.user)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
pub(crate) struct Sessions {
    map: Mutex<HashMap<String, Session>>,
    /// Served over TLS: the cookie is marked Secure.
    secure: AtomicBool,
}

fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Compares two strings in time independent of where they differ.
pub(crate) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl Sessions {
    pub(crate) fn set_secure(&self, secure: bool) {
        self.secure.store(secure, Ordering::Relaxed);
    }

    pub(crate) fn is_secure(&self) -> bool {
        self.secure.load(Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        // A poisoned lock only means a request panicked mid-update of a plain map.
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new session for `token`.
    pub(crate) fn open(&self, token: TokenRecord) -> Session {
        let session = Session {
            id: random_hex(),
            token,
            csrf: random_hex(),
            used: Instant::now(),
            notice: None,
        };
        let mut map = self.lock();
        map.retain(|_, s| s.used.elapsed() < IDLE);
        if map.len() >= MAX_SESSIONS {
            if let Some(oldest) = map.values().min_by_key(|s| s.used).map(|s| s.id.clone()) {
                map.remove(&oldest);
            }
        }
        map.insert(session.id.clone(), session.clone());
        session
    }

    /// The session the request's cookie names, if it is one of ours and in use.
    pub(crate) fn find(&self, headers: &HeaderMap) -> Option<Session> {
        let id = cookie(headers)?;
        let mut map = self.lock();
        let s = map.get_mut(&id)?;
        if s.used.elapsed() >= IDLE {
            map.remove(&id);
            return None;
        }
        s.used = Instant::now();
        Some(s.clone())
    }

    /// Keeps `notice` for the session's next page.
    pub(crate) fn notice(&self, id: &str, notice: Notice) {
        if let Some(s) = self.lock().get_mut(id) {
            s.notice = Some(notice);
        }
    }

    /// The notice kept for this page, once.
    pub(crate) fn take_notice(&self, id: &str) -> Option<Notice> {
        self.lock().get_mut(id).and_then(|s| s.notice.take())
    }

    pub(crate) fn close(&self, id: &str) {
        self.lock().remove(id);
    }

    /// The `Set-Cookie` value that hands a browser its session.
    pub(crate) fn set_cookie(&self, s: &Session) -> String {
        let secure = if self.secure.load(Ordering::Relaxed) {
            "; Secure"
        } else {
            ""
        };
        format!(
            "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict{secure}",
            s.id
        )
    }

    /// The `Set-Cookie` value that makes a browser forget its session.
    pub(crate) fn clear_cookie(&self) -> String {
        format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
    }
}

/// The session id from the request's `Cookie` headers.
pub(crate) fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{TokenRole, TokenScope};

    fn token() -> TokenRecord {
        TokenRecord {
            id: "t1".into(),
            user: crate::ids::UserId::parse("u1").unwrap(),
            role: TokenRole::User,
            scope: TokenScope::Api,
            sha256: "x".into(),
            created_at: jiff::Timestamp::UNIX_EPOCH,
            expires_at: None,
        }
    }

    #[test]
    fn a_session_is_found_by_its_cookie_and_gone_once_closed() {
        let sessions = Sessions::default();
        let s = sessions.open(token());
        let mut headers = HeaderMap::new();
        headers.insert(
            axum::http::header::COOKIE,
            format!("other=1; {COOKIE}={}", s.id).parse().unwrap(),
        );
        assert_eq!(sessions.find(&headers).unwrap().token.id, "t1");
        sessions.close(&s.id);
        assert!(sessions.find(&headers).is_none());
    }

    #[test]
    fn the_cookie_is_http_only_strict_and_secure_over_tls() {
        let sessions = Sessions::default();
        let s = sessions.open(token());
        let plain = sessions.set_cookie(&s);
        assert!(plain.contains("HttpOnly") && plain.contains("SameSite=Strict"));
        assert!(!plain.contains("Secure"));
        sessions.set_secure(true);
        assert!(sessions.set_cookie(&s).ends_with("; Secure"));
    }

    #[test]
    fn two_sessions_have_different_ids_and_csrf_tokens() {
        let sessions = Sessions::default();
        let (a, b) = (sessions.open(token()), sessions.open(token()));
        assert_ne!(a.id, b.id);
        assert_ne!(a.csrf, b.csrf);
        assert!(!format!("{a:?}").contains(&a.id));
    }
}
