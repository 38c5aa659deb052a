//! Who a container runs as: the definition's user, else the image's, else the portal
//! user's own uid; root only where the admin allows it. Whichever it is, the container
//! also carries the user's own gid (`group_add`), which their files belong to.

use super::model::PlanInput;
use super::params::Params;
use super::{refuse, PlanError};
use crate::catalog::bounds::{is_root, ROOT_REFUSED};

/// The user's own `uid:gid`, for images that name no user or name root: no two users'
/// containers share it, as they would `nobody`.
fn own(input: &PlanInput<'_>) -> String {
    format!("{0}:{0}", input.user_uid)
}

pub(super) fn user(input: &PlanInput<'_>, params: &Params<'_>) -> Result<String, PlanError> {
    match &input.server.user {
        Some(u) if !u.is_empty() => {
            let u = params.resolve("user", u)?;
            if u.is_empty() {
                Ok(own(input))
            } else if is_root(&u) && !input.hardening.bounds.allow_root {
                Err(refuse(input.server, ROOT_REFUSED))
            } else {
                Ok(u)
            }
        }
        // An image's root is not the definition's choice: it runs as nobody instead.
        _ => match input.image_user {
            Some(u) if !u.is_empty() && !is_root(u) => Ok(u.to_string()),
            _ => Ok(own(input)),
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
        user(
            i,
            &Params::new(i.server, &i.settings.params, &i.hardening.host_paths)?,
        )
    }

    #[test]
    fn an_image_user_is_kept_unless_it_is_root() {
        let f = fixture();
        let s = ServerDef::new(ServerId::parse("x").unwrap(), "mcp/x:latest");
        let mut i = input(&f, &s, None);
        i.image_user = Some("node");
        assert_eq!(plan(&i).unwrap().0.user, "node");
        for root in ["0:0", "00", "-0"] {
            i.image_user = Some(root);
            assert_eq!(
                plan(&i).unwrap().0.user,
                "200003:200003",
                "image USER {root}"
            );
        }
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
    fn a_user_template_that_resolves_to_nothing_runs_as_the_users_own_uid() {
        let mut f = fixture();
        let mut s = ServerDef::new(ServerId::parse("x").unwrap(), "mcp/x:latest");
        s.user = Some("{{x.uid}}".into());
        s.parameters.insert("uid".into(), Parameter::default());
        f.settings.params.insert("uid".into(), "".into());
        assert_eq!(user_of(&input(&f, &s, None)).unwrap(), "200003:200003");
        for root in ["0", "00", "-0", "000:000"] {
            f.settings.params.insert("uid".into(), root.into());
            assert!(
                user_of(&input(&f, &s, None))
                    .unwrap_err()
                    .to_string()
                    .contains("runs as root"),
                "--set uid={root}"
            );
        }
    }
}
