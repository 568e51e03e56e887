//! The invocation a `next` answer carries.

use bytes::Bytes;
use serde::Deserialize;

use crate::ids::{DeadlineMs, IdError, InvocationId, RequestId};
use crate::wire::text;

/// One invocation, decoded from a `200` answer to `GET /runtime/invocation/next`.
///
/// Only the request id is required; every other header is optional and an
/// unreadable optional header (not UTF-8, or a deadline that is not a number)
/// is treated as absent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Invocation {
    /// `Lambda-Runtime-Aws-Request-Id`.
    pub request_id: RequestId,
    /// `Lambda-Runtime-Deadline-Ms`.
    pub deadline: Option<DeadlineMs>,
    /// `Lambda-Runtime-Invoked-Function-Arn`.
    pub invoked_function_arn: Option<String>,
    /// `Lambda-Runtime-Trace-Id`, the X-Ray `Root=…;Parent=…;Sampled=…`.
    pub trace_id: Option<String>,
    /// `Lambda-Runtime-Client-Context`, raw JSON; see [`Invocation::client_context`].
    pub client_context: Option<String>,
    /// `Lambda-Runtime-Cognito-Identity`, raw JSON; see [`Invocation::cognito_identity`].
    pub cognito_identity: Option<String>,
    /// `Lambda-Runtime-Aws-Tenant-Id`.
    pub tenant_id: Option<String>,
    /// `Lambda-Runtime-Invocation-Id`, echoed on the answer when present.
    pub invocation_id: Option<InvocationId>,
    /// The event, exactly as received.
    pub payload: Bytes,
}

/// A decimal number of milliseconds, surrounding blanks allowed.
fn parse_millis(value: &http::HeaderValue) -> Option<u64> {
    std::str::from_utf8(value.as_bytes()).ok()?.trim().parse().ok()
}

/// Optional headers gathered in one pass.
#[derive(Default)]
struct Fields<'a> {
    invocation_id: Option<&'a http::HeaderValue>,
    deadline: Option<&'a http::HeaderValue>,
    invoked_function_arn: Option<String>,
    trace_id: Option<String>,
    client_context: Option<String>,
    cognito_identity: Option<String>,
    tenant_id: Option<String>,
}

/// Why a `200` answer to `next` cannot be acted on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum InvocationError {
    /// No `Lambda-Runtime-Aws-Request-Id`: the invocation cannot be answered.
    #[error("the invocation has no request id")]
    MissingRequestId,
    /// The request id is unsafe to put in a URL.
    #[error("the invocation's request id is refused: {0}")]
    InvalidRequestId(IdError),
    /// The invocation id is unsafe to put in a header.
    #[error("the invocation's invocation id is refused: {0}")]
    InvalidInvocationId(IdError),
}

impl Invocation {
    /// Decodes the head and body of a `200` answer to `next`. The payload is
    /// not copied. Where a header is repeated, the first one counts.
    pub fn decode(response: &http::Response<Bytes>) -> Result<Self, InvocationError> {
        let mut request_id = None;
        let mut fields = Fields::default();
        // One pass over the headers: cheaper than a hashed lookup per name.
        for (name, value) in response.headers() {
            let slot = match name.as_str() {
                "lambda-runtime-aws-request-id" => {
                    request_id.get_or_insert(value);
                    continue;
                }
                "lambda-runtime-invocation-id" => {
                    fields.invocation_id.get_or_insert(value);
                    continue;
                }
                "lambda-runtime-deadline-ms" => {
                    fields.deadline.get_or_insert(value);
                    continue;
                }
                "lambda-runtime-invoked-function-arn" => &mut fields.invoked_function_arn,
                "lambda-runtime-trace-id" => &mut fields.trace_id,
                "lambda-runtime-client-context" => &mut fields.client_context,
                "lambda-runtime-cognito-identity" => &mut fields.cognito_identity,
                "lambda-runtime-aws-tenant-id" => &mut fields.tenant_id,
                _ => continue,
            };
            if slot.is_none() {
                *slot = text(value);
            }
        }
        let request_id = request_id.ok_or(InvocationError::MissingRequestId)?;
        let request_id =
            RequestId::from_bytes(request_id.as_bytes()).map_err(InvocationError::InvalidRequestId)?;
        let invocation_id = match fields.invocation_id {
            Some(value) if !value.is_empty() => Some(
                InvocationId::from_bytes(value.as_bytes()).map_err(InvocationError::InvalidInvocationId)?,
            ),
            _ => None,
        };
        Ok(Self {
            request_id,
            deadline: fields.deadline.and_then(parse_millis).map(DeadlineMs),
            invoked_function_arn: fields.invoked_function_arn,
            trace_id: fields.trace_id,
            client_context: fields.client_context,
            cognito_identity: fields.cognito_identity,
            tenant_id: fields.tenant_id,
            invocation_id,
            payload: response.body().clone(),
        })
    }

    /// The client context, parsed; `None` when absent, an error when not the
    /// expected JSON.
    pub fn client_context(&self) -> Option<Result<ClientContext, serde_json::Error>> {
        self.client_context.as_deref().map(serde_json::from_str)
    }

    /// The Cognito identity, parsed; `None` when absent, an error when not the
    /// expected JSON.
    pub fn cognito_identity(&self) -> Option<Result<CognitoIdentity, serde_json::Error>> {
        self.cognito_identity.as_deref().map(serde_json::from_str)
    }
}

/// The ids of an invocation whose `next` answer arrived but could not be
/// read whole, from the raw `head` the driver kept (HTTP/1 header lines; the
/// status line and anything unparsable are skipped). The first
/// `Lambda-Runtime-Aws-Request-Id` line counts; `None` when it is missing
/// or its value is not a safe request id. The invocation id is kept when it
/// is header-safe.
pub fn salvage_ids(head: &[u8]) -> Option<(RequestId, Option<InvocationId>)> {
    let mut request_id = None;
    let mut invocation_id = None;
    for line in head.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else { continue };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if request_id.is_none() && name.eq_ignore_ascii_case(b"lambda-runtime-aws-request-id") {
            request_id = Some(value);
        } else if invocation_id.is_none() && name.eq_ignore_ascii_case(b"lambda-runtime-invocation-id") {
            invocation_id = InvocationId::from_bytes(value).ok();
        }
    }
    let request_id = RequestId::from_bytes(request_id?).ok()?;
    Some((request_id, invocation_id))
}

/// `Lambda-Runtime-Cognito-Identity`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CognitoIdentity {
    /// `cognitoIdentityId`.
    #[serde(default)]
    pub cognito_identity_id: Option<String>,
    /// `cognitoIdentityPoolId`.
    #[serde(default)]
    pub cognito_identity_pool_id: Option<String>,
}

/// `Lambda-Runtime-Client-Context` (sent by the AWS mobile SDKs). Unknown
/// fields are ignored; the free-form parts stay JSON.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, serde::Serialize)]
pub struct ClientContext {
    /// The calling application.
    #[serde(default)]
    pub client: Option<serde_json::Value>,
    /// Application-defined values.
    #[serde(default)]
    pub custom: Option<serde_json::Value>,
    /// Environment values set by the SDK.
    #[serde(default)]
    pub env: Option<serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn next_response(headers: &[(&str, &[u8])], body: &'static [u8]) -> http::Response<Bytes> {
        let mut builder = http::Response::builder().status(200);
        for (name, value) in headers {
            builder = builder.header(*name, http::HeaderValue::from_bytes(value).unwrap());
        }
        builder.body(Bytes::from_static(body)).unwrap()
    }

    #[test]
    fn every_header_is_decoded() {
        let response = next_response(
            &[
                ("Lambda-Runtime-Aws-Request-Id", b"8476a536-e9f4-11e8-9739-2dfe598c3fcd"),
                ("Lambda-Runtime-Deadline-Ms", b"1542409706888"),
                (
                    "Lambda-Runtime-Invoked-Function-Arn",
                    b"arn:aws:lambda:us-east-2:123456789012:function:f:prod",
                ),
                (
                    "Lambda-Runtime-Trace-Id",
                    b"Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1",
                ),
                ("Lambda-Runtime-Client-Context", br#"{"custom":{"k":"v"}}"#),
                (
                    "Lambda-Runtime-Cognito-Identity",
                    br#"{"cognitoIdentityId":"i","cognitoIdentityPoolId":"p"}"#,
                ),
                ("Lambda-Runtime-Aws-Tenant-Id", b"tenant-7"),
                ("Lambda-Runtime-Invocation-Id", b"nonce-1"),
            ],
            b"{\"hello\":1}",
        );
        let invocation = Invocation::decode(&response).unwrap();
        assert_eq!(invocation.request_id.as_str(), "8476a536-e9f4-11e8-9739-2dfe598c3fcd");
        assert_eq!(invocation.deadline, Some(DeadlineMs(1_542_409_706_888)));
        assert_eq!(
            invocation.invoked_function_arn.as_deref(),
            Some("arn:aws:lambda:us-east-2:123456789012:function:f:prod")
        );
        assert!(invocation.trace_id.as_deref().unwrap().starts_with("Root=1-5bef4de7"));
        assert_eq!(invocation.tenant_id.as_deref(), Some("tenant-7"));
        assert_eq!(invocation.invocation_id.as_ref().unwrap().as_str(), "nonce-1");
        let identity = invocation.cognito_identity().unwrap().unwrap();
        assert_eq!(identity.cognito_identity_pool_id.as_deref(), Some("p"));
        let context = invocation.client_context().unwrap().unwrap();
        assert_eq!(context.custom, Some(serde_json::json!({"k": "v"})));
        assert_eq!(invocation.payload, Bytes::from_static(b"{\"hello\":1}"));
    }

    #[test]
    fn optional_headers_may_be_absent_or_unreadable() {
        let response = next_response(
            &[
                ("Lambda-Runtime-Aws-Request-Id", b"r1"),
                ("Lambda-Runtime-Deadline-Ms", b"soon"),
                ("Lambda-Runtime-Trace-Id", b"\xff\xfe"),
                ("Lambda-Runtime-Invocation-Id", b""),
            ],
            b"",
        );
        let invocation = Invocation::decode(&response).unwrap();
        assert_eq!(invocation.deadline, None);
        assert_eq!(invocation.trace_id, None);
        assert_eq!(invocation.invocation_id, None);
        assert!(invocation.client_context().is_none());
        assert!(invocation.cognito_identity().is_none());
    }

    #[test]
    fn ids_are_salvaged_from_a_head_that_could_not_be_read() {
        let folded = b"HTTP/1.1 200 OK\r\nLambda-Runtime-Trace-Id: a\r\n b\r\n\
            lambda-runtime-aws-request-id:  r-7 \r\nLambda-Runtime-Invocation-Id: n1\r\n\r\n";
        let (id, nonce) = salvage_ids(folded).unwrap();
        assert_eq!((id.as_str(), nonce.unwrap().as_str()), ("r-7", "n1"));
        let bare_cr = b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: ab\rcd\r\n\r\n";
        assert_eq!(salvage_ids(bare_cr), None, "an id with a bare CR is not readable");
        assert_eq!(salvage_ids(b"HTTP/1.1 200 OK\r\nX: y\r\n\r\n"), None);
        assert_eq!(salvage_ids(b"Lambda-Runtime-Aws-Request-Id: ../x\n"), None);
        assert_eq!(salvage_ids(b""), None);
    }

    #[test]
    fn unusable_ids_are_typed_errors() {
        let missing = next_response(&[], b"");
        assert_eq!(Invocation::decode(&missing), Err(InvocationError::MissingRequestId));
        let traversal = next_response(&[("Lambda-Runtime-Aws-Request-Id", b"../../init/error")], b"");
        assert!(matches!(Invocation::decode(&traversal), Err(InvocationError::InvalidRequestId(_))));
        let bad_nonce = next_response(
            &[("Lambda-Runtime-Aws-Request-Id", b"r"), ("Lambda-Runtime-Invocation-Id", b"a b")],
            b"",
        );
        assert!(matches!(Invocation::decode(&bad_nonce), Err(InvocationError::InvalidInvocationId(_))));
    }
}
