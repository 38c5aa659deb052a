//! Images: whether one is present (and the user it declares), and pulling one with
//! progress lines.

use bollard::models::CreateImageInfo;
use bollard::query_parameters::CreateImageOptionsBuilder;
use bollard::Docker;
use futures_util::StreamExt;

use super::errors::{detail, docker_err, status};
use crate::engine::EngineError;

pub(super) async fn image_user(
    docker: &Docker,
    image: &str,
) -> Result<Option<String>, EngineError> {
    match docker.inspect_image(image).await {
        Ok(i) => Ok(Some(i.config.and_then(|c| c.user).unwrap_or_default())),
        Err(e) if status(&e) == Some(404) => Ok(None),
        Err(e) => Err(docker_err("inspect image", image)(e)),
    }
}

pub(super) async fn pull(
    docker: &Docker,
    image: &str,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<(), EngineError> {
    let options = CreateImageOptionsBuilder::default()
        .from_image(image)
        .build();
    let mut stream = docker.create_image(Some(options), None, None);
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                let line = progress_line(&info);
                if !line.is_empty() {
                    progress(&line);
                }
            }
            Err(e) => {
                return Err(EngineError::Pull {
                    image: image.to_string(),
                    detail: detail(&e),
                })
            }
        }
    }
    Ok(())
}

/// One line of pull progress: layer id, status and, when Docker says how far, a percentage.
fn progress_line(info: &CreateImageInfo) -> String {
    let done = info
        .progress_detail
        .as_ref()
        .and_then(|p| p.current.zip(p.total));
    let pct = done
        .filter(|(_, t)| *t > 0)
        .map(|(c, t)| format!("{}%", c * 100 / t));
    [info.id.as_deref(), info.status.as_deref(), pct.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ")
}
