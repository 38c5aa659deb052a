//! How the CLI reaches a portal: which addresses a token may travel to in cleartext
//! (only this machine's loopback, unless `--insecure`), and the HTTP clients (ureq for
//! commands, reqwest for `connect`) that trust `--ca-cert` instead of the public roots.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;

use crate::manager::PortalError;

/// What the global options say about reaching a portal.
#[derive(Debug, Clone, Default)]
pub struct Transport {
    /// The CA (PEM) that signed the portal's certificate; the public roots otherwise.
    pub ca_cert: Option<PathBuf>,
    /// Send tokens over plain http to a host other than this machine.
    pub insecure: bool,
}

/// Whether `host` (as a URL spells it) is this machine: `localhost`, 127.0.0.0/8, `::1`.
fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match bare.parse::<IpAddr>() {
        Ok(IpAddr::V4(a)) => a.is_loopback(),
        Ok(IpAddr::V6(a)) => a.is_loopback() || a.to_ipv4_mapped().is_some_and(|m| m.is_loopback()),
        Err(_) => false,
    }
}

impl Transport {
    /// Refuses a plain `http://` URL (given as `option`) whose host is not this
    /// machine's, unless `--insecure`: a token sent there crosses the network readable.
    pub fn check_cleartext(&self, option: &str, url: &str) -> Result<(), PortalError> {
        // HTTP clients drop blanks and accept any case of the scheme: only the exact
        // spellings pass, so what is checked is what is reached.
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(PortalError::Usage(format!(
                "{option} {url:?} holds blanks or control characters; give the portal's URL alone"
            )));
        }
        if url.starts_with("https://") {
            return Ok(());
        }
        let Some(rest) = url.strip_prefix("http://") else {
            return Err(PortalError::Usage(format!(
                "{option} {url:?} must be an http:// or https:// URL"
            )));
        };
        let authority = rest.split(['/', '\\', '?', '#']).next().unwrap_or_default();
        let host_port = authority.rsplit('@').next().unwrap_or_default();
        let host = if host_port.starts_with('[') {
            host_port.split_inclusive(']').next().unwrap_or_default()
        } else {
            host_port.split(':').next().unwrap_or_default()
        };
        if self.insecure || is_loopback(host) {
            return Ok(());
        }
        Err(PortalError::Usage(format!(
            "{option} {url} would carry the token in cleartext to {host}, which is not this \
             machine; use https:// (serve the portal with --tls-cert and --tls-key), or give \
             --insecure to send it anyway"
        )))
    }

    /// The PEM bytes of `--ca-cert`, if given.
    fn ca_pem(&self) -> anyhow::Result<Option<(Vec<u8>, &Path)>> {
        let Some(path) = self.ca_cert.as_deref() else {
            return Ok(None);
        };
        let pem = std::fs::read(path).map_err(|e| {
            PortalError::Usage(format!(
                "cannot read the CA certificate {}: {e}; give the PEM file of the CA that \
                 signed the portal's certificate with --ca-cert (or MCP_PORTAL_CA_CERT)",
                path.display()
            ))
        })?;
        Ok(Some((pem, path)))
    }

    /// The blocking client of the remote CLI and `check-health`.
    pub fn agent(&self, timeout: Duration) -> anyhow::Result<ureq::Agent> {
        let mut config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout));
        if let Some((pem, path)) = self.ca_pem()? {
            let certs = ureq::tls::parse_pem(&pem)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                    _ => None,
                })
                .collect::<Vec<_>>();
            if certs.is_empty() {
                return Err(no_certificate(path).into());
            }
            let tls = ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
                .build();
            config = config.tls_config(tls);
        }
        Ok(config.build().into())
    }

    /// The async client of `portalctl connect`.
    pub fn reqwest(&self) -> anyhow::Result<reqwest::Client> {
        let mut builder = reqwest::Client::builder();
        if let Some((pem, path)) = self.ca_pem()? {
            let certs =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|_| no_certificate(path))?;
            if certs.is_empty() {
                return Err(no_certificate(path).into());
            }
            builder = builder.tls_built_in_root_certs(false);
            for c in certs {
                builder = builder.add_root_certificate(c);
            }
        }
        builder.build().context("cannot set up the HTTP client")
    }
}

fn no_certificate(path: &Path) -> PortalError {
    PortalError::Usage(format!(
        "{} holds no PEM certificate; give the CA certificate (-----BEGIN CERTIFICATE-----) \
         with --ca-cert",
        path.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(url: &str) -> bool {
        Transport::default()
            .check_cleartext("--remote", url)
            .is_err()
    }

    #[test]
    fn cleartext_goes_only_to_this_machine() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://127.9.0.1/",
            "http://localhost:8080/api",
            "http://LOCALHOST",
            "http://[::1]:8080",
            "http://[::ffff:127.0.0.1]:80",
            "https://portal.example.com",
            "https://10.0.0.5:8443",
        ] {
            assert!(!refused(ok), "{ok} was refused");
        }
        for bad in [
            "http://portal.example.com:8080",
            "http://10.0.0.5:8080",
            "http://[2001:db8::1]:8080",
            "http://localhost.example.com",
            "http://127.0.0.1@evil.example.com/",
            "http://0.0.0.0:8080",
            "http://evil.example.com\\@127.0.0.1/",
            "HTTP://evil.example.com",
            " http://evil.example.com",
            "http://evil.example.com\t",
            "ftp://127.0.0.1",
        ] {
            assert!(refused(bad), "{bad} was allowed");
        }
    }

    #[test]
    fn insecure_allows_cleartext_and_says_so_otherwise() {
        let t = Transport {
            insecure: true,
            ..Transport::default()
        };
        assert!(t
            .check_cleartext("--remote", "http://10.0.0.5:8080")
            .is_ok());
        let e = Transport::default()
            .check_cleartext("--url", "http://10.0.0.5:8080")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("--url http://10.0.0.5:8080 would carry the token"),
            "{e}"
        );
        assert!(e.contains("https://") && e.contains("--insecure"), "{e}");
    }
}
