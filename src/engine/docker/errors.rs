//! How bollard's failures become [`EngineError`]s: Docker's own answers name the action
//! and object, anything else means Docker could not be reached.

use bollard::errors::Error as BollardError;

use crate::engine::EngineError;

/// The HTTP status of an answer from Docker, for the 404/409 cases callers forgive.
pub(super) fn status(e: &BollardError) -> Option<u16> {
    match e {
        BollardError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

pub(super) fn detail(e: &BollardError) -> String {
    match e {
        BollardError::DockerResponseServerError { message, .. } => message.trim().to_string(),
        other => other.to_string(),
    }
}

pub(super) fn docker_err<'a>(
    action: &'static str,
    object: &'a str,
) -> impl FnOnce(BollardError) -> EngineError + 'a {
    move |e| match e {
        BollardError::DockerResponseServerError { .. } | BollardError::DockerStreamError { .. } => {
            EngineError::Docker {
                action,
                object: object.to_string(),
                detail: detail(&e),
            }
        }
        other => EngineError::Unreachable {
            detail: other.to_string(),
        },
    }
}
