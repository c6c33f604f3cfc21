//! TLS for devices and people, with the hub's certificate and key from PEM files: `identity`
//! reads and checks them, `mqtt` terminates MQTT over TLS in front of the broker, `https` serves
//! the HTTP port (web view, JSON API, SSE, gRPC) over TLS. rustls with ring throughout.

pub mod https;
pub mod identity;
pub mod mqtt;

pub use identity::{Identity, TlsFileError};

use crate::config::TlsConfig;
use std::sync::Arc;

/// The server configs the listeners use, built once at start-up.
pub struct Tls {
    /// For the MQTT TLS port, when configured.
    pub mqtt: Option<Arc<rustls::ServerConfig>>,
    /// For the HTTP port, when it serves HTTPS (ALPN h2 and http/1.1).
    pub https: Option<Arc<rustls::ServerConfig>>,
}

impl Tls {
    /// Reads the certificate and key named in `[tls]`; a bad file stops start-up with its name.
    pub fn load(cfg: &TlsConfig) -> Result<Tls, TlsFileError> {
        let (cert, key) = (cfg.cert_file.get_ref(), cfg.key_file.get_ref());
        let identity = Identity::load(cert, key)?;
        if identity::readable_by_others(key) {
            tracing::warn!(key_file = %key.display(), "the TLS private key can be read by other users: chmod 600 it");
        }
        let mqtt = match cfg.mqtt_listen {
            Some(_) => Some(identity.server_config(&[], cert, key)?),
            None => None,
        };
        let https = match cfg.https {
            true => Some(identity.server_config(&identity::HTTP_ALPN, cert, key)?),
            false => None,
        };
        Ok(Tls { mqtt, https })
    }
}

#[cfg(test)]
mod tests {
    use crate::config::HubConfig;
    use std::path::Path;

    fn write_pair(dir: &Path) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        std::fs::write(dir.join("hub.crt"), cert.pem()).unwrap();
        std::fs::write(dir.join("hub.key"), key.serialize_pem()).unwrap();
    }

    fn load(dir: &Path, tls: &str) -> Result<HubConfig, heartline_engine::diagnostic::FileError> {
        let path = dir.join("hub.toml");
        std::fs::write(&path, format!("[store]\npath = \"s.redb\"\n\n{tls}")).unwrap();
        HubConfig::load(&path)
    }

    #[test]
    fn a_tls_section_loads_with_paths_from_the_config_folder() {
        let dir = tempfile::tempdir().unwrap();
        write_pair(dir.path());
        let cfg = load(
            dir.path(),
            "[tls]\ncert_file = \"hub.crt\"\nkey_file = \"hub.key\"\nmqtt_listen = \"127.0.0.1:8883\"\nhttps = true\n",
        )
        .unwrap();
        let tls = cfg.tls.unwrap();
        assert_eq!(tls.cert_file.get_ref(), &dir.path().join("hub.crt"));
        let built = super::Tls::load(&tls).unwrap();
        assert!(built.mqtt.is_some() && built.https.is_some());
    }

    #[test]
    fn tls_mistakes_point_at_their_line() {
        let dir = tempfile::tempdir().unwrap();
        write_pair(dir.path());
        std::fs::write(dir.path().join("empty.pem"), "").unwrap();
        let files = "[tls]\ncert_file = \"hub.crt\"\nkey_file = \"hub.key\"\n";
        let cases = [
            (files.to_string(), 5, "serves nothing"),
            (
                format!(
                    "{files}https = true\nmqtt_listen = \"127.0.0.1:9090\"\n\n[http]\nlisten = \"127.0.0.1:9090\"\n"
                ),
                8,
                "also http.listen",
            ),
            (
                "[tls]\ncert_file = \"missing.crt\"\nkey_file = \"hub.key\"\nhttps = true\n".into(),
                5,
                "missing.crt: cannot read the certificate file",
            ),
            (
                "[tls]\ncert_file = \"hub.crt\"\nkey_file = \"empty.pem\"\nhttps = true\n".into(),
                6,
                "empty.pem: holds no PEM private key",
            ),
            (
                "[tls]\ncert_file = \"hub.crt\"\nhttps = true\n".into(),
                4,
                "missing field `key_file`",
            ),
            (format!("{files}https = \"yes\"\n"), 7, "invalid type"),
        ];
        for (i, (text, line, says)) in cases.iter().enumerate() {
            let err = load(dir.path(), text).expect_err(&format!("case {i} accepted"));
            assert_eq!(err.line, *line, "case {i}: {err}");
            assert!(err.to_string().contains(says), "case {i}: {err}");
        }
    }
}
