//! Docker's event stream, narrowed to managed containers and networks.

use bollard::query_parameters::EventsOptionsBuilder;
use bollard::Docker;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;

use super::label_filters;
use crate::engine::{EngineError, EngineEvent};

pub(super) fn events(
    docker: &Docker,
    labels: &[(&str, &str)],
) -> BoxStream<'static, Result<EngineEvent, EngineError>> {
    let mut filters = label_filters(labels);
    filters.insert("type".into(), vec!["container".into(), "network".into()]);
    let options = EventsOptionsBuilder::default().filters(&filters).build();
    docker
        .events(Some(options))
        .map(|item| {
            let e = item.map_err(|e| EngineError::Unreachable {
                detail: e.to_string(),
            })?;
            let attributes = e.actor.and_then(|a| a.attributes).unwrap_or_default();
            Ok(EngineEvent {
                kind: e.typ.map(|t| t.to_string()).unwrap_or_default(),
                action: e.action.unwrap_or_default(),
                name: attributes.get("name").cloned().unwrap_or_default(),
            })
        })
        .boxed()
}
