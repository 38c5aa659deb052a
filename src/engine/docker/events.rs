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
            let (id, attributes) = e
                .actor
                .map(|a| (a.id.unwrap_or_default(), a.attributes.unwrap_or_default()))
                .unwrap_or_default();
            let name = attributes.get("name").cloned().unwrap_or_default();
            // Docker gives a container's labels among its event's attributes, with
            // `name`, `image` and `exitCode`; the portal's own labels are all it needs.
            let labels = attributes
                .into_iter()
                .filter(|(k, _)| {
                    k.strip_prefix(crate::plan::LABEL)
                        .is_some_and(|rest| rest.starts_with('.'))
                })
                .collect();
            Ok(EngineEvent {
                kind: e.typ.map(|t| t.to_string()).unwrap_or_default(),
                action: e.action.unwrap_or_default(),
                name,
                id,
                labels,
            })
        })
        .boxed()
}
