//! Attaching to a container's stdio: the path by which the gateway speaks to stdio MCP
//! servers.

use bollard::container::LogOutput;
use bollard::query_parameters::AttachContainerOptionsBuilder;
use bollard::Docker;
use futures_util::StreamExt;

use super::errors::docker_err;
use crate::engine::{Attached, EngineError, Output};

/// Attaches with `logs=false`: replaying old output would hand the gateway answers meant
/// for an earlier attachment. The default detach keys (ctrl-p ctrl-q) cannot end the
/// attachment by accident, since serialized JSON escapes every control character.
pub(super) async fn attach(docker: &Docker, name: &str) -> Result<Attached, EngineError> {
    let options = AttachContainerOptionsBuilder::default()
        .stdin(true)
        .stdout(true)
        .stderr(true)
        .stream(true)
        .logs(false)
        .build();
    let attached = docker
        .attach_container(name, Some(options))
        .await
        .map_err(docker_err("attach to container", name))?;
    let container = name.to_string();
    let output = attached
        .output
        .filter_map(move |item| {
            let chunk = match item {
                Ok(LogOutput::StdOut { message }) | Ok(LogOutput::Console { message }) => {
                    Some(Ok(Output::Stdout(message.to_vec())))
                }
                Ok(LogOutput::StdErr { message }) => Some(Ok(Output::Stderr(message.to_vec()))),
                // Docker never echoes stdin on an attachment without a TTY.
                Ok(LogOutput::StdIn { .. }) => None,
                Err(e) => Some(Err(docker_err("read the output of container", &container)(
                    e,
                ))),
            };
            std::future::ready(chunk)
        })
        .boxed();
    Ok(Attached {
        input: attached.input,
        output,
    })
}
