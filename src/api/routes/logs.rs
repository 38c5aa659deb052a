//! `GET /api/v1/users/{user}/servers/{server}/logs`: a server's log as server-sent events,
//! `log` events of `{stream, line}` with the user's secret values masked, then `end` (or
//! `error`, with the API's error body, when the log breaks off). The same access rules as
//! the user's other routes; a followed log counts as one of the token's event streams,
//! and ends when the token stops being in force.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::{Stream, StreamExt};
use serde::Deserialize;
use serde_json::json;

use super::user::user_server;
use super::S;
use crate::api::auth::Need;
use crate::api::ApiError;
use crate::engine::{Engine, LogsQuery};
use crate::error::ErrorClass;

/// How often a followed log checks that its token is still in force.
const RECHECK: Duration = Duration::from_secs(2);

/// A followed log and what it re-checks.
struct Watch {
    lines:
        futures_util::stream::BoxStream<'static, crate::manager::Result<crate::manager::LogLine>>,
    portal: crate::manager::Portal,
    token: String,
    tick: tokio::time::Interval,
}

#[derive(Debug, Deserialize)]
pub(super) struct LogsParams {
    #[serde(default)]
    follow: bool,
    tail: Option<u64>,
    /// Unix seconds, or an RFC 3339 time.
    since: Option<String>,
}

fn since(s: &str) -> Result<i64, ApiError> {
    s.parse::<i64>()
        .or_else(|_| s.parse::<jiff::Timestamp>().map(|t| t.as_second()))
        .map_err(|_| {
            ApiError::usage(format!(
                "query: since {s:?} is neither Unix seconds nor an RFC 3339 time"
            ))
        })
}

fn error_event(e: ApiError) -> Event {
    let body = json!({"error": {"code": e.class.api_code(), "message": e.message}});
    Event::default().event("error").data(body.to_string())
}

pub(super) async fn logs<E: Engine + 'static>(
    state: S<E>,
    Path((user, server)): Path<(String, String)>,
    Query(q): Query<LogsParams>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let (user, server) = user_server(&user, &server)?;
    let token = state.authorize_stream(&headers, Need::User(&user)).await?;
    let query = LogsQuery {
        follow: q.follow,
        tail: q.tail,
        since: q.since.as_deref().map(since).transpose()?,
    };
    let slot = state.streams.claim(&token.id)?;
    let lines = state.rt.logs(&user, &server, query).await?;
    let watch = Watch {
        lines,
        portal: state.portal.clone(),
        token: token.id,
        tick: tokio::time::interval_at(tokio::time::Instant::now() + RECHECK, RECHECK),
    };
    // Each step: the next line, unless the token stopped being in force first; checked
    // every RECHECK also while the log is quiet, so a revoked token ends a followed log.
    let events = futures_util::stream::unfold(Some(watch), |w| async move {
        let mut w = w?;
        loop {
            tokio::select! {
                line = w.lines.next() => return line.map(|l| (l, Some(w))),
                _ = w.tick.tick() => {
                    let (portal, id) = (w.portal.clone(), w.token.clone());
                    let in_force = tokio::task::spawn_blocking(move || portal.token_in_force(&id))
                        .await
                        .unwrap_or(false);
                    if !in_force {
                        return None;
                    }
                }
            }
        }
    })
    .map(|line| match line {
        Ok(l) => Event::default()
            .event("log")
            .json_data(&l)
            .unwrap_or_else(|e| error_event(ApiError::new(ErrorClass::Internal, e.to_string()))),
        Err(e) => error_event(e.into()),
    })
    .chain(futures_util::stream::once(async move {
        drop(slot);
        Event::default().event("end").data("{}")
    }))
    .map(Ok);
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(5))))
}
