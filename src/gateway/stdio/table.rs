//! The routing table of one attachment: which upstream request id belongs to which
//! waiting call, and which progress token to which caller. Ids and tokens are the
//! gateway's own, so calls from many sessions never meet on the server.

use std::collections::HashMap;

use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use crate::gateway::rpc::RpcError;

pub(super) type Reply = oneshot::Sender<Result<Value, RpcError>>;

/// Where a call's progress goes, and the token its caller gave.
#[derive(Debug)]
struct Route {
    original: Value,
    to: mpsc::UnboundedSender<Value>,
}

/// A call in the table: its upstream id and, if it asked for progress, its upstream token.
#[derive(Debug)]
pub(super) struct Call {
    pub(super) id: String,
    pub(super) token: Option<String>,
}

#[derive(Debug)]
pub(super) struct Table {
    /// Unique to this attachment: two attachments on one container both see every answer.
    prefix: String,
    next: u64,
    /// Why the attachment ended, once it has.
    dead: Option<String>,
    pending: HashMap<String, Reply>,
    progress: HashMap<String, Route>,
}

impl Table {
    pub(super) fn new(prefix: String) -> Self {
        Self {
            prefix,
            next: 0,
            dead: None,
            pending: HashMap::new(),
            progress: HashMap::new(),
        }
    }

    /// Registers a call and gives it an upstream id. A progress token in `params._meta` is
    /// swapped for one of ours when `progress` is given, and removed when not (nobody
    /// would read the server's progress). Refused with the reason once the attachment ended.
    pub(super) fn open(
        &mut self,
        params: &mut Value,
        reply: Reply,
        progress: Option<mpsc::UnboundedSender<Value>>,
    ) -> Result<Call, String> {
        if let Some(why) = &self.dead {
            return Err(why.clone());
        }
        self.next += 1;
        let id = format!("{}{}", self.prefix, self.next);
        self.pending.insert(id.clone(), reply);
        let token = match (progress_meta(params), progress) {
            (Some(meta), Some(to)) => meta.remove("progressToken").map(|original| {
                let token = format!("{}progress-{}", self.prefix, self.next);
                meta.insert("progressToken".into(), Value::String(token.clone()));
                self.progress.insert(token.clone(), Route { original, to });
                token
            }),
            (Some(meta), None) => {
                meta.remove("progressToken");
                None
            }
            (None, _) => None,
        };
        Ok(Call { id, token })
    }

    /// Takes the waiting call an answer belongs to; `None` for an id that is not ours.
    pub(super) fn answer(&mut self, id: &Value) -> Option<Reply> {
        self.pending.remove(id.as_str()?)
    }

    /// For a progress notification of one of our calls: restores the caller's token in
    /// `message` and says where it goes.
    pub(super) fn progress(&self, message: &mut Value) -> Option<mpsc::UnboundedSender<Value>> {
        let token = message.get_mut("params")?.get_mut("progressToken")?;
        let route = self.progress.get(token.as_str()?)?;
        *token = route.original.clone();
        Some(route.to.clone())
    }

    /// Forgets a call; true when it was still waiting for its answer.
    pub(super) fn close(&mut self, call: &Call) -> bool {
        if let Some(token) = &call.token {
            self.progress.remove(token);
        }
        self.pending.remove(&call.id).is_some()
    }

    pub(super) fn dead(&self) -> Option<&str> {
        self.dead.as_deref()
    }

    /// Marks the attachment ended and hands back every waiting call; `None` if it had
    /// ended already.
    pub(super) fn kill(&mut self, why: String) -> Option<Vec<Reply>> {
        if self.dead.is_some() {
            return None;
        }
        self.dead = Some(why);
        self.progress.clear();
        Some(self.pending.drain().map(|(_, reply)| reply).collect())
    }

    #[cfg(test)]
    pub(super) fn waiting(&self) -> (usize, usize) {
        (self.pending.len(), self.progress.len())
    }
}

fn progress_meta(params: &mut Value) -> Option<&mut serde_json::Map<String, Value>> {
    let meta = params.get_mut("_meta")?.as_object_mut()?;
    meta.contains_key("progressToken").then_some(meta)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn each_call_gets_its_own_id_and_token_and_progress_finds_its_caller() {
        let mut table = Table::new("gw-".into());
        let (to, mut got) = mpsc::unbounded_channel();
        let mut params = json!({"name": "sleep", "_meta": {"progressToken": 7, "other": true}});
        let a = table
            .open(&mut params, oneshot::channel().0, Some(to))
            .unwrap();
        let b = table
            .open(&mut json!({}), oneshot::channel().0, None)
            .unwrap();
        assert_eq!((a.id.as_str(), b.id.as_str()), ("gw-1", "gw-2"));
        assert_eq!(a.token.as_deref(), Some("gw-progress-1"));
        assert_eq!(
            params,
            json!({"name": "sleep", "_meta": {"progressToken": "gw-progress-1", "other": true}})
        );

        let mut note = json!({"method": "notifications/progress", "params": {"progressToken": "gw-progress-1", "progress": 1}});
        table
            .progress(&mut note)
            .unwrap()
            .send(note.clone())
            .unwrap();
        assert_eq!(
            got.try_recv().unwrap()["params"],
            json!({"progressToken": 7, "progress": 1})
        );
        let mut stranger = json!({"params": {"progressToken": "gw-progress-9"}});
        assert!(table.progress(&mut stranger).is_none());

        assert!(table.close(&a));
        assert!(!table.close(&a));
        assert_eq!(table.waiting(), (1, 0));
    }

    #[test]
    fn a_token_without_a_listener_is_removed_so_the_server_sends_no_progress() {
        let mut table = Table::new("gw-".into());
        let mut params = json!({"_meta": {"progressToken": "t"}});
        let call = table.open(&mut params, oneshot::channel().0, None).unwrap();
        assert_eq!(call.token, None);
        assert_eq!(params, json!({"_meta": {}}));
    }

    #[test]
    fn once_killed_the_table_hands_back_its_calls_and_refuses_new_ones() {
        let mut table = Table::new("gw-".into());
        let call = table
            .open(&mut Value::Null, oneshot::channel().0, None)
            .unwrap();
        assert_eq!(
            table.kill("its container exited".into()).map(|r| r.len()),
            Some(1)
        );
        assert!(table.kill("again".into()).is_none());
        assert!(!table.close(&call));
        assert_eq!(
            table
                .open(&mut Value::Null, oneshot::channel().0, None)
                .unwrap_err(),
            "its container exited"
        );
        assert_eq!(table.answer(&json!(call.id)).map(drop), None);
    }
}
