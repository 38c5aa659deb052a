//! One user's live events, the token's own (an admin may name another with `?user=`),
//! as `GET /api/v1/events` (server-sent events) and `GET /api/v1/ws` (a WebSocket, in
//! `ws.rs`). Both subscribe to the portal's event channel and keep their user's events:
//! pushed as they happen, nothing polled. A stream begins with its user's current state
//! (and begins again so when it fell behind the channel); it ends at once when its
//! token is revoked through the API, and within `TOKEN_CHECK` when it expires or is
//! revoked on the host. A token holds at most `MCP_PORTAL_EVENT_STREAMS_PER_TOKEN`
//! streams at once.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::Query;
use axum::http::HeaderMap;
use axum::response::sse::{self, KeepAlive, Sse};
use futures_util::Stream;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::broadcast::Receiver;

use super::{parse, S};
use crate::api::auth::Need;
use crate::api::{ApiError, ApiState};
use crate::engine::Engine;
use crate::ids::UserId;
use crate::manager::{Event, Signal};

/// How often a stream checks that its token is still in force (expiry, a revocation
/// made on the host, the user removed); a revocation through the API ends it at once.
const TOKEN_CHECK: Duration = Duration::from_secs(2);

/// How long a refused stream is told to wait before it tries again.
const RETRY_AFTER_SECS: u64 = 2;

/// A comment this often on a quiet stream, so that a client gone away is noticed (and
/// its slot freed) within seconds.
const KEEP_ALIVE: Duration = Duration::from_secs(5);

/// The event streams each token holds open.
#[derive(Debug)]
pub(crate) struct StreamCount {
    open: Arc<Mutex<HashMap<String, usize>>>,
    max: usize,
}

/// One open stream of a token; dropping it (the stream ended) frees the slot.
pub(super) struct Slot {
    open: Arc<Mutex<HashMap<String, usize>>>,
    token: String,
}

impl StreamCount {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            open: Arc::default(),
            max,
        }
    }

    /// A slot for one more stream of `token`, unless it holds `max` already.
    pub(super) fn claim(&self, token: &str) -> Result<Slot, ApiError> {
        // A poisoned lock only means a stream panicked mid-update: the counts stand.
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(token.to_string()).or_default();
        if *n >= self.max {
            return Err(ApiError::rate_limited(
                format!(
                    "this token has {} event streams open already; close one, or raise MCP_PORTAL_EVENT_STREAMS_PER_TOKEN",
                    self.max
                ),
                RETRY_AFTER_SECS,
            ));
        }
        *n += 1;
        Ok(Slot {
            open: Arc::clone(&self.open),
            token: token.to_string(),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.token) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.token);
            }
        }
    }
}

/// One open stream of one user's events.
pub(super) struct Subscription<E> {
    state: Arc<ApiState<E>>,
    /// The token the stream was opened with.
    token: String,
    user: UserId,
    rx: Receiver<Arc<Signal>>,
    /// Events to send before the next one from the channel.
    pending: VecDeque<Event>,
    check: tokio::time::Interval,
    _slot: Slot,
}

impl<E: Engine + 'static> Subscription<E> {
    /// Authorizes a stream (of `?user=`, or the token's own user) and takes one of the
    /// token's places. With `session`, a dashboard's session cookie stands for a token
    /// (the SSE route only, a GET that changes nothing).
    pub(super) async fn open(
        state: &S<E>,
        headers: &HeaderMap,
        q: EventsQuery,
        session: bool,
    ) -> Result<Self, ApiError> {
        let (token, user) = if session {
            authorize_session(state, headers, q).await?
        } else {
            authorize(state, headers, q)?
        };
        let slot = state.streams.claim(&token)?;
        Ok(Self::start(Arc::clone(&state.0), token, user, slot).await)
    }

    async fn start(state: Arc<ApiState<E>>, token: String, user: UserId, slot: Slot) -> Self {
        // Subscribed before the state is read, so no change between the two is lost.
        let rx = state.portal.events().subscribe();
        // The catalogs as they are now become what later changes are told against (a
        // change the CLI made on the host is found by the daemon's next pass).
        let portal = state.portal.clone();
        let _ = tokio::task::spawn_blocking(move || portal.catch_up()).await;
        let mut check = tokio::time::interval(TOKEN_CHECK);
        check.reset();
        let mut s = Self {
            state,
            token,
            user,
            rx,
            pending: VecDeque::new(),
            check,
            _slot: slot,
        };
        s.resync().await;
        s
    }

    /// The user's whole state now: each container's status, then their resources.
    async fn resync(&mut self) {
        self.pending.clear();
        if let Ok(states) = self.state.rt.current_states(&self.user).await {
            self.pending.extend(states);
        }
        if let Ok(usage) = self.state.rt.usage(Some(&self.user)).await {
            self.pending.extend(usage);
        }
    }

    /// Whether the stream's token still works (not revoked or expired, its user there).
    async fn token_in_force(&self) -> bool {
        let portal = self.state.portal.clone();
        let id = self.token.clone();
        tokio::task::spawn_blocking(move || portal.token_in_force(&id))
            .await
            .unwrap_or(false)
    }

    /// The user's next event; `None` when the stream is to end.
    pub(super) async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(e) = self.pending.pop_front() {
                return Some(e);
            }
            tokio::select! {
                got = self.rx.recv() => match step(got, &self.user, &self.token) {
                    Step::Send(e) => return Some(e),
                    Step::Skip => {}
                    Step::Resync => {
                        tracing::debug!(user = %self.user, "event stream lagged; resyncing");
                        self.resync().await;
                    }
                    Step::End => return None,
                },
                _ = self.check.tick() => {
                    if !self.token_in_force().await {
                        return None;
                    }
                }
            }
        }
    }
}

/// What one message from the channel means for a stream.
#[derive(Debug, PartialEq)]
enum Step {
    /// The stream's user's event.
    Send(Event),
    /// Another user's event, or another token revoked.
    Skip,
    /// Fallen behind the channel: what was missed is replaced by the state now.
    Resync,
    /// The stream's token was revoked, or the portal is going away.
    End,
}

fn step(got: Result<Arc<Signal>, RecvError>, user: &UserId, token: &str) -> Step {
    match got {
        Ok(signal) => match &*signal {
            Signal::Event(e) if e.user() == user => Step::Send(e.clone()),
            Signal::TokenRevoked(id) if id == token => Step::End,
            _ => Step::Skip,
        },
        Err(RecvError::Lagged(_)) => Step::Resync,
        Err(RecvError::Closed) => Step::End,
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct EventsQuery {
    user: Option<String>,
}

/// The token's id and the user whose events it may follow.
fn authorize<E: Engine + 'static>(
    state: &S<E>,
    headers: &HeaderMap,
    q: EventsQuery,
) -> Result<(String, UserId), ApiError> {
    let asked = q
        .user
        .map(|u| parse("user", &u, UserId::parse))
        .transpose()?;
    let token = match &asked {
        Some(u) => state.authorize(headers, Need::User(u))?,
        None => state.authorize(headers, Need::Any)?,
    };
    Ok((token.id, asked.unwrap_or(token.user)))
}

/// As [`authorize`], taking a dashboard session's token when no bearer token is given.
async fn authorize_session<E: Engine + 'static>(
    state: &S<E>,
    headers: &HeaderMap,
    q: EventsQuery,
) -> Result<(String, UserId), ApiError> {
    let asked = q
        .user
        .map(|u| parse("user", &u, UserId::parse))
        .transpose()?;
    let token = match &asked {
        Some(u) => state.authorize_stream(headers, Need::User(u)).await?,
        None => state.authorize_stream(headers, Need::Any).await?,
    };
    Ok((token.id, asked.unwrap_or(token.user)))
}

pub(super) fn authorized<E: Engine + 'static>(
    state: &S<E>,
    headers: &HeaderMap,
    q: EventsQuery,
) -> Result<(), ApiError> {
    authorize(state, headers, q).map(|_| ())
}

fn sse_event(e: &Event) -> sse::Event {
    sse::Event::default()
        .event(e.name())
        .json_data(e.data())
        .unwrap_or_default()
}

pub(super) async fn events<E: Engine + 'static>(
    state: S<E>,
    headers: HeaderMap,
    Query(q): Query<EventsQuery>,
) -> Result<Sse<impl Stream<Item = Result<sse::Event, Infallible>>>, ApiError> {
    let sub = Subscription::open(&state, &headers, q, true).await?;
    let stream = futures_util::stream::unfold(sub, |mut sub| async move {
        let e = sub.next().await?;
        Some((Ok(sse_event(&e)), sub))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manager::{EventHub, Limits, Resources};

    fn usage(user: &str) -> Event {
        Event::ResourceUsageUpdate {
            user_id: UserId::parse(user).unwrap(),
            resources: Resources::default(),
            limits: Limits::default(),
        }
    }

    #[tokio::test]
    async fn a_stream_keeps_its_users_events_and_ends_with_its_own_token() {
        let hub = EventHub::default();
        let mut rx = hub.subscribe();
        let me = UserId::parse("u1").unwrap();
        hub.event(usage("u2"));
        hub.event(usage("u1"));
        hub.publish(Signal::TokenRevoked("other".into()));
        hub.publish(Signal::TokenRevoked("mine".into()));
        let mut steps = Vec::new();
        for _ in 0..4 {
            steps.push(step(rx.recv().await, &me, "mine"));
        }
        assert_eq!(
            steps,
            [Step::Skip, Step::Send(usage("u1")), Step::Skip, Step::End]
        );
    }

    #[tokio::test]
    async fn a_stream_that_fell_behind_resyncs_and_goes_on() {
        let hub = EventHub::default();
        let mut rx = hub.subscribe();
        let me = UserId::parse("u1").unwrap();
        for _ in 0..2000 {
            hub.event(usage("u2"));
        }
        hub.event(usage("u1"));
        assert_eq!(step(rx.recv().await, &me, "mine"), Step::Resync);
        let mut next = step(rx.recv().await, &me, "mine");
        while next == Step::Skip {
            next = step(rx.recv().await, &me, "mine");
        }
        assert_eq!(next, Step::Send(usage("u1")));
    }
}
