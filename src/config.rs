//! The portal's configuration: flags, then `MCP_PORTAL_*` environment variables, then
//! defaults, validated into one struct. Variables are read through a lookup function so
//! tests pass a map instead of changing the process environment.

use std::path::PathBuf;

use crate::catalog::parse::{Limits, DEFAULT_MAX_BYTES};
use crate::catalog::validate::Policy;
use crate::catalog::volume::HostPathPolicy;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {key}={value:?}: {expected}")]
pub struct ConfigError {
    pub key: &'static str,
    pub value: String,
    pub expected: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub data_dir: PathBuf,
    /// Catalog, overlay and custom-server files above this size are refused unread.
    pub max_catalog_bytes: u64,
    /// Host paths outside users' folders that catalogs may mount.
    pub allowed_host_paths: Vec<String>,
}

pub const MAX_CATALOG_BYTES: &str = "MCP_PORTAL_MAX_CATALOG_BYTES";
pub const ALLOWED_HOST_PATHS: &str = "MCP_PORTAL_ALLOWED_HOST_PATHS";

impl Config {
    pub fn from_lookup(
        data_dir: PathBuf,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let max_catalog_bytes = match lookup(MAX_CATALOG_BYTES) {
            None => DEFAULT_MAX_BYTES,
            Some(v) => match v.trim().parse::<u64>() {
                Ok(n) if n > 0 => n,
                _ => {
                    return Err(ConfigError {
                        key: MAX_CATALOG_BYTES,
                        value: v,
                        expected: "a positive number of bytes, e.g. 8388608",
                    })
                }
            },
        };
        let mut allowed_host_paths = Vec::new();
        if let Some(v) = lookup(ALLOWED_HOST_PATHS) {
            for p in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                if !p.starts_with('/') || p.split('/').any(|c| c == "..") {
                    return Err(ConfigError {
                        key: ALLOWED_HOST_PATHS,
                        value: v.clone(),
                        expected: "a comma-separated list of absolute paths without '..'",
                    });
                }
                allowed_host_paths.push(p.to_string());
            }
        }
        Ok(Self {
            data_dir,
            max_catalog_bytes,
            allowed_host_paths,
        })
    }

    pub fn from_env(data_dir: PathBuf) -> Result<Self, ConfigError> {
        Self::from_lookup(data_dir, |k| std::env::var(k).ok())
    }

    pub fn limits(&self) -> Limits {
        Limits {
            max_bytes: self.max_catalog_bytes,
            policy: Policy {
                host_paths: HostPathPolicy {
                    allowed: self.allowed_host_paths.clone(),
                },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup("data".into(), |k| map.get(k).cloned())
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let c = config(&[]).unwrap();
        assert_eq!(c.max_catalog_bytes, 8 * 1024 * 1024);
        assert!(c.allowed_host_paths.is_empty());
    }

    #[test]
    fn bad_values_name_the_key_and_the_value() {
        let e = config(&[(MAX_CATALOG_BYTES, "lots")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid MCP_PORTAL_MAX_CATALOG_BYTES=\"lots\": a positive number of bytes, e.g. 8388608"
        );
        assert!(config(&[(ALLOWED_HOST_PATHS, "/srv,relative")]).is_err());
        assert!(config(&[(ALLOWED_HOST_PATHS, "/srv/../etc")]).is_err());
    }

    #[test]
    fn host_paths_are_a_comma_list() {
        let c = config(&[(ALLOWED_HOST_PATHS, "/srv/shared, /var/run/docker.sock")]).unwrap();
        assert_eq!(
            c.allowed_host_paths,
            ["/srv/shared", "/var/run/docker.sock"]
        );
    }
}
