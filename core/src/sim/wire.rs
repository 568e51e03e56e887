//! Hashable snapshots of requests and answers in transit, so that a whole
//! simulated world can be stored and compared by the model checker.

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, StatusCode, Uri};

/// A request as it travels.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WireRequest {
    method: Method,
    uri: Uri,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
}

impl WireRequest {
    /// Snapshots `request`.
    pub fn capture(request: &http::Request<Bytes>) -> Self {
        Self {
            method: request.method().clone(),
            uri: request.uri().clone(),
            headers: request.headers().iter().map(|(n, v)| (n.clone(), v.clone())).collect(),
            body: request.body().clone(),
        }
    }

    /// The request again.
    pub fn to_request(&self) -> http::Request<Bytes> {
        let mut request = http::Request::new(self.body.clone());
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.uri.clone();
        for (name, value) in &self.headers {
            request.headers_mut().append(name.clone(), value.clone());
        }
        request
    }
}

/// An answer as it travels.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WireResponse {
    status: StatusCode,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
}

impl WireResponse {
    /// Snapshots `response`.
    pub fn capture(response: &http::Response<Bytes>) -> Self {
        Self {
            status: response.status(),
            headers: response.headers().iter().map(|(n, v)| (n.clone(), v.clone())).collect(),
            body: response.body().clone(),
        }
    }

    /// A bare answer with `status` and a JSON error body.
    pub fn error(status: StatusCode, error_type: &str) -> Self {
        let body = format!(r#"{{"errorType":"{error_type}","errorMessage":"injected"}}"#);
        Self { status, headers: Vec::new(), body: Bytes::from(body) }
    }

    /// A `202` with an empty body.
    pub fn accepted() -> Self {
        Self { status: StatusCode::ACCEPTED, headers: Vec::new(), body: Bytes::new() }
    }

    /// An answer with `status` and the JSON `body`.
    pub fn json(status: StatusCode, body: &'static str) -> Self {
        Self { status, headers: Vec::new(), body: Bytes::from_static(body.as_bytes()) }
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The answer again.
    pub fn to_response(&self) -> http::Response<Bytes> {
        let mut response = http::Response::new(self.body.clone());
        *response.status_mut() = self.status;
        for (name, value) in &self.headers {
            response.headers_mut().append(name.clone(), value.clone());
        }
        response
    }
}
