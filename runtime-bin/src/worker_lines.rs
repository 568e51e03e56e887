//! Worker mode's line protocol: an invocation as one JSON line for the
//! worker's standard input, and the worker's answer lines read back. Events
//! and answers that are JSON are passed through as they are (validated, not
//! rebuilt), so a large event costs one scan, not a parse and a rewrite.

use std::borrow::Cow;

use base64::Engine as _;
use bytes::Bytes;
use lambda_sansio::ErrorReport;
use lambda_sansio_blocking::{Context, Response};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

/// What an invocation waits for.
pub(crate) type Answer = Result<Response, ErrorReport>;

/// One line from the worker.
pub(crate) enum Parsed {
    Ready,
    Answer(String, Answer),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnswerLine<'a> {
    #[serde(default)]
    ready: Option<bool>,
    #[serde(default, borrow)]
    request_id: Option<Cow<'a, str>>,
    /// Present (even `null`) or absent.
    #[serde(default, borrow, deserialize_with = "present")]
    response: Option<&'a RawValue>,
    #[serde(default)]
    response_base64: Option<String>,
    #[serde(default)]
    error: Option<ErrorObject>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ErrorObject {
    #[serde(default)]
    error_type: Option<String>,
    #[serde(default)]
    error_message: Option<String>,
}

fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(deserializer).map(Some)
}

/// Reads one line the worker wrote on fd 3.
pub(crate) fn parse_answer(line: &Bytes) -> Result<Parsed, String> {
    let answer: AnswerLine<'_> =
        serde_json::from_slice(line).map_err(|e| format!("not an answer object: {e}"))?;
    if answer.ready == Some(true) {
        return Ok(Parsed::Ready);
    }
    let id = answer.request_id.ok_or("no requestId")?.into_owned();
    if let Some(error) = answer.error {
        let error_type = error.error_type.unwrap_or_else(|| "Function.Error".to_owned());
        let report = ErrorReport::new(error_type, error.error_message.unwrap_or_default());
        return Ok(Parsed::Answer(id, Err(report)));
    }
    if let Some(encoded) = answer.response_base64 {
        let body = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|e| format!("bad base64: {e}"))?;
        return Ok(Parsed::Answer(id, Ok(Response::Buffered(Bytes::from(body)))));
    }
    let response = answer.response.ok_or("neither response, responseBase64 nor error")?;
    // The response is the line's own bytes, not a copy of them.
    Ok(Parsed::Answer(id, Ok(Response::json(line.slice_ref(response.get().as_bytes())))))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InvocationLine<'a> {
    request_id: &'a str,
    deadline_ms: Option<u64>,
    invoked_function_arn: Option<&'a str>,
    trace_id: Option<&'a str>,
    client_context: Option<Value>,
    identity: Option<Value>,
    tenant_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<Cow<'a, RawValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    event_base64: Option<String>,
}

/// The invocation as one JSON line (without its end): the event embedded
/// when it is JSON, else as base64.
pub(crate) fn invocation_line(payload: &Bytes, context: &Context) -> Vec<u8> {
    let event = embeddable(payload);
    let line = InvocationLine {
        request_id: context.request_id.as_str(),
        deadline_ms: context.deadline_ms(),
        invoked_function_arn: context.invoked_function_arn.as_deref(),
        trace_id: context.trace_id.as_deref(),
        client_context: context.client_context.as_ref().and_then(|c| serde_json::to_value(c).ok()),
        identity: context.identity.as_ref().and_then(|i| serde_json::to_value(i).ok()),
        tenant_id: context.tenant_id.as_deref(),
        event_base64: event.is_none().then(|| base64::engine::general_purpose::STANDARD.encode(payload)),
        event,
    };
    // Room for the event and the context, so the line is written once
    // rather than copied each time a growing buffer doubles.
    let mut out = Vec::with_capacity(payload.len() + LINE_OVERHEAD);
    match serde_json::to_writer(&mut out, &line) {
        Ok(()) => out,
        Err(_) => Vec::new(),
    }
}

/// Bytes of a line beside its event, context included, in most cases.
const LINE_OVERHEAD: usize = 1024;

/// The event as JSON that fits on one line: as it is when it has no line
/// breaks (only whitespace between tokens can hold them), rewritten compact
/// when it has; `None` when it is not JSON.
fn embeddable(payload: &Bytes) -> Option<Cow<'_, RawValue>> {
    let raw: &RawValue = serde_json::from_slice(payload).ok()?;
    if !raw.get().bytes().any(|b| b == b'\n' || b == b'\r') {
        return Some(Cow::Borrowed(raw));
    }
    let value: Value = serde_json::from_str(raw.get()).ok()?;
    RawValue::from_string(value.to_string()).ok().map(Cow::Owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> Context {
        Context {
            request_id: lambda_sansio::RequestId::new("r-1").unwrap_or_else(|e| panic!("{e}")),
            deadline: None,
            invoked_function_arn: None,
            trace_id: None,
            client_context: None,
            identity: None,
            tenant_id: None,
        }
    }

    fn line(payload: &[u8]) -> Value {
        let line = invocation_line(&Bytes::copy_from_slice(payload), &context());
        assert!(!line.contains(&b'\n'), "one line: {}", String::from_utf8_lossy(&line));
        serde_json::from_slice(&line).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn events_are_embedded_on_one_line_or_sent_as_base64() {
        assert_eq!(line(br#" {"a": [1, 2]} "#)["event"], serde_json::json!({"a": [1, 2]}));
        assert_eq!(line(b"{\n  \"a\": \"x\\ny\"\n}\n")["event"], serde_json::json!({"a": "x\ny"}));
        let binary = line(b"\x00\xffnot json");
        assert_eq!(binary["eventBase64"], "AP9ub3QganNvbg==");
        assert!(binary.get("event").is_none());
        assert_eq!(line(b"null")["event"], Value::Null);
        assert_eq!(line(b"null")["requestId"], "r-1");
    }

    fn answer(text: &str) -> Result<(String, Answer), String> {
        match parse_answer(&Bytes::copy_from_slice(text.as_bytes()))? {
            Parsed::Ready => Err("ready".to_owned()),
            Parsed::Answer(id, answer) => Ok((id, answer)),
        }
    }

    #[test]
    fn answers_pass_their_json_through_as_written() {
        let Ok((id, Ok(Response::Typed { body, .. }))) =
            answer(r#"{"requestId":"r\u002d1","response":{"b": [1,2]}}"#)
        else {
            panic!("a JSON answer");
        };
        assert_eq!((id.as_str(), body.as_ref()), ("r-1", &br#"{"b": [1,2]}"#[..]));
        let Ok((_, Ok(Response::Typed { body, .. }))) = answer(r#"{"requestId":"r","response":null}"#) else {
            panic!("null is an answer");
        };
        assert_eq!(body.as_ref(), b"null");
        let Ok((_, Err(report))) =
            answer(r#"{"requestId":"r","error":{"errorType":"Function.Bad","errorMessage":"no"}}"#)
        else {
            panic!("an error");
        };
        assert_eq!((report.error_type.as_str(), report.error_message.as_str()), ("Function.Bad", "no"));
        assert!(matches!(parse_answer(&Bytes::from_static(br#"{"ready": true}"#)), Ok(Parsed::Ready)));
        assert_eq!(
            answer(r#"{"requestId":"r"}"#).err().as_deref(),
            Some("neither response, responseBase64 nor error")
        );
        assert_eq!(answer(r#"{"response":1}"#).err().as_deref(), Some("no requestId"));
        assert!(answer("garbage").is_err());
    }
}
