//! One kept-alive HTTP/1.1 connection over TLS (rustls, with the system's CA
//! bundle and an optional extra CA file), for `https://` sinks. The TLS
//! settings are built on first use, so an extension that never sends over
//! HTTPS pays nothing for them at init.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use lambda_sansio_blocking::http1::{self, Limits, ResponseDecoder};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

/// A TLS connection to one host, opened on first use and again after a
/// failure.
pub(crate) struct TlsConnection {
    authority: String,
    server_name: ServerName<'static>,
    extra_ca: Option<PathBuf>,
    config: Option<Arc<ClientConfig>>,
    timeout: Duration,
    max_answer: usize,
    stream: Option<StreamOwned<ClientConnection, TcpStream>>,
    buffer: BytesMut,
}

impl TlsConnection {
    /// A connection to `authority` (`host:port`), verifying `host` against
    /// the system's CAs and those of `extra_ca` (PEM).
    pub(crate) fn new(
        authority: String,
        host: &str,
        extra_ca: Option<PathBuf>,
        timeout: Duration,
        max_answer: usize,
    ) -> Result<Self, String> {
        let server_name = ServerName::try_from(host.to_owned())
            .map_err(|_| format!("{host:?} is not a host name TLS can verify"))?;
        Ok(Self {
            authority,
            server_name,
            extra_ca,
            config: None,
            timeout,
            max_answer,
            stream: None,
            buffer: BytesMut::new(),
        })
    }

    /// Sends `request` (a buffered body) and reads the whole answer.
    pub(crate) fn send(&mut self, request: &http::Request<Bytes>) -> Result<http::Response<Bytes>, String> {
        let result = self.exchange(request);
        if result.is_err() {
            self.stream = None;
        }
        result
    }

    fn exchange(&mut self, request: &http::Request<Bytes>) -> Result<http::Response<Bytes>, String> {
        if self.stream.is_none() {
            self.stream = Some(self.connect()?);
            self.buffer.clear();
        }
        let Some(stream) = self.stream.as_mut() else { return Err("no connection".into()) };
        stream
            .write_all(&encode(request))
            .and_then(|()| stream.flush())
            .map_err(|e| format!("could not send: {e}"))?;
        let mut decoder = ResponseDecoder::new(Limits::with_max_body(self.max_answer));
        let mut scratch = [0u8; 16 * 1024];
        loop {
            if let Some(decoded) = decoder.decode(&mut self.buffer).map_err(|e| e.detail)? {
                let close = decoded
                    .response
                    .headers()
                    .get(http::header::CONNECTION)
                    .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
                if !decoded.reusable || close {
                    self.stream = None;
                }
                return Ok(decoded.response);
            }
            let read = stream.read(&mut scratch).map_err(|e| format!("could not read the answer: {e}"))?;
            if read == 0 {
                return match decoder.decode_eof(&mut self.buffer).map_err(|e| e.detail)? {
                    Some(decoded) => {
                        self.stream = None;
                        Ok(decoded.response)
                    }
                    None => Err("the server closed the connection before answering".into()),
                };
            }
            self.buffer.extend_from_slice(&scratch[..read]);
        }
    }

    fn connect(&mut self) -> Result<StreamOwned<ClientConnection, TcpStream>, String> {
        let config = match &self.config {
            Some(config) => Arc::clone(config),
            None => {
                let config = client_config(self.extra_ca.as_deref())?;
                self.config = Some(Arc::clone(&config));
                config
            }
        };
        let tcp = connect(&self.authority, self.timeout)?;
        let tls = ClientConnection::new(config, self.server_name.clone())
            .map_err(|e| format!("could not start TLS with {}: {e}", self.authority))?;
        Ok(StreamOwned::new(tls, tcp))
    }
}

fn connect(authority: &str, timeout: Duration) -> Result<TcpStream, String> {
    let tcp = http1::connect(authority, Some(timeout))
        .map_err(|e| format!("could not connect to {authority}: {e}"))?;
    let _ = tcp.set_nodelay(true);
    tcp.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    tcp.set_write_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    Ok(tcp)
}

/// The system's CA certificates (as Lambda's images ship them, or
/// `SSL_CERT_FILE` / `SSL_CERT_DIR`), plus those of `extra_ca`.
pub(crate) fn client_config(extra_ca: Option<&std::path::Path>) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    let (_added, _ignored) = roots.add_parsable_certificates(native.certs);
    if let Some(path) = extra_ca {
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("could not read the CA file {}: {e}", path.display()))?;
        for cert in certs {
            let cert = cert.map_err(|e| format!("the CA file {} is not PEM: {e}", path.display()))?;
            roots
                .add(cert)
                .map_err(|e| format!("the CA file {} holds a bad certificate: {e}", path.display()))?;
        }
    }
    if roots.is_empty() {
        return Err("no CA certificate was found (system bundle or CA file): HTTPS cannot be verified".into());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("could not set up TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// `request` as HTTP/1.1 bytes: the head the plain connection writes, then
/// the buffered body.
fn encode(request: &http::Request<Bytes>) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + request.body().len());
    http1::write_head(&mut out, request, false);
    out.extend_from_slice(request.body());
    out
}
