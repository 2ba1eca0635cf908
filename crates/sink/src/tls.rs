//! TLS settings of a connection (`[clickhouse.tls]`, `[lake.tls]`): a CA bundle trusted
//! besides the system's roots, and a client certificate for servers that ask for one.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// TLS files, as the pipeline file names them. Read by [`TlsConfig::load`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file of the CA certificates that sign the server's, trusted besides the system's
    /// roots (a private CA). Default none.
    pub ca_file: Option<PathBuf>,
    /// PEM file of the client certificate (and its chain), for servers that require one;
    /// set together with `key_file`. Default none.
    pub cert_file: Option<PathBuf>,
    /// PEM file of the client certificate's private key (PKCS#8, RSA or EC). Default none.
    pub key_file: Option<PathBuf>,
}

/// TLS material read from a [`TlsConfig`]'s files and checked to be PEM. Printing it shows
/// which parts are set, never the key.
#[derive(Clone, Default)]
pub(crate) struct Tls {
    /// The CA bundle, PEM.
    pub ca: Option<Vec<u8>>,
    /// The client certificate chain followed by its key, PEM.
    pub identity: Option<Vec<u8>>,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls").field("ca", &self.ca.is_some()).field("identity", &self.identity.is_some()).finish()
    }
}

impl TlsConfig {
    /// Reads and checks the files. Errors name the field (`tls.ca_file`, …) and the reason.
    pub(crate) fn load(&self) -> Result<Tls, (&'static str, String)> {
        let ca = match &self.ca_file {
            Some(path) => {
                let pem = read("tls.ca_file", path)?;
                match reqwest::Certificate::from_pem_bundle(&pem) {
                    Ok(certs) if !certs.is_empty() => Some(pem),
                    _ => return Err(("tls.ca_file", format!("{} holds no PEM certificate", path.display()))),
                }
            }
            None => None,
        };
        let identity = match (&self.cert_file, &self.key_file) {
            (None, None) => None,
            (Some(cert), Some(key)) => {
                let mut pem = read("tls.cert_file", cert)?;
                pem.push(b'\n');
                pem.extend(read("tls.key_file", key)?);
                if reqwest::Identity::from_pem(&pem).is_err() {
                    return Err(("tls.cert_file / tls.key_file", format!("{} and {} are not a PEM certificate and its private key", cert.display(), key.display())));
                }
                Some(pem)
            }
            _ => return Err(("tls.cert_file / tls.key_file", "set both or neither".into())),
        };
        Ok(Tls { ca, identity })
    }
}

/// The TLS error somewhere in `error`'s chain of causes (an untrusted or refused certificate,
/// a failed handshake): retrying meets the same certificates.
pub(crate) fn failure<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        // `io::Error` hides the error it wraps from `source()`: step into it.
        cause = match e.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    None
}

fn read(field: &'static str, path: &Path) -> Result<Vec<u8>, (&'static str, String)> {
    std::fs::read(path).map_err(|e| (field, format!("cannot read {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_checked_and_the_key_is_never_printed() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        let config = |ca: Option<&Path>, cert: Option<&Path>, key: Option<&Path>| TlsConfig { ca_file: ca.map(Path::to_path_buf), cert_file: cert.map(Path::to_path_buf), key_file: key.map(Path::to_path_buf) };
        assert!(config(None, None, None).load().unwrap().ca.is_none());
        let (field, reason) = config(Some(&junk), None, None).load().unwrap_err();
        assert_eq!(field, "tls.ca_file");
        assert!(reason.contains("no PEM certificate"), "{reason}");
        assert!(config(Some(&dir.path().join("missing")), None, None).load().unwrap_err().1.contains("cannot read"));
        assert_eq!(config(None, Some(&junk), None).load().unwrap_err().1, "set both or neither");
        assert!(config(None, Some(&junk), Some(&junk)).load().unwrap_err().1.contains("not a PEM certificate and its private key"));
        let shown = format!("{:?}", Tls { ca: None, identity: Some(b"-----BEGIN PRIVATE KEY-----secret".to_vec()) });
        assert_eq!(shown, "Tls { ca: false, identity: true }");
    }

    /// As reqwest reports an untrusted certificate: the rustls error inside an `io::Error`
    /// inside another, under the connector's error.
    #[test]
    fn a_certificate_error_is_found_under_nested_io_errors() {
        #[derive(Debug, thiserror::Error)]
        #[error("connect")]
        struct Connect(#[source] std::io::Error);
        let tls = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let error = Connect(std::io::Error::other(std::io::Error::new(std::io::ErrorKind::InvalidData, tls.clone())));
        assert_eq!(failure(&error), Some(&tls));
        assert_eq!(failure(&Connect(std::io::Error::from(std::io::ErrorKind::ConnectionRefused))), None);
    }
}
