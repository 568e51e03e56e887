//! One request on a fresh HTTP/1.1 connection: for telemetry delivery and
//! other rare calls where keeping a connection is not worth it.

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST};
use http::{HeaderValue, Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Why a one-shot request failed.
#[derive(Debug, thiserror::Error)]
pub enum OneshotError {
    /// The URI has no host or is not `http`.
    #[error("unusable URI {0}")]
    Uri(String),
    /// Connecting failed.
    #[error("connect: {0}")]
    Connect(#[from] std::io::Error),
    /// The exchange failed.
    #[error("http: {0}")]
    Http(#[from] hyper::Error),
}

/// Sends `request` (absolute URI) and reads the whole answer.
pub async fn send(mut request: Request<Bytes>) -> Result<Response<Bytes>, OneshotError> {
    let uri = request.uri().clone();
    let authority = uri.authority().ok_or_else(|| OneshotError::Uri(uri.to_string()))?.clone();
    if uri.scheme_str() != Some("http") {
        return Err(OneshotError::Uri(uri.to_string()));
    }
    let port = authority.port_u16().unwrap_or(80);
    let host = authority.host().trim_start_matches('[').trim_end_matches(']');
    let stream = TcpStream::connect((host, port)).await?;
    stream.set_nodelay(true)?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    if let Ok(value) = HeaderValue::from_str(authority.as_str()) {
        request.headers_mut().entry(HOST).or_insert(value);
    }
    // Origin form (a path and the Host header), as clients send it.
    let origin = request.uri().path_and_query().map_or("/", |pq| pq.as_str()).to_owned();
    if let Ok(origin) = origin.parse() {
        *request.uri_mut() = origin;
    }
    let (parts, body) = request.into_parts();
    let response = sender.send_request(Request::from_parts(parts, Full::new(body))).await?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await?.to_bytes();
    Ok(Response::from_parts(parts, body))
}

/// POSTs a JSON body to `uri` and returns the status.
pub async fn post_json(uri: &str, body: Bytes) -> Result<StatusCode, OneshotError> {
    let uri: Uri = uri.parse().map_err(|_| OneshotError::Uri(uri.to_owned()))?;
    let mut request = Request::new(body);
    *request.method_mut() = Method::POST;
    *request.uri_mut() = uri;
    request.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(send(request).await?.status())
}
