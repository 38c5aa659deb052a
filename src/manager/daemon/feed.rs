//! What the daemon tells the API's event streams as it happens: a container's state
//! change, from the Docker event that reports it (the follower in `watch` hands each
//! event here before the run loop sees it), and each user's resources, sampled once per interval for every stream at
//! once (one stats call per running container) and sent when they changed. The
//! sampler is a task of its own, so slow stats never hold back the run loop.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::Daemon;
use crate::engine::{ContainerInfo, Engine, EngineEvent};
use crate::ids::UserId;
use crate::manager::{Event, EventHub, Portal, Runtime, UNKNOWN_STATUS};
use crate::plan::{LABEL_SERVER, LABEL_USER};

/// How often each user's resources are looked at.
pub(super) const USAGE_SAMPLE: Duration = Duration::from_secs(2);

/// What each managed container was last seen as.
#[derive(Debug, Default)]
pub(super) struct Feed {
    states: std::sync::Mutex<HashMap<String, String>>,
}

/// The container state a Docker event leaves behind, for the events that change it.
fn state_after(action: &str) -> Option<&'static str> {
    Some(match action {
        "create" => "created",
        "start" | "restart" | "unpause" => "running",
        "die" => "exited",
        "pause" => "paused",
        "destroy" => "removed",
        _ => return None,
    })
}

impl Feed {
    /// A container event as SERVER_STATUS_CHANGED, when it changed the state.
    pub(super) fn status(&self, events: &EventHub, e: &EngineEvent) {
        // A server's egress proxy carries its labels, but is not the server.
        if e.kind != "container"
            || e.labels.get(crate::plan::LABEL_ROLE).map(String::as_str)
                == Some(crate::plan::ROLE_EGRESS)
        {
            return;
        }
        let Some(new) = state_after(&e.action) else {
            return;
        };
        let Some(user) = e.labels.get(LABEL_USER).and_then(|u| UserId::parse(u).ok()) else {
            return;
        };
        let old = {
            // A poisoned lock only means a feeder panicked mid-update: the map stands.
            let mut states = self.states.lock().unwrap_or_else(|p| p.into_inner());
            let old = if new == "removed" {
                states.remove(&e.id)
            } else {
                states.insert(e.id.clone(), new.to_string())
            };
            old.unwrap_or_else(|| UNKNOWN_STATUS.to_string())
        };
        if old == new {
            return;
        }
        events.event(Event::ServerStatusChanged {
            user_id: user,
            server_id: e.labels.get(LABEL_SERVER).cloned().unwrap_or_default(),
            old_status: old,
            new_status: new.to_string(),
            container_id: e.id.clone(),
            timestamp: Portal::now(),
        });
    }
}

impl<E: Engine + 'static> Daemon<E> {
    /// Learns the state of containers that no event has told of yet (those there when
    /// the daemon started), so that their first change has an `old_status`, and forgets
    /// those gone without an event seen (so the record stays the size of the listing).
    pub(super) fn seed_states(&self, containers: &[ContainerInfo]) {
        let mut states = self.feed.states.lock().unwrap_or_else(|p| p.into_inner());
        let listed: std::collections::HashSet<&str> =
            containers.iter().map(|c| c.id.as_str()).collect();
        states.retain(|id, _| listed.contains(id.as_str()));
        for c in containers {
            states
                .entry(c.id.clone())
                .or_insert_with(|| c.state.clone());
        }
    }
}

/// Each user's resources every `USAGE_SAMPLE`, sent to their streams when they changed
/// since the last sample; nothing is measured while no stream listens and no scraper
/// came lately.
pub(super) async fn sample<E: Engine + 'static>(rt: Arc<Runtime<E>>) {
    let mut tick = tokio::time::interval(USAGE_SAMPLE);
    let mut last: HashMap<UserId, Event> = HashMap::new();
    loop {
        tick.tick().await;
        let events = rt.portal().events();
        // Measured for a listening stream, and for a scraper's next `GET /metrics`.
        if !events.listened() && !rt.portal().metrics().scraped_lately() {
            last.clear();
            continue;
        }
        if let Err(e) = rt.measure().await {
            tracing::debug!(error = %e, "cannot measure resource usage");
        }
        let usage = match rt.usage(None).await {
            Ok(u) => u,
            Err(e) => {
                tracing::debug!(error = %e, "cannot sample resource usage");
                continue;
            }
        };
        for e in usage {
            if last.get(e.user()) != Some(&e) {
                last.insert(e.user().clone(), e.clone());
                events.event(e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::state_after;

    #[test]
    fn only_events_that_change_a_containers_state_have_one() {
        assert_eq!(state_after("start"), Some("running"));
        assert_eq!(state_after("die"), Some("exited"));
        assert_eq!(state_after("destroy"), Some("removed"));
        assert_eq!(state_after("kill"), None);
        assert_eq!(state_after("exec_start: sh"), None);
    }
}
