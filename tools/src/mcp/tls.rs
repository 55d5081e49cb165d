//! The TLS configuration of the streamable HTTP client: rustls with the `ring` provider,
//! the system's root certificates and, per server, the CA certificates of its
//! [`McpServerConfig::ca_cert`] file.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use rmcp::service::ClientInitializeError;
use rmcp::transport::streamable_http_client::StreamableHttpError;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use super::{McpError, McpServerConfig};

/// Most bytes of a CA certificate file (a bundle of many certificates is far smaller).
const MAX_CA_FILE_BYTES: u64 = 1 << 20;

/// The TLS configuration for `config`'s server: the system's roots, plus the
/// certificates of its `ca_cert` file when it names one.
///
/// # Errors
/// [`McpError::CaCert`] when the file is missing, unreadable, too large or holds no
/// valid certificate; [`McpError::InvalidConfig`] when rustls refuses the configuration.
pub(super) fn client_config(config: &McpServerConfig) -> Result<rustls::ClientConfig, McpError> {
    let mut roots = system_roots().clone();
    if let Some(path) = &config.ca_cert {
        let fail = |message: String| McpError::CaCert {
            server: config.name.clone(),
            path: path.clone(),
            message,
        };
        for cert in read_pem_certs(path).map_err(fail)? {
            roots
                .add(cert)
                .map_err(|e| fail(format!("not a usable CA certificate: {e}")))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map(|builder| builder.with_root_certificates(roots).with_no_client_auth())
        .map_err(|e| McpError::InvalidConfig {
            server: config.name.clone(),
            message: format!("no TLS configuration: {e}"),
        })
}

/// The certificates of the PEM file at `path` (a regular file, capped); at least one.
fn read_pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let bytes =
        agentry_model::file::read_capped(path, MAX_CA_FILE_BYTES).map_err(|e| e.to_string())?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("not a valid PEM file: {e}"))?;
    if certs.is_empty() {
        return Err("no `BEGIN CERTIFICATE` block in it (a PEM file is expected)".into());
    }
    Ok(certs)
}

/// The system's root certificates, read once per process.
fn system_roots() -> &'static rustls::RootCertStore {
    static ROOTS: OnceLock<rustls::RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut roots = rustls::RootCertStore::empty();
        let found = rustls_native_certs::load_native_certs();
        for error in &found.errors {
            tracing::debug!("a system root certificate was not read: {error}");
        }
        let (added, ignored) = roots.add_parsable_certificates(found.certs);
        tracing::debug!("TLS roots: {added} added, {ignored} ignored");
        roots
    })
}

/// Why the server's certificate was refused, when that is what ended the handshake
/// `error` (rustls's reason, e.g. `invalid peer certificate: UnknownIssuer`).
pub(super) fn refused_certificate(error: &ClientInitializeError) -> Option<String> {
    let ClientInitializeError::TransportError { error, .. } = error else {
        return None;
    };
    let mut link: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = link {
        if let Some(
            tls @ (rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented),
        ) = current.downcast_ref::<rustls::Error>()
        {
            return Some(tls.to_string());
        }
        link = cause(current);
    }
    None
}

/// The error `error` wraps, including those that do not give it as their `source`: an
/// I/O error's inner error and the HTTP client's error inside rmcp's.
pub(super) fn cause<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a (dyn std::error::Error + 'static)> {
    if let Some(io) = error.downcast_ref::<std::io::Error>() {
        return io
            .get_ref()
            .map(|inner| inner as &(dyn std::error::Error + 'static));
    }
    if let Some(StreamableHttpError::Client(client)) =
        error.downcast_ref::<StreamableHttpError<reqwest_mcp::Error>>()
    {
        return Some(client);
    }
    error.source()
}
