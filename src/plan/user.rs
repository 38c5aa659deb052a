//! Who a container runs as: the definition's user, else the image's, else the portal
//! user's own uid; root only where the admin allows it. Whichever it is, the container
//! also carries the user's own gid (`group_add`), which their files belong to.

use super::model::PlanInput;
use super::params::Params;
use super::{refuse, PlanError};

/// The user's own `uid:gid`, for images that name no user or name root: no two users'
/// containers share it, as they would `nobody`.
fn own(input: &PlanInput<'_>) -> String {
    format!("{0}:{0}", input.user_uid)
}

/// Whether a container user is (or may become) uid 0. A numeric user is read as a
/// number, so `00`, `+0` and `-0` are root too; one that is not a plain uid between 1 and
/// 2^32-2 is counted as root as well, since a runtime may wrap it to 0 (4294967296).
fn is_root(user: &str) -> bool {
    let name = user.split(':').next().unwrap_or_default().trim();
    // An empty user part (`:1000`) leaves the uid to the image's default: root.
    if name == "root" || name.is_empty() {
        return true;
    }
    let digits = name.trim_start_matches(['+', '-']);
    let numeric = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    if !numeric {
        return false;
    }
    let plain = digits.len() == name.len();
    !(plain && matches!(name.parse::<u32>(), Ok(n) if n != 0 && n != u32::MAX))
}

pub(super) fn user(input: &PlanInput<'_>, params: &Params<'_>) -> Result<String, PlanError> {
    match &input.server.user {
        Some(u) if !u.is_empty() => {
            let u = params.resolve("user", u)?;
            if u.is_empty() {
                Ok(own(input))
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
        user(i, &Params::new(i.server, &i.settings.params)?)
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
    fn root_is_recognised_by_name_or_id_with_or_without_a_group() {
        assert!(is_root("root"));
        assert!(is_root("0"));
        assert!(is_root("0:1000"));
        assert!(is_root("root:root"));
        assert!(!is_root("1000:0"));
        // Issue 11: numbers are numbers.
        for root in [
            "00",
            "000:000",
            "-0",
            "+0",
            " 0",
            "4294967296",
            "4294967295",
            "-1",
            "+1000",
            ":0",
            ":1000",
        ] {
            assert!(is_root(root), "{root:?} counts as root");
        }
        for user in ["1", "65534:65534", "1000", "node", "app:app"] {
            assert!(!is_root(user), "{user:?} is not root");
        }
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
    fn a_user_template_that_resolves_to_nothing_runs_as_the_users_own_uid() {
        let mut f = fixture();
        let mut s = ServerDef::new(ServerId::parse("x").unwrap(), "mcp/x:latest");
        s.user = Some("{{x.uid}}".into());
        s.parameters.insert("uid".into(), Parameter::default());
        f.settings.params.insert("uid".into(), String::new());
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
