//! TLS against a lab receiver with certificates generated here: trusted with --ca-cert,
//! `tls_handshake` without it, plain-to-TLS and TLS-to-plain both classified, mTLS both ways,
//! and the TLS environment variables honoured.

mod common;

use common::signal;
use otel_canary::lab::{LabReceivers, LabState, LabTls, ReceiverConfig};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use std::path::{Path, PathBuf};

struct Pki {
    dir: tempfile::TempDir,
    server: LabTls,
}

impl Pki {
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }
}

fn write(dir: &Path, name: &str, pem: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, pem).unwrap();
    p
}

/// A CA, a server certificate for 127.0.0.1/localhost and a client certificate, all in PEM.
fn pki(require_client_cert: bool) -> Pki {
    let dir = tempfile::tempdir().unwrap();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "otel-canary test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate().unwrap();
    let server_cert = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])
        .unwrap()
        .signed_by(&server_key, &issuer)
        .unwrap();
    let client_key = KeyPair::generate().unwrap();
    let mut client_params = CertificateParams::new(vec!["canary-client".into()]).unwrap();
    client_params
        .distinguished_name
        .push(DnType::CommonName, "canary-client");
    let client_cert = client_params.signed_by(&client_key, &issuer).unwrap();

    write(dir.path(), "ca.pem", &ca_cert.pem());
    write(dir.path(), "client.pem", &client_cert.pem());
    write(dir.path(), "client.key", &client_key.serialize_pem());
    let server = LabTls {
        cert_pem: server_cert.pem(),
        key_pem: server_key.serialize_pem(),
        client_ca_pem: require_client_cert.then(|| ca_cert.pem()),
    };
    Pki { dir, server }
}

async fn tls_lab(tls: &LabTls) -> LabReceivers {
    let mut cfg = ReceiverConfig::ephemeral();
    cfg.tls = Some(tls.clone());
    LabReceivers::start(cfg, LabState::new()).await.unwrap()
}

#[tokio::test]
async fn trusted_with_ca_cert_and_refused_without() {
    let pki = pki(false);
    let lab = tls_lab(&pki.server).await;
    for (protocol, base) in [
        ("http/protobuf", lab.http_base(true)),
        ("grpc", lab.grpc_base(true)),
    ] {
        let (code, doc) = common::emit_json(
            &[
                "--endpoint",
                &base,
                "--protocol",
                protocol,
                "--ca-cert",
                &pki.path("ca.pem"),
            ],
            vec![],
        )
        .await;
        assert_eq!(code, Some(0), "{protocol}: {doc}");
        let (code, doc) =
            common::emit_json(&["--endpoint", &base, "--protocol", protocol], vec![]).await;
        assert_eq!(code, Some(1));
        for s in ["trace", "log", "metric"] {
            assert_eq!(
                signal(&doc, s)["reason"],
                "tls_handshake",
                "{protocol} {s}: {doc}"
            );
            let hint = signal(&doc, s)["hint"].as_str().unwrap();
            assert!(
                hint.contains("does not trust") && hint.contains("--ca-cert"),
                "{hint}"
            );
        }
        // The insecure mode connects, and warns.
        let (code, doc) = common::emit_json(
            &[
                "--endpoint",
                &base,
                "--protocol",
                protocol,
                "--insecure-skip-verify",
            ],
            vec![],
        )
        .await;
        assert_eq!(code, Some(0), "{doc}");
        assert!(doc["warnings"][0].as_str().unwrap().contains("not checked"));
    }
    // The env var that opentelemetry-otlp ignores is honoured here.
    let env = vec![(
        "OTEL_EXPORTER_OTLP_CERTIFICATE".to_string(),
        pki.path("ca.pem"),
    )];
    let (code, doc) = common::emit_json(&["--endpoint", &lab.http_base(true)], env).await;
    assert_eq!(code, Some(0), "{doc}");
    assert_eq!(
        lab.state.store.len(),
        15,
        "2 protocols x (ca, insecure) x 3 signals + 3 via env"
    );
}

#[tokio::test]
async fn plain_to_tls_and_tls_to_plain() {
    let pki = pki(false);
    let tls = tls_lab(&pki.server).await;
    let plain = common::lab().await;
    // TLS client to a plain port: rustls sees a non-TLS record, and a plain look at the port
    // says what it speaks instead.
    for (protocol, base, speaks) in [
        ("http/protobuf", plain.http_base(true), "http1"),
        ("grpc", plain.grpc_base(true), "grpc"),
    ] {
        let (code, doc) = common::emit_json(
            &[
                "--endpoint",
                &base,
                "--protocol",
                protocol,
                "--ca-cert",
                &pki.path("ca.pem"),
            ],
            vec![],
        )
        .await;
        assert_eq!(code, Some(1));
        for s in doc["signals"].as_array().unwrap() {
            assert_eq!(s["reason"], "tls_mismatch", "{protocol}: {s}");
            assert_eq!(s["port_speaks"], speaks, "{protocol}: {s}");
            let hint = s["hint"].as_str().unwrap();
            assert!(
                hint.contains("but the canary started TLS: use http://"),
                "{hint}"
            );
        }
    }
    // Plain client to a TLS port: the server expects a handshake and hangs up; a handshake
    // with the port shows it speaks TLS.
    for (protocol, base) in [
        ("http/protobuf", tls.http_base(false)),
        ("grpc", tls.grpc_base(false)),
    ] {
        let (code, doc) = common::emit_json(
            &[
                "--endpoint",
                &base,
                "--protocol",
                protocol,
                "--export-timeout",
                "2s",
            ],
            vec![],
        )
        .await;
        assert_eq!(code, Some(1));
        for s in doc["signals"].as_array().unwrap() {
            assert_eq!(s["reason"], "tls_mismatch", "{protocol}: {s}");
            assert_eq!(s["port_speaks"], "tls", "{protocol}: {s}");
            let hint = s["hint"].as_str().unwrap();
            assert!(
                hint.contains("expects TLS but the canary spoke plain text: use https://"),
                "{hint}"
            );
        }
    }
    assert_eq!(tls.state.store.len(), 0);
}

#[tokio::test]
async fn mutual_tls_both_ways() {
    let pki = pki(true);
    let lab = tls_lab(&pki.server).await;
    for (protocol, base) in [
        ("http/json", lab.http_base(true)),
        ("grpc", lab.grpc_base(true)),
    ] {
        let ca = pki.path("ca.pem");
        let (code, doc) = common::emit_json(
            &[
                "--endpoint",
                &base,
                "--protocol",
                protocol,
                "--ca-cert",
                &ca,
                "--client-cert",
                &pki.path("client.pem"),
                "--client-key",
                &pki.path("client.key"),
            ],
            vec![],
        )
        .await;
        assert_eq!(code, Some(0), "{protocol}: {doc}");
        let (code, doc) = common::emit_json(
            &[
                "--endpoint",
                &base,
                "--protocol",
                protocol,
                "--ca-cert",
                &ca,
            ],
            vec![],
        )
        .await;
        assert_eq!(
            code,
            Some(1),
            "{protocol}: no client certificate must fail: {doc}"
        );
        // With TLS 1.3 the client may finish its half of the handshake before the server
        // refuses it; a second handshake that reads once surfaces the server's alert.
        for s in doc["signals"].as_array().unwrap() {
            assert_eq!(s["reason"], "tls_handshake", "{protocol}: {s}");
            let hint = s["hint"].as_str().unwrap();
            assert!(hint.contains("client certificate"), "{protocol}: {hint}");
        }
    }
    // The same client certificate through the environment variables.
    let env = vec![
        (
            "OTEL_EXPORTER_OTLP_CERTIFICATE".to_string(),
            pki.path("ca.pem"),
        ),
        (
            "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE".to_string(),
            pki.path("client.pem"),
        ),
        (
            "OTEL_EXPORTER_OTLP_CLIENT_KEY".to_string(),
            pki.path("client.key"),
        ),
    ];
    let (code, doc) = common::emit_json(&["--endpoint", &lab.http_base(true)], env).await;
    assert_eq!(code, Some(0), "{doc}");
}
