//! TLS termination with rustls: the server certificate chain and key from PEM files, ALPN for
//! HTTP/2 and HTTP/1.1, and — with `client_ca` — required client certificates verified against
//! that CA, whose subject common name can identify a tenant.

use crate::config::Tls;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::sync::Arc;

/// The acceptor for a `[tls]` table; `at` is where the table sits in the configuration
/// (`server.tls`), so that errors name the key.
pub fn acceptor(t: &Tls, at: &str) -> Result<tokio_rustls::TlsAcceptor, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs = CertificateDer::pem_file_iter(&t.cert)
        .and_then(|i| i.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{at}.cert: {}: {e}", t.cert.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{at}.cert: {}: no certificate in it",
            t.cert.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&t.key)
        .map_err(|e| format!("{at}.key: {}: {e}", t.key.display()))?;
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = match &t.client_ca {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_file_iter(ca)
                .map_err(|e| format!("{at}.client_ca: {}: {e}", ca.display()))?
            {
                let c = c.map_err(|e| format!("{at}.client_ca: {}: {e}", ca.display()))?;
                roots
                    .add(c)
                    .map_err(|e| format!("{at}.client_ca: {}: {e}", ca.display()))?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .map_err(|e| format!("{at}.client_ca: {}: {e}", ca.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| format!("{at}: the certificate and key do not fit together: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// The common name of the verified client certificate, if one was presented.
pub fn client_common_name(conn: &rustls::ServerConnection) -> Option<String> {
    let leaf = conn.peer_certificates()?.first()?;
    let cert = palisade_sign::cert::from_der(leaf.as_ref()).ok()?;
    let subject = palisade_sign::cert::subject(&cert);
    subject
        .split(',')
        .find_map(|part| part.trim().strip_prefix("CN="))
        .map(str::to_string)
}
