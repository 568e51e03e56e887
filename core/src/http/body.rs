//! When a body travels as text and when as base64.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE};
use http::HeaderMap;

use super::HttpEventError;

/// Whether an answer with these headers and this body goes back as text
/// (otherwise it goes as base64 with `isBase64Encoded`): no
/// `Content-Encoding`, a textual content type (`text/*`, JSON, XML,
/// JavaScript, form data, or none at all) and UTF-8 bytes.
pub fn is_text(headers: &HeaderMap, body: &[u8]) -> bool {
    if headers.contains_key(CONTENT_ENCODING) {
        return false;
    }
    let textual = match headers.get(CONTENT_TYPE).and_then(|value| value.to_str().ok()) {
        None => true,
        Some(content_type) => textual_type(content_type),
    };
    textual && std::str::from_utf8(body).is_ok()
}

fn textual_type(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence.starts_with("text/")
        || essence.ends_with("+json")
        || essence.ends_with("+xml")
        || matches!(
            essence.as_str(),
            "application/json"
                | "application/xml"
                | "application/javascript"
                | "application/ecmascript"
                | "application/x-www-form-urlencoded"
                | "application/graphql"
                | "image/svg+xml"
        )
}

/// An event's body as bytes.
pub(super) fn decode(body: Option<String>, base64_encoded: bool) -> Result<Bytes, HttpEventError> {
    match body {
        None => Ok(Bytes::new()),
        Some(text) if base64_encoded => {
            STANDARD.decode(text.as_bytes()).map(Bytes::from).map_err(|_| HttpEventError::InvalidBase64)
        }
        Some(text) => Ok(Bytes::from(text)),
    }
}

/// A body as an event field: `(text, is_base64_encoded)`; `None` when empty.
pub(super) fn encode(headers: &HeaderMap, body: &[u8]) -> (Option<String>, bool) {
    if body.is_empty() {
        return (None, false);
    }
    if is_text(headers, body) {
        (Some(String::from_utf8_lossy(body).into_owned()), false)
    } else {
        (Some(STANDARD.encode(body)), true)
    }
}
