//! Telling why a TLS connection to etcd fails, in one sentence.
//!
//! When connecting fails, the gRPC stack reports a certificate problem
//! either as a buried `invalid peer certificate: UnknownIssuer` or, when
//! etcd is the side that refuses (no client certificate, one it does not
//! trust), only as "operation was canceled": etcd's TLS alert never reaches
//! the failed request. [`diagnose`] therefore makes one TLS handshake of its
//! own with the same settings (CA, client identity, ALPN `h2`), reads the
//! first bytes etcd sends, and names what the handshake or etcd's alert
//! says. Nothing is concluded from an endpoint that does not answer at all:
//! that stays "unreachable", which retrying can fix.

use std::io::Cursor;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::{
    AlertDescription, CertificateError, ClientConfig, Error as TlsError, RootCertStore, crypto,
};

use crate::config::TlsConfig;

/// How long the probe may take per endpoint, connect and handshake each.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// The certificate problem of the first `https://` endpoint that has one,
/// as one sentence for the person who started etcdeck; `None` when no
/// endpoint shows a TLS problem (etcd down, or TLS is fine).
pub async fn diagnose(endpoints: &[String], tls: Option<&TlsConfig>) -> Option<String> {
    for endpoint in endpoints {
        let Some(authority) = endpoint.strip_prefix("https://") else {
            continue;
        };
        let authority = authority.split('/').next().unwrap_or_default();
        if let Some(problem) = probe(authority, tls).await {
            return Some(problem);
        }
    }
    None
}

async fn probe(authority: &str, tls: Option<&TlsConfig>) -> Option<String> {
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => authority,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let name = ServerName::try_from(host.to_owned()).ok()?;
    let config = match client_config(tls) {
        Ok(config) => config,
        Err(problem) => return Some(problem),
    };
    let address = if authority.contains(':') {
        authority.to_owned()
    } else {
        format!("{authority}:443")
    };
    let tcp = tokio::time::timeout(PROBE_TIMEOUT, TcpStream::connect(address))
        .await
        .ok()?
        .ok()?;
    let has_identity = tls.is_some_and(|t| t.identity.is_some());
    let has_ca = tls.is_some_and(|t| t.ca.is_some());
    let connector = TlsConnector::from(Arc::new(config));
    let mut stream = match tokio::time::timeout(PROBE_TIMEOUT, connector.connect(name, tcp)).await {
        Err(_) => return None,
        Ok(Err(err)) => return explain(&err, host, has_ca, has_identity),
        Ok(Ok(stream)) => stream,
    };
    // With TLS 1.3 etcd judges the client's certificate after the client
    // considers the handshake done: its verdict is the first thing read.
    let mut buf = [0u8; 64];
    match tokio::time::timeout(PROBE_TIMEOUT, stream.read(&mut buf)).await {
        Ok(Err(err)) => explain(&err, host, has_ca, has_identity),
        _ => None,
    }
}

fn client_config(tls: Option<&TlsConfig>) -> Result<ClientConfig, String> {
    let mut roots = RootCertStore::empty();
    if let Some(ca) = tls.and_then(|t| t.ca.as_ref()) {
        for cert in CertificateDer::pem_reader_iter(&mut Cursor::new(ca)) {
            let cert =
                cert.map_err(|err| format!("--cacert is not a valid PEM certificate: {err}"))?;
            roots
                .add(cert)
                .map_err(|err| format!("--cacert holds an unusable certificate: {err}"))?;
        }
    }
    let builder = ClientConfig::builder_with_provider(Arc::new(crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|err| format!("TLS set-up failed: {err}"))?
        .with_root_certificates(roots);
    let mut config = match tls.and_then(|t| t.identity.as_ref()) {
        Some((cert, key)) => {
            let certs = CertificateDer::pem_reader_iter(&mut Cursor::new(cert))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|err| format!("--cert is not a valid PEM certificate: {err}"))?;
            let key = PrivateKeyDer::from_pem_reader(&mut Cursor::new(key))
                .map_err(|err| format!("--key is not a valid PEM private key: {err}"))?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|err| format!("--cert and --key do not make a usable identity: {err}"))?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols.push(b"h2".to_vec());
    Ok(config)
}

/// The sentence for a failed handshake or first read; `None` when the
/// failure is not about TLS (a reset connection, say).
fn explain(err: &std::io::Error, host: &str, has_ca: bool, has_identity: bool) -> Option<String> {
    let tls = err.get_ref()?.downcast_ref::<TlsError>()?;
    Some(sentence(tls, host, has_ca, has_identity))
}

fn sentence(err: &TlsError, host: &str, has_ca: bool, has_identity: bool) -> String {
    match err {
        TlsError::InvalidCertificate(CertificateError::UnknownIssuer) if has_ca => {
            "etcd's TLS certificate is not signed by the CA in --cacert".into()
        }
        TlsError::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "etcd's TLS certificate is not signed by a CA etcdeck trusts: give the CA that signed it with --cacert".into()
        }
        TlsError::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => format!(
            "etcd's TLS certificate is not valid for the name {host}: use an endpoint name the certificate lists"
        ),
        TlsError::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. },
        ) => "etcd's TLS certificate has expired".into(),
        TlsError::InvalidCertificate(
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. },
        ) => "etcd's TLS certificate is not valid yet (check the clocks)".into(),
        TlsError::InvalidCertificate(other) => {
            format!("etcd's TLS certificate is not acceptable: {other:?}")
        }
        TlsError::AlertReceived(
            AlertDescription::CertificateRequired
            | AlertDescription::HandshakeFailure
            | AlertDescription::BadCertificate,
        ) if !has_identity => {
            "etcd requires a client certificate: give one with --cert and --key".into()
        }
        TlsError::AlertReceived(
            AlertDescription::BadCertificate
            | AlertDescription::UnknownCA
            | AlertDescription::CertificateUnknown
            | AlertDescription::UnsupportedCertificate
            | AlertDescription::CertificateExpired
            | AlertDescription::CertificateRevoked
            | AlertDescription::HandshakeFailure,
        ) => "etcd refused the client certificate in --cert: it is not signed by a CA etcd trusts, or not valid for client authentication".into(),
        TlsError::InvalidMessage(_) => {
            "etcd does not answer TLS on this https:// endpoint (is it serving plain http://?)"
                .into()
        }
        other => format!("the TLS handshake with etcd failed: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sentence_is_one_line_naming_the_flag() {
        let unknown = TlsError::InvalidCertificate(CertificateError::UnknownIssuer);
        assert_eq!(
            sentence(&unknown, "127.0.0.1", true, true),
            "etcd's TLS certificate is not signed by the CA in --cacert"
        );
        assert!(sentence(&unknown, "127.0.0.1", false, true).contains("--cacert"));
        let required = TlsError::AlertReceived(AlertDescription::CertificateRequired);
        assert!(sentence(&required, "h", true, false).contains("--cert and --key"));
        let refused = TlsError::AlertReceived(AlertDescription::BadCertificate);
        assert!(sentence(&refused, "h", true, true).contains("refused the client certificate"));
        let name = TlsError::InvalidCertificate(CertificateError::NotValidForName);
        assert!(sentence(&name, "etcd.example", true, true).contains("etcd.example"));
    }

    #[test]
    fn bad_pem_is_named_not_panicked() {
        let tls = TlsConfig {
            ca: Some(
                b"-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n".to_vec(),
            ),
            identity: None,
        };
        let err = client_config(Some(&tls)).expect_err("bad PEM");
        assert!(err.contains("--cacert"), "{err}");
    }

    #[tokio::test]
    async fn plain_http_endpoints_and_unreachable_ones_are_not_tls_problems() {
        let none = diagnose(&["http://127.0.0.1:1".into()], None).await;
        assert_eq!(none, None);
        let refused = diagnose(&["https://127.0.0.1:1".into()], None).await;
        assert_eq!(refused, None);
    }
}
