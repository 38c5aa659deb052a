//! Who a container runs as: the definition's user, else the image's, else nobody; root
//! only where the admin allows it.

use super::model::PlanInput;
use super::params::Params;
use super::{refuse, PlanError};

/// `nobody:nogroup`, for images that name no user or name root.
const NOBODY: &str = "65534:65534";

fn is_root(user: &str) -> bool {
    let name = user.split(':').next().unwrap_or_default();
    name == "root" || name == "0"
}

pub(super) fn user(input: &PlanInput<'_>, params: &Params<'_>) -> Result<String, PlanError> {
    match &input.server.user {
        Some(u) if !u.is_empty() => {
            let u = params.resolve("user", u)?;
            if u.is_empty() {
                Ok(NOBODY.to_string())
            } else if is_root(&u) && !input.hardening.allow_root {
                Err(refuse(
                    input.server,
                    "runs as root, which this portal does not allow (MCP_PORTAL_ALLOW_ROOT)",
                ))
            } else {
                Ok(u)
            }
        }
        // An image's root is not the definition's choice: it runs as nobody instead.
        _ => match input.image_user {
            Some(u) if !u.is_empty() && !is_root(u) => Ok(u.to_string()),
            _ => Ok(NOBODY.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{fixture, input};
    use super::super::plan;
    use super::*;
    use crate::catalog::model::{Parameter, ServerDef};
    use crate::ids::ServerId;

    fn user_of(i: &PlanInput<'_>) -> Result<String, PlanError> {
        user(i, &Params::new(i.server, &i.settings.params)?)
    }

    #[test]
    fn an_image_user_is_kept_unless_it_is_root() {
        let f = fixture();
        let s = ServerDef::new(ServerId::parse("x").unwrap(), "mcp/x:latest");
        let mut i = input(&f, &s, None);
        i.image_user = Some("node");
        assert_eq!(plan(&i).unwrap().0.user, "node");
        i.image_user = Some("0:0");
        assert_eq!(plan(&i).unwrap().0.user, "65534:65534");
    }

    #[test]
    fn root_is_recognised_by_name_or_id_with_or_without_a_group() {
        assert!(is_root("root"));
        assert!(is_root("0"));
        assert!(is_root("0:1000"));
        assert!(is_root("root:root"));
        assert!(!is_root("1000:0"));
        assert!(!is_root("rooty"));
    }

    #[test]
    fn the_definitions_user_wins_over_the_images() {
        let f = fixture();
        let mut s = ServerDef::new(ServerId::parse("x").unwrap(), "mcp/x:latest");
        s.user = Some("1000:1000".into());
        let mut i = input(&f, &s, None);
        i.image_user = Some("node");
        assert_eq!(user_of(&i).unwrap(), "1000:1000");
    }

    #[test]
    fn a_user_template_that_resolves_to_nothing_runs_as_nobody() {
        let mut f = fixture();
        let mut s = ServerDef::new(ServerId::parse("x").unwrap(), "mcp/x:latest");
        s.user = Some("{{x.uid}}".into());
        s.parameters.insert("uid".into(), Parameter::default());
        f.settings.params.insert("uid".into(), String::new());
        assert_eq!(user_of(&input(&f, &s, None)).unwrap(), NOBODY);
        f.settings.params.insert("uid".into(), "0".into());
        assert!(user_of(&input(&f, &s, None))
            .unwrap_err()
            .to_string()
            .contains("runs as root"));
    }
}
