//! Error reports the client sends (`/error`, `/init/error`, `/exit/error`)
//! and error bodies the platform answers with.

use bytes::Bytes;
use http::HeaderValue;
use serde::{Deserialize, Serialize};

/// Largest compacted X-Ray cause sent; a larger one is left out.
pub const MAX_XRAY_CAUSE_LEN: usize = 64 * 1024;

/// An error the function, runtime or extension reports to the platform.
///
/// `error_type` is kept verbatim in the JSON body; the error-type header gets
/// a shaped copy (see [`ErrorReport::error_type_header`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ErrorReport {
    /// The error's type name, e.g. `Function.ValidationError` or `ParseIntError`.
    pub error_type: String,
    /// The message.
    pub error_message: String,
    /// Frames or causes, outermost first.
    pub stack_trace: Vec<String>,
    /// Compacted X-Ray cause JSON for `Lambda-Runtime-Function-XRay-Error-Cause`.
    xray_cause: Option<Box<str>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReportBody<'a> {
    error_message: &'a str,
    error_type: &'a str,
    stack_trace: &'a [String],
}

impl ErrorReport {
    /// A report with a type and message and no stack trace.
    pub fn new(error_type: impl Into<String>, error_message: impl Into<String>) -> Self {
        Self { error_type: error_type.into(), error_message: error_message.into(), ..Self::default() }
    }

    /// Adds stack-trace lines.
    pub fn with_stack_trace(mut self, frames: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.stack_trace = frames.into_iter().map(Into::into).collect();
        self
    }

    /// Attaches an X-Ray error cause. It is compacted; a cause longer than
    /// [`MAX_XRAY_CAUSE_LEN`] once compacted is left out and `false` returned.
    pub fn set_xray_cause(&mut self, cause: &serde_json::Value) -> bool {
        let compact = cause.to_string();
        let fits = compact.len() <= MAX_XRAY_CAUSE_LEN;
        self.xray_cause = fits.then(|| compact.into_boxed_str());
        fits
    }

    /// The compacted X-Ray cause, if any.
    pub fn xray_cause(&self) -> Option<&str> {
        self.xray_cause.as_deref()
    }

    /// The JSON body: `{"errorMessage","errorType","stackTrace"}`.
    pub fn to_body(&self) -> Bytes {
        crate::exchange::json_body(&ReportBody {
            error_message: &self.error_message,
            error_type: &self.error_type,
            stack_trace: &self.stack_trace,
        })
    }

    /// The error type shaped as the platform expects in the error-type header,
    /// `(Runtime|Function).[A-Z][a-zA-Z]+`.
    ///
    /// A type that already has that shape is kept. Otherwise the last `::` or
    /// `.` segment is turned into PascalCase letters and prefixed with
    /// `Function.`; with no letters at all it becomes `Function.Unknown`.
    pub fn error_type_header(&self) -> HeaderValue {
        HeaderValue::from_str(&shape_error_type(&self.error_type))
            .unwrap_or_else(|_| HeaderValue::from_static("Function.Unknown"))
    }
}

pub(crate) fn has_platform_shape(error_type: &str) -> bool {
    let Some((family, name)) = error_type.split_once('.') else {
        return false;
    };
    let mut letters = name.bytes();
    matches!(family, "Runtime" | "Function")
        && letters.next().is_some_and(|b| b.is_ascii_uppercase())
        && name.len() >= 2
        && letters.all(|b| b.is_ascii_alphabetic())
}

/// The longest shaped name kept, in letters.
const MAX_SHAPED_NAME: usize = 128;

fn shape_error_type(error_type: &str) -> String {
    if has_platform_shape(error_type) {
        return error_type.to_owned();
    }
    let last = error_type.rsplit("::").next().unwrap_or_default().rsplit('.').next().unwrap_or_default();
    let mut shaped = String::from("Function.");
    for word in last.split(|c: char| !c.is_ascii_alphabetic()) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            shaped.push(first.to_ascii_uppercase());
            shaped.extend(chars);
        }
    }
    shaped.truncate("Function.".len() + MAX_SHAPED_NAME);
    if shaped.len() < "Function.".len() + 2 {
        shaped.truncate("Function.".len());
        shaped.push_str("Unknown");
    }
    shaped
}

/// The error body of a 4xx/5xx answer from the platform.
///
/// Decoding never fails: a JSON `{errorType, errorMessage}` fills both
/// fields, any other non-empty body becomes the message (lossy UTF-8, at most
/// [`ServerError::MAX_MESSAGE`] bytes).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ServerError {
    /// `errorType`, e.g. `InvalidStateTransition`.
    pub error_type: Option<String>,
    /// `errorMessage`.
    pub error_message: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServerErrorBody {
    #[serde(default)]
    error_type: Option<String>,
    #[serde(default)]
    error_message: Option<String>,
}

impl ServerError {
    /// The most of a non-JSON body kept as the message.
    pub const MAX_MESSAGE: usize = 512;

    /// Decodes an error body.
    pub fn from_body(body: &[u8]) -> Self {
        if let Ok(parsed) = serde_json::from_slice::<ServerErrorBody>(body) {
            return Self { error_type: parsed.error_type, error_message: parsed.error_message };
        }
        let text = String::from_utf8_lossy(&body[..body.len().min(Self::MAX_MESSAGE)]);
        let text = text.trim();
        Self { error_type: None, error_message: (!text.is_empty()).then(|| text.to_owned()) }
    }

    /// Whether `errorType` equals `expected`.
    pub fn is(&self, expected: &str) -> bool {
        self.error_type.as_deref() == Some(expected)
    }
}

impl std::fmt::Display for ServerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.error_type, &self.error_message) {
            (Some(t), Some(m)) => write!(f, "{t}: {m}"),
            (Some(t), None) => f.write_str(t),
            (None, Some(m)) => f.write_str(m),
            (None, None) => f.write_str("no error body"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_type_header_is_shaped() {
        for (given, shaped) in [
            ("Function.ValidationError", "Function.ValidationError"),
            ("Runtime.ExitError", "Runtime.ExitError"),
            ("ParseIntError", "Function.ParseIntError"),
            ("core::num::ParseIntError", "Function.ParseIntError"),
            ("my_crate::bad_input", "Function.BadInput"),
            ("Function.bad", "Function.Bad"),
            ("Runtime.X1", "Function.Unknown"),
            ("", "Function.Unknown"),
            ("42", "Function.Unknown"),
            ("x\r\ny", "Function.XY"),
            ("épée", "Function.PE"),
        ] {
            let report = ErrorReport::new(given, "m");
            assert_eq!(report.error_type_header(), shaped, "{given:?}");
        }
    }

    #[test]
    fn body_keeps_the_verbatim_type() {
        let report =
            ErrorReport::new("core::num::ParseIntError", "bad \"digit\"").with_stack_trace(["a", "b"]);
        let body: serde_json::Value = serde_json::from_slice(&report.to_body()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"errorMessage": "bad \"digit\"", "errorType": "core::num::ParseIntError", "stackTrace": ["a", "b"]})
        );
    }

    #[test]
    fn xray_cause_is_compacted_and_bounded() {
        let mut report = ErrorReport::new("E", "m");
        assert!(report.set_xray_cause(&serde_json::json!({ "exceptions": [ { "id": "1" } ] })));
        assert_eq!(report.xray_cause(), Some(r#"{"exceptions":[{"id":"1"}]}"#));
        let huge = serde_json::json!({ "x": "y".repeat(MAX_XRAY_CAUSE_LEN) });
        assert!(!report.set_xray_cause(&huge));
        assert_eq!(report.xray_cause(), None);
    }

    #[test]
    fn server_errors_decode_from_anything() {
        let e = ServerError::from_body(br#"{"errorType":"InvalidRequestID","errorMessage":"no"}"#);
        assert!(e.is("InvalidRequestID"));
        assert_eq!(e.error_message.as_deref(), Some("no"));
        assert_eq!(ServerError::from_body(b""), ServerError::default());
        let e = ServerError::from_body(b"Internal Server Error\n");
        assert_eq!(e.error_message.as_deref(), Some("Internal Server Error"));
        let e = ServerError::from_body(&[0xff; 4096]);
        assert!(e.error_message.unwrap().len() <= ServerError::MAX_MESSAGE * 3);
        let e = ServerError::from_body(br#"{"errorType": 5}"#);
        assert_eq!(e.error_type, None);
    }
}
