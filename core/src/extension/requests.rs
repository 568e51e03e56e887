//! Requests of the Extensions API (`/2020-01-01`).

use bytes::Bytes;
use http::{HeaderValue, Method, Request};
use serde::Serialize;

use super::event::EventType;
use crate::address::ApiAddress;
use crate::headers;
use crate::ids::{ExtensionId, ExtensionName};
use crate::report::ErrorReport;
use crate::wire::{json_request, request, BuildError};

/// Path of register.
pub const REGISTER_PATH: &str = "/2020-01-01/extension/register";
/// Path of the event long poll.
pub const NEXT_PATH: &str = "/2020-01-01/extension/event/next";
/// Path of the init-error report.
pub const INIT_ERROR_PATH: &str = "/2020-01-01/extension/init/error";
/// Path of the exit-error report.
pub const EXIT_ERROR_PATH: &str = "/2020-01-01/extension/exit/error";

#[derive(Serialize)]
struct RegisterBody<'a> {
    events: &'a [EventType],
}

/// `POST /extension/register` for `events` (empty: an internal extension that
/// only wants the runtime to receive SIGTERM).
pub fn register(
    address: &ApiAddress,
    name: &ExtensionName,
    events: &[EventType],
    accept_account_id: bool,
) -> Result<Request<Bytes>, BuildError> {
    let body = crate::exchange::json_body(&RegisterBody { events });
    let mut request = json_request(address, Method::POST, REGISTER_PATH, body)?;
    let map = request.headers_mut();
    map.insert(headers::EXTENSION_NAME, name.header_value().clone());
    if accept_account_id {
        map.insert(headers::EXTENSION_ACCEPT_FEATURE, HeaderValue::from_static("accountId"));
    }
    Ok(request)
}

/// `GET /extension/event/next`.
pub fn next(address: &ApiAddress, id: &ExtensionId) -> Result<Request<Bytes>, BuildError> {
    let mut request = request(address, Method::GET, NEXT_PATH, Bytes::new())?;
    request.headers_mut().insert(headers::EXTENSION_IDENTIFIER, id.header_value().clone());
    Ok(request)
}

/// `POST /extension/init/error`.
pub fn init_error(
    address: &ApiAddress,
    id: &ExtensionId,
    report: &ErrorReport,
) -> Result<Request<Bytes>, BuildError> {
    error_report(address, INIT_ERROR_PATH, id, report)
}

/// `POST /extension/exit/error`.
pub fn exit_error(
    address: &ApiAddress,
    id: &ExtensionId,
    report: &ErrorReport,
) -> Result<Request<Bytes>, BuildError> {
    error_report(address, EXIT_ERROR_PATH, id, report)
}

fn error_report(
    address: &ApiAddress,
    path: &str,
    id: &ExtensionId,
    report: &ErrorReport,
) -> Result<Request<Bytes>, BuildError> {
    let mut request = json_request(address, Method::POST, path, report.to_body())?;
    let map = request.headers_mut();
    map.insert(headers::EXTENSION_IDENTIFIER, id.header_value().clone());
    map.insert(headers::EXTENSION_ERROR_TYPE, extension_error_type(report));
    Ok(request)
}

/// The extension error-type header: the report's type when it is a usable
/// header value (visible ASCII, at most 128 bytes), else `Extension.Unknown`.
/// The header is required; the platform answers `403` without it.
fn extension_error_type(report: &ErrorReport) -> HeaderValue {
    let text = report.error_type.as_str();
    let usable = (1..=128).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_graphic());
    usable
        .then(|| HeaderValue::from_str(text).ok())
        .flatten()
        .unwrap_or_else(|| HeaderValue::from_static("Extension.Unknown"))
}
