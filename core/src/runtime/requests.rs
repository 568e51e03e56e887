//! Requests of the Runtime API (`/2018-06-01`).

use bytes::Bytes;
use http::header::{CONNECTION, CONTENT_TYPE, TRAILER, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderValue, Method, Request};

use crate::address::ApiAddress;
use crate::headers;
use crate::ids::{InvocationId, RequestId};
use crate::report::ErrorReport;
use crate::wire::{json_request, request, BuildError};

/// Path of the long poll for the next invocation.
pub const NEXT_PATH: &str = "/2018-06-01/runtime/invocation/next";
/// Path of the init-error report.
pub const INIT_ERROR_PATH: &str = "/2018-06-01/runtime/init/error";
/// Largest buffered response the platform accepts (6 MiB + 100 bytes); above
/// it the platform answers `413`.
pub const MAX_BUFFERED_RESPONSE: usize = 6 * 1024 * 1024 + 100;
/// The error type sent in place of a response the platform refused as too large.
pub const RESPONSE_TOO_LARGE: &str = "Function.ResponseSizeTooLarge";

fn invocation_path(id: &RequestId, tail: &str) -> String {
    format!("/2018-06-01/runtime/invocation/{id}/{tail}")
}

fn echo_invocation_id(request: &mut Request<Bytes>, invocation_id: Option<&InvocationId>) {
    if let Some(nonce) = invocation_id {
        request.headers_mut().insert(headers::INVOCATION_ID, nonce.header_value().clone());
    }
}

fn add_error_headers(request: &mut Request<Bytes>, report: &ErrorReport) {
    let map = request.headers_mut();
    map.insert(headers::FUNCTION_ERROR_TYPE, report.error_type_header());
    if let Some(cause) = report.xray_cause().and_then(|c| HeaderValue::from_str(c).ok()) {
        map.insert(headers::XRAY_ERROR_CAUSE, cause);
    }
}

/// `GET /runtime/invocation/next`.
pub fn next(address: &ApiAddress) -> Result<Request<Bytes>, BuildError> {
    request(address, Method::GET, NEXT_PATH, Bytes::new())
}

/// Content type of a buffered response whose handler named none: the
/// payload is opaque bytes.
pub const DEFAULT_RESPONSE_CONTENT_TYPE: HeaderValue = HeaderValue::from_static("application/octet-stream");

/// `POST /runtime/invocation/{id}/response` with a buffered payload, labelled
/// `content_type` ([`DEFAULT_RESPONSE_CONTENT_TYPE`] when `None`).
pub fn response(
    address: &ApiAddress,
    id: &RequestId,
    invocation_id: Option<&InvocationId>,
    payload: Bytes,
    content_type: Option<&HeaderValue>,
) -> Result<Request<Bytes>, BuildError> {
    let mut request = request(address, Method::POST, &invocation_path(id, "response"), payload)?;
    echo_invocation_id(&mut request, invocation_id);
    let content_type = content_type.cloned().unwrap_or(DEFAULT_RESPONSE_CONTENT_TYPE);
    request.headers_mut().insert(CONTENT_TYPE, content_type);
    Ok(request)
}

/// `POST /runtime/invocation/{id}/error`.
pub fn error(
    address: &ApiAddress,
    id: &RequestId,
    invocation_id: Option<&InvocationId>,
    report: &ErrorReport,
) -> Result<Request<Bytes>, BuildError> {
    let mut request = json_request(address, Method::POST, &invocation_path(id, "error"), report.to_body())?;
    add_error_headers(&mut request, report);
    echo_invocation_id(&mut request, invocation_id);
    Ok(request)
}

/// `POST /runtime/init/error`.
pub fn init_error(address: &ApiAddress, report: &ErrorReport) -> Result<Request<Bytes>, BuildError> {
    let mut request = json_request(address, Method::POST, INIT_ERROR_PATH, report.to_body())?;
    add_error_headers(&mut request, report);
    Ok(request)
}

/// The head of a streamed `POST /runtime/invocation/{id}/response`: response
/// mode `streaming`, chunked, with the error trailers announced and
/// `Connection: close` (the platform wants the connection closed after the
/// final chunk). The body is empty; the driver streams the real one.
pub fn streaming_response_head(
    address: &ApiAddress,
    id: &RequestId,
    invocation_id: Option<&InvocationId>,
    content_type: Option<&HeaderValue>,
) -> Result<Request<Bytes>, BuildError> {
    let mut request = request(address, Method::POST, &invocation_path(id, "response"), Bytes::new())?;
    echo_invocation_id(&mut request, invocation_id);
    let map = request.headers_mut();
    map.insert(headers::RESPONSE_MODE, HeaderValue::from_static("streaming"));
    map.insert(TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
    map.insert(
        TRAILER,
        HeaderValue::from_static("Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body"),
    );
    map.insert(CONNECTION, HeaderValue::from_static("close"));
    if let Some(content_type) = content_type {
        map.insert(CONTENT_TYPE, content_type.clone());
    }
    Ok(request)
}

/// The trailers that report a failure in the middle of a streamed response:
/// the shaped error type and the base64 of the JSON error body.
pub fn stream_error_trailers(report: &ErrorReport) -> HeaderMap {
    let mut trailers = HeaderMap::with_capacity(2);
    trailers.insert(headers::FUNCTION_ERROR_TYPE, report.error_type_header());
    let encoded = crate::base64::encode(&report.to_body());
    // Base64 output is visible ASCII.
    if let Ok(value) = HeaderValue::from_str(&encoded) {
        trailers.insert(headers::FUNCTION_ERROR_BODY, value);
    }
    trailers
}

/// The error type reported for an invocation whose `next` answer could not
/// be read.
pub const INVALID_EVENT: &str = "Runtime.InvalidEvent";

/// The report for an invocation whose `next` answer could not be read.
pub fn invalid_event_report(error: &crate::exchange::TransportError) -> ErrorReport {
    ErrorReport::new(INVALID_EVENT, format!("The invocation could not be read: {error}."))
}

/// The report sent in place of a response refused with `413`.
pub fn response_too_large_report() -> ErrorReport {
    ErrorReport::new(
        RESPONSE_TOO_LARGE,
        format!(
            "Response payload size exceeded maximum allowed payload size ({MAX_BUFFERED_RESPONSE} bytes)."
        ),
    )
}
