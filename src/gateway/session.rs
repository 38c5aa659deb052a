//! Sessions of the handshake generation: made by `initialize`, named by `Mcp-Session-Id`,
//! bound to the token's user (another user's session id is unknown to them), ended by
//! DELETE or after the idle time. Each knows its client and its calls in flight, so that
//! `notifications/cancelled` can stop one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aes_gcm::aead::rand_core::RngCore;
use aes_gcm::aead::OsRng;
use tokio::task::AbortHandle;

use super::protocol::ClientInfo;
use crate::ids::{ServerId, UserId};

#[derive(Debug)]
pub struct Session {
    pub id: String,
    /// The id of the token that made it: the session ends when the token does.
    token: String,
    pub user: UserId,
    /// `/mcp/{server}` sessions see that server alone.
    pub only: Option<ServerId>,
    pub version: String,
    pub client: ClientInfo,
    used: Mutex<Instant>,
    in_flight: Mutex<HashMap<String, AbortHandle>>,
    /// Open GET streams: a client listening is not idle.
    streams: AtomicUsize,
}

/// Held by a call's task: the session forgets the call when the task ends.
#[derive(Debug)]
pub struct ForgetCall(Arc<Session>, String);

impl Drop for ForgetCall {
    fn drop(&mut self) {
        self.0.finished(&self.1);
    }
}

/// Held by a session's open GET stream; the session counts as busy until it drops.
#[derive(Debug)]
pub struct StreamGuard(Arc<Session>);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.streams.fetch_sub(1, Ordering::Relaxed);
        self.0.touch();
    }
}

impl Session {
    fn touch(&self) {
        *self.used.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
    }

    /// How long the session has done nothing: zero while a call runs or a stream is open,
    /// so that a long call is never swept from under its client.
    fn idle_for(&self) -> Duration {
        let busy = self.streams.load(Ordering::Relaxed) > 0
            || !self
                .in_flight
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .is_empty();
        if busy {
            return Duration::ZERO;
        }
        self.used
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .elapsed()
    }

    /// Remembers a call in flight under its JSON-RPC id, for cancellation.
    pub fn started(&self, id: String, handle: AbortHandle) {
        let mut calls = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        calls.insert(id, handle);
    }

    pub fn finished(&self, id: &str) {
        let mut calls = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        calls.remove(id);
        drop(calls);
        self.touch();
    }

    /// Forgets the call `id` when the returned value drops (its task ended).
    pub fn forget_on_drop(self: &Arc<Self>, id: String) -> ForgetCall {
        ForgetCall(Arc::clone(self), id)
    }

    /// Marks a GET stream open until the guard drops.
    pub fn stream(self: &Arc<Self>) -> StreamGuard {
        self.streams.fetch_add(1, Ordering::Relaxed);
        StreamGuard(Arc::clone(self))
    }

    /// Stops a call in flight: dropping it cancels it at the server.
    pub fn cancel(&self, id: &str) {
        let mut calls = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(h) = calls.remove(id) {
            h.abort();
        }
    }

    fn cancel_all(&self) {
        let mut calls = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        for (_, h) in calls.drain() {
            h.abort();
        }
    }
}

#[derive(Debug, Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Arc<Session>>>,
}

impl Sessions {
    pub fn create(
        &self,
        token: &str,
        user: &UserId,
        only: Option<ServerId>,
        version: &str,
        client: ClientInfo,
    ) -> Arc<Session> {
        let mut bytes = [0u8; 16];
        OsRng.fill_bytes(&mut bytes);
        let session = Arc::new(Session {
            id: hex::encode(bytes),
            token: token.to_string(),
            user: user.clone(),
            only,
            version: version.to_string(),
            client,
            used: Mutex::new(Instant::now()),
            in_flight: Mutex::new(HashMap::new()),
            streams: AtomicUsize::new(0),
        });
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.insert(session.id.clone(), Arc::clone(&session));
        session
    }

    /// The session, if it exists and is this user's on this endpoint.
    pub fn get(&self, id: &str, user: &UserId, only: Option<&ServerId>) -> Option<Arc<Session>> {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let s = map
            .get(id)
            .filter(|s| &s.user == user && s.only.as_ref() == only)?;
        s.touch();
        Some(Arc::clone(s))
    }

    /// Ends a session, cancelling its calls; false when it was not there.
    pub fn remove(&self, id: &str) -> bool {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        match map.remove(id) {
            Some(s) => {
                s.cancel_all();
                true
            }
            None => false,
        }
    }

    /// Ends the sessions unused for `idle`.
    /// Drops sessions idle for `idle`, and those whose token is no longer `in_force`
    /// (revoked, expired, or its user removed), even with a stream open.
    pub fn sweep(&self, idle: Duration, in_force: impl Fn(&str) -> bool) -> usize {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let before = map.len();
        map.retain(|_, s| {
            let keep = s.idle_for() < idle && in_force(&s.token);
            if !keep {
                s.cancel_all();
            }
            keep
        });
        before - map.len()
    }

    pub fn exists(&self, id: &str) -> bool {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(id)
    }

    pub fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
