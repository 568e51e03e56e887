//! Shared request construction for every API call.

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST, USER_AGENT};
use http::{HeaderValue, Method, Request};

use crate::address::ApiAddress;
use crate::headers::USER_AGENT_VALUE;

/// Why a request could not be built. Validated ids and addresses make this
/// unreachable in practice; it is typed so that no path can panic.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
#[error("could not build the {path} request: {detail}")]
pub struct BuildError {
    /// The API path.
    pub path: String,
    /// What `http` reported.
    pub detail: String,
}

/// Content type of JSON request bodies.
pub(crate) const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// A request to `path` under `address` with `Host` and `User-Agent` set.
pub(crate) fn request(
    address: &ApiAddress,
    method: Method,
    path: &str,
    body: Bytes,
) -> Result<Request<Bytes>, BuildError> {
    let uri = address.uri(path).map_err(|e| BuildError { path: path.to_owned(), detail: e.to_string() })?;
    let mut request = Request::new(body);
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    let headers = request.headers_mut();
    headers.insert(HOST, address.host_header().clone());
    headers.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
    Ok(request)
}

/// A JSON-bodied request.
pub(crate) fn json_request(
    address: &ApiAddress,
    method: Method,
    path: &str,
    body: Bytes,
) -> Result<Request<Bytes>, BuildError> {
    let mut request = request(address, method, path, body)?;
    request.headers_mut().insert(CONTENT_TYPE, JSON);
    Ok(request)
}

/// The text of an optional header value, `None` when empty or not UTF-8.
pub(crate) fn text(value: &http::HeaderValue) -> Option<String> {
    let text = std::str::from_utf8(value.as_bytes()).ok()?.trim();
    (!text.is_empty()).then(|| text.to_owned())
}
