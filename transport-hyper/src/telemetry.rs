//! A Telemetry API listener on hyper: accepts the batches the platform POSTs.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use bytes::Bytes;
use http::Response;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Body;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambda_sansio::telemetry::{
    receive_batch, sandbox_address, too_large, Subscription, TelemetryRecord, MAX_BATCH_BYTES,
};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::net::TcpListener;

/// The host name Lambda gives the execution environment.
pub const SANDBOX_HOST: &str = Subscription::SANDBOX_HOST;

/// A bound listener, not yet serving.
pub struct TelemetryListener {
    listener: TcpListener,
}

impl TelemetryListener {
    /// Binds `port` (0 for any) on the address `/etc/hosts` gives
    /// `sandbox.localdomain` (on Lambda), else on loopback; never on all
    /// interfaces, and without a DNS query.
    pub async fn bind(port: u16) -> std::io::Result<Self> {
        // A small local file, read once at bind time.
        let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        let ip = sandbox_address(&hosts).unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
        Ok(Self { listener: TcpListener::bind(SocketAddr::new(ip, port)).await? })
    }

    /// The destination URI to subscribe with: always on
    /// `sandbox.localdomain`, as Lambda requires (under Managed Instances it
    /// refuses any other host).
    pub fn destination(&self) -> std::io::Result<String> {
        Ok(format!("http://{SANDBOX_HOST}:{}/telemetry", self.listener.local_addr()?.port()))
    }

    /// Serves in a background task, calling `on_batch` for each batch that
    /// decodes, one batch at a time, before the platform is answered `200`:
    /// once the platform has its answer, the batch has been handled (a
    /// malformed one is answered 400 and dropped).
    pub fn spawn<F>(self, on_batch: F)
    where
        F: FnMut(Vec<TelemetryRecord>) + Send + 'static,
    {
        let on_batch = Arc::new(Mutex::new(on_batch));
        tokio::spawn(async move {
            while let Ok((stream, _)) = self.listener.accept().await {
                let on_batch = Arc::clone(&on_batch);
                tokio::spawn(async move {
                    let service = service_fn(move |request: http::Request<hyper::body::Incoming>| {
                        let on_batch = Arc::clone(&on_batch);
                        async move {
                            let (parts, body) = request.into_parts();
                            let declared = body.size_hint().exact().and_then(|n| usize::try_from(n).ok());
                            let answer = if declared.is_some_and(|n| n > MAX_BATCH_BYTES) {
                                too_large()
                            } else {
                                match Limited::new(body, MAX_BATCH_BYTES).collect().await {
                                    Ok(body) => receive_batch(&parts.method, &body.to_bytes()),
                                    Err(_) => too_large(),
                                }
                            };
                            let status = answer.status;
                            if status.is_success() {
                                let mut on_batch = on_batch.lock().unwrap_or_else(PoisonError::into_inner);
                                (*on_batch)(answer.records);
                            }
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
    }
}
