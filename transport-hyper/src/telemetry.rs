//! A Telemetry API listener on hyper: accepts the batches the platform POSTs.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambda_sansio::telemetry::{decode_batch, TelemetryRecord};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// The host name Lambda gives the execution environment.
pub const SANDBOX_HOST: &str = "sandbox.localdomain";
/// Largest batch body accepted.
const MAX_BATCH: usize = 2 * 1024 * 1024;

/// A bound listener, not yet serving.
pub struct TelemetryListener {
    listener: TcpListener,
    host: String,
}

impl TelemetryListener {
    /// Binds `port` (0 for any) on the address `sandbox.localdomain`
    /// resolves to (on Lambda), else on loopback; never on all interfaces.
    pub async fn bind(port: u16) -> std::io::Result<Self> {
        let sandbox = tokio::net::lookup_host((SANDBOX_HOST, port)).await.ok().and_then(|mut a| a.next());
        let (address, host) = match sandbox {
            Some(address) => (address, SANDBOX_HOST.to_owned()),
            None => (SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port), "127.0.0.1".to_owned()),
        };
        Ok(Self { listener: TcpListener::bind(address).await?, host })
    }

    /// The destination URI to subscribe with.
    pub fn destination(&self) -> std::io::Result<String> {
        Ok(format!("http://{}:{}/telemetry", self.host, self.listener.local_addr()?.port()))
    }

    /// Serves in a background task; each batch that decodes is sent to the
    /// returned channel (a malformed one is answered 400).
    pub fn spawn(self) -> mpsc::UnboundedReceiver<Vec<TelemetryRecord>> {
        let (batches, received) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((stream, _)) = self.listener.accept().await {
                let batches = batches.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request: http::Request<hyper::body::Incoming>| {
                        let batches = batches.clone();
                        async move {
                            let status = match Limited::new(request.into_body(), MAX_BATCH).collect().await {
                                Ok(body) => match decode_batch(&body.to_bytes()) {
                                    Ok(batch) => {
                                        let _ = batches.send(batch);
                                        StatusCode::OK
                                    }
                                    Err(_) => StatusCode::BAD_REQUEST,
                                },
                                Err(_) => StatusCode::PAYLOAD_TOO_LARGE,
                            };
                            let mut response = Response::new(Full::new(Bytes::new()));
                            *response.status_mut() = status;
                            Ok::<_, std::convert::Infallible>(response)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        received
    }
}
