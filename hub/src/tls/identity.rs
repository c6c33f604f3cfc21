//! The hub's TLS identity: its certificate chain and private key, read from PEM files at start-up
//! into rustls server configs (ring). Every mistake names the file, what is wrong with it and
//! what to do; nothing read from the key file ever reaches a message or the log.

use rustls::pki_types::pem::{self, SectionKind};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// ALPN for the HTTP port: gRPC needs HTTP/2; browsers and `curl` may take either.
pub const HTTP_ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// A certificate or key file the hub cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {problem}", path.display())]
pub struct TlsFileError {
    pub path: PathBuf,
    pub problem: String,
}

fn problem(path: &Path, problem: impl Into<String>) -> TlsFileError {
    TlsFileError {
        path: path.to_path_buf(),
        problem: problem.into(),
    }
}

/// The certificate chain and key, checked to belong together.
pub struct Identity {
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Identity({} certificates, key (..))", self.certs.len())
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Every PEM section of `bytes` with its kind (none when the text holds no PEM at all).
fn sections(bytes: &[u8]) -> Result<Vec<(SectionKind, Vec<u8>)>, pem::Error> {
    let mut reader = bytes;
    let mut found = Vec::new();
    while let Some(section) = pem::from_buf(&mut reader)? {
        found.push(section);
    }
    Ok(found)
}

fn is_key(kind: SectionKind) -> bool {
    matches!(
        kind,
        SectionKind::PrivateKey | SectionKind::RsaPrivateKey | SectionKind::EcPrivateKey
    )
}

fn read(path: &Path, what: &str, setting: &str) -> Result<Vec<u8>, TlsFileError> {
    std::fs::read(path).map_err(|e| {
        problem(
            path,
            format!(
                "cannot read the {what} ({e}): check [tls] {setting} and that the hub's user may read it"
            ),
        )
    })
}

/// Reads the certificate chain (leaf first) from `cert_file`.
pub fn load_certs(cert_file: &Path) -> Result<Vec<CertificateDer<'static>>, TlsFileError> {
    let bytes = read(cert_file, "certificate file", "cert_file")?;
    let found = sections(&bytes).map_err(|e| {
        problem(
            cert_file,
            format!("is not valid PEM ({e}): cert_file must hold the hub's certificate chain in PEM, leaf first"),
        )
    })?;
    let certs: Vec<CertificateDer<'static>> = found
        .iter()
        .filter(|(kind, _)| *kind == SectionKind::Certificate)
        .map(|(_, der)| CertificateDer::from(der.clone()))
        .collect();
    if certs.is_empty() {
        let hint = if found.iter().any(|(kind, _)| is_key(*kind)) {
            "holds a private key, not a certificate: are cert_file and key_file swapped?"
        } else {
            "holds no PEM certificate (-----BEGIN CERTIFICATE-----): cert_file must be the hub's \
             certificate chain in PEM, leaf first (convert DER with `openssl x509 -inform der`)"
        };
        return Err(problem(cert_file, hint));
    }
    Ok(certs)
}

/// Reads the one private key (PKCS#8, PKCS#1 or SEC1) from `key_file`.
pub fn load_key(key_file: &Path) -> Result<PrivateKeyDer<'static>, TlsFileError> {
    let bytes = read(key_file, "private key file", "key_file")?;
    // The key's own bytes never go into a message: only the kind of mistake.
    let found = sections(&bytes).map_err(|_| {
        problem(
            key_file,
            "is not valid PEM (a broken BEGIN/END line or base64): key_file must hold the hub's \
             private key in PEM",
        )
    })?;
    let mut keys = found.into_iter().filter(|(kind, _)| is_key(*kind));
    let Some((kind, der)) = keys.next() else {
        let text = String::from_utf8_lossy(&bytes);
        let hint = if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
            "holds an encrypted private key: the hub needs it unencrypted (`openssl pkey -in \
             ENCRYPTED -out KEY`), in a file only the hub's user may read"
        } else if text.contains("-----BEGIN CERTIFICATE-----") {
            "holds a certificate, not a private key: are cert_file and key_file swapped?"
        } else {
            "holds no PEM private key (-----BEGIN PRIVATE KEY-----, RSA PRIVATE KEY or EC PRIVATE \
             KEY): key_file must be the private key of cert_file's certificate"
        };
        return Err(problem(key_file, hint));
    };
    if keys.next().is_some() {
        return Err(problem(
            key_file,
            "holds more than one private key: keep only the key of cert_file's certificate",
        ));
    }
    let key = match kind {
        SectionKind::RsaPrivateKey => PrivateKeyDer::Pkcs1(der.into()),
        SectionKind::EcPrivateKey => PrivateKeyDer::Sec1(der.into()),
        _ => PrivateKeyDer::Pkcs8(der.into()),
    };
    Ok(key)
}

/// The key file's permissions let other users read it (Unix only; a warning, not an error).
pub fn readable_by_others(key_file: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(key_file).is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
    }
    #[cfg(not(unix))]
    {
        let _ = key_file;
        false
    }
}

impl Identity {
    /// Reads both files and checks that the key is usable and belongs to the leaf certificate.
    pub fn load(cert_file: &Path, key_file: &Path) -> Result<Identity, TlsFileError> {
        let certs = load_certs(cert_file)?;
        let key = load_key(key_file)?;
        let identity = Identity { certs, key };
        identity.server_config(&[], cert_file, key_file)?;
        Ok(identity)
    }

    /// A rustls server config offering `alpn` (none for MQTT). `cert_file` and `key_file` only
    /// name the files in errors.
    pub fn server_config(
        &self,
        alpn: &[&[u8]],
        cert_file: &Path,
        key_file: &Path,
    ) -> Result<Arc<rustls::ServerConfig>, TlsFileError> {
        let builder = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| problem(cert_file, format!("no TLS version available: {e}")))?
            .with_no_client_auth();
        let mut config = builder
            .with_single_cert(self.certs.clone(), self.key.clone_key())
            .map_err(|e| match e {
                rustls::Error::InconsistentKeys(_) => problem(
                    key_file,
                    format!(
                        "this private key does not belong to the certificate in {}: use the key \
                         the certificate was issued for",
                        cert_file.display()
                    ),
                ),
                rustls::Error::InvalidCertificate(why) => problem(
                    cert_file,
                    format!(
                        "the first certificate cannot be parsed ({why:?}): is the file damaged?"
                    ),
                ),
                // Loading the key failed: a kind ring cannot sign with, or a damaged key.
                _ => problem(
                    key_file,
                    "the private key cannot be used: it is damaged or of a kind the hub does not \
                     support (use ECDSA P-256/P-384, Ed25519 or RSA of 2048 bits or more)",
                ),
            })?;
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(Arc::new(config))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, KeyPair};

    struct Files {
        dir: tempfile::TempDir,
    }

    impl Files {
        fn new() -> Files {
            Files {
                dir: tempfile::tempdir().unwrap(),
            }
        }
        fn write(&self, name: &str, text: &str) -> PathBuf {
            let path = self.dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        }
    }

    fn pair() -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["localhost".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    }

    #[test]
    fn a_matching_certificate_and_key_load() {
        let f = Files::new();
        let (cert, key) = pair();
        let id = Identity::load(&f.write("c.pem", &cert), &f.write("k.pem", &key)).unwrap();
        let cfg = id
            .server_config(&HTTP_ALPN, Path::new("c"), Path::new("k"))
            .unwrap();
        assert_eq!(
            cfg.alpn_protocols,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        );
        assert!(!format!("{id:?}").contains("PRIVATE"));
    }

    #[test]
    fn each_mistake_names_its_file_and_what_to_do() {
        let f = Files::new();
        let (cert, key) = pair();
        let (_, other_key) = pair();
        let c = f.write("hub.crt", &cert);
        let k = f.write("hub.key", &key);
        let missing = f.dir.path().join("nowhere.crt");
        let cases: Vec<(PathBuf, PathBuf, &Path, &str)> = vec![
            (missing.clone(), k.clone(), &missing, "cannot read the certificate file"),
            (f.write("empty.crt", ""), k.clone(), Path::new("empty.crt"), "no PEM certificate"),
            (f.write("swapped.crt", &key), k.clone(), Path::new("swapped.crt"), "swapped"),
            (
                f.write("broken.crt", "-----BEGIN CERTIFICATE-----\nnot base64!\n"),
                k.clone(),
                Path::new("broken.crt"),
                "is not valid PEM",
            ),
            (
                f.write("garbage.crt", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
                k.clone(),
                Path::new("garbage.crt"),
                "cannot be parsed",
            ),
            (c.clone(), f.write("swapped.key", &cert), Path::new("swapped.key"), "swapped"),
            (c.clone(), f.write("other.key", &other_key), Path::new("other.key"), "does not belong"),
            (
                c.clone(),
                f.write("enc.key", "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"),
                Path::new("enc.key"),
                "encrypted",
            ),
            (
                c.clone(),
                f.write("two.key", &format!("{key}{other_key}")),
                Path::new("two.key"),
                "more than one private key",
            ),
            (
                c.clone(),
                f.write("junk.key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
                Path::new("junk.key"),
                "cannot be used",
            ),
        ];
        for (cert_file, key_file, named, says) in cases {
            let err = Identity::load(&cert_file, &key_file).unwrap_err();
            assert!(
                err.path.ends_with(named),
                "{err} should name {}",
                named.display()
            );
            assert!(err.to_string().contains(says), "{err} should say {says:?}");
        }
    }

    #[test]
    fn no_message_repeats_the_key() {
        let f = Files::new();
        let (cert, key) = pair();
        let (_, other_key) = pair();
        let c = f.write("hub.crt", &cert);
        let body: String = other_key
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let broken = other_key.replace("-----END PRIVATE KEY-----", "");
        for text in [other_key.clone(), broken, format!("{key}{other_key}")] {
            let err = Identity::load(&c, &f.write("k.pem", &text)).unwrap_err();
            let shown = format!("{err} {err:?}");
            for chunk in body.as_bytes().chunks(16) {
                assert!(
                    !shown.contains(std::str::from_utf8(chunk).unwrap()),
                    "{shown}"
                );
            }
        }
    }
}
