//! What the platform reports, and the event bodies it sends.

use bytes::Bytes;
use http::{HeaderValue, StatusCode};

use super::machine::NewInvocation;
use super::reply::Reply;
use crate::extension::{EventType, InvokeEvent, ShutdownEvent, ShutdownReason, Tracing};
use crate::headers;
use crate::ids::{DeadlineMs, ExtensionId, RequestId};
use crate::telemetry::Subscription;

/// How an invocation ended.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The runtime answered with a payload.
    Response {
        /// The payload (for a streamed answer, the whole body as received).
        body: Bytes,
        /// Sent in streaming mode.
        streamed: bool,
        /// Its `Content-Type`, as the runtime labelled it.
        content_type: Option<HeaderValue>,
    },
    /// The runtime reported an error, or a streamed answer ended with error
    /// trailers.
    Error {
        /// The error type, after the platform's shaping (`Runtime.Unknown`
        /// when the header was missing or malformed).
        error_type: String,
        /// The error body (for a streamed failure, the error-body trailer).
        body: Bytes,
    },
    /// The deadline passed first.
    TimedOut,
    /// The environment shut down before the runtime answered it (queued,
    /// or delivered and unanswered).
    Aborted,
}

/// Who failed an init.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum InitFailure {
    /// The runtime, through `/runtime/init/error`.
    Runtime,
    /// An extension, through `/extension/init/error`.
    Extension(ExtensionId),
}

/// Something that happened in the environment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PlatformEvent {
    /// An extension registered.
    ExtensionRegistered {
        /// Its identifier.
        id: ExtensionId,
        /// Its name.
        name: String,
        /// The events it gets.
        events: Vec<EventType>,
    },
    /// An extension subscribed to the Telemetry or Logs API.
    Subscribed {
        /// The extension.
        id: ExtensionId,
        /// What it asked for.
        subscription: Subscription,
    },
    /// The runtime called `next` for the first time.
    RuntimeReady,
    /// The runtime and every extension called `next`: init is over.
    InitComplete,
    /// Init failed.
    InitFailed {
        /// Who reported it.
        source: InitFailure,
        /// The reported error type.
        error_type: String,
        /// The reported body.
        body: Bytes,
    },
    /// An invocation was delivered to the runtime.
    InvocationStarted {
        /// Which.
        request_id: RequestId,
    },
    /// An invocation ended.
    InvocationCompleted {
        /// Which.
        request_id: RequestId,
        /// How.
        outcome: Outcome,
    },
    /// The invocation is over for the environment: its answer is recorded
    /// and (classic mode) every INVOKE extension called `next` after it, or
    /// the platform ended it (a timeout, shutdown). Its `platform.report` is
    /// due now, after `platform.runtimeDone`, and the environment may
    /// freeze. Only invocations that were delivered end this way.
    InvocationEnded {
        /// Which.
        request_id: RequestId,
    },
    /// An extension reported an error after init and must exit.
    ExtensionExitError {
        /// The extension.
        id: ExtensionId,
        /// The reported error type.
        error_type: String,
        /// The reported body.
        body: Bytes,
    },
    /// SHUTDOWN was delivered to an extension.
    ShutdownDelivered {
        /// The extension.
        id: ExtensionId,
    },
}

fn optional_text(value: Option<&str>) -> Option<HeaderValue> {
    value.filter(|v| !v.is_empty()).and_then(|v| HeaderValue::from_str(v).ok())
}

/// The `200` answer to the runtime's `next` carrying `invocation`. Headers
/// whose value is empty or not a valid header value are left out.
pub(super) fn next_reply(invocation: &NewInvocation) -> Reply {
    let mut reply = Reply::json(StatusCode::OK, invocation.payload.clone());
    let mut add = |name, value: Option<HeaderValue>| {
        if let Some(value) = value {
            reply.headers.push((name, value));
        }
    };
    add(headers::REQUEST_ID, optional_text(Some(invocation.request_id.as_str())));
    add(headers::DEADLINE_MS, Some(HeaderValue::from(invocation.deadline.0)));
    add(headers::INVOKED_FUNCTION_ARN, optional_text(Some(&invocation.invoked_function_arn)));
    add(headers::TRACE_ID, optional_text(invocation.trace_id.as_deref()));
    add(headers::CLIENT_CONTEXT, optional_text(invocation.client_context.as_deref()));
    add(headers::COGNITO_IDENTITY, optional_text(invocation.cognito_identity.as_deref()));
    add(headers::TENANT_ID, optional_text(invocation.tenant_id.as_deref()));
    add(headers::INVOCATION_ID, invocation.invocation_id.as_ref().map(|n| n.header_value().clone()));
    reply
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Tagged<T> {
    event_type: &'static str,
    #[serde(flatten)]
    event: T,
}

/// The INVOKE event body for extensions.
pub(super) fn invoke_body(invocation: &NewInvocation) -> Bytes {
    let event = InvokeEvent {
        request_id: invocation.request_id.to_string(),
        deadline_ms: Some(invocation.deadline),
        invoked_function_arn: Some(invocation.invoked_function_arn.clone()),
        tracing: invocation
            .trace_id
            .as_ref()
            .map(|value| Tracing { kind: "X-Amzn-Trace-Id".into(), value: value.clone() }),
    };
    crate::exchange::json_body(&Tagged { event_type: "INVOKE", event })
}

/// The SHUTDOWN event body.
pub(super) fn shutdown_body(reason: &ShutdownReason, deadline: DeadlineMs) -> Bytes {
    let event = ShutdownEvent { shutdown_reason: reason.clone(), deadline_ms: Some(deadline) };
    crate::exchange::json_body(&Tagged { event_type: "SHUTDOWN", event })
}
