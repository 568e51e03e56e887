//! The emulator's HTTP front door: plain HTTP requests (`curl`) wrapped as
//! one source's events (API Gateway, ALB, Function URL), and the function's
//! answers sent back as that source would. The conversions are core's.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambda_sansio::http::{
    event_from_request, gateway_failure, response_from_answer, split_stream_prelude, EventShape,
    GatewayFailure, HttpSource, SynthContext,
};
use tokio::net::TcpListener;

use super::outcome::InvokeOutcome;
use super::{io, Emulator, EmulatorError, Invoker};

/// Largest request body the front door takes: what fits a 6 MB event.
const MAX_REQUEST_BODY: usize = 4 * 1024 * 1024;

impl Emulator {
    /// Serves plain HTTP on `bind`: each request is wrapped as an event of
    /// `shape`, the function invoked with it, and its answer sent back as
    /// the source would (errors and timeouts too, as
    /// [`gateway_failure`] says). Returns the address it listens on.
    ///
    /// # Errors
    /// When `bind` cannot be listened on.
    pub async fn serve_http(&self, shape: EventShape, bind: SocketAddr) -> Result<SocketAddr, EmulatorError> {
        let listener =
            TcpListener::bind(bind).await.map_err(io(format!("listening for HTTP requests on {bind}")))?;
        let address = listener.local_addr().map_err(io("reading the HTTP address"))?;
        let front = Arc::new(Front { invoker: self.invoker(), shape, count: AtomicU64::new(0) });
        tokio::spawn(async move {
            loop {
                let Ok((stream, peer)) = listener.accept().await else { continue };
                let front = Arc::clone(&front);
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let front = Arc::clone(&front);
                        async move { Ok::<_, std::convert::Infallible>(front.answer(request, peer).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(address)
    }
}

struct Front {
    invoker: Invoker,
    shape: EventShape,
    count: AtomicU64,
}

impl Front {
    async fn answer(&self, request: Request<Incoming>, peer: SocketAddr) -> Response<Full<Bytes>> {
        let (parts, body) = request.into_parts();
        let Ok(body) = Limited::new(body, MAX_REQUEST_BODY).collect().await.map(|body| body.to_bytes())
        else {
            return plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                "The request body is over 4 MiB or was cut short.\n",
            );
        };
        let request = Request::from_parts(parts, body);
        let number = self.count.fetch_add(1, Ordering::Relaxed) + 1;
        let context = SynthContext {
            request_id: format!("emulated-request-{number}"),
            time_epoch_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| i64::try_from(since.as_millis()).unwrap_or(i64::MAX)),
            source_ip: peer.ip().to_string(),
            ..SynthContext::default()
        };
        let event = event_from_request(self.shape, &request, &context);
        let response = match self.invoker.invoke(event).await {
            Ok(InvokeOutcome::Response(answer)) => self.read_answer(&answer),
            Ok(InvokeOutcome::TimedOut) => gateway_failure(self.shape.source, GatewayFailure::Timeout),
            Ok(InvokeOutcome::Error(..) | InvokeOutcome::Aborted(_)) | Err(_) => {
                gateway_failure(self.shape.source, GatewayFailure::FunctionError)
            }
        };
        response.map(Full::new)
    }

    /// A buffered answer in the source's shape, or a streamed HTTP answer
    /// (prelude, eight NUL bytes, body: JSON never holds a NUL byte).
    fn read_answer(&self, answer: &Bytes) -> Response<Bytes> {
        if self.shape.source == HttpSource::FunctionUrl {
            if let Ok(Some((head, used))) = split_stream_prelude(answer) {
                return head.map(|()| answer.slice(used..));
            }
        }
        match response_from_answer(self.shape, answer) {
            Ok(response) => response,
            Err(error) => {
                eprintln!(
                    "lambda-sansio-emulator: the function's answer is not a {} answer: {error}",
                    self.shape.source
                );
                gateway_failure(self.shape.source, GatewayFailure::BadAnswer)
            }
        }
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response
}
