//! The API's TLS (`serve --tls-cert FILE --tls-key FILE`): a PEM certificate chain and
//! its private key made into a rustls server configuration (ring, TLS 1.2 and 1.3,
//! HTTP/1.1).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the TLS {what} {}: {source}; give a PEM file with --tls-{what}", path.display())]
    Read {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} holds no PEM {what}; give the {what} as PEM with --tls-{what}", path.display())]
    Empty { what: &'static str, path: PathBuf },
    #[error("the TLS certificate {} and key {} do not fit together ({source}); give the key made with that certificate", cert.display(), key.display())]
    Mismatch {
        cert: PathBuf,
        key: PathBuf,
        source: rustls::Error,
    },
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        what,
        path: path.to_path_buf(),
        source,
    })
}

/// The server configuration for this certificate chain and key.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&read("cert", cert)?)
        .filter_map(Result::ok)
        .collect();
    if chain.is_empty() {
        return Err(TlsError::Empty {
            what: "cert",
            path: cert.to_path_buf(),
        });
    }
    let private =
        PrivateKeyDer::from_pem_slice(&read("key", key)?).map_err(|_| TlsError::Empty {
            what: "key",
            path: key.to_path_buf(),
        })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(chain, private))
        .map_err(|source| TlsError::Mismatch {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            source,
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_that_are_not_a_certificate_and_key_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not pem").unwrap();
        let e = server_config(&junk, &junk).unwrap_err().to_string();
        assert!(e.contains("junk.pem holds no PEM cert"), "{e}");
        let gone = dir.path().join("gone.pem");
        let e = server_config(&gone, &junk).unwrap_err().to_string();
        assert!(e.starts_with("cannot read the TLS cert"), "{e}");
        assert!(e.contains("--tls-cert"), "{e}");

        let ca = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let other = rcgen::KeyPair::generate().unwrap();
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        std::fs::write(&cert, ca.cert.pem()).unwrap();
        std::fs::write(&key, other.serialize_pem()).unwrap();
        let e = server_config(&cert, &key).unwrap_err().to_string();
        assert!(e.contains("do not fit together"), "{e}");
        std::fs::write(&key, ca.signing_key.serialize_pem()).unwrap();
        assert!(server_config(&cert, &key).is_ok());
    }
}
