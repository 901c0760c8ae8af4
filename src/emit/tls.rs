//! One rustls client configuration per signal, shared by the HTTP and gRPC transports so TLS
//! behaves the same whatever the protocol: system roots by default, `--ca-cert` to trust a
//! private CA instead, mTLS, and an explicit insecure mode.

use crate::config::otlp::TlsSettings;
use crate::config::{ConfigError, Sourced};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime, pem::PemObject};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

/// The crypto provider every TLS config here uses (ring: no C toolchain surprises).
pub fn provider() -> Arc<CryptoProvider> {
    static P: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    P.get_or_init(|| {
        // Also the process default, for libraries that ask for one.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Arc::new(rustls::crypto::ring::default_provider())
    })
    .clone()
}

fn system_roots() -> Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let mut store = RootCertStore::empty();
            let loaded = rustls_native_certs::load_native_certs();
            for cert in loaded.certs {
                let _ = store.add(cert);
            }
            if store.is_empty() {
                tracing::warn!("no system CA certificates found; https endpoints need --ca-cert");
            }
            Arc::new(store)
        })
        .clone()
}

fn read_certs(path: &Sourced<PathBuf>) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let shown = path.value.display();
    let certs = CertificateDer::pem_file_iter(&path.value)
        .map_err(|e| ConfigError::at(&path.source, format!("cannot read {shown}: {e}")))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            ConfigError::at(
                &path.source,
                format!("{shown} is not a PEM certificate file: {e}"),
            )
        })?;
    if certs.is_empty() {
        return Err(ConfigError::at(
            &path.source,
            format!("{shown} holds no PEM certificate"),
        ));
    }
    Ok(certs)
}

fn read_key(path: &Sourced<PathBuf>) -> Result<PrivateKeyDer<'static>, ConfigError> {
    let shown = path.value.display();
    PrivateKeyDer::from_pem_file(&path.value).map_err(|e| {
        ConfigError::at(
            &path.source,
            format!("cannot read a PEM private key from {shown}: {e}"),
        )
    })
}

/// A configuration for clients that never do TLS (plain http targets): reqwest wants one, and
/// building it this way reads no certificates from disk.
pub fn plain_only_config() -> ClientConfig {
    ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(RootCertStore::empty())
        .with_no_client_auth()
}

/// A configuration that completes a handshake with any server, for asking a port whether it
/// speaks TLS at all (diagnosis only: nothing is sent through it but a probe).
pub fn diagnostic_config(alpn: &[&[u8]]) -> Arc<ClientConfig> {
    let provider = provider();
    let mut config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider)))
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// Builds the client TLS configuration. `alpn` is `h2` for gRPC, `http/1.1` for OTLP/HTTP.
pub fn client_config(tls: &TlsSettings, alpn: &[&[u8]]) -> Result<Arc<ClientConfig>, ConfigError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ConfigError::new("tls", e.to_string()))?;
    let builder = if tls.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider)))
    } else {
        let roots = match &tls.ca_cert {
            Some(ca) => {
                let mut store = RootCertStore::empty();
                for cert in read_certs(ca)? {
                    store.add(cert).map_err(|e| {
                        ConfigError::at(
                            &ca.source,
                            format!("{} is not a usable CA certificate: {e}", ca.value.display()),
                        )
                    })?;
                }
                Arc::new(store)
            }
            None => system_roots(),
        };
        builder.with_root_certificates(roots)
    };
    let mut config = match (&tls.client_cert, &tls.client_key) {
        (Some(cert), Some(key)) => builder
            .with_client_auth_cert(read_certs(cert)?, read_key(key)?)
            .map_err(|e| {
                ConfigError::at(
                    &key.source,
                    format!("client certificate and key do not match: {e}"),
                )
            })?,
        _ => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// `--insecure-skip-verify`: accepts any certificate but still checks handshake signatures.
#[derive(Debug)]
struct AcceptAnyCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
