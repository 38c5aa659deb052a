//! A container's log, as `docker logs` reads it: both streams, from the start, the last
//! lines or a time on, and followed if asked.

use bollard::container::LogOutput;
use bollard::query_parameters::LogsOptions;
use bollard::Docker;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;

use super::errors::docker_err;
use crate::engine::{EngineError, LogsQuery, Output};

pub(super) fn logs(
    docker: &Docker,
    name: &str,
    q: &LogsQuery,
) -> BoxStream<'static, Result<Output, EngineError>> {
    let options = LogsOptions {
        follow: q.follow,
        stdout: true,
        stderr: true,
        // Docker's API takes seconds as a 32-bit number; later times are far off.
        since: q.since.map_or(0, |s| i32::try_from(s).unwrap_or(i32::MAX)),
        until: 0,
        timestamps: false,
        tail: q.tail.map_or_else(|| "all".to_string(), |n| n.to_string()),
    };
    let container = name.to_string();
    docker
        .logs(name, Some(options))
        .filter_map(move |item| {
            let chunk = match item {
                Ok(LogOutput::StdOut { message }) | Ok(LogOutput::Console { message }) => {
                    Some(Ok(Output::Stdout(message.to_vec())))
                }
                Ok(LogOutput::StdErr { message }) => Some(Ok(Output::Stderr(message.to_vec()))),
                Ok(LogOutput::StdIn { .. }) => None,
                Err(e) => Some(Err(docker_err("read the log of container", &container)(e))),
            };
            std::future::ready(chunk)
        })
        .boxed()
}
