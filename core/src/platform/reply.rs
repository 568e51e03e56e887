//! Answers the platform gives, kept in a hashable form until polled.

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderName, HeaderValue, StatusCode};
use serde::Serialize;

/// An HTTP answer held inside the machine. Unlike `http::Response` it is
/// `Clone + Hash + Eq`, so the machine stays comparable for the model checker.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) body: Bytes,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorBody<'a> {
    error_message: &'a str,
    error_type: &'a str,
}

const JSON: HeaderValue = HeaderValue::from_static("application/json");

impl Reply {
    pub(crate) fn json(status: StatusCode, body: Bytes) -> Self {
        Self { status, headers: vec![(CONTENT_TYPE, JSON)], body }
    }

    /// `{"errorMessage","errorType"}` with `status`.
    pub(crate) fn error(status: StatusCode, error_type: &str, message: &str) -> Self {
        Self::json(status, crate::exchange::json_body(&ErrorBody { error_message: message, error_type }))
    }

    /// `202 {"status":"OK"}`.
    pub(crate) fn accepted() -> Self {
        Self::json(StatusCode::ACCEPTED, Bytes::from_static(br#"{"status":"OK"}"#))
    }

    pub(crate) fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    pub(crate) fn into_response(self) -> http::Response<Bytes> {
        let mut response = http::Response::new(self.body);
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        for (name, value) in self.headers {
            headers.append(name, value);
        }
        response
    }
}

/// `403 InvalidStateTransition`.
pub(crate) fn invalid_state(message: &str) -> Reply {
    Reply::error(StatusCode::FORBIDDEN, "InvalidStateTransition", message)
}
