//! TLS for PostgreSQL connections, by rustls, with libpq's `sslmode` meanings:
//!
//! | sslmode | encrypted | certificate checked |
//! |---|---|---|
//! | `disable` | no | |
//! | `prefer` | when the server offers it | no |
//! | `require` | yes | no (as `verify-ca` when `sslrootcert` is given) |
//! | `verify-ca` | yes | signed by a trusted root |
//! | `verify-full` | yes | signed by a trusted root, and names the host |
//!
//! Trusted roots are the `sslrootcert` file's, or the system's.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::{PostgresConfig, SslMode};
use crate::config::paths::{self, PathResolver, Resolved};
use crate::error::{Error, Result};

/// The TLS connector for the settings, or `None` for `disable`.
pub(super) fn connector(
    config: &PostgresConfig,
    paths: &PathResolver,
) -> Result<Option<MakeRustlsConnect>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let check = match (config.sslmode, &config.sslrootcert) {
        (SslMode::Disable, _) => return Ok(None),
        (SslMode::Prefer, _) | (SslMode::Require, None) => Check::Nothing,
        (SslMode::Require | SslMode::VerifyCa, _) => Check::Authority,
        (SslMode::VerifyFull, _) => Check::AuthorityAndName,
    };
    let verifier: Arc<dyn ServerCertVerifier> = match check {
        Check::Nothing => Arc::new(AcceptAny(provider.clone())),
        Check::Authority | Check::AuthorityAndName => {
            let roots = Arc::new(roots(config, paths)?);
            let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .map_err(|e| tls_error(format!("cannot use the trusted roots: {e}")))?;
            match check {
                Check::Authority => Arc::new(AuthorityOnly(webpki)),
                _ => webpki,
            }
        }
    };
    let tls = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Some(MakeRustlsConnect::new(tls)))
}

enum Check {
    Nothing,
    Authority,
    AuthorityAndName,
}

fn tls_error(message: String) -> Error {
    Error::config(None, format!("postgres TLS: {message}"))
}

/// The trusted roots: `sslrootcert`'s certificates, or the system's.
fn roots(config: &PostgresConfig, paths: &PathResolver) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    let Some(file) = &config.sslrootcert else {
        let found = rustls_native_certs::load_native_certs();
        let (added, _) = roots.add_parsable_certificates(found.certs);
        if added == 0 {
            return Err(tls_error(format!(
                "sslmode `{}` checks the server's certificate, but no trusted roots were found on this system; give `sslrootcert: path/to/ca.pem`",
                config.sslmode.as_str()
            )));
        }
        return Ok(roots);
    };
    let path = match paths.resolve(&file.display().to_string()) {
        Resolved::Found(path) => path,
        Resolved::Missing(tried) => {
            return Err(tls_error(format!(
                "sslrootcert `{}` not found (looked for {})",
                file.display(),
                paths::list(&tried)
            )));
        }
    };
    let certificates: Vec<CertificateDer> = CertificateDer::pem_file_iter(&path)
        .and_then(|certs| certs.collect::<std::result::Result<_, _>>())
        .map_err(|e| tls_error(format!("cannot read sslrootcert `{}`: {e}", path.display())))?;
    let (added, _) = roots.add_parsable_certificates(certificates);
    if added == 0 {
        return Err(tls_error(format!(
            "sslrootcert `{}` holds no usable certificate",
            path.display()
        )));
    }
    Ok(roots)
}

/// Encrypts without checking the certificate (`prefer`, `require`); the handshake's signatures
/// are still verified.
#[derive(Debug)]
struct AcceptAny(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
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
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
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

/// Checks the certificate's chain of trust but not the name it is issued to (`verify-ca`).
#[derive(Debug)]
struct AuthorityOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AuthorityOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}
